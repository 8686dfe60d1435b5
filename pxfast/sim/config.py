"""Every knob of the simulator in one place, with the Gateway's behaviour as the default."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SimConfig"]


@dataclass(slots=True)
class SimConfig:
    #: Seeds the market walks, the bar history and fault sampling.
    seed: int = 0
    host: str = "127.0.0.1"
    #: 0 picks a free port.
    port: int = 0
    #: Market steps per second per contract in realtime mode.
    rate: float = 2.0
    #: Start with the market paused: prices move only by ``step``/``set_price``.
    paused: bool = False
    depth_levels: int = 10
    history_days: float = 10.0
    #: Token lifetime in seconds (the Gateway's is 24 h).
    token_lifetime: float = 86400.0
    #: Any user name and key log in (users are created on first login).
    open_login: bool = True
    accounts_per_user: int = 1
    balance: float = 50_000.0
    #: "auto_oco" accepts native brackets; "position" rejects them like the Gateway.
    bracket_mode: str = "auto_oco"
    margin_check: bool = True
    #: Users hold a live market-data subscription.  Without one (a practice
    #: account), ``live: true`` contract searches and listings find nothing and a
    #: client must ask again with ``live: false``, as project-x-py does.
    live_data: bool = True
    #: Read bracket tick signs as price direction instead of using their magnitude.
    signed_bracket_ticks: bool = False
    #: Send user events as ``{"action", "data"}`` (live traffic) or as the bare model (docs).
    wrap_user_events: bool = True
    rate_limits: bool = True
    general_limit: int = 200
    general_window: float = 60.0
    bars_limit: int = 50
    bars_window: float = 30.0
    #: Failed logins per peer address (kept apart so they cannot lock a user out).
    failed_login_limit: int = 200
    failed_login_window: float = 60.0
    ping_interval: float = 15.0
    #: Close a hub client silent for this long (0 never).
    client_timeout: float = 30.0
    #: Repeat a quote to subscribers at least this often, even in a quiet or paused market.
    quote_keepalive: float = 5.0
    #: Serve the out-of-process control API under ``/_sim/<control_token>/``.
    control: bool = True
    #: The control API's secret; None makes a random one at start.
    control_token: str | None = field(default=None, repr=False)

"""Session types, per-product session times and the configuration bots pass to ``TradingSuite``.

Times are wall-clock times in America/New_York, as project-x-py 4.4.1 gives
them: CME sets its hours in Chicago time, and Chicago and New York change
clocks on the same dates, so an ET wall-clock time names the same instant
of the exchange day all year round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_SESSIONS",
    "SessionConfig",
    "SessionTimes",
    "SessionType",
    "resolve_session_product",
]


class SessionType(Enum):
    ETH = "ETH"
    RTH = "RTH"
    CUSTOM = "CUSTOM"

    def __str__(self) -> str:
        return self.value

    def __eq__(self, other: object) -> bool:
        # project-x-py compares session types with plain strings ("RTH" == SessionType.RTH).
        if isinstance(other, str):
            return self.value == other
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash(self.value)


@dataclass
class SessionTimes:
    rth_start: time
    rth_end: time
    eth_start: time | None = None
    eth_end: time | None = None

    def __post_init__(self) -> None:
        if (self.eth_start is None) != (self.eth_end is None):
            raise ValueError("ETH start and end must both be provided or both be None")

    def is_rth_within_eth(self) -> bool:
        """project-x-py's check, which accepts every definition (RTH may cross midnight)."""
        return True


@dataclass
class SessionConfig:
    session_type: SessionType = field(default_factory=lambda: SessionType.ETH)
    market_timezone: str = "America/New_York"
    use_exchange_timezone: bool = True
    product_sessions: dict[str, SessionTimes] | None = field(default=None)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.market_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"Invalid timezone: {self.market_timezone}") from None
        if isinstance(self.session_type, str):
            try:
                self.session_type = SessionType(self.session_type)
            except ValueError:
                raise ValueError(f"Invalid session type: {self.session_type}") from None
        if self.product_sessions is None:
            self.product_sessions = {}

    def get_session_times(self, product: str) -> SessionTimes:
        if self.product_sessions and product in self.product_sessions:
            return self.product_sessions[product]
        if product in DEFAULT_SESSIONS:
            return DEFAULT_SESSIONS[product]
        raise ValueError(f"Unknown product: {product}")

    def is_market_open(self, timestamp: datetime, product: str) -> bool:
        """Whether ``product`` trades in this config's session at ``timestamp``.

        A naive or non-datetime ``timestamp`` is answered False rather than
        guessed at.  Unlike project-x-py, Friday after the close, the daily
        maintenance break of the product and CME full-closure holidays are
        closed (project-x-py calls Friday 20:00 ET open).
        """
        times = self.get_session_times(product)
        if not isinstance(timestamp, datetime) or timestamp.tzinfo is None:
            return False
        from pxfast.sessions.calendar import session_label

        label = session_label(timestamp, times, self.market_timezone)
        if self.session_type == SessionType.RTH:
            return label == "RTH"
        if self.session_type == SessionType.ETH:
            return label != "BREAK"
        return False

    def get_current_session(self, timestamp: datetime, product: str) -> str:
        """RTH, ETH or BREAK (closed) at ``timestamp``; a naive time is BREAK."""
        times = self.get_session_times(product)
        if not isinstance(timestamp, datetime) or timestamp.tzinfo is None:
            return "BREAK"
        from pxfast.sessions.calendar import session_label

        return session_label(timestamp, times, self.market_timezone)


def resolve_session_product(product: str) -> str:
    """The DEFAULT_SESSIONS key for a root (``MNQ``), Gateway id (``CON.F.US.MNQ.H26``) or
    listed name (``MNQH26``); ``product`` itself when none matches, so callers still say
    "Unknown product" with the caller's own spelling."""
    if product in DEFAULT_SESSIONS:
        return product
    upper = product.upper()
    if upper in DEFAULT_SESSIONS:
        return upper
    # The most specific token is last in a Gateway id, so try tokens from the end.
    tokens = product.replace("-", ".").split(".")
    candidates = [
        c for c in ("".join(filter(str.isalpha, t)).upper() for t in reversed(tokens)) if c
    ]
    if not candidates:
        letters = "".join(filter(str.isalpha, product)).upper()
        candidates = [letters] if letters else []
    for letters in candidates:
        if letters in DEFAULT_SESSIONS:
            return letters
        for length in (4, 3, 2):
            if len(letters) >= length and letters[:length] in DEFAULT_SESSIONS:
                return letters[:length]
    return product


def _times(rth: tuple[int, int, int, int], eth: tuple[int, int, int, int] | None) -> SessionTimes:
    rs, re = time(rth[0], rth[1]), time(rth[2], rth[3])
    if eth is None:
        return SessionTimes(rs, re)
    return SessionTimes(rs, re, time(eth[0], eth[1]), time(eth[2], eth[3]))


_GLOBEX = (18, 0, 17, 0)  # 18:00 ET the evening before to 17:00 ET
_FX_GLOBEX = (17, 0, 16, 0)
_GRAINS_OVERNIGHT = (20, 0, 8, 45)
_VIX_OVERNIGHT = (18, 0, 9, 30)

#: (RTH start/end, ETH start/end) in ET per root symbol; project-x-py 4.4.1's table.
_TABLE: dict[
    tuple[tuple[int, int, int, int], tuple[int, int, int, int] | None], tuple[str, ...]
] = {
    ((9, 30, 16, 0), _GLOBEX): (
        "ES",
        "NQ",
        "YM",
        "RTY",
        "MES",
        "MNQ",
        "MYM",
        "M2K",
        "BTC",
        "MBT",
        "ETH",
        "MET",
    ),
    ((9, 0, 14, 30), _GLOBEX): ("CL", "MCL", "QM", "NG", "QG", "RB", "HO"),
    ((8, 20, 13, 30), _GLOBEX): ("GC", "MGC", "QO", "SI", "SIL", "QI"),
    ((8, 20, 13, 5), _GLOBEX): ("PL", "PA"),
    ((8, 20, 13, 0), _GLOBEX): ("HG", "QC"),
    ((8, 20, 15, 0), _GLOBEX): ("ZB", "ZN", "ZF", "ZT", "ZQ", "2YY", "5YY", "10Y", "30Y"),
    ((8, 20, 15, 0), _FX_GLOBEX): (
        "6E",
        "6B",
        "6J",
        "6C",
        "6A",
        "6S",
        "6N",
        "6M",
        "M6E",
        "M6B",
        "M6A",
        "MJY",
        "MSF",
        "MCD",
        "MIR",
    ),
    ((9, 30, 14, 20), _GRAINS_OVERNIGHT): (
        "ZC",
        "ZS",
        "ZW",
        "ZM",
        "ZL",
        "KE",
        "ZO",
        "ZR",
        "XC",
        "XK",
        "XW",
    ),
    ((9, 30, 14, 5), None): ("LE", "HE", "GF"),
    ((9, 30, 14, 10), None): ("DC",),
    ((9, 30, 16, 15), _VIX_OVERNIGHT): ("VX", "VXM"),
}

DEFAULT_SESSIONS: dict[str, SessionTimes] = {
    root: _times(rth, eth) for (rth, eth), roots in _TABLE.items() for root in roots
}

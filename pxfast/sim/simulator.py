"""``GatewaySimulator``: the whole Gateway on one port, and the handle tests drive it by.

One HTTP server serves everything, as the real hosts do by path: REST under
``/api/``, the hubs under ``/hubs/user`` and ``/hubs/market`` (negotiate and
WebSocket), and, unless disabled, the control API under ``/_sim/<token>/``
for a simulator running in another process (``control_url``; see
``control``).  Gateway paths match case-insensitively.

Control methods change the market or the accounts synchronously, so a test
can set a price and find the fill already done, its events already queued:
no sleeping is ever needed to get a fill.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any

from pxfast.messages import OrderUpdate, PositionUpdate, TradeUpdate
from pxfast.sim.auth import Auth
from pxfast.sim.clock import Clock
from pxfast.sim.config import SimConfig
from pxfast.sim.control import Control
from pxfast.sim.engine import Engine
from pxfast.sim.faults import Faults
from pxfast.sim.http import HttpServerProtocol, Request, Response, Upgrade
from pxfast.sim.hubs import Hubs
from pxfast.sim.instruments import Catalog, Contract
from pxfast.sim.market import Book, Market
from pxfast.sim.orders import Account, Order
from pxfast.sim.ratelimit import Budget, RateLimiter
from pxfast.sim.rest import Rest
from pxfast.sim.websocket import is_upgrade
from pxfast.types import OrderStatus, OrderType

__all__ = ["AccountState", "GatewaySimulator"]


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account's money, exact: what a hand computation of PnL is compared with."""

    id: int
    name: str
    balance: Decimal
    realized: Decimal
    unrealized: Decimal
    fees: Decimal
    positions: dict[str, tuple[int, float]]  # contract id -> (signed size, average price)


class GatewaySimulator:
    """The simulated Gateway. ``async with GatewaySimulator(seed=1) as gw: ...``

    Keyword arguments override fields of ``SimConfig`` (see there for each knob).
    """

    def __init__(self, config: SimConfig | None = None, **overrides: object) -> None:
        self.config = dataclasses.replace(config or SimConfig(), **overrides)  # type: ignore[arg-type]
        cfg = self.config
        self.clock = Clock()
        self.catalog = Catalog(self.clock.now())
        self.market = Market(self.clock, self.catalog.front_contracts(), cfg.seed,
                             rate=cfg.rate, levels=cfg.depth_levels,
                             history_days=cfg.history_days)
        self.auth = Auth(self.clock, lifetime=cfg.token_lifetime, open_login=cfg.open_login)
        self.engine = Engine(self.clock, self.catalog, self.market,
                             margin_check=cfg.margin_check,
                             signed_bracket_ticks=cfg.signed_bracket_ticks)
        #: Standing faults: REST error bursts, lost and delayed hub frames.
        self.faults = Faults(cfg.seed)
        self.limiter = RateLimiter(
            self.clock, general=Budget(cfg.general_limit, cfg.general_window),
            bars=Budget(cfg.bars_limit, cfg.bars_window),
            failed_logins=Budget(cfg.failed_login_limit, cfg.failed_login_window),
            enabled=cfg.rate_limits)
        self.hubs = Hubs(self.clock, self.auth, self.engine, self.market, self.catalog,
                         self.faults, seed=cfg.seed, wrap_user_events=cfg.wrap_user_events,
                         ping_interval=cfg.ping_interval, client_timeout=cfg.client_timeout,
                         quote_keepalive=cfg.quote_keepalive)
        self.rest = Rest(cfg, self.auth, self.engine, self.catalog, self.market, self.limiter,
                         self.faults, self.clock.now)
        self._control = Control(self, cfg.control_token) if cfg.control else None
        self._server: asyncio.Server | None = None
        #: Overlapping restarts run one after another (each ends listening).
        self._restarting = asyncio.Lock()
        self._connections: set[HttpServerProtocol] = set()
        self.port = cfg.port

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        await self._listen()
        self.hubs.start()
        if not self.config.paused:
            self.market.resume()

    async def stop(self) -> None:
        self.market.pause()
        self.hubs.stop()
        await self._close_server()

    async def __aenter__(self) -> GatewaySimulator:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: HttpServerProtocol(self), self.config.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close_server(self) -> None:
        if self._server is not None:
            self._server.close()
            for connection in list(self._connections):
                connection.close()
            await self._server.wait_closed()
            self._server = None

    async def restart(self, downtime: float = 0.0) -> None:
        """Fault: go away (every connection dropped, nothing listening) and come back on
        the same port after ``downtime`` seconds, with all state kept."""
        async with self._restarting:
            await self._close_server()
            await asyncio.sleep(downtime)
            await self._listen()

    # -- URLs ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The REST base, ``/api`` included, as project-x-py's ``api_url`` wants it."""
        return f"{self.base_url}/api"

    @property
    def user_hub_url(self) -> str:
        return f"{self.base_url}/hubs/user"

    @property
    def market_hub_url(self) -> str:
        return f"{self.base_url}/hubs/market"

    @property
    def control_url(self) -> str | None:
        """The control API's base URL, its secret token included (None if disabled)."""
        if self._control is None:
            return None
        return f"{self.base_url}/_sim/{self._control.token}"

    @property
    def control_token(self) -> str | None:
        return None if self._control is None else self._control.token

    # -- HttpApp -------------------------------------------------------------------------

    def handle(self, request: Request) -> Response | Upgrade:
        path = request.path.lower()
        if path.startswith("/api/"):
            return self.rest.handle(request, path[5:].rstrip("/"))
        if path.startswith("/hubs/"):
            hub, _, rest = path[6:].partition("/")
            if hub in ("user", "market"):
                if rest == "negotiate":
                    return self.hubs.negotiate(request)
                if not rest and is_upgrade(request):
                    return self.hubs.upgrade(request, hub)
                if not rest:
                    return Response(400, b"", None)
        if path.startswith("/_sim/") and self._control is not None:
            return self._control.handle(request, request.path[6:])  # the token keeps its case
        return Response(404, b"", None)

    def connection_opened(self, protocol: HttpServerProtocol) -> None:
        self._connections.add(protocol)

    def connection_closed(self, protocol: HttpServerProtocol) -> None:
        self._connections.discard(protocol)

    # -- users and accounts ------------------------------------------------------------

    def add_user(self, username: str, api_key: str | None = None, *, accounts: int = 1,
                 balance: float | Decimal | None = None,
                 bracket_mode: str | None = None) -> list[int]:
        """Register a user (``api_key`` None: any key) with ``accounts`` new accounts."""
        self.auth.add_user(username, api_key)
        return [
            self.engine.open_account(
                username, balance=self.config.balance if balance is None else balance,
                bracket_mode=bracket_mode or self.config.bracket_mode).id
            for _ in range(accounts)
        ]

    def token(self, username: str) -> str:
        """A fresh token for an existing user, without a REST login."""
        return self.auth.issue(self.auth.users[username.lower()])

    def account_ids(self, username: str) -> list[int]:
        return [a.id for a in self.engine.accounts_of(username)]

    def _account(self, account_id: int) -> Account:
        account = self.engine.accounts.get(account_id)
        if account is None:
            raise KeyError(f"no account {account_id}")
        return account

    def account_state(self, account_id: int) -> AccountState:
        account = self._account(account_id)
        positions = {
            cid: (p.size, self.engine.position_update(account, p).averagePrice)
            for cid, p in account.positions.items() if p.size
        }
        return AccountState(account.id, account.name, account.balance, account.realized,
                            self.engine.unrealized(account), account.fees, positions)

    def set_balance(self, account_id: int, balance: float | Decimal) -> None:
        self.engine.set_balance(self._account(account_id), Decimal(str(balance)))

    def set_bracket_mode(self, account_id: int, mode: str) -> None:
        if mode not in ("auto_oco", "position"):
            raise ValueError("bracket mode is 'auto_oco' or 'position'")
        self._account(account_id).bracket_mode = mode

    def orders(self, account_id: int, since: str | None = None) -> list[OrderUpdate]:
        """Every order of the account, Suspended bracket children included; with
        ``since`` (a Gateway timestamp) only those updated at or after it."""
        orders = self._account(account_id).orders.values()
        return [
            self.engine.order_update(o) for o in orders if since is None or o.updated_iso >= since
        ]

    def positions(self, account_id: int) -> list[PositionUpdate]:
        account = self._account(account_id)
        return [self.engine.position_update(account, p) for p in account.positions.values()
                if p.size]

    def trades(self, account_id: int, since: str | None = None) -> list[TradeUpdate]:
        """The account's fills; with ``since``, those made at or after it."""
        trades = self._account(account_id).trades
        return [t for _, t in trades if since is None or t.creationTimestamp >= since]

    # -- market ------------------------------------------------------------------------------

    def contract(self, symbol_or_id: str) -> Contract:
        """The front contract of a product (``"MNQ"``) or by id."""
        return self.catalog.resolve(symbol_or_id)

    def contract_id(self, symbol: str) -> str:
        return self.contract(symbol).id

    def book(self, symbol_or_id: str) -> Book:
        return self.market.books[self.contract(symbol_or_id).id]

    def quote(self, symbol_or_id: str) -> dict[str, float]:
        book = self.book(symbol_or_id)
        convert = book.contract.tick.from_ticks_float
        return {"bid": convert(book.bid), "ask": convert(book.ask), "last": convert(book.last)}

    def set_price(self, symbol_or_id: str, price: float | str | Decimal, *,
                  bid: float | str | Decimal | None = None,
                  ask: float | str | Decimal | None = None) -> None:
        """Print at ``price``; the bid becomes ``bid`` (default ``price``) and the ask
        ``ask`` (default one tick above the bid).  Orders it reaches fill at once."""
        book = self.book(symbol_or_id)
        tick = book.contract.tick
        self.market.set_price(
            book, tick.to_ticks(price, "exact"),
            None if bid is None else tick.to_ticks(bid, "exact"),
            None if ask is None else tick.to_ticks(ask, "exact"),
        )

    def step(self, symbol_or_id: str | None = None, count: int = 1) -> None:
        """Advance one contract (or all) by ``count`` random-walk steps."""
        books = [self.book(symbol_or_id)] if symbol_or_id else list(self.market.books.values())
        for book in books:
            self.market.step(book, count)

    def pause(self) -> None:
        """Stop the realtime market; prices then move only by ``step`` and ``set_price``."""
        self.market.pause()

    def resume(self) -> None:
        self.market.resume()

    def set_rate(self, rate: float) -> None:
        """Market steps per second per contract in realtime mode."""
        running = self.market.running
        self.market.pause()
        self.market.rate = rate
        if running:
            self.market.resume()

    def advance(self, seconds: float) -> None:
        """Move the simulator's clock forward (bars close, tokens age, rate windows roll)."""
        self.clock.advance(seconds)

    def publish_depth_snapshot(self, symbol_or_id: str, levels: int | None = None) -> None:
        """Send depth subscribers a Reset and ``levels`` levels per side (big frames)."""
        self.market.publish_snapshot(self.book(symbol_or_id), levels)

    def fill(self, order_id: int, *, price: float | str | Decimal | None = None,
             size: int | None = None) -> None:
        """Fill a working order now, whatever the market: all of it or ``size``, at
        ``price`` (default its limit, else the touch)."""
        order: Order | None = self.engine.orders.get(order_id)
        if order is None or order.status not in (OrderStatus.OPEN, OrderStatus.PENDING):
            raise ValueError(f"order {order_id} is not working")
        book = self.market.books[order.contract.id]
        if price is not None:
            ticks = order.contract.tick.to_ticks(price, "exact")
        elif order.type in (OrderType.LIMIT, OrderType.JOIN_BID, OrderType.JOIN_ASK) \
                and order.limit is not None:
            ticks = order.limit
        else:
            ticks = book.ask if order.buy else book.bid
        self.engine.fill(order, order.remaining if size is None else size, ticks)

    # -- one-shot faults -------------------------------------------------------------------

    def hub_connections(self, hub: str | None = None,
                        user: str | None = None) -> list[dict[str, Any]]:
        """The open hub connections: hub, user, records sent, what each subscribed to."""
        return [
            {"hub": s.hub, "user": s.user.name, "frozen": s.frozen, "sent": s.sent_records,
             "accounts": s.accounts,
             **{kind: sorted(keys) for kind, keys in s.subscriptions.items()}}
            for s in sorted(self.hubs.select(hub, user), key=lambda s: s.number)
        ]

    def close_hub_connections(self, hub: str | None = None, user: str | None = None) -> int:
        """Close matching hub sockets normally (clients reconnect); how many closed."""
        sessions = self.hubs.select(hub, user)
        for session in sessions:
            session.close()
        return len(sessions)

    def freeze_hub_connections(self, hub: str | None = None, user: str | None = None) -> int:
        """Keep matching sockets open (WebSocket pongs too) but send nothing on them,
        not even SignalR pings; what they would have carried is lost."""
        sessions = self.hubs.select(hub, user)
        for session in sessions:
            session.frozen = True
        return len(sessions)

    def thaw_hub_connections(self, hub: str | None = None, user: str | None = None) -> int:
        sessions = [s for s in self.hubs.select(hub, user) if s.frozen]
        for session in sessions:
            session.frozen = False
        return len(sessions)

    def send_hub_record(self, record: bytes | str, hub: str | None = None,
                        user: str | None = None) -> int:
        """Send raw SignalR text (a record separator is appended if missing) to matching
        hub connections, bypassing the encoder: malformed frames, ``GatewayLogout``."""
        raw = record.encode() if isinstance(record, str) else record
        if not raw.endswith(b"\x1e"):
            raw += b"\x1e"
        return self.hubs.send_raw(raw, hub, user)

    def expire_tokens(self, user: str | None = None) -> None:
        """Every token issued so far (to ``user``, or to anyone) is expired from now on."""
        self.auth.expire_tokens(user)

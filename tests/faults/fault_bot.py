"""A trading bot under fault injection, and the invariant it is judged by.

The bot is what a user runs: a ``TradingSuite`` on the simulator that keeps a
native bracket working, places, modifies and cancels resting orders and
trades at the market while the price moves.  Every operation is bounded
(``asyncio.timeout``) and catches only pxfast's typed errors, so a hang or an
untyped exception is recorded as a failure instead of stalling the test.

The invariant (``violations``) is the one the issue states, checked against
the simulator's own books:

* the client's orders (status, filled quantity), fills and positions equal
  the simulator's;
* every filled order reached the ``ORDER_FILLED`` handlers exactly once;
* no order was sent twice: no ``customTag`` reached the Gateway twice (a
  second copy leaves a second order, refused as a duplicate tag), every order
  it holds is one the bot was told about, and no place the bot was told
  "most likely not placed" exists;
* every gap was reported: one gap event per user-hub reconnect, one
  DISCONNECTED per lost hub socket, and a gap event whenever user-hub records
  were lost with the socket up;
* the bot never hung and nothing escaped: no operation overran its bound, no
  untyped exception, no unhandled exception on the loop, no ERROR event.

``bench/soak.py`` imports this module too, so the soak and the CI matrix
judge by the same rules.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from pxfast import _fsm
from pxfast.event_bus import Event, EventType
from pxfast.exceptions import OrderSubmissionUncertainError, ProjectXError
from pxfast.messages import OrderUpdate, PositionUpdate, TradeUpdate
from pxfast.models import ProjectXConfig
from pxfast.realtime.hub import HubOptions
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

__all__ = [
    "KEY",
    "SIM_SETTINGS",
    "SYMBOL",
    "TICK",
    "Bot",
    "BotReport",
    "Endpoints",
    "GatewayView",
    "LocalVenue",
    "MakeSimulator",
    "OpenSuite",
    "Recorder",
    "Venue",
    "fast_hub_options",
    "open_suite",
    "rule_violations",
    "settle",
    "state_violations",
    "violations",
]

#: ``make_simulator(**overrides)`` and ``suite_on(gw, **options)`` (fixtures in conftest.py).
MakeSimulator = Callable[..., Awaitable[GatewaySimulator]]
OpenSuite = Callable[..., Awaitable[TradingSuite]]

KEY = "0123456789abcdef"
SYMBOL = "MNQ"
TICK = Decimal("0.25")
START_PRICE = Decimal("21000")

#: Simulator liveness shortened so a frozen socket is noticed in about a second.
SIM_SETTINGS: dict[str, Any] = {
    "paused": True,
    "ping_interval": 0.3,
    "quote_keepalive": 0.3,
    "client_timeout": 5.0,
}


def fast_hub_options(*, market: bool = False) -> HubOptions:
    """Hub liveness a test can afford to wait for (the defaults are 15 s / 30 s / 10 s)."""
    return HubOptions(
        ping_interval=0.5,
        server_timeout=1.5,
        stale_after=1.5 if market else None,
        transport_ping_idle=1.0,
        transport_ping_reply=1.0,
        handshake_timeout=3.0,
        invoke_timeout=3.0,
        backoff_max=0.5,
    )


class Endpoints(Protocol):
    """Where a simulator listens (``GatewaySimulator`` or a remote one's address book)."""

    @property
    def api_url(self) -> str: ...

    @property
    def user_hub_url(self) -> str: ...

    @property
    def market_hub_url(self) -> str: ...


async def open_suite(
    gw: Endpoints,
    *,
    instruments: str | list[str] = SYMBOL,
    user: str = "bot",
    api_key: str = KEY,
    audit_interval: float | None = 0.5,
    timeout_seconds: int = 5,
    **options: Any,
) -> TradingSuite:
    """A suite on ``gw`` with test-sized liveness, retries and bracket-leg wait."""
    config = ProjectXConfig(
        api_url=gw.api_url,
        user_hub_url=gw.user_hub_url,
        market_hub_url=gw.market_hub_url,
        timeout_seconds=timeout_seconds,
        retry_delay_seconds=0.2,
    )
    settings: dict[str, Any] = {
        "user_hub_options": fast_hub_options(),
        "market_hub_options": fast_hub_options(market=True),
        "audit_interval": audit_interval,
        "order_manager_config": {"bracket_leg_timeout": 0.5},
        "initial_days": 1,
        **options,
    }
    return await TradingSuite.create(
        instruments, username=user, api_key=api_key, client_config=config, **settings
    )


class Recorder:
    """What the invariant needs from the suite's events, counted rather than stored.

    A soak emits hundreds of thousands of events; keeping them would be the
    memory growth the soak is there to rule out.  Fills are counted per order,
    gaps and hub events kept (they are few), and every exception nobody
    retrieved is caught by a loop exception handler.
    """

    def __init__(self) -> None:
        self.filled: Counter[int] = Counter()
        self.fills_delivered = 0
        self.gaps = 0
        self.gaps_on_reconnect = 0
        self.hub_events: Counter[tuple[str, str]] = Counter()
        self.errors: list[Any] = []
        self.unhandled: list[str] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    async def attach(self, suite: TradingSuite) -> None:
        await suite.on(EventType.ORDER_FILLED, self._filled)
        await suite.on(EventType.WARNING, self._warning)
        await suite.on(EventType.ERROR, self._error)
        for kind in _HUB_EVENTS:
            await suite.on(kind, self._hub_event)
        self._loop = asyncio.get_running_loop()
        self._loop.set_exception_handler(self._unhandled)

    def detach(self) -> None:
        if self._loop is not None:
            self._loop.set_exception_handler(None)
            self._loop = None

    def _filled(self, event: Event) -> None:
        self.filled[event.data["order_id"]] += 1
        self.fills_delivered += 1

    def _warning(self, event: Event) -> None:
        if event.data.get("kind") == "gap":
            self.gaps += 1
            self.gaps_on_reconnect += bool(event.data["reconnect"])

    def _error(self, event: Event) -> None:
        self.errors.append(event.data)

    def _hub_event(self, event: Event) -> None:
        assert isinstance(event.type, EventType)
        self.hub_events[(event.type.value, event.data.get("hub", "?"))] += 1

    def _unhandled(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.unhandled.append(str(context.get("exception") or context.get("message")))

    def count(self, kind: EventType, hub: str) -> int:
        return self.hub_events[(kind.value, hub)]


_HUB_EVENTS = (
    EventType.CONNECTED,
    EventType.DISCONNECTED,
    EventType.RECONNECTING,
    EventType.FEED_STALE,
)


@dataclass
class GatewayView:
    """The Gateway's books for one account, as the invariant compares them."""

    orders: list[OrderUpdate]
    positions: list[PositionUpdate]
    trades: list[TradeUpdate]
    #: User-hub event records the simulator's drop fault swallowed so far.
    dropped_user_records: int

    @classmethod
    def of(cls, gw: GatewaySimulator, account_id: int, since: str | None = None) -> GatewayView:
        return cls(
            gw.orders(account_id, since),
            gw.positions(account_id),
            gw.trades(account_id, since),
            gw.faults.dropped["user"],
        )


class Venue(Protocol):
    """The simulator's control side as the bot and the invariant use it (local or remote)."""

    async def last_price(self, symbol: str) -> Decimal: ...

    async def set_price(self, symbol: str, price: Decimal) -> None: ...

    async def view(self, account_id: int, since: str | None = None) -> GatewayView:
        """The books; with ``since`` (a Gateway timestamp), orders and fills from then on."""
        ...


class LocalVenue:
    """``Venue`` over an in-process simulator."""

    def __init__(self, gw: GatewaySimulator) -> None:
        self.gw = gw

    async def last_price(self, symbol: str) -> Decimal:
        return Decimal(str(self.gw.quote(symbol)["last"]))

    async def set_price(self, symbol: str, price: Decimal) -> None:
        self.gw.set_price(symbol, str(price))

    async def view(self, account_id: int, since: str | None = None) -> GatewayView:
        return GatewayView.of(self.gw, account_id, since)


@dataclass
class BotReport:
    cycles: int = 0
    operations: int = 0
    #: Order id -> what the bot placed it as (entry, stop, target, limit, market).
    known: dict[int, str] = field(default_factory=dict)
    #: Tags of places that raised "uncertain ... most likely was not placed".
    claimed_absent: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    untyped: list[str] = field(default_factory=list)
    hung: list[str] = field(default_factory=list)


class Bot:
    """Places, modifies and cancels orders and holds a bracket while the price moves.

    ``hook(cycle)`` runs before each cycle: that is where a test injects its
    faults.  The price is moved by the bot's own seeded random walk through
    the venue, so the bracket's entry and legs fill and the resting orders
    stay clear of the market.
    """

    def __init__(
        self,
        suite: TradingSuite,
        venue: Venue,
        *,
        seed: int = 1,
        op_timeout: float = 10.0,
        pause: float = 0.05,
    ) -> None:
        self.suite = suite
        self.venue = venue
        self.rng = random.Random(seed)
        self.op_timeout = op_timeout
        self.pause = pause
        self.report = BotReport()
        self.price = START_PRICE
        self._bracket: tuple[int, ...] = ()
        self._side = 0

    # ------------------------------------------------------------------ running

    async def run(
        self, cycles: int, hook: Callable[[int], Awaitable[None] | None] | None = None
    ) -> BotReport:
        await self.start()
        for cycle in range(cycles):
            if hook is not None:
                outcome = hook(cycle)
                if outcome is not None:
                    await outcome
            await self.step()
        return self.report

    async def start(self) -> None:
        """Read the market's price: the walk starts from it."""
        self.price = await self.venue.last_price(SYMBOL)

    async def step(self) -> None:
        await self.cycle()
        self.report.cycles += 1
        await asyncio.sleep(self.pause)

    async def cycle(self) -> None:
        """One round of trading: bracket, resting order life, market trade, price move."""
        if not self._bracket_working():
            await self._place_bracket()
        await self._resting_order_round()
        await self._market_trade()
        await self._move_price()

    # ------------------------------------------------------------------ operations

    async def _op(self, name: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run one API call with a bound; record typed failures, hangs and anything else."""
        self.report.operations += 1
        try:
            async with asyncio.timeout(self.op_timeout) as scope:
                return await call()
        except TimeoutError:
            if scope.expired():
                self.report.hung.append(name)
            else:
                self.report.untyped.append(f"{name}: TimeoutError")
        except OrderSubmissionUncertainError as exc:
            self.report.errors[type(exc).__name__] += 1
            tag = (exc.payload or {}).get("customTag")
            if isinstance(tag, str) and "not placed" in str(exc):
                self.report.claimed_absent.append(tag)
        except ProjectXError as exc:
            self.report.errors[type(exc).__name__] += 1
        except Exception as exc:
            self.report.untyped.append(f"{name}: {exc!r}")
        return None

    def _bracket_working(self) -> bool:
        table = self.suite.orders.orders
        return any(table.status(i) in (-1, 1, 6, 8) for i in self._bracket)

    async def _place_bracket(self) -> None:
        entry = self.price - 2 * TICK
        response = await self._op(
            "place_bracket_order",
            lambda: self.suite.orders.place_bracket_order(
                SYMBOL, 0, 1, entry_price=entry, stop_offset=Decimal(3), target_offset=Decimal(3)
            ),
        )
        if response is not None:
            ids = (response.entry_order_id, response.stop_order_id, response.target_order_id)
            for order_id, role in zip(ids, ("entry", "stop", "target"), strict=True):
                if order_id:
                    self.report.known[order_id] = role
            self._bracket = tuple(i for i in ids if i)

    async def _resting_order_round(self) -> None:
        orders = self.suite.orders
        far = self.price - 40 * TICK
        placed = await self._op(
            "place_limit_order", lambda: orders.place_limit_order(SYMBOL, 0, 1, far)
        )
        if placed is None:
            return
        order_id = placed.order_id
        self.report.known[order_id] = "limit"
        await _until(lambda: orders.orders.status(order_id) == 1, 1.0)
        await self._op(
            "modify_order", lambda: orders.modify_order(order_id, limit_price=far + TICK)
        )
        await self._op("cancel_order", lambda: orders.cancel_order(order_id))

    async def _market_trade(self) -> None:
        side = self._side
        self._side = 1 - side
        placed = await self._op(
            "place_market_order", lambda: self.suite.orders.place_market_order(SYMBOL, side, 1)
        )
        if placed is not None:
            self.report.known[placed.order_id] = "market"

    async def _move_price(self) -> None:
        """A random walk of a few ticks, with a swing now and then that crosses the legs."""
        step = self.rng.choice((-3, -2, -1, 1, 2, 3))
        if self.rng.random() < 0.3:
            step *= 5
        self.price = max(START_PRICE - 200, self.price + step * TICK)
        await self.venue.set_price(SYMBOL, self.price)


async def _until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll the client's own state, bounded; False when the bound ran out."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


# ---------------------------------------------------------------------- the invariant


def violations(
    suite: TradingSuite, view: GatewayView, recorder: Recorder, report: BotReport
) -> list[str]:
    """Every way the client disagrees with the Gateway or broke a rule; [] when sound."""
    return [*state_violations(suite, view, recorder), *rule_violations(view, recorder, report)]


def state_violations(
    suite: TradingSuite, view: GatewayView, recorder: Recorder, since: str | None = None
) -> list[str]:
    """Where the client's books differ from the Gateway's (what converging can fix).

    With ``since`` the view holds only the orders and fills from then on, and so
    is the client's side cut: older ones were checked at an earlier checkpoint
    and the client may have pruned them.
    """
    problems: list[str] = []
    stream = suite.realtime.user
    table = stream.orders
    cutoff = _fsm.parse_timestamp(since) if since else 0
    mine_ids = set(table.ids())
    trade_ids = set(stream.trades)
    if cutoff:
        mine_ids = {i for i in mine_ids if _updated(table.get(i)) >= cutoff}
        trade_ids = {
            i for i, t in stream.trades.items() if _stamp(t.creationTimestamp) >= cutoff
        }
    for order in view.orders:
        mine = table.get(order.id)
        if mine is None:
            problems.append(f"order {order.id} (status {order.status}) unknown to the client")
        elif mine.status != order.status or (mine.fillVolume or 0) != (order.fillVolume or 0):
            problems.append(
                f"order {order.id}: client status {mine.status} filled {mine.fillVolume}, "
                f"Gateway status {order.status} filled {order.fillVolume}"
            )
    extra = mine_ids - {o.id for o in view.orders}
    if extra:
        problems.append(f"orders the Gateway does not have: {sorted(extra)}")
    theirs = {p.contractId: (p.type, p.size, p.averagePrice) for p in view.positions}
    mine_pos = {c: (p.type, p.size, p.averagePrice) for c, p in stream.positions.items()}
    if mine_pos != theirs:
        problems.append(f"positions: client {mine_pos}, Gateway {theirs}")
    sim_trades = {t.id for t in view.trades}
    if trade_ids != sim_trades:
        missing = sorted(sim_trades - trade_ids)
        unknown = sorted(trade_ids - sim_trades)
        problems.append(f"fills: missing {missing}, unknown {unknown}")
    filled = {o.id for o in view.orders if o.status == 2}
    delivered = set(recorder.filled)
    if cutoff:
        delivered &= mine_ids | {o.id for o in view.orders}
    for order_id in filled | delivered:
        times = recorder.filled[order_id]
        if times != (1 if order_id in filled else 0):
            problems.append(f"order {order_id}: ORDER_FILLED delivered {times} times")
    problems.extend(_unreported_gaps(suite, view, recorder))
    return problems


def rule_violations(view: GatewayView, recorder: Recorder, report: BotReport) -> list[str]:
    """What no amount of waiting repairs: duplicates, hangs, escaped exceptions."""
    problems = _sent_twice(view, report)
    if report.hung:
        problems.append(f"operations overran their bound: {report.hung}")
    if report.untyped:
        problems.append(f"untyped exceptions: {report.untyped}")
    if recorder.unhandled:
        problems.append(f"unhandled exceptions on the loop: {recorder.unhandled}")
    if recorder.errors:
        problems.append(f"ERROR events: {recorder.errors}")
    return problems


def _sent_twice(view: GatewayView, report: BotReport) -> list[str]:
    """A place the Gateway processed twice leaves two orders with its tag (the second
    refused as a duplicate tag); one the bot never heard of is a duplicate or lost."""
    problems = []
    tags = Counter(o.customTag for o in view.orders if o.customTag)
    twice = {tag: n for tag, n in tags.items() if n > 1}
    if twice:
        problems.append(f"places processed more than once: {twice}")
    for order in view.orders:
        if not order.parentOrderId and order.id not in report.known:
            problems.append(f"order {order.id} (tag {order.customTag}) unknown to the bot")
    for tag in report.claimed_absent:
        if tag in tags:
            problems.append(f"place {tag} reported as most likely not placed, but it exists")
    return problems


def _unreported_gaps(suite: TradingSuite, view: GatewayView, recorder: Recorder) -> list[str]:
    problems = []
    realtime = suite.realtime
    on_reconnect = recorder.gaps_on_reconnect
    if on_reconnect != realtime.user_hub.stats.reconnects:
        problems.append(
            f"{realtime.user_hub.stats.reconnects} user-hub reconnects, {on_reconnect} gap events"
        )
    for hub in (realtime.user_hub, realtime.market_hub):
        reported = recorder.count(EventType.DISCONNECTED, hub.name)
        if reported != hub.stats.disconnects:
            problems.append(
                f"{hub.name} hub: {hub.stats.disconnects} disconnects, "
                f"{reported} DISCONNECTED events"
            )
    if view.dropped_user_records and not recorder.gaps:
        problems.append(f"{view.dropped_user_records} user-hub records lost, no gap reported")
    return problems


async def settle(
    suite: TradingSuite,
    venue: Venue,
    recorder: Recorder,
    report: BotReport,
    timeout: float = 15.0,
    window: timedelta | None = None,
) -> list[str]:
    """Wait (bounded) for the client to converge after the faults; the violations left.

    With ``window``, only what changed within it is compared (see state_violations).
    """
    realtime = suite.realtime
    account = suite.client.get_account_info().id
    deadline = time.monotonic() + timeout
    while True:
        quiet = _quiet(suite)
        since = None
        if window is not None:
            since = (datetime.now(UTC) - window).isoformat(timespec="microseconds")
        view = await venue.view(account, since)
        problems = state_violations(suite, view, recorder, since)
        if quiet and not problems:
            return rule_violations(view, recorder, report)
        if time.monotonic() > deadline:
            if not quiet and not await _until(lambda: _quiet(suite), 2.0):
                problems.append(f"hubs not settled: {realtime.health()['hubs']}")
            return [*problems, *rule_violations(view, recorder, report)]
        await asyncio.sleep(0.1)


def _stamp(text: str | None) -> int:
    return _fsm.parse_timestamp(text) if text else 0


def _updated(order: OrderUpdate | None) -> int:
    if order is None:
        return 0
    return _stamp(order.updateTimestamp or order.creationTimestamp)


def _quiet(suite: TradingSuite) -> bool:
    """Both hubs up and no fence running (an audit's fence lasts milliseconds)."""
    realtime = suite.realtime
    return (
        realtime.user_hub.connected and realtime.market_hub.connected and not realtime.user.fencing
    )

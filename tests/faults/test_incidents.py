"""What project-x-py users lost, replayed against pxfast (``/work/shared/incidents.md``).

Each test is named after the incident it replays and fails on the naive
implementation that incident exposed: a bracket that waits for a fill event
and times out, a watchdog that trusts an open socket, a 10 KB frame cap, a
watchdog that reconnects a quiet user hub, a health score not derived from
the transport, per-message work that lets a market flood starve the user
hub, and a place that is resent after a timeout.  Deadlines here are
functional (bounded waits for what must happen), never speed thresholds;
``bench/reliability.py`` measures the figures.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from fault_bot import SYMBOL, TICK, MakeSimulator, OpenSuite, Recorder

from pxfast import _fsm
from pxfast.event_bus import Event, EventType
from pxfast.exceptions import (
    OrderSubmissionUncertainError,
    ProjectXConnectionError,
    ProjectXError,
)
from pxfast.realtime.hub import HubOptions
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

pytestmark = pytest.mark.both_loops


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)


def collect(kinds: tuple[EventType, ...]) -> tuple[list[Event], Callable[[Event], None]]:
    events: list[Event] = []

    def keep(event: Event) -> None:
        if event.type in kinds:
            events.append(event)

    return events, keep


def account(suite: TradingSuite) -> int:
    return suite.client.get_account_info().id


def sim_children(gw: GatewaySimulator, suite: TradingSuite, entry_id: int) -> dict[int, int]:
    """The Gateway's bracket legs of ``entry_id``: id -> status."""
    return {o.id: o.status for o in gw.orders(account(suite)) if o.parentOrderId == entry_id}


# ---------------------------------------------------------------------- #100


async def test_pxpy_100_native_bracket_entry_fills_while_user_hub_is_down(
    gw: GatewaySimulator, suite_on: OpenSuite
) -> None:
    """Entry filled during the outage: the fill is reported once, the exits are known and live.

    The periodic audit is off, so what recovers the fill is the reconnect's fence.
    """
    suite = await suite_on(gw, audit_interval=None)
    fills, keep = collect((EventType.ORDER_FILLED,))
    await suite.on(EventType.ORDER_FILLED, keep)
    price = Decimal(str(gw.quote(SYMBOL)["last"]))
    bracket = await suite.orders.place_bracket_order(
        SYMBOL, 0, 1, entry_price=price - 4 * TICK, stop_offset=Decimal(5), target_offset=Decimal(5)
    )
    entry, stop, target = bracket.entry_order_id, bracket.stop_order_id, bracket.target_order_id
    assert entry and stop and target and set(sim_children(gw, suite, entry)) == {stop, target}
    gw.freeze_hub_connections("user")  # the socket stays up; nothing reaches the client
    gw.set_price(SYMBOL, str(price - 6 * TICK))  # the entry fills, its legs go live
    assert {o.id: o.status for o in gw.orders(account(suite))}[entry] == 2
    assert sim_children(gw, suite, entry) == {stop: 1, target: 1}
    table = suite.orders.orders
    assert table.status(entry) == 1  # the client cannot know yet ...
    await until(lambda: table.status(entry) == 2 and suite.realtime.user.reconciled.is_set())
    # ... and after the outage it knows everything, from the Gateway, not from a timeout.
    assert [e.data["order_id"] for e in fills] == [entry]
    assert fills[0].data["bracket_role"] == "entry"
    assert table.status(stop) == 1 and table.status(target) == 1
    group = table.group_of(entry)
    assert group is not None and group[1] == _fsm.ROLE_ENTRY
    assert table.group_of(stop) == (group[0], _fsm.ROLE_STOP)
    assert table.group_of(target) == (group[0], _fsm.ROLE_TARGET)
    position = await suite.positions.get_position(SYMBOL)
    assert position is not None and position.size == 1
    assert suite.realtime.user_hub.stats.server_timeouts == 1


async def test_pxpy_100_client_side_bracket_entry_fills_while_user_hub_is_down(
    make_simulator: MakeSimulator, suite_on: OpenSuite
) -> None:
    """An account that refuses native brackets: the bracket call waits for the entry, the
    fill happens during the outage, and the call returns the live exits, not a timeout."""
    gw = await make_simulator(bracket_mode="position")
    suite = await suite_on(gw, audit_interval=None)
    table = suite.orders.orders
    price = Decimal(str(gw.quote(SYMBOL)["last"]))
    placing = asyncio.create_task(
        suite.orders.place_bracket_order(
            SYMBOL,
            0,
            1,
            entry_price=price - 4 * TICK,
            stop_loss_price=price - 20 * TICK,
            take_profit_price=price + 20 * TICK,
        )
    )
    await until(lambda: any(table.status(i) == 1 for i in table.ids()))
    # The native attempt was refused (status 5); the working order is the entry.
    (entry,) = [i for i in table.ids() if table.status(i) == 1]
    gw.freeze_hub_connections("user")
    gw.set_price(SYMBOL, str(price - 6 * TICK))  # the entry fills while the hub is down
    bracket = await asyncio.wait_for(placing, 30)
    assert bracket.success and bracket.entry_order_id == entry
    sim = {o.id: o for o in gw.orders(account(suite))}
    assert sim[entry].status == 2
    assert bracket.stop_order_id and sim[bracket.stop_order_id].status == 1
    assert bracket.target_order_id and sim[bracket.target_order_id].status == 1
    assert sim[bracket.stop_order_id].stopPrice == float(price - 20 * TICK)
    assert table.status(bracket.stop_order_id) == 1 and table.status(bracket.target_order_id) == 1
    assert suite.realtime.user_hub.stats.reconnects == 1


# ---------------------------------------------------------------------- #97


async def test_pxpy_97_market_feed_frozen_with_the_socket_open(
    gw: GatewaySimulator, suite_on: OpenSuite
) -> None:
    """A quiet but alive feed raises nothing; a frozen one is stale within the budget,
    reconnected, and prices flow again."""
    budget = 1.0
    options = HubOptions(ping_interval=0.3, server_timeout=60.0, stale_after=budget)
    suite = await suite_on(gw, market_hub_options=options)
    stale, keep = collect((EventType.FEED_STALE,))
    await suite.on(EventType.FEED_STALE, keep)
    await asyncio.sleep(3 * budget)  # paused market: only the simulator's quote keep-alives
    assert stale == [] and suite.realtime.market_hub.stats.reconnects == 0
    gw.freeze_hub_connections("market")  # transport pongs still come back
    frozen_at = time.monotonic()
    await until(lambda: bool(stale))
    detected = time.monotonic() - frozen_at
    assert stale[0].data["hub"] == "market" and stale[0].data["threshold_seconds"] == budget
    # The server timeout (60 s) did not fire: the staleness clock did.
    assert suite.realtime.market_hub.stats.server_timeouts == 0 and detected < 60
    await until(lambda: suite.realtime.market_hub.stats.reconnects == 1)
    gw.set_price(SYMBOL, "21012.25")
    await until(lambda: suite.realtime.market.current_price(suite.instrument_id) == 21012.25)
    assert await suite.data.get_current_price() == 21012.25


# ---------------------------------------------------------------------- #128


async def test_pxpy_128_depth_snapshot_over_10kb_is_accepted_without_reconnecting(
    gw: GatewaySimulator, suite_on: OpenSuite
) -> None:
    suite = await suite_on(gw, market_depth=True)
    depth, keep = collect((EventType.MARKET_DEPTH_UPDATE,))
    await suite.on(EventType.MARKET_DEPTH_UPDATE, keep)
    sizes = (60, 400, 3000)  # about 12 KB (the incident's DOM), 80 KB and 600 KB records
    for levels in sizes:
        gw.publish_depth_snapshot(SYMBOL, levels=levels)
    await until(lambda: sum(len(e.data["entries"]) > 2 * 60 for e in depth) == len(sizes))
    big = [len(e.data["entries"]) for e in depth if len(e.data["entries"]) > 2 * 60]
    assert big == [2 * n + 1 for n in sizes]  # a Reset and every level, nothing cut
    await asyncio.sleep(0.5)
    market = suite.get_health()["hubs"]["market"]
    assert market["reconnects"] == 0 and market["disconnects"] == 0
    assert market["decode_errors"] == 0


# ---------------------------------------------------------------------- #129


async def test_pxpy_129_quiet_user_hub_of_a_flat_account_is_not_reconnected(
    gw: GatewaySimulator, suite_on: OpenSuite
) -> None:
    options = HubOptions(ping_interval=0.3, server_timeout=1.0)
    suite = await suite_on(gw, user_hub_options=options)
    hub = suite.realtime.user_hub
    await asyncio.sleep(3.0)  # three server timeouts of silence from the account
    assert hub.stats.reconnects == 0 and hub.stats.disconnects == 0 and hub.connected
    # A watchdog and a user both asking for a reconnect at once: still one socket.
    hub.reconnect("first")
    hub.reconnect("second")
    await until(lambda: hub.stats.reconnects == 1 and hub.connected)
    await asyncio.sleep(0.5)
    assert hub.stats.reconnects == 1 and len(gw.hub_connections(hub="user")) == 1


# ---------------------------------------------------------------------- #141


async def test_pxpy_141_both_hubs_closed_health_says_so_and_rest_errors_are_typed(
    gw: GatewaySimulator, suite_on: OpenSuite, recorder: Recorder
) -> None:
    suite = await suite_on(gw)
    await recorder.attach(suite)
    before = suite.get_health()
    assert before["hubs"]["user"]["connected"] and before["hubs"]["market"]["connected"]
    assert "score" not in before
    outage = asyncio.create_task(gw.restart(downtime=3.0))

    def both_down() -> bool:
        hubs = suite.get_health()["hubs"]
        return not hubs["user"]["connected"] and not hubs["market"]["connected"]

    await until(both_down, timeout=2.0)
    health = suite.get_health()
    for name in ("user", "market"):
        assert health["hubs"][name]["state"] in ("reconnecting", "connecting")
        assert health["hubs"][name]["disconnects"] == 1 and health["hubs"][name]["last_error"]
    assert not suite.is_connected
    # REST fails fast and typed, and the bot lives on.
    with pytest.raises(ProjectXConnectionError):
        await suite.orders.place_limit_order(SYMBOL, 0, 1, 20000)
    with pytest.raises(ProjectXConnectionError):
        await suite.client.search_open_positions()
    await outage
    await until(lambda: suite.is_connected and suite.realtime.market_hub.connected)
    after = suite.get_health()["hubs"]
    assert after["user"]["reconnects"] == 1 and after["market"]["reconnects"] == 1
    assert recorder.unhandled == [] and recorder.count(EventType.DISCONNECTED, "user") == 1


# ---------------------------------------------------------------------- #143


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


FLOOD_SYMBOLS = ["MNQ", "ES", "NQ", "MES"]
FLOOD_EVENTS = 50_000
FLOOD_ROUNDS = 20


async def flood(gw: GatewaySimulator, fill: Callable[[int], None]) -> None:
    """50 000 market events (print, quote, depth per step) on four contracts in about a
    second, with one resting order filled in each of the 20 rounds."""
    steps = FLOOD_EVENTS // 3 // len(FLOOD_SYMBOLS) // FLOOD_ROUNDS + 1
    for round_number in range(FLOOD_ROUNDS):
        for symbol in FLOOD_SYMBOLS:
            gw.step(symbol, steps)
        fill(round_number)
        await asyncio.sleep(1.0 / FLOOD_ROUNDS)


async def test_pxpy_143_open_of_session_flood_drops_and_delays_no_user_event(
    make_simulator: MakeSimulator, suite_on: OpenSuite
) -> None:
    gw = await make_simulator(quote_keepalive=0, balance=1e7)
    suite = await suite_on(gw, instruments=FLOOD_SYMBOLS, market_depth=True)
    assert len(suite) == len(FLOOD_SYMBOLS)
    fills: Counter[int] = Counter()
    await suite.on(EventType.ORDER_FILLED, lambda e: fills.update([e.data["order_id"]]))
    orders = suite["MNQ"].orders
    market = suite.realtime.market_hub.stats

    async def session(resting: list[int]) -> int:
        """Records the simulator sent on the market hub during one flood; all must arrive."""
        sent = gw.hub_connections(hub="market")[0]["sent"]
        received = market.items

        def fill(round_number: int) -> None:
            gw.fill(resting[round_number])

        await flood(gw, fill)
        await until(lambda: all(fills[i] == 1 for i in resting), timeout=30)
        sent_now = gw.hub_connections(hub="market")[0]["sent"]
        await until(lambda: market.items - received == sent_now - sent, timeout=30)
        return sent_now - sent

    async def rest_orders() -> list[int]:
        price = Decimal(str(gw.quote(SYMBOL)["last"]))
        placed = [
            await orders.place_limit_order(SYMBOL, 0, 1, price - (200 + i) * TICK)
            for i in range(FLOOD_ROUNDS)
        ]
        return [p.order_id for p in placed]

    first = await session(await rest_orders())
    assert first >= FLOOD_EVENTS  # every market record arrived and was processed: none dropped
    memory = rss_mib()
    second = await session(await rest_orders())
    assert second >= FLOOD_EVENTS
    assert rss_mib() - memory < 32  # the second flood costs no more than the first left
    assert sum(fills.values()) == 2 * FLOOD_ROUNDS and set(fills.values()) == {1}
    sim = {o.id: o.status for o in gw.orders(account(suite))}
    assert all(suite.realtime.user.orders.status(i) == s for i, s in sim.items())
    assert suite.realtime.user_hub.stats.reconnects == 0


# ---------------------------------------------------------------------- PR #110


async def test_pxpy_110_place_timeout_after_the_gateway_took_it_finds_it_by_tag(
    gw: GatewaySimulator, suite_on: OpenSuite
) -> None:
    """The answer comes back after the client gave up: no second order, the first returned."""
    suite = await suite_on(gw, timeout_seconds=1)
    suite.orders.enable_auto_retry(max_attempts=3, initial_delay=0.01)
    gw.freeze_hub_connections("user")  # the table cannot help: the lookup goes to REST
    gw.faults.delay_responses("Order/place", seconds=2.5)
    started = time.monotonic()
    response = await suite.orders.place_limit_order(SYMBOL, 0, 1, 20000)
    assert time.monotonic() - started < 2.5  # it did not wait for the late answer
    orders = gw.orders(account(suite))
    assert [o.id for o in orders] == [response.order_id]
    assert orders[0].customTag and orders[0].customTag.startswith("pxf-")
    assert suite.orders.stats["uncertain_resolved"] == 1
    assert suite.client.session.stats.uncertain == 1


@pytest.mark.parametrize("auto_retry", [False, True], ids=["no-retry", "auto-retry"])
async def test_pxpy_110_a_failed_lookup_is_not_proof_that_the_place_failed(
    auto_retry: bool, gw: GatewaySimulator, suite_on: OpenSuite
) -> None:
    """5xx after the Gateway took the order, and the tag lookup cannot reach the Gateway:
    the outcome is unknown, so pxfast must neither call it "not placed", nor send it again,
    nor hand back any order but the one that was placed."""
    suite = await suite_on(gw)
    if auto_retry:
        suite.orders.enable_auto_retry(max_attempts=3, initial_delay=0.01)
    gw.freeze_hub_connections("user")  # the lookup has to go to REST ...
    gw.faults.fail_after_accept("Order/place", status=502)
    gw.faults.fail_requests(["Order/search", "Order/searchOpen"], status=503, count=1000)
    outcome: object
    try:
        outcome = await suite.orders.place_limit_order(SYMBOL, 0, 1, 20000)
    except ProjectXError as exc:
        outcome = exc
    orders = gw.orders(account(suite))
    placed = orders[0]
    assert placed.status == 1  # the order the first request created, working
    assert [o.id for o in orders] == [placed.id], f"the place was sent again: {orders}"
    if isinstance(outcome, OrderSubmissionUncertainError):
        assert "not placed" not in str(outcome), str(outcome)  # ... which failed: unknown
    else:
        assert getattr(outcome, "order_id", None) == placed.id, outcome

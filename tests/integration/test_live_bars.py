"""Live bars of ``suite.data`` against the simulator, over the real REST and hub path.

The strongest check: bars built live from the simulator's GatewayTrade prints
equal the simulator's own History/retrieveBars for the same buckets, for
timeframes from a second to a month, across the history/live seam, a
market-hub outage and gaps.  The simulator's market is paused and its clock
moves only when a test advances it (on top of wall time), so each print's
exchange time stamp, and so its bucket, is the test's choice.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from test_suite_harness import running_suite, sim_config, until

import pxfast.realtime_data_manager.bars as bar_store
from pxfast.bars import COLUMNS, BarFrame
from pxfast.client.project_x import ProjectX
from pxfast.event_bus import Event, EventBus, EventType
from pxfast.messages import MarketTrade
from pxfast.realtime.connection import RealtimeConnection
from pxfast.realtime.market_stream import QuoteState
from pxfast.realtime_data_manager import RealtimeDataManager
from pxfast.realtime_data_manager.bars import BarStore, Seed
from pxfast.realtime_data_manager.timeframes import TIMEFRAMES
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

pytestmark = pytest.mark.both_loops

CHICAGO = ZoneInfo("America/Chicago")
#: Every kind of bucket: seconds, minutes, hours, 4 hours, days, weeks, months.
WIDE = ["1sec", "15sec", "1min", "5min", "1hr", "4hr", "1day", "1week", "1month"]
BAR_KEYS = ["close", "high", "low", "open", "timestamp", "volume"]


@pytest.fixture
async def gw(make_simulator: Callable[..., Any]) -> GatewaySimulator:
    # Tests move the clock by up to a day: tokens must outlive that.
    simulator: GatewaySimulator = await make_simulator(token_lifetime=30 * 86400)
    return simulator


@pytest.fixture
async def suite(gw: GatewaySimulator) -> AsyncIterator[TradingSuite]:
    async with running_suite(gw, timeframes=["1min", "5min"]) as running:
        yield running


def advance_to_next(gw: GatewaySimulator, seconds: int) -> datetime:
    """Move the simulator's clock one second past its next multiple of ``seconds``."""
    start = (int(gw.clock.now()) // seconds + 1) * seconds
    gw.advance(start + 1 - gw.clock.now())
    return datetime.fromtimestamp(start, UTC)


async def print_at(gw: GatewaySimulator, state: QuoteState, price: str) -> None:
    """One print at ``price``, returned once the client's market stream has it."""
    seen = state.trades
    gw.set_price("MNQ", price)
    await until(lambda: state.trades > seen, f"the print at {price}")


async def steps(gw: GatewaySimulator, state: QuoteState, count: int) -> None:
    """``count`` random-walk prints, returned once the client has them all."""
    expected = state.trades + count
    gw.step("MNQ", count)
    await until(lambda: state.trades == expected, f"{count} prints")


async def gateway_bars(
    client: ProjectX, gw: GatewaySimulator, contract: str, name: str, since: datetime
) -> BarFrame:
    spec = TIMEFRAMES[name]
    far = datetime.fromtimestamp(gw.clock.now(), UTC) + timedelta(days=2)
    return await client.get_bars(
        contract, interval=spec.number, unit=int(spec.unit), start_time=since,
        end_time=far, limit=10**6, as_numpy=True,
    )  # fmt: skip


async def assert_gateway_bars(
    data: RealtimeDataManager, client: ProjectX, gw: GatewaySimulator, names: list[str]
) -> None:
    """Every bar ``data`` holds equals the Gateway's bar of that bucket, and the
    Gateway has no bar in that span that ``data`` lacks; frames agree with columns."""
    assert data.contract_id is not None
    for name in names:
        live = await data.get_data(name, as_numpy=True)
        assert live is not None, name
        since = live.timestamps()[0]
        rest = await gateway_bars(client, gw, data.contract_id, name, since)
        for column in COLUMNS:
            np.testing.assert_array_equal(live[column], rest[column], err_msg=f"{name} {column}")
        frame = await data.get_data(name)
        assert frame is not None and frame.equals(live.to_polars()), name


def gateway_record(contract: str, *prints: dict[str, Any]) -> str:
    return json.dumps({"type": 1, "target": "GatewayTrade", "arguments": [contract, list(prints)]})


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


# ---------------------------------------------------------------- the Gateway's own bars


async def test_live_bars_equal_the_gateways_bars(gw: GatewaySimulator) -> None:
    """A random tape over half an hour, then across a UTC midnight (4-hour, day and
    maybe week and month edges): every timeframe's bars equal History/retrieveBars'."""
    async with running_suite(gw, timeframes=WIDE) as suite:
        state = suite.realtime.market.state(suite.instrument_id)
        rng = random.Random(7)
        for round_ in range(40):
            await steps(gw, state, rng.randint(1, 5))
            gw.advance(rng.choice((0.3, 0.9, 2.5, 7, 16, 31, 61, 200)))
            if round_ % 4 == 0:  # frames read on the way: the cache is extended, not rebuilt
                assert await suite.data.get_data("1min") is not None
        gw.advance(86400 - gw.clock.now() % 86400 + 0.5)
        for _ in range(5):
            await steps(gw, state, rng.randint(1, 5))
            gw.advance(rng.choice((0.4, 3, 90)))
        await assert_gateway_bars(suite.data, suite.client, gw, WIDE)
        stats = await suite.data.get_memory_stats()
        assert stats["bad_prints"] == stats["dropped_trades"] == stats["late_trades"] == 0


async def test_a_small_ring_keeps_the_newest_bars(gw: GatewaySimulator) -> None:
    """``max_bars_per_timeframe`` bounds the closed bars; frames read after every close
    (the cached frame extended and trimmed) stay equal to the Gateway's newest bars."""
    config = {"max_bars_per_timeframe": 5}
    async with running_suite(gw, timeframes=["1min"], data_manager_config=config) as suite:
        state = suite.realtime.market.state(suite.instrument_id)
        for _ in range(9):
            await steps(gw, state, 2)
            gw.advance(61)
            frame = await suite.data.get_data("1min")
            assert frame is not None and frame.height == 6  # five closed, one open
        await assert_gateway_bars(suite.data, suite.client, gw, ["1min"])


# ---------------------------------------------------------------- events


async def test_new_bar_once_per_opened_bar(gw: GatewaySimulator) -> None:
    """NEW_BAR fires once per bar that opens, in order, with project-x-py's keys and
    the bar's first values, plus the bar that closed; DATA_UPDATE once per print with
    its exchange time in the suite's zone."""
    names = {"1sec": 1, "1min": 60, "5min": 300, "1hr": 3600}
    async with running_suite(gw, timeframes=list(names)) as suite:
        state = suite.realtime.market.state(suite.instrument_id)
        opened: list[Event] = []
        ticks: list[Event] = []
        updates: list[Event] = []
        await suite.on(EventType.NEW_BAR, opened.append)
        await suite.on(EventType.TRADE_TICK, ticks.append)
        await suite.on(EventType.DATA_UPDATE, updates.append)
        advance_to_next(gw, 3600)  # every timeframe's next bar opens live
        rng = random.Random(3)
        for _ in range(30):
            await steps(gw, state, rng.randint(1, 4))
            gw.advance(rng.choice((0.2, 0.6, 1.5, 20, 59, 301, 1000)))
    prints = [
        (datetime.fromisoformat(t.data["timestamp"]), t.data["price"], int(t.data["volume"]))
        for t in ticks
    ]
    assert [(u.data["timestamp"], u.data["price"], u.data["volume"]) for u in updates] == prints
    assert all(u.data["timestamp"].tzinfo == CHICAGO for u in updates)
    for name, width in names.items():
        buckets: dict[datetime, list[tuple[float, int]]] = {}
        for moment, price, size in prints:
            start = datetime.fromtimestamp(int(moment.timestamp()) // width * width, UTC)
            buckets.setdefault(start, []).append((price, size))
        events = [e.data for e in opened if e.data["timeframe"] == name]
        assert [e["bar_time"] for e in events] == list(buckets), name
        previous = None
        for event, (start, trades) in zip(events, buckets.items(), strict=True):
            assert sorted(event) == ["bar_time", "closed_bar", "data", "timeframe"]
            assert sorted(event["data"]) == BAR_KEYS
            bar = event["data"]
            assert bar["timestamp"] == event["bar_time"] == start
            assert bar["timestamp"].tzinfo == CHICAGO
            price, size = trades[0]
            assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (price,) * 4
            assert type(bar["open"]) is float and bar["volume"] == size
            assert type(bar["volume"]) is int
            closed = event["closed_bar"]
            if previous is None:  # the bar before the first live one came from REST
                assert closed is None or closed["timestamp"] < start
            else:
                first, rest = previous
                values = [p for p, _ in rest]
                assert closed == {
                    "timestamp": first,
                    "open": values[0],
                    "high": max(values),
                    "low": min(values),
                    "close": values[-1],
                    "volume": sum(s for _, s in rest),
                }
            previous = (start, trades)


async def test_one_frame_over_several_bars_pairs_each_with_its_closed_bar(
    gw: GatewaySimulator, suite: TradingSuite
) -> None:
    """Bar events are drained once per frame; a frame whose prints open three
    1-minute bars announces each with the bar it closed, not the frame's last."""
    opened: list[Event] = []
    await suite.on(EventType.NEW_BAR, opened.append)
    state = suite.realtime.market.state(suite.instrument_id)
    start = advance_to_next(gw, 300)
    prints = [
        {"symbolId": "F.US.MNQ", "price": 21000.0 + i, "type": 0, "volume": i + 1,
         "timestamp": stamp(start + timedelta(seconds=61 * i))}
        for i in range(3)
    ]  # fmt: skip
    seen = state.trades
    gw.send_hub_record(gateway_record(suite.instrument_id, *prints), "market")
    await until(lambda: state.trades == seen + 3, "the frame")
    events = [e.data for e in opened if e.data["timeframe"] == "1min"]
    minute = timedelta(minutes=1)
    assert [e["bar_time"] for e in events] == [start, start + minute, start + 2 * minute]
    assert [e["data"]["open"] for e in events] == [21000.0, 21001.0, 21002.0]
    closed = [e["closed_bar"] for e in events[1:]]
    assert [(c["timestamp"], c["close"], c["volume"]) for c in closed] == [
        (start, 21000.0, 1),
        (start + minute, 21001.0, 2),
    ]


async def test_nothing_is_built_for_events_nobody_listens_to(
    gw: GatewaySimulator, suite: TradingSuite, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[int] = []
    aware = bar_store._aware

    def counting(ns: int, zone: Any) -> datetime:
        made.append(ns)
        return aware(ns, zone)

    monkeypatch.setattr(bar_store, "_aware", counting)
    state = suite.realtime.market.state(suite.instrument_id)
    advance_to_next(gw, 300)
    await steps(gw, state, 3)  # bars open, prints arrive: no handler, no payload
    assert made == []
    bars: list[Event] = []
    await suite.on(EventType.NEW_BAR, bars.append)
    gw.advance(300)
    await steps(gw, state, 1)
    assert len(bars) == 2 and made  # 1min and 5min opened, announced


# ---------------------------------------------------------------- the seam, outages, gaps


async def test_history_live_seam_counts_every_print_once(gw: GatewaySimulator) -> None:
    """Prints before the subscription (in REST only), after it but before the seed
    (received and in REST) and after the seed (live) land once each in one bar."""
    client = ProjectX("alice", "sim-key-0000000", sim_config(gw))
    await client.__aenter__()
    realtime = RealtimeConnection(client)
    try:
        await client.authenticate()
        await realtime.connect()
        instrument = await client.get_instrument("MNQ")
        state = realtime.market.state(instrument.id)
        start = advance_to_next(gw, 300)
        gw.set_price("MNQ", "21000")  # nobody subscribed: History only
        gw.set_price("MNQ", "21001")
        bus = EventBus()
        data = RealtimeDataManager(instrument, client, realtime, bus, ["1min", "5min"])
        opened: list[Event] = []
        await bus.on(EventType.NEW_BAR, opened.append)
        assert await data.start_realtime_feed()
        await realtime.subscribe_market([instrument.id])
        await print_at(gw, state, "21002.5")  # held back until the seed, which has it
        await print_at(gw, state, "20999")
        assert await data.get_data("1min") is None
        await data.initialize(1)
        await print_at(gw, state, "21003")  # live, same bar
        gw.advance(60)
        await print_at(gw, state, "21004")  # the next minute's bar
        minute = await data.get_data("1min", bars=2)
        assert minute is not None
        assert minute.to_dicts() == [
            {"timestamp": start, "open": 21000.0, "high": 21003.0, "low": 20999.0,
             "close": 21003.0, "volume": 5},
            {"timestamp": start + timedelta(minutes=1), "open": 21004.0, "high": 21004.0,
             "low": 21004.0, "close": 21004.0, "volume": 1},
        ]  # fmt: skip
        # The seam's bar opened before the seed: only the next one is announced.
        assert [(e.data["timeframe"], e.data["bar_time"]) for e in opened] == [
            ("1min", start + timedelta(minutes=1))
        ]
        await assert_gateway_bars(data, client, gw, ["1min", "5min"])
        stats = await data.get_memory_stats()
        assert stats["ticks_processed"] == 4  # the two before the subscription never came
        await data.cleanup()
    finally:
        await realtime.disconnect()
        await client.__aexit__(None, None, None)


async def test_a_market_hub_outage_is_reseeded_without_duplicates(
    gw: GatewaySimulator, suite: TradingSuite
) -> None:
    """Prints lost in an outage (one in the open bar, two in a bar that opened
    meanwhile) come back from REST after the reconnect; nothing is counted twice."""
    data = suite.data
    state = suite.realtime.market.state(suite.instrument_id)
    opened: list[Event] = []
    await suite.on(EventType.NEW_BAR, opened.append)
    start = advance_to_next(gw, 300)
    await print_at(gw, state, "21000")
    await print_at(gw, state, "21001")
    gw.freeze_hub_connections("market")  # what it would carry is lost
    gw.set_price("MNQ", "20995")
    gw.advance(60)
    gw.set_price("MNQ", "21010")
    gw.set_price("MNQ", "21008")
    gw.close_hub_connections("market")
    await until(lambda: data.resyncs == 1, "the re-seed after the reconnect")
    await print_at(gw, state, "21009")  # live again, in the bar opened in the outage
    gw.advance(60)
    await print_at(gw, state, "21012")
    bars = await data.get_data("1min", bars=3)
    assert bars is not None
    minute = timedelta(minutes=1)
    assert bars.select("timestamp", "open", "close", "volume").rows() == [
        (start, 21000.0, 20995.0, 3),
        (start + minute, 21010.0, 21009.0, 3),
        (start + 2 * minute, 21012.0, 21012.0, 1),
    ]
    await assert_gateway_bars(data, suite.client, gw, ["1min", "5min"])
    # The bar that opened in the outage is not announced; the next one closes it whole.
    events = [e.data for e in opened if e.data["timeframe"] == "1min"]
    assert [e["bar_time"] for e in events] == [start, start + 2 * minute]
    assert events[1]["closed_bar"]["volume"] == 3
    assert [e.data["bar_time"] for e in opened if e.data["timeframe"] == "5min"] == [start]


async def test_buckets_without_trades_have_no_bar(
    gw: GatewaySimulator, suite: TradingSuite
) -> None:
    opened: list[Event] = []
    await suite.on(EventType.NEW_BAR, opened.append)
    state = suite.realtime.market.state(suite.instrument_id)
    start = advance_to_next(gw, 300)
    await print_at(gw, state, "21000")
    gw.advance(180)  # three quiet minutes
    await print_at(gw, state, "21002")
    bars = await suite.data.get_data("1min", bars=2)
    assert bars is not None
    assert bars["timestamp"].to_list() == [start, start + timedelta(minutes=3)]
    later = [e.data for e in opened if e.data["bar_time"] > start]
    assert [e["timeframe"] for e in later] == ["1min"]  # the 5-minute bar goes on
    assert later[0]["closed_bar"]["timestamp"] == start
    await assert_gateway_bars(suite.data, suite.client, gw, ["1min", "5min"])


# ---------------------------------------------------------------- hostile and late prints


async def test_bad_prints_are_counted_and_left_out(
    gw: GatewaySimulator, suite: TradingSuite
) -> None:
    state = suite.realtime.market.state(suite.instrument_id)
    start = advance_to_next(gw, 300)
    await print_at(gw, state, "21000")
    good = {"symbolId": "F.US.MNQ", "price": 21001.0, "type": 0, "volume": 2}
    when = stamp(start + timedelta(seconds=5))
    record = gateway_record(
        suite.instrument_id,
        {**good, "timestamp": when, "price": 21000.1},  # off the tick grid
        {**good, "timestamp": "yesterday"},
        {**good, "timestamp": when, "volume": 1.5},
        {**good, "timestamp": when, "volume": -1},
        {**good, "timestamp": when, "volume": 1e30},
        {**good, "timestamp": "9999-12-31T23:59:59+00:00"},  # past what the bars hold
        {**good, "timestamp": when},
    )
    seen = state.trades
    assert gw.send_hub_record(record, "market") == 1
    await until(lambda: state.trades == seen + 7, "the record")
    stats = await suite.data.get_memory_stats()
    assert stats["bad_prints"] == 6 and stats["ticks_processed"] == 2
    frame = await suite.data.get_data("1min", bars=1)
    assert frame is not None
    assert frame.select("open", "high", "close", "volume").rows() == [
        (21000.0, 21001.0, 21001.0, 3)
    ]
    assert suite.realtime.market_hub.connected


async def test_a_late_print_revises_its_closed_bar(
    gw: GatewaySimulator, suite: TradingSuite
) -> None:
    """A print older than the open bar goes into its closed bar (high, low, volume);
    frames read before it do not change, frames read after show it."""
    state = suite.realtime.market.state(suite.instrument_id)
    start = advance_to_next(gw, 300)
    await print_at(gw, state, "21000")
    gw.advance(60)
    await print_at(gw, state, "21002")
    before = await suite.data.get_data("1min", bars=2)
    assert before is not None
    late = {"symbolId": "F.US.MNQ", "price": 20990.0, "type": 1, "volume": 3}
    late["timestamp"] = stamp(start + timedelta(seconds=30))
    seen = state.trades
    gw.send_hub_record(gateway_record(suite.instrument_id, late), "market")
    await until(lambda: state.trades > seen, "the late print")
    after = await suite.data.get_data("1min", bars=2)
    assert after is not None
    assert after.rows()[0][1:] == (21000.0, 21000.0, 20990.0, 21000.0, 4)
    assert after.rows()[1] == before.rows()[1]
    assert before.rows()[0][1:] == (21000.0, 21000.0, 21000.0, 21000.0, 1)
    assert (await suite.data.get_memory_stats())["late_trades"] == 1


# ---------------------------------------------------------------- the seam rule, in process


def test_each_timeframe_replays_the_prints_after_its_own_answer() -> None:
    """Seeds are answered one after another; a timeframe gets exactly the prints
    received after its own answer, and only its replay's bars are announced."""
    bus = EventBus()
    store = BarStore(["1min", "5min"], "0.25", "UTC", 100, bus)
    base = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    trades = [
        MarketTrade(price=100.0 + i, timestamp=stamp(base + timedelta(seconds=70 * i)), volume=1)
        for i in range(6)
    ]
    store.on_prints(trades)  # not seeded: held
    store.on_frame_end()
    assert store.buffered == 6 and store.agg.columns(0).shape[1] == 0
    empty = np.zeros((6, 0), np.int64)
    store.apply([Seed(1, empty, 4), Seed(0, empty, 2)], live=True)
    minute = store.columns(0)
    five = store.columns(1)
    assert minute is not None and five is not None
    assert minute["open"].tolist() == [102.0, 103.0, 104.0, 105.0]
    assert five["open"].tolist() == [104.0, 105.0] and five["volume"].tolist() == [1, 1]
    assert store.live and store.buffered == 0


def test_frames_follow_the_bars_through_every_cache_path() -> None:
    """Reads after 1 to 250 closes (the cached frame extended, folded, made contiguous,
    trimmed as the ring wraps, rebuilt) and after a late print always equal the bars."""
    store = BarStore(["1min"], "0.25", "America/Chicago", 200, EventBus())
    store.apply((), live=True)
    base = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    rng = random.Random(11)
    minute = 0
    for closes in [1, 3, 9, 20, 2, 8, 9, 1, 1, *([9] * 12), 60, 5, *([9] * 12), 250, 9]:
        for _ in range(closes):
            minute += 1
            moment = base + timedelta(minutes=minute, seconds=rng.randint(0, 59))
            price = 21000 + rng.randint(-40, 40) * 0.25
            store.on_prints([MarketTrade(price=price, timestamp=stamp(moment), volume=1)])
            store.on_frame_end()
        frame = store.frame(0)
        columns = store.columns(0)
        assert frame is not None and columns is not None
        assert frame.equals(columns.to_polars()), closes
    late = base + timedelta(minutes=minute - 3, seconds=30)
    store.on_prints([MarketTrade(price=1.0, timestamp=stamp(late), volume=7)])
    store.on_frame_end()
    frame = store.frame(0)
    columns = store.columns(0)
    assert frame is not None and columns is not None and frame.equals(columns.to_polars())
    assert frame["low"][-4] == 1.0 and frame.height == 201

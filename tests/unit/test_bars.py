"""pxfast._bars against a pure-Python oracle, and timeframes.py.

The oracle states the bucket rule in wall-clock terms with zoneinfo: the grid
times of a timeframe are local (naive) datetimes; a grid time that happens
twice (clocks fall back) starts a bucket at each of its instants, one that
never happens (clocks spring forward) starts one at the first instant after
it, and a trade's bucket starts at the latest such instant at or before it.
(Searching down from the trade's own grid time is exact for grids aligned on
whole hours and zones that shift by whole hours, which is what the zones
below have, Kolkata's half-hour offset never changing.)  Prices are Decimal
and bars are lists, so the oracle shares no arithmetic with the C code.
"""

from __future__ import annotations

import math
import operator
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import aiohttp
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pxfast import _bars
from pxfast._bars import (
    CLOSED,
    DAY,
    F_CLOSED,
    F_DROPPED,
    F_EVENTS,
    F_OPENED,
    F_REVISED,
    F_SEAM,
    HOUR,
    MINUTE,
    MONTH,
    OPENED,
    REVISED,
    SECOND,
    WEEK,
    BarAggregator,
)
from pxfast._ticks import TickSize
from pxfast.realtime_data_manager.timeframes import (
    GATEWAY_CALENDAR,
    TIMEFRAMES,
    BarCalendar,
    BarSpec,
    bar_aggregator,
    bar_spec,
)
from pxfast.sim import GatewaySimulator
from pxfast.types import AggregateBarUnit

NS = 1_000_000_000
MIN = 60 * NS
HR = 3600 * NS
TICK = TickSize("0.25")
CHICAGO = ZoneInfo("America/Chicago")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
CME_DAY = timedelta(hours=-7)  # 17:00 the evening before

Row = tuple[int, Decimal, Decimal, Decimal, Decimal, int]
Event = tuple[int, int, int, Decimal, Decimal, Decimal, Decimal, int]


def ns(*args: int, tz: tzinfo = UTC) -> int:
    """Nanoseconds since the epoch of a wall time in ``tz``."""
    return int(datetime(*args, tzinfo=tz).timestamp()) * NS


def utc(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns // NS, UTC)


# -- the oracle ------------------------------------------------------------------------------


EPOCH = datetime(1970, 1, 1)
FIRST_MONDAY = datetime(1970, 1, 5)
SECONDS = {SECOND: 1, MINUTE: 60, HOUR: 3600}


class OracleCalendar:
    def __init__(self, zone: tzinfo, day_start: timedelta) -> None:
        self.zone = zone
        self.day_start = day_start

    def wall(self, second: int) -> datetime:
        return datetime.fromtimestamp(second, self.zone).replace(tzinfo=None)

    def floor_grid(self, unit: int, number: int, wall: datetime) -> datetime:
        shifted = wall - self.day_start
        if unit == MONTH:
            months = (shifted.year - 1970) * 12 + shifted.month - 1
            months -= months % number
            return datetime(1970 + months // 12, months % 12 + 1, 1) + self.day_start
        if unit in (DAY, WEEK):
            origin = FIRST_MONDAY if unit == WEEK else EPOCH
            width = number * (7 if unit == WEEK else 1)
            days = (shifted - origin).days
            return origin + timedelta(days=days - days % width) + self.day_start
        width = number * SECONDS[unit]
        seconds = (shifted - EPOCH) // timedelta(seconds=1)
        return EPOCH + timedelta(seconds=seconds - seconds % width) + self.day_start

    def instants(self, grid: datetime) -> set[int]:
        """The seconds at which the wall clock reads ``grid`` (or first passes it)."""
        stamps = {int(grid.replace(tzinfo=self.zone, fold=f).timestamp()) for f in (0, 1)}
        found = {u for u in stamps if self.wall(u) == grid}
        if found:
            return found
        lo, hi = min(stamps), max(stamps)  # a gap: wall(lo) < grid < wall(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.wall(mid) > grid:
                hi = mid
            else:
                lo = mid
        return {hi}

    def bucket_start(self, unit: int, number: int, ts: int) -> int:
        grid = self.floor_grid(unit, number, self.wall(ts // NS))
        while True:
            below = [u for u in self.instants(grid) if u * NS <= ts]
            if below:
                return max(below) * NS
            grid = self.floor_grid(unit, number, grid - timedelta(seconds=1))


@dataclass
class OracleTrack:
    unit: int
    number: int
    capacity: int
    closed: list[list[Any]]
    open: list[Any] | None = None
    seam: float = -math.inf


class Oracle:
    """The aggregator's rules, one trade and one timeframe at a time."""

    def __init__(self, specs: Sequence[tuple[int, int]], capacity: int,
                 calendar: OracleCalendar) -> None:
        self.calendar = calendar
        self.tracks = [OracleTrack(u, n, capacity, []) for u, n in specs]
        self.events: list[Event] = []
        self.trades = self.late = self.dropped = self.seam_skipped = 0

    def _event(self, kind: int, index: int, bar: list[Any]) -> None:
        self.events.append((kind, index, *bar))

    def add(self, ts: int, price: Decimal, size: int) -> None:
        self.trades += 1
        for i, k in enumerate(self.tracks):
            if ts < k.seam:
                self.seam_skipped += 1
                continue
            start = self.calendar.bucket_start(k.unit, k.number, ts)
            bar = k.open
            if bar is not None and start == bar[0]:
                bar[2], bar[3], bar[4] = max(bar[2], price), min(bar[3], price), price
                bar[5] += size
            elif bar is not None and start < bar[0]:
                held = [b for b in k.closed if b[0] == start]
                if held:
                    held[0][2], held[0][3] = max(held[0][2], price), min(held[0][3], price)
                    held[0][5] += size
                    self.late += 1
                    self._event(REVISED, i, held[0])
                else:
                    self.dropped += 1
            else:
                if bar is not None:
                    self._event(CLOSED, i, bar)
                    k.closed.append(bar)
                    del k.closed[: -k.capacity]
                k.open = [start, price, price, price, price, size]
                self._event(OPENED, i, k.open)

    def bars(self, index: int) -> list[Row]:
        k = self.tracks[index]
        rows = [*k.closed, *([k.open] if k.open else [])]
        return [tuple(r) for r in rows]


def rows_of(cols: npt.NDArray[np.int64]) -> list[Row]:
    t, o, h, low, c, v = cols.tolist()
    prices = [list(map(TICK.from_ticks, col)) for col in (o, h, low, c)]
    return list(zip(t, *prices, v, strict=True))


def decimal_events(events: list[tuple[int, ...]]) -> list[Event]:
    return [(k, i, t, *map(TICK.from_ticks, (o, h, low, c)), v)
            for k, i, t, o, h, low, c, v in events]


def assert_matches(agg: BarAggregator, oracle: Oracle, events: list[Event]) -> None:
    for i in range(len(oracle.tracks)):
        assert rows_of(agg.columns(i)) == oracle.bars(i), f"timeframe {agg.timeframes[i]}"
        open_bar = oracle.tracks[i].open
        assert (agg.open_bar(i) is None) == (open_bar is None)
        assert agg.bar_count(i) == len(oracle.tracks[i].closed)
    assert events == oracle.events
    assert (agg.trades, agg.late, agg.dropped, agg.seam_skipped) == (
        oracle.trades, oracle.late, oracle.dropped, oracle.seam_skipped)
    assert agg.events_lost == 0


# -- strategies ------------------------------------------------------------------------------

# (calendar for the aggregator, oracle calendar)
CALENDARS: dict[str, tuple[BarCalendar | None, OracleCalendar]] = {
    "none": (None, OracleCalendar(UTC, timedelta(0))),
    "gateway": (GATEWAY_CALENDAR, OracleCalendar(UTC, timedelta(0))),
    "chicago": (BarCalendar("America/Chicago"), OracleCalendar(CHICAGO, timedelta(0))),
    "cme": (BarCalendar("America/Chicago", CME_DAY), OracleCalendar(CHICAGO, CME_DAY)),
    "kolkata": (BarCalendar("Asia/Kolkata"), OracleCalendar(ZoneInfo("Asia/Kolkata"),
                                                           timedelta(0))),
    # Clocks changed at midnight, so the change itself starts a day.
    "sao_paulo": (BarCalendar("America/Sao_Paulo"), OracleCalendar(SAO_PAULO, timedelta(0))),
}
# Where the trades start: Chicago's and Sao Paulo's DST changes, a leap day, a year end,
# a week end.
ANCHORS = [
    ns(2024, 3, 10, 8), ns(2024, 11, 3, 7), ns(2025, 3, 9, 8), ns(2023, 11, 5, 7),
    ns(2018, 11, 4, 3), ns(2019, 2, 17, 2),
    ns(2024, 2, 29, 23, 50), ns(2024, 12, 31, 23, 30), ns(2024, 6, 2, 22, 0),
]
STEP = st.one_of(
    st.integers(0, 90 * NS),  # the next print
    st.integers(0, 2 * NS),
    st.integers(10 * MIN, 40 * 86400 * NS),  # a gap
    st.integers(-2 * HR, -1),  # out of order
    st.just(0),  # the same instant
    st.integers(3 * 365 * 86400 * NS, 4 * 365 * 86400 * NS),  # years on: another zone window
)
SPECS = st.lists(st.sampled_from(list(TIMEFRAMES.values())), min_size=1, max_size=5,
                 unique=True)


@st.composite
def trade_runs(draw: st.DrawFn, sort: bool = False) -> list[tuple[int, Decimal, int]]:
    ts = draw(st.sampled_from(ANCHORS)) + draw(st.integers(-4 * HR, 4 * HR))
    price = draw(st.integers(80_000, 88_000))
    trades = []
    for _ in range(draw(st.integers(1, 60))):
        trades.append((ts, Decimal("0.25") * price, draw(st.integers(0, 5))))
        ts = max(0, ts + draw(STEP))
        price += draw(st.integers(-3, 3))
    if sort:
        trades.sort(key=operator.itemgetter(0))
    return trades


def arrays(trades: Sequence[tuple[int, Decimal, int]]) -> tuple[npt.NDArray[np.int64], ...]:
    ts = np.array([t for t, _, _ in trades], np.int64)
    ticks = np.array([TICK.to_ticks(p) for _, p, _ in trades], np.int64)
    sizes = np.array([s for _, _, s in trades], np.int64)
    return ts, ticks, sizes


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trades=trade_runs(), specs=SPECS, capacity=st.integers(1, 4),
       calendar=st.sampled_from(list(CALENDARS)), cuts=st.lists(st.integers(0, 60)))
def test_batches_and_single_trades_build_the_oracles_bars(
        trades: list[tuple[int, Decimal, int]], specs: list[BarSpec], capacity: int,
        calendar: str, cuts: list[int]) -> None:
    cal, oracle_cal = CALENDARS[calendar]
    oracle = Oracle(specs, capacity, oracle_cal)
    for trade in trades:
        oracle.add(*trade)

    one = BarAggregator(specs, capacity, cal)
    flags = 0
    for ts, price, size in trades:
        flags |= one.add_trade(ts, TICK.to_ticks(price), size)
    assert_matches(one, oracle, decimal_events(one.drain()))
    assert bool(flags & F_DROPPED) == (oracle.dropped > 0)
    assert bool(flags & F_REVISED) == (oracle.late > 0)

    batched = BarAggregator(specs, capacity, cal)
    ts, ticks, sizes = arrays(trades)
    events: list[Event] = []
    for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(trades)], strict=True):
        if batched.add_trades(ts[a:b], ticks[a:b], sizes[a:b]) & F_EVENTS:
            events += decimal_events(batched.drain())
        else:
            assert batched.drain() == []
    assert_matches(batched, oracle, events)


@settings(max_examples=150, deadline=None)
@given(trades=trade_runs(sort=True), specs=SPECS, capacity=st.integers(1, 6),
       calendar=st.sampled_from(list(CALENDARS)), data=st.data())
def test_the_seam_joins_rest_history_and_live_trades_without_a_gap_or_a_double(
        trades: list[tuple[int, Decimal, int]], specs: list[BarSpec], capacity: int,
        calendar: str, data: st.DataObject) -> None:
    """REST bars up to 'now', then the live trades after it, make the bars of all trades."""
    cal = CALENDARS[calendar][0]
    ts, ticks, sizes = arrays(trades)
    whole = BarAggregator(specs, capacity, cal)
    whole.add_trades(ts, ticks, sizes)

    k = data.draw(st.integers(0, len(trades)), label="trades before the REST request")
    history = BarAggregator(specs, capacity, cal)
    history.add_trades(ts[:k], ticks[:k], sizes[:k])
    low = int(ts[k - 1]) if k else int(ts[0]) - 86400 * NS
    high = int(ts[k]) if k < len(trades) else low + 86400 * NS
    now = data.draw(st.integers(low, high), label="now")

    live = BarAggregator(specs, capacity, cal)
    for i in range(len(specs)):
        live.seed(i, *history.columns(i), now_ns=now)
    live.add_trades(ts[k:], ticks[k:], sizes[k:])
    for i in range(len(specs)):
        # (When no trade follows 'now', 'whole' still has the last bar open and live
        # has it closed, so a full ring has dropped one more old bar.)
        np.testing.assert_array_equal(live.columns(i, capacity), whole.columns(i, capacity))
    assert live.seam_skipped == 0


@settings(max_examples=100, deadline=None)
@given(specs=SPECS, calendar=st.sampled_from(list(CALENDARS)),
       anchor=st.sampled_from(ANCHORS), offset=st.integers(-40 * 86400 * NS, 40 * 86400 * NS))
def test_a_bucket_ends_where_the_next_begins(specs: list[BarSpec], calendar: str, anchor: int,
                                            offset: int) -> None:
    cal, oracle_cal = CALENDARS[calendar]
    agg = BarAggregator(specs, 1, cal)
    ts = anchor + offset
    for i, (unit, number) in enumerate(specs):
        start, end = agg.bucket(i, ts)
        assert start <= ts < end
        assert start == oracle_cal.bucket_start(unit, number, ts)
        assert agg.bucket(i, end - 1)[0] == start
        assert agg.bucket(i, end)[0] == end


# -- buckets across DST (America/Chicago) ----------------------------------------------------


def chicago_bucket(name: str, ts: int, day_start: timedelta = timedelta(0)) -> tuple[str, str]:
    agg = bar_aggregator([name], 1, BarCalendar("America/Chicago", day_start))
    start, end = agg.bucket(0, ts)
    return (utc(start).strftime("%m-%d %H:%M"), utc(end).strftime("%m-%d %H:%M"))


def test_spring_forward_has_no_bucket_for_the_missing_hour() -> None:
    # 2024-03-10: 02:00 CST (08:00 UTC) became 03:00 CDT.
    before, after = ns(2024, 3, 10, 7, 59), ns(2024, 3, 10, 8, 10)
    assert chicago_bucket("1hr", before) == ("03-10 07:00", "03-10 08:00")   # 01:00 CST
    assert chicago_bucket("1hr", after) == ("03-10 08:00", "03-10 09:00")    # 03:00 CDT
    assert chicago_bucket("15min", before) == ("03-10 07:45", "03-10 08:00")
    assert chicago_bucket("4hr", before) == ("03-10 06:00", "03-10 09:00")   # 3 hours
    assert chicago_bucket("1day", before) == ("03-10 06:00", "03-11 05:00")  # 23 hours
    assert chicago_bucket("1day", before, CME_DAY) == ("03-09 23:00", "03-10 22:00")


def test_fall_back_gives_the_repeated_hour_its_own_buckets() -> None:
    # 2024-11-03: 02:00 CDT (07:00 UTC) became 01:00 CST; 01:00-02:00 happened twice.
    first, second = ns(2024, 11, 3, 6, 30), ns(2024, 11, 3, 7, 30)
    assert chicago_bucket("1hr", first) == ("11-03 06:00", "11-03 07:00")   # 01:00 CDT
    assert chicago_bucket("1hr", second) == ("11-03 07:00", "11-03 08:00")  # 01:00 CST
    assert chicago_bucket("30min", second) == ("11-03 07:30", "11-03 08:00")
    assert chicago_bucket("4hr", first) == ("11-03 05:00", "11-03 10:00")   # 5 hours
    assert chicago_bucket("1day", first) == ("11-03 05:00", "11-04 06:00")  # 25 hours
    assert chicago_bucket("1week", first) == ("10-28 05:00", "11-04 06:00")
    assert chicago_bucket("1month", first) == ("11-01 05:00", "12-01 06:00")
    assert chicago_bucket("1month", first, CME_DAY) == ("10-31 22:00", "11-30 23:00")

    agg = bar_aggregator(["1hr"], 4, BarCalendar("America/Chicago"))
    agg.add_trade(first, 84000, 1)
    agg.add_trade(second, 84004, 2)
    t, *_ = agg.columns(0)
    walls = [datetime.fromtimestamp(int(x) // NS, CHICAGO).strftime("%H:%M%z") for x in t]
    assert walls == ["01:00-0500", "01:00-0600"]


def test_a_change_that_skips_midnight_starts_the_day_itself() -> None:
    # Sao Paulo, 2018-11-04: 00:00 -03 (03:00 UTC) became 01:00 -02; there was no midnight.
    agg = bar_aggregator(["1day", "1hr"], 4, BarCalendar("America/Sao_Paulo"))
    assert agg.bucket(0, ns(2018, 11, 4, 2)) == (ns(2018, 11, 3, 3), ns(2018, 11, 4, 3))
    assert agg.bucket(0, ns(2018, 11, 4, 3)) == (ns(2018, 11, 4, 3), ns(2018, 11, 5, 2))
    assert agg.bucket(1, ns(2018, 11, 4, 3, 30)) == (ns(2018, 11, 4, 3), ns(2018, 11, 4, 4))
    # 2019-02-17: 00:00 -02 (02:00 UTC) became 23:00 -03 on the 16th, which happened twice.
    assert agg.bucket(0, ns(2019, 2, 17, 2, 30)) == (ns(2019, 2, 16, 2), ns(2019, 2, 17, 3))


def test_gateway_calendar_days_start_at_utc_midnight_like_the_gateways_daily_bars() -> None:
    # The Gateway's MNQ daily bars began at 19:00 Chicago time in September (UTC midnight).
    agg = bar_aggregator(["1day", "1week", "4hr"], 1)
    ts = ns(2026, 9, 8, 23, 30)
    assert agg.bucket(0, ts) == (ns(2026, 9, 8), ns(2026, 9, 9))
    assert agg.bucket(1, ts) == (ns(2026, 9, 7), ns(2026, 9, 14))  # Monday
    assert agg.bucket(2, ts) == (ns(2026, 9, 8, 20), ns(2026, 9, 9))


def test_half_hour_zones_align_sub_day_buckets_on_local_time() -> None:
    agg = bar_aggregator(["1hr", "4hr"], 1, BarCalendar("Asia/Kolkata"))
    ts = ns(2024, 5, 1, 10, 45)  # 16:15 IST
    assert agg.bucket(0, ts) == (ns(2024, 5, 1, 10, 30), ns(2024, 5, 1, 11, 30))
    assert agg.bucket(1, ts) == (ns(2024, 5, 1, 10, 30), ns(2024, 5, 1, 14, 30))


# -- specific behaviour ----------------------------------------------------------------------


def test_flags_and_events_of_one_timeframe() -> None:
    agg = BarAggregator([(MINUTE, 1)], 8)
    t0 = ns(2024, 5, 1, 10)
    assert agg.add_trade(t0 + 5 * NS, 100, 2) == F_OPENED
    assert agg.drain() == [(OPENED, 0, t0, 100, 100, 100, 100, 2)]
    assert agg.add_trade(t0 + 30 * NS, 104, 1) == 0  # inside the open bar: nothing to say
    assert agg.add_trade(t0 + 40 * NS, 98, 1) == 0
    assert agg.drain() == []
    assert agg.add_trade(t0 + MIN, 99, 3) == F_CLOSED | F_OPENED
    assert agg.drain() == [(CLOSED, 0, t0, 100, 104, 98, 98, 4),
                           (OPENED, 0, t0 + MIN, 99, 99, 99, 99, 3)]
    assert agg.add_trade(t0 + 59 * NS, 110, 5) == F_REVISED  # late, into the closed bar
    assert agg.drain() == [(REVISED, 0, t0, 100, 110, 98, 98, 9)]
    assert agg.add_trade(t0 - MIN, 110, 5) == F_DROPPED  # older than every bar


def test_no_trade_no_bar_gaps_are_not_filled() -> None:
    agg = BarAggregator([(MINUTE, 1), (MINUTE, 5)], 16)
    t0 = ns(2024, 5, 1, 10)
    agg.add_trade(t0 + 30 * NS, 100, 1)
    agg.add_trade(t0 + 3 * MIN + 10 * NS, 101, 1)
    agg.add_trade(t0 + 11 * MIN, 102, 1)
    assert agg.columns(0)[0].tolist() == [t0, t0 + 3 * MIN, t0 + 11 * MIN]
    assert agg.columns(1)[0].tolist() == [t0, t0 + 10 * MIN]


def test_out_of_order_trades() -> None:
    agg = BarAggregator([(MINUTE, 1)], 2)
    t0 = ns(2024, 5, 1, 10)
    for minute, price in ((0, 100), (1, 101), (3, 103), (4, 104)):
        agg.add_trade(t0 + minute * MIN + 30 * NS, price, 1)
    # The ring (capacity 2) holds the 10:01 and 10:03 bars; 10:04 is open.
    agg.drain()
    # Inside the open bar but older than its last trade: arrival order decides the close.
    agg.add_trade(t0 + 4 * MIN + 1 * NS, 90, 1)
    assert agg.open_bar(0) == (t0 + 4 * MIN, 104, 104, 90, 90, 2)
    # Into a held closed bar: high/low/volume, never open/close.
    assert agg.add_trade(t0 + 1 * MIN + 59 * NS, 120, 2) == F_REVISED
    assert agg.add_trade(t0 + 1 * MIN, 80, 1) == F_REVISED
    assert rows_of(agg.columns(0, include_open=False))[0] == (
        t0 + MIN, Decimal(101) / 4, Decimal(120) / 4, Decimal(80) / 4, Decimal(101) / 4, 4)
    # Into a gap bucket (10:02 had no trade) and older than the ring (10:00): dropped.
    assert agg.add_trade(t0 + 2 * MIN + 5 * NS, 100, 1) == F_DROPPED
    assert agg.add_trade(t0 + 30 * NS, 100, 1) == F_DROPPED
    assert (agg.late, agg.dropped, agg.trades) == (2, 2, 9)
    assert [e[0] for e in agg.drain()] == [REVISED, REVISED]


def test_identical_prints_all_count() -> None:
    """No trade id in the Gateway's payload, so two equal prints are two trades."""
    agg = BarAggregator([(SECOND, 1)], 4)
    ts = ns(2024, 5, 1, 10)
    agg.add_trades(np.array([ts, ts, ts]), np.array([7, 7, 7]), np.array([2, 2, 2]))
    assert agg.open_bar(0) == (ts, 7, 7, 7, 7, 6)


def test_strided_columns_are_read_in_place() -> None:
    """A column of a (n, 3) record array, as a decoder might fill, needs no copy."""
    t0 = ns(2024, 5, 1, 10)
    table = np.array([[t0 + i * 7 * NS, 100 + i % 5, 1 + i % 3] for i in range(40)], np.int64)
    strided, packed = BarAggregator([(MINUTE, 1)], 8), BarAggregator([(MINUTE, 1)], 8)
    strided.add_trades(table[:, 0], table[:, 1], table[:, 2])
    packed.add_trades(*(np.ascontiguousarray(table[:, j]) for j in range(3)))
    np.testing.assert_array_equal(strided.columns(0), packed.columns(0))
    assert strided.drain() == packed.drain()


def test_seed_makes_the_last_rest_bar_the_open_bar_when_its_bucket_holds_now() -> None:
    agg = BarAggregator([(MINUTE, 5)], 10)
    t0 = ns(2024, 5, 1, 10)
    starts = [t0, t0 + 5 * MIN, t0 + 15 * MIN]  # 10:10 had no trade
    agg.seed(0, starts, [10, 20, 30], [12, 22, 32], [9, 19, 29], [11, 21, 31], [5, 6, 7],
             now_ns=t0 + 17 * MIN)
    assert agg.open_bar(0) == (t0 + 15 * MIN, 30, 32, 29, 31, 7)
    assert agg.bar_count(0) == 2 and agg.seam_ns(0) == t0 + 15 * MIN
    # Already in the REST bars: counted and ignored.
    assert agg.add_trade(t0 + 15 * MIN - 1, 50, 1) == F_SEAM
    assert agg.add_trade(t0 + 2 * MIN, 50, 1) == F_SEAM
    # In the seeded open bar (from its first instant): extends it; after it: closes it.
    assert agg.add_trade(t0 + 15 * MIN, 33, 1) == 0
    assert agg.add_trade(t0 + 18 * MIN, 33, 1) == 0
    assert agg.add_trade(t0 + 20 * MIN, 28, 1) == F_CLOSED | F_OPENED
    assert agg.drain()[0] == (CLOSED, 0, t0 + 15 * MIN, 30, 33, 29, 33, 9)
    assert agg.columns(0)[0].tolist() == [*starts, t0 + 20 * MIN]
    assert agg.seam_skipped == 2


def test_seed_with_every_bar_closed_puts_the_seam_at_the_last_bars_end() -> None:
    agg = BarAggregator([(MINUTE, 1)], 10)
    t0 = ns(2024, 5, 1, 10)
    # 'now' is the first instant after the last bar's bucket: that bar is closed.
    agg.seed(0, [t0, t0 + MIN], [1, 2], [1, 2], [1, 2], [1, 2], [1, 1], now_ns=t0 + 2 * MIN)
    assert agg.open_bar(0) is None and agg.seam_ns(0) == t0 + 2 * MIN
    assert agg.add_trade(t0 + 2 * MIN - 1, 5, 1) == F_SEAM
    assert agg.add_trade(t0 + 2 * MIN, 5, 1) == F_OPENED
    assert agg.columns(0)[0].tolist() == [t0, t0 + MIN, t0 + 2 * MIN]


def test_seed_keeps_the_newest_bars_and_an_empty_seed_clears() -> None:
    agg = BarAggregator([(MINUTE, 1)], 3)
    t0 = ns(2024, 5, 1, 10)
    starts = [t0 + i * MIN for i in range(6)]
    agg.seed(0, starts, *[list(range(6))] * 5, now_ns=t0 + 5 * MIN)
    assert agg.columns(0)[0].tolist() == starts[2:]  # three closed and the open one
    agg.seed(0, [], [], [], [], [], [], now_ns=t0)
    assert agg.columns(0).shape == (6, 0) and agg.open_bar(0) is None
    assert agg.add_trade(t0, 1, 1) == F_OPENED  # no seam any more


@pytest.mark.parametrize(("starts", "volumes", "message"), [
    ([0, 30 * NS], [1, 1], "bar 1: 30000000000 ns is not a bucket start"),
    ([MIN, MIN], [1, 1], "bar 1: start 60000000000 ns is not after"),
    ([MIN, 0], [1, 1], "bar 1: start 0 ns is not after"),
    ([0, MIN], [1, -1], "bar 1: negative volume"),
    ([-MIN, 0], [1, 1], "bar 0: start -60000000000 ns is outside"),
])
def test_seed_refuses_bad_history_and_changes_nothing(starts: list[int], volumes: list[int],
                                                     message: str) -> None:
    agg = BarAggregator([(MINUTE, 1)], 4)
    agg.add_trade(5 * MIN, 7, 1)
    with pytest.raises(ValueError, match=message):
        agg.seed(0, starts, [1, 1], [1, 1], [1, 1], [1, 1], volumes, now_ns=0)
    with pytest.raises(ValueError, match="differ in length"):
        agg.seed(0, [0], [1, 1], [1], [1], [1], [1], now_ns=0)
    assert agg.open_bar(0) == (5 * MIN, 7, 7, 7, 7, 1) and agg.seam_ns(0) < 0


def test_rest_bars_of_a_cme_day_do_not_fit_a_utc_day() -> None:
    agg = bar_aggregator(["1day"], 4, BarCalendar("America/Chicago", CME_DAY))
    with pytest.raises(ValueError, match="not a bucket start"):
        agg.seed(0, [ns(2024, 5, 1)], [1], [1], [1], [1], [1], now_ns=ns(2024, 5, 1))
    agg.seed(0, [ns(2024, 4, 30, 22)], [1], [1], [1], [1], [1], now_ns=ns(2024, 5, 1))


def test_columns_are_views_until_the_ring_wraps() -> None:
    agg = BarAggregator([(MINUTE, 1)], 3)
    t0 = ns(2024, 5, 1, 10)
    for minute in range(3):
        agg.add_trade(t0 + minute * MIN, 100 + minute, 1)
    cols = agg.columns(0)
    assert cols.base is not None  # a view of the ring
    agg.add_trade(t0 + 2 * MIN + 1, 120, 1)
    assert cols[2, -1] == 120  # ... which sees the open bar change
    for minute in range(3, 7):
        agg.add_trade(t0 + minute * MIN, 100 + minute, 1)
    wrapped = agg.columns(0)
    assert wrapped.base is None  # two slices joined
    assert wrapped[0].tolist() == [t0 + m * MIN for m in (3, 4, 5, 6)]
    assert wrapped[1].tolist() == [103, 104, 105, 106]
    assert agg.columns(0, count=2)[1].tolist() == [105, 106]
    assert agg.columns(0, count=2, include_open=False)[1].tolist() == [104, 105]
    assert agg.columns(0, count=0).shape == (6, 0)
    t, *_, v = agg.columns(0, count=10)
    assert t.dtype == np.int64 and len(v) == 4
    with pytest.raises(ValueError, match="count must not be negative"):
        agg.columns(0, -1)


def test_memory_is_48_bytes_a_bar_and_stays_bounded() -> None:
    agg = BarAggregator([(SECOND, 1), (MINUTE, 1), (MINUTE, 5), (HOUR, 1)], 1000,
                        max_events=64)
    ring = 4 * 1001 * 48
    assert ring <= agg.memory_bytes() < ring + 1024
    t0 = ns(2024, 5, 1)
    ts = t0 + np.arange(0, 20_000 * NS, NS // 4, dtype=np.int64)  # 80 000 trades, 20 000 s
    ticks = np.full(len(ts), 84_000, np.int64)
    sizes = np.ones(len(ts), np.int64)
    agg.add_trades(ts[:4000], ticks[:4000], sizes[:4000])
    agg.drain()
    before = agg.memory_bytes()
    tracemalloc.start()
    try:
        snapshot = tracemalloc.take_snapshot()
        for a in range(4000, len(ts), 400):
            agg.add_trades(ts[a:a + 400], ticks[a:a + 400], sizes[a:a + 400])
            agg.drain()
        diff = tracemalloc.take_snapshot().compare_to(snapshot, "filename")
        grown = sum(s.size_diff for s in diff if "test_bars" not in str(s.traceback))
    finally:
        tracemalloc.stop()
    assert agg.memory_bytes() == before
    assert agg.bar_count(0) == 1000 and agg.trades == len(ts)
    assert grown < 16_384


def test_undrained_events_keep_the_newest_and_count_the_rest() -> None:
    agg = BarAggregator([(SECOND, 1)], 4, max_events=16)
    t0 = ns(2024, 5, 1)
    agg.add_trades(t0 + np.arange(50, dtype=np.int64) * NS, np.arange(50), np.ones(50, np.int64))
    events = agg.drain()
    assert len(events) == 16 and agg.events_lost == 99 - 16  # 50 opened + 49 closed
    assert events[-1] == (OPENED, 0, t0 + 49 * NS, 49, 49, 49, 49, 1)
    assert agg.memory_bytes() <= 5 * 48 + 16 * 56 + 256


# -- hostile input ---------------------------------------------------------------------------


@pytest.mark.parametrize(("ts", "size", "message"), [
    (-1, 1, "trade 3: time stamp -1 ns is outside"),
    (_bars.MAX_TS_NS + 1, 1, "trade 3: time stamp 4611686018427387905 ns is outside"),
    (2**63 - 1, 1, "trade 3: time stamp"),
    (0, -1, "trade 3: size -1 is outside"),
    (0, 2**32, "trade 3: size 4294967296 is outside"),
])
def test_a_bad_trade_raises_before_any_trade_of_the_batch_counts(ts: int, size: int,
                                                                message: str) -> None:
    agg = BarAggregator([(MINUTE, 1)], 4)
    times = np.array([MIN, 2 * MIN, 3 * MIN, ts, 4 * MIN], np.int64)
    sizes = np.array([1, 1, 1, size, 1], np.int64)
    with pytest.raises(ValueError, match=message):
        agg.add_trades(times, np.ones(5, np.int64), sizes)
    assert agg.trades == 0 and agg.open_bar(0) is None and agg.drain() == []
    with pytest.raises(ValueError, match=message.removeprefix("trade 3: ")):
        agg.add_trade(ts, 1, size)
    with pytest.raises(ValueError, match="differ in length"):
        agg.add_trades(times[:2], np.ones(3, np.int64), sizes[:2])
    with pytest.raises(ValueError, match="dtype mismatch"):
        agg.add_trades(times.astype(np.float64), np.ones(5, np.int64), sizes)
    with pytest.raises(OverflowError):
        agg.add_trade(2**63, 1, 1)


@pytest.mark.parametrize(("specs", "capacity", "message"), [
    ([], 4, "between 1 and 64 timeframes"),
    ([(MINUTE, 1)] * 65, 4, "between 1 and 64 timeframes"),
    ([(0, 1)], 4, "unit must be 1"),
    ([(7, 1)], 4, "unit must be 1"),
    ([(MINUTE, 0)], 4, "count must be 1"),
    ([(MONTH, 1001)], 4, "count must be 1 to 1000, not 1001"),
    ([(MINUTE, 7)], 4, "does not divide a day"),
    ([(HOUR, 5)], 4, "does not divide a day"),
    ([(MINUTE, 1)], 0, "capacity must be 1"),
    ([(MINUTE, 1), (HOUR, 1)], [4], "1 capacities for 2 timeframes"),
])
def test_bad_timeframes_and_capacities(specs: list[tuple[int, int]], capacity: Any,
                                       message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BarAggregator(specs, capacity)


def test_timeframe_index_out_of_range() -> None:
    agg = BarAggregator([(MINUTE, 1)], [2])
    for call in (agg.columns, agg.open_bar, agg.bar_count, agg.capacity):
        with pytest.raises(IndexError, match="timeframe index 1 out of range"):
            call(1)


class BrokenCalendar:
    day_start_ns = 0

    def __init__(self, window: Callable[[int], Any]) -> None:
        self.window = window


def tiny_segments(ts: int) -> Any:
    """Ten one-nanosecond segments around ts: a calendar no zone could have."""
    return np.arange(ts - 5, ts + 5, dtype=np.int64), np.zeros(10, np.int32), ts + 5


def test_a_calendar_of_absurdly_fine_segments_is_an_error_not_a_hang() -> None:
    agg = BarAggregator([(DAY, 1)], 2, BrokenCalendar(tiny_segments))
    with pytest.raises(ValueError, match="spans over 10000 calendar segments"):
        agg.add_trade(ns(2024, 5, 1, 12), 1, 1)
    assert agg.open_bar(0) is None and agg.trades == 0


@pytest.mark.parametrize(("window", "message"), [
    (lambda ts: ([ts + 1], [0], ts + 10), "does not cover"),
    (lambda ts: ([ts], [0, 0], ts + 10), "does not cover"),
    (lambda ts: ([ts - 10, ts - 20], [0, 0], ts + 10), "not increasing"),
    (lambda ts: ([ts], [86400], ts + 10), "offsets within a day"),
])
def test_a_broken_calendar_is_a_value_error(window: Callable[[int], Any], message: str) -> None:
    agg = BarAggregator([(MINUTE, 1)], 2, BrokenCalendar(window))
    with pytest.raises(ValueError, match=message):
        agg.add_trade(ns(2024, 5, 1), 1, 1)
    assert agg.open_bar(0) is None


# -- the calendar ----------------------------------------------------------------------------


class CountingCalendar:
    """A BarCalendar that counts how often the aggregator asks it for offsets."""

    def __init__(self, calendar: BarCalendar) -> None:
        self.calendar = calendar
        self.day_start_ns = calendar.day_start_ns
        self.calls = 0

    def window(self, ts_ns: int) -> Any:
        self.calls += 1
        return self.calendar.window(ts_ns)


def test_the_zone_is_asked_again_only_when_time_leaves_its_window() -> None:
    cal = CountingCalendar(BarCalendar("America/Chicago"))
    agg = BarAggregator([(MINUTE, 1), (DAY, 1)], 4, cal)
    t0 = ns(2024, 1, 2)
    ts = t0 + np.arange(0, 300 * 86400 * NS, 37 * MIN, dtype=np.int64)
    agg.add_trades(ts, np.ones(len(ts), np.int64), np.ones(len(ts), np.int64))
    assert cal.calls == 1
    agg.add_trade(ns(2030, 7, 1, 12), 1, 1)  # years later: a new window
    assert cal.calls == 2
    assert agg.bucket(1, ns(2030, 7, 1, 12)) == (ns(2030, 7, 1, 5), ns(2030, 7, 2, 5))


@settings(max_examples=150, deadline=None)
@given(zone=st.sampled_from(["America/Chicago", "Europe/London", "Australia/Lord_Howe",
                             "Asia/Kolkata", "America/Sao_Paulo"]),
       second=st.integers(0, 2**62 // NS))
def test_calendar_windows_hold_zoneinfos_offsets(zone: str, second: int) -> None:
    starts, offsets, end = BarCalendar(zone).window(second * NS)
    assert starts[0] <= second * NS < end
    assert np.all(np.diff(starts) > 0)
    i = int(np.searchsorted(starts, second * NS, side="right")) - 1
    expected = datetime.fromtimestamp(second, ZoneInfo(zone)).utcoffset()
    assert expected is not None and int(offsets[i]) == expected.total_seconds()


def test_calendar_day_start_bounds_and_fixed_zones() -> None:
    assert BarCalendar(day_start=CME_DAY).day_start_ns == -7 * HR
    for bad in (timedelta(days=1), timedelta(days=-1), timedelta(hours=30)):
        with pytest.raises(ValueError, match="within a day of midnight"):
            BarCalendar(day_start=bad)
    starts, offsets, end = GATEWAY_CALENDAR.window(ns(2024, 5, 1))
    assert (starts.tolist(), offsets.tolist(), end) == ([-(2**63)], [0], 2**63 - 1)


def test_timeframe_names_are_project_x_pys() -> None:
    assert list(TIMEFRAMES) == ["1sec", "5sec", "10sec", "15sec", "30sec", "1min", "5min",
                                "15min", "30min", "1hr", "4hr", "1day", "1week", "1month"]
    assert bar_spec("4hr") == (AggregateBarUnit.HOUR, 4)
    assert bar_spec("1month") == BarSpec(AggregateBarUnit.MONTH, 1)
    with pytest.raises(ValueError) as error:
        bar_spec("2min")
    # project-x-py 4.4.1's RealtimeDataManager message, word for word.
    assert str(error.value) == (
        "Invalid timeframe: 2min, valid timeframes are: ['1sec', '5sec', '10sec', '15sec', "
        "'30sec', '1min', '5min', '15min', '30min', '1hr', '4hr', '1day', '1week', '1month']")
    agg = bar_aggregator(list(TIMEFRAMES), 2)
    assert agg.timeframes == tuple((int(u), n) for u, n in TIMEFRAMES.values())


# -- against the simulator's REST bars, over loopback ----------------------------------------


class RestBars:
    """History/retrieveBars of the simulator, as a bot would fetch it."""

    KEY: ClassVar[str] = "bars-test-key-123"

    def __init__(self, http: aiohttp.ClientSession, simulator: GatewaySimulator) -> None:
        self.http = http
        self.url = simulator.api_url
        self.token = ""
        simulator.add_user("bars", self.KEY)

    async def post(self, endpoint: str, body: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.post(f"{self.url}/{endpoint}", json=body, headers=headers) as r:
            return await r.json()

    async def bars(self, contract_id: str, unit: int, number: int, now: float) -> list[Any]:
        if not self.token:
            login = await self.post("Auth/loginKey", {"userName": "bars", "apiKey": self.KEY})
            self.token = login["token"]
        iso = "%Y-%m-%dT%H:%M:%SZ"
        body = await self.post("History/retrieveBars", {
            "contractId": contract_id, "live": False, "unit": unit, "unitNumber": number,
            "startTime": time.strftime(iso, time.gmtime(now - 2 * 86400)),
            "endTime": time.strftime(iso, time.gmtime(now + 60)),
            "limit": 200, "includePartialBar": True})
        assert body["success"], body
        return sorted(body["bars"], key=operator.itemgetter("t"))


def columns_of(bars: list[Any]) -> list[npt.NDArray[np.int64]]:
    starts = [int(datetime.fromisoformat(b["t"]).timestamp()) * NS for b in bars]
    prices = [TICK.to_ticks_array(np.array([b[k] for b in bars])) for k in "ohlc"]
    return [np.array(starts, np.int64), *prices, np.array([b["v"] for b in bars], np.int64)]


async def test_seeded_from_the_simulators_rest_bars_live_trades_match_its_later_bars(
        make_simulator: Callable[..., Any]) -> None:
    """The Gateway's bar alignment is GATEWAY_CALENDAR's: REST bars seed, prints extend."""
    simulator: GatewaySimulator = await make_simulator()
    contract = simulator.contract_id("MNQ")
    simulator.clock.advance(3600 - simulator.clock.now() % 3600 + 1)  # a fresh hour
    simulator.set_price("MNQ", "21010.5")
    simulator.set_price("MNQ", "21012")
    specs = ["1hr", "1day"]
    async with aiohttp.ClientSession() as http:
        rest = RestBars(http, simulator)
        agg = bar_aggregator(specs, 100)
        for i, name in enumerate(specs):
            spec = bar_spec(name)
            history = await rest.bars(contract, spec.unit, spec.number, simulator.clock.now())
            agg.seed(i, *columns_of(history), now_ns=int(simulator.clock.now() * NS))
            assert agg.open_bar(i) is not None
        stale = min(agg.seam_ns(0), agg.seam_ns(1)) - 1  # a print the REST bars hold
        assert agg.add_trade(stale, TICK.to_ticks("21000"), 1) == F_SEAM
        for price in ("21008.25", "21015.75", "21011"):
            simulator.set_price("MNQ", price)
            agg.add_trade(int(simulator.clock.now() * NS), TICK.to_ticks(price), 1)
        for i, name in enumerate(specs):
            spec = bar_spec(name)
            later = await rest.bars(contract, spec.unit, spec.number, simulator.clock.now())
            expected = np.array(columns_of(later))
            np.testing.assert_array_equal(agg.columns(i), expected[:, -agg.columns(i).shape[1]:])
    assert agg.open_bar(0)[1:] == (84042, 84063, 84033, 84044, 5)
    assert agg.seam_skipped == 2

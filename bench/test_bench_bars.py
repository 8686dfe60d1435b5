"""Microbenchmarks of pxfast._bars: trades into 1min, 5min, 15min and 1hr bars at once.

    pytest bench/test_bench_bars.py --benchmark-only

The trades are an MNQ-like tape: a one-tick random walk, sizes 1-4, on
average 10 ms apart (bursts and pauses drawn from an exponential), so a
1-minute bar closes every ~6 000 trades.  Each round feeds a fresh
aggregator, so every trade is live (none late).  ``extra_info`` gives
trades per second (batch) or ns per trade (one call each).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from pxfast._bars import F_EVENTS, BarAggregator
from pxfast.realtime_data_manager.timeframes import BarCalendar, bar_aggregator

SEED = 20251124
TIMEFRAMES = ["1min", "5min", "15min", "1hr"]
CALENDARS = {"gateway": None, "chicago": BarCalendar("America/Chicago")}
START_NS = 1_733_000_000 * 1_000_000_000


def tape(count: int) -> tuple[npt.NDArray[np.int64], ...]:
    rng = np.random.default_rng(SEED)
    ts = START_NS + np.cumsum(rng.exponential(10e6, count)).astype(np.int64)
    ticks = 84_000 + np.cumsum(rng.integers(-1, 2, count))
    sizes = rng.integers(1, 5, count)
    return ts, ticks.astype(np.int64), sizes.astype(np.int64)


TAPE = tape(1_000_000)


def fresh(calendar: str) -> BarAggregator:
    return bar_aggregator(TIMEFRAMES, 10_000, CALENDARS[calendar])


@pytest.mark.parametrize("calendar", list(CALENDARS))
def test_batch(benchmark: Any, calendar: str) -> None:
    """add_trades over the whole tape: the replay and catch-up path."""
    ts, ticks, sizes = TAPE

    def setup() -> tuple[tuple[BarAggregator], dict[str, Any]]:
        agg = fresh(calendar)
        agg.add_trade(int(ts[0]), int(ticks[0]), 1)  # the zone window is fetched here
        return (agg,), {}

    def run(agg: BarAggregator) -> None:
        agg.add_trades(ts, ticks, sizes)
        agg.drain()

    benchmark.pedantic(run, setup=setup, rounds=15)
    benchmark.extra_info["trades_per_s"] = len(ts) / benchmark.stats.stats.median


def test_per_call(benchmark: Any) -> None:
    """add_trade once per trade from Python: a frame of one print."""
    count = 100_000
    rows = list(zip(*(col[:count].tolist() for col in TAPE), strict=True))

    def setup() -> tuple[tuple[BarAggregator], dict[str, Any]]:
        return (fresh("gateway"),), {}

    def run(agg: BarAggregator) -> None:
        add = agg.add_trade
        for ts, price, size in rows:
            if add(ts, price, size) & F_EVENTS:
                agg.drain()

    benchmark.pedantic(run, setup=setup, rounds=10)
    benchmark.extra_info["ns_per_trade"] = benchmark.stats.stats.median / count * 1e9


@pytest.mark.parametrize("size", [1, 20, 50])
def test_frame(benchmark: Any, size: int) -> None:
    """One decoded frame of `size` prints: add_trades on slices of reused arrays, then drain."""
    frames = 2_000
    ts, ticks, sizes = (col[: frames * size] for col in TAPE)

    def setup() -> tuple[tuple[BarAggregator], dict[str, Any]]:
        return (fresh("gateway"),), {}

    def run(agg: BarAggregator) -> None:
        for a in range(0, frames * size, size):
            b = a + size
            if agg.add_trades(ts[a:b], ticks[a:b], sizes[a:b]) & F_EVENTS:
                agg.drain()

    benchmark.pedantic(run, setup=setup, rounds=10)
    benchmark.extra_info["ns_per_frame"] = benchmark.stats.stats.median / frames * 1e9

"""Bars as project-x-py's polars frames, over the real REST and hub path to the simulator.

``client.get_bars`` and ``suite.data``'s bar reads return polars DataFrames
in project-x-py's schema (time stamps in the configured zone), and the
polars calls bots make on them work; ``as_numpy=True`` gives the same bars as
numpy columns.  polars is imported at the first frame: never by ``import
pxfast``, never by the numpy path or the read helpers.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
from test_suite_harness import move_price, running_suite, sim_config, until

from pxfast.bars import BarFrame, bar_times_us
from pxfast.client.project_x import ProjectX
from pxfast.event_bus import Event, EventType
from pxfast.exceptions import ProjectXDataError
from pxfast.messages import Bar
from pxfast.realtime_data_manager.frames import bar_frame
from pxfast.sim import GatewaySimulator

pytestmark = pytest.mark.both_loops

KEY = "0123456789abcdef"
CHICAGO = "America/Chicago"
HERE = Path(__file__).parent


def schema(zone: str) -> pl.Schema:
    return pl.Schema(
        {
            "timestamp": pl.Datetime("us", zone),
            "open": pl.Float64,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "volume": pl.Int64,
        }
    )


async def client_for(gw: GatewaySimulator, zone: str = CHICAGO) -> ProjectX:
    config = sim_config(gw)
    config.timezone = zone
    client = ProjectX("alice", KEY, config)
    await client.__aenter__()
    await client.authenticate()
    return client


@pytest.fixture
async def client(simulator: GatewaySimulator) -> AsyncIterator[ProjectX]:
    px = await client_for(simulator)
    try:
        yield px
    finally:
        await px.__aexit__(None, None, None)


def sma(frame: pl.DataFrame, period: int) -> pl.DataFrame:
    return frame.with_columns(pl.col("close").rolling_mean(period).alias("sma"))


# ---------------------------------------------------------------- get_bars


async def test_get_bars_is_a_polars_frame_bots_can_use(client: ProjectX) -> None:
    frame = await client.get_bars("MNQ", days=1, interval=5, limit=50)
    assert isinstance(frame, pl.DataFrame)
    assert frame.schema == schema(CHICAGO)
    assert frame.height == 50 and len(frame) == 50
    assert frame["timestamp"].is_sorted()
    with_sma = frame.pipe(sma, 10)
    assert with_sma["sma"].null_count() == 9
    assert with_sma["sma"][-1] == pytest.approx(frame["close"].tail(10).mean())
    last = frame["close"].tail(1).to_list()
    assert len(last) == 1 and isinstance(last[0], float)
    rising = frame.filter(pl.col("close") > pl.col("open"))
    assert 0 < rising.height < 50
    assert rising.select("timestamp", "close").columns == ["timestamp", "close"]
    stamp = frame["timestamp"][-1]
    assert stamp.tzinfo == ZoneInfo(CHICAGO)
    assert stamp.utcoffset() in (timedelta(hours=-6), timedelta(hours=-5))


async def test_numpy_path_holds_the_same_bars(client: ProjectX) -> None:
    frame = await client.get_bars("MNQ", days=1, interval=15)
    columns = await client.get_bars("MNQ", days=1, interval=15, as_numpy=True)
    assert isinstance(columns, BarFrame) and columns.tz == CHICAGO
    assert columns.height == frame.height > 0
    for name in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(columns[name], frame[name].to_numpy()), name
    assert columns.timestamps() == frame["timestamp"].to_list()
    assert columns.to_polars().equals(frame)


async def test_bars_follow_the_clients_zone(simulator: GatewaySimulator) -> None:
    client = await client_for(simulator, "Asia/Tokyo")
    try:
        end = datetime.now(ZoneInfo("Asia/Tokyo")).replace(tzinfo=None, microsecond=0)
        start = end - timedelta(hours=6)  # naive: read in the client's zone
        frame = await client.get_bars("MNQ", unit=3, interval=1, start_time=start, end_time=end)
    finally:
        await client.__aexit__(None, None, None)
    assert frame.schema == schema("Asia/Tokyo")
    stamps = frame["timestamp"].to_list()
    assert len(stamps) in (5, 6)  # the hours that start inside the window
    zone = ZoneInfo("Asia/Tokyo")
    assert all(start.replace(tzinfo=zone) <= s < end.replace(tzinfo=zone) for s in stamps)
    assert all(s.utcoffset() == timedelta(hours=9) for s in stamps)


async def test_day_bars_from_a_midnight_include_that_day(
    simulator: GatewaySimulator, client: ProjectX
) -> None:
    """A window of 9.x days from a (UTC) midnight holds ten day starts; sizing the
    request by whole days asked for nine and dropped the oldest."""
    simulator.set_price("MNQ", "21000")  # today's bar exists, even just after midnight
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    frame = await client.get_bars(
        "MNQ", unit=4, interval=1, start_time=midnight - timedelta(days=9),
        end_time=datetime.now(UTC) + timedelta(minutes=1),
    )
    assert frame.height == 10
    assert frame["timestamp"][0] == midnight - timedelta(days=9)


async def test_an_empty_window_keeps_the_schema(client: ProjectX) -> None:
    old = datetime(2001, 1, 1, tzinfo=UTC)
    frame = await client.get_bars("MNQ", start_time=old, end_time=old + timedelta(days=1))
    assert frame.is_empty() and frame.schema == schema(CHICAGO)
    assert frame.pipe(sma, 3).filter(pl.col("volume") > 0).height == 0


# ---------------------------------------------------------------- suite.data


async def test_suite_reads_are_frames_in_the_suites_zone(simulator: GatewaySimulator) -> None:
    zone = "Europe/London"
    async with running_suite(simulator, timeframes=["1min", "5min"], timezone=zone) as suite:
        data = suite.data
        five = await data.get_data("5min")
        assert isinstance(five, pl.DataFrame) and five.schema == schema(zone)
        assert five["timestamp"][0].tzinfo == ZoneInfo(zone)
        last = await data.get_data("5min", bars=4)
        assert last is not None and last.equals(five.tail(4))
        latest = await data.get_latest_bars(2, "5min")
        assert latest is not None and latest.equals(five.tail(2))
        assert await data.get_data("15min") is None  # not a configured timeframe
        assert await data.get_data_or_none("5min", min_bars=five.height + 1) is None
        enough = await data.get_data_or_none("5min", min_bars=five.height)
        assert enough is not None and enough.equals(five)
        # A naive start is read in the suite's zone.
        since = five["timestamp"][-3]
        tail = await data.get_bars_since(since.replace(tzinfo=None), "5min")
        assert tail is not None and tail.equals(five.tail(3))
        none_after = await data.get_bars_since(since + timedelta(days=1), "5min")
        assert none_after is not None and none_after.is_empty()
        assert none_after.schema == schema(zone)
        mtf = await data.get_mtf_data()
        assert sorted(mtf) == ["1min", "5min"]
        assert all(frame.schema == schema(zone) for frame in mtf.values())
        numpy_bars = await data.get_data("5min", as_numpy=True)
        assert isinstance(numpy_bars, BarFrame) and numpy_bars.tz == zone
        assert numpy_bars.to_polars().equals(five)


async def test_new_bar_times_are_in_the_suites_zone(simulator: GatewaySimulator) -> None:
    async with running_suite(simulator, timeframes=["1min"]) as suite:
        bars: list[Event] = []
        await suite.on(EventType.NEW_BAR, bars.append)
        # One second into the simulator's next minute: the print opens that bar.
        start_s = (int(simulator.clock.now()) // 60 + 1) * 60
        simulator.advance(start_s + 1 - simulator.clock.now())
        start = datetime.fromtimestamp(start_s, UTC)
        await move_price(simulator, suite, "21003")
        simulator.advance(60)
        await move_price(simulator, suite, "21004")
        await until(lambda: len(bars) == 2, "NEW_BAR")
        chicago = ZoneInfo(CHICAGO)
        for event, bar_time in zip(bars, (start, start + timedelta(minutes=1)), strict=True):
            data: dict[str, Any] = event.data
            assert data["bar_time"] == bar_time and data["bar_time"].tzinfo == chicago
            assert data["data"]["timestamp"] == bar_time
            assert data["data"]["timestamp"].tzinfo == chicago
        closed = bars[1].data["closed_bar"]
        assert closed["timestamp"] == start and closed["timestamp"].tzinfo == chicago
        frame = await suite.data.get_data("1min", bars=2)
        assert frame is not None
        # The closed bar is stored at its UTC instant, whatever zone it is shown in.
        assert frame["timestamp"].to_list() == [start, start + timedelta(minutes=1)]
        assert frame["close"].to_list() == [21003.0, 21004.0]


# ---------------------------------------------------------------- building frames


def test_frames_wrap_the_numpy_columns() -> None:
    start_us = np.array([0, 60_000_000], dtype=np.int64)
    prices = np.array([1.25, 2.5])
    volume = np.array([3, 4], dtype=np.int64)
    frame = bar_frame(start_us, prices, prices, prices, prices, volume, "UTC")
    assert frame.schema == schema("UTC")
    assert np.shares_memory(frame["close"].to_numpy(), prices)
    assert np.shares_memory(frame["volume"].to_numpy(), volume)
    with pytest.raises(ValueError, match="one-dimensional"):
        bar_frame(start_us, prices.reshape(2, 1), prices, prices, prices, volume, "UTC")


def test_frame_time_stamps_are_instants_across_a_dst_change() -> None:
    zone = ZoneInfo(CHICAGO)
    # 2026-03-08 02:00 CST does not exist: 07:00 and 09:00 UTC straddle the change.
    instants = [datetime(2026, 3, 8, h, tzinfo=UTC) for h in (7, 8, 9)]
    start_us = np.array([int(t.timestamp()) * 1_000_000 for t in instants], dtype=np.int64)
    ones = np.ones(3)
    frame = bar_frame(start_us, ones, ones, ones, ones, np.ones(3, dtype=np.int64), CHICAGO)
    assert frame["timestamp"].to_list() == [t.astimezone(zone) for t in instants]
    assert [t.hour for t in frame["timestamp"].to_list()] == [1, 3, 4]


def test_gateway_bar_times_in_any_iso_form() -> None:
    """UTC stamps take numpy's parser, others the per-value one; both give the same
    instants (7 fractional digits cut to microseconds), and the last bar of an
    instant wins."""
    forms = [
        "2026-01-05T15:00:00+00:00",
        "2026-01-05T15:01:00.1234567Z",
        "2026-01-05T09:02:00-06:00",
        "2026-01-05T15:00:00Z",
    ]
    expected = [
        datetime(2026, 1, 5, 15, 0, tzinfo=UTC),
        datetime(2026, 1, 5, 15, 1, 0, 123456, tzinfo=UTC),
        datetime(2026, 1, 5, 15, 2, tzinfo=UTC),
        datetime(2026, 1, 5, 15, 0, tzinfo=UTC),
    ]
    us = [int((t - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
          for t in expected]
    assert bar_times_us(forms).tolist() == us
    assert bar_times_us(forms[:2] + forms[3:]).tolist() == us[:2] + us[3:]
    frame = BarFrame.from_bars([Bar(t, i, i, i, i, i) for i, t in enumerate(forms)])
    assert frame.timestamps() == expected[:1] + expected[1:3]
    assert frame["close"].tolist() == [3.0, 1.0, 2.0]


@pytest.mark.parametrize("stamp", ["", "NaT", "NaT+00:00", "yesterday", "2026-13-01T00:00Z"])
def test_a_bar_time_that_is_not_iso_is_a_data_error(stamp: str) -> None:
    bars = [Bar("2026-01-05T15:00:00+00:00", 1, 1, 1, 1, 1), Bar(stamp, 1, 1, 1, 1, 1)]
    with pytest.raises(ProjectXDataError, match="not ISO 8601"):
        BarFrame.from_bars(bars)


# ---------------------------------------------------------------- lazy import


def run_isolated(code: str) -> str:
    """Run ``code`` in a fresh interpreter (this directory importable); its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout.strip()


def test_import_pxfast_does_not_import_polars() -> None:
    out = run_isolated(
        """
        import sys
        import pxfast, pxfast.compat, pxfast.trading_suite, pxfast.bars
        import pxfast.client.project_x, pxfast.realtime_data_manager
        print("polars" in sys.modules)
        """
    )
    assert out == "False"


def test_numpy_reads_do_not_import_polars() -> None:
    out = run_isolated(
        """
        import asyncio, sys
        from test_suite_harness import move_price, running_suite
        from pxfast.sim import GatewaySimulator

        async def main():
            gw = GatewaySimulator(seed=11, paused=True)
            await gw.start()
            try:
                async with running_suite(gw, timeframes=["1min", "5min"]) as suite:
                    await move_price(gw, suite, "21000")
                    data = suite.data
                    assert await data.get_current_price() == 21000.0
                    assert await data.get_ohlc("5min") is not None
                    assert await data.get_price_range(bars=5, timeframe="5min") is not None
                    assert await data.get_volume_stats(bars=5, timeframe="5min") is not None
                    assert await data.is_data_ready(min_bars=5)
                    assert (await data.get_data("5min", as_numpy=True)).height > 5
                    bars = await suite.client.get_bars("MNQ", days=1, as_numpy=True)
                    assert bars.height > 5
                    print("polars" in sys.modules)
                    await data.get_data("5min")
                    print("polars" in sys.modules)
            finally:
                await gw.stop()

        asyncio.run(main())
        """
    )
    assert out.splitlines() == ["False", "True"]

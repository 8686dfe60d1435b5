"""Trading sessions through a TradingSuite on the simulator: ``session_config`` is applied.

The suite's bars come over REST from the simulator (a paused market, several
days of history, so weekday RTH bars, the daily break and, on some days, a
weekend are in them); each expectation is computed here from the bars'
time stamps with this file's own reading of CME hours, not with pxfast's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from test_suite_harness import running_suite

from pxfast.sessions import DEFAULT_SESSIONS, SessionConfig, SessionFilterMixin, SessionType
from pxfast.sessions.calendar import session_columns, session_label
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

ET = ZoneInfo("America/New_York")
#: CME full closures near any date these tests run (cmegroup.com holiday calendars).
HOLIDAYS = {
    datetime(2026, 1, 1).date(), datetime(2026, 4, 3).date(), datetime(2026, 12, 25).date(),
    datetime(2027, 1, 1).date(), datetime(2027, 3, 26).date(), datetime(2027, 12, 24).date(),
}  # fmt: skip


def in_rth(stamp: datetime) -> bool:
    local = stamp.astimezone(ET)
    open_day = local.weekday() < 5 and local.date() not in HOLIDAYS
    return open_day and time(9, 30) <= local.time() < time(16)


def in_eth(stamp: datetime) -> bool:
    local = stamp.astimezone(ET)
    trading_date = local.date() + timedelta(days=1 if local.time() >= time(18) else 0)
    in_break = time(17) <= local.time() < time(18)
    return not in_break and trading_date.weekday() < 5 and trading_date not in HOLIDAYS


def expected(frame: pl.DataFrame, rule: Any) -> pl.DataFrame:
    return frame.filter(
        pl.Series([rule(t) for t in frame["timestamp"].to_list()], dtype=pl.Boolean)
    )


@pytest.fixture
async def suite(simulator: GatewaySimulator) -> AsyncIterator[TradingSuite]:
    config = SessionConfig(session_type=SessionType.RTH)
    async with running_suite(
        simulator, timeframes=["5min"], initial_days=4, session_config=config
    ) as running:
        yield running


async def test_session_config_is_the_default_session(suite: TradingSuite) -> None:
    config = suite.config.session_config
    assert isinstance(config, SessionConfig) and suite.data.session_config is config
    bars = await suite.data.get_data("5min")
    assert bars is not None
    rth, eth = expected(bars, in_rth), expected(bars, in_eth)
    assert 0 < rth.height < eth.height <= bars.height
    assert (await suite.get_session_data("5min")).equals(rth)
    assert (await suite.data.get_session_data("5min")).equals(rth)
    assert (await suite.get_session_data("5min", SessionType.ETH)).equals(eth)
    # The frames keep the suite's schema and zone.
    assert (await suite.get_session_data("5min")).schema == bars.schema


async def test_set_session_type_changes_get_session_data(suite: TradingSuite) -> None:
    bars = await suite.data.get_data("5min")
    assert bars is not None
    await suite.set_session_type(SessionType.ETH)
    assert suite.data.session_config.session_type == SessionType.ETH
    assert (await suite.get_session_data("5min")).equals(expected(bars, in_eth))
    await suite.set_session_type("RTH")  # project-x-py's session types compare equal to names
    assert suite.data.session_config.session_type is SessionType.RTH
    assert (await suite.get_session_data("5min")).equals(expected(bars, in_rth))
    with pytest.raises(ValueError):
        await suite.set_session_type("NIGHT")
    assert suite.data.session_config.session_type is SessionType.RTH
    assert await suite.get_session_data("15min") is None  # not a configured timeframe


async def test_session_statistics(suite: TradingSuite) -> None:
    bars = await suite.data.get_data("5min")
    assert bars is not None
    stats = await suite.get_session_statistics("5min")
    for prefix, rule in (("rth", in_rth), ("eth", in_eth)):
        part = expected(bars, rule)
        volume = int(part["volume"].sum())
        assert stats[f"{prefix}_volume"] == volume
        vwap = float((part["close"] * part["volume"]).sum()) / volume
        assert stats[f"{prefix}_vwap"] == pytest.approx(vwap, rel=1e-12)
        assert stats[f"{prefix}_high"] == part["high"].max()
        assert stats[f"{prefix}_low"] == part["low"].min()
        assert stats[f"{prefix}_range"] == pytest.approx(part["high"].max() - part["low"].min())
    assert await suite.get_session_statistics("15min") == {
        "rth_volume": 0, "eth_volume": 0, "rth_vwap": 0.0,
        "eth_vwap": 0.0, "rth_range": 0.0, "eth_range": 0.0,
    }  # fmt: skip


async def test_a_suite_without_session_config_still_filters(simulator: GatewaySimulator) -> None:
    async with running_suite(simulator, timeframes=["5min"], initial_days=4) as suite:
        bars = await suite.data.get_data("5min")
        assert bars is not None and suite.data.session_config is None
        rth = await suite.get_session_data("5min", SessionType.RTH)
        assert rth is not None and rth.equals(expected(bars, in_rth))
        assert (await suite.get_session_data("5min")).equals(expected(bars, in_eth))
        await suite.set_session_type(SessionType.RTH)
        assert (await suite.get_session_data("5min")).equals(rth)


async def test_hostile_input_ends_in_value_errors() -> None:
    with pytest.raises(ValueError, match="Invalid timezone"):
        SessionConfig(market_timezone="Mars/Olympus")
    with pytest.raises(ValueError, match="Invalid session type"):
        SessionConfig(session_type="NIGHT")  # type: ignore[arg-type]
    mixin = SessionFilterMixin()
    frame = pl.DataFrame({"timestamp": ["not a time"], "open": [1.0], "high": [1.0],
                          "low": [1.0], "close": [1.0], "volume": [1]})  # fmt: skip
    with pytest.raises(ValueError, match="Invalid timestamp"):
        await mixin.filter_by_session(frame, SessionType.RTH, "ES")
    with pytest.raises(ValueError, match="Missing required column: volume"):
        await mixin.filter_by_session(frame.drop("volume"), SessionType.RTH, "ES")
    dated = frame.with_columns(pl.lit("2026-01-05T15:00:00").alias("timestamp"))
    assert (await mixin.filter_by_session(dated, SessionType.RTH, "ES")).height == 1
    with pytest.raises(ValueError, match="Unknown product: ZZZZ"):
        await mixin.filter_by_session(dated, SessionType.RTH, "ZZZZ")


async def test_observed_holidays_close_globex() -> None:
    """A weekend Christmas or New Year's Day moves as CME's calendar moves it."""
    days = [datetime(2021, 12, 23, 15, tzinfo=ET) + timedelta(days=d) for d in range(12)]
    frame = pl.DataFrame({"timestamp": days, "open": 1.0, "high": 1.0, "low": 1.0,
                          "close": 1.0, "volume": 1})  # fmt: skip
    kept = await SessionFilterMixin().filter_by_session(frame, SessionType.RTH, "ES")
    # Christmas 2021 (a Saturday) closes Friday the 24th; New Year's Day 2022 (a Saturday)
    # closes nothing; 2021-12-31 and 2022-01-03 trade.
    assert [t.date().isoformat() for t in kept["timestamp"]] == [
        "2021-12-23", "2021-12-27", "2021-12-28", "2021-12-29", "2021-12-30",
        "2021-12-31", "2022-01-03",
    ]  # fmt: skip
    sunday_new_year = pl.DataFrame({"timestamp": [datetime(2023, 1, 2, 12, tzinfo=ET)],
                                    "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0,
                                    "volume": 1})  # fmt: skip
    assert (await SessionFilterMixin().filter_by_session(
        sunday_new_year, SessionType.ETH, "ES")).is_empty()  # fmt: skip


async def test_a_session_config_of_another_type_is_refused(simulator: GatewaySimulator) -> None:
    with pytest.raises(TypeError, match=r"must be a pxfast\.sessions\.SessionConfig"):
        async with running_suite(simulator, session_config={"session_type": "RTH"}):
            pass


def test_one_time_stamp_gets_the_answer_of_the_frame_masks() -> None:
    """``session_label`` (scalar) and ``session_columns`` (frames) are one rule."""
    start = datetime(2024, 3, 1, tzinfo=ET)  # DST both ways, Good Friday, Christmas, New Year
    stamps = pl.datetime_range(
        start, start + timedelta(days=310), "7m", eager=True, time_zone="UTC"
    ).to_list()
    frame = pl.DataFrame({"timestamp": stamps})
    for product in ("ES", "6E", "ZC", "VX", "LE"):
        times = DEFAULT_SESSIONS[product]
        tagged = session_columns(frame, times)
        masks = [
            "RTH" if rth else "ETH" if eth else "BREAK"
            for rth, eth in zip(tagged["_rth"], tagged["_eth"], strict=True)
        ]
        assert [session_label(s, times) for s in stamps] == masks, product

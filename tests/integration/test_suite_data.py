"""``suite.data`` against the simulator: bars built from driven prints, and the read helpers.

Bars are bucketed by receipt time; the tests drive that clock (the data
manager's ``clock``) so that a bar closes exactly when a test says, while
the prints themselves travel the real market hub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from test_suite_harness import move_price, running_suite, until

from pxfast.event_bus import Event, EventType
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

P = Decimal("21000")

pytestmark = pytest.mark.both_loops


@pytest.fixture
async def suite(simulator: GatewaySimulator) -> AsyncIterator[TradingSuite]:
    async with running_suite(simulator, timeframes=["1min", "5min"]) as running:
        yield running


async def test_new_bar_from_driven_prints(simulator: GatewaySimulator, suite: TradingSuite) -> None:
    bars: list[Event] = []
    await suite.on(EventType.NEW_BAR, bars.append)
    # A minute after everything the history holds, on a boundary.
    start = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)
    now = [start.timestamp() + 1]
    suite.data.clock = lambda: now[0]
    for price in ("21003", "21007.5", "20998.25", "21001"):
        await move_price(simulator, suite, price)
    assert not bars  # all four prints fall in the same minute
    now[0] = start.timestamp() + 61
    await move_price(simulator, suite, "21002")
    await until(lambda: any(b.data["timeframe"] == "1min" for b in bars), "the 1-minute bar")
    closed = next(b.data for b in bars if b.data["timeframe"] == "1min")
    assert closed["bar_time"] == start
    assert closed["data"] == {
        "timestamp": start,
        "open": 21003.0,
        "high": 21007.5,
        "low": 20998.25,
        "close": 21001.0,
        "volume": 4,
    }
    frame = await suite.data.get_data("1min", bars=2)
    assert frame is not None
    assert frame.to_dicts()[0]["close"] == 21001.0  # the closed bar, then the forming one
    assert frame.to_dicts()[1]["open"] == 21002.0
    assert await suite.data.get_current_price() == 21002.0
    stats = await suite.data.get_memory_stats()
    assert stats["ticks_processed"] == 5 and stats["bars_processed"] >= 1


async def test_read_helpers_match_the_bars(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    await move_price(simulator, suite, P)
    frame = await suite.data.get_data("5min", bars=6)
    assert frame is not None and len(frame) == 6
    rows = frame.to_dicts()
    span = await suite.data.get_price_range(bars=6, timeframe="5min")
    high, low = max(r["high"] for r in rows), min(r["low"] for r in rows)
    assert span == {
        "high": high,
        "low": low,
        "range": high - low,
        "avg_range": sum(r["high"] - r["low"] for r in rows) / 6,
    }
    assert await suite.data.get_price_range(bars=10**6, timeframe="5min") is None
    ohlc = await suite.data.get_ohlc("5min")
    assert ohlc == {k: float(rows[-1][k]) for k in ("open", "high", "low", "close", "volume")}
    volume = await suite.data.get_volume_stats(bars=6, timeframe="5min")
    total = sum(r["volume"] for r in rows)
    assert volume == {
        "total": float(total),
        "average": total / 6,
        "current": float(rows[-1]["volume"]),
        "relative": rows[-1]["volume"] / (total / 6),
    }
    assert await suite.data.is_data_ready(min_bars=6, timeframe="5min")
    assert not await suite.data.is_data_ready(min_bars=10**6)
    assert await suite.data.get_data_or_none("5min", min_bars=10**6) is None
    since = await suite.data.get_bars_since(rows[-2]["timestamp"], "5min")
    assert since is not None and [r["timestamp"] for r in since.to_dicts()] == [
        rows[-2]["timestamp"],
        rows[-1]["timestamp"],
    ]
    mtf = await suite.data.get_mtf_data()
    assert set(mtf) == {"1min", "5min"}


async def test_current_price_follows_the_market_hub(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    await move_price(simulator, suite, "21012.75")
    assert await suite.data.get_current_price() == 21012.75
    assert await suite.data.get_latest_price() == 21012.75


async def test_legacy_callback_names(simulator: GatewaySimulator, suite: TradingSuite) -> None:
    ticks: list[Event] = []
    with pytest.deprecated_call():
        await suite.data.add_callback("market_trade", ticks.append)
    await move_price(simulator, suite, "21004")
    await until(lambda: ticks, "the trade tick")
    assert ticks[0].type is EventType.TRADE_TICK and ticks[0].data["price"] == 21004.0
    with pytest.raises(ValueError, match="Unknown event type"), pytest.deprecated_call():
        await suite.data.add_callback("bar_closed", ticks.append)

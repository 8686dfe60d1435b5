"""``suite.data`` against the simulator: bars built from driven prints, and the read helpers.

Bars are bucketed by the prints' exchange time stamps, so the tests move the
simulator's clock (``advance``) to put prints in the bars they mean, while the
prints themselves travel the real market hub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
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


def advance_to_next(gw: GatewaySimulator, seconds: int) -> datetime:
    """Move the simulator's clock one second past its next multiple of ``seconds``."""
    start = (int(gw.clock.now()) // seconds + 1) * seconds
    gw.advance(start + 1 - gw.clock.now())
    return datetime.fromtimestamp(start, UTC)


async def test_new_bar_from_driven_prints(simulator: GatewaySimulator, suite: TradingSuite) -> None:
    bars: list[Event] = []
    await suite.on(EventType.NEW_BAR, bars.append)
    start = advance_to_next(simulator, 300)  # a new 1-minute and 5-minute bar
    for price in ("21003", "21007.5", "20998.25", "21001"):
        await move_price(simulator, suite, price)
    # project-x-py's NEW_BAR: when a bar opens, with its first values.
    assert sorted(b.data["timeframe"] for b in bars) == ["1min", "5min"]
    opened = bars[0].data
    assert opened["bar_time"] == start and opened["data"]["timestamp"] == start
    assert {k: v for k, v in opened["data"].items() if k != "timestamp"} == {
        "open": 21003.0, "high": 21003.0, "low": 21003.0, "close": 21003.0, "volume": 1,
    }  # fmt: skip
    bars.clear()
    simulator.advance(60)
    await move_price(simulator, suite, "21002")
    assert [b.data["timeframe"] for b in bars] == ["1min"]  # the 5-minute bar goes on
    event = bars[0].data
    later = datetime.fromtimestamp(start.timestamp() + 60, UTC)
    assert event["bar_time"] == later and event["data"]["open"] == 21002.0
    assert event["closed_bar"] == {
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
    five = await suite.data.get_data("5min", bars=1)
    assert five is not None and five.to_dicts()[0]["volume"] == 5
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

"""PositionManager analytics, alerts and reports against the simulator, checked by hand.

MNQ: a point is worth $2 (tickValue 0.5 / tickSize 0.25).  A market buy fills
at the ask (one tick above the printed price), a market sell at the bid.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from test_suite_harness import POINT_VALUE, TICK, move_price, running_suite, status_becomes, until

from pxfast.event_bus import Event, EventBus, EventType
from pxfast.models import Position
from pxfast.position_manager import PositionManager
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite
from pxfast.types import OrderStatus

P = Decimal("21000")

pytestmark = pytest.mark.both_loops


@pytest.fixture
async def suite(simulator: GatewaySimulator) -> AsyncIterator[TradingSuite]:
    async with running_suite(simulator) as running:
        await move_price(simulator, running, P)
        yield running


async def trade(suite: TradingSuite, side: int, size: int) -> None:
    response = await suite.orders.place_market_order(suite.instrument_id, side, size)
    await status_becomes(suite, response.orderId, OrderStatus.FILLED)


async def held(suite: TradingSuite, size: int) -> Position:
    await until(
        lambda: (p := suite.realtime.user.positions.get(suite.instrument_id)) and p.size == size,
        f"a position of {size}",
    )
    position = await suite.positions.get_position("MNQ")
    assert position is not None
    return position


async def test_position_pnl_by_tick_value(simulator: GatewaySimulator, suite: TradingSuite) -> None:
    await trade(suite, 0, 3)
    position = await held(suite, 3)
    average = Decimal(str(position.averagePrice))
    assert average == P + TICK
    await move_price(simulator, suite, P + Decimal("7.5"))
    analysis = await suite.positions.calculate_position_pnl(position)  # the live price
    expected = (P + Decimal("7.5") - average) * POINT_VALUE * 3  # 7.25 points x $2 x 3
    assert analysis["unrealized_pnl"] == float(expected) == 43.5
    assert analysis["current_price"] == float(P + Decimal("7.5"))
    assert analysis["position_value"] == float((P + Decimal("7.5")) * POINT_VALUE * 3)
    in_points = await suite.positions.calculate_position_pnl(position, 21010.0, point_value=1)
    assert in_points["unrealized_pnl"] == float((Decimal(21010) - average) * 3)
    missing = Position(1, 1, "CON.F.US.XYZ.Z26", "", 1, 1, 10.0)
    assert "error" in await suite.positions.calculate_position_pnl(missing)


async def test_portfolio_pnl_of_a_short(suite: TradingSuite, simulator: GatewaySimulator) -> None:
    await trade(suite, 1, 2)  # sold at the bid: P
    await held(suite, 2)
    by_symbol = await suite.positions.calculate_portfolio_pnl({"MNQ": 20995.5})
    assert by_symbol["total_pnl"] == float((P - Decimal("20995.5")) * POINT_VALUE * 2)  # +18
    assert by_symbol["total_trades"] == 1
    by_contract = await suite.positions.calculate_portfolio_pnl({suite.instrument_id: 21001.0})
    assert by_contract["unrealized_pnl"] == -4.0
    await move_price(simulator, suite, P + 1)
    live = await suite.positions.get_portfolio_pnl()
    assert live["total_pnl"] == -4.0
    assert live["total_value"] == float((P + 1) * POINT_VALUE * 2)


async def test_a_loss_alert_fires_once_when_the_price_crosses_it(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    alerts: list[Event] = []
    await suite.on(EventType.RISK_LIMIT_WARNING, alerts.append)
    await trade(suite, 0, 2)
    position = await held(suite, 2)
    average = Decimal(str(position.averagePrice))
    await suite.positions.add_position_alert("MNQ", max_loss=-20.0)  # 5 points on 2 contracts
    await move_price(simulator, suite, average - Decimal("4.75"))  # -$19: not yet
    assert not alerts
    await move_price(simulator, suite, average - 5)
    await until(lambda: alerts, "the alert")
    await move_price(simulator, suite, average - 8)
    assert len(alerts) == 1
    data = alerts[0].data
    assert (data["contract_id"], data["kind"], data["pnl"]) == (
        suite.instrument_id,
        "max_loss",
        -20.0,
    )
    assert data["alert"]["triggered"] is True
    assert data["position"].size == 2
    assert "max loss" in data["message"]
    # A triggered alert stops listening to prints.
    assert suite.instrument_id not in suite.positions._alert_listeners


async def test_gain_and_threshold_alerts(simulator: GatewaySimulator, suite: TradingSuite) -> None:
    alerts: list[Event] = []
    await suite.on(EventType.RISK_LIMIT_WARNING, alerts.append)
    await trade(suite, 1, 1)
    position = await held(suite, 1)
    average = Decimal(str(position.averagePrice))  # P: a short, sold at the bid
    await suite.positions.add_position_alert(suite.instrument_id, max_gain=10.0)
    await move_price(simulator, suite, average - 5)  # +$10 on the short
    await until(lambda: alerts, "the gain alert")
    assert (alerts[0].data["kind"], alerts[0].data["pnl"]) == ("max_gain", 10.0)
    # Already past the threshold when added: it fires at once, from the current price.
    await suite.positions.add_position_alert("MNQ", pnl_threshold=6)
    assert [a.data["kind"] for a in alerts] == ["max_gain", "pnl_threshold"]
    await suite.positions.remove_position_alert("MNQ")
    assert suite.instrument_id not in suite.positions.position_alerts
    with pytest.raises(ValueError):
        await suite.positions.add_position_alert("MNQ")


async def test_monitoring_needs_no_task_with_a_live_stream(suite: TradingSuite) -> None:
    positions = suite.positions
    await positions.start_monitoring(refresh_interval=1)
    assert positions._monitoring_active and positions._monitoring_task is None
    assert positions.get_realtime_validation_status()["realtime_enabled"] is True
    await positions.stop_monitoring()
    assert not positions._monitoring_active


async def test_polling_monitor_checks_alerts_without_a_stream(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    await trade(suite, 0, 1)
    average = Decimal(str((await held(suite, 1)).averagePrice))
    await move_price(simulator, suite, average + 6)  # +$12; the last bar closes there
    polling = PositionManager(suite.client, EventBus())
    await polling.initialize()
    await polling.add_position_alert("MNQ", max_gain=10)
    alert = asyncio.ensure_future(polling.event_bus.wait_for(EventType.RISK_LIMIT_WARNING, 5))
    await polling.start_monitoring(refresh_interval=1)
    try:
        assert polling._monitoring_task is not None
        fired = await alert
    finally:
        await polling.cleanup()
    assert (fired.data["kind"], fired.data["pnl"]) == ("max_gain", 12.0)
    assert polling._monitoring_task is None


async def test_history_statistics_and_report(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    await trade(suite, 0, 1)
    first = await held(suite, 1)
    await trade(suite, 0, 1)
    await held(suite, 2)
    await move_price(simulator, suite, P + 4)
    await trade(suite, 1, 2)  # sold at the bid, P + 4
    await until(lambda: not suite.realtime.user.positions, "the position to close")
    history = await suite.positions.get_position_history("MNQ")
    assert [entry["size_change"] for entry in history] == [1, 1, -2]
    assert history[0]["position"]["averagePrice"] == first.averagePrice
    # Bought 1 at P + 0.25 and 1 at P + 0.25 (the ask), sold 2 at P + 4.
    realized = float((P + 4 - (P + TICK)) * 2 * POINT_VALUE)
    stats = await suite.positions.get_position_statistics()
    assert stats["closed_positions"] == 1 and stats["open_positions"] == 0
    assert stats["realized_pnl"] == realized == 15.0
    assert stats["best_position_pnl"] == realized and stats["win_rate"] == 1.0
    assert stats["position_updates"] == 3
    await suite.positions.add_position_alert("MNQ", max_loss=100)
    report = await suite.positions.export_portfolio_report()
    assert report["portfolio_summary"]["total_positions"] == 0
    assert report["alerts"] == {"active_alerts": 1, "triggered_alerts": 0}
    assert report["statistics"]["realized_pnl"] == realized
    memory = suite.positions.get_memory_stats()
    assert memory["position_history_entries"] == 3 and memory["position_alerts"] == 1


async def test_position_sizing(suite: TradingSuite) -> None:
    positions = suite.positions
    # $100 over 10 points: 5 contracts of MNQ ($20 each); without a contract, units per point.
    assert await positions.calculate_position_size(100, 21000, 20990, "MNQ") == 5.0
    assert await positions.calculate_position_size(100, 21000, 20990) == 10.0
    assert await positions.calculate_position_size(100, 21000, 21000, "MNQ") == 0.0

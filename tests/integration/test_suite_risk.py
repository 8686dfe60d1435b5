"""RiskManager and ManagedTrade against the simulator: sizing, limits, protective orders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import ROUND_FLOOR, Decimal

import pytest
from test_suite_harness import (
    POINT_VALUE,
    TICK,
    move_price,
    order_of,
    running_suite,
    status_becomes,
    until,
)

from pxfast.event_bus import Event, EventType
from pxfast.exceptions import InvalidOrderParameters, ProjectXRiskViolationError
from pxfast.models import Order, Position
from pxfast.risk_manager import RiskConfig, RiskManager
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite
from pxfast.types import OrderStatus, OrderType

P = Decimal("21000")

pytestmark = pytest.mark.both_loops


@pytest.fixture
async def suite(simulator: GatewaySimulator) -> AsyncIterator[TradingSuite]:
    config = RiskConfig(use_trailing_stops=False)
    async with running_suite(simulator, features=["risk_manager"], risk_config=config) as s:
        await move_price(simulator, s, P)
        yield s


def risk(suite: TradingSuite) -> RiskManager:
    assert suite.risk_manager is not None
    return suite.risk_manager


async def open_position(suite: TradingSuite, side: int, size: int) -> Position:
    response = await suite.orders.place_market_order(suite.instrument_id, side, size)
    await status_becomes(suite, response.orderId, OrderStatus.FILLED)
    await until(lambda: suite.realtime.user.positions, "the position")
    position = await suite.positions.get_position("MNQ")
    assert position is not None
    return position


async def test_position_size_from_risk_by_tick_value(suite: TradingSuite) -> None:
    manager = risk(suite)
    balance = Decimal(str(float(suite.client.get_account_info().balance)))
    # 10 points = 40 ticks = $20 a contract.
    sized = await manager.calculate_position_size(float(P), float(P - 10), risk_amount=100)
    assert sized["position_size"] == 5
    assert sized["risk_amount"] == 100.0
    assert sized["risk_percent"] == float(Decimal(100) / balance)
    assert sized["sizing_method"] == "fixed_risk" and sized["tick_size"] == 0.25
    # 1% of the balance would buy more than max_position_size (10) allows.
    by_percent = await manager.calculate_position_size(float(P), float(P - 10))
    budget = balance * Decimal("0.01")
    assert int((budget / 20).to_integral_value(ROUND_FLOOR)) > 10
    assert by_percent["position_size"] == 10
    zero = await manager.calculate_position_size(float(P), float(P - 10), risk_amount=0)
    assert (zero["position_size"], zero["sizing_method"]) == (0, "zero_risk")
    with pytest.raises(InvalidOrderParameters):
        await manager.calculate_position_size(float(P), float(P), risk_amount=100)


async def test_stop_target_and_trailing_arithmetic(suite: TradingSuite) -> None:
    manager = risk(suite)
    instrument = suite.instrument
    # fixed: 50 ticks of 0.25 below a long's entry, aligned.
    assert await manager.calculate_stop_loss(21000.1, 0, instrument=instrument) == 20987.5
    assert await manager.calculate_stop_loss(21000.0, 1, instrument=instrument) == 21012.5
    assert await manager.calculate_take_profit(21000.0, 20987.5, 0) == 21025.0
    assert await manager.calculate_take_profit(21000.0, 21012.5, 1, risk_reward_ratio=3) == 20962.5
    assert await manager.should_activate_trailing_stop(21000.0, 21030.0, 0) is False  # off
    manager.config.use_trailing_stops = True
    assert await manager.should_activate_trailing_stop(21000.0, 21030.0, 0) is True
    assert await manager.should_activate_trailing_stop(21000.0, 20970.25, 1) is False
    assert manager.calculate_trailing_stop(21030.0, 0) == 21010.0
    assert manager.calculate_trailing_stop(20970.0, 1) == 20990.0
    # project-x-py's Kelly sizing formula: p=0.6, b=2 -> f=0.4, x0.25 = 0.1.
    assert await manager.calculate_kelly_position_size(10, 0.6, 200.0, 100.0) == 11
    trade = await manager.analyze_trade_risk("MNQ", 21000.0, 20990.0, 21020.0, 3)
    assert (trade["risk_amount"], trade["reward_amount"], trade["risk_reward_ratio"]) == (
        60.0,
        120.0,
        2.0,
    )


async def test_the_gate_enforces_position_limits(suite: TradingSuite) -> None:
    manager = risk(suite)
    await manager.set_position_limit("MNQ", max_contracts=2)
    with pytest.raises(ProjectXRiskViolationError, match="Position limit"):
        await suite.orders.place_market_order(suite.instrument_id, 0, 3)
    await open_position(suite, 0, 2)
    with pytest.raises(ProjectXRiskViolationError):
        await suite.orders.place_market_order(suite.instrument_id, 0, 1)
    verdict = await manager.validate_trade(
        _order(suite, side=1, size=1)  # reducing by one leaves 1: within the limit
    )
    assert verdict["is_valid"], verdict
    assert verdict["position_count"] == 1
    # The unprotected long risks the default 50-tick stop: 12.5 points x $2 x 2.
    balance = Decimal(str(float(suite.client.get_account_info().balance)))
    assert verdict["portfolio_risk"] == float(Decimal(50) / balance)


def _order(suite: TradingSuite, side: int, size: int) -> Order:
    account = suite.client.get_account_info().id
    return Order(0, account, suite.instrument_id, "", None, 6, OrderType.MARKET, side, size)


async def test_a_losing_round_trip_counts_toward_the_daily_loss(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    manager = risk(suite)
    closed: list[Event] = []
    await suite.on(EventType.POSITION_CLOSED, closed.append)
    await open_position(suite, 0, 2)  # bought at the ask, P + 0.25
    await move_price(simulator, suite, P - 3)
    await suite.orders.close_position(suite.instrument_id)  # sold at the bid, P - 3
    await until(lambda: closed, "the position to close")
    loss = (P - 3 - (P + TICK)) * 2 * POINT_VALUE  # -13.00
    assert closed[0].data["pnl"] == float(loss)
    metrics = await manager.get_risk_metrics()
    assert metrics["daily_trades"] == 1 and metrics["daily_loss"] == 13.0
    await manager.set_daily_loss_limit(Decimal("13"))
    with pytest.raises(ProjectXRiskViolationError, match="Daily loss limit"):
        await suite.orders.place_market_order(suite.instrument_id, 0, 1)


async def test_trade_results_drive_the_statistics(suite: TradingSuite) -> None:
    manager = risk(suite)
    for position_id, pnl in (("a", 100.0), ("b", -50.0), ("c", 25.0), ("b", -50.0)):
        await manager.record_trade_result(position_id, pnl, 60)  # "b" twice counts once
    await manager.add_trade_result("MNQ", -25.0)
    metrics = await manager.get_risk_metrics()
    assert metrics["daily_trades"] == 3
    assert metrics["daily_loss"] == 75.0
    assert metrics["win_rate"] == 2 / 4
    assert metrics["profit_factor"] == 125.0 / 75.0
    assert metrics["max_drawdown"] == 50.0  # equity 100, 50, 75, 50: peak 100 -> 50


async def test_attach_risk_orders_places_a_linked_stop_and_target(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    manager = risk(suite)
    placed: list[Event] = []
    await suite.on(EventType.ORDER_PLACED, placed.append)
    position = await open_position(suite, 0, 2)
    average = Decimal(str(position.averagePrice))
    assert average == P + TICK
    attached = await manager.attach_risk_orders(position)
    bracket = attached["bracket_order"]
    # Default stop: 50 ticks; target at 2R.
    assert attached["stop_loss"] == float(average - 50 * TICK)
    assert attached["take_profit"] == float(average + 2 * 50 * TICK)
    assert bracket.success and bracket.stop_order_id < bracket.target_order_id
    assert [e.data["order_id"] for e in placed[-2:]] == [
        bracket.stop_order_id,
        bracket.target_order_id,
    ]
    stop, target = order_of(suite, bracket.stop_order_id), order_of(suite, bracket.target_order_id)
    assert (stop.type, stop.side, stop.size, stop.stopPrice) == (4, 1, 2, attached["stop_loss"])
    assert (target.type, target.side, target.size) == (1, 1, 2)
    # The Gateway links the target to the stop (native OCO); pxfast links them too.
    gateway = {o.id: o for o in simulator.orders(suite.client.get_account_info().id)}
    assert gateway[bracket.target_order_id].linkedOrderId == bracket.stop_order_id
    assert await suite.orders.get_oco_linked_order(bracket.stop_order_id) == bracket.target_order_id
    # Stop moved by hand, then the target fills: the stop is cancelled, exactly once.
    assert await manager.adjust_stops(position, float(average - 5))
    await until(
        lambda: order_of(suite, bracket.stop_order_id).stopPrice == float(average - 5),
        "the adjusted stop",
    )
    cancels: list[Event] = []
    await suite.on(EventType.ORDER_CANCELLED, cancels.append)
    await move_price(simulator, suite, average + 25)
    await status_becomes(suite, bracket.target_order_id, OrderStatus.FILLED)
    await status_becomes(suite, bracket.stop_order_id, OrderStatus.CANCELLED)
    await until(lambda: not suite.realtime.user.positions, "the position to go flat")
    assert [e.data["order_id"] for e in cancels] == [bracket.stop_order_id]


async def test_a_trailing_stop_follows_the_price(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    manager = risk(suite)
    manager.config.trailing_stop_trigger = Decimal("5")
    manager.config.trailing_stop_distance = Decimal("3")
    position = await open_position(suite, 0, 1)
    average = Decimal(str(position.averagePrice))
    attached = await manager.attach_risk_orders(
        position, stop_loss=float(average - 10), take_profit=float(average + 50), use_trailing=True
    )
    stop_id = attached["bracket_order"].stop_order_id
    await move_price(simulator, suite, average + Decimal("4.75"))  # below the trigger
    await move_price(simulator, suite, average + 6)
    await until(lambda: order_of(suite, stop_id).stopPrice == float(average + 3), "the trail")
    await move_price(simulator, suite, average + 5)  # a pullback never lowers the stop
    await move_price(simulator, suite, average + Decimal("7.5"))
    await until(
        lambda: order_of(suite, stop_id).stopPrice == float(average + Decimal("4.5")),
        "the trail to follow",
    )
    await manager.stop_trailing_stops()
    assert not manager._trailing_stops


async def test_managed_trade_enters_protects_scales_and_closes(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    async with suite.managed_trade(max_risk_amount=100) as trade:
        # Stop 10 points below the market (P): $20 a contract, so $100 buys 5.
        entry = await trade.enter_long(stop_loss=float(P - 10), take_profit=float(P + 20))
        assert entry["size"] == 5 and entry["risk_amount"] == 100.0
        assert entry["entry_order"].status == OrderStatus.FILLED
        stop, target = entry["stop_order"], entry["target_order"]
        assert (stop.stopPrice, stop.size) == (float(P - 10), 5)
        assert (target.limitPrice, target.size) == (float(P + 20), 5)
        assert await suite.orders.get_oco_linked_order(stop.id) == target.id
        assert trade.is_filled() and await trade.wait_for_fill(timeout=1)
        with pytest.raises(ValueError, match="Scale-in is disabled"):
            await trade.scale_in(1)
        risk(suite).config.scale_in_enabled = True
        added = await trade.scale_in(2, new_stop_loss=float(P - 8))
        assert (added["new_position_size"], added["stop_adjusted"]) == (7, True)
        stop_now = order_of(suite, stop.id)
        assert (stop_now.size, stop_now.stopPrice, order_of(suite, target.id).size) == (
            7,
            float(P - 8),
            7,
        )
        out = await trade.scale_out(4)
        assert out["remaining_size"] == 3
        assert (order_of(suite, stop.id).size, order_of(suite, target.id).size) == (3, 3)
        summary = await trade.get_trade_summary()
        assert summary["status"] == "open" and summary["position"].size == 3
        closed = await trade.close_position()
        assert closed is not None and sorted(closed["orders_cancelled"]) == [stop.id, target.id]
        assert closed["closed_size"] == 3
    await until(lambda: not suite.realtime.user.positions, "the position to go flat")
    assert not suite.orders.orders.working_ids()


async def test_managed_limit_entry_is_protected_as_it_fills(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    async with suite.managed_trade() as trade:
        entry = await trade.enter_long(
            entry_price=float(P - 5),
            stop_loss=float(P - 15),
            take_profit=float(P + 10),
            size=3,
            order_type=OrderType.LIMIT,
        )
        entry_id = entry["entry_order"].id
        assert entry["stop_order"] is None  # nothing to protect before a fill
        simulator.fill(entry_id, size=1)
        await until(lambda: trade._stop_id is not None, "protection after the first fill")
        simulator.fill(entry_id)
        await status_becomes(suite, entry_id, OrderStatus.FILLED)
        await until(lambda: order_of(suite, trade._stop_id).size == 3, "the stop to grow")
        stop, target = order_of(suite, trade._stop_id), order_of(suite, trade._target_id)
        assert (stop.stopPrice, target.limitPrice, target.size) == (float(P - 15), float(P + 10), 3)
        assert len(suite.orders.orders.working_ids()) == 2  # one stop, one target
        await trade.emergency_exit()
    await until(lambda: not suite.realtime.user.positions, "the position to go flat")


async def test_managed_trade_flattens_an_unprotected_position(suite: TradingSuite) -> None:
    risk(suite).config.use_stop_loss = False
    async with suite.managed_trade() as trade:
        entry = await trade.enter_short(size=1)
        assert entry["stop_order"] is None and entry["position"].size == 1
    await until(lambda: not suite.realtime.user.positions, "the flatten on exit")


async def test_managed_trade_needs_the_risk_manager(simulator: GatewaySimulator) -> None:
    async with running_suite(simulator, user="bob") as plain:
        with pytest.raises(ValueError, match="risk_manager"):
            plain.managed_trade()


async def test_the_native_link_survives_the_client_side_link(suite: TradingSuite) -> None:
    position = await open_position(suite, 0, 1)
    attached = await risk(suite).attach_risk_orders(position)
    bracket = attached["bracket_order"]
    assert order_of(suite, bracket.target_order_id).linkedOrderId == bracket.stop_order_id
    assert suite.orders.orders.link_of(bracket.target_order_id) == (bracket.stop_order_id, True)

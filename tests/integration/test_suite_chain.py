"""OrderChainBuilder against the simulator: brackets whose legs behave, priced by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from test_suite_harness import move_price, order_of, running_suite, status_becomes, until

from pxfast.event_bus import Event, EventType
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite
from pxfast.types import OrderStatus, OrderType

P = Decimal("21000")
TICK = Decimal("0.25")

pytestmark = pytest.mark.both_loops


@pytest.fixture
async def suite(simulator: GatewaySimulator) -> AsyncIterator[TradingSuite]:
    async with running_suite(simulator) as running:
        await move_price(simulator, running, P)
        yield running


async def test_market_entry_with_offsets_and_the_target_cancels_the_stop(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    result = await (
        suite.order_chain()
        .market_order(size=2, side=0)
        .with_stop_loss(offset=10)
        .with_take_profit(offset=Decimal("20.5"))
        .execute()
    )
    assert result.success
    await status_becomes(suite, result.stop_order_id, OrderStatus.OPEN)
    await status_becomes(suite, result.target_order_id, OrderStatus.OPEN)
    fill = Decimal(str(order_of(suite, result.entry_order_id).filledPrice))
    assert fill == P + TICK  # a market buy takes the ask
    stop, target = order_of(suite, result.stop_order_id), order_of(suite, result.target_order_id)
    assert (stop.type, stop.side, stop.size) == (OrderType.STOP, 1, 2)
    assert Decimal(str(stop.stopPrice)) == fill - 10
    assert (target.type, target.side, target.size) == (OrderType.LIMIT, 1, 2)
    assert Decimal(str(target.limitPrice)) == fill + Decimal("20.5")
    # The bid reaches the target: it fills and the Gateway cancels the stop.
    await move_price(simulator, suite, fill + Decimal("20.5"))
    await status_becomes(suite, result.target_order_id, OrderStatus.FILLED)
    await status_becomes(suite, result.stop_order_id, OrderStatus.CANCELLED)
    await until(lambda: not suite.realtime.user.positions, "the position to go flat")


async def test_limit_entry_legs_wait_suspended_until_the_entry_fills(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    entry, stop_price, target_price = P - 5, P - 12, P + 9
    result = await (
        suite.order_chain()
        .limit_order(size=1, price=entry, side=0)
        .with_stop_loss(price=stop_price)
        .with_take_profit(price=target_price)
        .execute()
    )
    assert result.main_order_id == result.entry_order_id
    assert order_of(suite, result.stop_order_id).status == OrderStatus.SUSPENDED
    assert order_of(suite, result.target_order_id).status == OrderStatus.SUSPENDED
    await move_price(simulator, suite, entry - TICK)  # ask = entry: the buy fills at its limit
    await status_becomes(suite, result.stop_order_id, OrderStatus.OPEN)
    await status_becomes(suite, result.target_order_id, OrderStatus.OPEN)
    assert order_of(suite, result.entry_order_id).filledPrice == float(entry)
    assert order_of(suite, result.stop_order_id).stopPrice == float(stop_price)
    assert order_of(suite, result.target_order_id).limitPrice == float(target_price)


async def test_stop_entry_brackets_work(simulator: GatewaySimulator, suite: TradingSuite) -> None:
    result = await (
        suite.order_chain()
        .stop_order(size=1, price=P - 5, side=1)
        .with_stop_loss(offset=4)
        .with_take_profit(offset=8)
        .execute()
    )
    entry = order_of(suite, result.entry_order_id)
    assert (entry.type, entry.side, entry.stopPrice) == (OrderType.STOP, 1, float(P - 5))
    await move_price(simulator, suite, P - 5)  # the print reaches the sell stop; it takes the bid
    await status_becomes(suite, result.stop_order_id, OrderStatus.OPEN)
    fill = Decimal(str(order_of(suite, result.entry_order_id).filledPrice))
    assert fill == P - 5
    assert order_of(suite, result.stop_order_id).stopPrice == float(fill + 4)
    assert order_of(suite, result.target_order_id).limitPrice == float(fill - 8)


async def test_a_chain_without_legs_is_a_plain_order(suite: TradingSuite) -> None:
    result = await suite.order_chain().limit_order(1, P - 20, side=0).execute()
    assert result.success and result.stop_order_id is None and result.target_order_id is None
    assert result.entry_price == float(P - 20)
    await status_becomes(suite, result.entry_order_id, OrderStatus.OPEN)
    assert order_of(suite, result.entry_order_id).limitPrice == float(P - 20)


async def test_chain_configuration_errors(suite: TradingSuite) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        suite.order_chain().with_stop_loss()
    with pytest.raises(ValueError, match="size"):
        await suite.order_chain().with_stop_loss(offset=5).execute()
    one_leg = suite.order_chain().market_order(1).with_stop_loss(offset=5)
    with pytest.raises(ValueError, match="take profit"):
        await one_leg.execute()
    assert not suite.orders.orders.ids()  # nothing was sent


async def test_trailing_stop_is_not_placed_before_the_entry_fills(
    suite: TradingSuite,
) -> None:
    builder = (
        suite.order_chain()
        .limit_order(1, P - 10, side=0)
        .with_stop_loss(offset=5)
        .with_take_profit(offset=10)
        .with_trail_stop(offset=3)
    )
    result = await builder.execute()
    swap = builder.trailing_stop_swap
    assert swap is not None and swap.order_id is None
    assert order_of(suite, result.stop_order_id).status == OrderStatus.SUSPENDED
    assert not [o for o in await suite.orders.search_open_orders() if o.type == 5]
    # The entry is cancelled: its legs go with it and the swap is abandoned.
    assert await suite.orders.cancel_order(result.entry_order_id)
    assert await swap.wait(timeout=5) is None
    await status_becomes(suite, result.stop_order_id, OrderStatus.CANCELLED)


async def test_trailing_stop_replaces_the_fixed_stop_once_filled(suite: TradingSuite) -> None:
    warnings: list[Event] = []
    await suite.on(EventType.WARNING, warnings.append)
    builder = (
        suite.order_chain()
        .market_order(1, side=0)
        .with_stop_loss(offset=5)
        .with_take_profit(offset=10)
        .with_trail_stop(offset=3)
    )
    result = await builder.execute()
    assert builder.trailing_stop_swap is not None
    trail_id = await builder.trailing_stop_swap.wait(timeout=5)
    assert not warnings, [w.data for w in warnings]
    assert trail_id is not None
    await status_becomes(suite, result.stop_order_id, OrderStatus.CANCELLED)
    trail = order_of(suite, trail_id)
    assert (trail.type, trail.side, trail.size, trail.status) == (5, 1, 1, OrderStatus.OPEN)
    assert await suite.orders.get_oco_linked_order(trail_id) == result.target_order_id

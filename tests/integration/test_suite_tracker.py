"""OrderTracker on the simulator: fills, cancels, statuses, and the Gateway check on timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from test_suite_harness import move_price, order_of, running_suite, status_becomes, until

from pxfast.event_bus import Event, EventType
from pxfast.exceptions import OrderLifecycleError
from pxfast.order_tracker import OrderTracker, track_order
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


async def test_wait_for_fill_returns_the_filled_order(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    response = await suite.orders.place_limit_order(suite.instrument_id, 0, 2, P - 10)
    async with suite.track_order(response) as tracker:
        assert tracker.order_id == response.orderId
        assert tracker.is_working and not tracker.is_terminal
        # The ask comes down to the limit: the resting buy fills at its own price.
        await move_price(simulator, suite, P - Decimal("10.25"))
        filled = await tracker.wait_for_fill(timeout=5)
    assert filled.id == response.orderId
    assert filled.status == OrderStatus.FILLED
    assert filled.filledPrice == float(P - 10)
    assert filled.fillVolume == 2
    assert tracker.is_filled and tracker.is_terminal and not tracker.is_working


async def test_wait_for_fill_raises_when_the_order_is_cancelled(suite: TradingSuite) -> None:
    response = await suite.orders.place_limit_order(suite.instrument_id, 0, 1, P - 10)
    tracker = suite.track_order(response.orderId)
    assert await suite.orders.cancel_order(response.orderId)
    with pytest.raises(OrderLifecycleError, match="CANCELLED"):
        await tracker.wait_for_fill(timeout=5)
    assert tracker.is_terminal and not tracker.is_filled


async def test_wait_for_status_and_a_fill_timeout(suite: TradingSuite) -> None:
    response = await suite.orders.place_limit_order(suite.instrument_id, 1, 1, P + 10)
    tracker = OrderTracker(suite).track(response)
    opened = await tracker.wait_for_status("OPEN", timeout=5)
    assert opened.status == OrderStatus.OPEN and opened.limitPrice == float(P + 10)
    with pytest.raises(TimeoutError, match=str(response.orderId)):
        await tracker.wait_for_fill(timeout=0.2)
    # A status the order can no longer reach once it ended is a lifecycle error.
    await suite.orders.cancel_order(response.orderId)
    with pytest.raises(OrderLifecycleError):
        await tracker.wait_for_status(OrderStatus.FILLED, timeout=5)


async def test_a_timeout_asks_the_gateway_and_finds_a_fill_the_stream_lost(
    simulator: GatewaySimulator, suite: TradingSuite
) -> None:
    fills: list[Event] = []
    await suite.on(EventType.ORDER_FILLED, fills.append)
    response = await suite.orders.place_limit_order(suite.instrument_id, 0, 1, P - 10)
    await status_becomes(suite, response.orderId, OrderStatus.OPEN)
    assert simulator.freeze_hub_connections("user") == 1
    simulator.fill(response.orderId)  # the fill message is lost with the frozen hub
    filled = await suite.track_order(response).wait_for_fill(timeout=0.3)
    assert filled.status == OrderStatus.FILLED
    assert filled.filledPrice == float(P - 10)
    simulator.thaw_hub_connections("user")
    # Found over REST, the fill still produces its event, once.
    assert [e.data["order_id"] for e in fills] == [response.orderId]


async def test_modify_or_cancel(suite: TradingSuite) -> None:
    response = await suite.orders.place_stop_order(suite.instrument_id, 1, 1, P - 20)
    tracker = suite.track_order(response)
    # new_price goes to the order's own price: a stop price here.
    assert await tracker.modify_or_cancel(new_price=P - 15, new_size=2) is True
    await until(
        lambda: order_of(suite, response.orderId).stopPrice == float(P - 15),
        "the modified stop price",
    )
    assert order_of(suite, response.orderId).size == 2
    current = await tracker.get_current_status()
    assert current is not None and current.stopPrice == float(P - 15)
    # Nothing to change: the order is cancelled.
    assert await tracker.modify_or_cancel() is False
    await status_becomes(suite, response.orderId, OrderStatus.CANCELLED)
    assert tracker.is_terminal


async def test_track_order_helper_is_deprecated_but_tracks(suite: TradingSuite) -> None:
    response = await suite.orders.place_limit_order(suite.instrument_id, 0, 1, P - 10)
    with pytest.deprecated_call():
        tracker = track_order(suite, response)
    assert tracker.order_id == response.orderId
    opened = await tracker.wait_for_status(1, timeout=5)
    assert opened.id == response.orderId
    with pytest.raises(ValueError, match="No order"):
        await OrderTracker(suite).wait_for_fill(timeout=0.1)
    with pytest.raises(TypeError):
        OrderTracker(suite).track("9001")  # type: ignore[arg-type]

"""Brackets on an account that refuses native brackets ("Position Brackets" mode).

pxfast then builds the bracket itself, as project-x-py does: entry, a bounded
wait for its fill read from the Gateway, then a stop and a target linked as
an OCO pair that pxfast enforces.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pxfast.event_bus import Event, EventType
from pxfast.exceptions import ProjectXOrderError
from pxfast.models import ProjectXConfig
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

pytestmark = pytest.mark.both_loops


@pytest.fixture
async def suite(simulator: GatewaySimulator) -> AsyncIterator[TradingSuite]:
    config = ProjectXConfig(
        api_url=simulator.api_url,
        user_hub_url=simulator.user_hub_url,
        market_hub_url=simulator.market_hub_url,
    )
    suite = await TradingSuite.create(
        "MNQ",
        username="alice",
        api_key="0123456789abcdef",
        client_config=config,
        initial_days=1,
        order_manager_config={"bracket_fill_timeout": 2.0},
    )
    simulator.set_bracket_mode(suite.client.get_account_info().id, "position")
    yield suite
    await suite.disconnect()


async def _status(suite: TradingSuite, order_id: int | None, status: int) -> None:
    assert order_id is not None
    for _ in range(500):
        if suite.orders.orders.status(order_id) == status:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"order {order_id} never reached status {status}")


async def test_client_side_bracket_anchors_legs_on_the_fill(
    suite: TradingSuite, simulator: GatewaySimulator
) -> None:
    simulator.set_price("MNQ", "21000")
    events: list[Event] = []
    for kind in (EventType.ORDER_FILLED, EventType.ORDER_CANCELLED):
        await suite.on(kind, events.append)
    placing = asyncio.create_task(
        suite.orders.place_bracket_order(
            "MNQ", 0, 1, entry_price=Decimal("20990"), stop_offset=10, target_offset=20
        )
    )
    await asyncio.sleep(0.2)
    simulator.set_price("MNQ", "20989.75")  # the buy limit at 20990 fills
    bracket = await asyncio.wait_for(placing, 10)
    account = suite.client.get_account_info().id
    legs = {o.id: o for o in simulator.orders(account)}
    stop, target = legs[bracket.stop_order_id or 0], legs[bracket.target_order_id or 0]
    assert (stop.type, stop.side, stop.stopPrice) == (4, 1, 20980.0)
    assert (target.type, target.side, target.limitPrice) == (1, 1, 21010.0)
    assert bracket.entry_response is not None and bracket.stop_response is not None
    simulator.set_price("MNQ", "21010")
    await _status(suite, bracket.target_order_id, 2)
    await _status(suite, bracket.stop_order_id, 3)  # pxfast cancelled the partner
    roles = [(e.type, e.data.get("bracket_role")) for e in events]
    assert roles == [
        (EventType.ORDER_FILLED, "entry"),
        (EventType.ORDER_FILLED, "target"),
        (EventType.ORDER_CANCELLED, "stop"),
    ]
    assert await suite.positions.get_position("MNQ") is None
    # Flat: the finished bracket is no longer tracked (a long session would pile them up).
    manager = suite.orders
    for _ in range(500):
        if not manager.order_to_position:
            break
        await asyncio.sleep(0.01)
    assert manager.order_to_position == {}
    assert not any(manager.position_orders.get(suite.instrument_id, {}).values())
    assert not manager._cancelled_partners


async def test_client_side_bracket_entry_that_never_fills_is_cancelled(
    suite: TradingSuite, simulator: GatewaySimulator
) -> None:
    simulator.set_price("MNQ", "21000")
    with pytest.raises(ProjectXOrderError, match="did not fill within timeout"):
        await suite.orders.place_bracket_order(
            "MNQ", 0, 1, entry_price=Decimal("20900"), stop_offset=10, target_offset=20
        )
    account = suite.client.get_account_info().id
    # The native attempt was refused (the Gateway still allocates an id), then the
    # client-side entry rested until the wait ran out and was cancelled.
    assert [(o.status, o.limitPrice) for o in simulator.orders(account)] == [
        (5, 20900.0),
        (3, 20900.0),
    ]


async def test_pruned_orders_leave_the_managers_bookkeeping(suite: TradingSuite) -> None:
    """Past the reconciliation window the stream forgets finished orders; the order
    manager then forgets them too, so a position held for days does not keep (and later
    try to cancel) every exit it ever had."""
    manager = suite.orders
    below = await manager.place_limit_order("MNQ", 0, 1, Decimal("15000"))
    above = await manager.place_limit_order("MNQ", 1, 1, Decimal("25000"))
    await _status(suite, below.orderId, 1)
    await _status(suite, above.orderId, 1)
    await manager.track_order_for_position(suite.instrument_id, below.orderId, "stop")
    await manager.track_order_for_position(suite.instrument_id, above.orderId, "target")
    await manager.track_oco_pair(str(below.orderId), str(above.orderId))
    assert await manager.cancel_order(below.orderId)
    await _status(suite, below.orderId, 3)
    later = datetime.now(UTC) + suite.realtime.user.window + timedelta(hours=2)
    assert suite.realtime.user.prune(later) == 1
    assert below.orderId not in manager.orders
    assert set(manager.order_to_position) == {above.orderId}
    assert not manager.oco_groups and not manager.oco_pairs

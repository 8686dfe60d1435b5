"""Order-API bugs the guide and compat runs exposed, pinned at their smallest.

* ORDER_PLACED came after the order's own fill when the user hub beat the
  REST reply, so the guide's S20 handler kept a filled order "active"
  forever.  It now precedes every later event of the order.
* On a multi-instrument suite only the last instrument's OrderManager saw
  order transitions (the user stream has one hook), so another instrument's
  fills were counted, and its OCO partners handled, by the wrong manager.
"""

from __future__ import annotations

from typing import Any

import pytest
from guide_harness import GuideHarness

from pxfast.event_bus import EventType
from pxfast.trading_suite import TradingSuite

pytestmark = pytest.mark.both_loops


async def test_order_placed_precedes_the_fill(harness: GuideHarness) -> None:
    suite = await TradingSuite.create("MNQ")
    seen: list[tuple[str, int]] = []

    def record(event: Any) -> None:
        seen.append((event.type.value, event.data["order_id"]))

    for kind in (EventType.ORDER_PLACED, EventType.ORDER_FILLED):
        await suite.on(kind, record)
    for _ in range(5):
        placed = await suite.orders.place_market_order("MNQ", 0, 1)
        await harness.settle()
        mine = [kind for kind, order_id in seen if order_id == placed.order_id]
        assert mine == ["order_placed", "order_filled"]
    stats = suite.orders.get_order_statistics()
    assert stats["orders_placed"] == 5 and stats["orders_filled"] == 5
    assert len(suite.orders._placed_at) == 0  # every fill time was taken, none left over


async def test_each_instrument_manager_sees_its_own_orders(harness: GuideHarness) -> None:
    harness.gw.set_price("MES", "6000")
    suite = await TradingSuite.create(["MNQ", "MES"])
    mnq, mes = suite["MNQ"].orders, suite["MES"].orders
    await mnq.place_market_order("MNQ", 0, 1)
    await mes.place_market_order("MES", 1, 2)
    await mes.place_market_order("MES", 0, 2)
    await harness.settle()
    assert mnq.get_order_statistics()["orders_filled"] == 1
    assert mes.get_order_statistics()["orders_filled"] == 2

    # A client-side OCO pair on the first instrument: a fill cancels the partner once.
    first = await mnq.place_limit_order("MNQ", 1, 1, 21050)
    second = await mnq.place_stop_order("MNQ", 1, 1, 20950)
    await mnq.track_oco_pair(str(first.order_id), str(second.order_id))
    harness.set_price("21050")
    await harness.settle()
    assert harness.sim_order(second.order_id).status == 3
    assert mnq.oco_groups == {}  # unlinked by the manager that linked them
    cancels = [b for b in harness.mutations("order/cancel") if b["orderId"] == second.order_id]
    assert len(cancels) == 1

"""Every snippet of the Order Management Guide, in order, run as written against the simulator.

Each test executes the guide's own code (see ``guide_harness.py`` for what the
harness adds), then checks what the snippet claims on both sides of the
wire: what it printed, and what the simulator holds — order types, sides,
sizes, resolved contract ids and tick-aligned prices, fills, cancels and
positions.  The market starts at bid 21000 / ask 21000.25 (last 21000), so
every expected price below is a hand computation from there.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from guide_harness import GuideHarness

from pxfast import order_templates
from pxfast.event_bus import EventType
from pxfast.exceptions import (
    ProjectXOrderError,
    ProjectXRiskViolationError,
)
from pxfast.order_manager import OrderManager
from pxfast.sim import GatewaySimulator
from pxfast.types import OrderSide, OrderStatus, OrderType

pytestmark = pytest.mark.both_loops

MARKET, LIMIT, STOP = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP
BUY, SELL = OrderSide.BUY, OrderSide.SELL
OPEN, FILLED, CANCELLED, SUSPENDED = (
    OrderStatus.OPEN,
    OrderStatus.FILLED,
    OrderStatus.CANCELLED,
    OrderStatus.SUSPENDED,
)


def mnq(gw: GatewaySimulator) -> str:
    return gw.contract_id("MNQ")


def shape(order: Any) -> tuple[Any, ...]:
    """What a snippet decides about an order: contract, type, side, size, prices."""
    return (
        order.contractId,
        order.type,
        order.side,
        order.size,
        order.limitPrice,
        order.stopPrice,
    )


def lines(out: str) -> list[str]:
    return out.splitlines()


# -- S1 basic setup ----------------------------------------------------------------------


async def test_s1_basic_setup(harness: GuideHarness, capsys: pytest.CaptureFixture[str]) -> None:
    ns = harness.namespace(1)
    await harness.run(ns["main"]())
    assert lines(capsys.readouterr().out) == ["Tick size: $0.25"]
    suite = harness.suite
    assert isinstance(suite.orders, OrderManager)
    assert suite.instrument_info.id == mnq(harness.gw)
    assert harness.mutations() == []
    harness.assert_no_handler_errors()


# -- S2 market orders --------------------------------------------------------------------


async def test_s2_market_order(harness: GuideHarness, capsys: pytest.CaptureFixture[str]) -> None:
    ns = harness.namespace(1, 2)
    await harness.run(ns["place_market_order"]())
    (order,) = harness.sim_orders()
    assert shape(order) == (mnq(harness.gw), MARKET, BUY, 1, None, None)
    assert order.status == FILLED and order.filledPrice == 21000.25
    assert lines(capsys.readouterr().out) == [
        f"Market order placed: {order.id}",
        "Status: PENDING",  # the response's snapshot at placement
        "Final status: FILLED",
    ]
    assert harness.gw.account_state(harness.account_id).positions == {
        mnq(harness.gw): (1, 21000.25)
    }
    assert not harness.suite.is_connected  # the snippet disconnects in its finally
    harness.assert_no_handler_errors()


# -- S3 limit orders ---------------------------------------------------------------------


async def test_s3_limit_order_polled_until_filled(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    async def trade_through_the_limit() -> None:
        harness.set_price("20974.75")  # ask 20975: the buy limit at 20975 fills

    harness.drive(trade_through_the_limit)
    ns = harness.namespace(1, 3)
    await harness.run(ns["place_limit_order"]())
    (order,) = harness.sim_orders()
    assert shape(order) == (mnq(harness.gw), LIMIT, BUY, 1, 20975.0, None)
    assert order.status == FILLED and order.filledPrice == 20975.0
    assert lines(capsys.readouterr().out) == [
        "Limit order placed at $20975.0",
        f"Order ID: {order.id}",
        "Status: OPEN",
        "Status: FILLED",
    ]
    assert harness.sleeps == [5]
    harness.assert_no_handler_errors()


# -- S4 stop orders ----------------------------------------------------------------------


async def test_s4_stop_orders(harness: GuideHarness, capsys: pytest.CaptureFixture[str]) -> None:
    ns = harness.namespace(1, 4)
    await harness.run(ns["place_stop_order"]())
    protective, breakout = harness.sim_orders()
    assert shape(protective) == (mnq(harness.gw), STOP, SELL, 1, None, 20950.0)
    assert shape(breakout) == (mnq(harness.gw), STOP, BUY, 1, None, 21030.0)
    assert protective.status == OPEN and breakout.status == OPEN
    assert lines(capsys.readouterr().out) == [
        "Stop order placed at $20950.0",
        "Breakout order placed at $21030.0",
    ]
    # The breakout triggers when the market trades up through it.
    harness.set_price("21030")
    await harness.settle()
    assert harness.sim_order(breakout.id).status == FILLED
    assert harness.sim_order(protective.id).status == OPEN
    harness.assert_no_handler_errors()


# -- S5 OCO ------------------------------------------------------------------------------


async def test_s5_oco_fill_cancels_the_partner(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = harness.namespace(1, 5)
    await harness.run(ns["place_oco_order"]())
    target, stop = harness.sim_orders()
    assert shape(target) == (mnq(harness.gw), LIMIT, SELL, 1, 21075.0, None)
    assert shape(stop) == (mnq(harness.gw), STOP, SELL, 1, None, 20950.0)
    out = lines(capsys.readouterr().out)
    assert out[0] == "OCO placed: Target $21075.0, Stop $20950.0"
    assert out[1].startswith("OCO Group ID: ") and out[1] != "OCO Group ID: None"
    assert out[2:] == [f"Target Order: {target.id}", f"Stop Order: {stop.id}"]
    (second_place,) = [b for b in harness.mutations("order/place") if b["type"] == STOP]
    assert second_place["linkedOrderId"] == target.id  # the Gateway's native link

    harness.set_price("21075")  # bid 21075: the sell limit fills
    await harness.settle()
    assert harness.sim_order(target.id).status == FILLED
    assert harness.sim_order(stop.id).status == CANCELLED
    suite = harness.suite
    assert await suite.orders.get_order_status(stop.id) == "CANCELLED"
    cancelled = [d["order_id"] for d in harness.events_of(EventType.ORDER_CANCELLED)]
    assert cancelled == [stop.id]  # exactly once, whoever cancelled it
    assert harness.events_of(EventType.WARNING) == []
    harness.assert_no_handler_errors()


# -- S6 brackets -------------------------------------------------------------------------


async def test_s6_bracket_monitored_to_take_profit(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    legs: list[tuple[str, str]] = []

    async def record_legs() -> None:
        orders = harness.suite.orders
        stop_id, target_id = (o.id for o in harness.sim_orders()[1:])
        statuses = [await orders.get_order_status(i) for i in (stop_id, target_id)]
        legs.append((str(statuses[0]), str(statuses[1])))

    async def fill_entry() -> None:
        await record_legs()
        harness.set_price("20989.75")  # ask 20990: the buy limit entry fills

    async def reach_target() -> None:
        await record_legs()
        harness.set_price("21070")  # bid 21070: the take-profit fills

    harness.drive(fill_entry, reach_target)
    ns = harness.namespace(1, 6)
    await harness.run(ns["place_bracket_order"]())

    entry, stop, target = harness.sim_orders()
    assert shape(entry) == (mnq(harness.gw), LIMIT, BUY, 1, 20990.0, None)
    assert shape(stop) == (mnq(harness.gw), STOP, SELL, 1, None, 20950.0)  # fill - 40
    assert shape(target) == (mnq(harness.gw), LIMIT, SELL, 1, 21070.0, None)  # fill + 80
    assert (entry.status, stop.status, target.status) == (FILLED, CANCELLED, FILLED)
    assert lines(capsys.readouterr().out) == [
        "Bracket order placed:",
        f"  Entry: {entry.id}",
        f"  Stop Loss: {stop.id}",
        f"  Take Profit: {target.id}",
        "Entry order: OPEN",
        "Entry order: FILLED",
        "Entry filled! Monitoring exit orders...",
        "Take profit hit!",
    ]
    # The legs report SUSPENDED until the entry fills, then OPEN, then FILLED/CANCELLED.
    await record_legs()
    assert legs == [("SUSPENDED", "SUSPENDED"), ("OPEN", "OPEN"), ("CANCELLED", "FILLED")]
    assert harness.gw.account_state(harness.account_id).positions == {}
    harness.assert_no_handler_errors()


# -- S7 real-time tracking ---------------------------------------------------------------


async def test_s7_events_and_polling(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = harness.namespace(1, 7)
    await harness.run(ns["setup_order_tracking"]())
    (order,) = harness.sim_orders()
    assert shape(order) == (mnq(harness.gw), MARKET, BUY, 1, None, None)
    out = lines(capsys.readouterr().out)
    # The fill may reach the handlers before place_market_order returns.
    out.remove(f"Tracking order: {order.id}")
    filled_lines = [
        f"Order {order.id} status: FILLED",
        "  Filled at $21000.25",
        "  Quantity: 1",
    ]
    # ORDER_UPDATED for each change (PENDING, then FILLED), and ORDER_FILLED once.
    assert out == [f"Order {order.id} status: PENDING", *filled_lines, *filled_lines]
    (filled,) = harness.events_of(EventType.ORDER_FILLED)
    assert filled["order_id"] == order.id and filled["status"] == "FILLED"
    assert filled["fill_price"] == 21000.25 and filled["filled_quantity"] == 1
    assert filled["order"].filledPrice == 21000.25  # project-x-py's own keys stay
    assert filled["new_status"] == 2 and "old_status" in filled
    assert harness.sleeps == [30]

    # The polling alternative, on the same suite and order.
    await harness.run(ns["poll_order_status"](harness.suite, order.id))
    out = lines(capsys.readouterr().out)
    assert out[0] == f"Order {order.id}: FILLED"
    assert out[1].startswith(f"Final details: Order(id={order.id}, ")
    harness.assert_no_handler_errors()


# -- S8 order history --------------------------------------------------------------------


async def test_s8_order_history(harness: GuideHarness, capsys: pytest.CaptureFixture[str]) -> None:
    # History to analyse: a filled market order, a cancelled and a working limit.
    ns = harness.namespace(1)
    seeder = await ns["TradingSuite"].create("MNQ")
    filled = await seeder.orders.place_market_order("MNQ", 0, 1)
    cancelled = await seeder.orders.place_limit_order("MNQ", 0, 1, Decimal("20900"))
    await seeder.orders.cancel_order(cancelled.order_id)
    working = await seeder.orders.place_limit_order("MNQ", 0, 1, Decimal("20800"))
    await harness.settle()

    ns = harness.namespace(1, 8)
    await harness.run(ns["analyze_order_history"]())
    out = lines(capsys.readouterr().out)
    assert out[0] == "Found 2 recent orders"
    assert out[1].startswith("Average fill time: ") and out[1].endswith(" seconds")
    assert float(out[1].split()[3]) >= 0
    assert out[2:] == ["Orders in last 24h: 3"]

    # The same filters, read back through the suite the snippet created.
    orders = harness.suites[-1].orders
    history = await orders.get_orders(limit=50, status_filter=["FILLED", "CANCELLED"])
    assert [o.id for o in history] == [cancelled.order_id, filled.order_id]  # newest first
    assert [o.status for o in history] == ["CANCELLED", "FILLED"]
    (only_filled,) = await orders.get_orders(status_filter=["FILLED"])
    assert only_filled.filled_time is not None and only_filled.created_time is not None
    assert only_filled.filled_time >= only_filled.created_time
    assert [o.id for o in await orders.get_orders(limit=1)] == [working.order_id]
    harness.assert_no_handler_errors()


# -- S9 modify ---------------------------------------------------------------------------


async def test_s9_modify_price_and_size(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = harness.namespace(1, 9)
    await harness.run(ns["modify_orders"]())
    (order,) = harness.sim_orders()
    assert shape(order) == (mnq(harness.gw), LIMIT, BUY, 3, 20975.0, None)
    assert order.status == OPEN
    account = harness.account_id
    assert harness.mutations("order/modify") == [
        {"accountId": account, "orderId": order.id, "limitPrice": 20975.0, "size": 2},
        {"accountId": account, "orderId": order.id, "size": 3},
    ]
    assert lines(capsys.readouterr().out) == [
        "Initial order at $20950.0",
        "Order modified to $20975.0, size: 2",
    ]
    modified = harness.events_of(EventType.ORDER_MODIFIED)
    assert [m["order_id"] for m in modified] == [order.id, order.id]
    harness.assert_no_handler_errors()


# -- S10 cancel --------------------------------------------------------------------------


async def test_s10_cancel_one_many_all(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = harness.namespace(1, 10)
    await harness.run(ns["cancel_orders"]())
    await harness.settle()
    orders = harness.sim_orders()
    assert [shape(o) for o in orders] == [
        (mnq(harness.gw), LIMIT, BUY, 1, price, None) for price in (20990.0, 20980.0, 20970.0)
    ]
    assert [o.status for o in orders] == [CANCELLED] * 3
    ids = [o.id for o in orders]
    # One cancel each; cancel_all_orders found nothing left to cancel.
    assert [b["orderId"] for b in harness.mutations("order/cancel")] == ids
    assert sorted(d["order_id"] for d in harness.events_of(EventType.ORDER_CANCELLED)) == ids
    assert lines(capsys.readouterr().out) == [
        "Placed 3 orders",
        "Cancelled first order",
        "Cancelled remaining orders",
        "All orders cancelled",
    ]
    harness.assert_no_handler_errors()


# -- S11 templates -----------------------------------------------------------------------


async def test_s11_template_places_a_bracket(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = harness.namespace(1, 11)
    await harness.run(ns["use_order_templates"]())
    entry, stop, target = harness.sim_orders()
    assert lines(capsys.readouterr().out) == [f"Template order placed: {entry.id}"]
    # Entry 5 points below the reference (21000), stop 15 below and target 25 above it.
    assert shape(entry) == (mnq(harness.gw), LIMIT, BUY, 2, 20995.0, None)
    assert (stop.type, stop.side, stop.size, stop.status) == (STOP, SELL, 2, SUSPENDED)
    assert (target.type, target.side, target.size, target.status) == (LIMIT, SELL, 2, SUSPENDED)

    harness.set_price("20994.75")  # ask 20995: the entry fills
    await harness.settle()
    stop, target = harness.sim_order(stop.id), harness.sim_order(target.id)
    assert (stop.status, stop.stopPrice) == (OPEN, 20980.0)
    assert (target.status, target.limitPrice) == (OPEN, 21020.0)
    assert ns["OrderTemplate"] is order_templates.OrderTemplate  # one class, two paths
    harness.assert_no_handler_errors()


# -- S12 position-based orders -----------------------------------------------------------


async def _open_position(harness: GuideHarness, side: int, size: int) -> None:
    """A position opened before the snippet runs (by another session of the same account)."""
    seeder = await harness.namespace(1)["TradingSuite"].create("MNQ")
    await seeder.orders.place_market_order("MNQ", side, size)
    await harness.settle()
    await seeder.disconnect()


async def test_s12_long_position_gets_a_protective_stop(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    await _open_position(harness, BUY, 2)  # long 2 at 21000.25
    ns = harness.namespace(1, 12)
    await harness.run(ns["position_based_orders"]())
    _, stop = harness.sim_orders()
    assert shape(stop) == (mnq(harness.gw), STOP, SELL, 2, None, 20925.0)
    assert stop.status == OPEN
    assert lines(capsys.readouterr().out) == [
        "Long position: 2 contracts",
        f"Protective stop placed: {stop.id}",
    ]
    harness.assert_no_handler_errors()


async def test_s12_short_position_is_refused_the_long_branch_stop(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    """``Position.size`` is never negative (project-x-py semantics), so the guide's
    long branch runs for a short too; the exit stop is validated against the live
    position, and a buy stop *below* a short's entry is refused before sending."""
    await _open_position(harness, SELL, 3)  # short 3 at 21000
    sent = len(harness.mutations())
    ns = harness.namespace(1, 12)
    with pytest.raises(ProjectXOrderError, match=r"must be above entry price .* short position"):
        await harness.run(ns["position_based_orders"]())
    assert lines(capsys.readouterr().out) == ["Long position: 3 contracts"]
    assert len(harness.mutations()) == sent  # nothing was sent
    assert len(harness.sim_orders()) == 1
    harness.assert_no_handler_errors()


async def test_s12_flat_places_a_market_bracket(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = harness.namespace(1, 12)
    await harness.run(ns["position_based_orders"]())
    await harness.settle()
    entry, stop, target = harness.sim_orders()
    assert shape(entry) == (mnq(harness.gw), MARKET, BUY, 1, None, None)
    assert (entry.status, entry.filledPrice) == (FILLED, 21000.25)
    # Offsets anchor on the actual fill: 50 below and 100 above 21000.25.
    assert shape(stop) == (mnq(harness.gw), STOP, SELL, 1, None, 20950.25)
    assert shape(target) == (mnq(harness.gw), LIMIT, SELL, 1, 21100.25, None)
    assert stop.status == OPEN and target.status == OPEN
    assert lines(capsys.readouterr().out) == ["No position - placing new entry order"]
    harness.assert_no_handler_errors()


# -- S13 error handling ------------------------------------------------------------------


async def test_s13_bracket_placed(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = harness.namespace(1, 13)
    await harness.run(ns["robust_order_placement"]())
    entry, _, _ = harness.sim_orders()
    assert entry.type == MARKET and entry.status == FILLED
    assert lines(capsys.readouterr().out) == [f"Order placed successfully: {entry.id}"]
    harness.assert_no_handler_errors()


async def test_s13_insufficient_margin_is_its_own_class(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.gw.set_balance(harness.account_id, 10)
    ns = harness.namespace(1, 13)
    await harness.run(ns["robust_order_placement"]())
    (rejected,) = harness.sim_orders()
    assert rejected.status == OrderStatus.REJECTED
    assert lines(capsys.readouterr().out) == ["Insufficient margin: Insufficient funds."]


async def test_s13_rate_limited_place_is_an_order_error_and_not_resent(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.gw.faults.fail_requests("Order/place", status=429)
    ns = harness.namespace(1, 13)
    await harness.run(ns["robust_order_placement"]())
    out = lines(capsys.readouterr().out)
    # OrderRateLimitedError is both; the guide's ProjectXOrderError clause comes first.
    assert len(out) == 1 and out[0].startswith("Order error: "), out
    assert len(harness.mutations("order/place")) == 1
    assert harness.sim_orders() == []


# -- S14 automatic retry -----------------------------------------------------------------


async def test_s14_retry_after_an_accepted_place_does_not_duplicate(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.gw.faults.fail_after_accept("Order/place", status=500)
    ns = harness.namespace(1, 14)
    await harness.run(ns["demonstrate_error_recovery"]())
    (order,) = harness.sim_orders()  # accepted once, answered 500, never resent
    assert shape(order) == (mnq(harness.gw), MARKET, BUY, 1, None, None)
    assert len(harness.mutations("order/place")) == 1
    assert lines(capsys.readouterr().out) == [f"Order placed with auto-retry: {order.id}"]
    harness.assert_no_handler_errors()


async def test_s14_retry_resends_a_refused_place_once(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.gw.faults.fail_requests("Order/place", status=503)  # refused, not processed
    ns = harness.namespace(1, 14)
    await harness.run(ns["demonstrate_error_recovery"]())
    (order,) = harness.sim_orders()
    first, second = harness.mutations("order/place")
    assert first == second  # the same request, same customTag, sent again
    assert lines(capsys.readouterr().out) == [f"Order placed with auto-retry: {order.id}"]
    harness.assert_no_handler_errors()


# -- S15 concurrency ---------------------------------------------------------------------


async def test_s15_concurrent_limits(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = harness.namespace(1, 15)
    await harness.run(ns["concurrent_operations"]())
    by_price = {o.limitPrice: o for o in harness.sim_orders()}
    prices = [21000.0 - 10 * (i + 1) for i in range(5)]
    assert sorted(by_price) == sorted(prices)
    for price, order in by_price.items():
        assert shape(order) == (mnq(harness.gw), LIMIT, BUY, 1, price, None)
    ids = [by_price[p].id for p in prices]
    assert lines(capsys.readouterr().out) == [
        *(f"Order {i} placed: {order_id}" for i, order_id in enumerate(ids)),
        "Successfully placed 5 orders",
        *(f"Order {order_id}: OPEN" for order_id in ids),
    ]
    harness.assert_no_handler_errors()


# -- S16 batch ---------------------------------------------------------------------------


async def test_s16_batch_calls_answer_per_id(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = harness.namespace(1, 16)
    await harness.run(ns["batch_operations"]())
    out = lines(capsys.readouterr().out)
    names = ["order1", "order2", "order3"]
    assert [line.split(":")[0] for line in out[:3]] == [f"Failed to cancel {n}" for n in names]
    assert all("not an integer" in line for line in out[:3]), out
    assert out[3:] == [f"Order {n}: None" for n in names]
    assert harness.mutations() == []  # invalid ids never reach the Gateway

    # Harness addition: the same calls on real ids, a string id and unknown ones.
    orders = harness.suite.orders
    first = await orders.place_limit_order("MNQ", 0, 1, Decimal("20900"))
    second = await orders.place_limit_order("MNQ", 0, 1, Decimal("20890"))
    ids: list[Any] = [first.order_id, str(second.order_id), "order3", 999_999]
    results = await orders.batch_cancel_orders(ids)
    assert list(results) == ids
    assert results[first.order_id] == {"success": True, "error": None}
    assert results[str(second.order_id)] == {"success": True, "error": None}
    assert results["order3"]["success"] is False and results["order3"]["error"]
    assert results[999_999]["success"] is False and results[999_999]["error"]
    statuses = await orders.batch_get_status(ids)
    assert statuses == {
        first.order_id: CANCELLED,
        str(second.order_id): CANCELLED,
        "order3": None,
        999_999: None,
    }
    assert [o.status for o in harness.sim_orders()] == [CANCELLED, CANCELLED]
    harness.assert_no_handler_errors()


# -- S17 position sizing -----------------------------------------------------------------


async def test_s17_position_size_from_risk(harness: GuideHarness) -> None:
    ns = harness.namespace(1, 17)
    suite = await ns["TradingSuite"].create("MNQ")
    size = ns["calculate_position_size"]
    # 1% of 50,000 = 500 at risk; 50 points * $2/point (MNQ's contractSize) = 100 a contract.
    assert await harness.run(size(suite, Decimal("21000"), Decimal("20950"))) == 5
    assert await harness.run(size(suite, Decimal("21000"), Decimal("20000"))) == 1  # floor 1
    assert await harness.run(size(suite, Decimal("21000"), Decimal("20975"), 0.02)) == 20
    assert harness.mutations() == []


# -- S18 price precision -----------------------------------------------------------------


async def test_s18_user_alignment_agrees_with_the_library(harness: GuideHarness) -> None:
    ns = harness.namespace(1)
    # Guide defect (§4.2): the usage lines await at top level on an undefined ``suite``.
    ns["suite"] = suite = await ns["TradingSuite"].create("MNQ")
    await harness.run_block(18, ns)
    assert ns["aligned_price"] == Decimal("20975")
    align = ns["align_to_tick_size"]
    tick = Decimal("0.25")
    for raw, expected in (
        ("20052.17", "20052.25"),
        ("20052.125", "20052.25"),  # a tie: half away from zero, in both
        ("20052.375", "20052.5"),
        ("20052.625", "20052.75"),
        ("5000.1249999", "5000"),
    ):
        assert await align(Decimal(raw), tick) == Decimal(expected), raw
        placed = await suite.orders.place_limit_order("MNQ", 0, 1, Decimal(raw))
        assert harness.sim_order(placed.order_id).limitPrice == float(expected), raw


# -- S19 order validation ----------------------------------------------------------------


async def test_s19_validation_helper(harness: GuideHarness) -> None:
    ns = harness.namespace(1, 19)
    suite = await ns["TradingSuite"].create("MNQ", features=["risk_manager"])
    validate = ns["validate_order_before_placement"]
    assert await harness.run(validate(suite, "MNQ", 0, 1, Decimal("21000.25"))) is True
    assert await harness.run(validate(suite, mnq(harness.gw), 1, 2)) is True
    with pytest.raises(ValueError, match="Order size must be positive"):
        await harness.run(validate(suite, "MNQ", 0, 0))
    with pytest.raises(ValueError, match=r"not aligned to tick size 0\.25"):
        await harness.run(validate(suite, "MNQ", 0, 1, Decimal("21000.10")))

    await suite.orders.place_market_order("MNQ", 0, 8)  # long 8: the limit (10) is near
    await harness.settle()
    assert await harness.run(validate(suite, "MNQ", 1, 3)) is True  # 8 - 3
    with pytest.raises(ValueError, match="New position 11 exceeds limit 10"):
        await harness.run(validate(suite, "MNQ", 0, 3))


# -- S20 event-driven management ---------------------------------------------------------


async def test_s20_event_handler_follows_a_bracket(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = harness.namespace(1, 7, 20)  # S7 imported EventType for the rest of the guide
    handler_class = ns["OrderEventHandler"]
    cancelled: list[int] = []

    # Guide defect (§4.2): setup_event_handlers registers two methods the class lacks.
    async def on_order_cancelled(self: Any, event: Any) -> None:
        cancelled.append(event.data["order_id"])

    async def on_order_rejected(self: Any, event: Any) -> None:
        raise AssertionError(f"unexpected rejection: {event.data}")

    handler_class.on_order_cancelled = on_order_cancelled
    handler_class.on_order_rejected = on_order_rejected

    async def reach_target() -> None:
        harness.set_price("21100.25")  # bid 21100.25: the take-profit fills

    harness.drive(reach_target)
    await harness.run(ns["run_with_event_handling"]())
    entry, stop, target = harness.sim_orders()
    assert (entry.type, entry.status, entry.filledPrice) == (MARKET, FILLED, 21000.25)
    assert (target.status, target.filledPrice) == (FILLED, 21100.25)
    assert stop.status == CANCELLED and cancelled == [stop.id]
    entry_filled, target_filled = harness.events_of(EventType.ORDER_FILLED)
    group = entry_filled["bracket_group_id"]
    assert target_filled["bracket_group_id"] == group
    assert (entry_filled["bracket_role"], target_filled["bracket_role"]) == ("entry", "target")
    (stop_cancelled,) = harness.events_of(EventType.ORDER_CANCELLED)
    assert (stop_cancelled["bracket_group_id"], stop_cancelled["order_type"]) == (group, "stop")
    (entry_placed,) = harness.events_of(EventType.ORDER_PLACED)
    assert entry_placed["order_type"] == MARKET  # ORDER_PLACED keeps the int OrderType
    assert lines(capsys.readouterr().out) == [
        f" Order placed: {entry.id}",
        f"< Order filled: {entry.id}",
        "   Price: $21000.25",
        "   Quantity: 1",
        f"Bracket entry filled - monitoring exits for group {group}",
        f"< Order filled: {target.id}",
        "   Price: $21100.25",
        "   Quantity: 1",
        f"Bracket exit filled - group {group} complete",
    ]
    assert harness.sleeps == [60]
    harness.assert_no_handler_errors()


# -- S21 risk management -----------------------------------------------------------------


async def test_s21_second_bracket_breaches_the_new_limit(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    """Default limits allow the size-5 bracket (max_position_size 10); once the
    per-contract limit is 3, the long 5 plus 2 more is a violation, raised before
    anything is sent."""
    ns = harness.namespace(1, 21)
    # Guide defect (§4.2): the snippet catches a name it never imports.
    ns["ProjectXRiskViolationError"] = ProjectXRiskViolationError
    with pytest.raises(ProjectXRiskViolationError, match=r"^Risk validation failed: ") as caught:
        await harness.run(ns["risk_managed_trading"]())
    assert caught.value.reasons and isinstance(caught.value, ProjectXOrderError)
    await harness.settle()
    entry, stop, target = harness.sim_orders()
    assert shape(entry) == (mnq(harness.gw), MARKET, BUY, 5, None, None)
    assert (stop.size, target.size) == (5, 5)
    assert len(harness.mutations("order/place")) == 1  # the second was never sent
    assert capsys.readouterr().out == ""
    risk = harness.suite.risk_manager
    assert risk is not None and risk.config.max_daily_loss_amount == Decimal("1000")


async def test_s21_limit_set_first_rejects_then_allows(
    harness: GuideHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a limit of 3 already set when the suite starts, the size-5 bracket is the
    violation the snippet catches, and the size-2 retry is placed."""

    async def tight_limit(suite: Any) -> None:
        await suite.risk_manager.set_position_limit("MNQ", max_contracts=3)

    harness.on_create.append(tight_limit)
    ns = harness.namespace(1, 21)
    ns["ProjectXRiskViolationError"] = ProjectXRiskViolationError  # guide defect (§4.2)
    await harness.run(ns["risk_managed_trading"]())
    out = lines(capsys.readouterr().out)
    assert len(out) == 1 and out[0].startswith("Risk check failed: Risk validation failed: ")
    await harness.settle()
    entry, _, _ = harness.sim_orders()
    assert shape(entry) == (mnq(harness.gw), MARKET, BUY, 2, None, None)
    assert len(harness.mutations("order/place")) == 1
    harness.assert_no_handler_errors()

"""Every invalid input of api-surface §1.B and §3.12 is refused before anything is sent.

Each case calls the order API of a live suite (connected to the simulator
over loopback, through ``project_x_py`` as a guide reader imports it) with
one bad argument and checks three things: the documented exception and
message, no Order request reaching the simulator (its REST entry point logs
every request; only a modify of an unknown order may look it up first), and
the simulator's orders unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from guide_harness import GuideHarness

from pxfast.exceptions import ProjectXOrderError

pytestmark = pytest.mark.both_loops


@dataclass
class Context:
    orders: Any
    account_id: int
    working_id: int


Call = Callable[[Context], Awaitable[Any]]
BRACKET = {"contract_id": "MNQ", "side": 0, "size": 1}
OCO = {
    "contract_id": "MNQ",
    "first_side": 1,
    "first_size": 1,
    "first_order_type": "LIMIT",
    "first_price": Decimal("21075"),
    "second_side": 1,
    "second_size": 1,
    "second_order_type": "STOP",
    "second_price": Decimal("20950"),
}


def market(**overrides: Any) -> Call:
    kwargs = {"contract_id": "MNQ", "side": 0, "size": 1, **overrides}
    return lambda c: c.orders.place_market_order(**kwargs)


def limit(**overrides: Any) -> Call:
    kwargs = {"contract_id": "MNQ", "side": 0, "size": 1, "limit_price": 20900, **overrides}
    return lambda c: c.orders.place_limit_order(**kwargs)


def bracket(**overrides: Any) -> Call:
    return lambda c: c.orders.place_bracket_order(**{**BRACKET, **overrides})


def oco(**overrides: Any) -> Call:
    return lambda c: c.orders.place_oco_order(**{**OCO, **overrides})


ORDER_ERRORS: dict[str, tuple[Call, str]] = {
    # size: a positive int no larger than max_order_size
    "size zero": (market(size=0), r"^Invalid order size: 0$"),
    "size negative": (market(size=-1), r"^Invalid order size: -1$"),
    "size float": (market(size=1.5), r"^Invalid order size: 1.5$"),
    "size str": (market(size="1"), r"^Invalid order size: 1$"),
    "size bool": (market(size=True), r"^Invalid order size: True$"),
    "size over max": (market(size=1001), r"^Order size 1001 exceeds max_order_size 1000$"),
    # side: 0 or 1
    "side 2": (market(side=2), r"^Invalid order side: 2$"),
    "side -1": (market(side=-1), r"^Invalid order side: -1$"),
    "side name": (market(side="BUY"), r"^Invalid order side: BUY$"),
    # order type: 1..7
    "type 0": (lambda c: c.orders.place_order("MNQ", 0, 0, 1), r"^Invalid order type: 0$"),
    "type 8": (lambda c: c.orders.place_order("MNQ", 8, 0, 1), r"^Invalid order type: 8$"),
    # prices: finite and > 0
    "price NaN": (limit(limit_price=math.nan), r"^Invalid price"),
    "price Decimal NaN": (limit(limit_price=Decimal("NaN")), r"^Invalid price"),
    "price inf": (limit(limit_price=math.inf), r"^Invalid price"),
    "price -inf": (limit(limit_price=-math.inf), r"^Invalid price"),
    "price zero": (limit(limit_price=0), r"^Invalid price"),
    "price negative": (limit(limit_price=Decimal("-5")), r"^Invalid price"),
    "price str": (limit(limit_price="20900"), r"^Invalid price .* not a number"),
    "limit price None": (limit(limit_price=None), r"^Invalid price"),
    "stop price zero": (
        lambda c: c.orders.place_stop_order("MNQ", 1, 1, 0),
        r"^Invalid price",
    ),
    "trail negative": (
        lambda c: c.orders.place_trailing_stop_order("MNQ", 1, 1, -1),
        r"^Invalid price",
    ),
    # time in force: DAY/GTC only
    "TIF IOC": (limit(time_in_force="IOC"), r"^time_in_force IOC is not supported"),
    "TIF FOK": (market(time_in_force="fok"), r"^time_in_force FOK is not supported"),
    "TIF unknown": (limit(time_in_force="WEEK"), r"^Invalid time_in_force"),
    # account: only the authenticated one
    "foreign account": (market(account_id=424242), r"^Invalid account ID 424242\. Expected "),
    # brackets: exactly one of price/offset per leg, legs on the right sides
    "bracket stop price and offset": (
        bracket(entry_price=21000, stop_loss_price=20950, stop_offset=50, target_offset=50),
        r"exactly one of stop_loss_price and stop_offset",
    ),
    "bracket no stop": (
        bracket(entry_price=21000, target_offset=50),
        r"exactly one of stop_loss_price and stop_offset",
    ),
    "bracket target price and offset": (
        bracket(stop_offset=50, take_profit_price=21100, target_offset=50),
        r"exactly one of take_profit_price and target_offset",
    ),
    "bracket no target": (
        bracket(stop_offset=50),
        r"exactly one of take_profit_price and target_offset",
    ),
    "bracket buy stop above entry": (
        bracket(entry_price=21000, stop_loss_price=21010, take_profit_price=21050),
        r"^Bracket order operation failed: Buy order stop loss \(21010",
    ),
    "bracket sell target above entry": (
        bracket(side=1, entry_price=21000, stop_loss_price=21010, take_profit_price=21050),
        r"^Bracket order operation failed: Sell order stop loss",
    ),
    "bracket limit without entry": (
        bracket(entry_type="limit", stop_offset=50, target_offset=50),
        r"entry_price is required for limit orders",
    ),
    "bracket unknown entry type": (
        bracket(entry_price=21000, entry_type="iceberg", stop_offset=5, target_offset=5),
        r"Invalid entry_type",
    ),
    "bracket zero offset": (bracket(stop_offset=0, target_offset=50), r"^Invalid price"),
    "bracket negative offset": (
        bracket(stop_offset=50, target_offset=Decimal("-1")),
        r"^Invalid price",
    ),
    "bracket size zero": (bracket(size=0, stop_offset=5, target_offset=5), r"^Invalid order size"),
    "bracket IOC": (
        bracket(stop_offset=5, target_offset=5, time_in_force="IOC"),
        r"^time_in_force IOC",
    ),
    # OCO legs
    "oco market leg with price": (
        oco(second_order_type="MARKET"),
        r"^second_price must be None for a MARKET order$",
    ),
    "oco limit leg without price": (
        oco(first_price=None),
        r"^first_price is required for a LIMIT order$",
    ),
    "oco unknown type": (oco(first_order_type="ICEBERG"), r"^Invalid order type: ICEBERG$"),
    "oco type 9": (oco(second_order_type=9), r"^Invalid order type: 9$"),
    "oco NaN price": (oco(second_price=math.nan), r"^Invalid price"),
    "oco size zero": (oco(second_size=0), r"^Invalid order size: 0$"),
    "oco side 3": (oco(first_side=3), r"^Invalid order side: 3$"),
    "oco FOK": (oco(time_in_force="FOK"), r"^time_in_force FOK"),
    # modify: sizes and prices checked first; an unknown order is found absent by lookup
    "modify size zero": (
        lambda c: c.orders.modify_order(c.working_id, new_size=0),
        r"^Invalid order size: 0$",
    ),
    "modify NaN price": (
        lambda c: c.orders.modify_order(c.working_id, new_price=math.nan),
        r"^Invalid price",
    ),
    "modify negative limit": (
        lambda c: c.orders.modify_order(c.working_id, limit_price=-1),
        r"^Invalid price",
    ),
    "modify unknown order": (
        lambda c: c.orders.modify_order(987654, new_price=21000),
        r"^Order not found: 987654$",
    ),
    # cancel and position exits
    "cancel foreign account": (
        lambda c: c.orders.cancel_order(c.working_id, account_id=424242),
        r"^Invalid account ID 424242",
    ),
    "exit without position": (
        lambda c: c.orders.place_position_exit_order("MNQ", Decimal("20900"), 1),
        r"^No position found for CON\.F\.US\.MNQ\.",
    ),
    "close method": (
        lambda c: c.orders.close_position("MNQ", method="twap"),
        r"^Invalid close method: twap",
    ),
    "close limit without price": (
        lambda c: c.orders.close_position("MNQ", method="limit"),
        r"^Limit price required for limit close$",
    ),
}

PROGRAMMING_ERRORS: dict[str, tuple[Call, type[Exception], str]] = {
    "modify size and alias disagree": (
        lambda c: c.orders.modify_order(c.working_id, size=2, new_size=3),
        TypeError,
        r"both size and new_size",
    ),
    "modify price and alias disagree": (
        lambda c: c.orders.modify_order(c.working_id, limit_price=20900, new_price=20800),
        TypeError,
        r"both limit_price and new_price",
    ),
    "cancel non-numeric id": (
        lambda c: c.orders.cancel_order("order1"),
        ValueError,
        r"not an integer",
    ),
    "template of the wrong type": (
        lambda c: c.orders.place_from_template({"order_type": "bracket"}),
        TypeError,
        r"needs an OrderTemplate",
    ),
}


@pytest.fixture
async def context(harness: GuideHarness) -> Context:
    namespace = harness.namespace(1)  # the guide's imports, through project_x_py
    suite = await namespace["TradingSuite"].create("MNQ")
    working = await suite.orders.place_limit_order("MNQ", 0, 1, Decimal("20900"))
    await harness.settle()
    return Context(suite.orders, harness.account_id, working.order_id)


#: Cases that must look the order up (reads only) before they can refuse.
LOOKUPS = {"modify unknown order"}


async def _refused_before_sending(
    harness: GuideHarness,
    context: Context,
    call: Call,
    error: type[BaseException],
    match: str,
    case: str,
) -> None:
    seen = len(harness.requests)
    orders_before = harness.sim_orders()
    with pytest.raises(error, match=match):
        await harness.run(call(context))
    sent = [endpoint for endpoint, _ in harness.requests[seen:] if endpoint.startswith("order/")]
    if case in LOOKUPS:
        assert not {"order/place", "order/modify", "order/cancel"} & set(sent), sent
    else:
        assert sent == []  # not even a read: refused from the arguments alone
    assert harness.sim_orders() == orders_before


@pytest.mark.parametrize("case", list(ORDER_ERRORS))
async def test_invalid_input_raises_order_error_before_sending(
    harness: GuideHarness, context: Context, case: str
) -> None:
    call, match = ORDER_ERRORS[case]
    await _refused_before_sending(harness, context, call, ProjectXOrderError, match, case)


@pytest.mark.parametrize("case", list(PROGRAMMING_ERRORS))
async def test_programming_error_raises_before_sending(
    harness: GuideHarness, context: Context, case: str
) -> None:
    call, error, match = PROGRAMMING_ERRORS[case]
    await _refused_before_sending(harness, context, call, error, match, case)


async def test_auto_retry_settings_are_checked(context: Context) -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        context.orders.enable_auto_retry(max_attempts=0)
    with pytest.raises(ValueError, match="Unknown recoverable error 'Bogus'"):
        context.orders.enable_auto_retry(recoverable_errors=["Bogus"])
    assert context.orders.retry_policy is None


async def test_market_and_join_orders_carry_no_prices(
    harness: GuideHarness, context: Context
) -> None:
    """Prices given to a market or join order are dropped, never sent (api-surface §3.12)."""
    orders = context.orders
    await orders.place_order("MNQ", 2, 0, 1, limit_price=20900, stop_price=21100)
    await orders.place_order("MNQ", 6, 0, 1, limit_price=20900)
    await orders.place_join_ask_order("MNQ", 1)
    market, join_bid, join_ask = harness.mutations("order/place")[-3:]
    for body in (market, join_bid, join_ask):
        assert body.get("limitPrice") is None and body.get("stopPrice") is None, body
    assert (join_bid["type"], join_bid["side"]) == (6, 0)
    assert (join_ask["type"], join_ask["side"]) == (7, 1)

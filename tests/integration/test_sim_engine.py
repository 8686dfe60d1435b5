"""The matching engine through the network path: fills, brackets, OCO, PnL, margin.

Prices are scripted with ``set_price`` on a paused market, so every expected
fill price and every dollar below is a hand computation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sim_wire import Gateway, Hub, data_of

from pxfast.sim import GatewaySimulator

pytestmark = pytest.mark.both_loops

BUY, SELL = 0, 1
LIMIT, MARKET, STOP, TRAILING, JOIN_BID, JOIN_ASK = 1, 2, 4, 5, 6, 7
OPEN, FILLED, CANCELLED, REJECTED, PENDING, SUSPENDED = 1, 2, 3, 5, 6, 8


@dataclass
class Trader:
    gw: GatewaySimulator
    rest: Gateway
    hub: Hub
    account_id: int
    mnq: str

    async def place(self, **fields: Any) -> int:
        body = await self.rest.place(self.account_id, fields.pop("contract", self.mnq), **fields)
        assert body["success"], body
        return int(body["orderId"])

    async def order(self, order_id: int) -> dict[str, Any]:
        body = await self.rest.call("Order/searchById",
                                    {"accountId": self.account_id, "orderId": order_id})
        order: dict[str, Any] = body["order"]
        return order

    async def updates(self) -> list[dict[str, Any]]:
        """Every user event since the last call, as (target, model) in arrival order."""
        await self.hub.settle()
        records = [r for r in self.hub.pending if r.get("target", "").startswith("GatewayUser")]
        self.hub.pending = [r for r in self.hub.pending if r not in records]
        return [{"target": r["target"], **data_of(r["arguments"])} for r in records]


@pytest.fixture
async def trader(simulator: GatewaySimulator, raw_rest_for: Callable[[str], Awaitable[Gateway]],
                 raw_hub: Callable[..., Awaitable[Hub]]) -> Trader:
    rest = await raw_rest_for("alice")
    account_id = await rest.account_id()
    hub = await raw_hub(simulator.user_hub_url, str(rest.token))
    await hub.invoke("SubscribeAccounts")
    for method in ("SubscribeOrders", "SubscribePositions", "SubscribeTrades"):
        await hub.invoke(method, account_id)
    simulator.set_price("MNQ", "21000")  # bid 21000, ask 21000.25
    return Trader(simulator, rest, hub, account_id, simulator.contract_id("MNQ"))


# -- order types --------------------------------------------------------------------------


async def test_market_orders_take_the_touch(trader: Trader) -> None:
    buy = await trader.place(type=MARKET, side=BUY, size=2)
    sell = await trader.place(type=MARKET, side=SELL, size=1)
    assert (await trader.order(buy))["filledPrice"] == 21000.25
    assert (await trader.order(sell))["filledPrice"] == 21000
    events = await trader.updates()
    assert [(e["target"], e.get("status")) for e in events[:5]] == [
        ("GatewayUserOrder", PENDING), ("GatewayUserOrder", FILLED),
        ("GatewayUserTrade", None), ("GatewayUserPosition", None),
        ("GatewayUserAccount", None)]


async def test_limit_rests_then_fills_at_its_price_or_better(trader: Trader) -> None:
    resting = await trader.place(type=LIMIT, side=BUY, limitPrice=20990)
    marketable = await trader.place(type=LIMIT, side=SELL, limitPrice=20995)
    assert (await trader.order(marketable))["filledPrice"] == 21000  # the bid: better
    order = await trader.order(resting)
    assert (order["status"], order["fillVolume"]) == (OPEN, 0)
    trader.gw.set_price("MNQ", "20991", bid="20991", ask="20991.25")
    assert (await trader.order(resting))["status"] == OPEN  # the ask has not reached it
    trader.gw.set_price("MNQ", "20980")  # gapped through: a resting limit gets its price
    order = await trader.order(resting)
    assert (order["status"], order["filledPrice"], order["fillVolume"]) == (FILLED, 20990, 1)


async def test_limit_off_the_tick_grid_is_rejected_with_an_order_id(trader: Trader) -> None:
    body = await trader.rest.place(trader.account_id, trader.mnq, type=LIMIT, limitPrice=20990.1)
    assert (body["success"], body["errorCode"]) == (False, 2)
    assert body["errorMessage"] == "Invalid limit price. Price is not aligned to tick size."
    assert (await trader.order(body["orderId"]))["status"] == REJECTED


async def test_stops_trigger_on_the_last_print_then_take_the_touch(trader: Trader) -> None:
    sell_stop = await trader.place(type=STOP, side=SELL, stopPrice=20990)
    buy_stop = await trader.place(type=STOP, side=BUY, stopPrice=21010)
    trader.gw.set_price("MNQ", "20990.25")
    assert (await trader.order(sell_stop))["status"] == OPEN
    trader.gw.set_price("MNQ", "20989.75", bid="20989.5", ask="20990")
    assert (await trader.order(sell_stop))["filledPrice"] == 20989.5
    trader.gw.set_price("MNQ", "21011", bid="21011", ask="21011.5")
    assert (await trader.order(buy_stop))["filledPrice"] == 21011.5


async def test_trailing_stop_trails_by_its_distance(trader: Trader) -> None:
    # trailPrice is a price level: 8 ticks below the last print of 21000.
    order_id = await trader.place(type=TRAILING, side=SELL, trailPrice=20998)
    order = await trader.order(order_id)
    assert (order["trailDistance"], order["trailPrice"], order["stopPrice"]) == (8, 2.0, 20998)
    trader.gw.set_price("MNQ", "21005")
    assert (await trader.order(order_id))["stopPrice"] == 21003  # trails the best print
    trader.gw.set_price("MNQ", "21004")
    assert (await trader.order(order_id))["stopPrice"] == 21003  # never backs off
    trader.gw.set_price("MNQ", "21003", bid="21002.75", ask="21003")
    order = await trader.order(order_id)
    assert (order["status"], order["filledPrice"]) == (FILLED, 21002.75)


async def test_trailing_stop_validation(trader: Trader) -> None:
    place = trader.rest.place
    body = await place(trader.account_id, trader.mnq, type=TRAILING, side=SELL)
    assert body["errorMessage"] == "Trail Distance not set."
    body = await place(trader.account_id, trader.mnq, type=TRAILING, side=SELL,
                       trailPrice=21000 - 1001 * 0.25)
    assert body["errorMessage"] == "Trail Distance exceeds maximum (1000)"
    body = await place(trader.account_id, trader.mnq, type=TRAILING, side=SELL,
                       trailPrice=21000 - 1000 * 0.25)
    assert body["success"]


async def test_join_bid_and_ask_rest_at_the_touch(trader: Trader) -> None:
    bid = await trader.place(type=JOIN_BID, side=BUY)
    ask = await trader.place(type=JOIN_ASK, side=SELL)
    assert (await trader.order(bid))["limitPrice"] == 21000
    assert (await trader.order(ask))["limitPrice"] == 21000.25
    trader.gw.set_price("MNQ", "21000.25", bid="21000.25", ask="21000.5")
    assert (await trader.order(ask))["filledPrice"] == 21000.25
    assert (await trader.order(bid))["status"] == OPEN


async def test_modify_and_cancel(trader: Trader) -> None:
    order_id = await trader.place(type=LIMIT, side=BUY, limitPrice=20950, size=2)
    body = await trader.rest.call("Order/modify", {"accountId": trader.account_id,
                                                   "orderId": order_id, "size": 3})
    assert body["success"]
    order = await trader.order(order_id)
    assert (order["size"], order["limitPrice"]) == (3, 20950)  # omitted price unchanged
    await trader.rest.call("Order/modify", {"accountId": trader.account_id,
                                            "orderId": order_id, "limitPrice": 21001})
    order = await trader.order(order_id)  # modified into the market: filled at the ask
    assert (order["status"], order["filledPrice"]) == (FILLED, 21000.25)
    body = await trader.rest.call("Order/cancel", {"accountId": trader.account_id,
                                                   "orderId": order_id})
    assert (body["success"], body["errorCode"]) == (False, 3)
    body = await trader.rest.call("Order/cancel", {"accountId": trader.account_id,
                                                   "orderId": 1})
    assert (body["success"], body["errorCode"]) == (False, 2)


@pytest.mark.parametrize(("fields", "code", "message"), [
    ({"size": 0}, 2, "Invalid order size."),
    ({"type": 3}, 2, "Invalid order type."),
    ({"type": LIMIT}, 2, "Limit price not set."),
    ({"type": STOP, "stopPrice": 1.1}, 2, "Invalid stop price. Price is not aligned to tick size."),
    ({"contract": "CON.F.US.NOPE.Z26"}, 8, "Contract not found"),
    ({"contract": "CON.F.US.MNQ.H20"}, 9, "Contract is not active"),
    ({"linkedOrderId": 123}, 2, "Linked order not found."),
])
async def test_place_rejections(trader: Trader, fields: dict[str, Any], code: int,
                                message: str) -> None:
    request = {"type": MARKET, **fields}
    body = await trader.rest.place(trader.account_id, request.pop("contract", trader.mnq),
                                   **request)
    assert (body["success"], body["errorCode"], body["errorMessage"]) == (False, code, message)


async def test_unknown_account_has_no_order_id(trader: Trader) -> None:
    body = await trader.rest.place(999, trader.mnq, type=MARKET)
    assert body == {"orderId": None, "success": False, "errorCode": 1,
                    "errorMessage": "Account not found"}


async def test_custom_tags_are_unique_per_account(trader: Trader) -> None:
    await trader.place(type=LIMIT, limitPrice=20900, customTag="strat-1")
    body = await trader.rest.place(trader.account_id, trader.mnq, type=LIMIT,
                                   limitPrice=20900, customTag="strat-1")
    assert (body["success"], body["errorCode"], body["orderId"] is not None) == (False, 2, True)


# -- brackets and OCO ---------------------------------------------------------------------------


@pytest.mark.parametrize("signed", [False, True], ids=["positive_ticks", "signed_ticks"])
async def test_native_bracket_lifecycle(trader: Trader, signed: bool) -> None:
    sl_ticks = -20 if signed else 20
    entry = await trader.place(type=LIMIT, side=BUY, limitPrice=20995, customTag="b1",
                               stopLossBracket={"ticks": sl_ticks, "type": STOP},
                               takeProfitBracket={"ticks": 40, "type": LIMIT})
    children = [o for o in await trader.rest.orders(trader.account_id, [SUSPENDED])]
    assert len(children) == 2
    sl, tp = sorted(children, key=lambda o: o["id"])
    assert (sl["type"], sl["side"], sl["parentOrderId"], sl["customTag"]) == (
        STOP, SELL, entry, "b1-SL")
    assert (tp["type"], tp["parentOrderId"], tp["linkedOrderId"], tp["customTag"]) == (
        LIMIT, entry, sl["id"], "b1-TP")
    assert (sl["trailDistance"], sl["trailPrice"], tp["trailDistance"]) == (-20, -5.0, 40)
    assert sl["stopPrice"] is None and tp["limitPrice"] is None
    open_ids = {o["id"] for o in (await trader.rest.call(
        "Order/searchOpen", {"accountId": trader.account_id}))["orders"]}
    assert open_ids == {entry}  # Suspended children are not "open"
    searched = (await trader.rest.call("Order/search", {
        "accountId": trader.account_id, "startTimestamp": "2020-01-01T00:00:00Z"}))["orders"]
    assert {o["id"] for o in searched} == {entry}

    trader.gw.set_price("MNQ", "20994.75", bid="20994.75", ask="20995")  # entry fills
    sl, tp = await trader.order(sl["id"]), await trader.order(tp["id"])
    assert (sl["status"], sl["stopPrice"]) == (OPEN, 20990)
    assert (tp["status"], tp["limitPrice"]) == (OPEN, 21005)
    trader.gw.set_price("MNQ", "21005", bid="21005", ask="21005.25")  # TP fills
    sl, tp = await trader.order(sl["id"]), await trader.order(tp["id"])
    assert (tp["status"], tp["filledPrice"], sl["status"]) == (FILLED, 21005, CANCELLED)
    assert (await trader.rest.call("Position/searchOpen",
                                   {"accountId": trader.account_id}))["positions"] == []


async def test_cancelling_a_bracket_entry_cancels_its_children(trader: Trader) -> None:
    entry = await trader.place(type=LIMIT, side=SELL, limitPrice=21010,
                               stopLossBracket={"ticks": 10, "type": STOP},
                               takeProfitBracket={"ticks": 10, "type": LIMIT})
    await trader.rest.call("Order/cancel", {"accountId": trader.account_id, "orderId": entry})
    statuses = {o["id"]: o["status"] for o in await trader.rest.orders(trader.account_id)}
    assert statuses == {entry: CANCELLED, entry + 1: CANCELLED, entry + 2: CANCELLED}


async def test_brackets_rejected_in_position_bracket_mode(trader: Trader) -> None:
    trader.gw.set_bracket_mode(trader.account_id, "position")
    body = await trader.rest.place(trader.account_id, trader.mnq, type=MARKET,
                                   stopLossBracket={"ticks": 10, "type": STOP})
    assert (body["success"], body["errorCode"]) == (False, 2)
    assert body["errorMessage"] == ("Brackets cannot be used with Position Brackets. "
                                    "You must enable Auto OCO Brackets.")
    assert body["orderId"] is not None


async def test_linked_orders_cancel_each_other(trader: Trader) -> None:
    await trader.place(type=MARKET, side=BUY)
    stop = await trader.place(type=STOP, side=SELL, stopPrice=20980)
    target = await trader.place(type=LIMIT, side=SELL, limitPrice=21020, linkedOrderId=stop)
    assert (await trader.order(target))["linkedOrderId"] == stop
    trader.gw.set_price("MNQ", "20979")
    assert (await trader.order(stop))["status"] == FILLED
    assert (await trader.order(target))["status"] == CANCELLED


# -- positions, PnL, balance, margin -----------------------------------------------------------


async def test_pnl_fees_and_balance_agree_with_a_hand_computation(trader: Trader) -> None:
    await trader.place(type=MARKET, side=BUY, size=2)  # 2 @ 21000.25
    trader.gw.set_price("MNQ", "21003")
    await trader.place(type=MARKET, side=BUY, size=1)  # 1 @ 21003.25
    [position] = (await trader.rest.call("Position/searchOpen",
                                         {"accountId": trader.account_id}))["positions"]
    # (2 x 21000.25 + 21003.25) / 3
    assert (position["type"], position["size"], position["averagePrice"]) == (1, 3, 21001.25)
    trader.gw.set_price("MNQ", "21010.5")
    state = trader.gw.account_state(trader.account_id)
    # Marked at the last print: (21010.5 - 21001.25) = 37 ticks x 3 contracts x $0.50
    assert state.unrealized == Decimal("55.50")
    await trader.place(type=MARKET, side=SELL, size=4)  # flips: closes 3, opens 1 short
    trades = (await trader.rest.call("Trade/search", {
        "accountId": trader.account_id, "startTimestamp": "2020-01-01T00:00:00Z"}))["trades"]
    assert [t["profitAndLoss"] for t in trades] == [None, None, 55.5]
    assert [t["fees"] for t in trades] == [0.74, 0.37, 1.48]
    state = trader.gw.account_state(trader.account_id)
    assert state.realized == Decimal("55.50") and state.fees == Decimal("2.59")
    assert state.balance == Decimal("50000") + Decimal("55.50") - Decimal("2.59")
    assert state.positions == {trader.mnq: (-1, 21010.5)}
    events = await trader.updates()
    balances = [e["balance"] for e in events if e["target"] == "GatewayUserAccount"]
    assert balances[-1] == float(state.balance)
    positions = [e for e in events if e["target"] == "GatewayUserPosition"]
    assert (positions[-1]["type"], positions[-1]["size"]) == (2, 1)


async def test_closing_positions(trader: Trader) -> None:
    await trader.place(type=MARKET, side=BUY, size=3)
    close = {"accountId": trader.account_id, "contractId": trader.mnq}
    body = await trader.rest.call("Position/partialCloseContract", {**close, "size": 4})
    assert (body["success"], body["errorCode"]) == (False, 5)
    assert (await trader.rest.call("Position/partialCloseContract", {**close, "size": 2}))[
        "success"]
    await trader.updates()
    assert (await trader.rest.call("Position/closeContract", close))["success"]
    events = await trader.updates()
    flat = [e for e in events if e["target"] == "GatewayUserPosition"][-1]
    assert (flat["size"], flat["type"]) == (0, 0)
    body = await trader.rest.call("Position/closeContract", close)
    assert (body["success"], body["errorCode"]) == (False, 2)


async def test_margin_rejects_what_the_balance_cannot_carry(trader: Trader) -> None:
    nq = trader.gw.contract_id("NQ")  # $21,000 a contract against $50,000
    body = await trader.rest.place(trader.account_id, nq, type=LIMIT, limitPrice=20000, size=3)
    assert (body["success"], body["errorCode"]) == (False, 3)
    await trader.place(contract=nq, type=LIMIT, limitPrice=20000, size=2)
    body = await trader.rest.place(trader.account_id, nq, type=LIMIT, limitPrice=20000)
    assert body["errorCode"] == 3
    # An order on the other side reduces the worst case: it passes.
    await trader.place(contract=nq, type=LIMIT, side=SELL, limitPrice=22000, size=2)


async def test_a_forced_partial_fill(trader: Trader) -> None:
    order_id = await trader.place(type=LIMIT, side=BUY, limitPrice=20900, size=3)
    trader.gw.fill(order_id, size=1)
    order = await trader.order(order_id)
    assert (order["status"], order["fillVolume"], order["filledPrice"]) == (OPEN, 1, 20900)
    trader.gw.fill(order_id)
    order = await trader.order(order_id)
    assert (order["status"], order["fillVolume"]) == (FILLED, 3)


# -- determinism ------------------------------------------------------------------------------


async def test_same_seed_same_market(make_simulator: Callable[..., Awaitable[GatewaySimulator]]
                                     ) -> None:
    paths = []
    for seed in (5, 5, 6):
        gw = await make_simulator(seed=seed)
        gw.step("MNQ", 300)
        gw.step("ES", 3)  # other contracts do not disturb MNQ's walk
        paths.append((gw.quote("MNQ"), gw.book("MNQ").volume))
    assert paths[0] == paths[1] != paths[2]


async def test_control_views_since_a_timestamp(trader: Trader) -> None:
    first = await trader.place(type=MARKET, side=BUY, size=1)
    await asyncio.sleep(0.01)
    second = await trader.place(type=MARKET, side=SELL, size=1)
    stamp = (await trader.order(second))["updateTimestamp"]
    gw, account = trader.gw, trader.account_id
    assert {o.id for o in gw.orders(account)} == {first, second}
    assert [o.id for o in gw.orders(account, since=stamp)] == [second]
    assert [t.orderId for t in gw.trades(account, since=stamp)] == [second]
    assert len(gw.trades(account)) == 2

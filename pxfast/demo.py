"""``pxfast demo``: a small real bot on the embedded Gateway, narrated as it runs.

It starts the simulator in-process, connects a ``TradingSuite`` to it over
HTTP and WebSocket on 127.0.0.1 exactly as a bot connects to TopstepX, and
trades through the public API: a template bracket whose target fills (and
whose stop the Gateway cancels), a position protected by an OCO pair whose
stop fills, a risk-limit rejection raised before anything is sent, and a
modify.  Every event is printed the moment its handler runs.  The summary
reports what the Gateway and the client agree happened, and the latencies
measured on the way: place -> acknowledgement on the user hub, and Gateway
fill -> handler.

``pxfast demo --live`` runs against the real Gateway from ``PROJECT_X_*``
credentials: read-only (account, contract, price, positions, open orders)
unless ``--trade`` is given, which places one resting micro order far from
the market, modifies it, cancels it, and shows a risk rejection — no fills.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pxfast.event_bus import Event, EventType
from pxfast.exceptions import ProjectXRiskViolationError
from pxfast.models import BracketOrderResponse, ProjectXConfig
from pxfast.order_templates import OrderTemplate
from pxfast.trading_suite import TradingSuite

__all__ = ["add_arguments", "run"]

DEMO_USER = "demo"
DEMO_KEY = "pxfast-demo-key"
SYMBOL = "MNQ"


@dataclass
class Narrator:
    """Prints events live and keeps the timings the summary reports."""

    out: Callable[[str], None] = print
    started: float = field(default_factory=time.perf_counter)
    acked_at: dict[int, float] = field(default_factory=dict)
    filled_at: dict[int, float] = field(default_factory=dict)
    fill_latencies_ms: list[float] = field(default_factory=list)
    ack_latencies_ms: list[float] = field(default_factory=list)
    pending_fill: float | None = None

    def say(self, text: str) -> None:
        self.out(f"[{time.perf_counter() - self.started:7.3f}s] {text}")

    def on_event(self, event: Event) -> None:
        now = time.perf_counter()
        data = event.data
        kind = event.type
        if kind is EventType.ORDER_UPDATED:
            if data.get("old_status") is None:
                self.acked_at.setdefault(data["order_id"], now)
            return
        if kind is EventType.ORDER_FILLED:
            self.filled_at[data["order_id"]] = now
            if self.pending_fill is not None:
                self.fill_latencies_ms.append((now - self.pending_fill) * 1e3)
                self.pending_fill = None
        self.say(_describe(kind, data))


def _describe(kind: EventType | str, data: Any) -> str:
    if kind is EventType.ORDER_PLACED:
        price = data.get("limit_price") or data.get("stop_price") or "market"
        side = "BUY" if data["side"] == 0 else "SELL"
        return f"placed    #{data['order_id']} {side} {data['size']} @ {price}"
    role = f" ({data['bracket_role']})" if isinstance(data, dict) and "bracket_role" in data else ""
    if kind is EventType.ORDER_FILLED:
        return (
            f"filled    #{data['order_id']}{role} {data['filled_quantity']} @ {data['fill_price']}"
        )
    if kind is EventType.ORDER_CANCELLED:
        return f"cancelled #{data['order_id']}{role}"
    if kind is EventType.ORDER_MODIFIED:
        limit = data["modifications"]["limit_price"]
        return f"modified  #{data['order_id']} -> size {data['size']}, limit {limit}"
    if kind is EventType.POSITION_OPENED:
        direction = "LONG" if data["type"] == 1 else "SHORT"
        return f"position  opened {direction} {data['size']} @ {data['averagePrice']}"
    if kind is EventType.POSITION_CLOSED:
        return f"position  closed, realised P&L {data['pnl']:+.2f}"
    if kind is EventType.POSITION_UPDATED:
        return f"position  now {data['size']} @ {data['averagePrice']}"
    return f"{kind.value if isinstance(kind, EventType) else kind}: {data}"


_NARRATED = (
    EventType.ORDER_PLACED,
    EventType.ORDER_FILLED,
    EventType.ORDER_CANCELLED,
    EventType.ORDER_MODIFIED,
    EventType.ORDER_UPDATED,
    EventType.POSITION_OPENED,
    EventType.POSITION_UPDATED,
    EventType.POSITION_CLOSED,
)


async def _wait(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll the client's own state (the point is that it tracks the Gateway by itself)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo waited too long for the Gateway")
        await asyncio.sleep(0.005)


async def simulated(seed: int, out: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the demo bot on an embedded simulator; returns the summary it prints."""
    from pxfast.sim import GatewaySimulator

    narrator = Narrator(out)
    async with GatewaySimulator(seed=seed, paused=True) as gw:
        narrator.say(f"embedded Gateway listening on {gw.api_url}")
        config = ProjectXConfig(
            api_url=gw.api_url, user_hub_url=gw.user_hub_url, market_hub_url=gw.market_hub_url
        )
        suite = await TradingSuite.create(
            SYMBOL,
            features=["risk_manager"],
            username=DEMO_USER,
            api_key=DEMO_KEY,
            client_config=config,
            initial_days=1,
        )
        try:
            for kind in _NARRATED:
                await suite.on(kind, narrator.on_event)
            summary = await _simulated_bot(suite, gw, narrator)
        finally:
            await suite.disconnect()
    _print_summary(summary, out)
    return summary


async def _simulated_bot(suite: TradingSuite, gw: Any, narrator: Narrator) -> dict[str, Any]:
    tick = Decimal(str(suite.instrument_info.tickSize))
    price = Decimal(str(await suite.data.get_current_price()))
    narrator.say(f"connected: {suite.instrument_id}, tick {tick}, last price {price}")
    orders = suite.orders
    stream = suite.realtime.user

    def move(to: Decimal) -> None:
        narrator.pending_fill = time.perf_counter()
        gw.set_price(SYMBOL, str(to))

    # 1. A template bracket: buy 2 points under the market, 10-point stop, 20-point target.
    narrator.say("1. template bracket (entry -2, stop -10, target +20)")
    template = OrderTemplate(
        name="scalp",
        order_type="bracket",
        side=0,
        size=1,
        entry_offset=Decimal("2"),
        stop_offset=Decimal("10"),
        target_offset=Decimal("20"),
        time_in_force="DAY",
    )
    placed = time.perf_counter()
    bracket = await orders.place_from_template(template, reference_price=price)
    assert isinstance(bracket, BracketOrderResponse)
    narrator.ack_latencies_ms.append(_ack_ms(narrator, bracket.main_order_id, placed))
    entry = price - 2
    move(entry - tick)
    await _wait(lambda: stream.orders.status(bracket.target_order_id or 0) == 1)
    move(entry + 20)
    await _wait(lambda: stream.orders.status(bracket.stop_order_id or 0) == 3)

    # 2. Market entry, then an OCO pair of exits; the market drops through the stop.
    narrator.say("2. market buy, then OCO exits (target +15 / stop -15)")
    price = Decimal(str(await suite.data.get_current_price()))
    placed = time.perf_counter()
    entry_order = await orders.place_market_order(SYMBOL, 0, 1)
    narrator.ack_latencies_ms.append(_ack_ms(narrator, entry_order.order_id, placed))
    await _wait(lambda: stream.orders.status(entry_order.order_id) == 2)
    oco = await orders.place_oco_order(
        contract_id=SYMBOL,
        first_side=1,
        first_size=1,
        first_order_type="LIMIT",
        first_price=price + 15,
        second_side=1,
        second_size=1,
        second_order_type="STOP",
        second_price=price - 15,
    )
    move(price - 16)
    await _wait(lambda: stream.orders.status(oco.first_order_id or 0) == 3)

    # 3. The risk gate refuses an order over the position limit, before sending it.
    narrator.say("3. risk limit: max 2 contracts, then try to buy 3")
    assert suite.risk_manager is not None
    await suite.risk_manager.set_position_limit(SYMBOL, max_contracts=2)
    sent_before = suite.client.session.stats.by_endpoint.get("/Order/place", 0)
    rejection = ""
    try:
        await orders.place_market_order(SYMBOL, 0, 3)
    except ProjectXRiskViolationError as exc:
        rejection = str(exc)
        narrator.say(f"refused before sending: {exc}")
    assert suite.client.session.stats.by_endpoint.get("/Order/place", 0) == sent_before

    # 4. A resting limit order moved closer and doubled, then cancelled.
    narrator.say("4. modify: resting buy 30 under, moved to 25 under with size 2")
    price = Decimal(str(await suite.data.get_current_price()))
    resting = await orders.place_limit_order(SYMBOL, 0, 1, price - 30)
    await _wait(lambda: stream.orders.status(resting.order_id) == 1)
    await orders.modify_order(order_id=resting.order_id, new_price=price - 25, new_size=2)
    await _wait(lambda: (stream.orders.get(resting.order_id) or resting).size == 2)  # type: ignore[union-attr]
    await orders.cancel_order(resting.order_id)
    await _wait(lambda: stream.orders.status(resting.order_id) == 3)

    account = suite.client.get_account_info().id
    trades = gw.trades(account)
    sim_orders = gw.orders(account)
    stats = orders.get_order_statistics()
    return {
        "orders": len(sim_orders),
        "filled": sum(1 for o in sim_orders if o.status == 2),
        "cancelled": sum(1 for o in sim_orders if o.status == 3),
        "fills": len(trades),
        "realized_pnl": sum(t.profitAndLoss or 0.0 for t in trades),
        "fees": sum(t.fees or 0.0 for t in trades),
        "balance": float(suite.client.get_account_info().balance),
        "risk_rejection": rejection,
        "client_matches_gateway": all(stream.orders.status(o.id) == o.status for o in sim_orders),
        "place_to_ack_ms": narrator.ack_latencies_ms,
        "rest_place_ms": stats["avg_order_response_time_ms"],
        "fill_to_handler_ms": narrator.fill_latencies_ms,
    }


def _ack_ms(narrator: Narrator, order_id: int | None, placed: float) -> float:
    seen = narrator.acked_at.get(order_id or 0)
    return (seen - placed) * 1e3 if seen is not None else float("nan")


def _print_summary(summary: dict[str, Any], out: Callable[[str], None]) -> None:
    def ms(values: list[float]) -> str:
        clean = [v for v in values if v == v]
        if not clean:
            return "n/a"
        return f"median {statistics.median(clean):.3f} ms (n={len(clean)})"

    out("")
    out("summary")
    out(
        f"  orders {summary['orders']}: {summary['filled']} filled, "
        f"{summary['cancelled']} cancelled; fills {summary['fills']}"
    )
    out(
        f"  realised P&L {summary['realized_pnl']:+.2f}, fees {summary['fees']:.2f}, "
        f"balance {summary['balance']:.2f}"
    )
    out(f"  client state equals the Gateway's: {summary['client_matches_gateway']}")
    out(f"  place -> ack on the user hub: {ms(summary['place_to_ack_ms'])}")
    out(f"  REST Order/place round trip: {summary['rest_place_ms']:.3f} ms average")
    out(f"  Gateway fill -> handler: {ms(summary['fill_to_handler_ms'])}")


async def live(trade: bool, out: Callable[[str], None] = print) -> None:
    """Read-only tour of the real account (``--trade``: one resting order, modified, cancelled)."""
    narrator = Narrator(out)
    suite = await TradingSuite.create(SYMBOL, features=["risk_manager"], initial_days=1)
    try:
        for kind in _NARRATED:
            await suite.on(kind, narrator.on_event)
        account = suite.client.get_account_info()
        price = await suite.data.get_current_price()
        narrator.say(
            f"account {account.name} (simulated={account.simulated}), balance {account.balance}"
        )
        narrator.say(f"{suite.instrument_id}: current price {price}")
        for position in await suite.positions.get_all_positions():
            narrator.say(f"position {position.contractId} {position.direction} {position.size}")
        for order in await suite.orders.search_open_orders():
            narrator.say(f"open order #{order.id} {order.side_str} {order.size} {order.type_str}")
        if not trade:
            narrator.say("read-only; pass --trade to place (and cancel) one resting order")
            return
        if price is None:
            raise RuntimeError("no current price; not trading")
        far = Decimal(str(price)) * Decimal("0.9")
        resting = await suite.orders.place_limit_order(SYMBOL, 0, 1, far)
        await suite.orders.modify_order(order_id=resting.order_id, new_price=far - 10)
        await suite.orders.cancel_order(resting.order_id)
        assert suite.risk_manager is not None
        await suite.risk_manager.set_position_limit(SYMBOL, max_contracts=0)
        try:
            await suite.orders.place_limit_order(SYMBOL, 0, 1, far)
        except ProjectXRiskViolationError as exc:
            narrator.say(f"refused before sending: {exc}")
        await asyncio.sleep(1.0)
    finally:
        await suite.disconnect()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=7, help="simulator seed")
    parser.add_argument("--live", action="store_true", help="use the real Gateway (credentials)")
    parser.add_argument("--trade", action="store_true", help="with --live: place one order")


def run(args: argparse.Namespace) -> int:
    from pxfast.loop import run as run_loop

    if args.trade and not args.live:
        print("--trade needs --live", file=sys.stderr)
        return 2
    if args.live:
        run_loop(live(args.trade))
    else:
        summary = run_loop(simulated(args.seed))
        if not summary["client_matches_gateway"]:
            return 1
    return 0

"""A trading bot written for project-x-py 4.4.1, used unchanged on both libraries.

It uses project-x-py's real signatures and payloads only: a market entry and
``get_position``; a limit found by ``search_open_orders``, modified and
cancelled; a protective stop triggered by the market; a native bracket with
absolute prices whose stop fills (``entry_price, stop_loss_price,
take_profit_price``); an OCO pair linked with ``linked_order_id``;
``cancel_all_orders``; ``close_position``; fills read from ``ORDER_FILLED``
events as ``event.data["order"].filledPrice``; statuses compared with
``OrderStatus``; and the trade history.

The simulator's price is moved through its control API (``PXFAST_SIM_CONTROL_URL``,
plain HTTP), the only thing here a bot on the real Gateway would not do.  The
last stdout line is a JSON summary with no ids or timestamps in it, so the runs
of two libraries against two simulators with the same seed can be compared.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from typing import Any

from project_x_py import EventType, OrderStatus, TradingSuite

TIMEOUT = 15.0


def sim(operation: str, **kwargs: Any) -> Any:
    """Call the simulator's control API (blocking; it answers at once)."""
    request = urllib.request.Request(
        f"{os.environ['PXFAST_SIM_CONTROL_URL']}/{operation}",
        data=json.dumps(kwargs).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.load(response)["result"]


class Bot:
    def __init__(self, suite: TradingSuite) -> None:
        self.suite = suite
        self.contract = suite.instrument_id
        self.orders = suite.orders
        self.roles: dict[int, str] = {}
        self.fills: list[tuple[int, float]] = []  # (order id, price) in event order
        self.filled: dict[int, float] = {}
        self.arrived = asyncio.Event()
        self.notes: dict[str, Any] = {}

    async def on_filled(self, event: Any) -> None:
        order = event.data["order"]
        self.filled[order.id] = order.filledPrice
        self.fills.append((order.id, order.filledPrice))
        self.arrived.set()

    async def wait_fill(self, order_id: int) -> float:
        async def wait() -> float:
            while order_id not in self.filled:
                self.arrived.clear()
                await self.arrived.wait()
            return self.filled[order_id]

        return await asyncio.wait_for(wait(), TIMEOUT)

    async def wait_status(self, order_id: int, status: int) -> None:
        async def wait() -> None:
            while True:
                order = await self.orders.get_order_by_id(order_id)
                if order is not None and order.status == status:
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(wait(), TIMEOUT)

    async def position(self, size: int) -> Any:
        """The position once it shows ``size`` contracts (0: flat), as the bot sees it."""

        async def wait() -> Any:
            while True:
                position = await self.suite.positions.get_position(self.contract)
                if (position.size if position is not None else 0) == size:
                    return position
                await asyncio.sleep(0.05)

        position = await asyncio.wait_for(wait(), TIMEOUT)
        if position is None:
            return None
        return {"size": position.size, "type": position.type, "avg": position.averagePrice}

    def track(self, role: str, order_id: int | None) -> int:
        assert order_id is not None, role
        self.roles[order_id] = role
        return order_id

    async def run(self) -> None:
        orders, contract = self.orders, self.contract
        await self.suite.on(EventType.ORDER_FILLED, self.on_filled)
        sim("set_price", symbol_or_id="MNQ", price="21000")

        # Market entry, then the position it opened.
        entry = await orders.place_market_order(contract, 0, 2)
        await self.wait_fill(self.track("market entry", entry.orderId))
        self.notes["after entry"] = await self.position(2)

        # A resting limit: found among the open orders, moved down, cancelled.
        resting = await orders.place_limit_order(contract, 0, 1, 20990.0)
        self.track("resting limit", resting.orderId)
        open_ids = [o.id for o in await orders.search_open_orders()]
        self.notes["limit is open"] = resting.orderId in open_ids
        self.notes["modified"] = await orders.modify_order(resting.orderId, limit_price=20985.0)
        self.notes["cancelled"] = await orders.cancel_order(resting.orderId)

        # A protective stop the market runs into.
        stop = await orders.place_stop_order(contract, 1, 2, 20980.0)
        self.track("protective stop", stop.orderId)
        sim("set_price", symbol_or_id="MNQ", price="20980")
        await self.wait_fill(stop.orderId)
        self.notes["after stop"] = await self.position(0)

        # A bracket entered at the ask; the market then falls to its stop.
        sim("set_price", symbol_or_id="MNQ", price="21000")
        bracket = await orders.place_bracket_order(contract, 0, 1, 21000.25, 20990.25, 21010.25)
        self.notes["bracket success"] = bracket.success
        await self.wait_fill(self.track("bracket entry", bracket.entry_order_id))
        self.track("bracket stop", bracket.stop_order_id)
        self.track("bracket target", bracket.target_order_id)
        sim("set_price", symbol_or_id="MNQ", price="20990.25")
        await self.wait_fill(bracket.stop_order_id)
        await self.wait_status(bracket.target_order_id, OrderStatus.CANCELLED)

        # An OCO pair linked on the Gateway: the limit fills, the stop goes.
        sim("set_price", symbol_or_id="MNQ", price="21000")
        first = await orders.place_limit_order(contract, 1, 1, 21010.0)
        second = await orders.place_stop_order(
            contract, 1, 1, 20990.0, linked_order_id=first.orderId
        )
        self.track("oco limit", first.orderId)
        self.track("oco stop", second.orderId)
        sim("set_price", symbol_or_id="MNQ", price="21010")
        await self.wait_fill(first.orderId)
        await self.wait_status(second.orderId, OrderStatus.CANCELLED)
        self.notes["after oco"] = await self.position(1)

        # Two far limits, then everything working is cancelled at once.
        for role, price in (("far limit 1", 20900.0), ("far limit 2", 20890.0)):
            far = await orders.place_limit_order(contract, 0, 1, price)
            self.track(role, far.orderId)
        result = await orders.cancel_all_orders()
        self.notes["cancel_all"] = {k: result[k] for k in ("total", "cancelled", "failed")}

        # Flatten the short left by the OCO fill.
        close = await orders.close_position(contract)
        assert close is not None
        await self.wait_fill(self.track("close", close.orderId))
        self.notes["final position"] = await self.position(0)

        trades = await self.suite.client.search_trades()
        self.notes["trades"] = sorted((t.side, t.size, t.price) for t in trades)

    async def summary(self) -> dict[str, Any]:
        orders = []
        for order_id, role in sorted(self.roles.items()):
            order = await self.orders.get_order_by_id(order_id)
            assert order is not None, role
            orders.append(
                {
                    "role": role,
                    "type": order.type,
                    "side": order.side,
                    "size": order.size,
                    "limitPrice": order.limitPrice,
                    "stopPrice": order.stopPrice,
                    "status": int(order.status),
                    "filledPrice": order.filledPrice,
                    "is_filled": order.status == OrderStatus.FILLED,
                }
            )
        fills = [(self.roles.get(order_id, "?"), price) for order_id, price in self.fills]
        return {"orders": orders, "fills": fills, "notes": self.notes}


async def main() -> dict[str, Any]:
    suite = await TradingSuite.create("MNQ", timeframes=["1min"], initial_days=1)
    try:
        bot = Bot(suite)
        await bot.run()
        return await bot.summary()
    finally:
        await suite.disconnect()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), sort_keys=True))

"""A position-management bot written for project-x-py 4.4.1, used unchanged on both libraries.

It opens a short with a market order, reads it back as project-x-py reports
positions (``size`` positive, direction in ``type``), protects it with
``add_stop_loss`` / ``add_take_profit``, lets the market take the target
(the library then cancels the stop), and follows
everything through events: ``ORDER_PLACED`` (its real keys),
``ORDER_FILLED``, ``ORDER_CANCELLED``, and
``POSITION_OPENED`` / ``POSITION_UPDATED`` / ``POSITION_CLOSED`` (raw dicts,
``pnl`` on close).  It also checks a Gateway rejection surfacing as
``ProjectXOrderError``, ``is_order_filled``, ``search_orders`` and the
``Order`` helper properties.

Prices move through the simulator's control API (``PXFAST_SIM_CONTROL_URL``).
The last stdout line is a JSON summary free of ids and timestamps.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from typing import Any

from project_x_py import EventType, OrderSide, PositionType, ProjectXOrderError, TradingSuite

TIMEOUT = 15.0


def sim(operation: str, **kwargs: Any) -> Any:
    request = urllib.request.Request(
        f"{os.environ['PXFAST_SIM_CONTROL_URL']}/{operation}",
        data=json.dumps(kwargs).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.load(response)["result"]


def number(value: Any) -> Any:
    """JSON-friendly price (project-x-py's ORDER_PLACED carries Decimals)."""
    return None if value is None else float(value)


class Bot:
    def __init__(self, suite: TradingSuite) -> None:
        self.suite = suite
        self.contract = suite.instrument_id
        self.orders = suite.orders
        self.events: list[tuple[str, Any]] = []
        self.changed = asyncio.Event()
        self.roles: dict[int, str] = {}

    def role(self, order_id: int) -> str:
        return self.roles.get(order_id, "?")

    async def record(self, event: Any) -> None:
        data = event.data
        name = event.type.value
        if name == "order_placed":
            entry = {
                "order_id": data["order_id"],
                "order_type": int(data["order_type"]),
                "side": data["side"],
                "size": data["size"],
                "limit_price": number(data["limit_price"]),
                "stop_price": number(data["stop_price"]),
            }
        elif name in ("order_filled", "order_cancelled"):
            entry = {"order_id": data["order_id"], "filledPrice": data["order"].filledPrice}
        else:
            entry = {"size": data["size"], "type": data["type"]}
            if name == "position_closed":
                entry["pnl"] = data["pnl"]
        self.events.append((name, entry))
        self.changed.set()

    async def wait_for(self, name: str, **match: Any) -> None:
        async def wait() -> None:
            while not any(
                n == name and all(e.get(k) == v for k, v in match.items()) for n, e in self.events
            ):
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), TIMEOUT)

    async def wait_status(self, order_id: int, status_str: str) -> None:
        async def wait() -> None:
            while True:
                order = await self.orders.get_order_by_id(order_id)
                if order is not None and order.status_str == status_str:
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(wait(), TIMEOUT)

    async def run(self) -> dict[str, Any]:
        orders, contract, notes = self.orders, self.contract, {}
        for event in (
            EventType.ORDER_PLACED,
            EventType.ORDER_FILLED,
            EventType.ORDER_CANCELLED,
            EventType.POSITION_OPENED,
            EventType.POSITION_UPDATED,
            EventType.POSITION_CLOSED,
        ):
            await self.suite.on(event, self.record)
        sim("set_price", symbol_or_id="MNQ", price="21000")

        # Open a short of 3 at the bid.
        entry = await orders.place_market_order(contract, OrderSide.SELL, 3)
        self.roles[entry.orderId] = "entry"
        await self.wait_for("order_filled", order_id=entry.orderId)
        await self.wait_for("position_opened", size=3)
        position = await self.suite.positions.get_position(contract)
        notes["short"] = {
            "size": position.size,
            "is_short": position.type == PositionType.SHORT,
            "signed_size": position.signed_size,
            "direction": position.direction,
            "avg": position.averagePrice,
        }

        # Protect it: a buy stop above the entry, a buy limit below.
        stop = await orders.add_stop_loss(contract, 21010.0)
        target = await orders.add_take_profit(contract, 20980.0)
        self.roles[stop.orderId] = "stop loss"
        self.roles[target.orderId] = "take profit"

        # A stop on the wrong side of a short is refused before sending.
        try:
            await orders.add_stop_loss(contract, 20990.0)
            notes["wrong-side stop"] = "placed"
        except ProjectXOrderError as exc:
            notes["wrong-side stop"] = str(exc)

        # A Gateway rejection is a ProjectXOrderError carrying its message.
        try:
            await orders.place_limit_order(contract, 0, 1, 20950.0, linked_order_id=987654)
            notes["rejected"] = "placed"
        except ProjectXOrderError as exc:
            notes["rejected"] = str(exc)

        # The market falls to the target.
        sim("set_price", symbol_or_id="MNQ", price="20979.75")
        await self.wait_for("order_filled", order_id=target.orderId)
        notes["target filled"] = await orders.is_order_filled(target.orderId)
        target_order = await orders.get_order_by_id(target.orderId)
        notes["target order"] = {
            "status_str": target_order.status_str,
            "side_str": target_order.side_str,
            "type_str": target_order.type_str,
            "size": target_order.size,
            "fillVolume": target_order.fillVolume,
            "is_filled": target_order.is_filled,
            "is_terminal": target_order.is_terminal,
        }
        await self.wait_for("position_closed")
        notes["after target"] = await self.suite.positions.get_position(contract)
        # Flat: the stop that protected the short is cancelled (by the library).
        await self.wait_status(stop.orderId, "CANCELLED")
        notes["open orders"] = len(await orders.search_open_orders(contract_id=contract))
        history = await orders.search_orders()
        notes["history"] = sorted(
            (o.type, o.side, o.size, o.status_str) for o in history if o.contractId == contract
        )
        return notes

    def summary(self, notes: dict[str, Any]) -> dict[str, Any]:
        """Events by kind, each in arrival order, with ids replaced by roles.

        Kinds are kept apart because their interleaving is not a contract:
        project-x-py emits ORDER_PLACED when the REST reply arrives (after any
        fill the hub already reported; pxfast emits it first) and runs each hub
        message as its own task.  ORDER_CANCELLED and POSITION_CLOSED's ``pnl``
        are apart too: project-x-py emits ORDER_CANCELLED for its own cancels
        only when the hub beats the REST reply (api-surface §1.A-72), and
        prices ``pnl`` at the closing update's average price.
        """
        kinds: dict[str, list[Any]] = {
            "placed": [],
            "fills": [],
            "positions": [],
            "cancel events": [],
            "closed pnl": [],
        }
        for name, entry in self.events:
            if "order_id" in entry:
                entry = {**entry, "order_id": self.role(entry["order_id"])}
            if name == "order_placed":
                kinds["placed"].append(entry)
            elif name == "order_filled":
                kinds["fills"].append(entry)
            elif name == "order_cancelled":
                kinds["cancel events"].append(entry["order_id"])
            else:
                if name == "position_closed":
                    entry = dict(entry)
                    kinds["closed pnl"].append(entry.pop("pnl"))
                kinds["positions"].append((name, entry))
        return {**kinds, "notes": notes}


async def main() -> dict[str, Any]:
    suite = await TradingSuite.create("MNQ", timeframes=["1min"], initial_days=1)
    try:
        bot = Bot(suite)
        return bot.summary(await bot.run())
    finally:
        await suite.disconnect()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), sort_keys=True))

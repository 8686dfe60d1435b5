"""A project-x-py 4.4.1 bot that trims a protected position, used unchanged on both libraries.

project-x-py keeps the protective orders of a position in step with it: when
``partially_close_position`` takes a short of 3 down to 2, the stop and the
target placed by ``add_stop_loss`` / ``add_take_profit`` are modified to 2,
so the target can only flatten the position, never reverse it.  The bot
reports the orders' sizes after the trim and the position left once the
market reaches the target.  The last stdout line is a JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from typing import Any

from project_x_py import TradingSuite

TIMEOUT = 15.0
#: How long the bot gives the library to resize its exits after the trim.
RESIZE_WAIT = 5.0


def sim(operation: str, **kwargs: Any) -> Any:
    request = urllib.request.Request(
        f"{os.environ['PXFAST_SIM_CONTROL_URL']}/{operation}",
        data=json.dumps(kwargs).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.load(response)["result"]


async def until(predicate: Any, timeout: float) -> bool:
    """Poll an async predicate until it holds (True) or ``timeout`` runs out (False)."""

    async def poll() -> None:
        while True:
            if await predicate():
                return
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        return False
    return True


async def run(suite: TradingSuite) -> dict[str, Any]:
    orders, positions, contract = suite.orders, suite.positions, suite.instrument_id
    sim("set_price", symbol_or_id="MNQ", price="21000")
    await orders.place_market_order(contract, 1, 3)

    async def position_size(size: int) -> bool:
        position = await positions.get_position(contract)
        return (position.size if position is not None else 0) == size

    assert await until(lambda: position_size(3), TIMEOUT)
    stop = await orders.add_stop_loss(contract, 21010.0)
    target = await orders.add_take_profit(contract, 20980.0)

    trimmed = await positions.partially_close_position(contract, 1)
    assert trimmed.get("success"), trimmed
    assert await until(lambda: position_size(2), TIMEOUT)

    async def sizes() -> list[Any]:
        result = []
        for order_id in (stop.orderId, target.orderId):
            order = await orders.get_order_by_id(order_id)
            result.append(order.size if order is not None else None)
        return result

    async def resized() -> bool:
        return await sizes() == [2, 2]

    await until(resized, RESIZE_WAIT)
    exit_sizes = await sizes()

    sim("set_price", symbol_or_id="MNQ", price="20979.75")  # the target fills
    await until(lambda: position_size(0), RESIZE_WAIT)
    final = await positions.get_position(contract)
    return {
        "exit sizes after trim": exit_sizes,
        "final position": None if final is None else {"size": final.size, "type": final.type},
    }


async def main() -> dict[str, Any]:
    suite = await TradingSuite.create("MNQ", timeframes=["1min"], initial_days=1)
    try:
        return await run(suite)
    finally:
        await suite.disconnect()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), sort_keys=True))

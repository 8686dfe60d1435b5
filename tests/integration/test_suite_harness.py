"""Shared helpers of the ``test_suite_*`` tests: a TradingSuite on the simulator, over loopback.

(A module of helpers, no tests: the ``test_suite_*`` files import it.)

``running_suite`` logs a suite in to a simulator (market paused, so prices
move only when a test moves them) through the real REST and SignalR path.
``move_price`` prints a price on the simulator and returns once the suite's
market stream has seen it; ``until`` waits, bounded, for a condition that
hub messages make true.  No test asserts on time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from pxfast.models import ProjectXConfig
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

WAIT = 5.0
TICK = Decimal("0.25")
#: MNQ: $0.50 a tick, $2 a point.
POINT_VALUE = Decimal("2")


def sim_config(gw: GatewaySimulator) -> ProjectXConfig:
    return ProjectXConfig(
        api_url=gw.api_url, user_hub_url=gw.user_hub_url, market_hub_url=gw.market_hub_url
    )


@asynccontextmanager
async def running_suite(
    gw: GatewaySimulator, user: str = "alice", **kwargs: Any
) -> AsyncIterator[TradingSuite]:
    options: dict[str, Any] = {"initial_days": 1, **kwargs}
    suite = await TradingSuite.create(
        "MNQ",
        client_config=sim_config(gw),
        username=user,
        api_key="sim-key-0000000",
        **options,
    )
    try:
        yield suite
    finally:
        await suite.disconnect()


async def until(condition: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    """Return once ``condition()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


async def move_price(
    gw: GatewaySimulator,
    suite: TradingSuite,
    price: Decimal | str | float,
    **quote: Decimal | str | float,
) -> None:
    """Print ``price`` (bid = price, ask one tick up unless given); wait until the suite saw it."""
    state = suite.realtime.market.state(suite.instrument_id)
    seen = state.trades
    gw.set_price("MNQ", str(price), **{k: str(v) for k, v in quote.items()})
    await until(lambda: state.trades > seen, f"the print at {price}")


def order_of(suite: TradingSuite, order_id: int | None) -> Any:
    """The order table's current view of an order (the user stream's truth)."""
    assert order_id is not None
    update = suite.orders.orders.get(order_id)
    assert update is not None, f"order {order_id} unknown to the table"
    return update


async def status_becomes(suite: TradingSuite, order_id: int | None, status: int) -> None:
    assert order_id is not None
    await until(
        lambda: suite.orders.orders.status(order_id) == status,
        f"order {order_id} to reach status {status}",
    )

"""A scripted trading session of the real, unmodified project-x-py 4.4.1 against the simulator.

Run by ``test_pxpy_session.py`` with the reference venv's Python 3.12, never
imported by pytest.  The simulator runs standalone; its URLs and control
endpoint arrive in the environment (``PROJECTX_*_URL``,
``PXFAST_SIM_CONTROL_URL``) and the credentials in ``PROJECT_X_USERNAME`` /
``PROJECT_X_API_KEY``.  The only patch is the one gateway-protocol.md §13.2
allows: ``ProjectXConfig``'s default URLs are replaced in this process,
because ``TradingSuite.create`` always builds its client from the defaults.

It prints one JSON object on its last stdout line: ``{"checks": {name:
detail}, "failed": [names]}``; the exit status is 0 only if nothing failed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import traceback
from collections import defaultdict
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
from project_x_py import EventType, TradingSuite
from project_x_py.models import ProjectXConfig

TICK = Decimal("0.25")
TIMEOUT = 15.0


def point_defaults_at_simulator() -> None:
    """Replace the default URLs of ProjectXConfig (class attributes and __init__ defaults)."""
    urls = {
        "api_url": os.environ["PROJECTX_API_URL"],
        "user_hub_url": os.environ["PROJECTX_USER_HUB_URL"],
        "market_hub_url": os.environ["PROJECTX_MARKET_HUB_URL"],
    }
    names = list(inspect.signature(ProjectXConfig.__init__).parameters)[1:]
    defaults = list(ProjectXConfig.__init__.__defaults__ or ())
    offset = len(names) - len(defaults)
    for name, url in urls.items():
        defaults[names.index(name) - offset] = url
        setattr(ProjectXConfig, name, url)
    ProjectXConfig.__init__.__defaults__ = tuple(defaults)


class Session:
    def __init__(self) -> None:
        self.checks: dict[str, str] = {}
        self.failed: list[str] = []
        self.events: dict[str, list[Any]] = defaultdict(list)
        self.arrived = asyncio.Event()
        self.control = httpx.AsyncClient(base_url=os.environ["PXFAST_SIM_CONTROL_URL"])

    async def sim(self, operation: str, **kwargs: Any) -> Any:
        response = await self.control.post(f"/{operation}", json=kwargs)
        response.raise_for_status()
        return response.json()["result"]

    def recorder(self, name: str) -> Callable[[Any], Awaitable[None]]:
        async def record(event: Any) -> None:
            self.events[name].append(event.data)
            self.arrived.set()

        return record

    async def wait_event(self, name: str, match: Callable[[Any], bool]) -> Any:
        """The first ``name`` event whose data satisfies ``match`` (bounded wait)."""
        async def find() -> Any:
            while True:
                for data in self.events[name]:
                    if match(data):
                        return data
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(find(), TIMEOUT)

    async def check(self, name: str, step: Callable[[], Awaitable[str]]) -> None:
        try:
            self.checks[name] = await step()
        except Exception as exc:  # every failure is reported, the session goes on
            self.checks[name] = f"FAILED: {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            self.failed.append(name)


def order_id_of(data: Any) -> int | None:
    order = data.get("order") if isinstance(data, dict) else None
    if order is not None:
        return int(order.id)
    return data.get("order_id") if isinstance(data, dict) else None


def size_of(data: Any) -> Any:
    """A position event's size, whether the payload came wrapped or bare."""
    inner = data.get("data", data) if isinstance(data, dict) else {}
    return inner.get("size") if isinstance(inner, dict) else None


async def run() -> Session:
    point_defaults_at_simulator()
    s = Session()
    suite = await TradingSuite.create("MNQ", timeframes=["1min"], features=["orderbook"],
                                      initial_days=1)
    try:
        for event in (EventType.ORDER_FILLED, EventType.ORDER_CANCELLED,
                      EventType.POSITION_UPDATED, EventType.POSITION_OPENED,
                      EventType.POSITION_CLOSED, EventType.QUOTE_UPDATE):
            await suite.on(event, s.recorder(event.value))
        contract_id = suite.instrument_id
        assert contract_id is not None
        orders, positions = suite.orders, suite.positions

        async def authenticated() -> str:
            info = suite.client.account_info
            assert info is not None and info.simulated and info.name.startswith("PRAC-")
            assert contract_id.startswith("CON.F.US.MNQ."), contract_id
            assert await suite.client.ping() == "pong"
            return f"account {info.name} ({info.id}), MNQ is {contract_id}"

        async def live_lookup() -> str:
            # The simulator runs with --no-live-data, as a practice account sees the Gateway.
            assert await suite.client.search_instruments("MNQ", live=True) == []
            instrument = await suite.client.get_instrument("MNQ", live=True)
            assert instrument.id == contract_id, instrument
            return "live search empty; get_instrument(live=True) fell back to live=False"

        async def quotes() -> str:
            data = await s.wait_event("quote_update", lambda d: True)
            return f"QUOTE_UPDATE received: {sorted(data)[:4]}..."

        async def market_order() -> str:
            await s.sim("set_price", symbol_or_id="MNQ", price="21000")
            placed = await orders.place_market_order(contract_id, 0, 1)
            assert placed.success, placed
            filled = await s.wait_event("order_filled",
                                        lambda d: order_id_of(d) == placed.orderId)
            assert filled["order"].filledPrice == 21000.25, filled["order"]
            await s.wait_event("position_opened", lambda d: size_of(d) == 1)
            position = await positions.get_position(contract_id)
            assert position is not None and position.size == 1, position
            return f"market buy {placed.orderId} filled at 21000.25; POSITION_OPENED size 1"

        async def limit_modify_cancel() -> str:
            price = float(Decimal("21000") - 40 * TICK)
            placed = await orders.place_limit_order(contract_id, 0, 1, price)
            assert placed.success, placed
            assert await orders.modify_order(placed.orderId, limit_price=price - 2.5)
            order = await orders.get_order_by_id(placed.orderId)
            assert order is not None and order.limitPrice == price - 2.5, order
            assert await orders.cancel_order(placed.orderId)
            # No wait for ORDER_CANCELLED: project-x-py 4.4.1 emits none for its own
            # cancels unless the hub beats its REST reply (a race); the Gateway decides.
            open_ids = [o.id for o in await orders.search_open_orders()]
            assert placed.orderId not in open_ids
            return f"limit {placed.orderId} placed at {price}, modified, cancelled"

        async def stop_order() -> str:
            stop = float(Decimal("21000") - 10 * TICK)
            placed = await orders.place_stop_order(contract_id, 1, 1, stop)
            assert placed.success, placed
            await s.sim("set_price", symbol_or_id="MNQ", price=str(stop - 0.25))
            filled = await s.wait_event("order_filled",
                                        lambda d: order_id_of(d) == placed.orderId)
            await s.wait_event("position_closed", lambda d: True)
            return (f"sell stop {placed.orderId} at {stop} triggered, filled at "
                    f"{filled['order'].filledPrice}; POSITION_CLOSED")

        async def bracket_order() -> str:
            await s.sim("set_price", symbol_or_id="MNQ", price="21000")
            entry = 21000.25  # the ask: a marketable limit entry fills at once
            result = await orders.place_bracket_order(
                contract_id, 0, 1, entry_price=entry, stop_loss_price=entry - 5,
                take_profit_price=entry + 5, entry_type="limit")
            assert result.success, result
            await s.wait_event("order_filled",
                               lambda d: order_id_of(d) == result.entry_order_id)
            assert result.stop_order_id and result.target_order_id, result
            stop = await orders.get_order_by_id(result.stop_order_id)
            target = await orders.get_order_by_id(result.target_order_id)
            assert stop is not None and stop.stopPrice == entry - 5, stop
            assert target is not None and target.limitPrice == entry + 5, target
            await s.sim("set_price", symbol_or_id="MNQ", price=str(entry + 5),
                        bid=str(entry + 5))
            await s.wait_event("order_filled",
                               lambda d: order_id_of(d) == result.target_order_id)
            await s.wait_event("order_cancelled",
                               lambda d: order_id_of(d) == result.stop_order_id)
            return (f"native bracket {result.entry_order_id}: SL {result.stop_order_id} at "
                    f"{entry - 5}, TP {result.target_order_id} at {entry + 5}; TP filled, "
                    "SL cancelled")

        async def close_positions() -> str:
            placed = await orders.place_market_order(contract_id, 0, 3)
            assert placed.success, placed
            await s.wait_event("order_filled", lambda d: order_id_of(d) == placed.orderId)
            partial = await positions.partially_close_position(contract_id, 1)
            assert partial.get("success"), partial
            await s.wait_event("position_updated", lambda d: size_of(d) == 2)
            await positions.refresh_positions()
            position = await positions.get_position(contract_id)
            assert position is not None and position.size == 2, position
            closed = await positions.close_position_direct(contract_id)
            assert closed.get("success"), closed
            assert await positions.get_position(contract_id) is None
            return "bought 3, partially closed 1 (POSITION_UPDATED size 2), closed the rest"

        async def reconnect() -> str:
            closed = await s.sim("close_hub_connections")
            assert closed == 2, closed

            async def resubscribed() -> list[Any]:
                while True:
                    hubs = await s.sim("hub_connections")
                    if any(h["hub"] == "user" and h.get("orders") for h in hubs) and any(
                            h["hub"] == "market" and h.get("quotes") for h in hubs):
                        return hubs
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(resubscribed(), TIMEOUT)
            placed = await orders.place_market_order(contract_id, 0, 1)
            await s.wait_event("order_filled", lambda d: order_id_of(d) == placed.orderId)
            await positions.close_position_direct(contract_id)
            return "both hubs closed by the server; reconnected, resubscribed, events flow"

        async def trade_history() -> str:
            trades = await suite.client.search_trades()
            assert len(trades) == 9, trades
            assert all(t.contractId == contract_id for t in trades)
            closing = [t for t in trades if t.profitAndLoss is not None]
            return f"{len(trades)} trades, {len(closing)} closing"

        for name, step in (("authenticate", authenticated), ("live_lookup", live_lookup),
                           ("quotes", quotes),
                           ("market_order", market_order),
                           ("limit_modify_cancel", limit_modify_cancel),
                           ("stop_order", stop_order), ("bracket_order", bracket_order),
                           ("close_positions", close_positions),
                           ("reconnect", reconnect), ("trade_history", trade_history)):
            await s.check(name, step)
    finally:
        await suite.disconnect()
        await s.control.aclose()
    return s


def main() -> int:
    session = asyncio.run(run())
    print(json.dumps({"checks": session.checks, "failed": session.failed}))
    return 1 if session.failed else 0


if __name__ == "__main__":
    sys.exit(main())

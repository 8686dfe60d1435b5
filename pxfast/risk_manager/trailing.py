"""Trailing a position's stop behind the price, driven by the market stream.

project-x-py polls every five seconds (positions over REST, then a price)
for each trailed position.  Here each print of the contract costs a
subtraction: once the position is ``trailing_stop_trigger`` points in
profit, a stop ``trailing_stop_distance`` points behind the print is
computed in exact ticks, and only a level that improves the stop by at
least a tick is sent.  One modify is in flight at a time; prints that arrive
meanwhile only raise the level the next modify uses.  The trail ends with
its stop order (filled, cancelled) or on ``stop()``.  Without a market
stream it falls back to project-x-py's five-second price poll.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from pxfast import _fsm
from pxfast._ticks import TickSize
from pxfast.messages import OrderUpdate
from pxfast.models import Position
from pxfast.realtime_data_manager.listeners import add_print_listener, remove_print_listener

if TYPE_CHECKING:
    from pxfast.risk_manager.core import RiskManager

__all__ = ["POLL_INTERVAL", "TrailingStop"]

logger = logging.getLogger(__name__)

#: Seconds between price polls when there is no market stream (project-x-py's interval).
POLL_INTERVAL = 5.0


class TrailingStop:
    """Trail one position's stop order; ``stop()`` ends it."""

    def __init__(
        self,
        risk: RiskManager,
        position: Position,
        stop_order_id: int,
        stop_price: Decimal,
        tick: TickSize,
    ) -> None:
        self.risk = risk
        self.position = position
        self.stop_order_id = stop_order_id
        #: The stop level the Gateway has (the last one confirmed).
        self.level = stop_price
        self.tick = tick
        self._long = position.is_long
        self._entry = Decimal(str(position.averagePrice))
        self._wanted: Decimal | None = None
        self._task: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self) -> None:
        orders = self.risk.orders
        realtime = orders.realtime
        if orders.stream is not None:
            orders.stream.watch(self.stop_order_id, self._on_stop)
        if realtime is not None:
            add_print_listener(realtime.market, self.position.contractId, self._on_price)
        else:
            self._poller = asyncio.get_running_loop().create_task(
                self._poll(), name=f"pxfast-trail-poll-{self.position.id}"
            )

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        orders = self.risk.orders
        if orders.stream is not None:
            orders.stream.unwatch(self.stop_order_id, self._on_stop)
        if orders.realtime is not None:
            remove_print_listener(orders.realtime.market, self.position.contractId, self._on_price)
        for task in (self._task, self._poller):
            if task is not None and not task.done():
                task.cancel()
        self.risk._trailing_stops.pop(str(self.position.id), None)

    async def wait_stopped(self) -> None:
        """Let a cancelled modify or poll unwind (used by ``RiskManager.stop_trailing_stops``)."""
        pending = [t for t in (self._task, self._poller) if t is not None]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def _on_stop(self, tr: _fsm.Transition, update: OrderUpdate) -> None:
        if tr.new_status in (2, 3, 4, 5):
            self.stop()

    def _on_price(self, price: float, volume: float = 0.0) -> None:
        if self._stopped:
            return  # later prints of a batch delivered before stop() took effect
        config = self.risk.config
        last = Decimal(str(price))
        profit = last - self._entry if self._long else self._entry - last
        if profit < config.trailing_stop_trigger:
            return
        distance = config.trailing_stop_distance
        level = self.tick.align(last - distance if self._long else last + distance)
        best = self._wanted if self._wanted is not None else self.level
        improves = level > best if self._long else level < best
        if not improves:
            return
        self._wanted = level
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._apply(), name=f"pxfast-trail-{self.position.id}"
            )

    async def _apply(self) -> None:
        while self._wanted is not None and not self._stopped:
            level, self._wanted = self._wanted, None
            if await self.risk.adjust_stops(self.position, float(level), self.stop_order_id):
                self.level = level

    async def _poll(self) -> None:
        data = self.risk.data_manager
        while not self._stopped:
            await asyncio.sleep(POLL_INTERVAL)
            if self.risk.orders.orders.status(self.stop_order_id) in (2, 3, 4, 5):
                self.stop()
                return
            price = await data.get_current_price() if data is not None else None
            if price is not None:
                self._on_price(price)

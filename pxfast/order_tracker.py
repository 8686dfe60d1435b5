"""Order lifecycle helpers: ``OrderTracker``, ``OrderChainBuilder`` and ``track_order``.

project-x-py's tracker listens to order events but treats the ``Event`` it
receives as a dict, so its handlers fail inside the bus and
``wait_for_fill`` only ever times out.  pxfast's tracker does not go through
the event bus at all: it reads the compiled order table and watches the
order on the user stream, the same state ``get_order_status`` reads.  When a
wait runs out it asks the Gateway before answering, so a fill the stream
missed is still reported and nothing is ever inferred from silence.

``OrderChainBuilder`` builds on ``OrderManager.place_bracket_order`` (market,
limit and stop entries; offsets in price points from the fill).  A trailing
stop replaces the fixed stop leg only once the entry has filled, never
before: a sell trailing stop working without the long it protects would open
a short.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Collection
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pxfast import _fsm
from pxfast.event_bus import EventType
from pxfast.exceptions import OrderLifecycleError, ProjectXError
from pxfast.messages import OrderUpdate
from pxfast.models import BracketOrderResponse, Order, OrderPlaceResponse
from pxfast.realtime_data_manager.listeners import add_print_listener, remove_print_listener
from pxfast.types.trading import OrderSide, OrderStatus

if TYPE_CHECKING:
    from pxfast.order_manager import OrderManager

__all__ = [
    "OrderChainBuilder",
    "OrderLifecycleError",
    "OrderTracker",
    "TrailingStopSwap",
    "await_order",
    "describe_state",
    "track_order",
]

logger = logging.getLogger(__name__)

Price = int | float | Decimal
TrackedOrder = Order | OrderPlaceResponse | int

TERMINAL = frozenset((2, 3, 4, 5))
WORKING = frozenset((1, 6, 7, 8))
#: First pause between Gateway checks when no user stream is attached (then doubling).
POLL_START = 0.25
POLL_MAX = 2.0


async def await_order(
    manager: OrderManager, order_id: int, wanted: Collection[int], timeout: float
) -> OrderUpdate | None:
    """The order once its status is in ``wanted`` or terminal, else its Gateway state at timeout.

    The wait is a watch on the user stream, so it costs nothing until the
    order changes.  When it runs out, the Gateway is asked (Order/searchById)
    and its answer is folded into the order table, so a fill the stream
    missed is found and still produces its events exactly once.  Returns
    None only when neither the table nor the Gateway knows the order.
    """
    stops = frozenset(wanted) | TERMINAL
    current = manager.orders.get(order_id)
    if current is not None and current.status in stops:
        return current
    stream = manager.stream
    if stream is None:
        return await _poll_gateway(manager, order_id, stops, timeout)
    reached: asyncio.Future[OrderUpdate] = asyncio.get_running_loop().create_future()

    def on_change(tr: _fsm.Transition, update: OrderUpdate) -> None:
        if tr.new_status in stops and not reached.done():
            reached.set_result(update)

    stream.watch(order_id, on_change)
    try:
        return await asyncio.wait_for(reached, timeout)
    except TimeoutError:
        return await _gateway_view(manager, order_id)
    finally:
        stream.unwatch(order_id, on_change)


async def _poll_gateway(
    manager: OrderManager, order_id: int, stops: frozenset[int], timeout: float
) -> OrderUpdate | None:
    """Without a user stream: ask the Gateway with a growing pause until ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pause = POLL_START
    while True:
        update = await _gateway_view(manager, order_id)
        remaining = deadline - loop.time()
        if (update is not None and update.status in stops) or remaining <= 0:
            return update
        await asyncio.sleep(min(pause, remaining))
        pause = min(pause * 2, POLL_MAX)


async def _gateway_view(manager: OrderManager, order_id: int) -> OrderUpdate | None:
    """The Gateway's current view of one order, folded into the table (newest wins)."""
    try:
        update = await manager.project_x.get_order_update(order_id)
    except ProjectXError as exc:
        logger.warning("Gateway lookup of order %s failed: %s", order_id, exc)
        update = None
    if update is not None:
        if manager.stream is not None:
            manager.stream.apply_order(update)
        else:
            manager.orders.apply(update)
    return manager.orders.get(order_id) or update


def _status_name(status: int) -> str:
    return OrderStatus(status).name if 0 <= status <= 8 else str(status)


def describe_state(update: OrderUpdate | None) -> str:
    """An order's real status for a message: "FILLED (2 at 21000.25)", "CANCELLED after
    filling 1 of 2", "still OPEN", or unknown when nothing could be read."""
    if update is None:
        return "in an unknown state (the Gateway could not be asked): check it before trading"
    name = _status_name(update.status)
    filled = update.fillVolume or 0
    if update.status == OrderStatus.FILLED:
        return f"FILLED ({filled or update.size} at {update.filledPrice})"
    if update.status not in TERMINAL:
        return f"still {name}" + (f" with {filled} of {update.size} filled" if filled else "")
    return name + (f" after filling {filled} of {update.size}" if filled else "")


class OrderTracker:
    """Follow one order: wait for its fill or a status, modify or cancel it.

    Use it as ``async with suite.track_order() as tracker:``; it also works
    without the context manager, since it holds nothing between waits.
    """

    def __init__(self, trading_suite: Any, order: TrackedOrder | None = None) -> None:
        self.suite = trading_suite
        self.order_manager: OrderManager = trading_suite.orders
        self.event_bus = trading_suite.events
        self.order: Order | None = None
        self.order_id: int | None = None
        self._current_status: int | None = None
        if order is not None:
            self.track(order)

    async def __aenter__(self) -> OrderTracker:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.cleanup()

    async def cleanup(self) -> None:
        """project-x-py API; nothing to release, since each wait unregisters its own watch."""

    def track(self, order: TrackedOrder) -> OrderTracker:
        """Follow ``order`` (an Order, a place response or an order id); returns self."""
        if isinstance(order, Order):
            self.order, self.order_id, self._current_status = order, order.id, int(order.status)
        elif isinstance(order, OrderPlaceResponse):
            self.order_id, self._current_status = order.orderId, int(order.status)
        elif isinstance(order, int) and not isinstance(order, bool):
            self.order_id, self._current_status = order, None
        else:
            raise TypeError(
                f"track() needs an Order, an OrderPlaceResponse or an id, got {order!r}"
            )
        return self

    def _require_id(self) -> int:
        if self.order_id is None:
            raise ValueError("No order is being tracked")
        return self.order_id

    def _remember(self, update: OrderUpdate) -> Order:
        self.order = Order.from_update(update)
        self._current_status = update.status
        return self.order

    async def wait_for_fill(self, timeout: float = 30.0) -> Order:
        """The filled order; OrderLifecycleError if it ends unfilled, TimeoutError if working."""
        order_id = self._require_id()
        update = await await_order(self.order_manager, order_id, (OrderStatus.FILLED,), timeout)
        if update is None:
            raise OrderLifecycleError(f"Order {order_id} is unknown to the Gateway")
        order = self._remember(update)
        if update.status == OrderStatus.FILLED:
            return order
        if update.status in TERMINAL:
            raise OrderLifecycleError(
                f"Order {order_id} reached terminal state: {_status_name(update.status)}"
            )
        raise TimeoutError(f"Order {order_id} not filled within {timeout} seconds")

    async def wait_for_status(self, status: int | str, timeout: float = 30.0) -> Order:
        """The order once it has ``status`` (an int, member or name).

        OrderLifecycleError if it ends in another status, TimeoutError if it
        is still working without having reached it.
        """
        order_id = self._require_id()
        target = int(OrderStatus.coerce(status))
        update = await await_order(self.order_manager, order_id, (target,), timeout)
        if update is None:
            raise OrderLifecycleError(f"Order {order_id} is unknown to the Gateway")
        order = self._remember(update)
        if update.status == target:
            return order
        if update.status in TERMINAL:
            raise OrderLifecycleError(
                f"Order {order_id} reached terminal state {_status_name(update.status)}, "
                f"not {_status_name(target)}"
            )
        raise TimeoutError(
            f"Order {order_id} did not reach status {_status_name(target)} within {timeout} seconds"
        )

    async def modify_or_cancel(
        self, new_price: Price | None = None, new_size: int | None = None
    ) -> bool:
        """Modify the order; if that is refused (or nothing to change), cancel it.

        True when modified, False when cancelled.  ``new_price`` goes to the
        order's own price (limit, stop or trail), where project-x-py always
        sends a limit price.
        """
        order_id = self._require_id()
        if new_price is not None or new_size is not None:
            try:
                if await self.order_manager.modify_order(
                    order_id, new_price=new_price, new_size=new_size
                ):
                    return True
            except ProjectXError as exc:
                logger.warning("modify of order %s refused (%s); cancelling it", order_id, exc)
        if not await self.order_manager.cancel_order(order_id):
            # Not cancelled: it had already ended (it may have filled) — say which.
            logger.warning(
                "order %s was not cancelled: it had already ended %s",
                order_id,
                _status_name(self.order_manager.orders.status(order_id)),
            )
        return False

    async def get_current_status(self) -> Order | None:
        """The order as the table (else the Gateway) has it now; None if unknown."""
        if self.order_id is None:
            return None
        order = await self.order_manager.get_order_by_id(self.order_id)
        if order is not None:
            self.order, self._current_status = order, int(order.status)
        return order

    def _status(self) -> int | None:
        if self.order_id is not None:
            status = self.order_manager.orders.status(self.order_id)
            if status >= 0:
                return status
        return self._current_status

    @property
    def is_filled(self) -> bool:
        return self._status() == OrderStatus.FILLED

    @property
    def is_working(self) -> bool:
        """Open, pending, pending cancellation, or a bracket leg suspended on its entry."""
        return self._status() in WORKING

    @property
    def is_terminal(self) -> bool:
        return self._status() in TERMINAL


class TrailingStopSwap:
    """Replace a bracket's fixed stop leg with a trailing stop once the entry has filled.

    With ``trigger_offset`` the swap also waits until the market has moved
    that many points in the position's favour from the fill price.  The
    trailing stop is placed *before* the fixed stop is cancelled: a short
    overlap of two exits is safer than a moment with none, and if the fixed
    stop turns out to have filled meanwhile the trailing stop is cancelled.
    If the trailing stop cannot be placed, the fixed stop stays and a
    ``WARNING`` event says why.  The new stop is linked with the target as
    an OCO pair and tracked as the position's stop.
    """

    def __init__(
        self,
        manager: OrderManager,
        contract_id: str,
        side: int,
        response: BracketOrderResponse,
        offset: Price,
        trigger_offset: Price | None,
    ) -> None:
        assert response.entry_order_id is not None and response.stop_order_id is not None
        self.manager = manager
        self.contract_id = contract_id
        self.side = side
        self.entry_id = response.entry_order_id
        self.stop_id = response.stop_order_id
        self.target_id = response.target_order_id
        self.offset = offset
        self.trigger_offset = Decimal(str(trigger_offset)) if trigger_offset is not None else None
        #: The trailing stop's order id, once placed.
        self.order_id: int | None = None
        self._done: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._fill_price: Decimal | None = None
        #: The running wait or swap (held so the loop cannot drop it).
        self._task: asyncio.Task[None] | None = None
        self._swapping = False

    def arm(self) -> None:
        """Start following the entry (or act at once if it already ended)."""
        entry = self.manager.orders.get(self.entry_id)
        if entry is not None and entry.status in TERMINAL:
            self._entry_ended(entry)
        elif self.manager.stream is not None:
            self.manager.stream.watch(self.entry_id, self._on_entry)
        else:
            self._start(self._wait_then_swap())

    async def wait(self, timeout: float = 30.0) -> int | None:
        """The trailing stop's id once placed (None if the swap was abandoned)."""
        return await asyncio.wait_for(asyncio.shield(self._done), timeout)

    def _finish(self, order_id: int | None) -> None:
        self.order_id = order_id
        if not self._done.done():
            self._done.set_result(order_id)

    def _on_entry(self, tr: _fsm.Transition, update: OrderUpdate) -> None:
        if tr.new_status in TERMINAL:
            assert self.manager.stream is not None
            self.manager.stream.unwatch(self.entry_id, self._on_entry)
            self._entry_ended(update)

    def _entry_ended(self, entry: OrderUpdate) -> None:
        if entry.status != OrderStatus.FILLED:
            self._finish(None)  # no position, nothing to trail
            return
        if entry.filledPrice is not None:
            self._fill_price = Decimal(str(entry.filledPrice))
        realtime = self.manager.realtime
        stream = self.manager.stream
        if self.trigger_offset is None or self._fill_price is None or realtime is None:
            self._start_swap()
            return
        add_print_listener(realtime.market, self.contract_id, self._on_print)
        if stream is not None:
            stream.watch(self.stop_id, self._on_stop_leg)

    def _on_print(self, price: float, volume: float) -> None:
        assert self._fill_price is not None and self.trigger_offset is not None
        move = Decimal(str(price)) - self._fill_price
        if self.side == OrderSide.SELL:
            move = -move
        if move >= self.trigger_offset:
            self._start_swap()

    def _on_stop_leg(self, tr: _fsm.Transition, update: OrderUpdate) -> None:
        """The fixed stop ended (filled, cancelled) before the trigger: nothing left to trail."""
        if tr.new_status in TERMINAL and not self._swapping:
            self._stop_listening()
            self._finish(None)

    def _stop_listening(self) -> None:
        manager = self.manager
        if manager.realtime is not None:
            remove_print_listener(manager.realtime.market, self.contract_id, self._on_print)
        if manager.stream is not None:
            manager.stream.unwatch(self.stop_id, self._on_stop_leg)

    def _start_swap(self) -> None:
        """Swap once, however many prints cross the trigger in one batch."""
        if self._swapping:
            return
        self._swapping = True
        self._stop_listening()
        self._start(self._swap())

    def _start(self, coro: Any) -> None:
        self._task = asyncio.get_running_loop().create_task(
            coro, name=f"pxfast-trail-{self.entry_id}"
        )

    async def _wait_then_swap(self) -> None:
        """Without a user stream: wait (bounded by the order's life) for the entry's end."""
        entry = await await_order(self.manager, self.entry_id, (), float("inf"))
        if entry is None:
            self._finish(None)
        else:
            self._entry_ended(entry)

    async def _swap(self) -> None:
        manager = self.manager
        stop = manager.orders.get(self.stop_id)
        if stop is None or stop.status not in WORKING:
            self._finish(None)  # the fixed stop already ended: nothing to replace
            return
        try:
            trail = await manager.place_trailing_stop_order(
                self.contract_id, 1 - self.side, stop.size, self.offset
            )
        except ProjectXError as exc:
            logger.warning("trailing stop for entry %s not placed: %s", self.entry_id, exc)
            manager.event_bus.dispatch(
                EventType.WARNING,
                {
                    "kind": "trailing_stop_failed",
                    "entry_order_id": self.entry_id,
                    "stop_order_id": self.stop_id,
                    "error": str(exc),
                },
                "OrderChainBuilder",
            )
            self._finish(None)
            return
        cancelled, _, stop_what = await manager._cancel_on_behalf(self.stop_id)
        if not cancelled:
            # The fixed stop filled (or ended otherwise) meanwhile, or it could not be
            # cancelled and still works: either way the trailing stop must not stay
            # as a second exit.
            _, _, trail_what = await manager._cancel_on_behalf(trail.orderId)
            logger.warning(
                "trailing stop swap for entry %s abandoned: the fixed stop %s is %s; "
                "the trailing stop %s is %s",
                self.entry_id,
                self.stop_id,
                stop_what,
                trail.orderId,
                trail_what,
            )
            manager.event_bus.dispatch(
                EventType.WARNING,
                {
                    "kind": "trailing_stop_abandoned",
                    "entry_order_id": self.entry_id,
                    "stop_order_id": self.stop_id,
                    "stop_status": stop_what,
                    "trailing_stop_order_id": trail.orderId,
                    "trailing_stop_status": trail_what,
                },
                "OrderChainBuilder",
            )
            self._finish(None)
            return
        if self.target_id is not None:
            await manager._link_oco_orders(trail.orderId, self.target_id)
        await manager.track_order_for_position(self.contract_id, trail.orderId, "stop")
        self._finish(trail.orderId)


class OrderChainBuilder:
    """Fluent entry + stop + target (+ trailing stop), placed as one bracket.

    ``suite.order_chain().market_order(2).with_stop_loss(offset=10)
    .with_take_profit(offset=20).execute()``.  Offsets are price points from
    the entry's fill; prices are absolute.  Stop entries work in pxfast
    (project-x-py 4.4.1 refuses them).
    """

    def __init__(self, trading_suite: Any) -> None:
        self.suite = trading_suite
        self.order_manager: OrderManager = trading_suite.orders
        self.entry_type = "market"
        self.side: int | None = None
        self.size: int | None = None
        self.entry_price: Price | None = None
        self.contract_id: str | None = None
        self.stop_loss: dict[str, Price | None] | None = None
        self.take_profit: dict[str, Price | None] | None = None
        self.trail_stop: dict[str, Price | None] | None = None
        #: Set by ``execute`` when a trailing stop was asked for.
        self.trailing_stop_swap: TrailingStopSwap | None = None

    def _entry(self, kind: str, size: int, price: Price | None, side: int) -> OrderChainBuilder:
        self.entry_type, self.size, self.entry_price, self.side = kind, size, price, side
        return self

    def market_order(self, size: int, side: int = 0) -> OrderChainBuilder:
        return self._entry("market", size, None, side)

    def limit_order(self, size: int, price: Price, side: int = 0) -> OrderChainBuilder:
        return self._entry("limit", size, price, side)

    def stop_order(self, size: int, price: Price, side: int = 0) -> OrderChainBuilder:
        return self._entry("stop", size, price, side)

    def for_instrument(self, contract_id: str) -> OrderChainBuilder:
        self.contract_id = contract_id
        return self

    @staticmethod
    def _leg(name: str, offset: Price | None, price: Price | None) -> dict[str, Price | None]:
        if (offset is None) == (price is None):
            raise ValueError(f"{name}: give exactly one of offset and price")
        return {"offset": offset, "price": price}

    def with_stop_loss(
        self, offset: Price | None = None, price: Price | None = None
    ) -> OrderChainBuilder:
        self.stop_loss = self._leg("with_stop_loss", offset, price)
        return self

    def with_take_profit(
        self, offset: Price | None = None, price: Price | None = None
    ) -> OrderChainBuilder:
        self.take_profit = self._leg("with_take_profit", offset, price)
        return self

    def with_trail_stop(
        self, offset: Price, trigger_offset: Price | None = None
    ) -> OrderChainBuilder:
        """Trail the stop by ``offset`` points once filled (and ``trigger_offset`` in profit)."""
        self.trail_stop = {"offset": offset, "trigger_offset": trigger_offset}
        return self

    async def execute(self) -> BracketOrderResponse:
        """Place the chain; a plain order comes back as a bracket response without legs."""
        if self.size is None:
            raise ValueError("Order size is required")
        if self.side is None:
            raise ValueError("Order side is required")
        contract_id = self.contract_id or self.suite.instrument_id
        if (self.stop_loss is None) != (self.take_profit is None):
            raise ValueError(
                "A chain with a stop loss needs a take profit too (and vice versa): "
                "both legs are placed as one bracket"
            )
        if self.stop_loss is None or self.take_profit is None:
            if self.trail_stop is not None:
                raise ValueError("with_trail_stop needs with_stop_loss and with_take_profit")
            return await self._single(contract_id, self.side, self.size)
        result = await self.order_manager.place_bracket_order(
            contract_id,
            self.side,
            self.size,
            entry_price=self.entry_price,
            stop_loss_price=self.stop_loss["price"],
            take_profit_price=self.take_profit["price"],
            entry_type=self.entry_type,
            stop_offset=self.stop_loss["offset"],
            target_offset=self.take_profit["offset"],
        )
        if self.trail_stop is not None and result.success and result.stop_order_id is not None:
            offset = self.trail_stop["offset"]
            assert offset is not None
            self.trailing_stop_swap = TrailingStopSwap(
                self.order_manager,
                contract_id,
                self.side,
                result,
                offset,
                self.trail_stop["trigger_offset"],
            )
            self.trailing_stop_swap.arm()
        return result

    async def _single(self, contract_id: str, side: int, size: int) -> BracketOrderResponse:
        manager = self.order_manager
        price = self.entry_price
        if self.entry_type == "market":
            response = await manager.place_market_order(contract_id, side, size)
        elif price is None:
            raise ValueError(f"Entry price is required for {self.entry_type} orders")
        elif self.entry_type == "limit":
            response = await manager.place_limit_order(contract_id, side, size, price)
        else:
            response = await manager.place_stop_order(contract_id, side, size, price)
        return BracketOrderResponse(
            response.success,
            response.orderId if response.success else None,
            None,
            None,
            float(price) if price is not None else 0.0,
            0.0,
            0.0,
            response,
            None,
            None,
            response.errorMessage,
        )


def track_order(trading_suite: Any, order: TrackedOrder | None = None) -> OrderTracker:
    """Deprecated (project-x-py 3.1.14): use ``suite.track_order()``."""
    warnings.warn(
        "track_order() is deprecated; use TradingSuite.track_order()",
        DeprecationWarning,
        stacklevel=2,
    )
    return OrderTracker(trading_suite, order)

"""Events: project-x-py's ``EventType``/``Event``/``EventBus``, without a task per handler.

project-x-py runs every handler of every event as its own asyncio task and
awaits them all, which is what starved its loop at the open (incident #143).
pxfast keeps the same API and the same observable semantics — registration
order, once-handlers removed before dispatch, a failing handler logged and
re-emitted as ``ERROR`` without stopping the others, ``emit`` returning when
every handler has finished — but starts async handlers *eagerly*: a handler
coroutine is driven synchronously until it first suspends, so a handler that
never awaits costs no task at all, and one that does continues in a task
from exactly where it stopped.  Sync handlers are accepted too (a superset).

Delivery order is kept per event: the realtime layer dispatches hub messages
one by one with :meth:`EventBus.dispatch`, so handlers see them in Gateway
order even when some of them suspend.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any

from pxfast._events import Dispatcher, Event, HandlerTask, bind_event_types

__all__ = ["Event", "EventBus", "EventType", "Handler"]

logger = logging.getLogger(__name__)


class EventType(Enum):
    """Every event project-x-py 4.4.1 declares (same values), plus ``ORDER_UPDATED``."""

    # Market data
    NEW_BAR = "new_bar"
    DATA_UPDATE = "data_update"
    QUOTE_UPDATE = "quote_update"
    TRADE_TICK = "trade_tick"
    ORDERBOOK_UPDATE = "orderbook_update"
    MARKET_DEPTH_UPDATE = "market_depth_update"
    # Orders
    ORDER_PLACED = "order_placed"
    ORDER_FILLED = "order_filled"
    ORDER_PARTIAL_FILL = "order_partial_fill"
    ORDER_CANCELLED = "order_cancelled"
    ORDER_REJECTED = "order_rejected"
    ORDER_EXPIRED = "order_expired"
    ORDER_MODIFIED = "order_modified"
    ORDER_UPDATED = "order_updated"
    # Positions
    POSITION_OPENED = "position_opened"
    POSITION_CLOSED = "position_closed"
    POSITION_UPDATED = "position_updated"
    POSITION_PNL_UPDATE = "position_pnl_update"
    # Risk
    RISK_LIMIT_WARNING = "risk_limit_warning"
    RISK_LIMIT_EXCEEDED = "risk_limit_exceeded"
    STOP_LOSS_TRIGGERED = "stop_loss_triggered"
    TAKE_PROFIT_TRIGGERED = "take_profit_triggered"
    # System
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RECONNECTING = "reconnecting"
    AUTHENTICATED = "authenticated"
    FEED_STALE = "feed_stale"
    ERROR = "error"
    WARNING = "warning"
    # Performance
    MEMORY_WARNING = "memory_warning"
    RATE_LIMIT_WARNING = "rate_limit_warning"
    LATENCY_WARNING = "latency_warning"


_BY_VALUE: dict[str, EventType] = {member.value: member for member in EventType}
bind_event_types(EventType, _BY_VALUE)

Handler = Callable[["Event"], Any]
EventKey = EventType | str


def _event_type(event: EventKey) -> EventType:
    """The member for an EventType or its string value; ValueError for anything else."""
    if isinstance(event, EventType):
        return event
    member = _BY_VALUE.get(event)
    if member is None:
        raise ValueError(f"{event!r} is not a valid EventType")
    return member


def _handler_name(handler: Handler) -> str:
    name = getattr(handler, "__qualname__", None) or getattr(handler, "__name__", None)
    return name if isinstance(name, str) else repr(handler)


def _check_handler(handler: Handler) -> None:
    if not callable(handler):
        raise ValueError(f"Handler {handler!r} is not callable")


class EventBus(Dispatcher):
    """Handlers per event, once-handlers, wildcard handlers and a bounded history.

    Delivery (``dispatch``) is compiled in ``pxfast._events``; this class is
    the registration, waiting and error-reporting API around it.
    """

    # ------------------------------------------------------------------ registration

    async def on(self, event: EventKey, handler: Handler) -> None:
        """Call ``handler(event)`` for every ``event``; sync or async callables."""
        key = _event_type(event)
        _check_handler(handler)
        self._handlers[key] = [*self._handlers.get(key, ()), handler]

    async def once(self, event: EventKey, handler: Handler) -> None:
        """Call ``handler`` for the next ``event`` only (removed before it runs)."""
        key = _event_type(event)
        _check_handler(handler)
        self._once[key] = [*self._once.get(key, ()), handler]

    async def on_any(self, handler: Handler) -> None:
        """Call ``handler`` for every event on this bus, after the typed handlers."""
        _check_handler(handler)
        self._wildcard = [*self._wildcard, handler]

    async def subscribe(self, _name: str, event: EventKey, handler: Handler) -> None:
        """Legacy registration: unknown names go to a separate map (project-x-py compat)."""
        if isinstance(event, EventType) or event in _BY_VALUE:
            await self.on(event, handler)
            return
        _check_handler(handler)
        self._legacy[str(event)] = [*self._legacy.get(str(event), ()), handler]

    async def off(self, event: EventKey | None = None, handler: Handler | None = None) -> None:
        """Remove handlers.

        With ``event=None`` every typed and once handler goes, and the wildcard
        handlers too (or only ``handler`` among them), as in project-x-py.
        """
        if event is None:
            self._handlers.clear()
            self._once.clear()
            if handler is None:
                self._wildcard.clear()
            else:
                self._wildcard = [h for h in self._wildcard if h != handler]
            return
        key = _event_type(event)
        for table in (self._handlers, self._once):
            if handler is None:
                table.pop(key, None)
            elif key in table:
                table[key] = [h for h in table[key] if h != handler]

    def get_handler_count(self, event: EventKey | None = None) -> int:
        if event is None:
            return (
                sum(map(len, self._handlers.values()))
                + sum(map(len, self._once.values()))
                + len(self._wildcard)
                + sum(map(len, self._legacy.values()))
            )
        if isinstance(event, EventType) or event in _BY_VALUE:
            key = _event_type(event)
            typed = len(self._handlers.get(key, ())) + len(self._once.get(key, ()))
            return typed + len(self._wildcard)
        return len(self._legacy.get(str(event), ())) + len(self._wildcard)

    # ------------------------------------------------------------------ history

    def enable_history(self, max_size: int = 1000) -> None:
        self._history = deque(maxlen=max_size)

    def get_history(self) -> list[Event]:
        return list(self._history) if self._history is not None else []

    def clear_history(self) -> None:
        if self._history is not None:
            self._history.clear()

    # ------------------------------------------------------------------ dispatch

    def _failed(self, handler: Handler, ev: Event, exc: Exception) -> None:
        name = ev.type.value if isinstance(ev.type, EventType) else str(ev.type)
        logger.error("Error in event handler %s for %s: %s", _handler_name(handler), name, exc)
        if ev.type is not EventType.ERROR:
            self.dispatch(
                EventType.ERROR,
                {"original_event": name, "handler": _handler_name(handler), "error": str(exc)},
                source="EventBus",
            )

    # ------------------------------------------------------------------ waiting

    async def wait_for(self, event: EventKey, timeout: float | None = None) -> Event:
        """The next ``event``; builtin ``TimeoutError`` after ``timeout`` seconds.

        Raises RuntimeError when called from a handler running on this bus:
        the awaited event could never be delivered while that handler blocks.
        """
        current = asyncio.current_task()
        if isinstance(current, HandlerTask) and current._bus is self:
            raise RuntimeError(
                "EventBus.wait_for cannot be called from inside an emit handler "
                "on the same bus (deadlock). Wait from outside the handler."
            )
        key = _event_type(event)
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()

        def resolve(ev: Event) -> None:
            if not future.done():
                future.set_result(ev)

        self._once[key] = [*self._once.get(key, ()), resolve]
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            if key in self._once:  # still registered when the wait timed out
                self._once[key] = [h for h in self._once[key] if h is not resolve]

    async def forward_to(self, target_bus: EventBus) -> None:
        """Re-deliver every event of this bus on ``target_bus`` (same type, data, source).

        Unlike project-x-py this is not a wildcard handler: ``has_handlers`` on
        this bus sees the target's handlers, so an event nobody listens to
        anywhere costs nothing to produce, and ``off()`` does not cut the link.
        """
        self.forward_to_bus(target_bus)

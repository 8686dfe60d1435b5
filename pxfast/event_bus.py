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
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from enum import Enum
from types import CoroutineType
from typing import Any

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
_monotonic = time.monotonic

Handler = Callable[["Event"], Any]
EventKey = EventType | str


class Event:
    """One event: ``type`` (an EventType, or the raw string of a legacy name), ``data``,
    ``source`` and ``timestamp`` (monotonic seconds: asyncio's ``loop.time()`` clock)."""

    __slots__ = ("data", "source", "timestamp", "type")

    def __init__(self, type: EventKey, data: Any, source: str | None = None) -> None:
        self.type: EventKey = type if type.__class__ is EventType else _BY_VALUE.get(type, type)  # type: ignore[arg-type]
        self.data = data
        self.source = source
        self.timestamp = _monotonic()

    def __repr__(self) -> str:
        name = self.type.value if isinstance(self.type, EventType) else self.type
        return f"Event({name!r}, source={self.source!r})"


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


class EventBus:
    """Handlers per event, once-handlers, wildcard handlers and a bounded history."""

    def __init__(self) -> None:
        self._handlers: dict[EventKey, list[Handler]] = {}
        self._once: dict[EventKey, list[Handler]] = {}
        self._wildcard: list[Handler] = []
        self._legacy: dict[str, list[Handler]] = {}
        self._history: deque[Event] | None = None
        self._continuations: set[asyncio.Future[Any]] = set()
        self._runner: _HandlerTask | None = None

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

    def has_handlers(self, event: EventKey | None = None) -> bool:
        if self._wildcard:
            return True
        if event is None:
            return any(self._handlers.values()) or any(self._once.values()) or bool(self._legacy)
        if isinstance(event, EventType) or event in _BY_VALUE:
            key = _event_type(event)
            return bool(self._handlers.get(key) or self._once.get(key))
        return bool(self._legacy.get(str(event)))

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

    async def emit(self, event: EventKey, data: Any, source: str | None = None) -> None:
        """Deliver ``event`` and return when every handler has finished."""
        pending = self.dispatch(event, data, source)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def dispatch(
        self, event: EventKey, data: Any, source: str | None = None
    ) -> list[asyncio.Future[Any]] | None:
        """Deliver ``event`` now, without waiting; return the handlers still running.

        Sync handlers and async handlers that never suspend have completed on
        return.  Each handler that suspended goes on in a task; those tasks are
        returned (and kept alive by the bus) so a caller may await them.
        """
        key: EventKey = event if event.__class__ is EventType else _BY_VALUE.get(event, event)  # type: ignore[arg-type]
        if key.__class__ is EventType:
            handlers = self._handlers.get(key)
            once = self._once.pop(key, None) if key in self._once else None
        else:
            handlers = self._legacy.get(key)  # type: ignore[arg-type]
            once = None
        if not handlers and not once and not self._wildcard and self._history is None:
            return None
        ev = Event(key, data, source)
        if self._history is not None:
            self._history.append(ev)
        pending: list[asyncio.Future[Any]] | None = None
        # Handler lists are replaced, never mutated, on (un)registration, so
        # iterating them here is safe while handlers (un)register others.
        for group in (handlers, once, self._wildcard):
            if not group:
                continue
            for handler in group:
                task = self._start(handler, ev)
                if task is not None:
                    if pending is None:
                        pending = []
                    pending.append(task)
        return pending

    def _start(self, handler: Handler, ev: Event) -> asyncio.Future[Any] | None:
        """Run ``handler`` up to its first suspension; return its task if it suspended."""
        try:
            result = handler(ev)
            if result is None:
                return None
            task: asyncio.Future[Any]
            if result.__class__ is CoroutineType:
                runner = self._runner
                if runner is None or runner._loop_ is not _get_running_loop():
                    runner = self._runner = _HandlerTask(self)
                if not runner.start(result, handler, ev):
                    return None
                # The runner is now this handler's task; the next handler gets a new one.
                self._runner = None
                task = runner
            elif isinstance(result, Awaitable):
                task = asyncio.ensure_future(self._finish(handler, ev, result))
            else:
                return None
        except Exception as exc:
            self._failed(handler, ev, exc)
            return None
        self._continuations.add(task)
        task.add_done_callback(self._continuations.discard)
        return task

    async def _finish(self, handler: Handler, ev: Event, awaitable: Awaitable[Any]) -> None:
        try:
            await awaitable
        except Exception as exc:
            self._failed(handler, ev, exc)

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
        if isinstance(current, _HandlerTask) and current._bus is self:
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
        """Re-deliver every event of this bus on ``target_bus`` (same type, data, source)."""

        def forward(ev: Event) -> Awaitable[Any] | None:
            pending = target_bus.dispatch(ev.type, ev.data, ev.source)
            return asyncio.gather(*pending) if pending else None

        await self.on_any(forward)


_current_task = asyncio.current_task
_get_running_loop = asyncio.get_running_loop
# The current-task registry takes any task-like object; typeshed says Task only.
_enter_task: Callable[[asyncio.AbstractEventLoop, Any], None] = asyncio.tasks._enter_task
_leave_task: Callable[[asyncio.AbstractEventLoop, Any], None] = asyncio.tasks._leave_task


_DONE, _RUNNING, _CANCELLED = 0, 1, 2


class _HandlerTask(asyncio.Future[Any]):
    """The asyncio task of one async handler call, started eagerly.

    The first step runs inside ``dispatch``; while a handler runs, *this* is
    the current task (``asyncio.current_task()``, ``asyncio.timeout()`` and
    ``TaskGroup`` see it, never the emitter's task).  A handler that
    finishes without suspending leaves the object untouched, so the bus
    reuses it for the next handler and the common case allocates nothing.
    A handler that suspends keeps it as its task and goes on exactly like an
    ``asyncio.Task``: awaited futures wake it with their outcome, and
    ``cancel()`` is forwarded to the future it waits on.  This is what
    ``Task(..., eager_start=True)`` does on Python 3.12, on 3.11 too and
    without a task object per call.
    """

    __slots__ = (
        "_bus",
        "_cancel_requests",
        "_coro",
        "_event",
        "_handler",
        "_loop_",
        "_must_cancel",
        "_waiting_on",
    )

    def __init__(self, bus: EventBus) -> None:
        loop = _get_running_loop()
        super().__init__(loop=loop)
        self._loop_ = loop
        self._bus = bus
        self._coro: Coroutine[Any, Any, Any] | None = None
        self._handler: Handler | None = None
        self._event: Event | None = None
        self._waiting_on: asyncio.Future[Any] | None = None
        self._must_cancel = False
        self._cancel_requests = 0

    def start(self, coro: Coroutine[Any, Any, Any], handler: Handler, ev: Event) -> bool:
        """Run the first step of ``coro``; True if it suspended (this is now its task)."""
        self._coro = coro
        self._handler = handler
        self._event = ev
        if self._step(None) == _RUNNING:
            return True
        # Reused for the next handler; the references go with the next start().
        if self._cancel_requests:
            self._must_cancel = False
            self._cancel_requests = 0
        return False

    def get_coro(self) -> Coroutine[Any, Any, Any] | None:
        return self._coro

    def get_name(self) -> str:
        return f"pxfast-handler:{_handler_name(self._handler) if self._handler else '-'}"

    def cancelling(self) -> int:
        return self._cancel_requests

    def uncancel(self) -> int:
        if self._cancel_requests > 0:
            self._cancel_requests -= 1
        return self._cancel_requests

    def cancel(self, msg: Any = None) -> bool:
        if self.done():
            return False
        self._cancel_requests += 1
        waiting = self._waiting_on
        if waiting is not None and waiting.cancel(msg):
            return True
        self._must_cancel = True
        return True

    def _step(self, exc: BaseException | None) -> int:
        """Advance the coroutine once: _RUNNING, _DONE, or _CANCELLED."""
        loop = self._loop_
        coro = self._coro
        assert coro is not None
        if self._must_cancel:
            self._must_cancel = False
            exc = asyncio.CancelledError()
        outer = _current_task(loop)
        if outer is not None:
            _leave_task(loop, outer)
        _enter_task(loop, self)
        try:
            yielded = coro.send(None) if exc is None else coro.throw(exc)
        except StopIteration:
            return _DONE
        except asyncio.CancelledError:
            return _CANCELLED
        except Exception as error:
            self._bus._failed(self._handler, self._event, error)  # type: ignore[arg-type]
            return _DONE
        finally:
            _leave_task(loop, self)
            if outer is not None:
                _enter_task(loop, outer)
        self._park(yielded)
        return _RUNNING

    def _park(self, yielded: Any) -> None:
        """Wait for what the coroutine yielded: a future, or None for one loop turn."""
        if yielded is None:
            self.get_loop().call_soon(self._resume, None)
            return
        if getattr(yielded, "_asyncio_future_blocking", None) is None:
            self.get_loop().call_soon(
                self._resume, RuntimeError(f"handler task got a bad yield: {yielded!r}")
            )
            return
        yielded._asyncio_future_blocking = False
        self._waiting_on = yielded
        yielded.add_done_callback(self._wake)
        if self._must_cancel and yielded.cancel():
            self._must_cancel = False

    def _wake(self, future: asyncio.Future[Any]) -> None:
        self._waiting_on = None
        try:
            future.result()
        except BaseException as exc:
            self._resume(exc)
        else:
            self._resume(None)

    def _resume(self, exc: BaseException | None) -> None:
        if self.done():
            return
        state = self._step(exc)
        if state == _DONE:
            super().set_result(None)
        elif state == _CANCELLED:
            super().cancel()

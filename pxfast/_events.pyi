"""Typed stub of the compiled event-delivery core (``ext/events.pyx``)."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

class Event:
    """One event: ``type``, ``data``, ``source`` and a monotonic ``timestamp``."""

    type: Any
    data: Any
    source: str | None
    timestamp: float
    def __init__(self, type: Any, data: Any, source: str | None = None) -> None: ...

class Dispatcher:
    _handlers: dict[Any, list[Callable[[Event], Any]]]
    _once: dict[Any, list[Callable[[Event], Any]]]
    _legacy: dict[str, list[Callable[[Event], Any]]]
    _wildcard: list[Callable[[Event], Any]]
    _history: Any
    _continuations: set[asyncio.Future[Any]]
    def __init__(self) -> None: ...
    def forward_to_bus(self, target: Dispatcher) -> None: ...
    def has_handlers(self, event: Any = None) -> bool: ...
    async def emit(self, event: Any, data: Any, source: str | None = None) -> None:
        """Deliver ``event`` and return when every handler has finished."""
    def dispatch(
        self, event: Any, data: Any, source: str | None = None
    ) -> list[asyncio.Future[Any]] | None: ...
    def _failed(self, handler: Callable[[Event], Any], ev: Event, exc: Exception) -> None: ...

class HandlerTask(asyncio.Future[Any]):
    _bus: Dispatcher
    def __init__(self, bus: Dispatcher) -> None: ...
    def get_coro(self) -> Coroutine[Any, Any, Any] | None: ...
    def get_name(self) -> str: ...
    def cancelling(self) -> int: ...
    def uncancel(self) -> int: ...

def bind_event_types(event_type: type, by_value: dict[str, Any]) -> None: ...

"""Event delivery: ``EventBus.emit`` and the user hub's wire -> handler path, pxfast alone.

Run with ``pytest bench/test_bench_events.py --benchmark-only``.  Each call
runs ``CALLS`` operations inside one event-loop turn (the loop's own entry
costs more than an emit), so per-operation time = time / CALLS, as
``extra_info["calls"]`` says.  project-x-py's figures for the same paths need
its own interpreter: ``pxfast bench`` measures both side by side.

* ``emit``: ``await bus.emit(ORDER_FILLED, data)`` to 1 or 10 handlers, sync
  or async (an async handler that never awaits, run eagerly).
* ``wire``: a GatewayUserOrder frame (the order's fill) through the hub's
  decoder and dispatcher, the user stream and the order table, to an
  ORDER_FILLED async handler; each order is first seen Open, untimed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest

from pxfast.bench import common, inputs
from pxfast.client.project_x import ProjectX
from pxfast.event_bus import Event, EventBus, EventType
from pxfast.realtime.hub import HubConnection
from pxfast.realtime.user_stream import UserStream

CALLS = 1000


async def _async_handler(_event: Event) -> None:
    return None


def _sync_handler(_event: Event) -> None:
    return None


@pytest.mark.parametrize("kind", ["async", "sync"])
@pytest.mark.parametrize("handlers", [1, 10])
def test_emit(benchmark: Any, handlers: int, kind: str) -> None:
    loop = asyncio.new_event_loop()
    bus = EventBus()
    handler: Callable[[Event], Any] = _async_handler if kind == "async" else _sync_handler
    for _ in range(handlers):
        loop.run_until_complete(bus.on(EventType.ORDER_FILLED, handler))
    data = {"order_id": 1}

    async def emits() -> None:
        for _ in range(CALLS):
            await bus.emit(EventType.ORDER_FILLED, data, "bench")

    benchmark.group = "EventBus.emit"
    benchmark.extra_info["calls"] = CALLS
    try:
        benchmark(lambda: loop.run_until_complete(emits()))
    finally:
        loop.close()


async def _no_token(_force: bool) -> str:
    return "unused"


def test_wire_to_handler(benchmark: Any) -> None:
    loop = asyncio.new_event_loop()
    bus = EventBus()
    seen: list[int] = []

    async def on_filled(event: Event) -> None:
        seen.append(event.data["order_id"])

    loop.run_until_complete(bus.on(EventType.ORDER_FILLED, on_filled))
    stream = UserStream(cast(ProjectX, None), lambda _contract: bus)
    hub = HubConnection("user", "http://127.0.0.1:9/hubs/user", _no_token, stream.on_items)
    hub.decoder.reset(handshake=False)
    next_id = iter(range(1, 10**9))

    def frames() -> tuple[tuple[list[bytes]], dict[str, Any]]:
        ids = [next(next_id) for _ in range(CALLS)]
        for order_id in ids:  # first sighting (Open), not timed
            opened = common.order_frame(inputs.ORDER_TEMPLATE, order_id, 1)
            hub._received(hub.decoder.feed(opened.encode()))
        fills = [common.order_frame(inputs.ORDER_TEMPLATE, i, 2).encode() for i in ids]
        return (fills,), {}

    def deliver(fills: list[bytes]) -> None:
        for frame in fills:
            hub._received(hub.decoder.feed(frame))

    async def run() -> None:
        benchmark.pedantic(deliver, setup=frames, rounds=50)

    benchmark.extra_info["calls"] = CALLS
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()
    assert len(seen) == 50 * CALLS

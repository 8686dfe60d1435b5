"""EventBus: project-x-py's semantics, eager handler start, per-event ordering."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

from pxfast.event_bus import Event, EventBus, EventType

pytestmark = pytest.mark.both_loops


async def test_members_match_project_x_py_plus_order_updated() -> None:
    assert EventType.ORDER_FILLED.value == "order_filled"
    assert EventType.ORDER_UPDATED.value == "order_updated"
    assert EventType.FEED_STALE.value == "feed_stale"
    assert len(EventType) == 32  # 31 in project-x-py 4.4.1, plus ORDER_UPDATED
    assert EventType.ORDER_FILLED != "order_filled"  # a plain Enum, as in project-x-py


async def test_register_by_member_or_value_and_reject_unknown() -> None:
    bus = EventBus()
    seen: list[str] = []

    async def h(ev: Event) -> None:
        seen.append(ev.data)

    await bus.on(EventType.ORDER_FILLED, h)
    await bus.on("order_filled", h)
    with pytest.raises(ValueError, match="not a valid EventType"):
        await bus.on("order_exploded", h)
    with pytest.raises(ValueError, match="not callable"):
        await bus.on(EventType.ORDER_FILLED, 42)  # type: ignore[arg-type]
    await bus.emit("order_filled", "x")
    assert seen == ["x", "x"]


async def test_sync_async_partial_and_callable_object_handlers_in_order() -> None:
    bus = EventBus()
    order: list[str] = []

    def sync_h(ev: Event) -> None:
        order.append("sync")

    async def async_h(ev: Event) -> None:
        order.append("async")

    async def with_arg(tag: str, ev: Event) -> None:
        order.append(tag)

    class Obj:
        async def __call__(self, ev: Event) -> None:
            order.append("obj")

    for h in (sync_h, async_h, functools.partial(with_arg, "partial"), Obj()):
        await bus.on(EventType.ORDER_PLACED, h)
    await bus.emit(EventType.ORDER_PLACED, {})
    assert order == ["sync", "async", "partial", "obj"]


async def test_handler_that_never_awaits_costs_no_task() -> None:
    bus = EventBus()
    ran: list[int] = []

    async def h(ev: Event) -> None:
        ran.append(ev.data)

    await bus.on(EventType.QUOTE_UPDATE, h)
    pending = bus.dispatch(EventType.QUOTE_UPDATE, 1)
    assert pending is None and ran == [1]  # finished synchronously, no task made


async def test_suspended_handler_resumes_with_the_awaited_result() -> None:
    bus = EventBus()
    loop = asyncio.get_running_loop()
    gate: asyncio.Future[str] = loop.create_future()
    got: list[str] = []

    async def h(ev: Event) -> None:
        got.append("start")
        got.append(await gate)
        await asyncio.sleep(0)
        got.append("end")

    await bus.on(EventType.ORDER_FILLED, h)
    pending = bus.dispatch(EventType.ORDER_FILLED, None)
    assert pending is not None and got == ["start"]
    loop.call_soon(gate.set_result, "value")
    await asyncio.wait_for(asyncio.gather(*pending), 5)
    assert got == ["start", "value", "end"]


async def test_exception_after_suspension_is_reported_as_error_event() -> None:
    bus = EventBus()
    errors: list[dict[str, Any]] = []

    async def bad(ev: Event) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("boom")

    async def on_error(ev: Event) -> None:
        errors.append(ev.data)

    await bus.on(EventType.ORDER_FILLED, bad)
    await bus.on(EventType.ERROR, on_error)
    await bus.emit(EventType.ORDER_FILLED, None)
    assert errors == [
        {"original_event": "order_filled", "handler": bad.__qualname__, "error": "boom"}
    ]


async def test_failing_handler_does_not_stop_others_and_error_not_reemitted_for_error() -> None:
    bus = EventBus()
    seen: list[str] = []

    def bad(ev: Event) -> None:
        raise ValueError("bad handler")

    async def good(ev: Event) -> None:
        seen.append(ev.type.value if isinstance(ev.type, EventType) else ev.type)

    def bad_error_handler(ev: Event) -> None:
        seen.append("error-handler")
        raise ValueError("error handler fails too")

    await bus.on(EventType.ORDER_CANCELLED, bad)
    await bus.on(EventType.ORDER_CANCELLED, good)
    await bus.on(EventType.ERROR, bad_error_handler)
    await bus.emit(EventType.ORDER_CANCELLED, None)
    assert seen == ["error-handler", "order_cancelled"]


async def test_emit_waits_for_all_handlers() -> None:
    bus = EventBus()
    done: list[int] = []

    async def slow(ev: Event) -> None:
        await asyncio.sleep(0.01)
        done.append(1)

    await bus.on(EventType.ORDER_FILLED, slow)
    await bus.on(EventType.ORDER_FILLED, slow)
    await bus.emit(EventType.ORDER_FILLED, None)
    assert done == [1, 1]


async def test_once_removed_before_dispatch() -> None:
    bus = EventBus()
    calls: list[int] = []

    async def once_h(ev: Event) -> None:
        calls.append(ev.data)
        await bus.emit(EventType.ORDER_FILLED, ev.data + 1)  # re-entrant emit

    await bus.once(EventType.ORDER_FILLED, once_h)
    await bus.emit(EventType.ORDER_FILLED, 1)
    await bus.emit(EventType.ORDER_FILLED, 10)
    assert calls == [1]


async def test_wildcards_run_after_typed_and_once() -> None:
    bus = EventBus()
    order: list[str] = []
    await bus.on_any(lambda ev: order.append("any"))
    await bus.once(EventType.ORDER_PLACED, lambda ev: order.append("once"))
    await bus.on(EventType.ORDER_PLACED, lambda ev: order.append("typed"))
    await bus.emit(EventType.ORDER_PLACED, None)
    assert order == ["typed", "once", "any"]


async def test_off_semantics() -> None:
    bus = EventBus()

    async def a(ev: Event) -> None: ...

    async def b(ev: Event) -> None: ...

    await bus.on(EventType.ORDER_FILLED, a)
    await bus.on(EventType.ORDER_FILLED, b)
    await bus.once(EventType.ORDER_FILLED, a)
    await bus.on_any(a)
    await bus.on_any(b)
    assert bus.get_handler_count(EventType.ORDER_FILLED) == 5
    await bus.off(EventType.ORDER_FILLED, a)
    assert bus.get_handler_count(EventType.ORDER_FILLED) == 3  # b + two wildcards
    await bus.off(None, b)  # clears typed and once; removes only wildcard b
    assert bus.get_handler_count() == 1 and bus.has_handlers()
    await bus.off()
    assert bus.get_handler_count() == 0 and not bus.has_handlers(EventType.ORDER_FILLED)


async def test_wait_for_returns_event_and_times_out_cleanly() -> None:
    bus = EventBus()
    asyncio.get_running_loop().call_soon(bus.dispatch, EventType.ORDER_FILLED, {"order_id": 7})
    ev = await bus.wait_for(EventType.ORDER_FILLED, timeout=5)
    assert ev.data == {"order_id": 7} and ev.type is EventType.ORDER_FILLED
    with pytest.raises(TimeoutError):
        await bus.wait_for("order_cancelled", timeout=0.01)
    assert bus.get_handler_count(EventType.ORDER_CANCELLED) == 0


async def test_wait_for_inside_handler_of_same_bus_is_refused() -> None:
    bus = EventBus()
    other = EventBus()
    outcomes: list[str] = []

    async def h(ev: Event) -> None:
        try:
            await bus.wait_for(EventType.ORDER_FILLED, timeout=0.01)
        except RuntimeError:
            outcomes.append("refused")
        try:
            await other.wait_for(EventType.ORDER_FILLED, timeout=0.01)
        except TimeoutError:
            outcomes.append("other bus ok")

    await bus.on(EventType.ORDER_PLACED, h)
    await bus.emit(EventType.ORDER_PLACED, None)
    assert outcomes == ["refused", "other bus ok"]


async def test_per_event_order_kept_when_handlers_suspend() -> None:
    bus = EventBus()
    started: list[int] = []
    finished: list[int] = []

    async def h(ev: Event) -> None:
        started.append(ev.data)
        if ev.data % 2:
            await asyncio.sleep(0)
        finished.append(ev.data)

    await bus.on(EventType.ORDER_UPDATED, h)
    tasks = []
    for i in range(100):
        tasks.extend(bus.dispatch(EventType.ORDER_UPDATED, i) or ())
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert started == list(range(100))
    assert sorted(finished) == list(range(100))


async def test_cancelling_a_continuation_reaches_the_handler() -> None:
    bus = EventBus()
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def h(ev: Event) -> None:
        try:
            await gate
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    await bus.on(EventType.ORDER_FILLED, h)
    pending = bus.dispatch(EventType.ORDER_FILLED, None)
    assert pending is not None
    pending[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending[0]
    assert seen == ["cancelled"] and gate.cancelled()


async def test_history_and_legacy_string_events() -> None:
    bus = EventBus()
    bus.enable_history(max_size=2)
    legacy: list[Any] = []
    await bus.subscribe("x", "risk_orders_placed", lambda ev: legacy.append(ev.data))
    for i in range(3):
        await bus.emit(EventType.WARNING, i)
    await bus.emit("risk_orders_placed", "legacy")
    assert [e.data for e in bus.get_history()] == [2, "legacy"]
    assert legacy == ["legacy"]
    bus.clear_history()
    assert bus.get_history() == []


async def test_forward_to_redelivers_and_emit_waits_for_target() -> None:
    source, target = EventBus(), EventBus()
    got: list[Any] = []

    async def slow(ev: Event) -> None:
        await asyncio.sleep(0.01)
        got.append((ev.type, ev.data, ev.source))

    await target.on(EventType.POSITION_UPDATED, slow)
    await source.forward_to(target)
    await source.emit(EventType.POSITION_UPDATED, {"size": 1}, source="PositionManager")
    assert got == [(EventType.POSITION_UPDATED, {"size": 1}, "PositionManager")]


def test_event_without_running_loop_has_monotonic_timestamp() -> None:
    ev = Event("order_filled", 1)
    assert ev.type is EventType.ORDER_FILLED and ev.timestamp > 0
    assert Event("custom_name", 1).type == "custom_name"


async def test_handler_is_its_own_current_task_even_when_emitted_from_a_task() -> None:
    bus = EventBus()
    outer = asyncio.current_task()
    seen: list[Any] = []

    async def h(ev: Event) -> None:
        seen.append(asyncio.current_task() is not outer)
        # asyncio.timeout binds to the current task: it must be the handler's.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        seen.append("timed out")

    await bus.on(EventType.ORDER_FILLED, h)
    await asyncio.wait_for(bus.emit(EventType.ORDER_FILLED, None), 5)
    assert seen == [True, "timed out"]
    assert asyncio.current_task() is outer and not outer.cancelling()  # type: ignore[union-attr]


async def test_task_group_inside_handler() -> None:
    bus = EventBus()
    results: list[int] = []

    async def child(i: int) -> None:
        await asyncio.sleep(0)
        results.append(i)

    async def h(ev: Event) -> None:
        async with asyncio.TaskGroup() as tg:
            for i in range(3):
                tg.create_task(child(i))

    await bus.on(EventType.ORDER_FILLED, h)
    await asyncio.wait_for(bus.emit(EventType.ORDER_FILLED, None), 5)
    assert sorted(results) == [0, 1, 2]

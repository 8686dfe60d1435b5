# cython: language_level=3
"""Event delivery hot path: event objects, synchronous dispatch, eager handler tasks.

``pxfast.event_bus.EventBus`` (the public, project-x-py-compatible API) is a
subclass of ``Dispatcher``; everything that runs once per event and per
handler lives here, compiled: building the ``Event``, walking the handler
lists, calling sync handlers, and running async handlers eagerly.

An async handler's first step runs inside ``dispatch`` with a
``HandlerTask`` as the current task (so ``asyncio.timeout``,
``current_task()`` and ``TaskGroup`` see the handler's own task, never the
emitter's).  A handler that finishes without suspending leaves that task
untouched, so it is reused for the next handler: the common case allocates
no task at all.  A handler that suspends keeps it and continues exactly like
an ``asyncio.Task``.  Python 3.12's ``Task(..., eager_start=True)`` does the
same, at the price of a task object per call.
"""

import asyncio
from types import CoroutineType

from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from asyncio import Future as _Future
from asyncio import CancelledError as _CancelledError

cdef extern from "Python.h":
    ctypedef enum PySendResult:
        PYGEN_RETURN
        PYGEN_ERROR
        PYGEN_NEXT
    ctypedef struct PyObject
    PySendResult PyIter_Send(object iterator, object arg, PyObject **presult)
    void Py_XDECREF(PyObject *o)
    PyObject *PyErr_Occurred()


cdef int raise_current() except -1:
    """Re-raise the exception PyIter_Send left set (Cython sees it via except -1)."""
    return -1

cdef object _current_task = asyncio.current_task
cdef object _enter_task = asyncio.tasks._enter_task
cdef object _leave_task = asyncio.tasks._leave_task
cdef object _get_running_loop = asyncio.events._get_running_loop
cdef object _future_set_result = _Future.set_result
cdef object _future_cancel = _Future.cancel
cdef object _CoroutineType = CoroutineType

# Bound by pxfast.event_bus at import: the EventType class and its value map.
cdef object _EventType = None
cdef dict _BY_VALUE = {}

DEF _DONE = 0
DEF _RUNNING = 1
DEF _CANCELLED = 2


def bind_event_types(event_type, dict by_value):
    """Tell the compiled core which enum names events (done once by pxfast.event_bus)."""
    global _EventType, _BY_VALUE
    _EventType = event_type
    _BY_VALUE = by_value


cdef inline object _normalize(object event):
    if type(event) is _EventType:
        return event
    return _BY_VALUE.get(event, event)


cdef class Event:
    """One event: ``type`` (an EventType, or the raw string of a legacy name), ``data``,
    ``source`` and ``timestamp`` (monotonic seconds: asyncio's ``loop.time()`` clock)."""

    cdef public object type
    cdef public object data
    cdef public object source
    cdef public double timestamp

    def __init__(self, type, data, source=None):
        self.type = _normalize(type)
        self.data = data
        self.source = source
        self.timestamp = _monotonic()

    def __repr__(self):
        name = self.type.value if type(self.type) is _EventType else self.type
        return f"Event({name!r}, source={self.source!r})"


cdef inline double _monotonic():
    """time.monotonic() without the Python call (the same clock on POSIX)."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + ts.tv_nsec * 1e-9


cdef Event _make_event(object key, object data, object source):
    cdef Event ev = Event.__new__(Event)
    ev.type = key
    ev.data = data
    ev.source = source
    ev.timestamp = _monotonic()
    return ev


def _handler_name(handler):
    name = getattr(handler, "__qualname__", None) or getattr(handler, "__name__", None)
    return name if isinstance(name, str) else repr(handler)


cdef class Dispatcher:
    """Handler tables and synchronous, in-order delivery.

    While a dispatch runs async handlers, its reusable ``HandlerTask`` (the
    runner) is the current task; it is entered once per dispatch, not once
    per handler, and handed over to a handler only if that handler suspends.
    """

    cdef public dict _handlers
    cdef public dict _once
    cdef public dict _legacy
    cdef public list _wildcard
    cdef public object _history
    cdef public set _continuations
    cdef list _targets
    cdef object _runner
    cdef _Core _runner_core
    cdef object _outer
    cdef bint _entered

    def __init__(self):
        self._handlers = {}
        self._once = {}
        self._legacy = {}
        self._wildcard = []
        self._history = None
        self._continuations = set()
        self._targets = []
        self._runner = None

    def forward_to_bus(self, Dispatcher target):
        """Deliver every event of this bus on ``target`` too (after this bus's handlers)."""
        if target is self:
            raise ValueError("a bus cannot forward to itself")
        if target not in self._targets:
            self._targets = self._targets + [target]

    cpdef bint has_handlers(self, object event=None):
        """Whether delivering ``event`` (any event, if None) would reach a handler,
        here or on a bus this one forwards to."""
        cdef Dispatcher target
        if self._wildcard:
            return True
        if event is None:
            if any(self._handlers.values()) or any(self._once.values()) or self._legacy:
                return True
        else:
            key = _normalize(event)
            if type(key) is _EventType:
                if self._handlers.get(key) or self._once.get(key):
                    return True
            elif self._legacy.get(key):
                return True
        for target in self._targets:
            if target.has_handlers(event):
                return True
        return False

    cpdef object dispatch(self, object event, object data, object source=None):
        """Deliver ``event`` now, without waiting; return the handlers still running.

        Sync handlers and async handlers that never suspend have completed on
        return.  Each handler that suspended goes on in a task; those tasks are
        returned (and kept alive by the bus) so a caller may await them.
        """
        cdef object key = _normalize(event)
        cdef object handlers
        cdef object once = None
        if type(key) is _EventType:
            handlers = self._handlers.get(key)
            if self._once and key in self._once:
                once = self._once.pop(key)
        else:
            handlers = self._legacy.get(key)
        if (not handlers and not once and not self._wildcard and self._history is None
                and not self._targets):
            return None
        cdef Event ev = _make_event(key, data, source)
        if self._history is not None:
            self._history.append(ev)
        cdef list pending = None
        cdef object task
        cdef bint entered_here = False
        # Handler lists are replaced, never mutated, on (un)registration, so
        # iterating them here is safe while handlers (un)register others.
        try:
            for group in (handlers, once, self._wildcard):
                if not group:
                    continue
                for handler in group:
                    task = self._start(handler, ev, &entered_here)
                    if task is not None:
                        if pending is None:
                            pending = []
                        pending.append(task)
        finally:
            if entered_here:
                self._leave_runner()
        cdef Dispatcher target
        cdef object forwarded
        for target in self._targets:
            forwarded = target.dispatch(key, data, source)
            if forwarded:
                if pending is None:
                    pending = []
                pending.extend(forwarded)
        return pending

    async def emit(self, event, data, source=None):
        """Deliver ``event`` and return when every handler has finished."""
        pending = self.dispatch(event, data, source)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    cdef object _start(self, object handler, Event ev, bint *entered_here):
        """Run ``handler`` up to its first suspension; return its task if it suspended."""
        cdef object result, task
        cdef _Core core
        try:
            result = handler(ev)
            if result is None:
                return None
            if type(result) is _CoroutineType:
                if not self._entered:
                    self._enter_runner()
                    entered_here[0] = True
                core = self._runner_core
                if _first_step(core, result, handler, ev) != _RUNNING:
                    return None
                # The runner is now this handler's task: hand it over.
                task = self._runner
                self._leave_runner()
                self._runner = None
                self._runner_core = None
            elif hasattr(result, "__await__"):
                task = asyncio.ensure_future(self._finish(handler, ev, result))
            else:
                return None
        except Exception as exc:
            self._failed(handler, ev, exc)
            return None
        self._continuations.add(task)
        task.add_done_callback(self._continuations.discard)
        return task

    cdef int _enter_runner(self) except -1:
        """Make the runner (created for the running loop if needed) the current task.

        The runner's loop is trusted while it runs: only one loop runs per
        thread, and asking asyncio for the running loop costs a getpid()
        system call per dispatch on Python 3.11.
        """
        if self._runner is None or not self._runner_core.loop.is_running():
            loop = _get_running_loop()
            if loop is None:
                raise RuntimeError("async event handlers need a running event loop")
            if self._runner is None or self._runner_core.loop is not loop:
                self._runner = HandlerTask(self)
                self._runner_core = <_Core>self._runner._core
        loop = self._runner_core.loop
        outer = _current_task(loop)
        if outer is not None:
            _leave_task(loop, outer)
        _enter_task(loop, self._runner)
        self._outer = outer
        self._entered = True
        return 0

    cdef int _leave_runner(self) except -1:
        if not self._entered:
            return 0
        loop = self._runner_core.loop
        _leave_task(loop, self._runner)
        if self._outer is not None:
            _enter_task(loop, self._outer)
        self._outer = None
        self._entered = False
        return 0

    async def _finish(self, handler, ev, awaitable):
        try:
            await awaitable
        except Exception as exc:
            self._failed(handler, ev, exc)

    def _failed(self, handler, ev, exc):
        """A handler raised; subclasses report it (project-x-py: log + ERROR event)."""
        raise NotImplementedError


cdef class _Core:
    """The per-call state of a HandlerTask, in C fields (the task itself is a Future)."""

    cdef object task
    cdef object loop
    cdef object coro
    cdef object handler
    cdef Event event
    cdef Dispatcher bus
    cdef object waiting_on
    cdef bint must_cancel
    cdef int cancel_requests


cdef int _first_step(_Core core, object coro, object handler, Event ev) except -1:
    """The eager first step; the dispatcher has already made the task current."""
    core.coro = coro
    core.handler = handler
    core.event = ev
    cdef int state = _advance(core, None)
    if state != _RUNNING and core.cancel_requests:
        # Reused for the next handler: forget cancels aimed at this one.
        core.must_cancel = False
        core.cancel_requests = 0
    return state


cdef int _step(_Core core, object exc) except -1:
    """Resume the task's coroutine once, as the current task (from a loop callback)."""
    cdef object loop = core.loop
    cdef object task = core.task
    cdef object outer = _current_task(loop)
    if outer is not None:
        _leave_task(loop, outer)
    _enter_task(loop, task)
    try:
        return _advance(core, exc)
    finally:
        _leave_task(loop, task)
        if outer is not None:
            _enter_task(loop, outer)


cdef int _advance(_Core core, object exc) except -1:
    """Send into (or throw into) the coroutine once: _RUNNING, _DONE, or _CANCELLED."""
    cdef object yielded
    cdef PyObject *sent = NULL
    cdef PySendResult how
    if core.must_cancel:
        core.must_cancel = False
        exc = _CancelledError()
    try:
        if exc is None:
            # PyIter_Send reports a return without raising StopIteration.
            how = PyIter_Send(core.coro, None, &sent)
            if how == PYGEN_ERROR:
                raise_current()
            yielded = <object>sent
            Py_XDECREF(sent)
            if how == PYGEN_RETURN:
                return _DONE
        else:
            yielded = core.coro.throw(exc)
    except StopIteration:
        return _DONE
    except _CancelledError:
        return _CANCELLED
    except Exception as error:
        core.bus._failed(core.handler, core.event, error)
        return _DONE
    core.task._park(yielded)
    return _RUNNING


class HandlerTask(_Future):
    """The asyncio task of one async handler call (see the module docstring)."""

    __slots__ = ("_core", "_loop_")

    def __init__(self, bus):
        loop = asyncio.get_running_loop()
        _Future.__init__(self, loop=loop)
        cdef _Core core = _Core.__new__(_Core)
        core.task = self
        core.loop = loop
        core.bus = bus
        self._core = core
        self._loop_ = loop

    @property
    def _bus(self):
        return (<_Core>self._core).bus

    def get_coro(self):
        return (<_Core>self._core).coro

    def get_name(self):
        handler = (<_Core>self._core).handler
        return f"pxfast-handler:{_handler_name(handler) if handler is not None else '-'}"

    def cancelling(self):
        return (<_Core>self._core).cancel_requests

    def uncancel(self):
        cdef _Core core = <_Core>self._core
        if core.cancel_requests > 0:
            core.cancel_requests -= 1
        return core.cancel_requests

    def cancel(self, msg=None):
        cdef _Core core = <_Core>self._core
        if self.done():
            return False
        core.cancel_requests += 1
        waiting = core.waiting_on
        if waiting is not None and waiting.cancel(msg):
            return True
        core.must_cancel = True
        return True

    def _park(self, yielded):
        """Wait for what the coroutine yielded: a future, or None for one loop turn."""
        cdef _Core core = <_Core>self._core
        if yielded is None:
            core.loop.call_soon(self._resume, None)
            return
        if getattr(yielded, "_asyncio_future_blocking", None) is None:
            core.loop.call_soon(
                self._resume, RuntimeError(f"handler task got a bad yield: {yielded!r}")
            )
            return
        yielded._asyncio_future_blocking = False
        core.waiting_on = yielded
        yielded.add_done_callback(self._wake)
        if core.must_cancel and yielded.cancel():
            core.must_cancel = False

    def _wake(self, future):
        (<_Core>self._core).waiting_on = None
        try:
            future.result()
        except BaseException as exc:
            self._resume(exc)
        else:
            self._resume(None)

    def _resume(self, exc):
        if self.done():
            return
        state = _step(<_Core>self._core, exc)
        if state == _DONE:
            _future_set_result(self, None)
        elif state == _CANCELLED:
            _future_cancel(self)

"""``pxfast.run``: run a coroutine on uvloop when it is installed, else on asyncio's loop.

pxfast works on any asyncio loop; uvloop makes its socket and timer work
cheaper, so the CLI and ``pxfast.run`` use it by default.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run"]

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], *, debug: bool | None = None) -> T:
    """``asyncio.run`` on a uvloop event loop (asyncio's own if uvloop is unavailable)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return asyncio.run(coro, debug=debug)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop, debug=debug) as runner:
        return runner.run(coro)

"""Shared test configuration.

Tests marked ``both_loops`` run twice: on asyncio's default loop and on
uvloop, because pxfast must work on any asyncio loop and is tuned for uvloop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest

from pxfast.sim import GatewaySimulator

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a runtime dependency on POSIX
    uvloop = None


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    if uvloop is not None and item.get_closest_marker("both_loops") is not None:
        factories["uvloop"] = uvloop.new_event_loop
    return factories


@pytest.fixture
def sim_settings() -> dict[str, Any]:
    """What every simulator of a test starts from; a directory's conftest may override it.

    The market is paused, so prices move only when a test moves them.
    """
    return {"seed": 11, "paused": True}


@pytest.fixture
async def make_simulator(
    sim_settings: dict[str, Any],
) -> AsyncIterator[Callable[..., Awaitable[GatewaySimulator]]]:
    """``await make_simulator(**overrides)``: a started simulator, stopped after the test."""
    started: list[GatewaySimulator] = []

    async def make(**overrides: Any) -> GatewaySimulator:
        gw = GatewaySimulator(**{**sim_settings, **overrides})
        await gw.start()
        started.append(gw)
        return gw

    yield make
    for gw in started:
        await gw.stop()

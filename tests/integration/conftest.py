"""Fixtures for integration tests against the embedded Gateway simulator over loopback.

``simulator`` is a fresh simulator per test with the market paused, so prices
move only when a test moves them; ``make_simulator`` builds one with other
settings.  ``raw_http`` is an aiohttp session; ``raw_rest_for`` logs a user in over
REST; ``raw_hub`` connects a SignalR hub and closes it after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from sim_wire import Gateway, Hub

from pxfast.sim import GatewaySimulator

MakeSimulator = Callable[..., Awaitable[GatewaySimulator]]


@pytest.fixture
async def simulator(make_simulator: MakeSimulator) -> GatewaySimulator:
    return await make_simulator()


@pytest.fixture
async def raw_http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
def raw_rest_for(
    simulator: GatewaySimulator, raw_http: aiohttp.ClientSession
) -> Callable[[str], Awaitable[Gateway]]:
    async def login(user: str) -> Gateway:
        gateway = Gateway(raw_http, simulator.api_url)
        await gateway.login(user)
        return gateway

    return login


@pytest.fixture
async def raw_hub(
    raw_http: aiohttp.ClientSession,
) -> AsyncIterator[Callable[..., Awaitable[Hub]]]:
    hubs: list[Hub] = []

    async def connect(url: str, token: str, **options: Any) -> Hub:
        hub = await Hub.connect(raw_http, url, token, **options)
        hubs.append(hub)
        return hub

    yield connect
    for hub in hubs:
        await hub.close()

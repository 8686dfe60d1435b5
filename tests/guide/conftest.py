"""Fixtures of the guide tests: a fresh paused simulator per test, the harness around it.

See ``guide_harness.py`` for what the harness adds to the guide's code.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any

import pytest
from guide_harness import (
    API_KEY,
    SEED,
    START_PRICE,
    USER,
    GuideHarness,
    Snippet,
    from_snippet,
    load_snippets,
    real_sleep,
)

import pxfast.compat
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite


@pytest.fixture(scope="session")
def snippets() -> dict[int, Snippet]:
    return load_snippets()


@pytest.fixture
def compat() -> Iterator[None]:
    """``import project_x_py`` resolves to pxfast for the test."""
    pxfast.compat.install()
    yield
    pxfast.compat.uninstall()


@pytest.fixture
async def gw() -> AsyncIterator[GatewaySimulator]:
    async with GatewaySimulator(seed=SEED, paused=True) as simulator:
        simulator.add_user(USER)  # the account exists before the first login
        simulator.set_price("MNQ", START_PRICE)
        yield simulator


@pytest.fixture
async def harness(
    gw: GatewaySimulator,
    snippets: dict[int, Snippet],
    compat: None,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[GuideHarness]:
    h = GuideHarness(gw, snippets)
    for name, value in {
        "PROJECTX_API_URL": gw.api_url,
        "PROJECTX_USER_HUB_URL": gw.user_hub_url,
        "PROJECTX_MARKET_HUB_URL": gw.market_hub_url,
        "PROJECT_X_USERNAME": USER,
        "PROJECT_X_API_KEY": API_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PROJECT_X_ACCOUNT_NAME", raising=False)

    handle = gw.rest.handle

    def spy(request: Any, endpoint: str) -> Any:
        body = json.loads(request.body) if request.body.strip() else None
        h.requests.append((endpoint, body))
        return handle(request, endpoint)

    monkeypatch.setattr(gw.rest, "handle", spy)

    create = TradingSuite.create.__func__  # type: ignore[attr-defined]

    async def recorded_create(cls: type[TradingSuite], *args: Any, **kwargs: Any) -> Any:
        suite = await create(cls, *args, **kwargs)
        await h.adopt(suite)
        return suite

    monkeypatch.setattr(TradingSuite, "create", classmethod(recorded_create))

    def sleep(delay: float, result: Any = None) -> Awaitable[Any]:
        if from_snippet():
            return h.snippet_sleep(delay)
        return real_sleep(delay, result)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    try:
        yield h
    finally:
        await h.aclose()

"""Fixtures for the fault tests: a simulator with short liveness, a suite on it, a recorder.

Each test gets its own simulator (market paused: the bot moves the price)
and its own suite, both closed after the test; the recorder's loop exception
handler is removed again so one test's leaks cannot be blamed on another.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fault_bot import SIM_SETTINGS, MakeSimulator, OpenSuite, Recorder, open_suite

from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite


@pytest.fixture
def sim_settings() -> dict[str, Any]:
    """The root conftest's simulator with short liveness (see ``fault_bot.SIM_SETTINGS``)."""
    return {"seed": 11, **SIM_SETTINGS}


@pytest.fixture
async def gw(make_simulator: MakeSimulator) -> GatewaySimulator:
    return await make_simulator()


@pytest.fixture
async def suite_on() -> AsyncIterator[OpenSuite]:
    """``await suite_on(gw, **options)``: a suite (see ``fault_bot.open_suite``), closed after."""
    opened: list[TradingSuite] = []

    async def open_one(gw: GatewaySimulator, **options: Any) -> TradingSuite:
        suite = await open_suite(gw, **options)
        opened.append(suite)
        return suite

    yield open_one
    for suite in opened:
        await suite.disconnect()


@pytest.fixture
async def recorder() -> AsyncIterator[Recorder]:
    rec = Recorder()
    yield rec
    rec.detach()

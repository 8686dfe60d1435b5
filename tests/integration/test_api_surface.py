"""What pxfast does not implement fails early and says so; what it does, works.

A feature flag pxfast lacks must stop ``TradingSuite.create`` before any
network I/O (not leave ``suite.orderbook`` as ``None`` for the bot to trip on
later), and any project-x-py name pxfast lacks must fail at import with a
message that names it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from pxfast.event_bus import Event, EventType
from pxfast.exceptions import ProjectXError
from pxfast.models import ProjectXConfig
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import FeatureNotImplementedError, Features, TradingSuite

MakeSimulator = Callable[..., Awaitable[GatewaySimulator]]
SYMBOL = "MNQ"
KEY = "sim-key-0000000"


def _counting_connections(gw: GatewaySimulator) -> list[object]:
    """Every connection the simulator accepts from now on."""
    opened: list[object] = []
    original = gw.connection_opened

    def record(protocol: Any) -> None:
        opened.append(protocol)
        original(protocol)

    gw.connection_opened = record  # type: ignore[method-assign]
    return opened


async def _create(gw: GatewaySimulator, **options: Any) -> TradingSuite:
    gw.add_user("dora", KEY)
    config = ProjectXConfig(
        api_url=gw.api_url, user_hub_url=gw.user_hub_url, market_hub_url=gw.market_hub_url
    )
    return await TradingSuite.create(
        SYMBOL, username="dora", api_key=KEY, client_config=config, initial_days=1, **options
    )


@pytest.mark.parametrize("flag", ["orderbook", Features.ORDERBOOK])
async def test_orderbook_feature_fails_at_create_before_any_network_io(
    make_simulator: MakeSimulator, flag: str | Features
) -> None:
    gw = await make_simulator()
    opened = _counting_connections(gw)
    with pytest.raises(FeatureNotImplementedError) as caught:
        await _create(gw, features=["risk_manager", flag])
    message = str(caught.value)
    assert "orderbook" in message and "market_depth=True" in message
    assert isinstance(caught.value, ProjectXError)
    assert opened == []


async def test_flags_without_effect_are_accepted_with_a_warning(
    make_simulator: MakeSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    gw = await make_simulator()
    opened = _counting_connections(gw)
    flags = ["trade_journal", "auto_reconnect", "performance_analytics", "risk_manager"]
    suite = await _create(gw, features=flags)
    try:
        assert suite.is_connected and suite.risk_manager is not None and opened
        warned = {r.getMessage().split()[1] for r in caplog.records if "no effect" in r.message}
        assert warned == {"trade_journal", "auto_reconnect", "performance_analytics"}
    finally:
        await suite.disconnect()


async def test_market_depth_delivers_depth_events_without_an_order_book(
    make_simulator: MakeSimulator,
) -> None:
    gw = await make_simulator()
    suite = await _create(gw, market_depth=True)
    try:
        got: asyncio.Queue[Event] = asyncio.Queue()
        await suite.on(EventType.MARKET_DEPTH_UPDATE, got.put)
        gw.publish_depth_snapshot(SYMBOL, levels=3)
        event = await asyncio.wait_for(got.get(), 10)
        assert event.data["entries"]
        assert suite.orderbook is None
    finally:
        await suite.disconnect()

"""An ambiguous Order/place never becomes a duplicate order (incident #11)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from pxfast.exceptions import OrderRateLimitedError, OrderSubmissionUncertainError
from pxfast.models import ProjectXConfig
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

MakeSimulator = Callable[..., Awaitable[GatewaySimulator]]


@pytest.fixture
async def suite(simulator: GatewaySimulator) -> AsyncIterator[TradingSuite]:
    config = ProjectXConfig(
        api_url=simulator.api_url,
        user_hub_url=simulator.user_hub_url,
        market_hub_url=simulator.market_hub_url,
    )
    suite = await TradingSuite.create(
        "MNQ", username="alice", api_key="0123456789abcdef", client_config=config, initial_days=1
    )
    yield suite
    await suite.disconnect()


def _orders(gw: GatewaySimulator, suite: TradingSuite) -> list[int]:
    return [o.id for o in gw.orders(suite.client.get_account_info().id)]


async def test_5xx_after_accept_returns_the_placed_order(
    suite: TradingSuite, simulator: GatewaySimulator
) -> None:
    simulator.faults.fail_after_accept("Order/place", status=502)
    response = await suite.orders.place_limit_order("MNQ", 0, 1, 20000)
    assert response.success and _orders(simulator, suite) == [response.order_id]
    assert suite.orders.stats["uncertain_resolved"] == 1


async def test_unprocessed_5xx_raises_uncertain_and_sends_nothing_more(
    suite: TradingSuite, simulator: GatewaySimulator
) -> None:
    simulator.faults.fail_requests("Order/place", status=503)
    with pytest.raises(OrderSubmissionUncertainError, match="most likely was not placed"):
        await suite.orders.place_limit_order("MNQ", 0, 1, 20000)
    assert _orders(simulator, suite) == []


async def test_auto_retry_resends_only_after_proving_absence(
    suite: TradingSuite, simulator: GatewaySimulator
) -> None:
    suite.orders.enable_auto_retry(max_attempts=3, initial_delay=0.01)
    simulator.faults.fail_requests("Order/place", status=503)
    response = await suite.orders.place_limit_order("MNQ", 0, 1, 20000)
    assert _orders(simulator, suite) == [response.order_id]
    simulator.faults.fail_after_accept("Order/place", status=503)
    second = await suite.orders.place_limit_order("MNQ", 0, 1, 19999)
    assert _orders(simulator, suite) == [response.order_id, second.order_id]


async def test_429_on_place_is_retried_only_when_enabled(
    suite: TradingSuite, simulator: GatewaySimulator
) -> None:
    simulator.faults.fail_requests("Order/place", status=429)
    with pytest.raises(OrderRateLimitedError):
        await suite.orders.place_market_order("MNQ", 0, 1)
    suite.orders.enable_auto_retry(recoverable_errors=["RateLimitExceeded"], initial_delay=0.01)
    simulator.faults.fail_requests("Order/place", status=429)
    response = await suite.orders.place_market_order("MNQ", 0, 1)
    assert _orders(simulator, suite) == [response.order_id]

"""The order paths refuse bad input before anything is sent, and say what really happened.

Everything runs against the simulator over loopback.  A spy on the
simulator's REST entry point records every request it receives, so "nothing
sent" is checked where it matters: at the Gateway.

* A missing or blank contract id is an error on every ``place_*`` call,
  never an order on the suite's instrument.
* A price that is zero (or below) once on the tick grid is refused like a
  zero price: 0.1 or 1e-320 on a 0.25 tick, and stop/target/trail levels
  that offsets put at or below zero.
* A side is 0 or 1 as an int, refused as a float the way a float size is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from pxfast.exceptions import ProjectXOrderError
from pxfast.models import ProjectXConfig
from pxfast.order_manager import OrderManager
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

KEY = "0123456789abcdef"
P = Decimal("21000")
ORDER_ENDPOINTS = ("order/place", "order/modify", "order/cancel", "position/closecontract")

Call = Callable[[OrderManager], Awaitable[Any]]


def _config(simulator: GatewaySimulator) -> ProjectXConfig:
    return ProjectXConfig(
        api_url=simulator.api_url,
        user_hub_url=simulator.user_hub_url,
        market_hub_url=simulator.market_hub_url,
    )


@pytest.fixture
def requests(simulator: GatewaySimulator, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every REST endpoint the simulator is asked for, lower case, in order."""
    seen: list[str] = []
    handle = simulator.rest.handle

    def spy(request: Any, endpoint: str) -> Any:
        seen.append(endpoint.strip("/").lower().removeprefix("api/"))
        return handle(request, endpoint)

    monkeypatch.setattr(simulator.rest, "handle", spy)
    return seen


@pytest.fixture
async def suite(simulator: GatewaySimulator) -> AsyncIterator[TradingSuite]:
    simulator.set_price("MNQ", P)
    suite = await TradingSuite.create(
        "MNQ",
        username="alice",
        api_key=KEY,
        client_config=_config(simulator),
        initial_days=1,
        order_manager_config={"bracket_fill_timeout": 0.5},
    )
    yield suite
    await suite.disconnect()


def _orders_sent(requests: list[str]) -> list[str]:
    return [r for r in requests if r in ORDER_ENDPOINTS]


# ---------------------------------------------------------------------- contract id

PLACES_WITH_CONTRACT: dict[str, Callable[[Any], Call]] = {
    "place_order": lambda c: lambda om: om.place_order(c, 2, 0, 1),
    "market": lambda c: lambda om: om.place_market_order(c, 0, 1),
    "limit": lambda c: lambda om: om.place_limit_order(c, 0, 1, P - 10),
    "stop": lambda c: lambda om: om.place_stop_order(c, 0, 1, P + 10),
    "trailing stop": lambda c: lambda om: om.place_trailing_stop_order(c, 1, 1, 5),
    "join bid": lambda c: lambda om: om.place_join_bid_order(c, 1),
    "join ask": lambda c: lambda om: om.place_join_ask_order(c, 1),
    "bracket": lambda c: (
        lambda om: om.place_bracket_order(
            c, 0, 1, entry_price=P - 10, stop_offset=10, target_offset=20
        )
    ),
    "bracket market": lambda c: (
        lambda om: om.place_bracket_order(c, 0, 1, stop_offset=10, target_offset=20)
    ),
    "oco": lambda c: lambda om: om.place_oco_order(c, 1, 1, "LIMIT", P + 50, 1, 1, "STOP", P - 50),
}


@pytest.mark.parametrize("entry", PLACES_WITH_CONTRACT)
async def test_missing_or_blank_contract_is_refused_with_nothing_sent(
    entry: str, suite: TradingSuite, simulator: GatewaySimulator, requests: list[str]
) -> None:
    """The suite's instrument is never taken for a contract id the caller lost."""
    account = suite.client.get_account_info().id
    for contract in (None, "", "   "):
        call = PLACES_WITH_CONTRACT[entry](contract)
        with pytest.raises(ProjectXOrderError, match=r"^Invalid symbol format: "):
            await asyncio.wait_for(call(suite.orders), 10)
    assert _orders_sent(requests) == []
    assert simulator.orders(account) == []


# ---------------------------------------------------------------------- prices on the grid

ZERO_ON_THE_GRID: dict[str, Call] = {
    "limit 0.1": lambda om: om.place_limit_order("MNQ", 0, 1, 0.1),
    "limit 1e-320": lambda om: om.place_limit_order("MNQ", 0, 1, 1e-320),
    "limit Decimal 0.12": lambda om: om.place_limit_order("MNQ", 0, 1, Decimal("0.12")),
    "stop 0.1": lambda om: om.place_stop_order("MNQ", 1, 1, 0.1),
    "place_order stop-limit": lambda om: om.place_order(
        "MNQ", 3, 1, 1, limit_price=P - 10, stop_price=1e-320
    ),
    "sell trail beyond the price": lambda om: om.place_trailing_stop_order("MNQ", 1, 1, 30000),
    "bracket stop price 0.1": lambda om: om.place_bracket_order(
        "MNQ", 0, 1, entry_price=P, stop_loss_price=0.1, take_profit_price=P + 50
    ),
    "bracket entry 0.1": lambda om: om.place_bracket_order(
        "MNQ", 1, 1, entry_price=0.1, stop_offset=10, target_offset=20
    ),
    "bracket stop offset below zero": lambda om: om.place_bracket_order(
        "MNQ", 0, 1, entry_price=P, stop_offset=30000, target_offset=20
    ),
    "sell bracket target offset below zero": lambda om: om.place_bracket_order(
        "MNQ", 1, 1, entry_price=P, stop_offset=10, target_offset=21000
    ),
    "market bracket stop offset below zero": lambda om: om.place_bracket_order(
        "MNQ", 0, 1, stop_offset=30000, target_offset=20
    ),
    "limit beyond tick math": lambda om: om.place_limit_order("MNQ", 0, 1, 1e300),
}


async def test_prices_that_are_zero_on_the_tick_grid_are_refused_with_nothing_sent(
    suite: TradingSuite, simulator: GatewaySimulator, requests: list[str]
) -> None:
    account = suite.client.get_account_info().id
    failures = suite.orders.stats["order_validation_failures"]
    for name, call in ZERO_ON_THE_GRID.items():
        with pytest.raises(ProjectXOrderError, match=r"^Invalid price") as info:
            await asyncio.wait_for(call(suite.orders), 10)
        assert "must be > 0" in str(info.value) or "tick math" in str(info.value), name
    assert _orders_sent(requests) == []
    assert simulator.orders(account) == []
    assert suite.orders.stats["order_validation_failures"] == failures + len(ZERO_ON_THE_GRID)
    # A modify to such a price is refused the same way, and the order keeps its price.
    resting = await suite.orders.place_limit_order("MNQ", 0, 1, P - 10)
    for price in (0.1, 1e-320):
        with pytest.raises(ProjectXOrderError, match=r"^Invalid price for limit_price"):
            await suite.orders.modify_order(resting.orderId, limit_price=price)
    assert _orders_sent(requests) == ["order/place"]
    assert [o.limitPrice for o in simulator.orders(account)] == [float(P - 10)]


# ---------------------------------------------------------------------- side

NOT_A_SIDE = (1.0, 0.0, Decimal(1), "1", True, None)

PLACES_WITH_SIDE: dict[str, Callable[[Any], Call]] = {
    "place_order": lambda s: lambda om: om.place_order("MNQ", 2, s, 1),
    "market": lambda s: lambda om: om.place_market_order("MNQ", s, 1),
    "limit": lambda s: lambda om: om.place_limit_order("MNQ", s, 1, P - 10),
    "stop": lambda s: lambda om: om.place_stop_order("MNQ", s, 1, P + 10),
    "trailing stop": lambda s: lambda om: om.place_trailing_stop_order("MNQ", s, 1, 5),
    "bracket": lambda s: (
        lambda om: om.place_bracket_order(
            "MNQ", s, 1, entry_price=P - 10, stop_offset=10, target_offset=20
        )
    ),
    "oco first leg": lambda s: (
        lambda om: om.place_oco_order("MNQ", s, 1, "LIMIT", P + 50, 1, 1, "STOP", P - 50)
    ),
    "oco second leg": lambda s: (
        lambda om: om.place_oco_order("MNQ", 1, 1, "LIMIT", P + 50, s, 1, "STOP", P - 50)
    ),
}


async def test_a_side_that_is_not_an_int_is_refused_like_a_float_size(
    suite: TradingSuite, simulator: GatewaySimulator, requests: list[str]
) -> None:
    """``side=1.0`` used to go out as a SELL while ``size=1.0`` was an error."""
    account = suite.client.get_account_info().id
    for make in PLACES_WITH_SIDE.values():
        for side in NOT_A_SIDE:
            with pytest.raises(ProjectXOrderError, match=r"^Invalid order side: "):
                await asyncio.wait_for(make(side)(suite.orders), 10)
    assert _orders_sent(requests) == []
    assert simulator.orders(account) == []

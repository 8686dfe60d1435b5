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
* An OCO whose first leg fills at once is reported as decided, never as a
  cancelled first leg; a cancel made on the user's behalf reports the
  order's real final state.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from pxfast.client import ProjectX
from pxfast.event_bus import Event, EventType
from pxfast.exceptions import ProjectXOrderError
from pxfast.models import ProjectXConfig
from pxfast.order_manager import OrderManager
from pxfast.risk_manager import RiskConfig
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


async def _status(suite: TradingSuite, order_id: int, status: int) -> None:
    for _ in range(1000):
        if suite.orders.orders.status(order_id) == status:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"order {order_id} never reached status {status}")


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


async def test_managed_trade_enter_market_takes_only_a_real_side(
    simulator: GatewaySimulator, requests: list[str]
) -> None:
    """project-x-py enters *short* on any side but "BUY": "buy" or ``OrderSide.BUY``
    sold there.  pxfast takes "BUY"/"SELL" in any case and 0/1, and refuses the rest."""
    simulator.set_price("MNQ", P)
    suite = await TradingSuite.create(
        "MNQ",
        username="alice",
        api_key=KEY,
        client_config=_config(simulator),
        initial_days=1,
        features=["risk_manager"],
        risk_config=RiskConfig(use_trailing_stops=False),
    )
    try:
        async with suite.managed_trade(max_risk_amount=100) as trade:
            for side in ("sideways", "", 1.0, None):
                with pytest.raises(ProjectXOrderError, match=r"^Invalid order side: "):
                    await trade.enter_market(1, side=side)  # type: ignore[arg-type]
            assert _orders_sent(requests) == []
            entered = await trade.enter_market(1, side="buy", stop_loss=float(P - 10))
        assert entered["position"] is not None and entered["position"].is_long
    finally:
        await suite.disconnect()


# ---------------------------------------------------------------------- OCO


async def test_both_oco_prices_are_checked_before_the_first_leg_is_sent(
    suite: TradingSuite, simulator: GatewaySimulator, requests: list[str]
) -> None:
    """A second leg at zero on the grid used to be found out only after the first leg
    was live (which then had to be cancelled again)."""
    account = suite.client.get_account_info().id
    for second_kind, second_price in (("STOP", 0.1), ("TRAILING_STOP", 30000)):
        with pytest.raises(
            ProjectXOrderError, match=r"^Invalid price for (second_price|trail_price)"
        ):
            await suite.orders.place_oco_order(
                "MNQ", 1, 1, "LIMIT", P + 50, 1, 1, second_kind, second_price
            )
    with pytest.raises(ProjectXOrderError, match=r"^Invalid price for first_price"):
        await suite.orders.place_oco_order("MNQ", 0, 1, "LIMIT", 1e-320, 0, 1, "STOP", P + 50)
    assert _orders_sent(requests) == []
    assert simulator.orders(account) == []


# ---------------------------------------------------------------------- OCO decided at once


async def test_oco_whose_first_leg_fills_at_once_is_decided_not_cancelled(
    suite: TradingSuite, simulator: GatewaySimulator, requests: list[str]
) -> None:
    """A marketable first leg fills before its partner is sent: the user holds a position,
    and is told so (it used to be "cancelled" while the position stayed)."""
    account = suite.client.get_account_info().id
    response = await suite.orders.place_oco_order("MNQ", 0, 1, "LIMIT", P + 5, 0, 1, "STOP", P + 50)
    assert response.success
    assert response.first_order_id is not None and response.second_order_id is None
    assert response.second_response is None
    assert response.error_message is not None
    assert f"first leg {response.first_order_id} is FILLED" in response.error_message
    assert "second leg was not placed" in response.error_message
    orders = {o.id: o for o in simulator.orders(account)}
    assert orders[response.first_order_id].status == 2
    assert all(
        o.status not in (1, 3, 6, 8) for o in orders.values()
    )  # none working, none cancelled
    assert "order/cancel" not in requests
    [position] = simulator.positions(account)
    assert (position.type, position.size) == (1, 1)
    await _status(suite, response.first_order_id, 2)


async def test_oco_second_leg_refusal_reads_the_first_leg_from_the_gateway(
    simulator: GatewaySimulator, requests: list[str]
) -> None:
    """Without a user stream the fill is unseen when the partner is sent; the Gateway
    refuses the partner ("Linked order not found."), and the first leg's state is then
    looked up before anything is done: it filled, so nothing is cancelled."""
    simulator.set_price("MNQ", P)
    async with ProjectX("bob", KEY, _config(simulator)) as px:
        await px.authenticate()
        manager = OrderManager(px)
        response = await manager.place_oco_order("MNQ", 1, 1, "LIMIT", P - 5, 1, 1, "STOP", P - 50)
        account = px.get_account_info().id
    assert response.success and response.second_order_id is None
    assert response.error_message is not None
    assert f"first leg {response.first_order_id} is FILLED" in response.error_message
    assert "sending it failed: Linked order not found" in response.error_message
    assert _orders_sent(requests) == ["order/place", "order/place"]  # no cancel
    statuses = sorted(o.status for o in simulator.orders(account))
    assert statuses == [2, 5]  # the first filled; the partner was refused
    [position] = simulator.positions(account)
    assert (position.type, position.size) == (2, 1)


async def _on_placed(suite: TradingSuite, suffix: str, action: Callable[[], None]) -> None:
    """Run ``action`` as soon as the order tagged ``...suffix`` is announced (before the
    manager sends its next request): a deterministic point between two places."""

    def handler(event: Event) -> None:
        tag = event.data.get("custom_tag")
        if isinstance(tag, str) and tag.endswith(suffix):
            action()

    await suite.orders.event_bus.on(EventType.ORDER_PLACED, handler)


async def test_oco_second_leg_failure_cancels_a_working_first_leg_and_says_so(
    suite: TradingSuite, simulator: GatewaySimulator
) -> None:
    account = suite.client.get_account_info().id
    await _on_placed(suite, "-1", lambda: simulator.faults.fail_requests("Order/place", status=400))
    with pytest.raises(ProjectXOrderError, match=r"the first leg (\d+) is CANCELLED$") as info:
        await suite.orders.place_oco_order("MNQ", 1, 1, "LIMIT", P + 50, 1, 1, "STOP", P - 50)
    assert "OCO second leg failed" in str(info.value)
    [first] = simulator.orders(account)
    assert first.status == 3 and f"first leg {first.id} " in str(info.value)


# ---------------------------------------------------------------------- client-side brackets


async def test_client_bracket_leg_failure_cancels_the_placed_stop_and_reports_the_close(
    suite: TradingSuite, simulator: GatewaySimulator, requests: list[str]
) -> None:
    """The entry filled, the stop was placed, the target was refused: the stop must not
    stay working on the flattened account (it would open a new position), and the
    error says what became of the stop and of the position."""
    account = suite.client.get_account_info().id
    simulator.set_bracket_mode(account, "position")
    await _on_placed(
        suite, "-SL", lambda: simulator.faults.fail_requests("Order/place", status=400)
    )
    with pytest.raises(
        ProjectXOrderError, match=r"^Bracket order operation failed: CRITICAL"
    ) as info:
        await suite.orders.place_bracket_order(
            "MNQ", 0, 1, entry_price=P + 5, stop_offset=10, target_offset=20
        )
    message = str(info.value)
    stop = next(o for o in simulator.orders(account) if o.type == 4)
    assert stop.status == 3
    assert f"the stop {stop.id} is CANCELLED" in message
    assert "the position was closed at market" in message
    assert simulator.positions(account) == []
    assert all(o.status not in (1, 6, 8) for o in simulator.orders(account))
    assert requests.count("position/closecontract") == 1


async def test_client_bracket_entry_timeout_reports_the_entry_state(
    suite: TradingSuite, simulator: GatewaySimulator
) -> None:
    account = suite.client.get_account_info().id
    simulator.set_bracket_mode(account, "position")
    with pytest.raises(ProjectXOrderError, match="did not fill within timeout") as info:
        await suite.orders.place_bracket_order(
            "MNQ", 0, 1, entry_price=P - 10, stop_offset=10, target_offset=20
        )
    entry = next(o for o in simulator.orders(account) if o.status != 5)
    assert entry.status == 3
    assert str(info.value).endswith("it is CANCELLED.")

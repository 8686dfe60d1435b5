"""pxfast's REST client against the simulator over loopback: every call, auth, budgets, faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pxfast.client import ProjectX
from pxfast.client import gateway as ep
from pxfast.client.ratelimit import BucketSpec, RateBudget
from pxfast.client.schema import PlaceOrderRequest
from pxfast.exceptions import (
    OrderRateLimitedError,
    OrderSubmissionUncertainError,
    ProjectXAuthenticationError,
    ProjectXConnectionError,
    ProjectXInstrumentError,
)
from pxfast.models import ProjectXConfig
from pxfast.sim import GatewaySimulator

pytestmark = pytest.mark.both_loops

KEY = "0123456789abcdef"
MakeSimulator = Callable[..., Awaitable[GatewaySimulator]]


def _config(gw: GatewaySimulator, **extra: Any) -> ProjectXConfig:
    return ProjectXConfig(
        api_url=gw.api_url, user_hub_url=gw.user_hub_url, market_hub_url=gw.market_hub_url, **extra
    )


@pytest.fixture
async def client(simulator: GatewaySimulator) -> AsyncIterator[ProjectX]:
    async with ProjectX("alice", KEY, _config(simulator)) as px:
        await px.authenticate()
        yield px


def _place(px: ProjectX, contract: str, **kw: Any) -> PlaceOrderRequest:
    assert px.account_info is not None
    fields: dict[str, Any] = {"type": 2, "side": 0, "size": 1, **kw}
    return PlaceOrderRequest(accountId=px.account_info.id, contractId=contract, **fields)


async def test_authenticate_selects_account_and_lists(client: ProjectX) -> None:
    assert client.account_info is not None
    assert client.account_info.name.startswith("PRAC")
    accounts = await client.list_accounts()
    assert [a.id for a in accounts] == [client.account_info.id]
    assert await client.ping() == "pong"
    assert await client.validate_session()
    assert "0123456789abcdef" not in repr(client) and "0123456789abcdef" not in repr(client.session)


async def test_account_name_selection_and_unknown_name(simulator: GatewaySimulator) -> None:
    async with ProjectX("bob", KEY, _config(simulator), account_name="nope") as px:
        with pytest.raises(ValueError, match="Account 'NOPE' not found"):
            await px.authenticate()


async def test_bad_key_is_an_authentication_error(make_simulator: MakeSimulator) -> None:
    gw = await make_simulator(open_login=False)
    gw.add_user("carol", "the-right-key-123")
    async with ProjectX("carol", "a-wrong-key-456", _config(gw)) as px:
        with pytest.raises(ProjectXAuthenticationError) as info:
            await px.authenticate()
        assert "a-wrong-key-456" not in str(info.value)


async def test_instruments_resolve_symbols_and_ids(
    client: ProjectX, simulator: GatewaySimulator
) -> None:
    mnq = await client.get_instrument("MNQ")
    assert mnq.id == simulator.contract_id("MNQ") and mnq.tickSize == 0.25
    assert mnq.tickValue == 0.5 and mnq.symbolId == "F.US.MNQ"
    assert await client.get_instrument(mnq.id) is await client.get_instrument(mnq.id)
    es = await client.get_instrument("ES")
    assert es.id.startswith("CON.F.US.EP.")
    found = await client.search_instruments("MNQ")
    assert mnq.id in [i.id for i in found]
    available = await client.list_available_contracts()
    assert {"MNQ", "MES", "NQ", "ES", "6E", "ZN"} <= {i.name[:-2] for i in available}
    with pytest.raises(ProjectXInstrumentError):
        await client.get_instrument("NOSUCH")


async def test_live_symbol_lookup_falls_back_to_sim_on_a_practice_account(
    make_simulator: MakeSimulator,
) -> None:
    gw = await make_simulator(live_data=False)
    async with ProjectX("frank", KEY, _config(gw)) as px:
        await px.authenticate()
        assert await px.search_instruments("MNQ", live=True) == []  # the Gateway's answer
        assert await px.list_available_contracts(live=True) == []
        mnq = await px.get_instrument("MNQ", live=True)  # asked again with live: false
        assert mnq.id == gw.contract_id("MNQ")
        assert [i.id for i in await px.search_instruments("MNQ")] == [mnq.id]


async def test_bars_are_ascending_and_limited(client: ProjectX) -> None:
    frame = await client.get_bars("MNQ", days=1, interval=5, limit=50)
    assert len(frame) == 50
    stamps = frame["timestamp"]
    assert all(stamps[i] < stamps[i + 1] for i in range(len(stamps) - 1))
    assert (frame["high"] >= frame["low"]).all()
    hourly = await client.get_bars("MNQ", days=3, interval=1, unit=3)
    assert len(hourly) > 24


async def test_positions_and_trades_after_a_fill(client: ProjectX) -> None:
    contract = (await client.get_instrument("MNQ")).id
    reply = await client.session.call(ep.ORDER_PLACE, _place(client, contract))
    assert reply.success and reply.orderId
    positions = await client.search_open_positions()
    assert [(p.contractId, p.type, p.size) for p in positions] == [(contract, 1, 1)]
    trades = await client.search_trades(contract_id="MNQ")
    assert [t.orderId for t in trades] == [reply.orderId]
    assert trades[0].profitAndLoss is None and trades[0].fees > 0
    order = await client.get_order_update(reply.orderId)
    assert order is not None and order.status == 2 and order.fillVolume == 1


async def test_token_refreshes_before_expiry_and_after_401(make_simulator: MakeSimulator) -> None:
    gw = await make_simulator(token_lifetime=4.0)
    async with ProjectX("dave", KEY, _config(gw)) as px:
        await px.authenticate()
        first = px.get_session_token()
        session = px.session
        # Sleep into the refresh margin (a quarter of a short token's lifetime).
        await asyncio.sleep(session.token_expiry - time.time() - session._refresh_margin / 2)
        await px.list_accounts()
        assert px.session.stats.refreshes >= 1 and px.get_session_token() != first
        # The simulator's clock jumps past expiry: the next call gets a 401,
        # the session logs in again once and the call succeeds.
        gw.advance(5.0)
        logins = px.session.stats.logins
        assert await px.list_accounts()
        assert px.session.stats.logins == logins + 1


async def test_reads_retry_5xx_and_429(client: ProjectX, simulator: GatewaySimulator) -> None:
    simulator.faults.fail_requests("Contract/search", status=503, count=2)
    instrument = await client.search_instruments("MES")
    assert instrument and client.session.stats.retries == 2
    simulator.faults.fail_requests("Account/search", status=429, count=1)
    assert await client.list_accounts()
    assert client.session.stats.http_429 == 1


async def test_5xx_after_accepted_place_is_uncertain_and_nothing_more_is_sent(
    client: ProjectX, simulator: GatewaySimulator
) -> None:
    contract = (await client.get_instrument("MNQ")).id
    simulator.faults.fail_after_accept("Order/place", status=500)
    before = len(simulator.orders(client.get_account_info().id))
    with pytest.raises(OrderSubmissionUncertainError) as info:
        await client.session.call(ep.ORDER_PLACE, _place(client, contract, customTag="t-1"))
    assert info.value.payload is not None and info.value.payload["customTag"] == "t-1"
    orders = simulator.orders(client.get_account_info().id)
    assert len(orders) == before + 1  # it was placed, exactly once
    assert orders[-1].customTag == "t-1"


async def test_local_budget_refuses_mutations_before_the_gateway(
    client: ProjectX, simulator: GatewaySimulator
) -> None:
    contract = (await client.get_instrument("MNQ")).id
    client.session.budget = RateBudget(general=BucketSpec(6, 60.0), mutation_reserve=1)
    account = client.get_account_info().id
    before = len(simulator.orders(account))
    placed = 0
    with pytest.raises(OrderRateLimitedError) as info:
        for _ in range(10):
            await client.session.call(
                ep.ORDER_PLACE, _place(client, contract, type=1, limitPrice=100)
            )
            placed += 1
    assert info.value.sent is False and info.value.retry_after
    assert placed == 6 and len(simulator.orders(account)) == before + 6
    # Reads wait for a slot instead of failing or reaching a 429.
    client.session.budget = RateBudget(general=BucketSpec(3, 0.3), mutation_reserve=0)
    results = await asyncio.gather(*(client.list_accounts() for _ in range(7)))
    assert all(results) and client.session.budget.waited > 0 and client.session.stats.http_429 == 0


async def test_mutation_against_a_dead_gateway_says_not_sent(simulator: GatewaySimulator) -> None:
    async with ProjectX("erin", KEY, _config(simulator, timeout_seconds=5)) as px:
        await px.authenticate()
        contract = (await px.get_instrument("MNQ")).id
        await px.session.http.close()
        px.session._http = type(px.session.http)("http://127.0.0.1:9", connect_timeout=1)
        with pytest.raises(ProjectXConnectionError, match="not sent"):
            await px.session.call(ep.ORDER_PLACE, _place(px, contract))


async def test_order_queries(client: ProjectX) -> None:
    contract = (await client.get_instrument("MNQ")).id
    resting = await client.session.call(
        ep.ORDER_PLACE, _place(client, contract, type=1, limitPrice=1000)
    )
    assert resting.success
    open_orders = await client.search_open_order_updates()
    assert [o.id for o in open_orders] == [resting.orderId]
    now = datetime.now(UTC)
    recent = await client.search_order_updates(now - timedelta(hours=1), now + timedelta(minutes=1))
    assert resting.orderId in [o.id for o in recent]
    queried = await client.query_order_updates(statuses=[1])
    assert [o.id for o in queried] == [resting.orderId]
    raw = await client._make_request(
        "POST", "/Order/searchOpen", {"accountId": client.get_account_info().id}
    )
    assert raw["success"] and raw["orders"][0]["id"] == resting.orderId

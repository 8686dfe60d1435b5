"""Each injected fault does what it says, seen from the client side of the wire."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from sim_wire import Gateway, Hub

from pxfast.sim import GatewaySimulator

pytestmark = pytest.mark.both_loops

Login = Callable[[str], Awaitable[Gateway]]
OpenHub = Callable[..., Awaitable[Hub]]


async def test_closed_hub_connection_can_reconnect_with_its_old_id(
        simulator: GatewaySimulator, raw_rest_for: Login, raw_http: aiohttp.ClientSession,
        raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    token = str(gateway.token)
    async with raw_http.post(f"{simulator.user_hub_url}/negotiate?access_token={token}") as r:
        connection_id = (await r.json())["connectionId"]
    hub = await raw_hub(simulator.user_hub_url, token, negotiate=False,
                         connection_id=connection_id)
    await hub.invoke("SubscribeOrders", await gateway.account_id())
    assert simulator.close_hub_connections(hub="user", user="ALICE") == 1
    await asyncio.wait_for(hub.closed.wait(), 5)
    assert hub.ws.close_code == 1000
    # pysignalr's reconnect: the same URL and id, a Bearer header too, no negotiate.
    again = await raw_hub(simulator.user_hub_url, token, negotiate=False,
                           connection_id=connection_id)
    assert (await again.invoke("SubscribeOrders", 1))["type"] == 3


async def test_frozen_connection_stays_open_but_sends_nothing(
        make_simulator: Callable[..., Awaitable[GatewaySimulator]],
        raw_http: aiohttp.ClientSession, raw_hub: OpenHub) -> None:
    simulator = await make_simulator(ping_interval=0.1, quote_keepalive=0.1)
    gateway = Gateway(raw_http, simulator.api_url)
    await gateway.login("alice")
    market = await raw_hub(simulator.market_hub_url, str(gateway.token))
    await market.invoke("SubscribeContractTrades", simulator.contract_id("MNQ"))
    assert simulator.freeze_hub_connections(hub="market") == 1
    simulator.step("MNQ", 10)
    await market.ws.ping()  # the transport still answers: the socket looks healthy
    await asyncio.sleep(0.3)  # several ping intervals pass in silence
    assert market.pending == [] and not market.closed.is_set()
    assert simulator.thaw_hub_connections() == 1
    simulator.step("MNQ", 1)
    await market.event("GatewayTrade")
    assert market.take("GatewayTrade") == []  # what the freeze swallowed is gone


async def test_dropped_frames_are_lost_deterministically(
        simulator: GatewaySimulator, raw_rest_for: Login, raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    market = await raw_hub(simulator.market_hub_url, str(gateway.token))
    await market.invoke("SubscribeContractTrades", simulator.contract_id("MNQ"))
    simulator.faults.drop_hub_frames(0.5, hub="market")
    simulator.step("MNQ", 400)
    simulator.faults.drop_hub_frames(0.0)
    await market.settle()
    received = len(market.take("GatewayTrade"))
    dropped = simulator.faults.dropped["market"]
    assert received + dropped == 400 and 120 < dropped < 280
    assert simulator.faults.dropped["user"] == 0


async def test_delayed_frames_arrive_late_and_in_order(
        simulator: GatewaySimulator, raw_rest_for: Login, raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    market = await raw_hub(simulator.market_hub_url, str(gateway.token))
    await market.invoke("SubscribeContractTrades", simulator.contract_id("MNQ"))
    simulator.faults.delay_hub_frames(1.0, seconds=2.0, hub="market")
    simulator.step("MNQ", 20)
    await asyncio.sleep(0.05)
    assert market.pending == []  # held back
    simulator.faults.delay_hub_frames(0.0, seconds=0.0)
    await market.settle()
    prints = [r["arguments"][1][0]["timestamp"] for r in market.take("GatewayTrade")]
    assert len(prints) == 20 and prints == sorted(prints)


async def test_rest_error_bursts(simulator: GatewaySimulator, raw_rest_for: Login,
                                 raw_http: aiohttp.ClientSession) -> None:
    gateway = await raw_rest_for("alice")
    account_id = await gateway.account_id()
    mnq = simulator.contract_id("MNQ")
    simulator.faults.fail_requests("Order/place", status=429, count=2)
    simulator.faults.fail_requests(["Account/search", "Trade/search"], status=503, count=1)
    for _ in range(2):
        async with raw_http.post(f"{simulator.api_url}/Order/place", headers=gateway.headers(
                gateway.token), json={"accountId": account_id, "contractId": mnq, "type": 2,
                                      "side": 0, "size": 1}) as r:
            assert r.status == 429 and "Retry-After" in r.headers
    assert (await gateway.place(account_id, mnq, type=2))["success"]
    assert (await gateway.post("Account/search", {}))[0] == 503
    assert (await gateway.post("Account/search", {}))[0] == 200
    assert len(await gateway.orders(account_id)) == 1  # the refused ones never existed


async def test_5xx_after_the_order_was_accepted(simulator: GatewaySimulator,
                                                raw_rest_for: Login, raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    account_id = await gateway.account_id()
    hub = await raw_hub(simulator.user_hub_url, str(gateway.token))
    await hub.invoke("SubscribeOrders", account_id)
    simulator.faults.fail_after_accept("Order/place", status=500)
    status, _ = await gateway.post("Order/place", {
        "accountId": account_id, "contractId": simulator.contract_id("MNQ"), "type": 1,
        "side": 0, "size": 1, "limitPrice": 20000, "customTag": "ambiguous-1"})
    assert status == 500
    [order] = await gateway.orders(account_id)  # ...yet the order lives
    assert (order["status"], order["customTag"]) == (1, "ambiguous-1")
    [payload] = await hub.event("GatewayUserOrder")
    assert payload["data"]["id"] == order["id"]


async def test_token_expiry(simulator: GatewaySimulator, raw_rest_for: Login,
                            raw_http: aiohttp.ClientSession) -> None:
    alice, bob = await raw_rest_for("alice"), await raw_rest_for("bob")
    simulator.expire_tokens("alice")
    assert (await alice.post("Account/search", {}))[0] == 401
    assert (await bob.post("Account/search", {}))[0] == 200
    async with raw_http.post(f"{simulator.user_hub_url}/negotiate?access_token={alice.token}") as r:
        assert r.status == 401
    renewed = await alice.call("Auth/validate")
    assert renewed["success"]
    alice.token = renewed["newToken"]
    assert (await alice.post("Account/search", {}))[0] == 200
    simulator.expire_tokens()
    assert (await bob.post("Account/search", {}))[0] == 401


async def test_restart_keeps_state_and_drops_connections(
        simulator: GatewaySimulator, raw_rest_for: Login, raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    account_id = await gateway.account_id()
    hub = await raw_hub(simulator.user_hub_url, str(gateway.token))
    order = await gateway.place(account_id, simulator.contract_id("MNQ"), type=1,
                                limitPrice=20000)
    port = simulator.port
    await simulator.restart(downtime=0.05)
    await asyncio.wait_for(hub.closed.wait(), 5)
    assert simulator.port == port
    # The old token, the order and its account are all still there.
    [kept] = await gateway.orders(account_id)
    assert kept["id"] == order["orderId"] and kept["status"] == 1
    again = await raw_hub(simulator.user_hub_url, str(gateway.token), negotiate=False)
    assert (await again.invoke("SubscribeOrders", account_id))["type"] == 3


async def test_overlapping_restarts_end_listening_on_the_same_port(
        simulator: GatewaySimulator, raw_rest_for: Login) -> None:
    gateway = await raw_rest_for("alice")
    account_id = await gateway.account_id()
    port = simulator.port
    await asyncio.gather(simulator.restart(downtime=0.05), simulator.restart(downtime=0.02))
    assert simulator.port == port
    assert len(await gateway.orders(account_id)) == 0  # answering again, state kept


async def test_oversize_depth_frames(simulator: GatewaySimulator, raw_rest_for: Login,
                                     raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    market = await raw_hub(simulator.market_hub_url, str(gateway.token))
    contract_id = simulator.contract_id("MNQ")
    await market.invoke("SubscribeContractMarketDepth", contract_id)
    await market.event("GatewayDepth")  # the subscription's own snapshot
    simulator.publish_depth_snapshot("MNQ", levels=80)
    cid, entries = await market.event("GatewayDepth")
    assert cid == contract_id and entries[0]["type"] == 6 and len(entries) == 161
    frame = json.dumps({"type": 1, "target": "GatewayDepth", "arguments": [cid, entries]})
    assert len(frame) > 10_240 and max(market.frame_sizes) > 10_240

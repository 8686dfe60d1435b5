"""The hubs as SignalR clients see them: negotiate, handshake, invocations, events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from sim_wire import RS, Gateway, Hub, data_of

from pxfast.sim import GatewaySimulator

pytestmark = pytest.mark.both_loops

Login = Callable[[str], Awaitable[Gateway]]
OpenHub = Callable[..., Awaitable[Hub]]


async def test_negotiate_with_and_without_version(simulator: GatewaySimulator,
                                                  raw_rest_for: Login,
                                                  raw_http: aiohttp.ClientSession) -> None:
    gateway = await raw_rest_for("alice")
    for hub_url in (simulator.user_hub_url, simulator.market_hub_url):
        for query in (f"access_token={gateway.token}",
                      f"negotiateVersion=1&access_token={gateway.token}"):
            async with raw_http.post(f"{hub_url}/negotiate?{query}", data=b"",
                                 headers={"Content-Type": "application/octet-stream"}) as r:
                assert r.status == 200
                body = json.loads(await r.text())
                assert body["connectionId"] == body["connectionToken"]
                assert body["availableTransports"][0]["transport"] == "WebSockets"
        async with raw_http.post(f"{hub_url}/negotiate") as r:
            assert r.status == 401
        async with raw_http.post(f"{hub_url}/negotiate?access_token=None") as r:
            assert r.status == 401


@pytest.mark.parametrize("style", ["negotiated", "skip_negotiation", "unknown_id",
                                   "bearer_header"])
async def test_every_connection_style_gets_a_handshake(
        simulator: GatewaySimulator, raw_rest_for: Login, raw_hub: OpenHub, style: str) -> None:
    gateway = await raw_rest_for("alice")
    assert gateway.token is not None
    options: dict[str, Any] = {
        "negotiated": {},
        "skip_negotiation": {"negotiate": False},
        "unknown_id": {"negotiate": False, "connection_id": "no-such-connection"},
        "bearer_header": {"negotiate": False, "token_in_query": False},
    }[style]
    hub = await raw_hub(simulator.user_hub_url, gateway.token, **options)
    completion = await hub.invoke("SubscribeOrders", await gateway.account_id())
    assert completion == {"type": 3, "invocationId": "q1", "result": None}


async def test_upgrade_without_a_valid_token_is_refused(simulator: GatewaySimulator,
                                                        raw_http: aiohttp.ClientSession) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
        await raw_http.ws_connect(f"{simulator.market_hub_url}?access_token=bad")
    assert raised.value.status == 401


async def test_a_wrong_protocol_gets_a_handshake_error(simulator: GatewaySimulator,
                                                       raw_rest_for: Login,
                                                       raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    hub = await raw_hub(simulator.user_hub_url, str(gateway.token), handshake=False)
    await hub.send_raw('{"protocol":"messagepack","version":1}' + RS)
    reply = await hub.expect(lambda r: True)
    assert "error" in reply
    await asyncio.wait_for(hub.closed.wait(), 5)


async def test_completions_only_for_invocation_ids_and_unknown_targets_ignored(
        simulator: GatewaySimulator, raw_rest_for: Login, raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    account_id = await gateway.account_id()
    hub = await raw_hub(simulator.user_hub_url, str(gateway.token))
    # What pysignalr sends: non-blocking, with headers, including a Heartbeat the hub lacks.
    await hub.send("SubscribeOrders", account_id)
    await hub.send("SubscribeOrders", account_id)  # duplicates are harmless
    await hub.send_raw(json.dumps({"target": "Heartbeat", "arguments": [{"timestamp": 1.5}],
                                   "type": 1, "headers": {}}) + RS)
    await hub.send_raw('{"type": 6}' + RS)
    failed = await hub.invoke("NoSuchMethod", 1)
    assert failed["type"] == 3 and "Method does not exist" in failed["error"]
    assert hub.pending == []  # no completion for anything without an invocationId
    await gateway.place(account_id, simulator.contract_id("MNQ"), type=2)
    await hub.settle()
    statuses = [data_of(r["arguments"])["status"] for r in hub.take("GatewayUserOrder")]
    assert statuses == [6, 2]  # once each, although subscribed twice


async def test_event_frames_hold_exactly_type_target_arguments(
        simulator: GatewaySimulator, raw_rest_for: Login, raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    account_id = await gateway.account_id()
    user = await raw_hub(simulator.user_hub_url, str(gateway.token))
    for method in ("SubscribeAccounts", "SubscribeOrders", "SubscribePositions",
                   "SubscribeTrades"):
        await user.send(method, *([] if method == "SubscribeAccounts" else [account_id]))
    await user.settle()
    await gateway.place(account_id, simulator.contract_id("MNQ"), type=2)
    await user.settle()
    targets = [r["target"] for r in user.pending]
    assert targets == ["GatewayUserOrder", "GatewayUserOrder", "GatewayUserTrade",
                       "GatewayUserPosition", "GatewayUserAccount"]
    for record in user.pending:
        assert list(record) == ["type", "target", "arguments"]
        [payload] = record["arguments"]
        assert list(payload) == ["action", "data"]
    actions = [r["arguments"][0]["action"] for r in user.pending]
    assert actions == [1, 1, 0, 1, 1]


async def test_bare_user_events_when_configured(
        make_simulator: Callable[..., Awaitable[GatewaySimulator]],
        raw_http: aiohttp.ClientSession, raw_hub: OpenHub) -> None:
    simulator = await make_simulator(wrap_user_events=False)
    gateway = Gateway(raw_http, simulator.api_url)
    await gateway.login("alice")
    account_id = await gateway.account_id()
    hub = await raw_hub(simulator.user_hub_url, str(gateway.token))
    await hub.invoke("SubscribeOrders", account_id)
    await gateway.place(account_id, simulator.contract_id("MNQ"), type=2)
    [order] = await hub.event("GatewayUserOrder")
    assert order["id"] and order["status"] == 6 and "action" not in order


async def test_market_events_are_contract_and_payload(simulator: GatewaySimulator,
                                                      raw_rest_for: Login,
                                                      raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    market = await raw_hub(simulator.market_hub_url, str(gateway.token))
    contract_id = simulator.contract_id("MES")
    for method in ("SubscribeContractQuotes", "SubscribeContractTrades",
                   "SubscribeContractMarketDepth"):
        await market.send(method, contract_id)
    # A quote and a depth snapshot right away, without any market move.
    cid, quote = await market.event("GatewayQuote")
    assert cid == contract_id and quote["symbol"] == "F.US.MES"
    assert set(quote) == {"symbol", "symbolName", "lastPrice", "bestBid", "bestAsk", "change",
                          "changePercent", "open", "high", "low", "volume", "lastUpdated",
                          "timestamp"}
    cid, depth = await market.event("GatewayDepth")
    assert depth[0]["type"] == 6  # Reset, then the book
    assert sum(e["type"] == 2 for e in depth) >= 10 and sum(e["type"] == 1 for e in depth) >= 10
    assert set(depth[1]) == {"timestamp", "type", "price", "volume", "currentVolume"}
    simulator.step("MES", 5)
    await market.settle()
    trades = market.take("GatewayTrade")
    assert len(trades) == 5
    for record in trades:
        cid, prints = record["arguments"]
        assert cid == contract_id and len(prints) == 1
        assert set(prints[0]) == {"symbolId", "price", "timestamp", "type", "volume"}
    assert len(market.take("GatewayQuote")) == 5
    assert len(market.take("GatewayDepth")) == 5


async def test_queued_events_are_batched_into_few_frames(simulator: GatewaySimulator,
                                                         raw_rest_for: Login,
                                                         raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    market = await raw_hub(simulator.market_hub_url, str(gateway.token))
    await market.invoke("SubscribeContractTrades", simulator.contract_id("MNQ"))
    frames_before = market.frames
    simulator.step("MNQ", 200)
    await market.settle()
    assert len(market.take("GatewayTrade")) == 200
    assert market.frames - frames_before <= 3


async def test_pings_and_keepalive_quotes_in_a_quiet_market(
        make_simulator: Callable[..., Awaitable[GatewaySimulator]],
        raw_http: aiohttp.ClientSession, raw_hub: OpenHub) -> None:
    simulator = await make_simulator(ping_interval=0.2, quote_keepalive=0.2)
    gateway = Gateway(raw_http, simulator.api_url)
    await gateway.login("alice")
    market = await raw_hub(simulator.market_hub_url, str(gateway.token))
    await market.invoke("SubscribeContractQuotes", simulator.contract_id("MNQ"))
    await market.expect(lambda r: r == {"type": 6})
    for _ in range(3):  # the subscription's quote, then repeats while nothing trades
        await market.event("GatewayQuote")


async def test_subscriptions_die_with_the_connection(simulator: GatewaySimulator,
                                                     raw_rest_for: Login,
                                                     raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    account_id = await gateway.account_id()
    token = str(gateway.token)
    first = await raw_hub(simulator.user_hub_url, token)
    await first.invoke("SubscribeOrders", account_id)
    await first.close()
    second = await raw_hub(simulator.user_hub_url, token, negotiate=False)
    await gateway.place(account_id, simulator.contract_id("MNQ"), type=2)
    await second.settle()
    assert second.take("GatewayUserOrder") == []
    await second.invoke("SubscribeOrders", account_id)
    await gateway.place(account_id, simulator.contract_id("MNQ"), type=2)
    await second.event("GatewayUserOrder")

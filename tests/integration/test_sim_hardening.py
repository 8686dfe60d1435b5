"""The simulator against hostile or unusual clients, over loopback like any client.

Each test pins a defect that was found: a SignalR handshake version real
clients send and that was refused, JSON nested deep enough to blow the
decoder's recursion (HTTP 500, a dead hub socket), an ``Order/modify`` that
skipped the margin check ``Order/place`` applies, a control API anyone could
call, and a login budget that wrong keys could exhaust for the right one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from sim_wire import RS, WAIT, Gateway, Hub, data_of

from pxfast.sim import GatewaySimulator
from pxfast.sim.config import SimConfig

pytestmark = pytest.mark.both_loops

Login = Callable[[str], Awaitable[Gateway]]
OpenHub = Callable[..., Awaitable[Hub]]
MakeSimulator = Callable[..., Awaitable[GatewaySimulator]]

TOO_DEEP = "[" * 100_000
CLOSE_WITH_ERROR = {"type": 7, "error": "Connection closed with an error.",
                    "allowReconnect": True}


async def _post_raw(http: aiohttp.ClientSession, url: str, body: bytes | str,
                    headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    async with http.post(url, data=body, headers={"Content-Type": "application/json",
                                                  **(headers or {})}) as response:
        return response.status, await response.read()


# -- SignalR handshake ---------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1])
async def test_json_protocol_versions_up_to_1_are_granted(
        simulator: GatewaySimulator, raw_rest_for: Login, raw_hub: OpenHub,
        version: int) -> None:
    """signalrcore asks for version 0; ASP.NET grants any version up to its own."""
    gateway = await raw_rest_for("alice")
    hub = await raw_hub(simulator.user_hub_url, str(gateway.token), handshake=False)
    await hub.send_raw(json.dumps({"protocol": "json", "version": version}) + RS)
    assert await hub.expect(lambda r: True) == {}
    completion = await hub.invoke("SubscribeOrders", await gateway.account_id())
    assert completion == {"type": 3, "invocationId": "q1", "result": None}


@pytest.mark.parametrize(("handshake", "error"), [
    ('{"protocol":"json","version":2}',
     "The server does not support version 2 of the 'json' protocol."),
    ('{"protocol":"messagepack","version":1}', "The protocol 'messagepack' is not supported."),
    ('{"protocol":"json"}', "An unexpected error occurred during connection handshake."),
    ("{not json", "An unexpected error occurred during connection handshake."),
    (TOO_DEEP, "An unexpected error occurred during connection handshake."),
])
async def test_refused_handshakes_get_asp_net_errors(
        simulator: GatewaySimulator, raw_rest_for: Login, raw_hub: OpenHub,
        handshake: str, error: str) -> None:
    gateway = await raw_rest_for("alice")
    hub = await raw_hub(simulator.user_hub_url, str(gateway.token), handshake=False)
    await hub.send_raw(handshake + RS)
    assert await hub.expect(lambda r: True) == {"error": error}
    await asyncio.wait_for(hub.closed.wait(), WAIT)


# -- deeply nested JSON ----------------------------------------------------------------


@pytest.mark.parametrize("record", [
    TOO_DEEP,
    '{"type":1,"target":"SubscribeOrders","arguments":' + "[" * 65 + "]" * 65 + "}",
    "{not json",
    "[1, 2]",
    '{"target":"SubscribeOrders","arguments":[1]}',
])
async def test_an_unreadable_record_closes_only_its_own_connection(
        simulator: GatewaySimulator, raw_rest_for: Login, raw_hub: OpenHub,
        record: str) -> None:
    gateway = await raw_rest_for("alice")
    assert gateway.token is not None
    account_id = await gateway.account_id()
    bystander = await raw_hub(simulator.user_hub_url, gateway.token)
    await bystander.invoke("SubscribeOrders", account_id)
    hostile = await raw_hub(simulator.user_hub_url, gateway.token)
    await hostile.send_raw(record + RS)
    assert await hostile.expect(lambda r: r.get("type") == 7) == CLOSE_WITH_ERROR
    await asyncio.wait_for(hostile.closed.wait(), WAIT)

    contract_id = simulator.contract_id("MNQ")
    price = Decimal(str(simulator.quote("MNQ")["bid"])) - 50
    placed = await gateway.place(account_id, contract_id, type=1, limitPrice=float(price))
    arguments = await bystander.event("GatewayUserOrder")
    assert data_of(arguments)["id"] == placed["orderId"]


async def test_records_nested_up_to_64_levels_are_served(
        simulator: GatewaySimulator, raw_rest_for: Login, raw_hub: OpenHub) -> None:
    gateway = await raw_rest_for("alice")
    hub = await raw_hub(simulator.user_hub_url, str(gateway.token))
    # The record object is level 1, its arguments level 2: 64 levels in all.
    nested = "[" * 62 + "]" * 62
    await hub.send_raw('{"type":1,"target":"Heartbeat","invocationId":"q9","arguments":['
                       + nested + "]}" + RS)
    completion = await hub.expect(lambda r: r.get("invocationId") == "q9")
    assert completion["type"] == 3 and "error" in completion  # an unknown method, no more


@pytest.mark.parametrize("body", [
    TOO_DEEP,
    '{"userName":"alice","apiKey":"sim-key-000000","x":' + TOO_DEEP,
    '{"userName":"alice","apiKey":"sim-key-000000","x":' + "[" * 40 + "]" * 40 + "}",
])
@pytest.mark.parametrize("endpoint", ["Auth/loginKey", "Order/place"])
async def test_rest_bodies_nested_too_deep_get_400(
        simulator: GatewaySimulator, raw_rest_for: Login, raw_http: aiohttp.ClientSession,
        endpoint: str, body: str) -> None:
    gateway = await raw_rest_for("alice")
    status, answer = await _post_raw(raw_http, f"{simulator.api_url}/{endpoint}", body,
                                     gateway.headers(gateway.token))
    assert status == 400
    problem = json.loads(answer)
    assert problem["status"] == 400
    assert problem["errors"]["$"] == ["The maximum configured depth of 32 has been exceeded."]
    # The simulator serves on.
    assert (await gateway.post("Account/search", {"onlyActiveAccounts": True}))[0] == 200


async def test_rest_bodies_nested_32_levels_are_served(
        simulator: GatewaySimulator, raw_http: aiohttp.ClientSession) -> None:
    body = '{"userName":"alice","apiKey":"sim-key-000000","x":' + "[" * 31 + "]" * 31 + "}"
    status, answer = await _post_raw(raw_http, f"{simulator.api_url}/Auth/loginKey", body)
    assert status == 200 and json.loads(answer)["success"] is True


async def test_control_bodies_nested_too_deep_get_400(
        simulator: GatewaySimulator, raw_http: aiohttp.ClientSession) -> None:
    assert simulator.control_url is not None
    status, answer = await _post_raw(raw_http, f"{simulator.control_url}/pause", TOO_DEEP)
    assert status == 400
    assert json.loads(answer) == {
        "ok": False, "error": "The maximum configured depth of 32 has been exceeded."}


# -- Order/modify applies Order/place's checks ------------------------------------------


async def _resting_buy(simulator: GatewaySimulator, gateway: Gateway) -> tuple[int, int]:
    account_id = await gateway.account_id()
    price = Decimal(str(simulator.quote("MNQ")["bid"])) - 100
    placed = await gateway.place(account_id, simulator.contract_id("MNQ"), type=1,
                                 limitPrice=float(price))
    assert placed["success"], placed
    return account_id, int(placed["orderId"])


async def test_modify_to_a_size_the_account_cannot_carry_is_refused(
        simulator: GatewaySimulator, raw_rest_for: Login) -> None:
    gateway = await raw_rest_for("alice")
    account_id, order_id = await _resting_buy(simulator, gateway)
    before = simulator.account_state(account_id).balance

    answer = await gateway.call("Order/modify",
                                {"accountId": account_id, "orderId": order_id, "size": 1_000_000})
    assert answer == {"success": False, "errorCode": 3, "errorMessage": "Insufficient funds."}
    order = next(o for o in simulator.orders(account_id) if o.id == order_id)
    assert order.size == 1

    # Order/place refuses the same size with its own code for the case.
    placed = await gateway.place(account_id, simulator.contract_id("MNQ"), type=1,
                                 size=1_000_000, limitPrice=order.limitPrice)
    assert (placed["success"], placed["errorCode"]) == (False, 3)

    # A size the account can carry still goes through, and fills at a sane cost.
    assert (await gateway.call("Order/modify", {"accountId": account_id, "orderId": order_id,
                                                "size": 2}))["success"] is True
    simulator.fill(order_id)
    state = simulator.account_state(account_id)
    assert state.positions[simulator.contract_id("MNQ")][0] == 2
    assert before - state.balance < 10  # two lots' fees, nothing like a huge loss


async def test_sizes_beyond_a_csharp_int_are_refused_as_unbindable(
        simulator: GatewaySimulator, raw_rest_for: Login) -> None:
    """The reported case: 10^12 lots, accepted and filled, left minus 370 billion."""
    gateway = await raw_rest_for("alice")
    account_id, order_id = await _resting_buy(simulator, gateway)
    status, problem = await gateway.post(
        "Order/modify", {"accountId": account_id, "orderId": order_id, "size": 10**12})
    assert status == 400 and "$.size" in problem["errors"]["$"][0]
    status, _ = await gateway.post("Order/place", {
        "accountId": account_id, "contractId": simulator.contract_id("MNQ"), "type": 2,
        "side": 0, "size": 10**12})
    assert status == 400
    simulator.fill(order_id)
    assert simulator.account_state(account_id).balance > 49_000


async def test_a_bracket_child_cannot_grow_past_the_position_unmargined(
        simulator: GatewaySimulator, raw_rest_for: Login) -> None:
    gateway = await raw_rest_for("alice")
    account_id = await gateway.account_id()
    entry = await gateway.place(account_id, simulator.contract_id("MNQ"), type=2,
                                stopLossBracket={"ticks": 40, "type": 4},
                                takeProfitBracket={"ticks": 80, "type": 1})
    assert entry["success"], entry
    children = [o for o in simulator.orders(account_id)
                if o.id != entry["orderId"] and o.status == 1]
    assert len(children) == 2
    stop = children[0].id
    refused = await gateway.call("Order/modify",
                                 {"accountId": account_id, "orderId": stop, "size": 1_000_000})
    assert (refused["success"], refused["errorCode"]) == (False, 3)
    kept = await gateway.call("Order/modify", {"accountId": account_id, "orderId": stop,
                                               "size": 1})
    assert kept["success"] is True


# -- the control API's token -----------------------------------------------------------


async def test_the_control_api_opens_only_to_its_token(
        make_simulator: MakeSimulator, raw_http: aiohttp.ClientSession) -> None:
    gw = await make_simulator(open_login=False)
    gw.add_user("alice", "alice-key-00000000")
    gateway = Gateway(raw_http, gw.api_url)
    jwt = await gateway.login("alice", "alice-key-00000000")
    token = gw.control_token
    assert token is not None and gw.control_url == f"{gw.base_url}/_sim/{token}"
    rekey = {"username": "alice", "api_key": "stolen-key-0000000"}
    bearer = {"Authorization": f"Bearer {jwt}"}
    refused = [
        (f"{gw.base_url}/_sim/add_user", {}),  # the old, open path
        (f"{gw.base_url}/_sim/add_user", bearer),
        (f"{gw.base_url}/_sim/{jwt}/add_user", {}),
        (f"{gw.base_url}/_sim/{jwt}/add_user", bearer),
        (f"{gw.base_url}/_sim/{token[:-1]}/add_user", bearer),
        (f"{gw.base_url}/_sim/{token}x/add_user", {}),
        (f"{gw.base_url}/_sim/{token.swapcase()}/add_user", {}),
        (f"{gw.base_url}/_sim//add_user", {}),
        (f"{gw.base_url}/_sim/{'é' * 8}/add_user", {}),
    ]
    unserved = await _post_raw(raw_http, f"{gw.base_url}/no/such/path", "{}")
    for url, headers in refused:
        assert await _post_raw(raw_http, url, json.dumps(rekey), headers) == unserved, url
    assert unserved[0] == 404
    # Alice's key is still hers.
    await gateway.login("alice", "alice-key-00000000")
    status, body = await gateway.post(
        "Auth/loginKey", {"userName": "alice", "apiKey": "stolen-key-0000000"}, token=None)
    assert status == 200 and body["success"] is False

    status, answer = await _post_raw(raw_http, f"{gw.control_url}/account_ids",
                                     json.dumps({"username": "alice"}))
    assert status == 200 and json.loads(answer) == {"ok": True,
                                                    "result": gw.account_ids("alice")}


async def test_a_given_control_token_is_used_and_never_shown(
        make_simulator: MakeSimulator, raw_http: aiohttp.ClientSession) -> None:
    secret = "given-control-token-0123456789"
    gw = await make_simulator(control_token=secret)
    assert gw.control_url == f"{gw.base_url}/_sim/{secret}"
    assert secret not in repr(gw.config) and secret not in repr(SimConfig(control_token=secret))
    assert secret not in repr(gw._control)
    status, _ = await _post_raw(raw_http, f"{gw.control_url}/pause", "{}")
    assert status == 200
    with pytest.raises(ValueError, match="control token"):
        GatewaySimulator(control_token="short")
    with pytest.raises(ValueError, match="control token"):
        GatewaySimulator(control_token="has/a/slash/in/it/0123")


async def test_failing_control_operations_keep_the_token_out_of_the_log(
        simulator: GatewaySimulator, raw_http: aiohttp.ClientSession,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    assert simulator.control_url is not None and simulator.control_token is not None
    caplog.set_level(logging.DEBUG)
    status, answer = await _post_raw(raw_http, f"{simulator.control_url}/contract_id",
                                     json.dumps({"symbol": 1}))  # a bad argument
    assert status == 400 and json.loads(answer)["error"].startswith("AttributeError")

    def broken() -> None:
        raise RuntimeError("a simulator bug")

    monkeypatch.setitem(simulator._control._operations, "pause", broken)  # type: ignore[union-attr]
    status, answer = await _post_raw(raw_http, f"{simulator.control_url}/pause", "{}")
    assert status == 500
    assert json.loads(answer) == {"ok": False, "error": "RuntimeError: a simulator bug"}
    assert "control operation 'pause' failed" in caplog.text
    assert simulator.control_token not in caplog.text


async def _exports(process: asyncio.subprocess.Process) -> dict[str, str]:
    """The KEY=VALUE lines ``pxfast sim`` prints up to the control token (bounded)."""
    assert process.stdout is not None
    exports: dict[str, str] = {}
    while "PXFAST_SIM_CONTROL_TOKEN" not in exports:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line, "pxfast sim exited early"
        key, sep, value = line.decode().strip().partition("=")
        if sep and not key.startswith("#"):
            exports[key] = value
    return exports


@pytest.mark.parametrize("given", [None, "a-token-from-the-command-line"])
async def test_pxfast_sim_prints_its_control_token(
        raw_http: aiohttp.ClientSession, given: str | None) -> None:
    options = [] if given is None else ["--control-token", given]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pxfast.sim", "--paused", "--user", "alice:alice-key-00000000",
        *options, stdout=asyncio.subprocess.PIPE)
    try:
        exports = await _exports(process)
        token = exports["PXFAST_SIM_CONTROL_TOKEN"]
        assert given is None or token == given
        assert len(token) >= 16
        control_url = exports["PXFAST_SIM_CONTROL_URL"]
        assert control_url.endswith(f"/_sim/{token}")
        base = control_url.removesuffix(f"/_sim/{token}")
        status, answer = await _post_raw(raw_http, f"{control_url}/account_ids",
                                         json.dumps({"username": "alice"}))
        assert status == 200 and json.loads(answer)["ok"] is True
        status, _ = await _post_raw(raw_http, f"{base}/_sim/account_ids",
                                    json.dumps({"username": "alice"}))
        assert status == 404
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


async def test_pxfast_sim_refuses_a_bad_control_token() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pxfast.sim", "--control-token", "short",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2 and b"16 or more letters" in err


# -- the login budget --------------------------------------------------------------------


async def test_wrong_keys_cannot_lock_the_right_key_out(
        make_simulator: MakeSimulator, raw_http: aiohttp.ClientSession) -> None:
    gw = await make_simulator(open_login=False)
    gw.add_user("xavier", "xaviers-real-key-0000")
    gateway = Gateway(raw_http, gw.api_url)

    async def login(key: str) -> tuple[int, Any]:
        return await gateway.post("Auth/loginKey", {"userName": "xavier", "apiKey": key},
                                  token=None)

    statuses = [(await login(f"guess-{i:06}"))[0] for i in range(250)]
    assert statuses[:200] == [200] * 200  # each one a failed login (errorCode 3)
    assert statuses[200:] == [429] * 50  # the flood itself is throttled
    status, body = await login("xaviers-real-key-0000")
    assert status == 200 and body["success"] is True

    # A flood of good logins still meets the Gateway's 200-per-minute budget.
    for _ in range(199):
        assert (await login("xaviers-real-key-0000"))[0] == 200
    assert (await login("xaviers-real-key-0000"))[0] == 429
    gw.advance(60)
    assert (await login("xaviers-real-key-0000"))[0] == 200

"""The simulator's REST surface over HTTP: auth, models, contracts, bars, errors, limits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from sim_wire import Gateway, jwt_payload

from pxfast.sim import GatewaySimulator

pytestmark = pytest.mark.both_loops

Login = Callable[[str], Awaitable[Gateway]]

ORDER_KEYS = {
    "id", "accountId", "contractId", "symbolId", "creationTimestamp", "updateTimestamp",
    "status", "type", "side", "size", "limitPrice", "stopPrice", "fillVolume",
    "filledPrice", "customTag", "trailPrice", "trailDistance", "parentOrderId",
    "linkedOrderId",
}
ACCOUNT_KEYS = {"id", "name", "balance", "canTrade", "isVisible", "simulated"}
CONTRACT_KEYS = {"id", "name", "description", "tickSize", "tickValue", "activeContract",
                 "symbolId"}
POSITION_KEYS = {"id", "accountId", "contractId", "creationTimestamp", "type", "size",
                 "averagePrice"}
TRADE_KEYS = {"id", "accountId", "contractId", "creationTimestamp", "price", "profitAndLoss",
              "fees", "side", "size", "voided", "orderId"}


# -- authentication ---------------------------------------------------------------------


async def test_login_issues_a_jwt_with_a_numeric_exp(simulator: GatewaySimulator,
                                                     raw_rest_for: Login) -> None:
    gateway = await raw_rest_for("alice")
    assert gateway.token is not None and gateway.token.count(".") == 2
    claims = jwt_payload(gateway.token)
    assert isinstance(claims["exp"], int)
    assert 86000 < claims["exp"] - time.time() <= 86401


async def test_bad_credentials_are_a_200_failure_then_bearer_none_is_401(
        simulator: GatewaySimulator, raw_http: aiohttp.ClientSession) -> None:
    simulator.add_user("carol", "the-right-key-123")
    gateway = Gateway(raw_http, simulator.api_url)
    status, body = await gateway.post(
        "Auth/loginKey", {"userName": "CAROL", "apiKey": "a-wrong-key-123"}, token=None)
    assert status == 200
    assert body == {"token": None, "success": False, "errorCode": 3, "errorMessage": None}
    status, _ = await gateway.post("Account/search", {"onlyActiveAccounts": True}, token="None")
    assert status == 401
    status, _ = await gateway.post("Account/search", {"onlyActiveAccounts": True}, token="x.y.z")
    assert status == 401
    await gateway.login("Carol", "the-right-key-123")  # user names are case-insensitive


async def test_expired_token_is_401_and_validate_renews_it(
        make_simulator: Callable[..., Awaitable[GatewaySimulator]],
        raw_http: aiohttp.ClientSession) -> None:
    simulator = await make_simulator(token_lifetime=60)
    gateway = Gateway(raw_http, simulator.api_url)
    old = await gateway.login("alice")
    simulator.advance(61)
    status, _ = await gateway.post("Account/search", {"onlyActiveAccounts": True})
    assert status == 401
    body = await gateway.call("Auth/validate")
    assert body["success"] and body["newToken"] != old
    gateway.token = body["newToken"]
    assert (await gateway.call("Account/search", {"onlyActiveAccounts": True}))["success"]


async def test_logout_revokes_the_token(raw_rest_for: Login) -> None:
    gateway = await raw_rest_for("alice")
    assert (await gateway.call("Auth/logout"))["success"]
    status, _ = await gateway.post("Account/search", {"onlyActiveAccounts": True})
    assert status == 401


async def test_login_app_is_an_alias(simulator: GatewaySimulator, raw_http: aiohttp.ClientSession
                                     ) -> None:
    gateway = Gateway(raw_http, simulator.api_url)
    status, body = await gateway.post("Auth/loginApp", {
        "userName": "dave", "password": "pw-123456789", "deviceId": "d", "appId": "a",
        "verifyKey": "v"}, token=None)
    assert status == 200 and body["success"] and body["token"]


# -- accounts and contracts ------------------------------------------------------------------


async def test_account_search_returns_complete_practice_accounts(raw_rest_for: Login) -> None:
    gateway = await raw_rest_for("alice")
    body = await gateway.call("Account/search", {"onlyActiveAccounts": True})
    [account] = body["accounts"]
    assert set(account) == ACCOUNT_KEYS
    assert account["name"].startswith("PRAC-") and account["simulated"] is True
    assert account["balance"] == 50_000 and account["canTrade"] is True


@pytest.mark.parametrize(
    ("text", "root", "tick_size", "tick_value"),
    [("MNQ", "MNQ", 0.25, 0.5), ("MES", "MES", 0.25, 1.25), ("NQ", "ENQ", 0.25, 5),
     ("ES", "EP", 0.25, 12.5), ("MYM", "MYM", 1, 0.5), ("M2K", "M2K", 0.1, 0.5),
     ("MGC", "MGC", 0.1, 1), ("GC", "GCE", 0.1, 10), ("MCL", "MCLE", 0.01, 1),
     ("CL", "CLE", 0.01, 10), ("6E", "EU6", 0.00005, 6.25), ("ZN", "TYA", 0.015625, 15.625)],
)
async def test_contract_search_uses_gateway_ids_and_real_ticks(
        raw_rest_for: Login, text: str, root: str, tick_size: float, tick_value: float) -> None:
    gateway = await raw_rest_for("alice")
    contracts = (await gateway.call("Contract/search", {"searchText": text, "live": False})
                 )["contracts"]
    contract = next(c for c in contracts if c["name"][:-2] == text)
    assert set(contract) == CONTRACT_KEYS
    prefix, month_year = contract["id"].rsplit(".", 1)
    assert prefix == f"CON.F.US.{root}" and contract["symbolId"] == f"F.US.{root}"
    assert month_year[0] in "FGHJKMNQUVXZ" and month_year[1:].isdigit()
    assert contract["name"] == f"{text}{month_year[0]}{month_year[-1]}"
    assert (contract["tickSize"], contract["tickValue"]) == (tick_size, tick_value)
    assert contract["activeContract"] is True


async def test_search_by_id_returns_one_contract_also_expired(
        simulator: GatewaySimulator, raw_rest_for: Login) -> None:
    gateway = await raw_rest_for("alice")
    front = simulator.contract_id("NQ")
    body = await gateway.call("Contract/searchById", {"contractId": front.lower()})
    assert body["contract"]["id"] == front and body["contract"]["activeContract"]
    body = await gateway.call("Contract/searchById", {"contractId": "CON.F.US.ENQ.H25"})
    assert body["contract"]["activeContract"] is False
    assert body["contract"]["description"] == "E-mini NASDAQ-100: March 2025"
    body = await gateway.call("Contract/searchById", {"contractId": "CON.F.US.NOPE.H25"})
    assert (body["success"], body["errorCode"], body["contract"]) == (False, 1, None)
    available = await gateway.call("Contract/available", {"live": False})
    assert len(available["contracts"]) == 12


# -- bars -----------------------------------------------------------------------------------


def bars_request(contract_id: str, **fields: object) -> dict[str, object]:
    now = time.time()
    return {"contractId": contract_id, "live": False,
            "startTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3 * 86400)),
            "endTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
            "unit": 2, "unitNumber": 5, "limit": 100, "includePartialBar": True, **fields}


async def test_bars_are_newest_first_aligned_and_limited(simulator: GatewaySimulator,
                                                         raw_rest_for: Login) -> None:
    gateway = await raw_rest_for("alice")
    contract_id = simulator.contract_id("MNQ")
    bars = (await gateway.call("History/retrieveBars", bars_request(contract_id)))["bars"]
    assert len(bars) == 100
    assert set(bars[0]) == {"t", "o", "h", "l", "c", "v"}
    stamps = [b["t"] for b in bars]
    assert stamps == sorted(stamps, reverse=True)
    assert all(s.endswith(":00+00:00") and int(s[14:16]) % 5 == 0 for s in stamps)
    assert all(b["l"] <= min(b["o"], b["c"]) <= max(b["o"], b["c"]) <= b["h"] for b in bars)
    hours = (await gateway.call("History/retrieveBars", bars_request(
        contract_id, unit=3, unitNumber=4, limit=5)))["bars"]
    assert len(hours) == 5 and all(int(b["t"][11:13]) % 4 == 0 for b in hours)
    days = (await gateway.call("History/retrieveBars", bars_request(
        contract_id, unit=4, unitNumber=1, limit=10, includePartialBar=False)))["bars"]
    assert len(days) in (2, 3) and all(b["t"].endswith("T00:00:00+00:00") for b in days)


async def test_bars_are_built_from_the_simulated_market(simulator: GatewaySimulator,
                                                        raw_rest_for: Login) -> None:
    gateway = await raw_rest_for("alice")
    simulator.advance(2)  # a fresh second: its bar holds only the prints below
    simulator.set_price("MNQ", "21010.5")
    simulator.set_price("MNQ", "21012")
    simulator.set_price("MNQ", "21008.25")
    [bar] = (await gateway.call("History/retrieveBars", bars_request(
        simulator.contract_id("MNQ"), unit=1, unitNumber=1, limit=1)))["bars"]
    assert (bar["o"], bar["h"], bar["l"], bar["c"], bar["v"]) == (
        21010.5, 21012, 21008.25, 21008.25, 3)


@pytest.mark.parametrize(("field", "value", "code"), [
    ("unit", 0, 2), ("unit", 8, 2), ("unitNumber", 0, 3), ("limit", 0, 4), ("limit", 20001, 4),
    ("contractId", "CON.F.US.NOPE.Z26", 1),
])
async def test_bars_error_codes(simulator: GatewaySimulator, raw_rest_for: Login, field: str,
                                value: object, code: int) -> None:
    gateway = await raw_rest_for("alice")
    body = await gateway.call("History/retrieveBars", bars_request(
        simulator.contract_id("MNQ"), **{field: value}))
    assert (body["success"], body["errorCode"]) == (False, code)


# -- HTTP conventions -----------------------------------------------------------------------


async def test_http_conventions(simulator: GatewaySimulator, raw_rest_for: Login,
                                raw_http: aiohttp.ClientSession) -> None:
    gateway = await raw_rest_for("alice")
    headers = gateway.headers(gateway.token)
    async with raw_http.post(f"{simulator.api_url}/account/SEARCH", json={},
                         headers=headers) as r:
        assert r.status == 200  # paths are case-insensitive
    async with raw_http.post(f"{simulator.api_url}/Account/search", data=b"{not json",
                         headers=headers) as r:
        assert r.status == 400
        assert (await r.json())["status"] == 400
    async with raw_http.post(f"{simulator.api_url}/Order/place", json={"accountId": "x"},
                         headers=headers) as r:
        assert r.status == 400
    async with raw_http.post(f"{simulator.api_url}/Nope/nothing", json={}, headers=headers) as r:
        assert r.status == 404

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"searchText":'
        yield b'"MES","live":false}'

    async with raw_http.post(f"{simulator.api_url}/Contract/search", data=chunks(),
                         headers={**headers, "Content-Type": "application/json"}) as r:
        assert r.request_info.headers.get("Transfer-Encoding") == "chunked"
        assert (await r.json())["contracts"][0]["name"].startswith("MES")
    async with raw_http.get(f"{simulator.api_url}/Status/ping") as r:
        assert r.status == 200 and await r.json() == "pong"
    async with raw_http.post(f"{simulator.api_url}/Contract/search", expect100=True,
                             json={"searchText": "MGC"}, headers=headers) as r:
        assert (await r.json())["contracts"][0]["name"].startswith("MGC")


async def test_pipelined_requests_are_answered_in_order(simulator: GatewaySimulator) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", simulator.port)
    requests = b"".join(
        f"POST /api/Auth/loginKey HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
        f"\r\n{body}".encode()
        for body in ('{"userName":"a","apiKey":"k1"}', '{"userName":"b"}',
                     '{"userName":"c","apiKey":"k3"}'))
    writer.write(requests)  # three requests in one write
    statuses = []
    for _ in range(3):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        statuses.append(int(head.split(b" ")[1]))
    assert statuses == [200, 400, 200]
    writer.close()


# -- rate limits ----------------------------------------------------------------------------


async def test_rate_limits_answer_429_exactly_past_each_budget(
        simulator: GatewaySimulator, raw_rest_for: Login) -> None:
    alice = await raw_rest_for("alice")  # the login is request 1 of alice's general budget
    bob = await raw_rest_for("bob")
    for _ in range(199):
        status, _ = await alice.post("Contract/available", {"live": False})
        assert status == 200
    status, body = await alice.post("Contract/available", {"live": False})
    assert status == 429 and body["success"] is False
    assert (await bob.post("Contract/available", {"live": False}))[0] == 200
    request = bars_request(simulator.contract_id("MNQ"), limit=1)
    for _ in range(50):  # bars have their own budget, still open
        assert (await alice.post("History/retrieveBars", request))[0] == 200
    assert (await alice.post("History/retrieveBars", request))[0] == 429
    simulator.advance(60)
    assert (await alice.post("Contract/available", {"live": False}))[0] == 200
    assert (await alice.post("History/retrieveBars", request))[0] == 200


async def test_429_carries_retry_after(simulator: GatewaySimulator,
                                       raw_http: aiohttp.ClientSession) -> None:
    simulator.limiter.budgets["general"] = type(simulator.limiter.budgets["general"])(2, 60.0)
    gateway = Gateway(raw_http, simulator.api_url)
    await gateway.login("alice")
    assert (await gateway.post("Contract/available", {"live": False}))[0] == 200
    async with raw_http.post(f"{simulator.api_url}/Contract/available", json={"live": False},
                         headers=gateway.headers(gateway.token)) as r:
        assert r.status == 429
        assert 1 <= int(r.headers["Retry-After"]) <= 60

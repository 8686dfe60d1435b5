"""The simulator faults added for these tests do what they say, seen from a raw client."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
from fault_bot import open_suite

from pxfast.client.http import HttpClient, RequestUncertain
from pxfast.realtime.hub import HubOptions
from pxfast.sim import GatewaySimulator


async def _login(http: HttpClient) -> str:
    reply = await http.request(
        "POST", "/api/Auth/loginKey", b'{"userName":"alice","apiKey":"0123456789abcdef"}'
    )
    return str(msgspec.json.decode(reply.body)["token"])


async def test_delayed_answer_comes_after_the_request_was_processed(
    gw: GatewaySimulator,
) -> None:
    http = HttpClient(gw.base_url)
    try:
        token = await _login(http)
        (account,) = gw.account_ids("alice")
        headers = {"Authorization": f"Bearer {token}"}
        body = msgspec.json.encode(
            {
                "accountId": account,
                "contractId": gw.contract_id("MNQ"),
                "type": 2,
                "side": 0,
                "size": 1,
            }
        )
        gw.faults.delay_responses("Order/place", seconds=0.5)
        with pytest.raises(RequestUncertain):  # the client gives up first ...
            await http.request("POST", "/api/Order/place", body, headers, timeout=0.1)
        assert len(gw.orders(account)) == 1  # ... but the order exists
        started = time.monotonic()
        reply = await http.request("POST", "/api/Order/place", body, headers)
        assert reply.status == 200 and time.monotonic() - started < 0.4  # one answer only
        gw.faults.delay_responses(None, seconds=0.3, count=1)
        started = time.monotonic()
        mine = msgspec.json.encode({"accountId": account})
        search = await http.request("POST", "/api/Order/searchOpen", mine, headers)
        assert search.status == 200 and time.monotonic() - started >= 0.3
    finally:
        await http.close()


async def test_raw_records_reach_the_hubs_and_count_as_decode_errors(
    gw: GatewaySimulator,
) -> None:
    suite = await open_suite(gw, market_hub_options=HubOptions(stale_after=30.0))
    try:
        assert gw.send_hub_record("not json", hub="user") == 1
        assert gw.send_hub_record(b"{bad\x1e{also bad", hub="market") == 1
        for _ in range(200):
            health = suite.get_health()["hubs"]
            if health["user"]["decode_errors"] and health["market"]["decode_errors"] == 2:
                break
            await asyncio.sleep(0.01)
        assert health["user"]["decode_errors"] == 1 and health["market"]["decode_errors"] == 2
        assert gw.faults.dropped_records() == {"user": 0, "market": 0}
    finally:
        await suite.disconnect()

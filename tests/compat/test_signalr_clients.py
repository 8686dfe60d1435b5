"""Real SignalR clients other than pysignalr connect to the simulator's hubs.

signalrcore 1.0.2 (the Python client other ProjectX SDKs use) asks for
version 0 of the JSON protocol, which the simulator used to refuse; Microsoft's
own JavaScript client (@microsoft/signalr, on Node.js) negotiates with
``negotiateVersion=1`` and sends the token as a header.  Both must connect,
subscribe and receive the Gateway's events over loopback, as they would from
the real Gateway.  project-x-py's pysignalr is covered by test_compat.py.

signalrcore is thread-based and blocking, so it runs in a worker thread while
the simulator serves on the test's event loop; every wait on either side is
bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.request
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from signalrcore.hub_connection_builder import HubConnectionBuilder

from pxfast.sim import GatewaySimulator

MakeSimulator = Callable[..., Awaitable[GatewaySimulator]]

WAIT = 10.0
ROOT = Path(__file__).parents[2]
NODE_SCRIPT = Path(__file__).with_name("signalr_client.mjs")
#: Where the npm client is installed once and reused (build/ is gitignored).
NODE_MODULES = ROOT / "build" / "node-signalr"
NODE_SIGNALR = "@microsoft/signalr@10.0.11"


def _user(gw: GatewaySimulator) -> tuple[str, int]:
    """A token for a fresh user, and that user's account id."""
    [account_id] = gw.add_user("sigr", "sigr-key-000000")
    return gw.token("sigr"), account_id


class _Received:
    """What one hub event handler got, and an event set when it did (thread-safe)."""

    def __init__(self) -> None:
        self.arguments: list[Any] = []
        self.arrived = threading.Event()

    def __call__(self, arguments: list[Any]) -> None:
        if not self.arrived.is_set():
            self.arguments = arguments
            self.arrived.set()


def _signalrcore_session(gw: GatewaySimulator, token: str, account_id: int,
                         skip_negotiation: bool) -> tuple[list[Any], list[Any]]:
    """In a worker thread: both hubs through signalrcore; a quote and an order event."""
    def hub(url: str) -> Any:
        options = {"access_token_factory": lambda: token, "skip_negotiation": skip_negotiation}
        return HubConnectionBuilder().with_url(url, options=options).build()

    def start(connection: Any) -> None:
        opened = threading.Event()
        connection.on_open(opened.set)
        connection.start()
        assert opened.wait(WAIT), "the hub did not open (handshake refused?)"

    def call(connection: Any, method: str, *arguments: Any) -> None:
        """Invoke and wait for the Completion, so the subscription is in place."""
        done = threading.Event()
        connection.send(method, list(arguments), on_invocation=lambda _: done.set())
        assert done.wait(WAIT), f"no completion for {method}"

    market, user = hub(gw.market_hub_url), hub(gw.user_hub_url)
    quote, order = _Received(), _Received()
    market.on("GatewayQuote", quote)
    user.on("GatewayUserOrder", order)
    try:
        start(market)
        contract_id = gw.contract_id("MNQ")
        call(market, "SubscribeContractQuotes", contract_id)
        assert quote.arrived.wait(WAIT), "no GatewayQuote"
        start(user)
        call(user, "SubscribeAccounts")
        call(user, "SubscribeOrders", account_id)
        price = Decimal(str(quote.arguments[1]["bestBid"])) - 100
        placed = _post(f"{gw.api_url}/Order/place", token, {
            "accountId": account_id, "contractId": contract_id, "type": 1, "side": 0,
            "size": 1, "limitPrice": float(price)})
        assert placed["success"], placed
        assert order.arrived.wait(WAIT), "no GatewayUserOrder"
        return quote.arguments, order.arguments
    finally:
        market.stop()
        user.stop()


def _post(url: str, token: str, body: dict[str, Any]) -> Any:
    """A blocking REST call from the worker thread (the loop is free to answer it)."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        return json.load(response)


@pytest.mark.parametrize("skip_negotiation", [False, True])
async def test_signalrcore_subscribes_and_receives_events(
        make_simulator: MakeSimulator, skip_negotiation: bool) -> None:
    # signalrcore's stop() closes its socket and joins its reader thread, which
    # wakes only when the next frame arrives: frequent pings keep stop() short.
    gw = await make_simulator(ping_interval=0.5)
    token, account_id = _user(gw)
    quote, order = await asyncio.wait_for(asyncio.to_thread(
        _signalrcore_session, gw, token, account_id, skip_negotiation), 4 * WAIT)
    assert quote[0] == gw.contract_id("MNQ") and quote[1]["bestBid"] > 0
    event = order[0]
    assert event["action"] == 1 and event["data"]["accountId"] == account_id
    assert event["data"]["status"] == 1 and event["data"]["size"] == 1


def _node_signalr() -> Path:
    """The directory holding @microsoft/signalr, installed with npm on first use.

    Installs into a fresh directory first and moves it into place, so a run that
    is interrupted (or two that race) never leaves a half-installed module behind.
    """
    if (NODE_MODULES / "node_modules" / "@microsoft" / "signalr" / "package.json").exists():
        return NODE_MODULES
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run Microsoft's SignalR client")
    NODE_MODULES.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="node-signalr-", dir=NODE_MODULES.parent))
    try:
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(staging), NODE_SIGNALR],
            capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            network = ("ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ETIMEDOUT", "ECONNRESET")
            if any(code in done.stderr for code in network):
                pytest.skip(f"npm could not reach its registry: {done.stderr.strip()[-300:]}")
            raise AssertionError(f"npm install {NODE_SIGNALR} failed:\n{done.stderr}")
        try:
            os.rename(staging, NODE_MODULES)
        except OSError:  # another run got there first
            if not NODE_MODULES.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return NODE_MODULES


async def test_microsoft_signalr_client_negotiates_and_receives_events(
        make_simulator: MakeSimulator) -> None:
    modules = await asyncio.to_thread(_node_signalr)
    gw = await make_simulator()
    token, account_id = _user(gw)
    contract_id = gw.contract_id("MNQ")
    process = await asyncio.create_subprocess_exec(
        "node", str(NODE_SCRIPT), str(modules), gw.api_url, gw.user_hub_url,
        gw.market_hub_url, token, str(account_id), contract_id,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines = out.decode().splitlines()
    assert process.returncode == 0, (lines, err.decode())
    milestones = {line.split(" ", 1)[0]: json.loads(line.split(" ", 1)[1]) for line in lines}
    quote = milestones["QUOTE"]
    assert quote["contractId"] == contract_id and quote["quote"]["bestBid"] > 0
    assert quote["connectionId"]  # it negotiated before opening the WebSocket
    order = milestones["ORDER"]
    assert order["placed"]["success"] is True
    assert order["event"]["action"] == 1
    assert order["event"]["data"]["id"] == order["placed"]["orderId"]
    assert order["event"]["data"]["accountId"] == account_id

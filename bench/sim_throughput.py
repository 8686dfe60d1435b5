"""How fast the simulator serves: Order/place per second and hub events per second.

    python bench/sim_throughput.py [--seconds 5] [--connections 16]

The simulator runs in a child process (one core, uvloop, rate limits off,
balance high enough that the margin check runs and passes); this process is
the load: raw keep-alive HTTP/1.1 connections with one request in flight each,
as an HTTP client pool would, and aiohttp WebSocket clients that count
SignalR records without decoding them, so the client is never the bottleneck.

Scenarios:
  place-limit   Order/place of a resting limit order (no fill); one user-hub
                subscriber gets each order's update.
  place-market  Order/place of market orders that fill at once: order, trade,
                position and account events for the subscriber.
  hub-events    the market driver at full speed on all 12 contracts, one client
                subscribed to quotes, trades and depth of every contract.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp

RS = b"\x1e"
_LENGTH = re.compile(rb"content-length: *(\d+)", re.IGNORECASE)


# -- the simulator side (child process) ----------------------------------------------


async def serve() -> None:
    from pxfast.sim import GatewaySimulator

    async with GatewaySimulator(seed=1, paused=True, rate_limits=False,
                                balance=1e12, client_timeout=0) as gw:
        print(gw.control_url, flush=True)
        await asyncio.Event().wait()


# -- the load side ----------------------------------------------------------------------


class _Requester(asyncio.Protocol):
    """One keep-alive connection sending ``request`` back to back, one in flight."""

    def __init__(self, request: bytes, until: float, done: asyncio.Future[int]) -> None:
        self._request = request
        self._until = until
        self._done = done
        self._buffer = b""
        self.count = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        assert self.transport is not None
        self.transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            match = _LENGTH.search(self._buffer, 0, end)
            assert match is not None and self._buffer.startswith(b"HTTP/1.1 200"), \
                self._buffer[:200]
            total = end + 4 + int(match.group(1))
            if len(self._buffer) < total:
                return
            self._buffer = self._buffer[total:]
            self.count += 1
            assert self.transport is not None
            if time.perf_counter() < self._until:
                self.transport.write(self._request)
            elif not self._done.done():
                self._done.set_result(self.count)


def http_request(port: int, path: str, token: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


async def count_records(ws: aiohttp.ClientWebSocketResponse, counter: list[int]) -> None:
    async for message in ws:
        if message.type == aiohttp.WSMsgType.TEXT:
            counter[0] += message.data.count("\x1e")
            counter[1] += 1


async def connect_hub(session: aiohttp.ClientSession, url: str, token: str
                      ) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(f"{url}?access_token={token}", max_msg_size=0)
    await ws.send_str('{"protocol":"json","version":1}\x1e')
    await ws.receive()
    return ws


async def invoke(ws: aiohttp.ClientWebSocketResponse, target: str, *args: Any) -> None:
    await ws.send_str(json.dumps({"type": 1, "target": target, "arguments": list(args)})
                      + "\x1e")


async def bench_place(port: int, session: aiohttp.ClientSession, token: str, account: int,
                      contract: str, order_type: int, seconds: float,
                      connections: int) -> tuple[float, float]:
    """Order/place answers per second, and user-hub records per second alongside."""
    base = f"http://127.0.0.1:{port}"
    ws = await connect_hub(session, f"{base}/hubs/user", token)
    for method in ("SubscribeOrders", "SubscribePositions", "SubscribeTrades"):
        await invoke(ws, method, account)
    await invoke(ws, "SubscribeAccounts")
    counter = [0, 0]
    reader = asyncio.create_task(count_records(ws, counter))
    body: dict[str, Any] = {"accountId": account, "contractId": contract, "type": order_type,
                            "side": 0, "size": 1, "limitPrice": None, "stopPrice": None,
                            "trailPrice": None}
    if order_type == 1:
        body["limitPrice"] = 1000.0
    request = http_request(port, "/api/Order/place", token, body)
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    until = start + seconds
    futures: list[asyncio.Future[int]] = []
    transports = []
    for _ in range(connections):
        done: asyncio.Future[int] = loop.create_future()
        transport, _protocol = await loop.create_connection(
            lambda d=done: _Requester(request, until, d), "127.0.0.1", port)
        futures.append(done)
        transports.append(transport)
    answered = sum(await asyncio.gather(*futures))
    elapsed = time.perf_counter() - start
    await asyncio.sleep(0.5)  # let the last events arrive
    for transport in transports:
        transport.close()
    reader.cancel()
    await ws.close()
    return answered / elapsed, counter[0] / elapsed


async def bench_events(control: str, session: aiohttp.ClientSession, token: str,
                       contracts: list[str], seconds: float) -> tuple[float, float]:
    """Market-hub records per second with the driver flat out; records per frame.

    ``control`` is the simulator's control URL (its control token included)."""
    parts = urlsplit(control)
    base = f"{parts.scheme}://{parts.netloc}"
    ws = await connect_hub(session, f"{base}/hubs/market", token)
    for contract in contracts:
        for method in ("SubscribeContractQuotes", "SubscribeContractTrades",
                       "SubscribeContractMarketDepth"):
            await invoke(ws, method, contract)
    counter = [0, 0]
    reader = asyncio.create_task(count_records(ws, counter))
    await asyncio.sleep(0.5)
    async with session.post(f"{control}/set_rate", json={"rate": 1_000_000}) as r:
        assert r.status == 200
    async with session.post(f"{control}/resume", json={}) as r:
        assert r.status == 200
    await asyncio.sleep(1.0)  # warm up
    records0, frames0, start = counter[0], counter[1], time.perf_counter()
    await asyncio.sleep(seconds)
    records, frames = counter[0] - records0, counter[1] - frames0
    elapsed = time.perf_counter() - start
    async with session.post(f"{control}/pause", json={}) as r:
        assert r.status == 200
    reader.cancel()
    await ws.close()
    return records / elapsed, records / max(frames, 1)


async def run(seconds: float, connections: int) -> None:
    child = await asyncio.create_subprocess_exec(sys.executable, __file__, "--serve",
                                                 stdout=asyncio.subprocess.PIPE)
    try:
        assert child.stdout is not None
        control = (await child.stdout.readline()).decode().strip()
        port = urlsplit(control).port
        assert port is not None
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}/api/Auth/loginKey",
                                    json={"userName": "bench", "apiKey": "bench-key-0"}) as r:
                token = (await r.json())["token"]
            headers = {"Authorization": f"Bearer {token}"}
            async with session.post(f"{base}/api/Account/search", json={},
                                    headers=headers) as r:
                account = (await r.json())["accounts"][0]["id"]
            async with session.post(f"{base}/api/Contract/available", json={},
                                    headers=headers) as r:
                contracts = [c["id"] for c in (await r.json())["contracts"]]
            mnq = next(c for c in contracts if ".MNQ." in c)
            for name, order_type in (("place-limit", 1), ("place-market", 2)):
                per_second, events = await bench_place(port, session, token, account, mnq,
                                                       order_type, seconds, connections)
                print(f"{name:13} {per_second:9.0f} Order/place/s   "
                      f"({events:8.0f} user-hub events/s alongside)")
            events, per_frame = await bench_events(control, session, token, contracts, seconds)
            print(f"{'hub-events':13} {events:9.0f} market-hub events/s "
                  f"({per_frame:.0f} records per WebSocket frame)")
    finally:
        child.terminate()
        await child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    import uvloop

    if args.serve:
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        uvloop.run(serve())
    else:
        uvloop.run(run(args.seconds, args.connections))


if __name__ == "__main__":
    main()

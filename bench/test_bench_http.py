"""One REST round trip through ``pxfast.client.http``, the client alone.

Run with ``pytest bench/test_bench_http.py --benchmark-only``.  Each call
runs ``CALLS`` keep-alive round trips inside one event-loop turn, so per
round trip = time / CALLS, as ``extra_info["calls"]`` says.  The loop is
uvloop where installed (what pxfast is tuned for).

* ``loopback``: a small JSON POST answered by a minimal server in the same
  loop with a fixed Kestrel-shaped response (Content-Type, Date, Server,
  Content-Length, a 200-byte JSON body), so the figure is mostly the client:
  request encoding, the socket, response parsing, the pool.
* ``simulator``: ``Order/searchOpen`` against ``pxfast.sim.GatewaySimulator``
  (rate limits off), the path ``pxfast bench``'s ``http`` row times; the
  simulator's own work is included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest

from pxfast.client.http import HttpClient
from pxfast.sim import GatewaySimulator

CALLS = 200

BODY = b'{"accountId":7001}'
ANSWER_BODY = (
    b'{"orders":[{"id":9001,"accountId":7001,"contractId":"CON.F.US.MNQ.Z25",'
    b'"creationTimestamp":"2025-11-24T21:00:00.123456+00:00","status":1,"type":1,'
    b'"side":0,"size":1,"limitPrice":20000.0}],"success":true,"errorCode":0,"errorMessage":null}'
)
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Date: Tue, 25 Nov 2025 21:00:00 GMT\r\nServer: Kestrel\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(ANSWER_BODY), ANSWER_BODY)
)


class _Answerer(asyncio.Protocol):
    """Answers every complete request it reads (head plus Content-Length body) with ANSWER."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.pending += data
        while True:
            end = self.pending.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.pending[:end].lower().split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line[15:])
            if len(self.pending) < end + 4 + length:
                return
            self.pending = self.pending[end + 4 + length :]
            assert self.transport is not None
            self.transport.write(ANSWER)


async def _loopback() -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Answerer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = HttpClient(f"http://127.0.0.1:{port}")
    headers = {"Content-Type": "application/json", "Authorization": "Bearer " + "t" * 400}

    async def one() -> None:
        response = await client.request("POST", "/api/Order/searchOpen", BODY, headers)
        assert response.status == 200 and response.body == ANSWER_BODY

    async def stop() -> None:
        await client.close()
        server.close()
        await server.wait_closed()

    return one, stop


async def _simulator() -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
    gw = GatewaySimulator(seed=11, paused=True, rate_limits=False)
    await gw.start()
    client = HttpClient(gw.base_url)
    login = await client.request(
        "POST", "/api/Auth/loginKey", b'{"userName":"alice","apiKey":"0123456789abcdef"}'
    )
    token = msgspec.json.decode(login.body)["token"]
    (account,) = gw.account_ids("alice")
    body = msgspec.json.encode({"accountId": account})
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    async def one() -> None:
        response = await client.request("POST", "/api/Order/searchOpen", body, headers)
        assert response.status == 200

    async def stop() -> None:
        await client.close()
        await gw.stop()

    return one, stop


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a runtime dependency on POSIX
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


@pytest.mark.parametrize("server", ["loopback", "simulator"])
def test_round_trip(benchmark: Any, server: str) -> None:
    loop = _new_loop()
    one, stop = loop.run_until_complete(_loopback() if server == "loopback" else _simulator())

    async def round_trips() -> None:
        for _ in range(CALLS):
            await one()

    loop.run_until_complete(round_trips())  # warm: connection open, caches filled
    benchmark.group = "REST round trip"
    benchmark.extra_info["calls"] = CALLS
    benchmark.extra_info["loop"] = type(loop).__module__
    try:
        benchmark(lambda: loop.run_until_complete(round_trips()))
    finally:
        loop.run_until_complete(stop())
        loop.close()

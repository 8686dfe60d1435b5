"""The market-load feed: the simulator's own market records, replayed as fast as a client reads.

The simulator's market driver tops out near 180 000 events/s on one core
(bench/README.md, "Simulator"), under the 200 000 events/s a client must
absorb, so the load test cannot come from it live.  Instead this server
records the simulator's market hub once (quotes and trades of the MNQ front
contract, the exact records ``pxfast.sim`` sends, ~750 to a 256 KiB
WebSocket frame as it batches them), and replays them to a connected client
as fast as TCP lets it write: the client's reading speed is the only limit.

It speaks just enough of the Gateway's hubs for an unmodified client to
connect: negotiate, the WebSocket upgrade, the SignalR handshake, a
Completion for every invocation, pings.  REST stays on the simulator.
While a flood runs, the user hub carries a GatewayUserOrder (a new filled
order) every ``user_interval_ms``, its custom tag the monotonic ns at which
it was written (``lat:<ns>``), so the client measures user-event latency
under the load.

``python -m pxfast.bench.feed`` prints ``FEED_URL=`` and
``FEED_CONTROL_URL=`` when ready; ``POST /_feed/start {"events": N,
"user_interval_ms": 1}`` starts a flood to every subscribed market session
and answers the records it will send per kind; ``POST /_feed/status``
answers ``{"done": bool}``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import signal
import socket
import time
from collections.abc import Iterator
from itertools import cycle
from typing import Any

from pxfast.bench.inputs import ORDER_TEMPLATE
from pxfast.sim.http import HttpServerProtocol, Request, Response, Upgrade
from pxfast.sim.websocket import WebSocketConnection, accept_headers, is_upgrade

__all__ = ["Feed", "record_market"]

RS = b"\x1e"
MAX_FRAME = 256 * 1024
PING = b'{"type":6}\x1e'
#: Hub record target -> the kind a handler counts it as; the subscription that asks for it.
KINDS = {b"GatewayQuote": "quote", b"GatewayTrade": "trade"}
SUBSCRIPTIONS = {"subscribecontractquotes": "quote", "subscribecontracttrades": "trade"}


async def record_market(seed: int, steps: int, symbol: str = "MNQ") -> list[tuple[str, bytes]]:
    """``steps`` market steps of ``symbol`` as the simulator's market hub sends them.

    Each step prints at the touch and requotes: one GatewayTrade and one
    GatewayQuote record.  Returns (kind, record) pairs in wire order.
    """
    import aiohttp

    from pxfast.sim import GatewaySimulator

    records: list[tuple[str, bytes]] = []
    async with (
        GatewaySimulator(seed=seed, paused=True, rate_limits=False) as gw,
        aiohttp.ClientSession() as http,
    ):
        gw.add_user("feed-recorder", None)
        url = f"{gw.market_hub_url}?access_token={gw.token('feed-recorder')}"
        async with http.ws_connect(url, max_msg_size=0) as ws:
            await ws.send_str('{"protocol":"json","version":1}\x1e')
            await ws.receive()
            contract = gw.contract_id(symbol)
            for method in ("SubscribeContractQuotes", "SubscribeContractTrades"):
                invocation = {"type": 1, "target": method, "arguments": [contract]}
                await ws.send_str(json.dumps(invocation) + "\x1e")
            await asyncio.sleep(0.1)
            while True:  # what subscribing sent (the current quote) is not part of the load
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ws.receive(), 0.1)
                    continue
                break
            gw.step(symbol, steps)
            wanted = 2 * steps
            while len(records) < wanted:
                message = await asyncio.wait_for(ws.receive(), 10.0)
                for raw in message.data.encode().split(RS):
                    head = raw[:64]
                    for target, kind in KINDS.items():
                        if target in head:
                            records.append((kind, raw))
    return records


class _Session:
    """One hub WebSocket: handshake, completions, subscriptions, and what is left to send."""

    def __init__(self, feed: Feed, hub: str) -> None:
        self.feed = feed
        self.hub = hub
        self.ws: WebSocketConnection | None = None
        self.handshaken = False
        self.kinds: set[str] = set()
        self.frames: Iterator[bytes] = iter(())
        self.pending: bytes | None = None

    def on_message(self, data: bytes) -> None:
        ws = self.ws
        assert ws is not None
        for raw in data.split(RS):
            if not raw.strip():
                continue
            if not self.handshaken:
                self.handshaken = True
                ws.send_text(b"{}" + RS)
                continue
            message = json.loads(raw)
            if message.get("type") == 1:
                kind = SUBSCRIPTIONS.get(str(message.get("target", "")).lower())
                if kind is not None:
                    self.kinds.add(kind)
                invocation = message.get("invocationId")
                if invocation is not None:
                    completion = {"type": 3, "invocationId": invocation, "result": None}
                    ws.send_text(json.dumps(completion).encode() + RS)
            elif message.get("type") == 7:
                ws.close()

    def on_closed(self) -> None:
        self.feed.sessions.discard(self)

    def on_writable(self, writable: bool) -> None:
        if writable:
            self.pump()

    def pump(self) -> None:
        """Write frames until the transport pushes back (it calls ``on_writable`` again)."""
        ws = self.ws
        while ws is not None and ws.open and ws.writable:
            frame = self.pending if self.pending is not None else next(self.frames, None)
            self.pending = None
            if frame is None:
                return
            ws.send_text(frame)

    @property
    def flooding(self) -> bool:
        """Frames left to write, or written ones still in the transport's buffer.

        The frames are an iterator, so asking moves the next one to ``pending``.
        """
        ws = self.ws
        if ws is None or not ws.open:
            return False
        if self.pending is None:
            self.pending = next(self.frames, None)
        return self.pending is not None or not ws.writable


class Feed:
    """The HTTP app (``pxfast.sim.http``'s server protocol calls ``handle``)."""

    def __init__(self, records: list[tuple[str, bytes]]) -> None:
        self.records = records
        self.sessions: set[_Session] = set()
        self._user_timer: asyncio.TimerHandle | None = None
        self._next_order = 50_000_000
        self._negotiations = 0

    # -- HttpApp ------------------------------------------------------------------

    def handle(self, request: Request) -> Response | Upgrade:
        path = request.path.lower().rstrip("/")
        if path.startswith("/_feed/"):
            return self._control(path[7:], request.body)
        for hub in ("user", "market"):
            base = f"/hubs/{hub}"
            if path == f"{base}/negotiate":
                return self._negotiate()
            if path == base and is_upgrade(request):
                return self._upgrade(request, hub)
        return Response(404, b"")

    def connection_opened(self, protocol: HttpServerProtocol) -> None:
        """Connections need no bookkeeping here; sessions are tracked once upgraded."""

    def connection_closed(self, protocol: HttpServerProtocol) -> None:
        """See ``connection_opened``."""

    def _negotiate(self) -> Response:
        self._negotiations += 1
        connection = base64.urlsafe_b64encode(self._negotiations.to_bytes(16, "big")).decode()
        body = {
            "negotiateVersion": 1,
            "connectionId": connection,
            "connectionToken": connection,
            "availableTransports": [
                {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}
            ],
        }
        return Response(200, json.dumps(body).encode())

    def _upgrade(self, request: Request, hub: str) -> Response | Upgrade:
        headers = accept_headers(request)
        if headers is None:
            return Response(400, b"")
        session = _Session(self, hub)

        def attach(transport: asyncio.Transport) -> WebSocketConnection:
            sock = transport.get_extra_info("socket")
            if sock is not None:  # a stamped user event must not wait for Nagle
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session.ws = WebSocketConnection(transport, session)
            self.sessions.add(session)
            return session.ws

        return Upgrade(headers, attach)

    # -- control ------------------------------------------------------------------

    def _control(self, operation: str, body: bytes) -> Response:
        kwargs: dict[str, Any] = json.loads(body) if body.strip() else {}
        if operation == "start":
            result: Any = self.start(**kwargs)
        elif operation == "status":
            result = {"done": not self.flooding}
        else:
            return Response(404, json.dumps({"ok": False, "error": operation}).encode())
        return Response(200, json.dumps({"ok": True, "result": result}).encode())

    @property
    def flooding(self) -> bool:
        return any(s.flooding for s in self.sessions if s.hub == "market")

    def start(self, events: int, user_interval_ms: float) -> dict[str, int]:
        """Flood every subscribed market session with ``events`` records (the recording,
        filtered to what it subscribed, cycled); returns the records per kind."""
        sent: dict[str, int] = {}
        for session in [s for s in self.sessions if s.hub == "market" and s.kinds]:
            wanted = [(k, r) for k, r in self.records if k in session.kinds]
            if not wanted:
                continue
            counts = dict.fromkeys(session.kinds, 0)
            session.frames = self._frames(cycle(wanted), events, counts)
            for kind, n in counts.items():
                sent[kind] = sent.get(kind, 0) + n
            session.pump()
        if self._user_timer is None and user_interval_ms > 0:
            self._user_timer = asyncio.get_running_loop().call_later(
                user_interval_ms / 1000, self._user_event, user_interval_ms / 1000
            )
        return sent

    @staticmethod
    def _frames(
        records: Iterator[tuple[str, bytes]], events: int, counts: dict[str, int]
    ) -> Iterator[bytes]:
        """Frames of whole records up to MAX_FRAME, built now (the counts are final)."""
        frames: list[bytes] = []
        batch: list[bytes] = []
        size = 0
        for _ in range(events):
            kind, record = next(records)
            counts[kind] += 1
            if size + len(record) + 1 > MAX_FRAME and batch:
                frames.append(RS.join(batch) + RS)
                batch, size = [], 0
            batch.append(record)
            size += len(record) + 1
        if batch:
            frames.append(RS.join(batch) + RS)
        return iter(frames)

    def _user_event(self, interval: float) -> None:
        """A new filled order on every user session, stamped at the moment it is written."""
        if not self.flooding:
            self._user_timer = None
            return
        for session in self.sessions:
            if session.hub == "user" and session.ws is not None and session.handshaken:
                self._next_order += 1
                frame = ORDER_TEMPLATE % {
                    "id": self._next_order, "status": 2, "fill": 1, "price": "20000.0",
                    "tag": f"lat:{time.monotonic_ns()}", "micro": 200000,
                }  # fmt: skip
                session.ws.send_text(frame.encode())
        self._user_timer = asyncio.get_running_loop().call_later(
            interval, self._user_event, interval
        )

    async def keepalive(self) -> None:
        """SignalR pings, so no client's server-timeout fires on a quiet hub."""
        while True:
            await asyncio.sleep(5.0)
            for session in list(self.sessions):
                if session.ws is not None and session.handshaken:
                    session.ws.send_text(PING)


async def serve(host: str, port: int, seed: int, steps: int) -> None:
    records = await record_market(seed, steps)
    feed = Feed(records)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpServerProtocol(feed), host, port)
    bound = server.sockets[0].getsockname()[1]
    print(f"FEED_URL=http://{host}:{bound}", flush=True)
    print(f"FEED_CONTROL_URL=http://{host}:{bound}/_feed", flush=True)
    print(f"# {len(records)} records recorded from the simulator (seed {seed})", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    pings = asyncio.create_task(feed.keepalive())
    try:
        await stop.wait()
    finally:
        pings.cancel()
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pxfast.bench.feed", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20_000, help="market steps to record")
    args = parser.parse_args()
    import uvloop

    uvloop.run(serve(args.host, args.port, args.seed, args.steps))


if __name__ == "__main__":
    main()

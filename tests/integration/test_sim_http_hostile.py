"""Hostile clients against the simulator's HTTP/1.1 server and hub sockets, over loopback.

Each test is a client that once froze, crashed or bloated the simulator: a
body of millions of one-byte chunks, numbers Python's ``int`` reads but HTTP
does not allow, connections that never finish a request or never send one,
a client that pipelines requests without reading the answers, a WebSocket
client that floods pings without reading the pongs.  Every one must end in
an HTTP error or a closed socket within a bounded wait, with the server's
buffers bounded and other clients served meanwhile.

Short limits come from servers built here on ``HttpServerProtocol`` with the
simulator (or a small app) behind them; everything else is the simulator as
it runs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from pxfast.sim import GatewaySimulator
from pxfast.sim.http import HttpApp, HttpServerProtocol, Limits, Request, Response, Upgrade

pytestmark = pytest.mark.both_loops

WAIT = 10.0
PING, TEXT = 0x9, 0x1

Serve = Callable[[HttpApp, Limits], Awaitable[tuple[int, list[HttpServerProtocol]]]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``await serve(app, limits)``: a server on 127.0.0.1, its port and its connections."""
    servers: list[asyncio.Server] = []
    protocols: list[HttpServerProtocol] = []

    async def start(app: HttpApp, limits: Limits) -> tuple[int, list[HttpServerProtocol]]:
        mine: list[HttpServerProtocol] = []

        def factory() -> HttpServerProtocol:
            protocol = HttpServerProtocol(app, limits)
            mine.append(protocol)
            protocols.append(protocol)
            return protocol

        server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        servers.append(server)
        return server.sockets[0].getsockname()[1], mine

    yield start
    for server in servers:
        server.close()
    for protocol in protocols:
        protocol.close()
    for server in servers:
        await server.wait_closed()


class Echo:
    """An app that answers the body it got; ``/big`` answers 1 KiB, ``/slow`` waits."""

    def __init__(self) -> None:
        self.handled = 0

    def handle(self, request: Request) -> Response | Upgrade:
        self.handled += 1
        if request.path == "/big":
            return Response(200, b"x" * 1024, None)
        if request.path == "/slow":
            return Response(200, b"slow", None, delay=0.2)
        return Response(200, request.path.encode() + b":" + request.body, None)

    def connection_opened(self, protocol: HttpServerProtocol) -> None:
        pass

    def connection_closed(self, protocol: HttpServerProtocol) -> None:
        pass


async def read_answer(reader: asyncio.StreamReader, wait: float = WAIT
                      ) -> tuple[int, bytes, bytes]:
    """One response: (status, head, body), the body framed by its Content-Length."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), wait)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    body = await asyncio.wait_for(reader.readexactly(length), WAIT)
    return int(head.split(b" ")[1]), head, body


async def assert_closed(reader: asyncio.StreamReader) -> None:
    assert await asyncio.wait_for(reader.read(), WAIT) == b""


async def get(port: int, path: str = "/api/Status/ping") -> int:
    """A fresh connection's answer to one GET: the server still serves."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    status, _, _ = await read_answer(reader)
    writer.close()
    return status


# -- parsing: linear, strict ---------------------------------------------------------------


async def test_a_body_of_millions_of_one_byte_chunks_is_parsed_once(
        simulator: GatewaySimulator) -> None:
    """4 MB in one-byte chunks (24 MB on the wire) arrives in pieces as TCP delivers it.

    Re-parsing the chunked body from its start on every read made this
    quadratic: 0.6 M chunks took 4.5 s, so 4 M would take minutes; parsed
    once it takes well under a second, and the wait below is 30 s.
    """
    simulator.add_user("alice")
    token = simulator.token("alice")
    size = 4_000_000
    frame = b'{"searchText":"MNQ","live":false,"pad":"%s"}'
    body = frame % (b"x" * (size - len(frame) + 2))
    wire = b"".join([b"1\r\n%c\r\n" % byte for byte in body]) + b"0\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", simulator.port)
    writer.write(
        f"POST /api/Contract/search HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode())

    async def send() -> None:
        for start in range(0, len(wire), 64 * 1024):
            writer.write(wire[start : start + 64 * 1024])
            await writer.drain()

    sending = asyncio.ensure_future(send())
    status, _, answer = await read_answer(reader, 30)
    await sending
    assert status == 200
    assert b'"name":"MNQ' in answer  # the body arrived whole: its search ran
    writer.close()


@pytest.mark.parametrize("head", [
    b"Content-Length: \xb2\r\n\r\nab",  # superscript two in latin-1: str.isdigit() says yes
    b"Content-Length: \xc2\xb2\r\n\r\nab",
    b"Content-Length: +2\r\n\r\nab",
    b"Content-Length: 2_0\r\n\r\nab",
    b"Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
    b"Transfer-Encoding: chunked\r\n\r\n1_0\r\n0123456789abcdef\r\n0\r\n\r\n",
    b"Transfer-Encoding: chunked\r\n\r\n+5\r\nabcde\r\n0\r\n\r\n",
    b"Transfer-Encoding: chunked\r\n\r\n-0\r\n\r\n",
    b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
], ids=["sup2-latin1", "sup2-utf8", "cl-plus", "cl-underscore", "chunk-0x", "chunk-underscore",
        "chunk-plus", "chunk-minus-zero", "te-and-cl"])
async def test_numbers_only_python_reads_are_400(simulator: GatewaySimulator,
                                                 head: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", simulator.port)
    writer.write(b"POST /api/Status/ping HTTP/1.1\r\nHost: x\r\n" + head)
    status, _, _ = await read_answer(reader)
    assert status == 400
    await assert_closed(reader)
    writer.close()
    assert await get(simulator.port) == 200


async def test_oversized_heads_and_bodies_are_refused_before_they_are_read(
        serve: Serve) -> None:
    app = Echo()
    port, _ = await serve(app, Limits(head=1024, body=4096))
    cases = [
        # A head that never ends: refused once it passes the limit, not when it ends.
        (b"GET / HTTP/1.1\r\nX-Pad: " + b"a" * 64 * 1024, 431),
        (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 200, 431),
        # Declared too large: refused before a byte of the body is sent.
        (b"POST / HTTP/1.1\r\nContent-Length: 4097\r\n\r\n", 413),
        # Chunked: refused as the chunks pass the limit.
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"400\r\n" + b"a" * 1024
         + b"\r\n" + b"1000\r\n" + b"a" * 4096, 413),
        # A trailer that never ends counts as head.
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nX-T: "
         + b"t" * 64 * 1024, 431),
    ]
    for request, expected in cases:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for start in range(0, len(request), 2048):  # several reads, as a trickle would be
            writer.write(request[start : start + 2048])
            await writer.drain()
            await asyncio.sleep(0)
        status, _, _ = await read_answer(reader)
        assert status == expected, request[:60]
        await assert_closed(reader)
        writer.close()
    assert app.handled == 0


# -- timeouts and connection limits ----------------------------------------------------------


async def test_idle_and_half_sent_requests_are_closed(simulator: GatewaySimulator,
                                                      serve: Serve) -> None:
    port, _ = await serve(simulator, Limits(request_timeout=0.3, idle_timeout=0.6))
    # Idle after an answer: closed without a word once the keep-alive timeout passes.
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
    idle_writer.write(b"GET /api/Status/ping HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await read_answer(idle_reader))[0] == 200
    # Never a byte sent.
    silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", port)
    # Slowloris: a head trickled a byte at a time, never finished.
    loris_reader, loris_writer = await asyncio.open_connection("127.0.0.1", port)
    loris_writer.write(b"GET /api/Status/ping HTTP/1.1\r\nX-A: ")
    # A body that stops half way.
    body_reader, body_writer = await asyncio.open_connection("127.0.0.1", port)
    body_writer.write(b"POST /api/Status/ping HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                      b"0123456789")

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(int(WAIT / 0.05)):
                loris_writer.write(b"a")
                await loris_writer.drain()
                await asyncio.sleep(0.05)

    trickling = asyncio.ensure_future(trickle())
    await assert_closed(idle_reader)
    await assert_closed(silent_reader)
    for reader in (loris_reader, body_reader):
        status, _, _ = await read_answer(reader)
        assert status == 408
        await assert_closed(reader)
    trickling.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await trickling
    assert await get(port) == 200
    for writer in (idle_writer, silent_writer, loris_writer, body_writer):
        writer.close()


async def test_a_busy_keep_alive_connection_stays_open(serve: Serve) -> None:
    """The idle clock restarts with each request: 3 s of requests on a 1 s idle timeout."""
    port, _ = await serve(Echo(), Limits(request_timeout=0.5, idle_timeout=1.0))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for number in range(30):
        writer.write(f"GET /{number} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status, _, body = await read_answer(reader)
        assert (status, body) == (200, b"/%d:" % number)
        await asyncio.sleep(0.1)
    writer.close()


async def test_connections_past_the_cap_get_503(simulator: GatewaySimulator,
                                                serve: Serve) -> None:
    port, protocols = await serve(simulator, Limits(max_connections=3))
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    for reader, writer in held:
        writer.write(b"GET /api/Status/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_answer(reader))[0] == 200
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await read_answer(reader))[0] == 503
    await assert_closed(reader)
    writer.close()
    # One leaves: a newcomer is served once the server has seen it go.
    held[0][1].close()
    for _ in range(int(WAIT / 0.05)):
        if sum(protocol.transport is not None for protocol in protocols) < 3:
            break
        await asyncio.sleep(0.05)
    assert await get(port) == 200
    for _, writer in held[1:]:
        writer.close()


# -- clients that do not read -----------------------------------------------------------------


def _small_receive_buffer() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    return sock


async def test_pipelining_without_reading_is_bounded_then_served_in_full(
        serve: Serve) -> None:
    """20 000 requests for 1 KiB answers, none read: the server stops reading, not buffering."""
    app = Echo()
    port, protocols = await serve(app, Limits())
    sock = _small_receive_buffer()
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    count = 20_000
    writer.write(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n" * count)  # not drained: never blocks
    buffered = []
    for _ in range(40):
        await asyncio.sleep(0.025)
        buffered.extend(p.transport.get_write_buffer_size() for p in protocols if p.transport)
    assert 0 < app.handled < count  # the server answered some, then stopped reading
    assert max(buffered) < 2 * 1024 * 1024  # 20 MB of answers were asked for
    for number in range(count):
        status, _, body = await read_answer(reader)
        assert (status, len(body)) == (200, 1024), number
    writer.close()


async def test_answers_held_back_keep_their_order(serve: Serve) -> None:
    """A delayed answer holds the ones pipelined behind it, whatever arrives meanwhile."""
    port, _ = await serve(Echo(), Limits())
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nbo")
    await asyncio.sleep(0.05)
    writer.write(b"dGET /c HTTP/1.1\r\nHost: x\r\n\r\nGET /d HTTP/1.1\r\nConnection: close\r\n\r\n"
                 b"GET /never HTTP/1.1\r\n\r\n")
    answers = [(await read_answer(reader))[2] for _ in range(5)]
    assert answers == [b"/a:", b"slow", b"/b:bod", b"/c:", b"/d:"]
    await assert_closed(reader)
    writer.close()


def ws_frame(opcode: int, payload: bytes) -> bytes:
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + key + masked


async def test_a_ping_flood_that_never_reads_cannot_grow_the_send_buffer(
        simulator: GatewaySimulator) -> None:
    simulator.add_user("alice")
    token = simulator.token("alice")
    sock = _small_receive_buffer()
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", simulator.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((
        f"GET /hubs/market?access_token={token} HTTP/1.1\r\nHost: x\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Key: {key}\r\n\r\n").encode())
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)).startswith(
        b"HTTP/1.1 101 ")
    writer.write(ws_frame(TEXT, b'{"protocol":"json","version":1}\x1e'))
    (session,) = simulator.hubs.sessions
    assert session.ws is not None
    # 16 MB of pings (125-byte payloads, the most a control frame carries), none read.
    pings = b"".join(ws_frame(PING, b"%0125d" % number) for number in range(1000))
    for _ in range(128):
        writer.write(pings)
        await writer.drain()
    # A subscription behind them: once it is made, every ping before it was read.
    contract = simulator.catalog.front_contracts()[0].id
    writer.write(ws_frame(TEXT, b'{"type":1,"target":"SubscribeContractQuotes","arguments":["%s"]}'
                          b"\x1e" % contract.encode()))
    await writer.drain()
    for _ in range(int(WAIT / 0.01)):
        if session.subscriptions.get("quotes"):
            break
        await asyncio.sleep(0.01)
    assert session.subscriptions.get("quotes")
    assert session.ws.buffered < 512 * 1024  # 16 MB of pongs if each ping got its own
    assert await get(simulator.port) == 200  # others are served meanwhile
    writer.close()


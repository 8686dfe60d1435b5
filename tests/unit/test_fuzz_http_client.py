"""Fuzzing the HTTP/1.1 client's response parsing (``pxfast.client.http``).

* Well-formed responses (any status, headers, body; framed by Content-Length,
  chunked encoding with trailers, or connection close; after interim 1xx
  answers), cut into pieces anywhere, parse to exactly what was sent.
* Arbitrary bytes, and well-formed responses mutated byte by byte, cut
  anywhere: the request's future ends with a response or an ``HttpError``,
  nothing else escapes ``data_received`` into the loop, every piece is
  handled within a bounded time (a watchdog alarm turns a spin into a
  failure, not a hung run), and what the connection holds stays within
  MAX_HEAD and MAX_BODY, lowered here so the generated answers cross them.
* The same over a real loopback socket through ``HttpClient``: a response or
  an ``HttpError``, within the request timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import string
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType, SimpleNamespace

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pxfast.client import http
from pxfast.client.http import HttpClient, HttpError, HttpResponse, _Connection

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Lowered limits, so that generated answers cross them.
HEAD_LIMIT = 160
BODY_LIMIT = 64
#: Seconds one example may take before the watchdog fails it.
WATCHDOG = 10


@contextlib.contextmanager
def small_limits() -> Iterator[None]:
    saved = http.MAX_HEAD, http.MAX_BODY
    http.MAX_HEAD, http.MAX_BODY = HEAD_LIMIT, BODY_LIMIT
    try:
        yield
    finally:
        http.MAX_HEAD, http.MAX_BODY = saved


@contextlib.contextmanager
def watchdog() -> Iterator[None]:
    """Raise in the main thread if the block runs longer than WATCHDOG (a spinning parser)."""

    def expired(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"parsing took longer than {WATCHDOG}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(WATCHDOG)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Answer:
    raw: bytes
    status: int
    headers: dict[str, str]
    body: bytes


TOKEN = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=12)
VALUE = st.text(string.ascii_letters + string.digits + " -_.;=/,", max_size=24)


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    """A well-formed response, its bytes and what the client must make of it."""
    raw = b""
    for _ in range(draw(st.integers(0, 3))):
        interim = draw(st.sampled_from([100, 102, 103]))
        raw += b"HTTP/1.1 %d Interim\r\nLink: </a>\r\n\r\n" % interim
    status = draw(st.sampled_from([200, 201, 204, 301, 400, 404, 429, 500, 503]))
    sizes = st.one_of(st.binary(max_size=80), st.binary(min_size=40, max_size=1200))
    body = b"" if status == 204 else draw(sizes)
    framing = "length" if status == 204 else draw(st.sampled_from(["length", "chunked", "close"]))
    headers: dict[str, str] = {}
    lines = []
    for name, value in draw(st.lists(st.tuples(TOKEN, VALUE), max_size=5)):
        if name.lower() in ("content-length", "transfer-encoding", "connection"):
            continue
        lines.append(b"%s: %s\r\n" % (name.encode(), value.encode()))
        key, text = name.lower(), value.strip()
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    framed = body
    if framing == "length":
        lines.append(b"Content-Length: %d\r\n" % len(body))
        headers["content-length"] = str(len(body))
    elif framing == "chunked":
        lines.append(b"Transfer-Encoding: chunked\r\n")
        headers["transfer-encoding"] = "chunked"
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
        edges = [0, *cuts, len(body)]
        chunks = [body[a:b] for a, b in itertools.pairwise(edges) if b > a]
        framed = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n"
        framed += b"X-Trailer: t\r\n\r\n" if draw(st.booleans()) else b"\r\n"
    raw += b"HTTP/1.1 %d Status\r\n%s\r\n%s" % (status, b"".join(lines), framed)
    return Answer(raw, status, headers, body)


HOSTILE_SIZES = [b"-6", b"-1", b"7FFFFFFF", b"f" * 20, b"+5", b" 5", b"0x5", b"5 ; a"]
INTERIM = b"HTTP/1.1 100 Continue\r\n\r\n"


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(answers()).raw)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(raw)))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "repeat", "size", "interim"]))
        if kind == "size":  # a chunk-size line (or whatever ends the head) made hostile
            start = raw.find(b"\r\n\r\n") + 4
            end = raw.find(b"\r\n", start)
            if start >= 4 and end >= 0:
                size = draw(st.sampled_from(HOSTILE_SIZES))
                raw[start:end] = size
                if draw(st.booleans()):  # and nothing after it, for now
                    del raw[start + len(size) + 2 :]
        elif kind == "interim":
            raw[0:0] = INTERIM * draw(st.integers(1, 3000))
        elif kind == "flip" and at < len(raw):
            raw[at] = draw(st.integers(0, 255))
        elif kind == "delete":
            del raw[at : at + draw(st.integers(1, 8))]
        elif kind == "insert":
            raw[at:at] = draw(st.sampled_from([b"\r\n", b"-", b"ffffffff", b"\x00", b" ", b":"]))
        else:
            raw[at:at] = raw[at : at + draw(st.integers(1, 300))] * draw(st.integers(1, 8))
    return bytes(raw)


def cut(raw: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({0, len(raw), *(p % (len(raw) + 1) for p in points)})
    return [raw[a:b] for a, b in itertools.pairwise(edges)]


CUTS = st.lists(st.integers(0, 10_000), max_size=12)


def feed(pieces: list[bytes], *, check_limits: bool = False) -> asyncio.Future[HttpResponse]:
    """Feed ``pieces`` and then EOF to one connection; its (settled) request future."""
    loop = asyncio.new_event_loop()
    try:
        connection = _Connection()
        transport = SimpleNamespace(write=lambda data: None, close=lambda: None)
        connection.connection_made(transport)  # type: ignore[arg-type]
        waiter = connection.send(b"POST /api/Order/search HTTP/1.1\r\n\r\n", loop)
        with watchdog():
            for piece in pieces:
                connection.data_received(piece)
                if check_limits:
                    assert connection._body_len <= http.MAX_BODY
                    held = sum(len(k) + len(v) for k, v in connection._headers.items())
                    assert held <= http.MAX_HEAD
                    assert connection._head_done or connection._overhead <= http.MAX_HEAD
            connection.connection_lost(None)
        assert waiter.done()
        return waiter
    finally:
        loop.close()


def settled_properly(waiter: asyncio.Future[HttpResponse]) -> None:
    error = waiter.exception()
    if error is None:
        response = waiter.result()
        assert isinstance(response, HttpResponse) and len(response.body) <= http.MAX_BODY
    else:
        assert isinstance(error, HttpError), repr(error)


@FUZZ
@given(answers(), CUTS)
def test_well_formed_answers_parse_to_what_was_sent_however_cut(
    answer: Answer, points: list[int]
) -> None:
    response = feed(cut(answer.raw, points)).result()
    assert (response.status, response.headers, response.body) == (
        answer.status,
        answer.headers,
        answer.body,
    )


@FUZZ
@given(st.one_of(mutated(), st.binary(max_size=600)), CUTS)
# What the hand-written parser this replaced did with them: spin forever, overflow the stack.
@example(raw=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\n", points=[])
@example(raw=INTERIM * 3000 + b"HTTP/1.1 204 No Content\r\n\r\n", points=[])
def test_any_bytes_end_in_a_response_or_an_http_error(raw: bytes, points: list[int]) -> None:
    settled_properly(feed(cut(raw, points)))


@FUZZ
@given(st.one_of(answers().map(lambda a: a.raw), mutated()), CUTS)
def test_what_the_connection_holds_stays_within_the_limits(raw: bytes, points: list[int]) -> None:
    with small_limits():
        settled_properly(feed(cut(raw, points), check_limits=True))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(answers().map(lambda a: a.raw), mutated()), CUTS)
def test_over_a_socket_any_answer_is_a_response_or_an_http_error(
    raw: bytes, points: list[int]
) -> None:
    async def run() -> None:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            for piece in cut(raw, points):
                writer.write(piece)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = HttpClient(f"http://127.0.0.1:{port}", timeout=5.0)
        try:
            response = await asyncio.wait_for(client.request("GET", "/x"), 10.0)
            assert len(response.body) <= http.MAX_BODY
        except HttpError:
            pass
        finally:
            await client.close()
            server.close()
            await server.wait_closed()

    asyncio.run(run())

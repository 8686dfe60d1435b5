"""Fuzzing the simulator's HTTP/1.1 server: any bytes, cut anywhere, get answers or a close.

``HttpServerProtocol`` is fed through a recording transport, the bytes split
at arbitrary points as TCP may deliver them:

* any bytes, and valid requests mutated byte by byte: ``data_received``
  never raises, everything written is a sequence of well-formed HTTP/1.1
  responses, an error answer is the last thing written and is followed by a
  close, and what the server holds stays within its limits;
* valid pipelines (Content-Length and chunked bodies, HTTP/1.0,
  ``Expect: 100-continue``, an upgrade with bytes behind it): every request
  is answered, in order, whatever the cuts, and the bytes after an upgrade
  reach the upgraded connection untouched.

Small limits make the fuzzer reach them.  The loopback tests in
``tests/integration/test_sim_http_hostile.py`` cover timing and flow control.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pxfast.sim import http
from pxfast.sim.http import HttpServerProtocol, Limits, Request, Response, Upgrade

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LIMITS = Limits(head=512, body=2048)
_STATUS_LINE = re.compile(rb"HTTP/1\.1 (\d{3}) [A-Za-z ]+")


class RecordingTransport(asyncio.Transport):
    """What the server wrote, and whether it closed, for a client that reads slowly.

    Like asyncio's transports it pauses the protocol's writing once more than
    ``HIGH_WATER`` bytes wait for the client; the feeder plays the client,
    which reads them (``client_reads``) only when the server stops reading.
    """

    HIGH_WATER = 64

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.eof = False
        self.reading = True
        self.protocol: HttpServerProtocol | None = None
        self.backlog = 0
        self.write_paused = False
        self.in_read = False
        #: Broken rules, kept rather than raised: a write may come from inside llhttp.
        self.violations: list[str] = []

    def client_reads(self) -> None:
        self.backlog = 0
        if self.write_paused and self.protocol is not None:
            self.write_paused = False
            self.protocol.resume_writing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.eof or self.closed:
            self.violations.append("written after the end")
        # An answer held back may still go out once paused, but what a read brings waits.
        if self.write_paused and self.in_read:
            self.violations.append("wrote on to a client that does not read")
        self.written += data
        self.backlog += len(data)
        if self.backlog > self.HIGH_WATER and not self.write_paused and self.protocol:
            self.write_paused = True
            self.protocol.pause_writing()

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_write_buffer_size(self) -> int:
        return len(self.written)


class Upgraded:
    def __init__(self) -> None:
        self.received = bytearray()

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        pass

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass


@dataclass
class EchoApp:
    """Answers ``<method> <target> <body>``; ``/ws`` upgrades, ``/slow`` answers late."""

    requests: list[Request] = field(default_factory=list)
    upgraded: Upgraded | None = None

    def handle(self, request: Request) -> Response | Upgrade:
        self.requests.append(request)
        if request.path == "/ws":
            def make(transport: asyncio.Transport) -> Upgraded:
                self.upgraded = Upgraded()
                return self.upgraded
            return Upgrade([("Upgrade", "websocket"), ("Connection", "Upgrade")], make)
        return Response(200, f"{request.method} {request.target} ".encode() + request.body, None,
                        delay=0.001 if request.path == "/slow" else 0.0)

    def connection_opened(self, protocol: HttpServerProtocol) -> None:
        pass

    def connection_closed(self, protocol: HttpServerProtocol) -> None:
        pass


def feed(pieces: list[bytes], slice_size: int = 16 * 1024
         ) -> tuple[EchoApp, RecordingTransport, HttpServerProtocol]:
    """Feed the pieces as reads, in a running loop (the protocol reads its clock).

    llhttp gets 16 KiB at a time; smaller slices here make requests waiting
    behind a held answer or a full send buffer leave bytes unparsed.
    """

    async def run() -> tuple[EchoApp, RecordingTransport, HttpServerProtocol]:
        app = EchoApp()
        transport = RecordingTransport()
        protocol = HttpServerProtocol(app, LIMITS)
        transport.protocol = protocol
        protocol.connection_made(transport)

        async def until_reading() -> None:
            """What a client's TCP stack does: wait while the server does not read."""
            for _ in range(100):  # answers are held back 1 ms at most
                if transport.reading or transport.closed:
                    return
                transport.client_reads()
                if not transport.reading:
                    await asyncio.sleep(0.001)
            raise AssertionError("the server never reads again")

        for piece in pieces:
            await until_reading()
            if transport.closed or transport.eof:
                break
            transport.in_read = True
            protocol.data_received(piece)
            transport.in_read = False
            assert_bounded(protocol)
        for _ in range(100):
            if not (protocol._held or protocol._pending or transport.write_paused):
                break
            transport.client_reads()
            await asyncio.sleep(0.001)
        else:
            raise AssertionError("answers owed forever")
        protocol.connection_lost(None)
        return app, transport, protocol

    with mock.patch.object(http, "_SLICE", slice_size):
        return asyncio.run(run())


def assert_bounded(protocol: HttpServerProtocol) -> None:
    """What the server holds for a request it has not answered stays within its limits."""
    if protocol._closing:
        return  # answered and closed: nothing more is parsed or kept
    assert protocol._head_size <= LIMITS.head
    assert protocol._body_size <= LIMITS.body
    assert protocol._stalled <= LIMITS.head
    assert len(protocol._pending) <= http._SLICE // 16  # one slice of the smallest requests


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes]
    body: bytes


def parse_answers(written: bytes) -> list[Answer]:
    """Split what the server wrote into responses; fails on anything not well formed."""
    answers: list[Answer] = []
    rest = written
    while rest:
        end = rest.find(b"\r\n\r\n")
        assert end > 0, rest[:200]
        lines = rest[:end].split(b"\r\n")
        match = _STATUS_LINE.fullmatch(lines[0])
        assert match, lines[0]
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b": ")
            assert sep and name and b"\r" not in value and b"\n" not in value, line
            headers[name.lower()] = value
        status = int(match.group(1))
        length = int(headers.get(b"content-length", b"0"))
        body = rest[end + 4 : end + 4 + length]
        assert len(body) == length, "truncated answer"
        rest = rest[end + 4 + length :]
        answers.append(Answer(status, headers, body))
        if status == 101:
            assert not rest, "nothing after the switch"
    return answers


def check_conversation(app: EchoApp, transport: RecordingTransport) -> list[Answer]:
    """The answers are well formed; an error or a close ends the conversation."""
    assert not transport.violations
    answers = parse_answers(bytes(transport.written))
    final = [a for a in answers if a.status != 100]
    for number, answer in enumerate(final):
        last = number == len(final) - 1
        assert answer.status != 500, "the server failed inside its own parsing"
        if answer.status >= 400 or answer.headers.get(b"connection") == b"close":
            assert last, "answers after a closing one"
            assert transport.closed or transport.eof
        if answer.status == 101:
            assert last and app.upgraded is not None
    served = len([a for a in final if a.status in (200, 101)])
    # The app may ask to upgrade a request llhttp did not parse as one: that is a 400.
    assert served == len(app.requests) or (
        served == len(app.requests) - 1 and final[-1].status == 400)
    if transport.closed or transport.eof:
        # An idle connection is only closed by its timer, never by bytes.
        assert final and (final[-1].status >= 400
                          or final[-1].headers.get(b"connection") == b"close")
    return final


def cuts(data: bytes, points: list[int]) -> list[bytes]:
    bounds = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


# -- strategies -----------------------------------------------------------------------------

_TOKEN = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
_VALUE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30)
_PATH = st.one_of(
    st.just("/slow"),
    st.builds(lambda parts, query: "/" + "/".join(parts) + (f"?{query}" if query else ""),
              st.lists(_TOKEN, max_size=3), st.one_of(st.none(), _TOKEN)))


@st.composite
def request_bytes(draw: st.DrawFn, *, last: bool = False
                  ) -> tuple[bytes, str, bytes, bool, bool]:
    """(wire bytes, target, body, keeps the connection open, expects 100) of one request."""
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
    target = draw(_PATH)
    version = draw(st.sampled_from(["1.1", "1.1", "1.1", "1.0"]))
    headers = [(name, value) for name, value in draw(st.lists(st.tuples(_TOKEN, _VALUE),
                                                              max_size=4))
               if name not in ("content-length", "transfer-encoding", "connection", "expect",
                               "upgrade")]
    body = draw(st.binary(max_size=300)) if method != "GET" else b""
    keep_alive = version == "1.1"
    if draw(st.booleans()):
        keep_alive = version == "1.1" and not last
        headers.append(("Connection", "keep-alive" if keep_alive else "close"))
    if last and keep_alive and draw(st.booleans()):
        keep_alive = False
        headers.append(("Connection", "close"))
    framed: bytes
    if body and version == "1.1" and draw(st.booleans()):
        headers.append(("Transfer-Encoding", "chunked"))
        sizes = draw(st.lists(st.integers(1, 64), min_size=1, max_size=8))
        chunks, at = [], 0
        for size in sizes:
            piece = body[at : at + size]
            if piece:
                ext = draw(st.sampled_from(["", ";x=1"]))
                chunks.append(b"%x%s\r\n%s\r\n" % (len(piece), ext.encode(), piece))
            at += size
        if at < len(body):
            chunks.append(b"%x\r\n%s\r\n" % (len(body) - at, body[at:]))
        trailer = b"X-Trailer: t\r\n" if draw(st.booleans()) else b""
        framed = b"".join(chunks) + b"0\r\n" + trailer + b"\r\n"
    else:
        headers.append(("Content-Length", str(len(body))))
        framed = body
    expect = bool(body) and draw(st.booleans())
    if expect:
        headers.append(("Expect", "100-continue"))
    head = f"{method} {target} HTTP/{version}\r\nHost: sim\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
    return head.encode() + framed, f"{method} {target} ", body, keep_alive, expect


Pipeline = tuple[bytes, list[bytes], bytes | None, int]


@st.composite
def pipelines(draw: st.DrawFn) -> Pipeline:
    """Valid requests back to back, the answers they must get, bytes after an upgrade,
    and how many requests may get a ``100 Continue``."""
    count = draw(st.integers(1, 6))
    wire, expected, expects = b"", [], 0
    for number in range(count):
        request, prefix, body, keep_alive, expect = draw(
            request_bytes(last=number == count - 1))
        wire += request
        expected.append(prefix.encode() + body)
        expects += expect
        if not keep_alive:
            return wire, expected, None, expects
    after: bytes | None = None
    if draw(st.booleans()):
        after = draw(st.binary(max_size=200))
        wire += (b"GET /ws HTTP/1.1\r\nHost: sim\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\n\r\n") + after
    return wire, expected, after, expects


_HOSTILE_SNIPPETS = [
    b"\r\n", b"\r\n\r\n", b":", b" ", b"\x00", b"\xb2", b"0x3", b"1_0", b"+5", b"-1",
    b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n", b"ffffffffffffffff\r\n",
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n", b"HTTP/2.0", b"\n", b"A" * 600,
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(pipelines())[0])
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "flip" and at < len(data):
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[at:at] = draw(st.sampled_from(_HOSTILE_SNIPPETS))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        else:
            del data[at:]
    return bytes(data)


_SPLITS = st.lists(st.integers(0, 1 << 16), max_size=12)
_SLICES = st.sampled_from([64, 256, 16 * 1024])


# -- properties -------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000), _SPLITS, _SLICES)
def test_any_bytes_get_well_formed_answers_or_a_close(data: bytes, splits: list[int],
                                                      slice_size: int) -> None:
    app, transport, _ = feed(cuts(data, splits), slice_size)
    check_conversation(app, transport)


@FUZZ
@given(mutated(), _SPLITS, _SLICES)
def test_mutated_requests_get_well_formed_answers_or_a_close(data: bytes, splits: list[int],
                                                             slice_size: int) -> None:
    app, transport, _ = feed(cuts(data, splits), slice_size)
    check_conversation(app, transport)


@FUZZ
@given(pipelines(), _SPLITS, _SLICES)
def test_valid_pipelines_are_answered_in_order_however_cut(
        pipeline: Pipeline, splits: list[int], slice_size: int) -> None:
    wire, expected, after, expects = pipeline
    app, transport, _ = feed(cuts(wire, splits), slice_size)
    final = check_conversation(app, transport)
    continues = [a for a in parse_answers(bytes(transport.written)) if a.status == 100]
    assert len(continues) <= expects
    answered = [a.body for a in final if a.status == 200]
    assert answered == expected
    if after is not None:
        assert final[-1].status == 101
        assert app.upgraded is not None and bytes(app.upgraded.received) == after


@FUZZ
@given(st.integers(LIMITS.head // 2, LIMITS.head * 4), st.integers(0, LIMITS.body * 3),
       st.booleans(), _SPLITS)
def test_limits_answer_431_and_413_before_buffering(head_pad: int, body_size: int,
                                                    chunked: bool, splits: list[int]) -> None:
    body = b"b" * body_size
    if chunked:
        framing = b"Transfer-Encoding: chunked"
        framed = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 100]), body[i : i + 100])
                          for i in range(0, len(body), 100)) + b"0\r\n\r\n"
    else:
        framing, framed = b"Content-Length: %d" % len(body), body
    head = b"POST /x HTTP/1.1\r\nX-Pad: " + b"p" * head_pad + b"\r\n" + framing + b"\r\n\r\n"
    app, transport, _ = feed(cuts(head + framed, splits))
    (answer,) = check_conversation(app, transport)
    # The limit is on the target and the header lines; the raw head, a little
    # longer, may also trip it when it trickles in without completing.
    counted = len(b"/x") + len(b"X-Pad") + head_pad + 4 + len(framing) + 2
    if counted > LIMITS.head:
        assert answer.status == 431
    elif answer.status != 431 or len(head) <= LIMITS.head:
        assert answer.status == (413 if body_size > LIMITS.body else 200)

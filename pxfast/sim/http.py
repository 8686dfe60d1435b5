"""A small HTTP/1.1 server on an asyncio Protocol, just enough for the Gateway's clients.

The simulator must answer thousands of ``Order/place`` calls a second on one
core, so there is no framework and no task per request: llhttp (through
``httptools``) parses each received chunk once, and every request it completes
is answered synchronously from its callback, which also keeps pipelined
responses in request order.

What real clients send and this server therefore handles: keep-alive
(HTTP/1.1 default, ``Connection: close``, HTTP/1.0 opt-in), bodies framed by
``Content-Length`` or ``Transfer-Encoding: chunked``, ``Expect: 100-continue``
and the WebSocket upgrade, after which the socket belongs to a
``websocket.WebSocketConnection``.  A request llhttp rejects gets a 400, one
over a limit a 413 or 431, and the connection is closed, as any HTTP server
would.

Hostile clients are bounded: heads and bodies are refused before they are
buffered past their limits, a request must arrive whole within
``REQUEST_TIMEOUT`` and an idle keep-alive connection is closed after
``IDLE_TIMEOUT``, a client that does not read its answers stops being read
from, and the servers sharing a ``Limits`` (by default, all of the process's)
hold at most ``MAX_CONNECTIONS`` sockets at once.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast
from urllib.parse import parse_qs

import httptools

__all__ = [
    "HttpApp",
    "HttpServerProtocol",
    "Limits",
    "Request",
    "Response",
    "Upgrade",
    "UpgradedConnection",
]

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
#: Seconds from a request's first byte to its last (slowloris heads and bodies).
REQUEST_TIMEOUT = 30.0
#: Seconds a keep-alive connection may wait for its next request.
IDLE_TIMEOUT = 120.0
#: Seconds an error answer waits for the client to stop sending before the socket closes.
LINGER = 2.0


def _max_connections() -> int:
    """Three quarters of the descriptor limit: the in-process client needs the rest."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no descriptor limit to protect
        return 10_000
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 10_000
    return max(64, soft * 3 // 4)


#: Open sockets per ``Limits`` (the default one is the whole process's, as the
#: descriptor limit is); one over it is answered 503 and closed at once.
MAX_CONNECTIONS = _max_connections()

_REASONS = {
    101: "Switching Protocols",
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Payload Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

JSON = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class Limits:
    """What one connection may cost; tests and embedders shrink them.

    ``max_connections`` counts the connections served under this very object,
    so servers sharing one share the cap.
    """

    head: int = MAX_HEAD
    body: int = MAX_BODY
    request_timeout: float = REQUEST_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT
    max_connections: int = MAX_CONNECTIONS


DEFAULT_LIMITS = Limits()


class HttpError(Exception):
    """The request cannot be served; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(slots=True)
class Request:
    method: str
    target: str = field(repr=False)  # the query string may hold access_token
    path: str
    query_string: str
    headers: dict[str, str] = field(repr=False)  # Authorization holds a token
    body: bytes = field(repr=False)  # a login body holds an API key
    peer: str = ""
    _query: dict[str, list[str]] | None = field(default=None, repr=False)

    @property
    def query(self) -> dict[str, list[str]]:
        """Query parameters, every value of each (parsed on first use)."""
        if self._query is None:
            self._query = parse_qs(self.query_string, keep_blank_values=True)
        return self._query

    def query_first(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer`` header (the literal text, even ``None``)."""
        value = self.headers.get("authorization")
        if value is None:
            return None
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        return token.strip()


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: Seconds to hold the answer back (a fault); later requests on the connection wait.
    delay: float = 0.0


class UpgradedConnection(Protocol):
    """What takes over a socket after a 101: the WebSocket connection."""

    def data_received(self, data: bytes) -> None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...

    def pause_writing(self) -> None: ...

    def resume_writing(self) -> None: ...


@dataclass(slots=True)
class Upgrade:
    """Answer a request with ``101 Switching Protocols`` and hand the socket over.

    ``make`` receives the transport once the 101 has been written and returns
    the object that gets every later byte.
    """

    headers: list[tuple[str, str]]
    make: Callable[[asyncio.Transport], UpgradedConnection]


class HttpApp(Protocol):
    def handle(self, request: Request) -> Response | Upgrade: ...

    def connection_opened(self, protocol: HttpServerProtocol) -> None: ...

    def connection_closed(self, protocol: HttpServerProtocol) -> None: ...


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    lines.extend(f"{k}: {v}" for k, v in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def encode_response(response: Response, keep_alive: bool) -> bytes:
    headers: list[tuple[str, str]] = []
    if response.content_type is not None:
        headers.append(("Content-Type", response.content_type))
    headers.append(("Content-Length", str(len(response.body))))
    headers.extend(response.headers)
    if not keep_alive:
        headers.append(("Connection", "close"))
    return _head(response.status, headers) + response.body


def _problem(status: int, reason: str) -> bytes:
    body = f'{{"title":"{reason}","status":{status}}}'.encode()
    return encode_response(Response(status, body, "application/problem+json"), False)


#: A request parsed while an earlier answer waits: (request, keep-alive, upgrade),
#: or the error that ended parsing, answered in its turn.
_Waiting = tuple[Request, bool, bool] | HttpError

#: The most bytes given to llhttp at once (see ``HttpServerProtocol._feed``).
_SLICE = 16 * 1024

#: Open connections per ``Limits``, for ``Limits.max_connections``.
_open_connections: weakref.WeakKeyDictionary[Limits, int] = weakref.WeakKeyDictionary()


class HttpServerProtocol(asyncio.Protocol):
    """One client connection: parse requests, call the app, write the answers in order.

    Parsing runs ahead of answering by at most one slice of a received chunk:
    when an answer is held (``Response.delay``) or the client stops reading
    (the transport pauses writing), the requests already parsed wait in order,
    the rest of the chunk waits unparsed, and the socket is not read again
    until they are answered, so a client cannot make the server buffer more
    than one chunk of requests or one slice's worth of answers.
    """

    __slots__ = (
        "_app",
        "_body",
        "_body_rest",
        "_body_size",
        "_closing",
        "_continue_sent",
        "_expect_continue",
        "_head_size",
        "_headers",
        "_held",
        "_in_head",
        "_keep_alive",
        "_limits",
        "_loop",
        "_max_body",
        "_max_head",
        "_parser",
        "_parsing",
        "_paused_reading",
        "_peer",
        "_pending",
        "_progress",
        "_reading",
        "_since",
        "_stalled",
        "_timer",
        "_unread",
        "_upgrade",
        "_upgraded",
        "_url",
        "_write_paused",
        "transport",
    )

    def __init__(self, app: HttpApp, limits: Limits = DEFAULT_LIMITS) -> None:
        self._app = app
        self._limits = limits
        self._max_head = limits.head
        self._max_body = limits.body
        self._parser = httptools.HttpRequestParser(self)
        #: False once parsing has ended: after an error, an upgrade or a closing answer.
        self._parsing = True
        self._upgraded: UpgradedConnection | None = None
        # The request being parsed.
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body = b""  # the first piece, usually the whole body
        self._body_rest: bytearray | None = None  # the pieces together, when there are more
        self._body_size = 0
        self._head_size = 0
        self._in_head = False
        self._keep_alive = True
        self._upgrade = False
        self._expect_continue = False
        self._continue_sent = False
        # Flow: answers held or waiting, and the reading side.
        self._pending: deque[_Waiting] = deque()
        #: Bytes read but not parsed: the rest of a chunk once answers wait, or
        #: what follows an upgrade request that waits.
        self._unread: bytearray | None = None
        self._held = False
        self._write_paused = False
        self._paused_reading = False
        self._closing = False
        # Deadlines: ``_since`` is when the current state (idle or reading) began.
        self._reading = False
        self._since = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._progress = False
        self._stalled = 0
        self._peer = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self.transport: asyncio.Transport | None = None

    # -- asyncio.Protocol -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)
        peer = self.transport.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._loop = loop = asyncio.get_running_loop()
        count = _open_connections.get(self._limits, 0) + 1
        _open_connections[self._limits] = count
        self._app.connection_opened(self)
        if count > self._limits.max_connections:
            # No lingering: the point is to give the descriptor back at once.
            self.transport.write(_problem(503, "too many connections"))
            self._close_after_answer()
            return
        self._since = loop.time()
        self._timer = loop.call_later(self._tick(), self._check_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        count = _open_connections.get(self._limits, 1) - 1
        if count > 0:
            _open_connections[self._limits] = count
        else:
            _open_connections.pop(self._limits, None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()
        self._parsing = False
        self._app.connection_closed(self)
        if self._upgraded is not None:
            self._upgraded.connection_lost(exc)
        self.transport = None

    def pause_writing(self) -> None:
        if self._upgraded is not None:
            self._upgraded.pause_writing()
            return
        self._write_paused = True
        if self._loop is not None:
            self._since = self._loop.time()

    def resume_writing(self) -> None:
        if self._upgraded is not None:
            self._upgraded.resume_writing()
            return
        self._write_paused = False
        self._drain()

    def data_received(self, data: bytes) -> None:
        if self._upgraded is not None:
            self._upgraded.data_received(data)
        elif self._unread is not None:
            self._unread += data
        elif self._parsing:
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        """Parse ``data`` in slices, keeping the rest unparsed once answers must wait.

        llhttp completes every request in what it is given, so slicing bounds
        the requests parsed ahead of a held answer or of a client that does
        not read to one slice's worth.
        """
        size = len(data)
        view = memoryview(data) if size > _SLICE else data
        start = 0
        while start < size:
            piece = view[start : start + _SLICE] if size > _SLICE else data
            self._progress = False
            try:
                self._parser.feed_data(piece)
            except httptools.HttpParserUpgrade as exc:
                self._after_upgrade_request(bytes(view[start + int(exc.args[0]) :]))
                return
            except httptools.HttpParserError as exc:
                self._parse_failed(exc)
                return
            if not self._parsing:
                return  # answered with a close
            start += len(piece)
            # llhttp keeps a header it has not finished (a trailer too) in memory:
            # bound the bytes that may arrive without a head or body moving on.
            if self._progress:
                self._stalled = 0
            else:
                self._stalled += len(piece)
                if self._stalled > self._max_head:
                    self._stop(HttpError(431, "request head too large"))
                    return
            if self._pending or self._held or self._write_paused:
                if start < size:
                    self._unread = bytearray(view[start:])
                self._pause_reading()
                return
        self._maybe_continue()

    def close(self) -> None:
        """Drop the connection at once (used by restarts and faults)."""
        if self.transport is not None:
            self.transport.abort()

    # -- llhttp callbacks ---------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = b""
        self._body_rest = None
        self._body_size = 0
        self._head_size = 0
        self._in_head = True
        self._continue_sent = False
        self._reading = True
        assert self._loop is not None
        self._since = self._loop.time()

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._head_size += len(url)
        if self._head_size > self._max_head:
            raise HttpError(431, "request head too large")

    def on_header(self, name: bytes, value: bytes) -> None:
        size = self._head_size + len(name) + len(value) + 4
        if size > self._max_head:
            raise HttpError(431, "request head too large")
        self._head_size = size
        if not self._in_head:
            return  # a trailer: counted, not kept
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1").strip()
        headers = self._headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._progress = True
        parser = self._parser
        headers = self._headers
        keep_alive = parser.should_keep_alive()
        # llhttp also parses HTTP/0.9, 2.0 and 3.0 heads; it calls them keep-alive
        # only when a Connection header asks, so HTTP/1.1's hot path skips the check.
        if ((not keep_alive or "connection" in headers)
                and not parser.get_http_version().startswith("1.")):
            raise HttpError(400, "unsupported HTTP version")
        length = headers.get("content-length")
        if length is not None and int(length) > self._max_body:  # digits: llhttp checked
            raise HttpError(413, "body too large")
        self._keep_alive = keep_alive
        self._upgrade = parser.should_upgrade()
        self._expect_continue = headers.get("expect", "").lower() == "100-continue"

    def on_body(self, body: bytes) -> None:
        self._progress = True
        size = self._body_size + len(body)
        if size > self._max_body:
            raise HttpError(413, "body too large")
        if self._body_rest is not None:
            self._body_rest += body
        elif self._body_size:
            self._body_rest = bytearray(self._body)
            self._body_rest += body
        else:
            self._body = body
        self._body_size = size

    def on_message_complete(self) -> None:
        self._progress = True
        self._reading = False
        if self._closing:
            return
        target = self._url.decode("latin-1")
        path, _, query_string = target.partition("?")
        request = Request(self._parser.get_method().decode("ascii"), target, path,
                          query_string, self._headers,
                          self._body if self._body_rest is None else bytes(self._body_rest),
                          self._peer)
        if self._pending or self._held or self._write_paused:
            self._pending.append((request, self._keep_alive, self._upgrade))
        else:
            self._respond(request, self._keep_alive, self._upgrade)

    # -- answering --------------------------------------------------------

    def _respond(self, request: Request, keep_alive: bool, upgrade: bool) -> None:
        transport = self.transport
        if transport is None:
            return
        try:
            result = self._app.handle(request)
        except Exception:  # a simulator bug: answer it, keep serving
            log.exception("%s %s failed", request.method, request.path)
            result = Response(500, b"", None)
        if isinstance(result, Upgrade):
            if upgrade:
                self._switch(result)
                return
            # llhttp did not see an upgrade, so it went on parsing the bytes after it.
            result = Response(400, b"", None)
            keep_alive = False
        elif upgrade:
            keep_alive = False  # llhttp stopped at the refused upgrade: nothing more to parse
        if result.delay > 0:
            self._held = True
            asyncio.get_running_loop().call_later(
                result.delay, self._answer_late, encode_response(result, keep_alive),
                keep_alive)
            return
        transport.write(encode_response(result, keep_alive))
        if not keep_alive:
            self._close_after_answer()

    def _answer_late(self, answer: bytes, keep_alive: bool) -> None:
        """Write a held answer (unless the client gave up and left), then read on."""
        self._held = False
        if self.transport is None:
            return
        self.transport.write(answer)
        if not keep_alive:
            self._close_after_answer()
            return
        self._drain()

    def _drain(self) -> None:
        """Answer the requests that waited, in order, then read the socket again."""
        pending = self._pending
        while pending and not (self._held or self._write_paused or self._closing):
            item = pending.popleft()
            if isinstance(item, HttpError):
                self._fail(item.status, str(item))
                return
            self._respond(*item)
        if (self._held or self._write_paused or pending or self._closing
                or self.transport is None):
            return
        assert self._loop is not None
        self._since = self._loop.time()
        unread, self._unread = self._unread, None
        if unread is not None:
            self._feed(bytes(unread))
            if self._held or self._write_paused or self._pending:
                return  # waiting again
        if self._paused_reading and not self._closing:
            self._paused_reading = False
            self.transport.resume_reading()
        self._maybe_continue()

    def _maybe_continue(self) -> None:
        """Tell a client that waits for it to send the body (once per request)."""
        if (
            self._expect_continue
            and self._reading
            and not self._in_head
            and not self._continue_sent
            and not self._closing
            and self._upgraded is None
            and self.transport is not None
        ):
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._continue_sent = True

    def _switch(self, upgrade: Upgrade) -> None:
        """Write the 101 and hand the socket, and any bytes already read, over."""
        transport = self.transport
        assert transport is not None
        transport.write(_head(101, upgrade.headers))
        self._upgraded = upgraded = upgrade.make(transport)
        self._parsing = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # The flow control so far was the HTTP side's; the WebSocket takes it over.
        if self._write_paused:
            self._write_paused = False
            upgraded.pause_writing()
        if self._paused_reading:
            self._paused_reading = False
            transport.resume_reading()
        unread, self._unread = self._unread, None
        if unread:
            upgraded.data_received(bytes(unread))

    def _after_upgrade_request(self, rest: bytes) -> None:
        """llhttp stopped after an upgrade request: ``rest`` is not HTTP any more."""
        self._parsing = False
        if self._upgraded is not None:
            if rest:
                self._upgraded.data_received(rest)
        elif self._pending:  # the upgrade request waits behind a held answer
            self._unread = bytearray(rest)
            self._pause_reading()

    # -- failing ----------------------------------------------------------

    def _parse_failed(self, exc: httptools.HttpParserError) -> None:
        if self._closing:
            return  # bytes after a ``Connection: close`` request: llhttp refuses them
        cause = exc.__context__
        if isinstance(cause, HttpError):
            self._stop(cause)
            return
        if isinstance(exc, httptools.HttpParserCallbackError) and cause is not None:
            log.error("answering a request failed", exc_info=cause)
            self._stop(HttpError(500, "internal error"))
            return
        self._stop(HttpError(400, "bad request"))

    def _stop(self, error: HttpError) -> None:
        """Parsing is over: answer ``error`` after the answers still owed."""
        self._parsing = False
        self._unread = None
        if self._pending or self._held or self._write_paused:
            self._pending.append(error)
            self._pause_reading()
        else:
            self._fail(error.status, str(error))

    def _fail(self, status: int, reason: str) -> None:
        """Answer an error and close, reading on for a while without parsing.

        A client refused mid-request is usually still sending; closing a socket
        with unread input resets the connection, and the reset can destroy the
        answer before the client reads it.  So the answer is followed by a FIN
        and the input drained until the client closes or ``LINGER`` passes.
        """
        transport = self.transport
        if transport is None or self._closing:
            return
        transport.write(_problem(status, reason))
        if not transport.can_write_eof():
            self._close_after_answer()
            return
        transport.write_eof()
        self._closing = True
        self._parsing = False
        self._unread = None
        self._pending.clear()
        loop = self._loop
        assert loop is not None
        self._since = loop.time()
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(LINGER, self._check_deadline)
        if self._paused_reading:
            self._paused_reading = False
            transport.resume_reading()

    def _close_after_answer(self) -> None:
        assert self.transport is not None
        self._closing = True
        self._parsing = False
        self._unread = None
        self._pending.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.transport.close()

    # -- limits -----------------------------------------------------------

    def _pause_reading(self) -> None:
        if not self._paused_reading and self.transport is not None:
            self._paused_reading = True
            self.transport.pause_reading()

    def _tick(self) -> float:
        """The longest the deadline timer sleeps: a request begun meanwhile is never late."""
        return min(self._limits.request_timeout, self._limits.idle_timeout)

    def _check_deadline(self) -> None:
        """Close a connection idle or mid-request for too long; otherwise sleep again.

        One timer per connection, re-armed only when it fires, so a request
        costs a clock read rather than a timer.
        """
        self._timer = None
        loop = self._loop
        if self.transport is None or self._upgraded is not None or loop is None:
            return
        now = loop.time()
        limits = self._limits
        if self._closing:  # lingering after an error answer
            deadline = self._since + LINGER
            if now >= deadline:
                self.transport.abort()
                return
        elif self._held:
            deadline = now + self._tick()  # the server owes the answer, not the client
        elif self._write_paused:
            deadline = self._since + limits.idle_timeout
            if now >= deadline:
                self.transport.abort()  # not reading its answers: closing would wait for it
                return
        elif self._reading:
            deadline = self._since + limits.request_timeout
            if now >= deadline:
                self._stop(HttpError(408, "request not received in time"))
                return
        else:
            deadline = self._since + limits.idle_timeout
            if now >= deadline:
                self._close_after_answer()
                return
        self._timer = loop.call_at(min(deadline, now + self._tick()), self._check_deadline)

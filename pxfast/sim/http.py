"""A small HTTP/1.1 server on an asyncio Protocol, just enough for the Gateway's clients.

The simulator must answer thousands of ``Order/place`` calls a second on one
core, so there is no framework and no task per request: each complete request
in the receive buffer is parsed and answered synchronously from
``data_received``, which also keeps pipelined responses in request order.

What real clients send and this server therefore handles: keep-alive
(HTTP/1.1 default, ``Connection: close``, HTTP/1.0 opt-in), bodies framed by
``Content-Length`` or ``Transfer-Encoding: chunked``, ``Expect: 100-continue``
and the WebSocket upgrade, after which the socket belongs to a
``websocket.WebSocketConnection``.  A request that cannot be parsed gets a 400
and the connection is closed, as any HTTP server would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast
from urllib.parse import parse_qs

__all__ = [
    "HttpApp",
    "HttpServerProtocol",
    "Request",
    "Response",
    "Upgrade",
    "UpgradedConnection",
]

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024

_REASONS = {
    101: "Switching Protocols",
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
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


class HttpError(Exception):
    """The request cannot be parsed; answered with ``status`` and the connection closed."""

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


class HttpServerProtocol(asyncio.Protocol):
    """One client connection: parse requests, call the app, write the answers in order."""

    __slots__ = ("_app", "_buffer", "_continue_sent", "_held", "_peer", "_upgraded", "transport")

    def __init__(self, app: HttpApp) -> None:
        self._app = app
        self._buffer = bytearray()
        self._upgraded: UpgradedConnection | None = None
        self._continue_sent = False
        self._held = False
        self._peer = ""
        self.transport: asyncio.Transport | None = None

    # -- asyncio.Protocol -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)
        peer = self.transport.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._app.connection_opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._app.connection_closed(self)
        if self._upgraded is not None:
            self._upgraded.connection_lost(exc)
        self.transport = None

    def pause_writing(self) -> None:
        if self._upgraded is not None:
            self._upgraded.pause_writing()

    def resume_writing(self) -> None:
        if self._upgraded is not None:
            self._upgraded.resume_writing()

    def data_received(self, data: bytes) -> None:
        if self._upgraded is not None:
            self._upgraded.data_received(data)
            return
        self._buffer += data
        try:
            self._process()
        except HttpError as err:
            self._fail(err.status, str(err))

    def close(self) -> None:
        """Drop the connection at once (used by restarts and faults)."""
        if self.transport is not None:
            self.transport.abort()

    # -- parsing ----------------------------------------------------------

    def _process(self) -> None:
        while self.transport is not None and self._upgraded is None and not self._held:
            parsed = self._parse_one()
            if parsed is None:
                return
            request, keep_alive = parsed
            try:
                result = self._app.handle(request)
            except Exception:  # a simulator bug: answer it, keep serving
                log.exception("%s %s failed", request.method, request.path)
                result = Response(500, b"", None)
            if isinstance(result, Upgrade):
                self._upgrade(result)
                return
            if result.delay > 0:
                self._held = True
                asyncio.get_running_loop().call_later(
                    result.delay, self._answer_late, encode_response(result, keep_alive),
                    keep_alive)
                return
            self.transport.write(encode_response(result, keep_alive))
            if not keep_alive:
                self.transport.close()
                return

    def _answer_late(self, answer: bytes, keep_alive: bool) -> None:
        """Write a held answer (unless the client gave up and left), then read on."""
        self._held = False
        if self.transport is None:
            return
        self.transport.write(answer)
        if not keep_alive:
            self.transport.close()
            return
        self._process()

    def _parse_one(self) -> tuple[Request, bool] | None:
        buf = self._buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise HttpError(431, "request head too large")
            return None
        head = bytes(buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise HttpError(400, "bad request line")
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise HttpError(400, "bad header line")
            key = name.lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        body_start = end + 4
        body: bytes
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunked = self._parse_chunked(body_start)
            if chunked is None:
                self._maybe_continue(headers)
                return None
            body, consumed = chunked
        else:
            length_text = headers.get("content-length", "0")
            if not length_text.isdigit():
                raise HttpError(400, "bad Content-Length")
            length = int(length_text)
            if length > MAX_BODY:
                raise HttpError(413, "body too large")
            if len(buf) - body_start < length:
                self._maybe_continue(headers)
                return None
            body = bytes(buf[body_start : body_start + length])
            consumed = body_start + length
        del buf[:consumed]
        self._continue_sent = False
        path, _, query_string = target.partition("?")
        connection = headers.get("connection", "").lower()
        if version == "HTTP/1.0":
            keep_alive = "keep-alive" in connection
        else:
            keep_alive = "close" not in connection
        request = Request(method, target, path, query_string, headers, body, self._peer)
        return request, keep_alive

    def _parse_chunked(self, start: int) -> tuple[bytes, int] | None:
        """Decode a chunked body starting at ``start``; None until it is complete."""
        buf = self._buffer
        pos = start
        chunks: list[bytes] = []
        total = 0
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return None
            size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError as exc:
                raise HttpError(400, "bad chunk size") from exc
            if size < 0:
                raise HttpError(400, "bad chunk size")
            total += size
            if total > MAX_BODY:
                raise HttpError(413, "body too large")
            data_start = eol + 2
            if size == 0:
                # Optional trailer lines, then the blank line that ends the body.
                if buf[data_start : data_start + 2] == b"\r\n":
                    return b"".join(chunks), data_start + 2
                trailer_end = buf.find(b"\r\n\r\n", data_start)
                if trailer_end < 0:
                    return None
                return b"".join(chunks), trailer_end + 4
            if len(buf) < data_start + size + 2:
                return None
            if buf[data_start + size : data_start + size + 2] != b"\r\n":
                raise HttpError(400, "bad chunk framing")
            chunks.append(bytes(buf[data_start : data_start + size]))
            pos = data_start + size + 2

    def _maybe_continue(self, headers: dict[str, str]) -> None:
        """Tell a client that waits for it to send the body (once per request)."""
        if (
            not self._continue_sent
            and headers.get("expect", "").lower() == "100-continue"
            and self.transport is not None
        ):
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._continue_sent = True

    def _upgrade(self, upgrade: Upgrade) -> None:
        assert self.transport is not None
        self.transport.write(_head(101, upgrade.headers))
        self._upgraded = upgrade.make(self.transport)
        rest = bytes(self._buffer)
        self._buffer.clear()
        if rest:
            self._upgraded.data_received(rest)

    def _fail(self, status: int, reason: str) -> None:
        if self.transport is None:
            return
        body = f'{{"title":"{reason}","status":{status}}}'.encode()
        self.transport.write(
            encode_response(Response(status, body, "application/problem+json"), False)
        )
        self.transport.close()
        self._buffer.clear()

"""A small HTTP/1.1 client on asyncio Protocols: one keep-alive pool per Gateway host.

Every Gateway call is a small JSON POST to one host, so a general-purpose
client buys nothing here and costs a lot per request (aiohttp and httpx spend
tens to hundreds of microseconds in Python per call; ``bench/`` measures it).
This one writes the request in one ``transport.write`` and feeds the answer
from ``data_received`` to llhttp (``httptools.HttpResponseParser``, one per
connection, reused across keep-alive requests): a response framed by
Content-Length, chunked encoding or connection close.

What it deliberately does not do: follow redirects (a bearer token must never
travel to a host it was not meant for, so a 3xx is returned to the caller as
is), compress, or pipeline.  TLS certificates are verified by default.

Failures are reported by *when* they happened, because that decides whether a
mutation may be resent: :class:`ConnectFailed` means nothing was written,
:class:`RequestUncertain` means the request may have reached the server.

A hostile or broken server gets a typed error (a :class:`RequestUncertain`,
since the request was sent), the connection is dropped, and nothing it sends
can freeze the event loop or grow memory past these limits (module constants,
read on every response: assign ``pxfast.client.http.MAX_BODY`` to change one):

* :data:`MAX_HEAD` (64 KiB): the status lines and headers of one response,
  interim 1xx responses included.  The chunk-size lines and trailers of a
  chunked body may not exceed the body received so far by more than this.
  Beyond it: :class:`ResponseTooLarge`.
* :data:`MAX_BODY` (64 MiB): the body.  A larger Content-Length is refused as
  soon as the head is read, and every piece of a chunked or close-delimited
  body is checked before it is kept: :class:`ResponseTooLarge`.
* :data:`MAX_INTERIM` (16): interim responses (``100 Continue``, ``103 Early
  Hints``...) before the final one; more is :class:`MalformedResponse`.
* The ``timeout`` of a request bounds the whole exchange, a server that
  trickles its answer included; parsing is linear in the bytes received, so
  the timer always gets to run.

Anything llhttp rejects (a bad status line, a negative or non-hex chunk size,
conflicting framing headers) is :class:`MalformedResponse`; bytes after a
complete response cost the connection, not the response.  Error messages
never quote the response: a server that echoes the request would put its
Authorization header in them.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserUpgrade,
    HttpResponseParser,
)

__all__ = [
    "MAX_BODY",
    "MAX_HEAD",
    "MAX_INTERIM",
    "ConnectFailed",
    "HttpClient",
    "HttpError",
    "HttpResponse",
    "MalformedResponse",
    "RequestUncertain",
    "ResponseTooLarge",
]

#: Most bytes of status lines and headers in one response (interim ones included).
MAX_HEAD = 64 * 1024
#: Most bytes of one response body, however it is framed.
MAX_BODY = 64 * 1024 * 1024
#: Most interim (1xx) responses before the final one.
MAX_INTERIM = 16
#: An idle pooled connection older than this is closed rather than reused:
#: servers drop idle keep-alive sockets, and a request written into a socket
#: the server is closing is exactly the ambiguous failure to avoid.
IDLE_TTL = 15.0


class HttpError(Exception):
    """Base of transport failures (no usable HTTP response was received)."""


class ConnectFailed(HttpError):
    """The connection could not be made; nothing was sent."""


class RequestUncertain(HttpError):
    """The request was (at least partly) written but no complete response came back."""


class MalformedResponse(RequestUncertain):
    """The server answered with something that is not a valid HTTP/1.1 response."""


class ResponseTooLarge(RequestUncertain):
    """The response exceeded :data:`MAX_HEAD` or :data:`MAX_BODY`."""


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


class _Connection(asyncio.Protocol):
    """One socket; at most one request in flight.

    It is also the llhttp parser's callback object (``on_header``,
    ``on_headers_complete``, ...).  A callback stops the parse by raising an
    :class:`HttpError`, which ``_feed`` takes back out of httptools' wrapper.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[HttpResponse] | None = None
        self.closed = False
        self.idle_since = 0.0
        self._parser = HttpResponseParser(self)
        # State of the response being read, reset by ``send``.
        self._status = 0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._body_len = 0
        self._head_done = False  # the final (non-1xx) head has been read
        self._overhead = 0  # bytes that were not body: heads, chunk framing, trailers
        self._interim = 0
        self._keep_alive = True
        self._until_close = False

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they quack like one.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if self._head_done and self._until_close:
                self._finish()
            else:
                waiter.set_exception(
                    RequestUncertain(f"connection lost before a full response: {exc or 'closed'}")
                )

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            # Bytes nobody asked for: the connection is out of sync; drop it.
            self.close()
            return
        try:
            if self._head_done:
                self._feed_body(data)
            else:
                self._feed_head(data)
        except HttpError as exc:
            self.close()
            if not waiter.done():
                waiter.set_exception(exc)

    def _feed_head(self, data: bytes) -> None:
        room = MAX_HEAD - self._overhead
        if len(data) <= room:
            self._feed(data)
            if not self._head_done:
                self._overhead += len(data)
            return
        # Only what fits is parsed as head, so llhttp never holds more than
        # MAX_HEAD of a half-read header line.
        view = memoryview(data)
        self._feed(view[:room])
        if not self._head_done:
            raise ResponseTooLarge(f"response head larger than {MAX_HEAD} bytes")
        self._feed_body(view[room:])

    def _feed_body(self, data: bytes | memoryview) -> None:
        before = self._body_len
        self._feed(data)
        self._overhead += len(data) - (self._body_len - before)
        if self._overhead > MAX_HEAD + self._body_len:
            raise ResponseTooLarge("chunk framing and trailers outweigh the body")

    def _feed(self, data: bytes | memoryview) -> None:
        try:
            self._parser.feed_data(data)
        except HttpParserCallbackError as exc:
            if isinstance(exc.__context__, HttpError):
                raise exc.__context__ from None
            raise MalformedResponse(f"malformed response: {exc}") from exc.__context__
        except (HttpParserError, HttpParserUpgrade) as exc:
            # llhttp's reason is a fixed text; the response itself is never quoted.
            reason = "unexpected protocol upgrade" if isinstance(exc, HttpParserUpgrade) else exc
            raise MalformedResponse(f"malformed response: {reason}") from None

    # -- llhttp callbacks
    def on_message_begin(self) -> None:
        if self.waiter is None:
            raise MalformedResponse("bytes after the end of the response")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._head_done:
            return  # a trailer: not part of the response pxfast hands back
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1").strip()
        headers = self._headers
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 100:
            raise MalformedResponse(f"status code {status} out of range")
        if status < 200:
            self._interim += 1
            if self._interim > MAX_INTERIM:
                raise MalformedResponse(f"more than {MAX_INTERIM} interim responses")
            self._headers = {}
            return
        self._status = status
        self._head_done = True
        self._keep_alive = self._parser.should_keep_alive()
        headers = self._headers
        length = headers.get("content-length")
        if length is None:
            self._until_close = "transfer-encoding" not in headers
        else:
            try:
                declared = int(length)
            except ValueError:
                raise MalformedResponse("malformed Content-Length") from None
            if declared > MAX_BODY:
                raise ResponseTooLarge(f"Content-Length {declared} exceeds {MAX_BODY} bytes")

    def on_body(self, body: bytes) -> None:
        size = self._body_len + len(body)
        if size > MAX_BODY:
            raise ResponseTooLarge(f"response body larger than {MAX_BODY} bytes")
        self._body_len = size
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._head_done:
            self._finish()

    # -- request/response
    def send(self, request: bytes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[HttpResponse]:
        assert self.transport is not None
        self.waiter = loop.create_future()
        self._status = 0
        self._headers = {}
        self._body = []
        self._body_len = 0
        self._head_done = False
        self._overhead = 0
        self._interim = 0
        self._keep_alive = True
        self._until_close = False
        self.transport.write(request)
        return self.waiter

    def _finish(self) -> None:
        body = b"".join(self._body)  # one piece: that very bytes object, not a copy
        self._body = []
        if not self._keep_alive:
            self.close()
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(HttpResponse(self._status, self._headers, body))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttpClient:
    """Keep-alive HTTP/1.1 to one origin (scheme, host, port).

    ``request`` is safe to call concurrently; each call takes an idle
    connection or opens one, up to ``max_connections``, beyond which calls
    queue for a free connection.
    """

    def __init__(
        self,
        origin: str,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        max_connections: int = 64,
        ssl_context: ssl.SSLContext | None = None,
        user_agent: str = "pxfast",
    ) -> None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"unsupported URL {origin!r}: need http(s)://host[:port]")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = 443 if parts.scheme == "https" else 80
        self._host_header = host if self.port == default_port else f"{host}:{self.port}"
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._ssl = ssl_context or ssl.create_default_context()
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._idle: deque[_Connection] = deque()
        self._open = 0
        self._max = max_connections
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._fixed_headers = (
            f"Host: {self._host_header}\r\nUser-Agent: {user_agent}\r\nAccept: application/json\r\n"
        ).encode("latin-1")
        self._closed = False

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self._host_header}"

    @property
    def open_connections(self) -> int:
        return self._open

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        timeout: float | None = None,
    ) -> HttpResponse:
        """Send one request and return the response (any status).

        Raises :class:`ConnectFailed` if nothing was sent, and
        :class:`RequestUncertain` if the request may have reached the server.
        """
        if self._closed:
            raise ConnectFailed("client is closed")
        loop = asyncio.get_running_loop()
        conn = await self._acquire(loop)
        payload = self._encode(method, path, body, headers)
        try:
            waiter = conn.send(payload, loop)
        except Exception as exc:  # transport refused the write
            self._discard(conn)
            raise RequestUncertain(f"write failed: {exc}") from exc
        try:
            response = await asyncio.wait_for(waiter, timeout or self.timeout)
        except TimeoutError:
            self._discard(conn)
            raise RequestUncertain(
                f"no response within {timeout or self.timeout:g}s for {method} {path}"
            ) from None
        except asyncio.CancelledError:
            self._discard(conn)
            raise
        except HttpError:
            self._discard(conn)
            raise
        self._release(conn)
        return response

    def _encode(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str] | None
    ) -> bytes:
        head = [f"{method} {path} HTTP/1.1\r\n".encode("latin-1"), self._fixed_headers]
        if headers:
            head.append("".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("latin-1"))
        if body is not None:
            head.append(f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1"))
            head.append(body)
        else:
            head.append(b"Content-Length: 0\r\n\r\n" if method == "POST" else b"\r\n")
        return b"".join(head)

    async def _acquire(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and now - conn.idle_since < IDLE_TTL:
                return conn
            self._discard(conn)
        while self._open >= self._max:
            slot: asyncio.Future[None] = loop.create_future()
            self._slot_waiters.append(slot)
            await slot
            if self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
                self._discard(conn)
        self._open += 1
        try:
            return await self._connect(loop)
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    _Connection,
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl else None,
                ),
                self.connect_timeout,
            )
        except TimeoutError:
            raise ConnectFailed(
                f"connect to {self.origin} timed out after {self.connect_timeout:g}s"
            ) from None
        except OSError as exc:
            raise ConnectFailed(f"connect to {self.origin} failed: {exc}") from exc
        return conn

    def _release(self, conn: _Connection) -> None:
        if conn.closed:
            self._discard(conn)
            return
        conn.idle_since = time.monotonic()
        self._idle.append(conn)
        self._wake_one()

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._slot_waiters:
            slot = self._slot_waiters.popleft()
            if not slot.done():
                slot.set_result(None)
                return

    async def close(self) -> None:
        """Close every connection; later requests fail with ConnectFailed."""
        self._closed = True
        while self._idle:
            self._discard(self._idle.pop())
        while self._slot_waiters:
            slot = self._slot_waiters.popleft()
            if not slot.done():
                slot.set_exception(ConnectFailed("client is closed"))

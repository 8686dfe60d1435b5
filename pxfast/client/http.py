"""A small HTTP/1.1 client on asyncio Protocols: one keep-alive pool per Gateway host.

Every Gateway call is a small JSON POST to one host, so a general-purpose
client buys nothing here and costs a lot per request (aiohttp and httpx spend
tens to hundreds of microseconds in Python per call; ``bench/`` measures it).
This one writes the request in one ``transport.write`` and parses the
response straight from ``data_received``: status line, headers, and a body
framed by Content-Length, chunked encoding or connection close.

What it deliberately does not do: follow redirects (a bearer token must never
travel to a host it was not meant for, so a 3xx is returned to the caller as
is), compress, or pipeline.  TLS certificates are verified by default.

Failures are reported by *when* they happened, because that decides whether a
mutation may be resent: :class:`ConnectFailed` means nothing was written,
:class:`RequestUncertain` means the request may have reached the server.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

__all__ = [
    "ConnectFailed",
    "HttpClient",
    "HttpError",
    "HttpResponse",
    "RequestUncertain",
]

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
#: An idle pooled connection older than this is closed rather than reused:
#: servers drop idle keep-alive sockets, and a request written into a socket
#: the server is closing is exactly the ambiguous failure to avoid.
IDLE_TTL = 15.0


class HttpError(Exception):
    """Base of transport failures (no HTTP response was received)."""


class ConnectFailed(HttpError):
    """The connection could not be made; nothing was sent."""


class RequestUncertain(HttpError):
    """The request was (at least partly) written but no complete response came back."""


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)


class _Connection(asyncio.Protocol):
    """One socket; at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[HttpResponse] | None = None
        self.closed = False
        self.idle_since = 0.0
        # Parse state of the response being read.
        self._status = 0
        self._headers: dict[str, str] = {}
        self._length = -1  # -1: not known yet; -2: chunked; -3: until close
        self._head_done = False
        self._keep_alive = True
        self._chunks = bytearray()

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they quack like one.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if self._head_done and self._length == -3:
                self._finish()
            else:
                waiter.set_exception(
                    RequestUncertain(f"connection lost before a full response: {exc or 'closed'}")
                )

    def data_received(self, data: bytes) -> None:
        if self.waiter is None or self.waiter.done():
            # Bytes nobody asked for: the connection is out of sync; drop it.
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            return
        self.buffer += data
        try:
            self._parse()
        except HttpError as exc:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            if not self.waiter.done():
                self.waiter.set_exception(exc)

    # -- request/response
    def send(self, request: bytes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[HttpResponse]:
        assert self.transport is not None
        self.waiter = loop.create_future()
        self._status = 0
        self._headers = {}
        self._length = -1
        self._head_done = False
        self._keep_alive = True
        self._chunks = bytearray()
        self.transport.write(request)
        return self.waiter

    def _parse(self) -> None:
        buf = self.buffer
        if not self._head_done:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    raise RequestUncertain("response head too large")
                return
            self._read_head(bytes(buf[:end]))
            del buf[: end + 4]
            if 100 <= self._status < 200:  # 100 Continue and friends: read on
                self._head_done = False
                self._parse()
                return
        if self._length >= 0:
            if len(buf) >= self._length:
                self._finish()
        elif self._length == -2:
            self._parse_chunked()
        # -3: wait for connection_lost

    def _read_head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise RequestUncertain(f"malformed status line: {lines[0][:80]!r}")
        try:
            self._status = int(parts[1])
        except ValueError:
            raise RequestUncertain(f"malformed status line: {lines[0][:80]!r}") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise RequestUncertain(f"malformed header line: {line[:80]!r}")
            key = name.strip().lower().decode("latin-1")
            text = value.strip().decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        self._headers = headers
        self._head_done = True
        connection = headers.get("connection", "").lower()
        self._keep_alive = parts[0] == b"HTTP/1.1" and "close" not in connection
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._length = -2
        elif "content-length" in headers:
            try:
                self._length = int(headers["content-length"])
            except ValueError:
                raise RequestUncertain("malformed Content-Length") from None
            if self._length < 0 or self._length > MAX_BODY:
                raise RequestUncertain(f"bad Content-Length {self._length}")
        elif self._status in (204, 304):
            self._length = 0
        else:
            self._length = -3
            self._keep_alive = False

    def _parse_chunked(self) -> None:
        """Consume complete chunks from the buffer into ``_chunks``."""
        buf = self.buffer
        while True:
            line_end = buf.find(b"\r\n")
            if line_end < 0:
                return
            size_text = bytes(buf[:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise RequestUncertain(f"malformed chunk size {size_text[:20]!r}") from None
            if size == 0:
                # The last chunk, optional trailers, then an empty line.
                end = buf.find(b"\r\n\r\n", line_end)
                if end < 0:
                    return
                del buf[: end + 4]
                self._finish(bytes(self._chunks))
                return
            start = line_end + 2
            if len(buf) < start + size + 2:
                return
            self._chunks += buf[start : start + size]
            if len(self._chunks) > MAX_BODY:
                raise RequestUncertain("chunked body too large")
            del buf[: start + size + 2]

    def _finish(self, body: bytes | None = None) -> None:
        if body is None:
            body = bytes(self.buffer[: self._length] if self._length >= 0 else self.buffer)
        self.buffer.clear()
        if not self._keep_alive:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
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

"""Server side of RFC 6455: the upgrade handshake and the framing, nothing more.

The hubs need a WebSocket server that real clients (websockets, aiohttp,
picows, browsers) accept: a correct ``Sec-WebSocket-Accept``, masked client
frames unmasked, fragmented messages reassembled, pings answered with pongs
(the transport-level liveness pysignalr checks every 10 s) and the closing
handshake.  Compression is declined by leaving ``Sec-WebSocket-Extensions``
out of the answer, which every client accepts.

Pongs are coalesced as RFC 6455 section 5.5.3 allows: the pings of one
received chunk get one pong, for the latest, and none is written while the
transport is paused for a client that does not read; so a ping flood costs
at most one pong per read and cannot grow the send buffer past the
transport's high-water mark.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct
from typing import Protocol

from pxfast.sim.http import Request

__all__ = [
    "MAX_MESSAGE",
    "WebSocketConnection",
    "WebSocketHandler",
    "accept_headers",
    "is_upgrade",
]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#: Largest inbound message; a client message above it closes the socket with 1009.
MAX_MESSAGE = 1024 * 1024

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class WebSocketHandler(Protocol):
    """The session a connection feeds with whole messages."""

    def on_message(self, data: bytes) -> None: ...

    def on_closed(self) -> None: ...

    def on_writable(self, writable: bool) -> None: ...


def is_upgrade(request: Request) -> bool:
    return (
        request.method == "GET"
        and request.headers.get("upgrade", "").lower() == "websocket"
        and "upgrade" in request.headers.get("connection", "").lower()
    )


def accept_headers(request: Request) -> list[tuple[str, str]] | None:
    """The 101 headers for a valid upgrade request, or None if it is not one."""
    key = request.headers.get("sec-websocket-key")
    if not key or request.headers.get("sec-websocket-version") != "13":
        return None
    accept = base64.b64encode(hashlib.sha1(key.strip().encode() + _GUID).digest()).decode()
    return [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", accept),
    ]


def frame_header(opcode: int, length: int) -> bytes:
    first = 0x80 | opcode
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


def _unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    if n == 0:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class WebSocketConnection:
    """One upgraded socket: frames in, whole messages to the handler; frames out."""

    __slots__ = (
        "_buffer",
        "_closing",
        "_fragments",
        "_fragments_size",
        "_handler",
        "_pong",
        "_transport",
        "writable",
    )

    def __init__(self, transport: asyncio.Transport, handler: WebSocketHandler) -> None:
        self._transport: asyncio.Transport | None = transport
        self._handler = handler
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._fragments_size = 0
        self._closing = False
        #: The payload of the latest ping not answered yet.
        self._pong: bytes | None = None
        self.writable = True

    @property
    def open(self) -> bool:
        return self._transport is not None and not self._closing

    @property
    def buffered(self) -> int:
        """Bytes written but not yet taken by the socket (0 once closed)."""
        return 0 if self._transport is None else self._transport.get_write_buffer_size()

    # -- outbound ---------------------------------------------------------

    def send_text(self, payload: bytes) -> None:
        if self._transport is None or self._closing:
            return
        if self._pong is not None:
            self._send_pong()  # answers go out in the order their pings came in
        self._transport.writelines((frame_header(OP_TEXT, len(payload)), payload))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake and end the TCP connection once it is flushed."""
        if self._transport is None or self._closing:
            return
        self._closing = True
        self._pong = None
        payload = struct.pack("!H", code) + reason.encode()[:120]
        self._transport.write(frame_header(OP_CLOSE, len(payload)) + payload)
        self._transport.close()

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake."""
        if self._transport is not None:
            self._transport.abort()

    # -- transport callbacks (forwarded by the HTTP protocol) --------------

    def pause_writing(self) -> None:
        self.writable = False
        self._handler.on_writable(False)

    def resume_writing(self) -> None:
        self.writable = True
        if self._pong is not None:
            self._send_pong()
        self._handler.on_writable(True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._handler.on_closed()

    def data_received(self, data: bytes) -> None:
        self._read_frames(data)
        if self._pong is not None and self.writable:
            self._send_pong()

    def _read_frames(self, data: bytes) -> None:
        self._buffer += data
        buf = self._buffer
        while self._transport is not None:
            if len(buf) < 2:
                return
            b0, b1 = buf[0], buf[1]
            fin = b0 & 0x80
            opcode = b0 & 0x0F
            length = b1 & 0x7F
            pos = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length = (buf[2] << 8) | buf[3]
                pos = 4
            elif length == 127:
                if len(buf) < 10:
                    return
                (length,) = struct.unpack_from("!Q", buf, 2)
                pos = 10
            if not b1 & 0x80:
                self._protocol_error(1002, "client frames must be masked")
                return
            if length > MAX_MESSAGE:
                self._protocol_error(1009, "message too big")
                return
            if len(buf) < pos + 4 + length:
                return
            mask = bytes(buf[pos : pos + 4])
            payload = _unmask(bytes(buf[pos + 4 : pos + 4 + length]), mask)
            del buf[: pos + 4 + length]
            self._on_frame(fin != 0, opcode, payload)

    def _on_frame(self, fin: bool, opcode: int, payload: bytes) -> None:
        if opcode >= 0x8:  # control frames may arrive between fragments
            if not fin or len(payload) > 125:
                self._protocol_error(1002, "control frames are short and whole")
            elif opcode == OP_PING:
                if not self._closing:
                    self._pong = payload
            elif opcode == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1000
                self.close(code if code not in (1005, 1006, 1015) else 1000)
            elif opcode != OP_PONG:
                self._protocol_error(1002, "unknown control opcode")
            return
        if opcode == OP_CONT:
            if not self._fragments:
                self._protocol_error(1002, "continuation without a start")
                return
        elif self._fragments:
            self._protocol_error(1002, "new message inside a fragmented one")
            return
        elif opcode not in (OP_TEXT, OP_BINARY):
            self._protocol_error(1002, "unknown opcode")
            return
        if fin and not self._fragments:
            self._handler.on_message(payload)
            return
        self._fragments.append(payload)
        self._fragments_size += len(payload)
        if self._fragments_size > MAX_MESSAGE:
            self._protocol_error(1009, "message too big")
            return
        if fin:
            message = b"".join(self._fragments)
            self._fragments.clear()
            self._fragments_size = 0
            self._handler.on_message(message)

    def _send_pong(self) -> None:
        payload, self._pong = self._pong, None
        if payload is not None and self._transport is not None and not self._closing:
            self._transport.write(frame_header(OP_PONG, len(payload)) + payload)

    def _protocol_error(self, code: int, reason: str) -> None:
        self._buffer.clear()
        self.close(code, reason)

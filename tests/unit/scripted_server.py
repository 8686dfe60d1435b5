"""A raw-socket HTTP server on 127.0.0.1 that runs a script per connection.

The client tests need answers no real server gives on purpose (split,
broken, endless or echoing), so each test writes the bytes itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

#: What a flooding server sends at most before it stops and waits.
FLOOD = 16 * 1024 * 1024


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request's head and Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = await reader.readexactly(length) if length else b""
    return head, body


class Server:
    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self.sent = 0
        self.cut_off = asyncio.Event()  # a read or write failed: the client hung up
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.script(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.cut_off.set()
        finally:
            writer.close()

    async def flood(self, writer: asyncio.StreamWriter, block: bytes, hold: float) -> None:
        """Write ``block`` until the client hangs up or FLOOD bytes went; then wait ``hold``."""
        while self.sent < FLOOD:
            writer.write(block)
            self.sent += len(block)
            await writer.drain()
        await asyncio.sleep(hold)

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"


Serve = Callable[[Script], Awaitable[Server]]

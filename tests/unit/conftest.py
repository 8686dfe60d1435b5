"""Fixtures of the unit tests: the scripted HTTP server of ``scripted_server``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from scripted_server import Script, Serve, Server


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``await serve(script)``: a started server, closed after the test."""
    servers: list[Server] = []

    async def start(script: Script) -> Server:
        srv = Server(script)
        srv.server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        assert srv.server is not None
        srv.server.close()
        await srv.server.wait_closed()

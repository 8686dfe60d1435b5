"""The HTTP/1.1 transport against a scripted raw-socket server on 127.0.0.1.

These cover framing and failure phases the simulator never produces on its
own (chunked bodies split anywhere, close-delimited bodies, a server that
hangs or resets), which decide whether a mutation may be resent.
"""

from __future__ import annotations

import asyncio

import pytest
from scripted_server import Serve, read_request

from pxfast.client.http import ConnectFailed, HttpClient, MalformedResponse, RequestUncertain

pytestmark = pytest.mark.both_loops

def _ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def test_keep_alive_reuses_one_connection(
    serve: Serve,
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, body = await read_request(reader)
            srv.requests.append((head, body))
            writer.write(_ok(b'{"n":%d}' % len(srv.requests)))
            await writer.drain()

    srv = await serve(script)
    client = HttpClient(srv.url)
    for i in range(1, 4):
        resp = await client.request(
            "POST", "/api/x", b'{"a":1}', {"Content-Type": "application/json"}
        )
        assert resp.status == 200 and resp.body == b'{"n":%d}' % i
    assert srv.connections == 1
    head, body = srv.requests[0]
    assert head.startswith(b"POST /api/x HTTP/1.1\r\n") and body == b'{"a":1}'
    assert b"Host: 127.0.0.1:" in head and b"Content-Length: 7" in head
    await client.close()


async def test_chunked_body_split_across_writes(
    serve: Serve,
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        raw = (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: y\r\n\r\n"
        )
        for i in range(len(raw)):
            writer.write(raw[i : i + 1])
            await writer.drain()
        await read_request(reader)
        writer.write(_ok(b"again"))
        await writer.drain()

    srv = await serve(script)
    client = HttpClient(srv.url)
    first = await client.request("POST", "/x", b"{}")
    assert first.body == b"hello, world"
    second = await client.request("POST", "/x", b"{}")
    assert second.body == b"again" and srv.connections == 1
    await client.close()


async def test_close_delimited_body_and_connection_close(
    serve: Serve,
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nuntil close")
        await writer.drain()
        writer.close()

    srv = await serve(script)
    client = HttpClient(srv.url)
    assert (await client.request("GET", "/ping")).body == b"until close"
    assert (await client.request("GET", "/ping")).body == b"until close"
    assert srv.connections == 2 and client.open_connections == 0
    await client.close()


async def test_reset_after_request_is_uncertain(
    serve: Serve,
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.transport.abort()

    srv = await serve(script)
    client = HttpClient(srv.url)
    with pytest.raises(RequestUncertain, match="connection lost"):
        await client.request("POST", "/Order/place", b"{}")
    assert client.open_connections == 0
    await client.close()


async def test_timeout_is_uncertain(serve: Serve) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(10)

    srv = await serve(script)
    client = HttpClient(srv.url, timeout=0.05)
    with pytest.raises(RequestUncertain, match="no response within"):
        await client.request("POST", "/Order/place", b"{}")
    await client.close()


async def test_refused_connection_is_connect_failed() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    client = HttpClient(f"http://127.0.0.1:{port}")
    with pytest.raises(ConnectFailed):
        await client.request("POST", "/Order/place", b"{}")
    await client.close()


async def test_redirect_is_returned_not_followed(
    serve: Serve,
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://evil.example/\r\n"
            b"Content-Length: 0\r\n\r\n"
        )
        await writer.drain()
        await asyncio.sleep(1)

    srv = await serve(script)
    client = HttpClient(srv.url)
    resp = await client.request("POST", "/api/Order/search", b"{}", {"Authorization": "Bearer t"})
    assert resp.status == 307 and resp.header("location") == "http://evil.example/"
    assert srv.connections == 1
    await client.close()


async def test_concurrent_requests_respect_max_connections(
    serve: Serve,
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(0.005)
            writer.write(_ok(b"ok"))
            await writer.drain()

    srv = await serve(script)
    client = HttpClient(srv.url, max_connections=4)
    results = await asyncio.gather(*(client.request("POST", "/x", b"{}") for _ in range(40)))
    assert all(r.body == b"ok" for r in results)
    assert srv.connections <= 4
    await client.close()


async def test_malformed_status_line(serve: Serve) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"garbage\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    srv = await serve(script)
    client = HttpClient(srv.url)
    with pytest.raises(MalformedResponse, match="malformed response"):
        await client.request("POST", "/x", b"{}")
    await client.close()


def test_rejects_non_http_urls() -> None:
    with pytest.raises(ValueError, match="unsupported URL"):
        HttpClient("ftp://example.com")

"""The HTTP/1.1 client against a hostile Gateway: a raw server on 127.0.0.1 sending broken answers.

Every case must end in a typed error (an ``HttpError``; ``ResponseTooLarge``
or ``MalformedResponse`` once the request was written) within a bounded time
and bounded memory, leave the event loop free, drop the connection, and never
put the API key or a token in an exception or a log record.  Each of the
first cases froze, exhausted memory, overflowed the stack or leaked a secret
in the hand-written parser this client replaced:

* a chunk size of ``-6`` spun ``data_received`` forever (no timeout can fire
  in a frozen loop);
* a body delimited by connection close was buffered without limit;
* a chunk declaring 0x7FFFFFFF bytes was buffered before the size check;
* a flood of ``100 Continue`` recursed to a RecursionError in
  ``data_received`` and left the request to its timeout;
* a 4xx body echoing the request put the API key or the bearer token into
  the ``ProjectXClientError`` message.

Limits are lowered by monkeypatching the module constants so the floods stay
small; the server keeps sending past the limit (up to ``FLOOD`` bytes), so a
client that does not stop reading would buffer all of it and then wait.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import tracemalloc
from collections.abc import Awaitable, Callable

import pytest
from exposure import described
from scripted_server import FLOOD, Serve, read_request

from pxfast.client import http
from pxfast.client.gateway import ACCOUNT_SEARCH, GatewaySession
from pxfast.client.http import (
    HttpClient,
    HttpError,
    MalformedResponse,
    RequestUncertain,
    ResponseTooLarge,
)
from pxfast.config import Credentials
from pxfast.exceptions import ProjectXAuthenticationError, ProjectXDataError, ProjectXError

pytestmark = pytest.mark.both_loops

#: No hostile case may take longer than this (the clients' own timeout is longer still,
#: so a client that only gives up at its timeout fails here).
BOUND = 20.0
CLIENT_TIMEOUT = 120.0
#: MAX_BODY and MAX_HEAD in these tests.
LIMIT = 256 * 1024

API_KEY = "pxk-Hostile-Echo-Key-5e1d7a93c0b2"
USERNAME = "alice"


def _jwt(exp: int = 4_102_444_800) -> str:
    def part(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return ".".join(
        [
            part({"alg": "HS256", "typ": "JWT"}),
            part({"sub": USERNAME, "exp": exp}),
            "U2lnbmF0dXJlLW9mLXRoZS10ZXN0LXRva2Vu",
        ]
    )


TOKEN = _jwt()


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "MAX_BODY", LIMIT)
    monkeypatch.setattr(http, "MAX_HEAD", LIMIT)


async def _fails(client: HttpClient, expected: type[HttpError]) -> HttpError:
    """The request's error, which must come within BOUND and be ``expected``."""
    with pytest.raises(expected) as caught:
        await asyncio.wait_for(client.request("POST", "/api/Order/search", b"{}"), BOUND)
    assert client.open_connections == 0  # the broken connection was dropped
    return caught.value


async def _peak_while(request: Awaitable[object]) -> int:
    """Peak bytes allocated by Python while ``request`` runs."""
    tracemalloc.start()
    try:
        await request
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


# ---------------------------------------------------------------------- framing


@pytest.mark.parametrize(
    "chunk", [b"-6\r\n", b"-6\r\nabcdef\r\n0\r\n\r\n"], ids=["alone", "then-more"]
)
async def test_negative_chunk_size_is_malformed_not_a_frozen_loop(
    serve: Serve, chunk: bytes
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk)
        await writer.drain()
        await asyncio.sleep(2 * BOUND)

    srv = await serve(script)
    client = HttpClient(srv.url, timeout=CLIENT_TIMEOUT)
    error = await _fails(client, MalformedResponse)
    assert "chunk size" in str(error)
    await client.close()


async def test_body_until_close_stops_at_max_body(serve: Serve, small_limits: None) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
        await srv.flood(writer, b"x" * 65536, 2 * BOUND)

    srv = await serve(script)
    client = HttpClient(srv.url, timeout=CLIENT_TIMEOUT)
    peak = await _peak_while(_fails(client, ResponseTooLarge))
    await asyncio.wait_for(srv.cut_off.wait(), BOUND)  # the client hung up mid-flood
    assert srv.sent < FLOOD
    assert peak < FLOOD // 4
    await client.close()


async def test_huge_chunk_is_refused_as_it_arrives(serve: Serve, small_limits: None) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7FFFFFFF\r\n")
        await srv.flood(writer, b"x" * 65536, 2 * BOUND)

    srv = await serve(script)
    client = HttpClient(srv.url, timeout=CLIENT_TIMEOUT)
    peak = await _peak_while(_fails(client, ResponseTooLarge))
    await asyncio.wait_for(srv.cut_off.wait(), BOUND)
    assert srv.sent < FLOOD
    assert peak < FLOOD // 4
    await client.close()


async def test_declared_content_length_over_the_limit_is_refused_before_the_body(
    serve: Serve, small_limits: None
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (LIMIT + 1))
        await writer.drain()
        await asyncio.sleep(2 * BOUND)  # not one body byte: the head alone decides

    srv = await serve(script)
    client = HttpClient(srv.url, timeout=CLIENT_TIMEOUT)
    error = await _fails(client, ResponseTooLarge)
    assert "Content-Length" in str(error)
    await client.close()


async def test_endless_header_line_stops_at_max_head(serve: Serve, small_limits: None) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Flood: ")
        await srv.flood(writer, b"a" * 65536, 2 * BOUND)  # one header value, never ended

    srv = await serve(script)
    client = HttpClient(srv.url, timeout=CLIENT_TIMEOUT)
    peak = await _peak_while(_fails(client, ResponseTooLarge))
    await asyncio.wait_for(srv.cut_off.wait(), BOUND)
    assert peak < FLOOD // 4
    await client.close()


@pytest.mark.parametrize(
    "flood",
    [b"X-Trailer: " + b"t" * 65536, b"1\r\nx\r\n" * 10000],
    ids=["endless-trailer", "one-byte-chunks"],
)
async def test_chunk_framing_cannot_outweigh_the_body(
    serve: Serve, small_limits: None, flood: bytes
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        if flood.startswith(b"X-Trailer"):
            writer.write(b"0\r\n")
        await srv.flood(writer, flood, 2 * BOUND)

    srv = await serve(script)
    client = HttpClient(srv.url, timeout=CLIENT_TIMEOUT)
    peak = await _peak_while(_fails(client, ResponseTooLarge))
    await asyncio.wait_for(srv.cut_off.wait(), BOUND)
    assert peak < FLOOD // 4
    await client.close()


async def test_a_trickling_answer_is_bounded_by_the_request_timeout(serve: Serve) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while True:  # a valid chunk now and then, never the last one
            writer.write(b"1\r\nx\r\n")
            await writer.drain()
            await asyncio.sleep(0.01)

    srv = await serve(script)
    client = HttpClient(srv.url, timeout=0.3)
    error = await _fails(client, RequestUncertain)
    assert "no response within" in str(error)
    await client.close()


# ---------------------------------------------------------------------- interim responses


async def test_interim_flood_is_a_typed_error_not_a_recursion(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" * 5000)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        await asyncio.sleep(2 * BOUND)

    srv = await serve(script)
    client = HttpClient(srv.url, timeout=CLIENT_TIMEOUT)
    caplog.set_level(logging.ERROR, logger="asyncio")
    error = await _fails(client, MalformedResponse)
    assert "interim" in str(error)
    assert not [r for r in caplog.records if r.name == "asyncio"]  # nothing escaped to the loop
    await client.close()


@pytest.mark.parametrize("count", [1, http.MAX_INTERIM])
async def test_interim_responses_up_to_the_cap_are_skipped(serve: Serve, count: int) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n" * count)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Final: 1\r\n\r\n{}")
            await writer.drain()

    srv = await serve(script)
    client = HttpClient(srv.url, timeout=CLIENT_TIMEOUT)
    for _ in range(2):  # and the connection is reused after them
        response = await asyncio.wait_for(client.request("POST", "/x", b"{}"), BOUND)
        assert response.status == 200 and response.body == b"{}"
        assert response.headers == {"content-length": "2", "x-final": "1"}
    assert srv.connections == 1
    await client.close()


# ---------------------------------------------------------------------- after an error


async def test_the_connection_is_replaced_after_a_malformed_answer(serve: Serve) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        if srv.connections == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        await asyncio.sleep(2 * BOUND)

    srv = await serve(script)
    client = HttpClient(srv.url, timeout=CLIENT_TIMEOUT)
    await _fails(client, MalformedResponse)
    response = await asyncio.wait_for(client.request("POST", "/x", b"{}"), BOUND)
    assert response.body == b"{}" and srv.connections == 2
    await client.close()


async def test_bytes_after_the_response_drop_the_connection(serve: Serve) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\n")
            await writer.drain()

    srv = await serve(script)
    client = HttpClient(srv.url, timeout=CLIENT_TIMEOUT)
    for _ in range(2):
        response = await asyncio.wait_for(client.request("POST", "/x", b"{}"), BOUND)
        assert response.body == b"{}"
    assert srv.connections == 2 and client.open_connections == 0
    await client.close()


# ---------------------------------------------------------------------- secrets echoed back


def _answer(status: int, body: bytes) -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        status,
        len(body),
        body,
    )


def _leaked(texts: list[str]) -> list[str]:
    """The secrets any 12 characters of which appear in ``texts`` (a cut secret leaks too)."""
    secrets = [API_KEY, *TOKEN.split(".")[1:]]  # the JWT's header segment is public
    return [
        secret[:12]
        for secret in secrets
        if any(secret[i : i + 12] in text for text in texts for i in range(len(secret) - 11))
    ]


ECHOES: dict[str, Callable[[bytes, bytes], bytes]] = {
    # The request body as it came.
    "body": lambda head, body: body,
    # httpbin's /anything: the body, and the headers sorted by name.
    "httpbin": lambda head, body: json.dumps(
        {
            "data": body.decode(),
            "headers": dict(
                sorted(
                    (name.decode(), value.strip().decode())
                    for name, _, value in (
                        line.partition(b":") for line in head.split(b"\r\n")[1:] if line
                    )
                )
            ),
        }
    ).encode(),
    # ASP.NET-style validation errors quote the offending values.
    "validation": lambda head, body: json.dumps(
        {
            "errors": {
                key: [f"The value '{value}' is not valid."]
                for key, value in json.loads(body or b"{}").items()
            }
            | {
                "Authorization": [
                    line.split(b":", 1)[1].strip().decode()
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"authorization:")
                ]
            },
        }
    ).encode(),
}


@pytest.mark.parametrize("echo", sorted(ECHOES))
async def test_an_echoed_request_never_puts_a_secret_in_an_error_or_log(
    serve: Serve, caplog: pytest.LogCaptureFixture, echo: str
) -> None:
    """A refused login echoing the key, then an authorized call echoing the bearer token."""
    requests: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, body = await read_request(reader)
            if b"/Auth/loginKey" in head and requests:
                answer = {"token": TOKEN, "success": True, "errorCode": 0, "errorMessage": None}
                writer.write(_answer(200, json.dumps(answer).encode()))
            else:
                writer.write(_answer(400, ECHOES[echo](head, body)))
            requests.append(head)
            await writer.drain()

    srv = await serve(script)
    caplog.set_level(1)
    session = GatewaySession(
        srv.url + "/api", Credentials(USERNAME, API_KEY), timeout=BOUND, retry_backoff=0.0
    )
    errors: list[BaseException] = []
    with pytest.raises(ProjectXError) as refused:
        await asyncio.wait_for(session.login(), BOUND)
    errors.append(refused.value)
    await asyncio.wait_for(session.login(), BOUND)
    with pytest.raises(ProjectXError) as rejected:
        await asyncio.wait_for(session.call(ACCOUNT_SEARCH, {"onlyActiveAccounts": True}), BOUND)
    errors.append(rejected.value)
    await session.close()
    assert all("HTTP 400" in str(error) for error in errors)  # still says what happened
    seen = [described(error) for error in errors] + [caplog.text, repr(session)]
    assert _leaked(seen) == []


async def test_a_login_refusal_echoing_the_key_in_its_message_hides_it(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        message = f"Invalid API key '{API_KEY}' for user {USERNAME}"
        answer = {"token": None, "success": False, "errorCode": 3, "errorMessage": message}
        writer.write(_answer(200, json.dumps(answer).encode()))
        await writer.drain()

    srv = await serve(script)
    caplog.set_level(1)
    session = GatewaySession(srv.url + "/api", Credentials(USERNAME, API_KEY), timeout=BOUND)
    with pytest.raises(ProjectXAuthenticationError) as refused:
        await asyncio.wait_for(session.login(), BOUND)
    await session.close()
    assert "Invalid API key" in str(refused.value) and refused.value.error_code == 3
    assert _leaked([described(refused.value), caplog.text]) == []


async def test_json_nested_past_the_decoders_depth_is_a_data_error(serve: Serve) -> None:
    """msgspec raises RecursionError skipping a deeply nested unknown field: a data error."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            if b"/Auth/loginKey" in head:
                answer = {"token": TOKEN, "success": True, "errorCode": 0, "errorMessage": None}
                writer.write(_answer(200, json.dumps(answer).encode()))
            else:
                writer.write(_answer(200, b'{"extra":' + b"[" * 100_000))
            await writer.drain()

    srv = await serve(script)
    session = GatewaySession(srv.url + "/api", Credentials(USERNAME, API_KEY), timeout=BOUND)
    await asyncio.wait_for(session.login(), BOUND)
    with pytest.raises(ProjectXDataError, match="malformed response"):
        await asyncio.wait_for(session.call(ACCOUNT_SEARCH, {"onlyActiveAccounts": True}), BOUND)
    await session.close()

"""Secrets and transport security: keys and tokens stay where they belong.

* The API key and every JWT the Gateway issued never appear in a log record
  (every logger, every level down to 1, tracebacks included), a repr, an
  exception's message or attributes, the health report, ``pxfast status`` or
  the demo's output.  The session exercised here goes through every path
  that handles them: a refused login, login, refresh, 401 and re-login, hub
  upgrades with the token in the URL, negotiate with it in a header, a
  refused upgrade, GatewayLogout, uncertain mutations.
* TLS certificates are verified by default: a self-signed Gateway is refused
  before a byte of HTTP (so before the key or a token) is written.
* The token goes only to the configured hosts: a redirect from the API or a
  hub to another host is refused, and the other host hears nothing.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from exposure import described
from fault_bot import SYMBOL, MakeSimulator, OpenSuite, fast_hub_options

from pxfast.client import ProjectX
from pxfast.client.gateway import GatewaySession
from pxfast.config import Credentials
from pxfast.demo import DEMO_KEY, simulated
from pxfast.exceptions import ProjectXAuthenticationError, ProjectXError
from pxfast.models import ProjectXConfig
from pxfast.realtime.hub import HubConnection, HubOptions
from pxfast.sim.auth import Auth, User
from pxfast.status import format_health

API_KEY = "pxk-Secret-Api-Key-7f3a9c2e51b4"
WRONG_KEY = "pxk-Wrong-Api-Key-0d8e6b4a2c19"


class Tokens:
    """Every token the simulator issues (the class is patched: demos make their own)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.issued: list[str] = []
        issue = Auth.issue

        def recording(auth: Auth, user: User) -> str:
            token = issue(auth, user)
            self.issued.append(token)
            return token

        monkeypatch.setattr(Auth, "issue", recording)

    def secrets(self) -> list[str]:
        """Whole tokens and their payload and signature segments (the header is public)."""
        parts = [part for token in self.issued for part in token.split(".")[1:]]
        return [*self.issued, *parts]


class LogCapture(logging.Handler):
    """Every record at every level, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(level=1)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> Tokens:
    return Tokens(monkeypatch)


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    root = logging.getLogger()
    handler = LogCapture()
    level = root.level
    root.addHandler(handler)
    root.setLevel(1)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"condition not met within {timeout}s")


def leaks(texts: list[str], secrets: list[str]) -> list[tuple[str, str]]:
    return [(secret[:12], text[:300]) for text in texts for secret in secrets if secret in text]


async def test_keys_and_tokens_never_leak(
    make_simulator: MakeSimulator, suite_on: OpenSuite, tokens: Tokens, logs: LogCapture
) -> None:
    gw = await make_simulator(open_login=False)
    gw.add_user("alice", API_KEY)
    seen: list[str] = []
    config = ProjectXConfig(
        api_url=gw.api_url, user_hub_url=gw.user_hub_url, market_hub_url=gw.market_hub_url
    )
    with pytest.raises(ProjectXAuthenticationError) as refused:
        async with ProjectX("alice", WRONG_KEY, config) as client:
            await client.authenticate()
    seen.append(described(refused.value))
    user_options = fast_hub_options()
    user_options.negotiate = True  # the token travels in a header to /negotiate too
    suite = await suite_on(gw, user="alice", api_key=API_KEY, user_hub_options=user_options)
    orders = suite.orders
    await orders.place_limit_order(SYMBOL, 0, 1, 20000)
    gw.faults.fail_after_accept(["Order/place", "Order/cancel"], status=502, count=2)
    errors: list[BaseException] = []
    for call in (
        lambda: orders.place_limit_order(SYMBOL, 0, 1, 19990),
        lambda: orders.cancel_order(9001),
    ):
        try:
            await call()
        except ProjectXError as exc:
            errors.append(exc)
    gw.expire_tokens()  # the next REST call gets a 401 and logs in again
    await orders.search_open_orders()
    realtime = suite.realtime
    gw.expire_tokens()
    gw.close_hub_connections()  # upgrades refused with 401, then a fresh login
    await until(lambda: realtime.market_hub.stats.reconnects == 1 and realtime.market_hub.connected)
    gw.send_hub_record('{"type":1,"target":"GatewayLogout","arguments":[]}', hub="market")
    await until(lambda: realtime.market_hub.stats.reconnects == 2 and realtime.market_hub.connected)
    await suite.client.session.refresh()  # Auth/validate: a new token for the old one
    await until(lambda: realtime.user_hub.connected and realtime.user.reconciled.is_set())
    assert suite.client.session.stats.refreshes >= 1 and suite.client.session.stats.logins >= 3
    assert suite.realtime.user_hub.stats.reconnects >= 1
    assert suite.realtime.market_hub.stats.logouts == 1
    seen += [described(exc) for exc in errors]
    seen += [
        repr(obj)
        for obj in (
            suite,
            suite.client,
            suite.client.session,
            suite.client.config,
            suite.client._credentials,
            suite.realtime,
            suite.realtime.user_hub,
            suite.realtime.market_hub,
            suite.orders,
        )
    ]
    health = suite.get_health()
    seen += [repr(health), format_health(health), repr(await suite.get_stats())]
    secrets = [API_KEY, WRONG_KEY, *tokens.secrets()]
    assert len(tokens.issued) >= 5
    assert errors and any("access_token=***" in text for text in logs.texts)  # seen, redacted
    assert leaks(seen, secrets) == []
    assert leaks(logs.texts, secrets) == []


async def test_demo_output_and_logs_hold_no_secret(tokens: Tokens, logs: LogCapture) -> None:
    printed: list[str] = []
    summary = await simulated(seed=7, out=printed.append)
    assert summary["client_matches_gateway"] and tokens.issued
    secrets = [DEMO_KEY, *tokens.secrets()]
    assert leaks([*printed, repr(summary)], secrets) == []
    assert leaks(logs.texts, secrets) == []


def test_credentials_and_session_reprs_hide_the_key() -> None:
    credentials = Credentials("alice", API_KEY, "ACC")
    session = GatewaySession("https://api.topstepx.com/api", credentials)
    for text in (repr(credentials), str(credentials), repr(session), repr(ProjectX("a", API_KEY))):
        assert API_KEY not in text


# ---------------------------------------------------------------------- TLS


def test_tls_is_verified_by_default_for_the_real_hosts() -> None:
    config = ProjectXConfig()
    for url in (config.api_url, config.user_hub_url, config.market_hub_url):
        assert url.startswith("https://")
    session = GatewaySession(config.api_url, Credentials("alice", API_KEY))
    context = session.http._ssl
    assert context is not None
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


class Listener(asyncio.Protocol):
    """Counts connections and application bytes (after TLS, if any)."""

    def __init__(self, box: dict[str, Any], answer: bytes | None) -> None:
        self.box = box
        self.answer = answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.box["connections"] += 1
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.box["received"] += data
        if self.answer is not None and b"\r\n\r\n" in self.box["received"]:
            assert isinstance(self.transport, asyncio.Transport)
            self.transport.write(self.answer)
            self.transport.close()


@pytest.fixture
async def listen() -> AsyncIterator[Any]:
    servers: list[asyncio.Server] = []

    async def start(
        answer: bytes | None = None, ssl_context: ssl.SSLContext | None = None
    ) -> tuple[int, dict[str, Any]]:
        box: dict[str, Any] = {"connections": 0, "received": b""}
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: Listener(box, answer), "127.0.0.1", 0, ssl=ssl_context
        )
        servers.append(server)
        return server.sockets[0].getsockname()[1], box

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_a_gateway_with_an_untrusted_certificate_is_refused(
    listen: Any, self_signed: ssl.SSLContext
) -> None:
    port, box = await listen(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", self_signed)
    base = f"https://localhost:{port}"
    config = ProjectXConfig(
        api_url=f"{base}/api", user_hub_url=f"{base}/hubs/user", market_hub_url=f"{base}/hubs/m"
    )
    async with ProjectX("alice", API_KEY, config) as client:
        with pytest.raises(ProjectXError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.authenticate()

    async def token(force: bool) -> str:
        return "a-token-that-must-not-leave"

    hub = HubConnection("user", config.user_hub_url, token, lambda items: None)
    with pytest.raises(ProjectXError, match="CERTIFICATE_VERIFY_FAILED"):
        await hub.start(timeout=1.0)
    await hub.stop()
    assert box["received"] == b""  # no HTTP was written, so neither the key nor a token


# ---------------------------------------------------------------------- redirects


async def test_the_api_never_follows_a_redirect_to_another_host(listen: Any) -> None:
    elsewhere, heard = await listen(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    moved = (
        f"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://localhost:{elsewhere}/api/Auth/"
        "loginKey\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    port, box = await listen(moved)
    config = ProjectXConfig(api_url=f"http://127.0.0.1:{port}/api")
    async with ProjectX("alice", API_KEY, config) as client:
        with pytest.raises(ProjectXError, match="redirect refused"):
            await client.authenticate()
        client.session._token = "a-token-that-must-not-leave"
        client.session._token_expiry = float("inf")
        with pytest.raises(ProjectXError, match="redirect refused"):
            await client.list_accounts()
    assert box["connections"] >= 1 and heard["connections"] == 0


@pytest.mark.parametrize("negotiate", [False, True], ids=["upgrade", "negotiate"])
async def test_a_hub_never_follows_a_redirect_to_another_host(listen: Any, negotiate: bool) -> None:
    elsewhere, heard = await listen(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    moved = (
        f"HTTP/1.1 302 Found\r\nLocation: http://localhost:{elsewhere}/hubs/user\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    port, box = await listen(moved)

    async def token(force: bool) -> str:
        return "a-token-that-must-not-leave"

    options = HubOptions(negotiate=negotiate, handshake_timeout=2.0, backoff_max=0.2)
    hub = HubConnection(
        "user", f"http://127.0.0.1:{port}/hubs/user", token, lambda i: None, options=options
    )
    with pytest.raises(ProjectXError):
        await hub.start(timeout=1.0)
    await hub.stop()
    assert box["connections"] >= 1 and heard["connections"] == 0


async def test_a_negotiate_reply_pointing_elsewhere_is_not_followed(listen: Any) -> None:
    """An Azure SignalR-style negotiate answer (``url`` + ``accessToken``) names another
    host; pxfast connects only to the hub it was configured with."""
    elsewhere, heard = await listen(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    body = msgspec.json.encode(
        {"url": f"http://localhost:{elsewhere}/hubs/user", "accessToken": "other"}
    )
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    port, box = await listen(answer)

    async def token(force: bool) -> str:
        return "a-token-that-must-not-leave"

    options = HubOptions(negotiate=True, backoff_max=0.2)
    hub = HubConnection(
        "user", f"http://127.0.0.1:{port}/hubs/user", token, lambda i: None, options=options
    )
    with pytest.raises(ProjectXError):
        await hub.start(timeout=1.0)
    await hub.stop()
    assert box["connections"] >= 1 and heard["connections"] == 0

"""The Gateway session: login, JWT refresh, rate budgets, retries and error mapping.

Every REST call goes through :meth:`GatewaySession.call`, which applies the
rules that keep a bot's orders safe:

* A **read** (searches, contracts, bars) waits for the local rate budget, is
  retried with jittered backoff on connection errors, 5xx and 429, and on a
  401 the session logs in again once and retries.
* A **mutation** (place, modify, cancel, close) is never resent on an
  ambiguous failure.  If the local budget is spent it fails before anything
  is written (``OrderRateLimitedError`` with ``sent=False``); if the
  connection could not be made it fails with ``ProjectXConnectionError``
  (nothing was sent); if the request may have reached the Gateway — timeout,
  reset, 5xx — it raises ``OrderSubmissionUncertainError`` carrying the body,
  and the caller resolves the ambiguity by lookup.  A 401 or 429 is a
  definite refusal: after a 401 the session logs in and resends once.

The token is refreshed before it expires (it is a JWT; its ``exp`` claim is
read, never trusted blindly: an undecodable token is treated as valid for an
hour and refreshed early).  Credentials and tokens never reach a log line,
an exception message or a repr.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import msgspec

from pxfast._redact import redact
from pxfast.client import schema
from pxfast.client.http import ConnectFailed, HttpClient, RequestUncertain
from pxfast.client.ratelimit import RateBudget
from pxfast.config import Credentials
from pxfast.exceptions import (
    OrderRateLimitedError,
    OrderSubmissionUncertainError,
    ProjectXAuthenticationError,
    ProjectXClientError,
    ProjectXConnectionError,
    ProjectXDataError,
    ProjectXError,
    ProjectXRateLimitError,
    ProjectXServerError,
)

__all__ = ["Endpoint", "GatewaySession", "SessionStats", "jwt_expiry"]

logger = logging.getLogger(__name__)

#: Refresh the token when it has less than this left (project-x-py uses 5 minutes too).
REFRESH_MARGIN = 300.0
#: Assumed lifetime of a token whose ``exp`` cannot be read.
UNKNOWN_LIFETIME = 3600.0
#: Longest a read waits on a 429 before trying again.
MAX_RETRY_AFTER = 60.0
#: Characters of a 4xx body quoted in the error.
_SNIPPET = 200
#: Bytes of a 4xx body scrubbed of secrets before the snippet is cut from it: far
#: more than _SNIPPET, so a secret the window cuts in two lies beyond the snippet.
_SCRUB_WINDOW = 64 * 1024


@dataclass(frozen=True)
class Endpoint:
    """One REST endpoint: its path under the API base, response type and class."""

    path: str
    response: type[Any]  # a Struct from ``schema``, or ``object`` for raw JSON
    mutating: bool = False
    bucket: str = "general"
    authenticated: bool = True


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim (epoch seconds) of a JWT, or None if it cannot be read."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    exp = payload.get("exp") if isinstance(payload, dict) else None
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


@dataclass
class SessionStats:
    """Plain counters, read synchronously (no task, no lock)."""

    requests: int = 0
    retries: int = 0
    logins: int = 0
    refreshes: int = 0
    uncertain: int = 0
    http_429: int = 0
    http_5xx: int = 0
    decode_errors: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)


class GatewaySession:
    """One logged-in session against one Gateway (REST API base URL + credentials)."""

    def __init__(
        self,
        api_url: str,
        credentials: Credentials,
        *,
        timeout: float = 30.0,
        retry_attempts: int = 3,
        retry_backoff: float = 0.2,
        max_backoff: float = 2.0,
        budget: RateBudget | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 64,
    ) -> None:
        parts = urlsplit(api_url)
        if not parts.scheme or not parts.hostname:
            raise ValueError(f"invalid API URL {api_url!r}")
        self.api_url = api_url.rstrip("/")
        self._prefix = parts.path.rstrip("/")
        self._http = HttpClient(
            f"{parts.scheme}://{parts.netloc}",
            timeout=timeout,
            max_connections=max_connections,
            ssl_context=ssl_context,
            user_agent="pxfast",
        )
        self._credentials = credentials
        self.retry_attempts = max(1, retry_attempts)
        self.retry_backoff = retry_backoff
        self.max_backoff = max_backoff
        self.budget = budget or RateBudget()
        self.stats = SessionStats()
        self._token: str | None = None
        self._token_expiry = 0.0
        self._refresh_margin = REFRESH_MARGIN
        self._refreshing: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return (
            f"GatewaySession(api_url={self.api_url!r}, "
            f"username={self._credentials.username!r}, authenticated={self.authenticated})"
        )

    @property
    def authenticated(self) -> bool:
        return self._token is not None

    @property
    def token_expiry(self) -> float:
        return self._token_expiry

    @property
    def http(self) -> HttpClient:
        return self._http

    # ------------------------------------------------------------------ tokens

    async def token(self) -> str:
        """A token with at least the refresh margin left (renewed or logged in if needed)."""
        if self._token is None or self._token_expiry - time.time() < self._refresh_margin:
            await self.refresh()
        assert self._token is not None
        return self._token

    def current_token(self) -> str:
        if self._token is None:
            raise ProjectXAuthenticationError("Not authenticated. Call authenticate() first.")
        return self._token

    async def refresh(self, *, force_login: bool = False) -> None:
        """Renew the token (Auth/validate, else a fresh login); one renewal at a time."""
        if self._refreshing is not None:
            await asyncio.shield(self._refreshing)
            return
        self._refreshing = asyncio.get_running_loop().create_future()
        try:
            if self._token is not None and not force_login:
                try:
                    await self._validate()
                except ProjectXError as exc:
                    logger.info("token refresh by Auth/validate failed (%s); logging in", exc)
                    await self.login()
            else:
                await self.login()
            self._refreshing.set_result(None)
        except BaseException as exc:
            self._refreshing.set_exception(exc)
            self._refreshing.exception()  # retrieved here; waiters get it via shield
            raise
        finally:
            self._refreshing = None

    def _adopt(self, token: str) -> None:
        self._token = token
        now = time.time()
        expiry = jwt_expiry(token)
        if expiry is None:
            logger.warning("the Gateway token has no readable exp claim; assuming one hour")
            expiry = now + UNKNOWN_LIFETIME
        self._token_expiry = expiry
        # Five minutes for a day-long token; a quarter of the lifetime for short ones.
        self._refresh_margin = min(REFRESH_MARGIN, 0.25 * max(0.0, expiry - now))

    async def login(self) -> None:
        creds = self._credentials
        body = {"userName": creds.username, "apiKey": creds.api_key}
        result = cast(schema.LoginResponse, await self._call_read(LOGIN, body))
        self.stats.logins += 1
        if not result.success or not result.token:
            message = result.errorMessage
            detail = f": {_scrub(message, creds.api_key)}" if message else ""
            raise ProjectXAuthenticationError(
                f"Authentication failed for user {creds.username!r} "
                f"(errorCode {result.errorCode}){detail}",
                error_code=result.errorCode,
            )
        self._adopt(result.token)

    async def _validate(self) -> None:
        try:
            response = cast(schema.ValidateResponse, await self._send(VALIDATE, None, self._token))
        except (_Unauthorized, _RateLimited, ConnectFailed, RequestUncertain, ProjectXError) as exc:
            raise ProjectXAuthenticationError(f"session validation failed: {exc!r}") from None
        token = response.newToken or response.token
        if not response.success or not token:
            raise ProjectXAuthenticationError(
                f"session validation failed (errorCode {response.errorCode})",
                error_code=response.errorCode,
            )
        self.stats.refreshes += 1
        self._adopt(token)

    async def logout(self) -> bool:
        if self._token is None:
            return True
        try:
            result = cast(schema.Envelope, await self.call(LOGOUT))
        finally:
            self._token = None
            self._token_expiry = 0.0
        return result.success

    # ------------------------------------------------------------------ calls

    async def call(self, endpoint: Endpoint, body: Any = None) -> Any:
        """Send ``body`` to ``endpoint``; the decoded response Struct (success or not)."""
        self.stats.requests += 1
        self.stats.by_endpoint[endpoint.path] = self.stats.by_endpoint.get(endpoint.path, 0) + 1
        if endpoint.mutating:
            self.budget.acquire_mutation(endpoint.path)
            return await self._call_mutation(endpoint, body)
        return await self._call_read(endpoint, body)

    async def _call_read(self, endpoint: Endpoint, body: Any) -> Any:
        reauthed = False
        last: Exception | None = None
        for attempt in range(self.retry_attempts):
            if attempt:
                self.stats.retries += 1
            await self.budget.acquire_read(endpoint.bucket)
            token = await self.token() if endpoint.authenticated else None
            try:
                return await self._send(endpoint, body, token)
            except _Unauthorized:
                if reauthed or not endpoint.authenticated:
                    raise ProjectXAuthenticationError(
                        f"{endpoint.path}: the Gateway refused the session (HTTP 401)"
                    ) from None
                reauthed = True
                await self.refresh(force_login=True)
                continue
            except _RateLimited as exc:
                last = ProjectXRateLimitError(f"{endpoint.path}: rate limited by the Gateway")
                await asyncio.sleep(min(exc.retry_after or self._backoff(attempt), MAX_RETRY_AFTER))
            except (ConnectFailed, RequestUncertain) as exc:
                last = ProjectXConnectionError(f"{endpoint.path}: {exc}")
                await asyncio.sleep(self._backoff(attempt))
            except ProjectXServerError as exc:
                last = exc
                await asyncio.sleep(self._backoff(attempt))
        assert last is not None
        raise last

    async def _call_mutation(self, endpoint: Endpoint, body: Any) -> Any:
        token = await self.token()
        for resend in (False, True):
            try:
                return await self._send(endpoint, body, token)
            except ConnectFailed as exc:
                raise ProjectXConnectionError(f"{endpoint.path} not sent: {exc}") from None
            except RequestUncertain as exc:
                raise self._uncertain(endpoint, body, str(exc), "transport") from None
            except ProjectXServerError as exc:
                raise self._uncertain(endpoint, body, str(exc), "server_error") from None
            except ProjectXDataError as exc:
                # The Gateway answered, unreadably: it may well have executed the request.
                raise self._uncertain(endpoint, body, str(exc), "transport") from None
            except _RateLimited as exc:
                raise OrderRateLimitedError(
                    f"{endpoint.path}: rate limited by the Gateway (HTTP 429); not executed",
                    payload=_plain(body),
                    sent=True,
                    retry_after=exc.retry_after,
                ) from None
            except _Unauthorized:
                # A 401 is a refusal before any processing: log in and resend once.
                if resend:
                    raise ProjectXAuthenticationError(
                        f"{endpoint.path}: the Gateway refused the session (HTTP 401)"
                    ) from None
                await self.refresh(force_login=True)
                token = await self.token()
        raise AssertionError("unreachable")

    def _uncertain(
        self, endpoint: Endpoint, body: Any, reason: str, kind: str
    ) -> OrderSubmissionUncertainError:
        """``kind`` is "transport" (timeout, reset) or "server_error" (5xx)."""
        self.stats.uncertain += 1
        error = OrderSubmissionUncertainError(
            f"{endpoint.path} outcome unknown ({reason}); reconcile before retrying",
            payload=_plain(body),
        )
        error.kind = kind  # type: ignore[attr-defined]
        return error

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.max_backoff, self.retry_backoff * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)

    async def _send(self, endpoint: Endpoint, body: Any, token: str | None) -> Any:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        payload = schema.encode(body) if body is not None else None
        started = time.perf_counter()
        response = await self._http.request("POST", self._prefix + endpoint.path, payload, headers)
        status = response.status
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s -> %d in %.2f ms", endpoint.path, status, (time.perf_counter() - started) * 1e3
            )
        if 200 <= status < 300:
            try:
                return schema.decoder(endpoint.response).decode(response.body or b"{}")
            except (msgspec.DecodeError, ValueError, RecursionError) as exc:
                # ValueError: bad UTF-8; RecursionError: JSON nested past msgspec's depth
                self.stats.decode_errors += 1
                raise ProjectXDataError(
                    f"{endpoint.path}: malformed response from the Gateway: {exc}"
                ) from None
        if status == 401:
            raise _Unauthorized()
        if status == 429:
            self.stats.http_429 += 1
            raise _RateLimited(_retry_after(response.header("retry-after")))
        if status >= 500:
            self.stats.http_5xx += 1
            raise ProjectXServerError(f"{endpoint.path}: HTTP {status} from the Gateway", status)
        if 300 <= status < 400:
            raise ProjectXClientError(
                f"{endpoint.path}: HTTP {status} redirect refused (credentials are never "
                "sent to another location)",
                status,
            )
        # Proxies and validation layers echo the request: the key, or the bearer token.
        text = response.body[:_SCRUB_WINDOW].decode("utf-8", "replace")
        snippet = _scrub(text, self._credentials.api_key, token)[:_SNIPPET]
        if status == 404:
            raise ProjectXDataError(f"{endpoint.path}: resource not found (HTTP 404)", status)
        raise ProjectXClientError(f"{endpoint.path}: HTTP {status}: {snippet}", status)

    async def ping(self) -> str:
        """GET Status/ping (no auth): the Gateway's answer, normally ``pong``."""
        try:
            response = await self._http.request("GET", self._prefix + "/Status/ping")
        except (ConnectFailed, RequestUncertain) as exc:
            raise ProjectXConnectionError(f"/Status/ping: {exc}") from None
        text = response.body.decode("utf-8", "replace").strip()
        if text.startswith('"'):
            try:
                decoded = json.loads(text)
            except ValueError:
                return text
            return decoded if isinstance(decoded, str) else text
        return text

    async def close(self) -> None:
        await self._http.close()


class _Unauthorized(Exception):
    pass


class _RateLimited(Exception):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _scrub(text: str, *secrets: str | None) -> str:
    """``text`` from the Gateway without ``secrets`` or anything shaped like a key or token."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return redact(text)


def _plain(body: Any) -> dict[str, Any] | None:
    if body is None:
        return None
    plain = msgspec.to_builtins(body)
    return plain if isinstance(plain, dict) else {"body": plain}


LOGIN = Endpoint("/Auth/loginKey", schema.LoginResponse, authenticated=False)
VALIDATE = Endpoint("/Auth/validate", schema.ValidateResponse, authenticated=False)
LOGOUT = Endpoint("/Auth/logout", schema.Envelope)
ACCOUNT_SEARCH = Endpoint("/Account/search", schema.AccountsResponse)
CONTRACT_SEARCH = Endpoint("/Contract/search", schema.ContractsResponse)
CONTRACT_BY_ID = Endpoint("/Contract/searchById", schema.ContractResponse)
CONTRACT_AVAILABLE = Endpoint("/Contract/available", schema.ContractsResponse)
BARS = Endpoint("/History/retrieveBars", schema.BarsResponse, bucket="bars")
ORDER_PLACE = Endpoint("/Order/place", schema.PlaceOrderResponse, mutating=True)
ORDER_MODIFY = Endpoint("/Order/modify", schema.Envelope, mutating=True)
ORDER_CANCEL = Endpoint("/Order/cancel", schema.Envelope, mutating=True)
ORDER_SEARCH = Endpoint("/Order/search", schema.OrdersResponse)
ORDER_SEARCH_OPEN = Endpoint("/Order/searchOpen", schema.OrdersResponse)
ORDER_BY_ID = Endpoint("/Order/searchById", schema.OrderResponse)
ORDER_QUERY = Endpoint("/Order/v2/query", schema.OrdersResponse)
POSITION_SEARCH_OPEN = Endpoint("/Position/searchOpen", schema.PositionsResponse)
POSITION_CLOSE = Endpoint("/Position/closeContract", schema.Envelope, mutating=True)
POSITION_PARTIAL_CLOSE = Endpoint("/Position/partialCloseContract", schema.Envelope, mutating=True)
TRADE_SEARCH = Endpoint("/Trade/search", schema.TradesResponse)

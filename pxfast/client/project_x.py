"""``ProjectX``: the typed REST client, with project-x-py's method names and signatures.

Bots written for project-x-py call ``authenticate``, ``get_instrument``,
``get_bars``, ``search_open_positions``, ``search_trades`` ... and read
``account_info``; those names, parameters and return types are kept.  Under
them every call goes through one :class:`~pxfast.client.gateway.GatewaySession`
(keep-alive pool, typed msgspec decoding, rate budgets, safe retries).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, cast, overload
from zoneinfo import ZoneInfo

from pxfast.bars import BarFrame, bar_times_us
from pxfast.client import gateway as ep
from pxfast.client import schema
from pxfast.client.gateway import GatewaySession
from pxfast.client.ratelimit import shared_budget
from pxfast.config import ConfigManager, Credentials, credentials_from_env
from pxfast.exceptions import (
    ProjectXAuthenticationError,
    ProjectXDataError,
    ProjectXError,
    ProjectXInstrumentError,
)
from pxfast.messages import Bar, OrderUpdate, PositionUpdate, TradeUpdate
from pxfast.models import Account, Instrument, Position, ProjectXConfig, Trade

if TYPE_CHECKING:
    import polars as pl

__all__ = ["ProjectX", "contract_expiry_key"]

#: The Gateway returns at most this many bars per request.
HISTORY_BAR_LIMIT = 20_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONTHS = "FGHJKMNQUVXZ"
_NAME_RE = re.compile(r"^(.+?)([FGHJKMNQUVXZ])(\d{1,2})$")
#: Seconds per unit when the window sizes an unlimited request, as project-x-py sizes
#: it: seconds, minutes and hours by their width, every coarser unit as minutes.  The
#: Gateway trims the count to the window, and a day count by width would drop the
#: oldest day of a window that starts on a midnight and ends after one.
_LIMIT_UNIT_SECONDS = {1: 1, 2: 60, 3: 3600}


def contract_expiry_key(contract_id: str) -> tuple[int, int]:
    """(year, month) of a ``CON.F.US.<root>.<M><YY>`` id, for nearest-expiry ordering."""
    code = contract_id.rsplit(".", 1)[-1]
    if len(code) >= 2 and code[0] in _MONTHS and code[1:].isdigit():
        year = int(code[1:])
        return (2000 + year if year < 100 else year, _MONTHS.index(code[0]) + 1)
    return (9999, 99)


def _instrument(contract: schema.Contract) -> Instrument:
    return Instrument(
        contract.id,
        contract.name,
        contract.description,
        contract.tickSize,
        contract.tickValue,
        contract.activeContract,
        contract.symbolId,
    )


def _root_of(contract: schema.Contract) -> str:
    """The product root a user types: 'MNQ' for MNQZ5 / CON.F.US.MNQ.Z25."""
    match = _NAME_RE.match(contract.name)
    return match.group(1).upper() if match else contract.name.upper()


class ProjectX:
    """The Gateway REST client (``async with ProjectX.from_env() as client: ...``)."""

    HISTORY_BAR_LIMIT = HISTORY_BAR_LIMIT

    def __init__(
        self,
        username: str,
        api_key: str,
        config: ProjectXConfig | None = None,
        account_name: str | None = None,
    ) -> None:
        self.config = config or ProjectXConfig()
        self.username = username
        self.account_name = account_name.upper() if account_name else None
        self.base_url = self.config.api_url
        self.account_info: Account | None = None
        self._credentials = Credentials(username, api_key, self.account_name)
        self.session = GatewaySession(
            self.config.api_url,
            self._credentials,
            timeout=float(self.config.timeout_seconds),
            retry_attempts=max(1, int(self.config.retry_attempts)),
            max_backoff=float(self.config.retry_delay_seconds),
            # The Gateway's buckets are per user: all this user's clients count together.
            # A client made from a bare token has no user name to share by.
            budget=shared_budget(self.config.api_url, username) if username.strip() else None,
        )
        self._instruments: dict[tuple[str, bool], Instrument] = {}
        self._timezone = ZoneInfo(self.config.timezone)

    def __repr__(self) -> str:
        account = self.account_info.name if self.account_info else None
        return (
            f"ProjectX(api_url={self.base_url!r}, username={self.username!r}, account={account!r})"
        )

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    @contextlib.asynccontextmanager
    async def from_env(
        cls, config: ProjectXConfig | None = None, account_name: str | None = None
    ) -> AsyncIterator[ProjectX]:
        """A client from ``PROJECT_X_*`` credentials (and ``PROJECTX_*`` endpoints)."""
        creds = credentials_from_env(account_name)
        client = cls(
            creds.username,
            creds.api_key,
            config or ConfigManager().load_config(),
            creds.account_name,
        )
        async with client:
            yield client

    @classmethod
    @contextlib.asynccontextmanager
    async def from_config_file(
        cls, config_file: str, account_name: str | None = None
    ) -> AsyncIterator[ProjectX]:
        config = ConfigManager(config_file).load_config()
        creds = credentials_from_env(account_name)
        client = cls(creds.username, creds.api_key, config, creds.account_name)
        async with client:
            yield client

    async def __aenter__(self) -> ProjectX:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.session.close()

    # ------------------------------------------------------------------ auth

    @property
    def session_token(self) -> str | None:
        return self.session._token

    def get_session_token(self) -> str:
        return self.session.current_token()

    def get_account_info(self) -> Account:
        if self.account_info is None:
            raise ProjectXAuthenticationError("No account selected. Call authenticate() first.")
        return self.account_info

    async def authenticate(self) -> None:
        """Log in, then select the account named ``account_name`` (else the first one)."""
        await self.session.login()
        accounts = await self.list_accounts()
        if not accounts:
            raise ProjectXAuthenticationError("No active accounts for this user")
        if self.account_name:
            chosen = [a for a in accounts if a.name.upper() == self.account_name]
            if not chosen:
                names = ", ".join(a.name for a in accounts)
                raise ValueError(
                    f"Account '{self.account_name}' not found. Available accounts: {names}"
                )
            self.account_info = chosen[0]
        else:
            self.account_info = accounts[0]

    async def _ensure_authenticated(self) -> None:
        if self.account_info is None:
            await self.authenticate()

    async def validate_session(self) -> bool:
        try:
            await self.session.refresh()
        except ProjectXError:
            return False
        return True

    async def logout(self) -> bool:
        try:
            return await self.session.logout()
        except ProjectXError:
            return False

    async def ping(self) -> str:
        return await self.session.ping()

    def _account_id(self, account_id: int | None) -> int:
        if account_id is not None:
            return account_id
        if self.account_info is None:
            raise ProjectXError("No account information available; call authenticate() first")
        return self.account_info.id

    async def list_accounts(self) -> list[Account]:
        response = cast(
            schema.AccountsResponse,
            await self.session.call(ep.ACCOUNT_SEARCH, {"onlyActiveAccounts": True}),
        )
        if not response.success:
            raise ProjectXError(
                f"Account search failed (errorCode {response.errorCode})", response.errorCode
            )
        return [Account.from_update(a) for a in response.accounts]

    # ------------------------------------------------------------------ contracts

    async def get_instrument(self, symbol: str, live: bool = False) -> Instrument:
        """The instrument for a symbol ('MNQ') or a full contract id, cached.

        A symbol resolves to an exact ``name`` match, else to the contracts of
        that product root, preferring the active contract and then the nearest
        expiry (project-x-py sorts names alphabetically, which puts H26 before
        Z25 across a year end).
        """
        key = (symbol.upper(), live)
        cached = self._instruments.get(key)
        if cached is not None:
            return cached
        if symbol.upper().startswith("CON."):
            instrument = await self._instrument_by_id(symbol)
        else:
            instrument = await self._instrument_by_symbol(symbol, live)
        self._instruments[key] = instrument
        self._instruments[(instrument.id.upper(), live)] = instrument
        return instrument

    async def _instrument_by_id(self, contract_id: str) -> Instrument:
        response = cast(
            schema.ContractResponse,
            await self.session.call(ep.CONTRACT_BY_ID, {"contractId": contract_id}),
        )
        contract = response.contract or (response.contracts[0] if response.contracts else None)
        if not response.success or contract is None:
            raise ProjectXInstrumentError(f"Contract {contract_id} not found", response.errorCode)
        return _instrument(contract)

    async def _search(self, text: str, live: bool) -> list[schema.Contract]:
        response = cast(
            schema.ContractsResponse,
            await self.session.call(ep.CONTRACT_SEARCH, {"searchText": text, "live": live}),
        )
        if not response.success:
            raise ProjectXInstrumentError(
                f"Contract search for {text!r} failed (errorCode {response.errorCode})",
                response.errorCode,
            )
        return response.contracts

    async def _instrument_by_symbol(self, symbol: str, live: bool) -> Instrument:
        contracts = await self._search(symbol, live)
        if not contracts and live:
            contracts = await self._search(symbol, False)
        wanted = symbol.upper()
        exact = [c for c in contracts if c.name.upper() == wanted]
        if exact:
            return _instrument(exact[0])
        same_root = [c for c in contracts if _root_of(c) == wanted]
        if same_root:
            same_root.sort(key=lambda c: (not c.activeContract, contract_expiry_key(c.id)))
            return _instrument(same_root[0])
        if contracts:
            return _instrument(contracts[0])
        raise ProjectXInstrumentError(f"Instrument not found: {symbol}")

    async def search_instruments(self, query: str, live: bool = False) -> list[Instrument]:
        return [_instrument(c) for c in await self._search(query, live)]

    async def list_available_contracts(self, live: bool = False) -> list[Instrument]:
        response = cast(
            schema.ContractsResponse, await self.session.call(ep.CONTRACT_AVAILABLE, {"live": live})
        )
        return [_instrument(c) for c in response.contracts] if response.success else []

    async def resolve_contract_id(self, contract_id: str) -> str:
        """The full contract id for a symbol or an id (ids pass through unchanged)."""
        if contract_id.upper().startswith("CON."):
            return contract_id
        return (await self.get_instrument(contract_id)).id

    # ------------------------------------------------------------------ bars

    @overload
    async def get_bars(
        self,
        symbol: str,
        days: int = 8,
        interval: int = 5,
        unit: int = 2,
        limit: int | None = None,
        partial: bool = True,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        live: bool = False,
        *,
        as_numpy: Literal[False] = False,
    ) -> pl.DataFrame: ...

    @overload
    async def get_bars(
        self,
        symbol: str,
        days: int = 8,
        interval: int = 5,
        unit: int = 2,
        limit: int | None = None,
        partial: bool = True,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        live: bool = False,
        *,
        as_numpy: Literal[True],
    ) -> BarFrame: ...

    async def get_bars(
        self,
        symbol: str,
        days: int = 8,
        interval: int = 5,
        unit: int = 2,
        limit: int | None = None,
        partial: bool = True,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        live: bool = False,
        *,
        as_numpy: bool = False,
    ) -> pl.DataFrame | BarFrame:
        """Historical bars, oldest first, paging past the Gateway's 20 000-bar cap.

        A polars DataFrame in project-x-py's schema, time stamps in the
        configured timezone (empty, with that schema, when the window holds
        no bars); ``as_numpy=True`` gives the same bars as a ``BarFrame`` of
        numpy columns and never imports polars.  Naive datetimes are read in
        the configured timezone, as project-x-py does.
        """
        tz = self._timezone
        end = _aware(end_time, tz) if end_time else datetime.now(tz)
        start = _aware(start_time, tz) if start_time else end - timedelta(days=days)
        if start >= end:
            raise ValueError(f"start_time {start} is not before end_time {end}")
        instrument = await self.get_instrument(symbol, live)
        span = _LIMIT_UNIT_SECONDS.get(unit, 60) * max(1, interval)
        wanted = limit if limit is not None else int((end - start).total_seconds() // span)
        wanted = max(1, wanted)
        collected: list[Bar] = []
        page_end = end
        while wanted > 0:
            page = min(wanted, HISTORY_BAR_LIMIT)
            bars = await self._retrieve_bars(
                instrument.id, start, page_end, unit, interval, page, partial, live
            )
            collected.extend(bars)
            wanted -= len(bars)
            if len(bars) < page or not bars:
                break
            oldest_us = int(bar_times_us([bar.t for bar in bars]).min())
            page_end = _EPOCH + timedelta(microseconds=oldest_us - 1)
            if page_end <= start:
                break
        frame = BarFrame.from_bars(collected, tz.key)
        return frame if as_numpy else frame.to_polars()

    async def _retrieve_bars(
        self,
        contract_id: str,
        start: datetime,
        end: datetime,
        unit: int,
        interval: int,
        limit: int,
        partial: bool,
        live: bool,
    ) -> list[Bar]:
        body = {
            "contractId": contract_id,
            "live": live,
            "startTime": start.astimezone(UTC).isoformat(),
            "endTime": end.astimezone(UTC).isoformat(),
            "unit": unit,
            "unitNumber": interval,
            "limit": limit,
            "includePartialBar": partial,
        }
        response = cast(schema.BarsResponse, await self.session.call(ep.BARS, body))
        if not response.success:
            raise ProjectXDataError(
                f"History/retrieveBars failed for {contract_id} "
                f"(errorCode {response.errorCode}): {response.errorMessage or 'no message'}",
                response.errorCode,
            )
        return response.bars

    # ------------------------------------------------------------------ positions, trades

    async def search_open_positions(self, account_id: int | None = None) -> list[Position]:
        return [Position.from_update(p) for p in await self.search_position_updates(account_id)]

    async def search_position_updates(self, account_id: int | None = None) -> list[PositionUpdate]:
        """Position/searchOpen as the Gateway's payload Structs."""
        await self._ensure_authenticated()
        response = cast(
            schema.PositionsResponse,
            await self.session.call(
                ep.POSITION_SEARCH_OPEN, {"accountId": self._account_id(account_id)}
            ),
        )
        if not response.success:
            raise ProjectXError(
                response.errorMessage or f"Position search failed (errorCode {response.errorCode})",
                response.errorCode,
            )
        return response.positions

    async def get_positions(self) -> list[Position]:
        return await self.search_open_positions()

    async def search_trades(
        self,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        contract_id: str | None = None,
        account_id: int | None = None,
        limit: int = 100,
    ) -> list[Trade]:
        trades = await self.search_trade_updates(start_date, end_date, contract_id, account_id)
        return [Trade.from_update(t) for t in trades[:limit]]

    async def search_trade_updates(
        self,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        contract_id: str | None = None,
        account_id: int | None = None,
    ) -> list[TradeUpdate]:
        """Trade/search (default: the last 30 days) as the Gateway's payload Structs."""
        await self._ensure_authenticated()
        end = end_date or datetime.now(UTC)
        start = start_date or end - timedelta(days=30)
        body: dict[str, Any] = {
            "accountId": self._account_id(account_id),
            "startTimestamp": start.isoformat(),
            "endTimestamp": end.isoformat(),
        }
        if contract_id:
            body["contractId"] = await self.resolve_contract_id(contract_id)
        response = cast(schema.TradesResponse, await self.session.call(ep.TRADE_SEARCH, body))
        if not response.success:
            raise ProjectXError(
                response.errorMessage or f"Trade search failed (errorCode {response.errorCode})",
                response.errorCode,
            )
        return response.trades

    # ------------------------------------------------------------------ order queries (raw)

    async def search_order_updates(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        account_id: int | None = None,
    ) -> list[OrderUpdate]:
        """Order/search: every order created in the window (default: the last 30 days)."""
        end = end or datetime.now(UTC)
        start = start or end - timedelta(days=30)
        body = {
            "accountId": self._account_id(account_id),
            "startTimestamp": start.isoformat(),
            "endTimestamp": end.isoformat(),
        }
        response = cast(schema.OrdersResponse, await self.session.call(ep.ORDER_SEARCH, body))
        return response.orders if response.success else []

    async def search_open_order_updates(self, account_id: int | None = None) -> list[OrderUpdate]:
        response = cast(
            schema.OrdersResponse,
            await self.session.call(
                ep.ORDER_SEARCH_OPEN, {"accountId": self._account_id(account_id)}
            ),
        )
        return response.orders if response.success else []

    async def get_order_update(
        self, order_id: int, account_id: int | None = None
    ) -> OrderUpdate | None:
        response = cast(
            schema.OrderResponse,
            await self.session.call(
                ep.ORDER_BY_ID, {"accountId": self._account_id(account_id), "orderId": order_id}
            ),
        )
        return response.order if response.success else None

    async def query_order_updates(
        self,
        statuses: list[int] | None = None,
        contract_id: str | None = None,
        page_size: int = 50,
        page_offset: int = 0,
        account_id: int | None = None,
    ) -> list[OrderUpdate]:
        """Order/v2/query: the only REST view that includes Suspended bracket children."""
        filt: dict[str, Any] = {"accountId": self._account_id(account_id)}
        if statuses:
            filt["statuses"] = statuses
        if contract_id:
            filt["contractId"] = contract_id
        body = {
            "filter": filt,
            "pageSize": page_size,
            "pageOffset": page_offset,
            "includeTotalCount": False,
        }
        try:
            response = cast(schema.OrdersResponse, await self.session.call(ep.ORDER_QUERY, body))
        except ProjectXDataError:
            return []  # a Gateway without v2/query
        return response.orders if response.success else []

    async def _make_request(
        self,
        method: str,
        endpoint: str,
        data: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """project-x-py's escape hatch: a raw call returning the decoded JSON."""
        known = {e.path.lower(): e for e in vars(ep).values() if isinstance(e, ep.Endpoint)}
        path = "/" + endpoint.lstrip("/")
        target = known.get(path.lower()) or ep.Endpoint(path, schema.Envelope)
        raw = ep.Endpoint(target.path, object, target.mutating, target.bucket)
        return await self.session.call(raw, data)


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    return value.replace(tzinfo=tz) if value.tzinfo is None else value

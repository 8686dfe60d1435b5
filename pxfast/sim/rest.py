"""The Gateway's REST endpoints: envelopes, error codes and HTTP statuses as in §2-§5.

Every request goes through the same gate, in this order: route (404), method
(405), injected fault, token (401; ``Bearer None`` included), body decoding
(400 with an RFC 7807 body, as ASP.NET answers a body it cannot bind, JSON
nested deeper than ASP.NET's 32 levels included), the credentials of a
login, rate budget (429 with ``Retry-After``; see ``ratelimit`` for whom a
login is charged to), then the endpoint.  Business
failures are 200 with ``success: false`` and the endpoint's own
``errorCode``.  An account that does not belong to the token's user is
"not found": a user can neither read nor change another user's data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from pxfast.messages import OrderUpdate
from pxfast.models import parse_timestamp
from pxfast.sim.auth import Auth, TokenState, User
from pxfast.sim.config import SimConfig
from pxfast.sim.engine import Engine
from pxfast.sim.faults import Faults
from pxfast.sim.http import Request, Response
from pxfast.sim.instruments import Catalog, Contract
from pxfast.sim.jsonlimit import REST_MAX_DEPTH, depth_error
from pxfast.sim.market import Market
from pxfast.sim.orders import Account, Bracket, Order, Outcome, PlaceRequest
from pxfast.sim.ratelimit import RateLimiter
from pxfast.types import AggregateBarUnit

__all__ = ["Rest"]

MAX_BARS = 20_000
_encode = msgspec.json.Encoder().encode


class BadRequest(Exception):
    """The body cannot be bound to the endpoint's request model."""


#: A C# ``int``: ASP.NET refuses a body whose value does not fit (400), so no
#: order size beyond it ever reaches the engine.
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]


# -- request bodies ------------------------------------------------------------------


class _LoginKey(msgspec.Struct):
    userName: str
    apiKey: str

    @property
    def secret(self) -> str:
        return self.apiKey


class _LoginApp(msgspec.Struct):
    userName: str
    password: str
    deviceId: str | None = None
    appId: str | None = None
    verifyKey: str | None = None

    @property
    def secret(self) -> str:
        return self.password


class _AccountSearch(msgspec.Struct):
    onlyActiveAccounts: bool = False


class _ContractSearch(msgspec.Struct):
    searchText: str = ""
    live: bool = False


class _ContractById(msgspec.Struct):
    contractId: str


class _Available(msgspec.Struct):
    live: bool = False


class _Bars(msgspec.Struct):
    contractId: str
    startTime: str
    endTime: str
    unit: int
    unitNumber: int
    limit: int
    live: bool = False
    includePartialBar: bool = False


class _Bracket(msgspec.Struct):
    ticks: int
    type: int


class _Place(msgspec.Struct):
    accountId: int
    contractId: str
    type: int
    side: int
    size: Int32
    limitPrice: float | None = None
    stopPrice: float | None = None
    trailPrice: float | None = None
    customTag: str | None = None
    linkedOrderId: int | None = None
    stopLossBracket: _Bracket | None = None
    takeProfitBracket: _Bracket | None = None


class _Modify(msgspec.Struct):
    accountId: int
    orderId: int
    size: Int32 | None = None
    limitPrice: float | None = None
    stopPrice: float | None = None
    trailPrice: float | None = None


class _OrderRef(msgspec.Struct):
    accountId: int
    orderId: int


class _AccountRef(msgspec.Struct):
    accountId: int


class _Window(msgspec.Struct):
    accountId: int
    startTimestamp: str | None = None
    endTimestamp: str | None = None
    contractId: str | None = None


class _V2Filter(msgspec.Struct):
    accountId: int
    statuses: list[int] | None = None
    contractId: str | None = None
    createdAfter: str | None = None
    createdBefore: str | None = None


class _V2Query(msgspec.Struct):
    filter: _V2Filter
    pageSize: int = 50
    pageOffset: int = 0
    sortBy: int = 0
    sortDirection: int = 0
    includeTotalCount: bool = False


class _Close(msgspec.Struct):
    accountId: int
    contractId: str


class _PartialClose(msgspec.Struct):
    accountId: int
    contractId: str
    size: Int32


# -- responses -------------------------------------------------------------------------


class _ContractModel(msgspec.Struct):
    id: str
    name: str
    description: str
    tickSize: float
    tickValue: float
    activeContract: bool
    symbolId: str


class _PlaceResult(msgspec.Struct):
    orderId: int | None
    success: bool
    errorCode: int
    errorMessage: str | None


def _envelope(outcome: Outcome, **payload: Any) -> dict[str, Any]:
    return {**payload, "success": outcome.ok, "errorCode": outcome.code,
            "errorMessage": outcome.message}


def _contract_model(contract: Contract) -> _ContractModel:
    return _ContractModel(
        id=contract.id, name=contract.name, description=contract.description,
        tickSize=float(contract.tick.decimal), tickValue=float(contract.tick_value),
        activeContract=contract.active, symbolId=contract.symbol_id,
    )


def _time(text: str | None, field: str) -> float | None:
    if text is None:
        return None
    try:
        parsed = parse_timestamp(text)
    except ValueError as exc:
        raise BadRequest(f"The JSON value could not be converted to DateTime: {field}") from exc
    return None if parsed is None else parsed.timestamp()


def problem(status: int, message: str) -> Response:
    body = _encode({
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": status,
        "errors": {"$": [message]},
    })
    return Response(status, body, "application/problem+json; charset=utf-8")


def failure(status: int, retry_after: int | None = None) -> Response:
    """An HTTP-level failure: 401 empty like ASP.NET's bearer handler, else an envelope."""
    if status == 401:
        return Response(401, b"", None, [("WWW-Authenticate", 'Bearer error="invalid_token"')])
    message = "Too Many Requests" if status == 429 else "Internal Server Error"
    body = _encode({"success": False, "errorCode": 0, "errorMessage": message})
    headers = [("Retry-After", str(retry_after or 1))] if status == 429 else []
    return Response(status, body, headers=headers)


@dataclass(frozen=True, slots=True)
class _Route:
    handler: Callable[[User | None, Any, Request], Any]
    body: type[msgspec.Struct] | None
    auth: bool = True
    bucket: str = "general"
    method: str = "POST"
    #: Auth/validate refreshes expired tokens; other endpoints refuse them.
    expired_ok: bool = False
    #: A login: the gate checks its credentials before charging a budget.
    login: bool = False


class Rest:
    def __init__(self, config: SimConfig, auth: Auth, engine: Engine, catalog: Catalog,
                 market: Market, limiter: RateLimiter, faults: Faults, now: Callable[[], float]
                 ) -> None:
        self._config = config
        self._auth = auth
        self._engine = engine
        self._catalog = catalog
        self._market = market
        self._limiter = limiter
        self._faults = faults
        self._now = now
        self._decoders: dict[type[msgspec.Struct], msgspec.json.Decoder[Any]] = {}
        self._routes: dict[str, _Route] = {
            "auth/loginkey": _Route(self._login, _LoginKey, auth=False, login=True),
            "auth/loginapp": _Route(self._login, _LoginApp, auth=False, login=True),
            "auth/validate": _Route(self._validate, None, expired_ok=True),
            "auth/logout": _Route(self._logout, None),
            "account/search": _Route(self._account_search, _AccountSearch),
            "contract/search": _Route(self._contract_search, _ContractSearch),
            "contract/searchbyid": _Route(self._contract_by_id, _ContractById),
            "contract/available": _Route(self._contract_available, _Available),
            "history/retrievebars": _Route(self._bars, _Bars, bucket="bars"),
            "order/place": _Route(self._place, _Place),
            "order/modify": _Route(self._modify, _Modify),
            "order/cancel": _Route(self._cancel, _OrderRef),
            "order/search": _Route(self._order_search, _Window),
            "order/searchopen": _Route(self._order_search_open, _AccountRef),
            "order/searchbyid": _Route(self._order_by_id, _OrderRef),
            "order/v2/query": _Route(self._order_query, _V2Query),
            "position/searchopen": _Route(self._position_search, _AccountRef),
            "position/closecontract": _Route(self._close, _Close),
            "position/partialclosecontract": _Route(self._partial_close, _PartialClose),
            "trade/search": _Route(self._trade_search, _Window),
            "status/ping": _Route(self._ping, None, auth=False, method="GET"),
        }
        for route in self._routes.values():
            if route.body is not None:
                self._decoders[route.body] = msgspec.json.Decoder(route.body)

    # -- the gate ------------------------------------------------------------------------

    def handle(self, request: Request, endpoint: str) -> Response:
        route = self._routes.get(endpoint)
        if route is None:
            return Response(404, b"")
        if request.method != route.method:
            return Response(405, b"", None, [("Allow", route.method)])
        injected = self._faults.rest_status(endpoint, after_accept=False)
        if injected is not None:
            return failure(injected)
        user: User | None = None
        if route.auth:
            state, claims = self._auth.verify(request.bearer_token())
            acceptable = state is TokenState.VALID or (
                route.expired_ok and state is TokenState.EXPIRED)
            if claims is None or not acceptable:
                return failure(401)
            user = self._auth.user_of(claims)
        try:
            body = self._decode(route, request.body)
        except BadRequest as exc:
            return problem(400, str(exc))
        if route.login:
            user = self._auth.check_login(body.userName, body.secret)
        retry_after = self._limiter.admit(*self._budget(route, user, request))
        if retry_after is not None:
            return failure(429, retry_after)
        try:
            result = route.handler(user, body, request)
        except BadRequest as exc:
            return problem(400, str(exc))
        response = Response(200, _encode(result))
        injected = self._faults.rest_status(endpoint, after_accept=True)
        if injected is not None:
            response = failure(injected)
        response.delay = self._faults.response_delay(endpoint)
        return response

    def _decode(self, route: _Route, raw: bytes) -> Any:
        if route.body is None:
            return None
        too_deep = depth_error(raw, REST_MAX_DEPTH)
        if too_deep is not None:
            raise BadRequest(too_deep)
        try:
            return self._decoders[route.body].decode(raw or b"{}")
        except msgspec.DecodeError as exc:
            raise BadRequest(str(exc)) from exc

    @staticmethod
    def _budget(route: _Route, user: User | None, request: Request) -> tuple[str, str]:
        """Who a request is charged to, and in which bucket: the user once known; a
        failed login to its peer's failed-login budget, never to the name it claimed."""
        if user is not None:
            return user.name, route.bucket
        peer = f"peer:{request.peer.rsplit(':', 1)[0]}"
        return (peer, "failed_logins") if route.login else (peer, route.bucket)

    def _account(self, user: User | None, account_id: int) -> Account | None:
        assert user is not None
        return self._engine.account_for(user.name, account_id)

    # -- auth ------------------------------------------------------------------------------

    def _login(self, user: User | None, body: _LoginKey | _LoginApp, request: Request) -> Any:
        """``user`` is whom the gate found the credentials to log in as, if anyone."""
        if user is None:
            return _envelope(Outcome(3), token=None)
        if not self._engine.accounts_of(user.name):
            for _ in range(self._config.accounts_per_user):
                self._engine.open_account(user.name, balance=self._config.balance,
                                          bracket_mode=self._config.bracket_mode)
        return _envelope(Outcome(), token=self._auth.issue(user))

    def _validate(self, user: User | None, body: None, request: Request) -> Any:
        assert user is not None
        _, claims = self._auth.verify(request.bearer_token())
        assert claims is not None
        if not self._auth.refreshable(claims):
            return _envelope(Outcome(3, "Token expired"), newToken=None)
        return _envelope(Outcome(), newToken=self._auth.issue(user))

    def _logout(self, user: User | None, body: None, request: Request) -> Any:
        _, claims = self._auth.verify(request.bearer_token())
        assert claims is not None
        self._auth.revoke(claims)
        return _envelope(Outcome())

    def _ping(self, user: User | None, body: None, request: Request) -> Any:
        return "pong"

    # -- accounts and contracts ----------------------------------------------------------

    def _account_search(self, user: User | None, body: _AccountSearch, request: Request) -> Any:
        assert user is not None
        accounts = [
            self._engine.account_update(a) for a in self._engine.accounts_of(user.name)
            if a.can_trade or not body.onlyActiveAccounts
        ]
        return _envelope(Outcome(), accounts=accounts)

    def _contract_search(self, user: User | None, body: _ContractSearch,
                         request: Request) -> Any:
        found = self._catalog.search(body.searchText) if self._sees(body.live) else []
        return _envelope(Outcome(), contracts=[_contract_model(c) for c in found])

    def _contract_by_id(self, user: User | None, body: _ContractById, request: Request) -> Any:
        contract = self._catalog.by_id(body.contractId)
        if contract is None:
            return _envelope(Outcome(1, "Contract not found"), contract=None)
        return _envelope(Outcome(), contract=_contract_model(contract))

    def _contract_available(self, user: User | None, body: _Available,
                            request: Request) -> Any:
        found = self._catalog.front_contracts() if self._sees(body.live) else []
        return _envelope(Outcome(), contracts=[_contract_model(c) for c in found])

    def _sees(self, live: bool) -> bool:
        """Whether a contract listing with this ``live`` flag finds anything."""
        return self._config.live_data or not live

    def _bars(self, user: User | None, body: _Bars, request: Request) -> Any:
        contract = self._catalog.by_id(body.contractId)
        if contract is None:
            return _envelope(Outcome(1, "Contract not found"), bars=None)
        if body.unit not in range(AggregateBarUnit.SECOND, AggregateBarUnit.MONTH + 1):
            return _envelope(Outcome(2, "Invalid unit"), bars=None)
        if body.unitNumber < 1:
            return _envelope(Outcome(3, "Invalid unit number"), bars=None)
        if not 0 < body.limit <= MAX_BARS:
            return _envelope(Outcome(4, "Invalid limit"), bars=None)
        start = _time(body.startTime, "startTime")
        end = _time(body.endTime, "endTime")
        assert start is not None and end is not None
        # Expired months have no intraday history here (nor on the Gateway).
        book = self._market.books.get(contract.id) if contract.active else None
        bars = [] if book is None else book.bars.query(
            body.unit, body.unitNumber, start, end, body.limit, body.includePartialBar,
            self._now())
        return _envelope(Outcome(), bars=bars)

    # -- orders --------------------------------------------------------------------------

    def _place(self, user: User | None, body: _Place, request: Request) -> Any:
        account = self._account(user, body.accountId)
        if account is None:
            return _PlaceResult(None, False, 1, "Account not found")
        outcome = self._engine.place(account, PlaceRequest(
            contract_id=body.contractId, type=body.type, side=body.side, size=body.size,
            limit_price=body.limitPrice, stop_price=body.stopPrice,
            trail_price=body.trailPrice, custom_tag=body.customTag,
            linked_order_id=body.linkedOrderId,
            stop_loss=_bracket(body.stopLossBracket),
            take_profit=_bracket(body.takeProfitBracket),
        ))
        return _PlaceResult(outcome.order_id, outcome.ok, outcome.code, outcome.message)

    def _modify(self, user: User | None, body: _Modify, request: Request) -> Any:
        account = self._account(user, body.accountId)
        if account is None:
            return _envelope(Outcome(1, "Account not found"))
        return _envelope(self._engine.modify(account, body.orderId, body.size, body.limitPrice,
                                             body.stopPrice, body.trailPrice))

    def _cancel(self, user: User | None, body: _OrderRef, request: Request) -> Any:
        account = self._account(user, body.accountId)
        if account is None:
            return _envelope(Outcome(1, "Account not found"))
        return _envelope(self._engine.cancel(account, body.orderId))

    def _orders(self, orders: list[Order]) -> list[OrderUpdate]:
        return [self._engine.order_update(o) for o in orders]

    def _order_search(self, user: User | None, body: _Window, request: Request) -> Any:
        account = self._account(user, body.accountId)
        if account is None:
            return _envelope(Outcome(1, "Account not found"), orders=None)
        if body.startTimestamp is None:
            raise BadRequest("The startTimestamp field is required.")
        start = _time(body.startTimestamp, "startTimestamp")
        assert start is not None
        end = _time(body.endTimestamp, "endTimestamp")
        return _envelope(Outcome(), orders=self._orders(
            self._engine.search_orders(account, start, end)))

    def _order_search_open(self, user: User | None, body: _AccountRef,
                           request: Request) -> Any:
        account = self._account(user, body.accountId)
        if account is None:
            return _envelope(Outcome(1, "Account not found"), orders=None)
        return _envelope(Outcome(), orders=self._orders(self._engine.open_orders(account)))

    def _order_by_id(self, user: User | None, body: _OrderRef, request: Request) -> Any:
        account = self._account(user, body.accountId)
        order = None if account is None else account.orders.get(body.orderId)
        if order is None:
            return _envelope(Outcome(1, "Order not found"), order=None)
        return _envelope(Outcome(), order=self._engine.order_update(order))

    def _order_query(self, user: User | None, body: _V2Query, request: Request) -> Any:
        if body.pageSize <= 0 or body.pageOffset < 0 or body.sortBy not in (0, 1) \
                or body.sortDirection not in (0, 1):
            raise BadRequest("Invalid paging or sorting.")
        criteria = body.filter
        account = self._account(user, criteria.accountId)
        if account is None:
            return _envelope(Outcome(1, "Account not found"), orders=None)
        after = _time(criteria.createdAfter, "createdAfter")
        before = _time(criteria.createdBefore, "createdBefore")
        statuses = None if criteria.statuses is None else set(criteria.statuses)
        contract = None if criteria.contractId is None else criteria.contractId.upper()
        found = [
            o for o in account.orders.values()
            if (statuses is None or o.status in statuses)
            and (contract is None or o.contract.id == contract)
            and (after is None or o.created >= after)
            and (before is None or o.created <= before)
        ]
        found.sort(key=(lambda o: o.id) if body.sortBy == 1 else (lambda o: (o.created, o.id)),
                   reverse=body.sortDirection == 1)
        page = found[body.pageOffset: body.pageOffset + body.pageSize]
        extra = {"totalCount": len(found)} if body.includeTotalCount else {}
        return _envelope(Outcome(), orders=self._orders(page), **extra)

    # -- positions and trades ----------------------------------------------------------

    def _position_search(self, user: User | None, body: _AccountRef, request: Request) -> Any:
        account = self._account(user, body.accountId)
        if account is None:
            return _envelope(Outcome(1, "Account not found"), positions=None)
        positions = [self._engine.position_update(account, p)
                     for p in account.positions.values() if p.size]
        return _envelope(Outcome(), positions=positions)

    def _close(self, user: User | None, body: _Close, request: Request) -> Any:
        account = self._account(user, body.accountId)
        if account is None:
            return _envelope(Outcome(1, "Account not found"))
        return _envelope(self._engine.close_position(account, body.contractId))

    def _partial_close(self, user: User | None, body: _PartialClose, request: Request) -> Any:
        account = self._account(user, body.accountId)
        if account is None:
            return _envelope(Outcome(1, "Account not found"))
        return _envelope(self._engine.close_position(account, body.contractId, body.size))

    def _trade_search(self, user: User | None, body: _Window, request: Request) -> Any:
        account = self._account(user, body.accountId)
        if account is None:
            return _envelope(Outcome(1, "Account not found"), trades=None)
        start = _time(body.startTimestamp, "startTimestamp")
        end = _time(body.endTimestamp, "endTimestamp")
        contract = None if body.contractId is None else body.contractId.upper()
        trades = [
            t for ts, t in account.trades
            if (start is None or ts >= start) and (end is None or ts <= end)
            and (contract is None or t.contractId == contract)
        ]
        return _envelope(Outcome(), trades=trades)


def _bracket(body: _Bracket | None) -> Bracket | None:
    return None if body is None else Bracket(body.ticks, body.type)

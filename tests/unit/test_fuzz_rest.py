"""Fuzzing the REST side: any Gateway answer is a typed result or a typed error.

* ``GatewaySession.call`` fed any status, any headers and any body (random
  bytes, random JSON, valid responses mutated byte by byte) returns the
  endpoint's response Struct or raises a ``ProjectXError``: never a
  ``KeyError``, ``TypeError`` or ``ValueError`` from deep inside.
* The HTTP/1.1 response parser fed any bytes hands its waiter a response or
  an ``HttpError`` and never raises into the event loop.
* The reconciliation fence fed whatever REST snapshots decode (odd statuses,
  sizes, ids, timestamps in any form or none) completes, or fails with a
  typed error only when the REST call itself did; it leaves the order table
  consistent either way.
"""

from __future__ import annotations

import asyncio
import random
from types import SimpleNamespace
from typing import Any

import msgspec
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pxfast.client import gateway as ep
from pxfast.client import schema
from pxfast.client.gateway import GatewaySession
from pxfast.client.http import HttpError, HttpResponse, _Connection
from pxfast.config import Credentials
from pxfast.event_bus import EventBus, EventType
from pxfast.exceptions import OrderSubmissionUncertainError, ProjectXDataError, ProjectXError
from pxfast.messages import OrderUpdate, PositionUpdate, TradeUpdate
from pxfast.realtime.user_stream import UserStream

FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)

ORDER = {
    "id": 9001,
    "accountId": 7001,
    "contractId": "CON.F.US.MNQ.Z25",
    "symbolId": "F.US.MNQ",
    "creationTimestamp": "2025-11-24T21:00:00.123456+00:00",
    "updateTimestamp": "2025-11-24T21:00:00.223456+00:00",
    "status": 2,
    "type": 1,
    "side": 0,
    "size": 1,
    "limitPrice": 20000.0,
    "stopPrice": None,
    "fillVolume": 1,
    "filledPrice": 20000.0,
    "customTag": "pxf-1",
}
POSITION = {
    "id": 56,
    "accountId": 7001,
    "contractId": "CON.F.US.MNQ.Z25",
    "creationTimestamp": "2025-11-24T21:00:00.123456+00:00",
    "type": 1,
    "size": 3,
    "averagePrice": 20000.5,
}
TRADE = {
    "id": 777,
    "accountId": 7001,
    "contractId": "CON.F.US.MNQ.Z25",
    "creationTimestamp": "2025-11-24T21:00:00.223456+00:00",
    "price": 20000.0,
    "profitAndLoss": None,
    "fees": 0.37,
    "side": 0,
    "size": 1,
    "voided": False,
    "orderId": 9001,
}
ENVELOPE = {"success": True, "errorCode": 0, "errorMessage": None}
VALID_BODIES = {
    ep.ORDER_SEARCH: {**ENVELOPE, "orders": [ORDER]},
    ep.ORDER_SEARCH_OPEN: {**ENVELOPE, "orders": [ORDER]},
    ep.ORDER_BY_ID: {**ENVELOPE, "order": ORDER},
    ep.ORDER_QUERY: {**ENVELOPE, "orders": [ORDER]},
    ep.POSITION_SEARCH_OPEN: {**ENVELOPE, "positions": [POSITION]},
    ep.TRADE_SEARCH: {**ENVELOPE, "trades": [TRADE]},
    ep.ACCOUNT_SEARCH: {
        **ENVELOPE,
        "accounts": [{"id": 7001, "name": "P", "balance": 1.0, "canTrade": True}],
    },
    ep.CONTRACT_BY_ID: {
        **ENVELOPE,
        "contract": {"id": "C", "name": "MNQZ5", "tickSize": 0.25, "tickValue": 0.5},
    },
    ep.ORDER_PLACE: {**ENVELOPE, "orderId": 9001},
    ep.ORDER_MODIFY: ENVELOPE,
    ep.ORDER_CANCEL: ENVELOPE,
    ep.POSITION_CLOSE: ENVELOPE,
}
STATUSES = [200, 200, 200, 201, 204, 301, 307, 400, 401, 403, 404, 409, 429, 500, 502, 503, 504]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def mutate(body: bytes, rng: random.Random) -> bytes:
    data = bytearray(body)
    for _ in range(rng.randint(1, 6)):
        where = rng.randrange(len(data) or 1)
        op = rng.randrange(3)
        if op == 0 and data:
            data[where] = rng.randrange(256)
        elif op == 1:
            data.insert(where, rng.choice(b'0123456789-.,:{}[]"nulltrue'))
        elif data:
            del data[where]
    return bytes(data)


@st.composite
def answers(draw: st.DrawFn, endpoint: ep.Endpoint) -> HttpResponse:
    valid = msgspec.json.encode(VALID_BODIES[endpoint])
    body = draw(
        st.one_of(
            st.just(valid),
            st.binary(max_size=300),
            json_values.map(msgspec.json.encode),
            st.randoms(use_true_random=False).map(lambda rng: mutate(valid, rng)),
        )
    )
    headers = draw(
        st.dictionaries(
            st.sampled_from(["retry-after", "content-type", "location"]),
            st.sampled_from(["0", "0.001", "-3", "soon", "", "http://elsewhere/", "1e-9"]),
        )
    )
    return HttpResponse(draw(st.sampled_from(STATUSES)), headers, body)


def _session(replies: list[HttpResponse]) -> GatewaySession:
    session = GatewaySession(
        "http://127.0.0.1:9/api",
        Credentials("alice", "0123456789abcdef"),
        retry_attempts=2,
        retry_backoff=0.0001,
        max_backoff=0.0002,
    )
    session._token = "header.payload.signature"
    session._token_expiry = float("inf")

    async def request(*args: Any, **kwargs: Any) -> HttpResponse:
        return replies[0] if len(replies) == 1 else replies.pop(0)

    session._http.request = request  # type: ignore[method-assign]
    return session


@FUZZ
@given(st.data())
def test_any_answer_is_a_struct_or_a_typed_error(data: st.DataObject) -> None:
    endpoint = data.draw(st.sampled_from(list(VALID_BODIES)))
    replies = data.draw(st.lists(answers(endpoint), min_size=1, max_size=4))
    session = _session(replies)
    body: dict[str, Any] = {"accountId": 7001}
    try:
        result = asyncio.run(session.call(endpoint, body))
    except ProjectXError:
        return
    assert isinstance(result, endpoint.response)


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_the_http_parser_settles_its_waiter_with_a_response_or_an_http_error(
    pieces: list[bytes],
) -> None:
    async def run() -> None:
        connection = _Connection()
        transport = SimpleNamespace(write=lambda data: None, close=lambda: None)
        connection.connection_made(transport)  # type: ignore[arg-type]
        waiter = connection.send(b"POST /api/Order/search HTTP/1.1\r\n\r\n", loop)
        for piece in [b"HTTP/1.1 200 OK\r\n", *pieces]:
            connection.data_received(piece)
        connection.connection_lost(None)
        assert waiter.done()
        if waiter.exception() is None:
            assert isinstance(waiter.result(), HttpResponse)
        else:
            assert isinstance(waiter.exception(), HttpError)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()


# ---------------------------------------------------------------------- the fence

STAMPS = [
    "2025-11-24T21:00:00.123456+00:00",
    "2025-11-24T21:00:01.1234567+00:00",
    "2025-11-24T21:00:02Z",
    "2025-11-24T21:00:03.5-05:00",
    "2025-11-24T21:00:04",
    "",
    "yesterday",
    "2025-13-45T99:99:99Z",
]

odd_orders = st.fixed_dictionaries(
    {
        "id": st.integers(9000, 9004) | st.integers(-(2**63), 2**63 - 1),
        "accountId": st.sampled_from([7001, 7002, 0]),
        "contractId": st.sampled_from(["CON.F.US.MNQ.Z25", "", "x" * 300]),
        "creationTimestamp": st.sampled_from(STAMPS),
        "updateTimestamp": st.none() | st.sampled_from(STAMPS),
        "status": st.integers(-2, 10),
        "type": st.integers(-1, 9),
        "side": st.integers(-1, 2),
        "size": st.integers(-5, 10**9),
        "limitPrice": st.none() | st.floats(-1e12, 1e12),
        "fillVolume": st.none() | st.integers(-5, 10**9),
        "filledPrice": st.none() | st.floats(-1e12, 1e12),
        "customTag": st.none() | st.text(max_size=8),
        "parentOrderId": st.none() | st.integers(9000, 9004),
    }
)
odd_positions = st.fixed_dictionaries(
    {
        "accountId": st.just(7001),
        "contractId": st.sampled_from(["CON.F.US.MNQ.Z25", "CON.F.US.EP.Z25"]),
        "creationTimestamp": st.sampled_from(STAMPS),
        "type": st.integers(-1, 3),
        "size": st.integers(-3, 5),
        "averagePrice": st.floats(-1e6, 1e6),
    }
)
odd_trades = st.fixed_dictionaries(
    {
        "id": st.integers(1, 5),
        "accountId": st.just(7001),
        "contractId": st.just("CON.F.US.MNQ.Z25"),
        "creationTimestamp": st.sampled_from(STAMPS),
        "price": st.floats(-1e6, 1e6),
        "profitAndLoss": st.none() | st.floats(-1e6, 1e6),
        "fees": st.floats(0, 10),
        "side": st.integers(0, 1),
        "size": st.integers(-1, 5),
        "voided": st.booleans(),
        "orderId": st.integers(9000, 9004),
    }
)


def _decoded(kind: type[Any], key: str, rows: list[dict[str, Any]]) -> list[Any]:
    """Rows through the real response decoder, as the client would get them."""
    body = msgspec.json.encode({**ENVELOPE, key: rows})
    try:
        return list(getattr(schema.decoder(kind).decode(body), key))
    except msgspec.DecodeError as exc:
        raise ProjectXDataError(f"malformed response: {exc}") from None


class SnapshotClient:
    """The REST calls the fence makes, answered from one fuzzed snapshot."""

    def __init__(self, orders: list[Any], positions: list[Any], trades: list[Any]) -> None:
        self.account_info = SimpleNamespace(id=7001)
        self._instruments: dict[Any, Any] = {}
        self.rows = (orders, positions, trades)

    async def search_open_order_updates(self) -> list[OrderUpdate]:
        return _decoded(schema.OrdersResponse, "orders", self.rows[0])

    async def search_order_updates(self, **window: Any) -> list[OrderUpdate]:
        return _decoded(schema.OrdersResponse, "orders", self.rows[0])

    async def query_order_updates(self, **query: Any) -> list[OrderUpdate]:
        return _decoded(schema.OrdersResponse, "orders", self.rows[0][:1])

    async def search_position_updates(self) -> list[PositionUpdate]:
        return _decoded(schema.PositionsResponse, "positions", self.rows[1])

    async def search_trade_updates(self, *window: Any) -> list[TradeUpdate]:
        return _decoded(schema.TradesResponse, "trades", self.rows[2])

    async def get_order_update(self, order_id: int) -> OrderUpdate | None:
        found = [o for o in self.rows[0] if o.get("id") == order_id]
        return _decoded(schema.OrdersResponse, "orders", found[:1])[0] if found else None


@FUZZ
@given(
    st.lists(st.lists(odd_orders, max_size=6), min_size=1, max_size=3),
    st.lists(odd_positions, max_size=3),
    st.lists(odd_trades, max_size=3),
)
def test_the_fence_survives_any_snapshot(
    snapshots: list[list[dict[str, Any]]],
    positions: list[dict[str, Any]],
    trades: list[dict[str, Any]],
) -> None:
    async def run() -> None:
        bus = EventBus()
        for kind in EventType:
            await bus.on(kind, lambda event: None)
        client = SnapshotClient([], positions, trades)
        stream = UserStream(client, lambda contract: bus)  # type: ignore[arg-type]
        for rows in snapshots:  # one reconnect after another, each with its snapshot
            client.rows = (rows, positions, trades)
            stream.begin_fence(True)
            try:
                await stream.reconcile(True)
            except ProjectXError:
                pass  # the REST answer itself was refused as malformed: typed, reported
            assert not stream.fencing and stream.reconciled.is_set()
            table = stream.orders
            assert set(table.working_ids()) <= set(table.ids())
            for order_id in table.ids():
                assert 0 <= table.status(order_id) <= 8

    asyncio.run(run())


def test_an_unreadable_answer_to_a_processed_mutation_is_uncertain() -> None:
    """A 200 whose body cannot be read: the Gateway executed the place, the reply is lost.

    That is the same ambiguity as a timeout or a 5xx after acceptance, so it must
    surface as ``OrderSubmissionUncertainError`` (which makes the order manager look
    the tag up) rather than as a data error the caller may answer by placing again.
    """
    for body in (b'{"success":true,"orderId":90', b'{"success":true,"errorMessage":"\x80"}'):
        session = _session([HttpResponse(200, {}, body)])
        try:
            asyncio.run(session.call(ep.ORDER_PLACE, {"accountId": 7001, "customTag": "t-1"}))
        except OrderSubmissionUncertainError as exc:
            assert exc.payload == {"accountId": 7001, "customTag": "t-1"}
        else:
            raise AssertionError("a reply that could not be read was taken as an answer")

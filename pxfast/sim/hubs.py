"""The user and market hubs: SignalR's JSON protocol over the WebSocket server.

Faithfulness rules that real clients depend on (gateway-protocol.md §9-§11):
negotiate answers 200 with ``connectionId`` (equal to ``connectionToken``);
an upgrade with an unknown or missing ``id`` is accepted; the token comes
from the first ``access_token`` query value, else a Bearer header; the
handshake reply ``{}`` is the first record; a Completion goes out only for an
invocation that carries an ``invocationId``; ``headers`` and unknown targets
(``Heartbeat``) are ignored without closing; subscribing twice is harmless;
event frames hold exactly ``type``, ``target`` and ``arguments``; to make a
client reconnect, the server just closes the socket.

The handshake and bad records are answered as ASP.NET Core answers them:
the JSON protocol is granted at any requested version up to its own (1), so
clients that ask for version 0 (signalrcore) connect; an unknown protocol or
a newer version gets ASP.NET's handshake error.  A record that cannot be
read (malformed, not an object, nested deeper than System.Text.Json's 64
levels) ends that connection alone, with ``{"type":7,"error":"Connection
closed with an error.","allowReconnect":true}`` once handshaken.

Subscriptions belong to one connection.  A user can subscribe only to its
own accounts: anything else is silently no data, as the Gateway does for an
unknown account.  Every event record is encoded once and queued on each
subscribed session; a session flushes its queue on the next loop iteration
as one WebSocket frame holding all queued records (up to ``MAX_FRAME``), so
a burst costs one write, not one per event.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import msgspec

from pxfast.messages import (
    AccountUpdate,
    DepthEntry,
    MarketTrade,
    OrderUpdate,
    PositionUpdate,
    Quote,
    TradeUpdate,
    UserAccount,
    UserOrder,
    UserPosition,
    UserTrade,
)
from pxfast.sim.auth import Auth, TokenState, User
from pxfast.sim.clock import Clock, iso
from pxfast.sim.engine import ACTION_UPDATE, Engine
from pxfast.sim.faults import Faults
from pxfast.sim.http import Request, Response, Upgrade
from pxfast.sim.instruments import Catalog
from pxfast.sim.jsonlimit import HUB_MAX_DEPTH, depth_error
from pxfast.sim.market import Book, DepthEntryTuple, Market
from pxfast.sim.websocket import WebSocketConnection, accept_headers
from pxfast.types import DomType

__all__ = ["HubSession", "Hubs"]

log = logging.getLogger(__name__)

RS = b"\x1e"
#: Largest WebSocket frame the batching builds (clients accept 1 MiB).
MAX_FRAME = 256 * 1024
#: A session whose unsent backlog passes this is dropped as a slow consumer.
MAX_BACKLOG = 64 * 1024 * 1024
PING = b'{"type":6}' + RS
HANDSHAKE_OK = b"{}" + RS
#: The JSON hub protocol's version; a client may ask for this one or any older.
JSON_PROTOCOL_VERSION = 1
CLOSE_WITH_ERROR = (
    b'{"type":7,"error":"Connection closed with an error.","allowReconnect":true}' + RS)
HANDSHAKE_FAILED = "An unexpected error occurred during connection handshake."

USER_METHODS = {
    "subscribeaccounts": ("accounts", True),
    "unsubscribeaccounts": ("accounts", False),
    "subscribeorders": ("orders", True),
    "unsubscribeorders": ("orders", False),
    "subscribepositions": ("positions", True),
    "unsubscribepositions": ("positions", False),
    "subscribetrades": ("trades", True),
    "unsubscribetrades": ("trades", False),
}
MARKET_METHODS = {
    "subscribecontractquotes": ("quotes", True),
    "unsubscribecontractquotes": ("quotes", False),
    "subscribecontracttrades": ("trades", True),
    "unsubscribecontracttrades": ("trades", False),
    "subscribecontractmarketdepth": ("depth", True),
    "unsubscribecontractmarketdepth": ("depth", False),
}


_Record = TypeVar("_Record", bound=msgspec.Struct)


class _HandshakeRequest(msgspec.Struct):
    protocol: str
    version: int


class _Incoming(msgspec.Struct):
    """Any client record after the handshake; only the fields the hub acts on."""

    type: int
    target: str | None = None
    arguments: list[Any] = []
    invocationId: str | None = None


class _Completion(msgspec.Struct):
    type: int
    invocationId: str
    result: None = None


class _FailedCompletion(msgspec.Struct):
    type: int
    invocationId: str
    error: str


_decode_handshake = msgspec.json.Decoder(_HandshakeRequest).decode
_decode_record = msgspec.json.Decoder(_Incoming).decode
_encode = msgspec.json.Encoder().encode


def _read(raw: bytes, decode: Callable[[bytes], _Record]) -> _Record | None:
    """The decoded record, or None if it cannot be read (malformed, misshapen, too deep)."""
    if depth_error(raw, HUB_MAX_DEPTH) is not None:
        return None
    try:
        return decode(raw)
    except msgspec.DecodeError:
        return None


def _prefix(target: str, *head: str) -> bytes:
    """The bytes of an event record up to its last argument."""
    args = "".join(f"{_encode(h).decode()}," for h in head)
    return f'{{"type":1,"target":"{target}","arguments":[{args}'.encode()


_SUFFIX = b"]}" + RS


class HubSession:
    """One client connection to one hub, with its subscriptions and send queue."""

    def __init__(self, hubs: Hubs, hub: str, user: User, number: int) -> None:
        self.hubs = hubs
        self.hub = hub
        self.user = user
        self.number = number
        self.ws: WebSocketConnection | None = None
        self.handshaken = False
        self.frozen = False
        self.subscriptions: dict[str, set[Any]] = {}
        self.accounts = False
        self.last_received = hubs.loop.time()
        self.last_ping = hubs.loop.time()
        self.sent_records = 0
        self._queue: list[bytes] = []
        self._queued = 0
        self._flush_handle: asyncio.Handle | asyncio.TimerHandle | None = None
        self._writable = True

    def __repr__(self) -> str:
        return f"<HubSession #{self.number} {self.hub} user={self.user.name!r}>"

    # -- WebSocketHandler ----------------------------------------------------

    def on_message(self, data: bytes) -> None:
        self.last_received = self.hubs.loop.time()
        for raw in data.split(RS):
            if not raw.strip():
                continue
            if self.handshaken:
                self._receive(raw)
            else:
                self._handshake(raw)
            if self.ws is None or not self.ws.open:
                return

    def on_closed(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._queue.clear()
        self.ws = None
        self.hubs.forget(self)

    def on_writable(self, writable: bool) -> None:
        self._writable = writable
        if writable and self._queue and self._flush_handle is None:
            self._flush_handle = self.hubs.loop.call_soon(self._flush)

    # -- protocol -------------------------------------------------------------

    def _handshake(self, raw: bytes) -> None:
        request = _read(raw, _decode_handshake)
        if request is None:
            self._refuse(HANDSHAKE_FAILED)
            return
        if request.protocol != "json":
            self._refuse(f"The protocol '{request.protocol}' is not supported.")
        elif request.version > JSON_PROTOCOL_VERSION:
            self._refuse(f"The server does not support version {request.version} "
                         f"of the '{request.protocol}' protocol.")
        else:
            self.handshaken = True
            self._write(HANDSHAKE_OK)

    def _refuse(self, error: str) -> None:
        self._write(_encode({"error": error}) + RS)
        self.close()

    def _receive(self, raw: bytes) -> None:
        record = _read(raw, _decode_record)
        if record is None:
            self.send(CLOSE_WITH_ERROR, event=False)
            self.close()
            return
        self._dispatch(record)

    def _dispatch(self, record: _Incoming) -> None:
        if record.type == 1 and record.target is not None:
            error = self.hubs.invoke(self, record.target, record.arguments)
            if record.invocationId is not None:
                completion: msgspec.Struct = (
                    _Completion(3, record.invocationId) if error is None
                    else _FailedCompletion(3, record.invocationId, error))
                self.send(_encode(completion) + RS, event=False)
        elif record.type == 7:
            self.close()
        # Pings (6) only refresh last_received; other types are not used by this Gateway.

    # -- sending ----------------------------------------------------------------

    def send(self, record: bytes, *, event: bool = True) -> None:
        """Queue one record; events may be lost to a drop fault, replies never are."""
        if self.frozen or self.ws is None:
            return
        if event and self.hubs.faults.drops(self.hub):
            return
        self._queue.append(record)
        self._queued += len(record)
        if self._queued > MAX_BACKLOG:
            log.warning("%r: client is not reading, dropping it", self)
            self.abort()
            return
        if self._flush_handle is None and self._writable:
            delay = self.hubs.faults.flush_delay(self.hub)
            loop = self.hubs.loop
            self._flush_handle = (loop.call_later(delay, self._flush) if delay
                                  else loop.call_soon(self._flush))

    def _flush(self) -> None:
        self._flush_handle = None
        ws = self.ws
        if ws is None or self.frozen:
            self._queue.clear()
            self._queued = 0
            return
        queue = self._queue
        self.sent_records += len(queue)
        if self._queued <= MAX_FRAME:
            ws.send_text(b"".join(queue))
        else:
            frame: list[bytes] = []
            size = 0
            for record in queue:
                if frame and size + len(record) > MAX_FRAME:
                    ws.send_text(b"".join(frame))
                    frame, size = [], 0
                frame.append(record)
                size += len(record)
            ws.send_text(b"".join(frame))
        queue.clear()
        self._queued = 0

    def _write(self, record: bytes) -> None:
        """Write at once, ahead of the queue (the handshake reply must come first)."""
        if self.ws is not None:
            self.ws.send_text(record)

    def close(self, code: int = 1000) -> None:
        """Close the socket normally: clients reconnect, which is what a fault wants."""
        if self.ws is not None:
            self._flush()
            self.ws.close(code)

    def abort(self) -> None:
        if self.ws is not None:
            self.ws.abort()


class Hubs:
    """Both hubs: sessions, subscription indexes, event encoding and the keep-alive timer."""

    def __init__(self, clock: Clock, auth: Auth, engine: Engine, market: Market,
                 catalog: Catalog, faults: Faults, *, seed: int, wrap_user_events: bool = True,
                 ping_interval: float = 15.0, client_timeout: float = 30.0,
                 quote_keepalive: float = 5.0) -> None:
        self._clock = clock
        self._auth = auth
        self._engine = engine
        self._catalog = catalog
        self._market = market
        self.faults = faults
        self.wrap_user_events = wrap_user_events
        self.ping_interval = ping_interval
        self.client_timeout = client_timeout
        self.quote_keepalive = quote_keepalive
        self._seed = seed
        self.sessions: set[HubSession] = set()
        self._count = 0
        # user hub: account id -> sessions, per kind; owner -> sessions for accounts
        self._user: dict[str, dict[int, set[HubSession]]] = {
            "orders": {}, "positions": {}, "trades": {}}
        self._owners: dict[str, set[HubSession]] = {}
        # market hub: contract id -> sessions, per kind
        self._market_subs: dict[str, dict[str, set[HubSession]]] = {
            "quotes": {}, "trades": {}, "depth": {}}
        self._last_quote: dict[str, float] = {}
        self._prefixes: dict[tuple[str, str], bytes] = {}
        self._timer: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop  # set by start(); sessions only exist after it
        engine.events = self
        market.listeners.append(self)

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        if self._timer is None:
            self._timer = self.loop.create_task(self._tick())

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for session in list(self.sessions):
            session.abort()

    async def _tick(self) -> None:
        """Pings, dead-client timeouts and quote keep-alives, checked once a second
        (or more often when one of those intervals is shorter)."""
        period = min(1.0, self.ping_interval, self.quote_keepalive or 1.0)
        while True:
            await asyncio.sleep(period)
            now = self.loop.time()
            for session in list(self.sessions):
                if not session.handshaken:
                    continue
                if self.client_timeout and now - session.last_received > self.client_timeout:
                    session.close()
                    continue
                if now - session.last_ping >= self.ping_interval:
                    session.last_ping = now
                    session.send(PING, event=False)
            if self.quote_keepalive:
                for contract_id, sessions in self._market_subs["quotes"].items():
                    if sessions and now - self._last_quote.get(contract_id, 0.0) \
                            >= self.quote_keepalive:
                        self.on_quote(self._market.books[contract_id])

    # -- HTTP entry points --------------------------------------------------------

    def _token_user(self, request: Request) -> User | None:
        token = request.query_first("access_token") or request.bearer_token()
        state, claims = self._auth.verify(token)
        if state is not TokenState.VALID or claims is None:
            return None
        return self._auth.user_of(claims)

    def negotiate(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(405, b"")
        if self._token_user(request) is None:
            return Response(401, b"")
        self._count += 1
        digest = hashlib.sha256(f"{self._seed}:{self._count}".encode()).digest()
        connection_id = base64.urlsafe_b64encode(digest)[:22].decode()
        version = 1 if request.query_first("negotiateVersion") not in (None, "0") else 0
        body = _encode({
            "negotiateVersion": version,
            "connectionId": connection_id,
            "connectionToken": connection_id,
            "availableTransports": [
                {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}],
        })
        return Response(200, body)

    def upgrade(self, request: Request, hub: str) -> Response | Upgrade:
        user = self._token_user(request)
        if user is None:
            return Response(401, b"")
        headers = accept_headers(request)
        if headers is None:
            return Response(400, b"")
        self._count += 1
        session = HubSession(self, hub, user, self._count)

        def attach(transport: asyncio.Transport) -> WebSocketConnection:
            session.ws = WebSocketConnection(transport, session)
            self.sessions.add(session)
            return session.ws

        return Upgrade(headers, attach)

    # -- invocations ---------------------------------------------------------------

    def invoke(self, session: HubSession, target: str, arguments: list[Any]) -> str | None:
        """Run a hub method; the error text for a Completion, or None on success."""
        name = target.lower()
        methods = USER_METHODS if session.hub == "user" else MARKET_METHODS
        entry = methods.get(name)
        if entry is None:
            return f"Failed to invoke '{target}' due to an error on the server. " \
                   "HubException: Method does not exist."
        kind, subscribe = entry
        if kind == "accounts":
            self._subscribe_accounts(session, subscribe)
            return None
        if len(arguments) != 1:
            return f"Failed to invoke '{target}' due to an error on the server. " \
                   f"InvalidDataException: Invocation provides {len(arguments)} " \
                   "argument(s) but target expects 1."
        if session.hub == "user":
            self._subscribe_user(session, kind, arguments[0], subscribe)
        else:
            self._subscribe_market(session, kind, arguments[0], subscribe)
        return None

    def _subscribe_accounts(self, session: HubSession, subscribe: bool) -> None:
        owner = session.user.name.lower()
        session.accounts = subscribe
        sessions = self._owners.setdefault(owner, set())
        if subscribe:
            sessions.add(session)
        else:
            sessions.discard(session)

    def _subscribe_user(self, session: HubSession, kind: str, argument: Any,
                        subscribe: bool) -> None:
        try:
            account_id = int(argument)
        except (TypeError, ValueError):
            return
        if self._engine.account_for(session.user.name, account_id) is None:
            return  # someone else's or unknown: silently no data
        self._index(self._user[kind], session, kind, account_id, subscribe)

    def _subscribe_market(self, session: HubSession, kind: str, argument: Any,
                          subscribe: bool) -> None:
        contract = self._catalog.active(str(argument))
        if contract is None:
            return
        index = self._market_subs[kind]
        already = session in index.get(contract.id, ())
        self._index(index, session, kind, contract.id, subscribe)
        if not subscribe or already:
            return
        book = self._market.books[contract.id]
        if kind == "quotes":
            session.send(self._quote_record(book))
        elif kind == "depth":
            session.send(self._depth_record(book, self._market.snapshot(book), True))

    @staticmethod
    def _index(index: dict[Any, set[HubSession]], session: HubSession, kind: str,
               key: Any, subscribe: bool) -> None:
        keys = session.subscriptions.setdefault(kind, set())
        if subscribe:
            index.setdefault(key, set()).add(session)
            keys.add(key)
        else:
            index.get(key, set()).discard(session)
            keys.discard(key)

    def forget(self, session: HubSession) -> None:
        """Drop a closed session from every index (subscriptions die with the connection)."""
        self.sessions.discard(session)
        self._owners.get(session.user.name.lower(), set()).discard(session)
        indexes = self._user if session.hub == "user" else self._market_subs
        for kind, keys in session.subscriptions.items():
            for key in keys:
                indexes[kind].get(key, set()).discard(session)
        session.subscriptions.clear()

    def send_raw(self, record: bytes, hub: str | None = None, user: str | None = None) -> int:
        """Queue ``record`` as is (separator included) on matching handshaken sessions:
        how tests put a malformed or unusual record on the wire.  How many got it."""
        sessions = [s for s in self.select(hub, user) if s.handshaken]
        for session in sessions:
            session.send(record, event=False)
        return len(sessions)

    def select(self, hub: str | None = None, user: str | None = None) -> list[HubSession]:
        return [
            s for s in self.sessions
            if (hub is None or s.hub == hub)
            and (user is None or s.user.name.lower() == user.lower())
        ]

    # -- user events (engine.UserEvents) ---------------------------------------------

    def listening(self, account_id: int) -> bool:
        if any(self._user[kind].get(account_id) for kind in self._user):
            return True
        account = self._engine.accounts.get(account_id)
        return account is not None and bool(self._owners.get(account.owner))

    def _user_record(self, target: str, wrapped: msgspec.Struct, bare: msgspec.Struct) -> bytes:
        key = (target, "")
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = self._prefixes[key] = _prefix(target)
        payload = wrapped if self.wrap_user_events else bare
        return prefix + _encode(payload) + _SUFFIX

    def _publish_user(self, sessions: set[HubSession] | None, record: Callable[[], bytes]) -> None:
        if not sessions:
            return
        data = record()
        for session in sessions:
            session.send(data)

    def order(self, account_id: int, order: OrderUpdate, action: int) -> None:
        self._publish_user(
            self._user["orders"].get(account_id),
            lambda: self._user_record("GatewayUserOrder", UserOrder(action, order), order),
        )

    def trade(self, account_id: int, trade: TradeUpdate) -> None:
        self._publish_user(
            self._user["trades"].get(account_id),
            lambda: self._user_record("GatewayUserTrade", UserTrade(0, trade), trade),
        )

    def position(self, account_id: int, position: PositionUpdate, action: int) -> None:
        self._publish_user(
            self._user["positions"].get(account_id),
            lambda: self._user_record(
                "GatewayUserPosition", UserPosition(action, position), position),
        )

    def account(self, account_id: int, account: AccountUpdate) -> None:
        owner = self._engine.accounts[account_id].owner
        self._publish_user(
            self._owners.get(owner),
            lambda: self._user_record(
                "GatewayUserAccount", UserAccount(ACTION_UPDATE, account), account),
        )

    # -- market events (market.MarketListener) -----------------------------------------

    def _market_prefix(self, target: str, contract_id: str) -> bytes:
        key = (target, contract_id)
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = self._prefixes[key] = _prefix(target, contract_id)
        return prefix

    def _quote_record(self, book: Book) -> bytes:
        contract = book.contract
        tick = contract.tick
        stamp = iso(self._clock.now())
        change = book.last - book.prev_close
        quote = Quote(
            symbol=contract.symbol_id,
            symbolName=f"/{contract.spec.symbol}",
            lastPrice=tick.from_ticks_float(book.last),
            bestBid=tick.from_ticks_float(book.bid),
            bestAsk=tick.from_ticks_float(book.ask),
            change=tick.from_ticks_float(change),
            changePercent=round(change / book.prev_close * 100, 4),
            open=tick.from_ticks_float(book.open),
            high=tick.from_ticks_float(book.high),
            low=tick.from_ticks_float(book.low),
            volume=book.volume,
            lastUpdated=stamp,
            timestamp=stamp,
        )
        self._last_quote[contract.id] = self.loop.time()
        return self._market_prefix("GatewayQuote", contract.id) + _encode(quote) + _SUFFIX

    def on_quote(self, book: Book) -> None:
        sessions = self._market_subs["quotes"].get(book.contract.id)
        if sessions:
            record = self._quote_record(book)
            for session in sessions:
                session.send(record)

    def on_print(self, book: Book, price: int, size: int, aggressor: int) -> None:
        sessions = self._market_subs["trades"].get(book.contract.id)
        if not sessions:
            return
        contract = book.contract
        trade = MarketTrade(
            symbolId=contract.symbol_id, price=contract.tick.from_ticks_float(price),
            timestamp=iso(self._clock.now()), type=aggressor, volume=size,
        )
        record = (self._market_prefix("GatewayTrade", contract.id) + b"[" + _encode(trade)
                  + b"]" + _SUFFIX)
        for session in sessions:
            session.send(record)

    def on_depth(self, book: Book, entries: list[DepthEntryTuple], reset: bool) -> None:
        sessions = self._market_subs["depth"].get(book.contract.id)
        if not sessions:
            return
        record = self._depth_record(book, entries, reset)
        for session in sessions:
            session.send(record)

    def _depth_record(self, book: Book, entries: Iterable[DepthEntryTuple],
                      reset: bool) -> bytes:
        stamp = iso(self._clock.now())
        convert = book.contract.tick.from_ticks_float
        payload = [DepthEntry(timestamp=stamp, type=DomType.RESET, price=0, volume=0,
                              currentVolume=0)] if reset else []
        payload.extend(
            DepthEntry(timestamp=stamp, type=kind, price=convert(price), volume=volume,
                       currentVolume=volume)
            for kind, price, volume in entries
        )
        return self._market_prefix("GatewayDepth", book.contract.id) + _encode(payload) \
            + _SUFFIX

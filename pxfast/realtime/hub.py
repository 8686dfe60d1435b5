"""One SignalR hub connection over picows, with a reconnect state machine.

A hub connection is a single task that owns at most one WebSocket at a time:
connect (optionally negotiate), handshake, replay the subscriptions, serve
until the socket goes, back off, connect again.  Because only that task ever
connects, two connections for one hub cannot exist, whatever the callers and
watchdogs do (incident #129: a watchdog reconnecting a hub that was already
reconnecting crashed project-x-py with "Cannot connect while not
disconnected").

Liveness is judged per hub, from the transport, never from a score:

* a WebSocket ping when the socket is idle, and a disconnect if its pong does
  not come back (picows' auto-ping);
* SignalR pings both ways: pxfast sends one every ``ping_interval``, and a
  hub from which *nothing* arrived for ``server_timeout`` is dead;
* a staleness clock for market data only, and only while something is
  subscribed: no quote, trade or depth for ``stale_after`` seconds with the
  socket otherwise alive (incident #97) reports FEED_STALE and reconnects.
  A quiet user hub is normal and raises nothing (incident #129).

Frames are decoded by the compiled ``FrameDecoder`` straight from picows'
buffer; every decoded item goes to one synchronous ``on_items`` callback, in
wire order.  With ``slice_bytes`` set, a bigger frame is copied to a backlog
and decoded one slice per event-loop turn, so a burst on this hub cannot keep
the loop from the other hub's socket for longer than one slice.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec

from pxfast._redact import redacting_logger
from pxfast._wire import (
    HANDSHAKE_REQUEST,
    PING_MESSAGE,
    RECORD_SEPARATOR,
    FrameDecoder,
    encode_invocation,
)
from pxfast.exceptions import ProjectXConnectionError
from pxfast.messages import (
    Close,
    Completion,
    DepthEvent,
    Handshake,
    Logout,
    Ping,
    QuoteEvent,
    TradeEvent,
    WireError,
)

if TYPE_CHECKING:
    from picows import WSFrame, WSListener, WSTransport

__all__ = ["HubConnection", "HubOptions", "HubState"]

logger = logging.getLogger(__name__)
_ws_logger = logging.LoggerAdapter(redacting_logger("pxfast.realtime.ws"), {})

TokenProvider = Callable[[bool], Awaitable[str]]
_MARKET_DATA = (QuoteEvent, TradeEvent, DepthEvent)


class HubState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass
class HubOptions:
    ping_interval: float = 15.0
    server_timeout: float = 30.0
    #: Seconds without market data, while subscribed, before the feed counts as stale.
    stale_after: float | None = None
    transport_ping_idle: float = 10.0
    transport_ping_reply: float = 10.0
    handshake_timeout: float = 10.0
    invoke_timeout: float = 10.0
    backoff_initial: float = 0.1
    backoff_max: float = 1.0
    #: Big enough for any depth snapshot (incident #128: a 10 KB cap looped on close 1009).
    max_frame_size: int = 16 * 1024 * 1024
    negotiate: bool = False
    #: Kernel receive buffer (SO_RCVBUF) for the socket; None keeps the OS default.
    #: A small one bounds how much one read of a flooding hub hands over at once.
    receive_buffer: int | None = None
    #: Payload bytes decoded and handled per event-loop turn (None: whole frames at
    #: once).  A bigger frame waits in a backlog and is worked off in slices, so a
    #: burst on this hub never holds up the loop (and the other hub) for longer
    #: than one slice takes.
    slice_bytes: int | None = None
    #: Backlog bytes above which the socket stops being read (TCP pushes back on
    #: the sender), and below which it is read again.
    backlog_high: int = 16 * 1024 * 1024
    backlog_low: int = 4 * 1024 * 1024


@dataclass
class HubStats:
    connects: int = 0
    reconnects: int = 0
    disconnects: int = 0
    stale_events: int = 0
    server_timeouts: int = 0
    logouts: int = 0
    frames: int = 0
    items: int = 0
    #: Times a backlog of undecoded frames stopped the socket being read.
    pauses: int = 0
    last_error: str | None = None


@cache
def _listener_type() -> Callable[[HubConnection], WSListener]:
    """The hub's picows listener class, made at the first connect.

    picows (with the proxy and TLS modules it loads) costs ~25 ms, a fifth of
    ``from pxfast import TradingSuite``; a bot pays it when a hub connects.
    """
    from picows import WSListener, WSMsgType

    class _Listener(WSListener):
        """picows callbacks -> the decoder -> the hub; never raises into picows."""

        def __init__(self, hub: HubConnection) -> None:
            self.hub = hub

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            kind = frame.msg_type
            if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY or kind is WSMsgType.CONTINUATION:
                hub = self.hub
                payload = frame.get_payload_as_memoryview()
                limit = hub.options.slice_bytes
                if limit is not None and (hub._backlog or len(payload) > limit):
                    hub._queue(bytes(payload))  # picows reuses its buffer once this returns
                else:
                    hub._decode(payload)
            elif kind is WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            self.hub._lost(self)

    return _Listener


class HubConnection:
    """A SignalR hub (user or market) kept connected until ``stop()``."""

    def __init__(
        self,
        name: str,
        url: str,
        token_provider: TokenProvider,
        on_items: Callable[[list[Any]], None],
        *,
        options: HubOptions | None = None,
        on_state: Callable[[HubState, dict[str, Any]], None] | None = None,
        on_connected: Callable[[bool], Awaitable[None]] | None = None,
        on_subscribing: Callable[[bool], None] | None = None,
        on_stale: Callable[[float, float], None] | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.options = options or HubOptions()
        self.decoder = FrameDecoder()
        self.stats = HubStats()
        self._token_provider = token_provider
        self._on_items = on_items
        self._on_state = on_state
        self._on_connected = on_connected
        self._on_subscribing = on_subscribing
        self._on_stale = on_stale
        self._state = HubState.IDLE
        self._transport: WSTransport | None = None
        self._listener: WSListener | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost_event = asyncio.Event()
        self._ready: asyncio.Future[None] | None = None
        self._handshake: asyncio.Future[Handshake] | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._next_id = 0
        self._subscriptions: dict[tuple[str, str], tuple[str, tuple[Any, ...]]] = {}
        self._invoke_lock = asyncio.Lock()
        self._force_login = False
        self._last_message = 0.0
        self._last_data = 0.0
        self._last_ping_sent = 0.0
        self._closing = False
        self._drop_reason: str | None = None
        self._ever_connected = False
        self._down_since: float | None = None
        #: Frames received but not yet decoded (slice_bytes), the first from _offset on.
        self._backlog: deque[bytes] = deque()
        self._offset = 0
        self._backlog_bytes = 0
        self._draining = False
        self._paused = False

    # ------------------------------------------------------------------ public

    @property
    def state(self) -> HubState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state is HubState.CONNECTED

    def last_message_age(self) -> float | None:
        """Seconds since anything arrived on the current connection (None if never)."""
        return time.monotonic() - self._last_message if self._last_message else None

    def last_data_age(self) -> float | None:
        return time.monotonic() - self._last_data if self._last_data else None

    @property
    def backlog_bytes(self) -> int:
        """Received payload not yet decoded (see ``HubOptions.slice_bytes``)."""
        return self._backlog_bytes

    @property
    def subscriptions(self) -> list[tuple[str, tuple[Any, ...]]]:
        return list(self._subscriptions.values())

    async def start(self, timeout: float | None = 15.0) -> None:
        """Start the connection task and wait (bounded) until the hub is ready."""
        if self._task is None:
            self._closing = False
            self._ready = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(), name=f"pxfast-{self.name}-hub")
        assert self._ready is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except TimeoutError:
            detail = f": {self.stats.last_error}" if self.stats.last_error else ""
            raise ProjectXConnectionError(
                f"{self.name} hub not connected within {timeout:g}s{detail}"
            ) from None

    async def stop(self) -> None:
        self._closing = True
        task, self._task = self._task, None
        transport = self._transport
        if transport is not None:
            transport.disconnect()
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._set_state(HubState.CLOSED, {})

    def reconnect(self, reason: str) -> None:
        """Drop the current socket; the connection task will connect again."""
        self._drop_reason = reason
        transport = self._transport
        if transport is not None:
            transport.disconnect()

    async def subscribe(self, target: str, *arguments: Any) -> None:
        """Invoke ``target(arguments)`` now (if connected) and after every reconnect."""
        key = (target, msgspec.json.encode(list(arguments)).decode())
        self._subscriptions[key] = (target, arguments)
        if self.connected:
            await self._invoke_serialized(target, arguments)

    async def unsubscribe(self, target: str, undo_target: str, *arguments: Any) -> None:
        """Forget the ``target(arguments)`` subscription and invoke ``undo_target``."""
        key = (target, msgspec.json.encode(list(arguments)).decode())
        self._subscriptions.pop(key, None)
        if self.connected:
            await self._invoke_serialized(undo_target, arguments)

    def pause_reading(self) -> None:
        """Stop reading the socket (TCP pushes back on the Gateway) until resumed."""
        if self._transport is not None:
            self._transport.underlying_transport.pause_reading()

    def resume_reading(self) -> None:
        if self._transport is not None:
            self._transport.underlying_transport.resume_reading()

    def send_nowait(self, target: str, arguments: Sequence[Any]) -> None:
        """A fire-and-forget invocation (no invocationId, no completion)."""
        transport = self._transport
        if transport is None:
            raise ProjectXConnectionError(f"{self.name} hub is not connected")
        from picows import WSMsgType  # loaded by the connect that made the transport

        transport.send(WSMsgType.TEXT, encode_invocation(target, list(arguments)))

    async def invoke(self, target: str, arguments: Sequence[Any]) -> Any:
        """Invoke with an invocationId and wait (bounded) for the completion's result."""
        transport = self._transport
        if transport is None:
            raise ProjectXConnectionError(f"{self.name} hub is not connected")
        from picows import WSMsgType

        self._next_id += 1
        invocation_id = str(self._next_id)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[invocation_id] = future
        try:
            transport.send(
                WSMsgType.TEXT, encode_invocation(target, list(arguments), invocation_id)
            )
            return await asyncio.wait_for(future, self.options.invoke_timeout)
        finally:
            self._pending.pop(invocation_id, None)

    # ------------------------------------------------------------------ connection task

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            reconnect = self._ever_connected
            self._set_state(HubState.RECONNECTING if reconnect else HubState.CONNECTING, {})
            try:
                await self._connect_once(reconnect)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning("%s hub connect failed: %s", self.name, self.stats.last_error)
                self._drop_transport()
                delay = self._backoff(attempt)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            attempt = 0
            self._ever_connected = True
            gap = time.monotonic() - self._down_since if self._down_since else 0.0
            self._down_since = None
            self._set_state(HubState.CONNECTED, {"reconnect": reconnect, "gap_seconds": gap})
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
            watchdog = asyncio.create_task(self._watchdog(), name=f"pxfast-{self.name}-watchdog")
            try:
                await self._lost_event.wait()
            finally:
                watchdog.cancel()
            self.stats.disconnects += 1
            self._down_since = time.monotonic()
            self._drop_transport()
            reason, self._drop_reason = self._drop_reason or "connection closed", None
            self.stats.last_error = reason
            if not self._closing:
                self._set_state(HubState.RECONNECTING, {"reason": reason})

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.options.backoff_max, self.options.backoff_initial * (2**attempt))
        return random.uniform(ceiling * 0.5, ceiling)

    async def _connect_once(self, reconnect: bool) -> None:
        token = await self._token_provider(self._force_login)
        self._force_login = False
        url = await self._socket_url(token)
        self.decoder.reset(handshake=True)
        self._lost_event = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._handshake = loop.create_future()
        opts = self.options

        from picows import WSHandshakeError, WSMsgType, ws_connect

        listener_type = _listener_type()

        def listener_factory() -> WSListener:
            # Known before ws_connect returns, so an immediate drop is not missed.
            self._listener = listener_type(self)
            return self._listener

        try:
            transport, _ = await ws_connect(
                listener_factory,
                url,
                websocket_handshake_timeout=opts.handshake_timeout,
                enable_auto_ping=True,
                auto_ping_idle_timeout=opts.transport_ping_idle,
                auto_ping_reply_timeout=opts.transport_ping_reply,
                max_frame_size=opts.max_frame_size,
                max_redirects=0,
                logger_name=_ws_logger,
            )
        except WSHandshakeError as exc:
            status = getattr(exc.response, "status", None)
            if status is not None and int(status) == 401:
                self._force_login = True  # a stale token: log in afresh next time
            raise ProjectXConnectionError(
                f"{self.name} hub upgrade refused (HTTP {int(status) if status else '?'})"
            ) from None
        self._transport = transport
        if opts.receive_buffer:
            sock = transport.underlying_transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, opts.receive_buffer)
        now = time.monotonic()
        self._last_message = now
        self._last_data = now
        transport.send(WSMsgType.TEXT, HANDSHAKE_REQUEST)
        self._last_ping_sent = now
        reply = await asyncio.wait_for(self._handshake, opts.handshake_timeout)
        if reply.error:
            raise ProjectXConnectionError(f"{self.name} hub handshake refused: {reply.error}")
        if self._on_subscribing is not None:
            self._on_subscribing(reconnect)
        for target, arguments in list(self._subscriptions.values()):
            await self._invoke_serialized(target, arguments)
        self.stats.connects += 1
        if reconnect:
            self.stats.reconnects += 1
        if self._on_connected is not None:
            await self._on_connected(reconnect)

    async def _socket_url(self, token: str) -> str:
        parts = urlsplit(self.url)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "access_token"]
        if self.options.negotiate:
            query.append(("id", await self._negotiate(token)))
        query.append(("access_token", token))
        return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), ""))

    async def _negotiate(self, token: str) -> str:
        from pxfast.client.http import HttpClient

        parts = urlsplit(self.url)
        origin = f"{parts.scheme}://{parts.netloc}"
        client = HttpClient(origin, timeout=self.options.handshake_timeout)
        try:
            response = await client.request(
                "POST",
                f"{parts.path.rstrip('/')}/negotiate?negotiateVersion=1",
                b"",
                {"Authorization": f"Bearer {token}"},
            )
        finally:
            await client.close()
        if response.status != 200:
            if response.status == 401:
                self._force_login = True
            raise ProjectXConnectionError(f"{self.name} hub negotiate: HTTP {response.status}")
        reply = msgspec.json.decode(response.body)
        connection = reply.get("connectionToken") or reply.get("connectionId")
        if not isinstance(connection, str):
            raise ProjectXConnectionError(f"{self.name} hub negotiate: no connection id")
        return connection

    async def _invoke_serialized(self, target: str, arguments: Sequence[Any]) -> None:
        async with self._invoke_lock:
            try:
                await self.invoke(target, arguments)
            except TimeoutError:
                logger.warning(
                    "%s hub: no completion for %s; assuming it applied", self.name, target
                )

    def _drop_transport(self) -> None:
        transport, self._transport = self._transport, None
        self._listener = None
        if transport is not None:
            transport.disconnect()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ProjectXConnectionError(f"{self.name} hub disconnected"))
        self._pending.clear()
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(ProjectXConnectionError(f"{self.name} hub disconnected"))
            self._handshake.exception()

    async def _watchdog(self) -> None:
        from picows import WSMsgType

        opts = self.options
        period = min(1.0, opts.ping_interval / 2, opts.server_timeout / 4)
        if opts.stale_after:
            period = min(period, opts.stale_after / 4)
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            transport = self._transport
            if transport is None:
                return
            if now - self._last_ping_sent >= opts.ping_interval:
                transport.send(WSMsgType.TEXT, PING_MESSAGE)
                self._last_ping_sent = now
            if now - self._last_message > opts.server_timeout:
                self.stats.server_timeouts += 1
                self.reconnect(f"nothing received for {now - self._last_message:.1f}s")
                return
            if (
                opts.stale_after
                and self._subscriptions
                and now - self._last_data > opts.stale_after
            ):
                self.stats.stale_events += 1
                age = now - self._last_data
                if self._on_stale is not None:
                    self._on_stale(age, opts.stale_after)
                self.reconnect(f"market data stale for {age:.1f}s")
                return

    # ------------------------------------------------------------------ listener side

    def _received(self, items: list[Any]) -> None:
        now = time.monotonic()
        self._last_message = now
        self.stats.frames += 1
        if not items:
            return
        self.stats.items += len(items)
        forward = False
        for item in items:
            cls = item.__class__
            if cls is Ping:
                continue
            if cls in _MARKET_DATA:
                self._last_data = now
                forward = True
            elif cls is Completion:
                future = self._pending.get(item.invocation_id)
                if future is not None and not future.done():
                    if item.error:
                        error = ProjectXConnectionError(f"{self.name} hub: {item.error}")
                        future.set_exception(error)
                    else:
                        future.set_result(item.result)
            elif cls is Handshake:
                if self._handshake is not None and not self._handshake.done():
                    self._handshake.set_result(item)
            elif cls is WireError and self._handshake is not None and not self._handshake.done():
                # A reply that is not a handshake: fail fast instead of waiting out the timeout.
                self._handshake.set_result(Handshake(error=item.reason))
            elif cls is Close:
                self.reconnect(f"server closed the hub: {item.error or 'no reason'}")
            elif cls is Logout:
                self.stats.logouts += 1
                self._force_login = True
                self.reconnect("GatewayLogout received")
            else:
                forward = True
        if forward:
            self._on_items(items)

    def _decode(self, payload: bytes | memoryview) -> None:
        try:
            items = self.decoder.feed(payload)
        except Exception:  # the decoder reports bad records as items; this is a bug guard
            logger.exception("%s hub: frame decoder failed", self.name)
            return
        self._received(items)

    def _queue(self, payload: bytes) -> None:
        self._backlog.append(payload)
        self._backlog_bytes += len(payload)
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().call_soon(self._drain)
        if self._backlog_bytes > self.options.backlog_high and not self._paused:
            self._paused = True
            self.stats.pauses += 1
            self.pause_reading()

    def _drain(self) -> None:
        """Decode one slice of the backlog, cut at a record separator; again next turn."""
        backlog = self._backlog
        if not backlog:
            self._draining = False
            return
        limit = self.options.slice_bytes or len(backlog[0])
        frame, start = backlog[0], self._offset
        end = start + limit
        if end >= len(frame):
            end = len(frame)
            backlog.popleft()
            self._offset = 0
        else:
            cut = frame.rfind(RECORD_SEPARATOR, start, end)
            end = cut + 1 if cut >= 0 else end  # a record over a slice: split (the decoder joins)
            self._offset = end
        self._backlog_bytes -= end - start
        self._decode(memoryview(frame)[start:end])
        if self._paused and self._backlog_bytes < self.options.backlog_low:
            self._paused = False
            self.resume_reading()
        if backlog:
            asyncio.get_running_loop().call_soon(self._drain)
        else:
            self._draining = False

    def _flush_backlog(self) -> None:
        """Decode what the lost connection delivered before its decoder is reset."""
        backlog, self._backlog = self._backlog, deque()
        if backlog:
            backlog[0] = backlog[0][self._offset :]
        self._offset = self._backlog_bytes = 0
        self._paused = False
        for frame in backlog:
            self._decode(frame)

    def _lost(self, listener: WSListener) -> None:
        if listener is not self._listener:
            return  # a socket already dropped; its connection is over
        self._flush_backlog()
        self._lost_event.set()
        handshake = self._handshake
        if handshake is not None and not handshake.done():
            handshake.set_exception(ProjectXConnectionError(f"{self.name} hub closed in handshake"))
            handshake.exception()

    def _set_state(self, state: HubState, info: dict[str, Any]) -> None:
        self._state = state
        if self._on_state is not None:
            try:
                self._on_state(state, info)
            except Exception:
                logger.exception("%s hub state callback failed", self.name)

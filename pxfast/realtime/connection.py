"""Both hubs of one session, wired to their state and to the event buses.

``RealtimeConnection`` owns the user hub and the market hub of one logged-in
client.  The user hub feeds the order/position/fill state (with the
reconciliation fence on every connect); the market hub feeds per-contract
quotes.  Connection changes are events too: DISCONNECTED, RECONNECTING,
CONNECTED (with the gap's length) and FEED_STALE, each naming its hub.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pxfast.event_bus import EventBus, EventType
from pxfast.realtime.hub import HubConnection, HubOptions, HubState
from pxfast.realtime.market_stream import MarketStream
from pxfast.realtime.user_stream import RECENT_WINDOW, UserStream

if TYPE_CHECKING:
    from pxfast.client.project_x import ProjectX

__all__ = ["AUDIT_INTERVAL", "MARKET_STALE_AFTER", "RealtimeConnection"]

logger = logging.getLogger(__name__)

#: Default staleness budget of the market feed while subscribed (seconds).
MARKET_STALE_AFTER = 10.0
#: Default period of the user-state audit while orders work or positions are open.
AUDIT_INTERVAL = 30.0
#: Market payload decoded and handled per event-loop turn during a burst: about
#: 45 records, so an order event waits behind at most that much market data
#: (incident #143), never behind a whole burst.  Nothing is dropped or coalesced;
#: a backlog past HubOptions.backlog_high stops the socket being read.
MARKET_SLICE_BYTES = 16 * 1024
#: Kernel receive buffer of the market socket: bounds what one read hands over.
MARKET_RECEIVE_BUFFER = 128 * 1024

_USER_TOPICS = ("Orders", "Positions", "Trades")
_MARKET_TOPICS = ("ContractQuotes", "ContractTrades")


class RealtimeConnection:
    """The user and market hubs of one ``ProjectX`` client."""

    def __init__(
        self,
        client: ProjectX,
        *,
        user_hub_url: str | None = None,
        market_hub_url: str | None = None,
        events: EventBus | None = None,
        router: Callable[[str | None], EventBus] | None = None,
        user_options: HubOptions | None = None,
        market_options: HubOptions | None = None,
        audit_interval: float | None = AUDIT_INTERVAL,
        reconcile_window: timedelta | float = RECENT_WINDOW,
    ) -> None:
        self.client = client
        self.events = events or EventBus()
        route = router or (lambda _contract: self.events)
        self.user = UserStream(client, route, reconcile_window)
        self.market = MarketStream(route)
        if market_options is None:
            market_options = HubOptions(
                stale_after=MARKET_STALE_AFTER,
                receive_buffer=MARKET_RECEIVE_BUFFER,
                slice_bytes=MARKET_SLICE_BYTES,
            )
        self.user_hub = HubConnection(
            "user",
            user_hub_url or client.config.user_hub_url,
            self._token,
            self._user_items,
            options=user_options or HubOptions(),
            on_state=self._state_changed("user"),
            on_connected=self.user.reconcile,
            on_subscribing=self.user.begin_fence,
        )
        self.market_hub = HubConnection(
            "market",
            market_hub_url or client.config.market_hub_url,
            self._token,
            self._market_items,
            options=market_options,
            on_state=self._state_changed("market"),
            on_stale=self._stale,
        )
        #: Extra consumers of each hub's decoded items, after pxfast's own state.
        self.item_listeners: dict[str, list[Callable[[list[Any]], None]]] = {
            "user": [],
            "market": [],
        }
        #: Told of every state change of a hub, (state, info), before any event is
        #: dispatched: state that must not miss a gap (the bars) cannot rely on bus
        #: handlers, which ``off()`` removes.
        self.state_listeners: dict[str, list[Callable[[HubState, dict[str, Any]], None]]] = {
            "user": [],
            "market": [],
        }
        self._depth: set[str] = set()
        self.started_at = 0.0
        self.audit_interval = audit_interval
        self._audit_task: asyncio.Task[None] | None = None
        self.audits = 0

    def _user_items(self, items: list[Any]) -> None:
        self.user.on_items(items)
        for listener in self.item_listeners["user"]:
            listener(items)

    def _market_items(self, items: list[Any]) -> None:
        self.market.on_items(items)
        for listener in self.item_listeners["market"]:
            listener(items)

    async def _token(self, force_login: bool) -> str:
        if force_login:
            await self.client.session.refresh(force_login=True)
        return await self.client.session.token()

    # ------------------------------------------------------------------ lifecycle

    async def connect(self, timeout: float = 15.0) -> None:
        """Connect both hubs, subscribe the account, reconcile; bounded by ``timeout``."""
        account = self.client.get_account_info().id
        await self.user_hub.subscribe("SubscribeAccounts")
        for topic in _USER_TOPICS:
            await self.user_hub.subscribe(f"Subscribe{topic}", account)
        self.started_at = time.monotonic()
        await asyncio.gather(self.user_hub.start(timeout), self.market_hub.start(timeout))
        if self.audit_interval and self._audit_task is None:
            self._audit_task = asyncio.create_task(self._audit_loop(), name="pxfast-audit")

    async def disconnect(self) -> None:
        task, self._audit_task = self._audit_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await asyncio.gather(self.user_hub.stop(), self.market_hub.stop())

    async def audit(self) -> bool:
        """Reconcile the user state with the Gateway now, without reconnecting.

        A hub can lose a message with the socket up (a dropped frame); the
        fence only runs on connect, so while orders work or positions are
        open this runs periodically.  False if a fence is already running.
        """
        user = self.user
        if user.fencing or not self.user_hub.connected:
            return False
        user.begin_fence(False)
        await user.reconcile(False)
        self.audits += 1
        return True

    async def _audit_loop(self) -> None:
        assert self.audit_interval
        while True:
            await asyncio.sleep(self.audit_interval)
            user = self.user
            user.prune()
            busy = user.positions or user.orders.working_ids()
            if not busy:
                continue
            try:
                await self.audit()
            except Exception as exc:  # the fence already reported the gap
                logger.warning("user-state audit failed: %s", exc)

    async def subscribe_market(self, contract_ids: Iterable[str], depth: bool = False) -> None:
        """Quotes and trades (and depth if asked) for each contract, kept across reconnects."""
        for contract_id in contract_ids:
            self.market.state(contract_id)
            for topic in _MARKET_TOPICS:
                await self.market_hub.subscribe(f"Subscribe{topic}", contract_id)
            if depth:
                self._depth.add(contract_id)
                await self.market_hub.subscribe("SubscribeContractMarketDepth", contract_id)

    async def unsubscribe_market(self, contract_ids: Iterable[str]) -> None:
        for contract_id in contract_ids:
            topics = [
                *_MARKET_TOPICS,
                *(["ContractMarketDepth"] if contract_id in self._depth else []),
            ]
            for topic in topics:
                await self.market_hub.unsubscribe(
                    f"Subscribe{topic}", f"Unsubscribe{topic}", contract_id
                )
            self._depth.discard(contract_id)

    # ------------------------------------------------------------------ events

    def _state_changed(self, hub: str) -> Callable[[HubState, dict[str, Any]], None]:
        def changed(state: HubState, info: dict[str, Any]) -> None:
            for listener in self.state_listeners[hub]:
                listener(state, info)
            event = {
                HubState.CONNECTED: EventType.CONNECTED,
                HubState.RECONNECTING: EventType.RECONNECTING,
                HubState.CLOSED: EventType.DISCONNECTED,
            }.get(state)
            if event is None:
                return
            if state is HubState.RECONNECTING and "reason" in info:
                self.events.dispatch(EventType.DISCONNECTED, {"hub": hub, **info}, "RealtimeClient")
            self.events.dispatch(event, {"hub": hub, **info}, "RealtimeClient")

        return changed

    def _stale(self, age: float, threshold: float) -> None:
        self.events.dispatch(
            EventType.FEED_STALE,
            {"hub": "market", "seconds_since_message": age, "threshold_seconds": threshold},
            "RealtimeClient",
        )

    # ------------------------------------------------------------------ health

    def health(self) -> dict[str, Any]:
        """Per-hub transport facts and the session's counters, derived, never scored."""
        hubs = {}
        for hub in (self.user_hub, self.market_hub):
            hubs[hub.name] = {
                "state": hub.state.value,
                "connected": hub.connected,
                "last_message_age": hub.last_message_age(),
                "reconnects": hub.stats.reconnects,
                "disconnects": hub.stats.disconnects,
                "stale_events": hub.stats.stale_events,
                "backlog_bytes": hub.backlog_bytes,
                "read_pauses": hub.stats.pauses,
                "decode_errors": hub.decoder.errors,
                "unknown_targets": hub.decoder.unknown_targets,
                "last_error": hub.stats.last_error,
            }
        hubs["market"]["last_data_age"] = self.market_hub.last_data_age()
        session = self.client.session
        return {
            "hubs": hubs,
            "gaps": self.user.gaps,
            "last_gap": self.user.last_gap,
            "orders_tracked": len(self.user.orders),
            "order_anomalies": self.user.orders.stats().get("illegal", 0),
            "rate_budget": session.budget.usage(),
            "rest": {
                "requests": session.stats.requests,
                "retries": session.stats.retries,
                "uncertain": session.stats.uncertain,
                "http_429": session.stats.http_429,
                "http_5xx": session.stats.http_5xx,
                "decode_errors": session.stats.decode_errors,
            },
        }

"""``ProjectXRealtimeClient``: project-x-py's low-level realtime API over pxfast's hubs.

Bots that skip ``TradingSuite`` build the realtime client from a JWT and an
account id, register callbacks by name (``"order_update"``,
``"quote_update"`` ...) and subscribe themselves.  The callbacks receive what
project-x-py gives them: user events as the Gateway's first argument (the
``{"action", "data"}`` dict), market events as
``{"contract_id": ..., "data": ...}``.  Unlike project-x-py, nothing is
coalesced or dropped under load, every callback runs in wire order, and the
order/position state behind it is reconciled after every reconnect.

The token is the caller's: when it nears expiry, hand the client a new one
with ``update_jwt_token`` (as in project-x-py); a ``ProjectX`` client passed
as ``client=`` is used instead when available, and then tokens renew
themselves.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from pxfast.client.project_x import ProjectX
from pxfast.event_bus import EventBus
from pxfast.messages import (
    DepthEvent,
    QuoteEvent,
    TradeEvent,
    UserAccount,
    UserOrder,
    UserPosition,
    UserTrade,
)
from pxfast.models import Account, ProjectXConfig
from pxfast.realtime.connection import RealtimeConnection

__all__ = ["EVENT_NAMES", "ProjectXRealtimeClient"]

logger = logging.getLogger(__name__)

Callback = Callable[[dict[str, Any]], Awaitable[None] | None]

#: project-x-py's callback names, by the wire item that feeds them.
EVENT_NAMES: dict[type, str] = {
    UserAccount: "account_update",
    UserPosition: "position_update",
    UserOrder: "order_update",
    UserTrade: "trade_execution",
    QuoteEvent: "quote_update",
    TradeEvent: "market_trade",
    DepthEvent: "market_depth",
}
_MARKET = (QuoteEvent, TradeEvent, DepthEvent)


class ProjectXRealtimeClient:
    def __init__(
        self,
        jwt_token: str,
        account_id: str | int,
        user_hub_url: str | None = None,
        market_hub_url: str | None = None,
        config: ProjectXConfig | None = None,
        *,
        client: ProjectX | None = None,
    ) -> None:
        self.config = config or (client.config if client else ProjectXConfig())
        self.account_id = str(account_id)
        self.user_hub_url = user_hub_url or self.config.user_hub_url
        self.market_hub_url = market_hub_url or self.config.market_hub_url
        if client is None:
            client = ProjectX("", "", self.config)
            client.session._adopt(jwt_token)
            client.account_info = Account(int(account_id), "", 0.0, True, True, True)
        self._client = client
        self.callbacks: dict[str, list[Callback]] = {name: [] for name in EVENT_NAMES.values()}
        self.connection = RealtimeConnection(
            client,
            user_hub_url=self.user_hub_url,
            market_hub_url=self.market_hub_url,
            events=EventBus(),
        )
        for listeners in self.connection.item_listeners.values():
            listeners.append(self._deliver)
        self._market_ids: set[str] = set()
        self._tasks: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:
        return f"ProjectXRealtimeClient(account_id={self.account_id!r})"

    def _deliver(self, items: list[Any]) -> None:
        """Callbacks, in wire order, after pxfast's own state took the items in."""
        for item in items:
            name = EVENT_NAMES.get(item.__class__)
            if name is None or not self.callbacks[name]:
                continue
            if item.__class__ in _MARKET:
                data = {"contract_id": item.contract_id, "data": msgspec.to_builtins(item.data)}
            else:
                data = msgspec.to_builtins(item)
                if data.get("action") == -1:  # the Gateway sent the bare model
                    data = data["data"]
            self._call(name, data)

    def _call(self, name: str, data: dict[str, Any]) -> None:
        for callback in self.callbacks[name]:
            try:
                result = callback(data)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
            except Exception:
                logger.exception("realtime callback %s for %s failed", callback, name)

    # ------------------------------------------------------------------ project-x-py API

    async def add_callback(self, event_type: str, callback: Callback) -> None:
        if event_type not in self.callbacks:
            raise ValueError(f"Unknown event type: {event_type}")
        self.callbacks[event_type].append(callback)

    async def remove_callback(self, event_type: str, callback: Callback) -> None:
        if callback in self.callbacks.get(event_type, []):
            self.callbacks[event_type].remove(callback)

    async def connect(self) -> bool:
        """Connect both hubs (user subscriptions included); False if either failed."""
        try:
            await self.connection.connect()
        except Exception as exc:
            logger.error("realtime connect failed: %s", exc)
            return False
        return True

    async def disconnect(self) -> None:
        await self.connection.disconnect()

    async def subscribe_user_updates(self) -> bool:
        # Accounts, orders, positions and trades are subscribed on connect and after
        # every reconnect; this is kept for project-x-py callers.
        return self.connection.user_hub.connected

    async def unsubscribe_user_updates(self) -> bool:
        account = int(self.account_id)
        hub = self.connection.user_hub
        await hub.unsubscribe("SubscribeAccounts", "UnsubscribeAccounts")
        for topic in ("Orders", "Positions", "Trades"):
            await hub.unsubscribe(f"Subscribe{topic}", f"Unsubscribe{topic}", account)
        return True

    async def subscribe_market_data(self, contract_ids: list[str]) -> bool:
        await self.connection.subscribe_market(contract_ids, depth=True)
        self._market_ids.update(contract_ids)
        return True

    async def unsubscribe_market_data(self, contract_ids: list[str]) -> bool:
        await self.connection.unsubscribe_market(contract_ids)
        self._market_ids.difference_update(contract_ids)
        return True

    async def update_jwt_token(self, new_jwt_token: str, timeout: float = 30.0) -> bool:
        """Adopt a fresh token; hubs use it from their next (re)connection."""
        self._client.session._adopt(new_jwt_token)
        return True

    def is_connected(self) -> bool:
        return self.connection.user_hub.connected and self.connection.market_hub.connected

    @property
    def user_connected(self) -> bool:
        return self.connection.user_hub.connected

    @property
    def market_connected(self) -> bool:
        return self.connection.market_hub.connected

    def get_stats(self) -> dict[str, Any]:
        health = self.connection.health()
        return {
            "user_connected": self.user_connected,
            "market_connected": self.market_connected,
            "subscribed_contracts": sorted(self._market_ids),
            **health,
        }

    async def cleanup(self) -> None:
        await self.disconnect()

"""The position state: live positions, closing them, and what happened to them.

A position's ``size`` is a magnitude and its direction is ``type``, exactly
as the Gateway and project-x-py have it (a signed size would break every
real bot); ``Position.signed_size`` gives the signed view.  Positions are
read from the user stream (kept whole by the reconciliation fence) and over
REST only when there is no live stream.

Every opened, changed and closed position seen on the event bus is kept in
a bounded history and counted (closed positions with the P&L the Gateway
booked), which is what the statistics and reports are made of.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from pxfast.client import gateway as ep
from pxfast.client import schema
from pxfast.event_bus import Event, EventBus, EventType
from pxfast.exceptions import ProjectXError, ProjectXPositionError
from pxfast.models import Position, parse_timestamp

if TYPE_CHECKING:
    from pxfast.client.project_x import ProjectX
    from pxfast.order_manager import OrderManager
    from pxfast.realtime.connection import RealtimeConnection
    from pxfast.realtime_data_manager import RealtimeDataManager
    from pxfast.risk_manager import RiskManager

__all__ = ["HISTORY_SIZE", "PositionCore"]

logger = logging.getLogger(__name__)

#: Position changes kept per contract (project-x-py keeps 1000).
HISTORY_SIZE = 1000
_POSITION_EVENTS = (
    EventType.POSITION_OPENED,
    EventType.POSITION_UPDATED,
    EventType.POSITION_CLOSED,
)


def _new_stats() -> dict[str, Any]:
    return {
        "positions_opened": 0,
        "closed_positions": 0,
        "positions_closed": 0,
        "winning_positions": 0,
        "losing_positions": 0,
        "realized_pnl": 0.0,
        "gross_profit": 0.0,
        "gross_loss": 0.0,
        "best_position_pnl": 0.0,
        "worst_position_pnl": 0.0,
        "max_drawdown": 0.0,
        "position_updates": 0,
        "risk_calculations": 0,
        "last_position_update": None,
        "monitoring_started": None,
    }


class PositionCore:
    def __init__(
        self,
        project_x_client: ProjectX,
        event_bus: EventBus | None = None,
        risk_manager: RiskManager | None = None,
        data_manager: RealtimeDataManager | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.project_x = project_x_client
        self.event_bus = event_bus or EventBus()
        self.risk_manager = risk_manager
        self.data_manager = data_manager
        self.config = dict(config or {})
        self.realtime: RealtimeConnection | None = None
        self.order_manager: OrderManager | None = None
        self.position_history: dict[str, deque[dict[str, Any]]] = {}
        self.stats = _new_stats()
        self._snapshot: dict[str, Position] = {}
        self._sizes: dict[str, int] = {}
        #: Minutes each closed position was held (from its creation to the close).
        self._hold_minutes: list[float] = []
        self._equity = self._peak = Decimal(0)
        self._subscribed = False
        # Alerts and monitoring (monitoring.py).
        self.position_alerts: dict[str, dict[str, Any]] = {}
        self._alert_point_values: dict[str, Decimal] = {}
        self._alert_listeners: dict[str, Callable[[float, float], None]] = {}
        self._monitoring_active = False
        self._monitoring_task: asyncio.Task[None] | None = None

    async def initialize(
        self,
        realtime_client: RealtimeConnection | None = None,
        order_manager: OrderManager | None = None,
    ) -> bool:
        """Attach the live user stream; with an order manager, a flat position cancels its exits."""
        self.realtime = realtime_client
        self.order_manager = order_manager
        if realtime_client is not None and order_manager is not None:
            realtime_client.user.position_closed_listeners.append(self._position_closed)
            realtime_client.user.position_resized_listeners.append(self._position_resized)
        if not self._subscribed:
            for event in _POSITION_EVENTS:
                await self.event_bus.on(event, self._on_position_event)
            self._subscribed = True
        return True

    def _position_closed(self, contract_id: str) -> None:
        manager = self.order_manager
        if manager is None or contract_id not in manager.position_orders:
            return
        manager._spawn(manager.on_position_closed(contract_id), f"pxfast-flat-{contract_id}")

    def _position_resized(self, contract_id: str, old_size: int, new_size: int) -> None:
        """A trimmed position: shrink its tracked exits so none can reverse it.

        Only a decrease resizes: a larger position may be one whose new entry
        brought its own exits, and growing protective orders is the caller's call.
        """
        manager = self.order_manager
        if manager is None or contract_id not in manager.position_orders or new_size >= old_size:
            return
        manager._spawn(
            manager.on_position_changed(contract_id, old_size, new_size),
            f"pxfast-resize-{contract_id}",
        )

    # ------------------------------------------------------------------ history and counts

    def _on_position_event(self, event: Event) -> None:
        data = event.data
        if not isinstance(data, dict) or "contractId" not in data:
            return
        contract = str(data["contractId"])
        size = int(data.get("size") or 0)
        now = datetime.now()
        self.position_history.setdefault(contract, deque(maxlen=HISTORY_SIZE)).append(
            {
                "timestamp": now,
                "position": dict(data),
                "size_change": size - self._sizes.get(contract, 0),
            }
        )
        self._sizes[contract] = size
        stats = self.stats
        stats["position_updates"] += 1
        stats["last_position_update"] = now
        if event.type is EventType.POSITION_OPENED:
            stats["positions_opened"] += 1
        elif event.type is EventType.POSITION_CLOSED:
            self._sizes.pop(contract, None)
            pnl = data.get("pnl")
            self._count_close(float(pnl) if isinstance(pnl, int | float) else 0.0, data)

    def _count_close(self, pnl: float, data: dict[str, Any]) -> None:
        stats = self.stats
        stats["closed_positions"] += 1
        stats["positions_closed"] = stats["closed_positions"]
        stats["realized_pnl"] = float(Decimal(str(stats["realized_pnl"])) + Decimal(str(pnl)))
        if pnl > 0:
            stats["winning_positions"] += 1
            stats["gross_profit"] = float(Decimal(str(stats["gross_profit"])) + Decimal(str(pnl)))
            stats["best_position_pnl"] = max(stats["best_position_pnl"], pnl)
        else:
            stats["losing_positions"] += 1
            stats["gross_loss"] = float(Decimal(str(stats["gross_loss"])) - Decimal(str(pnl)))
            stats["worst_position_pnl"] = min(stats["worst_position_pnl"], pnl)
        self._equity += Decimal(str(pnl))
        self._peak = max(self._peak, self._equity)
        stats["max_drawdown"] = float(
            max(Decimal(str(stats["max_drawdown"])), self._peak - self._equity)
        )
        opened = parse_timestamp(data.get("creationTimestamp"))
        if opened is not None:
            self._hold_minutes.append((datetime.now(UTC) - opened).total_seconds() / 60)

    # ------------------------------------------------------------------ reading positions

    def _live(self) -> bool:
        return self.realtime is not None and self.realtime.user.reconciled.is_set()

    async def _resolve(self, contract_id: str) -> str:
        return await self.project_x.resolve_contract_id(contract_id)

    @property
    def tracked_positions(self) -> dict[str, Position]:
        """Open positions by contract id (live when the user hub is up, else the last fetch)."""
        if self._live():
            assert self.realtime is not None
            return {c: Position.from_update(p) for c, p in self.realtime.user.positions.items()}
        return dict(self._snapshot)

    def _held(self, contract_id: str) -> Position | None:
        """One open position without building the others (alerts call this per print)."""
        if self._live():
            assert self.realtime is not None
            return self.realtime.user.position(contract_id)
        return self._snapshot.get(contract_id)

    def _live_price(self, contract_id: str) -> float | None:
        """The market hub's current price of a contract, None without a quote or trade."""
        if self.realtime is None:
            return None
        return self.realtime.market.current_price(contract_id)

    async def _point_value(self, contract_id: str) -> Decimal:
        """Dollars per point of one contract (``Instrument.contractSize``: tickValue / tickSize)."""
        return (await self.project_x.get_instrument(contract_id)).contractSize

    async def get_all_positions(self, account_id: int | None = None) -> list[Position]:
        """Open positions (size > 0): live when the user hub is up, else over REST."""
        if self._live() and account_id is None:
            return list(self.tracked_positions.values())
        rows = await self.project_x.search_position_updates(account_id)
        positions = [Position.from_update(p) for p in rows if p.size]
        self._snapshot = {p.contractId: p for p in positions}
        return positions

    async def get_position(
        self, contract_id: str, account_id: int | None = None
    ) -> Position | None:
        """The position in ``contract_id`` (a symbol like "MNQ" is resolved); never raises."""
        try:
            contract = await self._resolve(contract_id)
            if self._live() and account_id is None:
                assert self.realtime is not None
                return self.realtime.user.position(contract)
            for position in await self.get_all_positions(account_id):
                if position.contractId == contract:
                    return position
        except ProjectXError as exc:
            logger.warning("get_position(%s) failed: %s", contract_id, exc)
        return None

    async def refresh_positions(self, account_id: int | None = None) -> bool:
        try:
            await self.get_all_positions(account_id)
        except ProjectXError:
            return False
        return True

    async def is_position_open(self, contract_id: str, account_id: int | None = None) -> bool:
        position = await self.get_position(contract_id, account_id)
        return position is not None and position.size > 0

    # ------------------------------------------------------------------ closing

    async def close_position_direct(
        self, contract_id: str, account_id: int | None = None
    ) -> dict[str, Any]:
        """Position/closeContract: flatten at market; ``{"success", "error"}``."""
        contract = await self._resolve(contract_id)
        body = {"accountId": self._account(account_id), "contractId": contract}
        reply = cast(schema.Envelope, await self.project_x.session.call(ep.POSITION_CLOSE, body))
        return {"success": reply.success, "error": reply.errorMessage, "errorCode": reply.errorCode}

    async def partially_close_position(
        self, contract_id: str, close_size: int, account_id: int | None = None
    ) -> dict[str, Any]:
        if isinstance(close_size, bool) or not isinstance(close_size, int) or close_size <= 0:
            raise ProjectXPositionError(f"Invalid close size: {close_size}")
        contract = await self._resolve(contract_id)
        body = {"accountId": self._account(account_id), "contractId": contract, "size": close_size}
        reply = cast(
            schema.Envelope, await self.project_x.session.call(ep.POSITION_PARTIAL_CLOSE, body)
        )
        return {"success": reply.success, "error": reply.errorMessage, "errorCode": reply.errorCode}

    async def close_all_positions(
        self, contract_id: str | None = None, account_id: int | None = None
    ) -> dict[str, Any]:
        target = await self._resolve(contract_id) if contract_id else None
        result: dict[str, Any] = {"total_positions": 0, "closed": 0, "failed": 0, "errors": []}
        for position in await self.get_all_positions(account_id):
            if target is not None and position.contractId != target:
                continue
            result["total_positions"] += 1
            outcome = await self.close_position_direct(position.contractId, account_id)
            if outcome["success"]:
                result["closed"] += 1
            else:
                result["failed"] += 1
                result["errors"].append({"contract_id": position.contractId, **outcome})
        return result

    async def close_position_by_contract(
        self, contract_id: str, close_size: int | None = None, account_id: int | None = None
    ) -> dict[str, Any]:
        if close_size is None:
            return await self.close_position_direct(contract_id, account_id)
        return await self.partially_close_position(contract_id, close_size, account_id)

    def _account(self, account_id: int | None) -> int:
        if account_id is not None:
            return account_id
        return self.project_x.get_account_info().id

    async def cleanup(self) -> None:
        """Stop listening and forget the history (the positions themselves stay live)."""
        if self._subscribed:
            for event in _POSITION_EVENTS:
                await self.event_bus.off(event, self._on_position_event)
            self._subscribed = False
        if self.realtime is not None and self._position_closed in (
            listeners := self.realtime.user.position_closed_listeners
        ):
            listeners.remove(self._position_closed)
        self.position_history.clear()
        self.order_manager = None

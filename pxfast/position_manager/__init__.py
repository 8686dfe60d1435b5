"""``PositionManager``: positions live from the user hub, reconciled by the fence.

A position's ``size`` is a magnitude and its direction is ``type``, exactly
as the Gateway and project-x-py have it (a signed size would break every
real bot); ``Position.signed_size`` gives the signed view.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from pxfast.client import gateway as ep
from pxfast.client import schema
from pxfast.event_bus import EventBus
from pxfast.exceptions import ProjectXError, ProjectXPositionError
from pxfast.models import Position

if TYPE_CHECKING:
    from pxfast.client.project_x import ProjectX
    from pxfast.order_manager import OrderManager
    from pxfast.realtime.connection import RealtimeConnection

__all__ = ["PositionManager"]

logger = logging.getLogger(__name__)


class PositionManager:
    def __init__(
        self,
        project_x_client: ProjectX,
        event_bus: EventBus | None = None,
        risk_manager: Any = None,
        data_manager: Any = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.project_x = project_x_client
        self.event_bus = event_bus or EventBus()
        self.risk_manager = risk_manager
        self.data_manager = data_manager
        self.config = dict(config or {})
        self.realtime: RealtimeConnection | None = None
        self.order_manager: OrderManager | None = None
        self._snapshot: dict[str, Position] = {}

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
        return True

    def _position_closed(self, contract_id: str) -> None:
        manager = self.order_manager
        if manager is None or contract_id not in manager.position_orders:
            return
        manager._spawn(manager.on_position_closed(contract_id), f"pxfast-flat-{contract_id}")

    def _live(self) -> bool:
        return self.realtime is not None and self.realtime.user.reconciled.is_set()

    async def _resolve(self, contract_id: str) -> str:
        return await self.project_x.resolve_contract_id(contract_id)

    async def get_all_positions(self, account_id: int | None = None) -> list[Position]:
        """Open positions (size > 0): live when the user hub is up, else over REST."""
        if self._live() and account_id is None:
            assert self.realtime is not None
            return [Position.from_update(p) for p in self.realtime.user.positions.values()]
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

"""Orders tied to a position: closing it, protecting it, and keeping its exits in step.

A protective order's side comes from the live position (``Position.type``;
its ``size`` is always a magnitude), never from the caller, and its price is
checked against the position's average price: a long's stop must be below
it, a short's above.  That check is what turns the guide's long-branch stop
placed on a *short* position into a clear error instead of a marketable
buy stop.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from pxfast.event_bus import EventType
from pxfast.exceptions import ProjectXError, ProjectXOrderError
from pxfast.messages import PositionUpdate
from pxfast.models import OrderPlaceResponse
from pxfast.order_manager.core import OrderCore, PriceLike, _check_price
from pxfast.types.trading import OrderType, PositionType

__all__ = ["PositionOrders"]

_ROLE_SLOTS = {"entry": "entry_orders", "stop": "stop_orders", "target": "target_orders"}


class PositionOrders(OrderCore):
    async def _position(self, contract_id: str, account_id: int | None) -> PositionUpdate | None:
        """The live position (user hub), else the Gateway's view of it."""
        account = self._check_account(account_id)
        if self.stream is not None and self.stream.reconciled.is_set():
            return self.stream.positions.get(contract_id)
        try:
            rows = await self.project_x.search_position_updates(account)
        except ProjectXError as exc:
            raise ProjectXOrderError(f"Failed to fetch positions: {exc}") from exc
        return next((p for p in rows if p.contractId == contract_id), None)

    async def close_position(
        self,
        contract_id: str,
        method: str = "market",
        limit_price: PriceLike | None = None,
        account_id: int | None = None,
    ) -> OrderPlaceResponse | None:
        """Flatten with a market (or limit) order on the opposite side; None if flat."""
        if method not in ("market", "limit"):
            raise ProjectXOrderError(f"Invalid close method: {method}. Must be 'market' or 'limit'")
        if method == "limit" and limit_price is None:
            raise ProjectXOrderError("Limit price required for limit close")
        contract = (await self._instrument(contract_id)).id
        position = await self._position(contract, account_id)
        if position is None:
            return None
        if position.size == 0:
            raise ProjectXOrderError(f"Position for {contract} is already flat (size=0)")
        side = 1 if position.type == PositionType.LONG else 0
        if method == "market":
            return await self.place_market_order(contract, side, position.size, account_id)
        assert limit_price is not None
        return await self.place_limit_order(contract, side, position.size, limit_price, account_id)

    async def _protective(
        self,
        contract_id: str,
        price: PriceLike,
        size: int | None,
        account_id: int | None,
        role: str,
    ) -> tuple[str, PositionUpdate, int]:
        _check_price("stop_price" if role == "stop" else "limit_price", price)
        contract = (await self._instrument(contract_id)).id
        position = await self._position(contract, account_id)
        if position is None or position.size == 0:
            raise ProjectXOrderError(f"No position found for {contract}")
        average = Decimal(str(position.averagePrice))
        value = Decimal(str(price))
        long = position.type == PositionType.LONG
        if role == "stop":
            if long and value >= average:
                raise ProjectXOrderError(
                    f"Stop price ({price}) must be below entry price ({position.averagePrice}) "
                    "for long position"
                )
            if not long and value <= average:
                raise ProjectXOrderError(
                    f"Stop price ({price}) must be above entry price ({position.averagePrice}) "
                    "for short position"
                )
        else:
            if long and value <= average:
                raise ProjectXOrderError(
                    f"Take profit price ({price}) must be above entry price "
                    f"({position.averagePrice}) for long position"
                )
            if not long and value >= average:
                raise ProjectXOrderError(
                    f"Take profit price ({price}) must be below entry price "
                    f"({position.averagePrice}) for short position"
                )
        quantity = position.size if size is None else size
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ProjectXOrderError(f"Invalid order size: {quantity}")
        return contract, position, quantity

    async def add_stop_loss(
        self,
        contract_id: str,
        stop_price: PriceLike,
        size: int | None = None,
        account_id: int | None = None,
    ) -> OrderPlaceResponse | None:
        """A stop on the opposite side of the position, below a long / above a short."""
        contract, position, quantity = await self._protective(
            contract_id, stop_price, size, account_id, "stop"
        )
        side = 1 if position.type == PositionType.LONG else 0
        response = await self.place_stop_order(contract, side, quantity, stop_price, account_id)
        await self.track_order_for_position(contract, response.orderId, "stop")
        return response

    async def add_take_profit(
        self,
        contract_id: str,
        limit_price: PriceLike,
        size: int | None = None,
        account_id: int | None = None,
    ) -> OrderPlaceResponse | None:
        contract, position, quantity = await self._protective(
            contract_id, limit_price, size, account_id, "target"
        )
        side = 1 if position.type == PositionType.LONG else 0
        response = await self.place_limit_order(contract, side, quantity, limit_price, account_id)
        await self.track_order_for_position(contract, response.orderId, "target")
        return response

    async def place_position_exit_order(
        self,
        contract_id: str,
        stop_price: PriceLike,
        position_size: int | None = None,
        *,
        account_id: int | None = None,
    ) -> OrderPlaceResponse:
        """The guide's protective stop: validated like ``add_stop_loss``; raises if flat."""
        response = await self.add_stop_loss(contract_id, stop_price, position_size, account_id)
        assert response is not None
        return response

    # ------------------------------------------------------------------ tracking

    async def track_order_for_position(
        self,
        contract_id: str,
        order_id: int,
        order_type: str | OrderType = "entry",
        account_id: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        role = order_type if isinstance(order_type, str) else _role_of_type(order_type)
        slot = _ROLE_SLOTS.get(role.lower())
        if slot is None:
            raise ValueError(f"Unknown position order type {order_type!r}")
        slots = self.position_orders.setdefault(
            contract_id, {"entry_orders": [], "stop_orders": [], "target_orders": []}
        )
        if order_id not in slots[slot]:
            slots[slot].append(order_id)
        self.order_to_position[order_id] = contract_id

    async def get_position_orders(
        self,
        contract_id: str,
        order_types: list[str] | None = None,
        status: str | None = None,
    ) -> dict[str, list[int]]:
        slots = self.position_orders.get(contract_id, {})
        wanted = {_ROLE_SLOTS[t] for t in order_types} if order_types else set(_ROLE_SLOTS.values())
        result = {}
        for slot in _ROLE_SLOTS.values():
            ids = list(slots.get(slot, [])) if slot in wanted else []
            if status == "working":
                ids = [i for i in ids if self.orders.status(i) in (1, 6, 7, 8)]
            result[slot] = ids
        return result

    async def cancel_position_orders(
        self,
        contract_id: str,
        order_types: list[str] | None = None,
        account_id: int | None = None,
    ) -> dict[str, Any]:
        orders = await self.get_position_orders(contract_id, order_types)
        ids = [i for ids in orders.values() for i in ids if self.orders.status(i) in (-1, 1, 6, 8)]
        outcomes = await asyncio.gather(
            *(self.cancel_order(i, account_id) for i in ids), return_exceptions=True
        )
        cancelled = [i for i, ok in zip(ids, outcomes, strict=True) if ok is True]
        for order_id in cancelled:
            self.untrack_order(order_id)
        return {"cancelled_count": len(cancelled), "cancelled_orders": cancelled}

    async def update_position_order_sizes(
        self, contract_id: str, new_size: int, account_id: int | None = None
    ) -> dict[str, Any]:
        orders = await self.get_position_orders(contract_id, ["stop", "target"], "working")
        updated = []
        for order_id in orders["stop_orders"] + orders["target_orders"]:
            if await self.modify_order(order_id, size=new_size):
                updated.append(order_id)
        return {"updated": updated}

    async def sync_orders_with_position(
        self,
        contract_id: str,
        target_size: int,
        cancel_orphaned: bool = True,
        account_id: int | None = None,
    ) -> dict[str, Any]:
        if target_size == 0 and cancel_orphaned:
            cancelled = await self.cancel_position_orders(contract_id, ["stop", "target"])
            return {"updated": [], "cancelled": cancelled["cancelled_orders"]}
        result = await self.update_position_order_sizes(contract_id, target_size, account_id)
        return {"updated": result["updated"], "cancelled": []}

    async def on_position_changed(
        self, contract_id: str, old_size: int, new_size: int, account_id: int | None = None
    ) -> None:
        """Keep the tracked exits within the position: cancel them when flat, shrink
        them when it shrank (a larger position keeps its exits as they are)."""
        if new_size == 0:
            await self.on_position_closed(contract_id, account_id)
        elif abs(new_size) < abs(old_size):
            await self._shrink_exits(contract_id, abs(new_size))

    async def _shrink_exits(self, contract_id: str, size: int) -> None:
        """Reduce each side's working exits (stops; targets) to at most ``size`` in total.

        The newest exits give up lots first, and an exit that would reach zero is
        cancelled, so several brackets on one position keep their own sizes and
        no fill can reverse the position.  A refusal (the exit just filled or was
        cancelled) is reported as a WARNING and the others are still shrunk.
        """
        tracked = await self.get_position_orders(contract_id, ["stop", "target"], "working")
        for ids in (tracked["stop_orders"], tracked["target_orders"]):
            live = {i: u for i in ids if (u := self.orders.get(i)) is not None}
            excess = sum(u.size - (u.fillVolume or 0) for u in live.values()) - size
            for order_id in sorted(live, reverse=True):
                if excess <= 0:
                    break
                update = live[order_id]
                remaining = update.size - (update.fillVolume or 0)
                cut = min(excess, remaining)
                excess -= cut
                try:
                    if cut == remaining:
                        await self.cancel_order(order_id)
                    else:
                        await self.modify_order(order_id, size=update.size - cut)
                except ProjectXError as exc:
                    self.event_bus.dispatch(
                        EventType.WARNING,
                        {"kind": "exit_resize_failed", "order_id": order_id, "error": str(exc)},
                        "OrderManager",
                    )

    async def on_position_closed(self, contract_id: str, account_id: int | None = None) -> None:
        """A flat position: cancel the remaining exits of its brackets (both modes), and
        stop tracking its finished orders (a long session would otherwise keep them all).
        """
        await self.cancel_position_orders(contract_id, ["stop", "target"], account_id)
        slots = self.position_orders.get(contract_id, {})
        for order_id in [i for ids in slots.values() for i in ids]:
            if self.orders.status(order_id) in (2, 3, 4, 5):
                self.untrack_order(order_id)


def _role_of_type(order_type: OrderType) -> str:
    if order_type == OrderType.STOP:
        return "stop"
    if order_type == OrderType.LIMIT:
        return "target"
    return "entry"

"""Order management: ``OrderManager`` (placement, tracking, brackets, OCO, position orders)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pxfast.event_bus import EventType
from pxfast.exceptions import ProjectXOrderError
from pxfast.models import BracketOrderResponse, OrderPlaceResponse
from pxfast.order_manager.brackets import BracketOrders
from pxfast.order_manager.core import DEFAULT_CONFIG, OrderManagerConfig, PriceLike
from pxfast.order_manager.position_orders import PositionOrders
from pxfast.order_templates import OrderTemplate

__all__ = ["DEFAULT_CONFIG", "OrderManager", "OrderManagerConfig"]

_LEGACY_CALLBACKS = {
    "order_placed": EventType.ORDER_PLACED,
    "order_filled": EventType.ORDER_FILLED,
    "order_partial_fill": EventType.ORDER_PARTIAL_FILL,
    "order_cancelled": EventType.ORDER_CANCELLED,
    "order_rejected": EventType.ORDER_REJECTED,
    "order_expired": EventType.ORDER_EXPIRED,
    "order_modified": EventType.ORDER_MODIFIED,
}


class OrderManager(BracketOrders, PositionOrders):
    """Everything project-x-py's OrderManager does, plus the guide's additions."""

    async def place_from_template(
        self,
        template: OrderTemplate,
        contract_id: str | None = None,
        reference_price: PriceLike | None = None,
    ) -> BracketOrderResponse | OrderPlaceResponse:
        """Place ``template`` around ``reference_price`` (default: the current price)."""
        if not isinstance(template, OrderTemplate):
            raise TypeError(f"place_from_template needs an OrderTemplate, got {template!r}")
        instrument = await self._instrument(
            self.default_contract_id if contract_id is None else contract_id
        )
        tick = self._tick(instrument)
        if reference_price is None:
            reference = await self._reference_price(instrument.id, tick)
            if reference is None:
                raise ProjectXOrderError(f"No current price for {instrument.id}; give a reference")
        else:
            reference = Decimal(str(reference_price))
        offset = Decimal(str(template.entry_offset)) if template.entry_offset else Decimal(0)
        buy = template.side == 0
        kind = template.order_type
        if kind == "bracket":
            entry = (reference - offset if buy else reference + offset) if offset else None
            return await self.place_bracket_order(
                instrument.id,
                template.side,
                template.size,
                entry_price=entry,
                stop_offset=template.stop_offset,
                target_offset=template.target_offset,
                time_in_force=template.time_in_force,
            )
        if kind == "market":
            return await self.place_market_order(
                instrument.id, template.side, template.size, time_in_force=template.time_in_force
            )
        if kind == "limit":
            price = reference - offset if buy else reference + offset
            return await self.place_limit_order(
                instrument.id,
                template.side,
                template.size,
                price,
                time_in_force=template.time_in_force,
            )
        price = reference + offset if buy else reference - offset
        return await self.place_stop_order(
            instrument.id,
            template.side,
            template.size,
            price,
            time_in_force=template.time_in_force,
        )

    async def add_callback(self, event_type: str, callback: Any) -> None:
        """Deprecated project-x-py API: register ``callback`` for an order event name."""
        event = _LEGACY_CALLBACKS.get(event_type)
        if event is None:
            raise ValueError(f"Unknown order event type: {event_type}")
        await self.event_bus.on(event, callback)

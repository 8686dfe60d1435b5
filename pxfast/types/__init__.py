"""Enums and type names shared by the client and the simulator."""

from pxfast.types.trading import (
    AggregateBarUnit,
    DomType,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionType,
    TradeLogType,
)

__all__ = [
    "AggregateBarUnit",
    "DomType",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PositionType",
    "TradeLogType",
]

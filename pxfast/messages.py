"""Typed Gateway payloads, shared by the wire decoder, the order table and the simulator.

These are msgspec Structs, decoded straight from the wire with decoders built
once per type.  Field names are the Gateway's camelCase keys and the field
order is the Gateway's key order, so the simulator encodes exactly what the
real hubs send.  The user-facing dataclasses in ``pxfast.models`` are built
from these only when a caller asks for one.

Prices are floats here because that is what a JSON number decodes to; the
compiled core turns them into exact integers through the number's shortest
repr, never through its binary value.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "AccountUpdate",
    "Bar",
    "Close",
    "Completion",
    "DepthEntry",
    "DepthEvent",
    "Handshake",
    "Logout",
    "MarketTrade",
    "OrderUpdate",
    "Ping",
    "PositionUpdate",
    "Quote",
    "QuoteEvent",
    "TradeEvent",
    "TradeUpdate",
    "UnknownInvocation",
    "UserAccount",
    "UserOrder",
    "UserPosition",
    "UserTrade",
    "WireError",
]


# --------------------------------------------------------------------------
# Models (REST bodies and the ``data`` of user-hub events)
# --------------------------------------------------------------------------


class OrderUpdate(msgspec.Struct, kw_only=True, gc=False):
    """One Gateway order as REST returns it and as GatewayUserOrder carries it."""

    id: int
    accountId: int
    contractId: str
    symbolId: str | None = None
    creationTimestamp: str
    updateTimestamp: str | None = None
    status: int
    type: int
    side: int
    size: int
    limitPrice: float | None = None
    stopPrice: float | None = None
    fillVolume: int | None = None
    filledPrice: float | None = None
    customTag: str | None = None
    trailPrice: float | None = None
    trailDistance: int | None = None
    parentOrderId: int | None = None
    linkedOrderId: int | None = None


class PositionUpdate(msgspec.Struct, kw_only=True, gc=False):
    """Position row; ``size`` is a magnitude, direction is ``type``; size 0 means flat."""

    id: int | None = None
    accountId: int
    contractId: str
    contractDisplayName: str | None = None
    creationTimestamp: str | None = None
    type: int
    size: int
    averagePrice: float


class TradeUpdate(msgspec.Struct, kw_only=True, gc=False):
    """One fill (a half-turn); ``profitAndLoss`` is None when it opened or added."""

    id: int
    accountId: int
    contractId: str
    creationTimestamp: str
    price: float
    profitAndLoss: float | None = None
    fees: float | None = None
    commissions: float | None = None
    side: int
    size: int
    voided: bool = False
    orderId: int


class AccountUpdate(msgspec.Struct, kw_only=True, gc=False):
    id: int
    name: str
    balance: float
    canTrade: bool
    isVisible: bool
    simulated: bool


class Quote(msgspec.Struct, kw_only=True, gc=False):
    """GatewayQuote data; every field may be missing from a partial quote."""

    symbol: str | None = None
    symbolName: str | None = None
    lastPrice: float | None = None
    bestBid: float | None = None
    bestAsk: float | None = None
    change: float | None = None
    changePercent: float | None = None
    open: float | None = None
    high: float | None = None
    low: float | None = None
    volume: float | None = None
    lastUpdated: str | None = None
    timestamp: str | None = None


class MarketTrade(msgspec.Struct, kw_only=True, gc=False):
    """One print of GatewayTrade; ``type`` is the aggressor (0 buy, 1 sell)."""

    symbolId: str | None = None
    price: float
    timestamp: str | None = None
    type: int | None = None
    volume: float = 0.0


class DepthEntry(msgspec.Struct, kw_only=True, gc=False):
    """One GatewayDepth entry; ``type`` is a DomType."""

    timestamp: str | None = None
    type: int
    price: float
    volume: float = 0.0
    currentVolume: float | None = None


class Bar(msgspec.Struct, gc=False):
    """History/retrieveBars row (short keys, as the Gateway sends them)."""

    t: str
    o: float
    h: float
    l: float  # noqa: E741 - the Gateway's key
    c: float
    v: int | float


# --------------------------------------------------------------------------
# Hub items: what the wire decoder yields, one per SignalR record
# --------------------------------------------------------------------------
# The user-hub items double as the ``{"action", "data"}`` wrapper the Gateway
# sends, so the same class decodes the wire and encodes it in the simulator.
# ``action`` is -1 when the Gateway sent the bare model without the wrapper.


class UserOrder(msgspec.Struct, gc=False):
    action: int
    data: OrderUpdate


class UserPosition(msgspec.Struct, gc=False):
    action: int
    data: PositionUpdate


class UserTrade(msgspec.Struct, gc=False):
    action: int
    data: TradeUpdate


class UserAccount(msgspec.Struct, gc=False):
    action: int
    data: AccountUpdate


class QuoteEvent(msgspec.Struct, gc=False):
    contract_id: str
    data: Quote


class TradeEvent(msgspec.Struct, gc=False):
    """GatewayTrade; a single-object payload is normalised to a one-element list."""

    contract_id: str
    data: list[MarketTrade]


class DepthEvent(msgspec.Struct, gc=False):
    """GatewayDepth; a single-object payload is normalised to a one-element list."""

    contract_id: str
    data: list[DepthEntry]


class Logout(msgspec.Struct):
    """GatewayLogout: the session was ended by the Gateway (payload undocumented)."""

    arguments: list[Any]


class Handshake(msgspec.Struct, gc=False):
    """The handshake reply: ``{}`` (error None) or ``{"error": ...}``."""

    error: str | None = None


class Ping(msgspec.Struct, gc=False):
    pass


class Completion(msgspec.Struct):
    invocation_id: str
    result: Any = None
    error: str | None = None


class Close(msgspec.Struct, gc=False):
    error: str | None = None
    allow_reconnect: bool | None = None


class UnknownInvocation(msgspec.Struct):
    """An invocation whose target this client does not handle (counted, not fatal)."""

    target: str
    arguments: list[Any]


class WireError(msgspec.Struct, gc=False):
    """A record that could not be decoded; ``record`` holds (a prefix of) its bytes."""

    reason: str
    record: bytes

"""REST request and response bodies of the Gateway, as msgspec Structs.

Requests encode exactly the keys project-x-py sends (prices as JSON numbers,
optional keys only when set); responses decode straight into typed Structs
with one decoder per type, built once.  Payload models (orders, positions,
trades, accounts, bars) are the shared ones from ``pxfast.messages``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from pxfast.messages import AccountUpdate, Bar, OrderUpdate, PositionUpdate, TradeUpdate

__all__ = [
    "AccountsResponse",
    "BarsResponse",
    "BracketSpec",
    "Contract",
    "ContractResponse",
    "ContractsResponse",
    "Envelope",
    "LoginResponse",
    "ModifyOrderRequest",
    "OrderResponse",
    "OrdersResponse",
    "PlaceOrderRequest",
    "PlaceOrderResponse",
    "PositionsResponse",
    "TradesResponse",
    "ValidateResponse",
    "decoder",
    "encode",
]

Price = float | Decimal


class Envelope(msgspec.Struct, kw_only=True):
    success: bool = False
    errorCode: int = 0
    errorMessage: str | None = None


class LoginResponse(Envelope, kw_only=True):
    token: str | None = None


class ValidateResponse(Envelope, kw_only=True):
    newToken: str | None = None
    token: str | None = None


class AccountsResponse(Envelope, kw_only=True):
    accounts: list[AccountUpdate] = []


class Contract(msgspec.Struct, kw_only=True, gc=False):
    id: str
    name: str
    description: str = ""
    tickSize: float
    tickValue: float
    activeContract: bool = True
    symbolId: str | None = None


class ContractsResponse(Envelope, kw_only=True):
    contracts: list[Contract] = []


class ContractResponse(Envelope, kw_only=True):
    contract: Contract | None = None
    contracts: list[Contract] | None = None  # an older Gateway shape


class BarsResponse(Envelope, kw_only=True):
    bars: list[Bar] = []


class PlaceOrderResponse(Envelope, kw_only=True):
    orderId: int | None = None


class OrdersResponse(Envelope, kw_only=True):
    orders: list[OrderUpdate] = []


class OrderResponse(Envelope, kw_only=True):
    order: OrderUpdate | None = None


class PositionsResponse(Envelope, kw_only=True):
    positions: list[PositionUpdate] = []


class TradesResponse(Envelope, kw_only=True):
    trades: list[TradeUpdate] = []


class BracketSpec(msgspec.Struct):
    ticks: int
    type: int


class PlaceOrderRequest(msgspec.Struct, kw_only=True):
    """Order/place; keys after ``trailPrice`` are sent only when set, as project-x-py does."""

    accountId: int
    contractId: str
    type: int
    side: int
    size: int
    limitPrice: Price | None = None
    stopPrice: Price | None = None
    trailPrice: Price | None = None
    linkedOrderId: int | UnsetType = UNSET
    customTag: str | UnsetType = UNSET
    stopLossBracket: BracketSpec | UnsetType = UNSET
    takeProfitBracket: BracketSpec | UnsetType = UNSET


class ModifyOrderRequest(msgspec.Struct, kw_only=True):
    """Order/modify; only the changed fields are sent."""

    accountId: int
    orderId: int
    size: int | UnsetType = UNSET
    limitPrice: Price | UnsetType = UNSET
    stopPrice: Price | UnsetType = UNSET
    trailPrice: Price | UnsetType = UNSET


_encoder = msgspec.json.Encoder(decimal_format="number")


def encode(body: object) -> bytes:
    """JSON for a request body; Decimals go out as exact JSON numbers."""
    return _encoder.encode(body)


_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def decoder(kind: Any) -> msgspec.json.Decoder[Any]:
    """The (cached) decoder for a response type."""
    found = _decoders.get(kind)
    if found is None:
        found = _decoders[kind] = msgspec.json.Decoder(kind)
    return found

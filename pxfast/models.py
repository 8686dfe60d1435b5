"""User-facing models, field for field the dataclasses of project-x-py 4.4.1.

Bots construct these positionally, call ``from_api`` on dicts and use
``dataclasses`` helpers on them, so they stay dataclasses with the same fields
in the same order.  pxfast's additions are properties, or fields with defaults
appended at the end, so nothing a project-x-py bot does can see them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pxfast.types.trading import OrderStatus, status_of

__all__ = [
    "Account",
    "BracketOrderResponse",
    "Instrument",
    "MarketDataEvent",
    "Money",
    "OCOOrderResponse",
    "Order",
    "OrderPlaceResponse",
    "OrderUpdateEvent",
    "Position",
    "PositionUpdateEvent",
    "ProjectXConfig",
    "Trade",
    "parse_timestamp",
]

T = TypeVar("T")


_FIELD_NAMES: dict[type, frozenset[str]] = {}


def _field_names(cls: type) -> frozenset[str]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))
    return names


def _from_api(cls: type[T], data: Mapping[str, Any], aliases: Mapping[str, str] | None = None) -> T:
    """Build ``cls`` from a Gateway dict, ignoring keys the model does not know."""
    known = _field_names(cls)
    values = {k: v for k, v in data.items() if k in known}
    for source, dest in (aliases or {}).items():
        if dest not in values and source in data:
            values[dest] = data[source]
    return cls(**values)


def _struct_values(cls: type[T], obj: Any) -> T:
    """Build ``cls`` from a msgspec Struct in ``pxfast.messages`` with the same field names."""
    known = _field_names(cls)
    return cls(**{k: getattr(obj, k) for k in obj.__struct_fields__ if k in known})


def parse_timestamp(value: str | None) -> datetime | None:
    """Parse a Gateway timestamp (``Z`` or offset, 0-7 fractional digits) to aware UTC."""
    if not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dot = text.find(".")
    if dot != -1:
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        digits = text[dot + 1 : end]
        # datetime keeps microseconds; the Gateway may send 7 digits (100 ns).
        if len(digits) != 6:
            text = text[: dot + 1] + digits[:6].ljust(6, "0") + text[end:]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class Money(float):
    """A float balance that turns ``Decimal`` arithmetic into ``Decimal`` results.

    ``account_info.balance * Decimal("0.01")`` raises TypeError on a plain
    float; the guide's position-sizing snippet does exactly that.  Against
    anything but a Decimal, a Money is an ordinary float.
    """

    __slots__ = ()

    def _decimal(self) -> Decimal:
        return Decimal(repr(float(self)))

    def __mul__(self, other: Any) -> Any:
        if isinstance(other, Decimal):
            return self._decimal() * other
        return float.__mul__(self, other)

    def __rmul__(self, other: Any) -> Any:
        if isinstance(other, Decimal):
            return other * self._decimal()
        return float.__rmul__(self, other)

    def __add__(self, other: Any) -> Any:
        if isinstance(other, Decimal):
            return self._decimal() + other
        return float.__add__(self, other)

    def __radd__(self, other: Any) -> Any:
        if isinstance(other, Decimal):
            return other + self._decimal()
        return float.__radd__(self, other)

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, Decimal):
            return self._decimal() - other
        return float.__sub__(self, other)

    def __rsub__(self, other: Any) -> Any:
        if isinstance(other, Decimal):
            return other - self._decimal()
        return float.__rsub__(self, other)

    def __truediv__(self, other: Any) -> Any:
        if isinstance(other, Decimal):
            return self._decimal() / other
        return float.__truediv__(self, other)

    def __rtruediv__(self, other: Any) -> Any:
        if isinstance(other, Decimal):
            return other / self._decimal()
        return float.__rtruediv__(self, other)

    def __repr__(self) -> str:
        return float.__repr__(self)


_TYPE_NAMES = {
    1: "LIMIT",
    2: "MARKET",
    3: "STOP_LIMIT",
    4: "STOP",
    5: "TRAILING_STOP",
    6: "JOIN_BID",
    7: "JOIN_ASK",
}


def _root_symbol(contract_id: str) -> str:
    parts = contract_id.split(".")
    return parts[3] if len(parts) >= 4 else contract_id


@dataclass
class Instrument:
    id: str
    name: str
    description: str
    tickSize: float
    tickValue: float
    activeContract: bool
    symbolId: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Instrument:
        return _from_api(cls, data)

    @property
    def contractSize(self) -> Decimal:
        """Dollar value of one point (tickValue / tickSize), e.g. MNQ -> Decimal('2')."""
        return Decimal(str(self.tickValue)) / Decimal(str(self.tickSize))


@dataclass
class Account:
    id: int
    name: str
    balance: float
    canTrade: bool
    isVisible: bool
    simulated: bool

    def __post_init__(self) -> None:
        if type(self.balance) is float or type(self.balance) is int:
            self.balance = Money(self.balance)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Account:
        return _from_api(cls, data)

    @classmethod
    def from_update(cls, update: Any) -> Account:
        return _struct_values(cls, update)


@dataclass
class Order:
    id: int
    accountId: int
    contractId: str
    creationTimestamp: str
    updateTimestamp: str | None
    status: int
    type: int
    side: int
    size: int
    symbolId: str | None = None
    fillVolume: int | None = None
    limitPrice: float | None = None
    stopPrice: float | None = None
    filledPrice: float | None = None
    customTag: str | None = None
    # Gateway fields project-x-py drops; appended so positional use is unchanged.
    trailPrice: float | None = None
    trailDistance: int | None = None
    parentOrderId: int | None = None
    linkedOrderId: int | None = None

    def __post_init__(self) -> None:
        if type(self.status) is int:
            self.status = status_of(self.status)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Order:
        return _from_api(cls, data, aliases={"filledSize": "fillVolume"})

    @classmethod
    def from_update(cls, update: Any) -> Order:
        """Build from a ``pxfast.messages.OrderUpdate`` (no dict in between)."""
        return cls(
            update.id,
            update.accountId,
            update.contractId,
            update.creationTimestamp,
            update.updateTimestamp,
            update.status,
            update.type,
            update.side,
            update.size,
            update.symbolId,
            update.fillVolume,
            update.limitPrice,
            update.stopPrice,
            update.filledPrice,
            update.customTag,
            update.trailPrice,
            update.trailDistance,
            update.parentOrderId,
            update.linkedOrderId,
        )

    @property
    def is_open(self) -> bool:
        return self.status == 1

    @property
    def is_filled(self) -> bool:
        return self.status == 2

    @property
    def is_cancelled(self) -> bool:
        return self.status == 3

    @property
    def is_rejected(self) -> bool:
        return self.status == 5

    @property
    def is_working(self) -> bool:
        return int(self.status) in (1, 6, 7, 8)

    @property
    def is_terminal(self) -> bool:
        return int(self.status) in (2, 3, 4, 5)

    @property
    def is_buy(self) -> bool:
        return self.side == 0

    @property
    def is_sell(self) -> bool:
        return self.side == 1

    @property
    def side_str(self) -> str:
        return "BUY" if self.side == 0 else "SELL"

    @property
    def type_str(self) -> str:
        return _TYPE_NAMES.get(int(self.type), "UNKNOWN")

    @property
    def status_str(self) -> str:
        status = status_of(int(self.status))
        return status.name if isinstance(status, OrderStatus) else "UNKNOWN"

    @property
    def filled_percent(self) -> float:
        if self.fillVolume is None or self.size == 0:
            return 0.0
        return self.fillVolume / self.size * 100

    @property
    def remaining_size(self) -> int:
        return self.size - (self.fillVolume or 0)

    @property
    def symbol(self) -> str:
        return _root_symbol(self.contractId)

    @property
    def created_time(self) -> datetime | None:
        return parse_timestamp(self.creationTimestamp)

    @property
    def updated_time(self) -> datetime | None:
        return parse_timestamp(self.updateTimestamp)

    @property
    def filled_time(self) -> datetime | None:
        """When the order filled: the filling update's time (None unless FILLED)."""
        if self.status != 2:
            return None
        return parse_timestamp(self.updateTimestamp or self.creationTimestamp)


@dataclass
class Position:
    id: int
    accountId: int
    contractId: str
    creationTimestamp: str
    type: int
    size: int
    averagePrice: float
    contractDisplayName: str | None = None

    def __getitem__(self, key: str) -> int | str | float | None:
        value = getattr(self, key)
        if value is None or isinstance(value, int | str | float):
            return value
        raise TypeError(f"Attribute {key} has type {type(value)}, expected int, str, or float")

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Position:
        return _from_api(cls, data)

    @classmethod
    def from_update(cls, update: Any) -> Position:
        return cls(
            update.id if update.id is not None else 0,
            update.accountId,
            update.contractId,
            update.creationTimestamp or "",
            update.type,
            update.size,
            update.averagePrice,
            update.contractDisplayName,
        )

    @property
    def is_long(self) -> bool:
        return self.type == 1

    @property
    def is_short(self) -> bool:
        return self.type == 2

    @property
    def direction(self) -> str:
        return "LONG" if self.type == 1 else "SHORT" if self.type == 2 else "UNDEFINED"

    @property
    def symbol(self) -> str:
        return _root_symbol(self.contractId)

    @property
    def signed_size(self) -> int:
        """Size with the direction's sign: negative for a short."""
        return -self.size if self.type == 2 else self.size

    @property
    def total_cost(self) -> float:
        return self.size * self.averagePrice

    def unrealized_pnl(self, current_price: float, tick_value: float = 1.0) -> float:
        if self.type == 1:
            return (current_price - self.averagePrice) * self.size * tick_value
        if self.type == 2:
            return (self.averagePrice - current_price) * self.size * tick_value
        return 0.0


@dataclass(slots=True)
class Trade:
    id: int
    accountId: int
    contractId: str
    creationTimestamp: str
    price: float
    profitAndLoss: float | None
    fees: float
    side: int
    size: int
    voided: bool
    orderId: int
    commissions: float | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Trade:
        return _from_api(cls, data, aliases={"commissions": "fees"})

    @classmethod
    def from_update(cls, update: Any) -> Trade:
        fees = update.fees if update.fees is not None else (update.commissions or 0.0)
        return cls(
            update.id,
            update.accountId,
            update.contractId,
            update.creationTimestamp,
            update.price,
            update.profitAndLoss,
            fees,
            update.side,
            update.size,
            update.voided,
            update.orderId,
            update.commissions,
        )


@dataclass
class OrderPlaceResponse:
    orderId: int
    success: bool
    errorCode: int
    errorMessage: str | None

    @property
    def order_id(self) -> int:
        return self.orderId

    @property
    def status(self) -> OrderStatus:
        """Snapshot at response time: PENDING when accepted, REJECTED otherwise."""
        return OrderStatus.PENDING if self.success else OrderStatus.REJECTED


@dataclass
class BracketOrderResponse:
    success: bool
    entry_order_id: int | None
    stop_order_id: int | None
    target_order_id: int | None
    entry_price: float
    stop_loss_price: float
    take_profit_price: float
    entry_response: OrderPlaceResponse | None
    stop_response: OrderPlaceResponse | None
    target_response: OrderPlaceResponse | None
    error_message: str | None
    bracket_group_id: str | None = None

    @property
    def main_order_id(self) -> int | None:
        return self.entry_order_id


@dataclass
class OCOOrderResponse:
    success: bool
    oco_group_id: str
    first_order_id: int | None
    second_order_id: int | None
    first_response: OrderPlaceResponse | None = None
    second_response: OrderPlaceResponse | None = None
    error_message: str | None = None

    @property
    def order_ids(self) -> tuple[int | None, int | None]:
        return (self.first_order_id, self.second_order_id)


@dataclass
class ProjectXConfig:
    """Endpoints and client settings; defaults are the TopstepX hosts."""

    api_url: str = "https://api.topstepx.com/api"
    realtime_url: str = "wss://realtime.topstepx.com/api"
    user_hub_url: str = "https://rtc.topstepx.com/hubs/user"
    market_hub_url: str = "https://rtc.topstepx.com/hubs/market"
    timezone: str = "America/Chicago"
    timeout_seconds: int = 30
    retry_attempts: int = 3
    retry_delay_seconds: float = 2.0
    requests_per_minute: int = 60
    burst_limit: int = 10


@dataclass
class OrderUpdateEvent:
    orderId: int
    status: int
    fillVolume: int | None
    updateTimestamp: str


@dataclass
class PositionUpdateEvent:
    positionId: int
    contractId: str
    size: int
    averagePrice: float
    updateTimestamp: str


@dataclass
class MarketDataEvent:
    contractId: str
    lastPrice: float
    bid: float | None
    ask: float | None
    volume: int | None
    timestamp: str

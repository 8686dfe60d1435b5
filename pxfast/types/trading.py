"""The Gateway's trading enums, with the numbers the wire carries.

``OrderStatus`` is hybrid: it is the Gateway int *and* compares equal to its
name, so both ``status == 2`` (project-x-py bots) and ``status == "FILLED"``
(the guide) hold for the same object.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = [
    "AggregateBarUnit",
    "DomType",
    "OrderSide",
    "OrderStatus",
    "OrderType",
    "PositionType",
    "TradeLogType",
]


class OrderSide(IntEnum):
    """Order direction; the Gateway calls these Bid (0) and Ask (1)."""

    BUY = 0
    SELL = 1


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2
    STOP_LIMIT = 3
    STOP = 4
    TRAILING_STOP = 5
    JOIN_BID = 6
    JOIN_ASK = 7


_STATUS_ALIASES = {"CANCELED": "CANCELLED"}


class OrderStatus(IntEnum):
    """Gateway order status; also equal to its name, case-insensitively.

    ``str()`` and an empty ``format()`` give the name (``FILLED``) so that
    ``f"{status}"`` reads well; a numeric format spec and ``int()`` give the
    number.  Hashing stays the int hash, so dicts keyed by int keep working.
    """

    NONE = 0
    OPEN = 1
    FILLED = 2
    CANCELLED = 3
    EXPIRED = 4
    REJECTED = 5
    PENDING = 6
    PENDING_CANCELLATION = 7
    SUSPENDED = 8

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            name = other.upper()
            return _STATUS_ALIASES.get(name, name) == self.name
        return int.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = int.__hash__

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        return self.name if not spec else int.__format__(int(self), spec)

    @property
    def is_terminal(self) -> bool:
        return 2 <= self.value <= 5

    @property
    def is_working(self) -> bool:
        return self.value in (1, 6, 7, 8)

    @classmethod
    def coerce(cls, value: Any) -> OrderStatus:
        """Map an int, a member or a (case-insensitive) name to a member.

        Raises ``ValueError`` for anything else, naming the bad value.
        """
        if isinstance(value, OrderStatus):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(value)
        if isinstance(value, str):
            name = value.strip().upper()
            name = _STATUS_ALIASES.get(name, name)
            if name in cls.__members__:
                return cls.__members__[name]
            if name.isdigit():
                return cls(int(name))
        raise ValueError(f"Unknown order status: {value!r}")


#: Status members by Gateway int, so decoding allocates nothing.
STATUS_BY_VALUE: tuple[OrderStatus, ...] = tuple(OrderStatus)


def status_of(value: int) -> OrderStatus | int:
    """The hybrid member for a Gateway status int; out-of-range ints pass through."""
    if 0 <= value < len(STATUS_BY_VALUE):
        return STATUS_BY_VALUE[value]
    return value


class PositionType(IntEnum):
    UNDEFINED = 0
    LONG = 1
    SHORT = 2


class TradeLogType(IntEnum):
    """Aggressor side of a market trade print."""

    BUY = 0
    SELL = 1


class DomType(IntEnum):
    UNKNOWN = 0
    ASK = 1
    BID = 2
    BEST_ASK = 3
    BEST_BID = 4
    TRADE = 5
    RESET = 6
    LOW = 7
    HIGH = 8
    NEW_BEST_BID = 9
    NEW_BEST_ASK = 10
    FILL = 11


class AggregateBarUnit(IntEnum):
    UNSPECIFIED = 0
    SECOND = 1
    MINUTE = 2
    HOUR = 3
    DAY = 4
    WEEK = 5
    MONTH = 6
    TICK = 7

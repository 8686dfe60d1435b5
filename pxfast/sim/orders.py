"""The engine's records: accounts, orders, positions, and the index of resting orders.

These are plain mutable records owned by ``engine.Engine``; prices in them
are integer ticks.  ``RestingOrders`` keeps the working orders of one
contract in heaps keyed by the price at which the market takes them, so a
market step costs a look at the top of four heaps, not a scan of every order
(a benchmark leaves a hundred thousand limit orders resting).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from pxfast.messages import TradeUpdate
from pxfast.sim.instruments import Contract
from pxfast.types import OrderSide, OrderStatus, OrderType

__all__ = [
    "LIMIT_LIKE",
    "WORKING",
    "Account",
    "Bracket",
    "Order",
    "Outcome",
    "PlaceRequest",
    "Position",
    "RestingOrders",
]

LIMIT_LIKE = frozenset((OrderType.LIMIT, OrderType.JOIN_BID, OrderType.JOIN_ASK))
WORKING = frozenset((OrderStatus.OPEN, OrderStatus.PENDING, OrderStatus.SUSPENDED))
LIVE = frozenset((OrderStatus.OPEN, OrderStatus.PENDING))


@dataclass(frozen=True, slots=True)
class Outcome:
    """An endpoint's verdict: ``code`` 0 is success; the codes are per endpoint (§4)."""

    code: int = 0
    message: str | None = None
    order_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.code == 0


@dataclass(slots=True)
class Bracket:
    ticks: int
    type: int


@dataclass(slots=True)
class PlaceRequest:
    """An ``Order/place`` body after decoding; prices still as the client sent them."""

    contract_id: str
    type: int
    side: int
    size: int
    limit_price: float | None = None
    stop_price: float | None = None
    trail_price: float | None = None
    custom_tag: str | None = None
    linked_order_id: int | None = None
    stop_loss: Bracket | None = None
    take_profit: Bracket | None = None


@dataclass(slots=True, eq=False)
class Order:
    id: int
    account: Account
    contract: Contract
    type: int
    side: int
    size: int
    status: int
    created: float
    created_iso: str
    updated_iso: str
    limit: int | None = None
    stop: int | None = None
    trail: int | None = None  # trailing distance in ticks
    extreme: int | None = None  # best print since the trail started
    filled: int = 0
    fill_cost: int = 0  # sum of fill price (ticks) x quantity
    tag: str | None = None
    parent: Order | None = None
    linked_id: int | None = None
    oco: Order | None = None
    children: list[Order] = field(default_factory=list)
    offset: int | None = None  # a bracket child's signed distance from the entry's fill

    @property
    def working(self) -> bool:
        return self.status in WORKING

    @property
    def remaining(self) -> int:
        return self.size - self.filled

    @property
    def buy(self) -> bool:
        return self.side == OrderSide.BUY


@dataclass(slots=True, eq=False)
class Position:
    id: int
    contract: Contract
    created_iso: str
    size: int = 0  # signed: > 0 long, < 0 short
    average: Fraction = Fraction(0)  # ticks


@dataclass(slots=True, eq=False)
class Account:
    id: int
    name: str
    owner: str
    balance: Decimal
    bracket_mode: str = "auto_oco"
    can_trade: bool = True
    is_visible: bool = True
    simulated: bool = True
    orders: dict[int, Order] = field(default_factory=dict)
    #: Orders with status Open, so Order/searchOpen need not walk the history.
    open_orders: dict[int, Order] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    trades: list[tuple[float, TradeUpdate]] = field(default_factory=list)  # (time, trade)
    tags: set[str] = field(default_factory=set)
    #: Remaining size of working entry orders per contract: [buys, sells] (for margin).
    working_size: dict[str, list[int]] = field(default_factory=dict)
    realized: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)



_Heap = list[tuple[int, int, Order]]


class RestingOrders:
    """Working orders of one contract, by the price at which the market takes them.

    Heaps hold (key, sequence, order); the sequence keeps time priority among
    equal prices.  Entries are never removed eagerly: a cancelled, filled or
    re-priced order's old entry is skipped when it reaches the top, because
    the order is no longer live at that price.  Trailing stops move with
    every print, so they are kept apart and checked on every step.
    """

    __slots__ = ("_buy_limits", "_buy_stops", "_sell_limits", "_sell_stops", "_sequence",
                 "trailing")

    def __init__(self) -> None:
        self._buy_limits: _Heap = []  # key -limit: the highest bid first
        self._sell_limits: _Heap = []  # key limit: the lowest offer first
        self._buy_stops: _Heap = []  # key stop: the lowest trigger first
        self._sell_stops: _Heap = []  # key -stop: the highest trigger first
        self._sequence = itertools.count()
        self.trailing: dict[int, Order] = {}

    def add(self, order: Order) -> None:
        """Index a live order at its current price (again, after a modify)."""
        if order.type == OrderType.TRAILING_STOP:
            self.trailing[order.id] = order
        elif order.type in LIMIT_LIKE:
            assert order.limit is not None
            heap, key = ((self._buy_limits, -order.limit) if order.buy
                         else (self._sell_limits, order.limit))
            heapq.heappush(heap, (key, next(self._sequence), order))
        elif order.type == OrderType.STOP:
            assert order.stop is not None
            heap, key = ((self._buy_stops, order.stop) if order.buy
                         else (self._sell_stops, -order.stop))
            heapq.heappush(heap, (key, next(self._sequence), order))

    def discard(self, order: Order) -> None:
        self.trailing.pop(order.id, None)

    def pop_crossed(self, bid: int, ask: int, last: int) -> Order | None:
        """The next live order this market reaches: a limit the opposite touch has
        come to, or a stop the last print has gone through; None when there is none.

        Every heap is a min-heap whose key is crossed once it is <= a threshold.
        """
        for heap, threshold, limits in (
            (self._buy_limits, -ask, True),
            (self._sell_limits, bid, True),
            (self._buy_stops, last, False),
            (self._sell_stops, -last, False),
        ):
            while heap and heap[0][0] <= threshold:
                key, _, order = heapq.heappop(heap)
                if order.status in LIVE and abs(key) == (order.limit if limits else order.stop):
                    return order
        return None

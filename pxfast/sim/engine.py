"""Accounts, orders and the matching engine behind the simulated Gateway.

Prices are integer ticks from the moment a request is validated until a
payload is built.  Orders match against the synthetic market (``market.Book``)
the way a Practice account does on the real Gateway: our fills never move the
market, a market order takes the touch, a resting limit fills at its price
once the opposite touch reaches it (a marketable one at the touch, which is
better), a stop triggers on the last print and then takes the touch, a
trailing stop trails the best print since it started by its tick distance,
and join-bid/ask orders rest as limits at the touch of their moment.

Every state change is published on the user hub in the Gateway's order:
order update, then the fill's half-trade, then the position, then the
account balance, and only then the consequences (bracket children activated,
the OCO partner cancelled).  Brackets follow what live traffic shows: the
children exist from the start in status Suspended with no price, get their
prices from the entry's average fill, and cancel each other.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Protocol

from pxfast.messages import AccountUpdate, OrderUpdate, PositionUpdate, TradeUpdate
from pxfast.sim.clock import Clock, iso
from pxfast.sim.instruments import Catalog
from pxfast.sim.market import Book, Market
from pxfast.sim.orders import (
    LIMIT_LIKE,
    LIVE,
    Account,
    Bracket,
    Order,
    Outcome,
    PlaceRequest,
    Position,
    RestingOrders,
)
from pxfast.types import OrderSide, OrderStatus, OrderType, PositionType

__all__ = ["ACTION_REMOVE", "ACTION_TRADE", "ACTION_UPDATE", "Engine", "UserEvents"]

MAX_TRAIL_TICKS = 1000
PLACEABLE = frozenset(
    (OrderType.LIMIT, OrderType.MARKET, OrderType.STOP, OrderType.TRAILING_STOP,
     OrderType.JOIN_BID, OrderType.JOIN_ASK)
)
BRACKET_TYPES = frozenset((OrderType.LIMIT, OrderType.STOP, OrderType.TRAILING_STOP))

POSITION_BRACKETS_MESSAGE = (
    "Brackets cannot be used with Position Brackets. You must enable Auto OCO Brackets."
)
INSUFFICIENT_FUNDS = "Insufficient funds."
CENT = Decimal("0.01")

# ``action`` of the user-hub wrapper, as live traffic uses it.
ACTION_TRADE, ACTION_UPDATE, ACTION_REMOVE = 0, 1, 2


class UserEvents(Protocol):
    """Where the engine publishes; the user hub implements it."""

    def listening(self, account_id: int) -> bool: ...

    def order(self, account_id: int, order: OrderUpdate, action: int) -> None: ...

    def trade(self, account_id: int, trade: TradeUpdate) -> None: ...

    def position(self, account_id: int, position: PositionUpdate, action: int) -> None: ...

    def account(self, account_id: int, account: AccountUpdate) -> None: ...


class _Nobody:
    def listening(self, account_id: int) -> bool:
        return False

    def order(self, account_id: int, order: OrderUpdate, action: int) -> None:
        pass

    def trade(self, account_id: int, trade: TradeUpdate) -> None:
        pass

    def position(self, account_id: int, position: PositionUpdate, action: int) -> None:
        pass

    def account(self, account_id: int, account: AccountUpdate) -> None:
        pass


def _money(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(CENT, ROUND_HALF_EVEN)


class Engine:
    """Accounts by id, orders by id, working orders by contract; matching and PnL."""

    def __init__(self, clock: Clock, catalog: Catalog, market: Market, *,
                 margin_check: bool = True, signed_bracket_ticks: bool = False) -> None:
        self._clock = clock
        self._catalog = catalog
        self._market = market
        self.margin_check = margin_check
        #: Read a bracket's tick sign as the price direction (§14.6's strict reading).
        self.signed_bracket_ticks = signed_bracket_ticks
        self.events: UserEvents = _Nobody()
        self.accounts: dict[int, Account] = {}
        self.orders: dict[int, Order] = {}
        self._resting: dict[str, RestingOrders] = {}
        self._next_account = 7001
        self._next_order = 9001
        self._next_position = 1
        self._next_trade = 1
        market.listeners.append(self)

    # -- accounts ------------------------------------------------------------

    def open_account(self, owner: str, *, name: str | None = None,
                     balance: Decimal | float | str = 50_000, bracket_mode: str = "auto_oco",
                     can_trade: bool = True) -> Account:
        if bracket_mode not in ("auto_oco", "position"):
            raise ValueError("bracket_mode is 'auto_oco' or 'position'")
        account_id = self._next_account
        self._next_account += 1
        count = sum(1 for a in self.accounts.values() if a.owner == owner.lower()) + 1
        account = Account(
            id=account_id,
            name=name or f"PRAC-SIM-{owner.upper()}-{count}",
            owner=owner.lower(),
            balance=Decimal(str(balance)),
            bracket_mode=bracket_mode,
            can_trade=can_trade,
        )
        self.accounts[account_id] = account
        return account

    def accounts_of(self, owner: str) -> list[Account]:
        key = owner.lower()
        return [a for a in self.accounts.values() if a.owner == key]

    def account_for(self, owner: str, account_id: object) -> Account | None:
        """The account if it exists *and* belongs to ``owner``; isolation starts here."""
        account = self.accounts.get(account_id) if isinstance(account_id, int) else None
        if account is None or account.owner != owner.lower():
            return None
        return account

    def set_balance(self, account: Account, balance: Decimal) -> None:
        account.balance = balance
        self._publish_account(account)

    # -- payloads ------------------------------------------------------------

    def account_update(self, account: Account) -> AccountUpdate:
        return AccountUpdate(
            id=account.id, name=account.name, balance=float(account.balance),
            canTrade=account.can_trade, isVisible=account.is_visible,
            simulated=account.simulated,
        )

    def order_update(self, order: Order) -> OrderUpdate:
        tick = order.contract.tick
        suspended = order.status == OrderStatus.SUSPENDED
        trail_ticks: int | None = None
        if order.offset is not None:
            trail_ticks = order.offset
        elif order.trail is not None:
            trail_ticks = order.trail
        return OrderUpdate(
            id=order.id,
            accountId=order.account.id,
            contractId=order.contract.id,
            symbolId=order.contract.symbol_id,
            creationTimestamp=order.created_iso,
            updateTimestamp=order.updated_iso,
            status=order.status,
            type=order.type,
            side=order.side,
            size=order.size,
            limitPrice=None if suspended or order.limit is None
            else tick.from_ticks_float(order.limit),
            stopPrice=None if suspended or order.stop is None
            else tick.from_ticks_float(order.stop),
            fillVolume=order.filled,
            filledPrice=None if not order.filled
            else float(Fraction(order.fill_cost, order.filled) * Fraction(tick.decimal)),
            customTag=order.tag,
            trailPrice=None if trail_ticks is None else tick.from_ticks_float(trail_ticks),
            trailDistance=trail_ticks,
            parentOrderId=None if order.parent is None else order.parent.id,
            linkedOrderId=order.linked_id,
        )

    def position_update(self, account: Account, position: Position) -> PositionUpdate:
        size = position.size
        kind = PositionType.UNDEFINED if size == 0 else (
            PositionType.LONG if size > 0 else PositionType.SHORT)
        return PositionUpdate(
            id=position.id,
            accountId=account.id,
            contractId=position.contract.id,
            contractDisplayName=position.contract.display_name,
            creationTimestamp=position.created_iso,
            type=kind,
            size=abs(size),
            averagePrice=float(position.average * Fraction(position.contract.tick.decimal)),
        )

    def unrealized(self, account: Account) -> Decimal:
        """Open PnL marked at each contract's last print."""
        total = Decimal(0)
        for position in account.positions.values():
            book = self._market.books[position.contract.id]
            ticks = (book.last - position.average) * position.size
            total += _money(ticks * Fraction(position.contract.tick_value))
        return total

    # -- queries -------------------------------------------------------------

    def search_orders(self, account: Account, start: float,
                      end: float | None) -> list[Order]:
        return [
            o for o in account.orders.values()
            if o.status != OrderStatus.SUSPENDED and o.created >= start
            and (end is None or o.created <= end)
        ]

    def open_orders(self, account: Account) -> list[Order]:
        return sorted(account.open_orders.values(), key=lambda o: o.id)

    @staticmethod
    def _set_open(order: Order) -> None:
        order.status = OrderStatus.OPEN
        order.account.open_orders[order.id] = order

    # -- Order/place -----------------------------------------------------------

    def place(self, account: Account, req: PlaceRequest) -> Outcome:
        contract = self._catalog.by_id(req.contract_id)
        if contract is None:
            return Outcome(8, "Contract not found")
        if not contract.active:
            return Outcome(9, "Contract is not active")
        if not account.can_trade:
            return Outcome(10, "Account is not allowed to trade")
        contract = self._catalog.resolve(contract.id)  # the shared front instance
        book = self._market.books[contract.id]
        now = self._clock.now()
        stamp = iso(now)
        order = Order(
            id=self._allocate_order_id(), account=account, contract=contract, type=req.type,
            side=req.side, size=req.size, status=OrderStatus.REJECTED, created=now,
            created_iso=stamp, updated_iso=stamp, tag=req.custom_tag,
            linked_id=req.linked_order_id,
        )
        problem = self._validate(account, order, req, book)
        if problem is not None:
            return self._reject(order, problem)
        if req.stop_loss is not None or req.take_profit is not None:
            if account.bracket_mode != "auto_oco":
                return self._reject(order, POSITION_BRACKETS_MESSAGE)
            for bracket in (req.stop_loss, req.take_profit):
                if bracket is not None and (bracket.ticks == 0
                                            or bracket.type not in BRACKET_TYPES):
                    return self._reject(order, "Invalid bracket.")
        partner: Order | None = None
        if req.linked_order_id is not None:
            partner = account.orders.get(req.linked_order_id)
            if partner is None or not partner.working:
                return self._reject(order, "Linked order not found.")
        if not self._margin_ok(order, order.size):
            return self._reject(order, INSUFFICIENT_FUNDS, code=3)
        if order.type == OrderType.MARKET:
            order.status = OrderStatus.PENDING
        else:
            self._set_open(order)
        if order.tag is not None:
            account.tags.add(order.tag)
        self._register(order)
        if partner is not None:
            order.oco, partner.oco = partner, order
        self._publish_order(order)
        for bracket, suffix in ((req.stop_loss, "SL"), (req.take_profit, "TP")):
            if bracket is not None:
                self._add_child(order, bracket, suffix)
        if len(order.children) == 2:
            sl, tp = order.children
            sl.oco, tp.oco = tp, sl
            tp.linked_id = sl.id
        for child in order.children:
            self._publish_order(child)
        self._try_fill(order, book, aggressive=True)
        self._arm(order)
        return Outcome(0, None, order.id)

    def _validate(self, account: Account, order: Order, req: PlaceRequest,
                  book: Book) -> str | None:
        """The OrderRejected message for an invalid order, or None; sets its prices."""
        tick = order.contract.tick
        if req.type not in PLACEABLE:
            return "Invalid order type."
        if req.side not in (OrderSide.BUY, OrderSide.SELL):
            return "Invalid order side."
        if req.size <= 0:
            return "Invalid order size."
        if req.custom_tag is not None and req.custom_tag in account.tags:
            return "Custom tag must be unique."
        if req.type == OrderType.LIMIT:
            if req.limit_price is None:
                return "Limit price not set."
            order.limit = _ticks_or_none(tick.to_ticks, req.limit_price)
            if order.limit is None:
                return "Invalid limit price. Price is not aligned to tick size."
        elif req.type == OrderType.STOP:
            if req.stop_price is None:
                return "Stop price not set."
            order.stop = _ticks_or_none(tick.to_ticks, req.stop_price)
            if order.stop is None:
                return "Invalid stop price. Price is not aligned to tick size."
        elif req.type == OrderType.TRAILING_STOP:
            if req.trail_price is None:
                return "Trail Distance not set."
            level = _ticks_or_none(tick.to_ticks, req.trail_price)
            if level is None:
                return "Invalid trail price. Price is not aligned to tick size."
            distance = abs(book.last - level)
            if distance == 0:
                return "Trail Distance not set."
            if distance > MAX_TRAIL_TICKS:
                return f"Trail Distance exceeds maximum ({MAX_TRAIL_TICKS})"
            self._start_trail(order, distance, book)
        elif req.type == OrderType.JOIN_BID:
            order.limit = book.bid
        elif req.type == OrderType.JOIN_ASK:
            order.limit = book.ask
        for price in (order.limit, order.stop):
            if price is not None and price <= 0:
                return "Invalid price."
        return None

    def _reject(self, order: Order, message: str, code: int = 2) -> Outcome:
        """A rejected place still gets an order id and a status-5 update (§4, §10.2)."""
        order.status = OrderStatus.REJECTED
        order.account.orders[order.id] = order
        self.orders[order.id] = order
        self._publish_order(order)
        return Outcome(code, message, order.id)

    def _allocate_order_id(self) -> int:
        order_id = self._next_order
        self._next_order += 1
        return order_id

    def _register(self, order: Order) -> None:
        order.account.orders[order.id] = order
        self.orders[order.id] = order
        self._count_working(order, order.size)

    def _arm(self, order: Order) -> None:
        """Let the market reach a live order that did not fill when it arrived or changed."""
        if order.status in LIVE and order.type != OrderType.MARKET:
            resting = self._resting.get(order.contract.id)
            if resting is None:
                resting = self._resting[order.contract.id] = RestingOrders()
            resting.add(order)

    def _retire(self, order: Order) -> None:
        order.account.open_orders.pop(order.id, None)
        resting = self._resting.get(order.contract.id)
        if resting is not None:
            resting.discard(order)

    def _add_child(self, entry: Order, bracket: Bracket, suffix: str) -> None:
        """A Suspended bracket child; its price comes when the entry fills."""
        magnitude = abs(bracket.ticks)
        if self.signed_bracket_ticks:
            offset = bracket.ticks
        else:
            losing_side = -1 if entry.buy else 1  # a long's stop sits below its fill
            offset = magnitude * (losing_side if suffix == "SL" else -losing_side)
        stamp = entry.created_iso
        child = Order(
            id=self._allocate_order_id(), account=entry.account, contract=entry.contract,
            type=bracket.type, side=1 - entry.side, size=entry.size,
            status=OrderStatus.SUSPENDED, created=entry.created, created_iso=stamp,
            updated_iso=stamp, tag=None if entry.tag is None else f"{entry.tag}-{suffix}",
            parent=entry, offset=offset,
        )
        if child.tag is not None:
            entry.account.tags.add(child.tag)
        entry.children.append(child)
        entry.account.orders[child.id] = child
        self.orders[child.id] = child

    def _margin_ok(self, order: Order, added: int) -> bool:
        """Would the account still carry its worst-case exposure with ``added`` more
        lots working on the order's side of its contract?

        Exposure per contract is the larger of the position plus all working
        buys and the position minus all working sells (bracket children only
        ever reduce it, up to the size they close); a change that does not
        raise the requirement passes.  Order/place asks with the new order's
        size, Order/modify with what a bigger size adds.
        """
        if not self.margin_check or added <= 0:
            return True
        account = order.account

        def required(extra: int) -> Decimal:
            total = Decimal(0)
            contract_ids = set(account.positions) | set(account.working_size)
            contract_ids.add(order.contract.id)
            for contract_id in contract_ids:
                position = account.positions.get(contract_id)
                held = position.size if position is not None else 0
                buys, sells = account.working_size.get(contract_id, (0, 0))
                if contract_id == order.contract.id:
                    if order.buy:
                        buys += extra
                    else:
                        sells += extra
                contract = self._catalog.resolve(contract_id)
                total += max(abs(held + buys), abs(held - sells)) * contract.margin
            return total

        after = required(added)
        return after <= account.balance or after <= required(0)

    @staticmethod
    def _exposure(order: Order, size: int) -> int:
        """The lots of a working order, were it ``size``, that can open a position: an
        entry's unfilled rest; for an active bracket child, what exceeds the position
        its entry's fills opened (a Suspended child takes its entry's size when it
        activates, whatever it was set to)."""
        if order.parent is None:
            return size - order.filled
        if order.status in LIVE:
            return max(0, size - order.parent.filled)
        return 0

    def _count_working(self, order: Order, delta: int) -> None:
        if order.parent is not None or delta == 0:
            return
        sizes = order.account.working_size.setdefault(order.contract.id, [0, 0])
        sizes[0 if order.buy else 1] += delta

    # -- Order/modify, Order/cancel -----------------------------------------------

    def modify(self, account: Account, order_id: int, size: int | None,
               limit_price: float | None, stop_price: float | None,
               trail_price: float | None) -> Outcome:
        order = account.orders.get(order_id)
        if order is None:
            return Outcome(2, "Order not found")
        if not order.working:
            return Outcome(3, f"Order is {OrderStatus(order.status).name.lower()}.")
        tick = order.contract.tick
        book = self._market.books[order.contract.id]
        if size is not None and (size <= 0 or size < order.filled):
            return Outcome(3, "Invalid order size.")
        if size is not None and not self._margin_ok(
                order, self._exposure(order, size) - self._exposure(order, order.size)):
            return Outcome(3, INSUFFICIENT_FUNDS)
        new_limit, new_stop, new_trail = order.limit, order.stop, order.trail
        if limit_price is not None:
            if order.type not in LIMIT_LIKE:
                return Outcome(3, "Limit price cannot be modified on this order.")
            new_limit = _ticks_or_none(tick.to_ticks, limit_price)
            if new_limit is None:
                return Outcome(3, "Invalid limit price. Price is not aligned to tick size.")
        if stop_price is not None:
            if order.type != OrderType.STOP:
                return Outcome(3, "Stop price cannot be modified on this order.")
            new_stop = _ticks_or_none(tick.to_ticks, stop_price)
            if new_stop is None:
                return Outcome(3, "Invalid stop price. Price is not aligned to tick size.")
        if trail_price is not None:
            if order.type != OrderType.TRAILING_STOP:
                return Outcome(3, "Trail price cannot be modified on this order.")
            level = _ticks_or_none(tick.to_ticks, trail_price)
            if level is None:
                return Outcome(3, "Invalid trail price. Price is not aligned to tick size.")
            new_trail = abs(book.last - level)
            if new_trail == 0:
                return Outcome(3, "Trail Distance not set.")
        if size is not None:
            self._resize(order, size, publish=False)
        order.limit, order.stop = new_limit, new_stop
        if new_trail != order.trail and new_trail is not None:
            self._start_trail(order, new_trail, book)
        self._touch(order)
        self._publish_order(order)
        if order.status != OrderStatus.SUSPENDED:
            self._try_fill(order, book, aggressive=True)
            self._arm(order)
        return Outcome()

    def cancel(self, account: Account, order_id: int) -> Outcome:
        order = account.orders.get(order_id)
        if order is None:
            return Outcome(2, "Order not found")
        if not order.working:
            return Outcome(3, f"Order is {OrderStatus(order.status).name.lower()}.")
        self._cancel(order)
        return Outcome()

    def _cancel(self, order: Order) -> None:
        if order.status in LIVE:
            self._count_working(order, -order.remaining)
        order.status = OrderStatus.CANCELLED
        self._retire(order)
        self._touch(order)
        self._publish_order(order)
        for child in order.children:
            if child.status == OrderStatus.SUSPENDED:
                self._cancel(child)

    # -- positions -------------------------------------------------------------

    def close_position(self, account: Account, contract_id: str,
                       size: int | None = None) -> Outcome:
        """Flatten (or reduce by ``size``) with a market order; codes of closeContract
        or, with ``size``, of partialCloseContract."""
        partial = size is not None
        contract = self._catalog.by_id(contract_id)
        if contract is None:
            return Outcome(3, "Contract not found")
        position = account.positions.get(contract.id)
        if position is None or position.size == 0:
            return Outcome(2, "Position not found")
        if not contract.active:
            return Outcome(4, "Contract is not active")
        held = abs(position.size)
        if size is None:
            size = held
        elif size <= 0 or size > held:
            return Outcome(5, "Invalid close size.")
        request = PlaceRequest(
            contract_id=contract.id, type=OrderType.MARKET,
            side=OrderSide.SELL if position.size > 0 else OrderSide.BUY, size=size,
        )
        outcome = self.place(account, request)
        if not outcome.ok:
            return Outcome(6 if partial else 5, outcome.message)
        return Outcome()

    # -- matching --------------------------------------------------------------

    def on_quote(self, book: Book) -> None:
        """Fill what the new market reaches: resting limits at their price, stops at
        the touch, trailing stops after they follow the print."""
        resting = self._resting.get(book.contract.id)
        if resting is None:
            return
        while (order := resting.pop_crossed(book.bid, book.ask, book.last)) is not None:
            price = order.limit if order.type in LIMIT_LIKE else (
                book.ask if order.buy else book.bid)
            assert price is not None
            self.fill(order, order.remaining, price)
        for order in list(resting.trailing.values()):
            if order.status in LIVE:
                self._try_fill(order, book, aggressive=False)

    def on_print(self, book: Book, price: int, size: int, aggressor: int) -> None:
        pass

    def on_depth(self, book: Book, entries: list[tuple[int, int, int]], reset: bool) -> None:
        pass

    def _start_trail(self, order: Order, distance: int, book: Book) -> None:
        order.trail = distance
        order.extreme = book.last
        order.stop = book.last + distance if order.buy else book.last - distance

    def _follow_trail(self, order: Order, book: Book) -> None:
        """Move a trailing stop with a new best print; publish when its level moves."""
        assert order.trail is not None and order.extreme is not None
        last = book.last
        if (order.buy and last < order.extreme) or (not order.buy and last > order.extreme):
            order.extreme = last
            order.stop = last + order.trail if order.buy else last - order.trail
            self._touch(order)
            self._publish_order(order)

    def _try_fill(self, order: Order, book: Book, *, aggressive: bool) -> None:
        """Fill the order if the market allows it now.

        ``aggressive`` is True when the order just arrived or changed: a
        marketable limit then takes the touch.  A resting limit reached by the
        market fills at its own price.
        """
        kind = order.type
        price: int | None = None
        if kind == OrderType.MARKET:
            price = book.ask if order.buy else book.bid
        elif kind in LIMIT_LIKE:
            assert order.limit is not None
            if order.buy and book.ask <= order.limit:
                price = book.ask if aggressive else order.limit
            elif not order.buy and book.bid >= order.limit:
                price = book.bid if aggressive else order.limit
        else:
            if kind == OrderType.TRAILING_STOP:
                self._follow_trail(order, book)
            assert order.stop is not None
            if (order.buy and book.last >= order.stop) or (
                not order.buy and book.last <= order.stop
            ):
                price = book.ask if order.buy else book.bid
        if price is not None:
            self.fill(order, order.remaining, price)

    def fill(self, order: Order, quantity: int, price: int) -> None:
        """Execute ``quantity`` of a working order at ``price`` ticks, with every consequence."""
        if not 0 < quantity <= order.remaining:
            raise ValueError(f"cannot fill {quantity} of order {order.id} "
                             f"({order.remaining} remaining)")
        account = order.account
        self._count_working(order, -quantity)
        order.filled += quantity
        order.fill_cost += quantity * price
        if order.remaining == 0:
            order.status = OrderStatus.FILLED
            self._retire(order)
        elif order.status == OrderStatus.PENDING:
            self._set_open(order)
        self._touch(order)
        self._publish_order(order)
        realized = self._apply_to_position(order, quantity, price)
        fees = order.contract.fee * quantity
        account.fees += fees
        account.balance -= fees
        pnl: Decimal | None = None
        if realized is not None:
            pnl = _money(realized * Fraction(order.contract.tick_value))
            account.realized += pnl
            account.balance += pnl
        trade = TradeUpdate(
            id=self._next_trade, accountId=account.id, contractId=order.contract.id,
            creationTimestamp=order.updated_iso,
            price=order.contract.tick.from_ticks_float(price),
            profitAndLoss=None if pnl is None else float(pnl), fees=float(fees),
            side=order.side, size=quantity, voided=False, orderId=order.id,
        )
        self._next_trade += 1
        account.trades.append((self._clock.now(), trade))
        self.events.trade(account.id, trade)
        position = account.positions.get(order.contract.id)
        if position is not None:
            if position.size == 0:
                del account.positions[order.contract.id]
            if self.events.listening(account.id):
                self.events.position(
                    account.id, self.position_update(account, position),
                    ACTION_REMOVE if position.size == 0 else ACTION_UPDATE,
                )
        self._publish_account(account)
        self._after_fill(order, quantity)

    def _apply_to_position(self, order: Order, quantity: int, price: int) -> Fraction | None:
        """Update the position; the realized PnL in ticks if the fill reduced it."""
        account = order.account
        signed = quantity if order.buy else -quantity
        position = account.positions.get(order.contract.id)
        if position is None:
            position = Position(self._next_position, order.contract, order.updated_iso)
            self._next_position += 1
            account.positions[order.contract.id] = position
        held = position.size
        if held == 0 or (held > 0) == (signed > 0):
            total = abs(held) + quantity
            position.average = (position.average * abs(held) + price * quantity) / total
            position.size = held + signed
            return None
        closing = min(quantity, abs(held))
        direction = 1 if held > 0 else -1
        realized = (price - position.average) * closing * direction
        position.size = held + signed
        if position.size != 0 and (position.size > 0) != (held > 0):  # flipped through flat
            position.average = Fraction(price)
        return realized

    def _after_fill(self, order: Order, quantity: int) -> None:
        """Bracket children follow their entry; an OCO partner yields to a fill."""
        book = self._market.books[order.contract.id]
        for child in order.children:
            if child.status == OrderStatus.SUSPENDED:
                self._activate(child, order, book)
            elif child.working and child.size != order.filled:
                self._resize(child, order.filled)
        partner = order.oco
        if partner is not None and partner.working:
            if order.status == OrderStatus.FILLED:
                self._cancel(partner)
            elif partner.remaining > order.remaining:
                self._resize(partner, partner.filled + order.remaining)
        for child in order.children:
            if child.status == OrderStatus.OPEN:
                self._try_fill(child, book, aggressive=True)
                self._arm(child)

    def _activate(self, child: Order, entry: Order, book: Book) -> None:
        assert child.offset is not None
        fill_price = Fraction(entry.fill_cost, entry.filled)
        level = round(fill_price + child.offset)
        child.size = entry.filled
        self._set_open(child)
        if child.type == OrderType.LIMIT:
            child.limit = level
        elif child.type == OrderType.STOP:
            child.stop = level
        else:
            distance = abs(child.offset)
            child.trail = distance
            child.extreme = book.last
            child.stop = book.last + distance if child.buy else book.last - distance
        self._touch(child)
        self._publish_order(child)

    def _resize(self, order: Order, size: int, *, publish: bool = True) -> None:
        if order.status in LIVE:
            self._count_working(order, size - order.size)
        order.size = size
        if publish:
            self._touch(order)
            self._publish_order(order)

    def _touch(self, order: Order) -> None:
        order.updated_iso = iso(self._clock.now())

    # -- publishing ---------------------------------------------------------------

    def _publish_order(self, order: Order) -> None:
        if self.events.listening(order.account.id):
            self.events.order(order.account.id, self.order_update(order), ACTION_UPDATE)

    def _publish_account(self, account: Account) -> None:
        if self.events.listening(account.id):
            self.events.account(account.id, self.account_update(account))


def _ticks_or_none(to_ticks: Callable[[float, str], int], price: float) -> int | None:
    """Exact ticks of a client price, or None when it is off the grid."""
    try:
        return to_ticks(price, "exact")
    except (ValueError, ArithmeticError):
        return None

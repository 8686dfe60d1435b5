"""The user hub's state: orders, fills, positions and the account — and the fence.

Order updates go through the compiled order table (``pxfast._fsm``), which
decides what each update means: a placement, a partial fill, a fill, a
cancel, a modify echo, or nothing (stale or duplicate).  Each real change is
delivered once to the event bus of the instrument that owns the contract, in
Gateway order, synchronously from the frame that carried it.

**The reconciliation fence.**  Nothing is replayed by the Gateway after a
disconnect, and fills missed during a gap were what cost project-x-py users
their bracket protection (incident #1).  So on every connect and reconnect
the stream is buffered while REST snapshots are taken (open orders, orders
of the recent window, suspended bracket children, every order still working
in the table, positions, fills); the snapshots go through the same order
table, which emits exactly the transitions that were missed, in timestamp
order; then the buffered hub messages are released (the table drops the ones
the snapshot already covered).  A gap is reported as an event with what was
recovered.

The window searched is the reconciliation window the first time, and after
that only back to the previous successful fence (less FENCE_OVERLAP for
clock skew): up to then the table was complete, and an older order that
changed since is still working in the table, so it is looked up by id.  A
periodic audit of a busy account therefore reads seconds of history, not a
day of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec

from pxfast import _fsm
from pxfast._fsm import OrderTable, Transition
from pxfast.event_bus import EventBus, EventType
from pxfast.messages import (
    AccountUpdate,
    OrderUpdate,
    PositionUpdate,
    TradeUpdate,
    UserAccount,
    UserOrder,
    UserPosition,
    UserTrade,
)
from pxfast.models import Account, Order, Position
from pxfast.types.trading import status_of

if TYPE_CHECKING:
    from pxfast.client.project_x import ProjectX

__all__ = ["UserStream", "order_event_data"]

logger = logging.getLogger(__name__)

Router = Callable[[str | None], EventBus]

_STATUS_EVENT = {
    _fsm.FILLED: EventType.ORDER_FILLED,
    _fsm.CANCELLED: EventType.ORDER_CANCELLED,
    _fsm.REJECTED: EventType.ORDER_REJECTED,
    _fsm.EXPIRED: EventType.ORDER_EXPIRED,
    _fsm.PARTIAL_FILL: EventType.ORDER_PARTIAL_FILL,
    _fsm.MODIFIED: EventType.ORDER_MODIFIED,
}
_ROLE_NAMES = _fsm.ROLE_NAMES
_FINISHED = frozenset((2, 3, 4, 5))  # Filled, Cancelled, Expired, Rejected
#: How far back the fence's order and fill search reaches (the default window).
RECENT_WINDOW = timedelta(hours=24)
#: How far before the previous successful fence the next one searches again.
FENCE_OVERLAP = timedelta(minutes=2)
#: What prune() keeps beyond the window, so a fence never meets a forgotten order
#: (a quarter of the window, at most this).
PRUNE_MARGIN = timedelta(hours=1)


def group_label(group: int) -> str:
    return f"grp-{group}"


def order_event_data(
    tr: Transition, update: OrderUpdate, group: int = 0, role: int = 0
) -> dict[str, Any]:
    """The payload of an order event: project-x-py's keys plus the guide's.

    ``group``/``role`` (from the order table) add the bracket keys for the
    members of a bracket or OCO pair.
    """
    new_status = tr.new_status
    fill_volume = update.fillVolume
    if fill_volume is None:
        fill_volume = update.size if new_status == 2 else 0
    data: dict[str, Any] = {
        "order": Order.from_update(update),
        "order_id": tr.order_id,
        "old_status": None if tr.old_status < 0 else tr.old_status,
        "new_status": new_status,
        "status": status_of(new_status),
        "fill_price": update.filledPrice,
        "filled_quantity": fill_volume,
        "contract_id": update.contractId,
        "side": update.side,
        "size": update.size,
        "type": update.type,
        "custom_tag": update.customTag,
    }
    if group:
        name = _ROLE_NAMES[role]
        data["bracket_group_id"] = group_label(group)
        data["bracket_role"] = name
        data["order_type"] = name
    return data


class UserStream:
    """State fed by the user hub (and by the fence's REST snapshots)."""

    def __init__(
        self, client: ProjectX, router: Router, window: timedelta | float = RECENT_WINDOW
    ) -> None:
        if not isinstance(window, timedelta):  # seconds, as a config file writes it
            window = timedelta(seconds=window)
        if window <= timedelta(0):
            raise ValueError(f"the reconciliation window must be positive, not {window}")
        self.client = client
        #: The fence re-reads orders and fills this far back; it must outlast any outage
        #: whose missed fills are to be recovered.  prune() forgets what is older.
        self.window = window
        #: Finished orders prune() has forgotten so far, and the horizon it forgot them
        #: behind (100 ns since the epoch; 0 before the first prune).
        self.forgotten = 0
        self._forgotten_before = 0
        #: When the last successful fence took its snapshots: the table was complete then.
        self._complete_at: datetime | None = None
        self.orders = OrderTable()
        self.positions: dict[str, PositionUpdate] = {}
        self.trades: dict[int, TradeUpdate] = {}
        self.account: AccountUpdate | None = None
        self._route = router
        self._buffer: list[Any] | None = None
        self._watchers: dict[int, list[Callable[[Transition, OrderUpdate], None]]] = {}
        self._child_watchers: list[Callable[[OrderUpdate], None]] = []
        #: Tag -> (bracket group, role, monotonic time registered).
        self._expected: dict[str, tuple[int, int, float]] = {}
        #: Called with the contract id when a position goes flat (after its event).
        self.position_closed_listeners: list[Callable[[str], None]] = []
        #: Called with (contract id, old size, new size) when an open position resizes.
        self.position_resized_listeners: list[Callable[[str, int, int], None]] = []
        #: Called with the ids of the finished orders each prune() forgot.
        self.pruned_listeners: list[Callable[[list[int]], None]] = []
        #: Per contract id (None: any other contract): the order manager's hook, called
        #: with each transition before the events are delivered.
        self.transition_hooks: dict[str | None, Callable[[Transition, OrderUpdate], None]] = {}
        self._realized: dict[str, float] = {}
        self.gaps = 0
        self.last_gap: dict[str, Any] | None = None
        self.reconciled = asyncio.Event()
        self._fence_failures = 0

    # ------------------------------------------------------------------ hub items

    def on_items(self, items: list[Any]) -> None:
        if self._buffer is not None:
            self._buffer.extend(items)
            return
        for item in items:
            cls = item.__class__
            if cls is UserOrder:
                self.apply_order(item.data)
            elif cls is UserTrade:
                self.apply_trade(item.data)
            elif cls is UserPosition:
                self.apply_position(item.data)
            elif cls is UserAccount:
                self.apply_account(item.data)

    def expect(self, tag: str, group: int, role: int) -> None:
        """Give the order that will carry ``tag`` its bracket group and role on first sight.

        Registered before the place is sent, so even an order that fills before
        the REST reply arrives is delivered with its bracket keys.
        """
        self._expected[tag] = (group, role, time.monotonic())

    def apply_order(self, update: OrderUpdate) -> Transition | None:
        if (
            self._forgotten_before
            and update.status in _FINISHED
            and update.id not in self.orders
            and _stamp(update.updateTimestamp or update.creationTimestamp) < self._forgotten_before
        ):
            # History prune() forgot (a REST lookup brought it back): it was delivered
            # when it happened and is not news again.
            return None
        tr = self.orders.apply(update)
        if tr is None:
            return None
        group, role = tr.group, tr.role
        if not group and self._expected and update.customTag in self._expected:
            group, role, _ = self._expected.pop(update.customTag)
            self.orders.set_group(tr.order_id, group, role)
        if update.parentOrderId and self._child_watchers:
            for child_watcher in tuple(self._child_watchers):
                child_watcher(update)
        # The order manager of the contract sees the change before the handlers do
        # (it may owe them an ORDER_PLACED that must come first).
        hooks = self.transition_hooks
        if hooks:
            hook = hooks.get(update.contractId) or hooks.get(None)
            if hook is not None:
                hook(tr, update)
        bus = self._route(update.contractId)
        event = _STATUS_EVENT.get(tr.kind)
        if event is not None and (bus.has_handlers(event)):
            data = order_event_data(tr, update, group, role)
            if event is EventType.ORDER_PARTIAL_FILL:
                data["order_data"] = msgspec.to_builtins(update)
                data["filled_size"] = float(tr.fill_volume)
                data["total_size"] = float(update.size)
            elif event is EventType.ORDER_MODIFIED:
                data["modifications"] = {
                    "limit_price": update.limitPrice,
                    "stop_price": update.stopPrice,
                    "size": update.size,
                }
            bus.dispatch(event, data, "OrderManager")
        if bus.has_handlers(EventType.ORDER_UPDATED):
            data = order_event_data(tr, update, group, role)
            bus.dispatch(EventType.ORDER_UPDATED, data, "OrderManager")
        watchers = self._watchers.get(tr.order_id)
        if watchers:
            for watcher in tuple(watchers):
                watcher(tr, update)
        return tr

    def apply_trade(self, trade: TradeUpdate) -> bool:
        """Record a fill once (by id); True if it was new."""
        if trade.id in self.trades:
            return False
        self.trades[trade.id] = trade
        if trade.profitAndLoss is not None and not trade.voided:
            contract = trade.contractId
            self._realized[contract] = self._realized.get(contract, 0.0) + trade.profitAndLoss
        return True

    def apply_position(self, update: PositionUpdate) -> None:
        contract = update.contractId
        previous = self.positions.get(contract)
        bus = self._route(contract)
        if update.size == 0:
            if previous is None:
                return
            del self.positions[contract]
            pnl = self._realized.pop(contract, None)
            if pnl is None:
                pnl = self._formula_pnl(previous, update)
            if bus.has_handlers(EventType.POSITION_CLOSED):
                data = msgspec.to_builtins(update)
                data.update(
                    {"pnl": pnl, "contractId": contract, "contract_id": contract, "id": update.id}
                )
                bus.dispatch(EventType.POSITION_CLOSED, data, "PositionManager")
            for listener in tuple(self.position_closed_listeners):
                listener(contract)
            return
        if previous is not None and (
            previous.size == update.size
            and previous.type == update.type
            and previous.averagePrice == update.averagePrice
        ):
            return  # nothing changed (a duplicate or the fence's snapshot)
        self.positions[contract] = update
        if previous is None:
            self._realized.pop(contract, None)
        event = EventType.POSITION_OPENED if previous is None else EventType.POSITION_UPDATED
        if bus.has_handlers(event):
            bus.dispatch(event, msgspec.to_builtins(update), "PositionManager")
        if previous is not None and previous.size != update.size:
            for resized in tuple(self.position_resized_listeners):
                resized(contract, previous.size, update.size)

    def _formula_pnl(self, previous: PositionUpdate, closing: PositionUpdate) -> float:
        """project-x-py's fallback: (exit - entry) x size x point value, signed by direction."""
        instrument = self.client._instruments.get((previous.contractId.upper(), False))
        if instrument is None or not instrument.tickSize:
            return 0.0
        point_value = instrument.tickValue / instrument.tickSize
        move = closing.averagePrice - previous.averagePrice
        sign = -1.0 if previous.type == 2 else 1.0
        return sign * move * previous.size * point_value

    def apply_account(self, update: AccountUpdate) -> None:
        self.account = update
        info = self.client.account_info
        if info is not None and info.id == update.id:
            self.client.account_info = Account.from_update(update)

    # ------------------------------------------------------------------ queries

    def position(self, contract_id: str) -> Position | None:
        update = self.positions.get(contract_id)
        return Position.from_update(update) if update is not None else None

    def watch(self, order_id: int, callback: Callable[[Transition, OrderUpdate], None]) -> None:
        self._watchers.setdefault(order_id, []).append(callback)

    def unwatch(self, order_id: int, callback: Callable[[Transition, OrderUpdate], None]) -> None:
        watchers = self._watchers.get(order_id)
        if watchers and callback in watchers:
            watchers.remove(callback)
            if not watchers:
                del self._watchers[order_id]

    def watch_children(self, callback: Callable[[OrderUpdate], None]) -> None:
        self._child_watchers.append(callback)

    def unwatch_children(self, callback: Callable[[OrderUpdate], None]) -> None:
        if callback in self._child_watchers:
            self._child_watchers.remove(callback)

    # ------------------------------------------------------------------ the fence

    @property
    def fencing(self) -> bool:
        return self._buffer is not None

    def begin_fence(self, reconnect: bool) -> None:
        """Called before the subscriptions are (re)sent: hold the stream back."""
        if self._buffer is None:
            self._buffer = []
        self.reconciled.clear()

    async def reconcile(self, reconnect: bool) -> None:
        """Snapshot over REST, emit what was missed, then release the buffered stream."""
        started = time.monotonic()
        transitions = 0
        fills_before = len(self.trades)
        try:
            transitions = await self._apply_snapshots()
        except Exception as exc:
            self._fence_failures += 1
            logger.warning("reconciliation failed (%s); releasing the stream unreconciled", exc)
            self._emit_gap(reconnect, started, transitions, 0, reconciled=False, error=str(exc))
            self._release()
            raise
        self._release()
        self._emit_gap(reconnect, started, transitions, len(self.trades) - fills_before)

    def _release(self) -> None:
        buffered, self._buffer = self._buffer, None
        if buffered:
            self.on_items(buffered)
        self.reconciled.set()

    def _emit_gap(
        self,
        reconnect: bool,
        started: float,
        transitions: int,
        fills: int,
        *,
        reconciled: bool = True,
        error: str | None = None,
    ) -> None:
        info = {
            "hub": "user",
            "reconnect": reconnect,
            "reconciled": reconciled,
            "missed_transitions": transitions,
            "missed_fills": fills,
            "reconcile_seconds": time.monotonic() - started,
        }
        if error:
            info["error"] = error
        # A reconnect is a gap; so is an audit that found something the stream lost.
        if reconnect or transitions or fills or not reconciled:
            self.gaps += 1
            self.last_gap = info
            bus = self._route(None)
            bus.dispatch(EventType.WARNING, {"kind": "gap", **info}, "RealtimeClient")

    async def _apply_snapshots(self) -> int:
        client = self.client
        now = datetime.now(UTC)
        # Older orders are covered by searchOpen (working ones) and by looking up every
        # order still working in the table; the window never reaches what prune() forgot.
        start = now - self.window
        if self._complete_at is not None:
            start = max(start, self._complete_at - FENCE_OVERLAP)
        open_orders, recent, suspended, positions, trades = await asyncio.gather(
            client.search_open_order_updates(),
            client.search_order_updates(start=start, end=now + timedelta(minutes=1)),
            client.query_order_updates(statuses=[8], page_size=200),
            client.search_position_updates(),
            client.search_trade_updates(start, now + timedelta(minutes=1)),
        )
        snapshot: dict[int, OrderUpdate] = {}
        for update in (*recent, *suspended, *open_orders):
            known = snapshot.get(update.id)
            if known is None or _newer(update, known):
                snapshot[update.id] = update
        missing = [
            order_id
            for order_id in self.orders.working_ids(account=self._account_id())
            if order_id not in snapshot
        ]
        if missing:
            found = await asyncio.gather(*(client.get_order_update(i) for i in missing))
            for fetched in found:
                if fetched is not None:
                    snapshot[fetched.id] = fetched
        # Fills first (they carry the P&L a position close reports), then orders, positions.
        for trade in sorted(trades, key=lambda t: (t.creationTimestamp, t.id)):
            self.apply_trade(trade)
        transitions = 0
        for update in sorted(snapshot.values(), key=_order_key):
            if self.apply_order(update) is not None:
                transitions += 1
        self._reconcile_positions(positions)
        self._complete_at = now
        return transitions

    def _reconcile_positions(self, rows: Iterable[PositionUpdate]) -> None:
        seen = set()
        for row in rows:
            seen.add(row.contractId)
            self.apply_position(row)
        for contract, held in list(self.positions.items()):
            if contract not in seen:
                self.apply_position(msgspec.structs.replace(held, size=0, type=0))

    def prune(self, now: datetime | None = None) -> int:
        """Forget finished orders and fills older than the reconciliation window.

        The fence never looks further back than the window, so what is pruned
        here cannot come back as a "new" fill; without pruning a long-running bot
        would hold every order and fill it ever saw.  Returns the orders forgotten.
        """
        horizon = (now or datetime.now(UTC)) - self.window - min(PRUNE_MARGIN, self.window / 4)
        cutoff = int(horizon.timestamp() * 1e7)
        forgotten = self.orders.prune_terminal(cutoff)
        self._forgotten_before = max(self._forgotten_before, cutoff)
        self.forgotten += len(forgotten)
        if forgotten:
            for listener in self.pruned_listeners:
                listener(forgotten)
        stale = [i for i, t in self.trades.items() if 0 < _stamp(t.creationTimestamp) < cutoff]
        for trade_id in stale:
            del self.trades[trade_id]
        # An expectation whose order never showed (its place was refused) lapses too.
        lapsed = time.monotonic() - self.window.total_seconds()
        for tag in [t for t, (_, _, at) in self._expected.items() if at < lapsed]:
            del self._expected[tag]
        return len(forgotten)

    def _account_id(self) -> int | None:
        return self.client.account_info.id if self.client.account_info else None


def _newer(a: OrderUpdate, b: OrderUpdate) -> bool:
    return _order_key(a) > _order_key(b)


def _stamp(text: str | None) -> int:
    """A Gateway timestamp in 100 ns units; 0 for a missing or unreadable one."""
    try:
        return _fsm.parse_timestamp(text) if text else 0
    except ValueError:
        return 0


def _order_key(update: OrderUpdate) -> tuple[int, int, int]:
    return (
        _stamp(update.updateTimestamp or update.creationTimestamp),
        update.fillVolume or 0,
        update.id,
    )

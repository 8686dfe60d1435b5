"""``ManagedTrade``: one risk-managed trade, from sizing to protection to exit.

``async with suite.managed_trade(max_risk_percent=0.01) as trade:
await trade.enter_long(stop_loss=..., take_profit=...)`` sizes the entry from
the risk budget, validates it against the risk rules, places it and, once it
fills, attaches a stop and a target (``RiskManager.attach_risk_orders``).
Orders are followed on the user stream, not found again with open-order
searches (which never list a market order that already filled, the reason
project-x-py's managed trades often skip protecting their position).

Scaling keeps the protection in step with the position: after a scale-in or
a scale-out fill, the stop and target are resized to the live position, so
they can neither leave contracts unprotected nor close more than is held.
On exit the context cancels entries still working and, if a filled position
is left without a working stop, flattens it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pxfast import _fsm
from pxfast.event_bus import EventType
from pxfast.exceptions import ProjectXError, ProjectXOrderError
from pxfast.messages import OrderUpdate
from pxfast.models import Order, OrderPlaceResponse, Position
from pxfast.order_manager.core import _check_side
from pxfast.order_tracker import WORKING, await_order, describe_state
from pxfast.types.trading import OrderSide, OrderStatus, OrderType

if TYPE_CHECKING:
    from pxfast.event_bus import EventBus
    from pxfast.order_manager import OrderManager
    from pxfast.position_manager import PositionManager
    from pxfast.realtime_data_manager import RealtimeDataManager
    from pxfast.risk_manager.core import RiskManager

__all__ = ["ENTRY_FILL_TIMEOUT", "ManagedTrade"]

logger = logging.getLogger(__name__)

#: How long an entry or exit at market is awaited before going on (project-x-py: 10 s).
ENTRY_FILL_TIMEOUT = 10.0
#: How long a fill's position report is awaited when it trails the order update.
POSITION_WAIT = 5.0


class ManagedTrade:
    def __init__(
        self,
        risk_manager: RiskManager,
        order_manager: OrderManager,
        position_manager: PositionManager,
        instrument_id: str,
        data_manager: RealtimeDataManager | None = None,
        event_bus: EventBus | None = None,
        max_risk_percent: float | None = None,
        max_risk_amount: float | None = None,
    ) -> None:
        self.risk = risk_manager
        self.orders = order_manager
        self.positions = position_manager
        self.instrument_id = instrument_id
        self.data_manager = data_manager
        self.event_bus = event_bus
        self.max_risk_percent = max_risk_percent
        self.max_risk_amount = max_risk_amount
        self._order_ids: list[int] = []
        self._entry_id: int | None = None
        self._stop_id: int | None = None
        self._target_id: int | None = None
        self._risk_amount: float | None = None
        self._trade_result: dict[str, Any] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Fills of one entry can arrive back to back: attach protection once, then resize.
        self._protecting = asyncio.Lock()

    @property
    def risk_manager(self) -> RiskManager:
        return self.risk

    @property
    def order_manager(self) -> OrderManager:
        return self.orders

    @property
    def position_manager(self) -> PositionManager:
        return self.positions

    async def __aenter__(self) -> ManagedTrade:
        self.instrument_id = await self.orders.project_x.resolve_contract_id(self.instrument_id)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        """Cancel entries still working; if the entry filled and the position has no working
        stop, flatten it (a position the trade did not open is left alone)."""
        try:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            for order_id in self._order_ids:
                if order_id not in (self._stop_id, self._target_id) and self._working(order_id):
                    await self._quiet_cancel(order_id)
            entry = self.orders.orders.get(self._entry_id) if self._entry_id is not None else None
            position = await self._position() if entry is not None and entry.fillVolume else None
            if position is not None and self.risk._protective_stop(position) is None:
                logger.error(
                    "managed trade on %s ends with an unprotected position; flattening it",
                    self.instrument_id,
                )
                closed = await self.positions.close_position_direct(self.instrument_id)
                if not closed["success"]:
                    logger.error(
                        "flattening %s failed (%s): the position may still be open and unprotected",
                        self.instrument_id,
                        closed["error"],
                    )
        except ProjectXError as exc:
            logger.error("managed trade cleanup on %s failed: %s", self.instrument_id, exc)

    # ------------------------------------------------------------------ state

    def _order(self, order_id: int | None) -> Order | None:
        update = self.orders.orders.get(order_id) if order_id is not None else None
        return Order.from_update(update) if update is not None else None

    def _working(self, order_id: int | None) -> bool:
        return order_id is not None and self.orders.orders.status(order_id) in WORKING

    async def _position(self) -> Position | None:
        return await self.positions.get_position(self.instrument_id)

    async def _market_price(self) -> float:
        price = (
            await self.data_manager.get_current_price() if self.data_manager is not None else None
        )
        if price is None:
            raise RuntimeError(
                f"Unable to fetch current market price for {self.instrument_id}; "
                "give entry_price explicitly"
            )
        return price

    async def _quiet_cancel(self, order_id: int) -> bool:
        """True if the order is cancelled; otherwise its real state is logged, since it
        may have filled while the cancel was on its way."""
        try:
            if await self.orders.cancel_order(order_id):
                return True
            logger.warning(
                "order %s of the managed trade on %s was not cancelled: it is %s",
                order_id,
                self.instrument_id,
                describe_state(self.orders.orders.get(order_id)),
            )
        except ProjectXError as exc:
            logger.error(
                "cancel of order %s failed (%s): it is %s",
                order_id,
                exc,
                describe_state(await self.orders._final_state(order_id)),
            )
        return False

    def _spawn_on_fill(self, order_id: int, action: Any) -> None:
        """Run ``action()`` after every fill (partial or full) of ``order_id``."""
        stream = self.orders.stream
        if stream is None:
            return

        def on_change(tr: _fsm.Transition, update: OrderUpdate) -> None:
            if tr.kind in (_fsm.PARTIAL_FILL, _fsm.FILLED):
                task = asyncio.get_running_loop().create_task(action())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if tr.new_status in (2, 3, 4, 5):
                stream.unwatch(order_id, on_change)

        stream.watch(order_id, on_change)

    def _mock_order(self, side: int, size: int, price: float | None, order_type: int) -> Order:
        account = self.orders.project_x.account_info
        return Order(
            0,
            account.id if account is not None else 0,
            self.instrument_id,
            datetime.now(UTC).isoformat(),
            None,
            OrderStatus.PENDING,
            int(order_type),
            int(side),
            size,
            limitPrice=price,
        )

    async def _validate(self, side: int, size: int, price: float | None, kind: int) -> Any:
        validation = await self.risk.validate_trade(self._mock_order(side, size, price, kind))
        if not validation["is_valid"]:
            raise ValueError(f"Trade validation failed: {validation['reasons']}")
        return validation

    # ------------------------------------------------------------------ entries

    async def enter_long(
        self,
        entry_price: float | None = None,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        size: int | None = None,
        order_type: OrderType = OrderType.MARKET,
    ) -> dict[str, Any]:
        """Buy with risk management (stop from the config when not given; size from risk)."""
        return await self._enter(
            OrderSide.BUY, entry_price, stop_loss, take_profit, size, order_type
        )

    async def enter_short(
        self,
        entry_price: float | None = None,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        size: int | None = None,
        order_type: OrderType = OrderType.MARKET,
    ) -> dict[str, Any]:
        """Sell with risk management (project-x-py requires ``stop_loss``; pxfast derives it)."""
        return await self._enter(
            OrderSide.SELL, entry_price, stop_loss, take_profit, size, order_type
        )

    async def _enter(
        self,
        side: int,
        entry_price: float | None,
        stop_loss: float | None,
        take_profit: float | None,
        size: int | None,
        order_type: int,
    ) -> dict[str, Any]:
        if self._entry_id is not None:
            raise ValueError("Trade already has entry order")
        if order_type not in (OrderType.MARKET, OrderType.LIMIT):
            raise ValueError(f"Managed entries are MARKET or LIMIT orders, got {order_type}")
        if entry_price is None and order_type != OrderType.MARKET:
            raise ValueError("Entry price required for limit orders")
        self.instrument_id = await self.orders.project_x.resolve_contract_id(self.instrument_id)
        instrument = await self.orders.project_x.get_instrument(self.instrument_id)
        reference = entry_price
        if stop_loss is None and self.risk.config.use_stop_loss:
            reference = reference if reference is not None else await self._market_price()
            stop_loss = await self.risk.calculate_stop_loss(reference, side, instrument=instrument)
        if size is None:
            if stop_loss is None:
                size = 1
            else:
                reference = reference if reference is not None else await self._market_price()
                size = await self.calculate_position_size(reference, stop_loss)
                if size < 1:
                    raise ValueError(
                        f"The risk budget does not cover one contract with a stop at {stop_loss}"
                    )
        validation = await self._validate(side, size, entry_price, order_type)
        if order_type == OrderType.MARKET:
            response = await self.orders.place_market_order(self.instrument_id, side, size)
        else:
            assert entry_price is not None
            response = await self.orders.place_limit_order(
                self.instrument_id, side, size, entry_price
            )
        self._entry_id = response.orderId
        self._order_ids.append(response.orderId)
        if stop_loss is not None and reference is not None:
            distance = abs(Decimal(str(reference)) - Decimal(str(stop_loss)))
            self._risk_amount = float(distance * instrument.contractSize * size)

        async def protect() -> None:
            await self._protect(stop_loss, take_profit)

        if order_type == OrderType.MARKET:
            await await_order(self.orders, response.orderId, (), ENTRY_FILL_TIMEOUT)
            await protect()
        else:
            self._spawn_on_fill(response.orderId, protect)
        return {
            "entry_order": self._order(self._entry_id),
            "stop_order": self._order(self._stop_id),
            "target_order": self._order(self._target_id),
            "position": await self._position(),
            "size": size,
            "risk_amount": self._risk_amount,
            "validation": validation,
        }

    async def _filled_position(self) -> Position | None:
        """The position after a fill; the Gateway reports it just after the fill, which may
        come in a later frame than the order update that woke us."""
        position = await self._position()
        if position is None:
            with contextlib.suppress(TimeoutError):
                await self.orders.event_bus.wait_for(EventType.POSITION_OPENED, POSITION_WAIT)
            position = await self._position()
        return position

    async def _protect(self, stop_loss: float | None, take_profit: float | None) -> None:
        """Once the entry filled: attach the stop and target to the position (once)."""
        async with self._protecting:
            await self._attach_or_resize(stop_loss, take_profit)

    async def _attach_or_resize(self, stop_loss: float | None, take_profit: float | None) -> None:
        entry = self.orders.orders.get(self._entry_id) if self._entry_id is not None else None
        if entry is None or (entry.status != OrderStatus.FILLED and not entry.fillVolume):
            logger.warning("entry %s has not filled; nothing to protect yet", self._entry_id)
            return
        position = await self._filled_position()
        if position is None:
            logger.warning("entry %s did not leave a position to protect", self._entry_id)
            return
        if self._working(self._stop_id) or self._working(self._target_id):
            await self._sync_protection()
            return
        attached = await self.risk.attach_risk_orders(position, stop_loss, take_profit)
        bracket = attached["bracket_order"]
        self._stop_id, self._target_id = bracket.stop_order_id, bracket.target_order_id
        self._order_ids.extend(i for i in (self._stop_id, self._target_id) if i is not None)

    async def _sync_protection(self) -> None:
        """Resize the stop and target to the live position (cancel them when flat)."""
        position = await self._position()
        for order_id in (self._stop_id, self._target_id):
            if not self._working(order_id):
                continue
            assert order_id is not None
            if position is None:
                await self._quiet_cancel(order_id)
                continue
            try:
                await self.orders.modify_order(order_id, size=position.size)
            except ProjectXError as exc:
                logger.error("resize of protective order %s failed: %s", order_id, exc)

    async def _market_exit(self, side: int, size: int) -> OrderPlaceResponse:
        response = await self.orders.place_market_order(self.instrument_id, side, size)
        self._order_ids.append(response.orderId)
        await await_order(self.orders, response.orderId, (), ENTRY_FILL_TIMEOUT)
        return response

    async def scale_in(
        self, additional_size: int, new_stop_loss: float | None = None
    ) -> dict[str, Any]:
        """Add to the position; the stop and target grow with it."""
        if not self.risk.config.scale_in_enabled:
            raise ValueError("Scale-in is disabled in risk configuration")
        position = await self._position()
        if position is None:
            raise ValueError("No existing position to scale into")
        side = OrderSide.BUY if position.is_long else OrderSide.SELL
        await self._validate(side, additional_size, None, OrderType.MARKET)
        response = await self._market_exit(side, additional_size)
        await self._sync_protection()
        if new_stop_loss is not None and self._stop_id is not None:
            current = await self._position()
            await self.risk.adjust_stops(current or position, new_stop_loss, self._stop_id)
        held = await self._position()
        return {
            "scale_order": self._order(response.orderId),
            "new_position_size": held.size if held is not None else 0,
            "stop_adjusted": new_stop_loss is not None,
        }

    async def scale_out(self, exit_size: int, limit_price: float | None = None) -> dict[str, Any]:
        """Take ``exit_size`` off (at market, or resting at ``limit_price``); protection shrinks."""
        if not self.risk.config.scale_out_enabled:
            raise ValueError("Scale-out is disabled in risk configuration")
        position = await self._position()
        if position is None:
            raise ValueError("No position to scale out of")
        if exit_size > position.size:
            raise ValueError("Exit size exceeds position size")
        side = OrderSide.SELL if position.is_long else OrderSide.BUY
        if limit_price is None:
            response = await self._market_exit(side, exit_size)
            await self._sync_protection()
        else:
            response = await self.orders.place_limit_order(
                self.instrument_id, side, exit_size, limit_price
            )
            self._order_ids.append(response.orderId)
            self._spawn_on_fill(response.orderId, self._sync_protection)
        return {
            "exit_order": response,
            "remaining_size": position.size - exit_size,
            "exit_type": "limit" if limit_price is not None else "market",
        }

    async def exit_partial(self, size: int) -> bool:
        """Take ``size`` off at market; False if that is more than is held or it fails."""
        position = await self._position()
        if position is None or position.size < size:
            return False
        try:
            await self._market_exit(OrderSide.SELL if position.is_long else OrderSide.BUY, size)
            await self._sync_protection()
        except ProjectXError as exc:
            logger.error("partial exit on %s failed: %s", self.instrument_id, exc)
            return False
        return True

    async def enter_market(
        self, size: int, side: str | int = "BUY", stop_loss: float | None = None
    ) -> dict[str, Any]:
        """Enter at market: ``side`` is "BUY"/"SELL" (any case) or 0/1 (``OrderSide``).

        Anything else is refused: project-x-py enters *short* on every value
        but "BUY", so "buy" or ``OrderSide.BUY`` would sell there.
        """
        if isinstance(side, str):
            name = side.strip().upper()
            if name not in ("BUY", "SELL"):
                raise ProjectXOrderError(f"Invalid order side: {side}")
            side = OrderSide.BUY if name == "BUY" else OrderSide.SELL
        _check_side(side)
        if side == OrderSide.BUY:
            return await self.enter_long(size=size, stop_loss=stop_loss)
        return await self.enter_short(size=size, stop_loss=stop_loss)

    async def enter_bracket(
        self, size: int, entry_price: float, stop_loss: float, take_profit: float
    ) -> dict[str, Any]:
        """A long limit entry at ``entry_price`` (project-x-py enters this at market)."""
        return await self.enter_long(
            entry_price=entry_price,
            stop_loss=stop_loss,
            take_profit=take_profit,
            size=size,
            order_type=OrderType.LIMIT,
        )

    # ------------------------------------------------------------------ management

    async def adjust_stop(self, new_stop_loss: float) -> bool:
        position = await self._position()
        if position is None or self._stop_id is None:
            logger.warning("No position or stop order to adjust")
            return False
        return await self.risk.adjust_stops(position, new_stop_loss, self._stop_id)

    async def adjust_stop_loss(self, new_stop: float) -> bool:
        if self._stop_id is None:
            return False
        try:
            return await self.orders.modify_order(self._stop_id, stop_price=new_stop)
        except ProjectXError as exc:
            logger.error("stop adjustment failed: %s", exc)
            return False

    async def check_trailing_stop(self) -> bool:
        """Trail the stop by the config's distance once the trigger is reached; True if moved."""
        position = await self._position()
        stop = self._order(self._stop_id)
        if position is None or stop is None or stop.stopPrice is None:
            return False
        price = await self.data_manager.get_current_price() if self.data_manager else None
        if price is None:
            return False
        side = OrderSide.BUY if position.is_long else OrderSide.SELL
        if not await self.risk.should_activate_trailing_stop(position.averagePrice, price, side):
            return False
        level = self.risk.calculate_trailing_stop(price, side)
        improves = level > stop.stopPrice if position.is_long else level < stop.stopPrice
        return improves and await self.adjust_stop_loss(level)

    async def close_position(self) -> dict[str, Any] | None:
        """Cancel the stop and target, then close the whole position at market."""
        position = await self._position()
        if position is None:
            return None
        await self.risk.stop_trailing_stops(str(position.id))
        cancelled = [
            order_id
            for order_id in (self._stop_id, self._target_id)
            if self._working(order_id) and order_id is not None
            if await self._quiet_cancel(order_id)
        ]
        response = await self._market_exit(
            OrderSide.SELL if position.is_long else OrderSide.BUY, position.size
        )
        return {
            "close_order": self._order(response.orderId),
            "closed_size": position.size,
            "orders_cancelled": cancelled,
        }

    async def emergency_exit(self) -> bool:
        """Cancel every order of this trade and close the position; False if anything failed."""
        try:
            for order_id in self._order_ids:
                if self._working(order_id):
                    await self.orders.cancel_order(order_id)
            if await self._position() is not None:
                await self.close_position()
        except ProjectXError as exc:
            logger.error("emergency exit on %s failed: %s", self.instrument_id, exc)
            return False
        return True

    async def wait_for_fill(self, timeout: float = 30.0) -> bool:
        """True once the entry is completely filled; False if it ended otherwise or timed out."""
        if self._entry_id is None:
            return False
        update = await await_order(self.orders, self._entry_id, (OrderStatus.FILLED,), timeout)
        return update is not None and update.status == OrderStatus.FILLED

    def is_filled(self) -> bool:
        """The entry is completely filled (the order table's view)."""
        return self._entry_id is not None and self.orders.orders.status(self._entry_id) == 2

    async def monitor_position(self) -> dict[str, Any]:
        """The live position and its unrealised P&L in dollars."""
        position = await self._position()
        if position is None:
            return {"position": None, "pnl": 0, "size": 0}
        analysis = await self.positions.calculate_position_pnl(position)
        return {"position": position, "pnl": analysis["unrealized_pnl"], "size": position.size}

    async def get_trade_summary(self) -> dict[str, Any]:
        report = await self.monitor_position()
        entry = self._order(self._entry_id)
        state = "pending"
        if entry is not None and entry.status == OrderStatus.FILLED:
            state = "open"
        if self._trade_result is not None:
            state = "closed"
        return {
            "instrument": self.instrument_id,
            "entry_order": entry,
            "entry_price": (entry.filledPrice or entry.limitPrice) if entry else None,
            "size": entry.size if entry else None,
            "stop_order": self._order(self._stop_id),
            "target_order": self._order(self._target_id),
            "position": report["position"],
            "pnl": report["pnl"],
            "unrealized_pnl": report["pnl"],
            "risk_amount": self._risk_amount,
            "trade_result": self._trade_result,
            "status": state,
        }

    async def get_summary(self) -> dict[str, Any]:
        return await self.get_trade_summary()

    async def record_trade_result(self, result: dict[str, Any]) -> None:
        """Add the result to the risk manager's history (no synthetic POSITION_CLOSED event:
        the Gateway's close already counts the trade once)."""
        self._trade_result = result
        entry = self._order(self._entry_id)
        await self.risk.add_trade_result(
            instrument=self.instrument_id,
            pnl=result.get("pnl", 0),
            entry_price=result.get("entry_price") or (entry.filledPrice if entry else None),
            exit_price=result.get("exit_price"),
            size=result.get("size") or (entry.size if entry else None),
            side=result.get("side", entry.side if entry else None),
        )

    async def calculate_position_size(
        self,
        entry_price: float,
        stop_loss: float,
        risk_percent: float | None = None,
        risk_amount: float | None = None,
    ) -> int:
        """Whole contracts for this trade's risk budget (its overrides unless given)."""
        instrument = await self.orders.project_x.get_instrument(self.instrument_id)
        sizing = await self.risk.calculate_position_size(
            entry_price,
            stop_loss,
            risk_amount=self.max_risk_amount if risk_amount is None else risk_amount,
            risk_percent=self.max_risk_percent if risk_percent is None else risk_percent,
            instrument=instrument,
        )
        return int(sizing["position_size"])

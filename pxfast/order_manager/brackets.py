"""Brackets and OCO pairs.

A bracket is sent as one native Gateway order whenever the account allows it
("Auto OCO Brackets"): the entry carries its stop and target as tick
distances, so the Gateway creates both legs (Suspended) with the entry and
prices them from the *actual* fill.  The call returns at once with all three
ids, taken from the legs' first appearance on the user hub (by their
``<tag>-SL`` / ``<tag>-TP`` tags) or, failing that, from Order/v2/query,
which lists Suspended orders.  Tick distances are sent signed by price
direction (a long's stop negative), which is right under both readings the
Gateway's sign may have (gateway-protocol §14.6).

Accounts in "Position Brackets" mode refuse native brackets; there the
bracket is built client-side as project-x-py does: the entry, a bounded
wait for its fill — its outcome read from the Gateway, never inferred from a
timeout — then a stop and a target linked as an OCO pair, with an emergency
flatten if a leg cannot be placed.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any, cast

from pxfast import _fsm
from pxfast._ticks import TickSize
from pxfast.client import gateway as ep
from pxfast.client import schema
from pxfast.exceptions import OrderSubmissionUncertainError, ProjectXError, ProjectXOrderError
from pxfast.messages import OrderUpdate
from pxfast.models import BracketOrderResponse, OCOOrderResponse, OrderPlaceResponse
from pxfast.order_manager.core import (
    OrderCore,
    PriceLike,
    _check_price,
    _check_time_in_force,
    offset_ticks,
)
from pxfast.order_tracker import TERMINAL, describe_state
from pxfast.realtime.user_stream import group_label
from pxfast.types.trading import OrderSide, OrderStatus, OrderType

__all__ = ["BracketOrders"]

logger = logging.getLogger(__name__)

_POSITION_BRACKETS = "position brackets"
_ENTRY_TYPES = {"limit": OrderType.LIMIT, "market": OrderType.MARKET, "stop": OrderType.STOP}
_OCO_TYPES = {
    "LIMIT": OrderType.LIMIT,
    "MARKET": OrderType.MARKET,
    "STOP_LIMIT": OrderType.STOP_LIMIT,
    "STOP": OrderType.STOP,
    "TRAILING_STOP": OrderType.TRAILING_STOP,
    "JOIN_BID": OrderType.JOIN_BID,
    "JOIN_ASK": OrderType.JOIN_ASK,
}


def _bracket_error(message: str) -> ProjectXOrderError:
    return ProjectXOrderError(f"Bracket order operation failed: {message}")


class BracketOrders(OrderCore):
    async def place_bracket_order(
        self,
        contract_id: str,
        side: int,
        size: int,
        entry_price: PriceLike | None = None,
        stop_loss_price: PriceLike | None = None,
        take_profit_price: PriceLike | None = None,
        entry_type: str | None = None,
        account_id: int | None = None,
        *,
        stop_offset: PriceLike | None = None,
        target_offset: PriceLike | None = None,
        time_in_force: str | None = None,
    ) -> BracketOrderResponse:
        """Entry + stop + target, with absolute prices or offsets (price points)."""
        if (stop_loss_price is None) == (stop_offset is None):
            raise ProjectXOrderError("Give exactly one of stop_loss_price and stop_offset")
        if (take_profit_price is None) == (target_offset is None):
            raise ProjectXOrderError("Give exactly one of take_profit_price and target_offset")
        kind = (entry_type or ("limit" if entry_price is not None else "market")).lower()
        if kind not in _ENTRY_TYPES:
            raise ProjectXOrderError(
                f"Invalid entry_type {entry_type!r}; use 'limit', 'market' or 'stop'"
            )
        if kind != "market" and entry_price is None:
            raise ProjectXOrderError(f"entry_price is required for {kind} orders")
        prices = {
            "entry_price": entry_price if kind != "market" else None,
            "stop_loss_price": stop_loss_price,
            "take_profit_price": take_profit_price,
            "stop_offset": stop_offset,
            "target_offset": target_offset,
        }
        self._validate(_ENTRY_TYPES[kind], side, size, prices, time_in_force, account_id, None)
        instrument = await self._instrument(contract_id)
        tick = self._tick(instrument)
        buy = side == OrderSide.BUY
        entry = (
            self._align(tick, "entry_price", entry_price)
            if entry_price is not None and kind != "market"
            else None
        )
        anchor = entry if entry is not None else await self._reference_price(instrument.id, tick)
        stop, target = self._leg_prices(
            tick, buy, anchor, stop_loss_price, take_profit_price, stop_offset, target_offset
        )
        if entry is not None:
            if buy and not stop < entry < target:
                raise _bracket_error(
                    f"Buy order stop loss ({stop}) must be below entry ({entry}) "
                    f"and take profit ({target}) above it"
                )
            if not buy and not target < entry < stop:
                raise _bracket_error(
                    f"Sell order stop loss ({stop}) must be above entry ({entry}) "
                    f"and take profit ({target}) below it"
                )
        elif (buy and not stop < target) or (not buy and not target < stop):
            raise _bracket_error(
                f"{'Buy' if buy else 'Sell'} order stop loss ({stop}) and take profit "
                f"({target}) are on the wrong sides of each other"
            )
        native = entry is not None or (stop_offset is not None and target_offset is not None)
        if native and self.config.get("enable_bracket_orders", True):
            try:
                return await self._native_bracket(
                    instrument.id,
                    tick,
                    kind,
                    side,
                    size,
                    entry,
                    anchor,
                    stop,
                    target,
                    stop_offset,
                    target_offset,
                    account_id,
                )
            except ProjectXOrderError as exc:
                if _POSITION_BRACKETS not in str(exc).lower():
                    raise
                logger.info("native brackets refused by the account; building it client-side")
        return await self._client_bracket(
            instrument.id,
            tick,
            kind,
            side,
            size,
            entry,
            stop,
            target,
            stop_offset,
            target_offset,
            account_id,
        )

    def _leg_prices(
        self,
        tick: TickSize,
        buy: bool,
        anchor: Decimal | None,
        stop_price: PriceLike | None,
        target_price: PriceLike | None,
        stop_offset: PriceLike | None,
        target_offset: PriceLike | None,
    ) -> tuple[Decimal, Decimal]:
        """Absolute stop and target (indicative when anchored on a reference price).

        A leg an offset puts at or below zero (a long's stop 30000 points
        under a 21000 entry) is refused like a zero price.
        """
        direction = 1 if buy else -1

        def leg(
            label: str, price: PriceLike | None, offset: PriceLike | None, sign: int
        ) -> Decimal:
            if price is not None:
                return self._align(tick, label, price)
            assert offset is not None
            if anchor is None:
                raise _bracket_error("no reference price for a market entry; give a price")
            level = anchor + sign * direction * offset_ticks(tick, offset) * tick.decimal
            return self._positive(label, f"an offset of {offset} from {anchor}", level)

        return (
            leg("stop_loss_price", stop_price, stop_offset, -1),
            leg("take_profit_price", target_price, target_offset, 1),
        )

    @staticmethod
    def _ticks(
        tick: TickSize, anchor: Decimal | None, price: Decimal, offset: PriceLike | None
    ) -> int:
        """Tick distance of a leg: its offset, else |anchor - price|, at least one."""
        if offset is not None:
            return offset_ticks(tick, offset)
        assert anchor is not None
        return offset_ticks(tick, anchor - price)

    async def _native_bracket(
        self,
        contract_id: str,
        tick: TickSize,
        kind: str,
        side: int,
        size: int,
        entry: Decimal | None,
        anchor: Decimal | None,
        stop: Decimal,
        target: Decimal,
        stop_offset: PriceLike | None,
        target_offset: PriceLike | None,
        account_id: int | None,
    ) -> BracketOrderResponse:
        buy = side == OrderSide.BUY
        stop_ticks = self._ticks(tick, anchor, stop, stop_offset)
        target_ticks = self._ticks(tick, anchor, target, target_offset)
        group = self._new_group()
        tag = self._next_tag()
        legs: dict[int, OrderUpdate] = {}
        watcher = None
        if self.stream is not None:
            self.stream.expect(tag, group, _fsm.ROLE_ENTRY)
            self.stream.expect(f"{tag}-SL", group, _fsm.ROLE_STOP)
            self.stream.expect(f"{tag}-TP", group, _fsm.ROLE_TARGET)

            def watcher(update: OrderUpdate) -> None:
                if update.customTag in (f"{tag}-SL", f"{tag}-TP"):
                    legs[update.id] = update

            self.stream.watch_children(watcher)
        try:
            response = await self.place_order(
                contract_id,
                _ENTRY_TYPES[kind],
                side,
                size,
                limit_price=entry if kind == "limit" else None,
                stop_price=entry if kind == "stop" else None,
                custom_tag=tag,
                account_id=account_id,
                stop_loss_bracket={"ticks": -stop_ticks if buy else stop_ticks, "type": 4},
                take_profit_bracket={"ticks": target_ticks if buy else -target_ticks, "type": 1},
            )
            stop_id, target_id = await self._find_legs(response.orderId, tag, legs)
        finally:
            if self.stream is not None and watcher is not None:
                self.stream.unwatch_children(watcher)
        self._register_bracket(contract_id, group, response.orderId, stop_id, target_id)
        return BracketOrderResponse(
            True,
            response.orderId,
            stop_id,
            target_id,
            float(entry) if entry is not None else 0.0,
            float(stop),
            float(target),
            response,
            None,
            None,
            None,
            group_label(group),
        )

    async def _find_legs(
        self, entry_id: int, tag: str, seen: dict[int, OrderUpdate]
    ) -> tuple[int | None, int | None]:
        """The stop and target ids of a native bracket: from the hub, else v2/query."""

        def pick() -> tuple[int | None, int | None]:
            stop = next((i for i, u in seen.items() if u.customTag == f"{tag}-SL"), None)
            target = next((i for i, u in seen.items() if u.customTag == f"{tag}-TP"), None)
            return stop, target

        deadline = asyncio.get_running_loop().time() + float(
            self.config.get("bracket_leg_timeout", 3.0)
        )
        while self.stream is not None and asyncio.get_running_loop().time() < deadline:
            stop, target = pick()
            if stop is not None and target is not None:
                return stop, target
            await asyncio.sleep(0.005)
        for update in await self.project_x.query_order_updates(statuses=[1, 2, 3, 4, 5, 8]):
            if update.parentOrderId == entry_id:
                seen[update.id] = update
                self._apply_snapshot(update)
        return pick()

    async def _client_bracket(
        self,
        contract_id: str,
        tick: TickSize,
        kind: str,
        side: int,
        size: int,
        entry: Decimal | None,
        stop: Decimal,
        target: Decimal,
        stop_offset: PriceLike | None,
        target_offset: PriceLike | None,
        account_id: int | None,
    ) -> BracketOrderResponse:
        group = self._new_group()
        tag = self._next_tag()
        if self.stream is not None:
            self.stream.expect(tag, group, _fsm.ROLE_ENTRY)
        entry_response = await self.place_order(
            contract_id,
            _ENTRY_TYPES[kind],
            side,
            size,
            limit_price=entry if kind == "limit" else None,
            stop_price=entry if kind == "stop" else None,
            custom_tag=tag,
            account_id=account_id,
        )
        entry_id = entry_response.orderId
        filled, what = await self._await_entry_fill(entry_id)
        if filled is None or not filled.fillVolume:
            timeout = float(self.config.get("bracket_fill_timeout", 60.0))
            raise _bracket_error(
                f"Bracket entry order {entry_id} did not fill within timeout ({timeout:g} s); "
                f"it is {what}."
            )
        fill_size = filled.fillVolume
        fill_price = tick.align(filled.filledPrice) if filled.filledPrice is not None else entry
        buy = side == OrderSide.BUY
        if fill_price is not None and (stop_offset is not None or target_offset is not None):
            stop, target = self._leg_prices(
                tick,
                buy,
                fill_price,
                None if stop_offset is not None else stop,
                None if target_offset is not None else target,
                stop_offset,
                target_offset,
            )
        exit_side = 1 - side
        if self.stream is not None:  # the legs' events carry the bracket keys from the start
            self.stream.expect(f"{tag}-SL", group, _fsm.ROLE_STOP)
            self.stream.expect(f"{tag}-TP", group, _fsm.ROLE_TARGET)
        stop_response: OrderPlaceResponse | None = None
        try:
            stop_response = await self.place_stop_order(
                contract_id, exit_side, fill_size, stop, custom_tag=f"{tag}-SL"
            )
            target_response = await self.place_limit_order(
                contract_id,
                exit_side,
                fill_size,
                target,
                linked_order_id=stop_response.orderId,
                custom_tag=f"{tag}-TP",
            )
        except ProjectXError as exc:
            outcome = await self._unwind_unprotected(
                contract_id, stop_response.orderId if stop_response else None
            )
            raise _bracket_error(
                f"CRITICAL: Bracket order failed - a protective leg for entry {entry_id} "
                f"could not be placed ({exc}); {outcome}"
            ) from exc
        await self._link_oco_orders(stop_response.orderId, target_response.orderId)
        self._register_bracket(
            contract_id, group, entry_id, stop_response.orderId, target_response.orderId
        )
        return BracketOrderResponse(
            True,
            entry_id,
            stop_response.orderId,
            target_response.orderId,
            float(fill_price) if fill_price is not None else 0.0,
            float(stop),
            float(target),
            entry_response,
            stop_response,
            target_response,
            None,
            group_label(group),
        )

    async def _await_entry_fill(self, entry_id: int) -> tuple[OrderUpdate | None, str]:
        """The entry once it ended (or partly filled then ended): its Gateway state,
        and that state in words.

        The outcome is read from the Gateway, never inferred from a timeout:
        if the wait runs out, the entry is cancelled and its final state
        fetched — a fill that raced the cancel is found and used, and a
        refused cancel leaves the entry's real (working) state to report.
        None when the Gateway could not be asked.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def on_change(tr: _fsm.Transition, update: OrderUpdate) -> None:
            if tr.new_status in (2, 3, 4, 5) and not done.done():
                done.set_result(None)

        if self.stream is not None:
            self.stream.watch(entry_id, on_change)
            if self.orders.status(entry_id) in (2, 3, 4, 5):
                done.set_result(None)
        try:
            await asyncio.wait_for(done, float(self.config.get("bracket_fill_timeout", 60.0)))
        except TimeoutError:
            _, state, what = await self._cancel_on_behalf(entry_id)
            return state, what
        finally:
            if self.stream is not None:
                self.stream.unwatch(entry_id, on_change)
        state = await self._final_state(entry_id)
        return state, describe_state(state)

    async def _unwind_unprotected(self, contract_id: str, stop_id: int | None) -> str:
        """A filled entry whose exits could not all be placed: cancel the stop that was
        placed (a stop working on a flat account would open a new position), then
        flatten; what really happened to each, for the error message."""
        parts = []
        if stop_id is not None:
            _, stop_state, what = await self._cancel_on_behalf(stop_id)
            parts.append(f"the stop {stop_id} is {what}")
            if stop_state is not None and stop_state.status == OrderStatus.FILLED:
                parts.append("so the stop closed the position")
                return "; ".join(parts)
        parts.append(await self._emergency_flatten(contract_id))
        return "; ".join(parts)

    async def _emergency_flatten(self, contract_id: str) -> str:
        """Close the position at market; says whether it is closed, never assumes it."""
        try:
            reply = cast(
                schema.Envelope,
                await self.project_x.session.call(
                    ep.POSITION_CLOSE,
                    {"accountId": self._check_account(None), "contractId": contract_id},
                ),
            )
        except ProjectXError as exc:
            failure = str(exc)
        else:
            if reply.success:
                return "the position was closed at market"
            failure = reply.errorMessage or f"errorCode {reply.errorCode}"
        logger.error("emergency close of %s failed: %s", contract_id, failure)
        try:
            rows = await self.project_x.search_position_updates()
        except ProjectXError as exc:
            return (
                f"closing the position failed ({failure}) and it could not be read ({exc}): "
                "it may still be open and UNPROTECTED"
            )
        held = next((p for p in rows if p.contractId == contract_id and p.size), None)
        if held is None:
            return f"the position is flat (the close itself failed: {failure})"
        return (
            f"closing the position failed ({failure}): {held.size} contract(s) are still "
            "open and UNPROTECTED"
        )

    def _register_bracket(
        self, contract_id: str, group: int, entry: int, stop: int | None, target: int | None
    ) -> None:
        """Group the three orders (for the bracket keys of their events) and track them
        as the position's entry and exits; orders not seen yet get their group on first
        sight from the tag expectations."""
        for order_id, role in (
            (entry, _fsm.ROLE_ENTRY),
            (stop, _fsm.ROLE_STOP),
            (target, _fsm.ROLE_TARGET),
        ):
            if order_id is not None and order_id in self.orders:
                self.orders.set_group(order_id, group, role)
        self.stats["bracket_orders"] += 1
        self._track_position_orders(contract_id, entry, stop, target)

    def _track_position_orders(
        self, contract_id: str, entry: int, stop: int | None, target: int | None
    ) -> None:
        slots = self.position_orders.setdefault(
            contract_id, {"entry_orders": [], "stop_orders": [], "target_orders": []}
        )
        slots["entry_orders"].append(entry)
        self.order_to_position[entry] = contract_id
        if stop is not None:
            slots["stop_orders"].append(stop)
            self.order_to_position[stop] = contract_id
        if target is not None:
            slots["target_orders"].append(target)
            self.order_to_position[target] = contract_id

    # ------------------------------------------------------------------ OCO

    async def place_oco_order(
        self,
        contract_id: str,
        first_side: int,
        first_size: int,
        first_order_type: str | int | OrderType,
        first_price: PriceLike | None,
        second_side: int,
        second_size: int,
        second_order_type: str | int | OrderType,
        second_price: PriceLike | None,
        *,
        account_id: int | None = None,
        time_in_force: str | None = None,
        custom_tag: str | None = None,
    ) -> OCOOrderResponse:
        """Two orders where a fill of one cancels the other (native link + client-side link)."""
        legs = [
            (first_side, first_size, _oco_type(first_order_type), first_price, "first"),
            (second_side, second_size, _oco_type(second_order_type), second_price, "second"),
        ]
        for side, size, kind, price, label in legs:
            _check_oco_price(kind, price, label)
            self._validate(kind, side, size, {}, time_in_force, account_id, custom_tag)
        _check_time_in_force(time_in_force)
        # Both legs' prices are checked on the tick grid before the first is sent, so a
        # bad second price cannot leave a first leg to be cancelled again.
        instrument = await self._instrument(contract_id)
        tick = self._tick(instrument)
        for side, _size, kind, price, label in legs:
            if price is None:
                continue
            if kind == OrderType.TRAILING_STOP:
                await self._trail_level(instrument.id, tick, side, price)
            else:
                self._align(tick, f"{label}_price", price)
        contract_id = instrument.id
        group = self._new_group()
        base = custom_tag or self._next_tag()
        first = await self._place_oco_leg(
            contract_id, legs[0], f"{base}-1", group, None, account_id
        )
        ended = self.orders.get(first.orderId)
        if ended is not None and ended.status in TERMINAL:
            # A marketable first leg can fill before its partner is sent: the OCO is
            # decided, and a partner linked to an ended order would be refused anyway.
            return self._decided_oco(group, first, ended, None)
        try:
            second = await self._place_oco_leg(
                contract_id, legs[1], f"{base}-2", group, first.orderId, account_id
            )
        except ProjectXError as exc:
            return await self._second_leg_failed(group, first, exc)
        await self._link_oco_orders(first.orderId, second.orderId)
        for order_id, role in (
            (first.orderId, _fsm.ROLE_FIRST),
            (second.orderId, _fsm.ROLE_SECOND),
        ):
            if order_id in self.orders:
                self.orders.set_group(order_id, group, role)
        return OCOOrderResponse(
            True, group_label(group), first.orderId, second.orderId, first, second, None
        )

    async def _place_oco_leg(
        self,
        contract_id: str,
        leg: tuple[int, int, OrderType, PriceLike | None, str],
        tag: str,
        group: int,
        linked_order_id: int | None,
        account_id: int | None,
    ) -> OrderPlaceResponse:
        side, size, kind, price, _label = leg
        if self.stream is not None:
            role = _fsm.ROLE_FIRST if linked_order_id is None else _fsm.ROLE_SECOND
            self.stream.expect(tag, group, role)
        return await self.place_order(
            contract_id,
            kind,
            side,
            size,
            limit_price=price if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
            stop_price=price if kind == OrderType.STOP else None,
            trail_price=price if kind == OrderType.TRAILING_STOP else None,
            custom_tag=tag,
            linked_order_id=linked_order_id,
            account_id=account_id,
        )

    async def _second_leg_failed(
        self, group: int, first: OrderPlaceResponse, exc: ProjectXError
    ) -> OCOOrderResponse:
        """The partner could not be placed: find out what the first leg is before acting.

        A first leg that filled (the usual cause: it was marketable, and the
        Gateway refuses a partner linked to a filled order) decided the OCO,
        and is returned as such.  A working one is cancelled, and the error
        says what became of it (it may fill while the cancel is on its way).
        A partner whose place is uncertain may be live, so that case is never
        reported as decided: it is raised as uncertain, with the first leg's
        real state.
        """
        first_id = first.orderId
        state = await self._final_state(first_id)
        if state is None or state.status not in TERMINAL:
            _, state, what = await self._cancel_on_behalf(first_id)
        else:
            what = describe_state(state)
        message = f"OCO second leg failed ({exc}); the first leg {first_id} is {what}"
        if isinstance(exc, OrderSubmissionUncertainError):
            raise OrderSubmissionUncertainError(message, payload=exc.payload) from exc
        if state is not None and state.fillVolume:
            return self._decided_oco(group, first, state, str(exc))
        raise ProjectXOrderError(message) from exc

    def _decided_oco(
        self,
        group: int,
        first: OrderPlaceResponse,
        state: OrderUpdate,
        refusal: str | None,
    ) -> OCOOrderResponse:
        """The response of an OCO whose first leg ended before its partner was placed.

        ``success`` is True when the first leg filled (the pair did its job:
        one side traded, the other will never work), with the second id None
        and ``error_message`` saying so; an unfilled end is raised instead.
        """
        if first.orderId in self.orders:
            self.orders.set_group(first.orderId, group, _fsm.ROLE_FIRST)
        if not state.fillVolume:
            raise ProjectXOrderError(
                f"OCO first leg {first.orderId} ended {describe_state(state)} before the "
                "second leg was placed; the second leg was not placed"
            )
        note = (
            f"OCO decided: the first leg {first.orderId} is {describe_state(state)}; "
            "the second leg was not placed"
        )
        if refusal is not None:
            note += f" (sending it failed: {refusal})"
        logger.info("%s", note)
        return OCOOrderResponse(True, group_label(group), first.orderId, None, first, None, note)


def _oco_type(value: str | int | OrderType) -> OrderType:
    if isinstance(value, str):
        name = value.strip().upper()
        if name not in _OCO_TYPES:
            raise ProjectXOrderError(f"Invalid order type: {value}")
        return _OCO_TYPES[name]
    try:
        return OrderType(int(value))
    except ValueError:
        raise ProjectXOrderError(f"Invalid order type: {value}") from None


def _check_oco_price(kind: OrderType, price: Any, label: str) -> None:
    if kind in (OrderType.MARKET, OrderType.JOIN_BID, OrderType.JOIN_ASK):
        if price is not None:
            raise ProjectXOrderError(f"{label}_price must be None for a {kind.name} order")
        return
    if price is None:
        raise ProjectXOrderError(f"{label}_price is required for a {kind.name} order")
    _check_price(f"{label}_price", price)

"""``OrderManager``: placement, queries, modify and cancel, with project-x-py's signatures.

Every request follows one path: validate (typed errors, nothing sent) ->
resolve the symbol -> align prices to the tick exactly -> risk gate -> tag ->
send -> register.  The order's later life comes from the user hub through the
compiled order table, so ``get_order_status`` and the events read the
Gateway's truth, never a guess.

Every order pxfast sends carries a ``customTag`` (the caller's, or a unique
``pxf-...`` one).  The Gateway keeps tags unique per account, so when a
place times out or fails after it may have reached the Gateway, pxfast looks
the tag up before anything else happens: if the order exists the call
returns it, and nothing is ever sent twice (incident #11).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import secrets
import time
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any, cast

from pxfast import _fsm
from pxfast._fsm import OrderTable
from pxfast._ticks import TickSize, cached_tick_size
from pxfast.client import gateway as ep
from pxfast.client import schema
from pxfast.event_bus import EventBus, EventType
from pxfast.exceptions import (
    OrderRateLimitedError,
    OrderSubmissionUncertainError,
    ProjectXError,
    ProjectXInsufficientMarginError,
    ProjectXOrderError,
    ProjectXRiskViolationError,
)
from pxfast.messages import OrderUpdate
from pxfast.models import Instrument, Order, OrderPlaceResponse
from pxfast.order_manager.retry import RetryPolicy
from pxfast.order_tracker import TERMINAL, describe_state
from pxfast.types import config_types
from pxfast.types.trading import OrderStatus, OrderType

if TYPE_CHECKING:
    from pxfast.client.project_x import ProjectX
    from pxfast.realtime.connection import RealtimeConnection
    from pxfast.realtime.user_stream import UserStream

__all__ = ["DEFAULT_CONFIG", "OrderCore", "OrderManagerConfig", "PriceLike"]

logger = logging.getLogger(__name__)

PriceLike = int | float | Decimal


class OrderManagerConfig(config_types.OrderManagerConfig, total=False):
    """project-x-py's keys plus the settings only pxfast has."""

    #: pxfast: tag every order so an uncertain place can be resolved (default True).
    auto_tag: bool
    #: pxfast: seconds to wait for a bracket's legs to appear on the user hub.
    bracket_leg_timeout: float
    #: pxfast: seconds a client-side bracket waits for its entry to fill (project-x-py: 60).
    bracket_fill_timeout: float


DEFAULT_CONFIG: OrderManagerConfig = {
    "enable_bracket_orders": True,
    "enable_trailing_stops": True,
    "auto_risk_management": False,
    "max_order_size": 1000,
    "max_orders_per_minute": 120,
    "default_order_type": "limit",
    "enable_order_validation": True,
    "require_confirmation": False,
    "auto_cancel_on_close": False,
    "order_timeout_minutes": 60,
    "status_check_max_attempts": 5,
    "status_check_initial_delay": 0.5,
    "status_check_backoff_factor": 2.0,
    "status_check_max_delay": 30.0,
    "status_check_circuit_breaker_threshold": 10,
    "status_check_circuit_breaker_reset_time": 300.0,
    "auto_tag": True,
    "bracket_leg_timeout": 3.0,
    "bracket_fill_timeout": 60.0,
}

_TIF_ACCEPTED = {"DAY", "GTC"}
_TIF_UNSUPPORTED = {"IOC", "FOK"}
_PLACE_ERRORS_MARGIN = 3  # Order/place errorCode 3: InsufficientFunds
#: Order timings kept for the statistics.
_TIMINGS_KEPT = 10_000
#: How far back an uncertain place is searched for by its tag.
_TAG_LOOKBACK = timedelta(minutes=10)


def _stats() -> dict[str, Any]:
    return {
        "orders_placed": 0,
        "orders_filled": 0,
        "orders_cancelled": 0,
        "orders_rejected": 0,
        "orders_modified": 0,
        "market_orders": 0,
        "limit_orders": 0,
        "stop_orders": 0,
        "bracket_orders": 0,
        "last_order_time": None,
        "total_volume": 0,
        "total_value": Decimal(0),
        "largest_order": 0,
        "risk_violations": 0,
        "order_validation_failures": 0,
        "uncertain_resolved": 0,
        # The latest timings only, so a long-running bot's memory stays flat.
        "fill_times_ms": deque(maxlen=_TIMINGS_KEPT),
        "response_times_ms": deque(maxlen=_TIMINGS_KEPT),
    }


class OrderCore:
    """Orders on one account: place, track, modify, cancel (project-x-py's API).

    ``pxfast.order_manager.OrderManager`` adds brackets, OCO pairs and the
    position-linked orders on top of this.
    """

    def __init__(
        self,
        project_x_client: ProjectX,
        event_bus: EventBus | None = None,
        config: OrderManagerConfig | None = None,
    ) -> None:
        self.project_x = project_x_client
        self.event_bus = event_bus or EventBus()
        self.config: OrderManagerConfig = {**DEFAULT_CONFIG, **(config or {})}
        self.max_order_size = int(self.config["max_order_size"])
        self.enable_order_validation = bool(self.config["enable_order_validation"])
        self.auto_risk_management = bool(self.config["auto_risk_management"])
        self.realtime: RealtimeConnection | None = None
        self.stream: UserStream | None = None
        self.orders: OrderTable = OrderTable()
        self.risk_manager: Any = None
        self.position_manager: Any = None
        #: The suite's instrument, used when a call leaves the contract implicit.
        self.default_contract_id: str | None = None
        self.stats = _stats()
        self.retry_policy: RetryPolicy | None = None
        self.oco_groups: dict[int, int] = {}
        self.oco_pairs: dict[str, str] = {}
        self.position_orders: dict[str, dict[str, list[int]]] = {}
        self.order_to_position: dict[int, str] = {}
        self._groups = itertools.count(1)
        self._tag_prefix = f"pxf-{os.getpid() % 1000:03d}{secrets.token_hex(3)}-"
        self._tag_seq = itertools.count(1)
        self._placed_at: dict[int, float] = {}
        #: Places awaiting their REST reply, by customTag: (request, caller's tag, send time).
        self._in_flight: dict[str, tuple[schema.PlaceOrderRequest, str | None, float]] = {}
        #: Orders whose ORDER_PLACED the user hub announced before their REST reply came.
        self._announced: set[int] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._cancelled_partners: set[int] = set()

    # ------------------------------------------------------------------ wiring

    async def initialize(self, realtime_client: RealtimeConnection | None = None) -> bool:
        """Attach the realtime connection whose user hub feeds this manager's orders."""
        if realtime_client is not None:
            self.realtime = realtime_client
            self.stream = realtime_client.user
            self.orders = realtime_client.user.orders
            # Transitions of this manager's contract come here; the first manager
            # also takes those of contracts no manager owns.
            hooks = self.stream.transition_hooks
            if self.default_contract_id is not None:
                hooks[self.default_contract_id] = self._on_transition
            hooks.setdefault(None, self._on_transition)
            self.stream.pruned_listeners.append(self._forget_orders)
        return True

    def untrack_order(self, order_id: int) -> None:
        """Stop counting ``order_id`` among its position's entries, stops or targets."""
        contract = self.order_to_position.pop(order_id, None)
        if contract is None:
            return
        for ids in self.position_orders.get(contract, {}).values():
            if order_id in ids:
                ids.remove(order_id)

    def _forget_orders(self, order_ids: list[int]) -> None:
        """The stream pruned these finished orders: drop what this manager kept on them,
        so that it neither grows without bound nor acts later on an order it cannot see."""
        for order_id in order_ids:
            self.untrack_order(order_id)
            self._placed_at.pop(order_id, None)
            self._cancelled_partners.discard(order_id)
            partner = self.oco_groups.pop(order_id, None)
            if partner is not None and self.oco_groups.get(partner) == order_id:
                del self.oco_groups[partner]
            named = self.oco_pairs.pop(str(order_id), None)
            if named is not None and self.oco_pairs.get(named) == str(order_id):
                del self.oco_pairs[named]

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[Any]) -> None:
        """Retrieve a background job's failure: log it and tell the handlers, never lose it."""
        self._background.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        logger.error("background order job %s failed: %s", task.get_name(), exc)
        self.event_bus.dispatch(
            EventType.WARNING,
            {"kind": "background_failed", "job": task.get_name(), "error": str(exc)},
            "OrderManager",
        )

    # ------------------------------------------------------------------ validation

    def _validate(
        self,
        order_type: int,
        side: int,
        size: int,
        prices: Mapping[str, PriceLike | None],
        time_in_force: str | None,
        account_id: int | None,
        custom_tag: str | None,
    ) -> None:
        """Typed errors before any I/O (api-surface §3.12)."""
        try:
            _check_side(side)
            if isinstance(order_type, bool) or order_type not in range(1, 8):
                raise ProjectXOrderError(f"Invalid order type: {order_type}")
            if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                raise ProjectXOrderError(f"Invalid order size: {size}")
            if self.enable_order_validation and size > self.max_order_size:
                raise ProjectXOrderError(
                    f"Order size {size} exceeds max_order_size {self.max_order_size}"
                )
            for label, price in prices.items():
                if price is not None:
                    _check_price(label, price)
            _check_time_in_force(time_in_force)
            if custom_tag is not None and not isinstance(custom_tag, str):
                raise ProjectXOrderError(f"Invalid custom_tag {custom_tag!r}: must be a string")
            self._check_account(account_id)
        except ProjectXOrderError:
            self.stats["order_validation_failures"] += 1
            raise

    def _check_account(self, account_id: int | None) -> int:
        info = self.project_x.account_info
        if info is None:
            raise ProjectXOrderError("No account information available")
        if account_id is not None and account_id != info.id:
            raise ProjectXOrderError(f"Invalid account ID {account_id}. Expected {info.id}")
        return info.id

    async def _instrument(self, contract_id: str | None) -> Instrument:
        """The instrument of an explicit contract id or symbol.

        A missing or blank id is refused, never replaced by the suite's
        instrument: a bot that lost its contract id must not trade the
        default one (project-x-py raises here too).
        """
        if not isinstance(contract_id, str) or not contract_id.strip():
            self.stats["order_validation_failures"] += 1
            raise ProjectXOrderError(f"Invalid symbol format: {contract_id!r}")
        try:
            return await self.project_x.get_instrument(contract_id.strip())
        except ProjectXError as exc:
            raise ProjectXOrderError(f"Cannot resolve contract {contract_id!r}: {exc}") from exc

    def _align(self, tick: TickSize, label: str, price: PriceLike) -> Decimal:
        """``price`` on the tick grid, refused unless it is still > 0 there.

        The check comes after alignment because a positive price below half
        a tick (0.1 on a 0.25 tick) aligns to zero and would go out as
        ``limitPrice: 0``; a price beyond exact tick math is refused too.
        """
        try:
            aligned = tick.align(price)
        except ValueError as exc:
            self.stats["order_validation_failures"] += 1
            raise ProjectXOrderError(f"{exc} ({label})") from None
        return self._positive(label, price, aligned)

    def _positive(self, label: str, given: object, value: Decimal) -> Decimal:
        """``value`` (a price derived from ``given``) if it is > 0; else the zero-price error."""
        if value > 0:
            return value
        self.stats["order_validation_failures"] += 1
        raise ProjectXOrderError(
            f"Invalid price for {label}: {given} is {value} on the tick grid (must be > 0)"
        )

    @staticmethod
    def _tick(instrument: Instrument) -> TickSize:
        return cached_tick_size(instrument.tickSize)

    async def _reference_price(self, contract_id: str, tick: TickSize) -> Decimal | None:
        """The current price (market hub), else the last bar's close; None if unknown."""
        if self.realtime is not None:
            price = self.realtime.market.current_price(contract_id)
            if price is not None:
                return tick.align(price)
        try:
            bars = await self.project_x.get_bars(
                contract_id, days=1, interval=1, limit=1, as_numpy=True
            )
        except ProjectXError:
            return None
        return tick.align(float(bars["close"][-1])) if len(bars) else None

    async def _trail_level(
        self, contract_id: str, tick: TickSize, side: int, distance: PriceLike
    ) -> Decimal:
        """The Gateway's ``trailPrice`` for a trail ``distance`` in price points.

        project-x-py passes the trail as a distance; the Gateway reads
        ``trailPrice`` as a price level and trails by its distance from the
        last trade (gateway-protocol §5.6), so a distance sent as is would be
        refused (or trail thousands of ticks away).  The level is set that far
        from the current price: below it for a sell, above for a buy.
        """
        reference = await self._reference_price(contract_id, tick)
        if reference is None:
            raise ProjectXOrderError(
                f"No current price for {contract_id}: a trailing stop needs one to trail from"
            )
        ticks = offset_ticks(tick, distance)
        offset = ticks * tick.decimal
        level = reference - offset if side == 1 else reference + offset
        return self._positive("trail_price", f"a trail of {distance} from {reference}", level)

    def _next_tag(self) -> str:
        return f"{self._tag_prefix}{next(self._tag_seq)}"

    # ------------------------------------------------------------------ placement

    async def place_order(
        self,
        contract_id: str,
        order_type: int,
        side: int,
        size: int,
        limit_price: PriceLike | None = None,
        stop_price: PriceLike | None = None,
        trail_price: PriceLike | None = None,
        custom_tag: str | None = None,
        linked_order_id: int | None = None,
        account_id: int | None = None,
        stop_loss_bracket: dict[str, Any] | None = None,
        take_profit_bracket: dict[str, Any] | None = None,
        *,
        time_in_force: str | None = None,
    ) -> OrderPlaceResponse:
        """Place one order; every other ``place_*`` call ends here."""
        self._validate(
            order_type,
            side,
            size,
            {"limit_price": limit_price, "stop_price": stop_price, "trail_price": trail_price},
            time_in_force,
            account_id,
            custom_tag,
        )
        instrument = await self._instrument(contract_id)
        tick = self._tick(instrument)
        limit = stop = trail = None
        if order_type not in (OrderType.MARKET, OrderType.JOIN_BID, OrderType.JOIN_ASK):
            if limit_price is not None:
                limit = self._align(tick, "limit_price", limit_price)
            if stop_price is not None:
                stop = self._align(tick, "stop_price", stop_price)
            if trail_price is not None and order_type == OrderType.TRAILING_STOP:
                trail = await self._trail_level(instrument.id, tick, side, trail_price)
        await self._risk_gate(instrument.id, order_type, side, size, limit, stop, linked_order_id)
        request = schema.PlaceOrderRequest(
            accountId=self._check_account(account_id),
            contractId=instrument.id,
            type=int(order_type),
            side=int(side),
            size=size,
            limitPrice=limit,
            stopPrice=stop,
            trailPrice=trail,
        )
        if linked_order_id is not None:
            request.linkedOrderId = int(linked_order_id)
        tag = custom_tag or (self._next_tag() if self.config.get("auto_tag", True) else None)
        if tag is not None:
            request.customTag = tag
        if stop_loss_bracket:
            request.stopLossBracket = _bracket(stop_loss_bracket)
        if take_profit_bracket:
            request.takeProfitBracket = _bracket(take_profit_bracket)
        started = time.monotonic()
        if tag is not None:
            self._in_flight[tag] = (request, custom_tag, started)
        try:
            response = await self._send_place(request)
        finally:
            if tag is not None:
                self._in_flight.pop(tag, None)
        self._placed(request, response, custom_tag, started)
        return response

    async def _send_place(self, request: schema.PlaceOrderRequest) -> OrderPlaceResponse:
        """Send a place once; resolve an uncertain outcome by tag; apply the retry policy."""
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                reply = cast(
                    schema.PlaceOrderResponse,
                    await self.project_x.session.call(ep.ORDER_PLACE, request),
                )
            except OrderRateLimitedError as exc:
                policy = self.retry_policy
                if policy is None or not policy.retries(exc, attempt, resolved_absent=True):
                    raise
                await asyncio.sleep(max(policy.delay(attempt), exc.retry_after or 0.0))
                attempt += 1
                continue
            except OrderSubmissionUncertainError as exc:
                found, absent = await self._resolve_uncertain(request)
                if found is not None:
                    self.stats["uncertain_resolved"] += 1
                    return OrderPlaceResponse(found, True, 0, None)
                if not absent:
                    raise OrderSubmissionUncertainError(
                        f"{exc}. Looking the order up by its customTag {request.customTag!r} "
                        "failed too: it may be live; reconcile before placing it again.",
                        payload=exc.payload,
                    ) from exc
                policy = self.retry_policy
                if policy is None or not policy.retries(exc, attempt, resolved_absent=True):
                    raise OrderSubmissionUncertainError(
                        f"{exc}. No order with customTag {request.customTag!r} was found "
                        "afterwards, so it most likely was not placed.",
                        payload=exc.payload,
                    ) from exc
                await asyncio.sleep(policy.delay(attempt))
                attempt += 1
                continue
            except ProjectXError as exc:
                policy = self.retry_policy
                if policy is None or not policy.retries(exc, attempt, resolved_absent=False):
                    raise
                await asyncio.sleep(policy.delay(attempt))
                attempt += 1
                continue
            self.stats["response_times_ms"].append((time.perf_counter() - started) * 1e3)
            if not reply.success and attempt > 0:
                # A resend refused (e.g. as a duplicate tag): the first may have landed.
                found, _ = await self._resolve_uncertain(request)
                if found is not None:
                    self.stats["uncertain_resolved"] += 1
                    return OrderPlaceResponse(found, True, 0, None)
            if not reply.success:
                message = reply.errorMessage or "Order placement failed"
                error_cls = (
                    ProjectXInsufficientMarginError
                    if reply.errorCode == _PLACE_ERRORS_MARGIN
                    else ProjectXOrderError
                )
                self.stats["orders_rejected"] += 1
                raise error_cls(
                    message,
                    reply.errorCode,
                    {"orderId": reply.orderId, "errorCode": reply.errorCode},
                )
            assert reply.orderId is not None
            return OrderPlaceResponse(reply.orderId, True, reply.errorCode, reply.errorMessage)

    async def _resolve_uncertain(
        self, request: schema.PlaceOrderRequest
    ) -> tuple[int | None, bool]:
        """Look the request's order up by its tag: (its id or None, whether absence is proven).

        Absence is proven only when every lookup succeeded and found no live
        order with the tag after the Gateway had time to show it; a failed
        lookup proves nothing.  A rejected order with the tag is not the
        order: it is a refused duplicate, or the request itself was refused.
        """
        tag = request.customTag
        if not isinstance(tag, str):
            return None, False
        found = self._live_by_tag(tag)
        if found is not None:
            return found, False
        client = self.project_x
        proven = False
        for delay in (0.0, 0.25, 0.75):
            if delay:
                await asyncio.sleep(delay)
            found = self._live_by_tag(tag)
            if found is not None:
                return found, False
            try:
                now = datetime.now(UTC)
                recent = await client.search_order_updates(
                    start=now - _TAG_LOOKBACK, end=now + timedelta(minutes=1)
                )
                open_now = await client.search_open_order_updates()
            except ProjectXError as exc:
                logger.warning("lookup of uncertain order %s failed: %s", tag, exc)
                proven = False
                continue
            proven = True
            for update in (*open_now, *recent):
                if update.customTag == tag and update.status != OrderStatus.REJECTED:
                    self._apply_snapshot(update)
                    return update.id, False
        return None, proven

    def _live_by_tag(self, tag: str) -> int | None:
        found = self.orders.find_by_tag(tag)
        if found is not None and self.orders.status(found) == OrderStatus.REJECTED:
            return None
        return found

    def _placed(
        self,
        request: schema.PlaceOrderRequest,
        response: OrderPlaceResponse,
        custom_tag: str | None,
        started: float,
    ) -> None:
        stats = self.stats
        order_type = request.type
        stats["orders_placed"] += 1
        stats["last_order_time"] = datetime.now()
        stats["total_volume"] += request.size
        stats["largest_order"] = max(stats["largest_order"], request.size)
        if order_type == OrderType.LIMIT:
            stats["limit_orders"] += 1
        elif order_type == OrderType.MARKET:
            stats["market_orders"] += 1
        elif order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
            stats["stop_orders"] += 1
        if isinstance(request.limitPrice, Decimal):
            stats["total_value"] += request.limitPrice * request.size
        if response.orderId in self._announced:
            self._announced.discard(response.orderId)
            return
        if self.orders.status(response.orderId) not in (2, 3, 4, 5):
            self._placed_at[response.orderId] = started  # its fill is still to come
        self._announce(request, response, custom_tag)

    def _announce(
        self,
        request: schema.PlaceOrderRequest,
        response: OrderPlaceResponse,
        custom_tag: str | None,
    ) -> None:
        """Emit ORDER_PLACED with project-x-py's payload (plus the PENDING status)."""
        self.event_bus.dispatch(
            EventType.ORDER_PLACED,
            {
                "order_id": response.orderId,
                "contract_id": request.contractId,
                "order_type": request.type,
                "side": request.side,
                "size": request.size,
                "limit_price": request.limitPrice,
                "stop_price": request.stopPrice,
                "trail_price": request.trailPrice,
                "custom_tag": custom_tag,
                "response": response,
                "status": OrderStatus.PENDING,
            },
            "OrderManager",
        )

    async def _risk_gate(
        self,
        contract_id: str,
        order_type: int,
        side: int,
        size: int,
        limit: Decimal | None,
        stop: Decimal | None,
        linked_order_id: int | None,
    ) -> None:
        """project-x-py's gate: entry-type orders only, not linked, not reducing."""
        risk = self.risk_manager
        if risk is None or not self.auto_risk_management:
            return
        if (
            order_type
            not in (OrderType.LIMIT, OrderType.MARKET, OrderType.JOIN_BID, OrderType.JOIN_ASK)
            or linked_order_id is not None
        ):
            return
        if self._is_reducing(contract_id, side):
            return
        pending = Order(
            0,
            self.project_x.account_info.id if self.project_x.account_info else 0,
            contract_id,
            datetime.now(UTC).isoformat(),
            None,
            OrderStatus.PENDING,
            order_type,
            side,
            size,
            limitPrice=float(limit) if limit is not None else None,
            stopPrice=float(stop) if stop is not None else None,
        )
        verdict = await risk.validate_trade(pending)
        if not verdict.get("is_valid", False):
            self.stats["risk_violations"] += 1
            raise ProjectXRiskViolationError(verdict.get("reasons") or ["risk validation failed"])

    def _is_reducing(self, contract_id: str, side: int) -> bool:
        position = self.stream.positions.get(contract_id) if self.stream else None
        if position is None or position.size == 0:
            return False
        return (position.type == 1 and side == 1) or (position.type == 2 and side == 0)

    # ------------------------------------------------------------------ single-order helpers

    async def place_market_order(
        self,
        contract_id: str,
        side: int,
        size: int,
        account_id: int | None = None,
        *,
        time_in_force: str | None = None,
        custom_tag: str | None = None,
    ) -> OrderPlaceResponse:
        return await self.place_order(
            contract_id,
            OrderType.MARKET,
            side,
            size,
            custom_tag=custom_tag,
            account_id=account_id,
            time_in_force=time_in_force,
        )

    async def place_limit_order(
        self,
        contract_id: str,
        side: int,
        size: int,
        limit_price: PriceLike,
        account_id: int | None = None,
        linked_order_id: int | None = None,
        *,
        time_in_force: str | None = None,
        custom_tag: str | None = None,
    ) -> OrderPlaceResponse:
        _require_price("limit_price", limit_price)
        return await self.place_order(
            contract_id,
            OrderType.LIMIT,
            side,
            size,
            limit_price=limit_price,
            custom_tag=custom_tag,
            linked_order_id=linked_order_id,
            account_id=account_id,
            time_in_force=time_in_force,
        )

    async def place_stop_order(
        self,
        contract_id: str,
        side: int,
        size: int,
        stop_price: PriceLike,
        account_id: int | None = None,
        linked_order_id: int | None = None,
        *,
        time_in_force: str | None = None,
        custom_tag: str | None = None,
    ) -> OrderPlaceResponse:
        _require_price("stop_price", stop_price)
        return await self.place_order(
            contract_id,
            OrderType.STOP,
            side,
            size,
            stop_price=stop_price,
            custom_tag=custom_tag,
            linked_order_id=linked_order_id,
            account_id=account_id,
            time_in_force=time_in_force,
        )

    async def place_trailing_stop_order(
        self,
        contract_id: str,
        side: int,
        size: int,
        trail_price: PriceLike,
        account_id: int | None = None,
        *,
        time_in_force: str | None = None,
    ) -> OrderPlaceResponse:
        _require_price("trail_price", trail_price)
        return await self.place_order(
            contract_id,
            OrderType.TRAILING_STOP,
            side,
            size,
            trail_price=trail_price,
            account_id=account_id,
            time_in_force=time_in_force,
        )

    async def place_join_bid_order(
        self, contract_id: str, size: int, account_id: int | None = None
    ) -> OrderPlaceResponse:
        return await self.place_order(
            contract_id, OrderType.JOIN_BID, 0, size, account_id=account_id
        )

    async def place_join_ask_order(
        self, contract_id: str, size: int, account_id: int | None = None
    ) -> OrderPlaceResponse:
        return await self.place_order(
            contract_id, OrderType.JOIN_ASK, 1, size, account_id=account_id
        )

    # ------------------------------------------------------------------ queries

    def _apply_snapshot(self, update: OrderUpdate) -> None:
        """Fold a REST view of an order into the table (it emits what changed)."""
        if self.stream is not None:
            self.stream.apply_order(update)
        else:
            self.orders.apply(update)

    async def search_open_orders(
        self,
        contract_id: str | None = None,
        side: int | None = None,
        account_id: int | None = None,
    ) -> list[Order]:
        """Open orders (Order/searchOpen), filtered here by contract and side."""
        account = self._check_account(account_id)
        target = await self.project_x.resolve_contract_id(contract_id) if contract_id else None
        updates = await self.project_x.search_open_order_updates(account)
        for update in updates:
            self._apply_snapshot(update)
        return [
            Order.from_update(u)
            for u in updates
            if (target is None or u.contractId == target) and (side is None or u.side == side)
        ]

    async def search_orders(
        self,
        start_timestamp: datetime | None = None,
        end_timestamp: datetime | None = None,
        contract_id: str | None = None,
        account_id: int | None = None,
    ) -> list[Order]:
        """Order/search over a window (default the last 30 days); naive times pass through."""
        account = self._check_account(account_id)
        target = await self.project_x.resolve_contract_id(contract_id) if contract_id else None
        updates = await self.project_x.search_order_updates(start_timestamp, end_timestamp, account)
        return [Order.from_update(u) for u in updates if target is None or u.contractId == target]

    async def query_orders(
        self,
        statuses: list[int] | None = None,
        contract_id: str | None = None,
        page_size: int = 50,
        page_offset: int = 0,
        include_total_count: bool = False,
        account_id: int | None = None,
    ) -> list[Order]:
        """Order/v2/query: the one REST view that lists Suspended bracket legs."""
        account = self._check_account(account_id)
        target = await self.project_x.resolve_contract_id(contract_id) if contract_id else None
        updates = await self.project_x.query_order_updates(
            [int(s) for s in statuses] if statuses else None,
            target,
            page_size,
            page_offset,
            account,
        )
        return [Order.from_update(u) for u in updates]

    async def _fetch_update(self, order_id: int) -> OrderUpdate | None:
        """The Gateway's current view of one order: by id, then open, then history."""
        client = self.project_x
        update = await client.get_order_update(order_id)
        if update is None:
            for candidate in await client.search_open_order_updates():
                if candidate.id == order_id:
                    update = candidate
                    break
        if update is None:
            for candidate in await client.search_order_updates():
                if candidate.id == order_id:
                    update = candidate
                    break
        if update is not None:
            self._apply_snapshot(update)
        return update

    async def get_order_by_id(self, order_id: int) -> Order | None:
        """The order from the live table, else from the Gateway; None if unknown."""
        order_id = _order_id(order_id)
        cached = self.orders.get(order_id)
        if cached is not None:
            return Order.from_update(cached)
        try:
            update = await self._fetch_update(order_id)
        except ProjectXError as exc:
            logger.warning("get_order_by_id(%s) failed: %s", order_id, exc)
            return None
        return Order.from_update(update) if update is not None else None

    get_order = get_order_by_id

    async def get_order_status(self, order_id: int | str) -> OrderStatus:
        """The order's current status (hybrid: ``== 2`` and ``== "FILLED"`` both hold)."""
        oid = _order_id(order_id)
        status = self.orders.status(oid)
        if status < 0:
            update = await self._fetch_update(oid)
            if update is None:
                raise ProjectXOrderError(f"Order {order_id} not found")
            status = update.status
        return OrderStatus(status) if 0 <= status <= 8 else cast(OrderStatus, status)

    async def is_order_filled(self, order_id: str | int) -> bool:
        try:
            return await self.get_order_status(order_id) == OrderStatus.FILLED
        except (ProjectXError, ValueError):
            return False

    async def get_tracked_order_status(
        self, order_id: str, wait_for_cache: bool = False
    ) -> dict[str, Any] | None:
        """The raw Gateway dict of a tracked order (project-x-py's cache view)."""
        oid = _order_id(order_id)
        for _ in range(3 if wait_for_cache else 1):
            cached = self.orders.get(oid)
            if cached is not None:
                import msgspec

                return cast(dict[str, Any], msgspec.to_builtins(cached))
            if wait_for_cache:
                await asyncio.sleep(0.3)
        return None

    async def get_orders(
        self,
        limit: int | None = None,
        status_filter: Iterable[str | int | OrderStatus] | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        contract_id: str | None = None,
        account_id: int | None = None,
    ) -> list[Order]:
        """Recent orders, newest first, filtered by status, cut to ``limit``.

        Naive datetimes are local time (they come from ``datetime.now()``).
        """
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be a non-negative int, got {limit!r}")
        wanted = {OrderStatus.coerce(s) for s in status_filter} if status_filter else None
        end = _local_to_utc(end_time) if end_time else datetime.now(UTC)
        start = _local_to_utc(start_time) if start_time else end - timedelta(days=30)
        orders = await self.search_orders(start, end, contract_id, account_id)
        orders.sort(key=lambda o: o.created_time or datetime.min.replace(tzinfo=UTC), reverse=True)
        if wanted is not None:
            orders = [o for o in orders if int(o.status) in {int(s) for s in wanted}]
        return orders[:limit] if limit is not None else orders

    async def batch_get_status(
        self, order_ids: Iterable[int | str]
    ) -> dict[Any, OrderStatus | None]:
        ids = list(order_ids)

        async def one(raw: int | str) -> OrderStatus | None:
            try:
                return await self.get_order_status(raw)
            except (ProjectXError, ValueError):
                return None

        results = await asyncio.gather(*(one(i) for i in ids))
        return dict(zip(ids, results, strict=True))

    # ------------------------------------------------------------------ mutations

    async def cancel_order(self, order_id: int, account_id: int | None = None) -> bool:
        """True if the order is (now or already) cancelled, False if it already ended otherwise."""
        oid = _order_id(order_id)
        account = self._check_account(account_id)
        status = self.orders.status(oid)
        if status == OrderStatus.CANCELLED:
            return True
        if status in (OrderStatus.FILLED, OrderStatus.EXPIRED, OrderStatus.REJECTED):
            return False
        reply = cast(
            schema.Envelope,
            await self._mutate(ep.ORDER_CANCEL, {"accountId": account, "orderId": oid}),
        )
        if reply.success:
            self.stats["orders_cancelled"] += 1
            return True
        update = await self._fetch_update(oid)
        if update is not None and update.status in (2, 3, 4, 5):
            return update.status == OrderStatus.CANCELLED
        reason = reply.errorMessage or f"errorCode {reply.errorCode}"
        raise ProjectXOrderError(f"Failed to cancel order {oid}: {reason}", reply.errorCode)

    async def modify_order(
        self,
        order_id: int,
        limit_price: PriceLike | None = None,
        stop_price: PriceLike | None = None,
        size: int | None = None,
        trail_price: PriceLike | None = None,
        *,
        new_price: PriceLike | None = None,
        new_size: int | None = None,
    ) -> bool:
        """Change price and/or size; only changed fields are sent; a no-op sends nothing."""
        if new_size is not None:
            if size is not None and size != new_size:
                raise TypeError("modify_order got both size and new_size with different values")
            size = new_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size <= 0):
            raise ProjectXOrderError(f"Invalid order size: {size}")
        for label, price in (
            ("limit_price", limit_price),
            ("stop_price", stop_price),
            ("trail_price", trail_price),
            ("new_price", new_price),
        ):
            if price is not None:
                _check_price(label, price)
        oid = _order_id(order_id)
        current = self.orders.get(oid) or await self._fetch_update(oid)
        if current is None:
            raise ProjectXOrderError(f"Order not found: {oid}")
        if new_price is not None:
            field = _PRICE_FIELD_BY_TYPE.get(current.type)
            if field is None:
                raise ProjectXOrderError(
                    f"Order {oid} is a {OrderType(current.type).name} order; it has no price"
                )
            given = {
                "limit_price": limit_price,
                "stop_price": stop_price,
                "trail_price": trail_price,
            }[field]
            if given is not None and given != new_price:
                raise TypeError(
                    f"modify_order got both {field} and new_price with different values"
                )
            if field == "limit_price":
                limit_price = new_price
            elif field == "stop_price":
                stop_price = new_price
            else:
                trail_price = new_price
        instrument = await self._instrument(current.contractId)
        tick = self._tick(instrument)
        request = schema.ModifyOrderRequest(accountId=self._check_account(None), orderId=oid)
        changed = False
        if limit_price is not None:
            aligned = self._align(tick, "limit_price", limit_price)
            if current.limitPrice is None or aligned != tick.align(current.limitPrice):
                request.limitPrice, changed = aligned, True
        if stop_price is not None:
            aligned = self._align(tick, "stop_price", stop_price)
            if current.stopPrice is None or aligned != tick.align(current.stopPrice):
                request.stopPrice, changed = aligned, True
        if trail_price is not None:
            level = await self._trail_level(current.contractId, tick, current.side, trail_price)
            request.trailPrice, changed = level, True
        if size is not None and size != current.size:
            request.size, changed = size, True
        if not changed:
            return True
        reply = cast(schema.Envelope, await self._mutate(ep.ORDER_MODIFY, request))
        if not reply.success:
            raise ProjectXOrderError(
                reply.errorMessage or f"Failed to modify order {oid} (errorCode {reply.errorCode})",
                reply.errorCode,
            )
        self.stats["orders_modified"] += 1
        return True

    async def _mutate(self, endpoint: ep.Endpoint, body: Any) -> Any:
        """Send a modify/cancel/close, applying the auto-retry policy to refusals only."""
        attempt = 0
        while True:
            try:
                return await self.project_x.session.call(endpoint, body)
            except OrderSubmissionUncertainError:
                raise  # never resent: the request may have been executed
            except ProjectXError as exc:
                policy = self.retry_policy
                if policy is None or not policy.retries(exc, attempt, resolved_absent=False):
                    raise
                await asyncio.sleep(policy.delay(attempt))
                attempt += 1

    async def cancel_all_orders(
        self, contract_id: str | None = None, account_id: int | None = None
    ) -> dict[str, Any]:
        """Cancel every working order (of one contract, if given)."""
        account = self._check_account(account_id)
        target = await self.project_x.resolve_contract_id(contract_id) if contract_id else None
        open_orders = await self.project_x.search_open_order_updates(account)
        for update in open_orders:
            self._apply_snapshot(update)
        ids = {u.id for u in open_orders if target is None or u.contractId == target}
        ids.update(self.orders.working_ids(account=account, contract=target))
        result: dict[str, Any] = {"total": len(ids), "cancelled": 0, "failed": 0, "errors": []}
        outcomes = await asyncio.gather(
            *(self.cancel_order(i, account) for i in sorted(ids)), return_exceptions=True
        )
        for order_id, outcome in zip(sorted(ids), outcomes, strict=True):
            # An order that filled meanwhile (False) is not an error of this call.
            if outcome is True:
                result["cancelled"] += 1
            elif isinstance(outcome, BaseException):
                result["failed"] += 1
                result["errors"].append({"order_id": order_id, "error": str(outcome)})
        return result

    async def batch_cancel_orders(
        self, order_ids: Iterable[int | str]
    ) -> dict[Any, dict[str, Any]]:
        """Cancel concurrently; keys are the ids as passed, values ``{"success", "error"}``."""
        ids = list(order_ids)

        async def one(raw: int | str) -> dict[str, Any]:
            try:
                oid = _order_id(raw)
            except ValueError as exc:
                return {"success": False, "error": str(exc)}
            try:
                if await self.cancel_order(oid):
                    return {"success": True, "error": None}
                return {"success": False, "error": f"order {oid} already ended (not cancellable)"}
            except Exception as exc:
                return {"success": False, "error": str(exc)}

        results = await asyncio.gather(*(one(i) for i in ids))
        return dict(zip(ids, results, strict=True))

    cancel_orders = batch_cancel_orders

    # ------------------------------------------------------------------ retry policy

    def enable_auto_retry(
        self,
        max_attempts: int = 3,
        backoff_factor: float = 2.0,
        recoverable_errors: Iterable[str | type[BaseException]] | None = None,
        *,
        initial_delay: float = 0.5,
    ) -> None:
        """Retry refused mutations (sync; applies to later calls); never duplicates an order."""
        self.retry_policy = RetryPolicy(
            max_attempts, backoff_factor, recoverable_errors, initial_delay=initial_delay
        )

    def disable_auto_retry(self) -> None:
        self.retry_policy = None

    # ------------------------------------------------------------------ transitions

    def _on_transition(self, tr: _fsm.Transition, update: OrderUpdate) -> None:
        """Bookkeeping on every order change: ORDER_PLACED, stats, fill times, client-side OCO."""
        if self._in_flight and tr.old_status < 0 and tr.new_status != OrderStatus.REJECTED:
            # The hub showed our order before the REST reply: announce it now, so that
            # ORDER_PLACED precedes the order's later events (a fill, a cancel).
            placing = self._in_flight.pop(update.customTag or "", None)
            if placing is not None:
                request, custom_tag, started = placing
                self._announced.add(tr.order_id)
                self._placed_at[tr.order_id] = started
                response = OrderPlaceResponse(tr.order_id, True, 0, None)
                self._announce(request, response, custom_tag)
        kind = tr.kind
        if kind == _fsm.FILLED:
            self.stats["orders_filled"] += 1
            placed = self._placed_at.pop(tr.order_id, None)
            if placed is not None:
                self.stats["fill_times_ms"].append((time.monotonic() - placed) * 1e3)
        elif kind in (_fsm.CANCELLED, _fsm.EXPIRED) or kind == _fsm.REJECTED:
            self._placed_at.pop(tr.order_id, None)
        if self._cancelled_partners and tr.new_status in (2, 3, 4, 5):
            self._cancelled_partners.discard(tr.order_id)  # finished: no cancel owed any more
        if (
            tr.partner_id
            and (not tr.partner_native or tr.order_id in self.oco_groups)
            and kind in (_fsm.FILLED, _fsm.PARTIAL_FILL)
        ):
            self._partner_filled(tr, update)
        if tr.children and kind in (_fsm.CANCELLED, _fsm.REJECTED, _fsm.EXPIRED):
            for child in tr.children:
                if self.orders.status(child) in (1, 6, 8):
                    self._spawn(self._quiet_cancel(child), f"pxfast-cancel-{child}")

    def _partner_filled(self, tr: _fsm.Transition, update: OrderUpdate) -> None:
        """A client-side OCO leg filled: cancel (or, on a partial, shrink) its partner once."""
        partner = tr.partner_id
        status = self.orders.status(partner)
        if status in (2, 3, 4, 5):
            if status == 2 and tr.kind == _fsm.FILLED:
                self.event_bus.dispatch(
                    EventType.WARNING,
                    {"kind": "oco_both_filled", "order_ids": [tr.order_id, partner]},
                    "OrderManager",
                )
            return
        if tr.kind == _fsm.FILLED:
            if partner in self._cancelled_partners:
                return
            self._cancelled_partners.add(partner)
            self.oco_groups.pop(tr.order_id, None)
            self.oco_groups.pop(partner, None)
            self._spawn(self._quiet_cancel(partner), f"pxfast-oco-cancel-{partner}")
        else:
            remaining = update.size - (update.fillVolume or 0)
            partner_update = self.orders.get(partner)
            if remaining > 0 and partner_update is not None and partner_update.size > remaining:
                self._spawn(self._quiet_resize(partner, remaining), f"pxfast-oco-resize-{partner}")

    async def _quiet_cancel(self, order_id: int) -> None:
        """Cancel a linked order in the background; a failure is reported, not raised.

        A False from ``cancel_order`` means the order had already ended on
        its own (a partner that filled too is reported by the fill itself,
        as ``oco_both_filled``), so only its real state is logged.
        """
        try:
            if not await self.cancel_order(order_id):
                logger.info(
                    "linked order %s needed no cancel: it is %s",
                    order_id,
                    describe_state(self.orders.get(order_id)),
                )
        except ProjectXError as exc:
            logger.warning("cancel of linked order %s failed: %s", order_id, exc)
            self.event_bus.dispatch(
                EventType.WARNING,
                {"kind": "linked_cancel_failed", "order_id": order_id, "error": str(exc)},
                "OrderManager",
            )

    async def _final_state(self, order_id: int) -> OrderUpdate | None:
        """The order's state for a decision that must not guess.

        The table's when it shows the order ended, else the Gateway's (folded
        into the table); None when the Gateway cannot be asked, so that the
        caller says "unknown" rather than trusting a table that may lag.
        """
        update = self.orders.get(order_id)
        if update is not None and update.status in TERMINAL:
            return update
        try:
            return await self._fetch_update(order_id)
        except ProjectXError as exc:
            logger.warning("lookup of order %s failed: %s", order_id, exc)
            return None

    async def _cancel_on_behalf(self, order_id: int) -> tuple[bool, OrderUpdate | None, str]:
        """Cancel an order the user did not ask to cancel, and say what became of it.

        (whether the Gateway took the cancel, the order's final state, a text
        for messages).  The order may fill while the cancel is on its way, or
        the cancel may be refused: the text is read from the order's state,
        never assumed from the request, so no caller reports a fill as a cancel.
        """
        try:
            cancelled = await self.cancel_order(order_id)
        except ProjectXError as exc:
            state = await self._final_state(order_id)
            return False, state, f"{describe_state(state)} (the cancel failed: {exc})"
        state = await self._final_state(order_id)
        if cancelled and (state is None or state.status not in TERMINAL):
            return True, state, "CANCELLED (the Gateway took the cancel)"
        return cancelled, state, describe_state(state)

    async def _quiet_resize(self, order_id: int, size: int) -> None:
        try:
            await self.modify_order(order_id, size=size)
        except ProjectXError as exc:
            logger.warning("resize of linked order %s failed: %s", order_id, exc)

    # ------------------------------------------------------------------ OCO bookkeeping

    async def _link_oco_orders(self, order1_id: int, order2_id: int) -> None:
        if order1_id == order2_id:
            raise ValueError("Cannot link an order to itself")
        for oid in (order1_id, order2_id):
            previous = self.oco_groups.pop(oid, None)
            if previous is not None:
                self.oco_groups.pop(previous, None)
        self.oco_groups[order1_id] = order2_id
        self.oco_groups[order2_id] = order1_id
        # Keep a link the Gateway reported (linkedOrderId) marked native; pxfast still
        # enforces every pair in oco_groups itself, since that Gateway behaviour is
        # undocumented (gateway-protocol §14.5).
        existing = self.orders.link_of(order1_id)
        native = existing is not None and existing[0] == order2_id and existing[1]
        self.orders.link_oco(order1_id, order2_id, native)

    async def _unlink_oco_orders(self, order_id: int) -> int | None:
        partner = self.oco_groups.pop(order_id, None)
        if partner is not None:
            self.oco_groups.pop(partner, None)
        self.orders.unlink(order_id)
        return partner

    async def get_oco_linked_order(self, order_id: int) -> int | None:
        link = self.orders.link_of(order_id)
        return link[0] if link is not None else self.oco_groups.get(order_id)

    async def track_oco_pair(self, order1_id: str, order2_id: str) -> None:
        self.oco_pairs[str(order1_id)] = str(order2_id)
        self.oco_pairs[str(order2_id)] = str(order1_id)
        await self._link_oco_orders(int(order1_id), int(order2_id))

    def _new_group(self) -> int:
        return next(self._groups)

    # ------------------------------------------------------------------ statistics

    def get_order_statistics(self) -> dict[str, Any]:
        """project-x-py's statistics keys, counted from what really happened."""
        s = self.stats
        placed = s["orders_placed"]
        fills = s["fill_times_ms"]
        responses = s["response_times_ms"]
        return {
            "orders_placed": placed,
            "orders_filled": s["orders_filled"],
            "orders_cancelled": s["orders_cancelled"],
            "orders_rejected": s["orders_rejected"],
            "orders_modified": s["orders_modified"],
            "fill_rate": s["orders_filled"] / placed if placed else 0.0,
            "avg_fill_time_ms": sum(fills) / len(fills) if fills else 0.0,
            "rejection_rate": s["orders_rejected"] / placed if placed else 0.0,
            "market_orders": s["market_orders"],
            "limit_orders": s["limit_orders"],
            "stop_orders": s["stop_orders"],
            "bracket_orders": s["bracket_orders"],
            "last_order_time": s["last_order_time"].isoformat() if s["last_order_time"] else None,
            "avg_order_response_time_ms": sum(responses) / len(responses) if responses else 0.0,
            "fastest_fill_ms": min(fills) if fills else 0.0,
            "slowest_fill_ms": max(fills) if fills else 0.0,
            "total_volume": s["total_volume"],
            "total_value": float(s["total_value"]),
            "avg_order_size": s["total_volume"] / placed if placed else 0.0,
            "largest_order": s["largest_order"],
            "risk_violations": s["risk_violations"],
            "order_validation_failures": s["order_validation_failures"],
        }

    async def get_order_statistics_async(self) -> dict[str, Any]:
        stats = self.get_order_statistics()
        stats["uncertain_resolved"] = self.stats["uncertain_resolved"]
        stats["orders_tracked"] = len(self.orders)
        stats["order_table"] = self.orders.stats()
        return stats

    async def cleanup(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


_PRICE_FIELD_BY_TYPE: dict[int, str] = {
    OrderType.LIMIT: "limit_price",
    OrderType.STOP_LIMIT: "limit_price",
    OrderType.JOIN_BID: "limit_price",
    OrderType.JOIN_ASK: "limit_price",
    OrderType.STOP: "stop_price",
    OrderType.TRAILING_STOP: "trail_price",
}


def offset_ticks(tick: TickSize, offset: PriceLike) -> int:
    """Whole ticks in a distance of ``offset`` price points (ties to even, at least one).

    Computed in Decimal so an offset with many digits (a float from arithmetic)
    is a clear number of ticks, not an error of exact tick math.
    """
    distance = abs(Decimal(str(offset)))
    ticks = int((distance / tick.decimal).to_integral_value(rounding=ROUND_HALF_EVEN))
    return max(1, ticks)


def _check_price(label: str, price: Any) -> None:
    if isinstance(price, bool) or not isinstance(price, int | float | Decimal):
        raise ProjectXOrderError(f"Invalid price for {label}: {price!r} is not a number")
    if isinstance(price, float | Decimal) and not math.isfinite(price):
        raise ProjectXOrderError(f"Invalid price for {label}: {price}")
    if price <= 0:
        raise ProjectXOrderError(f"Invalid price for {label}: {price} (must be > 0)")


def _check_side(side: Any) -> None:
    """Only 0 or 1 as an int (``OrderSide`` included), checked like the size.

    A float, bool or string side is refused rather than read as BUY or
    SELL: ``side=1.0`` must not become a sell when ``size=1.0`` is an error.
    """
    if isinstance(side, bool) or not isinstance(side, int) or side not in (0, 1):
        raise ProjectXOrderError(f"Invalid order side: {side}")


def _require_price(label: str, price: Any) -> None:
    if price is None:
        raise ProjectXOrderError(f"Invalid price for {label}: None")


def _check_time_in_force(tif: str | None) -> None:
    if tif is None:
        return
    if not isinstance(tif, str):
        raise ProjectXOrderError(f"Invalid time_in_force {tif!r}")
    name = tif.strip().upper()
    if name in _TIF_ACCEPTED:
        return
    if name in _TIF_UNSUPPORTED:
        raise ProjectXOrderError(f"time_in_force {name} is not supported by the ProjectX Gateway")
    raise ProjectXOrderError(f"Invalid time_in_force {tif!r}: use DAY or GTC")


def _bracket(spec: Mapping[str, Any]) -> schema.BracketSpec:
    try:
        return schema.BracketSpec(int(spec["ticks"]), int(spec["type"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProjectXOrderError(
            f"Invalid bracket {dict(spec)!r}: needs integer 'ticks' and 'type'"
        ) from exc


def _order_id(raw: int | str) -> int:
    """An order id as an int; ValueError naming a bad one."""
    if isinstance(raw, bool):
        raise ValueError(f"Invalid order id {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    raise ValueError(f"Invalid order id {raw!r}: not an integer")


def _local_to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.astimezone()  # naive means local time
    return value.astimezone(UTC)

"""``RiskManager``: project-x-py's risk rules, sizing and protective orders, exact and event-driven.

With ``features=["risk_manager"]`` the OrderManager asks ``validate_trade``
before sending any entry-type order that does not reduce a position; a
refusal raises ``ProjectXRiskViolationError`` (a ``ProjectXOrderError``, so
project-x-py's ``except`` clauses still catch it) with its reasons, and
nothing reaches the Gateway.  Per-contract limits (``set_position_limit``)
cap the net position an order would leave.

Daily counters come from the positions the user hub reports closed, with
the P&L the Gateway booked.  Money is computed by tick value (a point is
``tickValue / tickSize`` dollars), in Decimal, where project-x-py counts
price points as dollars; account balances come from the live account
state, not a REST call per check.  Prices that reach the Gateway are
aligned to the tick with ``pxfast._ticks``.
"""

from __future__ import annotations

import logging
import statistics
from collections import deque
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pxfast._ticks import TickSize, cached_tick_size
from pxfast.event_bus import Event, EventBus, EventType
from pxfast.exceptions import InvalidOrderParameters, ProjectXError
from pxfast.models import BracketOrderResponse, Instrument, Order, OrderPlaceResponse, Position
from pxfast.order_templates import average_true_range
from pxfast.risk_manager.config import RiskConfig
from pxfast.risk_manager.trailing import TrailingStop
from pxfast.types.trading import OrderSide, OrderType

if TYPE_CHECKING:
    from pxfast.client.project_x import ProjectX
    from pxfast.order_manager import OrderManager
    from pxfast.position_manager import PositionManager
    from pxfast.realtime_data_manager import RealtimeDataManager

__all__ = ["RiskManager"]

logger = logging.getLogger(__name__)

Number = Decimal | float | int
_STOP_TYPES = (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)
#: Trades kept for win rate, profit factor, Sharpe and Kelly (project-x-py keeps 100).
HISTORY_SIZE = 100
#: The ATR a stop of type "atr" uses: period and bars of ``ATR_TIMEFRAME`` (project-x-py's).
ATR_PERIOD = 14
ATR_TIMEFRAME = "15min"


class RiskManager:
    def __init__(
        self,
        project_x: ProjectX,
        order_manager: OrderManager,
        event_bus: EventBus | None = None,
        position_manager: PositionManager | None = None,
        config: RiskConfig | None = None,
        data_manager: RealtimeDataManager | None = None,
    ) -> None:
        self.client = project_x
        self.orders = order_manager
        self.positions = position_manager
        self.position_manager = position_manager
        self.event_bus = event_bus or EventBus()
        self.config = config or RiskConfig()
        self.data_manager = data_manager
        self.position_limits: dict[str, int] = {}
        self._day = self._today()
        self._daily_trades = 0
        self._daily_loss = Decimal(0)
        self._recorded: set[str] = set()
        self._trade_history: deque[dict[str, Any]] = deque(maxlen=HISTORY_SIZE)
        self._win_rate = 0.0
        self._avg_win = Decimal(0)
        self._avg_loss = Decimal(0)
        self._max_drawdown = Decimal(0)
        self._trailing_stops: dict[str, TrailingStop] = {}
        self._subscribed = False

    def set_position_manager(self, position_manager: PositionManager) -> None:
        self.positions = self.position_manager = position_manager

    async def initialize(self) -> None:
        """Count closed positions (trades, realised P&L) from the event bus."""
        if not self._subscribed:
            await self.event_bus.on(EventType.POSITION_CLOSED, self._on_position_closed)
            self._subscribed = True

    # ------------------------------------------------------------------ the trading day

    def _today(self) -> date:
        return datetime.now(ZoneInfo(self.client.config.timezone)).date()

    def _roll_day(self) -> None:
        today = self._today()
        if today != self._day:
            self._day = today
            self._daily_trades = 0
            self._daily_loss = Decimal(0)
            self._recorded.clear()

    async def check_daily_reset(self) -> None:
        """Zero the daily counters when the trading day (in the suite's timezone) changed."""
        self._roll_day()

    def _on_position_closed(self, event: Event) -> None:
        data = event.data if isinstance(event.data, dict) else {}
        pnl = data.get("pnl")
        key = f"close:{data.get('id')}:{data.get('creationTimestamp')}:{data.get('contractId')}"
        self._record(key, float(pnl) if isinstance(pnl, int | float) else 0.0, 0)

    def _record(self, key: str, pnl: float, duration_seconds: int) -> None:
        """One finished trade: daily counters, history and statistics (once per key)."""
        self._roll_day()
        if key in self._recorded:
            return
        self._recorded.add(key)
        self._trade_history.append(
            {
                "position_id": key,
                "pnl": pnl,
                "duration": duration_seconds,
                "timestamp": datetime.now(),
            }
        )
        if pnl < 0:
            self._daily_loss += Decimal(str(-pnl))
        self._daily_trades += 1
        self._update_statistics()
        self.event_bus.dispatch(
            "trade_recorded",
            {
                "position_id": key,
                "pnl": pnl,
                "duration": duration_seconds,
                "daily_loss": float(self._daily_loss),
                "daily_trades": self._daily_trades,
            },
            "RiskManager",
        )

    async def record_trade_result(
        self, position_id: str, pnl: float, duration_seconds: int
    ) -> None:
        """Record a finished trade (each ``position_id`` counts once a day)."""
        self._record(str(position_id), float(pnl), duration_seconds)

    async def add_trade_result(
        self,
        instrument: str,
        pnl: float,
        entry_price: float | None = None,
        exit_price: float | None = None,
        size: int | None = None,
        side: OrderSide | int | None = None,
    ) -> None:
        """Add a trade to the history (win rate, Kelly); a loss also counts toward the day's."""
        self._roll_day()
        self._trade_history.append(
            {
                "instrument": instrument,
                "pnl": pnl,
                "entry_price": entry_price,
                "exit_price": exit_price,
                "size": size,
                "side": side,
                "timestamp": datetime.now(),
            }
        )
        if pnl < 0:
            self._daily_loss += Decimal(str(-pnl))
        self._update_statistics()

    async def update_trade_statistics(self) -> None:
        self._update_statistics()

    def _update_statistics(self) -> None:
        pnls = [Decimal(str(t["pnl"])) for t in self._trade_history]
        wins = [p for p in pnls if p > 0]
        losses = [-p for p in pnls if p < 0]
        self._win_rate = len(wins) / len(pnls) if pnls else 0.0
        self._avg_win = sum(wins, Decimal(0)) / len(wins) if wins else Decimal(0)
        self._avg_loss = sum(losses, Decimal(0)) / len(losses) if losses else Decimal(0)
        equity = peak = drawdown = Decimal(0)
        for pnl in pnls:
            equity += pnl
            peak = max(peak, equity)
            drawdown = max(drawdown, peak - equity)
        self._max_drawdown = drawdown

    # ------------------------------------------------------------------ the guide's setters

    async def set_position_limit(self, contract_id: str, max_contracts: int) -> None:
        """At most ``max_contracts`` net in ``contract_id`` (a symbol is resolved)."""
        if (
            isinstance(max_contracts, bool)
            or not isinstance(max_contracts, int)
            or max_contracts < 0
        ):
            raise ValueError(f"max_contracts must be a non-negative int, got {max_contracts!r}")
        contract = await self.client.resolve_contract_id(contract_id)
        self.position_limits[contract] = max_contracts

    async def set_daily_loss_limit(self, amount: Decimal | float | int) -> None:
        value = Decimal(str(amount))
        if not value.is_finite() or value <= 0:
            raise ValueError(f"daily loss limit must be a positive amount, got {amount!r}")
        self.config.max_daily_loss_amount = value

    # ------------------------------------------------------------------ validation

    def _balance(self) -> Decimal:
        return Decimal(str(float(self.client.get_account_info().balance)))

    async def validate_trade(
        self, order: Order, current_positions: list[Position] | None = None
    ) -> dict[str, Any]:
        """project-x-py's rules plus per-contract limits; never raises (invalid on error)."""
        try:
            return await self._validate(order, current_positions)
        except Exception as exc:
            logger.error("risk validation error: %s", exc)
            return {
                "is_valid": False,
                "reasons": [f"Validation error: {exc}"],
                "warnings": [],
                "current_risk": 0.0,
                "daily_loss": float(self._daily_loss),
                "daily_trades": self._daily_trades,
                "position_count": 0,
                "portfolio_risk": 0.0,
            }

    async def _validate(
        self, order: Order, current_positions: list[Position] | None
    ) -> dict[str, Any]:
        self._roll_day()
        config = self.config
        if current_positions is None:
            current_positions = (
                await self.positions.get_all_positions() if self.positions is not None else []
            )
        reasons: list[str] = []
        if self._daily_trades >= config.max_daily_trades:
            reasons.append(f"Daily trade limit reached ({config.max_daily_trades})")
        if len(current_positions) >= config.max_positions:
            reasons.append(f"Maximum positions limit reached ({config.max_positions})")
        if order.size > config.max_position_size:
            reasons.append(f"Position size exceeds limit ({config.max_position_size})")
        limit = self.position_limits.get(order.contractId)
        if limit is not None:
            held = next((p for p in current_positions if p.contractId == order.contractId), None)
            net = held.signed_size if held is not None else 0
            after = net + (order.size if order.side == 0 else -order.size)
            if abs(after) > limit:
                reasons.append(
                    f"Position limit for {order.contractId}: {abs(after)} contracts would "
                    f"exceed {limit}"
                )
        balance = self._balance()
        if config.max_daily_loss_amount is not None:
            if self._daily_loss >= config.max_daily_loss_amount:
                reasons.append(f"Daily loss limit reached (${config.max_daily_loss_amount})")
        elif balance > 0 and self._daily_loss / balance >= config.max_daily_loss:
            reasons.append(f"Daily loss limit reached ({config.max_daily_loss * 100}%)")
        if config.restrict_trading_hours and not self._within_hours():
            reasons.append("Outside allowed trading hours")
        warnings, portfolio_risk = await self._warnings(order, current_positions)
        return {
            "is_valid": not reasons,
            "reasons": reasons,
            "warnings": warnings,
            "current_risk": portfolio_risk,
            "daily_loss": float(self._daily_loss),
            "daily_trades": self._daily_trades,
            "position_count": len(current_positions),
            "portfolio_risk": portfolio_risk,
        }

    async def _warnings(self, order: Order, positions: list[Position]) -> tuple[list[str], float]:
        """Portfolio-risk and correlation warnings; they never make a trade invalid."""
        warnings: list[str] = []
        try:
            portfolio_risk = await self._portfolio_risk(positions)
        except ProjectXError as exc:
            return [f"Portfolio risk unavailable: {exc}"], 0.0
        if portfolio_risk > self.config.max_portfolio_risk:
            warnings.append(
                f"Portfolio risk high ({portfolio_risk * 100:.1f}% vs "
                f"{self.config.max_portfolio_risk * 100}% limit)"
            )
        correlated = sum(1 for p in positions if p.symbol == order.symbol)
        if correlated >= self.config.max_correlated_positions:
            warnings.append(f"Multiple correlated positions ({correlated} positions)")
        return warnings, float(portfolio_risk)

    def _within_hours(self) -> bool:
        now = datetime.now(ZoneInfo(self.client.config.timezone)).time()
        for start, end in self.config.allowed_trading_hours:
            if time.fromisoformat(start) <= now <= time.fromisoformat(end):
                return True
        return False

    # ------------------------------------------------------------------ risk of what is held

    def _protective_stop(self, position: Position) -> Decimal | None:
        """The working exit stop nearest the position's average price (live order table)."""
        exit_side = OrderSide.SELL if position.is_long else OrderSide.BUY
        average = Decimal(str(position.averagePrice))
        table = self.orders.orders
        levels = []
        for order_id in table.working_ids(contract=position.contractId):
            update = table.get(order_id)
            if (
                update is not None
                and update.type in _STOP_TYPES
                and update.side == exit_side
                and update.stopPrice is not None
            ):
                levels.append(Decimal(str(update.stopPrice)))
        return min(levels, key=lambda level: abs(average - level)) if levels else None

    async def _position_risk(self, position: Position) -> Decimal:
        """Dollars lost if the position is stopped out (default stop distance when unprotected)."""
        instrument = await self.client.get_instrument(position.contractId)
        average = Decimal(str(position.averagePrice))
        stop = self._protective_stop(position)
        if stop is not None:
            distance = abs(average - stop)
        else:
            distance = self._stop_distance(average, cached_tick_size(instrument.tickSize), None)
        return distance * instrument.contractSize * position.size

    async def _portfolio_risk(self, positions: list[Position]) -> Decimal:
        """Total stop-out risk as a fraction of the balance."""
        balance = self._balance()
        if not positions or balance <= 0:
            return Decimal(0)
        total = Decimal(0)
        for position in positions:
            total += await self._position_risk(position)
        return total / balance

    async def get_risk_metrics(self) -> dict[str, Any]:
        """project-x-py's RiskAnalysisResponse keys, plus the daily and per-contract limits."""
        self._roll_day()
        positions = await self.positions.get_all_positions() if self.positions is not None else []
        balance = self._balance()
        position_risks = []
        for position in positions:
            amount = await self._position_risk(position)
            position_risks.append(
                {
                    "position_id": position.id,
                    "symbol": position.symbol,
                    "risk_amount": float(amount),
                    "risk_percent": float(amount / balance) if balance > 0 else 0.0,
                }
            )
        total = sum((Decimal(str(r["risk_amount"])) for r in position_risks), Decimal(0))
        amount_limit = self.config.max_daily_loss_amount
        return {
            "current_risk": float(total / balance) if balance > 0 else 0.0,
            "max_risk": float(self.config.max_portfolio_risk),
            "daily_loss": float(self._daily_loss),
            "daily_loss_limit": float(self.config.max_daily_loss),
            "position_count": len(positions),
            "position_limit": self.config.max_positions,
            "daily_trades": self._daily_trades,
            "daily_trade_limit": self.config.max_daily_trades,
            "win_rate": self._win_rate,
            "profit_factor": self._profit_factor(),
            "sharpe_ratio": self._sharpe_ratio(),
            "max_drawdown": float(self._max_drawdown),
            "position_risks": position_risks,
            "risk_per_trade": float(self.config.max_risk_per_trade),
            "account_balance": float(balance),
            "margin_used": 0.0,
            "margin_available": float(balance),
            "max_daily_trades": self.config.max_daily_trades,
            "max_daily_loss_amount": float(amount_limit) if amount_limit is not None else None,
            "position_limits": dict(self.position_limits),
        }

    def _profit_factor(self) -> float:
        pnls = [t["pnl"] for t in self._trade_history]
        gross_profit = sum(p for p in pnls if p > 0)
        gross_loss = -sum(p for p in pnls if p < 0)
        return float(gross_profit / gross_loss) if gross_loss > 0 else 0.0

    def _sharpe_ratio(self) -> float:
        """Per-trade returns annualised over 252 days, as project-x-py computes it."""
        pnls = [float(t["pnl"]) for t in self._trade_history]
        if len(pnls) < 2:
            return 0.0
        deviation = statistics.stdev(pnls)
        return statistics.mean(pnls) / deviation * 252**0.5 if deviation else 0.0

    async def analyze_portfolio_risk(self) -> dict[str, Any]:
        try:
            positions = (
                await self.positions.get_all_positions() if self.positions is not None else []
            )
            position_risks = []
            total = Decimal(0)
            for position in positions:
                amount = await self._position_risk(position)
                total += amount
                position_risks.append(
                    {
                        "instrument": position.contractId,
                        "risk": float(amount),
                        "size": position.size,
                    }
                )
            return {
                "total_risk": float(total),
                "position_risks": position_risks,
                "risk_metrics": await self.get_risk_metrics(),
                "recommendations": [],
            }
        except ProjectXError as exc:
            logger.error("portfolio risk analysis failed: %s", exc)
            return {
                "total_risk": 0,
                "position_risks": [],
                "risk_metrics": {},
                "recommendations": [],
                "error": str(exc),
            }

    async def analyze_trade_risk(
        self,
        instrument: str,
        entry_price: float,
        stop_loss: float,
        take_profit: float,
        position_size: int,
    ) -> dict[str, Any]:
        """Dollar risk and reward of a planned trade, and their ratio."""
        value = (await self.client.get_instrument(instrument)).contractSize
        entry = Decimal(str(entry_price))
        risk = abs(entry - Decimal(str(stop_loss))) * value * position_size
        reward = abs(Decimal(str(take_profit)) - entry) * value * position_size
        balance = self._balance()
        return {
            "risk_amount": float(risk),
            "reward_amount": float(reward),
            "risk_reward_ratio": float(reward / risk) if risk > 0 else 0.0,
            "risk_percent": float(risk / balance) if balance > 0 else 0.0,
        }

    # ------------------------------------------------------------------ sizing

    async def _instrument(self, instrument: Instrument | None) -> Instrument | None:
        """The given instrument, else the one this manager's orders default to."""
        if instrument is not None:
            return instrument
        contract = self.orders.default_contract_id
        return await self.client.get_instrument(contract) if contract else None

    async def calculate_position_size(
        self,
        entry_price: float,
        stop_loss: float,
        risk_amount: float | None = None,
        risk_percent: float | None = None,
        instrument: Instrument | None = None,
        use_kelly: bool | None = None,
    ) -> dict[str, Any]:
        """Whole contracts whose loss at the stop stays within the risk budget.

        The budget is ``risk_amount``, else ``risk_percent`` (default
        ``max_risk_per_trade``) of the balance, capped by
        ``max_risk_per_trade_amount``; a contract risks the stop's tick
        distance times the tick value.  Kelly (when enabled and enough trades
        are recorded) can only lower the size; ``max_position_size`` caps it.
        """
        self._roll_day()
        balance = self._balance()
        instrument = await self._instrument(instrument)
        tick_size = float(instrument.tickSize) if instrument is not None else 0.25
        if risk_amount is None:
            percent = self.config.max_risk_per_trade if risk_percent is None else risk_percent
            budget = balance * Decimal(str(percent))
        else:
            budget = Decimal(str(risk_amount))
        if self.config.max_risk_per_trade_amount:
            budget = min(budget, Decimal(str(self.config.max_risk_per_trade_amount)))
        response: dict[str, Any] = {
            "entry_price": entry_price,
            "stop_loss": stop_loss,
            "tick_size": tick_size,
            "account_balance": float(balance),
            "max_position_size": self.config.max_position_size,
        }
        if budget == 0:
            return {
                **response,
                "position_size": 0,
                "risk_amount": 0.0,
                "risk_percent": 0.0,
                "kelly_fraction": None,
                "sizing_method": "zero_risk",
            }
        distance = abs(Decimal(str(entry_price)) - Decimal(str(stop_loss)))
        if distance == 0:
            raise InvalidOrderParameters("Entry and stop loss prices cannot be equal")
        per_contract = self._dollar_risk(distance, instrument)
        size = int(budget // per_contract)
        kelly = (use_kelly or (use_kelly is None and self.config.use_kelly_criterion)) and len(
            self._trade_history
        ) >= self.config.min_trades_for_kelly
        if kelly:
            size = min(size, self._kelly_size(size, balance, per_contract))
        size = max(0, min(size, self.config.max_position_size))
        actual = per_contract * size
        return {
            **response,
            "position_size": size,
            "risk_amount": float(actual),
            "risk_percent": float(actual / balance) if balance > 0 else 0.0,
            "kelly_fraction": (
                self._kelly_fraction() if self.config.use_kelly_criterion or use_kelly else None
            ),
            "sizing_method": "kelly" if kelly else "fixed_risk",
        }

    @staticmethod
    def _dollar_risk(distance: Decimal, instrument: Instrument | None) -> Decimal:
        """Dollars one contract loses over ``distance`` points ($1 a point if unknown)."""
        if instrument is None or instrument.tickSize <= 0:
            return distance
        ticks = distance / Decimal(str(instrument.tickSize))
        per_contract = ticks * Decimal(str(instrument.tickValue))
        if per_contract <= 0:
            raise InvalidOrderParameters("Instrument tickValue must be positive for sizing")
        return per_contract

    def _kelly_fraction(self) -> float:
        """Partial Kelly: (p*b - q)/b times ``kelly_fraction``, within [0, 0.25]."""
        if self._win_rate == 0 or self._avg_loss == 0:
            return 0.0
        b = float(self._avg_win / self._avg_loss)
        if b == 0:
            return 0.0
        p = self._win_rate
        kelly = (p * b - (1 - p)) / b
        return max(0.0, min(kelly * float(self.config.kelly_fraction), 0.25))

    def _kelly_size(self, base_size: int, balance: Decimal, per_contract: Decimal) -> int:
        """Contracts whose stop-out loss stays within the Kelly fraction of the balance."""
        fraction = self._kelly_fraction()
        if fraction <= 0:
            return base_size
        return int(balance * Decimal(str(fraction)) // per_contract)

    async def calculate_kelly_position_size(
        self, base_size: int, win_rate: float, avg_win: float, avg_loss: float
    ) -> int:
        """project-x-py's formula: ``round(base_size * (1 + partial Kelly))``."""
        if avg_loss == 0 or win_rate == 0:
            return base_size
        b = avg_win / avg_loss
        kelly = (win_rate * b - (1 - win_rate)) / b * float(self.config.kelly_fraction)
        return round(base_size * (1 + max(0.0, min(kelly, 0.25))))

    # ------------------------------------------------------------------ stops and targets

    def _stop_distance(self, entry: Decimal, tick: TickSize, atr: float | None) -> Decimal:
        """Price distance of a default stop: ticks ("fixed"), percent of entry, or ATRs."""
        config = self.config
        if config.stop_loss_type == "atr" and atr:
            return Decimal(str(atr)) * config.default_stop_atr_multiplier
        if config.stop_loss_type == "percentage":
            return entry * config.default_stop_distance / 100
        return config.default_stop_distance * tick.decimal

    async def _latest_atr(self) -> float | None:
        """ATR(14) of 15-minute bars for "atr" stops; None (fixed stop) without enough bars."""
        if self.data_manager is None:
            return None
        bars = await self.data_manager.get_data(ATR_TIMEFRAME, bars=50, as_numpy=True)
        if bars is None or len(bars) < ATR_PERIOD:
            logger.warning(
                "not enough %s bars for an ATR stop; using the fixed stop", ATR_TIMEFRAME
            )
            return None
        return average_true_range(bars["high"], bars["low"], bars["close"], ATR_PERIOD)

    async def calculate_stop_loss(
        self,
        entry_price: float,
        side: OrderSide | int,
        atr_value: float | None = None,
        instrument: Instrument | None = None,
    ) -> float:
        """The default stop for an entry, aligned to the tick (tick 1.0 without an instrument)."""
        tick = cached_tick_size(instrument.tickSize if instrument is not None else 1)
        entry = Decimal(str(entry_price))
        if self.config.stop_loss_type not in ("fixed", "percentage", "atr"):
            distance = Decimal(50)
        else:
            distance = self._stop_distance(entry, tick, atr_value)
        stop = entry - distance if side == OrderSide.BUY else entry + distance
        return float(tick.align(stop))

    async def calculate_take_profit(
        self,
        entry_price: float,
        stop_loss: float,
        side: OrderSide | int,
        risk_reward_ratio: float | None = None,
    ) -> float:
        ratio = (
            self.config.default_risk_reward_ratio
            if risk_reward_ratio is None
            else Decimal(str(risk_reward_ratio))
        )
        entry = Decimal(str(entry_price))
        reward = abs(entry - Decimal(str(stop_loss))) * ratio
        return float(entry + reward if side == OrderSide.BUY else entry - reward)

    async def should_activate_trailing_stop(
        self, entry_price: float, current_price: float, side: OrderSide | int
    ) -> bool:
        if not self.config.use_trailing_stops:
            return False
        move = Decimal(str(current_price)) - Decimal(str(entry_price))
        profit = move if side == OrderSide.BUY else -move
        return profit >= self.config.trailing_stop_trigger

    def calculate_trailing_stop(self, current_price: float, side: OrderSide | int) -> float:
        price = Decimal(str(current_price))
        distance = self.config.trailing_stop_distance
        return float(price - distance if side == OrderSide.BUY else price + distance)

    async def attach_risk_orders(
        self,
        position: Position,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        use_trailing: bool | None = None,
    ) -> dict[str, Any]:
        """Protect an open position: a stop, then a target linked to it, as an OCO pair.

        Missing prices come from the config (stop distance, risk/reward).
        The stop is placed first; the target carries ``linkedOrderId`` = the
        stop (the Gateway's OCO) and the pair is also linked client-side, so
        a fill of either cancels the other exactly once.  Both are tracked as
        the position's exits, so a flat position cancels what is left.  If
        the target cannot be placed the stop stays, and the result says so.
        """
        manager = self.orders
        instrument = await self.client.get_instrument(position.contractId)
        tick = cached_tick_size(instrument.tickSize)
        entry = Decimal(str(position.averagePrice))
        long = position.is_long
        stop: Decimal | None = None
        if stop_loss is not None:
            stop = tick.align(stop_loss)
        elif self.config.use_stop_loss:
            atr = await self._latest_atr() if self.config.stop_loss_type == "atr" else None
            distance = self._stop_distance(entry, tick, atr)
            stop = tick.align(entry - distance if long else entry + distance)
        target: Decimal | None = None
        if take_profit is not None:
            target = tick.align(take_profit)
        elif self.config.use_take_profit and stop is not None:
            reward = abs(entry - stop) * self.config.default_risk_reward_ratio
            target = tick.align(entry + reward if long else entry - reward)
        exit_side = OrderSide.SELL if long else OrderSide.BUY
        stop_response: OrderPlaceResponse | None = None
        target_response: OrderPlaceResponse | None = None
        error: str | None = None
        if stop is not None:
            stop_response = await manager.place_stop_order(
                position.contractId, exit_side, position.size, stop
            )
            await manager.track_order_for_position(
                position.contractId, stop_response.orderId, "stop"
            )
        if target is not None:
            try:
                target_response = await manager.place_limit_order(
                    position.contractId,
                    exit_side,
                    position.size,
                    target,
                    linked_order_id=stop_response.orderId if stop_response else None,
                )
            except ProjectXError as exc:
                logger.error("target for position %s not placed: %s", position.id, exc)
                error = f"Take profit not placed: {exc}"
            else:
                await manager.track_order_for_position(
                    position.contractId, target_response.orderId, "target"
                )
        if stop_response is not None and target_response is not None:
            await manager._link_oco_orders(stop_response.orderId, target_response.orderId)
        bracket = BracketOrderResponse(
            error is None,
            None,
            stop_response.orderId if stop_response else None,
            target_response.orderId if target_response else None,
            float(entry),
            float(stop) if stop is not None else 0.0,
            float(target) if target is not None else 0.0,
            None,
            stop_response,
            target_response,
            error,
        )
        trailing = self.config.use_trailing_stops if use_trailing is None else use_trailing
        if trailing and stop is not None and stop_response is not None:
            self._start_trailing(position, stop_response.orderId, stop, tick)
        await self.event_bus.emit(
            "risk_orders_placed",
            {
                "position": position,
                "stop_loss": float(stop) if stop is not None else None,
                "take_profit": float(target) if target is not None else None,
                "bracket_order": bracket,
                "use_trailing": trailing,
            },
        )
        return {
            "position_id": position.id,
            "stop_loss": float(stop) if stop is not None else None,
            "take_profit": float(target) if target is not None else None,
            "bracket_order": bracket,
            "use_trailing": trailing,
            "risk_reward_ratio": float(self.config.default_risk_reward_ratio),
        }

    def _start_trailing(
        self, position: Position, stop_id: int, stop: Decimal, tick: TickSize
    ) -> None:
        if self.config.trailing_stop_distance <= 0:
            return
        key = str(position.id)
        previous = self._trailing_stops.get(key)
        if previous is not None:
            previous.stop()
        trail = TrailingStop(self, position, stop_id, stop, tick)
        self._trailing_stops[key] = trail
        trail.start()

    async def stop_trailing_stops(self, position_id: str | None = None) -> None:
        """End the trailing of one position's stop (or of all)."""
        if position_id is not None:
            trails = [t for k, t in self._trailing_stops.items() if k == str(position_id)]
        else:
            trails = list(self._trailing_stops.values())
        for trail in trails:
            trail.stop()
        for trail in trails:
            await trail.wait_stopped()

    async def adjust_stops(
        self, position: Position, new_stop: float, order_id: int | str | None = None
    ) -> bool:
        """Move the position's stop (found among open orders without an id); False on failure."""
        try:
            if order_id is None:
                exit_side = OrderSide.SELL if position.is_long else OrderSide.BUY
                stops = [
                    o
                    for o in await self.orders.search_open_orders(position.contractId)
                    if o.type in (OrderType.STOP, OrderType.STOP_LIMIT) and o.side == exit_side
                ]
                if not stops:
                    logger.warning("No stop order found for position %s", position.id)
                    return False
                order_id = stops[0].id
            done = await self.orders.modify_order(int(order_id), stop_price=new_stop)
        except ProjectXError as exc:
            logger.error("stop adjustment for position %s failed: %s", position.id, exc)
            return False
        if done:
            await self.event_bus.emit(
                "stop_adjusted", {"position": position, "new_stop": new_stop, "order_id": order_id}
            )
        return done

    def get_memory_stats(self) -> dict[str, float]:
        """What this manager holds: the trade history and the trailed positions."""
        return {
            "trade_history": float(len(self._trade_history)),
            "trailing_stops": float(len(self._trailing_stops)),
            "position_limits": float(len(self.position_limits)),
        }

    async def cleanup(self) -> None:
        await self.stop_trailing_stops()
        if self._subscribed:
            await self.event_bus.off(EventType.POSITION_CLOSED, self._on_position_closed)
            self._subscribed = False

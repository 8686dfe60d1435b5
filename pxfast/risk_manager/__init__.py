"""``RiskManager``: project-x-py's ``RiskConfig`` rules, plus per-contract position limits.

With ``features=["risk_manager"]`` the OrderManager asks ``validate_trade``
before sending any entry-type order that does not reduce a position; a
refusal raises ``ProjectXRiskViolationError`` (a ``ProjectXOrderError``, so
project-x-py's ``except`` clauses still catch it) with its reasons, and
nothing reaches the Gateway.  Daily counters come from closed positions seen
on the user hub.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pxfast.event_bus import Event, EventBus, EventType
from pxfast.models import Order, Position

if TYPE_CHECKING:
    from pxfast.client.project_x import ProjectX

__all__ = ["RiskConfig", "RiskManager"]

logger = logging.getLogger(__name__)


@dataclass
class RiskConfig:
    """project-x-py 4.4.1's defaults, field for field."""

    max_risk_per_trade: Decimal = Decimal("0.01")
    max_risk_per_trade_amount: Decimal | None = None
    max_daily_loss: Decimal = Decimal("0.03")
    max_daily_loss_amount: Decimal | None = None
    max_daily_trades: int = 10
    max_position_size: int = 10
    max_positions: int = 3
    max_portfolio_risk: Decimal = Decimal("0.05")
    use_stop_loss: bool = True
    stop_loss_type: str = "fixed"
    default_stop_distance: Decimal = Decimal("50")
    default_stop_atr_multiplier: Decimal = Decimal("2.0")
    use_take_profit: bool = True
    default_risk_reward_ratio: Decimal = Decimal("2.0")
    use_trailing_stops: bool = True
    trailing_stop_distance: Decimal = Decimal("20")
    trailing_stop_trigger: Decimal = Decimal("30")
    scale_in_enabled: bool = False
    scale_out_enabled: bool = True
    martingale_enabled: bool = False
    restrict_trading_hours: bool = False
    allowed_trading_hours: list[tuple[str, str]] = field(
        default_factory=lambda: [("09:30", "16:00")]
    )
    avoid_news_events: bool = True
    news_blackout_minutes: int = 30
    max_correlated_positions: int = 2
    correlation_threshold: Decimal = Decimal("0.7")
    use_kelly_criterion: bool = False
    kelly_fraction: Decimal = Decimal("0.25")
    min_trades_for_kelly: int = 30

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RiskManager:
    def __init__(
        self,
        project_x: ProjectX,
        order_manager: Any,
        event_bus: EventBus | None = None,
        position_manager: Any = None,
        config: RiskConfig | None = None,
        data_manager: Any = None,
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
        self._subscribed = False

    def set_position_manager(self, position_manager: Any) -> None:
        self.positions = self.position_manager = position_manager

    async def initialize(self) -> None:
        """Count closed positions (trades, realised P&L) from the event bus."""
        if not self._subscribed:
            await self.event_bus.on(EventType.POSITION_CLOSED, self._on_position_closed)
            self._subscribed = True

    def _today(self) -> date:
        return datetime.now(ZoneInfo(self.client.config.timezone)).date()

    def check_daily_reset(self) -> None:
        today = self._today()
        if today != self._day:
            self._day = today
            self._daily_trades = 0
            self._daily_loss = Decimal(0)

    def _on_position_closed(self, event: Event) -> None:
        self.check_daily_reset()
        self._daily_trades += 1
        pnl = event.data.get("pnl") if isinstance(event.data, dict) else None
        if isinstance(pnl, int | float) and pnl < 0:
            self._daily_loss += Decimal(str(-pnl))

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
        self.check_daily_reset()
        config = self.config
        if current_positions is None:
            current_positions = (
                await self.positions.get_all_positions() if self.positions is not None else []
            )
        reasons: list[str] = []
        warnings: list[str] = []
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
        balance = Decimal(str(float(self.client.get_account_info().balance)))
        if config.max_daily_loss_amount is not None:
            if self._daily_loss >= config.max_daily_loss_amount:
                reasons.append(f"Daily loss limit reached (${config.max_daily_loss_amount})")
        elif balance > 0 and self._daily_loss / balance >= config.max_daily_loss:
            reasons.append(f"Daily loss limit reached ({config.max_daily_loss * 100}%)")
        if config.restrict_trading_hours and not self._within_hours():
            reasons.append("Outside allowed trading hours")
        return {
            "is_valid": not reasons,
            "reasons": reasons,
            "warnings": warnings,
            "current_risk": 0.0,
            "daily_loss": float(self._daily_loss),
            "daily_trades": self._daily_trades,
            "position_count": len(current_positions),
            "portfolio_risk": 0.0,
        }

    def _within_hours(self) -> bool:
        now = datetime.now(ZoneInfo(self.client.config.timezone)).time()
        for start, end in self.config.allowed_trading_hours:
            if time.fromisoformat(start) <= now <= time.fromisoformat(end):
                return True
        return False

    async def get_risk_metrics(self) -> dict[str, Any]:
        self.check_daily_reset()
        return {
            "daily_trades": self._daily_trades,
            "daily_loss": float(self._daily_loss),
            "max_daily_trades": self.config.max_daily_trades,
            "max_daily_loss_amount": (
                float(self.config.max_daily_loss_amount)
                if self.config.max_daily_loss_amount is not None
                else None
            ),
            "position_limits": dict(self.position_limits),
        }

    async def cleanup(self) -> None:
        if self._subscribed:
            await self.event_bus.off(EventType.POSITION_CLOSED, self._on_position_closed)
            self._subscribed = False

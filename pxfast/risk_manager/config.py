"""``RiskConfig``: the risk rules, with project-x-py 4.4.1's defaults field for field."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

__all__ = ["RiskConfig"]


@dataclass
class RiskConfig:
    """Per-trade, daily and portfolio limits, stops, targets, trailing and sizing rules.

    Distances follow project-x-py: ``default_stop_distance`` is in ticks for
    the "fixed" stop type (in percent of the entry for "percentage"), and the
    trailing distance and trigger are in price points.
    """

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

"""P&L and risk of open positions, in dollars by tick value, with Decimal arithmetic.

A point of a contract is worth ``tickValue / tickSize`` dollars
(``Instrument.contractSize``; MNQ: $2).  project-x-py returns P&L in price
points unless the caller passes a point value, and looks for a
``contractMultiplier`` the instrument does not have; pxfast uses the
instrument's own point value unless one is given.  When no price is given,
the market hub's current price of the contract is used.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pxfast.models import Position
from pxfast.position_manager.core import PositionCore
from pxfast.types.trading import PositionType

__all__ = ["PositionAnalytics"]

CENT = Decimal("0.01")


def _cents(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


class PositionAnalytics(PositionCore):
    async def calculate_position_pnl(
        self,
        position: Position,
        current_price: float | None = None,
        point_value: float | None = None,
    ) -> dict[str, Any]:
        """Unrealised P&L of ``position`` at ``current_price`` (default: the live price).

        Keys are project-x-py's PositionAnalysisResponse; money is in dollars,
        rounded to the cent half-up.  Without any price the response carries
        zeros and an ``error``.
        """
        if current_price is None:
            current_price = self._live_price(position.contractId)
        if current_price is None:
            return {
                **_empty_analysis(position),
                "error": "No current price available",
            }
        value = (
            Decimal(str(point_value))
            if point_value is not None
            else await self._point_value(position.contractId)
        )
        price = Decimal(str(current_price))
        average = Decimal(str(position.averagePrice))
        if position.type == PositionType.LONG:
            move = price - average
        elif position.type == PositionType.SHORT:
            move = average - price
        else:
            move = Decimal(0)
        pnl = move * value * position.size
        notional = abs(price * value * position.size)
        unrealized = _cents(pnl)
        return {
            "position_id": position.id,
            "contract_id": position.contractId,
            "entry_price": position.averagePrice,
            "current_price": current_price,
            "unrealized_pnl": unrealized,
            "position_size": position.size,
            "position_value": _cents(notional),
            "margin_used": 0.0,
            "duration_minutes": 0,
            "high_water_mark": max(current_price, position.averagePrice),
            "low_water_mark": min(current_price, position.averagePrice),
            "max_unrealized_pnl": max(unrealized, 0.0),
            "min_unrealized_pnl": min(unrealized, 0.0),
            "volatility": float(abs(move / average)) if average > 0 else 0.0,
            "beta": 1.0,
            "delta_exposure": float(position.signed_size),
            "gamma_exposure": 0.0,
            "theta_decay": 0.0,
            "risk_contribution": float(abs(pnl) / max(notional, Decimal(1))),
            "analysis_timestamp": datetime.now().isoformat(),
        }

    async def calculate_portfolio_pnl(
        self, current_prices: dict[str, float], account_id: int | None = None
    ) -> dict[str, Any]:
        """Unrealised P&L over all positions (PortfolioMetricsResponse keys).

        ``current_prices`` may be keyed by contract id or by symbol ("MNQ");
        a position missing from it is priced at the market hub's current
        price, and left out only when there is none.  Realised figures come
        from the positions closed since the manager started.
        """
        total_pnl = total_value = Decimal(0)
        positions = await self.get_all_positions(account_id=account_id)
        for position in positions:
            price = current_prices.get(position.contractId, current_prices.get(position.symbol))
            if price is None:
                price = self._live_price(position.contractId)
            if price is None:
                continue
            analysis = await self.calculate_position_pnl(position, price)
            total_pnl += Decimal(str(analysis["unrealized_pnl"]))
            total_value += Decimal(str(analysis["position_value"]))
        stats = self.stats
        wins, losses = stats["winning_positions"], stats["losing_positions"]
        closed = stats["closed_positions"]
        return {
            "total_value": _cents(total_value),
            "total_pnl": _cents(total_pnl),
            "realized_pnl": stats["realized_pnl"],
            "unrealized_pnl": _cents(total_pnl),
            "daily_pnl": 0.0,
            "weekly_pnl": 0.0,
            "monthly_pnl": 0.0,
            "ytd_pnl": 0.0,
            "total_return": _cents(total_pnl / total_value * 100) if total_value > 0 else 0.0,
            "annualized_return": 0.0,
            "sharpe_ratio": 0.0,
            "sortino_ratio": 0.0,
            "max_drawdown": stats["max_drawdown"],
            "win_rate": wins / closed if closed else 0.0,
            "profit_factor": (
                stats["gross_profit"] / stats["gross_loss"] if stats["gross_loss"] else 0.0
            ),
            "avg_win": stats["gross_profit"] / wins if wins else 0.0,
            "avg_loss": stats["gross_loss"] / losses if losses else 0.0,
            "total_trades": len(positions),
            "winning_trades": wins,
            "losing_trades": losses,
            "largest_win": stats["best_position_pnl"],
            "largest_loss": stats["worst_position_pnl"],
            "avg_trade_duration_minutes": _mean(self._hold_minutes),
            "last_updated": datetime.now().isoformat(),
        }

    async def get_portfolio_pnl(self, account_id: int | None = None) -> dict[str, Any]:
        """``calculate_portfolio_pnl`` at the market hub's current prices."""
        return await self.calculate_portfolio_pnl({}, account_id)

    async def get_risk_metrics(self) -> dict[str, Any]:
        """The risk manager's metrics when there is one, else P&L-based ones per position."""
        self.stats["risk_calculations"] += 1
        if self.risk_manager is not None:
            return await self.risk_manager.get_risk_metrics()
        position_risks = []
        for position in await self.get_all_positions():
            price = self._live_price(position.contractId)
            analysis = await self.calculate_position_pnl(
                position, price if price is not None else position.averagePrice
            )
            position_risks.append(
                {
                    "contract_id": position.contractId,
                    "size": position.size,
                    "entry_price": position.averagePrice,
                    "current_price": analysis["current_price"],
                    "pnl": analysis["unrealized_pnl"],
                    "type": position.direction,
                }
            )
        losses = [Decimal(str(r["pnl"])) for r in position_risks if r["pnl"] < 0]
        closed = self.stats["closed_positions"]
        return {
            "current_risk": float(-sum(losses, Decimal(0))),
            "max_risk": 0.0,
            "daily_loss": float(sum(losses, Decimal(0))),
            "daily_loss_limit": 0.0,
            "position_count": len(position_risks),
            "position_limit": 0,
            "daily_trades": closed,
            "daily_trade_limit": 0,
            "win_rate": self.stats["winning_positions"] / closed if closed else 0.0,
            "profit_factor": (
                self.stats["gross_profit"] / self.stats["gross_loss"]
                if self.stats["gross_loss"]
                else 0.0
            ),
            "sharpe_ratio": 0.0,
            "max_drawdown": self.stats["max_drawdown"],
            "position_risks": position_risks,
            "risk_per_trade": 0.0,
            "account_balance": float(self.project_x.get_account_info().balance),
            "margin_used": 0.0,
            "margin_available": 0.0,
        }

    async def calculate_position_size(
        self,
        risk_amount: float,
        entry_price: float,
        stop_price: float,
        contract_id: str | None = None,
    ) -> float:
        """Contracts that risk ``risk_amount`` dollars between entry and stop.

        With a contract, whole contracts by its point value (through the risk
        manager, which also applies its caps, when there is one); without,
        project-x-py's units per price point.
        """
        distance = abs(Decimal(str(entry_price)) - Decimal(str(stop_price)))
        if distance == 0:
            return 0.0
        if contract_id is None:
            return float(Decimal(str(risk_amount)) / distance)
        instrument = await self.project_x.get_instrument(contract_id)
        if self.risk_manager is not None:
            sizing = await self.risk_manager.calculate_position_size(
                entry_price, stop_price, risk_amount=risk_amount, instrument=instrument
            )
            return float(sizing["position_size"])
        return float(Decimal(str(risk_amount)) // (distance * instrument.contractSize))


def _empty_analysis(position: Position) -> dict[str, Any]:
    return {
        "position_id": position.id,
        "contract_id": position.contractId,
        "entry_price": position.averagePrice,
        "current_price": 0.0,
        "unrealized_pnl": 0.0,
        "position_size": position.size,
        "position_value": 0.0,
        "margin_used": 0.0,
        "duration_minutes": 0,
        "high_water_mark": 0.0,
        "low_water_mark": 0.0,
        "max_unrealized_pnl": 0.0,
        "min_unrealized_pnl": 0.0,
        "volatility": 0.0,
        "beta": 0.0,
        "delta_exposure": 0.0,
        "gamma_exposure": 0.0,
        "theta_decay": 0.0,
        "risk_contribution": 0.0,
        "analysis_timestamp": datetime.now().isoformat(),
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0

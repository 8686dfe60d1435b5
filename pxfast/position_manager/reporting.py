"""Statistics, history and reports of the positions seen since the manager started.

The figures come from what the user hub reported (positions opened, changed
and closed, with the P&L the Gateway booked) and, for open positions, from
the market hub's current prices; nothing here calls the Gateway except to
list positions when there is no live stream.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from pxfast.position_manager.monitoring import PositionMonitoring

__all__ = ["PositionReporting"]


class PositionReporting(PositionMonitoring):
    async def get_position_statistics(self) -> dict[str, Any]:
        """project-x-py's PositionManagerStats keys, counted from the user hub's reports."""
        stats = self.stats
        positions = list(self.tracked_positions.values())
        sizes = [p.size for p in positions]
        closed = stats["closed_positions"]
        holds = self._hold_minutes
        pnl = await self.get_portfolio_pnl()
        return {
            "open_positions": len(positions),
            "closed_positions": closed,
            "total_positions": len(positions) + closed,
            "total_pnl": stats["realized_pnl"] + pnl["unrealized_pnl"],
            "realized_pnl": stats["realized_pnl"],
            "unrealized_pnl": pnl["unrealized_pnl"],
            "best_position_pnl": stats["best_position_pnl"],
            "worst_position_pnl": stats["worst_position_pnl"],
            "avg_position_size": sum(sizes) / len(sizes) if sizes else 0.0,
            "largest_position": max(sizes, default=0),
            "avg_hold_time_minutes": sum(holds) / len(holds) if holds else 0.0,
            "longest_hold_time_minutes": max(holds, default=0.0),
            "win_rate": stats["winning_positions"] / closed if closed else 0.0,
            "profit_factor": pnl["profit_factor"],
            "sharpe_ratio": 0.0,
            "max_drawdown": stats["max_drawdown"],
            "total_risk": 0.0,
            "max_position_risk": 0.0,
            "portfolio_correlation": 0.0,
            "var_95": 0.0,
            "position_updates": stats["position_updates"],
            "risk_calculations": stats["risk_calculations"],
            "last_position_update": (
                stats["last_position_update"].isoformat() if stats["last_position_update"] else None
            ),
        }

    async def get_position_stats(self) -> dict[str, Any]:
        """The raw counters with project-x-py's aliases (``total_opened``, ``net_pnl`` ...)."""
        stats = dict(self.stats)
        closed = stats["closed_positions"]
        return {
            **stats,
            "total_opened": stats["positions_opened"],
            "total_closed": closed,
            "net_pnl": stats["realized_pnl"],
            "win_count": stats["winning_positions"],
            "loss_count": stats["losing_positions"],
            "win_rate": stats["winning_positions"] / closed if closed else 0.0,
            "active_positions": len(self.tracked_positions),
        }

    async def get_position_history(
        self, contract_id: str, limit: int = 100
    ) -> list[dict[str, Any]]:
        """The latest ``limit`` changes of a contract's position, oldest first.

        Each entry is ``{"timestamp", "position" (the Gateway's dict),
        "size_change"}``; a symbol like "MNQ" is resolved.
        """
        contract = await self._resolve(contract_id)
        history = list(self.position_history.get(contract, ()))
        return history[-limit:] if limit > 0 else []

    async def export_portfolio_report(self) -> dict[str, Any]:
        """Positions, P&L, risk, statistics and alerts in one dict (for dashboards, logs)."""
        positions = await self.get_all_positions()
        pnl = await self.get_portfolio_pnl()
        risk = await self.get_risk_metrics()
        statistics = await self.get_position_statistics()
        alerts = list(self.position_alerts.values())
        return {
            "report_timestamp": datetime.now(),
            "portfolio_summary": {
                "total_positions": len(positions),
                "total_pnl": pnl["total_pnl"],
                "total_exposure": pnl["total_value"],
                "portfolio_risk": risk["current_risk"],
            },
            "positions": positions,
            "risk_analysis": risk,
            "statistics": statistics,
            "alerts": {
                "active_alerts": sum(1 for a in alerts if not a["triggered"]),
                "triggered_alerts": sum(1 for a in alerts if a["triggered"]),
            },
        }

    def get_memory_stats(self) -> dict[str, Any]:
        """Sizes of what this manager holds (history entries are the bulk)."""
        entries = sum(len(h) for h in self.position_history.values())
        approx = sys.getsizeof(self.position_history) + sum(
            sys.getsizeof(h) for h in self.position_history.values()
        )
        tracked = len(self.tracked_positions)
        return {
            "current_memory_mb": approx / (1024 * 1024),
            "memory_usage_mb": approx / (1024 * 1024),
            "tracked_positions": tracked,
            "position_history_entries": entries,
            "stats_tracked": len(self.stats),
            "position_alerts": len(self.position_alerts),
            "cache_size": tracked,
        }

    def get_realtime_validation_status(self) -> dict[str, Any]:
        """How positions are fed: the live user stream (reconciled) or REST."""
        return {
            "realtime_enabled": self._live(),
            "tracked_positions_count": len(self.tracked_positions),
            "payload_validation": {
                "enabled": True,
                "required_fields": [
                    "id",
                    "accountId",
                    "contractId",
                    "creationTimestamp",
                    "type",
                    "size",
                    "averagePrice",
                ],
                "position_type_enum": {"Undefined": 0, "Long": 1, "Short": 2},
                "closure_detection": "size == 0 (not type == 0)",
            },
            "projectx_compliance": {
                "gateway_user_position_format": "compliant (typed decode)",
                "position_type_enum": "correct",
                "closure_logic": "size == 0",
                "payload_structure": "wrapped and bare payloads accepted",
            },
            "statistics": dict(self.stats),
        }

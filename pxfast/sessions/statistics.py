"""Per-session volume, VWAP and range (project-x-py's ``SessionStatistics``/``SessionAnalytics``).

VWAP here is project-x-py's: closes weighted by volume.  The analytics that
project-x-py 4.4.1 returns as fixed zeros (gaps, efficiency, premium) are
returned the same way, with the same keys, so code that reads them runs;
they carry no information in either library.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from pxfast.sessions.config import SessionConfig, SessionType
from pxfast.sessions.filtering import SessionFilterMixin

__all__ = ["SessionAnalytics", "SessionStatistics"]

_PREFIXES = ("rth", "eth")


def _metrics(data: pl.DataFrame, prefix: str) -> dict[str, Any]:
    if data.is_empty():
        volume, vwap, high, low = 0, 0.0, 0.0, 0.0
    else:
        row = data.select(
            pl.col("volume").sum().alias("v"),
            (pl.col("close") * pl.col("volume")).sum().alias("pv"),
            pl.col("high").max().alias("h"),
            pl.col("low").min().alias("l"),
        ).row(0, named=True)
        volume = int(row["v"] or 0)
        vwap = float(row["pv"] or 0) / float(row["v"]) if row["v"] else 0.0
        # An all-null high or low column gives no range at all, as in project-x-py.
        both = row["h"] is not None and row["l"] is not None
        high, low = (float(row["h"]), float(row["l"])) if both else (0.0, 0.0)
    return {
        f"{prefix}_volume": volume,
        f"{prefix}_vwap": vwap,
        f"{prefix}_range": high - low if high > 0 else 0.0,
        f"{prefix}_high": high,
        f"{prefix}_low": low,
    }


class SessionStatistics:
    def __init__(self, config: SessionConfig | None = None) -> None:
        self.config = config or SessionConfig()
        self.filter = SessionFilterMixin(config)

    async def calculate_session_stats(self, data: pl.DataFrame, product: str) -> dict[str, Any]:
        """``rth_``/``eth_`` volume, vwap, range, high and low; zeros for a session without bars."""
        stats: dict[str, Any] = {}
        for prefix, kind in zip(_PREFIXES, (SessionType.RTH, SessionType.ETH), strict=True):
            part = (
                data
                if data.is_empty()
                else await self.filter.filter_by_session(data, kind, product)
            )
            stats.update(_metrics(part, prefix))
        if data.is_empty():
            # project-x-py's empty answer lists the keys in this order.
            return {k: stats[k] for k in _EMPTY_ORDER}
        return stats


_EMPTY_ORDER = (
    "rth_volume",
    "eth_volume",
    "rth_vwap",
    "eth_vwap",
    "rth_range",
    "eth_range",
    "rth_high",
    "rth_low",
    "eth_high",
    "eth_low",
)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else 0.0


class SessionAnalytics:
    def __init__(self, config: SessionConfig | None = None) -> None:
        self.config = config or SessionConfig()
        self.statistics = SessionStatistics(config)

    async def compare_sessions(self, data: pl.DataFrame, product: str) -> dict[str, Any]:
        stats = await self.statistics.calculate_session_stats(data, product)
        volume_ratio = _ratio(stats["rth_volume"], stats["eth_volume"])
        return {
            "rth_vs_eth_volume_ratio": volume_ratio,
            "rth_vs_eth_volatility_ratio": _ratio(stats["rth_range"], stats["eth_range"]),
            "session_participation_rate": volume_ratio,
            "rth_premium_discount": 0.0,
            "overnight_gap_average": 0.0,
        }

    async def get_session_volume_profile(self, data: pl.DataFrame, _product: str) -> dict[str, Any]:
        """The hour of the frame's own zone with the most volume (project-x-py's "peak")."""
        peak: dict[str, Any] = {"hour": 0, "volume": 0, "session": "RTH"}
        if not data.is_empty():
            hourly = data.group_by(pl.col("timestamp").dt.hour()).agg(
                pl.col("volume").sum().alias("total_volume")
            )
            top = hourly.filter(pl.col("total_volume") == pl.col("total_volume").max()).row(0)
            peak = {"hour": top[0], "volume": top[1], "session": "RTH"}
        return {"rth_volume_by_hour": {}, "eth_volume_by_hour": {}, "peak_volume_time": peak}

    async def analyze_session_volatility(self, data: pl.DataFrame, product: str) -> dict[str, Any]:
        stats = await self.statistics.calculate_session_stats(data, product)
        return {
            "rth_realized_volatility": stats["rth_range"],
            "eth_realized_volatility": stats["eth_range"],
            "volatility_ratio": _ratio(stats["rth_range"], stats["eth_range"]),
            "volatility_clustering": 0.0,
        }

    async def analyze_session_gaps(self, _data: pl.DataFrame, _product: str) -> dict[str, Any]:
        return {
            "average_overnight_gap": 0.0,
            "gap_frequency": {"up": 0, "down": 0, "flat": 0},
            "gap_fill_rate": 0.0,
            "largest_gap": 0.0,
        }

    async def calculate_efficiency_metrics(
        self, _data: pl.DataFrame, _product: str
    ) -> dict[str, Any]:
        return {
            "rth_price_efficiency": 0.0,
            "eth_price_efficiency": 0.0,
            "rth_volume_efficiency": 0.0,
            "session_liquidity_ratio": 0.0,
        }

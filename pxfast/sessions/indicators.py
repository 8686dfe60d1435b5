"""Session-aware indicator columns (project-x-py's ``sessions.indicators`` functions).

Each function returns the frame with project-x-py's column added, computed
as polars expressions over whole columns.  Where pxfast differs from
project-x-py 4.4.1, deliberately:

* ``calculate_session_vwap`` restarts at each exchange trading date (ETH:
  at the 18:00 ET open, so the evening belongs to the next day's VWAP)
  instead of at midnight of the frame's zone, which on a Chicago or UTC
  frame splits one Globex session in two.  Rows out of session carry the
  VWAP so far of their trading date (None before its first in-session bar),
  as project-x-py's do of their calendar date.
* ``aggregate_with_sessions`` takes any ``"<n>min"`` (project-x-py reads
  anything but "15min" as "5min") and raises ValueError for other strings.

The "session" of ``calculate_session_levels``,
``calculate_session_cumulative_volume`` and ``calculate_percent_from_open``
is, as in project-x-py, the calendar date of the frame's own time zone.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from pxfast.sessions.calendar import session_columns
from pxfast.sessions.config import SessionConfig, SessionType
from pxfast.sessions.filtering import SessionFilterMixin

__all__ = [
    "aggregate_with_sessions",
    "calculate_anchored_vwap",
    "calculate_percent_from_open",
    "calculate_relative_to_vwap",
    "calculate_session_cumulative_volume",
    "calculate_session_levels",
    "calculate_session_vwap",
    "generate_session_alerts",
]

_DAY = pl.col("timestamp").dt.date()


def _with_nulls(data: pl.DataFrame, *names: str) -> pl.DataFrame:
    return data.with_columns(pl.lit(None).alias(name) for name in names)


async def calculate_session_vwap(
    data: pl.DataFrame, session_type: SessionType, product: str = "ES"
) -> pl.DataFrame:
    """Adds ``session_vwap``: close-weighted VWAP of the in-session bars of each trading date."""
    if data.is_empty():
        return _with_nulls(data, "session_vwap")
    session_type = SessionType(session_type) if isinstance(session_type, str) else session_type
    times = SessionFilterMixin(SessionConfig(session_type=session_type)).session_times(product)
    tagged = session_columns(data.select("timestamp"), times)
    inside = pl.col("_eth" if session_type == SessionType.ETH else "_rth")
    pv = pl.when(inside).then(pl.col("close") * pl.col("volume")).otherwise(0.0)
    cum_volume = pl.when(inside).then(pl.col("volume")).otherwise(0).cum_sum().over("_trading_date")
    vwap = pl.when(cum_volume > 0).then(pv.cum_sum().over("_trading_date") / cum_volume)
    return (
        data.with_columns(
            tagged.select("_eth", "_rth", "_trading_date").to_series(i) for i in range(3)
        )
        .with_columns(vwap.otherwise(None).alias("session_vwap"))
        .drop("_eth", "_rth", "_trading_date")
    )


async def calculate_anchored_vwap(
    data: pl.DataFrame, anchor_point: str = "session_open"
) -> pl.DataFrame:
    """Adds ``anchored_vwap`` from the first bar ("session_open"); other anchors add nothing."""
    if data.is_empty():
        return _with_nulls(data, "anchored_vwap")
    if anchor_point != "session_open":
        return data
    pv = (pl.col("close") * pl.col("volume")).cum_sum()
    return data.with_columns((pv / pl.col("volume").cum_sum()).alias("anchored_vwap"))


async def calculate_session_levels(data: pl.DataFrame) -> pl.DataFrame:
    """Adds ``session_high``, ``session_low`` and ``session_range`` so far in each calendar day."""
    if data.is_empty():
        return _with_nulls(data, "session_high", "session_low", "session_range")
    high = pl.col("high").cum_max().over(_DAY)
    low = pl.col("low").cum_min().over(_DAY)
    return data.with_columns(high.alias("session_high"), low.alias("session_low")).with_columns(
        (pl.col("session_high") - pl.col("session_low")).alias("session_range")
    )


async def calculate_session_cumulative_volume(data: pl.DataFrame) -> pl.DataFrame:
    if data.is_empty():
        return _with_nulls(data, "session_cumulative_volume")
    return data.with_columns(
        pl.col("volume").cum_sum().over(_DAY).alias("session_cumulative_volume")
    )


async def calculate_relative_to_vwap(data: pl.DataFrame) -> pl.DataFrame:
    """Adds ``price_vs_vwap`` and ``vwap_deviation`` (percent); a missing ``vwap`` column is
    first added as the cumulative typical-price VWAP, as project-x-py's ``VWAP`` indicator does."""
    if "vwap" not in data.columns:
        typical = (pl.col("high") + pl.col("low") + pl.col("close")) / 3
        vwap = (typical * pl.col("volume")).cum_sum() / pl.col("volume").cum_sum()
        data = data.with_columns(vwap.alias("vwap"))
    return data.with_columns(
        (pl.col("close") / pl.col("vwap")).alias("price_vs_vwap"),
        ((pl.col("close") - pl.col("vwap")) / pl.col("vwap") * 100).alias("vwap_deviation"),
    )


async def calculate_percent_from_open(data: pl.DataFrame) -> pl.DataFrame:
    if data.is_empty():
        return _with_nulls(data, "percent_from_open")
    day_open = pl.col("open").first().over(_DAY)
    return data.with_columns(
        ((pl.col("close") - day_open) / day_open * 100).alias("percent_from_open")
    )


_MINUTES = re.compile(r"(\d+)min")


async def aggregate_with_sessions(
    data: pl.DataFrame, timeframe: str, session_type: SessionType
) -> pl.DataFrame:
    """ES session bars regrouped into ``timeframe`` buckets within each hour of the frame's zone."""
    match = _MINUTES.fullmatch(timeframe)
    if match is None or int(match.group(1)) < 1:
        raise ValueError(f"Unsupported timeframe {timeframe!r}; expected '<n>min'")
    interval = int(match.group(1))
    session_data = await SessionFilterMixin(
        SessionConfig(session_type=session_type)
    ).filter_by_session(data, session_type, "ES")
    if session_data.is_empty():
        return session_data
    ts = pl.col("timestamp")
    keys = [
        ts.dt.date().alias("_d"),
        ts.dt.hour().alias("_h"),
        (ts.dt.minute() // interval).alias("_m"),
    ]
    return (
        session_data.group_by(keys, maintain_order=True)
        .agg(
            ts.first(),
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
        )
        .drop("_d", "_h", "_m")
        .sort("timestamp")
    )


#: The alert conditions project-x-py 4.4.1 understands; any other string never fires.
_CONDITIONS: dict[str, tuple[tuple[str, ...], pl.Expr]] = {
    "close > sma_10": (("close", "sma_10"), pl.col("close") > pl.col("sma_10")),
    "rsi_14 > 70": (("rsi_14",), pl.col("rsi_14") > 70),
    "high == session_high": (("high", "session_high"), pl.col("high") == pl.col("session_high")),
}


async def generate_session_alerts(data: pl.DataFrame, conditions: dict[str, Any]) -> pl.DataFrame:
    """Adds ``alerts``: per row the names of ``conditions`` that hold, or None when none does."""
    if data.is_empty() or not conditions:
        return data.with_columns(pl.Series("alerts", [None] * len(data)))
    fired: list[pl.Expr] = []
    for name, condition in conditions.items():
        known = _CONDITIONS.get(condition) if isinstance(condition, str) else None
        if known is None or not all(c in data.columns for c in known[0]):
            continue
        fired.append(pl.when(known[1].fill_null(False)).then(pl.lit(name)).otherwise(None))
    if not fired:
        return data.with_columns(pl.lit(None, dtype=pl.List(pl.String)).alias("alerts"))
    names = pl.concat_list(fired).list.drop_nulls()
    return data.with_columns(
        pl.when(names.list.len() > 0).then(names).otherwise(None).alias("alerts")
    )

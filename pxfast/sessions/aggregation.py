"""``aggregate_session_bars``: one candle per exchange trading session from intraday bars.

The Gateway's daily bars are cut at 00:00 UTC, not at the exchange's
session open; this rebuilds session candles (ETH from 18:00 ET the evening
before, or the RTH window) with the masks of ``pxfast.sessions.calendar``,
so weekends, the daily break and full-closure holidays never form or join
a candle.  Where pxfast differs from project-x-py 4.4.1: the RTH window
excludes the bar stamped at ``rth_end``; holidays are closed; and a
product whose overnight window does not reach RTH (grains, VIX) keeps its
RTH bars in the ETH candle (project-x-py leaves them out).
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from pxfast.sessions.calendar import EXCHANGE_TZ, session_columns
from pxfast.sessions.config import SessionConfig, SessionType
from pxfast.sessions.filtering import SessionFilterMixin

__all__ = ["aggregate_session_bars"]

_DAILY_INTERVALS = frozenset({"1d", "1day", "daily", "session"})
_OHLCV = ("timestamp", "open", "high", "low", "close", "volume")
_OUTPUT = (
    "timestamp",
    "trading_date",
    "session_start",
    "session_end",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "is_partial",
)


def aggregate_session_bars(
    data: pl.DataFrame,
    product: str,
    interval: str = "1d",
    session_type: SessionType | str | None = None,
    session_config: SessionConfig | None = None,
    include_partial: bool = True,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Session candles: ``timestamp`` (= ``session_start``), ``trading_date``, ``session_start``,
    ``session_end``, OHLCV and ``is_partial`` (the session had not ended at ``now``)."""
    if interval not in _DAILY_INTERVALS:
        raise ValueError(
            f"Unsupported interval {interval!r}; expected one of {sorted(_DAILY_INTERVALS)}"
        )
    config = session_config or SessionConfig()
    raw = session_type if session_type is not None else config.session_type
    kind = raw if isinstance(raw, SessionType) else SessionType(raw)
    times = SessionFilterMixin(config).session_times(product)
    zone = EXCHANGE_TZ if config.use_exchange_timezone else config.market_timezone
    stamp = pl.Datetime("us", zone)
    schema = {
        "timestamp": stamp,
        "trading_date": pl.Date(),
        "session_start": stamp,
        "session_end": stamp,
        "open": pl.Float64(),
        "high": pl.Float64(),
        "low": pl.Float64(),
        "close": pl.Float64(),
        "volume": pl.Int64(),
        "is_partial": pl.Boolean(),
    }
    if data.is_empty():
        return pl.DataFrame(schema=schema)
    missing = [c for c in _OHLCV if c not in data.columns]
    if missing:
        raise ValueError(f"Missing required column: {', '.join(missing)}")
    tagged = session_columns(data, times, zone)
    keep = pl.col("_eth") if kind == SessionType.ETH else pl.col("_rth")
    candles = (
        tagged.filter(keep)
        .sort("timestamp")
        .group_by(pl.col("_trading_date").alias("trading_date"), maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("volume").sum(),
        )
        .sort("trading_date")
    )
    if candles.is_empty():
        return pl.DataFrame(schema=schema)
    overnight = (
        kind == SessionType.ETH and times.eth_start is not None and times.eth_end is not None
    )
    day = pl.col("trading_date")
    if overnight:
        assert times.eth_start is not None and times.eth_end is not None
        start = (day - pl.duration(days=1)).dt.combine(times.eth_start)
        end = day.dt.combine(times.eth_end)
    else:
        start, end = day.dt.combine(times.rth_start), day.dt.combine(times.rth_end)
    clock = now or datetime.now(UTC)
    if clock.tzinfo is None:
        clock = clock.replace(tzinfo=UTC)
    result = (
        candles.with_columns(
            start.dt.replace_time_zone(zone).cast(stamp).alias("session_start"),
            end.dt.replace_time_zone(zone).cast(stamp).alias("session_end"),
        )
        .with_columns(
            pl.col("session_start").alias("timestamp"),
            (pl.lit(clock).dt.convert_time_zone(zone) < pl.col("session_end")).alias("is_partial"),
        )
        .select(_OUTPUT)
    )
    return result if include_partial else result.filter(~pl.col("is_partial"))

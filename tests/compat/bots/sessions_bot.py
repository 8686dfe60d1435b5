"""A session-analysis script written for project-x-py 4.4.1, run unchanged on both libraries.

``python sessions_bot.py frames DIR`` reads every ``DIR/*.parquet`` bar frame
and prints, per frame, what each ``project_x_py.sessions`` function returns
on it (frames as ISO time stamps and values).  ``python sessions_bot.py
suite`` builds a TradingSuite with ``session_config=`` (RTH) against the
simulator and prints ``get_session_data`` before and after
``set_session_type(ETH)``, and ``get_session_statistics``.

The last stdout line is the JSON summary.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, time
from pathlib import Path
from typing import Any

import polars as pl
from project_x_py import TradingSuite
from project_x_py.sessions import (
    DEFAULT_SESSIONS,
    SessionAnalytics,
    SessionConfig,
    SessionFilterMixin,
    SessionStatistics,
    SessionType,
    aggregate_session_bars,
    aggregate_with_sessions,
    calculate_anchored_vwap,
    calculate_percent_from_open,
    calculate_relative_to_vwap,
    calculate_session_cumulative_volume,
    calculate_session_levels,
    calculate_session_vwap,
    generate_session_alerts,
    resolve_session_product,
)

NOW = datetime.fromisoformat("2024-04-02T00:00:00+00:00")


def cell(value: Any) -> Any:
    if isinstance(value, datetime | time):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def rows(frame: pl.DataFrame | None) -> Any:
    if frame is None:
        return None
    return {
        "columns": frame.columns,
        "rows": [[cell(v) for v in row] for row in frame.iter_rows()],
    }


async def analyse(frame: pl.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    mixin = SessionFilterMixin()
    for kind in (SessionType.RTH, SessionType.ETH):
        out[f"filter {kind}"] = rows(await mixin.filter_by_session(frame, kind, "MNQ"))
        out[f"vwap {kind}"] = rows(await calculate_session_vwap(frame, kind, "MNQ"))
        out[f"aggregate 15min {kind}"] = rows(await aggregate_with_sessions(frame, "15min", kind))
        out[f"session bars {kind}"] = rows(
            aggregate_session_bars(frame, "CON.F.US.MNQ.H24", session_type=kind, now=NOW)
        )
    out["stats"] = await SessionStatistics().calculate_session_stats(frame, "MNQ")
    out["compare"] = await SessionAnalytics().compare_sessions(frame, "MNQ")
    out["anchored"] = rows(await calculate_anchored_vwap(frame))
    levels = await calculate_session_levels(frame)
    out["levels"] = rows(levels)
    out["cumulative"] = rows(await calculate_session_cumulative_volume(frame))
    out["relative"] = rows(await calculate_relative_to_vwap(frame))
    out["from open"] = rows(await calculate_percent_from_open(frame))
    with_sma = levels.with_columns(pl.col("close").rolling_mean(10).alias("sma_10"))
    alerts = await generate_session_alerts(
        with_sma, {"above": "close > sma_10", "new high": "high == session_high", "x": "nope"}
    )
    out["alerts"] = alerts["alerts"].to_list()
    return out


def table() -> dict[str, Any]:
    return {
        "sessions": {
            k: [cell(v.rth_start), cell(v.rth_end), cell(v.eth_start), cell(v.eth_end)]
            for k, v in DEFAULT_SESSIONS.items()
        },
        "resolve": {
            s: resolve_session_product(s)
            for s in ("MNQ", "mnq", "CON.F.US.MNQ.H26", "MNQH26", "CON.F.US.ENQ.Z25", "6EZ5", "XYZ")
        },
    }


def moments() -> dict[str, Any]:
    """Weekday moments, in and around RTH and the daily break, both sides of DST."""
    stamps = [
        "2024-03-07T14:29:00+00:00",
        "2024-03-07T14:30:00+00:00",
        "2024-03-07T20:59:00+00:00",
        "2024-03-07T21:00:00+00:00",
        "2024-03-07T22:30:00+00:00",
        "2024-03-07T23:00:00+00:00",
        "2024-03-12T13:30:00+00:00",
        "2024-03-12T13:29:00+00:00",
        "2024-03-12T20:00:00+00:00",
        "2024-03-12T21:30:00+00:00",
        "2024-03-12T03:00:00+00:00",
    ]
    mixin = SessionFilterMixin()
    out = {}
    for text in stamps:
        moment = datetime.fromisoformat(text)
        out[text] = [
            SessionConfig(session_type=SessionType.RTH).is_market_open(moment, "MNQ"),
            SessionConfig(session_type=SessionType.ETH).is_market_open(moment, "MNQ"),
            SessionConfig().get_current_session(moment, "MNQ"),
            mixin.is_in_session(moment, SessionType.RTH, "MNQ"),
            mixin.is_in_session(moment, SessionType.ETH, "MNQ"),
        ]
    return out


async def suite() -> dict[str, Any]:
    config = SessionConfig(session_type=SessionType.RTH)
    trading = await TradingSuite.create(
        "MNQ", timeframes=["5min"], initial_days=3, session_config=config
    )
    try:
        out: dict[str, Any] = {"all": rows(await trading.data.get_data("5min"))}
        out["default"] = rows(await trading.get_session_data("5min"))
        out["eth"] = rows(await trading.get_session_data("5min", SessionType.ETH))
        await trading.set_session_type(SessionType.ETH)
        out["after set"] = rows(await trading.get_session_data("5min"))
        out["data after set"] = rows(await trading.data.get_session_data("5min"))
        out["stats"] = await trading.get_session_statistics("5min")
        out["stats unknown"] = await trading.get_session_statistics("15min")
        return out
    finally:
        await trading.disconnect()


def frames(folder: str) -> dict[str, pl.DataFrame]:
    return {path.stem: pl.read_parquet(path) for path in sorted(Path(folder).glob("*.parquet"))}


async def main() -> None:
    if sys.argv[1] == "frames":
        summary: dict[str, Any] = {"table": table(), "moments": moments()}
        for name, frame in frames(sys.argv[2]).items():
            summary[name] = await analyse(frame)
    else:
        summary = await suite()
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())

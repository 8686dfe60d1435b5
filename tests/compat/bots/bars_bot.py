"""A bar-consuming script written for project-x-py 4.4.1, run unchanged on both libraries.

``python bars_bot.py history CASES`` asks ``client.get_bars`` for each case of
the JSON object ``CASES`` (keyword arguments, with ``start_time``/``end_time``
as ISO strings, and the client's ``timezone``) and prints every frame:
its type, schema and rows, plus what the polars calls bots make on it
(``.pipe``, ``.with_columns``, ``.filter``, ``["close"].tail(1)``,
``group_by_dynamic`` on the zoned time stamps) return.

``python bars_bot.py suite`` builds a TradingSuite and prints what
``suite.data``'s bar reads return (schema and height; None where None) and
the types of the first ``NEW_BAR`` event, which it provokes with prints a
second apart through the simulator's control API.

The last stdout line is the JSON summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import urllib.request
from datetime import datetime
from typing import Any

import polars as pl
from project_x_py import EventType, ProjectX, TradingSuite
from project_x_py.models import ProjectXConfig

TIMEOUT = 15.0


def sim(operation: str, **kwargs: Any) -> Any:
    request = urllib.request.Request(
        f"{os.environ['PXFAST_SIM_CONTROL_URL']}/{operation}",
        data=json.dumps(kwargs).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return json.load(response)["result"]


def cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def describe(frame: Any) -> Any:
    """A frame as JSON: type, schema, rows; None stays None."""
    if frame is None:
        return None
    return {
        "type": f"{type(frame).__module__}.{type(frame).__qualname__}",
        "schema": [[name, str(dtype)] for name, dtype in frame.schema.items()],
        "rows": [[cell(v) for v in row] for row in frame.iter_rows()],
    }


def sma(frame: pl.DataFrame, period: int) -> pl.DataFrame:
    return frame.with_columns(pl.col("close").rolling_mean(period).alias(f"sma_{period}"))


def bot_calls(frame: pl.DataFrame) -> Any:
    """What a strategy typically computes from a bar frame."""
    if frame.is_empty():
        return {"height": frame.height}
    with_sma = frame.pipe(sma, 3)
    busy = frame.filter(pl.col("volume") > pl.col("volume").median())
    hourly = frame.group_by_dynamic("timestamp", every="1h").agg(
        pl.col("high").max(), pl.col("low").min(), pl.col("volume").sum()
    )
    return {
        "height": frame.height,
        "last_close": frame["close"].tail(1).to_list(),
        "sma_3": with_sma["sma_3"].tail(3).to_list(),
        "busy": busy.height,
        "ranges": frame.select((pl.col("high") - pl.col("low")).alias("r"))["r"].to_list()[-5:],
        "hourly": [[cell(v) for v in row] for row in hourly.tail(3).iter_rows()],
        "first_hour_local": frame["timestamp"].dt.hour().to_list()[:3],
    }


def when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def history(cases: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    clients: dict[str, Any] = {}
    try:
        for name, case in cases.items():
            zone = case.pop("timezone")
            if zone not in clients:
                config = ProjectXConfig(
                    api_url=os.environ["PROJECTX_API_URL"],
                    user_hub_url=os.environ["PROJECTX_USER_HUB_URL"],
                    market_hub_url=os.environ["PROJECTX_MARKET_HUB_URL"],
                    timezone=zone,
                    # project-x-py walks up to 16 prior contract months per hourly+
                    # request; its default 60 requests a minute would stall the script.
                    requests_per_minute=600,
                )
                client = ProjectX(
                    os.environ["PROJECT_X_USERNAME"], os.environ["PROJECT_X_API_KEY"], config
                )
                await client.__aenter__()
                await client.authenticate()
                clients[zone] = client
            for key in ("start_time", "end_time"):
                if key in case:
                    case[key] = when(case[key])
            frame = await clients[zone].get_bars("MNQ", **case)
            out[name] = {"frame": describe(frame), "calls": bot_calls(frame)}
    finally:
        for client in clients.values():
            await client.__aexit__(None, None, None)
    return out


def stamp_types(value: Any) -> Any:
    """How a time stamp is typed: class, zone name, offset from UTC."""
    if not isinstance(value, datetime):
        return type(value).__name__
    offset = value.utcoffset()
    return [type(value).__name__, str(value.tzinfo), None if offset is None else str(offset)]


async def suite_reads() -> dict[str, Any]:
    price = 21000.0
    for _ in range(3):  # second bars for the 1sec history
        price += 0.25
        sim("set_price", symbol_or_id="MNQ", price=price)
        sim("advance", seconds=1)
    suite = await TradingSuite.create("MNQ", timeframes=["1sec", "1min"], initial_days=1)
    bars: list[Any] = []
    arrived = asyncio.Event()

    async def on_bar(event: Any) -> None:
        bars.append(event.data)
        arrived.set()

    try:
        await suite.on(EventType.NEW_BAR, on_bar)
        data = suite.data
        minute = await data.get_data("1min")
        assert minute is not None
        since = minute["timestamp"][-3].replace(tzinfo=None)  # naive: the suite's zone
        reads = {
            "get_data": await data.get_data("1min", bars=5),
            "get_latest_bars": await data.get_latest_bars(2, "1min"),
            "get_bars_since": await data.get_bars_since(since, "1min"),
            "get_data_or_none": await data.get_data_or_none("1min", min_bars=2),
            "get_data_or_none short": await data.get_data_or_none("1min", min_bars=10**6),
            "get_data unknown": await data.get_data("15min"),
        }
        summary: dict[str, Any] = {
            name: None if frame is None else describe(frame)["schema"]
            for name, frame in reads.items()
        }
        sized = ("get_data", "get_latest_bars", "get_bars_since")
        summary["heights"] = {name: reads[name].height for name in sized}
        mtf = await data.get_mtf_data()
        summary["mtf"] = {name: describe(frame)["schema"] for name, frame in sorted(mtf.items())}
        # Prints a second apart until the 1sec timeframe starts a new bar.
        for _ in range(int(TIMEOUT)):
            price += 0.25
            sim("set_price", symbol_or_id="MNQ", price=price)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), 1.2)
                break
        assert bars, "no NEW_BAR"
        event = bars[0]
        summary["new_bar"] = {
            "keys": sorted(event),
            "bar_time": stamp_types(event["bar_time"]),
            "data keys": sorted(event["data"]),
            "data types": {k: stamp_types(v) for k, v in sorted(event["data"].items())},
        }
        return summary
    finally:
        await suite.disconnect()


async def main() -> None:
    if sys.argv[1] == "history":
        summary = await history(json.loads(sys.argv[2]))
    else:
        summary = await suite_reads()
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())

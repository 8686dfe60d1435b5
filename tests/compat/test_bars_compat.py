"""Bars are the same polars frames on pxfast as on project-x-py 4.4.1.

``bots/bars_bot.py`` runs unchanged on the real project-x-py (reference venv,
``run_reference.py``) and on pxfast (``python -m pxfast.compat``), both
against one standalone simulator whose market is paused, so both read the
same history.  ``get_bars`` must give equal frames (type, schema with the
client's zone, every row) and equal results from the polars calls bots make,
for seconds, minutes, hours, days and weeks, with ``limit``, with closed
bars only, with aware and naive ``start_time``/``end_time`` and in three
zones; ``suite.data``'s bar reads the same schemas and None cases, and
``NEW_BAR`` the same time stamp types.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from simctl import SimFactory, control
from test_bots import BOTS, RUNNER, run_bot

BOT = str(BOTS / "bars_bot.py")
CHICAGO = "America/Chicago"


def schema(zone: str) -> list[list[str]]:
    """project-x-py 4.4.1's bar schema, as ``str(dtype)`` per column."""
    return [
        ["timestamp", f"Datetime(time_unit='us', time_zone='{zone}')"],
        ["open", "Float64"],
        ["high", "Float64"],
        ["low", "Float64"],
        ["close", "Float64"],
        ["volume", "Int64"],
    ]


def both(exports: dict[str, str], reference_python: Path, *args: str) -> tuple[Any, Any]:
    reference = run_bot([str(reference_python), str(RUNNER), BOT, *args], exports)
    pxfast = run_bot([sys.executable, "-m", "pxfast.compat", BOT, *args], exports)
    return reference, pxfast


def history_cases(now: datetime) -> dict[str, dict[str, Any]]:
    """get_bars arguments per case; windows end past the live prints, so none moves."""
    anchor = now.replace(second=0, microsecond=0)
    ahead = (anchor + timedelta(minutes=30)).isoformat()

    def since(**delta: float) -> str:
        return (anchor - timedelta(**delta)).isoformat()

    naive = anchor.astimezone(ZoneInfo(CHICAGO)).replace(tzinfo=None)
    midnight = anchor.replace(hour=0, minute=0)
    return {
        "seconds": {"unit": 1, "interval": 1, "start_time": since(minutes=10), "end_time": ahead},
        "5 seconds": {"unit": 1, "interval": 5, "start_time": since(minutes=10),
                      "end_time": ahead},
        "minutes": {"unit": 2, "interval": 1, "start_time": since(hours=3), "end_time": ahead},
        "15 minutes, limit": {"unit": 2, "interval": 15, "limit": 37,
                              "start_time": since(days=2), "end_time": ahead},
        "5 minutes, closed": {"unit": 2, "interval": 5, "partial": False,
                              "start_time": since(hours=6), "end_time": ahead},
        "hours": {"unit": 3, "interval": 1, "start_time": since(days=3), "end_time": ahead},
        "4 hours, naive": {"unit": 3, "interval": 4,
                           "start_time": (naive - timedelta(days=4)).isoformat(),
                           "end_time": (naive + timedelta(hours=1)).isoformat()},
        # From a midnight (UTC, the Gateway's day) to past now: ten day starts in a
        # window of 9.x days.
        "days": {"unit": 4, "interval": 1,
                 "start_time": (midnight - timedelta(days=9)).isoformat(), "end_time": ahead},
        "weeks": {"unit": 5, "interval": 1, "start_time": since(days=9), "end_time": ahead},
        "30 minutes, London": {"unit": 2, "interval": 30, "start_time": since(days=1),
                               "end_time": ahead, "timezone": "Europe/London"},
        "hours, Tokyo": {"unit": 3, "interval": 1, "start_time": since(days=2),
                         "end_time": ahead, "timezone": "Asia/Tokyo"},
        "empty": {"unit": 2, "interval": 5, "start_time": "2001-01-01T00:00:00+00:00",
                  "end_time": "2001-01-02T00:00:00+00:00"},
    }


def test_get_bars_frames_are_project_x_py_frames(
    reference_python: Path, start_sim: SimFactory
) -> None:
    exports = start_sim()
    for step in range(6):  # live prints, a second apart on the simulator's clock
        control(exports, "set_price", symbol_or_id="MNQ", price=21000 + step * 0.25)
        control(exports, "advance", seconds=1)
    cases = history_cases(datetime.now(UTC))
    for case in cases.values():
        case.setdefault("timezone", CHICAGO)
    zones = {name: case["timezone"] for name, case in cases.items()}
    reference, pxfast = both(exports, reference_python, "history", json.dumps(cases))

    # project-x-py answers an empty window with pl.DataFrame() (no columns); pxfast
    # keeps the schema, so code written for full frames also runs on an empty one.
    assert reference.pop("empty")["frame"]["schema"] == []
    empty = pxfast.pop("empty")
    assert empty["frame"]["schema"] == schema(CHICAGO)
    assert empty["frame"]["rows"] == [] and empty["calls"] == {"height": 0}

    assert list(pxfast) == list(reference)
    for name, result in reference.items():
        frame = result["frame"]
        assert frame["type"] == "polars.dataframe.frame.DataFrame", name
        assert frame["schema"] == schema(zones[name]), name
        assert frame["rows"], f"{name}: the libraries must not agree on nothing"
        assert pxfast[name] == result, name
    assert len(reference["15 minutes, limit"]["frame"]["rows"]) == 37
    assert len(reference["days"]["frame"]["rows"]) == 10
    stamp = reference["hours, Tokyo"]["frame"]["rows"][0][0]
    assert stamp.endswith("+09:00"), stamp


def test_suite_bar_reads_and_new_bar_match(reference_python: Path, start_sim: SimFactory) -> None:
    reference, pxfast = both(start_sim(), reference_python, "suite")
    assert reference["get_data"] == schema(CHICAGO)
    assert reference["get_data unknown"] is None
    assert reference["get_data_or_none short"] is None
    assert reference["heights"] == {"get_data": 5, "get_latest_bars": 2, "get_bars_since": 3}
    assert set(reference["mtf"]) == {"1min", "1sec"}
    zoned = ["datetime", CHICAGO]
    assert reference["new_bar"]["bar_time"][:2] == zoned
    assert reference["new_bar"]["data types"]["timestamp"][:2] == zoned
    # pxfast adds the bar that just closed under one more key; the rest is project-x-py's.
    pxfast["new_bar"]["keys"].remove("closed_bar")
    assert pxfast == reference

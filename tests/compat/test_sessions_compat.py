"""``project_x_py.sessions`` gives project-x-py 4.4.1's results on pxfast, except where it is wrong.

``bots/sessions_bot.py`` runs unchanged on the real project-x-py (reference
venv) and on pxfast (``python -m pxfast.compat``): on synthetic bar frames
written to parquet files both read (five-minute bars in Chicago time over a
week that holds a weekend and the March 2024 DST change, and over Good
Friday and Christmas 2024), and through a TradingSuite with
``session_config=`` against one paused simulator.

Results must be equal (rows exactly, floats to 1e-9 relative) on a frame
where the libraries' rules agree; where pxfast deliberately differs, the
test names the difference and asserts exactly it:

* RTH ends before ``rth_end``: project-x-py's filter keeps the bar stamped
  16:00 ET (it opens after the close).
* ETH is closed from Friday's 17:00 ET close to Sunday's 18:00 ET open and
  on CME full-closure holidays; project-x-py's ETH filter keeps those bars.
* ``calculate_session_vwap`` restarts at the exchange trading date (ETH: at
  18:00 ET), not at midnight of the frame's zone.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from simctl import SimFactory
from test_bots import BOT_TIMEOUT, BOTS, RUNNER, run_bot

BOT = str(BOTS / "sessions_bot.py")
ET = ZoneInfo("America/New_York")
#: CME Globex full closures in the frames' years (cmegroup.com holiday calendars).
FRAME_HOLIDAYS = {datetime(2024, 3, 29).date(), datetime(2024, 12, 25).date()}
HOLIDAYS = FRAME_HOLIDAYS | {
    datetime(2026, 1, 1).date(), datetime(2026, 4, 3).date(), datetime(2026, 12, 25).date(),
    datetime(2027, 1, 1).date(), datetime(2027, 3, 26).date(), datetime(2027, 12, 24).date(),
}  # fmt: skip


def bars(start: datetime, days: int, offset_minutes: int) -> pl.DataFrame:
    n = days * 24 * 12
    return pl.DataFrame(
        {
            "timestamp": [start + timedelta(minutes=5 * i + offset_minutes) for i in range(n)],
            "open": [100.0 + (i % 37) * 0.25 for i in range(n)],
            "high": [101.0 + (i % 41) * 0.25 for i in range(n)],
            "low": [99.0 + (i % 29) * 0.25 for i in range(n)],
            "close": [100.0 + (i % 31) * 0.25 for i in range(n)],
            "volume": [10 + (i * 7) % 17 for i in range(n)],
        }
    ).with_columns(pl.col("timestamp").dt.convert_time_zone("America/Chicago"))


def globex_closed(stamp: str) -> bool:
    """Friday 17:00 ET to Sunday 18:00 ET, the daily break, and holidays (test's own rule)."""
    local = datetime.fromisoformat(stamp).astimezone(ET)
    t = local.time()
    trading_date = local.date() + timedelta(days=1 if t >= time(18) else 0)
    return time(17) <= t < time(18) or trading_date.weekday() >= 5 or trading_date in HOLIDAYS


def et_time(stamp: str) -> time:
    return datetime.fromisoformat(stamp).astimezone(ET).time()


def run_frames(reference_python: Path, frames: dict[str, pl.DataFrame], tmp: Path) -> Any:
    for name, frame in frames.items():
        frame.write_parquet(tmp / f"{name}.parquet")
    summaries = []
    for command in (
        [str(reference_python), BOT, "frames", str(tmp)],
        [sys.executable, "-m", "pxfast.compat", BOT, "frames", str(tmp)],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=BOT_TIMEOUT)
        assert done.returncode == 0, done.stderr[-4000:]
        summaries.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return summaries


def same(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-9 relative (None only equals None)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def stamps(result: dict[str, Any]) -> list[str]:
    return [row[0] for row in result["rows"]]


@pytest.fixture(scope="module")
def frame_results(
    reference_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], dict[str, Any]]:
    week = datetime(2024, 3, 7, tzinfo=UTC)  # Thursday; DST starts Sunday the 10th
    raw = bars(week, 6, 0)
    # Off the five-minute grid (no bar at 16:00:00 ET) and without weekend bars:
    # a frame both libraries' rules read the same way.
    clean = bars(week, 6, 2)
    clean = clean.filter(
        ~pl.Series([globex_closed(t.isoformat()) for t in clean["timestamp"].to_list()])
    )
    holidays = pl.concat(
        [
            bars(datetime(2024, 3, 28, tzinfo=UTC), 2, 0),
            bars(datetime(2024, 12, 24, tzinfo=UTC), 2, 0),
        ]
    )
    reference, pxfast = run_frames(
        reference_python,
        {"raw": raw, "clean": clean, "holidays": holidays},
        tmp_path_factory.mktemp("session-frames"),
    )
    return reference, pxfast


def test_session_table_and_clock_questions_match(frame_results: Any) -> None:
    reference, pxfast = frame_results
    assert len(reference["table"]["sessions"]) == 70
    assert pxfast["table"] == reference["table"]
    # In and out of RTH and the daily break, before and after the DST change.
    assert pxfast["moments"] == reference["moments"]


def test_every_function_matches_where_the_rules_agree(frame_results: Any) -> None:
    reference, pxfast = frame_results
    ref, ours = reference["clean"], pxfast["clean"]
    assert ref["filter RTH"]["rows"] and ref["filter ETH"]["rows"]
    different = {name for name in ref if not same(ref[name], ours[name])}
    assert different == {"vwap RTH", "vwap ETH"}, different
    # RTH VWAP: equal on every in-session bar (its day restarts at the same place).
    rth = {row[0] for row in ref["filter RTH"]["rows"]}
    for a, b in zip(ref["vwap RTH"]["rows"], ours["vwap RTH"]["rows"], strict=True):
        assert a[:6] == b[:6]
        if a[0] in rth:
            assert same(a[6], b[6]), a[0]
    assert (
        ref["stats"]["rth_volume"] > 0 and ref["stats"]["eth_volume"] > ref["stats"]["rth_volume"]
    )


def test_eth_vwap_restarts_at_the_globex_open(frame_results: Any) -> None:
    reference, pxfast = frame_results
    ref, ours = reference["clean"]["vwap ETH"]["rows"], pxfast["clean"]["vwap ETH"]["rows"]
    # The first bar after Thursday's 18:00 ET open (17:02 Chicago): pxfast's VWAP is
    # that bar's close, a new session; project-x-py's continues the Chicago day.
    index = next(i for i, row in enumerate(ours) if row[0].startswith("2024-03-07T17:02"))
    assert ours[index][6] == ours[index][4]
    assert not same(ref[index][6], ours[index][6])
    assert ours[index - 1][6] is None or not same(ours[index - 1][6], ours[index][6])


def test_rth_excludes_the_bar_stamped_at_the_close(frame_results: Any) -> None:
    reference, pxfast = frame_results
    ref = stamps(reference["raw"]["filter RTH"])
    ours = stamps(pxfast["raw"]["filter RTH"])
    assert set(ours) < set(ref)
    extra = set(ref) - set(ours)
    assert extra and all(et_time(s) == time(16) for s in extra)


def test_eth_is_closed_over_the_weekend_and_holidays(frame_results: Any) -> None:
    reference, pxfast = frame_results
    for frame in ("raw", "holidays"):
        ref = stamps(reference[frame]["filter ETH"])
        ours = stamps(pxfast[frame]["filter ETH"])
        assert set(ours) < set(ref), frame
        extra = set(ref) - set(ours)
        assert extra and all(globex_closed(s) for s in extra), frame
        assert not any(globex_closed(s) for s in ours), frame
    # Good Friday and Christmas have RTH bars on project-x-py, none on pxfast.
    holiday_rth = stamps(reference["holidays"]["filter RTH"])
    days = {datetime.fromisoformat(s).astimezone(ET).date() for s in holiday_rth}
    assert days >= FRAME_HOLIDAYS
    ours = stamps(pxfast["holidays"]["filter RTH"])
    assert not {datetime.fromisoformat(s).astimezone(ET).date() for s in ours} & FRAME_HOLIDAYS


def _within(result: dict[str, Any], first: str, last: str) -> dict[str, Any]:
    """``result``'s rows stamped from ``first`` to ``last`` (ISO strings of one zone)."""
    rows = [row for row in result["rows"] if first <= row[0] <= last]
    return {**result, "rows": rows}


def test_suite_session_reads_match(reference_python: Path, start_sim: SimFactory) -> None:
    reference = run_bot([str(reference_python), str(RUNNER), BOT, "suite"], start_sim())
    pxfast = run_bot([sys.executable, "-m", "pxfast.compat", BOT, "suite"], start_sim())
    # Each suite reads `initial_days` of history back from its own start, so the
    # oldest bar can differ by one when a 5-minute boundary passes between the two
    # runs: the bars are compared over the span both hold, which must be nearly all.
    whole = same(pxfast["all"], reference["all"])
    kept = pxfast["default"]["rows"]  # the RTH bars pxfast's statistics were taken over
    first = max(stamps(pxfast["all"])[0], stamps(reference["all"])[0])
    last = min(stamps(pxfast["all"])[-1], stamps(reference["all"])[-1])
    for result in (reference, pxfast):
        for key in ("all", "default", "eth", "after set", "data after set"):
            result[key] = _within(result[key], first, last)
    assert len(stamps(pxfast["all"])) >= 0.99 * len(stamps(reference["all"])) > 0
    assert same(pxfast["all"], reference["all"])
    ref_rth, ours = stamps(reference["default"]), stamps(pxfast["default"])
    at_close = {s for s in ref_rth if et_time(s) == time(16)}
    assert ours and at_close and set(ref_rth) - set(ours) == at_close
    assert set(ours) <= set(ref_rth)
    for key in ("eth", "after set", "data after set"):
        closed = {s for s in stamps(reference[key]) if globex_closed(s)}
        assert stamps(pxfast[key]) == [s for s in stamps(reference[key]) if s not in closed], key
    eth_keys = [k for k in reference["stats"] if k.startswith("eth_")]
    if whole and not any(globex_closed(s) for s in stamps(reference["eth"])):
        assert same(
            {k: pxfast["stats"][k] for k in eth_keys}, {k: reference["stats"][k] for k in eth_keys}
        )
    # RTH statistics are those of the RTH bars pxfast keeps.
    volume = sum(row[5] for row in kept)
    assert pxfast["stats"]["rth_volume"] == volume
    assert same(pxfast["stats"]["rth_vwap"], sum(row[4] * row[5] for row in kept) / volume)
    assert same(pxfast["stats"]["rth_high"], max(row[2] for row in kept))
    assert same(pxfast["stats"]["rth_low"], min(row[3] for row in kept))
    assert pxfast["stats unknown"] == reference["stats unknown"]

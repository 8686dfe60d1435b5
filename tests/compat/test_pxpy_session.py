"""The real, unmodified project-x-py 4.4.1 trades against a standalone simulator.

The session itself is ``pxpy_session.py``, run with the reference venv's
Python: TradingSuite.create("MNQ") (login, contract lookup, bars, both hubs
with negotiate and subscriptions), market, limit, stop and native bracket
orders, a modify, a cancel, a partial and a full close, a reconnect after the
server closes both hubs, the trade history, and ORDER_FILLED, ORDER_CANCELLED,
POSITION_OPENED/UPDATED/CLOSED and QUOTE_UPDATE events through project-x-py's
own realtime client.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from simctl import SimFactory

SESSION = Path(__file__).with_name("pxpy_session.py")
SESSION_TIMEOUT = 300


def test_project_x_py_session(reference_python: Path, start_sim: SimFactory) -> None:
    done = subprocess.run(
        [str(reference_python), str(SESSION)],
        env={**os.environ, **start_sim("--no-live-data")},
        capture_output=True,
        text=True,
        timeout=SESSION_TIMEOUT,
    )
    lines = done.stdout.strip().splitlines()
    try:
        summary = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        raise AssertionError(
            f"the session crashed (exit {done.returncode}):\n{done.stderr[-6000:]}"
        ) from None
    report = "\n".join(f"{name}: {detail}" for name, detail in summary["checks"].items())
    assert summary["failed"] == [], report
    assert done.returncode == 0, report
    assert list(summary["checks"]) == [
        "authenticate",
        "live_lookup",
        "quotes",
        "market_order",
        "limit_modify_cancel",
        "stop_order",
        "bracket_order",
        "close_positions",
        "reconnect",
        "trade_history",
    ]

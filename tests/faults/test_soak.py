"""The soak, reduced for CI: a few hundred orders under the same seeded fault schedule.

``bench/soak.py`` runs 10 000 orders with the simulator in a child process;
here the simulator is in-process, the run stops at 600 orders and the
client's reconciliation window is 8 s, so it prunes within the run while the
invariant is checked at every 100 orders.  Same bot, same schedule, same rules.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def _soak_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pxfast_bench_soak", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
async def test_reduced_soak_keeps_the_invariant() -> None:
    soak = _soak_module()
    lines: list[str] = []
    report = await soak.run_local(
        orders=600, seed=7, checkpoint=100, window=8.0, out=lines.append
    )
    soak.print_report(report, lines.append)
    text = "\n".join(lines)
    assert report.ok, text
    assert not report.fills_lost and not report.fills_duplicated, text
    assert len(report.checkpoints) == 6 and report.checkpoints[-1].orders >= 600
    assert report.checkpoints[-1].pruned > 0, text  # finished orders past the window forgotten
    assert len(report.faults) >= 6, text  # the schedule really injected faults of many kinds
    assert report.fills_delivered > 0 and report.checkpoints[-1].fills > 0

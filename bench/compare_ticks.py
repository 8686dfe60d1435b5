"""Side by side: pxfast._ticks here against project-x-py 4.4.1's own align_price_to_tick.

    python bench/compare_ticks.py [--out bench/.cache/ticks.md] [--repeat 15]

project-x-py runs in its reference venv (Python 3.12, built or reused by
``pxfast.reference.ensure_reference_venv``), pxfast in this interpreter.
Both sides time the same inputs with the same timing code (TIMING below,
executed in each interpreter): a Python ``for`` loop calling the function
once per price, repeated; the table shows medians per price, loop included.
The project-x-py results are also checked bit for bit against pxfast's float
variant.  Prints a Markdown report (machine, Pythons, date) and optionally
writes it to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pxfast import _ticks
from pxfast.reference import ensure_reference_venv

SEED = 20251124
BATCH_SIZE = 1_000_000

# Timing code run unchanged in both interpreters.
TIMING = '''
import statistics, time

def per_price_ns(fn, prices, tick, repeat):
    """Median over `repeat` runs of the per-price time of a for loop over prices."""
    def run():
        for price in prices:
            fn(price, tick)
    number = 1
    while True:  # calibrate: one sample should last >= 20 ms
        start = time.perf_counter()
        for _ in range(number):
            run()
        if time.perf_counter() - start >= 0.02:
            break
        number *= 2
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            run()
        samples.append((time.perf_counter() - start) / number / len(prices) * 1e9)
    return statistics.median(samples)
'''

REFERENCE = (
    TIMING
    + """
import json, sys
from project_x_py.order_manager.utils import align_price_to_tick
job = json.load(sys.stdin)
out = {"python": sys.version.split()[0], "sets": {}}
for name, spec in job["sets"].items():
    prices, tick = spec["prices"], spec["tick"]
    out["sets"][name] = {
        "ns": per_price_ns(align_price_to_tick, prices, tick, job["repeat"]),
        "results": [align_price_to_tick(p, tick) for p in prices],
    }
json.dump(out, sys.stdout)
"""
)


def input_sets() -> dict[str, dict[str, Any]]:
    """1000 seeded prices per contract, written with the contract's usual decimals."""
    rng = np.random.default_rng(SEED)
    return {
        "MNQ, tick 0.25": {
            "tick": 0.25,
            "prices": np.round(21000.0 + rng.uniform(-2000, 2000, 1000), 2).tolist(),
        },
        "6E, tick 0.00005": {
            "tick": 5e-05,
            "prices": np.round(1.08 + rng.uniform(-0.05, 0.05, 1000), 6).tolist(),
        },
    }


def run_reference(sets: dict[str, dict[str, Any]], repeat: int) -> dict[str, Any]:
    python = ensure_reference_venv()
    done = subprocess.run(
        [str(python), "-c", REFERENCE],
        input=json.dumps({"sets": sets, "repeat": repeat}),
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def batch_ns(prices: np.ndarray[Any, Any], tick: float, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        _ticks.align_prices(prices, tick)
        samples.append((time.perf_counter() - start) / len(prices) * 1e9)
    return statistics.median(samples)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bit_mismatches(ours: list[float], theirs: list[float]) -> int:
    a = np.array(ours, dtype=np.float64).view(np.int64)
    b = np.array(theirs, dtype=np.float64).view(np.int64)
    return int(np.count_nonzero(a != b))


def measure_once(sets: dict[str, dict[str, Any]], repeat: int) -> dict[str, dict[str, float]]:
    """One round: project-x-py, then pxfast, on every input set (ns per price)."""
    namespace: dict[str, Any] = {}
    exec(TIMING, namespace)
    per_price_ns = namespace["per_price_ns"]
    reference = run_reference(sets, repeat)
    timings: dict[str, dict[str, float]] = {}
    for name, spec in sets.items():
        prices, tick = spec["prices"], spec["tick"]
        ours = [_ticks.align_price_float(p, tick) for p in prices]
        timings[name] = {
            "pxpy": reference["sets"][name]["ns"],
            "decimal": per_price_ns(_ticks.align_price, prices, tick, repeat),
            "float": per_price_ns(_ticks.align_price_float, prices, tick, repeat),
            "batch": batch_ns(np.resize(np.array(prices), BATCH_SIZE), tick, repeat),
            "mismatches": bit_mismatches(ours, reference["sets"][name]["results"]),
            "python": reference["python"],
        }
    return timings


def report(repeat: int, rounds: int) -> str:
    """Medians over `rounds` alternating rounds, so load spikes on a shared machine
    hit both sides alike."""
    sets = input_sets()
    runs = [measure_once(sets, repeat) for _ in range(rounds)]
    labels = [
        ("decimal", "`align_price` (Decimal out)"),
        ("float", "`align_price_float` (float out)"),
        ("batch", "`align_prices` (numpy, 1M)"),
    ]
    rows = []
    checks = []
    for name in sets:
        cells = {
            key: statistics.median(run[name][key] for run in runs)
            for key in runs[0][name]
            if key != "python"
        }
        checks.append(f"{name}: {max(run[name]['mismatches'] for run in runs):.0f} mismatches")
        for key, label in labels:
            ns = cells[key]
            ratio = statistics.median(run[name]["pxpy"] / run[name][key] for run in runs)
            shown = f"{1e3 / ns:,.1f} M prices/s" if key == "batch" else f"{ns:,.1f} ns"
            rows.append(
                f"| {name} | {label} | {shown} | {cells['pxpy']:,.0f} ns | **{ratio:,.0f}x** |"
            )
    load = os.getloadavg()
    lines = [
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  ",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, "
        f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}  ",
        f"pxfast: Python {platform.python_version()}, numpy {np.__version__}  ",
        f"project-x-py 4.4.1: Python {runs[0][next(iter(sets))]['python']} (reference venv)  ",
        f"Command: `python bench/compare_ticks.py --repeat {repeat} --rounds {rounds}`  ",
        "Per price, over 1000 seeded prices called from a Python for loop (loop included); "
        "the batch is 1M prices in one call, against project-x-py's per-price loop.  "
        f"Medians of {repeat} runs, then of {rounds} alternating rounds (speed-up: median "
        "of the per-round ratios).",
        "",
        "| inputs | pxfast call | pxfast | project-x-py `align_price_to_tick` | speed-up |",
        "|---|---|---|---|---|",
        *rows,
        "",
        "Float results vs project-x-py, bit for bit: " + "; ".join(checks) + ".",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per case (median)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--out", type=Path, help="also write the Markdown report here")
    args = parser.parse_args()
    text = report(args.repeat, args.rounds)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())

"""``from pxfast import TradingSuite`` loads no heavy library a bot may not need yet.

numpy (~80 ms) and polars load at their first use: a batch tick operation,
the first bars, the first frame; picows (~25 ms) at the first hub connect.
Each check runs in a fresh interpreter, since this test process has long
imported them all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("numpy", "picows", "polars")


def run_fresh(tmp_path: Path, code: str) -> dict[str, list[str]]:
    """Run `code` in a new interpreter; it records ``loaded(stage)`` snapshots of HEAVY."""
    prelude = (
        "import json, sys\n"
        "stages = {}\n"
        f"def loaded(stage): stages[stage] = [m for m in {HEAVY!r} if m in sys.modules]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + code + "\nprint(json.dumps(stages))\n"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_trading_suite_import_leaves_heavy_libraries_unloaded(tmp_path: Path) -> None:
    stages = run_fresh(
        tmp_path,
        "from pxfast import TradingSuite\n"
        "loaded('import')\n"
        "import pxfast\n"
        "loaded('import pxfast')\n",
    )
    assert stages == {"import": [], "import pxfast": []}


def test_numpy_loads_at_the_first_batch_tick_op_not_at_scalar_ones(tmp_path: Path) -> None:
    stages = run_fresh(
        tmp_path,
        "from pxfast import TradingSuite\n"
        "from pxfast._ticks import TickSize, align_price, align_price_float, align_prices\n"
        "assert align_price_float(21000.13, 0.25) == 21000.25\n"
        "assert str(align_price(21000.13, 0.25)) == '21000.25'\n"
        "loaded('scalar')\n"
        "assert align_prices([21000.13, 21000.38], 0.25).tolist() == [21000.25, 21000.5]\n"
        "loaded('batch')\n",
    )
    assert stages == {"scalar": [], "batch": ["numpy"]}


def test_ticks_array_method_loads_numpy_itself(tmp_path: Path) -> None:
    stages = run_fresh(
        tmp_path,
        "from pxfast._ticks import TickSize\n"
        "loaded('import')\n"
        "assert TickSize(0.25).to_ticks_array([1.0, 1.25]).tolist() == [4, 5]\n"
        "loaded('batch')\n",
    )
    assert stages == {"import": [], "batch": ["numpy"]}


def test_numpy_loads_with_the_first_bars_and_polars_with_the_first_frame(
    tmp_path: Path,
) -> None:
    stages = run_fresh(
        tmp_path,
        "from pxfast import TradingSuite\n"
        "from pxfast.bars import BarFrame\n"
        "from pxfast.messages import Bar\n"
        "from pxfast.realtime_data_manager.timeframes import bar_aggregator\n"
        "loaded('import')\n"
        "agg = bar_aggregator(['1min'], 10)\n"
        "assert agg.columns(0).shape == (6, 0)\n"
        "loaded('bars')\n"
        "bar = Bar(t='2025-01-02T15:00:00+00:00', o=1, h=2, l=0.5, c=1.5, v=3)\n"
        "bars = BarFrame.from_bars([bar])\n"
        "assert bars['close'].tolist() == [1.5]\n"
        "loaded('rest bars')\n"
        "assert bars.to_polars()['close'].to_list() == [1.5]\n"
        "loaded('frame')\n",
    )
    assert stages == {
        "import": [],
        "bars": ["numpy"],
        "rest bars": ["numpy"],
        "frame": ["numpy", "polars"],
    }


def test_picows_loads_at_the_first_hub_connect(tmp_path: Path) -> None:
    """A hub connecting to a closed port has imported picows and fails typed."""
    stages = run_fresh(
        tmp_path,
        "import asyncio, socket\n"
        "from pxfast import TradingSuite\n"
        "from pxfast.exceptions import ProjectXConnectionError\n"
        "from pxfast.realtime.hub import HubConnection\n"
        "async def token(force: bool) -> str:\n"
        "    return 'token'\n"
        "async def main() -> None:\n"
        "    with socket.socket() as s:\n"
        "        s.bind(('127.0.0.1', 0))\n"
        "        port = s.getsockname()[1]\n"
        "    hub = HubConnection('user', f'ws://127.0.0.1:{port}/hubs/user', token, print)\n"
        "    loaded('hub')\n"
        "    try:\n"
        "        await hub.start(timeout=1.0)\n"
        "    except ProjectXConnectionError as exc:\n"
        "        assert 'not connected' in str(exc), exc\n"
        "    else:\n"
        "        raise AssertionError('connected to a closed port')\n"
        "    finally:\n"
        "        await hub.stop()\n"
        "    loaded('connect')\n"
        "asyncio.run(main())\n",
    )
    assert stages == {"hub": [], "connect": ["picows"]}

"""Guide snippets run the way a reader runs them: a script, ``asyncio.run``, no disconnect.

Most of the guide's snippets never call ``suite.disconnect()`` (api-surface
§4.2), so ``asyncio.run`` ends with pxfast's hubs, HTTP pool and background
tasks still open.  The script must still exit 0, promptly, with nothing on
stderr: no hang, no "Task was destroyed but it is pending", no tracebacks.
The snippet text comes from the guide copy in ``tests/guide``; the script is
run by ``python -m pxfast.compat`` against a standalone simulator.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from simctl import SimFactory, child_env, control

GUIDE = Path(__file__).parents[1] / "guide" / "order-management-guide.md"
SCRIPT_TIMEOUT = 60

#: guide block number -> (the coroutine it defines, what it prints)
SCRIPTS = {
    4: ("place_stop_order", ["Stop order placed at $20950.0", "Breakout order placed at $21030.0"]),
    10: (
        "cancel_orders",
        [
            "Placed 3 orders",
            "Cancelled first order",
            "Cancelled remaining orders",
            "All orders cancelled",
        ],
    ),
}


def guide_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(), re.S | re.M)


@pytest.mark.parametrize("block", list(SCRIPTS))
def test_snippet_script_exits_cleanly(tmp_path: Path, start_sim: SimFactory, block: int) -> None:
    blocks = guide_blocks()
    function, expected = SCRIPTS[block]
    script = tmp_path / f"guide_s{block}.py"
    script.write_text(f"{blocks[0]}\n{blocks[block - 1]}\n\nasyncio.run({function}())\n")
    exports = start_sim()
    control(exports, "set_price", symbol_or_id="MNQ", price="21000")
    done = subprocess.run(
        [sys.executable, "-m", "pxfast.compat", str(script)],
        env=child_env(exports),
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected
    assert done.stderr == ""

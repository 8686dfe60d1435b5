"""The README's usage example runs as written against a standalone simulator."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from simctl import SimFactory, child_env, control

README = Path(__file__).parents[2] / "README.md"


def usage_example() -> str:
    section = README.read_text().split("## Using it", 1)[1]
    found = re.search(r"^```python\n(.*?)^```", section, re.S | re.M)
    assert found is not None, "README's 'Using it' section has no python block"
    return found.group(1)


def test_readme_usage_example_places_its_bracket(tmp_path: Path, start_sim: SimFactory) -> None:
    script = tmp_path / "readme_example.py"
    script.write_text(usage_example())
    exports = start_sim()
    control(exports, "set_price", symbol_or_id="MNQ", price="21000")
    done = subprocess.run(
        [sys.executable, str(script)],
        env=child_env(exports),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    [line] = done.stdout.splitlines()  # nothing filled: the entry rests 10 points down
    entry, stop, target = (int(x) for x in line.split())
    [account] = control(exports, "account_ids", username=exports["PROJECT_X_USERNAME"])
    orders = {o["id"]: o for o in control(exports, "orders", account_id=account)}
    assert orders[entry]["limitPrice"] == 20990.0 and orders[entry]["status"] == 1
    assert {stop, target} <= set(orders)  # the exits exist (suspended until the entry fills)

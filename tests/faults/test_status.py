"""``pxfast status`` against the simulator: embedded, from the environment, and when broken."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from fault_bot import OpenSuite

from pxfast.cli import main
from pxfast.sim import GatewaySimulator
from pxfast.status import format_health

HUB_KEYS = {"state", "connected", "last_message_age", "reconnects", "decode_errors", "last_error"}


def test_status_on_an_embedded_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--sim", "--json", "--seconds", "0.3"]) == 0
    health = json.loads(capsys.readouterr().out)
    assert set(health["hubs"]) == {"user", "market"}
    for hub in health["hubs"].values():
        assert set(hub) >= HUB_KEYS and hub["state"] == "connected" and hub["connected"]
        assert hub["last_message_age"] is not None and hub["reconnects"] == 0
    assert health["hubs"]["market"]["last_data_age"] is not None
    assert health["gaps"] == 0 and health["rest"]["requests"] > 0
    assert 0 < health["rate_budget"]["general"]["used"] <= health["rest"]["requests"]


@pytest.fixture
def sim_process() -> Iterator[dict[str, str]]:
    """``pxfast sim`` in a child process; the environment lines it prints."""
    child = subprocess.Popen(
        [sys.executable, "-m", "pxfast.cli", "sim", "--paused"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        env: dict[str, str] = {}
        while len(env) < 5:
            name, _, value = child.stdout.readline().strip().partition("=")
            env[name] = value
        yield env
    finally:
        child.terminate()
        child.wait(10)


def test_status_from_the_environment(sim_process: dict[str, str]) -> None:
    env = {**os.environ, **sim_process}
    done = subprocess.run(
        [sys.executable, "-m", "pxfast.cli", "status", "--seconds", "0.3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert sim_process["PROJECTX_API_URL"] in done.stdout
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines() if line}
    assert lines["user"][1] == "connected" and lines["market"][1] == "connected"
    assert sim_process["PROJECT_X_API_KEY"] not in done.stdout + done.stderr


def test_status_without_credentials_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("PROJECT_X_USERNAME", "PROJECT_X_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert main(["status"]) == 2
    assert "PROJECT_X_API_KEY" in capsys.readouterr().err


async def test_status_of_a_session_whose_hubs_are_down(
    gw: GatewaySimulator, suite_on: OpenSuite
) -> None:
    suite = await suite_on(gw)
    outage = asyncio.create_task(gw.restart(downtime=2.0))
    for _ in range(200):
        if not any(h["connected"] for h in suite.get_health()["hubs"].values()):
            break
        await asyncio.sleep(0.01)
    report = format_health(suite.get_health())
    rows = {line.split()[0]: line.split() for line in report.splitlines()[2:4]}
    assert rows["user"][1] in ("reconnecting", "connecting")
    assert rows["market"][1] in ("reconnecting", "connecting")
    await outage

"""Fixtures for running third-party clients against a standalone simulator process."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from simctl import SimFactory

from pxfast.reference import ReferenceUnavailable, ensure_reference_venv, find_python312

STARTUP_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def reference_python() -> Path:
    """The reference venv's python (project-x-py 4.4.1), built on first use.

    Skips only when this machine has no Python 3.12 at all; any other reason
    the reference cannot be built is a failure.
    """
    try:
        return ensure_reference_venv()
    except ReferenceUnavailable as exc:
        if find_python312() is None:
            pytest.skip(f"project-x-py 4.4.1 needs Python 3.12, none found here: {exc}")
        raise


def _read_exports(process: subprocess.Popen[bytes]) -> dict[str, str]:
    """The KEY=VALUE lines ``pxfast sim`` prints before it serves (bounded wait).

    Reads the pipe's file descriptor directly: a buffered reader could hold
    the lines while ``select`` waits for more.
    """
    assert process.stdout is not None
    fd = process.stdout.fileno()
    text = b""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while b"PXFAST_SIM_CONTROL_URL=" not in text or not text.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, remaining))
        if not ready:
            raise TimeoutError(f"pxfast sim printed no URLs within {STARTUP_TIMEOUT} s")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError(f"pxfast sim exited early with {process.wait()}")
        text += chunk
    exports: dict[str, str] = {}
    for line in text.decode().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            exports[key] = value
    return exports


@pytest.fixture
def start_sim() -> Iterator[SimFactory]:
    """Start ``pxfast sim`` subprocesses (paused market, seed 7) on demand.

    Each call (with extra ``pxfast sim`` options, if any) starts a fresh
    simulator and returns its exported variables;
    all are stopped after the test.
    """
    processes: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> dict[str, str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "pxfast.sim", "--seed", "7", "--paused", *options],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        processes.append(process)
        return _read_exports(process)

    try:
        yield start
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def standalone_sim(start_sim: SimFactory) -> dict[str, str]:
    """A ``pxfast sim`` subprocess (paused market, seed 7); its exported variables."""
    return start_sim()

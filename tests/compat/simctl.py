"""Helpers for tests that drive a standalone simulator from the pytest process."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable
from typing import Any

#: The ``start_sim`` fixture: starts a standalone simulator, returns its exported variables.
SimFactory = Callable[..., dict[str, str]]


def control(exports: dict[str, str], operation: str, **kwargs: Any) -> Any:
    """Call the simulator's control API (``POST <control URL>/<operation>``; the URL
    ``pxfast sim`` exports carries the control token the API requires); its result."""
    request = urllib.request.Request(
        f"{exports['PXFAST_SIM_CONTROL_URL']}/{operation}",
        data=json.dumps(kwargs).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["result"]


def child_env(exports: dict[str, str]) -> dict[str, str]:
    """This process's environment minus any credentials or endpoints, plus ``exports``."""
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("PROJECT_X_", "PROJECTX_"))
    }
    return {**inherited, **exports}

"""The simulator's notion of "now", which tests can move forward.

Timestamps, bar buckets, token expiry and rate-limit windows all read this
clock, so ``advance(3600)`` closes an hour bar, ages a token or empties a rate
window without anyone sleeping.  It is wall time plus an offset that only
grows; wall time keeps REST timestamps meaningful to clients, which compare
them with their own clocks.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["Clock", "iso"]


class Clock:
    __slots__ = ("_offset",)

    def __init__(self) -> None:
        self._offset = 0.0

    def now(self) -> float:
        """Seconds since the epoch, as the simulator sees them."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds

    @property
    def offset(self) -> float:
        return self._offset


def iso(ts: float) -> str:
    """The Gateway's timestamp form: microseconds and ``+00:00``."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds")

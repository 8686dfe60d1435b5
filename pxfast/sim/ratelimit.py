"""The Gateway's two REST budgets: ``History/retrieveBars`` and everything else.

The documented limits are 200 requests per 60 s for all endpoints but bars,
and 50 per 30 s for bars (an older page says 30; §14.1).  Scope and window
type are undocumented; this is a sliding window per user, exact to the
request: the ``limit``-th request in a window passes, the next one gets 429
with a ``Retry-After`` that says when the oldest one leaves the window.
Requests answered 429 do not count.

A login counts against the user it logs in as only once its key has been
checked.  Failed logins go to a budget of their own per peer address
(``failed_logins``), so nobody can lock a user out by sending that user's
name with wrong keys: the real key still logs in, and the flood of wrong
ones gets the 429s.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from pxfast.sim.clock import Clock

__all__ = ["Budget", "RateLimiter"]


@dataclass(frozen=True, slots=True)
class Budget:
    limit: int
    window: float


class RateLimiter:
    def __init__(self, clock: Clock, *, general: Budget = Budget(200, 60.0),
                 bars: Budget = Budget(50, 30.0), failed_logins: Budget = Budget(200, 60.0),
                 enabled: bool = True) -> None:
        self._clock = clock
        self.budgets = {"general": general, "bars": bars, "failed_logins": failed_logins}
        self.enabled = enabled
        self._log: dict[tuple[str, str], deque[float]] = {}

    def admit(self, who: str, bucket: str) -> int | None:
        """Count one request; None if it is within budget, else the Retry-After seconds."""
        if not self.enabled:
            return None
        budget = self.budgets[bucket]
        now = self._clock.now()
        log = self._log.setdefault((who.lower(), bucket), deque())
        horizon = now - budget.window
        while log and log[0] <= horizon:
            log.popleft()
        if len(log) >= budget.limit:
            return max(1, math.ceil(log[0] - horizon))
        log.append(now)
        return None

    def reset(self) -> None:
        self._log.clear()

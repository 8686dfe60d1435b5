"""Client-side mirrors of the Gateway's rate-limit buckets.

The Gateway allows 200 requests per 60 s on most endpoints and a separate,
smaller budget for History/retrieveBars, and answers HTTP 429 past them.  A
429 on an order mutation is the worst outcome there is (the request is gone
and the bot has to reconcile), so pxfast counts its own requests in sliding
windows and decides *before* sending: a read waits for a free slot, a
mutation that would exceed the budget fails at once with a typed error and
nothing on the wire.  Reads may only use the budget up to a reserve, so a
bot that polls hard can still cancel its orders.

The Gateway counts per user, not per connection, so every client of one
user on one Gateway in a process takes the same budget from
``shared_budget``: two suites of one account together stay within the
buckets instead of each spending the whole of them.  A budget holds only
monotonic time stamps (no loop, no future), so clients on different event
loops, or threads, can share it; a lock makes each take atomic.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from pxfast.exceptions import OrderRateLimitedError

__all__ = ["BucketSpec", "RateBudget", "SlidingWindow", "shared_budget"]


class SlidingWindow:
    """At most ``limit`` events in any ``window`` seconds."""

    __slots__ = ("_lock", "_times", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        if limit <= 0 or window <= 0:
            raise ValueError(f"rate limit must be positive, got {limit}/{window}s")
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()
        # Clients of one user in other threads may share the window (see shared_budget).
        self._lock = threading.Lock()

    def used(self, now: float) -> int:
        with self._lock:
            return self._used(now)

    def _used(self, now: float) -> int:
        times = self._times
        horizon = now - self.window
        while times and times[0] <= horizon:
            times.popleft()
        return len(times)

    def take(self, now: float, cap: int) -> float:
        """Take a slot if fewer than ``cap`` are in use: 0.0, else seconds until one frees."""
        with self._lock:
            if self._used(now) < cap:
                self._times.append(now)
                return 0.0
            # The slot that frees first is the (len - cap + 1)-th oldest.
            index = len(self._times) - cap
            return max(self._times[index] + self.window - now, 1e-3)


@dataclass(frozen=True)
class BucketSpec:
    limit: int
    window: float


class RateBudget:
    """The two Gateway buckets: ``bars`` (History/retrieveBars) and ``general`` (the rest)."""

    def __init__(
        self,
        general: BucketSpec = BucketSpec(200, 60.0),
        bars: BucketSpec = BucketSpec(50, 30.0),
        mutation_reserve: int = 20,
    ) -> None:
        self._buckets = {
            "general": SlidingWindow(general.limit, general.window),
            "bars": SlidingWindow(bars.limit, bars.window),
        }
        self.mutation_reserve = min(mutation_reserve, general.limit - 1)
        self.waited = 0  # reads that had to wait for a slot
        self.refused = 0  # mutations refused locally

    async def acquire_read(self, bucket: str) -> None:
        """Wait until a read may be sent (never raises for lack of budget)."""
        window = self._buckets[bucket]
        cap = window.limit - (self.mutation_reserve if bucket == "general" else 0)
        waited = False
        while True:
            delay = window.take(time.monotonic(), cap)
            if delay == 0.0:
                return
            if not waited:
                waited = True
                self.waited += 1
            await asyncio.sleep(delay)

    def acquire_mutation(self, endpoint: str) -> None:
        """Take a slot for a mutation or raise ``OrderRateLimitedError`` (nothing sent)."""
        window = self._buckets["general"]
        delay = window.take(time.monotonic(), window.limit)
        if delay:
            self.refused += 1
            raise OrderRateLimitedError(
                f"{endpoint} not sent: the local rate budget ({window.limit} requests / "
                f"{window.window:g}s) is spent; a slot frees in {delay:.2f}s",
                sent=False,
                retry_after=delay,
            )

    def usage(self) -> dict[str, dict[str, float]]:
        """Per bucket: requests in the current window, the limit, and the fraction used."""
        now = time.monotonic()
        return {
            name: {
                "used": window.used(now),
                "limit": window.limit,
                "window_seconds": window.window,
                "fraction": window.used(now) / window.limit,
            }
            for name, window in self._buckets.items()
        }


#: The live budget of each (Gateway, user); weak, so it goes with its last client.
_shared: weakref.WeakValueDictionary[tuple[str, str], RateBudget] = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def shared_budget(
    api_url: str, username: str, make: Callable[[], RateBudget] = RateBudget
) -> RateBudget:
    """The one budget of ``username`` on the Gateway at ``api_url`` in this process.

    Every ``ProjectX`` client of that user takes it, so that together they
    stay within the Gateway's per-user buckets.  ``make`` builds it when no
    live client holds one (a Gateway with other limits: make the budget
    before the first client, and keep it); later callers get the live one.
    The user name is compared without case and the URL without a trailing
    slash, so spellings of one account cannot split its budget.
    """
    parts = urlsplit(api_url.strip())
    key = (
        f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}",
        username.strip().lower(),
    )
    with _shared_lock:
        budget = _shared.get(key)
        if budget is None:
            budget = make()
            _shared[key] = budget
        return budget

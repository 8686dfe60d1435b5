"""Client-side mirrors of the Gateway's rate-limit buckets.

The Gateway allows 200 requests per 60 s on most endpoints and a separate,
smaller budget for History/retrieveBars, and answers HTTP 429 past them.  A
429 on an order mutation is the worst outcome there is (the request is gone
and the bot has to reconcile), so pxfast counts its own requests in sliding
windows and decides *before* sending: a read waits for a free slot, a
mutation that would exceed the budget fails at once with a typed error and
nothing on the wire.  Reads may only use the budget up to a reserve, so a
bot that polls hard can still cancel its orders.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass

from pxfast.exceptions import OrderRateLimitedError

__all__ = ["BucketSpec", "RateBudget", "SlidingWindow"]


class SlidingWindow:
    """At most ``limit`` events in any ``window`` seconds."""

    __slots__ = ("_times", "limit", "window")

    def __init__(self, limit: int, window: float) -> None:
        if limit <= 0 or window <= 0:
            raise ValueError(f"rate limit must be positive, got {limit}/{window}s")
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def used(self, now: float) -> int:
        times = self._times
        horizon = now - self.window
        while times and times[0] <= horizon:
            times.popleft()
        return len(times)

    def take(self, now: float, cap: int) -> float:
        """Take a slot if fewer than ``cap`` are in use: 0.0, else seconds until one frees."""
        if self.used(now) < cap:
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

"""Standing faults: REST error bursts and lossy or slow hubs, sampled from a seeded RNG.

These are the failures a client must survive and that the real Gateway only
produces when it feels like it: a burst of 429s or 5xx on chosen endpoints, a
5xx returned *after* an order was accepted (the ambiguous failure behind
duplicate orders, incident #11), hub records that never arrive and hub
frames that arrive late, and answers held back past the client's timeout
after the request was processed (the other ambiguous failure: a timeout on a
request that did reach the Gateway).  One-shot actions on live connections
(close, freeze, token expiry, restart) are methods of ``GatewaySimulator``.

Sampling uses its own ``random.Random`` seeded from the simulator seed, so a
test that injects the same faults in the same order loses the same records.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Faults", "RestFault", "SlowResponse"]

HUBS = ("user", "market")


def _endpoint_key(endpoint: str) -> str:
    """``Order/place``, ``/api/order/place`` and ``ORDER/PLACE`` name the same endpoint."""
    key = endpoint.strip().strip("/").lower()
    return key[4:] if key.startswith("api/") else key


@dataclass(slots=True)
class RestFault:
    endpoints: frozenset[str] | None  # None: every endpoint
    status: int
    remaining: int
    after_accept: bool

    def matches(self, key: str, after_accept: bool) -> bool:
        return (
            self.remaining > 0
            and self.after_accept == after_accept
            and (self.endpoints is None or key in self.endpoints)
        )


@dataclass(slots=True)
class SlowResponse:
    endpoints: frozenset[str] | None  # None: every endpoint
    seconds: float
    remaining: int


class Faults:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"{seed}:faults")
        self._rest: list[RestFault] = []
        self._slow: list[SlowResponse] = []
        self._drop: dict[str, float] = {}
        self._delay: dict[str, tuple[float, float]] = {}
        #: Hub records dropped so far, per hub (tests compare with what arrived).
        self.dropped: dict[str, int] = dict.fromkeys(HUBS, 0)

    # -- REST ---------------------------------------------------------------------

    def fail_requests(self, endpoints: str | Iterable[str] | None = None, *,
                      status: int = 500, count: int = 1) -> None:
        """Answer the next ``count`` requests to ``endpoints`` (all if None) with ``status``,
        without processing them; 429 answers carry ``Retry-After``."""
        self._rest.append(RestFault(_keys(endpoints), status, count, after_accept=False))

    def fail_after_accept(self, endpoints: str | Iterable[str] | None = "Order/place", *,
                          status: int = 500, count: int = 1) -> None:
        """Process the next ``count`` requests normally, then answer ``status`` instead
        of the result: the order exists, the client cannot know it."""
        self._rest.append(RestFault(_keys(endpoints), status, count, after_accept=True))

    def rest_status(self, endpoint: str, *, after_accept: bool) -> int | None:
        """The injected status for this request, consuming one of its budget, or None."""
        if not self._rest:
            return None
        key = _endpoint_key(endpoint)
        for fault in self._rest:
            if fault.matches(key, after_accept):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._rest.remove(fault)
                return fault.status
        return None

    def delay_responses(self, endpoints: str | Iterable[str] | None = "Order/place", *,
                        seconds: float, count: int = 1) -> None:
        """Process the next ``count`` requests to ``endpoints`` at once but hold their
        answers back for ``seconds``: a client that gives up first has an order it was
        never told about."""
        if seconds < 0:
            raise ValueError("a delay is not negative")
        self._slow.append(SlowResponse(_keys(endpoints), seconds, count))

    def response_delay(self, endpoint: str) -> float:
        """Seconds to hold this processed request's answer, consuming one of its budget."""
        if not self._slow:
            return 0.0
        key = _endpoint_key(endpoint)
        for slow in self._slow:
            if slow.endpoints is None or key in slow.endpoints:
                slow.remaining -= 1
                if slow.remaining <= 0:
                    self._slow.remove(slow)
                return slow.seconds
        return 0.0

    # -- hubs ---------------------------------------------------------------------

    def drop_hub_frames(self, fraction: float, hub: str | None = None) -> None:
        """Lose each outgoing event record with probability ``fraction`` (0 stops it)."""
        for name in _hubs(hub):
            self._drop[name] = _fraction(fraction)

    def delay_hub_frames(self, fraction: float, seconds: float, hub: str | None = None) -> None:
        """Hold back a fraction of outgoing frames for ``seconds``; records keep their order."""
        for name in _hubs(hub):
            self._delay[name] = (_fraction(fraction), seconds)

    def drops(self, hub: str) -> bool:
        fraction = self._drop.get(hub)
        if fraction and self._rng.random() < fraction:
            self.dropped[hub] += 1
            return True
        return False

    def dropped_records(self) -> dict[str, int]:
        """Hub records lost to the drop fault so far, per hub (for the control API)."""
        return dict(self.dropped)

    def flush_delay(self, hub: str) -> float:
        setting = self._delay.get(hub)
        if setting and setting[0] and self._rng.random() < setting[0]:
            return setting[1]
        return 0.0

    def clear(self) -> None:
        """Remove every standing fault."""
        self._rest.clear()
        self._slow.clear()
        self._drop.clear()
        self._delay.clear()


def _keys(endpoints: str | Iterable[str] | None) -> frozenset[str] | None:
    if endpoints is None:
        return None
    if isinstance(endpoints, str):
        endpoints = (endpoints,)
    return frozenset(_endpoint_key(e) for e in endpoints)


def _hubs(hub: str | None) -> tuple[str, ...]:
    if hub is None:
        return HUBS
    if hub not in HUBS:
        raise ValueError(f"hub is 'user' or 'market', not {hub!r}")
    return (hub,)


def _fraction(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError("a fraction is between 0 and 1")
    return value

"""The harness that runs the Order Management Guide's snippets as written.

``order-management-guide.md`` here is the guide itself; its 21 ``python``
blocks are compiled straight from the file and executed in order, against a
fresh ``GatewaySimulator`` per test over loopback, with ``project_x_py``
resolved to pxfast through ``pxfast.compat``.  Nothing in a snippet is
edited.  What the harness adds, and nothing else:

* **Time and price.**  A snippet's ``asyncio.sleep`` (and only a snippet's:
  the caller's code object is checked) does not wait.  It runs the next
  *driver step* a test queued (typically "move the price so the order
  fills"), then waits, bounded, until every live suite's order table agrees
  with the simulator's orders.  The guide's waits thereby mean "let the
  market move and the client catch up", deterministically.
* **Bounds.**  The guide's polling loops have no exit for EXPIRED and no
  timeout (api-surface §4.2), so a snippet may sleep at most
  ``MAX_SNIPPET_SLEEPS`` times and run at most ``SNIPPET_TIMEOUT`` seconds.
* **Observation.**  ``TradingSuite.create`` is wrapped to keep each suite a
  snippet makes, record every event on its bus, and disconnect it afterwards
  (most snippets never call ``suite.disconnect()``, §4.2).  The simulator's
  REST entry point is wrapped to log every request, so a test can assert
  that a rejected input sent no Order request at all.
* **The guide's own defects** (§4.2) are fixed by the individual tests, each
  marked there: missing handler methods, a missing import, a top-level
  ``await`` on an undefined ``suite``.
"""

from __future__ import annotations

import ast
import asyncio
import re
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import CodeType
from typing import Any

from pxfast.event_bus import Event, EventType
from pxfast.messages import OrderUpdate
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

GUIDE = Path(__file__).with_name("order-management-guide.md")
SEED = 1
USER = "guide-trader"
API_KEY = "guide-api-key-0001"
#: Wall-clock bound on one snippet run (they take well under a second).
SNIPPET_TIMEOUT = 30.0
#: How many times one snippet run may sleep before its loop counts as runaway.
MAX_SNIPPET_SLEEPS = 25
#: Bound on waiting for the client to see what the simulator did.
SETTLE_TIMEOUT = 10.0
START_PRICE = "21000"
#: The guide's blocks in order: (number, the name it defines or its first statement).
SNIPPETS = {
    1: "async def main",
    2: "async def place_market_order",
    3: "async def place_limit_order",
    4: "async def place_stop_order",
    5: "async def place_oco_order",
    6: "async def place_bracket_order",
    7: "async def setup_order_tracking",
    8: "async def analyze_order_history",
    9: "async def modify_orders",
    10: "async def cancel_orders",
    11: "async def use_order_templates",
    12: "async def position_based_orders",
    13: "async def robust_order_placement",
    14: "async def demonstrate_error_recovery",
    15: "async def concurrent_operations",
    16: "async def batch_operations",
    17: "async def calculate_position_size",
    18: "async def align_to_tick_size",
    19: "async def validate_order_before_placement",
    20: "class OrderEventHandler",
    21: "async def risk_managed_trading",
}
#: Compiled snippets carry this file name, which is how their sleeps are recognized.
_FILENAME = "<guide S{}>"
real_sleep = asyncio.sleep

Step = Callable[[], Awaitable[None]]


class SnippetLoopBound(BaseException):
    """A snippet's polling loop ran past the harness bound (BaseException: a snippet's
    ``except Exception`` must not swallow it)."""


@dataclass(frozen=True)
class Snippet:
    number: int
    source: str

    @property
    def code(self) -> CodeType:
        """The block compiled as written (top-level ``await`` allowed, for S18)."""
        return compile(
            self.source,
            _FILENAME.format(self.number),
            "exec",
            flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
        )


def load_snippets() -> dict[int, Snippet]:
    text = GUIDE.read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) == len(SNIPPETS), f"the guide has {len(blocks)} python blocks"
    snippets = {}
    for number, source in enumerate(blocks, 1):
        assert SNIPPETS[number] in source, f"block {number} is not {SNIPPETS[number]!r}"
        snippets[number] = Snippet(number, source)
    return snippets


def from_snippet() -> bool:
    """Whether the caller of the patched ``asyncio.sleep`` is guide code."""
    return sys._getframe(2).f_code.co_filename.startswith(_FILENAME.partition("{")[0])


class GuideHarness:
    def __init__(self, gw: GatewaySimulator, snippets: dict[int, Snippet]) -> None:
        self.gw = gw
        self.snippets = snippets
        self.suites: list[TradingSuite] = []
        #: sim order ids that existed when each suite was created (it may never see them).
        self._prior: dict[int, set[int]] = {}
        self.events: list[tuple[EventType | str, Any]] = []
        self.steps: deque[Step] = deque()
        #: Run on each suite a snippet creates, right after ``create`` returns.
        self.on_create: list[Callable[[TradingSuite], Awaitable[None]]] = []
        self.sleeps: list[float] = []
        #: Every REST request the simulator received: (lower-case endpoint, JSON body).
        self.requests: list[tuple[str, Any]] = []

    # -- snippets ------------------------------------------------------------------------

    def namespace(self, *numbers: int) -> dict[str, Any]:
        """A module namespace after executing guide blocks ``numbers`` in order."""
        namespace: dict[str, Any] = {"__name__": "order_management_guide"}
        for number in numbers:
            result = eval(self.snippets[number].code, namespace)
            assert result is None, f"block {number} has top-level awaits; use run_block"
        return namespace

    async def run_block(self, number: int, namespace: dict[str, Any]) -> None:
        """Execute a block whose top level awaits (S18's usage lines)."""
        result = eval(self.snippets[number].code, namespace)
        if result is not None:
            await self.run(result)

    async def run(self, awaitable: Awaitable[Any]) -> Any:
        """Await snippet code under the harness bounds."""
        self.sleeps.clear()
        async with asyncio.timeout(SNIPPET_TIMEOUT):
            return await awaitable

    def drive(self, *steps: Step) -> None:
        """Queue steps, one run at each of the snippet's next sleeps."""
        self.steps.extend(steps)

    async def snippet_sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        if len(self.sleeps) > MAX_SNIPPET_SLEEPS:
            raise SnippetLoopBound(f"the snippet slept {len(self.sleeps)} times: {self.sleeps}")
        if self.steps:
            await self.steps.popleft()()
        await self.settle()

    # -- observation ---------------------------------------------------------------------

    async def adopt(self, suite: TradingSuite) -> None:
        self._prior[id(suite)] = {o.id for o in self.sim_orders()}
        self.suites.append(suite)
        await suite.events.on_any(self._record)
        for hook in self.on_create:
            await hook(suite)

    def _record(self, event: Event) -> None:
        self.events.append((event.type, event.data))

    def events_of(self, kind: EventType) -> list[Any]:
        return [data for event_type, data in self.events if event_type is kind]

    @property
    def suite(self) -> TradingSuite:
        """The one suite the snippet created."""
        assert len(self.suites) == 1, f"{len(self.suites)} suites were created"
        return self.suites[0]

    @property
    def account_id(self) -> int:
        (account_id,) = self.gw.account_ids(USER)
        return account_id

    def sim_orders(self) -> list[OrderUpdate]:
        if not self.gw.account_ids(USER):
            return []
        return sorted(self.gw.orders(self.account_id), key=lambda o: o.id)

    def sim_order(self, order_id: int) -> OrderUpdate:
        (order,) = [o for o in self.sim_orders() if o.id == order_id]
        return order

    def mutations(self, endpoint: str | None = None) -> list[Any]:
        """Bodies of place/modify/cancel requests (of one endpoint if given)."""
        kinds = (endpoint,) if endpoint else ("order/place", "order/modify", "order/cancel")
        return [b for e, b in self.requests if e in kinds]

    def _behind(self) -> list[str]:
        """Orders some live suite does not yet see as the simulator has them."""
        lagging = []
        orders = self.sim_orders()
        for suite in self.suites:
            if not suite.is_connected:
                continue
            table = suite.values()[0].orders.orders  # one table per suite, shared by contexts
            prior = self._prior[id(suite)]
            for order in orders:
                seen = table.status(order.id)
                if seen == -1 and order.id in prior:
                    continue
                if seen != order.status:
                    lagging.append(f"order {order.id}: client {seen}, simulator {order.status}")
        return lagging

    async def settle(self) -> None:
        """Wait (bounded) until every live suite's orders match the simulator's."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_TIMEOUT
        while lagging := self._behind():
            if loop.time() > deadline:
                raise AssertionError(f"the client did not catch up: {lagging}")
            await real_sleep(0.005)

    def assert_no_handler_errors(self) -> None:
        errors = self.events_of(EventType.ERROR)
        assert errors == [], errors

    def set_price(self, price: str, **quote: str) -> None:
        self.gw.set_price("MNQ", price, **quote)

    async def aclose(self) -> None:
        for suite in self.suites:
            await suite.disconnect()

"""``suite.data``'s live bars: wire to NEW_BAR handler, ``get_data`` on 10 000 bars, memory.

    pytest bench/test_bench_live_bars.py --benchmark-only

* ``wire``: one GatewayTrade frame (one print) through the market hub's
  decoder and dispatcher, the market stream and the bar store (1min, 5min,
  15min and 1hr at once), to an async ``NEW_BAR`` handler.  In ``new_bar``
  every print opens a 1-minute bar (so every frame reaches the handler); in
  ``extend`` each print only extends the open bars (no event).  Each round
  delivers ``CALLS`` frames, so per frame = time / CALLS; ``extra_info``
  also holds p50 and p99 of frames timed one by one (``perf_counter_ns``).
* ``get_data``: ``await suite.data.get_data("1min")`` (driven without an
  event loop: it never suspends) on 10 000 closed bars plus the open one,
  as a polars frame: ``cached`` when nothing changed since the last read,
  ``trade`` after a print changed the open bar, ``close`` after a print
  closed a bar and opened the next.
* ``memory``: bytes per bar of the aggregator's ring and of the cached frame.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from typing import Any, cast

import numpy as np
import pytest

from pxfast.bars import BarFrame
from pxfast.client.project_x import ProjectX
from pxfast.event_bus import Event, EventBus, EventType
from pxfast.messages import MarketTrade
from pxfast.models import Instrument
from pxfast.realtime.hub import HubConnection
from pxfast.realtime.market_stream import MarketStream
from pxfast.realtime_data_manager import RealtimeDataManager
from pxfast.realtime_data_manager.bars import BarStore, Seed
from pxfast.realtime_data_manager.listeners import add_print_feed

CALLS = 1000
CONTRACT = "CON.F.US.MNQ.Z25"
TIMEFRAMES = ["1min", "5min", "15min", "1hr"]
#: A minute edge: the bars seeded for get_data end with the minute now open.
START_S = int(time.time()) // 60 * 60
BARS = 10_000
MNQ = Instrument(CONTRACT, "MNQZ5", "Micro E-mini Nasdaq", 0.25, 0.5, True, "F.US.MNQ")


def _stamp(second: float) -> str:
    whole = int(second)
    micro = round((second - whole) * 1e6)
    clock = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{clock}.{micro:06d}+00:00"


def _frame(second: float, price: float) -> bytes:
    """A GatewayTrade frame as the Gateway sends it: one print, one record."""
    trade = {"symbolId": "F.US.MNQ", "price": price, "timestamp": _stamp(second), "type": 0,
             "volume": 2}  # fmt: skip
    record = {"type": 1, "target": "GatewayTrade", "arguments": [CONTRACT, [trade]]}
    return json.dumps(record, separators=(",", ":")).encode() + b"\x1e"


async def _no_token(_force: bool) -> str:
    return "unused"


class _Wire:
    """The market hub's receive path into a live bar store, with a NEW_BAR handler."""

    def __init__(self) -> None:
        self.bus = EventBus()
        self.store = BarStore(TIMEFRAMES, 0.25, "America/Chicago", 1000, self.bus)
        self.store.apply((), live=True)
        market = MarketStream(lambda _contract: self.bus)
        add_print_feed(market, CONTRACT, self.store)
        self.hub = HubConnection("market", "http://127.0.0.1:9/hubs/market", _no_token,
                                 market.on_items)  # fmt: skip
        self.hub.decoder.reset(handshake=False)
        self.seen = 0
        self.second = float(START_S)

    async def on_bar(self, _event: Event) -> None:
        self.seen += 1

    def frames(self, count: int, opening: bool) -> list[bytes]:
        """``count`` frames moving on a minute (a new bar each) or 10 ms (same bar) each."""
        out = []
        for i in range(count):
            self.second += 60.0 if opening else 0.01
            out.append(_frame(self.second, 21000.0 + (i % 8) * 0.25))
        if not opening:  # the run's first frame opens the bar the others extend
            self.second += 60.0
            out.insert(0, _frame(self.second, 21000.0))
        return out

    def deliver(self, frames: list[bytes]) -> None:
        hub = self.hub
        for frame in frames:
            hub._received(hub.decoder.feed(frame))


@pytest.mark.parametrize("kind", ["new_bar", "extend"])
def test_wire_to_new_bar_handler(benchmark: Any, kind: str) -> None:
    loop = asyncio.new_event_loop()
    wire = _Wire()
    loop.run_until_complete(wire.bus.on(EventType.NEW_BAR, wire.on_bar))
    opening = kind == "new_bar"

    def setup() -> tuple[tuple[list[bytes]], dict[str, Any]]:
        frames = wire.frames(CALLS, opening)
        if not opening:
            wire.deliver(frames[:1])  # untimed: opens the bar the round extends
            frames = frames[1:]
        return (frames,), {}

    async def run() -> None:
        benchmark.pedantic(wire.deliver, setup=setup, rounds=30)
        single: list[int] = []
        for frame in wire.frames(5 * CALLS, opening)[int(not opening) :]:
            started = time.perf_counter_ns()
            wire.deliver([frame])
            single.append(time.perf_counter_ns() - started)
        benchmark.extra_info["frame_p50_us"] = float(np.percentile(single, 50)) / 1000
        benchmark.extra_info["frame_p99_us"] = float(np.percentile(single, 99)) / 1000

    benchmark.group = "live bars: wire -> NEW_BAR handler"
    benchmark.extra_info["calls"] = CALLS
    try:
        loop.run_until_complete(run())
    finally:
        loop.close()
    if opening:  # every frame opened a 1-minute bar, announced to the handler
        assert wire.seen >= 31 * CALLS


def _sync(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """The result of a coroutine that never suspends, without an event loop's overhead."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("get_data suspended")


def _data_manager() -> RealtimeDataManager:
    """10 000 closed 1-minute bars and the one open now, as after ``initialize``."""
    config = {"max_bars_per_timeframe": BARS}
    data = RealtimeDataManager(MNQ, cast(ProjectX, None), None, EventBus(), ["1min"],
                               config=config)  # fmt: skip
    store = data._bars()
    rng = np.random.default_rng(5)
    starts = (START_S - 60 * BARS + 60 * np.arange(BARS + 1, dtype=np.int64)) * 1_000_000_000
    close = 84_000 + np.cumsum(rng.integers(-4, 5, BARS + 1))
    bars = np.stack([starts, close, close + 3, close - 3, close, rng.integers(1, 400, BARS + 1)])
    store.apply([Seed(0, bars.astype(np.int64), 0)], live=True)
    data._initialized = True
    return data


@pytest.mark.parametrize("change", ["cached", "trade", "close"])
def test_get_data(benchmark: Any, change: str) -> None:
    data = _data_manager()
    store = data._bars()
    second = [float(START_S)]

    def setup() -> tuple[tuple[()], dict[str, Any]]:
        if change != "cached":
            second[0] += 60.0 if change == "close" else 0.001
            store.on_prints([MarketTrade(price=21000.25, timestamp=_stamp(second[0]), volume=1)])
            store.on_frame_end()
        return (), {}

    def read() -> Any:
        return _sync(data.get_data("1min"))

    read()
    benchmark.group = "live bars: get_data('1min'), 10 000 bars"
    frame = benchmark.pedantic(read, setup=setup, rounds=300, warmup_rounds=5)
    assert frame.height == BARS + 1


def test_memory_per_bar(benchmark: Any) -> None:
    data = _data_manager()
    store = data._bars()
    _sync(data.get_data("1min"))  # the frame cache exists once frames are read
    ring = store.agg.memory_bytes()
    frames = store.memory_bytes() - ring
    numpy_frame = cast(BarFrame, _sync(data.get_data("1min", as_numpy=True)))
    numpy_bytes = sum(numpy_frame[name].nbytes for name in numpy_frame.columns)
    benchmark.extra_info["ring_bytes_per_bar"] = ring / BARS
    benchmark.extra_info["frame_cache_bytes_per_bar"] = frames / BARS
    benchmark.extra_info["numpy_read_bytes_per_bar"] = numpy_bytes / (BARS + 1)
    benchmark.group = "live bars: memory"
    benchmark(store.memory_bytes)
    assert 48 <= ring / BARS < 49

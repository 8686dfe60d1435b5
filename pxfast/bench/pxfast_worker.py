"""pxfast's side of ``pxfast bench``: one process, driven by the runner over a pipe.

``python -m pxfast.bench.pxfast_worker [--loop uvloop|asyncio]``.  The
project-x-py worker (``pxpy_worker.py``) answers the same operations with
project-x-py's objects; the network scenarios themselves are the shared
functions of ``common``, so both clients are driven by the same code.

In-process paths use pxfast's real objects with nothing stubbed but the
network: the hub's own decoder and ``_received`` (what picows' callback
calls), the user stream, the order table, the event bus.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

import numpy as np

from pxfast import _ticks
from pxfast._bars import F_EVENTS
from pxfast._fsm import OrderTable
from pxfast._wire import FrameDecoder
from pxfast.bench import common
from pxfast.bench.common import BenchClient, MarketTally, Recorder
from pxfast.bench.inputs import CONTRACT
from pxfast.client.http import HttpClient
from pxfast.client.project_x import ProjectX
from pxfast.client.ratelimit import BucketSpec, RateBudget
from pxfast.event_bus import Event, EventBus, EventType
from pxfast.messages import MarketTrade, OrderUpdate, UserOrder
from pxfast.models import Instrument, ProjectXConfig
from pxfast.realtime.hub import HubConnection
from pxfast.realtime.market_stream import MarketStream
from pxfast.realtime.user_stream import UserStream
from pxfast.realtime_data_manager import RealtimeDataManager
from pxfast.realtime_data_manager.bars import BarStore, Seed
from pxfast.realtime_data_manager.listeners import add_print_feed
from pxfast.realtime_data_manager.timeframes import BarCalendar, bar_aggregator
from pxfast.trading_suite import TradingSuite

__all__ = ["main"]

SYMBOL = "MNQ"
#: The benchmark measures the client, not the Gateway's budget (200 requests / 60 s),
#: which pxfast enforces locally; the simulator runs with its rate limits off too.
UNLIMITED = RateBudget(BucketSpec(10**9, 60.0), BucketSpec(10**9, 30.0))


async def _no_token(_force: bool) -> str:
    return "unused"


def _offline_hub(handler: Callable[[list[Any]], None], name: str = "user") -> HubConnection:
    """A hub that never connects: frames go straight to its decoder and dispatcher."""
    hub = HubConnection(name, f"http://127.0.0.1:9/hubs/{name}", _no_token, handler)
    hub.decoder.reset(handshake=False)
    return hub


MNQ = Instrument(CONTRACT, "MNQZ6", "Micro E-mini Nasdaq", common.TICK, 0.5, True, "F.US.MNQ")
ZONE = "America/Chicago"


def _seeded_data(timeframes: list[str], bars: int) -> RealtimeDataManager:
    """``suite.data`` as after ``initialize``: ``bars`` closed bars and the one open now."""
    data = RealtimeDataManager(MNQ, cast(ProjectX, None), None, EventBus(), timeframes,
                               config={"max_bars_per_timeframe": bars})  # fmt: skip
    now_s = int(time.time()) // 60 * 60
    starts = (now_s - 60 * bars + 60 * np.arange(bars + 1, dtype=np.int64)) * 1_000_000_000
    close = 84_000 + (np.arange(bars + 1, dtype=np.int64) % 16) - 8
    volume = np.arange(bars + 1, dtype=np.int64) % 400 + 1
    columns = np.stack([starts, close, close + 3, close - 3, close, volume])
    data._bars().apply([Seed(0, columns.astype(np.int64), 0)], live=True)
    data._initialized = True
    return data


class PxfastClient(BenchClient):
    """The shared scenarios' view of a pxfast ``TradingSuite``."""

    market_kinds = ("quote", "trade")

    def __init__(self, suite: TradingSuite, username: str, urls: dict[str, str]) -> None:
        self.suite = suite
        self.username = username
        self.urls = urls
        self.recorder = Recorder()
        self.contract = suite.instrument_id
        account = suite.client.account_info
        assert account is not None
        self.account_id = account.id
        self._raw: dict[str, Callable[[], Awaitable[object]]] = {}
        self._raw_close: list[Callable[[], Awaitable[object]]] = []

    async def attach(self) -> None:
        rec = self.recorder

        async def filled(event: Event) -> None:
            rec.on_filled(event.data["order_id"])

        async def cancelled(event: Event) -> None:
            rec.on_cancelled(event.data["order_id"])

        async def warning(event: Event) -> None:
            data = event.data
            if data.get("kind") == "gap" and data.get("reconnect") and data.get("reconciled"):
                rec.on_ready()

        await self.suite.on(EventType.ORDER_FILLED, filled)
        await self.suite.on(EventType.ORDER_CANCELLED, cancelled)
        await self.suite.on(EventType.WARNING, warning)

    async def search_open(self) -> object:
        return await self.suite.orders.search_open_orders()

    async def place_limit(self, side: int, price: float) -> int:
        return (await self.suite.orders.place_limit_order(self.contract, side, 1, price)).orderId

    async def cancel_all(self) -> None:
        await self.suite.orders.cancel_all_orders()

    async def place_bracket(self, entry: float, stop: float, target: float) -> tuple[int, int]:
        placed = await self.suite.orders.place_bracket_order(
            self.contract, 0, 1, entry_price=entry, stop_loss_price=stop,
            take_profit_price=target, entry_type="limit",
        )  # fmt: skip
        assert placed.success and placed.stop_order_id and placed.target_order_id, placed
        return placed.stop_order_id, placed.target_order_id

    async def market_session(
        self, urls: dict[str, str], tally: MarketTally
    ) -> Callable[[], Awaitable[None]]:
        config = ProjectXConfig(
            api_url=self.urls["api_url"],
            user_hub_url=urls["user_hub_url"],
            market_hub_url=urls["market_hub_url"],
        )
        suite = await _suite(self.username, config)

        async def quote(_event: Event) -> None:
            tally.on_market("quote")

        async def trade(_event: Event) -> None:
            tally.on_market("trade")

        async def user(event: Event) -> None:
            tally.on_user(event.data["custom_tag"])

        await suite.on(EventType.QUOTE_UPDATE, quote)
        await suite.on(EventType.TRADE_TICK, trade)
        await suite.on(EventType.ORDER_FILLED, user)
        return suite.disconnect

    def raw_http(self) -> dict[str, Callable[[], Awaitable[object]]]:
        """Bare pxfast.client.http and aiohttp, made once (kept warm across rounds)."""
        if not self._raw:
            self._raw = self._make_raw_http()
        return self._raw

    def _make_raw_http(self) -> dict[str, Callable[[], Awaitable[object]]]:
        import aiohttp

        origin, _, prefix = self.urls["api_url"].partition("/api")
        path = f"/api{prefix}/Order/searchOpen"
        body = f'{{"accountId":{self.account_id}}}'.encode()
        headers = {
            "Authorization": f"Bearer {self.suite.client.session.current_token()}",
            "Content-Type": "application/json",
        }
        ours = HttpClient(origin)
        theirs = aiohttp.ClientSession()
        self._raw_close += [ours.close, theirs.close]

        async def pxfast_http() -> object:
            response = await ours.request("POST", path, body, headers)
            assert response.status == 200, response.status
            return response.body

        async def aiohttp_client() -> object:
            async with theirs.post(origin + path, data=body, headers=headers) as response:
                assert response.status == 200, response.status
                return await response.read()

        return {"pxfast-http": pxfast_http, "aiohttp": aiohttp_client}

    async def close(self) -> None:
        for close in self._raw_close:
            await close()
        await self.suite.disconnect()


async def _suite(username: str, config: ProjectXConfig) -> TradingSuite:
    suite = await TradingSuite.create(
        SYMBOL, timeframes=["1min"], username=username, api_key=f"{username}-key",
        client_config=config, initial_days=1,
    )  # fmt: skip
    suite.client.session.budget = UNLIMITED
    return suite


class Worker(common.BenchWorker):
    packages = ("pxfast", "msgspec", "picows", "uvloop", "numpy", "polars", "aiohttp")
    import_statement = "from pxfast import TradingSuite"

    async def open_client(self, username: str, urls: dict[str, str]) -> BenchClient:
        config = ProjectXConfig(
            api_url=urls["api_url"],
            user_hub_url=urls["user_hub_url"],
            market_hub_url=urls["market_hub_url"],
        )
        client = PxfastClient(await _suite(username, config), username, urls)
        await client.attach()
        return client

    # -- in-process paths --------------------------------------------------------------

    async def ticks(self, params: dict[str, Any]) -> dict[str, Any]:
        prices, tick, samples = params["prices"], params["tick"], params["samples"]
        batch = np.resize(np.array(prices, dtype=np.float64), params["batch_size"])
        batch_samples = []
        for _ in range(samples):
            start = time.perf_counter_ns()
            _ticks.align_prices(batch, tick)
            batch_samples.append((time.perf_counter_ns() - start) / len(batch))
        return {
            "ticks.decimal": common.batch_ns(_ticks.align_price, prices, samples, arg=tick),
            "ticks.float": common.batch_ns(_ticks.align_price_float, prices, samples, arg=tick),
            "ticks.batch": batch_samples,
        }

    async def decode(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, frame in params["frames"].items():
            decoder = FrameDecoder(handshake=False)
            data = frame.encode()
            out[f"decode.{name}"] = common.batch_ns(decoder.feed, [data] * 100, params["samples"])
        return out

    async def fsm(self, params: dict[str, Any]) -> dict[str, Any]:
        """Each block: a new order's first sighting (Open) and its fill, per order."""
        decoder = FrameDecoder(handshake=False)
        template, per_block = params["template"], params["orders_per_block"]
        blocks: list[list[OrderUpdate]] = []
        order_id = 1_000_000
        for _ in range(params["samples"]):
            block = []
            for _ in range(per_block):
                order_id += 1
                for status in (1, 2):
                    (item,) = decoder.feed(common.order_frame(template, order_id, status).encode())
                    block.append(cast(UserOrder, item).data)
            blocks.append(block)
        table = OrderTable()
        return {"fsm.apply": await common.block_ns(table.apply, blocks)}

    async def bus(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for mode in ("async", "sync"):
            for count in (1, 10):
                bus = EventBus()
                for _ in range(count):
                    await bus.on(EventType.ORDER_FILLED, _HANDLERS[mode])
                data = {"order_id": 1}

                def emit(bus: EventBus = bus, data: dict[str, int] = data) -> Awaitable[None]:
                    return bus.emit(EventType.ORDER_FILLED, data, "bench")

                out[f"bus.emit.{count}.{mode}"] = await common.each_ns(emit, params["samples"])
        return out

    async def wire(self, params: dict[str, Any]) -> dict[str, Any]:
        """GatewayUserOrder frame -> decoder -> user stream -> order table -> bus -> handler."""
        bus = EventBus()
        stamps: list[int] = []

        async def on_filled(_event: Event) -> None:
            stamps.append(time.perf_counter_ns())

        await bus.on(EventType.ORDER_FILLED, on_filled)
        stream = UserStream(cast(ProjectX, None), lambda _contract: bus)
        hub = _offline_hub(stream.on_items)
        template = params["template"]
        samples: list[float] = []
        with common.quiet_gc():
            for order_id in range(2_000_000, 2_000_000 + params["samples"]):
                opened = common.order_frame(template, order_id, 1).encode()
                filled = common.order_frame(template, order_id, 2).encode()
                hub._received(hub.decoder.feed(opened))
                start = time.perf_counter_ns()
                hub._received(hub.decoder.feed(filled))
                samples.append(float(stamps[-1] - start))
        assert len(stamps) == params["samples"]
        return {"wire.order": samples}

    async def memory(self, params: dict[str, Any]) -> dict[str, Any]:
        """RSS growth over ``orders`` new orders through the hub path, per order held."""
        stream = UserStream(cast(ProjectX, None), lambda _contract: EventBus())
        hub = _offline_hub(stream.on_items)
        template = params["template"]

        def feed(first: int, count: int) -> None:
            for order_id in range(first, first + count):
                frame = common.order_frame(template, order_id, 1, tag=common.order_tag(order_id))
                hub._received(hub.decoder.feed(frame.encode()))

        feed(1, 1000)  # warm the allocator and the code paths first
        before = common.rss_bytes()
        feed(10_000, params["orders"])
        after = common.rss_bytes()
        return {
            "memory.per_order": [(after - before) / params["orders"]],
            "memory.rss": [float(after)],
            "memory.held": len(stream.orders),
            "memory.table_bytes": stream.orders.memory_bytes(),
        }

    async def bars(self, params: dict[str, Any]) -> dict[str, Any]:
        """The compiled core: ``add_trades`` over the whole tape (a fresh aggregator per
        sample, so every trade is live) and ``add_trade`` per trade from a Python loop,
        draining events whenever a call reports some, as the market stream does."""
        timeframes, calendar = params["timeframes"], BarCalendar(ZONE)
        ts_list, tick_list, size_list = common.trade_tape(params["seed"], params["batch_trades"])
        ts, ticks, sizes = (np.array(c, dtype=np.int64) for c in (ts_list, tick_list, size_list))
        batch: list[float] = []
        each: list[float] = []
        count = params["each_trades"]
        rows = list(zip(ts_list[:count], tick_list[:count], size_list[:count], strict=True))
        with common.quiet_gc():
            for _ in range(params["samples"]):
                agg = bar_aggregator(timeframes, 10_000, calendar)
                agg.add_trade(ts_list[0] - 1, tick_list[0], 1)  # the zone window, fetched once
                start = time.perf_counter_ns()
                agg.add_trades(ts, ticks, sizes)
                agg.drain()
                batch.append(len(ts) / ((time.perf_counter_ns() - start) / 1e9))
                agg = bar_aggregator(timeframes, 10_000, calendar)
                agg.add_trade(ts_list[0] - 1, tick_list[0], 1)
                add, drain = agg.add_trade, agg.drain
                start = time.perf_counter_ns()
                for stamp, price, size in rows:
                    if add(stamp, price, size) & F_EVENTS:
                        drain()
                each.append((time.perf_counter_ns() - start) / count)
        return {
            "bars.ingest": batch,
            "bars.ingest_each": each,
            **await self._get_data(params),
        }

    async def _get_data(self, params: dict[str, Any]) -> dict[str, Any]:
        """``get_data("1min")`` right after a print changed the open bar (the cached frame
        of the closed bars plus a fresh last row), and the ring's bytes per bar."""
        bars = params["bars"]
        data = _seeded_data(["1min"], bars)
        store = data._bars()
        now_s = int(time.time()) // 60 * 60
        samples: list[float] = []
        await data.get_data("1min")  # the first read builds the frame cache
        with common.quiet_gc():
            for i in range(params["get_data_samples"]):
                print_ns = now_s * 1_000_000_000 + i * 1000
                stamp = common.iso_stamp(print_ns)
                store.on_prints([MarketTrade(price=21000.25, timestamp=stamp, volume=1)])
                store.on_frame_end()
                start = time.perf_counter_ns()
                frame = await data.get_data("1min")
                samples.append(float(time.perf_counter_ns() - start))
        assert frame is not None and frame.height == bars + 1, frame
        ring = store.agg.memory_bytes()
        return {
            "bars.get_data": samples,
            "bars.memory_per_bar": [ring / bars],
            "bars.frame_cache_bytes_per_bar": (store.memory_bytes() - ring) / bars,
        }

    async def new_bar(self, params: dict[str, Any]) -> dict[str, Any]:
        """GatewayTrade frame -> market hub decoder and ``_received`` -> market stream ->
        bar store (the 4 timeframes) -> the first NEW_BAR handler; each print a minute
        after the last, so each one opens a 1-minute bar."""
        bus = EventBus()
        store = BarStore(params["timeframes"], common.TICK, ZONE, 1000, bus)
        store.apply((), live=True)
        market = MarketStream(lambda _contract: bus)
        add_print_feed(market, params["contract"], store)
        hub = _offline_hub(market.on_items, "market")
        stamps: list[int] = []

        async def on_bar(_event: Event) -> None:
            stamps.append(time.perf_counter_ns())

        await bus.on(EventType.NEW_BAR, on_bar)
        prints = common.new_bar_prints(params["samples"] + 1)
        frames = [
            common.trade_frame(params["contract"], ts, price).encode() for ts, price in prints
        ]
        hub._received(hub.decoder.feed(frames[0]))  # the first bar, untimed
        samples: list[float] = []
        with common.quiet_gc():
            for frame in frames[1:]:
                seen = len(stamps)
                start = time.perf_counter_ns()
                hub._received(hub.decoder.feed(frame))
                samples.append(float(stamps[seen] - start))
        return {"bars.new_bar": samples}


async def _async_handler(_event: Event) -> None:
    return None


def _sync_handler(_event: Event) -> None:
    return None


_HANDLERS: dict[str, Callable[[Event], Any]] = {"async": _async_handler, "sync": _sync_handler}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pxfast.bench.pxfast_worker")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    args = parser.parse_args()
    worker = Worker()
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(common.serve(worker.handlers()))
    else:
        asyncio.run(common.serve(worker.handlers()))
    sys.exit(0)


if __name__ == "__main__":
    main()

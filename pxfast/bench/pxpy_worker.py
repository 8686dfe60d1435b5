"""project-x-py 4.4.1's side of ``pxfast bench``, run by the reference venv's Python 3.12.

``<reference venv>/bin/python .../pxfast/bench/pxpy_worker.py``: pxfast is
not installed there, so this file imports only the standard library, the
reference packages and ``common.py`` next to it (loaded by path).  It answers
the same operations as ``pxfast_worker`` with project-x-py's real code:

* network paths: its ``TradingSuite`` against the same standalone simulator,
  driven by the shared scenario functions of ``common``;
* in-process paths: its real objects with a stub client where no network is
  needed.  Wire -> handler is pysignalr's own transport entry point
  (``_on_raw_message``: ``JSONProtocol().decode`` and dispatch) -> the hub
  adapter -> the realtime client's ``_forward_order_update`` (its
  ``run_coroutine_threadsafe`` hop included) -> ``OrderManager._on_order_update``
  -> ``EventBus.emit(ORDER_FILLED)`` -> the handler.

Two settings differ from project-x-py's defaults, both in its favour or
needed to measure at all: its own 60 requests/minute throttle is raised
(``requests_per_minute``), and its loggers are set to WARNING (by default it
writes an INFO line per order event to stdout).  The live-bar rows change
two more, only on the data manager they build: its 1 ms tick rate limit is 0
(every tick processed, so its whole cost is measured) and, for wire ->
NEW_BAR, its receipt clock reads the print's time (see ``_Clock``).  The ``ProjectXConfig``
defaults are patched in this process because ``TradingSuite.create`` builds
its client from them (gateway-protocol.md §13.2).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pxfast.bench import common
    from pxfast.bench.common import BenchClient
else:  # the reference venv has no pxfast: load the shared module from this directory
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import common

    BenchClient = object

SYMBOL = "MNQ"
REQUESTS_PER_MINUTE = 1_000_000


def _module(name: str) -> Any:
    """A reference package, imported untyped (it is not installed where mypy runs)."""
    return importlib.import_module(name)


px = _module("project_x_py")
px_models = _module("project_x_py.models")
px_events = _module("project_x_py.event_bus")
px_orders = _module("project_x_py.order_manager")
px_realtime = _module("project_x_py.realtime")
px_utils = _module("project_x_py.order_manager.utils")
px_data = _module("project_x_py.realtime_data_manager")
px_data_processing = _module("project_x_py.realtime_data_manager.data_processing")
pl = _module("polars")
JSONProtocol = _module("pysignalr.protocol.json").JSONProtocol
EventType = px_events.EventType


def quiet_logging() -> None:
    """WARNING and above only, for every project-x-py logger (see the module docstring)."""
    for name in [*logging.root.manager.loggerDict, "project_x_py"]:
        if name.startswith("project_x_py"):
            logging.getLogger(name).setLevel(logging.WARNING)


def set_config_defaults(**values: Any) -> None:
    """Replace ``ProjectXConfig`` defaults (class attributes and ``__init__`` defaults)."""
    config = px_models.ProjectXConfig
    names = list(inspect.signature(config.__init__).parameters)[1:]
    defaults = list(config.__init__.__defaults__ or ())
    offset = len(names) - len(defaults)
    for name, value in values.items():
        defaults[names.index(name) - offset] = value
        setattr(config, name, value)
    config.__init__.__defaults__ = tuple(defaults)


async def create_suite(username: str, urls: dict[str, str]) -> Any:
    set_config_defaults(
        api_url=urls["api_url"],
        user_hub_url=urls["user_hub_url"],
        market_hub_url=urls["market_hub_url"],
        requests_per_minute=REQUESTS_PER_MINUTE,
    )
    os.environ["PROJECT_X_USERNAME"] = username
    os.environ["PROJECT_X_API_KEY"] = f"{username}-key"
    suite = await px.TradingSuite.create(SYMBOL, timeframes=["1min"], initial_days=1)
    quiet_logging()
    return suite


def _order_id(data: Any) -> int:
    order = data.get("order")
    return int(order.id) if order is not None else int(data["order_id"])


class PxpyClient(BenchClient):
    """The shared scenarios' view of a project-x-py ``TradingSuite``."""

    #: Its suite emits QUOTE_UPDATE per (coalesced) quote but no TRADE_TICK: trades
    #: feed its bars and come out as DATA_UPDATE, shared with quotes.
    market_kinds = ("quote",)

    def __init__(self, suite: Any, username: str, urls: dict[str, str]) -> None:
        self.suite = suite
        self.username = username
        self.urls = urls
        self.recorder = common.Recorder()
        self.contract: str = suite.instrument_id
        self.account_id: int = suite.client.account_info.id
        self._raw: dict[str, Callable[[], Awaitable[object]]] = {}
        self._raw_client: Any = None

    async def attach(self) -> None:
        rec = self.recorder

        async def filled(event: Any) -> None:
            rec.on_filled(_order_id(event.data))

        async def cancelled(event: Any) -> None:
            rec.on_cancelled(_order_id(event.data))

        await self.suite.on(EventType.ORDER_FILLED, filled)
        await self.suite.on(EventType.ORDER_CANCELLED, cancelled)
        # Ready after a reconnect = its subscription restore has run (it has no
        # reconciliation); observed by wrapping the method it schedules on reopen.
        realtime = self.suite.realtime
        restore = realtime._restore_realtime_subscriptions

        async def restored(*args: Any, **kwargs: Any) -> Any:
            result = await restore(*args, **kwargs)
            rec.on_ready()
            return result

        realtime._restore_realtime_subscriptions = restored

    async def search_open(self) -> object:
        result: object = await self.suite.orders.search_open_orders()
        return result

    async def place_limit(self, side: int, price: float) -> int:
        placed = await self.suite.orders.place_limit_order(self.contract, side, 1, price)
        return int(placed.orderId)

    async def cancel_all(self) -> None:
        await self.suite.orders.cancel_all_orders()

    async def place_bracket(self, entry: float, stop: float, target: float) -> tuple[int, int]:
        placed = await self.suite.orders.place_bracket_order(
            self.contract, 0, 1, entry_price=entry, stop_loss_price=stop,
            take_profit_price=target, entry_type="limit",
        )  # fmt: skip
        assert placed.success and placed.stop_order_id and placed.target_order_id, placed
        return int(placed.stop_order_id), int(placed.target_order_id)

    async def market_session(
        self, urls: dict[str, str], tally: common.MarketTally
    ) -> Callable[[], Awaitable[None]]:
        suite = await create_suite(self.username, {**self.urls, **urls})
        set_config_defaults(  # back to the simulator's hubs for anything made later
            user_hub_url=self.urls["user_hub_url"], market_hub_url=self.urls["market_hub_url"]
        )

        async def quote(_event: Any) -> None:
            tally.on_market("quote")

        async def progress(_event: Any) -> None:
            tally.on_progress()

        async def user(event: Any) -> None:
            tally.on_user(event.data["order"].customTag)

        await suite.on(EventType.QUOTE_UPDATE, quote)
        await suite.on(EventType.DATA_UPDATE, progress)
        await suite.on(EventType.ORDER_FILLED, user)

        async def close() -> None:
            await suite.disconnect()

        return close

    def raw_http(self) -> dict[str, Callable[[], Awaitable[object]]]:
        """Bare httpx (its HTTP library), made once (kept warm across rounds)."""
        if self._raw:
            return self._raw
        httpx = _module("httpx")
        url = f"{self.urls['api_url']}/Order/searchOpen"
        body = f'{{"accountId":{self.account_id}}}'.encode()
        headers = {
            "Authorization": f"Bearer {self.suite.client.session_token}",
            "Content-Type": "application/json",
        }
        client = self._raw_client = httpx.AsyncClient(limits=httpx.Limits(max_connections=64))

        async def httpx_client() -> object:
            response = await client.post(url, content=body, headers=headers)
            assert response.status_code == 200, response.status_code
            content: object = response.content
            return content

        self._raw = {"httpx": httpx_client}
        return self._raw

    async def close(self) -> None:
        if self._raw_client is not None:
            await self._raw_client.aclose()
        await self.suite.disconnect()


class _StubClient:
    """Where project-x-py's OrderManager wants a client but the path makes no request."""

    account_info = None


ZONE = "America/Chicago"
BAR_COLUMNS = ("open", "high", "low", "close")


def _data_manager(timeframes: list[str], bus: Any, realtime: Any = None) -> Any:
    """Its RealtimeDataManager as after ``initialize`` + ``start_realtime_feed``, no network:
    running, MNQ's tick, an empty frame per timeframe, and its global 1 ms rate limit
    (``_min_update_interval``, which drops every tick that follows another within 1 ms)
    set to 0, so every tick is processed and its cost is what is measured."""
    manager = px_data.RealtimeDataManager(
        "MNQ", _StubClient(), realtime or _StubClient(), bus, timeframes, timezone=ZONE
    )
    quiet_logging()
    manager._min_update_interval = 0.0
    manager.is_running = True
    manager.tick_size = common.TICK
    schema = {"timestamp": pl.Datetime("us", ZONE), **dict.fromkeys(BAR_COLUMNS, pl.Float64),
              "volume": pl.Int64}  # fmt: skip
    for timeframe in timeframes:
        manager.data[timeframe] = pl.DataFrame(schema=schema)
    return manager


async def _settled(before: set[asyncio.Task[Any]]) -> None:
    """Until the tasks it spawned since ``before`` (DATA_UPDATE and NEW_BAR emits and what
    they start) have all run; the worker's suite keeps its own background tasks running."""
    current = asyncio.current_task()
    while True:
        spawned = {t for t in asyncio.all_tasks() if t not in before and t is not current}
        pending = {task for task in spawned if not task.done()}
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=30)
        if late:
            raise TimeoutError(f"{len(late)} project-x-py task(s) still running after 30 s")


async def _processed(manager: Any, ticks: int) -> None:
    """Until its data manager has handled ``ticks`` ticks (the hop to it is a callback
    scheduled from pysignalr's side, not a task, and it signals nothing: poll)."""
    deadline = time.monotonic() + 30
    while manager.memory_stats["ticks_processed"] < ticks:
        if time.monotonic() > deadline:
            raise TimeoutError(f"project-x-py handled {ticks - 1} of {ticks} ticks in 30 s")
        await asyncio.sleep(0)


class _Clock(datetime):
    """``datetime`` for its data-processing module, whose ``now()`` is the exchange time of
    the print being handled: its ``_on_trade_update`` stamps a trade with the receipt
    time, so without this only one print a minute could open a bar."""

    current = datetime.now(UTC)

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> Any:
        return cls.current.astimezone(tz)


class Worker(common.BenchWorker):
    packages = ("project-x-py", "pysignalr", "httpx", "orjson", "polars")
    import_statement = "from project_x_py import TradingSuite"

    async def open_client(self, username: str, urls: dict[str, str]) -> BenchClient:
        client = PxpyClient(await create_suite(username, urls), username, urls)
        await client.attach()
        return client

    # -- in-process paths --------------------------------------------------------------

    async def ticks(self, params: dict[str, Any]) -> dict[str, Any]:
        """project-x-py has one alignment function (float in, float out), so its figure
        stands in every tick row, the numpy batch row included (a loop is its batch)."""
        samples = common.batch_ns(
            px_utils.align_price_to_tick, params["prices"], params["samples"], arg=params["tick"]
        )
        return {"ticks.decimal": samples, "ticks.float": samples, "ticks.batch": samples}

    async def decode(self, params: dict[str, Any]) -> dict[str, Any]:
        protocol = JSONProtocol()
        return {
            f"decode.{name}": common.batch_ns(protocol.decode, [frame] * 100, params["samples"])
            for name, frame in params["frames"].items()
        }

    async def fsm(self, params: dict[str, Any]) -> dict[str, Any]:
        """Each block: a new order's Open update and its fill, as its realtime client hands
        them over (the decoded ``{action, data}`` argument), no handler attached."""
        protocol = JSONProtocol()
        template, per_block = params["template"], params["orders_per_block"]
        blocks = []
        order_id = 1_000_000
        for _ in range(params["samples"]):
            block = []
            for _ in range(per_block):
                order_id += 1
                for status in (1, 2):
                    (message,) = protocol.decode(common.order_frame(template, order_id, status))
                    block.append(message.arguments[0])
            blocks.append(block)
        manager = px_orders.OrderManager(_StubClient(), px_events.EventBus())
        return {"fsm.apply": await common.block_ns(manager._on_order_update, blocks)}

    async def bus(self, params: dict[str, Any]) -> dict[str, Any]:
        """Its handlers are awaited, so the "sync" rows use an async handler too."""
        out = {}
        for mode in ("async", "sync"):
            for count in (1, 10):
                bus = px_events.EventBus()
                for _ in range(count):
                    await bus.on(EventType.ORDER_FILLED, _handler)
                data = {"order_id": 1}

                def emit(bus: Any = bus, data: dict[str, int] = data) -> Awaitable[None]:
                    result: Awaitable[None] = bus.emit(EventType.ORDER_FILLED, data, "bench")
                    return result

                out[f"bus.emit.{count}.{mode}"] = await common.each_ns(emit, params["samples"])
        return out

    async def _order_pipeline(self, bus: Any) -> tuple[Any, Any]:
        """Its realtime client (set up, never connected) and OrderManager on ``bus``;
        returns (the user hub's pysignalr transport, the OrderManager)."""
        realtime = px_realtime.ProjectXRealtimeClient(
            jwt_token="bench", account_id="7001",
            user_hub_url="http://127.0.0.1:9/hubs/user",
            market_hub_url="http://127.0.0.1:9/hubs/market",
        )  # fmt: skip
        await realtime.setup_connections()
        realtime.user_connected = True  # initialize() must not try to connect
        manager = px_orders.OrderManager(_StubClient(), bus)
        await manager.initialize(realtime_client=realtime)
        quiet_logging()
        return realtime.user_connection._ensure_client()._transport, manager

    async def wire(self, params: dict[str, Any]) -> dict[str, Any]:
        bus = px_events.EventBus()
        transport, manager = await self._order_pipeline(bus)
        stamps: list[int] = []
        arrived = asyncio.Event()

        async def on_filled(_event: Any) -> None:
            stamps.append(time.perf_counter_ns())
            arrived.set()

        await bus.on(EventType.ORDER_FILLED, on_filled)
        template = params["template"]
        tracked = manager.tracked_orders
        samples: list[float] = []
        with common.quiet_gc():
            for order_id in range(2_000_000, 2_000_000 + params["samples"]):
                opened = common.order_frame(template, order_id, 1)
                filled = common.order_frame(template, order_id, 2)
                await transport._on_raw_message(opened)
                await _stored(tracked, order_id)  # the open is handled before timing
                arrived.clear()
                start = time.perf_counter_ns()
                await transport._on_raw_message(filled)
                await arrived.wait()
                samples.append(float(stamps[-1] - start))
        return {"wire.order": samples}

    async def memory(self, params: dict[str, Any]) -> dict[str, Any]:
        """RSS growth over ``orders`` new orders through the hub path, per order it holds
        (its tracking cache keeps at most 10 000)."""
        transport, manager = await self._order_pipeline(px_events.EventBus())
        template = params["template"]
        tracked = manager.tracked_orders

        async def feed(first: int, count: int) -> None:
            for order_id in range(first, first + count):
                frame = common.order_frame(template, order_id, 1, tag=common.order_tag(order_id))
                await transport._on_raw_message(frame)
                if order_id % 100 == 0:  # keep its scheduled backlog short
                    await _stored(tracked, order_id)
            await _stored(tracked, first + count - 1)

        await feed(1, 1000)
        before = common.rss_bytes()
        held_before = len(tracked)
        await feed(10_000, params["orders"])
        after = common.rss_bytes()
        held = len(tracked) - held_before
        return {
            "memory.per_order": [(after - before) / max(held, 1)],
            "memory.rss": [float(after)],
            "memory.held": len(tracked),
        }

    async def bars(self, params: dict[str, Any]) -> dict[str, Any]:
        """Its tick path, ``_process_tick_data``, over blocks of the tape's first trades
        (the tick dicts built beforehand, as pxfast's arrays are), until the tasks it
        spawns have run; it has no batch entry, so one figure stands in both ingest rows."""
        ts_ns, ticks, sizes = common.trade_tape(params["seed"], params["pxpy_trades"])
        manager = _data_manager(params["timeframes"], px_events.EventBus())
        zone = manager.timezone
        tape = [
            {"timestamp": datetime.fromtimestamp(stamp / 1e9, zone), "price": tick * common.TICK,
             "volume": size, "type": "trade", "trade_side": "buy", "source": "gateway_trade"}
            for stamp, tick, size in zip(ts_ns, ticks, sizes, strict=True)
        ]  # fmt: skip
        block = params["pxpy_block"]
        before = asyncio.all_tasks()
        rates: list[float] = []
        each: list[float] = []
        with common.quiet_gc():
            for first in range(0, len(tape) - block + 1, block):
                start = time.perf_counter_ns()
                for tick in tape[first : first + block]:
                    await manager._process_tick_data(tick)
                await _settled(before)
                elapsed = time.perf_counter_ns() - start
                rates.append(block / (elapsed / 1e9))
                each.append(elapsed / block)
        return {"bars.ingest": rates, "bars.ingest_each": each, **await self._get_data(params)}

    async def _get_data(self, params: dict[str, Any]) -> dict[str, Any]:
        """``get_data("1min")`` with 10 000 bars in ``data["1min"]`` (it copies the frame on
        every read, whatever changed), and that frame's ``estimated_size()`` per row."""
        bars = params["bars"]
        manager = _data_manager(["1min"], px_events.EventBus())
        now_s = int(time.time()) // 60 * 60
        close = [21000.0 + ((i % 16) - 8) * common.TICK for i in range(bars)]
        manager.data["1min"] = pl.DataFrame({
            "timestamp": [datetime.fromtimestamp(now_s - 60 * (bars - i), manager.timezone)
                          for i in range(bars)],
            "open": close, "high": [c + 0.75 for c in close], "low": [c - 0.75 for c in close],
            "close": close, "volume": [i % 400 + 1 for i in range(bars)],
        })  # fmt: skip
        samples = await common.each_ns(lambda: manager.get_data("1min"), params["get_data_samples"])
        frame = manager.data["1min"]
        return {
            "bars.get_data": samples,
            "bars.memory_per_bar": [frame.estimated_size() / frame.height],
        }

    async def new_bar(self, params: dict[str, Any]) -> dict[str, Any]:
        """GatewayTrade frame -> pysignalr's ``_on_raw_message`` -> its market-hub adapter ->
        ``_forward_market_trade`` (the ``run_coroutine_threadsafe`` hop) -> the data
        manager's ``_on_trade_update`` -> ``_process_tick_data`` (4 timeframes) -> the
        NEW_BAR emit task -> the handler."""
        realtime = px_realtime.ProjectXRealtimeClient(
            jwt_token="bench", account_id="7001",
            user_hub_url="http://127.0.0.1:9/hubs/user",
            market_hub_url="http://127.0.0.1:9/hubs/market",
        )  # fmt: skip
        await realtime.setup_connections()
        bus = px_events.EventBus()
        manager = _data_manager(params["timeframes"], bus, realtime)
        await realtime.add_callback("market_trade", manager._on_trade_update)
        transport = realtime.market_connection._ensure_client()._transport
        quiet_logging()
        stamps: list[int] = []
        arrived = asyncio.Event()

        async def on_bar(_event: Any) -> None:
            stamps.append(time.perf_counter_ns())
            arrived.set()

        await bus.on(EventType.NEW_BAR, on_bar)
        px_data_processing.datetime = _Clock
        before = asyncio.all_tasks()
        samples: list[float] = []
        try:
            with common.quiet_gc():
                for i, (stamp, price) in enumerate(common.new_bar_prints(params["samples"] + 1)):
                    frame = common.trade_frame(params["contract"], stamp, price)
                    _Clock.current = datetime.fromtimestamp(stamp / 1e9, UTC)
                    arrived.clear()
                    seen = len(stamps)
                    start = time.perf_counter_ns()
                    await transport._on_raw_message(frame)
                    if i:  # its first bar of a timeframe is stored without a NEW_BAR
                        await asyncio.wait_for(arrived.wait(), 30)
                        samples.append(float(stamps[seen] - start))
                    await _processed(manager, i + 1)
                    await _settled(before)
        finally:
            px_data_processing.datetime = datetime
        return {"bars.new_bar": samples}


async def _handler(_event: Any) -> None:
    return None


async def _stored(tracked: Any, order_id: int) -> None:
    """Until project-x-py has stored ``order_id`` (it signals nothing: poll each loop turn)."""
    while str(order_id) not in tracked:  # noqa: ASYNC110
        await asyncio.sleep(0)


def main() -> None:
    quiet_logging()
    asyncio.run(common.serve(Worker().handlers()))


if __name__ == "__main__":
    main()

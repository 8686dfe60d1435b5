"""The catalogue: every figure the report prints, its unit, and the budget it is held to.

A *metric* is one row of the report.  Workers return raw measurements per
metric id (ns for times, plain numbers otherwise); ``scale`` turns them into
the unit shown.  ``checks`` are the issue's budgets, evaluated by
``report.evaluate`` on the pooled samples of all rounds, so the JSON and the
Markdown can never disagree about what was met.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CLIENTS", "METRICS", "Check", "Metric", "metric"]

#: Result columns, in report order.  The HTTP-library rows add three more.
CLIENTS = ("pxfast", "pxpy")
CLIENT_NAMES = {
    "pxfast": "pxfast",
    "pxpy": "project-x-py 4.4.1",
    "pxfast-http": "pxfast.client.http",
    "aiohttp": "aiohttp",
    "httpx": "httpx",
}

CheckKind = Literal["speedup", "speedup_p99", "median_max", "p99_max", "value_min", "value_max"]


@dataclass(frozen=True)
class Check:
    """One budget.

    ``speedup``: project-x-py's median over pxfast's (throughputs: the inverse)
    at least ``threshold``; ``speedup_p99`` the same on p99s; ``median_max`` /
    ``p99_max``: pxfast's median / p99 at most ``threshold`` (display unit);
    ``value_min`` / ``value_max``: pxfast's median at least / at most it.
    """

    kind: CheckKind
    threshold: float
    text: str


@dataclass(frozen=True)
class Metric:
    id: str
    group: str
    title: str
    unit: str
    #: Raw value per display unit (1e3 for ns shown as µs).
    scale: float = 1.0
    lower_is_better: bool = True
    #: "distribution": many samples per round (median and p99 shown);
    #: "value": one figure per round (the median of the rounds shown).
    kind: Literal["distribution", "value"] = "distribution"
    checks: tuple[Check, ...] = ()
    #: Drawn in the latency-distribution plot (under ``plot_title`` if the title is long).
    plot: bool = False
    plot_title: str = ""
    note: str = ""


def _speedup(x: float) -> Check:
    return Check("speedup", x, f">= {x:g}x")


_TICKS = "Tick alignment (ns per price, Python loop included)"
_DECODE = "Hub frame decode (ns per message, one-message frames)"
_CORE = "Order state and events"
_REALTIME = "Realtime, end to end"
_REST = "REST against the simulator"
_HTTP = "HTTP library, same request (Order/searchOpen)"
_ORDERS = "Orders, end to end"
_MEMORY = "Memory"
_BARS = "Live bars: 1min, 5min, 15min and 1hr from trade prints"
_IMPORT = "Import"

DECODE_TYPES = (
    "GatewayUserOrder",
    "GatewayUserPosition",
    "GatewayUserTrade",
    "GatewayUserAccount",
    "GatewayQuote",
    "GatewayTrade",
    "GatewayDepth",
)

METRICS: tuple[Metric, ...] = (
    Metric("ticks.decimal", _TICKS, "align to tick, Decimal out (`align_price`)", "ns",
           checks=(_speedup(10),),
           note="project-x-py: `align_price_to_tick` (its only variant) in every tick row"),
    Metric("ticks.float", _TICKS, "align to tick, float out (`align_price_float`)", "ns",
           checks=(_speedup(30),)),
    Metric("ticks.batch", _TICKS, "align 1M prices in one numpy call (`align_prices`)", "ns"),
    *(
        Metric(f"decode.{name}", _DECODE, name, "ns",
               note="project-x-py: pysignalr 1.3.3 `JSONProtocol().decode(str)`")
        for name in DECODE_TYPES
    ),
    Metric("fsm.apply", _CORE, "fold one order update into the order state", "ns",
           note="pxfast: `OrderTable.apply`; project-x-py: `OrderManager._on_order_update` "
                "with no handler attached (its cache update, validation and locks)"),
    Metric("bus.emit.1.async", _CORE, "EventBus.emit, 1 async handler", "µs", 1e3,
           checks=(_speedup(10),), plot=True),
    Metric("bus.emit.10.async", _CORE, "EventBus.emit, 10 async handlers", "µs", 1e3,
           checks=(_speedup(10),)),
    Metric("bus.emit.1.sync", _CORE, "EventBus.emit, 1 sync handler", "µs", 1e3,
           checks=(_speedup(10),),
           note="project-x-py awaits every handler, so its column is an async handler"),
    Metric("bus.emit.10.sync", _CORE, "EventBus.emit, 10 sync handlers", "µs", 1e3,
           checks=(_speedup(10),)),
    Metric("wire.order", _REALTIME,
           "wire -> handler: GatewayUserOrder frame -> order state -> ORDER_FILLED handler",
           "µs", 1e3, checks=(Check("median_max", 5.0, "median < 5 µs"), _speedup(15)),
           plot=True, plot_title="wire -> handler (GatewayUserOrder -> ORDER_FILLED)"),
    Metric("market.absorb", _REALTIME,
           "market data absorbed by one process, a handler attached (events/s)", "events/s",
           lower_is_better=False, kind="value",
           checks=(Check("value_min", 200_000, ">= 200 000/s"),)),
    Metric("market.dropped", _REALTIME, "market events not delivered to the handler", "events",
           kind="value", checks=(Check("value_max", 0, "none dropped"),),
           note="project-x-py coalesces quotes and depth to the latest under load"),
    Metric("market.user_latency", _REALTIME,
           "user-hub event -> handler under that market load", "µs", 1e3,
           checks=(Check("p99_max", 1000.0, "p99 <= 1 ms"),), plot=True,
           plot_title="user-hub event -> handler under market load"),
    Metric("fill.handler", _REALTIME, "Gateway fill -> ORDER_FILLED handler", "µs", 1e3,
           plot=True,
           note="from just before the control request that fills the order to the handler, "
                "so it includes the simulator's own work (parse, fill, publish), the same "
                "for both clients"),
    Metric("reconnect.ready", _REALTIME, "user hub dropped by the server -> ready again", "ms",
           1e6, note="pxfast: reconnected, resubscribed and reconciled over REST (the fence); "
                     "project-x-py: reconnected and resubscribed (it has no reconciliation)"),
    Metric("rest.search_open", _REST, "Order/searchOpen, sequential", "µs", 1e3,
           checks=(_speedup(3),), plot=True),
    Metric("rest.search_open_50", _REST, "Order/searchOpen, 50 concurrent", "req/s",
           lower_is_better=False, checks=(_speedup(8),)),
    Metric("rest.place", _REST, "place -> ack (limit order, sequential)", "µs", 1e3,
           checks=(_speedup(3),), plot=True),
    Metric("rest.place_50", _REST, "place -> ack, 50 concurrent", "req/s",
           lower_is_better=False, checks=(_speedup(8),)),
    Metric("rest.place_50_latency", _REST, "place -> ack latency within 50 concurrent", "µs",
           1e3),
    Metric("http.search_open", _HTTP, "sequential", "µs", 1e3, plot=True,
           plot_title="HTTP libraries: Order/searchOpen, sequential"),
    Metric("http.search_open_50", _HTTP, "50 concurrent", "req/s", lower_is_better=False),
    Metric("bracket.wall", _ORDERS,
           "bracket round trip: place, entry fill, target fill, stop cancelled (wall)", "ms",
           1e6, checks=(_speedup(1), Check("speedup_p99", 1, "p99 never slower"))),
    Metric("bracket.cpu", _ORDERS, "bracket round trip, client CPU", "ms", 1e6,
           checks=(_speedup(3),)),
    Metric("bars.ingest", _BARS, "trade ingest into 4 timeframes, batch (trades/s)",
           "trades/s", lower_is_better=False,
           checks=(Check("value_min", 5_000_000, ">= 5 000 000 trades/s"), _speedup(50)),
           note="pxfast: `BarAggregator.add_trades` over a 1M-trade tape (int64 arrays); "
                "project-x-py: `_process_tick_data` per tick (its only path; its global 1 ms "
                "rate limit `_min_update_interval` set to 0, or it would drop most ticks), "
                "until the DATA_UPDATE / NEW_BAR tasks it spawns have run"),
    Metric("bars.ingest_each", _BARS, "trade ingest into 4 timeframes, one call per trade",
           "ns", checks=(_speedup(50),),
           note="pxfast: `add_trade` from a Python loop, events drained when it reports some; "
                "project-x-py: the same `_process_tick_data` figure as the batch row"),
    Metric("bars.new_bar", _BARS,
           "wire -> NEW_BAR handler: a GatewayTrade frame that opens a 1-minute bar", "µs",
           1e3, checks=(Check("median_max", 10.0, "median < 10 µs"),), plot=True,
           plot_title="wire -> NEW_BAR handler (GatewayTrade, 4 timeframes)",
           note="in process, from the frame's bytes (pxfast: market hub decoder -> market "
                "stream -> bar store; project-x-py: pysignalr `_on_raw_message` -> "
                "`_forward_market_trade` -> `_on_trade_update`, its receipt clock set to "
                "the print's time so each print opens a bar)"),
    Metric("bars.get_data", _BARS, '`get_data("1min")` on 10 000 bars', "µs", 1e3,
           checks=(Check("median_max", 50.0, "median < 50 µs"),),
           note="pxfast: right after a print changed the open bar (its cached frame of "
                "the closed bars plus a new last row); project-x-py clones its frame"),
    Metric("bars.memory_per_bar", _BARS, "memory per stored bar", "B", kind="value",
           checks=(Check("value_max", 49, "48 B a bar (+ the ring's fixed part)"),),
           note="pxfast: `BarAggregator.memory_bytes()` / bars, 10 000 1-minute bars; "
                "project-x-py: its polars frame's `estimated_size()` / rows"),
    Metric("import.suite", _IMPORT, "`from <package> import TradingSuite`, fresh interpreter",
           "ms", 1e6, checks=(Check("median_max", 130.0, "median <= 130 ms"),),
           note="timed inside each fresh interpreter around the import statement alone "
                "(interpreter start-up excluded); each client's own Python"),
    Metric("memory.per_order", _MEMORY, "memory per tracked order (RSS growth / orders held)",
           "B", kind="value", checks=(_speedup(10),),
           note="project-x-py keeps at most 10 000 orders (a TTL cache); pxfast keeps all"),
    Metric("memory.rss", _MEMORY, "process RSS after 100 000 orders", "MB", 1e6, kind="value"),
)  # fmt: skip

_BY_ID = {m.id: m for m in METRICS}


def metric(metric_id: str) -> Metric:
    return _BY_ID[metric_id]

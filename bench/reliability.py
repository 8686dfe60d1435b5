"""Reliability budgets, measured on loopback with pxfast's default liveness settings.

    python bench/reliability.py [--quick] [--only reconnect|stale|flood]

* **reconnect**: the simulator goes away (every socket dropped, nothing
  listening) for 0.5 s, 2 s or 5 s and comes back on the same port; measured
  from the moment it listens again to the moment the client is reconciled
  (user hub connected and its fence done, market hub connected).  Two
  outages back to back check that the backoff was reset by the first
  reconnect.  Budget: 2 s.
* **stale**: the market hub is frozen with its socket open (WebSocket pongs
  still answered, the incident #97 failure); measured from the last market
  record received to FEED_STALE.  Budget: the staleness budget (default
  10 s) plus one ping interval (default 15 s).
* **flood**: 50 000 market events a second (quotes, trades and depth on four
  contracts) from a simulator in a child process, for several seconds, while
  resting orders are filled every 50 ms; each fill's delay is the client's
  receipt time minus the Gateway's ``updateTimestamp`` (same machine, same
  clock).  Reported: delays (median, p99, max), market events received and
  any lost, resident memory before and after.

Figures are printed as a Markdown table with the machine and the date.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import msgspec

from pxfast.client.http import HttpClient
from pxfast.client.ratelimit import BucketSpec, RateBudget
from pxfast.event_bus import Event, EventType
from pxfast.models import ProjectXConfig, parse_timestamp
from pxfast.realtime.connection import MARKET_STALE_AFTER
from pxfast.realtime.hub import HubOptions
from pxfast.sim import GatewaySimulator
from pxfast.trading_suite import TradingSuite

KEY = "0123456789abcdef"
RECONNECT_BUDGET = 2.0
FLOOD_SYMBOLS = ["MNQ", "ES", "NQ", "MES"]
FLOOD_RATE = 50_000  # market events per second to the client
EVENTS_PER_STEP = 3  # a print, a quote and a depth change per market step


def _config(api: str, user_hub: str, market_hub: str) -> ProjectXConfig:
    return ProjectXConfig(api_url=api, user_hub_url=user_hub, market_hub_url=market_hub)


async def _suite(gw: Any, symbols: str | list[str] = "MNQ", **options: Any) -> TradingSuite:
    return await TradingSuite.create(
        symbols,
        username="bench",
        api_key=KEY,
        client_config=_config(gw.api_url, gw.user_hub_url, gw.market_hub_url),
        initial_days=1,
        **options,
    )


async def _until(predicate: Callable[[], bool], timeout: float, step: float = 0.001) -> float:
    """Seconds until ``predicate`` held (polled every ``step``); TimeoutError past ``timeout``."""
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise TimeoutError("condition not met")
        await asyncio.sleep(step)
    return time.perf_counter() - started


# ---------------------------------------------------------------------- reconnect


async def measure_reconnect(downtimes: list[float], repeats: int) -> list[dict[str, Any]]:
    rows = []
    async with GatewaySimulator(seed=3) as gw:
        suite = await _suite(gw)
        realtime = suite.realtime
        await suite.orders.place_limit_order("MNQ", 0, 1, 20000)  # something to reconcile
        try:
            for downtime in downtimes:
                figures = []
                for _ in range(repeats):
                    gaps = realtime.user.gaps
                    await gw.restart(downtime)  # returns once it listens again

                    def reconciled(gaps: int = gaps) -> bool:
                        return (
                            realtime.user.gaps > gaps
                            and realtime.user_hub.connected
                            and realtime.market_hub.connected
                            and realtime.user.reconciled.is_set()
                        )

                    figures.append(await _until(reconciled, 30.0))
                rows.append({"outage": f"{downtime:g} s", "seconds": figures})
            # Two outages back to back: the second must not start at the longest backoff.
            figures = []
            for _ in range(repeats):
                for _ in range(2):
                    gaps = realtime.user.gaps
                    await gw.restart(2.0)
                    figures.append(
                        await _until(
                            lambda gaps=gaps: (
                                realtime.user.gaps > gaps and realtime.market_hub.connected
                            ),
                            30.0,
                        )
                    )
            rows.append({"outage": "2 s, twice in a row", "seconds": figures})
        finally:
            await suite.disconnect()
    return rows


# ---------------------------------------------------------------------- staleness


async def measure_stale(options: HubOptions, trials: int) -> list[float]:
    """Seconds from the last market record to FEED_STALE, per trial."""
    figures = []
    async with GatewaySimulator(seed=4, rate=20.0, quote_keepalive=1.0) as gw:
        suite = await _suite(gw, market_hub_options=options)
        stale: list[Event] = []
        await suite.on(EventType.FEED_STALE, stale.append)
        hub = suite.realtime.market_hub
        try:
            for trial in range(trials):
                await _until(lambda: hub.connected and hub.last_data_age() is not None, 60)
                await asyncio.sleep(1.0)
                gw.freeze_hub_connections("market")
                await _until(lambda trial=trial: len(stale) > trial, 120, step=0.01)
                figures.append(stale[trial].data["seconds_since_message"])
                await _until(lambda trial=trial: hub.stats.reconnects > trial and hub.connected, 60)
        finally:
            await suite.disconnect()
    return figures


# ---------------------------------------------------------------------- flood


async def _serve_flood() -> None:
    """The child process: a simulator whose market runs as fast as it is told."""
    async with GatewaySimulator(
        seed=5, paused=True, rate_limits=False, balance=1e9, client_timeout=0
    ) as gw:
        print(gw.control_url, flush=True)
        await asyncio.Event().wait()


class _Remote:
    """The child's simulator, from its control URL (which carries the control token)."""

    def __init__(self, control_url: str) -> None:
        parts = urlsplit(control_url)
        base = f"{parts.scheme}://{parts.netloc}"
        self.api_url = f"{base}/api"
        self.user_hub_url = f"{base}/hubs/user"
        self.market_hub_url = f"{base}/hubs/market"
        self.http = HttpClient(base)
        self._control_path = parts.path

    async def op(self, name: str, **kwargs: Any) -> Any:
        response = await self.http.request(
            "POST", f"{self._control_path}/{name}", msgspec.json.encode(kwargs))
        answer = msgspec.json.decode(response.body)
        if not answer["ok"]:
            raise RuntimeError(answer["error"])
        return answer["result"]


async def _loop_lag(lags: list[float], period: float = 0.001) -> None:
    """How late a 1 ms timer fires: the longest stretch the client's loop was busy."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + period
        await asyncio.sleep(period)
        lags.append(max(0.0, loop.time() - due))


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def measure_flood(seconds: float) -> dict[str, Any]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-flood", stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    remote = _Remote((await child.stdout.readline()).decode().strip())
    suite = await _suite(remote, FLOOD_SYMBOLS, market_depth=True)
    # The child's rate limits are off (hundreds of resting orders); so is the client's mirror.
    unlimited = BucketSpec(10**9, 60.0)
    suite.client.session.budget = RateBudget(general=unlimited, bars=unlimited)
    delays: list[float] = []

    def filled(event: Event) -> None:
        stamp = parse_timestamp(event.data["order"].updateTimestamp)
        assert stamp is not None
        delays.append(time.time() - stamp.timestamp())

    await suite.on(EventType.ORDER_FILLED, filled)
    hub = suite.realtime.market_hub.stats
    try:
        price = Decimal(str((await remote.op("quote", symbol_or_id="MNQ"))["last"]))
        fills = int(seconds * 40)
        resting = [
            (await suite["MNQ"].orders.place_limit_order("MNQ", 0, 1, price - 100 - i)).order_id
            for i in range(2 * fills)
        ]
        rss_before = _rss_mib()
        baseline = []
        for order_id in resting[:fills]:  # quiet market: the reference delay
            await remote.op("fill", order_id=order_id)
            await asyncio.sleep(0.025)
        await _until(lambda: len(delays) == fills, 30)
        baseline, delays[:] = list(delays), []
        steps = FLOOD_RATE / EVENTS_PER_STEP / len(FLOOD_SYMBOLS)
        sent_before = (await remote.op("hub_connections", hub="market"))[0]["sent"]
        items_before = hub.items
        await remote.op("set_rate", rate=steps)
        await remote.op("resume")
        lags: list[float] = []
        probe = asyncio.create_task(_loop_lag(lags))
        started = time.perf_counter()
        for order_id in resting[fills:]:
            await remote.op("fill", order_id=order_id)
            await asyncio.sleep(0.025)
        await remote.op("pause")
        elapsed = time.perf_counter() - started
        probe.cancel()
        await _until(lambda: len(delays) == fills, 60)
        sent = (await remote.op("hub_connections", hub="market"))[0]["sent"] - sent_before
        await _until(lambda: hub.items - items_before >= sent, 60)
        received = hub.items - items_before
        return {
            "seconds": elapsed,
            "market_records_sent": sent,
            "market_records_received": received,
            "records_per_second": received / elapsed,
            "baseline_ms": [d * 1e3 for d in baseline],
            "flood_ms": [d * 1e3 for d in delays],
            "loop_lag_ms": [lag * 1e3 for lag in lags],
            "rss_before": rss_before,
            "rss_after": _rss_mib(),
            "reconnects": suite.realtime.market_hub.stats.reconnects,
            "decode_errors": suite.realtime.market_hub.decoder.errors,
        }
    finally:
        await suite.disconnect()
        await remote.http.close()
        child.terminate()
        await child.wait()


# ---------------------------------------------------------------------- report


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, short flood")
    parser.add_argument("--only", choices=["reconnect", "stale", "flood"])
    parser.add_argument("--serve-flood", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from pxfast.loop import run

    if args.serve_flood:
        run(_serve_flood())
        return 0
    repeats = 2 if args.quick else 5
    ok = True
    print(
        f"pxfast reliability budgets: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}"
    )
    print()
    if args.only in (None, "reconnect"):
        rows = run(measure_reconnect([0.5, 2.0, 5.0], repeats))
        print("| outage | reconnected and reconciled after it listens again | budget |")
        print("|---|---|---|")
        for row in rows:
            figures = row["seconds"]
            met = max(figures) <= RECONNECT_BUDGET
            ok &= met
            print(
                f"| {row['outage']} | median {statistics.median(figures):.3f} s, "
                f"max {max(figures):.3f} s (n={len(figures)}) | {RECONNECT_BUDGET:g} s "
                f"{'met' if met else 'MISSED'} |"
            )
        print()
    if args.only in (None, "stale"):
        defaults = HubOptions(stale_after=MARKET_STALE_AFTER)
        short = HubOptions(ping_interval=0.5, stale_after=1.0)
        print("| staleness budget | ping interval | last record -> FEED_STALE | budget |")
        print("|---|---|---|---|")
        for options, trials in ((defaults, 1 if args.quick else 3), (short, repeats)):
            assert options.stale_after is not None
            figures = run(measure_stale(options, trials))
            budget = options.stale_after + options.ping_interval
            met = max(figures) <= budget
            ok &= met
            print(
                f"| {options.stale_after:g} s | {options.ping_interval:g} s | median "
                f"{statistics.median(figures):.2f} s, max {max(figures):.2f} s (n={len(figures)})"
                f" | {budget:g} s {'met' if met else 'MISSED'} |"
            )
        print()
    if args.only in (None, "flood"):
        flood = run(measure_flood(2.0 if args.quick else 5.0))
        lost = flood["market_records_sent"] - flood["market_records_received"]
        ok &= lost == 0
        print(
            f"flood: {flood['market_records_received']} market records in "
            f"{flood['seconds']:.1f} s ({flood['records_per_second']:,.0f}/s) on "
            f"{len(FLOOD_SYMBOLS)} contracts; lost {lost}, decode errors "
            f"{flood['decode_errors']}, reconnects {flood['reconnects']}"
        )
        for name, label in (("baseline_ms", "quiet market"), ("flood_ms", "during the flood")):
            values = flood[name]
            print(
                f"  fill -> handler, {label}: median {statistics.median(values):.2f} ms, "
                f"p90 {_p(values, 0.9):.2f} ms, p99 {_p(values, 0.99):.2f} ms, "
                f"max {max(values):.2f} ms (n={len(values)})"
            )
        lags = flood["loop_lag_ms"]
        print(
            f"  client loop lag during the flood (a 1 ms timer): median "
            f"{statistics.median(lags):.2f} ms, p99 {_p(lags, 0.99):.2f} ms, max {max(lags):.2f} ms"
        )
        print(
            f"  resident memory {flood['rss_before']:.1f} MiB before, "
            f"{flood['rss_after']:.1f} MiB after"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

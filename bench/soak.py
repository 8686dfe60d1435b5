"""Soak: a trading bot places 10 000 orders while a seeded schedule injects every fault.

    python bench/soak.py [--orders 10000] [--seed 7] [--checkpoint 1000] [--local]
                         [--tracemalloc]

The bot is the fault matrix's (``tests/faults/fault_bot.py``): a native
bracket held while the price moves, a resting order placed, modified and
cancelled, a market trade, every cycle, as fast as the client goes.  A
seeded random schedule starts fault episodes between cycles (hub closed or
frozen, frames dropped or delayed, 429 and 5xx bursts, 5xx after an accepted
mutation, answers held past the client's timeout, token expiry, full restart
with state kept, malformed records) and lifts each after a random number of
cycles; several may overlap.

At every checkpoint the standing faults are lifted, the client is given a
bounded time to converge, and the whole invariant of ``fault_bot.violations``
is checked against the Gateway's books (orders, fills, positions; each fill
delivered exactly once; no order sent twice; every gap reported; nothing
hung or escaped).  Memory is sampled there too.  By default the simulator
runs in a child process (``--local`` runs it in this one), so the resident
set printed is the client's alone.  The exit status is 1 if any checkpoint
found a violation.

CI runs a reduced version (``tests/faults/test_soak.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import math
import os
import random
import re
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "faults"))

from fault_bot import (
    SIM_SETTINGS,
    Bot,
    BotReport,
    GatewayView,
    LocalVenue,
    Recorder,
    open_suite,
    settle,
)

from pxfast._fsm import OrderTable
from pxfast.client.http import ConnectFailed, HttpClient, RequestUncertain
from pxfast.client.ratelimit import BucketSpec, RateBudget
from pxfast.messages import OrderUpdate, PositionUpdate, TradeUpdate
from pxfast.sim import GatewaySimulator

__all__ = ["FAULT_KINDS", "SoakReport", "main", "run_local", "run_remote", "soak"]

#: The client's REST timeout in the soak (seconds): a held answer outlives it.
CLIENT_TIMEOUT = 1
#: The client's reconciliation window in the soak (seconds): far beyond any outage
#: the schedule injects, short enough that pruning shows within a run.
WINDOW = 90.0
MUTATIONS = ["Order/place", "Order/modify", "Order/cancel"]
BAD_RECORDS = (
    '{"type":1,"target":"GatewayUserOrder","arguments":[{"action":1,"data":{"id":"x"}}]}',
    '{"type":1,"target":"GatewayQuote","arguments":[null,{}]}',
    '{"type":9}',
    "not json at all",
)


# ---------------------------------------------------------------------- the venue


class Control(LocalVenue):
    """The in-process simulator driven by control-operation names (as the remote one is)."""

    async def op(self, name: str, **kwargs: Any) -> Any:
        gw = self.gw
        if name == "restart":
            asyncio.get_running_loop().create_task(gw.restart(**kwargs))
            return None
        if name == "clear_faults":
            return gw.faults.clear()
        target = getattr(gw.faults, name, None) or getattr(gw, name)
        return target(**kwargs)


class RemoteControl:
    """A simulator in a child process, through its control API (``control_url``, which
    carries the control token)."""

    def __init__(self, control_url: str) -> None:
        parts = urlsplit(control_url)
        base_url = f"{parts.scheme}://{parts.netloc}"
        self.api_url = f"{base_url}/api"
        self.user_hub_url = f"{base_url}/hubs/user"
        self.market_hub_url = f"{base_url}/hubs/market"
        self._http = HttpClient(base_url, timeout=30.0)
        self._control_path = parts.path

    async def op(self, name: str, **kwargs: Any) -> Any:
        """Call one operation; retried while a restart has the simulator away."""
        body = msgspec.json.encode(kwargs)
        for _ in range(100):
            try:
                response = await self._http.request(
                    "POST", f"{self._control_path}/{name}", body,
                    {"Content-Type": "application/json"},
                )
            except (ConnectFailed, RequestUncertain):
                await asyncio.sleep(0.1)
                continue
            answer = msgspec.json.decode(response.body)
            if not answer.get("ok"):
                raise RuntimeError(f"control {name}: {answer.get('error')}")
            return answer.get("result")
        raise RuntimeError(f"control {name}: the simulator did not come back")

    async def last_price(self, symbol: str) -> Decimal:
        quote = await self.op("quote", symbol_or_id=symbol)
        return Decimal(str(quote["last"]))

    async def set_price(self, symbol: str, price: Decimal) -> None:
        await self.op("set_price", symbol_or_id=symbol, price=str(price))

    async def view(self, account_id: int, since: str | None = None) -> GatewayView:
        orders, positions, trades, dropped = await asyncio.gather(
            self.op("orders", account_id=account_id, since=since),
            self.op("positions", account_id=account_id),
            self.op("trades", account_id=account_id, since=since),
            self.op("dropped_records"),
        )
        return GatewayView(
            msgspec.convert(orders, list[OrderUpdate]),
            msgspec.convert(positions, list[PositionUpdate]),
            msgspec.convert(trades, list[TradeUpdate]),
            dropped["user"],
        )

    async def close(self) -> None:
        await self._http.close()


Venue = Control | RemoteControl


# ---------------------------------------------------------------------- the schedule


@dataclass
class Episode:
    kind: str
    until: int  # the cycle at which a standing fault is lifted
    lift: list[tuple[str, dict[str, Any]]]


def _start(kind: str, rng: random.Random) -> tuple[list[tuple[str, dict[str, Any]]], list[Any]]:
    """The control calls that start a fault episode, and those that lift it."""
    if kind == "hub closed":
        return [("close_hub_connections", {"hub": rng.choice([None, "user", "market"])})], []
    if kind == "hub frozen":
        hub = rng.choice([None, "user", "market"])
        return [("freeze_hub_connections", {"hub": hub})], [("thaw_hub_connections", {})]
    if kind == "frames dropped":
        fraction = round(rng.uniform(0.05, 0.5), 2)
        return (
            [("drop_hub_frames", {"fraction": fraction})],
            [("drop_hub_frames", {"fraction": 0.0})],
        )
    if kind == "frames delayed":
        settings = {"fraction": round(rng.uniform(0.1, 0.8), 2), "seconds": rng.uniform(0.05, 0.5)}
        return (
            [("delay_hub_frames", settings)],
            [("delay_hub_frames", {"fraction": 0.0, "seconds": 0.0})],
        )
    if kind == "429 burst":
        return [("fail_requests", {"status": 429, "count": rng.randint(1, 8)})], []
    if kind == "5xx burst":
        status = rng.choice([500, 502, 503, 504])
        return [("fail_requests", {"status": status, "count": rng.randint(1, 8)})], []
    if kind == "5xx after accept":
        count = rng.randint(1, 3)
        return [("fail_after_accept", {"endpoints": MUTATIONS, "count": count})], []
    if kind == "answer past timeout":
        held = {"endpoints": "Order/place", "seconds": CLIENT_TIMEOUT + 0.5}
        return [("delay_responses", held)], []
    if kind == "token expiry":
        return [("expire_tokens", {})], []
    if kind == "restart":
        return [("restart", {"downtime": round(rng.uniform(0.1, 1.0), 2)})], []
    if kind == "malformed records":
        return [("send_hub_record", {"record": rng.choice(BAD_RECORDS)})], []
    raise ValueError(kind)


FAULT_KINDS = (
    "hub closed",
    "hub frozen",
    "frames dropped",
    "frames delayed",
    "429 burst",
    "5xx burst",
    "5xx after accept",
    "answer past timeout",
    "token expiry",
    "restart",
    "malformed records",
)


class Schedule:
    """Starts a random fault episode every few cycles and lifts standing ones later."""

    def __init__(self, seed: int, mean_gap: float = 6.0) -> None:
        self.rng = random.Random(f"{seed}:schedule")
        self.mean_gap = mean_gap
        self.next_at = 1
        self.active: list[Episode] = []
        self.started: Counter[str] = Counter()
        self.away_until = 0.0

    async def step(self, cycle: int, venue: Venue) -> None:
        for episode in [e for e in self.active if e.until <= cycle]:
            self.active.remove(episode)
            for name, kwargs in episode.lift:
                await venue.op(name, **kwargs)
        if cycle < self.next_at:
            return
        self.next_at = cycle + 1 + int(self.rng.expovariate(1.0 / self.mean_gap))
        kind = self.rng.choice(FAULT_KINDS)
        if kind == "restart" and time.monotonic() < self.away_until:
            kind = "hub closed"  # one restart at a time: the port is rebound by the first
        begin, lift = _start(kind, self.rng)
        self.started[kind] += 1
        for name, kwargs in begin:
            await venue.op(name, **kwargs)
            if name == "restart":
                self.away_until = time.monotonic() + kwargs["downtime"] + 1.0
        if lift:
            self.active.append(Episode(kind, cycle + self.rng.randint(2, 12), lift))

    async def lift_all(self, venue: Venue) -> None:
        self.active.clear()
        await venue.op("clear_faults")
        await venue.op("thaw_hub_connections")


# ---------------------------------------------------------------------- the soak


def rss_mb() -> float:
    """This process's resident set now (not the peak), in MiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def malloc_mb() -> tuple[float, float] | None:
    """C heap in use and free-but-kept by glibc's malloc (MiB), or None off glibc.

    Python objects over 512 bytes, picows' and uvloop's buffers and the order
    table all live here: in-use flat while RSS climbs means the allocator keeps
    freed memory (fragmentation), not that something is held.
    """
    try:
        libc = ctypes.CDLL(None)
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20, info.fordblks / 2**20


def pymalloc_mb() -> tuple[float, float]:
    """Python's small-object allocator: bytes in its arenas and in live blocks (MiB).

    An arena is returned to the OS only when every block in it is free, so a few
    long-lived objects left in arenas filled by a transient peak keep them
    resident: arenas over live blocks is that fragmentation.  The figures come
    from ``sys._debugmallocstats()``, which writes to file descriptor 2.
    """
    sys.stderr.flush()
    with tempfile.TemporaryFile("w+") as sink:
        saved = os.dup(2)
        try:
            os.dup2(sink.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        text = sink.read()

    def figure(label: str) -> float:
        found = re.search(rf"^{re.escape(label)}\s*=\s*([\d,]+)", text, re.M)
        return int(found.group(1).replace(",", "")) / 2**20 if found else math.nan

    arenas = re.search(r"^# arenas allocated current\s*=\s*(\d+)", text, re.M)
    return (int(arenas.group(1)) if arenas else math.nan), figure("# bytes in allocated blocks")


@dataclass
class Checkpoint:
    orders: int
    cycles: int
    seconds: float
    rss_mb: float
    #: pymalloc arenas held (1 MiB each) and the bytes of live Python objects in them.
    arenas: float
    py_mb: float
    #: glibc heap in use / free but kept (MiB); NaN off glibc.
    heap_mb: float
    heap_free_mb: float
    table_kib: float
    #: Finished orders the client has forgotten (past its window) so far.
    pruned: int
    #: Fills the client holds (those within its window).
    fills: int
    faults: int
    violations: list[str]


@dataclass
class SoakReport:
    seed: int
    checkpoints: list[Checkpoint] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    window: float = 0.0
    fills_lost: set[int] = field(default_factory=set)
    fills_duplicated: set[int] = field(default_factory=set)
    operations: int = 0
    fills_delivered: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    health: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        clean = all(not c.violations for c in self.checkpoints)
        return clean and not self.fills_lost and not self.fills_duplicated


async def soak(
    venue: Venue,
    *,
    orders: int,
    seed: int,
    checkpoint: int,
    window: float = WINDOW,
    out: Callable[[str], None] = print,
) -> SoakReport:
    """Trade until the client has seen ``orders`` orders; check and sample every ``checkpoint``.

    The client reconciles over (and prunes beyond) ``window`` seconds, and each
    checkpoint compares what changed within it; checkpoints must therefore come
    less than a window apart, or orders would go unchecked (reported if so).
    """
    suite = await open_suite(
        venue_endpoints(venue),
        timeout_seconds=CLIENT_TIMEOUT,
        reconcile_window=window,
    )
    # The simulator's rate limits are off; so is the client's mirror of them.
    big = BucketSpec(10**9, 60.0)
    suite.client.session.budget = RateBudget(general=big, bars=big)
    recorder = Recorder()
    await recorder.attach(suite)
    bot = Bot(suite, venue, seed=seed, pause=0.0)
    schedule = Schedule(seed)
    report = SoakReport(seed, window=window)
    stream = suite.realtime.user
    table = stream.orders
    account = suite.client.get_account_info().id
    started = time.monotonic()
    target = checkpoint
    baseline: tracemalloc.Snapshot | None = None
    try:
        await bot.start()
        out(
            "orders  cycles  seconds  rss_MiB  arenas  py_MiB  heap_MiB  heap_free  table_KiB  "
            "pruned  fills_held  faults  violations"
        )
        while True:
            orders_seen = len(table) + stream.forgotten
            if orders_seen >= min(target, orders):
                await schedule.lift_all(venue)
                span = timedelta(seconds=window)
                problems = await settle(
                    suite, venue, recorder, bot.report, timeout=20.0, window=span
                )
                await _tally_fills(venue, account, span, recorder, report)
                _forget_checked(table, recorder, bot.report)
                elapsed = time.monotonic() - started
                previous = report.checkpoints[-1].seconds if report.checkpoints else 0.0
                if elapsed - previous > window:
                    problems.append(
                        f"{elapsed - previous:.0f} s since the last checkpoint, over the "
                        f"{window:.0f} s window: some orders went unchecked"
                    )
                gc.collect()
                mark = Checkpoint(
                    orders_seen,
                    bot.report.cycles,
                    elapsed,
                    rss_mb(),
                    *pymalloc_mb(),
                    *(malloc_mb() or (math.nan, math.nan)),
                    table.memory_bytes() / 1024,
                    stream.forgotten,
                    len(stream.trades),
                    sum(schedule.started.values()),
                    problems,
                )
                report.checkpoints.append(mark)
                out(
                    f"{mark.orders:6d}  {mark.cycles:6d}  {mark.seconds:7.1f}  {mark.rss_mb:7.1f}  "
                    f"{mark.arenas:6.0f}  {mark.py_mb:6.1f}  {mark.heap_mb:8.1f}  "
                    f"{mark.heap_free_mb:9.1f}  "
                    f"{mark.table_kib:9.1f}  {mark.pruned:6d}  "
                    f"{mark.fills:10d}  {mark.faults:6d}  {len(problems)}"
                )
                for problem in problems[:10]:
                    out(f"    {problem}")
                # Escaped exceptions and hangs are reported once, at the checkpoint after them.
                for seen in (recorder.unhandled, recorder.errors, bot.report.hung):
                    seen.clear()
                bot.report.untyped.clear()
                if tracemalloc.is_tracing():
                    baseline = baseline or tracemalloc.take_snapshot()
                    _print_growth(baseline, out)
                if orders_seen >= orders:
                    break
                target += checkpoint
            await schedule.step(bot.report.cycles, venue)
            await bot.step()
        report.faults = schedule.started
        report.operations = bot.report.operations
        report.fills_delivered = recorder.fills_delivered
        report.errors = bot.report.errors
        report.health = suite.get_health()
    finally:
        recorder.detach()
        await suite.disconnect()
    return report


async def _tally_fills(
    venue: Venue, account: int, window: timedelta, recorder: Recorder, report: SoakReport
) -> None:
    """Fills of the window's orders the handlers missed or got twice, kept for the report."""
    since = (datetime.now(UTC) - window).isoformat(timespec="microseconds")
    view = await venue.view(account, since)
    for order in view.orders:
        if order.status == 2 and recorder.filled[order.id] == 0:
            report.fills_lost.add(order.id)
    report.fills_duplicated.update(i for i, n in recorder.filled.items() if n > 1)


def _forget_checked(table: OrderTable, recorder: Recorder, bot: BotReport) -> None:
    """Drop the harness's own records of orders the client has pruned: they were
    checked while inside the window, and keeping them would be the growth the
    soak is there to rule out."""
    for book in (recorder.filled, bot.known):
        for order_id in [i for i in book if i not in table]:
            del book[order_id]


def _print_growth(baseline: tracemalloc.Snapshot, out: Callable[[str], None]) -> None:
    """The allocation sites that grew most since the first checkpoint (``--tracemalloc``)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)]
    )
    for stat in snapshot.compare_to(baseline, "lineno")[:6]:
        if stat.size_diff > 0:
            frame = stat.traceback[0]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            out(f"    +{stat.size_diff / 1024:8.1f} KiB {stat.count_diff:+7d} blocks  {where}")


def venue_endpoints(venue: Venue) -> Any:
    return venue.gw if isinstance(venue, Control) else venue


def print_report(report: SoakReport, out: Callable[[str], None] = print) -> None:
    first, last = report.checkpoints[0], report.checkpoints[-1]
    out("")
    out(
        f"seed {report.seed}: {last.orders} orders, {report.fills_delivered} ORDER_FILLED "
        f"events, {last.cycles} cycles,"
    )
    out(f"  {report.operations} operations in {last.seconds:.0f} s")
    out("faults injected: " + ", ".join(f"{k} {n}" for k, n in sorted(report.faults.items())))
    out("typed errors the bot handled: " + ", ".join(f"{k} {n}" for k, n in report.errors.items()))
    out(
        f"fills lost: {len(report.fills_lost)}, fills delivered twice: "
        f"{len(report.fills_duplicated)} (checked over a {report.window:.0f} s window)"
    )
    bad = [c for c in report.checkpoints if c.violations]
    out(f"invariant: {'held at every checkpoint' if not bad else f'VIOLATED at {len(bad)}'}")
    if len(report.checkpoints) > 1 and last.orders > first.orders:
        slope = (last.rss_mb - first.rss_mb) * 1024 / ((last.orders - first.orders) / 1000)
        out(
            f"memory: {first.rss_mb:.1f} MiB at {first.orders} orders, {last.rss_mb:.1f} MiB at "
            f"{last.orders} ({slope:+.0f} KiB per 1000 orders); live Python objects "
            f"{first.py_mb:.1f} -> {last.py_mb:.1f} MiB in {first.arenas:.0f} -> "
            f"{last.arenas:.0f} arenas, C heap in use {first.heap_mb:.1f} -> {last.heap_mb:.1f} MiB"
        )
    half = next((c for c in report.checkpoints if c.orders >= last.orders / 2), last)
    if last.orders > half.orders:
        late = (last.rss_mb - half.rss_mb) * 1024 / ((last.orders - half.orders) / 1000)
        out(f"  second half: {half.rss_mb:.1f} -> {last.rss_mb:.1f} MiB ({late:+.0f} KiB per 1000)")
    hubs = report.health.get("hubs", {})
    for name, hub in hubs.items():
        out(
            f"{name} hub: {hub['reconnects']} reconnects, {hub['decode_errors']} decode errors, "
            f"{hub['stale_events']} stale"
        )
    out(f"gaps reported: {report.health.get('gaps')}")


async def run_local(
    orders: int,
    seed: int,
    checkpoint: int,
    window: float = WINDOW,
    out: Callable[[str], None] = print,
) -> SoakReport:
    gw = GatewaySimulator(seed=seed, rate_limits=False, balance=1e7, **SIM_SETTINGS)
    async with gw:
        venue = Control(gw)
        return await soak(
            venue, orders=orders, seed=seed, checkpoint=checkpoint, window=window, out=out
        )


async def run_remote(orders: int, seed: int, checkpoint: int, window: float = WINDOW) -> SoakReport:
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", "--seed", str(seed), stdout=asyncio.subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        venue = RemoteControl((await child.stdout.readline()).decode().strip())
        try:
            return await soak(venue, orders=orders, seed=seed, checkpoint=checkpoint, window=window)
        finally:
            await venue.close()
    finally:
        child.terminate()
        await child.wait()


async def serve(seed: int) -> None:
    """The child process: a simulator with the control API, until terminated."""
    gw = GatewaySimulator(seed=seed, rate_limits=False, balance=1e7, **SIM_SETTINGS)
    async with gw:
        print(gw.control_url, flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--checkpoint", type=int, default=1000)
    parser.add_argument(
        "--window",
        type=float,
        default=WINDOW,
        help="the client's reconciliation window, seconds (what it keeps; what is checked)",
    )
    parser.add_argument("--local", action="store_true", help="simulator in this process")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="print the top growing allocation sites"
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    from pxfast.loop import run

    if args.serve:
        run(serve(args.seed))
        return 0
    runner = run_local if args.local else run_remote
    if args.tracemalloc:
        tracemalloc.start()
    report = run(runner(args.orders, args.seed, args.checkpoint, args.window))
    print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())

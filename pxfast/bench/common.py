"""What both benchmark workers share: the pipe protocol, the timing loops, the control link.

The pxfast worker imports this as ``pxfast.bench.common``; the project-x-py
worker runs in the reference venv (Python 3.12, no pxfast installed) and
loads this very file by path.  So it imports the standard library only, and
both clients are timed by literally the same code.

Clocks: every cross-process timestamp is ``time.monotonic_ns()``
(``CLOCK_MONOTONIC`` on Linux, one clock for every process on the machine),
so a stamp taken in the feed server or just before a control request can be
subtracted from one taken in a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import math
import os
import platform
import random
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Sequence
from importlib.metadata import version
from typing import Any, Protocol, TextIO
from urllib.parse import urlsplit

__all__ = [
    "BenchClient",
    "BenchWorker",
    "ControlLink",
    "Handlers",
    "MarketTally",
    "Recorder",
    "batch_ns",
    "block_ns",
    "bracket_round",
    "each_ns",
    "fill_round",
    "http_round",
    "import_ns",
    "iso_stamp",
    "market_round",
    "new_bar_prints",
    "order_frame",
    "place_round",
    "quiet_gc",
    "reconnect_round",
    "rss_bytes",
    "search_round",
    "serve",
    "trade_frame",
    "trade_tape",
]

#: A worker operation: parameters in, metric id -> measurement out.
Handlers = dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]]

_now = time.perf_counter_ns


# ---------------------------------------------------------------- the worker protocol


def _protocol_channel() -> TextIO:
    """The original stdout, kept for protocol lines; fd 1 then points at stderr.

    Both clients log to stdout (project-x-py's JSON logs do by default), and a
    stray line must never be read as a reply.
    """
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


async def serve(handlers: Handlers) -> None:
    """Answer one JSON request per stdin line with one JSON reply line, until EOF.

    Request: ``{"op": name, "params": {...}}``.  Reply: ``{"ok": true,
    "result": {...}}`` or ``{"ok": false, "error": text}``.  Requests are run
    one at a time, so a measurement never overlaps another.
    """
    channel = _protocol_channel()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        request = json.loads(line)
        op = request["op"]
        try:
            handler = handlers[op]
            reply: dict[str, Any] = {"ok": True, "result": await handler(request["params"])}
        except Exception as exc:  # reported to the runner, which decides
            reply = {"ok": False, "error": f"{op}: {type(exc).__name__}: {exc}"}
            traceback.print_exc()
        channel.write(json.dumps(reply) + "\n")
        if op == "quit":
            return


# ---------------------------------------------------------------- inputs


def order_tag(order_id: int) -> str:
    """A unique tag like the ones pxfast gives every order it places (the memory case)."""
    return f"pxf-123a1b2c3-{order_id}"


def order_frame(template: str, order_id: int, status: int, tag: str = "bench") -> str:
    """One GatewayUserOrder frame from the runner's template: ``status`` 1 (Open, nothing
    filled) or 2 (Filled at the limit), stamped so the fill is newer than the open."""
    filled = status == 2
    return template % {
        "id": order_id,
        "status": status,
        "fill": 1 if filled else 0,
        "price": "20000.0" if filled else "null",
        "tag": tag,
        "micro": 200000 if filled else 100000,
    }


#: Prices of the trade tape and the NEW_BAR frames are whole ticks of MNQ's 0.25.
TICK = 0.25
#: 2025-12-01 15:00 UTC, a Monday inside the CME session (a minute edge).
TAPE_START_NS = 1_764_601_200 * 1_000_000_000


def trade_tape(seed: int, count: int) -> tuple[list[int], list[int], list[int]]:
    """An MNQ-like tape, the same in both workers: (exchange time ns, price in ticks, size).

    A one-tick random walk, sizes 1-4, trades on average 10 ms apart (drawn
    from an exponential: bursts and pauses), so a 1-minute bar takes ~6 000.
    Made with ``random`` (the reference venv need not have numpy).
    """
    rng = random.Random(seed)
    ts_ns, ticks, sizes = [], [], []
    now, price = float(TAPE_START_NS), 84_000
    for _ in range(count):
        now += -math.log(1.0 - rng.random()) * 10e6
        price += rng.randint(-1, 1)
        ts_ns.append(int(now))
        ticks.append(price)
        sizes.append(rng.randint(1, 4))
    return ts_ns, ticks, sizes


def iso_stamp(ts_ns: int) -> str:
    """The Gateway's time stamp text (UTC, microseconds) for ``ts_ns``."""
    whole, fraction = divmod(ts_ns, 1_000_000_000)
    clock = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{clock}.{fraction // 1000:06d}+00:00"


def new_bar_prints(count: int) -> list[tuple[int, float]]:
    """(exchange time ns, price) of ``count`` prints a minute apart: each opens a 1-minute bar."""
    return [(TAPE_START_NS + 60_000_000_000 * i + 1_000_000, 21000.0 + (i % 8) * TICK)
            for i in range(count)]  # fmt: skip


def trade_frame(contract: str, ts_ns: int, price: float) -> str:
    """One GatewayTrade frame as the Gateway sends it: one print (size 2), one record."""
    trade = {"symbolId": "F.US.MNQ", "price": price, "timestamp": iso_stamp(ts_ns), "type": 0,
             "volume": 2}  # fmt: skip
    record = {"type": 1, "target": "GatewayTrade", "arguments": [contract, [trade]]}
    return json.dumps(record, separators=(",", ":")) + "\x1e"


async def import_ns(statement: str, samples: int) -> list[float]:
    """ns of ``statement`` in each of ``samples`` fresh interpreters (this one's executable),
    timed inside the child around the import alone, so interpreter start-up is left out.

    Bytecode is cached as an installed package has it (pip compiles on install):
    ``PYTHONDONTWRITEBYTECODE`` is dropped and one unmeasured run comes first, so
    a source checkout is not charged for recompiling its modules on every start.
    """
    code = (
        "import time; _t = time.perf_counter_ns(); " + statement
        + "; print(time.perf_counter_ns() - _t)"
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out: list[float] = []
    for sample in range(samples + 1):
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        stdout, _ = await asyncio.wait_for(child.communicate(), 120)
        if child.returncode != 0:
            raise RuntimeError(f"{statement!r} failed in a fresh interpreter ({child.returncode})")
        if sample:
            out.append(float(stdout.split()[-1]))
    return out


# ---------------------------------------------------------------- timing loops


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """No cyclic collection inside a timed loop (it would land on one random sample)."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_NO_ARG: Any = object()


def batch_ns(
    call: Callable[..., object],
    inputs: Sequence[Any],
    samples: int,
    *,
    arg: Any = _NO_ARG,
    min_ns: int = 2_000_000,
) -> list[float]:
    """Per-call ns: each sample is a Python ``for`` loop calling ``call(item)`` (or
    ``call(item, arg)``) over ``inputs``, loop included, repeated until it lasts
    ``min_ns``, divided by the calls made.

    For calls too short to time one by one (tens of ns), where the clock read
    would be most of the figure.  The function is called directly, never
    through a wrapper, whose own cost would be charged to it.
    """

    def run(repeat: int) -> int:
        start = _now()
        if arg is _NO_ARG:
            for _ in range(repeat):
                for item in inputs:
                    call(item)
        else:
            for _ in range(repeat):
                for item in inputs:
                    call(item, arg)
        return _now() - start

    repeat = 1
    while run(repeat) < min_ns:  # calibrate once, so every sample does the same work
        repeat *= 2
    with quiet_gc():
        return [run(repeat) / (repeat * len(inputs)) for _ in range(samples)]


async def block_ns(
    call: Callable[[Any], Awaitable[object] | object], blocks: Sequence[Sequence[Any]]
) -> list[float]:
    """Per-call ns over each block of inputs, each input used once (state-changing calls:
    a fresh order per update).  Awaits the result when ``call`` is a coroutine function."""
    out: list[float] = []
    is_async = asyncio.iscoroutinefunction(call)
    with quiet_gc():
        for block in blocks:
            start = _now()
            if is_async:
                for item in block:
                    await call(item)  # type: ignore[misc]
            else:
                for item in block:
                    call(item)
            out.append((_now() - start) / len(block))
    return out


async def each_ns(call: Callable[[], Awaitable[object]], samples: int) -> list[float]:
    """ns of each awaited call, one sample per call (the distribution is the point)."""
    out: list[float] = []
    with quiet_gc():
        for _ in range(samples):
            start = _now()
            await call()
            out.append(float(_now() - start))
    return out


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (Linux), else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ---------------------------------------------------------------- the control link


class ControlLink:
    """A blocking keep-alive HTTP/1.1 client for ``POST <base>/<operation>`` (JSON).

    Used for the simulator's and the feed's control APIs.  It is deliberately
    the same tiny client in both workers, so a latency that starts with a
    control request (fill -> handler) charges both clients the same cost.
    ``send`` stamps the time just before the request leaves; ``receive`` reads
    the answer later, after the event it caused has been observed.
    """

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._path = parts.path.rstrip("/")
        self._sock: socket.socket | None = None
        self._buffer = b""

    def _socket(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.create_connection((self._host, self._port), timeout=30)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._sock

    def send(self, operation: str, **kwargs: Any) -> int:
        """Send the request; returns the monotonic ns stamp taken just before it left."""
        body = json.dumps(kwargs).encode()
        head = (
            f"POST {self._path}/{operation} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        sock = self._socket()
        stamp = time.monotonic_ns()
        sock.sendall(head + body)
        return stamp

    def receive(self) -> Any:
        """The answer's ``result``; raises RuntimeError on an error answer."""
        sock = self._socket()
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._recv(sock)
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self._recv(sock)
        self._buffer = rest[length:]
        answer = json.loads(rest[:length]) if length else {}
        if not answer.get("ok", False):
            raise RuntimeError(f"control: {head.split(b' ', 2)[1:2]} {answer.get('error')}")
        return answer.get("result")

    def call(self, operation: str, **kwargs: Any) -> Any:
        self.send(operation, **kwargs)
        return self.receive()

    def _recv(self, sock: socket.socket) -> bytes:
        chunk = sock.recv(65536)
        if not chunk:
            self.close()
            raise ConnectionError("control connection closed")
        return chunk

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buffer = b""


# ---------------------------------------------------------------- the network scenarios


class Recorder:
    """Monotonic-ns stamps of the order events a client's handlers saw, by order id."""

    def __init__(self) -> None:
        self.filled: dict[int, int] = {}
        self.cancelled: dict[int, int] = {}
        self.ready: list[int] = []
        self._changed: asyncio.Event | None = None

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def on_filled(self, order_id: int) -> None:
        self.filled[order_id] = time.monotonic_ns()
        self._wake()

    def on_cancelled(self, order_id: int) -> None:
        self.cancelled[order_id] = time.monotonic_ns()
        self._wake()

    def on_ready(self) -> None:
        """The client says its user stream is connected and current again."""
        self.ready.append(time.monotonic_ns())
        self._wake()

    async def until(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Wait (bounded) until ``condition()`` holds, re-checking after every event."""
        if self._changed is None:
            self._changed = asyncio.Event()
        deadline = time.monotonic() + timeout
        while not condition():
            self._changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the awaited order event never came")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)


class MarketTally:
    """What the market-load handlers saw: deliveries per kind ("quote", "trade"), first
    and last arrival, and the latency of each stamped user-hub event."""

    def __init__(self) -> None:
        self.counts = {"quote": 0, "trade": 0}
        self.first = 0
        self.last = 0
        self.user_latency: list[float] = []

    def on_market(self, kind: str) -> None:
        self.counts[kind] += 1
        self.on_progress()

    def on_progress(self) -> None:
        """Market data handled, whatever the event (the end of the flood is the last one)."""
        now = time.monotonic_ns()
        if not self.first:
            self.first = now
        self.last = now

    def on_user(self, tag: str | None) -> None:
        """A user-hub order whose custom tag carries the feed's send stamp (``lat:<ns>``)."""
        if tag and tag.startswith("lat:"):
            self.user_latency.append(float(time.monotonic_ns() - int(tag[4:])))


class BenchClient(Protocol):
    """What a worker exposes of its client to the shared scenarios (one per library)."""

    username: str
    account_id: int
    recorder: Recorder
    #: The market kinds its suite delivers one event each for (the "dropped" count).
    market_kinds: tuple[str, ...]

    async def search_open(self) -> object: ...

    async def place_limit(self, side: int, price: float) -> int: ...

    async def cancel_all(self) -> None: ...

    async def place_bracket(self, entry: float, stop: float, target: float) -> tuple[int, int]:
        """Returns (stop order id, target order id) once the client's call returns."""
        ...

    async def market_session(
        self, urls: dict[str, str], tally: MarketTally
    ) -> Callable[[], Awaitable[None]]:
        """A second, full client whose hubs are the feed's; returns its closer."""
        ...

    def raw_http(self) -> dict[str, Callable[[], Awaitable[object]]]: ...

    async def close(self) -> None: ...


async def _burst(call: Callable[[], Awaitable[object]], width: int) -> tuple[float, list[float]]:
    """``width`` concurrent calls: (calls per second, each call's ns)."""
    latencies: list[float] = []

    async def timed() -> None:
        start = _now()
        await call()
        latencies.append(float(_now() - start))

    start = _now()
    await asyncio.gather(*(timed() for _ in range(width)))
    return width / ((_now() - start) / 1e9), latencies


async def _bursts(
    call: Callable[[], Awaitable[object]],
    width: int,
    count: int,
    after: Callable[[], Awaitable[object]] | None = None,
) -> tuple[list[float], list[float]]:
    rates: list[float] = []
    latencies: list[float] = []
    with quiet_gc():
        for _ in range(count):
            rate, each = await _burst(call, width)
            rates.append(rate)
            latencies.extend(each)
            if after is not None:
                await after()
    return rates, latencies


async def search_round(client: BenchClient, params: dict[str, Any]) -> dict[str, Any]:
    """Order/searchOpen one by one and 50 at a time (a read; the account has no orders).

    Run before any placement: the simulator's searchOpen scans the account's
    whole order history, so it slows down as orders accumulate.
    """
    n, width, bursts = params["sequential"], params["width"], params["bursts"]
    rates, _ = await _bursts(client.search_open, width, bursts)
    return {"rest.search_open": await each_ns(client.search_open, n), "rest.search_open_50": rates}


async def place_round(client: BenchClient, params: dict[str, Any]) -> dict[str, Any]:
    """place -> ack of a resting limit order, one by one and 50 at a time (then cancelled)."""
    n, width, bursts, price = (
        params["sequential"],
        params["width"],
        params["bursts"],
        params["price"],
    )
    out: dict[str, Any] = {"rest.place": await each_ns(lambda: client.place_limit(0, price), n)}
    await client.cancel_all()
    out["rest.place_50"], out["rest.place_50_latency"] = await _bursts(
        lambda: client.place_limit(0, price), width, bursts, client.cancel_all
    )
    return out


async def http_round(client: BenchClient, params: dict[str, Any]) -> dict[str, Any]:
    """The same searchOpen request through bare HTTP libraries, keyed by library."""
    out: dict[str, Any] = {}
    for name, request in client.raw_http().items():
        sequential = await each_ns(request, params["sequential"])
        rates, _ = await _bursts(request, params["width"], params["bursts"])
        out[name] = {"http.search_open": sequential, "http.search_open_50": rates}
    return out


async def fill_round(
    client: BenchClient, link: ControlLink, params: dict[str, Any]
) -> dict[str, Any]:
    """Gateway fill -> ORDER_FILLED handler: a resting order, then the simulator fills it.

    Buys at the low price and sells at the high one in turn, so the position
    opens and closes and never grows.
    """
    samples: list[float] = []
    rec = client.recorder
    for i in range(params["fills"]):
        side = i % 2
        order_id = await client.place_limit(side, params["fill_prices"][side])
        await asyncio.sleep(0.005)  # its own placement events are handled first
        start = link.send("fill", order_id=order_id)
        await rec.until(lambda order_id=order_id: order_id in rec.filled)  # type: ignore[misc]
        link.receive()
        samples.append(float(rec.filled[order_id] - start))
    return {"fill.handler": samples}


async def bracket_round(
    client: BenchClient, link: ControlLink, params: dict[str, Any]
) -> dict[str, Any]:
    """Place a bracket whose entry fills at once, then move the market through the target;
    done when the target's fill and the stop's cancel have both reached the handlers."""
    symbol, base = params["symbol"], params["base_price"]
    entry, stop, target = base + 0.25, base - 4.75, base + 5.25
    wall: list[float] = []
    cpu: list[float] = []
    rec = client.recorder
    for _ in range(params["brackets"]):
        link.call("set_price", symbol_or_id=symbol, price=str(base))
        await asyncio.sleep(0.02)  # the quote reaches the client first
        cpu_start, start = time.process_time_ns(), _now()
        stop_id, target_id = await client.place_bracket(entry, stop, target)
        link.call("set_price", symbol_or_id=symbol, price=str(target), bid=str(target))
        await rec.until(
            lambda stop_id=stop_id, target_id=target_id: (  # type: ignore[misc]
                target_id in rec.filled and stop_id in rec.cancelled
            )
        )
        wall.append(float(_now() - start))
        cpu.append(float(time.process_time_ns() - cpu_start))
    await client.cancel_all()
    return {"bracket.wall": wall, "bracket.cpu": cpu}


async def reconnect_round(
    client: BenchClient, link: ControlLink, params: dict[str, Any]
) -> dict[str, Any]:
    """The simulator closes the client's user-hub socket; time until the client is ready."""
    samples: list[float] = []
    rec = client.recorder
    for _ in range(params["reconnects"]):
        seen = len(rec.ready)
        start = link.send("close_hub_connections", hub="user", user=client.username)
        link.receive()
        await rec.until(lambda seen=seen: len(rec.ready) > seen)  # type: ignore[misc]
        samples.append(float(rec.ready[-1] - start))
        await asyncio.sleep(0.2)
    return {"reconnect.ready": samples}


async def market_round(
    client: BenchClient, feed: ControlLink, urls: dict[str, str], params: dict[str, Any]
) -> dict[str, Any]:
    """The feed floods the market hub as fast as the client reads; user events ride along.

    Absorbed = market records sent / time from the first to the last market
    event at the handlers; dropped = records sent but not delivered, over the
    kinds the client's suite has a per-record event for.
    """
    tally = MarketTally()
    close = await client.market_session(urls, tally)
    try:
        sent: dict[str, int] = feed.call(
            "start", events=params["events"], user_interval_ms=params["user_interval_ms"]
        )
        deadline = time.monotonic() + params["timeout"]
        seen = -1
        while True:  # until the feed is done and nothing more arrives for a while
            await asyncio.sleep(0.5)
            if tally.last == seen and tally.last and feed.call("status")["done"]:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"market flood not absorbed within {params['timeout']} s")
            seen = tally.last
    finally:
        await close()
    duration = max(tally.last - tally.first, 1) / 1e9
    return {
        "market.absorb": [sum(sent.values()) / duration],
        "market.dropped": [
            float(sum(max(0, sent.get(k, 0) - tally.counts[k]) for k in client.market_kinds))
        ],
        "market.user_latency": tally.user_latency,
        "market.sent": sent,
        "market.delivered": dict(tally.counts),
    }


# ---------------------------------------------------------------- the worker


Scenario = Callable[[BenchClient, dict[str, Any]], Awaitable[dict[str, Any]]]
SimScenario = Callable[[BenchClient, ControlLink, dict[str, Any]], Awaitable[dict[str, Any]]]
Operation = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class BenchWorker:
    """One library's side of the benchmark: the lifecycle and the network scenarios,
    shared; the client (``open_client``) and the in-process paths, per library."""

    #: The distributions whose versions the report names.
    packages: tuple[str, ...] = ()
    #: What a user's script runs first (the import-time row).
    import_statement = ""

    def __init__(self) -> None:
        self.client: BenchClient | None = None
        self.sim: ControlLink | None = None
        self.feed: ControlLink | None = None
        self.feed_urls: dict[str, str] = {}

    async def open_client(self, username: str, urls: dict[str, str]) -> BenchClient:
        """The library's suite on the simulator, its handlers attached."""
        raise NotImplementedError

    # The in-process paths, measured inside this process with the library's own objects.

    async def ticks(self, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def decode(self, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def fsm(self, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def bus(self, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def wire(self, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def memory(self, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    async def bars(self, params: dict[str, Any]) -> dict[str, Any]:
        """Trade ingest into 4 timeframes, ``get_data`` on 10 000 bars, memory per bar."""
        raise NotImplementedError

    async def new_bar(self, params: dict[str, Any]) -> dict[str, Any]:
        """A GatewayTrade frame that opens a bar -> the first NEW_BAR handler."""
        raise NotImplementedError

    async def imports(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"import.suite": await import_ns(self.import_statement, params["samples"])}

    def handlers(self) -> Handlers:
        return {
            "setup": self.setup,
            "quit": self.quit,
            "ticks": self.ticks,
            "decode": self.decode,
            "fsm": self.fsm,
            "bus": self.bus,
            "wire": self.wire,
            "memory": self.memory,
            "bars": self.bars,
            "newbar": self.new_bar,
            "imports": self.imports,
            "search": self.network(search_round),
            "place": self.network(place_round),
            "http": self.network(http_round),
            "fill": self.with_sim(fill_round),
            "bracket": self.with_sim(bracket_round),
            "reconnect": self.with_sim(reconnect_round),
            "market": self.market,
        }

    async def setup(self, params: dict[str, Any]) -> dict[str, Any]:
        urls: dict[str, str] = params["urls"]
        self.sim = ControlLink(urls["control_url"])
        if "feed_control_url" in urls:
            self.feed = ControlLink(urls["feed_control_url"])
            self.feed_urls = {
                "user_hub_url": urls["feed_url"] + "/hubs/user",
                "market_hub_url": urls["feed_url"] + "/hubs/market",
            }
        self.client = await self.open_client(params["username"], urls)
        self.sim.call("set_balance", account_id=self.client.account_id, balance=params["balance"])
        return self.describe()

    def describe(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        return {
            "python": platform.python_version(),
            "loop": f"{type(loop).__module__}.{type(loop).__name__}",
            "versions": {name: version(name) for name in self.packages},
        }

    async def quit(self, _params: dict[str, Any]) -> dict[str, Any]:
        if self.client is not None:
            await self.client.close()
        return {}

    def connected(self) -> BenchClient:
        if self.client is None:
            raise RuntimeError("setup first")
        return self.client

    def network(self, scenario: Scenario) -> Operation:
        async def run(params: dict[str, Any]) -> dict[str, Any]:
            return await scenario(self.connected(), params)

        return run

    def with_sim(self, scenario: SimScenario) -> Operation:
        async def run(params: dict[str, Any]) -> dict[str, Any]:
            assert self.sim is not None
            return await scenario(self.connected(), self.sim, params)

        return run

    async def market(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.feed is None:
            raise RuntimeError("no feed server")
        return await market_round(self.connected(), self.feed, self.feed_urls, params)

"""``pxfast bench``: every performance figure, side by side with project-x-py, in one run.

The runner starts four processes and only coordinates them, so it never
competes with what it measures:

* the simulator (``python -m pxfast.sim --no-rate-limit --paused``), REST and
  hubs for both clients, each logged in as its own user;
* the feed (``python -m pxfast.bench.feed``), the market-load replay server;
* the pxfast worker (this interpreter) and the project-x-py worker (the
  reference venv's Python 3.12, built or reused by
  ``pxfast.reference.ensure_reference_venv``).

Each operation runs for both clients in alternating rounds (pxfast first in
even rounds, project-x-py first in odd ones), so drift of the machine's load
lands on both.  Memory is measured in fresh worker processes.  The pooled
samples are summarized into ``<out>/<date>-<machine>[-quick].json``, the
Markdown report next to it, and the latency plot when matplotlib is there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import select
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pxfast.bench import inputs
from pxfast.bench.report import summarize, write_markdown
from pxfast.bench.scenarios import METRICS, metric
from pxfast.reference import ReferenceUnavailable, ensure_reference_venv

__all__ = ["add_arguments", "run"]

WORKER_DIR = Path(__file__).resolve().parent
STARTUP_TIMEOUT = 60.0
OP_TIMEOUT = 600.0
SEED = 20251124
BALANCE = 1e12
METRIC_IDS = {m.id for m in METRICS}


@dataclass(frozen=True)
class Sizes:
    """How much each operation does per round; --quick keeps the whole run under a minute."""

    rounds: int
    tick_samples: int
    decode_samples: int
    fsm_samples: int
    bus_samples: int
    wire_samples: int
    rest_sequential: int
    rest_bursts: int
    fills: int
    brackets: int
    reconnects: int
    market_events: int
    #: Bars: pxfast's ingest samples (each the whole tape, and the per-call loop over
    #: ``bar_each_trades`` of it); project-x-py's ticks (blocks of ``pxpy_bar_block``).
    bar_samples: int
    pxpy_bar_ticks: int
    get_data_samples: int
    new_bars: int
    imports: int
    memory_orders: int = 100_000
    bar_trades: int = 1_000_000
    bar_each_trades: int = 100_000
    pxpy_bar_block: int = 200


QUICK = Sizes(1, 9, 7, 9, 2000, 1000, 100, 4, 20, 2, 1, 60_000, 3, 600, 200, 100, 5)
FULL = Sizes(3, 21, 15, 31, 20_000, 5000, 500, 20, 100, 10, 3, 300_000, 5, 2000, 1000, 400, 11)
#: The timeframes of the bar rows (issue #13).
BAR_TIMEFRAMES = ["1min", "5min", "15min", "1hr"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="small samples, one round (< 60 s)")
    parser.add_argument("--rounds", type=int, help="alternating rounds per scenario")
    parser.add_argument("--out-dir", type=Path, help="default: bench/results of the checkout")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="OP",
        help=f"run only these operations (repeatable): {', '.join(OPS)}",
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="pxfast's event loop (project-x-py runs on asyncio, its default)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")


#: Worker operations in run order: the searchOpen ones ("http", "search") before anything
#: places an order (the simulator's searchOpen slows down with the account's history);
#: memory last, in fresh processes.
OPS = ("ticks", "decode", "fsm", "bus", "wire", "bars", "newbar", "imports", "http", "search",
       "place", "fill", "bracket", "reconnect", "market", "memory")  # fmt: skip


def op_params(op: str, sizes: Sizes, seed: int) -> dict[str, Any]:
    """What both workers get for ``op``: identical inputs and sizes."""
    template = inputs.ORDER_TEMPLATE
    if op == "ticks":
        return {**inputs.tick_inputs(seed), "samples": sizes.tick_samples,
                "batch_size": 1_000_000}  # fmt: skip
    if op == "decode":
        return {"frames": inputs.decode_frames(), "samples": sizes.decode_samples}
    if op == "fsm":
        return {"template": template, "samples": sizes.fsm_samples, "orders_per_block": 500}
    if op == "bus":
        return {"samples": sizes.bus_samples}
    if op == "wire":
        return {"template": template, "samples": sizes.wire_samples}
    if op == "bars":
        return {"timeframes": BAR_TIMEFRAMES, "seed": seed, "samples": sizes.bar_samples,
                "batch_trades": sizes.bar_trades, "each_trades": sizes.bar_each_trades,
                "pxpy_trades": sizes.pxpy_bar_ticks, "pxpy_block": sizes.pxpy_bar_block,
                "bars": 10_000, "get_data_samples": sizes.get_data_samples}  # fmt: skip
    if op == "newbar":
        return {"timeframes": BAR_TIMEFRAMES, "contract": inputs.CONTRACT,
                "samples": sizes.new_bars}  # fmt: skip
    if op == "imports":
        return {"samples": sizes.imports}
    if op in ("http", "search", "place"):
        return {"sequential": sizes.rest_sequential, "width": 50, "bursts": sizes.rest_bursts,
                "price": 20000.0}  # fmt: skip
    if op == "fill":
        return {"fills": sizes.fills, "fill_prices": [20000.0, 22000.0]}
    if op == "bracket":
        return {"brackets": sizes.brackets, "symbol": "MNQ", "base_price": 21000.0}
    if op == "reconnect":
        return {"reconnects": sizes.reconnects}
    if op == "market":
        return {"events": sizes.market_events, "user_interval_ms": 1.0, "timeout": 180.0}
    if op == "memory":
        return {"template": template, "orders": sizes.memory_orders}
    raise ValueError(op)


# ---------------------------------------------------------------- processes


def _read_exports(process: subprocess.Popen[bytes], last_key: str) -> dict[str, str]:
    """The KEY=VALUE lines a server prints when ready (bounded wait, raw fd reads)."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    text = b""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while f"{last_key}=".encode() not in text or not text.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(f"{process.args!r} printed no {last_key} in {STARTUP_TIMEOUT} s")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise RuntimeError(f"{process.args!r} exited early with {process.wait()}")
        text += chunk
    exports = {}
    for line in text.decode().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            exports[key] = value
    return exports


@contextmanager
def _server(command: list[str], last_key: str, log: IO[bytes]) -> Iterator[dict[str, str]]:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        yield _read_exports(process, last_key)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class WorkerProcess:
    """A worker over its pipes: one JSON request line in, one reply line out."""

    def __init__(self, name: str, command: list[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip

    def request(self, op: str, params: dict[str, Any], timeout: float = OP_TIMEOUT) -> Any:
        process = self.process
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write((json.dumps({"op": op, "params": params}) + "\n").encode())
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError(f"{self.name}: {op} took over {timeout:g} s")
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} exited ({process.wait()}); see {self.log_path}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise RuntimeError(reply["error"])
        return reply["result"]

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.request("quit", {}, timeout=30)
            except (RuntimeError, TimeoutError, OSError):
                pass
            _stop(self.process)
        self._log.close()


# ---------------------------------------------------------------- the run


@dataclass
class Collected:
    """Raw results: per metric, per client, one sample list per round."""

    rounds: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)
    details: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, client: str, result: dict[str, Any]) -> None:
        for key, value in result.items():
            if key in METRIC_IDS:
                self.rounds.setdefault(key, {}).setdefault(client, []).append(list(value))
            else:
                self.details.setdefault(client, {}).setdefault(key, []).append(value)


def _machine() -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", platform.node() or "machine")[:40]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def default_out_dir() -> Path:
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").exists() and (checkout / "bench").is_dir():
        return checkout / "bench" / "results"
    return Path.cwd() / "bench-results"


def run_ops(
    workers: Sequence[WorkerProcess], ops: Sequence[str], sizes: Sizes, seed: int,
    collected: Collected, say: Any,
) -> None:  # fmt: skip
    """Each op for each worker, alternating who goes first round by round."""
    for op in ops:
        params = op_params(op, sizes, seed)
        started = time.monotonic()
        for round_no in range(sizes.rounds):
            order = workers if round_no % 2 == 0 else list(reversed(workers))
            for worker in order:
                try:
                    result = worker.request(op, params)
                except (RuntimeError, TimeoutError) as exc:
                    collected.errors.append(f"{worker.name} {op} round {round_no + 1}: {exc}")
                    say(f"  ! {worker.name} {op}: {exc}")
                    continue
                if op == "http":  # keyed by HTTP library, each its own column
                    for library, metrics in result.items():
                        collected.add(library, metrics)
                else:
                    collected.add(worker.name, result)
        say(f"  {op}: {time.monotonic() - started:.1f} s")


def run(args: argparse.Namespace) -> int:
    sizes = QUICK if args.quick else FULL
    if args.rounds:
        sizes = Sizes(**{**sizes.__dict__, "rounds": args.rounds})
    unknown = set(args.only) - set(OPS)
    if unknown:
        print(f"unknown operations: {sorted(unknown)}; choose from {', '.join(OPS)}")
        return 2
    ops = [op for op in OPS if not args.only or op in args.only]
    out_dir: Path = args.out_dir or default_out_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    stem = f"{started:%Y-%m-%d}-{_machine()}{'-quick' if args.quick else ''}"
    command = shlex.join(["pxfast", "bench", *(sys.argv[2:] if sys.argv[1:2] == ["bench"] else [])])

    def say(text: str) -> None:
        print(text, flush=True)

    try:
        reference = ensure_reference_venv()
    except ReferenceUnavailable as exc:
        say(f"project-x-py reference unavailable: {exc}")
        return 1
    logs = Path(tempfile.mkdtemp(prefix="pxfast-bench-"))
    say(f"pxfast bench: {'quick' if args.quick else 'full'}, {sizes.rounds} round(s); "
        f"logs in {logs}")  # fmt: skip
    load_before, uptime_before = _load(), _uptime()
    collected = Collected()
    describe: dict[str, Any] = {}
    with ExitStack() as stack:
        sim_log = stack.enter_context((logs / "sim.log").open("ab"))
        sim = stack.enter_context(_server(
            [sys.executable, "-m", "pxfast.sim", "--port", "0", "--seed", str(args.seed),
             "--paused", "--no-rate-limit"],
            "PXFAST_SIM_CONTROL_URL", sim_log,
        ))  # fmt: skip
        urls = {
            "api_url": sim["PROJECTX_API_URL"],
            "user_hub_url": sim["PROJECTX_USER_HUB_URL"],
            "market_hub_url": sim["PROJECTX_MARKET_HUB_URL"],
            "control_url": sim["PXFAST_SIM_CONTROL_URL"],
        }
        if "market" in ops:
            feed_log = stack.enter_context((logs / "feed.log").open("ab"))
            feed = stack.enter_context(_server(
                [sys.executable, "-m", "pxfast.bench.feed", "--seed", str(args.seed)],
                "FEED_CONTROL_URL", feed_log,
            ))  # fmt: skip
            urls |= {"feed_url": feed["FEED_URL"], "feed_control_url": feed["FEED_CONTROL_URL"]}
        network_ops = [op for op in ops if op != "memory"]
        if network_ops:
            workers = [
                _worker("pxfast", args.loop, reference, logs),
                _worker("pxpy", args.loop, reference, logs),
            ]
            for worker in workers:
                stack.callback(worker.close)
            for worker in workers:
                describe[worker.name] = worker.request(
                    "setup", {"urls": urls, "username": f"bench-{worker.name}",
                              "balance": BALANCE},
                )  # fmt: skip
            run_ops(workers, network_ops, sizes, args.seed, collected, say)
    if "memory" in ops:
        _memory(args, reference, logs, sizes, collected, describe, say)
    finished = datetime.now(UTC)
    results = {
        "meta": {
            "date": started.isoformat(timespec="seconds"),
            "seconds": round((finished - started).total_seconds(), 1),
            "command": command,
            "mode": "quick" if args.quick else "full",
            "rounds": sizes.rounds,
            "sizes": sizes.__dict__,
            "seed": args.seed,
            "machine": platform.node(),
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "os": platform.platform(),
            "load_before": load_before,
            "load_after": _load(),
            "uptime_before": uptime_before,
            "uptime_after": _uptime(),
            "clients": describe,
        },
        "metrics": {
            metric_id: {
                client: _summary(metric_id, per_round) for client, per_round in by_client.items()
            }
            for metric_id, by_client in collected.rounds.items()
        },
        "details": collected.details,
        "errors": collected.errors,
    }
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(_compact(results)) + "\n")
    png_path: Path | None = out_dir / f"{stem}.png"
    if args.no_plot:
        png_path = None
    else:
        try:
            from pxfast.bench.plot import write_png
        except ImportError:
            say("matplotlib is not installed (pip install 'pxfast[bench]'): no plot")
            png_path = None
        else:
            assert png_path is not None
            write_png(results, png_path)
    md_path = out_dir / f"{stem}.md"
    write_markdown(results, md_path, png_path.name if png_path else None)
    say(f"wrote {json_path}, {md_path}" + (f", {png_path}" if png_path else ""))
    if collected.errors:
        say(f"{len(collected.errors)} error(s); the processes' logs are in {logs}")
    else:
        shutil.rmtree(logs, ignore_errors=True)
    text = md_path.read_text()
    budgets = text[text.find("## Budgets") :]
    say(budgets[: budgets.find("\n## ", 1)].rstrip())
    return 0


def _summary(metric_id: str, per_round: list[list[float]]) -> dict[str, Any]:
    """The summary, with the 101 quantiles kept only where the plot draws them."""
    summary = summarize(per_round)
    if not metric(metric_id).plot:
        summary.pop("quantiles", None)
    return summary


def _compact(value: Any) -> Any:
    """Floats to 5 significant digits: the figures keep their precision, the file stays small."""
    if isinstance(value, float):
        return float(f"{value:.5g}")
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _worker(name: str, loop: str, reference: Path, logs: Path) -> WorkerProcess:
    if name == "pxfast":
        command = [sys.executable, "-m", "pxfast.bench.pxfast_worker", "--loop", loop]
    else:
        command = [str(reference), str(WORKER_DIR / "pxpy_worker.py")]
    return WorkerProcess(name, command, logs / f"{name}.log")


def _memory(
    args: argparse.Namespace, reference: Path, logs: Path, sizes: Sizes,
    collected: Collected, describe: dict[str, Any], say: Any,
) -> None:  # fmt: skip
    """Each client in a fresh process, so the RSS figures start from the same clean state."""
    params = op_params("memory", sizes, args.seed)
    started = time.monotonic()
    for name in ("pxfast", "pxpy"):
        worker = _worker(name, args.loop, reference, logs)
        try:
            result = worker.request("memory", params)
            collected.add(name, result)
        except (RuntimeError, TimeoutError) as exc:
            collected.errors.append(f"{name} memory: {exc}")
            say(f"  ! {name} memory: {exc}")
        finally:
            worker.close()
        describe.setdefault(name, {})
    say(f"  memory: {time.monotonic() - started:.1f} s")

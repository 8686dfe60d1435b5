"""From pooled samples to figures, budgets and the Markdown report.

Pure functions of the results JSON (no timing here), so the report can be
regenerated from a committed JSON and is tested with synthetic data:
``python -m pxfast.bench.report bench/results/<file>.json`` rewrites the
Markdown next to it.
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pxfast.bench.scenarios import CLIENT_NAMES, METRICS, Check, Metric

__all__ = ["Row", "evaluate", "render", "summarize", "write_markdown"]


def summarize(per_round: list[list[float]]) -> dict[str, Any]:
    """Median, p99, mean, extremes and 101 quantiles of all rounds' samples pooled,
    plus each round's median (raw units)."""
    pooled = sorted(x for samples in per_round for x in samples)
    if not pooled:
        return {"n": 0}
    if len(pooled) == 1:
        quantiles = [pooled[0]] * 101
    else:
        cuts = statistics.quantiles(pooled, n=100, method="inclusive")
        quantiles = [pooled[0], *cuts, pooled[-1]]
    return {
        "n": len(pooled),
        "median": statistics.median(pooled),
        "p99": quantiles[99],
        "mean": statistics.fmean(pooled),
        "min": pooled[0],
        "max": pooled[-1],
        "round_medians": [statistics.median(s) for s in per_round if s],
        "quantiles": quantiles,
    }


@dataclass(frozen=True)
class Row:
    """One metric's figures in display units, with its budget verdicts."""

    metric: Metric
    figures: dict[str, dict[str, float]]  # client -> {"median", "p99"} (display unit)
    ratio: float | None
    verdicts: list[tuple[Check, bool | None, str]]  # (check, met; None: not measurable, detail)

    @property
    def met(self) -> bool | None:
        if not self.verdicts:
            return None
        results = [ok for _, ok, _ in self.verdicts]
        if any(ok is False for ok in results):
            return False
        return None if any(ok is None for ok in results) else True


def _display(summary: dict[str, Any], scale: float) -> dict[str, float]:
    return {"median": summary["median"] / scale, "p99": summary["p99"] / scale}


def _speedup(metric: Metric, ours: float, theirs: float) -> float | None:
    if ours <= 0 or theirs <= 0:
        return None
    return theirs / ours if metric.lower_is_better else ours / theirs


def _judge(
    metric: Metric, check: Check, figures: dict[str, dict[str, float]]
) -> tuple[bool | None, str]:
    ours = figures.get("pxfast")
    theirs = figures.get("pxpy")
    if ours is None:
        return None, "not measured"
    if check.kind in ("speedup", "speedup_p99"):
        if theirs is None:
            return None, "no project-x-py figure"
        key = "median" if check.kind == "speedup" else "p99"
        ratio = _speedup(metric, ours[key], theirs[key])
        if ratio is None:
            return None, "no ratio"
        return ratio >= check.threshold, _times(ratio)
    value = ours["p99"] if check.kind == "p99_max" else ours["median"]
    shown = f"{_number(value)} {metric.unit}"
    if check.kind in ("median_max", "p99_max", "value_max"):
        return value <= check.threshold, shown
    return value >= check.threshold, shown


def evaluate(results: dict[str, Any]) -> list[Row]:
    """A row per catalogued metric present in ``results``, in catalogue order."""
    rows = []
    for metric in METRICS:
        by_client = results.get("metrics", {}).get(metric.id)
        if not by_client:
            continue
        figures = {
            client: _display(summary, metric.scale)
            for client, summary in by_client.items()
            if summary.get("n")
        }
        ratio = None
        if "pxfast" in figures and "pxpy" in figures:
            ratio = _speedup(metric, figures["pxfast"]["median"], figures["pxpy"]["median"])
        verdicts = [(check, *_judge(metric, check, figures)) for check in metric.checks]
        rows.append(Row(metric, figures, ratio, verdicts))
    return rows


def _number(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _times(ratio: float) -> str:
    """A ratio as read: one decimal where it matters, digits grouped where it does not."""
    return f"{ratio:.1f}x" if ratio < 1000 else f"{ratio:,.0f}x"


def _cell(row: Row, client: str, key: str) -> str:
    figure = row.figures.get(client)
    if figure is None:
        return "—"
    if row.metric.kind == "value" and key == "p99":
        return ""
    return _number(figure[key])


def _verdict(row: Row) -> str:
    if not row.verdicts:
        return ""
    parts = []
    for check, ok, detail in row.verdicts:
        mark = {True: "met", False: "**MISSED**", None: "n/a"}[ok]
        parts.append(f"{check.text}: {mark} ({detail})")
    return "; ".join(parts)


def _meta_lines(meta: dict[str, Any]) -> list[str]:
    clients = meta.get("clients", {})
    lines = [
        f"- Date: {meta.get('date', '?')} ({meta.get('seconds', '?')} s, "
        f"{meta.get('mode', '?')} mode, {meta.get('rounds', '?')} alternating round(s), "
        f"seed {meta.get('seed', '?')})",
        f"- Command: `{meta.get('command', 'pxfast bench')}`",
        f"- Machine: {meta.get('machine', '?')}; CPU: {meta.get('cpu', '?')}, "
        f"{meta.get('cores', '?')} cores; {meta.get('os', '?')}",
        f"- Load average (1/5/15 min) before: {meta.get('load_before', '?')}, "
        f"after: {meta.get('load_after', '?')}",
    ]
    if meta.get("uptime_before"):
        lines.append(f"- `uptime` before: `{meta['uptime_before']}`")
    for client in ("pxfast", "pxpy"):
        info = clients.get(client)
        if not info or "python" not in info:
            continue
        versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items())
        lines.append(
            f"- {CLIENT_NAMES[client]}: Python {info['python']}, loop `{info['loop']}`; {versions}"
        )
    return lines


NOTES = """\
## How it was measured

- Both clients run their real code in their own processes against the same
  standalone simulator (`python -m pxfast.sim --paused --no-rate-limit`),
  each logged in as its own user; the runner only coordinates.  Every
  scenario runs for both in alternating rounds (pxfast first, then
  project-x-py first), so drift in the machine's load lands on both; figures
  are medians and p99s of all rounds' samples pooled.  Ratio = project-x-py's
  median / pxfast's (throughputs: pxfast / project-x-py).
- project-x-py runs in a Python 3.12 venv with project-x-py 4.4.1 from PyPI
  (`pxfast.reference`).  Its `requests_per_minute` (default 60, a local
  throttle) is raised to 1 000 000 for the REST scenarios, and pxfast's local
  Gateway rate budget (200 / 60 s) is lifted likewise; the simulator's own
  rate limits are off for both.  project-x-py's loggers are set to WARNING:
  by default it writes INFO lines (JSON, to stdout) on every order event,
  which would only make it slower.
- In-process paths (ticks, decode, order state, EventBus, wire -> handler,
  memory) use each library's real objects with a stub client where no
  network is needed.  project-x-py's wire -> handler is pysignalr's own
  transport entry (`_on_raw_message`: decode and dispatch) -> its hub
  adapter -> `_forward_order_update` (its `run_coroutine_threadsafe` hop)
  -> `OrderManager._on_order_update` -> `EventBus.emit(ORDER_FILLED)` ->
  an async handler; pxfast's is the hub's decoder and `_received` (what the
  picows callback calls) -> user stream -> order table -> bus -> an async
  handler.
- Network paths use each library's `TradingSuite` and are driven by the same
  shared code (`pxfast/bench/common.py`).  place -> ack is `place_limit_order`
  of a resting limit until the REST answer; fill -> handler starts just
  before the control request that makes the simulator fill a resting order
  and ends in the ORDER_FILLED handler; the bracket round trip is
  `place_bracket_order` (entry marketable, so it fills at once), then the
  market moved through the target, until the target's ORDER_FILLED and the
  stop's ORDER_CANCELLED have reached the handlers, with client CPU =
  `time.process_time()` of the client process over the same span.
- Market load: the feed server (`pxfast.bench.feed`) replays quotes and
  trades recorded from the simulator's market hub as fast as the client
  reads (the simulator's live market tops out below 200 000 events/s), to a
  second `TradingSuite` whose hubs point at the feed (REST stays on the
  simulator), with one counting handler on QUOTE_UPDATE and TRADE_TICK.
  Depth is not sent (project-x-py subscribes it, but its handling needs the
  orderbook feature and would only add to its load).  A stamped
  GatewayUserOrder goes out on the user hub every millisecond meanwhile; its
  latency is measured to the ORDER_FILLED handler.
- Live bars (1min, 5min, 15min, 1hr at once, America/Chicago): both ingest
  the same seeded MNQ-like tape (`common.trade_tape`: a one-tick walk, ~10 ms
  apart).  project-x-py's data manager is built without a network (a stub
  client, an empty frame per timeframe, running); its global 1 ms rate limit
  `_min_update_interval` is set to 0, since it would otherwise drop every
  tick that follows another within 1 ms, so its full per-tick cost is
  measured.  For wire -> NEW_BAR its data-processing module's clock reads the
  print's time (it stamps trades with their receipt time, so only one print
  a minute could open a bar otherwise).
- Import: the statement alone, timed inside each of several fresh
  interpreters (start-up excluded), each client's own Python.
- Memory: each client in a fresh process feeds 100 000 new orders through
  its hub path (no handlers); the RSS growth is divided by the orders it
  then holds.
"""


def render(results: dict[str, Any], png_name: str | None = None) -> str:
    meta = results.get("meta", {})
    rows = evaluate(results)
    out = ["# pxfast vs project-x-py 4.4.1, side by side", "", *_meta_lines(meta), ""]
    out += [
        "Absolute figures depend on the machine's load (above); ratios come from "
        "interleaved rounds of both clients, so load drift lands on both.",
        "",
        "## Budgets",
        "",
        "| budget | scenario | figure | met |",
        "|---|---|---|---|",
    ]
    for row in rows:
        for check, ok, detail in row.verdicts:
            mark = {True: "met", False: "**MISSED**", None: "n/a"}[ok]
            out.append(f"| {check.text} | {row.metric.title} | {detail} | {mark} |")
    if any(row.met is False for row in rows):
        out += [
            "",
            'A budget missed is reported as missed.  bench/README.md ("Side by side") '
            "has the profile of each miss and the change it points to.",
        ]
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.metric.group, []).append(row)
    for group, group_rows in groups.items():
        out += ["", f"## {group}", ""]
        if group_rows[0].metric.id.startswith("http."):
            out += _library_table(group_rows)
            continue
        out += [
            "| scenario | unit | pxfast median | pxfast p99 | project-x-py median "
            "| project-x-py p99 | ratio | budget |",
            "|---|---|---:|---:|---:|---:|---:|---|",
        ]
        for row in group_rows:
            ratio = _times(row.ratio) if row.ratio is not None else "—"
            out.append(
                f"| {row.metric.title} | {row.metric.unit} | {_cell(row, 'pxfast', 'median')} "
                f"| {_cell(row, 'pxfast', 'p99')} | {_cell(row, 'pxpy', 'median')} "
                f"| {_cell(row, 'pxpy', 'p99')} | {ratio} | {_verdict(row)} |"
            )
        notes = [f"{row.metric.title}: {row.metric.note}" for row in group_rows if row.metric.note]
        if notes:
            out += ["", *(f"- {note}" for note in notes)]
    details = results.get("details", {})
    if details:
        out += ["", "## Details", ""]
        for client, items in details.items():
            for key, values in items.items():
                out.append(f"- {CLIENT_NAMES.get(client, client)}, {key}: {values}")
    if png_name:
        out += ["", "## Latency distributions", "", f"![latency distributions]({png_name})"]
    out += ["", NOTES.rstrip()]
    errors = results.get("errors", [])
    if errors:
        out += ["", "## Errors", "", *(f"- {error}" for error in errors)]
    return "\n".join(out) + "\n"


def _library_table(rows: list[Row]) -> list[str]:
    libraries = ["pxfast-http", "aiohttp", "httpx"]
    lines = [
        "| request | unit | " + " | ".join(f"{CLIENT_NAMES[c]} median" for c in libraries) + " |",
        "|---|---|" + "---:|" * len(libraries),
    ]
    for row in rows:
        cells = " | ".join(_cell(row, client, "median") for client in libraries)
        lines.append(f"| {row.metric.title} | {row.metric.unit} | {cells} |")
    lines += [
        "",
        "- Bare libraries on one keep-alive origin, the same POST (body and headers) to "
        "Order/searchOpen; pxfast.client.http and aiohttp on the pxfast worker's loop, "
        "httpx (project-x-py's library) on the reference worker's.",
    ]
    return lines


def write_markdown(results: dict[str, Any], path: Path, png_name: str | None = None) -> None:
    path.write_text(render(results, png_name))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m pxfast.bench.report RESULTS.json")
        return 2
    source = Path(args[0])
    png = source.with_suffix(".png")
    write_markdown(json.loads(source.read_text()), source.with_suffix(".md"),
                   png.name if png.exists() else None)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

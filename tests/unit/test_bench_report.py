"""``pxfast bench``'s report logic on small synthetic results (no timing here, ever).

The runner's measurements are not tested for speed; what is tested is that
the figures, ratios and budget verdicts are computed and printed correctly,
that the plot is drawn from the stored quantiles, and that the inputs both
workers get are well-formed Gateway frames.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from pxfast._wire import FrameDecoder
from pxfast.bench import common, inputs, runner
from pxfast.bench.report import evaluate, render, summarize
from pxfast.bench.scenarios import METRICS, metric
from pxfast.messages import TradeEvent, UserOrder


def _results() -> dict[str, Any]:
    """Two rounds per client; pxfast meets the wire budgets and misses the memory one."""

    def both(ours: list[list[float]], theirs: list[list[float]]) -> dict[str, Any]:
        return {"pxfast": summarize(ours), "pxpy": summarize(theirs)}

    return {
        "meta": {
            "date": "2026-01-01T00:00:00+00:00",
            "command": "pxfast bench --quick",
            "mode": "quick",
            "load_before": "0.10 / 0.20 / 0.30",
            "clients": {"pxfast": {"python": "3.11.7", "loop": "uvloop.Loop", "versions": {}}},
        },
        "metrics": {
            "wire.order": both([[3000.0, 3200.0], [2900.0, 3100.0]], [[60000.0], [62000.0]]),
            "market.absorb": both([[250_000.0]], [[15_000.0]]),
            "market.dropped": both([[0.0]], [[29_000.0]]),
            "memory.per_order": both([[270.0]], [[1900.0]]),
            "http.search_open": {
                "pxfast-http": summarize([[70_000.0]]),
                "aiohttp": summarize([[130_000.0]]),
                "httpx": summarize([[650_000.0]]),
            },
        },
        "details": {"pxfast": {"memory.held": [101_000]}},
        "errors": ["pxpy bracket round 1: TimeoutError: the awaited order event never came"],
    }


def test_summarize_pools_rounds() -> None:
    summary = summarize([[1.0, 2.0, 3.0], [4.0, 5.0]])
    assert summary["n"] == 5
    assert summary["median"] == 3.0
    assert summary["min"] == 1.0 and summary["max"] == 5.0
    assert summary["round_medians"] == [2.0, 4.5]
    assert len(summary["quantiles"]) == 101
    assert summary["quantiles"][0] == 1.0 and summary["quantiles"][100] == 5.0
    assert summary["quantiles"] == sorted(summary["quantiles"])
    assert summarize([[7.0]])["p99"] == 7.0
    assert summarize([])["n"] == 0


def test_evaluate_ratios_and_verdicts() -> None:
    rows = {row.metric.id: row for row in evaluate(_results())}
    assert list(rows) == [m.id for m in METRICS if m.id in rows]  # catalogue order
    wire = rows["wire.order"]
    assert wire.figures["pxfast"]["median"] == pytest.approx(3.05)  # ns shown as µs
    assert wire.ratio == pytest.approx(61.0 / 3.05)
    assert [ok for _, ok, _ in wire.verdicts] == [True, True]
    assert wire.met is True
    assert rows["market.absorb"].ratio == pytest.approx(250_000 / 15_000)  # higher is better
    assert rows["market.absorb"].met is True
    assert rows["market.dropped"].met is True  # judged on pxfast's figure only
    memory = rows["memory.per_order"]
    assert memory.ratio == pytest.approx(1900 / 270)
    assert memory.met is False
    assert rows["http.search_open"].ratio is None  # no pxfast/pxpy pair there


def test_render_names_every_figure_and_budget() -> None:
    text = render(_results(), "run.png")
    assert "# pxfast vs project-x-py 4.4.1" in text
    assert "`pxfast bench --quick`" in text
    assert "**MISSED**" in text  # memory
    assert "| median < 5 µs |" in text
    assert "## Realtime, end to end" in text
    assert "| sequential | µs | 70.0 | 130 | 650 |" in text  # the HTTP-library table
    assert "![latency distributions](run.png)" in text
    assert "pxpy bracket round 1" in text  # errors are reported, never dropped
    assert "memory.held: [101000]" in text


def test_report_rewrites_markdown_from_json(tmp_path: Path) -> None:
    from pxfast.bench.report import main

    source = tmp_path / "run.json"
    source.write_text(json.dumps(_results()))
    assert main([str(source)]) == 0
    assert "**MISSED**" in source.with_suffix(".md").read_text()


def test_plot_is_drawn_from_quantiles(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from pxfast.bench.plot import write_png

    path = tmp_path / "run.png"
    write_png(_results(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_both_workers_get_the_same_well_formed_inputs() -> None:
    sizes = runner.QUICK
    for op in runner.OPS:
        assert runner.op_params(op, sizes, 1) == runner.op_params(op, sizes, 1)
    decoder = FrameDecoder(handshake=False)
    for name, frame in inputs.decode_frames().items():
        (item,) = decoder.feed(frame.encode())
        assert type(item).__name__ != "WireError", (name, item)
    assert decoder.errors == 0
    for status in (1, 2):
        (item,) = decoder.feed(common.order_frame(inputs.ORDER_TEMPLATE, 42, status).encode())
        assert isinstance(item, UserOrder)
        assert (item.data.id, item.data.status) == (42, status)
        assert item.data.fillVolume == (1 if status == 2 else 0)


def test_every_budget_has_a_catalogued_metric() -> None:
    for wanted in ("wire.order", "market.absorb", "market.user_latency", "rest.place",
                   "rest.place_50", "bracket.wall", "bracket.cpu", "bus.emit.1.async",
                   "ticks.decimal", "ticks.float", "memory.per_order", "bars.ingest",
                   "bars.ingest_each", "bars.new_bar", "bars.get_data",
                   "bars.memory_per_bar", "import.suite"):  # fmt: skip
        assert metric(wanted).checks, wanted


def test_market_tally_counts_and_latency() -> None:
    tally = common.MarketTally()
    tally.on_market("quote")
    tally.on_progress()
    tally.on_user("lat:0")
    tally.on_user("not a stamp")
    tally.on_user(None)
    assert tally.counts == {"quote": 1, "trade": 0}
    assert tally.first and tally.last >= tally.first
    assert len(tally.user_latency) == 1


def test_bar_budgets_are_judged_in_their_direction() -> None:
    """Ingest is a throughput (higher is better, floor and ratio on pxfast's median);
    memory per bar a single value with a ceiling; import time a median ceiling."""
    results = {
        "metrics": {
            "bars.ingest": {"pxfast": summarize([[6e6, 7e6, 8e6]]),
                            "pxpy": summarize([[300.0, 400.0]])},
            "bars.memory_per_bar": {"pxfast": summarize([[48.02]]),
                                    "pxpy": summarize([[48.0]])},
            "import.suite": {"pxfast": summarize([[150e6, 140e6, 160e6]]),
                             "pxpy": summarize([[400e6]])},
        }
    }  # fmt: skip
    rows = {row.metric.id: row for row in evaluate(results)}
    ingest = rows["bars.ingest"]
    assert ingest.ratio == pytest.approx(7e6 / 350.0)
    assert [ok for _, ok, _ in ingest.verdicts] == [True, True]
    assert rows["bars.memory_per_bar"].met is True
    imports = rows["import.suite"]
    assert imports.figures["pxfast"]["median"] == pytest.approx(150.0)  # ns shown as ms
    assert imports.met is False
    text = render(results)
    assert "median <= 130 ms: **MISSED** (150 ms)" in text
    verdict = ">= 5 000 000 trades/s: met (7,000,000 trades/s); >= 50x: met (20,000x)"
    assert f"| 20,000x | {verdict} |" in text  # large ratios grouped, not 20000.0x


def test_bar_inputs_are_the_same_well_formed_tape_for_both() -> None:
    ts, ticks, sizes = common.trade_tape(7, 2000)
    assert (ts, ticks, sizes) == common.trade_tape(7, 2000)
    assert common.trade_tape(7, 500) == (ts[:500], ticks[:500], sizes[:500])  # pxpy's prefix
    assert ts[0] >= common.TAPE_START_NS and all(a <= b for a, b in itertools.pairwise(ts))
    assert {b - a for a, b in itertools.pairwise(ticks)} <= {-1, 0, 1}
    assert set(sizes) <= {1, 2, 3, 4}
    decoder = FrameDecoder(handshake=False)
    prints = common.new_bar_prints(3)
    minutes = [stamp // 60_000_000_000 for stamp, _ in prints]
    assert minutes == [minutes[0], minutes[0] + 1, minutes[0] + 2]  # each print opens a bar
    for stamp, price in prints:
        (item,) = decoder.feed(common.trade_frame(inputs.CONTRACT, stamp, price).encode())
        assert isinstance(item, TradeEvent) and item.contract_id == inputs.CONTRACT
        (trade,) = item.data
        assert (trade.price, trade.timestamp, trade.volume) == (price, common.iso_stamp(stamp), 2)
    assert common.iso_stamp(common.TAPE_START_NS + 1_500) == "2025-12-01T15:00:00.000001+00:00"

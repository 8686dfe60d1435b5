"""The latency-distribution figure: pxfast vs project-x-py, one panel per hot path.

Drawn from the 101 stored quantiles of each metric (so it can be redrawn
from a committed results JSON): percentile against latency on a log axis,
the median and p99 marked.  Needs matplotlib (the ``[bench]`` extra).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a display

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

from pxfast.bench.scenarios import CLIENT_NAMES, METRICS

__all__ = ["write_png"]

COLORS = {"pxfast": "#1f77b4", "pxpy": "#d62728", "pxfast-http": "#1f77b4",
          "aiohttp": "#2ca02c", "httpx": "#d62728"}  # fmt: skip


def _short(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def write_png(results: dict[str, Any], path: Path) -> None:
    panels = [m for m in METRICS if m.plot and results.get("metrics", {}).get(m.id)]
    if not panels:
        return
    columns = 2
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(11, 3.2 * rows), squeeze=False)
    percentiles = list(range(101))
    for ax, metric in zip(axes.flat, panels, strict=False):
        low, high = math.inf, 0.0
        for client, summary in results["metrics"][metric.id].items():
            quantiles = summary.get("quantiles")
            if not quantiles:
                continue
            values = [q / metric.scale for q in quantiles]
            low, high = min(low, values[0]), max(high, values[99])
            name = CLIENT_NAMES.get(client, client)
            label = f"{name}: median {_short(values[50])}, p99 {_short(values[99])}"
            ax.plot(values, percentiles, color=COLORS.get(client), label=label, linewidth=1.6)
            ax.plot([values[50], values[99]], [50, 99], "o", color=COLORS.get(client),
                    markersize=4)  # fmt: skip
        ax.set_xscale("log")
        if high > 0:  # the p99s in view; the slowest 1% may run off the right edge
            ax.set_xlim(low / 1.5, high * 3)
        ax.xaxis.set_minor_formatter(NullFormatter())  # decade labels only, never overlapping
        ax.set_title(metric.plot_title or metric.title, fontsize=9)
        ax.set_xlabel(metric.unit, fontsize=8)
        ax.set_ylabel("percentile", fontsize=8)
        ax.set_ylim(0, 100)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    meta = results.get("meta", {})
    figure.suptitle(
        f"pxfast vs project-x-py 4.4.1, latency distributions ({meta.get('date', '')[:10]}, "
        f"{meta.get('mode', '')}, load {meta.get('load_before', '?')})",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)

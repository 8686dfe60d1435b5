"""Microbenchmarks of pxfast._ticks, each next to a pure-Python Decimal baseline.

    pytest bench/test_bench_ticks.py --benchmark-only

The baseline restates project-x-py 4.4.1's ``align_price_to_tick`` rule in
plain Decimal arithmetic, in this interpreter and on the same inputs;
``bench/compare_ticks.py`` times project-x-py itself.  Each scalar benchmark
aligns the same 1000 prices per round, so per-price time is the reported
time / 1000 (``extra_info["ns_per_price"]``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from pxfast._ticks import align_price, align_price_float, align_prices

TICK = 0.25
SEED = 20251124


def baseline_align(price: float, tick: float) -> Decimal:
    """project-x-py's rule restated: exact Decimal quotient, half away from zero."""
    exact_tick = Decimal(str(tick))
    ticks = (Decimal(str(price)) / exact_tick).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return (ticks * exact_tick).quantize(exact_tick)


def baseline_align_float(price: float, tick: float) -> float:
    return float(baseline_align(price, tick))


def mnq_prices(count: int, spread: float) -> list[float]:
    """MNQ-like prices with two decimals around 21000 (most not on the 0.25 grid)."""
    rng = np.random.default_rng(SEED)
    return np.round(21000.0 + rng.uniform(-spread, spread, count), 2).tolist()


# Wide: ~16000 distinct aligned prices, so the Decimal result cache mostly misses.
WIDE = mnq_prices(1000, 2000.0)
# Narrow: +-30 points (240 ticks) fits the 256-entry result cache, as a live
# market's prices do.
NARROW = mnq_prices(1000, 30.0)


def per_price(benchmark: Any, fn: Callable[[float, float], object], prices: list[float]) -> None:
    def run() -> None:
        for price in prices:
            fn(price, TICK)

    benchmark(run)
    benchmark.extra_info["ns_per_price"] = benchmark.stats.stats.median / len(prices) * 1e9


@pytest.mark.benchmark(group="align, Decimal out (per 1000 prices)")
@pytest.mark.parametrize("prices", [WIDE, NARROW], ids=["wide", "narrow"])
def test_align_decimal(benchmark: Any, prices: list[float]) -> None:
    assert [str(align_price(p, TICK)) for p in prices] == [
        str(baseline_align(p, TICK)) for p in prices
    ]
    per_price(benchmark, align_price, prices)


@pytest.mark.benchmark(group="align, Decimal out (per 1000 prices)")
def test_align_decimal_baseline(benchmark: Any) -> None:
    per_price(benchmark, baseline_align, WIDE)


@pytest.mark.benchmark(group="align, float out (per 1000 prices)")
def test_align_float(benchmark: Any) -> None:
    assert [align_price_float(p, TICK) for p in WIDE] == [
        baseline_align_float(p, TICK) for p in WIDE
    ]
    per_price(benchmark, align_price_float, WIDE)


@pytest.mark.benchmark(group="align, float out (per 1000 prices)")
def test_align_float_baseline(benchmark: Any) -> None:
    per_price(benchmark, baseline_align_float, WIDE)


def million() -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(SEED)
    return np.round(21000.0 + rng.uniform(-2000.0, 2000.0, 1_000_000), 2)


@pytest.mark.benchmark(group="batch (1M prices)")
def test_align_batch(benchmark: Any) -> None:
    prices = million()
    head = prices[:2000].tolist()
    assert align_prices(prices, TICK)[:2000].tolist() == [
        baseline_align_float(p, TICK) for p in head
    ]
    benchmark(align_prices, prices, TICK)
    benchmark.extra_info["prices_per_second"] = len(prices) / benchmark.stats.stats.median


@pytest.mark.benchmark(group="batch (1M prices)")
def test_align_batch_baseline(benchmark: Any) -> None:
    prices = million()

    def run() -> list[float]:
        return [baseline_align_float(p, TICK) for p in prices.tolist()]

    benchmark.pedantic(run, rounds=3, iterations=1)
    benchmark.extra_info["prices_per_second"] = len(prices) / benchmark.stats.stats.median

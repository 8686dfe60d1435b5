"""The order table: pxfast._fsm.OrderTable.apply next to a pure-Python dict table.

Run with ``pytest bench/test_bench_fsm.py --benchmark-only``.  Every call
applies a batch of ``N`` updates from a Python ``for`` loop (what a hub
handler does), so per-update time = time / N; ``extra_info["updates"]`` says
N.  The ``loop`` group times the same loop around a no-op, the share of each
figure that is the harness, not the table.

* ``pxfast``: ``OrderTable.apply`` (C records, exact prices, parsed timestamps).
* ``dict``: ``DictTable.apply`` below - the same rules the way one writes them
  in Python (a dict per order, ``datetime.fromisoformat``, a dict transition
  table, floats kept as they came).

Scenarios: first sightings (new orders, without and with a customTag),
partial fills of tracked orders, exact duplicates, modify echoes in a table
holding 100 000 orders, and ``status`` (the record lookup every query goes
through, ``find`` for a Cython caller) and ``find_by_tag`` in tables of
100 000 orders (``extra_info["lookups"]`` lookups per call).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from pxfast import _fsm
from pxfast.messages import OrderUpdate

N = 1000
BIG = 100_000
TAG = "pxf-123a1b2c3-"  # the shape of pxfast's own tags: prefix, then a counter
CREATED = "2025-11-24T21:00:00.1234567+00:00"


def _stamp(i: int) -> str:
    """Distinct, increasing update timestamps (7 fractional digits, as live)."""
    return f"2025-11-24T21:{i // 600_000 % 60:02d}:{i // 10_000 % 60:02d}.{i % 10_000:04d}123+00:00"


def _update(order_id: int, status: int, t: int, **fields: Any) -> OrderUpdate:
    values: dict[str, Any] = {
        "accountId": 7001, "contractId": "CON.F.US.MNQ.Z25", "symbolId": "F.US.MNQ",
        "creationTimestamp": CREATED, "type": 1, "side": 0, "size": 3,
        "limitPrice": 20000.25, "fillVolume": 0,
    }  # fmt: skip
    values.update(fields)
    return OrderUpdate(id=order_id, status=status, updateTimestamp=_stamp(t), **values)


# ---------------------------------------------------------------------------
# The baseline
# ---------------------------------------------------------------------------

TERMINAL = {2, 3, 4, 5}
KIND = {2: "FILLED", 3: "CANCELLED", 4: "EXPIRED", 5: "REJECTED"}
LEGAL = {
    (1, 1), (1, 7), (6, 1), (6, 6), (6, 7), (7, 1), (7, 7), (8, 1), (8, 6), (8, 7), (8, 8),
} | {(w, t) for w in (1, 6, 7, 8) for t in TERMINAL}  # fmt: skip
RANK = {0: 0, 1: 2, 2: 4, 3: 4, 4: 4, 5: 4, 6: 1, 7: 3, 8: 1}


class DictTable:
    """The same state machine in plain Python (no OCO links: a subset of the work)."""

    def __init__(self) -> None:
        self.orders: dict[int, dict[str, Any]] = {}
        self.by_tag: dict[str, int] = {}

    def find_by_tag(self, tag: str) -> int | None:
        return self.by_tag.get(tag)

    def status(self, order_id: int) -> int:
        rec = self.orders.get(order_id)
        return -1 if rec is None else rec["status"]

    def apply(self, u: OrderUpdate) -> tuple[int, int, int, str, int] | None:
        ts = datetime.fromisoformat(u.updateTimestamp) if u.updateTimestamp else None
        rec = self.orders.get(u.id)
        if rec is None:
            if u.status not in RANK or u.status == 0:
                return None
            fill = u.fillVolume or 0
            self.orders[u.id] = {
                "status": u.status, "fill": fill, "size": u.size, "limit": u.limitPrice,
                "stop": u.stopPrice, "filled": u.filledPrice, "ts": ts,
                "account": u.accountId, "contract": u.contractId, "tag": u.customTag,
                "created": datetime.fromisoformat(u.creationTimestamp),
            }  # fmt: skip
            if u.customTag is not None:
                self.by_tag[u.customTag] = u.id
            kind = KIND.get(u.status) or ("PARTIAL_FILL" if fill else "PLACED")
            return (u.id, -1, u.status, kind, fill)
        old = rec["status"]
        newer = False
        if ts is not None and rec["ts"] is not None:
            if ts < rec["ts"]:
                return None
            newer = ts > rec["ts"]
        fill = rec["fill"] if u.fillVolume is None else max(u.fillVolume, rec["fill"])
        if not newer and RANK.get(u.status, 0) < RANK[old]:
            return None
        if (old, u.status) not in LEGAL:
            return None
        shape = (u.limitPrice, u.stopPrice, u.size, u.filledPrice)
        if u.status == old and fill == rec["fill"]:
            if shape == (rec["limit"], rec["stop"], rec["size"], rec["filled"]):
                if newer:
                    rec["ts"] = ts
                return None
            kind = "MODIFIED"
        elif u.status in TERMINAL:
            kind = KIND[u.status]
        elif fill > rec["fill"]:
            kind = "PARTIAL_FILL"
        else:
            kind = "UPDATED"
        delta = fill - rec["fill"]
        rec.update(
            status=u.status, fill=fill, limit=u.limitPrice, stop=u.stopPrice, size=u.size,
            filled=u.filledPrice, ts=ts,
        )  # fmt: skip
        return (u.id, old, u.status, kind, delta)


IMPLS: dict[str, Callable[[], Any]] = {"pxfast": _fsm.OrderTable, "dict": DictTable}


def _fill(table: Any, updates: list[OrderUpdate]) -> None:
    apply = table.apply
    for u in updates:
        apply(u)


def _run(
    benchmark: Any, setup: Callable[[], tuple[Any, list[OrderUpdate]]], rounds: int = 30
) -> None:
    def target(table: Any, updates: list[OrderUpdate]) -> None:
        apply = table.apply
        for u in updates:
            apply(u)

    benchmark.extra_info["updates"] = N
    benchmark.pedantic(target, setup=lambda: (setup(), {}), rounds=rounds, iterations=1)


NEW = [_update(1_000_000 + i, 6, i) for i in range(N)]
NEW_TAGGED = [_update(1_000_000 + i, 6, i, customTag=f"{TAG}{1_000_000 + i}") for i in range(N)]
FILLS = [_update(1_000_000 + i, 1, N + i, fillVolume=1, filledPrice=20000.25) for i in range(N)]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="fsm-new-order")
def test_new_orders(benchmark: Any, impl: str) -> None:
    """First sightings: Pending orders the table has never seen."""

    def setup() -> tuple[Any, list[OrderUpdate]]:
        return IMPLS[impl](), NEW

    _run(benchmark, setup)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="fsm-new-tagged")
def test_new_tagged_orders(benchmark: Any, impl: str) -> None:
    """First sightings carrying a unique customTag, as every order pxfast places does."""

    def setup() -> tuple[Any, list[OrderUpdate]]:
        return IMPLS[impl](), NEW_TAGGED

    _run(benchmark, setup)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="fsm-fill")
def test_fills_of_tracked_orders(benchmark: Any, impl: str) -> None:
    """A partial fill of each of N tracked orders (fill volume 0 -> 1, newer timestamp)."""

    def setup() -> tuple[Any, list[OrderUpdate]]:
        table = IMPLS[impl]()
        _fill(table, NEW)
        return table, FILLS

    _run(benchmark, setup)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="fsm-duplicate")
def test_duplicates(benchmark: Any, impl: str) -> None:
    """The same updates again: each is recognised as a duplicate and dropped."""
    table = IMPLS[impl]()
    _fill(table, NEW)
    _fill(table, FILLS)
    benchmark.extra_info["updates"] = N
    benchmark(_fill, table, FILLS)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="fsm-modify-100k")
def test_modify_echoes_in_a_big_table(benchmark: Any, impl: str) -> None:
    """Open -> Open price changes spread over a table of 100 000 orders (cache misses)."""
    table = IMPLS[impl]()
    _fill(table, [_update(i, 1, 0) for i in range(1, BIG + 1)])
    step = BIG // N
    batches = iter(
        [
            _update(1 + (j * step + r * 7) % BIG, 1, 1 + r, limitPrice=20000.25 + 0.25 * (r + 1))
            for j in range(N)
        ]
        for r in range(40)
    )

    def setup() -> tuple[tuple[Any, list[OrderUpdate]], dict[str, Any]]:
        return (table, next(batches)), {}

    def target(table: Any, updates: list[OrderUpdate]) -> None:
        apply = table.apply
        for u in updates:
            apply(u)

    benchmark.extra_info["updates"] = N
    benchmark.pedantic(target, setup=setup, rounds=40, iterations=1)


def _status_all(table: Any, order_ids: list[int]) -> None:
    status = table.status
    for order_id in order_ids:
        status(order_id)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="fsm-status-100k")
def test_status_in_a_big_table(benchmark: Any, impl: str) -> None:
    """status() of N ids spread over 100 000 tracked orders, plus N ids not tracked."""
    table = IMPLS[impl]()
    _fill(table, [_update(i, 1 + (i % 3 == 0) * 5, 0) for i in range(1, BIG + 1)])
    step = BIG // N
    hits = [1 + j * step for j in range(N)]
    misses = [BIG + 1 + j for j in range(N)]
    assert table.status(3) == 6 and table.status(hits[1]) == 1 and table.status(misses[0]) == -1
    benchmark.extra_info["lookups"] = 2 * N
    benchmark(_status_all, table, hits + misses)


def _find_all(table: Any, tags: list[str]) -> None:
    find = table.find_by_tag
    for tag in tags:
        find(tag)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.benchmark(group="fsm-find-by-tag-100k")
def test_find_by_tag_in_a_big_table(benchmark: Any, impl: str) -> None:
    """find_by_tag of N tags spread over 100 000 tagged orders, plus N tags no order has."""
    table = IMPLS[impl]()
    _fill(table, [_update(i, 1, 0, customTag=f"{TAG}{i}") for i in range(1, BIG + 1)])
    step = BIG // N
    hits = [f"{TAG}{1 + j * step}" for j in range(N)]
    misses = [f"{TAG}{BIG + 1 + j}" for j in range(N)]
    assert table.find_by_tag(hits[1]) == 1 + step and table.find_by_tag(misses[0]) is None
    benchmark.extra_info["lookups"] = 2 * N
    benchmark(_find_all, table, hits + misses)


@pytest.mark.benchmark(group="fsm-loop")
def test_loop_overhead(benchmark: Any) -> None:
    """The harness alone: the same loop calling a no-op method."""

    class Noop:
        def apply(self, u: OrderUpdate) -> None:
            return None

    benchmark.extra_info["updates"] = N
    benchmark(_fill, Noop(), FILLS)

"""pxfast._fsm: the order table against a small dict-based oracle, plus the
real Gateway orderings as explicit scenarios.

The oracle (``Oracle`` below) restates the rules of the module docstring in
plain Python dicts; hypothesis then feeds both the same reordered, duplicated
and lossy update streams and checks that they agree update by update.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pxfast import _fsm as fsm
from pxfast.messages import OrderUpdate

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T0 = 17_640_000_000_000_000  # 2025-11-24-ish, in 100 ns
TERMINAL = {2, 3, 4, 5}
WORKING = {1, 6, 7, 8}
OPEN, FILLED, CANCELLED, EXPIRED, REJECTED, PENDING, PENDING_CXL, SUSPENDED = 1, 2, 3, 4, 5, 6, 7, 8


def iso(t: int | None) -> str | None:
    """100 ns since the epoch -> ISO in UTC, with 7 fractional digits when the
    100 ns digit is set and isoformat()'s 0 or 6 otherwise (the table's form)."""
    if t is None:
        return None
    seconds, frac = divmod(t, 10_000_000)
    stamp = (EPOCH + timedelta(seconds=seconds)).isoformat(timespec="seconds")[:19]
    if frac % 10:
        return f"{stamp}.{frac:07d}+00:00"
    return f"{stamp}.{frac // 10:06d}+00:00" if frac else f"{stamp}+00:00"


def upd(
    order_id: int,
    status: int,
    ts: int | None,
    *,
    fill: int | None = 0,
    size: int = 2,
    limit: float | None = 20000.25,
    stop: float | None = None,
    filled_price: float | None = None,
    parent: int | None = None,
    linked: int | None = None,
    tag: str | None = None,
    order_type: int = 1,
    side: int = 0,
    contract: str = "CON.F.US.MNQ.Z25",
    account: int = 7001,
    trail_price: float | None = None,
    trail_distance: int | None = None,
) -> OrderUpdate:
    return OrderUpdate(
        id=order_id,
        accountId=account,
        contractId=contract,
        symbolId="F.US.MNQ",
        creationTimestamp=iso(T0) or "",
        updateTimestamp=iso(ts),
        status=status,
        type=order_type,
        side=side,
        size=size,
        limitPrice=limit,
        stopPrice=stop,
        fillVolume=fill,
        filledPrice=filled_price,
        customTag=tag,
        trailPrice=trail_price,
        trailDistance=trail_distance,
        parentOrderId=parent,
        linkedOrderId=linked,
    )


def summary(t: fsm.Transition | None) -> tuple[str, int, int, int] | None:
    if t is None:
        return None
    return (t.kind_name, t.old_status, t.new_status, t.fill_delta)


# ---------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------

RANK = {0: 0, 1: 2, 2: 4, 3: 4, 4: 4, 5: 4, 6: 1, 7: 3, 8: 1}
TERMINAL_KIND = {2: "FILLED", 3: "CANCELLED", 4: "EXPIRED", 5: "REJECTED"}
STEP = {(1, 7), (6, 1), (6, 7), (7, 1), (8, 7)}
ACTIVATE = {(8, 1), (8, 6)}


def action(old: int, new: int) -> str:
    if old in TERMINAL:
        return "absorb" if new == old else "illegal"
    if new in TERMINAL:
        return "term"
    if new == old and new in WORKING:
        return "same"
    if (old, new) in STEP:
        return "step"
    if (old, new) in ACTIVATE:
        return "activate"
    return "illegal"


@dataclass
class Rec:
    status: int
    fill: int
    size: int
    limit: float | None
    stop: float | None
    filled_price: float | None
    ts: int | None


class Oracle:
    """The state machine as plain dicts; returns the same summaries as ``summary``."""

    def __init__(self) -> None:
        self.orders: dict[int, Rec] = {}
        self.counts = {"applied": 0, "stale": 0, "duplicate": 0, "illegal": 0}

    def _out(self, outcome: str) -> None:
        self.counts[outcome] += 1

    def apply(self, u: OrderUpdate, ts: int | None) -> tuple[str, int, int, int] | None:
        rec = self.orders.get(u.id)
        if rec is None:
            if u.status not in WORKING | TERMINAL:
                self._out("illegal")
                return None
            fill = u.fillVolume
            if fill is None:
                fill = u.size if u.status == FILLED else 0
            self.orders[u.id] = Rec(
                u.status, fill, u.size, u.limitPrice, u.stopPrice, u.filledPrice, ts
            )
            self._out("applied")
            if u.status in TERMINAL:
                kind = TERMINAL_KIND[u.status]
            else:
                kind = "PARTIAL_FILL" if fill > 0 else "PLACED"
            return (kind, -1, u.status, fill)
        newer = False
        if ts is not None and rec.ts is not None:
            if ts < rec.ts:
                self._out("stale")
                return None
            newer = ts > rec.ts
        if u.status not in RANK:
            self._out("illegal")
            return None
        if u.fillVolume is not None:
            fill = u.fillVolume
        else:
            fill = max(rec.fill, u.size) if u.status == FILLED else rec.fill
        if not newer and (RANK[u.status] < RANK[rec.status] or fill < rec.fill):
            self._out("stale")
            return None
        act = action(rec.status, u.status)
        if act == "illegal":
            self._out("illegal")
            return None
        if act == "absorb":
            self._out("illegal" if fill > rec.fill else "duplicate")
            return None
        fill = max(fill, rec.fill)
        same_shape = (u.limitPrice, u.stopPrice, u.size) == (rec.limit, rec.stop, rec.size)
        if u.status == rec.status and fill == rec.fill:
            if same_shape and u.filledPrice == rec.filled_price:
                if newer:
                    rec.ts = ts
                self._out("duplicate")
                return None
            kind = "UPDATED" if same_shape else "MODIFIED"
        elif act == "term":
            kind = TERMINAL_KIND[u.status]
        elif fill > rec.fill:
            kind = "PARTIAL_FILL"
        elif act == "activate":
            kind = "ACTIVATED"
        else:
            kind = "UPDATED"
        out = (kind, rec.status, u.status, fill - rec.fill)
        rec.status, rec.fill, rec.size = u.status, fill, u.size
        rec.limit, rec.stop, rec.filled_price = u.limitPrice, u.stopPrice, u.filledPrice
        if ts is not None and (rec.ts is None or ts > rec.ts):
            rec.ts = ts
        self._out("applied")
        return out


# ---------------------------------------------------------------------------
# Histories the Gateway really produces, and lossy deliveries of them
# ---------------------------------------------------------------------------

# Each path is a list of (status, fill, limit) steps for a size-3 order.
PATHS: list[list[tuple[int, int, float | None]]] = [
    [(PENDING, 0, None), (FILLED, 3, None)],  # market: Pending -> Filled
    [(PENDING, 0, 100.5), (OPEN, 0, 100.5), (OPEN, 1, 100.5), (OPEN, 3, 100.5), (FILLED, 3, 100.5)],
    [(PENDING, 0, 100.5), (OPEN, 0, 100.5), (OPEN, 0, 101.0), (CANCELLED, 0, 101.0)],
    [(SUSPENDED, 0, None), (OPEN, 0, 99.25), (FILLED, 3, 99.25)],  # bracket leg
    [(SUSPENDED, 0, None), (CANCELLED, 0, None)],
    [(OPEN, 0, 100.5), (PENDING_CXL, 0, 100.5), (FILLED, 3, 100.5)],  # fill beats cancel
    [(OPEN, 0, 100.5), (PENDING_CXL, 0, 100.5), (OPEN, 1, 100.5), (EXPIRED, 1, 100.5)],
    [(PENDING, 0, 100.5), (REJECTED, 0, 100.5)],
    [(OPEN, 0, 100.5), (OPEN, 2, 100.5), (PENDING_CXL, 2, 100.5), (CANCELLED, 2, 100.5)],
]


def history(order_id: int, path: list[tuple[int, int, float | None]], t: int) -> list[Any]:
    """(OrderUpdate, ts) pairs with strictly increasing update timestamps."""
    out = []
    for i, (status, fill, limit) in enumerate(path):
        ts = t + 10_000 * (i + 1)
        filled_price = limit if fill else None
        u = upd(order_id, status, ts, fill=fill, size=3, limit=limit, filled_price=filled_price)
        out.append((u, ts))
    return out


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Any], list[list[Any]]]:
    """Several orders' true histories, delivered shuffled, duplicated and lossy;
    some copies lose their updateTimestamp, like a REST row that lacks it."""
    n_orders = draw(st.integers(1, 4))
    histories = []
    for k in range(n_orders):
        path = PATHS[draw(st.integers(0, len(PATHS) - 1))]
        histories.append(history(1000 + k, path, T0 + 1_000_000 * k))
    events = [e for h in histories for e in h]
    delivered = []
    for u, ts in events:
        for _ in range(draw(st.integers(0, 2))):  # lost, once, or duplicated
            if draw(st.integers(0, 9)) == 0:
                delivered.append((replace_struct(u, updateTimestamp=None), None))
            else:
                delivered.append((u, ts))
    order = draw(st.permutations(range(len(delivered))))
    return [delivered[i] for i in order], histories


def replace_struct(u: OrderUpdate, **changes: Any) -> OrderUpdate:
    return msgspec.structs.replace(u, **changes)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_counters(table: fsm.OrderTable) -> dict[str, int]:
    s = table.stats()
    assert s["updates"] == (
        s["applied"] + s["stale"] + s["duplicate"] + s["illegal"] + s["invalid"]
    )
    kinds = [name.lower() for name in fsm.KIND_NAMES[1:]]
    assert s["applied"] == sum(s[k] for k in kinds)
    return s


@FAST
@given(deliveries())
def test_matches_oracle_under_reordering_duplication_and_loss(case: Any) -> None:
    delivered, histories = case
    table, oracle = fsm.OrderTable(), Oracle()
    seen_terminal: dict[int, int] = {}
    fills: dict[int, int] = {}
    for u, ts in delivered:
        got = table.apply(u)
        assert summary(got) == oracle.apply(u, ts), (u, ts)
        status, now = table.status(u.id), table.get(u.id)
        # terminal absorbs; fill volume never decreases
        if u.id in seen_terminal:
            assert status == seen_terminal[u.id]
        elif status in TERMINAL:
            seen_terminal[u.id] = status
        if now is not None:
            assert now.fillVolume is not None
            assert now.fillVolume >= fills.get(u.id, 0)
            fills[u.id] = now.fillVolume
    s = check_counters(table)
    assert {k: s[k] for k in oracle.counts} == oracle.counts
    for order_id, rec in oracle.orders.items():
        row = table.get(order_id)
        assert row is not None
        assert (row.status, row.fillVolume, row.limitPrice, row.filledPrice, row.size) == (
            rec.status,
            rec.fill,
            rec.limit,
            rec.filled_price,
            rec.size,
        )
    # whenever the true last update (terminal) arrived, the table ends there
    for h in histories:
        last, last_ts = h[-1]
        if any(u is last and ts == last_ts for u, ts in delivered):
            assert table.status(last.id) == last.status
            row = table.get(last.id)
            assert row is not None and row.fillVolume == last.fillVolume


@FAST
@given(deliveries())
def test_in_order_delivery_never_illegal(case: Any) -> None:
    _, histories = case
    table = fsm.OrderTable()
    for h in histories:
        for u, _ in h:
            table.apply(u)
            table.apply(u)  # an exact duplicate changes nothing
        last = h[-1][0]
        assert table.status(last.id) == last.status
    s = check_counters(table)
    assert s["illegal"] == 0 and s["stale"] == 0 and s["invalid"] == 0
    assert s["duplicate"] == sum(len(h) for h in histories)


junk_int = st.one_of(
    st.none(),
    st.integers(-3, 12),
    st.integers(-(2**70), 2**70),
    st.text(max_size=3),
    st.floats(allow_nan=True),
)
junk_price = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.decimals(allow_nan=True),
    st.text(max_size=4),
)
junk_ts = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(),
    st.integers(T0 - 10**8, T0 + 10**8).map(iso),
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "id": st.one_of(st.integers(1, 4), junk_int),
                "status": st.one_of(st.integers(0, 9), junk_int),
                "fillVolume": st.one_of(st.integers(0, 4), junk_int),
                "size": st.one_of(st.integers(0, 4), junk_int),
                "limitPrice": junk_price,
                "filledPrice": junk_price,
                "updateTimestamp": junk_ts,
                "creationTimestamp": junk_ts,
                "parentOrderId": st.one_of(st.integers(1, 4), junk_int),
                "linkedOrderId": st.one_of(st.integers(1, 4), junk_int),
                "customTag": st.one_of(st.none(), st.sampled_from(["a", "b"]), st.integers()),
                "contractId": st.one_of(st.sampled_from(["C1", "C2"]), st.none()),
                "type": st.one_of(st.integers(0, 7), junk_int),
            }
        ),
        max_size=30,
    )
)
def test_garbage_never_escapes_and_invariants_hold(fields: list[dict[str, Any]]) -> None:
    table = fsm.OrderTable()
    table.link_oco(1, 2, False)
    last: dict[int, tuple[int, int]] = {}
    for f in fields:
        u = OrderUpdate(accountId=1, side=0, **f)  # unvalidated: any field type
        t = table.apply(u)
        if t is not None:
            assert 0 <= t.new_status <= 8 and t.kind in range(1, 10)
        for order_id in table.ids():
            status = table.status(order_id)
            got = table.get(order_id)
            assert got is not None and got.fillVolume is not None
            if order_id in last:
                old_status, old_fill = last[order_id]
                assert got.fillVolume >= old_fill
                if old_status in TERMINAL:
                    assert status == old_status
            last[order_id] = (status, got.fillVolume)
    check_counters(table)
    assert len(table.anomalies()) <= 64


# ---------------------------------------------------------------------------
# Real orderings, one by one
# ---------------------------------------------------------------------------


def test_market_order_pending_to_filled_without_open() -> None:
    table = fsm.OrderTable()
    assert summary(table.apply(upd(1, PENDING, T0 + 1, limit=None))) == ("PLACED", -1, 6, 0)
    t = table.apply(upd(1, FILLED, T0 + 2, fill=2, limit=None, filled_price=20001.0))
    assert summary(t) == ("FILLED", 6, 2, 2)
    assert t is not None and t.fill_volume == 2 and t.partner_id == 0
    assert table.stats()["illegal"] == 0


def test_partial_fills_then_fill() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 1, size=5))
    assert summary(table.apply(upd(1, OPEN, T0 + 2, size=5, fill=1))) == (
        "PARTIAL_FILL",
        1,
        1,
        1,
    )
    assert summary(table.apply(upd(1, OPEN, T0 + 3, size=5, fill=3))) == (
        "PARTIAL_FILL",
        1,
        1,
        2,
    )
    assert summary(table.apply(upd(1, FILLED, T0 + 4, size=5, fill=5))) == ("FILLED", 1, 2, 2)
    assert table.stats()["partial_fill"] == 2


def test_modify_echo_is_modified() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 1))
    assert summary(table.apply(upd(1, OPEN, T0 + 2, limit=20001.5))) == ("MODIFIED", 1, 1, 0)
    assert summary(table.apply(upd(1, OPEN, T0 + 3, limit=20001.5, size=4))) == (
        "MODIFIED",
        1,
        1,
        0,
    )
    got = table.get(1)
    assert got is not None and (got.limitPrice, got.size) == (20001.5, 4)


def test_fill_after_cancel_request() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 1))
    assert summary(table.apply(upd(1, PENDING_CXL, T0 + 2))) == ("UPDATED", 1, 7, 0)
    assert summary(table.apply(upd(1, FILLED, T0 + 3, fill=2))) == ("FILLED", 7, 2, 2)
    # the cancel confirmation that follows is absorbed and reported as an anomaly
    assert table.apply(upd(1, CANCELLED, T0 + 4, fill=2)) is None
    assert table.status(1) == FILLED
    assert table.stats()["illegal"] == 1
    assert table.anomalies()[-1][1:] == (2, 3, "illegal transition")


def test_open_to_filled_after_client_cancel_without_pending_cancellation() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 1))
    # the client asked to cancel; the Gateway filled first and never said Pending
    assert summary(table.apply(upd(1, FILLED, T0 + 2, fill=2))) == ("FILLED", 1, 2, 2)


def test_refused_cancel_goes_back_to_open() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 1))
    table.apply(upd(1, PENDING_CXL, T0 + 2))
    assert summary(table.apply(upd(1, OPEN, T0 + 3))) == ("UPDATED", 7, 1, 0)


def test_first_sighting_already_terminal() -> None:
    table = fsm.OrderTable()
    assert summary(table.apply(upd(1, FILLED, T0 + 1, fill=2))) == ("FILLED", -1, 2, 2)
    assert summary(table.apply(upd(2, REJECTED, T0 + 1))) == ("REJECTED", -1, 5, 0)
    assert summary(table.apply(upd(3, EXPIRED, T0 + 1))) == ("EXPIRED", -1, 4, 0)
    assert summary(table.apply(upd(4, CANCELLED, None))) == ("CANCELLED", -1, 3, 0)
    assert table.apply(upd(1, FILLED, T0 + 1, fill=2)) is None
    assert table.apply(upd(1, FILLED, T0 + 5, fill=2)) is None  # newer, but nothing new
    assert table.stats()["duplicate"] == 2


def test_transitions_come_only_from_the_table() -> None:
    with pytest.raises(TypeError):
        fsm.Transition()
    t = fsm.OrderTable().apply(upd(1, OPEN, T0))
    assert t is not None and t.children == () and "PLACED" in repr(t)
    with pytest.raises(AttributeError):
        t.kind = fsm.FILLED  # type: ignore[misc]


def test_first_sighting_working_with_fills_is_a_partial_fill() -> None:
    table = fsm.OrderTable()
    assert summary(table.apply(upd(1, OPEN, T0 + 1, fill=1))) == ("PARTIAL_FILL", -1, 1, 1)


def test_filled_without_fill_volume_counts_the_size() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 1, size=3))
    t = table.apply(upd(1, FILLED, T0 + 2, size=3, fill=None))
    assert t is not None and (t.fill_delta, t.fill_volume) == (3, 3)


def test_terminal_absorbs_and_stale_is_ignored() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 5))
    assert table.apply(upd(1, PENDING, T0 + 1)) is None  # older
    table.apply(upd(1, CANCELLED, T0 + 6))
    assert table.apply(upd(1, OPEN, T0 + 7)) is None
    assert table.apply(upd(1, FILLED, T0 + 8, fill=2)) is None
    assert table.apply(upd(1, CANCELLED, T0 + 9, fill=1)) is None  # fill after terminal
    assert table.status(1) == CANCELLED
    s = table.stats()
    assert (s["stale"], s["illegal"], s["applied"]) == (1, 3, 2)
    reasons = [a[3] for a in table.anomalies()]
    assert reasons == ["illegal transition"] * 2 + ["fill after terminal status"]


def test_equal_timestamps_apply_only_forward_moves() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 1, fill=1))
    assert table.apply(upd(1, OPEN, T0 + 1, fill=0)) is None  # less fill: stale
    assert table.apply(upd(1, PENDING, T0 + 1, fill=1)) is None  # backward: stale
    assert summary(table.apply(upd(1, OPEN, T0 + 1, fill=2))) == ("PARTIAL_FILL", 1, 1, 1)
    assert summary(table.apply(upd(1, PENDING_CXL, T0 + 1, fill=2))) == ("UPDATED", 1, 7, 0)
    assert table.stats()["stale"] == 2


def test_snapshot_without_update_timestamp_delivers_a_missed_fill_only_forward() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 5))
    assert summary(table.apply(upd(1, FILLED, None, fill=2))) == ("FILLED", 1, 2, 2)
    table.apply(upd(2, OPEN, T0 + 5, fill=1))
    assert table.apply(upd(2, OPEN, None, fill=0)) is None  # would roll back: stale


def test_fill_regression_with_newer_timestamp_is_clamped_and_reported() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 1, fill=2, size=3))
    t = table.apply(upd(1, CANCELLED, T0 + 2, fill=1, size=3))
    assert summary(t) == ("CANCELLED", 1, 3, 0)
    got = table.get(1)
    assert got is not None and got.fillVolume == 2
    assert table.stats()["fill_clamped"] == 1
    assert table.anomalies()[-1][3] == "fill volume decreased (kept)"


# ---------------------------------------------------------------------------
# Brackets and OCO
# ---------------------------------------------------------------------------


def bracket(table: fsm.OrderTable, entry: int = 100) -> tuple[int, int]:
    """Entry + SL + TP as the Gateway announces them; returns (sl, tp)."""
    sl, tp = entry + 1, entry + 2
    table.apply(upd(entry, OPEN, T0 + 1, limit=19990.0, tag="strat-7"))
    table.apply(
        upd(
            sl,
            SUSPENDED,
            T0 + 1,
            limit=None,
            order_type=4,
            side=1,
            parent=entry,
            tag="strat-7-SL",
            trail_distance=-40,
            trail_price=-10.0,
        )
    )
    table.apply(
        upd(
            tp,
            SUSPENDED,
            T0 + 1,
            limit=None,
            order_type=1,
            side=1,
            parent=entry,
            linked=sl,
            tag="strat-7-TP",
            trail_distance=80,
            trail_price=20.0,
        )
    )
    return sl, tp


def test_bracket_legs_activate_and_one_fill_reports_the_native_sibling() -> None:
    table = fsm.OrderTable()
    sl, tp = bracket(table)
    assert table.children(100) == [sl, tp]
    assert table.link_of(sl) == (tp, True) and table.link_of(tp) == (sl, True)
    assert table.group_of(100) == (0, fsm.ROLE_ENTRY)
    assert table.group_of(sl) == (0, fsm.ROLE_STOP)
    assert table.group_of(tp) == (0, fsm.ROLE_TARGET)
    table.set_group(100, 7, fsm.ROLE_ENTRY)
    assert table.working_ids(group=7) == [100, sl, tp]

    table.apply(upd(100, FILLED, T0 + 2, limit=19990.0, fill=2, filled_price=19990.0))
    t = table.apply(upd(sl, OPEN, T0 + 3, limit=None, stop=19980.0, order_type=4, side=1))
    assert summary(t) == ("ACTIVATED", 8, 1, 0)
    assert t is not None and (t.group, t.role) == (7, fsm.ROLE_STOP)
    assert summary(table.apply(upd(tp, OPEN, T0 + 3, limit=20010.0, order_type=1, side=1))) == (
        "ACTIVATED",
        8,
        1,
        0,
    )
    t = table.apply(
        upd(tp, FILLED, T0 + 4, limit=20010.0, fill=2, filled_price=20010.0, order_type=1)
    )
    assert t is not None and t.kind == fsm.FILLED
    assert (t.partner_id, t.partner_native) == (sl, True)
    assert table.link_of(sl) is None  # unlinked: reported once
    t = table.apply(upd(sl, CANCELLED, T0 + 5, limit=None, stop=19980.0, order_type=4, side=1))
    assert t is not None and t.partner_id == 0
    got = table.get(tp)
    assert got is not None and (got.parentOrderId, got.linkedOrderId) == (100, sl)
    assert got.customTag == "strat-7-TP" and table.find_by_tag("strat-7-SL") == sl


def test_bracket_leg_straight_from_suspended_to_filled() -> None:
    table = fsm.OrderTable()
    sl, tp = bracket(table)
    t = table.apply(upd(sl, FILLED, T0 + 5, limit=None, fill=2, order_type=4, side=1))
    assert summary(t) == ("FILLED", 8, 2, 2)
    assert t is not None and (t.partner_id, t.partner_native) == (tp, True)


def test_entry_cancelled_before_fill_reports_its_suspended_legs() -> None:
    table = fsm.OrderTable()
    sl, tp = bracket(table)
    t = table.apply(upd(100, CANCELLED, T0 + 2, limit=19990.0))
    assert t is not None and t.children == (sl, tp)
    assert summary(table.apply(upd(sl, CANCELLED, T0 + 3, limit=None, order_type=4))) == (
        "CANCELLED",
        8,
        3,
        0,
    )
    table2 = fsm.OrderTable()
    bracket(table2)
    table2.apply(upd(100, OPEN, T0 + 2, limit=19990.0, fill=1))
    t = table2.apply(upd(100, CANCELLED, T0 + 3, limit=19990.0, fill=1))
    assert t is not None and t.children == ()  # legs protect the partial position


def test_legs_seen_before_their_entry() -> None:
    table = fsm.OrderTable()
    table.apply(upd(201, SUSPENDED, T0 + 1, limit=None, order_type=4, parent=200))
    table.apply(upd(202, SUSPENDED, T0 + 1, limit=None, order_type=1, parent=200))
    assert table.link_of(201) == (202, True)
    table.apply(upd(200, PENDING, T0 + 1))
    assert table.group_of(200) == (0, fsm.ROLE_ENTRY)
    table.set_group(200, 3, fsm.ROLE_ENTRY)
    assert table.group_of(201) == (3, fsm.ROLE_STOP)
    t = table.apply(upd(200, REJECTED, T0 + 2))
    assert t is not None and t.children == (201, 202)


def test_linked_order_id_before_its_partner_is_seen() -> None:
    table = fsm.OrderTable()
    table.apply(upd(11, OPEN, T0 + 1, linked=10))
    assert table.link_of(11) == (10, True) and table.link_of(10) == (11, True)
    table.apply(upd(10, OPEN, T0 + 1))
    assert table.link_of(10) == (11, True)
    t = table.apply(upd(10, OPEN, T0 + 2, fill=1))
    assert t is not None and (t.partner_id, t.partner_native) == (11, True)


def test_client_side_oco_partial_fill_then_fill_then_exactly_once() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 1, size=3))
    table.apply(upd(2, OPEN, T0 + 1, size=3))
    table.link_oco(1, 2, False)
    table.set_group(1, 9, fsm.ROLE_FIRST)
    table.set_group(2, 9, fsm.ROLE_SECOND)
    t = table.apply(upd(1, OPEN, T0 + 2, size=3, fill=1))
    assert t is not None and (t.partner_id, t.partner_native, t.role) == (2, False, 4)
    assert table.link_of(1) == (2, False)  # still linked after a partial fill
    t = table.apply(upd(1, FILLED, T0 + 3, size=3, fill=3))
    assert t is not None and (t.kind, t.fill_delta, t.partner_id) == (fsm.FILLED, 2, 2)
    assert table.apply(upd(1, FILLED, T0 + 3, size=3, fill=3)) is None
    t = table.apply(upd(2, FILLED, T0 + 4, size=3, fill=3))  # the race: both filled
    assert t is not None and t.partner_id == 0


def test_cancelling_one_leg_unlinks_without_reporting() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 1))
    table.apply(upd(2, OPEN, T0 + 1))
    table.link_oco(1, 2, False)
    t = table.apply(upd(1, CANCELLED, T0 + 2))
    assert t is not None and t.partner_id == 0
    assert table.link_of(2) is None
    t = table.apply(upd(2, FILLED, T0 + 3, fill=2))
    assert t is not None and t.partner_id == 0


def test_link_oco_relinks_unlinks_and_validates() -> None:
    table = fsm.OrderTable()
    for i in (1, 2, 3):
        table.apply(upd(i, OPEN, T0 + 1))
    table.link_oco(1, 2, False)
    table.link_oco(1, 3, True)  # breaks 1-2
    assert table.link_of(2) is None and table.link_of(3) == (1, True)
    assert table.unlink(3) == 1 and table.link_of(1) is None
    assert table.unlink(3) is None
    with pytest.raises(ValueError):
        table.link_oco(1, 1, False)
    with pytest.raises(ValueError):
        table.set_group(1, 70000, fsm.ROLE_ENTRY)
    with pytest.raises(KeyError):
        table.set_group(99, 1, fsm.ROLE_ENTRY)
    table.link_oco(50, 51, False)  # neither seen yet
    assert table.link_of(50) == (51, False)
    table.apply(upd(51, OPEN, T0 + 1))
    table.apply(upd(50, OPEN, T0 + 1))
    t = table.apply(upd(50, FILLED, T0 + 2, fill=2))
    assert t is not None and (t.partner_id, t.partner_native) == (51, False)


@FAST
@given(
    st.lists(st.tuples(st.sampled_from([1, 2]), st.sampled_from(["p", "f", "c"])), max_size=12),
    st.booleans(),
)
def test_oco_partner_reported_once_per_fill(steps: list[tuple[int, str]], native: bool) -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0, size=4))
    table.apply(upd(2, OPEN, T0, size=4))
    table.link_oco(1, 2, native)
    fills = {1: 0, 2: 0}
    status = {1: OPEN, 2: OPEN}
    full_fill_reports = 0
    ended = False  # the link ends when either leg ends
    for ts, (leg, what) in enumerate(steps, start=1):
        if what == "p":
            fills[leg] = min(fills[leg] + 1, 3)
            u = upd(leg, OPEN, T0 + ts, size=4, fill=fills[leg])
        elif what == "f":
            fills[leg] = 4
            u = upd(leg, FILLED, T0 + ts, size=4, fill=4)
        else:
            u = upd(leg, CANCELLED, T0 + ts, size=4, fill=fills[leg])
        was_working = status[leg] not in TERMINAL
        t = table.apply(u)
        if t is None:
            continue
        assert was_working
        status[leg] = t.new_status
        if t.partner_id:
            assert not ended and t.fill_delta > 0
            assert (t.partner_id, t.partner_native) == (3 - leg, native)
            full_fill_reports += t.kind == fsm.FILLED
        if t.new_status in TERMINAL:
            ended = True
    assert full_fill_reports <= 1


# ---------------------------------------------------------------------------
# Invalid input is counted, never raised
# ---------------------------------------------------------------------------


def test_unusable_updates_are_counted_not_raised() -> None:
    table = fsm.OrderTable()
    bad = [
        upd(1, 42, T0),  # unknown status: illegal
        upd(1, 0, T0),  # status None is never a real order state
        replace_struct(upd(1, OPEN, T0), size=-1),
        replace_struct(upd(1, OPEN, T0), id="1"),
        replace_struct(upd(1, OPEN, T0), limitPrice=float("nan")),
        replace_struct(upd(1, OPEN, T0), limitPrice=1e300),
        replace_struct(upd(1, OPEN, T0), contractId=None),
        object(),
        None,
    ]
    for u in bad:
        assert table.apply(u) is None  # type: ignore[arg-type]
    s = table.stats()
    assert (s["illegal"], s["invalid"], s["applied"]) == (2, 7, 0)
    assert len(table) == 0
    # timestamps that do not parse are ignored (and counted), the order is kept
    t = table.apply(replace_struct(upd(1, OPEN, T0), updateTimestamp="yesterday"))
    assert t is not None and table.stats()["bad_timestamp"] == 1
    assert table.anomalies()[-1][3] == "unparseable timestamp (ignored)"


def test_duck_typed_and_subclassed_updates_take_the_slow_path() -> None:
    class Sub(OrderUpdate, kw_only=True):
        extra: int = 0

    @dataclass
    class Duck:
        id: int
        accountId: int
        contractId: str
        creationTimestamp: str
        status: int
        type: int
        side: int
        size: int
        updateTimestamp: str | None = None

    table = fsm.OrderTable()
    u = upd(1, OPEN, T0)
    sub = Sub(**msgspec.structs.asdict(u))
    assert summary(table.apply(sub)) == ("PLACED", -1, 1, 0)
    duck = Duck(2, 7001, "C", iso(T0) or "", PENDING, 2, 1, 1, iso(T0))
    assert summary(table.apply(duck)) == ("PLACED", -1, 6, 0)  # type: ignore[arg-type]
    got = table.get(2)
    assert got is not None and got.limitPrice is None and got.side == 1


def test_price_with_more_than_nine_decimals_is_rounded_and_reported() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0, limit=0.1 + 0.2))  # 0.30000000000000004
    got = table.get(1)
    assert got is not None and got.limitPrice == 0.3
    assert table.stats()["price_rounded"] == 1


# ---------------------------------------------------------------------------
# Prices and timestamps
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "price",
    [
        1.10005,
        20000.25,
        6335.250000000,
        0.1,
        1e-9,
        -10.0,
        0.0,
        99.5,
        123456789.123456789,
        9_000_000_000.000000001,
        -0.000000001,
        1.0000001,
    ],
)
def test_prices_round_trip_exactly(price: float) -> None:
    fixed = fsm.price_to_fixed(price)
    assert Decimal(fixed) / fsm.PRICE_SCALE == Decimal(repr(price))
    assert fsm.fixed_to_price(fixed) == price
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0, limit=price, stop=price, trail_price=price))
    got = table.get(1)
    assert got is not None and (got.limitPrice, got.stopPrice, got.trailPrice) == (price,) * 3


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=-(10**9), max_value=10**9, places=9, allow_nan=False))
def test_any_nine_decimal_price_is_exact(d: Decimal) -> None:
    x = float(d)
    assert fsm.price_to_fixed(x) == int(Decimal(repr(x)) * fsm.PRICE_SCALE)
    assert fsm.fixed_to_price(fsm.price_to_fixed(x)) == x
    assert fsm.price_to_fixed(d) == int(d * fsm.PRICE_SCALE)  # Decimal taken as written


def test_price_helpers_reject_what_cannot_be_exact() -> None:
    for bad in (float("inf"), float("nan"), 1e-10, 2e10, "abc"):
        with pytest.raises(ValueError):
            fsm.price_to_fixed(bad)  # type: ignore[arg-type]
    assert fsm.price_to_fixed(20000) == 20000 * fsm.PRICE_SCALE


def to_100ns(dt: datetime) -> int:
    delta = dt - EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-24T21:00:00Z", datetime(2025, 11, 24, 21, tzinfo=UTC)),
        ("2025-11-24T21:00:00.123456+00:00", datetime(2025, 11, 24, 21, 0, 0, 123456, UTC)),
        ("2025-11-24T21:00:00.1+00:00", datetime(2025, 11, 24, 21, 0, 0, 100000, UTC)),
        ("2025-11-24T16:00:00.5-05:00", datetime(2025, 11, 24, 21, 0, 0, 500000, UTC)),
        ("2025-11-25T02:30:00+0530", datetime(2025, 11, 24, 21, tzinfo=UTC)),
        ("2025-11-24 21:00:00", datetime(2025, 11, 24, 21, tzinfo=UTC)),
        ("2024-02-29T00:00:00Z", datetime(2024, 2, 29, tzinfo=UTC)),
        ("1969-12-31T23:59:59.9999999Z", None),
    ],
)
def test_timestamp_forms(text: str, expected: datetime | None) -> None:
    got = fsm.parse_timestamp(text)
    if expected is None:  # 100 ns before the epoch
        assert got == -1
        return
    assert got == to_100ns(expected)
    parsed = datetime.fromisoformat(text)
    assert got == to_100ns(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def test_seven_digit_timestamps_keep_the_hundred_nanoseconds() -> None:
    t = fsm.parse_timestamp("2025-11-24T21:00:00.2234567+00:00")
    assert t % 10 == 7
    assert fsm.format_timestamp(t) == "2025-11-24T21:00:00.2234567+00:00"
    assert fsm.format_timestamp(t - 7) == "2025-11-24T21:00:00.223456+00:00"
    assert fsm.format_timestamp(t - 2234567) == "2025-11-24T21:00:00+00:00"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2025-11-24",
        "2025-13-01T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2025-11-24T24:00:00Z",
        "2025-11-24T21:00:00.Z",
        "2025-11-24T21:00:00+25:00",
        "2025-11-24T21:00:00 UTC",
        "2025-11-24T21:00:00.1234567890Z",
        "２025-11-24T21:00:00Z",
    ],
)
def test_malformed_timestamps(text: str) -> None:
    with pytest.raises(ValueError):
        fsm.parse_timestamp(text)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(0, 9),
    st.integers(0, 7),
    st.sampled_from(["Z", "+00:00", "-05:00", "+05:30", "+14:00", "-0930", ""]),
)
def test_timestamps_agree_with_datetime(dt: datetime, digit7: int, ndigits: int, zone: str) -> None:
    frac = f"{dt.microsecond:06d}{digit7}"[:ndigits]
    text = dt.isoformat(timespec="seconds") + (f".{frac}" if ndigits else "") + zone
    if zone in ("Z", ""):
        tz = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        hh, mm = int(zone[1:3]), int(zone[-2:])
        tz = timezone(sign * timedelta(hours=hh, minutes=mm))
    micro = int(frac[:6].ljust(6, "0")) if ndigits else 0
    aware = dt.replace(microsecond=micro, tzinfo=tz)
    expected = to_100ns(aware) + (digit7 if ndigits == 7 else 0)
    got = fsm.parse_timestamp(text)
    assert got == expected
    back = fsm.format_timestamp(got)
    assert back.endswith("+00:00") and fsm.parse_timestamp(back) == got
    if ndigits < 7:
        assert datetime.fromisoformat(back) == aware


# ---------------------------------------------------------------------------
# Queries and rebuilding
# ---------------------------------------------------------------------------


def test_get_rebuilds_the_update() -> None:
    table = fsm.OrderTable()
    u = upd(
        9105,
        SUSPENDED,
        T0 + 3,
        limit=None,
        order_type=4,
        side=1,
        parent=9104,
        tag="strat-7-SL",
        trail_distance=-40,
        trail_price=-10.0,
        fill=0,
    )
    table.apply(u)
    got = table.get(9105)
    assert got == u  # same strings: iso() already writes 7 digits and +00:00
    assert table.get(1) is None and table.get("x") is None  # type: ignore[arg-type]
    assert msgspec.json.decode(msgspec.json.encode(got), type=OrderUpdate) == u


def test_queries_forget_and_prune() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0 + 1, account=1, contract="A", tag="t1"))
    table.apply(upd(2, OPEN, T0 + 1, account=2, contract="A"))
    table.apply(upd(3, PENDING, T0 + 1, account=1, contract="B"))
    table.apply(upd(4, FILLED, T0 + 1, account=1, contract="B", fill=2))
    table.apply(upd(5, CANCELLED, T0 + 100, account=1, contract="B"))
    assert table.ids() == [1, 2, 3, 4, 5] and len(table) == 5
    assert table.working_ids() == [1, 2, 3]
    assert table.working_ids(account=1) == [1, 3]
    assert table.working_ids(contract="A") == [1, 2]
    assert table.working_ids(account=1, contract="B") == [3]
    assert table.working_ids(contract="nope") == []
    assert 1 in table and 99 not in table and "1" not in table and 2**80 not in table
    assert table.status(4) == FILLED and table.status(99) == -1 and table.status(2**80) == -1
    assert table.find_by_tag("t1") == 1
    assert table.forget(1) and not table.forget(1)
    assert table.find_by_tag("t1") is None and 1 not in table
    assert table.prune_terminal(T0 + 50) == [4]  # not the later 5
    assert table.ids() == [2, 3, 5]
    table.apply(upd(6, OPEN, T0 + 2))  # reuses a freed slot
    assert table.ids() == [2, 3, 5, 6] and table.status(6) == OPEN
    assert table.stats()["orders"] == 4


def test_forget_keeps_links_and_children_consistent() -> None:
    table = fsm.OrderTable()
    sl, tp = bracket(table)
    assert table.forget(sl)
    assert table.link_of(tp) is None and table.children(100) == [tp]
    assert table.forget(100)
    assert table.children(100) == [tp]  # the leg still knows its entry
    for i in range(200, 300):  # churn: the indexes survive reuse and deletes
        table.apply(upd(i, OPEN, T0, parent=100 if i % 2 else None))
    for i in range(200, 300, 3):
        table.forget(i)
    assert table.children(100) == sorted(
        [tp] + [i for i in range(200, 300) if i % 2 and (i - 200) % 3]
    )
    assert all(table.status(i) == (-1 if (i - 200) % 3 == 0 else OPEN) for i in range(200, 300))


def test_many_orders_with_deletes_agree_with_a_dict() -> None:
    rng = random.Random(7)
    table, ref = fsm.OrderTable(), dict[int, int]()
    for _ in range(20_000):
        order_id = rng.randrange(1, 3000) * 7919  # colliding-ish ids
        if rng.random() < 0.3:
            assert table.forget(order_id) == (order_id in ref)
            ref.pop(order_id, None)
        elif order_id not in ref:
            table.apply(upd(order_id, OPEN, T0))
            ref[order_id] = OPEN
    assert table.ids() == sorted(ref)
    assert len(table) == len(ref)


# ---------------------------------------------------------------------------
# The record: 96 bytes, status / type / side in one byte, interned ids
# ---------------------------------------------------------------------------


def test_a_record_is_96_bytes() -> None:
    """The first order takes a page of 1024 records and an 8-entry page table."""
    empty, one = fsm.OrderTable(), fsm.OrderTable()
    one.apply(upd(1, OPEN, T0))
    assert one.memory_bytes() - empty.memory_bytes() == 1024 * 96 + 8 * 8


def test_status_type_and_side_share_a_byte() -> None:
    """Every status, type (0..7) and side (0..1) round-trips; a status change
    leaves type and side alone; a type or side outside the byte is invalid,
    as an out-of-range field always was."""
    table = fsm.OrderTable()
    combos = [(st_, ty, sd) for st_ in range(1, 9) for ty in range(8) for sd in range(2)]
    for order_id, (status, order_type, side) in enumerate(combos, 1):
        table.apply(upd(order_id, status, T0, order_type=order_type, side=side, fill=None))
    for order_id, (status, order_type, side) in enumerate(combos, 1):
        got = table.get(order_id)
        assert got is not None and (got.status, got.type, got.side) == (status, order_type, side)
        assert table.status(order_id) == status
        if status in WORKING:
            assert table.apply(upd(order_id, CANCELLED, T0 + 1, fill=None)) is not None
            got = table.get(order_id)
            assert got is not None and (got.status, got.type, got.side) == (
                CANCELLED,
                order_type,
                side,
            )
    assert table.stats()["invalid"] == 0
    bad = [
        upd(10_000, OPEN, T0, order_type=8),
        upd(10_000, OPEN, T0, order_type=-1),
        upd(10_000, OPEN, T0, side=2),
        upd(10_000, OPEN, T0, side=-1),
    ]
    for u in bad:
        assert table.apply(u) is None, u
        assert table.anomalies()[-1] == (10_000, -1, OPEN, "invalid field")
    assert table.stats()["invalid"] == 4 and 10_000 not in table


def test_accounts_are_interned_and_queried_by_their_ids() -> None:
    table = fsm.OrderTable()
    accounts = [7001, -(2**31), 2**31 - 1, 0, 7001, 42, -5, 42]
    for order_id, account in enumerate(accounts, 1):
        assert table.apply(upd(order_id, OPEN, T0, account=account)) is not None
    for order_id, account in enumerate(accounts, 1):
        got = table.get(order_id)
        assert got is not None and got.accountId == account
    for account in set(accounts):
        expected = [i for i, a in enumerate(accounts, 1) if a == account]
        assert table.working_ids(account=account) == expected
    assert table.working_ids(account=7002) == [] and table.working_ids(account=2**40) == []
    assert table.working_ids(account=42, contract="CON.F.US.MNQ.Z25") == [6, 8]
    with pytest.raises(TypeError):
        table.working_ids(account="7001")  # type: ignore[arg-type]
    for account in (2**31, -(2**31) - 1):  # outside the Gateway's int32 ids, as before
        assert table.apply(upd(100, OPEN, T0, account=account)) is None
    assert table.stats()["invalid"] == 2


@pytest.mark.parametrize("field", ["account", "contract"])
def test_account_and_contract_tables_overflow_alike(field: str) -> None:
    """A record holds a 16-bit account index and a 16-bit contract index: the
    first sighting of a 65 537th distinct id is refused (counted invalid,
    logged), orders of ids already known are still tracked."""
    table = fsm.OrderTable()
    u = upd(1, OPEN, T0)
    key = "accountId" if field == "account" else "contractId"

    def first_sighting(order_id: int, value: int) -> fsm.Transition | None:
        u.id = order_id
        setattr(u, key, value if field == "account" else f"C{value}")
        return table.apply(u)

    for i in range(65_536):
        assert first_sighting(i + 1, i) is not None
    assert first_sighting(70_000, 65_536) is None
    assert table.anomalies()[-1] == (70_000, -1, OPEN, f"{field} table full")
    assert table.stats()["invalid"] == 1 and 70_000 not in table
    assert first_sighting(70_001, 0) is not None and first_sighting(70_002, 65_535) is not None
    for order_id, value in ((70_001, 0), (70_002, 65_535)):
        expected = value if field == "account" else f"C{value}"
        assert table.get(order_id) == replace_struct(u, id=order_id, **{key: expected})
    if field == "account":
        assert table.working_ids(account=65_535) == [65_536, 70_002]
        assert table.working_ids(account=65_536) == []


# ---------------------------------------------------------------------------
# Custom tags: the arena and the tag index
# ---------------------------------------------------------------------------


@functools.cache
def colliding_tags() -> tuple[str, str]:
    """Two tags of the same length with the same 32-bit fingerprint (a birthday
    search; with this hash the 44 578th tag collides)."""
    seen: dict[int, str] = {}
    for i in range(1_000_000):
        tag = f"c{i:07d}"
        other = seen.setdefault(fsm.tag_fingerprint(tag), tag)
        if other != tag:
            return other, tag
    raise AssertionError("no fingerprint collision in 1 000 000 tags")


def tags_homed_at(bucket: int, count: int) -> list[str]:
    """Tags whose home is ``bucket`` in the tag index's first, 64-bucket table."""
    out: list[str] = []
    i = 0
    while len(out) < count:
        tag = f"h{bucket}-{i}"
        if fsm.tag_fingerprint(tag) >> 26 == bucket:
            out.append(tag)
        i += 1
    return out


# Every LEB128 length boundary of the arena entries, non-ASCII, lone surrogates
# (kept with "surrogatepass"), a surrogate pair that is not the emoji it spells.
ODD_TAGS = [
    "", "a", "é", "日本語タグ", "\ud800", "x\udfffy", "\ud83d\ude00", "😀", "tab\tnew\nline\x00nul",
    "a" * 127, "b" * 128, "c" * 16_383, "d" * 16_384, "é" * 70_000, "e" * (1 << 21),
]  # fmt: skip


def test_odd_tags_round_trip() -> None:
    table = fsm.OrderTable()
    for order_id, tag in enumerate(ODD_TAGS, 1):
        assert table.apply(upd(order_id, OPEN, T0, tag=tag)) is not None
    assert len({fsm.tag_fingerprint(tag) for tag in ODD_TAGS}) == len(ODD_TAGS)
    for order_id, tag in enumerate(ODD_TAGS, 1):
        got = table.get(order_id)
        assert got is not None and got.customTag == tag
        assert table.find_by_tag(tag) == order_id
    assert table.find_by_tag("\ud83d") is None and table.find_by_tag("a" * 128) is None
    assert table.find_by_tag(None) is None  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        table.find_by_tag(b"a")  # type: ignore[arg-type]
    assert table.stats()["anomalies"] == 0
    untagged = fsm.OrderTable()
    untagged.apply(upd(1, OPEN, T0))
    assert untagged.find_by_tag("") is None
    got = untagged.get(1)
    assert got is not None and got.customTag is None


def test_a_reused_tag_points_at_the_last_order_seen_with_it() -> None:
    """The Gateway keeps tags unique per account; if one comes back anyway,
    find_by_tag answers with the last order seen with it, each order keeps its
    own copy, and forgetting that last order drops the answer."""
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0, tag="dup"))
    table.apply(upd(2, OPEN, T0, tag="dup"))
    table.apply(upd(3, OPEN, T0, tag="dup"))
    assert table.find_by_tag("dup") == 3
    assert table.forget(1) and table.find_by_tag("dup") == 3
    assert table.forget(3) and table.find_by_tag("dup") is None
    got = table.get(2)
    assert got is not None and got.customTag == "dup"
    table.apply(upd(4, OPEN, T0, tag="dup"))
    assert table.find_by_tag("dup") == 4


def test_a_tag_first_seen_on_a_later_update_sticks() -> None:
    table = fsm.OrderTable()
    table.apply(upd(1, OPEN, T0))
    assert table.find_by_tag("late") is None
    table.apply(upd(1, OPEN, T0 + 1, fill=1, tag="late"))
    table.apply(upd(1, OPEN, T0 + 2, fill=2, tag="changed"))  # the first tag stays
    table.apply(upd(2, OPEN, T0))
    table.apply(upd(2, OPEN, T0 + 1, fill=1, tag=7))  # type: ignore[arg-type]  # not a str
    got = table.get(1)
    assert got is not None and got.customTag == "late"
    assert table.find_by_tag("late") == 1 and table.find_by_tag("changed") is None
    got = table.get(2)
    assert got is not None and got.customTag is None
    table.apply(upd(3, CANCELLED, T0))
    table.apply(upd(3, CANCELLED, T0 + 1, tag="too-late"))  # absorbed: nothing changes
    assert table.find_by_tag("too-late") is None


def test_fingerprint_and_home_bucket_collisions() -> None:
    """Equal fingerprints are told apart by their bytes; long probe chains in
    the first 64-bucket table, wrapping from the last bucket to the first,
    survive deletes (backward shift) and re-inserts."""
    a, b = colliding_tags()
    assert a != b and len(a) == len(b) and fsm.tag_fingerprint(a) == fsm.tag_fingerprint(b)
    chain = tags_homed_at(63, 15) + tags_homed_at(0, 15) + [a, b]
    table, untagged = fsm.OrderTable(), fsm.OrderTable()
    owner = {}
    for order_id, tag in enumerate(chain, 1):
        table.apply(upd(order_id, OPEN, T0, tag=tag))
        untagged.apply(upd(order_id, OPEN, T0))
        owner[tag] = order_id
    # all in the first 64-bucket tag index: the only difference is the arena's first KiB
    assert table.memory_bytes() == untagged.memory_bytes() + 1024
    for step in range(3):
        for tag, order_id in list(owner.items()):
            if (order_id + step) % 3 == 0:
                assert table.forget(order_id)
                del owner[tag]
        for tag in chain:
            assert table.find_by_tag(tag) == owner.get(tag), tag
        for tag in chain:
            if tag not in owner:
                owner[tag] = 1000 * (step + 1) + chain.index(tag)
                table.apply(upd(owner[tag], OPEN, T0, tag=tag))
        for tag, order_id in owner.items():
            assert table.find_by_tag(tag) == order_id
            got = table.get(order_id)
            assert got is not None and got.customTag == tag


def test_many_tags_survive_forget_prune_and_compaction() -> None:
    table = fsm.OrderTable()
    n = 30_000
    tag = "pxf-123a1b2c3-{}".format
    for i in range(1, n + 1):
        table.apply(upd(i, OPEN, T0, tag=tag(i)))
    assert all(table.find_by_tag(tag(i)) == i for i in range(1, n + 1))
    for i in range(3, n + 1, 3):
        assert table.forget(i)  # a third of the arena dead: kept as it is
    for i in range(1, n + 1, 3):
        table.apply(upd(i, CANCELLED, T0 + 1))
    before = table.memory_bytes()
    assert len(table.prune_terminal(T0 + 2)) == n // 3
    # two thirds dead: the arena was copied out, about 19 bytes per tag freed
    assert before - table.memory_bytes() >= 14 * 2 * n // 3
    for i in range(1, n + 1):
        alive = i % 3 == 2
        assert table.find_by_tag(tag(i)) == (i if alive else None)
        got = table.get(i)
        assert (got.customTag if got else None) == (tag(i) if alive else None)
    for i in range(n + 1, 2 * n + 1):  # new orders reuse the freed slots
        table.apply(upd(i, OPEN, T0, tag=tag(i)))
    table.apply(upd(3 * n, OPEN, T0, tag=tag(3)))  # a forgotten order's tag, reused
    assert table.find_by_tag(tag(3)) == 3 * n
    assert all(table.find_by_tag(tag(i)) == i for i in range(2, 2 * n + 1) if i % 3 == 2 or i > n)
    assert table.stats()["anomalies"] == 0


@pytest.fixture
def arena_of_64_bytes() -> Iterator[None]:
    """The tag arena capped at 64 bytes (module-wide) for one test, instead
    of the 4 GiB that keeps an entry's offset in a record's 32 bits."""
    previous = fsm._set_tag_arena_limit(64)
    try:
        yield
    finally:
        assert fsm._set_tag_arena_limit(previous) == 64


def test_a_full_tag_arena_is_handled_like_out_of_memory(arena_of_64_bytes: None) -> None:
    """An entry that would end past the cap is refused: the order is tracked
    untagged and the refusal logged, every later update carrying the tag
    tries again, and one succeeds once a compaction has made room."""
    a, b = "a" * 30, "b" * 32  # entries of 31 and 33 bytes: the 64 exactly
    table, untagged = fsm.OrderTable(), fsm.OrderTable()
    for order_id, tag in ((1, a), (2, b), (3, "")):
        t = table.apply(upd(order_id, OPEN, T0, tag=tag))
        untagged.apply(upd(order_id, OPEN, T0))
        assert t is not None and t.kind_name == "PLACED"
    assert table.anomalies() == [(3, -1, OPEN, "tag arena full")]
    got = table.get(3)
    assert got is not None and got.customTag is None and table.find_by_tag("") is None
    assert table.find_by_tag(a) == 1 and table.find_by_tag(b) == 2
    # the arena grew to its cap, not to the usual first KiB
    assert table.memory_bytes() == untagged.memory_bytes() + 64
    t = table.apply(upd(3, OPEN, T0 + 1, fill=1, tag=""))  # still full: refused again
    assert t is not None and t.kind_name == "PARTIAL_FILL"
    assert table.anomalies()[-1] == (3, OPEN, OPEN, "tag arena full")
    assert table.forget(2)  # more than half dead: compacted to order 1's 31 bytes
    assert table.memory_bytes() == untagged.memory_bytes() + 31
    t = table.apply(upd(3, OPEN, T0 + 2, fill=1, tag=""))  # a duplicate, but the tag sticks
    assert t is None and table.stats()["anomalies"] == 2
    assert table.find_by_tag("") == 3 and table.find_by_tag(a) == 1
    got = table.get(1)
    assert got is not None and got.customTag == a
    got = table.get(3)
    assert got is not None and got.customTag == ""
    for limit in (-1, 2**32 + 1):
        with pytest.raises(ValueError):
            fsm._set_tag_arena_limit(limit)


TAG_POOL = ["", "a", "b", "é", "\ud800", "\ud83d\ude00", "😀", "pxf-1", "x" * 127, "y" * 300]
TAG_POOL += [*colliding_tags(), *tags_homed_at(5, 3)]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["open", "cancel", "forget", "prune"]),
            st.integers(1, 12),
            st.one_of(st.none(), st.sampled_from(TAG_POOL)),
        ),
        max_size=60,
    )
)
def test_tags_agree_with_a_dict_oracle(ops: list[tuple[str, int, str | None]]) -> None:
    """Open / cancel updates carrying tags (or none), forget and prune, against
    two dicts: each order's tag and the order find_by_tag answers with.  The
    300-byte tag makes the arena compact every few forgets."""
    table = fsm.OrderTable()
    status: dict[int, int] = {}
    tags: dict[int, str | None] = {}
    owner: dict[str, int] = {}

    def forget(order_id: int) -> None:
        del status[order_id]
        tag = tags.pop(order_id, None)
        if tag is not None and owner.get(tag) == order_id:
            del owner[tag]

    for t, (op, order_id, tag) in enumerate(ops, 1):
        if op in ("open", "cancel"):
            new = OPEN if op == "open" else CANCELLED
            table.apply(upd(order_id, new, T0 + t, tag=tag))
            if status.get(order_id, OPEN) == OPEN:  # a terminal order takes nothing
                status[order_id] = new
                if tags.get(order_id) is None and tag is not None:
                    tags[order_id] = tag
                    owner[tag] = order_id
        elif op == "forget":
            assert table.forget(order_id) == (order_id in status)
            if order_id in status:
                forget(order_id)
        else:
            cancelled = [i for i, s in status.items() if s == CANCELLED]
            assert sorted(table.prune_terminal(T0 + t)) == sorted(cancelled)
            for i in cancelled:
                forget(i)
        assert table.ids() == sorted(status)
        for order_id in status:
            got = table.get(order_id)
            assert got is not None and got.customTag == tags.get(order_id)
        for tag in TAG_POOL:
            assert table.find_by_tag(tag) == owner.get(tag), tag


# ---------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("tagged", "budget"), [(True, 190), (False, 128)])
def test_memory_budget_at_one_million_orders(tagged: bool, budget: int) -> None:
    """C storage per tracked order (``memory_bytes``: records, the three
    indexes, the tag arena) at 100 000 and 1 000 000 orders, a third of them
    bracket entries and two thirds their legs.  With pxfast's own tags
    (``pxf-<pid><hex>-<n>``, the legs ``-SL`` / ``-TP``: 15-23 bytes) the
    budget is 190 bytes, a tenth of project-x-py's; without tags, 128."""
    table = fsm.OrderTable()
    entry = upd(1, OPEN, T0)
    leg = upd(2, SUSPENDED, T0, order_type=4, parent=1, trail_distance=-40, trail_price=-10.0)
    apply = table.apply
    for i in range(1, 1_000_001):
        if i % 3 == 1:
            entry.id = i
            if tagged:
                entry.customTag = f"pxf-123a1b2c3-{i}"
            apply(entry)
        else:
            leg.id = i
            leg.parentOrderId = i - (i - 1) % 3
            if tagged:
                leg.customTag = f"pxf-123a1b2c3-{leg.parentOrderId}-{'SL' if i % 3 == 2 else 'TP'}"
            apply(leg)
        if i == 100_000:
            assert table.memory_bytes() / len(table) <= budget, table.memory_bytes() / len(table)
    assert len(table) == 1_000_000
    per_order = table.memory_bytes() / len(table)
    assert per_order <= budget, per_order
    assert table.link_of(999_998) == (999_999, True)
    assert table.stats()["placed"] == 1_000_000
    if tagged:
        assert table.find_by_tag("pxf-123a1b2c3-999997-TP") == 999_999
        got = table.get(999_998)
        assert got is not None and got.customTag == "pxf-123a1b2c3-999997-SL"

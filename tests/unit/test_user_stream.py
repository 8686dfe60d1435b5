"""UserStream bookkeeping that needs no Gateway: pruning what the fence can no longer see."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from pxfast.event_bus import EventBus, EventType
from pxfast.messages import OrderUpdate, TradeUpdate
from pxfast.realtime.user_stream import FENCE_OVERLAP, RECENT_WINDOW, UserStream


def _stream() -> UserStream:
    bus = EventBus()
    return UserStream(cast(Any, None), lambda _contract: bus)


def _order(order_id: int, status: int, when: datetime) -> OrderUpdate:
    stamp = when.isoformat()
    return OrderUpdate(
        id=order_id,
        accountId=1,
        contractId="CON.F.US.MNQ.Z26",
        creationTimestamp=stamp,
        updateTimestamp=stamp,
        status=status,
        type=1,
        side=0,
        size=1,
        limitPrice=20000.0,
        fillVolume=1 if status == 2 else 0,
        filledPrice=20000.0 if status == 2 else None,
    )


def _trade(trade_id: int, when: datetime) -> TradeUpdate:
    return TradeUpdate(
        id=trade_id,
        accountId=1,
        contractId="CON.F.US.MNQ.Z26",
        creationTimestamp=when.isoformat(),
        price=20000.0,
        side=0,
        size=1,
        orderId=trade_id,
    )


def test_prune_forgets_only_finished_history_beyond_the_window() -> None:
    stream = _stream()
    now = datetime.now(UTC)
    old = now - RECENT_WINDOW - timedelta(hours=3)
    recent = now - timedelta(hours=1)
    stream.apply_order(_order(1, 2, old))  # filled long ago: forgotten
    stream.apply_order(_order(2, 1, old))  # still working: kept, however old
    stream.apply_order(_order(3, 3, recent))  # cancelled within the window: kept
    stream.apply_trade(_trade(10, old))
    stream.apply_trade(_trade(11, recent))
    assert stream.prune(now) == 1
    assert 1 not in stream.orders and 2 in stream.orders and 3 in stream.orders
    assert set(stream.trades) == {11}
    assert stream.prune(now) == 0


async def test_a_pruned_order_looked_up_again_is_not_news() -> None:
    """A REST lookup (a refused cancel, get_order_by_id) of a forgotten order must not
    put it back in the table as new, which would deliver its fill a second time."""
    bus = EventBus()
    fills: list[Any] = []
    await bus.on(EventType.ORDER_FILLED, fills.append)
    stream = UserStream(cast(Any, None), lambda _contract: bus)
    now = datetime.now(UTC)
    old = now - RECENT_WINDOW - timedelta(hours=3)
    stream.apply_order(_order(1, 2, old))
    assert len(fills) == 1 and stream.prune(now) == 1
    assert stream.apply_order(_order(1, 2, old)) is None
    assert 1 not in stream.orders and len(fills) == 1
    # Anything newer than the horizon is still taken in, as is a working order.
    assert stream.apply_order(_order(2, 2, now)) is not None
    assert stream.apply_order(_order(3, 1, old)) is not None
    assert len(fills) == 2


def test_prune_tolerates_unreadable_timestamps() -> None:
    stream = _stream()
    stream.apply_trade(
        TradeUpdate(
            id=5,
            accountId=1,
            contractId="c",
            creationTimestamp="",
            price=1.0,
            side=0,
            size=1,
            orderId=5,
        )
    )
    stream.prune()
    assert set(stream.trades) == {5}


def test_a_shorter_window_prunes_sooner_and_keeps_its_margin() -> None:
    bus = EventBus()
    stream = UserStream(cast(Any, None), lambda _contract: bus, window=60)
    assert stream.window == timedelta(seconds=60)
    now = datetime.now(UTC)
    # Horizon: 60 s window + a quarter of it (15 s) of margin.
    stream.apply_order(_order(1, 2, now - timedelta(seconds=80)))
    stream.apply_order(_order(2, 2, now - timedelta(seconds=70)))
    stream.apply_trade(_trade(10, now - timedelta(seconds=80)))
    stream.apply_trade(_trade(11, now - timedelta(seconds=70)))
    assert stream.prune(now) == 1 and stream.forgotten == 1
    assert 1 not in stream.orders and 2 in stream.orders
    assert set(stream.trades) == {11}


def test_window_must_be_positive() -> None:
    bus = EventBus()
    for bad in (0, -5, timedelta(0)):
        with pytest.raises(ValueError, match="window must be positive"):
            UserStream(cast(Any, None), lambda _contract: bus, window=bad)


def test_an_expectation_whose_order_never_showed_lapses_with_the_window(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = _stream()
    stream.expect("refused-tag", 7, 1)
    stream.expect("later-tag", 8, 1)
    assert stream.prune() == 0 and len(stream._expected) == 2
    clock = time.monotonic() + RECENT_WINDOW.total_seconds() + 1
    monkeypatch.setattr(time, "monotonic", lambda: clock)
    stream.expect("fresh-tag", 9, 1)
    stream.prune()
    assert set(stream._expected) == {"fresh-tag"}


class _Gateway:
    """Just the REST views the fence reads, recording the windows asked for."""

    def __init__(self) -> None:
        self.order_windows: list[datetime] = []
        self.trade_windows: list[datetime] = []
        self.account_info = None
        self.fail = False

    async def search_open_order_updates(self) -> list[OrderUpdate]:
        if self.fail:
            raise ConnectionError("Gateway away")
        return []

    async def search_order_updates(self, start: datetime, end: datetime) -> list[OrderUpdate]:
        self.order_windows.append(start)
        return []

    async def query_order_updates(self, statuses: list[int], page_size: int) -> list[OrderUpdate]:
        return []

    async def search_position_updates(self) -> list[Any]:
        return []

    async def search_trade_updates(self, start: datetime, end: datetime) -> list[TradeUpdate]:
        self.trade_windows.append(start)
        return []


async def test_after_a_complete_fence_the_next_searches_only_since_it() -> None:
    gateway = _Gateway()
    bus = EventBus()
    stream = UserStream(cast(Any, gateway), lambda _contract: bus)
    before = datetime.now(UTC)
    await stream.reconcile(True)
    first = gateway.order_windows[-1]
    assert before - RECENT_WINDOW - timedelta(seconds=1) < first <= before - RECENT_WINDOW + (
        datetime.now(UTC) - before
    )
    complete = datetime.now(UTC)
    await stream.reconcile(False)
    second = gateway.order_windows[-1]
    assert gateway.trade_windows[-1] == second
    assert before - FENCE_OVERLAP <= second <= complete - FENCE_OVERLAP
    # A failed fence proves nothing: the one after it still searches from the last good one.
    gateway.fail = True
    with pytest.raises(ConnectionError):
        await stream.reconcile(True)
    gateway.fail = False
    await stream.reconcile(True)
    assert gateway.order_windows[-1] <= complete - FENCE_OVERLAP + timedelta(seconds=1)
    assert gateway.order_windows[-1] >= second

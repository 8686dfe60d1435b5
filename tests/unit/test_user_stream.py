"""UserStream bookkeeping that needs no Gateway: pruning what the fence can no longer see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from pxfast.event_bus import EventBus
from pxfast.messages import OrderUpdate, TradeUpdate
from pxfast.realtime.user_stream import RECENT_WINDOW, UserStream


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

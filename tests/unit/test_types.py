"""The hybrid OrderStatus and the project-x-py-compatible models."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import msgspec
import pytest

from pxfast.messages import OrderUpdate
from pxfast.models import Account, Instrument, Order, OrderPlaceResponse, Position, Trade
from pxfast.types import OrderStatus


def test_status_equals_int_and_name() -> None:
    s = OrderStatus.FILLED
    assert s == 2 and s == "FILLED" and s == "filled" and s == OrderStatus.FILLED
    assert s != "CANCELLED" and s != 3
    assert OrderStatus.CANCELLED == "CANCELED"
    assert s in ["FILLED", "CANCELLED", "REJECTED"]
    assert s not in ["OPEN", "PENDING"]


def test_status_prints_name_formats_number() -> None:
    s = OrderStatus.FILLED
    assert str(s) == "FILLED" and f"{s}" == "FILLED"
    assert f"{s:d}" == "2" and int(s) == 2
    assert {2: "x"}[s] == "x" and hash(s) == hash(2)


def test_status_encodes_as_int() -> None:
    assert msgspec.json.encode({"s": OrderStatus.FILLED}) == b'{"s":2}'
    assert json.dumps({"s": OrderStatus.FILLED}) == '{"s": 2}'


def test_status_coerce() -> None:
    assert OrderStatus.coerce("cancelled") is OrderStatus.CANCELLED
    assert OrderStatus.coerce(8) is OrderStatus.SUSPENDED
    with pytest.raises(ValueError, match="Unknown order status"):
        OrderStatus.coerce("DONE")


def _update(**kw: object) -> OrderUpdate:
    base: dict[str, object] = dict(
        id=9001,
        accountId=7001,
        contractId="CON.F.US.MNQ.Z25",
        creationTimestamp="2025-11-24T21:00:00.123456+00:00",
        updateTimestamp="2025-11-24T21:00:01.5+00:00",
        status=2,
        type=1,
        side=0,
        size=1,
        fillVolume=1,
        filledPrice=20000.0,
    )
    base.update(kw)
    return OrderUpdate(**base)  # type: ignore[arg-type]


def test_order_from_update_and_api_agree() -> None:
    upd = _update()
    from_update = Order.from_update(upd)
    from_api = Order.from_api({**msgspec.to_builtins(upd), "unknownKey": 1})
    assert from_update == from_api
    assert from_update.status == "FILLED" and from_update.status == 2
    assert from_update.symbol == "MNQ" and from_update.is_filled and from_update.is_terminal
    assert from_update.filled_time is not None
    assert from_update.filled_time.isoformat() == "2025-11-24T21:00:01.500000+00:00"
    assert dataclasses.is_dataclass(from_update)


def test_order_out_of_range_status_passes_through() -> None:
    order = Order.from_update(_update(status=10))
    assert order.status == 10 and type(order.status) is int and order.status_str == "UNKNOWN"


def test_order_filled_time_none_unless_filled() -> None:
    assert Order.from_update(_update(status=1)).filled_time is None


def test_seven_digit_timestamps() -> None:
    order = Order.from_update(_update(creationTimestamp="2025-11-24T21:00:00.1234567Z"))
    assert order.created_time is not None
    assert order.created_time.microsecond == 123456


def test_place_response_aliases() -> None:
    ok = OrderPlaceResponse(12, True, 0, None)
    assert ok.order_id == 12 and ok.status == "PENDING"
    assert OrderPlaceResponse(13, False, 2, "x").status == "REJECTED"


def test_money_balance_with_decimal() -> None:
    acct = Account(1, "PRAC", 50000.0, True, True, True)
    assert acct.balance * Decimal("0.01") == Decimal("500.00")
    assert Decimal("2") * acct.balance == Decimal("100000.0")
    assert isinstance(acct.balance, float) and acct.balance * 2 == 100000.0
    assert repr(acct.balance) == "50000.0"


def test_contract_size() -> None:
    mnq = Instrument("CON.F.US.MNQ.Z25", "MNQZ25", "Micro", 0.25, 0.5, True, "F.US.MNQ")
    assert mnq.contractSize == Decimal("2")


def test_position_signed_size() -> None:
    pos = Position(1, 2, "CON.F.US.MNQ.Z25", "t", 2, 3, 20000.0)
    assert pos.size == 3 and pos.signed_size == -3 and pos.direction == "SHORT"
    assert pos["size"] == 3


def test_trade_fees_from_commissions() -> None:
    t = Trade.from_api(
        {
            "id": 1,
            "accountId": 2,
            "contractId": "c",
            "creationTimestamp": "t",
            "price": 1.0,
            "profitAndLoss": None,
            "commissions": 0.37,
            "side": 0,
            "size": 1,
            "voided": False,
            "orderId": 5,
        }
    )
    assert t.fees == 0.37

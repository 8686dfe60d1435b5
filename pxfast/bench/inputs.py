"""The inputs every scenario feeds both clients: made here, once, sent to both workers.

Hub records are the simulator's own, byte for byte in shape (captured from
``pxfast.sim`` and written out here): user events in the ``{action, data}``
wrapper live TopstepX sends, market events as ``[contractId, payload]``.
Prices for tick alignment are seeded, so every run aligns the same numbers.
"""

from __future__ import annotations

import json
import random
from typing import Any

__all__ = ["CONTRACT", "ORDER_TEMPLATE", "decode_frames", "tick_inputs"]

RS = "\x1e"
CONTRACT = "CON.F.US.MNQ.Z26"
_STAMP = "2026-11-24T22:39:31.098418+00:00"

#: A GatewayUserOrder frame with ``%(...)`` fields (``common.order_frame`` fills them).
ORDER_TEMPLATE = (
    '{"type":1,"target":"GatewayUserOrder","arguments":[{"action":1,"data":{"id":%(id)d,'
    '"accountId":7001,"contractId":"' + CONTRACT + '","symbolId":"F.US.MNQ",'
    '"creationTimestamp":"2026-11-24T22:39:31.097919+00:00",'
    '"updateTimestamp":"2026-11-24T22:39:31.%(micro)06d+00:00","status":%(status)d,'
    '"type":1,"side":0,"size":1,"limitPrice":20000.0,"stopPrice":null,'
    '"fillVolume":%(fill)d,"filledPrice":%(price)s,"customTag":"%(tag)s","trailPrice":null,'
    '"trailDistance":null,"parentOrderId":null,"linkedOrderId":null}}]}' + RS
)

_USER_RECORDS: dict[str, dict[str, Any]] = {
    "GatewayUserPosition": {
        "id": 1, "accountId": 7001, "contractId": CONTRACT, "contractDisplayName": "MNQZ26",
        "creationTimestamp": _STAMP, "type": 1, "size": 1, "averagePrice": 20000.0,
    },
    "GatewayUserTrade": {
        "id": 1, "accountId": 7001, "contractId": CONTRACT, "creationTimestamp": _STAMP,
        "price": 20000.0, "profitAndLoss": None, "fees": 0.37, "commissions": None, "side": 0,
        "size": 1, "voided": False, "orderId": 9001,
    },
    "GatewayUserAccount": {
        "id": 7001, "name": "PRAC-SIM-CAP-1", "balance": 49999.63, "canTrade": True,
        "isVisible": True, "simulated": True,
    },
}  # fmt: skip

_QUOTE = {
    "symbol": "F.US.MNQ", "symbolName": "/MNQ", "lastPrice": 21000.25, "bestBid": 21000.25,
    "bestAsk": 21000.5, "change": 0.25, "changePercent": 0.0012, "open": 21000.0,
    "high": 21000.25, "low": 21000.0, "volume": 3, "lastUpdated": _STAMP, "timestamp": _STAMP,
}  # fmt: skip
_TRADE = [{"symbolId": "F.US.MNQ", "price": 21000.25, "timestamp": _STAMP, "type": 0, "volume": 3}]
#: One step of the simulator's book: a print at the touch, the touch moving, a level changing.
_DEPTH = [
    {"timestamp": _STAMP, "type": kind, "price": price, "volume": size, "currentVolume": size}
    for kind, price, size in (
        (5, 21000.25, 3), (1, 21000.25, 0), (2, 20997.75, 0), (1, 21002.75, 40),
        (9, 21000.25, 31), (10, 21000.0, 12),
    )
]  # fmt: skip


def _frame(target: str, arguments: list[Any]) -> str:
    record = {"type": 1, "target": target, "arguments": arguments}
    return json.dumps(record, separators=(",", ":")) + RS


def decode_frames() -> dict[str, str]:
    """One-record frames, one per event type the hubs send (the decode scenario)."""
    order = ORDER_TEMPLATE % {
        "id": 9001, "status": 2, "fill": 1, "price": "20000.0", "tag": "x1", "micro": 200000,
    }  # fmt: skip
    frames = {"GatewayUserOrder": order}
    for target, data in _USER_RECORDS.items():
        frames[target] = _frame(target, [{"action": 1, "data": data}])
    frames["GatewayQuote"] = _frame("GatewayQuote", [CONTRACT, _QUOTE])
    frames["GatewayTrade"] = _frame("GatewayTrade", [CONTRACT, _TRADE])
    frames["GatewayDepth"] = _frame("GatewayDepth", [CONTRACT, _DEPTH])
    return frames


def tick_inputs(seed: int, count: int = 1000) -> dict[str, Any]:
    """MNQ-like prices with two decimals over a wide range (nearly every result is new)."""
    rng = random.Random(seed)
    prices = [round(21000.0 + rng.uniform(-2000.0, 2000.0), 2) for _ in range(count)]
    return {"prices": prices, "tick": 0.25}

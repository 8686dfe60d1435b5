"""Hub frame decoding: pxfast._wire next to pysignalr's parser and a json baseline.

Run with ``pytest bench/test_bench_wire.py --benchmark-only`` (pysignalr comes
with the ``[bench]`` extra).  Each message type is timed in one-message frames
and in 100-message frames; a benchmark group holds the three decoders of the
same bytes, and ``extra_info["messages"]`` says how many messages one call
decodes, so per-message time = time / messages.

* ``pxfast``: ``FrameDecoder.feed(bytes)`` -> typed Structs, what picows hands over.
* ``pysignalr``: ``JSONProtocol().decode(str)`` -> pysignalr message objects,
  i.e. project-x-py's parse.  It gets the frame as ``str``, as websockets
  delivers a text frame, so its UTF-8 decode is not charged to it.
* ``json``: ``json.loads`` of each record after ``bytes.split`` (untyped dicts).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from pxfast._wire import FrameDecoder

RS = b"\x1e"
NOW = "2025-11-24T21:00:00.123456+00:00"


def _record(target: str, arguments: list[Any]) -> bytes:
    return json.dumps(
        {"type": 1, "target": target, "arguments": arguments}, separators=(",", ":")
    ).encode()


def _depth_snapshot(levels: int) -> list[dict[str, Any]]:
    """A full book as the Gateway sends it: Reset, then `levels` bids and `levels` asks."""
    stamp = "2025-11-24T21:00:00.5+00:00"
    book = [{"timestamp": stamp, "type": 6, "price": 0, "volume": 0, "currentVolume": 0}]
    for i in range(levels):
        bid = (2, 20000.75 - 0.25 * i, 10 + i)
        ask = (1, 20001.25 + 0.25 * i, 8 + i)
        for side, price, size in (bid, ask):
            entry = {"timestamp": stamp, "type": side, "price": price}
            book.append(entry | {"volume": size, "currentVolume": size})
    return book


# The §10–§11 payloads, in the wrapped form live TopstepX sends (and one bare,
# as the docs show it).
ORDER = {
    "id": 9001, "accountId": 7001, "contractId": "CON.F.US.MNQ.Z25", "symbolId": "F.US.MNQ",
    "creationTimestamp": NOW, "updateTimestamp": NOW, "status": 2, "type": 1, "side": 0,
    "size": 1, "limitPrice": 20000.0, "stopPrice": None, "fillVolume": 1,
    "filledPrice": 20000.0, "customTag": None,
}  # fmt: skip
POSITION = {
    "id": 56, "accountId": 7001, "contractId": "CON.F.US.MNQ.Z25", "creationTimestamp": NOW,
    "type": 1, "size": 3, "averagePrice": 20000.5,
}  # fmt: skip
TRADE = {
    "id": 777, "accountId": 7001, "contractId": "CON.F.US.MNQ.Z25", "creationTimestamp": NOW,
    "price": 20000.0, "profitAndLoss": None, "fees": 0.37, "side": 0, "size": 1,
    "voided": False, "orderId": 9001,
}  # fmt: skip
ACCOUNT = {
    "id": 7001, "name": "PRAC-TEST-1", "balance": 50010.0, "canTrade": True,
    "isVisible": True, "simulated": True,
}  # fmt: skip
QUOTE = {
    "symbol": "F.US.MNQ", "symbolName": "/MNQ", "lastPrice": 20001.0, "bestBid": 20000.75,
    "bestAsk": 20001.25, "change": 12.5, "changePercent": 0.06, "open": 19990.0,
    "high": 20020.0, "low": 19980.0, "volume": 12000,
    "lastUpdated": "2025-11-24T21:00:00.123+00:00", "timestamp": "2025-11-24T21:00:00.123+00:00",
}  # fmt: skip
PRINT = {
    "symbolId": "F.US.MNQ", "price": 20001.0, "timestamp": "2025-11-24T21:00:00.456+00:00",
    "type": 0, "volume": 2,
}  # fmt: skip

MESSAGES = {
    "GatewayUserOrder": _record("GatewayUserOrder", [{"action": 1, "data": ORDER}]),
    "GatewayUserOrder-bare": _record("GatewayUserOrder", [ORDER]),
    "GatewayUserPosition": _record("GatewayUserPosition", [{"action": 1, "data": POSITION}]),
    "GatewayUserTrade": _record("GatewayUserTrade", [{"action": 0, "data": TRADE}]),
    "GatewayUserAccount": _record("GatewayUserAccount", [{"action": 1, "data": ACCOUNT}]),
    "GatewayQuote": _record("GatewayQuote", ["CON.F.US.MNQ.Z25", QUOTE]),
    "GatewayTrade": _record("GatewayTrade", ["CON.F.US.MNQ.Z25", [PRINT]]),
    "GatewayDepth-10": _record("GatewayDepth", ["CON.F.US.MNQ.Z25", _depth_snapshot(10)]),
    "ping": b'{"type":6}',
}


def _pxfast(frame: bytes) -> tuple[Callable[[Any], object], Any]:
    return FrameDecoder(handshake=False).feed, frame


def _pysignalr(frame: bytes) -> tuple[Callable[[Any], object], Any]:
    protocol = pytest.importorskip("pysignalr.protocol.json").JSONProtocol()
    return protocol.decode, frame.decode()


def _split_loads(frame: bytes) -> list[Any]:
    return [json.loads(record) for record in frame.split(RS) if record]


def _json(frame: bytes) -> tuple[Callable[[Any], object], Any]:
    return _split_loads, frame


DECODERS = {"pxfast": _pxfast, "pysignalr": _pysignalr, "json": _json}


@pytest.mark.parametrize("decoder", DECODERS)
@pytest.mark.parametrize("messages", [1, 100])
@pytest.mark.parametrize("message", MESSAGES)
def test_decode(benchmark: Any, message: str, messages: int, decoder: str) -> None:
    decode, frame = DECODERS[decoder]((MESSAGES[message] + RS) * messages)
    result = decode(frame)  # also teaches pxfast each target's payload form
    assert isinstance(result, list) and len(result) == messages
    benchmark.group = f"{message} x{messages}"
    benchmark.extra_info["messages"] = messages
    benchmark(decode, frame)

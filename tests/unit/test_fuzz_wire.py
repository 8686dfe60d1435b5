"""Fuzzing the hub read path: random and mutated frames never escape it or corrupt the table.

The path under test is the client's own, minus the socket: picows' frame
callback (``on_ws_frame`` of ``hub._listener_type()``) -> the compiled ``FrameDecoder`` ->
``HubConnection._received`` -> the user stream (order table, positions,
fills, events) and the market stream.  Handlers are registered for every
event, so the payload-building code runs too.

* Random bytes, in any chunking: nothing raises, and the reader still
  applies a valid record afterwards.
* Valid order updates with undecodable records between them (truncated
  copies, invalid UTF-8): the table ends exactly as the valid records alone
  leave it.
* Valid records mutated byte by byte (which may decode into different but
  well-formed updates): nothing raises, and the table's own rules hold after
  every frame: known statuses only, filled quantity never decreasing, a
  terminal order staying terminal, working ids a subset of the ids.

``python tests/unit/test_fuzz_wire.py -runs=N [corpus]`` runs the same
reader under atheris (libFuzzer); ``test_atheris_run`` does a short run when
atheris is installed.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from picows import WSMsgType

from pxfast.event_bus import EventBus, EventType
from pxfast.realtime.hub import HubConnection, _listener_type
from pxfast.realtime.market_stream import MarketStream
from pxfast.realtime.user_stream import UserStream

_Listener = _listener_type()  # the class the hub makes at its first connect
RS = b"\x1e"
CONTRACT = "CON.F.US.MNQ.Z25"
TERMINAL = (2, 3, 4, 5)
WORKING = (0, 1, 6, 8)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Frame:
    """What picows hands the listener: a text frame's payload."""

    msg_type = WSMsgType.TEXT

    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def get_payload_as_memoryview(self) -> memoryview:
        return memoryview(self._payload)


async def _no_token(force: bool) -> str:
    raise AssertionError("the reader never connects")


class Reader:
    """Both hubs' read paths wired as ``RealtimeConnection`` wires them, without sockets."""

    def __init__(self) -> None:
        self.bus = EventBus()
        self.events = 0
        for kind in EventType:
            asyncio.run(self.bus.on(kind, self._count))
        client = SimpleNamespace(account_info=None, _instruments={})
        self.user = UserStream(client, lambda contract: self.bus)  # type: ignore[arg-type]
        self.market = MarketStream(lambda contract: self.bus)
        self.hubs = {
            "user": HubConnection("user", "http://127.0.0.1:9/u", _no_token, self.user.on_items),
            "market": HubConnection(
                "market", "http://127.0.0.1:9/m", _no_token, self.market.on_items
            ),
        }
        self.listeners = {}
        for name, hub in self.hubs.items():
            hub.decoder.reset(handshake=False)
            self.listeners[name] = _Listener(hub)
        self.frames = 0

    def _count(self, event: Any) -> None:
        self.events += 1

    def feed(self, hub: str, payload: bytes) -> None:
        self.frames += 1
        self.listeners[hub].on_ws_frame(None, Frame(payload))  # type: ignore[arg-type]

    def table(self) -> dict[int, Any]:
        table = self.user.orders
        return {i: table.get(i) for i in table.ids()}


# ---------------------------------------------------------------------- valid records


def order_record(
    order_id: int, status: int, fill: int, size: int, stamp: int, tag: str | None = None
) -> bytes:
    data = {
        "id": order_id,
        "accountId": 7001,
        "contractId": CONTRACT,
        "symbolId": "F.US.MNQ",
        "creationTimestamp": "2025-11-24T21:00:00.000000+00:00",
        "updateTimestamp": f"2025-11-24T21:00:{stamp // 1000:02d}.{stamp % 1000:03d}000+00:00",
        "status": status,
        "type": 1,
        "side": 0,
        "size": size,
        "limitPrice": 20000.25,
        "stopPrice": None,
        "fillVolume": fill,
        "filledPrice": 20000.25 if fill else None,
        "customTag": tag,
    }
    record = {"type": 1, "target": "GatewayUserOrder", "arguments": [{"action": 1, "data": data}]}
    return msgspec.json.encode(record)


MARKET_RECORDS = (
    b'{"type":1,"target":"GatewayQuote","arguments":["CON.F.US.MNQ.Z25",{"symbol":"F.US.MNQ",'
    b'"lastPrice":20001.0,"bestBid":20000.75,"bestAsk":20001.25,"volume":12000,'
    b'"timestamp":"2025-11-24T21:00:00.123+00:00"}]}',
    b'{"type":1,"target":"GatewayTrade","arguments":["CON.F.US.MNQ.Z25",[{"symbolId":"F.US.MNQ",'
    b'"price":20001.0,"timestamp":"2025-11-24T21:00:00.456+00:00","type":0,"volume":2}]]}',
    b'{"type":1,"target":"GatewayDepth","arguments":["CON.F.US.MNQ.Z25",[{"timestamp":'
    b'"2025-11-24T21:00:00.5+00:00","type":2,"price":20000.75,"volume":10,"currentVolume":10}]]}',
)
OTHER_USER_RECORDS = (
    b'{"type":1,"target":"GatewayUserTrade","arguments":[{"action":0,"data":{"id":777,'
    b'"accountId":7001,"contractId":"CON.F.US.MNQ.Z25","creationTimestamp":'
    b'"2025-11-24T21:00:00.223456+00:00","price":20000.0,"profitAndLoss":null,"fees":0.37,'
    b'"side":0,"size":1,"voided":false,"orderId":9001}}]}',
    b'{"type":1,"target":"GatewayUserPosition","arguments":[{"action":1,"data":{"id":56,'
    b'"accountId":7001,"contractId":"CON.F.US.MNQ.Z25","creationTimestamp":'
    b'"2025-11-24T21:00:00.123456+00:00","type":1,"size":3,"averagePrice":20000.5}}]}',
    b'{"type":1,"target":"GatewayUserAccount","arguments":[{"action":1,"data":{"id":7001,'
    b'"name":"PRAC-TEST-1","balance":50010.0,"canTrade":true,"isVisible":true,'
    b'"simulated":true}}]}',
    b'{"type":3,"invocationId":"1","result":null}',
    b'{"type":7,"error":"bye"}',
    b'{"type":1,"target":"GatewayLogout","arguments":[]}',
    b'{"type":6}',
)


@st.composite
def order_histories(draw: st.DrawFn) -> list[bytes]:
    """Order updates as the Gateway sends them: per order Open, partial fills, then an end."""
    records: list[tuple[int, bytes]] = []
    for order_id in range(9001, 9001 + draw(st.integers(1, 4))):
        size = draw(st.integers(1, 5))
        stamp = draw(st.integers(0, 5000))
        steps = [(1, 0)]
        fill = 0
        while fill < size and draw(st.booleans()):
            fill = draw(st.integers(fill + 1, size))
            steps.append((1 if fill < size else 2, fill))
        if steps[-1][0] != 2:
            steps.append((draw(st.sampled_from([1, 3, 4, 5])), fill))
        for status, filled in steps:
            stamp += draw(st.integers(1, 50))
            records.append((stamp, order_record(order_id, status, filled, size, stamp, None)))
    records.sort(key=lambda pair: pair[0])
    return [record for _, record in records]


def undecodable(record: bytes, rng: random.Random) -> bytes:
    """A record no decoder can accept: a strict prefix of it, or invalid UTF-8."""
    if rng.random() < 0.5:
        return record[: rng.randrange(1, len(record))]
    return b"\xff" + bytes(rng.randrange(256) for _ in range(rng.randrange(40))).replace(RS, b"")


def mutate(record: bytes, rng: random.Random) -> bytes:
    """A few random byte edits: flips, insertions (often digits), deletions, swaps."""
    data = bytearray(record)
    for _ in range(rng.randint(1, 4)):
        where = rng.randrange(len(data) or 1)
        op = rng.randrange(4)
        if op == 0 and data:
            data[where] ^= 1 << rng.randrange(8)
        elif op == 1:
            data.insert(where, rng.choice(b'0123456789-.,:{}[]"en' + bytes([rng.randrange(256)])))
        elif op == 2 and data:
            del data[where]
        elif data:
            other = rng.randrange(len(data))
            data[where], data[other] = data[other], data[where]
    return bytes(data).replace(RS, b"")


def chunks(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(stream) + 1) for c in cuts})
    pieces, start = [], 0
    for point in points:
        pieces.append(stream[start:point])
        start = point
    pieces.append(stream[start:])
    return [p for p in pieces if p]


# ---------------------------------------------------------------------- properties


@FUZZ
@given(st.lists(st.binary(max_size=512), max_size=12), st.sampled_from(["user", "market"]))
def test_random_bytes_never_escape_the_reader(payloads: list[bytes], hub: str) -> None:
    reader = Reader()
    for payload in payloads:
        reader.feed(hub, payload)
    reader.feed("user", RS + order_record(42, 1, 0, 1, 1) + RS)
    assert reader.user.orders.status(42) == 1  # the reader is alive and in sync


@FUZZ
@given(order_histories(), st.randoms(use_true_random=False), st.lists(st.integers(0, 10**6)))
def test_undecodable_records_between_updates_change_nothing(
    history: list[bytes], rng: random.Random, cuts: list[int]
) -> None:
    clean = Reader()
    for record in history:
        clean.feed("user", record + RS)
    noisy = Reader()
    stream = bytearray()
    for record in history:
        for _ in range(rng.randrange(3)):
            stream += undecodable(rng.choice(history), rng) + RS
        stream += record + RS
    for piece in chunks(bytes(stream), cuts):
        noisy.feed("user", piece)
    assert noisy.table() == clean.table()
    assert noisy.user.orders.stats() == clean.user.orders.stats()
    assert noisy.hubs["user"].decoder.errors > 0 or len(stream) == sum(len(r) + 1 for r in history)


@FUZZ
@given(order_histories(), st.randoms(use_true_random=False))
def test_mutated_records_keep_the_table_consistent(
    history: list[bytes], rng: random.Random
) -> None:
    reader = Reader()
    table = reader.user.orders
    filled: dict[int, int] = {}
    ended: dict[int, int] = {}
    records = [*history, *OTHER_USER_RECORDS]
    for _ in range(3 * len(records)):
        record = rng.choice(records)
        reader.feed("user", (mutate(record, rng) if rng.random() < 0.7 else record) + RS)
        for order_id in table.ids():
            status = table.status(order_id)
            update = table.get(order_id)
            assert update is not None and 0 <= status <= 8, (order_id, status)
            volume = update.fillVolume or 0
            assert volume >= filled.get(order_id, 0), (order_id, volume, filled)
            filled[order_id] = volume
            if order_id in ended:
                assert status == ended[order_id], (order_id, ended[order_id], status)
            elif status in TERMINAL:
                ended[order_id] = status
        assert set(table.working_ids()) <= set(table.ids())
        assert all(table.status(i) in WORKING for i in table.working_ids())
        assert len(table) == len(table.ids())


@FUZZ
@given(st.randoms(use_true_random=False), st.integers(1, 60))
def test_mutated_market_records_never_escape(rng: random.Random, count: int) -> None:
    reader = Reader()
    for _ in range(count):
        reader.feed("market", mutate(rng.choice(MARKET_RECORDS), rng) + RS)
    reader.feed("market", MARKET_RECORDS[0] + RS)
    state = reader.market.quotes[CONTRACT]
    assert state.bid == 20000.75 and state.ask == 20001.25
    for value in (state.bid, state.ask, state.last, state.volume):
        assert value is None or isinstance(value, int | float)


# ---------------------------------------------------------------------- atheris


def _atheris_target(data: bytes) -> None:
    reader = _ATHERIS_READER
    reader.feed("user", data)
    reader.feed("market", data)
    for hub in ("user", "market"):
        reader.feed(hub, RS)  # end whatever partial record the input left


_ATHERIS_READER: Reader


def test_atheris_run(tmp_path: Path) -> None:
    """A short coverage-guided run (when atheris is installed) from a corpus of real records."""
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seeds = [order_record(9001, 1, 0, 2, 1), *MARKET_RECORDS, *OTHER_USER_RECORDS]
    for index, seed in enumerate(seeds):
        (corpus / f"seed{index}").write_bytes(seed + RS)
    done = subprocess.run(
        [sys.executable, __file__, "-runs=100000", "-max_len=2048", "-seed=1", str(corpus)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done 100000 runs" in done.stderr


def _instrument(atheris: Any) -> None:
    """Coverage for the Python side of the read path only (instrumenting every loaded
    module takes the better part of a minute)."""
    for cls in (_Listener, HubConnection, UserStream, MarketStream, EventBus):
        for name, value in list(vars(cls).items()):
            if callable(value) and hasattr(value, "__code__"):
                setattr(cls, name, atheris.instrument_func(value))


if __name__ == "__main__":
    import atheris

    _instrument(atheris)
    _ATHERIS_READER = Reader()
    atheris.Setup(sys.argv, _atheris_target)
    atheris.Fuzz()

"""pxfast._wire against a pure-Python oracle built on ``json``.

The frames are the byte-exact examples of gateway-protocol.md §10–§11.  The
oracle decodes one record with ``json.loads`` and builds the item the decoder
must return; the properties then check that framing (any chunking), bad
records and oversized records never change what the valid records yield.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pxfast._wire import (
    DEFAULT_MAX_RECORD_SIZE,
    HANDSHAKE_REQUEST,
    PING_MESSAGE,
    RECORD_SEPARATOR,
    FrameDecoder,
    Item,
    encode_invocation,
)
from pxfast.messages import (
    AccountUpdate,
    Close,
    Completion,
    DepthEntry,
    DepthEvent,
    Handshake,
    Logout,
    MarketTrade,
    OrderUpdate,
    Ping,
    PositionUpdate,
    Quote,
    QuoteEvent,
    TradeEvent,
    TradeUpdate,
    UnknownInvocation,
    UserAccount,
    UserOrder,
    UserPosition,
    UserTrade,
    WireError,
)

RS = b"\x1e"

# --------------------------------------------------------------------------
# gateway-protocol.md §10–§11, byte for byte (␞ written as 0x1E)
# --------------------------------------------------------------------------

ACCOUNT = b'{"type":1,"target":"GatewayUserAccount","arguments":[{"action":1,"data":{"id":7001,"name":"PRAC-TEST-1","balance":50010.0,"canTrade":true,"isVisible":true,"simulated":true}}]}'  # noqa: E501
ORDER = b'{"type":1,"target":"GatewayUserOrder","arguments":[{"action":1,"data":{"id":9001,"accountId":7001,"contractId":"CON.F.US.MNQ.Z25","symbolId":"F.US.MNQ","creationTimestamp":"2025-11-24T21:00:00.123456+00:00","updateTimestamp":"2025-11-24T21:00:00.223456+00:00","status":2,"type":1,"side":0,"size":1,"limitPrice":20000.0,"stopPrice":null,"fillVolume":1,"filledPrice":20000.0,"customTag":null}}]}'  # noqa: E501
BRACKET_CHILD = b'{"type":1,"target":"GatewayUserOrder","arguments":[{"action":1,"data":{"id":9105,"accountId":7001,"contractId":"CON.F.US.MNQ.Z25","symbolId":"F.US.MNQ","creationTimestamp":"2025-11-24T21:00:01.000000+00:00","updateTimestamp":"2025-11-24T21:00:01.000000+00:00","status":8,"type":4,"side":1,"size":1,"fillVolume":0,"filledPrice":null,"customTag":"strat-7-SL","parentOrderId":9104,"trailDistance":-40,"trailPrice":-10.0}}]}'  # noqa: E501
POSITION_OPEN = b'{"type":1,"target":"GatewayUserPosition","arguments":[{"action":1,"data":{"id":56,"accountId":7001,"contractId":"CON.F.US.MNQ.Z25","creationTimestamp":"2025-11-24T21:00:00.123456+00:00","type":1,"size":3,"averagePrice":20000.5}}]}'  # noqa: E501
POSITION_CLOSED = b'{"type":1,"target":"GatewayUserPosition","arguments":[{"action":2,"data":{"id":56,"accountId":7001,"contractId":"CON.F.US.MNQ.Z25","creationTimestamp":"2025-11-24T21:00:00.123456+00:00","type":0,"size":0,"averagePrice":20004.0}}]}'  # noqa: E501
TRADE = b'{"type":1,"target":"GatewayUserTrade","arguments":[{"action":0,"data":{"id":777,"accountId":7001,"contractId":"CON.F.US.MNQ.Z25","creationTimestamp":"2025-11-24T21:00:00.223456+00:00","price":20000.0,"profitAndLoss":null,"fees":0.37,"side":0,"size":1,"voided":false,"orderId":9001}}]}'  # noqa: E501
QUOTE = b'{"type":1,"target":"GatewayQuote","arguments":["CON.F.US.MNQ.Z25",{"symbol":"F.US.MNQ","symbolName":"/MNQ","lastPrice":20001.0,"bestBid":20000.75,"bestAsk":20001.25,"change":12.5,"changePercent":0.06,"open":19990.0,"high":20020.0,"low":19980.0,"volume":12000,"lastUpdated":"2025-11-24T21:00:00.123+00:00","timestamp":"2025-11-24T21:00:00.123+00:00"}]}'  # noqa: E501
MARKET_TRADE = b'{"type":1,"target":"GatewayTrade","arguments":["CON.F.US.MNQ.Z25",[{"symbolId":"F.US.MNQ","price":20001.0,"timestamp":"2025-11-24T21:00:00.456+00:00","type":0,"volume":2}]]}'  # noqa: E501
DEPTH = b'{"type":1,"target":"GatewayDepth","arguments":["CON.F.US.MNQ.Z25",[{"timestamp":"2025-11-24T21:00:00.5+00:00","type":6,"price":0,"volume":0,"currentVolume":0},{"timestamp":"2025-11-24T21:00:00.5+00:00","type":2,"price":20000.75,"volume":10,"currentVolume":10},{"timestamp":"2025-11-24T21:00:00.5+00:00","type":1,"price":20001.25,"volume":8,"currentVolume":8}]]}'  # noqa: E501
PING = b'{"type":6}'

EXAMPLES = [
    ACCOUNT,
    ORDER,
    BRACKET_CHILD,
    POSITION_OPEN,
    POSITION_CLOSED,
    TRADE,
    QUOTE,
    MARKET_TRADE,
    DEPTH,
    PING,
]


# --------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------

USER_TARGETS: dict[str, tuple[type[Any], type[Any]]] = {
    "GatewayUserAccount": (UserAccount, AccountUpdate),
    "GatewayUserOrder": (UserOrder, OrderUpdate),
    "GatewayUserPosition": (UserPosition, PositionUpdate),
    "GatewayUserTrade": (UserTrade, TradeUpdate),
}
LIST_TARGETS: dict[str, tuple[type[Any], type[Any]]] = {
    "GatewayTrade": (TradeEvent, MarketTrade),
    "GatewayDepth": (DepthEvent, DepthEntry),
}


def oracle(record: bytes, *, handshake: bool = False) -> Item:
    """The item for one valid record, decoded with ``json``."""
    obj = json.loads(record)
    if handshake:
        return Handshake(obj.get("error"))
    kind = obj["type"]
    if kind == 6:
        return Ping()
    if kind == 3:
        return Completion(obj["invocationId"], obj.get("result"), obj.get("error"))
    if kind == 7:
        return Close(obj.get("error"), obj.get("allowReconnect"))
    assert kind == 1
    target, args = obj["target"], obj["arguments"]
    if target in USER_TARGETS:
        item, model = USER_TARGETS[target]
        (arg,) = args
        if set(arg) == {"action", "data"}:
            return item(arg["action"], model(**arg["data"]))  # type: ignore[no-any-return]
        return item(-1, model(**arg))  # type: ignore[no-any-return]
    if target == "GatewayQuote":
        return QuoteEvent(args[0], Quote(**args[1]))
    if target in LIST_TARGETS:
        event, entry = LIST_TARGETS[target]
        entries = args[1] if isinstance(args[1], list) else [args[1]]
        return event(args[0], [entry(**e) for e in entries])  # type: ignore[no-any-return]
    if target == "GatewayLogout":
        return Logout(args)
    return UnknownInvocation(target, args)


def frame(*records: bytes) -> bytes:
    return b"".join(r + RS for r in records)


def decoder(**kwargs: Any) -> FrameDecoder:
    """A decoder past the handshake, as on a live connection."""
    return FrameDecoder(handshake=False, **kwargs)


def feed_all(dec: FrameDecoder, chunks: list[bytes]) -> list[Item]:
    out: list[Item] = []
    for chunk in chunks:
        out.extend(dec.feed(chunk))
    return out


def bare(record: bytes) -> bytes:
    """The same user event with the model sent bare, as the docs show it."""
    obj = json.loads(record)
    obj["arguments"] = [obj["arguments"][0]["data"]]
    return json.dumps(obj, separators=(",", ":")).encode()


# --------------------------------------------------------------------------
# Every event type
# --------------------------------------------------------------------------


@pytest.mark.parametrize("record", EXAMPLES)
def test_documented_frames(record: bytes) -> None:
    dec = decoder()
    items = dec.feed(record + RS)
    assert items == [oracle(record)]
    assert dec.errors == 0
    assert dec.buffered == 0


def test_documented_fields() -> None:
    order, child, closed, depth, quote = decoder().feed(
        frame(ORDER, BRACKET_CHILD, POSITION_CLOSED, DEPTH, QUOTE)
    )
    assert isinstance(order, UserOrder) and order.action == 1
    assert order.data.id == 9001 and order.data.filledPrice == 20000.0
    assert isinstance(child, UserOrder)
    assert child.data.limitPrice is None and child.data.parentOrderId == 9104
    assert child.data.trailDistance == -40 and child.data.customTag == "strat-7-SL"
    assert isinstance(closed, UserPosition) and closed.action == 2 and closed.data.size == 0
    assert isinstance(depth, DepthEvent) and [e.type for e in depth.data] == [6, 2, 1]
    assert isinstance(quote, QuoteEvent) and quote.contract_id == "CON.F.US.MNQ.Z25"
    assert quote.data.volume == 12000.0 and isinstance(quote.data.volume, float)


@pytest.mark.parametrize("record", [ACCOUNT, ORDER, BRACKET_CHILD, POSITION_OPEN, TRADE])
def test_user_events_bare_and_wrapped(record: bytes) -> None:
    dec = decoder()
    plain = bare(record)
    # Both orders of arrival: the decoder learns each target's form, and
    # must still take the other one whenever it appears.
    items = dec.feed(frame(record, plain, plain, record, plain))
    assert items == [oracle(r) for r in (record, plain, plain, record, plain)]
    assert [i.action for i in items] == [oracle(record).action, -1, -1, oracle(record).action, -1]  # type: ignore[union-attr]
    assert dec.errors == 0


@pytest.mark.parametrize(("record", "event"), [(MARKET_TRADE, TradeEvent), (DEPTH, DepthEvent)])
def test_list_and_single_object_payloads(record: bytes, event: type[Any]) -> None:
    obj = json.loads(record)
    single = dict(obj, arguments=[obj["arguments"][0], obj["arguments"][1][-1]])
    single_record = json.dumps(single).encode()
    items = decoder().feed(frame(record, single_record))
    assert items == [oracle(record), oracle(single_record)]
    assert all(isinstance(i, event) and isinstance(i.data, list) for i in items)
    assert len(items[1].data) == 1  # type: ignore[union-attr]


def test_seven_digit_timestamps_pass_through() -> None:
    stamp = "2025-11-24T21:00:00.1234567+00:00"
    record = ORDER.replace(b"2025-11-24T21:00:00.223456+00:00", stamp.encode())
    (item,) = decoder().feed(record + RS)
    assert isinstance(item, UserOrder) and item.data.updateTimestamp == stamp


def test_logout_with_any_arguments() -> None:
    records = [
        b'{"type":1,"target":"GatewayLogout","arguments":[]}',
        b'{"type":1,"target":"GatewayLogout","arguments":["elsewhere",{"at":1}]}',
        b'{"type":1,"target":"GatewayLogout"}',
    ]
    assert decoder().feed(frame(*records)) == [
        Logout([]),
        Logout(["elsewhere", {"at": 1}]),
        Logout([]),
    ]


@pytest.mark.parametrize(
    "record",
    [
        b'{"type":3,"invocationId":"1","result":null}',
        b'{"type":3,"invocationId":"q1"}',
        b'{"type":3,"invocationId":"7","result":{"ok":[1,2.5,"x"]}}',
        b'{"type":3,"invocationId":"8","error":"Method does not exist."}',
    ],
)
def test_completions(record: bytes) -> None:
    assert decoder().feed(record + RS) == [oracle(record)]


@pytest.mark.parametrize(
    "record",
    [
        b'{"type":7}',
        b'{"type":7,"error":"Server is shutting down."}',
        b'{"type":7,"error":"Connection closed with an error.","allowReconnect":true}',
        b'{"type":7,"allowReconnect":false}',
    ],
)
def test_close(record: bytes) -> None:
    assert decoder().feed(record + RS) == [oracle(record)]


def test_ping_is_recognised_in_any_spelling() -> None:
    items = decoder().feed(frame(PING, b'{"type": 6}', b' { "type" : 6 } '))
    assert items == [Ping(), Ping(), Ping()]


# --------------------------------------------------------------------------
# Handshake
# --------------------------------------------------------------------------


def test_handshake_ok_then_messages_in_the_same_frame() -> None:
    dec = FrameDecoder()
    assert dec.in_handshake
    assert dec.feed(b"{}" + RS + PING + RS + QUOTE + RS) == [Handshake(None), Ping(), oracle(QUOTE)]
    assert not dec.in_handshake


def test_handshake_error() -> None:
    dec = FrameDecoder()
    reply = b'{"error":"Requested protocol \'json\' is not available."}'
    assert dec.feed(reply + RS) == [oracle(reply, handshake=True)]
    assert dec.counts()["Handshake"] == 1


def test_handshake_split_across_feeds() -> None:
    dec = FrameDecoder()
    assert dec.feed(b"{") == []
    assert dec.feed(b"}") == []
    assert dec.feed(RS) == [Handshake(None)]


@pytest.mark.parametrize("reply", [PING, b"[]", b"not json", b'{"error":5}'])
def test_handshake_reply_that_is_not_one(reply: bytes) -> None:
    dec = FrameDecoder()
    (item,) = dec.feed(reply + RS)
    assert isinstance(item, WireError) and item.reason.startswith("handshake: ")
    assert not dec.in_handshake
    # The stream goes on: what follows is decoded as hub messages.
    assert dec.feed(PING + RS) == [Ping()]


# --------------------------------------------------------------------------
# Framing
# --------------------------------------------------------------------------


def test_several_records_per_chunk() -> None:
    dec = decoder()
    assert dec.feed(frame(*EXAMPLES)) == [oracle(r) for r in EXAMPLES]
    assert dec.records == len(EXAMPLES)


def test_every_split_point() -> None:
    data = frame(ORDER, PING, DEPTH, bare(TRADE), QUOTE)
    expected = [oracle(r) for r in (ORDER, PING, DEPTH, bare(TRADE), QUOTE)]
    dec = decoder()
    for cut in range(len(data) + 1):
        assert feed_all(dec, [data[:cut], data[cut:]]) == expected, cut
        assert dec.buffered == 0


def test_byte_by_byte() -> None:
    data = frame(ACCOUNT, MARKET_TRADE, POSITION_OPEN)
    items = feed_all(decoder(), [data[i : i + 1] for i in range(len(data))])
    assert items == [oracle(r) for r in (ACCOUNT, MARKET_TRADE, POSITION_OPEN)]


def test_partial_record_is_held_until_its_separator() -> None:
    dec = decoder()
    assert dec.feed(ORDER[:100]) == []
    assert dec.buffered == 100
    assert dec.feed(ORDER[100:]) == []
    assert dec.feed(RS + PING) == [oracle(ORDER)]
    assert dec.buffered == len(PING)


def test_empty_records_are_skipped() -> None:
    dec = decoder()
    assert dec.feed(RS + RS + PING + RS + RS) == [Ping()]
    assert dec.records == 1


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, str])
def test_input_types(kind: type[Any]) -> None:
    tagged = ORDER.replace(b'"customTag":null', '"customTag":"größe→🚀"'.encode())
    data = frame(tagged, QUOTE)
    payload = data.decode() if kind is str else kind(data)
    items = decoder().feed(payload)
    assert items == [oracle(tagged), oracle(QUOTE)]
    assert items[0].data.customTag == "größe→🚀"  # type: ignore[union-attr]


def test_text_with_a_lone_surrogate_fails_only_its_record() -> None:
    bad = '{"type":1,"target":"GatewayLogout","arguments":["\ud800"]}'
    items = decoder().feed(PING.decode() + "\x1e" + bad + "\x1e" + PING.decode() + "\x1e")
    assert items[0] == Ping() and items[2] == Ping()
    assert isinstance(items[1], WireError)


def test_non_buffer_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        decoder().feed(12)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Key order, spacing and look-alike keys
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        # pysignalr's key order and spacing, with its empty headers object
        json.dumps(
            {
                "target": "GatewayQuote",
                "arguments": json.loads(QUOTE)["arguments"],
                "type": 1,
                "headers": {},
            }
        ).encode(),
        # arguments before target: the head scan gives up, the generic path decodes it
        b'{"arguments":["CON.F.US.MNQ.Z25",{"symbol":"F.US.MNQ"}],"type":1,"target":"GatewayQuote"}',
        b'{ "type" : 1 , "target" : "GatewayQuote" , "arguments" : [ "C" , { } ] }',
        # an escaped target name is still that target
        b'{"type":1,"target":"Gateway\\u0051uote","arguments":["C",{}]}',
        # a string value "target" and a key with an escaped quote are not the key
        b'{"type":1,"x":"target","k\\"target":"GatewayDepth","target":"GatewayQuote","arguments":["C",{}]}',
        # an invocationId from the server is ignored
        b'{"type":1,"invocationId":"5","target":"GatewayQuote","arguments":["C",{}]}',
    ],
)
def test_spellings_of_an_invocation(record: bytes) -> None:
    dec = decoder()
    assert dec.feed(record + RS) == [oracle(record)]
    assert dec.errors == 0


def test_a_nested_target_key_is_not_the_record_target() -> None:
    # Without a top-level target this is not an invocation of anything.
    record = b'{"type":1,"arguments":[{"target":"GatewayLogout"}]}'
    (item,) = decoder().feed(record + RS)
    assert isinstance(item, WireError) and "target" in item.reason
    # A nested key must not shadow the real one either.
    record = b'{"type":1,"arguments":[{"target":"GatewayLogout"}],"target":"Other"}'
    assert decoder().feed(record + RS) == [
        UnknownInvocation("Other", [{"target": "GatewayLogout"}])
    ]


# --------------------------------------------------------------------------
# Bad records: counted, reported in place, never fatal
# --------------------------------------------------------------------------

BAD_RECORDS = {
    "bad json": b'{"type":1,"target":"GatewayUserOrder","arguments":[{"action":1,',
    "not an object": b"[1,2,3]",
    "garbage": b"\x00\xff\xfe garbage",
    "invalid utf-8": b'{"type":1,"target":"GatewayLogout","arguments":["\xed\xa0\x80"]}',
    "wrong field type": ORDER.replace(b'"id":9001', b'"id":"9001"'),
    "wrong type in bare form": bare(ORDER).replace(b'"size":1', b'"size":"1"'),
    "missing required field": ORDER.replace(b'"accountId":7001,', b""),
    "null required field": TRADE.replace(b'"price":20000.0', b'"price":null'),
    "two arguments": ORDER.replace(b"}}]}", b'}},{"x":1}]}'),
    "quote without contract": b'{"type":1,"target":"GatewayQuote","arguments":[{"symbol":"F"}]}',
    "depth entry without price": DEPTH.replace(b'"price":20000.75,', b""),
    "unknown type": b'{"type":4,"invocationId":"1","target":"X","arguments":[]}',
    "type missing": b'{"target":"GatewayQuote","arguments":["C",{}]}',
    "type not a number": b'{"type":"1","target":"GatewayQuote","arguments":["C",{}]}',
    "invocation without target": b'{"type":1,"arguments":[]}',
    "completion without id": b'{"type":3,"result":1}',
    "close error not a string": b'{"type":7,"error":1}',
    "whitespace only": b"  \n ",
    "deep nesting": b'{"type":1,"target":"GatewayLogout","arguments":'
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}",
}


@pytest.mark.parametrize("bad", BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_bad_record_between_valid_ones(bad: bytes) -> None:
    dec = decoder()
    items = dec.feed(frame(ORDER, QUOTE, bad, DEPTH, PING))
    assert len(items) == 5
    assert items[:2] == [oracle(ORDER), oracle(QUOTE)]
    assert items[3:] == [oracle(DEPTH), Ping()]
    error = items[2]
    assert isinstance(error, WireError)
    assert error.record == bad[:1024]
    assert dec.errors == 1 and dec.unknown_targets == 0
    assert dec.counts()["WireError"] == 1


def test_error_reasons_name_the_target_and_the_field() -> None:
    items = decoder().feed(
        frame(BAD_RECORDS["wrong field type"], BAD_RECORDS["wrong type in bare form"])
    )
    reasons = [i.reason for i in items]  # type: ignore[union-attr]
    assert reasons[0] == "GatewayUserOrder: Expected `int`, got `str` - at `$.arguments[0].data.id`"
    assert reasons[1] == "GatewayUserOrder: Expected `int`, got `str` - at `$.arguments[0].size`"


def test_unknown_targets_are_counted_apart_from_errors() -> None:
    # project-x-py's health check, exactly as pysignalr writes it (§9.3 item 7)
    heartbeat = (
        b'{"target": "Heartbeat", "arguments": [{"timestamp": 1795554961.4290442}], '
        b'"type": 1, "headers": {}}'
    )
    items = decoder().feed(
        frame(heartbeat, b'{"type":1,"target":"gatewaylogout","arguments":[]}', PING)
    )
    assert items == [oracle(heartbeat), UnknownInvocation("gatewaylogout", []), Ping()]
    dec = decoder()
    dec.feed(frame(heartbeat, heartbeat))
    assert dec.unknown_targets == 2 and dec.errors == 0


def test_counters_and_reset() -> None:
    dec = FrameDecoder()
    dec.feed(
        frame(b"{}", ORDER, ORDER, QUOTE, PING, b"bad", b'{"type":1,"target":"X","arguments":[]}')
    )
    counts = dec.counts()
    assert counts["Handshake"] == 1 and counts["UserOrder"] == 2 and counts["QuoteEvent"] == 1
    assert counts["Ping"] == 1 and counts["WireError"] == 1 and counts["UnknownInvocation"] == 1
    assert dec.records == sum(counts.values()) == 7
    assert dec.errors == 1 and dec.unknown_targets == 1

    dec.feed(ORDER[:50])
    dec.reset()  # reconnect: the partial record is dropped, a handshake is expected again
    assert dec.buffered == 0 and dec.in_handshake and dec.records == 7
    assert dec.feed(frame(b"{}", PING)) == [Handshake(None), Ping()]

    dec.reset(handshake=False, counters=True)
    assert not dec.in_handshake and dec.records == 0 and set(dec.counts().values()) == {0}
    assert dec.feed(frame(PING)) == [Ping()]


# --------------------------------------------------------------------------
# Oversized records
# --------------------------------------------------------------------------


def test_oversized_record_in_one_chunk() -> None:
    dec = decoder(max_record_size=len(QUOTE))
    big = ORDER  # longer than QUOTE
    assert len(big) > len(QUOTE)
    items = dec.feed(frame(QUOTE, big, QUOTE))
    assert items[0] == items[2] == oracle(QUOTE)
    assert isinstance(items[1], WireError) and "max_record_size" in items[1].reason
    assert items[1].record == big[:1024]
    assert dec.oversized == 1 and dec.errors == 1 and dec.records == 3


def test_oversized_record_spanning_chunks_is_never_buffered_whole() -> None:
    limit = 4096
    dec = decoder(max_record_size=limit)
    head = b'{"type":1,"target":"GatewayLogout","arguments":["'
    out = dec.feed(PING + RS + head)
    assert out == [Ping()]
    reported: list[Item] = []
    for _ in range(100):  # 100 KiB of one record
        reported += dec.feed(b"x" * 1024)
        assert dec.buffered <= limit
    assert len(reported) == 1 and isinstance(reported[0], WireError)
    assert reported[0].record.startswith(head)
    # The rest of the record is skipped; the next records come through.
    assert dec.feed(b'x"]}' + RS + frame(QUOTE, PING)) == [oracle(QUOTE), Ping()]
    assert dec.oversized == 1 and dec.buffered == 0


def test_record_of_exactly_the_limit_is_accepted() -> None:
    dec = decoder(max_record_size=len(ORDER))
    assert dec.feed(ORDER[:10]) == []
    assert dec.feed(ORDER[10:] + RS) == [oracle(ORDER)]
    assert dec.oversized == 0


def test_oversized_handshake_reply_ends_the_handshake() -> None:
    dec = FrameDecoder(max_record_size=8)
    (item,) = dec.feed(b'{"error":"a long reason"}' + RS)
    assert isinstance(item, WireError) and not dec.in_handshake


def test_max_record_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FrameDecoder(0)
    assert FrameDecoder().max_record_size == DEFAULT_MAX_RECORD_SIZE


# --------------------------------------------------------------------------
# Encoders
# --------------------------------------------------------------------------


def test_fixed_messages() -> None:
    assert HANDSHAKE_REQUEST == b'{"protocol":"json","version":1}\x1e'
    assert PING_MESSAGE == b'{"type":6}\x1e'
    assert RECORD_SEPARATOR == b"\x1e"
    dec = FrameDecoder()
    assert dec.feed(b"{}\x1e" + PING_MESSAGE) == [Handshake(None), Ping()]


def test_encode_invocation_exact_bytes() -> None:
    assert encode_invocation("SubscribeOrders", [7001]) == (
        b'{"type":1,"target":"SubscribeOrders","arguments":[7001]}\x1e'
    )
    assert encode_invocation("SubscribeContractQuotes", ("CON.F.US.MNQ.Z25",), "q1") == (
        b'{"type":1,"invocationId":"q1","target":"SubscribeContractQuotes",'
        b'"arguments":["CON.F.US.MNQ.Z25"]}\x1e'
    )
    assert encode_invocation("SubscribeAccounts", []) == (
        b'{"type":1,"target":"SubscribeAccounts","arguments":[]}\x1e'
    )


def test_encode_invocation_accepts_str_enums() -> None:
    class Method(enum.StrEnum):
        SUBSCRIBE_ORDERS = "SubscribeOrders"

    class Tag(str):
        pass

    assert encode_invocation(Method.SUBSCRIBE_ORDERS, [7001], Tag("7")) == (
        b'{"type":1,"invocationId":"7","target":"SubscribeOrders","arguments":[7001]}\x1e'
    )


@pytest.mark.parametrize(
    "call",
    [
        ("SubscribeOrders", 7001),
        ("SubscribeOrders", [object()]),
        (7, [7001]),
        ("SubscribeOrders", [7001], 7),
    ],
)
def test_encode_invocation_rejects_bad_input(call: tuple[Any, ...]) -> None:
    with pytest.raises(TypeError):
        encode_invocation(*call)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    target=st.text(min_size=1, max_size=30),
    arguments=st.lists(json_values, max_size=5),
    invocation_id=st.none() | st.text(max_size=10),
)
def test_encode_invocation_matches_json(
    target: str, arguments: list[Any], invocation_id: str | None
) -> None:
    encoded = encode_invocation(target, arguments, invocation_id)
    assert encoded.endswith(RS) and encoded.count(RS) == 1
    expected: dict[str, Any] = {"type": 1, "target": target, "arguments": arguments}
    if invocation_id is not None:
        expected["invocationId"] = invocation_id
    assert json.loads(encoded[:-1]) == expected
    # ... and the decoder reads it back (client-to-server traffic, e.g. in the simulator).
    (item,) = decoder().feed(encoded)
    if target in USER_TARGETS or target in LIST_TARGETS or target.startswith("Gateway"):
        return  # a known target's payload rules apply; covered above
    assert item == UnknownInvocation(target, json.loads(encoded[:-1])["arguments"])


# --------------------------------------------------------------------------
# Properties: round trip under any chunking, fuzzing
# --------------------------------------------------------------------------

i32 = st.integers(-(2**31), 2**31 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
num = st.floats(allow_nan=False, allow_infinity=False)
text = st.text(max_size=12)
opt_num = st.none() | num
opt_text = st.none() | text

orders = st.builds(
    OrderUpdate,
    id=i64,
    accountId=i32,
    contractId=text,
    symbolId=opt_text,
    creationTimestamp=text,
    updateTimestamp=opt_text,
    status=i32,
    type=i32,
    side=i32,
    size=i32,
    limitPrice=opt_num,
    stopPrice=opt_num,
    fillVolume=st.none() | i32,
    filledPrice=opt_num,
    customTag=opt_text,
    trailPrice=opt_num,
    trailDistance=st.none() | i32,
    parentOrderId=st.none() | i64,
    linkedOrderId=st.none() | i64,
)
positions = st.builds(
    PositionUpdate,
    id=st.none() | i32,
    accountId=i32,
    contractId=text,
    contractDisplayName=opt_text,
    creationTimestamp=opt_text,
    type=i32,
    size=i32,
    averagePrice=num,
)
trades = st.builds(
    TradeUpdate,
    id=i64,
    accountId=i32,
    contractId=text,
    creationTimestamp=text,
    price=num,
    profitAndLoss=opt_num,
    fees=opt_num,
    commissions=opt_num,
    side=i32,
    size=i32,
    voided=st.booleans(),
    orderId=i64,
)
accounts = st.builds(
    AccountUpdate,
    id=i32,
    name=text,
    balance=num,
    canTrade=st.booleans(),
    isVisible=st.booleans(),
    simulated=st.booleans(),
)
quotes = st.builds(
    Quote,
    symbol=opt_text,
    symbolName=opt_text,
    lastPrice=opt_num,
    bestBid=opt_num,
    bestAsk=opt_num,
    change=opt_num,
    changePercent=opt_num,
    open=opt_num,
    high=opt_num,
    low=opt_num,
    volume=opt_num,
    lastUpdated=opt_text,
    timestamp=opt_text,
)
market_trades = st.builds(
    MarketTrade, symbolId=opt_text, price=num, timestamp=opt_text, type=st.none() | i32, volume=num
)
depth_entries = st.builds(
    DepthEntry, timestamp=opt_text, type=i32, price=num, volume=num, currentVolume=opt_num
)


def _user(
    target: str, item: type[Any], models: st.SearchStrategy[Any]
) -> st.SearchStrategy[tuple[Any, Item]]:
    """(arguments, expected item) for a user event, wrapped or bare."""
    return st.tuples(models, st.none() | st.integers(0, 2)).map(
        lambda p: (
            target,
            [
                msgspec.to_builtins(p[0])
                if p[1] is None
                else {"action": p[1], "data": msgspec.to_builtins(p[0])}
            ],
            item(-1 if p[1] is None else p[1], p[0]),
        )
    )


def _market(
    target: str, event: type[Any], entries: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """(arguments, expected item) for a market event, a list of entries or one object."""
    return st.tuples(text, st.lists(entries, max_size=4), st.booleans()).map(
        lambda p: (
            target,
            [p[0], msgspec.to_builtins(p[1][0]) if p[2] and p[1] else msgspec.to_builtins(p[1])],
            event(p[0], p[1][:1] if p[2] and p[1] else p[1]),
        )
    )


invocations = st.one_of(
    _user("GatewayUserOrder", UserOrder, orders),
    _user("GatewayUserPosition", UserPosition, positions),
    _user("GatewayUserTrade", UserTrade, trades),
    _user("GatewayUserAccount", UserAccount, accounts),
    st.tuples(text, quotes).map(
        lambda p: ("GatewayQuote", [p[0], msgspec.to_builtins(p[1])], QuoteEvent(p[0], p[1]))
    ),
    _market("GatewayTrade", TradeEvent, market_trades),
    _market("GatewayDepth", DepthEvent, depth_entries),
    st.lists(json_values, max_size=3).map(lambda a: ("GatewayLogout", a, Logout(a))),
    st.tuples(
        st.text(min_size=1, max_size=12).filter(lambda t: not t.startswith("Gateway")),
        st.lists(json_values, max_size=3),
    ).map(lambda p: (p[0], p[1], UnknownInvocation(p[0], p[1]))),
)


@st.composite
def records(draw: st.DrawFn) -> tuple[bytes, Item]:
    """One valid record, JSON-encoded in one of several styles, with its expected item."""
    kind = draw(
        st.sampled_from(["invocation", "invocation", "invocation", "ping", "completion", "close"])
    )
    obj: dict[str, Any]
    if kind == "invocation":
        target, arguments, item = draw(invocations)
        obj = {"type": 1, "target": target, "arguments": arguments}
    elif kind == "ping":
        obj, item = {"type": 6}, Ping()
    elif kind == "completion":
        invocation_id, result, error = draw(text), draw(json_values), draw(opt_text)
        obj, item = (
            {"type": 3, "invocationId": invocation_id, "result": result},
            Completion(invocation_id, result, error),
        )
        if error is not None:
            obj["error"] = error
    else:
        error, allow = draw(opt_text), draw(st.none() | st.booleans())
        obj, item = {"type": 7, "error": error, "allowReconnect": allow}, Close(error, allow)
    keys = draw(st.permutations(list(obj)))
    obj = {k: obj[k] for k in keys}
    style = draw(st.sampled_from(["msgspec", "compact", "spaced", "ascii"]))
    if style == "msgspec":
        encoded = msgspec.json.encode(obj)
    elif style == "compact":
        encoded = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    elif style == "spaced":
        encoded = json.dumps(obj, indent=1, ensure_ascii=False).encode()
    else:
        encoded = json.dumps(obj).encode()
    return encoded, item


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.lists(records(), min_size=1, max_size=8), st.lists(st.integers(0, 10**6), max_size=12))
def test_round_trip_in_any_chunking(recs: list[tuple[bytes, Item]], cuts: list[int]) -> None:
    data = frame(*(r for r, _ in recs))
    dec = decoder()
    assert feed_all(dec, chunked(data, cuts)) == [item for _, item in recs]
    assert dec.errors == 0 and dec.buffered == 0


@FAST
@given(st.lists(records(), min_size=1, max_size=4))
def test_round_trip_against_the_json_oracle(recs: list[tuple[bytes, Item]]) -> None:
    assert decoder().feed(frame(*(r for r, _ in recs))) == [oracle(r) for r, _ in recs]


@FAST
@given(st.lists(st.binary(max_size=64), max_size=10), st.integers(8, 128))
def test_random_bytes_never_raise(chunks: list[bytes], limit: int) -> None:
    dec = decoder(max_record_size=limit)
    items = feed_all(dec, chunks)
    assert dec.records == len(items) == sum(dec.counts().values())
    assert dec.buffered <= limit


@st.composite
def mutated(draw: st.DrawFn, recs: list[tuple[bytes, Item]]) -> bytes:
    """A record with a few bytes flipped, inserted or deleted, or plain garbage (never a 0x1E)."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(min_size=1, max_size=64).map(lambda b: b.replace(RS, b"?")))
    record = bytearray(draw(st.sampled_from([r for r, _ in recs])))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        at = draw(st.integers(0, len(record)))
        if op == "delete" and len(record) > 1:
            del record[min(at, len(record) - 1)]
        elif op == "insert":
            record.insert(at, draw(st.integers(0, 255).filter(lambda b: b != 0x1E)))
        elif record:
            record[min(at, len(record) - 1)] = draw(st.integers(0, 255).filter(lambda b: b != 0x1E))
    return bytes(record)


@FAST
@given(
    st.data(),
    st.lists(records(), min_size=2, max_size=6),
    st.lists(st.integers(0, 10**6), max_size=8),
)
def test_mutated_record_never_costs_its_neighbours(
    data: st.DataObject, recs: list[tuple[bytes, Item]], cuts: list[int]
) -> None:
    bad = data.draw(mutated([*recs, *((r, oracle(r)) for r in EXAMPLES)]))
    at = data.draw(st.integers(0, len(recs)))
    wire = [r for r, _ in recs]
    wire.insert(at, bad)
    items = feed_all(decoder(), chunked(frame(*wire), cuts))
    expected = [item for _, item in recs]
    assert len(items) == len(expected) + 1
    assert items[:at] + items[at + 1 :] == expected


@FAST
@given(
    st.lists(records(), min_size=1, max_size=8),
    st.lists(st.integers(0, 10**6), max_size=12),
    st.integers(16, 400),
)
def test_size_limit_is_independent_of_chunking(
    recs: list[tuple[bytes, Item]], cuts: list[int], limit: int
) -> None:
    data = frame(*(r for r, _ in recs))
    dec = decoder(max_record_size=limit)
    items = feed_all(dec, chunked(data, cuts))
    expected: list[Any] = [WireError if len(r) > limit else item for r, item in recs]
    assert len(items) == len(expected)
    for got, want in zip(items, expected, strict=True):
        if want is WireError:
            assert isinstance(got, WireError) and "max_record_size" in got.reason
        else:
            assert got == want
    assert dec.oversized == sum(len(r) > limit for r, _ in recs)

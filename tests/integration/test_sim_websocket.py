"""RFC 6455 on the hub sockets, byte by byte over a raw TCP connection."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct

import pytest

from pxfast.sim import GatewaySimulator

pytestmark = pytest.mark.both_loops

TEXT, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x0, 0x8, 0x9, 0xA
WAIT = 5.0


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True) -> bytes:
    head = bytes([(0x80 if fin else 0) | opcode])
    length = len(payload)
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    key = os.urandom(4)
    stream = (key * (length // 4 + 1))[:length]
    masked_payload = int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")
    return head + key + masked_payload.to_bytes(length, "big")


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b0, b1 = await asyncio.wait_for(reader.readexactly(2), WAIT)
    assert not b1 & 0x80, "server frames are never masked"
    length = b1 & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    return b0 & 0x0F, await asyncio.wait_for(reader.readexactly(length), WAIT)


async def upgrade(simulator: GatewaySimulator
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    simulator.add_user("alice")
    token = simulator.token("alice")
    reader, writer = await asyncio.open_connection("127.0.0.1", simulator.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((
        f"GET /hubs/market?access_token={token} HTTP/1.1\r\nHost: x\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    ).encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    accept = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    assert head.startswith(b"HTTP/1.1 101 ")
    assert b"Sec-WebSocket-Accept: " + accept in head
    return reader, writer, head


async def test_fragments_pings_and_close(simulator: GatewaySimulator) -> None:
    reader, writer, head = await upgrade(simulator)
    assert b"permessage-deflate" not in head  # compression declined
    handshake = b'{"protocol":"json","version":1}\x1e'
    writer.write(frame(TEXT, handshake[:10], fin=False))
    writer.write(frame(PING, b"are-you-there"))  # a control frame between fragments
    writer.write(frame(CONTINUATION, handshake[10:]))
    assert await read_frame(reader) == (PONG, b"are-you-there")
    assert await read_frame(reader) == (TEXT, b"{}\x1e")
    writer.write(frame(CLOSE, struct.pack("!H", 1000)))
    opcode, payload = await read_frame(reader)
    assert (opcode, struct.unpack("!H", payload[:2])[0]) == (CLOSE, 1000)
    assert await asyncio.wait_for(reader.read(), WAIT) == b""
    writer.close()


async def test_unmasked_client_frames_are_a_protocol_error(simulator: GatewaySimulator
                                                           ) -> None:
    reader, writer, _ = await upgrade(simulator)
    writer.write(frame(TEXT, b'{"protocol":"json","version":1}\x1e', masked=False))
    opcode, payload = await read_frame(reader)
    assert (opcode, struct.unpack("!H", payload[:2])[0]) == (CLOSE, 1002)
    writer.close()


async def test_a_message_with_a_64_bit_length(simulator: GatewaySimulator) -> None:
    reader, writer, _ = await upgrade(simulator)
    padded = b'{"protocol":"json","version":1,"pad":"' + b"x" * 70_000 + b'"}\x1e'
    writer.write(frame(TEXT, padded))
    assert await read_frame(reader) == (TEXT, b"{}\x1e")
    writer.close()


@pytest.mark.parametrize("ping", [
    frame(PING, b"x" * 126),  # control frames carry at most 125 bytes
    frame(PING, b"half", fin=False),  # and are never fragmented
], ids=["long", "fragmented"])
async def test_malformed_control_frames_are_a_protocol_error(simulator: GatewaySimulator,
                                                             ping: bytes) -> None:
    reader, writer, _ = await upgrade(simulator)
    writer.write(ping)
    opcode, payload = await read_frame(reader)
    assert (opcode, struct.unpack("!H", payload[:2])[0]) == (CLOSE, 1002)
    writer.close()


async def test_pings_in_one_read_get_one_pong_for_the_latest(simulator: GatewaySimulator
                                                           ) -> None:
    reader, writer, _ = await upgrade(simulator)
    writer.write(b"".join(frame(PING, b"ping-%d" % number) for number in range(50)))
    pongs = []
    while not pongs or pongs[-1] != b"ping-49":
        opcode, payload = await read_frame(reader)
        assert opcode == PONG
        pongs.append(payload)
    # RFC 6455 5.5.3: only the latest unanswered ping needs its pong.
    assert len(pongs) <= 50
    assert pongs == sorted(pongs, key=lambda pong: int(pong[5:]))
    writer.close()

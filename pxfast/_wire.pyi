"""Typed interface of the compiled SignalR JSON hub protocol (``ext/wire.pyx``)."""

from typing import Any, Final, TypeAlias

from pxfast.messages import (
    Close,
    Completion,
    DepthEvent,
    Handshake,
    Logout,
    Ping,
    QuoteEvent,
    TradeEvent,
    UnknownInvocation,
    UserAccount,
    UserOrder,
    UserPosition,
    UserTrade,
    WireError,
)

__all__ = [
    "DEFAULT_MAX_RECORD_SIZE",
    "HANDSHAKE_REQUEST",
    "PING_MESSAGE",
    "RECORD_SEPARATOR",
    "FrameDecoder",
    "Item",
    "encode_invocation",
]

Item: TypeAlias = (
    UserAccount
    | UserOrder
    | UserPosition
    | UserTrade
    | QuoteEvent
    | TradeEvent
    | DepthEvent
    | Logout
    | Handshake
    | Ping
    | Completion
    | Close
    | UnknownInvocation
    | WireError
)

RECORD_SEPARATOR: Final[bytes]
HANDSHAKE_REQUEST: Final[bytes]
PING_MESSAGE: Final[bytes]
DEFAULT_MAX_RECORD_SIZE: Final[int]

class FrameDecoder:
    """Raw hub payloads in, a batch of typed items (one per record, wire order) out."""

    def __init__(self, max_record_size: int = ..., *, handshake: bool = True) -> None: ...
    @property
    def max_record_size(self) -> int: ...
    @property
    def records(self) -> int:
        """Items produced (one per non-empty record, oversized ones included)."""
    @property
    def oversized(self) -> int:
        """Records refused for exceeding ``max_record_size`` (also counted in ``errors``)."""
    @property
    def in_handshake(self) -> bool: ...
    @property
    def buffered(self) -> int: ...
    @property
    def errors(self) -> int: ...
    @property
    def unknown_targets(self) -> int: ...
    def counts(self) -> dict[str, int]: ...
    def reset(self, handshake: bool = True, counters: bool = False) -> None: ...
    def feed(self, data: bytes | bytearray | memoryview | str) -> list[Item]: ...

def encode_invocation(
    target: str,
    arguments: list[Any] | tuple[Any, ...],
    invocation_id: str | None = None,
) -> bytes: ...

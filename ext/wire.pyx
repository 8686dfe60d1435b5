"""The SignalR JSON hub protocol (gateway-protocol.md §9–§11), compiled.

Every fill and every quote passes through :class:`FrameDecoder`, so the
decoder is built around three costs:

* **Framing without copies.** ``memchr`` finds each 0x1E in the caller's
  buffer; a complete record is handed to msgspec in place through a reused
  buffer exporter (:class:`_RecordView`).  Only the tail of a record that a
  chunk cuts in two is copied, into a buffer bounded by ``max_record_size``.
* **One typed decode per record.** Each Gateway target has a msgspec decoder
  for the whole record (a Struct tagged by ``target``), built once at import.
  A short scan of the record's head finds the target first, so the right
  decoder is called directly: no dict, no second pass over the arguments.
* **No exceptions on the common path.** The user hub sends its payload either
  wrapped in ``{"action","data"}`` or bare (§14.3); the decoder remembers per
  target which form last decoded and tries that one first, so only the first
  record of a given form pays for a failed attempt.  Pings are recognised by a
  10-byte compare.

Anything that does not fit (bad JSON, a wrong field type, an unknown message
type, a record over the size limit) becomes a :class:`~pxfast.messages.WireError`
item in its place in the batch and is counted: ``feed`` never raises for bad
input and never drops the valid records around a bad one.
"""

from typing import Any, Literal, Union

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_FillInfo, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.unicode cimport PyUnicode_Check
from libc.string cimport memchr, memcmp, memcpy

import msgspec

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

cdef extern from "Python.h":
    const char *PyUnicode_AsUTF8AndSize(object text, Py_ssize_t *size) except NULL

__all__ = [
    "DEFAULT_MAX_RECORD_SIZE",
    "HANDSHAKE_REQUEST",
    "PING_MESSAGE",
    "RECORD_SEPARATOR",
    "FrameDecoder",
    "Item",
    "encode_invocation",
]

#: What :meth:`FrameDecoder.feed` returns items of, one per record, in wire order.
Item = Union[
    UserAccount, UserOrder, UserPosition, UserTrade, QuoteEvent, TradeEvent, DepthEvent,
    Logout, Handshake, Ping, Completion, Close, UnknownInvocation, WireError,
]

RECORD_SEPARATOR = b"\x1e"
#: The client's first message on a new connection (§9.1).
HANDSHAKE_REQUEST = b'{"protocol":"json","version":1}\x1e'
#: The keep-alive each side sends every 15 s.
PING_MESSAGE = b'{"type":6}\x1e'
#: 1 MiB: the largest WebSocket message pysignalr (and so project-x-py) accepts,
#: so no Gateway record a reference client can read is refused by default.
DEFAULT_MAX_RECORD_SIZE = 1 << 20

cdef enum:
    # A WireError keeps at most this much of the offending record.
    ERROR_PREFIX = 1024

# --------------------------------------------------------------------------
# Decoders, built once
# --------------------------------------------------------------------------

cdef tuple _TARGET_NAMES = (
    "GatewayUserAccount",
    "GatewayUserOrder",
    "GatewayUserPosition",
    "GatewayUserTrade",
    "GatewayQuote",
    "GatewayTrade",
    "GatewayDepth",
    "GatewayLogout",
)
cdef dict _TARGET_INDEX = {name: i for i, name in enumerate(_TARGET_NAMES)}
# The same names in C, for the head scan (the bytes objects own the memory).
cdef tuple _TARGET_BYTES = tuple(name.encode() for name in _TARGET_NAMES)
cdef const char *_TARGET_C[N_TARGETS]
cdef Py_ssize_t _TARGET_LEN[N_TARGETS]
for _t, _name in enumerate(_TARGET_BYTES):
    _TARGET_C[_t] = PyBytes_AS_STRING(_name)
    _TARGET_LEN[_t] = PyBytes_GET_SIZE(_name)
del _t, _name

# Counter names, indexed by Kind: the item class each kind produces.
cdef tuple _KIND_NAMES = (
    "UserAccount", "UserOrder", "UserPosition", "UserTrade",
    "QuoteEvent", "TradeEvent", "DepthEvent", "Logout",
    "Handshake", "Ping", "Completion", "Close", "UnknownInvocation", "WireError",
)

# The user-hub item class per user target (index T_ACCOUNT..T_TRADE): built
# around a bare payload with action -1.
cdef tuple _USER_ITEMS = (UserAccount, UserOrder, UserPosition, UserTrade)


def _decoders(str target, *argument_types, bint arguments_optional=False):
    """The bound ``decode`` of a whole-record Struct per accepted ``arguments`` type.

    The tag makes msgspec check ``target`` while it decodes the rest; the
    ``type`` literal rejects a completion or close that happens to carry the
    same key.  Unknown keys (``headers``, an ``invocationId``) are ignored.
    """
    decoders = []
    for arguments in argument_types:
        field = ("arguments", arguments, []) if arguments_optional else ("arguments", arguments)
        record = msgspec.defstruct(
            "_" + target, [("type", Literal[1]), field], tag_field="target", tag=target, gc=False
        )
        decoders.append(msgspec.json.Decoder(record).decode)
    return tuple(decoders)


# Per target, in _TARGET_NAMES order, the decoder of each accepted payload
# form.  For the user targets form 0 is the ``{"action","data"}`` wrapper
# (what live TopstepX sends) and form 1 the bare model (what the docs show).
# Market trades and depth need only one form: msgspec decodes "a list or one
# object" as a union.  GatewayLogout takes anything, even no arguments.
cdef tuple _FORMS = (
    _decoders("GatewayUserAccount", tuple[UserAccount], tuple[AccountUpdate]),
    _decoders("GatewayUserOrder", tuple[UserOrder], tuple[OrderUpdate]),
    _decoders("GatewayUserPosition", tuple[UserPosition], tuple[PositionUpdate]),
    _decoders("GatewayUserTrade", tuple[UserTrade], tuple[TradeUpdate]),
    _decoders("GatewayQuote", tuple[str, Quote]),
    _decoders("GatewayTrade", tuple[str, Union[list[MarketTrade], MarketTrade]]),
    _decoders("GatewayDepth", tuple[str, Union[list[DepthEntry], DepthEntry]]),
    _decoders("GatewayLogout", list[Any], arguments_optional=True),
)

# The handshake reply is ``{}`` or ``{"error": ...}``; a record with a ``type``
# is a hub message arriving before the handshake completed (the .NET client
# rejects that too).
cdef object _decode_handshake = msgspec.json.Decoder(msgspec.defstruct(
    "_HandshakeReply",
    [("error", Union[str, None], None), ("type", Any, msgspec.UNSET)],
    gc=False,
)).decode

# Every other record: enough typing to classify it, then the specific path.
cdef object _decode_envelope = msgspec.json.Decoder(msgspec.defstruct(
    "_Envelope",
    [
        ("type", int),
        ("target", Union[str, None], None),
        ("arguments", list[Any], []),
        ("invocationId", Union[str, None], None),
        ("result", Any, None),
        ("error", Union[str, None], None),
        ("allowReconnect", Union[bool, None], None),
    ],
)).decode

cdef object _PING = Ping()
cdef object _ValidationError = msgspec.ValidationError
cdef object _UNSET = msgspec.UNSET


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

cdef inline bint _is_space(char c) noexcept nogil:
    return c == b' ' or c == b'\t' or c == b'\n' or c == b'\r'


cdef int _scan_target(const char *p, Py_ssize_t n) noexcept nogil:
    """The known target a record invokes, read from its head; -1 if unsure.

    Only the top level before the first nested ``{``/``[`` is scanned (the
    Gateway writes ``{"type":1,"target":"...","arguments":[...]}``), so a
    ``"target"`` key inside the arguments is never taken for the record's.  A
    quote preceded by a backslash is inside a string.  -1 sends the record to
    the generic path, which classifies it fully: the scan is only a shortcut.
    """
    cdef Py_ssize_t i = 1, j, k
    cdef const char *name
    cdef const char *close
    cdef int t
    if n < 2 or p[0] != b'{':
        return -1
    while i < n:
        if p[i] == b'{' or p[i] == b'[':
            return -1
        if p[i] == b'"' and n - i >= 8 and memcmp(p + i, b'"target"', 8) == 0 and p[i - 1] != b'\\':
            j = i + 8
            while j < n and _is_space(p[j]):
                j += 1
            if j < n and p[j] == b':':
                j += 1
                while j < n and _is_space(p[j]):
                    j += 1
                if j >= n or p[j] != b'"':
                    return -1
                name = p + j + 1
                close = <const char *>memchr(name, b'"', n - j - 1)
                if close == NULL:
                    return -1
                k = close - name
                for t in range(N_TARGETS):
                    if _TARGET_LEN[t] == k and memcmp(name, _TARGET_C[t], k) == 0:
                        return t
                return -1
            i = j
            continue
        i += 1
    return -1


cdef object _build(int target, int form, object record):
    """The hub item for a decoded invocation record of ``target``."""
    if target == T_LOGOUT:
        return Logout(record.arguments)
    cdef tuple args = record.arguments
    cdef object data
    if target <= T_TRADE:
        if form == 0:
            return args[0]
        return _USER_ITEMS[target](-1, args[0])
    if target == T_QUOTE:
        return QuoteEvent(args[0], args[1])
    data = args[1]
    if type(data) is not list:
        data = [data]
    if target == T_MARKET_TRADE:
        return TradeEvent(args[0], data)
    return DepthEvent(args[0], data)


cdef str _more_specific(object first, object second):
    """Of two validation errors, the one that got deeper into the payload.

    When neither payload form fits, the deeper path names the field that is
    actually wrong (``$.arguments[0].data.id``) rather than the form mismatch
    (``missing required field `action```).
    """
    cdef str a = str(first), b = str(second)
    cdef Py_ssize_t ia = a.rfind("at `$"), ib = b.rfind("at `$")
    if ib >= 0 and (ia < 0 or len(b) - ib > len(a) - ia):
        return b
    return a


# --------------------------------------------------------------------------
# The decoder
# --------------------------------------------------------------------------

cdef class _RecordView:
    def __getbuffer__(self, Py_buffer *buffer, int flags):
        PyBuffer_FillInfo(buffer, self, <void *>self.ptr, self.size, 1, flags)


cdef class FrameDecoder:
    """Turns raw hub WebSocket payloads into typed items, a batch per feed.

    Feed every payload of one connection in order (``feed`` for Python
    objects, ``feed_ptr`` from Cython); records may span payloads.  The first
    record after construction or :meth:`reset` is the handshake reply and
    yields a :class:`Handshake` (or a :class:`WireError` if it is not one).

    Items, in wire order, one per record: ``UserAccount``/``UserOrder``/
    ``UserPosition``/``UserTrade`` (``action`` -1 for a bare payload),
    ``QuoteEvent``, ``TradeEvent``/``DepthEvent`` (data always a list),
    ``Logout``, ``Ping`` (one shared instance), ``Completion``, ``Close``,
    ``UnknownInvocation`` for a target not listed here, and ``WireError`` for
    a record that could not be decoded or exceeded ``max_record_size``.
    """

    def __cinit__(self):
        self._view = _RecordView()
        self._buf = NULL

    def __init__(self, Py_ssize_t max_record_size=DEFAULT_MAX_RECORD_SIZE, *, bint handshake=True):
        if max_record_size < 1:
            raise ValueError(f"max_record_size must be positive, not {max_record_size}")
        self.max_record_size = max_record_size
        self.reset(handshake, True)

    def __dealloc__(self):
        PyMem_Free(self._buf)

    @property
    def in_handshake(self) -> bool:
        """True until the handshake reply (the first record) has been decoded."""
        return self._handshake

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete record held until its separator arrives."""
        return self._len

    @property
    def errors(self) -> int:
        """WireError items produced (oversized records included)."""
        return self._counts[K_ERROR]

    @property
    def unknown_targets(self) -> int:
        """UnknownInvocation items produced."""
        return self._counts[K_UNKNOWN]

    def counts(self) -> dict:
        """Items produced so far, by item class name (they sum to ``records``)."""
        return {_KIND_NAMES[k]: self._counts[k] for k in range(N_KINDS)}

    cpdef void reset(self, bint handshake=True, bint counters=False):
        """Forget any partial record, as after a reconnect.

        ``handshake`` expects a handshake reply as the next record again;
        ``counters`` zeroes the statistics (kept by default so that they
        cover the whole life of a hub across reconnects).  Which payload form
        each target uses is kept: it is a property of the Gateway.
        """
        cdef int k
        PyMem_Free(self._buf)
        self._buf = NULL
        self._len = self._cap = 0
        self._skipping = False
        self._handshake = handshake
        if counters:
            for k in range(N_KINDS):
                self._counts[k] = 0
            self.records = self.oversized = 0

    cpdef list feed(self, object data):
        """Decode the records completed by ``data`` (bytes-like, or str for a text frame)."""
        cdef Py_buffer view
        cdef const char *text
        cdef Py_ssize_t size
        if PyBytes_CheckExact(data):
            return self.feed_ptr(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        if PyUnicode_Check(data):
            try:
                text = PyUnicode_AsUTF8AndSize(data, &size)
            except UnicodeEncodeError:
                # A lone surrogate cannot come off a WebSocket; keep the bytes
                # so that only the record holding it fails to decode.
                return self.feed(data.encode("utf-8", "surrogatepass"))
            return self.feed_ptr(text, size)
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            return self.feed_ptr(<const char *>view.buf, view.len)
        finally:
            PyBuffer_Release(&view)

    cdef list feed_ptr(self, const char *data, Py_ssize_t size):
        """``feed`` for a payload in C memory, valid for the duration of the call."""
        cdef list out = []
        cdef const char *end = data + size
        cdef const char *sep
        cdef Py_ssize_t n, total
        while data < end:
            sep = <const char *>memchr(data, 0x1E, end - data)
            if sep == NULL:
                self._stash(data, end - data, out)
                break
            n = sep - data
            total = self._len + n
            if self._skipping:
                self._skipping = False      # the end of an oversized record
            elif total > self.max_record_size:
                self._stash(data, n, out)   # reported; its end is already here
                self._skipping = False
            elif self._len:
                self._append(data, n)
                # Take the record out before decoding, so that a failure can
                # never leave it to be glued to the next one.
                self._len = 0
                out.append(self._decode(self._buf, total))
            elif n:
                out.append(self._decode(data, n))
            data = sep + 1
        self._view.ptr = NULL
        self._view.size = 0
        return out

    cdef int _stash(self, const char *data, Py_ssize_t size, list out) except -1:
        """Keep bytes of an unfinished record, or report it once it is too big."""
        cdef bytes prefix
        cdef Py_ssize_t head
        if self._skipping:
            return 0
        if self._len + size <= self.max_record_size:
            return self._append(data, size)
        head = min(self._len, ERROR_PREFIX)
        prefix = PyBytes_FromStringAndSize(self._buf, head) + PyBytes_FromStringAndSize(
            data, min(size, ERROR_PREFIX - head))
        self._len = 0
        self._skipping = True
        self._handshake = False
        self.records += 1
        self.oversized += 1
        out.append(self._error(
            f"record exceeds max_record_size ({self.max_record_size} bytes)",
            PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix)))
        return 0

    cdef int _append(self, const char *data, Py_ssize_t size) except -1:
        cdef Py_ssize_t need = self._len + size, cap
        cdef char *grown
        if need > self._cap:
            cap = min(max(need, 2 * self._cap, 256), self.max_record_size)
            grown = <char *>PyMem_Realloc(self._buf, cap)
            if grown == NULL:
                raise MemoryError()
            self._buf = grown
            self._cap = cap
        memcpy(self._buf + self._len, data, size)
        self._len = need
        return 0

    cdef object _decode(self, const char *data, Py_ssize_t size):
        """One complete record (separator stripped) to one item, never raising for bad input."""
        cdef int target
        cdef object item
        self._view.ptr = data
        self._view.size = size
        self.records += 1
        if self._handshake:
            self._handshake = False
            return self._handshake_reply()
        if size == 10 and memcmp(data, b'{"type":6}', 10) == 0:
            self._counts[K_PING] += 1
            return _PING
        target = _scan_target(data, size)
        if target >= 0:
            item = self._invocation(target)
            if item is not None:
                self._counts[target] += 1
                return item
        return self._generic(target)

    cdef object _handshake_reply(self):
        try:
            reply = _decode_handshake(self._view)
        except (ValueError, RecursionError) as exc:
            return self._error(f"handshake: {exc}", self._view.ptr, self._view.size)
        if reply.type is not _UNSET:
            return self._error(
                f"handshake: expected the handshake reply, got a message of type {reply.type!r}",
                self._view.ptr, self._view.size)
        self._counts[K_HANDSHAKE] += 1
        return Handshake(reply.error)

    cdef object _invocation(self, int target):
        """Decode the current record as ``target``; None (reason in _failure) if it does not fit."""
        cdef tuple forms = <tuple>_FORMS[target]
        cdef int first = self._form[target], other
        cdef object failed
        try:
            return _build(target, first, forms[first](self._view))
        except (ValueError, RecursionError) as exc:
            failed = exc
        if len(forms) == 2 and isinstance(failed, _ValidationError):
            other = 1 - first
            try:
                item = _build(target, other, forms[other](self._view))
            except (ValueError, RecursionError) as exc:
                self._failure = f"{_TARGET_NAMES[target]}: {_more_specific(failed, exc)}"
                return None
            self._form[target] = other
            return item
        self._failure = f"{_TARGET_NAMES[target]}: {failed}"
        return None

    cdef object _generic(self, int hinted):
        """Classify and decode a record the fast path could not take."""
        cdef const char *data = self._view.ptr
        cdef Py_ssize_t size = self._view.size
        cdef int target
        cdef object item
        try:
            record = _decode_envelope(self._view)
        except (ValueError, RecursionError) as exc:
            return self._error(f"malformed record: {exc}", data, size)
        kind = record.type
        if kind == 1:
            if record.target is None:
                return self._error("invocation without a target", data, size)
            target = _TARGET_INDEX.get(record.target, -1)
            if target < 0:
                self._counts[K_UNKNOWN] += 1
                return UnknownInvocation(record.target, record.arguments)
            if target != hinted:
                item = self._invocation(target)
                if item is not None:
                    self._counts[target] += 1
                    return item
            return self._error(self._failure, data, size)
        if kind == 6:
            self._counts[K_PING] += 1
            return _PING
        if kind == 3:
            if record.invocationId is None:
                return self._error("completion without an invocationId", data, size)
            self._counts[K_COMPLETION] += 1
            return Completion(record.invocationId, record.result, record.error)
        if kind == 7:
            self._counts[K_CLOSE] += 1
            return Close(record.error, record.allowReconnect)
        return self._error(f"unsupported message type {kind}", data, size)

    cdef object _error(self, str reason, const char *data, Py_ssize_t size):
        self._counts[K_ERROR] += 1
        return WireError(reason, PyBytes_FromStringAndSize(data, min(size, ERROR_PREFIX)))


# --------------------------------------------------------------------------
# Encoders
# --------------------------------------------------------------------------

_Invocation = msgspec.defstruct(
    "_Invocation",
    [
        ("type", int),
        ("invocationId", Union[str, None], None),
        ("target", str),
        ("arguments", Any),
    ],
    kw_only=True,
    omit_defaults=True,
    gc=False,
)
cdef object _encode = msgspec.json.Encoder().encode


cdef str _plain_str(object value, str name):
    # msgspec encodes exact str only; str.__str__ unwraps a subclass to its value.
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    raise TypeError(f"{name} must be a str, not {type(value).__name__}")


def encode_invocation(target, arguments, invocation_id=None) -> bytes:
    """One invocation record, separator included.

    Without ``invocation_id`` the call is non-blocking (the hub sends no
    completion); with one, the hub answers with a ``Completion`` carrying it.
    ``arguments`` is a list or tuple of JSON-able values (msgspec types too).
    ``target`` and ``invocation_id`` may be str subclasses (a ``StrEnum`` of
    hub methods, say): their plain string value is sent.
    """
    if not isinstance(arguments, (list, tuple)):
        raise TypeError(f"arguments must be a list or tuple, not {type(arguments).__name__}")
    if invocation_id is not None:
        invocation_id = _plain_str(invocation_id, "invocation_id")
    return _encode(_Invocation(
        type=1,
        invocationId=invocation_id,
        target=_plain_str(target, "target"),
        arguments=arguments,
    )) + RECORD_SEPARATOR


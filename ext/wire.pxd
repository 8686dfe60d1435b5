# SignalR JSON hub protocol: 0x1E framing across chunks and typed decode.
#
# Declared here so that a picows listener written in Cython can hand a frame
# straight to the decoder without building a Python object for the payload:
#
#     from pxfast._wire cimport FrameDecoder
#     items = (<FrameDecoder>self.decoder).feed_ptr(frame.payload_ptr, frame.payload_size)

cimport cython
from libc.stdint cimport int64_t

# Gateway targets the decoder knows, in the order of its decoder table.
cdef enum:
    T_ACCOUNT = 0
    T_ORDER
    T_POSITION
    T_TRADE
    T_QUOTE
    T_MARKET_TRADE
    T_DEPTH
    T_LOGOUT
    N_TARGETS

# Item kinds, for the counters: the targets first, then the other messages.
cdef enum:
    K_HANDSHAKE = N_TARGETS
    K_PING
    K_COMPLETION
    K_CLOSE
    K_UNKNOWN
    K_ERROR
    N_KINDS


@cython.final
cdef class _RecordView:
    # A reusable buffer exporter over one record of the input or of the
    # partial-record buffer: msgspec reads the bytes in place, no copy and no
    # allocation per record.
    cdef const char *ptr
    cdef Py_ssize_t size


@cython.final
cdef class FrameDecoder:
    cdef:
        char *_buf                    # bytes of a record still waiting for its 0x1E
        Py_ssize_t _len
        Py_ssize_t _cap
        readonly Py_ssize_t max_record_size
        bint _handshake               # the next record is the handshake reply
        bint _skipping                # dropping the rest of an oversized record
        _RecordView _view
        unsigned char _form[N_TARGETS]  # which payload form (wrapped/bare) to try first
        str _failure                  # why the last per-target decode failed
        int64_t _counts[N_KINDS]
        readonly int64_t records
        readonly int64_t oversized

    cpdef list feed(self, object data)
    cdef list feed_ptr(self, const char *data, Py_ssize_t size)
    cpdef void reset(self, bint handshake=*, bint counters=*)

    cdef int _stash(self, const char *data, Py_ssize_t size, list out) except -1
    cdef int _append(self, const char *data, Py_ssize_t size) except -1
    cdef object _decode(self, const char *data, Py_ssize_t size)
    cdef object _handshake_reply(self)
    cdef object _invocation(self, int target)
    cdef object _generic(self, int hinted)
    cdef object _error(self, str reason, const char *data, Py_ssize_t size)

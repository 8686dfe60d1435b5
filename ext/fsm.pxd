# C-level interface of pxfast._fsm: the order table and its state machine.
#
# The realtime layer can `from pxfast._fsm cimport OrderTable, Transition` and call
# `table.apply(update)` without going through Python attribute lookup (the
# method is cpdef on a final class, so a cimporting module calls the C
# function directly).  Everything else here is the storage layout, exposed so
# that such a caller can read a record by pointer (`find`) without building an
# OrderUpdate.
from cpython.ref cimport PyObject
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

# Transition kinds (also exported to Python as module constants).
cdef enum:
    KIND_PLACED = 1
    KIND_PARTIAL_FILL = 2
    KIND_FILLED = 3
    KIND_CANCELLED = 4
    KIND_REJECTED = 5
    KIND_EXPIRED = 6
    KIND_MODIFIED = 7
    KIND_ACTIVATED = 8
    KIND_UPDATED = 9
    N_KINDS = 10

# Bracket / OCO roles (3 bits of OrderRec.bits).
cdef enum:
    PXF_ROLE_NONE = 0
    PXF_ROLE_ENTRY = 1
    PXF_ROLE_STOP = 2
    PXF_ROLE_TARGET = 3
    PXF_ROLE_FIRST = 4
    PXF_ROLE_SECOND = 5

# OrderRec.bits above the role.
cdef enum:
    B_ROLE = 0x07       # role mask
    B_LINKED = 0x08     # partner_id is a live OCO link
    B_NATIVE = 0x10     # ... enforced by the Gateway (bracket siblings, linkedOrderId)
    B_WIRE = 0x20       # partner_id is the linkedOrderId the Gateway reported for this order
    B_TAGGED = 0x40     # the order has a customTag: its entry in the tag arena is at OrderRec.tag

# OrderRec.state: the Gateway's status (0..8), order type (0..7) and side
# (0 bid, 1 ask) share one byte; read them with rec_status / rec_type /
# rec_side below.
cdef enum:
    S_STATUS = 0x0F     # status mask (4 bits)
    S_TYPE = 0x70       # order type mask (3 bits) ...
    S_TYPE_SHIFT = 4    # ... from bit 4
    S_SIDE_SHIFT = 7    # side: the top bit

# One tracked order: 96 bytes, no Python objects (nine int64, one uint32,
# three int32, three uint16, two uint8: 72 + 4 + 12 + 6 + 2, no padding).
# Prices are int64 counts of 1e-9 (PXF_NONE when absent); timestamps int64
# 100 ns since the Unix epoch (PXF_NONE when absent); fill_volume is never
# absent (0 until a fill); trail_distance uses PXF_NONE32 for absent.  The
# account and the contract are indexes into the table's interned ids.
# id == 0 marks a free slot.
ctypedef struct OrderRec:
    int64_t id
    int64_t created
    int64_t updated
    int64_t limit_price
    int64_t stop_price
    int64_t filled_price
    int64_t trail_price
    int64_t parent_id           # 0: not a bracket child
    int64_t partner_id          # OCO partner (the last one, even after unlink; see B_LINKED)
    uint32_t tag                # with B_TAGGED: offset of the customTag's entry in the tag arena
    int32_t size                # also the next-free link of a free slot
    int32_t fill_volume
    int32_t trail_distance
    uint16_t account            # index into OrderTable.accounts
    uint16_t contract           # index into OrderTable.contracts / symbols
    uint16_t group              # bracket group, 0 = none
    uint8_t state               # status | type << S_TYPE_SHIFT | side << S_SIDE_SHIFT
    uint8_t bits


cdef inline int rec_status(const OrderRec *r) noexcept nogil:
    return r.state & S_STATUS


cdef inline int rec_type(const OrderRec *r) noexcept nogil:
    return (r.state & S_TYPE) >> S_TYPE_SHIFT


cdef inline int rec_side(const OrderRec *r) noexcept nogil:
    return r.state >> S_SIDE_SHIFT


# Open-addressing bucket: the high 32 bits of the key's hash and a record slot
# (-1: empty).  The fingerprint also gives the home bucket, so probing and
# rehashing never touch a record (or a tag's bytes) unless the fingerprint
# matches.
ctypedef struct Bucket:
    uint32_t fp
    int32_t slot

# What one update says, decoded once by apply() (not stored).
ctypedef struct Fields:
    int64_t id
    int64_t status_raw
    int status                  # 0..8, or -1 when status_raw is not a known status
    int64_t size
    int64_t fill                # -1: absent
    int64_t updated             # PXF_NONE: absent or unparseable
    int64_t limit_price
    int64_t stop_price
    int64_t filled_price
    int64_t trail_price
    int32_t trail_distance      # PXF_NONE32: absent
    int64_t parent_id           # 0: absent
    int64_t linked_id           # 0: absent
    int rounded                 # some price had more than nine decimals
    int bad_timestamp           # updateTimestamp present but unparseable


# One entry of the bounded anomaly log.
ctypedef struct Anomaly:
    int64_t order_id
    uint64_t seq
    int32_t old_status
    int32_t new_status
    int32_t reason


cdef class Transition:
    cdef readonly int64_t order_id
    cdef readonly int old_status
    cdef readonly int new_status
    cdef readonly int kind
    cdef readonly int64_t fill_delta
    cdef readonly int64_t fill_volume
    cdef readonly int64_t partner_id
    cdef readonly bint partner_native
    cdef readonly int group
    cdef readonly int role
    cdef readonly tuple children


cdef class OrderTable:
    # records, in pages of PAGE_SIZE so they never move
    cdef OrderRec **pages
    cdef Py_ssize_t npages
    cdef Py_ssize_t pages_cap
    cdef int32_t nslots                 # slots ever handed out (high-water mark)
    cdef int32_t free_head              # first free slot, -1 when none
    cdef Py_ssize_t count               # live orders
    # id -> slot
    cdef Bucket *index
    cdef int index_bits
    cdef Py_ssize_t index_used
    # parent id -> child slots (a multimap: one entry per child)
    cdef Bucket *cindex
    cdef int cindex_bits
    cdef Py_ssize_t cindex_used
    # custom tags: an arena of entries (LEB128 byte length, then the UTF-8
    # bytes), one per tagged order, and an index tag -> slot of the order
    # find_by_tag answers with (one entry per distinct tag)
    cdef char *arena
    cdef Py_ssize_t arena_len           # bytes in use, live and dead
    cdef Py_ssize_t arena_cap
    cdef Py_ssize_t arena_dead          # bytes of entries whose order was forgotten
    cdef Bucket *tindex
    cdef int tindex_bits
    cdef Py_ssize_t tindex_used
    # interned accounts and contracts (the records hold 16-bit indexes), the
    # account last interned and its index (most tables only ever see one
    # account; PXF_NONE and -1 before the first), links to orders not seen yet
    cdef list accounts
    cdef dict account_ix
    cdef int64_t last_account
    cdef int last_account_ix
    cdef list contracts
    cdef list symbols
    cdef dict contract_ix
    cdef dict pending
    # counters and the anomaly ring
    cdef uint64_t counters[32]
    cdef Anomaly *ring
    cdef uint64_t ring_seq

    # The C API.
    cpdef Transition apply(self, object update)
    cdef OrderRec *find(self, int64_t order_id) noexcept

    # Internals.
    cdef OrderRec *_rec(self, int32_t slot) noexcept
    cdef int32_t _slot_of(self, int64_t order_id) noexcept
    cdef int32_t _alloc_slot(self) noexcept
    cdef void _free_slot(self, int32_t slot) noexcept
    cdef void _anomaly(self, int64_t order_id, int old_status, int64_t new_status,
                       int reason) noexcept
    cdef Transition _reject(self, int counter, int64_t order_id, int old_status,
                            int64_t new_status, int reason)
    cdef Transition _apply(self, PyObject **f)
    cdef Transition _first(self, PyObject **f, Fields *u)
    cdef Transition _finish(self, OrderRec *r, int old, int kind, int64_t fill_delta)
    cdef int _intern(self, object contract, object symbol) except -3
    cdef int _intern_account(self, int64_t account) except -3
    cdef int _set_tag(self, int32_t slot, object tag) noexcept
    cdef const char *_tag_bytes(self, OrderRec *r, Py_ssize_t *n) noexcept
    cdef uint32_t _tag_bucket(self, const char *p, Py_ssize_t n, uint32_t fp) noexcept
    cdef int _arena_add(self, const char *p, Py_ssize_t n, uint32_t *off) noexcept
    cdef void _drop_tag(self, int32_t slot, OrderRec *r) noexcept
    cdef void _compact_tags(self) noexcept
    cdef bint _forget(self, int64_t order_id)
    cdef void _set_link(self, OrderRec *r, int64_t partner, bint native) noexcept
    cdef void _unlink_rec(self, OrderRec *r)
    cdef void _break(self, int64_t order_id)
    cdef void _link(self, int64_t a, int64_t b, bint native)
    cdef void _resolve_pending(self, OrderRec *r)
    cdef void _wire_link(self, OrderRec *r, int64_t linked)
    cdef int _adopt(self, int32_t slot, int64_t parent) noexcept
    cdef bint _has_children(self, int64_t parent) noexcept
    cdef list _children(self, int64_t parent, bint working_only)

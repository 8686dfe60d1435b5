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
    B_TAGGED = 0x40     # the order has a customTag (kept in OrderTable.tags)

# One tracked order: 96 bytes, no Python objects.  Prices are int64 counts of
# 1e-9 (PXF_NONE when absent); timestamps int64 100 ns since the Unix epoch
# (PXF_NONE when absent); fill_volume is never absent (0 until a fill);
# trail_distance uses PXF_NONE32 for absent.  id == 0 marks a free slot.
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
    int32_t account
    int32_t size                # also the next-free link of a free slot
    int32_t fill_volume
    int32_t trail_distance
    uint16_t contract           # index into OrderTable.contracts / symbols
    uint16_t group              # bracket group, 0 = none
    uint8_t status
    uint8_t type
    uint8_t side
    uint8_t bits

# Open-addressing bucket: the high 32 bits of the key's hash and a record slot
# (-1: empty).  The fingerprint also gives the home bucket, so probing and
# rehashing never touch a record unless the fingerprint matches.
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
    # interned contracts, custom tags, links to orders not seen yet
    cdef list contracts
    cdef list symbols
    cdef dict contract_ix
    cdef dict tags
    cdef dict tag_ix
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
    cdef void _set_tag(self, OrderRec *r, object tag)
    cdef void _set_link(self, OrderRec *r, int64_t partner, bint native) noexcept
    cdef void _unlink_rec(self, OrderRec *r)
    cdef void _break(self, int64_t order_id)
    cdef void _link(self, int64_t a, int64_t b, bint native)
    cdef void _resolve_pending(self, OrderRec *r)
    cdef void _wire_link(self, OrderRec *r, int64_t linked)
    cdef int _adopt(self, int32_t slot, int64_t parent) noexcept
    cdef bint _has_children(self, int64_t parent) noexcept
    cdef list _children(self, int64_t parent, bint working_only)

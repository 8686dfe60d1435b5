# The bar aggregator: the cdef interface other compiled modules cimport.
# Cimport it under the module's full name (ext/pxfast/_bars.pxd includes this
# file), so the generated code imports pxfast._bars at run time:
#
#     from pxfast._bars cimport BarAggregator, BarTrack, FL_EVENTS
#     cdef BarAggregator agg = ...
#     if agg.add(ts_ns, price_ticks, size) & FL_EVENTS:
#         ...                                   # agg.drain() once per frame
#     cdef BarTrack *k = agg.track(0)           # read the ring by pointer
#
# See bars.pyx for what a bucket is and how late trades and the seam are handled.
from libc.stdint cimport int32_t, int64_t

# Bar units: the Gateway's AggregateBarUnit values.
cdef enum:
    UNIT_SECOND = 1
    UNIT_MINUTE = 2
    UNIT_HOUR = 3
    UNIT_DAY = 4
    UNIT_WEEK = 5
    UNIT_MONTH = 6

# Event kinds (the first field of each drained event; Python: OPENED, CLOSED, REVISED).
cdef enum:
    EV_OPENED = 1       # a bar opened: its first trade's values
    EV_CLOSED = 2       # a bar closed: its final values (it is now in the ring)
    EV_REVISED = 3      # a late trade changed a closed bar's high/low/volume

# Flags returned by add / add_trade / add_trades, OR-ed over the trades
# (Python: F_OPENED ... F_EVENTS).
cdef enum:
    FL_OPENED = 1
    FL_CLOSED = 2
    FL_REVISED = 4
    FL_DROPPED = 8      # a late trade found no bar to update (gap or older than the ring)
    FL_SEAM = 16        # a trade older than the seeded history was ignored
    FL_EVENTS = 7       # FL_OPENED | FL_CLOSED | FL_REVISED: drain() has something

# One timeframe: its bucket rule, the open bar's bucket and the ring.
# The ring holds `slots` = capacity + 1 bars as six int64 columns (48 bytes a
# bar): the closed bars oldest first from `head`, `n` of them, then the open
# bar in the slot after the newest closed one.
ctypedef struct BarTrack:
    int64_t start           # the open bar's bucket [start, end); start > end when there is none
    int64_t end
    int64_t slot            # the open bar's slot
    int64_t *t              # bucket start, ns since the epoch (UTC)
    int64_t *o              # prices in ticks
    int64_t *h
    int64_t *l
    int64_t *c
    int64_t *v              # volume
    int64_t head            # slot of the oldest closed bar
    int64_t n               # closed bars held
    int64_t slots
    int64_t seam            # trades before this instant are in the seeded history
    int64_t width           # bucket width in local ns (0: calendar months)
    int64_t anchor          # a local instant on the bucket grid
    int32_t unit
    int32_t count
    bint has_open

# A queued event: kind | timeframe << 8, then the bar.
ctypedef struct BarEvent:
    int64_t what
    int64_t start
    int64_t open
    int64_t high
    int64_t low
    int64_t close
    int64_t volume

cdef class BarAggregator:
    cdef BarTrack *_tracks
    cdef Py_ssize_t _ntracks
    cdef readonly tuple timeframes      # ((unit, count), ...)
    cdef list _rings                    # numpy int64 (6, slots) per timeframe, owning the columns
    cdef readonly int64_t day_start_ns
    cdef object _calendar               # None (UTC) or an object with window(ts_ns)

    # The zone: segments [zstart[i], zstart[i + 1]) (the last one up to zend)
    # of constant UTC offset zoff[i] (ns); zi caches the last one looked up.
    cdef int64_t *_zstart
    cdef int64_t *_zoff
    cdef Py_ssize_t _zn
    cdef Py_ssize_t _zi
    cdef int64_t _zend

    # Events: a ring of ev_cap (growing to ev_max) from ev_head.
    cdef BarEvent *_events
    cdef Py_ssize_t _ev_head
    cdef Py_ssize_t _ev_count
    cdef Py_ssize_t _ev_cap
    cdef Py_ssize_t _ev_max

    cdef readonly int64_t trades        # trades taken (every one, whatever it did)
    cdef readonly int64_t late          # late trades that revised a closed bar (per timeframe)
    cdef readonly int64_t dropped       # late trades with no bar to revise (per timeframe)
    cdef readonly int64_t seam_skipped  # trades older than the seeded history (per timeframe)
    cdef readonly int64_t events_lost   # oldest events overwritten because nobody drained

    # One trade into every timeframe: the FL_* flags of what happened.  The
    # trade must be valid (0 <= ts_ns <= MAX_TS_NS, 0 <= size <= MAX_SIZE).
    cdef int add(self, int64_t ts_ns, int64_t price, int64_t size) except -1
    cdef BarTrack *track(self, Py_ssize_t index) except NULL

    # Internals.
    cdef int _roll(self, Py_ssize_t index, BarTrack *k, int64_t ts, int64_t price,
                   int64_t size) except -1
    cdef int _revise(self, Py_ssize_t index, BarTrack *k, int64_t ts, int64_t price,
                     int64_t size) except -1
    cdef int _bounds(self, BarTrack *k, int64_t ts, int64_t *start, int64_t *end) except -1
    cdef int _segment(self, int64_t ts) except -1
    cdef int _load_window(self, int64_t ts) except -1
    cdef int _emit(self, int kind, Py_ssize_t index, BarTrack *k, int64_t slot) except -1

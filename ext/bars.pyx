# cython: language_level=3
"""OHLCV bars from trade prints: one pass per trade, every timeframe at once.

Why it exists.  project-x-py rebuilds a polars row per trade per timeframe
and buckets by the wall-clock time a print was *received*.  A
``BarAggregator`` (one per instrument) takes each trade once, as int64s
(exchange time stamp in ns since the epoch, price in whole ticks, size), and
updates the open bar of every timeframe in that pass.  Closed bars go into a
fixed ring per timeframe, stored as six int64 columns (bucket start ns UTC,
open, high, low, close, volume: 48 bytes a bar, nothing else per bar), which
``columns()`` hands out as numpy views.  What happened (a bar opened, closed
or was revised) is queued in a compact buffer that Python drains once per
decoded frame, not once per trade.

Buckets.  A timeframe is a unit (second, minute, hour, day, week, month, the
Gateway's AggregateBarUnit values 1-6) and a count.  Its buckets follow the
*local* wall clock of a calendar: a zone plus the local time a day starts
(``day_start_ns``, an offset from local midnight; CME's 17:00 session start
is -7 h).  Day buckets start at the day start, weeks at the day start of
Monday, months at the day start of the 1st, sub-day buckets every `width`
from the day start (so the width must divide a day); multi-day, -week and
-month counts are aligned on 1970-01-01, 1970-01-05 (a Monday) and January
1970.  Precisely, the boundaries are the instants whose local time (in the
offset in force at that instant) is on that grid, plus each UTC-offset
change that jumps the local clock over a grid time.  So when clocks spring
forward there is no bucket for the missing hour (its grid times map to the
change itself), and when they fall back the repeated hour gets its own
buckets (its grid times happen twice, at distinct UTC instants), while a
4-hour or day bucket spanning the change is simply 3 or 5 (23 or 25) hours
long.  A bar's time stamp is its bucket's first instant, in UTC.  The zone's
offsets come from the calendar object (``window(ts_ns)``: arrays of segment
starts and offsets around an instant; see
``pxfast.realtime_data_manager.timeframes.BarCalendar``), asked again
whenever a time stamp falls outside the window held.  Without a calendar the
zone is UTC and days start at 00:00 UTC, as the Gateway's own bars do (its
daily bars begin at 19:00 Chicago time in summer, i.e. UTC midnight).

Rules.

* A bucket with no trade has no bar (as the Gateway and project-x-py do):
  bars are not carried forward over gaps.
* Within a bucket, trades count in arrival order: the first sets the open,
  the last the close, whatever their time stamps.
* A trade older than a timeframe's open bar is *late*.  If its bucket holds a
  closed bar still in the ring, that bar's high, low and volume take it (never
  its open or close) and it is counted in ``late`` with a ``REVISED``
  event; otherwise (a gap bucket, or older than the ring) it is counted in
  ``dropped``.  A bar is never inserted behind the open one, so bar indexes
  that indicators have seen stay valid.
* Duplicates are not detected: the Gateway's trade payload has no trade id
  and identical prints (same time, price and size) are legitimate, so every
  print counts.  The one systematic source of double counting, history
  fetched over REST overlapping live prints, is handled by the seam:
* ``seed()`` loads REST bars (oldest first) into a timeframe.  The last one
  is the open bar when its bucket contains ``now_ns``: live trades in that
  bucket extend it.  Trades older than the seam (the open seeded bar's start,
  or the end of the last seeded bar when all are closed) are already in the
  REST bars: they are counted in ``seam_skipped`` and ignored.
* Time stamps must lie in [0, MAX_TS_NS] (1970 to 2116) and sizes in
  [0, MAX_SIZE]; anything else is a ValueError naming the trade, raised
  before any trade of the batch is applied.

Differences from project-x-py 4.4.1 (its ``RealtimeDataManager``):

* It buckets by the wall-clock time of receipt in the suite's zone; pxfast by
  the exchange time stamp of the print, so replaying a recording gives the
  same bars as the live session did.
* Its "4hr" live bars are hourly (``minute // 240`` is always 0) and its
  1day/1week/1month never update live (their unit raises inside); pxfast
  builds true 4-hour, day, week and month bars.
* It also moves its bars on quotes (the last price, else the bid/ask mid,
  with zero volume), so its highs and lows can hold prices nobody traded;
  pxfast builds bars from trades only, as the Gateway's REST bars are.
* It rate-limits updates to one per millisecond per timeframe, silently
  dropping prints; pxfast takes every print.
* It ignores a print whose bucket is older than its newest bar; pxfast
  revises that closed bar when the ring still holds it.
* Its ``new_bar`` fires when a bar opens, with that bar's first values; the
  ``OPENED`` event is the same moment, and ``CLOSED`` additionally
  reports each finished bar.

Memory.  Each timeframe's ring is allocated once (``capacity`` + 1 bars at
48 bytes); the event queue grows to at most ``max_events`` (56 bytes an
event) and then overwrites the oldest (``events_lost``); the zone window is a
few hundred bytes.  ``memory_bytes()`` reports all of it.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.stdint cimport INT64_MAX, INT64_MIN, int32_t, int64_t
from libc.string cimport memcpy

import operator

# numpy is imported by the first BarAggregator (its rings are numpy arrays, so
# every other use here runs after that), not here: `from pxfast import
# TradingSuite` would pay ~80 ms for it before any bar exists.
cdef object np = None

__all__ = [
    "CLOSED",
    "DAY",
    "F_CLOSED",
    "F_DROPPED",
    "F_EVENTS",
    "F_OPENED",
    "F_REVISED",
    "F_SEAM",
    "HOUR",
    "MAX_SIZE",
    "MAX_TS_NS",
    "MINUTE",
    "MONTH",
    "OPENED",
    "REVISED",
    "SECOND",
    "WEEK",
    "BarAggregator",
]

SECOND = UNIT_SECOND
MINUTE = UNIT_MINUTE
HOUR = UNIT_HOUR
DAY = UNIT_DAY
WEEK = UNIT_WEEK
MONTH = UNIT_MONTH
OPENED = EV_OPENED
CLOSED = EV_CLOSED
REVISED = EV_REVISED
F_OPENED = FL_OPENED
F_CLOSED = FL_CLOSED
F_REVISED = FL_REVISED
F_DROPPED = FL_DROPPED
F_SEAM = FL_SEAM
F_EVENTS = FL_EVENTS

cdef int64_t NS = 1000000000
cdef int64_t NS_DAY = 86400 * NS
# 2**62 ns: early 2116.  Keeps every grid and offset sum far from int64 overflow.
cdef int64_t TS_MAX = 4611686018427387904
cdef int64_t SIZE_MAX = 0xFFFFFFFF
MAX_TS_NS = TS_MAX
MAX_SIZE = SIZE_MAX

cdef int64_t[7] UNIT_NS = [0, NS, 60 * NS, 3600 * NS, NS_DAY, 7 * NS_DAY, 0]
cdef int64_t MONDAY = 4 * NS_DAY        # 1970-01-05, a Monday, at local midnight
cdef Py_ssize_t MAX_TIMEFRAMES = 64
# 1000 months end by 2200 even from 2116, inside int64 ns (2262).
cdef int64_t MAX_COUNT = 1000
# Segments a bucket may span: a century of months spans 200 DST changes.  More
# means a calendar with absurdly fine segments; an error beats a hang.
cdef int MAX_STEPS = 10000
cdef Py_ssize_t MAX_CAPACITY = 1 << 31


cdef inline int64_t floor_div(int64_t a, int64_t b) noexcept nogil:
    cdef int64_t q = a // b     # cdivision: truncates toward zero
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef inline int64_t floor_mod(int64_t a, int64_t b) noexcept nogil:
    return a - floor_div(a, b) * b


cdef int64_t month_first_day(int64_t month) noexcept nogil:
    """Days since 1970-01-01 of the 1st of `month` (months since January 1970).

    Counts in 400-year eras of 146097 days with years starting in March, so
    the leap day is the last day of a year and needs no special case.
    """
    cdef int64_t year = 1970 + floor_div(month, 12)
    cdef int64_t mon = floor_mod(month, 12)         # 0 = January
    cdef int64_t march_based = (mon + 10) % 12     # March = 0 ... February = 11
    if mon < 2:
        year -= 1
    cdef int64_t era = floor_div(year, 400)
    cdef int64_t year_of_era = year - era * 400
    cdef int64_t day_of_year = (153 * march_based + 2) // 5     # the 1st of the month
    cdef int64_t day_of_era = (year_of_era * 365 + year_of_era // 4 - year_of_era // 100
                               + day_of_year)
    return era * 146097 + day_of_era - 719468       # 719468: 0000-03-01 to 1970-01-01


cdef int64_t month_of_day(int64_t day) noexcept nogil:
    """The month (since January 1970) holding `day` (days since 1970-01-01)."""
    cdef int64_t z = day + 719468
    cdef int64_t era = floor_div(z, 146097)
    cdef int64_t day_of_era = z - era * 146097
    cdef int64_t year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524
                                - day_of_era // 146096) // 365
    cdef int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4
                                             - year_of_era // 100)
    cdef int64_t march_based = (5 * day_of_year + 2) // 153
    cdef int64_t year = year_of_era + era * 400
    cdef int64_t mon = (march_based + 2) % 12       # 0 = January
    if mon < 2:
        year += 1
    return (year - 1970) * 12 + mon


cdef inline int64_t grid_floor(BarTrack *k, int64_t day_start, int64_t local) noexcept nogil:
    """The last grid time at or before the local time `local` (ns)."""
    cdef int64_t month
    if k.width:
        return k.anchor + floor_div(local - k.anchor, k.width) * k.width
    month = month_of_day(floor_div(local - day_start, NS_DAY))
    month -= floor_mod(month, k.count)
    return month_first_day(month) * NS_DAY + day_start


cdef inline int64_t grid_next(BarTrack *k, int64_t day_start, int64_t grid) noexcept nogil:
    """The grid time after the grid time `grid`."""
    if k.width:
        return grid + k.width
    return month_first_day(month_of_day(floor_div(grid - day_start, NS_DAY)) + k.count) * NS_DAY + day_start


@cython.final
cdef class BarAggregator:
    """Bars of several timeframes of one instrument, built from its trades.

    ``BarAggregator(timeframes, capacity, calendar=None, *, max_events=65536)``:
    ``timeframes`` is a sequence of ``(unit, count)`` (units 1-6: second,
    minute, hour, day, week, month); ``capacity`` the closed bars kept per
    timeframe (one int, or one per timeframe); ``calendar`` an object with
    ``day_start_ns`` and ``window(ts_ns)`` (see ``BarCalendar``), or None for
    UTC days.
    """

    def __cinit__(self, timeframes, capacity, calendar=None, *, Py_ssize_t max_events=65536):
        cdef Py_ssize_t i, n, cap
        cdef int64_t unit, count, day_start = 0
        cdef int64_t[:, ::1] ring
        cdef BarTrack *k
        global np
        if np is None:
            import numpy as np
        specs = tuple((int(unit_), int(count_)) for unit_, count_ in timeframes)
        n = len(specs)
        if n == 0 or n > MAX_TIMEFRAMES:
            raise ValueError(f"between 1 and {MAX_TIMEFRAMES} timeframes, not {n}")
        try:
            caps = [operator.index(capacity)] * n
        except TypeError:
            caps = [operator.index(c) for c in capacity]
        if len(caps) != n:
            raise ValueError(f"{len(caps)} capacities for {n} timeframes")
        if max_events < 1:
            raise ValueError(f"max_events must be positive, not {max_events}")
        if calendar is not None:
            day_start = calendar.day_start_ns
            if not -NS_DAY < day_start < NS_DAY:
                raise ValueError(f"day_start_ns must lie within a day of midnight, not {day_start}")
        self.day_start_ns = day_start
        self._calendar = calendar
        self._ev_max = max_events
        self._tracks = <BarTrack *>PyMem_Malloc(n * sizeof(BarTrack))
        if self._tracks == NULL:
            raise MemoryError()
        self._rings = []
        for i in range(n):
            unit, count = specs[i]
            if not UNIT_SECOND <= unit <= UNIT_MONTH:
                raise ValueError(f"unit must be 1 (second) to 6 (month), not {unit}")
            if not 1 <= count <= MAX_COUNT:
                raise ValueError(f"count must be 1 to {MAX_COUNT}, not {count}")
            if unit < UNIT_DAY and NS_DAY % (UNIT_NS[unit] * count):
                raise ValueError(f"{count} x unit {unit} does not divide a day")
            cap = caps[i]
            if not 1 <= cap <= MAX_CAPACITY:
                raise ValueError(f"capacity must be 1 to {MAX_CAPACITY}, not {cap}")
            array = np.zeros((6, cap + 1), dtype=np.int64)
            self._rings.append(array)
            ring = array
            k = &self._tracks[i]
            k.unit = <int32_t>unit
            k.count = <int32_t>count
            k.width = UNIT_NS[unit] * count
            k.anchor = day_start + (MONDAY if unit == UNIT_WEEK else 0)
            k.slots = cap + 1
            k.t = &ring[0, 0]
            k.o = &ring[1, 0]
            k.h = &ring[2, 0]
            k.l = &ring[3, 0]
            k.c = &ring[4, 0]
            k.v = &ring[5, 0]
            k.head = 0
            k.n = 0
            k.has_open = False
            k.start = INT64_MAX
            k.end = INT64_MIN
            k.slot = 0
            k.seam = INT64_MIN
            self._ntracks += 1
        self.timeframes = specs
        if calendar is None:
            self._zstart = <int64_t *>PyMem_Malloc(sizeof(int64_t))
            self._zoff = <int64_t *>PyMem_Malloc(sizeof(int64_t))
            if self._zstart == NULL or self._zoff == NULL:
                raise MemoryError()
            self._zstart[0] = INT64_MIN
            self._zoff[0] = 0
            self._zn = 1
            self._zend = INT64_MAX

    def __dealloc__(self):
        PyMem_Free(self._tracks)
        PyMem_Free(self._zstart)
        PyMem_Free(self._zoff)
        PyMem_Free(self._events)

    def __repr__(self):
        return f"BarAggregator(timeframes={self.timeframes!r}, trades={self.trades})"

    # -- the zone ---------------------------------------------------------

    cdef int _load_window(self, int64_t ts) except -1:
        """Ask the calendar for the offsets around `ts` and keep them."""
        cdef Py_ssize_t i, n
        cdef const int64_t[::1] starts
        cdef const int32_t[::1] offsets
        cdef int64_t *zstart
        cdef int64_t *zoff
        cdef int64_t end
        if self._calendar is None:
            raise AssertionError("the UTC window covers every instant")
        starts_obj, offsets_obj, end_obj = self._calendar.window(ts)
        starts = np.ascontiguousarray(starts_obj, dtype=np.int64)
        offsets = np.ascontiguousarray(offsets_obj, dtype=np.int32)
        end = end_obj
        n = starts.shape[0]
        if n == 0 or offsets.shape[0] != n or not (starts[0] <= ts < end):
            raise ValueError(f"the calendar's window does not cover {ts} ns")
        for i in range(n):
            if (i and starts[i] <= starts[i - 1]) or not -86400 < offsets[i] < 86400:
                raise ValueError("the calendar's window is not increasing segments "
                                 "of offsets within a day")
        if starts[n - 1] >= end:
            raise ValueError("the calendar's window ends before its last segment")
        zstart = <int64_t *>PyMem_Realloc(self._zstart, n * sizeof(int64_t))
        if zstart == NULL:
            raise MemoryError()
        self._zstart = zstart
        zoff = <int64_t *>PyMem_Realloc(self._zoff, n * sizeof(int64_t))
        if zoff == NULL:
            raise MemoryError()
        self._zoff = zoff
        for i in range(n):
            zstart[i] = starts[i]
            zoff[i] = <int64_t>offsets[i] * NS
        self._zn = n
        self._zend = end
        self._zi = 0
        return 0

    cdef int _segment(self, int64_t ts) except -1:
        """Point _zi at the segment holding `ts`."""
        cdef Py_ssize_t i = self._zi, lo, hi, mid
        if self._zn == 0 or ts < self._zstart[0] or ts >= self._zend:
            self._load_window(ts)
            i = 0
        elif self._zstart[i] <= ts and (i + 1 == self._zn or ts < self._zstart[i + 1]):
            return 0
        lo = 0
        hi = self._zn - 1
        while lo < hi:      # the last segment starting at or before ts
            mid = (lo + hi + 1) >> 1
            if self._zstart[mid] <= ts:
                lo = mid
            else:
                hi = mid - 1
        self._zi = lo
        return 0

    cdef int _bounds(self, BarTrack *k, int64_t ts, int64_t *start, int64_t *end) except -1:
        """The bucket [start, end) holding `ts`: the last boundary at or before it, the next after.

        Within a segment of constant offset the boundaries are the grid times
        minus the offset; a segment's first instant is one too when the
        clock jumped forward over a grid time to reach it (a grid time in
        [old local time, new local time), which never happened).
        """
        cdef int64_t t = ts, a, b, off, g, u
        cdef int64_t ds = self.day_start_ns
        cdef int steps
        for steps in range(MAX_STEPS):
            self._segment(t)
            a = self._zstart[self._zi]
            off = self._zoff[self._zi]
            g = grid_floor(k, ds, t + off)
            u = g - off
            if u >= a:
                start[0] = u
                break
            self._segment(a - 1)
            if g >= a + self._zoff[self._zi]:     # the jump skipped [a + old, a + new)
                start[0] = a
                break
            t = a - 1
        else:
            raise ValueError(f"the bucket of {ts} ns spans over {MAX_STEPS} calendar segments")
        t = ts
        for steps in range(MAX_STEPS):
            self._segment(t)
            b = self._zend if self._zi + 1 == self._zn else self._zstart[self._zi + 1]
            off = self._zoff[self._zi]
            u = grid_next(k, ds, grid_floor(k, ds, t + off)) - off
            if u < b:
                end[0] = u
                return 0
            self._segment(b)
            g = grid_floor(k, ds, b + self._zoff[self._zi])
            if g == b + self._zoff[self._zi] or g >= b + off:
                end[0] = b
                return 0
            t = b
        raise ValueError(f"the bucket of {ts} ns spans over {MAX_STEPS} calendar segments")

    # -- trades -----------------------------------------------------------

    cdef BarTrack *track(self, Py_ssize_t index) except NULL:
        if not 0 <= index < self._ntracks:
            raise IndexError(f"timeframe index {index} out of range(0, {self._ntracks})")
        return &self._tracks[index]

    cdef int add(self, int64_t ts, int64_t price, int64_t size) except -1:
        cdef int flags = 0
        cdef Py_ssize_t i
        cdef BarTrack *k
        cdef int64_t s
        for i in range(self._ntracks):
            k = &self._tracks[i]
            if k.start <= ts < k.end:
                s = k.slot
                if price > k.h[s]:
                    k.h[s] = price
                elif price < k.l[s]:
                    k.l[s] = price
                k.c[s] = price
                k.v[s] += size
            else:
                flags |= self._roll(i, k, ts, price, size)
        self.trades += 1
        return flags

    cdef int _roll(self, Py_ssize_t index, BarTrack *k, int64_t ts, int64_t price,
                   int64_t size) except -1:
        """A trade outside the open bar's bucket: a new bar, or a late or seam trade."""
        cdef int flags = 0
        cdef int64_t s, start, end
        if ts < k.seam:
            self.seam_skipped += 1
            return FL_SEAM
        if k.has_open and ts < k.start:
            return self._revise(index, k, ts, price, size)
        self._bounds(k, ts, &start, &end)      # may ask the calendar: before any change
        if k.has_open:
            self._emit(EV_CLOSED, index, k, k.slot)
            flags = FL_CLOSED
            if k.n + 1 < k.slots:
                k.n += 1
            else:
                k.head = k.head + 1 if k.head + 1 < k.slots else 0
        k.start = start
        k.end = end
        s = k.head + k.n
        if s >= k.slots:
            s -= k.slots
        k.slot = s
        k.t[s] = k.start
        k.o[s] = price
        k.h[s] = price
        k.l[s] = price
        k.c[s] = price
        k.v[s] = size
        k.has_open = True
        self._emit(EV_OPENED, index, k, s)
        return flags | FL_OPENED

    cdef int _revise(self, Py_ssize_t index, BarTrack *k, int64_t ts, int64_t price,
                     int64_t size) except -1:
        """A late trade: into its closed bar if the ring still holds one for its bucket."""
        cdef int64_t start, end, lo = 0, hi = k.n - 1, mid, s
        self._bounds(k, ts, &start, &end)
        while lo <= hi:
            mid = (lo + hi) >> 1
            s = k.head + mid
            if s >= k.slots:
                s -= k.slots
            if k.t[s] < start:
                lo = mid + 1
            elif k.t[s] > start:
                hi = mid - 1
            else:
                if price > k.h[s]:
                    k.h[s] = price
                if price < k.l[s]:
                    k.l[s] = price
                k.v[s] += size
                self.late += 1
                self._emit(EV_REVISED, index, k, s)
                return FL_REVISED
        self.dropped += 1
        return FL_DROPPED

    cdef int _emit(self, int kind, Py_ssize_t index, BarTrack *k, int64_t slot) except -1:
        cdef BarEvent *events
        cdef BarEvent *e
        cdef Py_ssize_t cap, first, at
        if self._ev_count == self._ev_cap:
            if self._ev_cap < self._ev_max:
                cap = min(max(self._ev_cap * 2, 16), self._ev_max)
                events = <BarEvent *>PyMem_Malloc(cap * sizeof(BarEvent))
                if events == NULL:
                    raise MemoryError()
                first = self._ev_cap - self._ev_head        # unwrap into the new buffer
                if self._ev_count:
                    memcpy(events, self._events + self._ev_head, first * sizeof(BarEvent))
                    memcpy(events + first, self._events, self._ev_head * sizeof(BarEvent))
                PyMem_Free(self._events)
                self._events = events
                self._ev_cap = cap
                self._ev_head = 0
            else:           # full: the oldest event goes
                self._ev_head = self._ev_head + 1 if self._ev_head + 1 < self._ev_cap else 0
                self._ev_count -= 1
                self.events_lost += 1
        at = self._ev_head + self._ev_count
        if at >= self._ev_cap:
            at -= self._ev_cap
        e = &self._events[at]
        e.what = kind | (index << 8)
        e.start = k.t[slot]
        e.open = k.o[slot]
        e.high = k.h[slot]
        e.low = k.l[slot]
        e.close = k.c[slot]
        e.volume = k.v[slot]
        self._ev_count += 1
        return 0

    def add_trade(self, int64_t ts_ns, int64_t price_ticks, int64_t size):
        """One trade into every timeframe; returns the F_* flags of what happened."""
        if not 0 <= ts_ns <= TS_MAX:
            raise ValueError(f"trade time stamp {ts_ns} ns is outside [0, {TS_MAX}]")
        if not 0 <= size <= SIZE_MAX:
            raise ValueError(f"trade size {size} is outside [0, {SIZE_MAX}]")
        return self.add(ts_ns, price_ticks, size)

    def add_trades(self, const int64_t[:] ts_ns, const int64_t[:] ticks,
                   const int64_t[:] sizes):
        """Trades in arrival order, in one pass; returns the F_* flags OR-ed over them.

        Every time stamp and size is checked first, so a bad one raises
        ValueError (naming its index) with nothing applied.
        """
        cdef Py_ssize_t i, n = ts_ns.shape[0]
        cdef int flags = 0
        cdef int64_t bad = 0
        if ticks.shape[0] != n or sizes.shape[0] != n:
            raise ValueError(f"arrays differ in length: {n}, {ticks.shape[0]}, {sizes.shape[0]}")
        for i in range(n):      # branch-free, so it vectorises
            bad |= (ts_ns[i] < 0) | (ts_ns[i] > TS_MAX) | (sizes[i] < 0) | (sizes[i] > SIZE_MAX)
        if bad:
            for i in range(n):
                if not 0 <= ts_ns[i] <= TS_MAX:
                    raise ValueError(f"trade {i}: time stamp {ts_ns[i]} ns is outside [0, {TS_MAX}]")
                if not 0 <= sizes[i] <= SIZE_MAX:
                    raise ValueError(f"trade {i}: size {sizes[i]} is outside [0, {SIZE_MAX}]")
        for i in range(n):
            flags |= self.add(ts_ns[i], ticks[i], sizes[i])
        return flags

    def drain(self):
        """The queued events, oldest first, as (kind, timeframe index, start_ns, open,
        high, low, close, volume) tuples; the queue is then empty."""
        cdef Py_ssize_t j, at
        cdef BarEvent *e
        cdef list out = []
        for j in range(self._ev_count):
            at = self._ev_head + j
            if at >= self._ev_cap:
                at -= self._ev_cap
            e = &self._events[at]
            out.append((e.what & 0xFF, e.what >> 8, e.start, e.open, e.high, e.low, e.close,
                        e.volume))
        self._ev_head = 0
        self._ev_count = 0
        return out

    # -- history ----------------------------------------------------------

    def seed(self, Py_ssize_t timeframe, start_ns, open, high, low, close, volume, *,
             int64_t now_ns):
        """Replace a timeframe's bars with bars fetched over REST, oldest first.

        Each start must be a bucket start of the timeframe, strictly after the
        previous one (ValueError otherwise, nothing changed).  The last bar is
        the open bar when its bucket contains ``now_ns``; trades before the
        seam (its start, or the end of the last bar when it is closed) are
        ignored from then on.  Only the newest ``capacity`` closed bars are
        kept.  Empty arrays clear the timeframe.
        """
        cdef BarTrack *k = self.track(timeframe)
        cdef const int64_t[:] t = np.ascontiguousarray(start_ns, dtype=np.int64)
        cdef const int64_t[:] o = np.ascontiguousarray(open, dtype=np.int64)
        cdef const int64_t[:] h = np.ascontiguousarray(high, dtype=np.int64)
        cdef const int64_t[:] lo = np.ascontiguousarray(low, dtype=np.int64)
        cdef const int64_t[:] c = np.ascontiguousarray(close, dtype=np.int64)
        cdef const int64_t[:] v = np.ascontiguousarray(volume, dtype=np.int64)
        cdef Py_ssize_t i, m = t.shape[0], closed, keep, first
        cdef int64_t start, end, last_end = INT64_MIN
        cdef bint open_last = False
        if not (o.shape[0] == h.shape[0] == lo.shape[0] == c.shape[0] == v.shape[0] == m):
            raise ValueError("seed columns differ in length")
        for i in range(m):
            if not 0 <= t[i] <= TS_MAX:
                raise ValueError(f"bar {i}: start {t[i]} ns is outside [0, {TS_MAX}]")
            if i and t[i] <= t[i - 1]:
                raise ValueError(f"bar {i}: start {t[i]} ns is not after the previous bar's")
            if v[i] < 0:
                raise ValueError(f"bar {i}: negative volume {v[i]}")
            self._bounds(k, t[i], &start, &end)
            if start != t[i]:
                raise ValueError(f"bar {i}: {t[i]} ns is not a bucket start of timeframe "
                                 f"{self.timeframes[timeframe]} (the bucket starts at {start})")
            last_end = end
        open_last = m > 0 and t[m - 1] <= now_ns < last_end
        closed = m - open_last
        keep = min(closed, k.slots - 1)
        first = closed - keep
        for i in range(keep + open_last):
            k.t[i] = t[first + i]
            k.o[i] = o[first + i]
            k.h[i] = h[first + i]
            k.l[i] = lo[first + i]
            k.c[i] = c[first + i]
            k.v[i] = v[first + i]
        k.head = 0
        k.n = keep
        k.slot = keep
        k.has_open = open_last
        if open_last:
            k.start = t[m - 1]
            k.end = last_end
            k.seam = k.start
        else:
            k.start = INT64_MAX
            k.end = INT64_MIN
            k.seam = last_end
        return None

    # -- reading ----------------------------------------------------------

    def columns(self, Py_ssize_t timeframe, count=None, bint include_open=True):
        """The bars of a timeframe oldest first, as an int64 array of shape (6, n).

        Rows: start_ns (UTC), open, high, low, close (ticks), volume; so
        ``t, o, h, l, c, v = agg.columns(i)`` unpacks it.  With
        ``include_open`` the open bar is the last column.  ``count`` keeps the
        newest ``count`` bars.  Where the ring has not wrapped this is a view
        of it, not a copy: later trades change the open bar in it, late
        trades revise closed bars, and once the ring wraps new bars overwrite
        old ones, so copy what you keep.
        """
        cdef BarTrack *k = self.track(timeframe)
        cdef int64_t total = k.n + (k.has_open and include_open)
        cdef int64_t take = total, a
        if count is not None:
            if count < 0:
                raise ValueError(f"count must not be negative, not {count}")
            take = min(<int64_t>count, total)
        ring = self._rings[timeframe]
        a = k.head + total - take
        if a >= k.slots:
            a -= k.slots
        if a + take <= k.slots:
            return ring[:, a:a + take]
        return np.concatenate((ring[:, a:], ring[:, :a + take - k.slots]), axis=1)

    def open_bar(self, Py_ssize_t timeframe):
        """The open bar as (start_ns, open, high, low, close, volume), or None."""
        cdef BarTrack *k = self.track(timeframe)
        cdef int64_t s = k.slot
        if not k.has_open:
            return None
        return (k.t[s], k.o[s], k.h[s], k.l[s], k.c[s], k.v[s])

    def bar_count(self, Py_ssize_t timeframe):
        """Closed bars held (at most the capacity)."""
        return self.track(timeframe).n

    def capacity(self, Py_ssize_t timeframe):
        return self.track(timeframe).slots - 1

    def seam_ns(self, Py_ssize_t timeframe):
        """Trades before this instant are taken as already in the seeded bars."""
        return self.track(timeframe).seam

    def bucket(self, Py_ssize_t timeframe, int64_t ts_ns):
        """The bucket (start_ns, end_ns) of a timeframe that holds the instant ts_ns."""
        cdef int64_t start, end
        if not 0 <= ts_ns <= TS_MAX:
            raise ValueError(f"time stamp {ts_ns} ns is outside [0, {TS_MAX}]")
        self._bounds(self.track(timeframe), ts_ns, &start, &end)
        return start, end

    def memory_bytes(self):
        """Bytes held: the rings (48 per bar slot), the event queue, the zone window, the state."""
        cdef Py_ssize_t i, total = 0
        for i in range(self._ntracks):
            total += self._tracks[i].slots * 48
        return (total + self._ev_cap * sizeof(BarEvent) + self._zn * 16
                + self._ntracks * sizeof(BarTrack))

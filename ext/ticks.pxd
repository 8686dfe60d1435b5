# Exact tick math: the cdef interface other compiled modules cimport.
# Cimport it under the module's full name (ext/pxfast/_ticks.pxd includes
# this file), so the generated code imports pxfast._ticks at run time:
#
#     from pxfast._ticks cimport TickSize, TICK_NEAREST, TK_OK
#     cdef int64_t n
#     if tick.ticks_fast(price, TICK_NEAREST, &n) != TK_OK:
#         n = tick.ticks_of(price, TICK_NEAREST)      # exact, holds the GIL, may raise
#
# A price inside is an int64 count of ticks; a TickSize converts between that
# count and the decimal the user means (see ticks.pyx for the rules).
cimport cython
from cpython.object cimport PyObject
from libc.stdint cimport int64_t

from exactnum cimport PXF_CEIL, PXF_FLOOR, PXF_HALF_AWAY, PXF_HALF_EVEN

# Rounding modes, the only valid `mode` arguments (the Python API spells them "nearest", "half_even",
# "floor", "ceil", "exact").
cdef enum:
    TICK_NEAREST = PXF_HALF_AWAY    # ties away from zero: project-x-py's ROUND_HALF_UP
    TICK_HALF_EVEN = PXF_HALF_EVEN
    TICK_FLOOR = PXF_FLOOR
    TICK_CEIL = PXF_CEIL
    TICK_EXACT = 5                  # the price must be on the grid

# Outcomes of the GIL-free fast paths.
cdef enum:
    TK_OK = 0
    TK_SLOW = 1         # the exact answer needs the GIL: call the full method
    TK_NOT_FINITE = 2   # NaN or infinity
    TK_OFF_GRID = 3     # TICK_EXACT and the price lies between two ticks
    TK_RANGE = 4        # beyond exact int64 math

cdef struct DecimalSlot:
    int64_t ticks
    PyObject *value     # an owned Decimal, or NULL

@cython.final
cdef class TickSize:
    cdef readonly object decimal    # the tick as a Decimal, with `exponent` decimals
    cdef readonly double value      # the tick as the nearest float
    cdef readonly int exponent      # decimals of the tick (and of every aligned price)
    cdef readonly int64_t mantissa  # tick == mantissa * 10**-exponent, mantissa > 0
    cdef double _inverse            # 1 / value, for the float screening step
    cdef DecimalSlot *_decimals     # recently produced Decimals, direct-mapped on ticks

    # GIL-free.  ticks_fast: TK_OK and *ticks, or a TK_* reason (TK_SLOW: ask
    # ticks_of).  price_fast: TK_OK and the correctly rounded float of
    # `ticks` ticks, or TK_SLOW (ask price_of).
    cdef int ticks_fast(self, double price, int mode, int64_t *ticks) noexcept nogil
    cdef int price_fast(self, int64_t ticks, double *price) noexcept nogil

    # Complete and exact; hold the GIL; raise ValueError naming the value.
    cdef int64_t ticks_of(self, double price, int mode) except? -1
    cdef double price_of(self, int64_t ticks) except? -1.0
    # `negative`: the sign a zero result takes (that of the price it came from).
    cdef object decimal_of(self, int64_t ticks, bint negative)
    # Any accepted price object (int, float, Decimal, str); sets *negative.
    cdef int64_t ticks_of_object(self, object price, int mode, bint *negative) except? -1

    # Internals.
    cdef int _ticks_decimal(self, int64_t mant, int exp, int mode, int64_t *ticks) noexcept nogil
    cdef int _rc_of_double(self, double price, int mode, int64_t *ticks) except -1
    cdef int _rc_of_object(self, object price, int mode, int64_t *ticks, bint *negative) except -1
    cdef object _error(self, int rc, object price, str where)
    cdef object _align(self, object price, int mode)
    cdef object _align_float(self, object price, int mode)
    cdef Py_ssize_t _fill(self, const double *src, double *prices, int64_t *ticks,
                          Py_ssize_t i, Py_ssize_t size, int mode) noexcept nogil
    cdef int _fill_one(self, double x, double *prices, int64_t *ticks,
                       Py_ssize_t i, int mode) except -1
    cdef object _run_array(self, object prices, int mode, bint as_prices)

# The cached TickSize for a tick given as int, float, Decimal, str or TickSize.
cdef TickSize tick_size_of(object tick)

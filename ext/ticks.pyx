"""Exact tick math: int64 ticks <-> decimal prices, for any decimal tick size.

Why it exists.  An order price must be a whole number of ticks.  A price
arrives as a float that *means* a short decimal (21000.13 is what the user
typed, not 21000.12999999999738); project-x-py aligns it by converting both
price and tick through ``Decimal(str(x))`` and dividing, which is exact but
costs microseconds per price.  This module gives the same answers, exactly,
in nanoseconds, and keeps prices as int64 tick counts inside.

The rules (project-x-py 4.4.1 ``order_manager/utils.py`` ``align_price_to_tick``):

* A float means its shortest repr, exactly as ``Decimal(str(x))`` would read
  it, never its binary value.  int (and integer scalars such as numpy.int64),
  Decimal and str are read as written.
  Anything else (None, bool, lists ...) is a TypeError; NaN, infinities and
  unparsable strings are a ValueError naming the value.
* ticks = price / tick rounded to an integer by the mode: ``"nearest"`` (ties
  away from zero, project-x-py's ROUND_HALF_UP), ``"half_even"``, ``"floor"``,
  ``"ceil"``, or ``"exact"`` (a ValueError unless the price is on the grid).
* An aligned price is ticks * tick, with exactly the tick's decimals:
  21000.13 on 0.25 is ``Decimal('21000.25')``.  A float or int tick counts the
  decimals of its repr, ignoring a trailing ".0" (10.0 -> 0 decimals, 5e-05 ->
  5); a Decimal or str tick keeps the decimals it is written with ("0.250" ->
  3), as ``Decimal.quantize`` would.
* A zero result keeps the sign of the price, as Decimal arithmetic does:
  -0.1 on 0.25 is ``Decimal('-0.00')`` and ``-0.0`` as a float.  So the float
  variant is bit-identical to ``float()`` of project-x-py's Decimal.
* The float variant is the correctly rounded float of the exact decimal,
  built from the integer result ((ticks * mantissa) / 10**exponent), never
  from float arithmetic.
* Every step is exact int64/int128 math.  A price whose digits do not fit
  in int64 (more than 19 significant digits, 1e300), a result of 2**63 ticks
  or more, or a tick with more than 18 decimals is a ValueError, never a
  silently wrong answer.  Tiny prices are fine (1e-45 is 0 ticks nearest,
  1 tick ceil).

How it is fast.  A float price is first screened in floating point: q =
price * (1 / tick) is within a relative 2**-51 of the exact decimal quotient
(the price's repr, the tick and the division each contribute at most one
rounding), so unless q lies within a small margin of a rounding boundary
(a tie for the nearest modes, a grid point for floor/ceil/exact) its
floor already decides the answer, whatever the repr's digits.  Near a
boundary the price's exact decimal is recovered (at the tick's own scale
first, then in general) and divided in integers.  Only prices whose repr
has more than ~13 significant digits *and* that sit on a boundary need the
GIL (CPython's own shortest-repr conversion).
"""

cimport cython
from cpython.bool cimport PyBool_Check
from cpython.conversion cimport PyOS_double_to_string, PyOS_string_to_double
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_Check, PyFloat_CheckExact
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_Check, PyLong_CheckExact
from cpython.mem cimport PyMem_Calloc, PyMem_Free
from cpython.number cimport PyIndex_Check, PyNumber_Index
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_FromStringAndSize
from libc.math cimport copysign, fabs, isfinite, signbit
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t, uint64_t, uintptr_t
from libc.string cimport memcpy

from exactnum cimport (
    PXF_P10D,
    pxf_div_round,
    pxf_double_to_decimal,
    pxf_double_to_decimal_at,
    pxf_double_to_decimal_fast,
    pxf_int128,
    pxf_parse_decimal,
    pxf_rescale,
)

from decimal import Decimal, InvalidOperation

# numpy is imported by the first batch call (_run_array), not here: it costs
# ~80 ms, a third of `from pxfast import TradingSuite`, and scalar tick math
# (every order) never needs it.
cdef object np = None

__all__ = [
    "TickSize",
    "align_price",
    "align_price_float",
    "align_prices",
    "cached_tick_size",
    "is_aligned",
    "price_to_ticks",
    "ticks_to_float",
    "ticks_to_price",
]

cdef extern from *:
    ctypedef unsigned long long pxf_uint128 "unsigned __int128"

cdef object _Decimal = Decimal
cdef object _NEAREST = "nearest"
cdef dict _MODES = {
    "nearest": TICK_NEAREST,
    "half_even": TICK_HALF_EVEN,
    "floor": TICK_FLOOR,
    "ceil": TICK_CEIL,
    "exact": TICK_EXACT,
}

# The float screen (see the module docstring): decide from q = price / tick
# unless q is within MARGIN_REL * |q| + MARGIN_ABS of a boundary.  The true
# relative error is below 2**-51 and the absolute error of frac(q) below
# 2**-53, so these keep a 4x safety factor.  SCREEN_LIMIT keeps frac(q)
# meaningful (and the int64 cast in range).
cdef double MARGIN_REL = 1.7763568394002505e-15   # 2**-49
cdef double MARGIN_ABS = 2.220446049250313e-16    # 2**-52
cdef double SCREEN_LIMIT = 1125899906842624.0     # 2**50
# A tick count times the mantissa converts to float exactly up to 2**53.
cdef pxf_int128 EXACT_FLOAT_INT = 9007199254740992

cdef enum:
    DECIMAL_CACHE = 256     # Decimals kept per TickSize, direct-mapped on the tick count
    TEXT_SIZE = 64          # "-" + 39 digits + "." + 18 zeros fits
    TICK_SLOTS = 64         # TickSize objects kept by the module functions
    MAX_PLACES = 400        # places past which only the sign of a price matters


cdef inline int mode_of(object mode) except -1:
    """The TICK_* constant for a mode name; the default is matched by identity."""
    if mode is _NEAREST:
        return TICK_NEAREST
    found = _MODES.get(mode) if isinstance(mode, str) else None
    if found is None:
        raise ValueError(
            f"Invalid rounding mode {mode!r}: expected one of "
            "'nearest', 'half_even', 'floor', 'ceil', 'exact'"
        )
    return found


cdef inline double signed_zero(double value, bint negative) noexcept nogil:
    """-0.0 for a zero result of a negative price, as Decimal arithmetic gives."""
    if negative and value == 0.0:
        return copysign(0.0, -1.0)
    return value


cdef int round_quotient(pxf_int128 num, pxf_int128 den, int mode, int64_t *out) noexcept nogil:
    """num / den (den > 0) rounded by `mode` into an int64 tick count."""
    cdef pxf_int128 q
    if mode == TICK_EXACT:
        q = num / den
        if q * den != num:
            return TK_OFF_GRID
    else:
        q = pxf_div_round(num, den, mode)
    if q > INT64_MAX or q < INT64_MIN:
        return TK_RANGE
    out[0] = <int64_t>q
    return TK_OK


cdef Py_ssize_t format_decimal(pxf_int128 value, int exponent, bint negative, char *text) noexcept nogil:
    """Write value * 10**-exponent as "[-]digits[.digits]" into text; return its length.

    `negative` only matters for a zero value (the sign of a negative zero).
    """
    cdef char digits[TEXT_SIZE]
    cdef int count = 0, i
    cdef Py_ssize_t length = 0
    cdef pxf_uint128 big
    cdef uint64_t small
    if value < 0:
        negative = True
        big = <pxf_uint128>(-value)
    else:
        big = <pxf_uint128>value
    # Long division by 10 on 128 bits only while the value needs them.
    while big > 0xFFFFFFFFFFFFFFFFULL:
        digits[count] = <char>(48 + <int>(big % 10))
        big //= 10
        count += 1
    small = <uint64_t>big
    while True:
        digits[count] = <char>(48 + <int>(small % 10))
        small //= 10
        count += 1
        if small == 0:
            break
    while count <= exponent:
        digits[count] = 48
        count += 1
    if negative:
        text[0] = 45   # '-'
        length = 1
    for i in range(count - 1, -1, -1):
        if i == exponent - 1:
            text[length] = 46   # '.'
            length += 1
        text[length] = digits[i]
        length += 1
    return length


cdef int parse_number(object value, str label, int64_t *mant, int *exp, bint *negative) except -1:
    """Read a str or Decimal exactly as Decimal(value) would, into mant * 10**-exp.

    Returns TK_OK, TK_NOT_FINITE or TK_RANGE; raises ValueError naming the
    value when it is not a number at all.  Plain strings are parsed in C;
    anything else (whitespace, underscores, NaN) goes through Decimal, which
    settles what the text means.
    """
    cdef const char *text
    cdef Py_ssize_t size
    if isinstance(value, str):
        text = PyUnicode_AsUTF8AndSize(value, &size)
        if pxf_parse_decimal(text, size, mant, exp) == 0:
            negative[0] = size > 0 and text[0] == 45
            return TK_OK
        try:
            value = _Decimal(value)
        except (InvalidOperation, ValueError):
            raise ValueError(f"Invalid {label} {value!r}: not a number") from None
    return decimal_parts(value, mant, exp, negative)


cdef int decimal_parts(object number, int64_t *mant, int *exp, bint *negative) except -1:
    """A Decimal as mant * 10**-exp (exp >= 0): TK_OK, TK_NOT_FINITE, or TK_RANGE
    when its significant digits exceed int64.

    The C parser reads the common case; the rest (more than 18 places, as in
    1e-45) is taken apart with as_tuple().  Past MAX_PLACES a value is so small
    that only its sign can matter, so the count of places is capped there.
    """
    cdef const char *text
    cdef Py_ssize_t size
    if not number.is_finite():
        return TK_NOT_FINITE
    written = str(number)
    text = PyUnicode_AsUTF8AndSize(written, &size)
    negative[0] = text[0] == 45
    if pxf_parse_decimal(text, size, mant, exp) == 0:
        return TK_OK
    sign, digits, exponent = number.as_tuple()
    coefficient = int("".join(map(str, digits)))
    places = -exponent
    while places > 0 and coefficient % 10 == 0:
        coefficient //= 10
        places -= 1
    if coefficient == 0:
        mant[0] = 0
        exp[0] = 0
        return TK_OK
    if places < 0 or coefficient > INT64_MAX:
        return TK_RANGE   # pxf_parse_decimal folds every exponent that fits
    mant[0] = -coefficient if sign else coefficient
    exp[0] = min(places, MAX_PLACES)
    return TK_OK


cdef inline bint is_integer(object value) noexcept:
    """An int or an integer scalar such as numpy.int64 (anything with __index__), not a bool."""
    return (PyLong_Check(value) or PyIndex_Check(value)) and not PyBool_Check(value)


cdef int64_t as_int64(object count) except? -1:
    """A tick count as int64: anything with __index__, ValueError beyond int64."""
    cdef int overflow = 0
    cdef int64_t n = PyLong_AsLongLongAndOverflow(PyNumber_Index(count), &overflow)
    if overflow:
        raise ValueError(f"Invalid tick count {count!r}: outside int64")
    return n


@cython.final
cdef class TickSize:
    """A tick size, parsed once: aligns prices and converts them to and from ticks.

    Build it from an int, float, Decimal or str (``TickSize(0.25)``,
    ``TickSize("0.00005")``); the module functions accept the same and keep a
    small cache of TickSize objects per tick value.  Attributes: ``decimal``
    (the tick as a Decimal with ``exponent`` decimals), ``value`` (as a
    float), ``exponent`` (decimals), ``mantissa`` (tick = mantissa *
    10**-exponent).  See the module docstring for the rules.
    """

    def __cinit__(self, tick):
        cdef int64_t mant = 0
        cdef int exp = 0, rc = TK_OK, overflow = 0
        cdef bint negative = False
        cdef double x
        cdef char text[TEXT_SIZE]
        if isinstance(tick, TickSize):
            mant = (<TickSize>tick).mantissa
            exp = (<TickSize>tick).exponent
        elif PyFloat_Check(tick):
            x = PyFloat_AS_DOUBLE(tick)
            if not isfinite(x):
                rc = TK_NOT_FINITE
            elif pxf_double_to_decimal(x, &mant, &exp) != 0:
                rc = TK_RANGE
        elif is_integer(tick):
            mant = PyLong_AsLongLongAndOverflow(tick, &overflow)
            if overflow:
                rc = TK_RANGE
        elif isinstance(tick, (str, Decimal)):
            rc = parse_number(tick, "tick size", &mant, &exp, &negative)
        else:
            raise TypeError(
                f"Invalid tick size {tick!r}: expected int, float, Decimal or str, "
                f"got {type(tick).__name__}"
            )
        if rc == TK_OK and exp > 18:
            rc = TK_RANGE   # aligned prices need the tick's places in int64 math
        if rc == TK_NOT_FINITE:
            raise ValueError(f"Invalid tick size {tick!r}: not a finite number")
        if rc == TK_RANGE:
            raise ValueError(
                f"Invalid tick size {tick!r}: beyond exact int64 tick math "
                "(at most 18 decimals, and its digits must fit in int64)"
            )
        if mant <= 0:
            raise ValueError(f"Invalid tick size {tick!r}: must be > 0")
        self.mantissa = mant
        self.exponent = exp
        self.decimal = _Decimal(PyUnicode_FromStringAndSize(
            text, format_decimal(mant, exp, False, text)))
        if mant <= EXACT_FLOAT_INT:
            self.value = <double>mant / PXF_P10D[exp]
        else:
            self.value = float(self.decimal)
        self._inverse = 1.0 / self.value

    def __dealloc__(self):
        cdef int i
        if self._decimals != NULL:
            for i in range(DECIMAL_CACHE):
                Py_XDECREF(self._decimals[i].value)
            PyMem_Free(self._decimals)

    def __repr__(self):
        return f"TickSize({str(self.decimal)!r})"

    def __eq__(self, other):
        if not isinstance(other, TickSize):
            return NotImplemented
        return (self.mantissa == (<TickSize>other).mantissa
                and self.exponent == (<TickSize>other).exponent)

    def __hash__(self):
        return hash((self.mantissa, self.exponent))

    def __reduce__(self):
        return TickSize, (str(self.decimal),)

    # -- the cdef interface (ticks.pxd) ------------------------------------

    cdef int ticks_fast(self, double price, int mode, int64_t *ticks) noexcept nogil:
        cdef double q, aq, t, margin, floor_q
        cdef int64_t k, mant
        cdef int exp
        if not isfinite(price):
            return TK_NOT_FINITE
        q = price * self._inverse
        aq = fabs(q)
        if aq < SCREEN_LIMIT:
            k = <int64_t>q
            floor_q = <double>k
            if floor_q > q:
                k -= 1
                floor_q -= 1.0
            t = q - floor_q
            margin = aq * MARGIN_REL + MARGIN_ABS
            if mode == TICK_NEAREST or mode == TICK_HALF_EVEN:
                if fabs(t - 0.5) > margin:
                    ticks[0] = k + (t > 0.5)
                    return TK_OK
            elif margin < t < 1.0 - margin:
                if mode == TICK_FLOOR:
                    ticks[0] = k
                    return TK_OK
                if mode == TICK_CEIL:
                    ticks[0] = k + 1
                    return TK_OK
                return TK_OFF_GRID
        # On (or within rounding error of) a boundary: the exact decimal decides.
        if pxf_double_to_decimal_at(price, self.exponent, &mant) == 1:
            return round_quotient(mant, self.mantissa, mode, ticks)
        if pxf_double_to_decimal_fast(price, &mant, &exp) == 1:
            return self._ticks_decimal(mant, exp, mode, ticks)
        return TK_SLOW

    cdef int price_fast(self, int64_t ticks, double *price) noexcept nogil:
        cdef pxf_int128 scaled = <pxf_int128>ticks * self.mantissa
        if -EXACT_FLOAT_INT <= scaled <= EXACT_FLOAT_INT:
            # Both operands are exact doubles, so IEEE division rounds correctly.
            price[0] = <double><int64_t>scaled / PXF_P10D[self.exponent]
            return TK_OK
        return TK_SLOW

    cdef int64_t ticks_of(self, double price, int mode) except? -1:
        cdef int64_t n = 0
        cdef int rc = self._rc_of_double(price, mode, &n)
        if rc != TK_OK:
            raise self._error(rc, price, "")
        return n

    cdef double price_of(self, int64_t ticks) except? -1.0:
        cdef double price
        cdef char text[TEXT_SIZE]
        cdef Py_ssize_t length
        if self.price_fast(ticks, &price) == TK_OK:
            return price
        # CPython's correctly rounded text -> float.
        length = format_decimal(<pxf_int128>ticks * self.mantissa, self.exponent, False, text)
        text[length] = 0
        return PyOS_string_to_double(text, NULL, NULL)

    cdef object decimal_of(self, int64_t ticks, bint negative):
        cdef char text[TEXT_SIZE]
        cdef DecimalSlot *slot
        cdef PyObject *old
        if negative and ticks == 0:
            return _Decimal(PyUnicode_FromStringAndSize(
                text, format_decimal(0, self.exponent, True, text)))
        if self._decimals == NULL:
            self._decimals = <DecimalSlot *>PyMem_Calloc(DECIMAL_CACHE, sizeof(DecimalSlot))
            if self._decimals == NULL:
                raise MemoryError()
        slot = &self._decimals[<uint64_t>ticks % DECIMAL_CACHE]
        if slot.value != NULL and slot.ticks == ticks:
            return <object>slot.value
        result = _Decimal(PyUnicode_FromStringAndSize(
            text, format_decimal(<pxf_int128>ticks * self.mantissa, self.exponent, False, text)))
        old = slot.value
        Py_INCREF(result)
        slot.value = <PyObject *>result
        slot.ticks = ticks
        Py_XDECREF(old)
        return result

    cdef int64_t ticks_of_object(self, object price, int mode, bint *negative) except? -1:
        cdef int64_t n = 0
        cdef int rc = self._rc_of_object(price, mode, &n, negative)
        if rc != TK_OK:
            raise self._error(rc, price, "")
        return n

    # -- internals -----------------------------------------------------------

    cdef int _ticks_decimal(self, int64_t mant, int exp, int mode, int64_t *ticks) noexcept nogil:
        """Ticks of the exact decimal mant * 10**-exp, in integers."""
        cdef pxf_int128 num, den
        if exp <= self.exponent:
            if pxf_rescale(mant, exp, self.exponent, &num) != 0:
                return TK_RANGE
            den = self.mantissa
        else:
            num = mant
            if pxf_rescale(self.mantissa, self.exponent, exp, &den) != 0:
                # den > 2**120 > 2 * |num|: |price / tick| < 1/2, so only the
                # sign decides, and sign(num) / 4 rounds the same in every mode.
                return round_quotient((mant > 0) - (mant < 0), 4, mode, ticks)
        return round_quotient(num, den, mode, ticks)

    cdef int _rc_of_double(self, double price, int mode, int64_t *ticks) except -1:
        """ticks_fast, completed by CPython's repr when it declines (needs the GIL)."""
        cdef int64_t mant
        cdef int exp
        cdef bint negative
        cdef int rc = self.ticks_fast(price, mode, ticks)
        if rc != TK_SLOW:
            return rc
        if pxf_double_to_decimal(price, &mant, &exp) != 0:
            # More places than int64 math holds (1e-45): take Decimal's reading.
            rc = decimal_parts(_Decimal(repr(price)), &mant, &exp, &negative)
            if rc != TK_OK:
                return rc
        return self._ticks_decimal(mant, exp, mode, ticks)

    cdef int _rc_of_object(self, object price, int mode, int64_t *ticks,
                           bint *negative) except -1:
        """Ticks of a price of any accepted type, as a TK_* outcome."""
        cdef double x
        cdef int64_t mant
        cdef int exp = 0, overflow = 0, rc
        if PyFloat_Check(price):
            x = PyFloat_AS_DOUBLE(price)
            negative[0] = signbit(x)
            return self._rc_of_double(x, mode, ticks)
        if is_integer(price):
            mant = PyLong_AsLongLongAndOverflow(price, &overflow)
            if overflow:
                return TK_RANGE
            negative[0] = False
        elif isinstance(price, (str, Decimal)):
            rc = parse_number(price, "price", &mant, &exp, negative)
            if rc != TK_OK:
                return rc
        else:
            raise TypeError(
                f"Invalid price {price!r}: expected int, float, Decimal or str, "
                f"got {type(price).__name__}"
            )
        return self._ticks_decimal(mant, exp, mode, ticks)

    cdef object _error(self, int rc, object price, str where):
        """The ValueError for a TK_* outcome, naming the price (and `where`)."""
        if rc == TK_NOT_FINITE:
            return ValueError(f"Invalid price {price!r}{where}: not a finite number")
        if rc == TK_OFF_GRID:
            return ValueError(
                f"Invalid price {price!r}{where}: not aligned to tick size {self.decimal}")
        return ValueError(
            f"Invalid price {price!r}{where}: beyond exact int64 tick math for tick size "
            f"{self.decimal} (the price's digits and price / tick must fit in int64)"
        )

    cdef object _align(self, object price, int mode):
        cdef bint negative = False
        cdef int64_t n = self.ticks_of_object(price, mode, &negative)
        return self.decimal_of(n, negative)

    cdef object _align_float(self, object price, int mode):
        cdef double x, out
        cdef int64_t n
        cdef bint negative = False
        if PyFloat_CheckExact(price):
            # The hot path: no temporaries, nothing allocated but the result.
            x = PyFloat_AS_DOUBLE(price)
            if self.ticks_fast(x, mode, &n) == TK_OK and self.price_fast(n, &out) == TK_OK:
                return signed_zero(out, signbit(x))
        n = self.ticks_of_object(price, mode, &negative)
        return signed_zero(self.price_of(n), negative)

    cdef Py_ssize_t _fill(self, const double *src, double *prices, int64_t *ticks,
                          Py_ssize_t i, Py_ssize_t size, int mode) noexcept nogil:
        """Fill prices (or ticks) from src[i:] until an element needs the GIL; return its index."""
        cdef int64_t n
        cdef double x, price
        while i < size:
            x = src[i]
            if self.ticks_fast(x, mode, &n) != TK_OK:
                return i
            if prices != NULL:
                if self.price_fast(n, &price) != TK_OK:
                    return i
                prices[i] = signed_zero(price, signbit(x))
            else:
                ticks[i] = n
            i += 1
        return i

    cdef int _fill_one(self, double x, double *prices, int64_t *ticks,
                       Py_ssize_t i, int mode) except -1:
        """The exact slow path for element i, or a ValueError naming its index."""
        cdef int64_t n = 0
        cdef int rc = self._rc_of_double(x, mode, &n)
        if rc != TK_OK:
            raise self._error(rc, x, f" at index {i}")
        if prices != NULL:
            prices[i] = signed_zero(self.price_of(n), signbit(x))
        else:
            ticks[i] = n
        return 0

    cdef object _run_array(self, object prices, int mode, bint as_prices):
        global np
        if np is None:
            import numpy as np
        src = np.ascontiguousarray(prices, dtype=np.float64)
        out = np.empty(src.shape, dtype=np.float64 if as_prices else np.int64)
        cdef const double[::1] values = src.reshape(-1)
        cdef double[::1] price_out
        cdef int64_t[::1] tick_out
        cdef double *price_ptr = NULL
        cdef int64_t *tick_ptr = NULL
        cdef Py_ssize_t i = 0, size = values.shape[0]
        if size == 0:
            return out
        if as_prices:
            price_out = out.reshape(-1)
            price_ptr = &price_out[0]
        else:
            tick_out = out.reshape(-1)
            tick_ptr = &tick_out[0]
        while True:
            with nogil:
                i = self._fill(&values[0], price_ptr, tick_ptr, i, size, mode)
            if i == size:
                return out
            self._fill_one(values[i], price_ptr, tick_ptr, i, mode)
            i += 1

    # -- Python API ----------------------------------------------------------

    def align(self, price, mode="nearest"):
        """The aligned price as a Decimal with the tick's decimals (21000.13 -> 21000.25)."""
        return self._align(price, mode_of(mode))

    def align_float(self, price, mode="nearest"):
        """The aligned price as a float: float() of align(), correctly rounded."""
        return self._align_float(price, mode_of(mode))

    def to_ticks(self, price, mode="exact"):
        """The price as a whole number of ticks; mode "exact" raises ValueError off the grid."""
        cdef bint negative = False
        return self.ticks_of_object(price, mode_of(mode), &negative)

    def from_ticks(self, ticks):
        """`ticks` ticks as a Decimal with the tick's decimals."""
        return self.decimal_of(as_int64(ticks), False)

    def from_ticks_float(self, ticks):
        """`ticks` ticks as the correctly rounded float."""
        return self.price_of(as_int64(ticks))

    def is_aligned(self, price):
        """True when the price is a whole number of ticks (ValueError for NaN/inf)."""
        cdef int64_t n
        cdef bint negative = False
        cdef int rc = self._rc_of_object(price, TICK_EXACT, &n, &negative)
        if rc == TK_OK or rc == TK_OFF_GRID:
            return rc == TK_OK
        raise self._error(rc, price, "")

    def align_array(self, prices, mode="nearest"):
        """Align a float64 array (any shape) element by element, exactly as align_float.

        Returns a new float64 array.  A NaN or infinite element raises
        ValueError naming its index (there is no aligned value to put there).
        Other dtypes are converted to float64 first: a float32 element means
        its float64 value, not its float32 repr.
        """
        return self._run_array(prices, mode_of(mode), True)

    def to_ticks_array(self, prices, mode="nearest"):
        """Tick counts of a float64 array as an int64 array, exactly as to_ticks."""
        return self._run_array(prices, mode_of(mode), False)


# -- the TickSize cache of the module functions --------------------------------

cdef struct TickSlot:
    int kind            # 0 empty, 1 float (key = bits), 2 int (key = value), 3 other (key = id)
    uint64_t key
    PyObject *owner     # kind 3: a reference to the key object, so its id stays its own
    PyObject *tick

cdef TickSlot tick_slots[TICK_SLOTS]


cdef TickSize tick_size_of(object tick):
    cdef int kind, overflow = 0
    cdef uint64_t key
    cdef double x
    cdef TickSlot *slot
    cdef PyObject *old_owner
    cdef PyObject *old_tick
    if type(tick) is TickSize:
        return <TickSize>tick
    if PyFloat_CheckExact(tick):
        kind = 1
        x = PyFloat_AS_DOUBLE(tick)
        memcpy(&key, &x, sizeof(key))
    elif PyLong_CheckExact(tick):
        kind = 2
        key = <uint64_t>PyLong_AsLongLongAndOverflow(tick, &overflow)
        if overflow:
            return TickSize(tick)   # raises: beyond int64
    else:
        kind = 3
        key = <uint64_t><uintptr_t><PyObject *>tick
    slot = &tick_slots[((key ^ (key >> 29)) * 0x9E3779B97F4A7C15ULL + <uint64_t>kind) >> 58]
    if slot.kind == kind and slot.key == key:
        return <TickSize>slot.tick
    result = TickSize(tick)
    old_owner = slot.owner
    old_tick = slot.tick
    Py_INCREF(result)
    slot.tick = <PyObject *>result
    if kind == 3:
        Py_INCREF(tick)
        slot.owner = <PyObject *>tick
    else:
        slot.owner = NULL
    slot.kind = kind
    slot.key = key
    # Released last: a destructor running here finds the table consistent.
    Py_XDECREF(old_owner)
    Py_XDECREF(old_tick)
    return result


def cached_tick_size(tick):
    """The shared TickSize for a tick given as int, float, Decimal, str or TickSize."""
    return tick_size_of(tick)


def align_price(price, tick_size, mode="nearest"):
    """`price` aligned to `tick_size` as a Decimal with the tick's decimals."""
    return tick_size_of(tick_size)._align(price, mode_of(mode))


def align_price_float(price, tick_size, mode="nearest"):
    """`price` aligned to `tick_size` as a float (project-x-py's align_price_to_tick)."""
    return tick_size_of(tick_size)._align_float(price, mode_of(mode))


def price_to_ticks(price, tick_size, mode="exact"):
    """`price` as a whole number of ticks; mode "exact" raises ValueError off the grid."""
    cdef bint negative = False
    return tick_size_of(tick_size).ticks_of_object(price, mode_of(mode), &negative)


def ticks_to_price(ticks, tick_size):
    """`ticks` ticks of `tick_size` as a Decimal."""
    return tick_size_of(tick_size).decimal_of(as_int64(ticks), False)


def ticks_to_float(ticks, tick_size):
    """`ticks` ticks of `tick_size` as the correctly rounded float."""
    return tick_size_of(tick_size).price_of(as_int64(ticks))


def is_aligned(price, tick_size):
    """True when `price` is a whole number of `tick_size` ticks."""
    return tick_size_of(tick_size).is_aligned(price)


def align_prices(prices, tick_size, mode="nearest"):
    """A float64 array aligned element by element, exactly as align_price_float."""
    return tick_size_of(tick_size)._run_array(prices, mode_of(mode), True)

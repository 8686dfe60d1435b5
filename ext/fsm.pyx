# cython: language_level=3
"""The order table: every tracked order's state, and the state machine that moves it.

Why it exists.  An order's truth arrives in pieces: GatewayUserOrder events on
the user hub (possibly duplicated, reordered, or lost across a reconnect) and
REST snapshots (Order/search, searchOpen, searchById) replayed during
reconciliation.  ``OrderTable.apply(update)`` folds any of those into the
table and returns what changed - a :class:`Transition` - or ``None`` when the
update is stale or says nothing new.  The Python layer turns transitions into
events and OCO actions; it never has to reason about ordering itself.

The state machine is a static table indexed ``[old status][new status]``
(``PXF_TABLE`` below; row 9 is "never seen").  Each cell is an action:

* ``NEW``      first sighting of a working order         -> PLACED (PARTIAL_FILL if it already has fills)
* ``TERM``     into a terminal status (2 3 4 5)          -> FILLED / CANCELLED / EXPIRED / REJECTED
* ``SAME``     working status unchanged                  -> PARTIAL_FILL, MODIFIED (price, size, trail) or UPDATED
* ``STEP``     to another working status                 -> PARTIAL_FILL or UPDATED
* ``ACTIVATE`` Suspended -> Open / Pending (bracket leg) -> PARTIAL_FILL or ACTIVATED
* ``ABSORB``   terminal -> the same terminal             -> nothing (a fill here is an anomaly)
* ``ILLEGAL``  anything else                             -> counted and logged, the table is unchanged

It holds the orderings the Gateway really produces: Pending -> Filled with no
Open, bracket legs first seen Suspended (and Suspended -> Filled/Cancelled
when the Open update was lost), PendingCancellation -> Filled (a fill racing
a cancel), PendingCancellation -> Open (a refused cancel), Open -> Open modify
echoes and partial fills, and a first sighting that is already terminal.

Invariants, whatever arrives: terminal statuses absorb; fill volume never
decreases; an update whose updateTimestamp is older than the last applied one
is stale; an update that changes nothing is a duplicate.  When timestamps are
equal (or either is missing) only a forward move is applied - a higher status
rank (Suspended/Pending < Open < PendingCancellation < terminal) or more fill
- so a REST snapshot without updateTimestamp still delivers a missed fill but
can never roll an order back.  Nothing in ``apply`` raises: an update it
cannot use is counted (``stats()``) and logged (``anomalies()``).

Links.  A bracket leg (parentOrderId) is filed under its entry, takes a role
from its type (stop / target), inherits the entry's group, and is linked to
its one working sibling as a native OCO pair; linkedOrderId links natively
too; ``link_oco`` adds client-side pairs, also for orders not seen yet.  When
a linked order fills or partially fills, its Transition names the partner and
whether the Gateway enforces the link (then only the Python layer's own,
client-side links need a cancel).  A linked order that ends drops the link on
both sides, so a fill is reported once and a cancelled leg leaves its partner
alone.  An entry that ends without any fill reports its working legs.

Storage.  A tracked order is a 96-byte C struct (``OrderRec`` in fsm.pxd) in
pages of 1024 that never move, found through an open-addressing index
(id -> slot, 8-byte buckets holding a hash fingerprint, load <= 3/4) plus a
second multimap index (parent id -> bracket-leg slots).  The spec allows 128
bytes of table storage per order at 1 M orders, so the record is packed:
status (0..8), order type (0..7) and side (0..1) share one byte - an update
with a type or side outside those ranges is invalid - and accounts and
contracts are interned, the record holding a 16-bit index into the table's
list of ids.  A table therefore knows at most 65 536 accounts and as many
contracts; the first sighting of an order with one more is refused (counted
invalid, logged as "account table full" / "contract table full").  Custom
tags, which every order pxfast places carries, are no Python objects either:
a tagged record holds the 32-bit offset of its tag's entry in one growable
byte arena (the byte count in LEB128, then the UTF-8 bytes; lone surrogates
kept with "surrogatepass"), and a third index (tag -> slot, keyed by a hash
of the bytes, a match confirmed on the bytes) answers ``find_by_tag``.
Should orders share a tag (the Gateway keeps tags unique per account, so
only by mistake), that index names the last one seen, and forgetting that
one drops the answer.  A forgotten order's entry is dead space until more
than half the arena is dead; the live entries are then copied into a fresh
arena (entries move, the index holds slots and does not).  A 32-bit offset
caps the arena at 4 GiB (pxfast's tags for 1 M orders take 23 MB): a tag
that would not fit is handled as when memory runs out - the order is
tracked untagged, "tag arena full" is logged, and a later update carrying
the tag tries again, which succeeds once a compaction has made room.
(``_set_tag_arena_limit`` lowers the cap for all tables, so tests reach
that path with a few bytes.)  At 1 M orders, a third of them bracket
entries, that is about 121 bytes per order without tags and 164 with
pxfast's own ~20-byte tags (``memory_bytes``).

Units.  Prices are int64 counts of 1e-9, the Gateway's decimal precision:
a float is taken by its shortest repr (exactnum.h), so 1.10005, 20000.25 and
6335.250000000 are stored exactly and come back as the same float.  A price
with more than nine decimals is rounded half-even and logged.  Timestamps are
int64 counts of 100 ns since the Unix epoch, parsed in C from ISO-8601 with
0-9 fractional digits (digits past the seventh are truncated) and ``Z``, an
offset, or no zone (taken as UTC).
"""

cimport cython
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.list cimport PyList_GET_ITEM
from cpython.ref cimport Py_XDECREF
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset

# The C helpers below call exactnum.h directly; cimporting its .pxd puts the
# header in the extension's depends, so editing it recompiles this module.
cimport exactnum  # noqa: F401

from pxfast.messages import OrderUpdate

cdef extern from *:
    """
    #include "exactnum.h"
    #include <stdio.h>
    #include <string.h>
    #include <structmember.h>

    #define PXF_NONE INT64_MIN     /* absent price or timestamp */
    #define PXF_NONE32 INT32_MIN   /* absent trailDistance */
    #define PXF_PRICE_EXP 9        /* prices are counts of 1e-9 */
    /* The tag arena's cap: a record holds an entry's offset in 32 bits (and
     * no arena outgrows Py_ssize_t, which matters only on 32-bit builds). */
    #define PXF_ARENA_LIMIT ((uint64_t)PY_SSIZE_T_MAX < (UINT64_C(1) << 32) \
                             ? (uint64_t)PY_SSIZE_T_MAX : (UINT64_C(1) << 32))

    enum { A_ILLEGAL, A_NEW, A_TERM, A_SAME, A_STEP, A_ACTIVATE, A_ABSORB };
    #define X A_ILLEGAL
    #define N A_NEW
    #define T A_TERM
    #define S A_SAME
    #define P A_STEP
    #define V A_ACTIVATE
    #define B A_ABSORB
    /* [old status, 9 = never seen][new status] -> action. */
    static const unsigned char PXF_TABLE[10][9] = {
        /*                   None Open Fill Canc Expd Rejd Pend PCxl Susp */
        /* 0 None (never) */ {X,   X,   X,   X,   X,   X,   X,   X,   X},
        /* 1 Open         */ {X,   S,   T,   T,   T,   T,   X,   P,   X},
        /* 2 Filled       */ {X,   X,   B,   X,   X,   X,   X,   X,   X},
        /* 3 Cancelled    */ {X,   X,   X,   B,   X,   X,   X,   X,   X},
        /* 4 Expired      */ {X,   X,   X,   X,   B,   X,   X,   X,   X},
        /* 5 Rejected     */ {X,   X,   X,   X,   X,   B,   X,   X,   X},
        /* 6 Pending      */ {X,   P,   T,   T,   T,   T,   S,   P,   X},
        /* 7 PendingCxl   */ {X,   P,   T,   T,   T,   T,   X,   S,   X},
        /* 8 Suspended    */ {X,   V,   T,   T,   T,   T,   V,   P,   S},
        /* 9 never seen   */ {X,   N,   T,   T,   T,   T,   N,   N,   N},
    };
    #undef X
    #undef N
    #undef T
    #undef S
    #undef P
    #undef V
    #undef B
    /* Forward order used when timestamps cannot order two updates. */
    static const unsigned char PXF_RANK[9] = {0, 2, 4, 4, 4, 4, 1, 3, 1};
    /* Transition kind of a move into status 2..5. */
    static const unsigned char PXF_TERMINAL_KIND[9] = {0, 0, 3, 4, 6, 5, 0, 0, 0};

    static inline int pxf_is_terminal(int status) { return status >= 2 && status <= 5; }

    /* Fibonacci hash; the high 32 bits are the bucket fingerprint and, shifted,
     * the home bucket. */
    static inline uint32_t pxf_fp(int64_t key) {
        return (uint32_t)(((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15)) >> 32);
    }

    /* ---- custom tags: the hash, arena entries, UTF-8 in and out ---- */

    /* murmur3's 64-bit finaliser. */
    static inline uint64_t pxf_fmix(uint64_t h) {
        h ^= h >> 33;
        h *= UINT64_C(0xFF51AFD7ED558CCD);
        h ^= h >> 33;
        h *= UINT64_C(0xC4CEB9FE1A85EC53);
        h ^= h >> 33;
        return h;
    }

    /* The tag index's key: a tag's UTF-8 bytes hashed a word at a time, the
     * high 32 bits of the result.  The length seeds the state and each word
     * is folded in by a bijection of it ((h ^ w) * odd, then an xorshift), so
     * two tags of the same length never share the 64-bit hash; only the fold
     * to 32 bits can collide, and a bucket match is confirmed on the bytes. */
    static uint32_t pxf_tag_fp(const char *s, Py_ssize_t n) {
        uint64_t h = pxf_fmix((uint64_t)n + UINT64_C(0x9E3779B97F4A7C15)), w;
        for (; n >= 8; s += 8, n -= 8) {
            memcpy(&w, s, 8);
            h = (h ^ w) * UINT64_C(0xFF51AFD7ED558CCD);
            h ^= h >> 31;
        }
        if (n > 0) {
            w = 0;
            memcpy(&w, s, (size_t)n);
            h = (h ^ w) * UINT64_C(0xFF51AFD7ED558CCD);
            h ^= h >> 31;
        }
        return (uint32_t)(pxf_fmix(h) >> 32);
    }

    /* An arena entry is the tag's byte count in LEB128 (one byte below 128),
     * then the bytes.  pxf_len_size: bytes the count takes; pxf_put_len: write
     * it, return its size. */
    static inline Py_ssize_t pxf_len_size(uint64_t v) {
        Py_ssize_t k = 1;
        for (; v >= 0x80; v >>= 7) k++;
        return k;
    }

    static inline Py_ssize_t pxf_put_len(char *p, uint64_t v) {
        Py_ssize_t k = 0;
        for (; v >= 0x80; v >>= 7) p[k++] = (char)((v & 0x7F) | 0x80);
        p[k++] = (char)v;
        return k;
    }

    /* The bytes of the entry at off in an arena whose first len bytes are in
     * use (their count in *n), or NULL when the entry does not lie wholly
     * inside them: nothing is ever read past the arena. */
    static inline const char *pxf_entry(const char *a, Py_ssize_t len, int64_t off,
                                        Py_ssize_t *n) {
        uint64_t v = 0;
        unsigned shift = 0;
        unsigned char c;
        if (off < 0) return NULL;
        do {
            if (off >= len || shift > 63) return NULL;
            c = (unsigned char)a[off++];
            v |= (uint64_t)(c & 0x7F) << shift;
            shift += 7;
        } while (c & 0x80);
        if (v > (uint64_t)(len - off)) return NULL;
        *n = (Py_ssize_t)v;
        return a + off;
    }

    /* A tag's UTF-8 bytes: the str's own UTF-8 form (its data for ASCII,
     * cached on the str otherwise), or for a str with lone surrogates, which
     * strict UTF-8 refuses, "surrogatepass" bytes held in *keep (a new
     * reference, else NULL).  0, or -1 out of memory (the error cleared). */
    static int pxf_utf8(PyObject *s, const char **p, Py_ssize_t *n, PyObject **keep) {
        *keep = NULL;
        *p = PyUnicode_AsUTF8AndSize(s, n);
        if (*p != NULL) return 0;
        PyErr_Clear();
        *keep = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
        if (*keep == NULL) { PyErr_Clear(); return -1; }
        *p = PyBytes_AS_STRING(*keep);
        *n = PyBytes_GET_SIZE(*keep);
        return 0;
    }

    /* Arena bytes back to the str they came from. */
    static inline PyObject *pxf_tag_str(const char *p, Py_ssize_t n) {
        return PyUnicode_DecodeUTF8(p, n, "surrogatepass");
    }

    /* ---- Python values -> C, never raising (a Python error is cleared) ---- */

    /* 1: int stored, 0: None, -1: not an int or out of int64 range. */
    static inline int pxf_i64(PyObject *o, int64_t *out) {
        int ovf;
        long long v;
        if (o == Py_None) return 0;
        if (!PyLong_Check(o)) return -1;
        v = PyLong_AsLongLongAndOverflow(o, &ovf);
        if (ovf) return -1;
        if (v == -1 && PyErr_Occurred()) { PyErr_Clear(); return -1; }
        *out = (int64_t)v;
        return 1;
    }

    /* mant * 10^-exp -> counts of 1e-9.  1 exact, 2 rounded, -1 out of range. */
    static inline int pxf_scale_price(int64_t m, int e, int64_t *out) {
        if (e <= PXF_PRICE_EXP) {
            int64_t p = PXF_P10I[PXF_PRICE_EXP - e];
            if (m > INT64_MAX / p || m < -(INT64_MAX / p)) return -1;
            *out = m * p;
            return 1;
        }
        *out = (int64_t)pxf_div_round(m, PXF_P10I[e - PXF_PRICE_EXP], PXF_HALF_EVEN);
        return 2;
    }

    /* A price field: float (by its shortest repr), int, or anything whose str()
     * is a decimal literal (Decimal).  1 exact, 2 rounded, 0 None, -1 bad. */
    static int pxf_price(PyObject *o, int64_t *out) {
        int64_t m;
        int e, rc;
        if (o == Py_None) return 0;
        if (PyFloat_Check(o)) {
            if (pxf_double_to_decimal(PyFloat_AS_DOUBLE(o), &m, &e) != 0) return -1;
            return pxf_scale_price(m, e, out);
        }
        if (PyLong_Check(o)) {
            if (pxf_i64(o, &m) != 1) return -1;
            return pxf_scale_price(m, 0, out);
        }
        {
            PyObject *s = PyObject_Str(o);
            const char *p;
            Py_ssize_t n;
            if (s == NULL) { PyErr_Clear(); return -1; }
            p = PyUnicode_AsUTF8AndSize(s, &n);
            rc = p == NULL ? -1 : pxf_parse_decimal(p, n, &m, &e);
            Py_DECREF(s);
            if (rc != 0) { PyErr_Clear(); return -1; }
            return pxf_scale_price(m, e, out);
        }
    }

    /* Counts of 1e-9 -> the float whose shortest repr is that decimal.  Below
     * 2^53 the quotient of two exact doubles is correctly rounded, so it is the
     * float the price came from; larger mantissas go through strtod. */
    static PyObject *pxf_price_float(int64_t v) {
        int64_t m = v;
        int e = PXF_PRICE_EXP;
        char buf[40];
        uint64_t a;
        pxf_normalize(&m, &e);
        if (m < (INT64_C(1) << 53) && m > -(INT64_C(1) << 53))
            return PyFloat_FromDouble((double)m / PXF_P10D[e]);
        a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        snprintf(buf, sizeof buf, "%s%llu.%09llu", v < 0 ? "-" : "",
                 (unsigned long long)(a / 1000000000u), (unsigned long long)(a % 1000000000u));
        {
            double d = PyOS_string_to_double(buf, NULL, NULL);
            if (d == -1.0 && PyErr_Occurred()) return NULL;
            return PyFloat_FromDouble(d);
        }
    }

    /* ---- ISO-8601 timestamps <-> int64 100 ns since the epoch ---- */

    static inline int64_t pxf_floordiv(int64_t a, int64_t b) {
        int64_t q = a / b;
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
    }

    /* Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian). */
    static inline int64_t pxf_days_from_civil(int64_t y, int m, int d) {
        int64_t era;
        int64_t yoe, doy, doe;
        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
    }

    static inline void pxf_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
        int64_t era, doe, yoe, doy, mp;
        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = z - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = yoe + era * 400 + (*m <= 2);
    }

    static inline int pxf_digits(const char *s, int k, int *v) {
        int x = 0, i;
        for (i = 0; i < k; i++) {
            if (s[i] < '0' || s[i] > '9') return -1;
            x = x * 10 + (s[i] - '0');
        }
        *v = x;
        return 0;
    }

    /* YYYY-MM-DD(T| )HH:MM:SS[.f{1,9}][Z|(+|-)HH[[:]MM]]  ->  0, or -1. */
    static int pxf_parse_iso(const char *s, Py_ssize_t n, int64_t *out) {
        static const int dim[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int Y, M, D, h, mi, sec, frac = 0, nd = 0, off = 0;
        Py_ssize_t i = 19;
        if (n < 19) return -1;
        if (pxf_digits(s, 4, &Y) || s[4] != '-' || pxf_digits(s + 5, 2, &M) || s[7] != '-' ||
            pxf_digits(s + 8, 2, &D))
            return -1;
        if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return -1;
        if (pxf_digits(s + 11, 2, &h) || s[13] != ':' || pxf_digits(s + 14, 2, &mi) ||
            s[16] != ':' || pxf_digits(s + 17, 2, &sec))
            return -1;
        if (i < n && (s[i] == '.' || s[i] == ',')) {
            i++;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (nd < 7) frac = frac * 10 + (s[i] - '0');
                nd++;
                i++;
            }
            if (nd == 0 || nd > 9) return -1;
            for (; nd < 7; nd++) frac *= 10;
        }
        if (i < n) {
            char c = s[i++];
            if (c == '+' || c == '-') {
                int oh, om = 0;
                if (n - i < 2 || pxf_digits(s + i, 2, &oh)) return -1;
                i += 2;
                if (i < n && s[i] == ':') i++;
                if (i < n) {
                    if (n - i < 2 || pxf_digits(s + i, 2, &om)) return -1;
                    i += 2;
                }
                if (oh > 23 || om > 59) return -1;
                off = (oh * 60 + om) * 60;
                if (c == '-') off = -off;
            } else if (c != 'Z' && c != 'z') {
                return -1;
            }
        }
        if (i != n) return -1;
        if (Y < 1 || M < 1 || M > 12 || D < 1 || h > 23 || mi > 59 || sec > 59) return -1;
        if (D > dim[M] && !(M == 2 && D == 29 && Y % 4 == 0 && (Y % 100 != 0 || Y % 400 == 0)))
            return -1;
        *out = ((pxf_days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - off) *
                INT64_C(10000000)) + frac;
        return 0;
    }

    /* 1: parsed, 0: None, -1: not a str or not a timestamp. */
    static inline int pxf_timestamp(PyObject *o, int64_t *out) {
        if (o == Py_None) return 0;
        if (!PyUnicode_Check(o) || !PyUnicode_IS_COMPACT_ASCII(o)) return -1;
        return pxf_parse_iso((const char *)PyUnicode_DATA(o), PyUnicode_GET_LENGTH(o), out) == 0
                   ? 1 : -1;
    }

    /* 100 ns since the epoch -> "YYYY-MM-DDTHH:MM:SS[.ffffff[f]]+00:00" (seven
     * digits only when the 100 ns digit is set, like isoformat() otherwise). */
    static PyObject *pxf_format_iso(int64_t t) {
        char buf[64];
        int64_t secs = pxf_floordiv(t, 10000000), days, y;
        int frac = (int)(t - secs * 10000000), sod, m, d, n;
        days = pxf_floordiv(secs, 86400);
        sod = (int)(secs - days * 86400);
        pxf_civil_from_days(days, &y, &m, &d);
        n = snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)y, m, d,
                     sod / 3600, sod / 60 % 60, sod % 60);
        if (frac % 10) n += snprintf(buf + n, sizeof buf - n, ".%07d", frac);
        else if (frac) n += snprintf(buf + n, sizeof buf - n, ".%06d", frac / 10);
        n += snprintf(buf + n, sizeof buf - n, "+00:00");
        return PyUnicode_FromStringAndSize(buf, n);
    }

    /* The offset of a slot member (a msgspec Struct field), or -1. */
    static Py_ssize_t pxf_member_offset(PyObject *descr) {
        PyMemberDef *m;
        if (Py_TYPE(descr) != &PyMemberDescr_Type) return -1;
        m = ((PyMemberDescrObject *)descr)->d_member;
        if (m->type != T_OBJECT_EX && m->type != T_OBJECT) return -1;
        return m->offset;
    }

    static inline PyObject *pxf_slot(PyObject *o, Py_ssize_t offset) {
        return *(PyObject **)((char *)o + offset);
    }
    """
    int64_t PXF_NONE
    int32_t PXF_NONE32
    uint64_t PXF_ARENA_LIMIT
    enum:
        A_ILLEGAL
        A_NEW
        A_TERM
        A_SAME
        A_STEP
        A_ACTIVATE
        A_ABSORB
    const unsigned char PXF_TABLE[10][9]
    const unsigned char PXF_RANK[9]
    const unsigned char PXF_TERMINAL_KIND[9]
    bint pxf_is_terminal(int status) noexcept
    uint32_t pxf_fp(int64_t key) noexcept
    uint32_t pxf_tag_fp(const char *s, Py_ssize_t n) noexcept
    Py_ssize_t pxf_len_size(uint64_t v) noexcept
    Py_ssize_t pxf_put_len(char *p, uint64_t v) noexcept
    const char *pxf_entry(const char *a, Py_ssize_t len, int64_t off, Py_ssize_t *n) noexcept
    int pxf_utf8(PyObject *s, const char **p, Py_ssize_t *n, PyObject **keep) noexcept
    object pxf_tag_str(const char *p, Py_ssize_t n)
    int pxf_i64(PyObject *o, int64_t *out) noexcept
    int pxf_price(PyObject *o, int64_t *out) noexcept
    object pxf_price_float(int64_t v)
    int pxf_parse_iso(const char *s, Py_ssize_t n, int64_t *out) noexcept
    int pxf_timestamp(PyObject *o, int64_t *out) noexcept
    object pxf_format_iso(int64_t t)
    Py_ssize_t pxf_member_offset(PyObject *descr) noexcept
    PyObject *pxf_slot(PyObject *o, Py_ssize_t offset) noexcept


# ---------------------------------------------------------------------------
# Python-visible constants
# ---------------------------------------------------------------------------

PLACED = KIND_PLACED
PARTIAL_FILL = KIND_PARTIAL_FILL
FILLED = KIND_FILLED
CANCELLED = KIND_CANCELLED
REJECTED = KIND_REJECTED
EXPIRED = KIND_EXPIRED
MODIFIED = KIND_MODIFIED
ACTIVATED = KIND_ACTIVATED
UPDATED = KIND_UPDATED
KIND_NAMES = (
    "NONE", "PLACED", "PARTIAL_FILL", "FILLED", "CANCELLED", "REJECTED", "EXPIRED",
    "MODIFIED", "ACTIVATED", "UPDATED",
)

ROLE_NONE = PXF_ROLE_NONE
ROLE_ENTRY = PXF_ROLE_ENTRY
ROLE_STOP = PXF_ROLE_STOP
ROLE_TARGET = PXF_ROLE_TARGET
ROLE_FIRST = PXF_ROLE_FIRST
ROLE_SECOND = PXF_ROLE_SECOND
ROLE_NAMES = ("none", "entry", "stop", "target", "first", "second")

PRICE_SCALE = 1_000_000_000
"""Prices are stored as integer counts of 1 / PRICE_SCALE."""

# ---------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------

cdef enum:
    PAGE_BITS = 10
    PAGE_SIZE = 1 << PAGE_BITS
    PAGE_MASK = PAGE_SIZE - 1
    INDEX_MIN_BITS = 6
    RING_SIZE = 64
    ARENA_MIN = 1024        # first allocation of the tag arena, in bytes
    DEAD_PER_SLOT = 8       # dead arena bytes per slot before a compaction pays off

# OrderUpdate fields, in the order apply() reads them: indices into _FIELDS.
cdef enum:
    N_FIELDS = 19
    F_ID = 0
    F_ACCOUNT = 1
    F_CONTRACT = 2
    F_SYMBOL = 3
    F_CREATED = 4
    F_UPDATED = 5
    F_STATUS = 6
    F_TYPE = 7
    F_SIDE = 8
    F_SIZE = 9
    F_LIMIT = 10
    F_STOP = 11
    F_FILL = 12
    F_FILLED = 13
    F_TAG = 14
    F_TRAILP = 15
    F_TRAILD = 16
    F_PARENT = 17
    F_LINKED = 18

_FIELDS = (
    "id", "accountId", "contractId", "symbolId", "creationTimestamp", "updateTimestamp",
    "status", "type", "side", "size", "limitPrice", "stopPrice", "fillVolume", "filledPrice",
    "customTag", "trailPrice", "trailDistance", "parentOrderId", "linkedOrderId",
)
_REQUIRED = frozenset(
    ("id", "accountId", "contractId", "creationTimestamp", "status", "type", "side", "size")
)

# Counters (indices into OrderTable.counters).
cdef enum:
    C_UPDATES = 0
    C_APPLIED = 1
    C_STALE = 2
    C_DUPLICATE = 3
    C_ILLEGAL = 4
    C_INVALID = 5
    C_FILL_CLAMPED = 6
    C_PRICE_ROUNDED = 7
    C_BAD_TIMESTAMP = 8
    C_ANOMALIES = 9
    C_KIND0 = 10          # + kind (1..9)

_COUNTER_NAMES = (
    "updates", "applied", "stale", "duplicate", "illegal", "invalid", "fill_clamped",
    "price_rounded", "bad_timestamp", "anomalies",
)

# Anomaly reasons.
cdef enum:
    R_ILLEGAL = 1
    R_FILL_AFTER_TERMINAL = 2
    R_FILL_REGRESSION = 3
    R_INVALID = 4
    R_BAD_TIMESTAMP = 5
    R_PRICE_ROUNDED = 6
    R_CONTRACTS_FULL = 7
    R_NO_MEMORY = 8
    R_ACCOUNTS_FULL = 9
    R_ARENA_FULL = 10

_REASONS = (
    "", "illegal transition", "fill after terminal status", "fill volume decreased (kept)",
    "invalid field", "unparseable timestamp (ignored)", "price rounded to 1e-9",
    "contract table full", "out of memory", "account table full", "tag arena full",
)

cdef tuple _EMPTY = ()
# The tag arena's size cap (bytes).  PXF_ARENA_LIMIT, 4 GiB, in production;
# _set_tag_arena_limit lowers it so a test can fill the arena cheaply.
cdef uint64_t _arena_limit = PXF_ARENA_LIMIT
cdef PyTypeObject *_UPDATE_TYPE = <PyTypeObject*>OrderUpdate
cdef Py_ssize_t _OFFSETS[N_FIELDS]
cdef bint _FAST = True


cdef void _init_offsets():
    """Find where OrderUpdate keeps each field, so apply() can read the slots
    directly (a getattr costs ~20 ns a field).  Any surprise in the layout
    turns the shortcut off and apply() falls back to getattr."""
    global _FAST
    cdef Py_ssize_t i, off
    for i in range(N_FIELDS):
        descr = OrderUpdate.__dict__.get(_FIELDS[i])
        off = -1 if descr is None else pxf_member_offset(<PyObject*>descr)
        if off < 0:
            _FAST = False
            return
        _OFFSETS[i] = off


_init_offsets()


cdef Bucket *_new_buckets(int bits) noexcept:
    cdef Bucket *tab = <Bucket*>malloc(sizeof(Bucket) << bits)
    if tab != NULL:
        memset(tab, 0xFF, sizeof(Bucket) << bits)       # slot -1: empty
    return tab


cdef inline void _bucket_put(Bucket *tab, int bits, uint32_t fp, int32_t slot) noexcept:
    cdef uint32_t mask = (1u << bits) - 1
    cdef uint32_t i = fp >> (32 - bits)
    while tab[i].slot >= 0:
        i = (i + 1) & mask
    tab[i].fp = fp
    tab[i].slot = slot


cdef bint _bucket_del(Bucket *tab, int bits, uint32_t fp, int32_t slot) noexcept:
    """Remove (fp, slot) by backward shift, so lookups never meet tombstones.
    False when slot is not filed under fp."""
    cdef uint32_t mask = (1u << bits) - 1
    cdef uint32_t shift = 32 - bits
    cdef uint32_t i = fp >> shift
    cdef uint32_t j, home
    while tab[i].slot != slot:
        if tab[i].slot < 0:
            return False
        i = (i + 1) & mask
    j = i
    while True:
        j = (j + 1) & mask
        if tab[j].slot < 0:
            break
        home = tab[j].fp >> shift
        if ((j - home) & mask) >= ((j - i) & mask):
            tab[i] = tab[j]
            i = j
    tab[i].slot = -1
    return True


cdef int _reserve(Bucket **tabp, int *bitsp, Py_ssize_t used) noexcept:
    """Double the table when one more entry would push the load past 3/4."""
    cdef int bits = bitsp[0]
    cdef Bucket *old = tabp[0]
    cdef Bucket *tab
    cdef Py_ssize_t i
    if (used + 1) * 4 <= (<Py_ssize_t>3 << bits):
        return 0
    if bits >= 31:
        return -1
    tab = _new_buckets(bits + 1)
    if tab == NULL:
        return -1
    for i in range(<Py_ssize_t>1 << bits):
        if old[i].slot >= 0:
            _bucket_put(tab, bits + 1, old[i].fp, old[i].slot)
    free(old)
    tabp[0] = tab
    bitsp[0] = bits + 1
    return 0


cdef inline int _price(PyObject *o, int64_t *out, Fields *u) noexcept:
    """One price field into *out (PXF_NONE when absent); -1 when unusable."""
    cdef int rc = pxf_price(o, out)
    if rc == 0:
        out[0] = PXF_NONE
    elif rc == 2:
        u.rounded = 1
    return -1 if rc < 0 else 0


cdef int _decode(PyObject **f, Fields *u) noexcept:
    """Read the fields every update needs; 0, or -1 when one is unusable."""
    cdef int rc
    cdef int64_t v
    u.rounded = 0
    u.bad_timestamp = 0
    u.status = -1
    u.status_raw = -1
    if pxf_i64(f[F_ID], &u.id) != 1 or u.id <= 0:
        u.id = 0
        return -1
    if pxf_i64(f[F_STATUS], &u.status_raw) != 1:
        return -1
    if 0 <= u.status_raw <= 8:
        u.status = <int>u.status_raw
    if pxf_i64(f[F_SIZE], &u.size) != 1 or u.size < 0 or u.size > 0x7FFFFFFF:
        return -1
    rc = pxf_i64(f[F_FILL], &u.fill)
    if rc == 0:
        u.fill = -1
    elif rc < 0 or u.fill < 0 or u.fill > 0x7FFFFFFF:
        return -1
    rc = pxf_timestamp(f[F_UPDATED], &u.updated)
    if rc != 1:
        u.updated = PXF_NONE
        u.bad_timestamp = rc < 0
    if (_price(f[F_LIMIT], &u.limit_price, u) < 0 or _price(f[F_STOP], &u.stop_price, u) < 0
            or _price(f[F_FILLED], &u.filled_price, u) < 0
            or _price(f[F_TRAILP], &u.trail_price, u) < 0):
        return -1
    rc = pxf_i64(f[F_TRAILD], &v)
    if rc < 0 or (rc == 1 and (v <= PXF_NONE32 or v > 0x7FFFFFFF)):
        return -1
    u.trail_distance = <int32_t>v if rc == 1 else PXF_NONE32
    rc = pxf_i64(f[F_PARENT], &u.parent_id)
    if rc < 0:
        return -1
    if rc == 0 or u.parent_id < 0:
        u.parent_id = 0
    rc = pxf_i64(f[F_LINKED], &u.linked_id)
    if rc < 0:
        return -1
    if rc == 0 or u.linked_id < 0:
        u.linked_id = 0
    return 0


cdef list _fields_of(object update):
    """getattr() every field (the slow path for anything but an exact OrderUpdate)."""
    try:
        return [
            getattr(update, name) if name in _REQUIRED else getattr(update, name, None)
            for name in _FIELDS
        ]
    except Exception:
        return None


cdef inline int _role_for_type(int order_type) noexcept:
    """A bracket leg's role from its order type: stops protect, limits take profit."""
    if order_type == 3 or order_type == 4 or order_type == 5:
        return PXF_ROLE_STOP
    if order_type == 1:
        return PXF_ROLE_TARGET
    return PXF_ROLE_NONE


# ---------------------------------------------------------------------------
# Transition
# ---------------------------------------------------------------------------

@cython.final
@cython.freelist(64)
cdef class Transition:
    """What one applied update changed (read-only; built only by OrderTable.apply).

    ``old_status`` is -1 when the order was first seen; ``kind`` is one of the
    module constants (PLACED ... UPDATED).  ``partner_id`` (0 if none) is the
    OCO partner to act on after a fill or partial fill of this order, with
    ``partner_native`` telling whether the Gateway enforces that link itself.
    ``children`` holds the working bracket legs of an entry that ended
    (cancelled, rejected, expired) without any fill.
    """

    def __init__(self):
        raise TypeError("Transition objects are made by OrderTable.apply")

    @property
    def kind_name(self):
        return KIND_NAMES[self.kind]

    def __repr__(self):
        return (
            f"Transition(order_id={self.order_id}, kind={KIND_NAMES[self.kind]}, "
            f"old_status={self.old_status}, new_status={self.new_status}, "
            f"fill_delta={self.fill_delta}, fill_volume={self.fill_volume}, "
            f"partner_id={self.partner_id}, partner_native={self.partner_native}, "
            f"group={self.group}, role={ROLE_NAMES[self.role]}, children={self.children})"
        )


# ---------------------------------------------------------------------------
# OrderTable
# ---------------------------------------------------------------------------

@cython.final
cdef class OrderTable:
    """Every tracked order, its state machine, and its OCO / bracket links.

    One event loop owns a table: there are no locks, and nothing here awaits.
    """

    def __cinit__(self):
        self.pages = NULL
        self.npages = 0
        self.pages_cap = 0
        self.nslots = 0
        self.free_head = -1
        self.count = 0
        self.index_bits = INDEX_MIN_BITS
        self.index_used = 0
        self.cindex_bits = INDEX_MIN_BITS
        self.cindex_used = 0
        self.arena = NULL
        self.arena_len = 0
        self.arena_cap = 0
        self.arena_dead = 0
        self.tindex_bits = INDEX_MIN_BITS
        self.tindex_used = 0
        self.ring_seq = 0
        memset(self.counters, 0, sizeof(self.counters))
        self.index = _new_buckets(INDEX_MIN_BITS)
        self.cindex = _new_buckets(INDEX_MIN_BITS)
        self.tindex = _new_buckets(INDEX_MIN_BITS)
        self.ring = <Anomaly*>malloc(sizeof(Anomaly) * RING_SIZE)
        if (self.index == NULL or self.cindex == NULL or self.tindex == NULL
                or self.ring == NULL):
            raise MemoryError()
        self.accounts = []
        self.account_ix = {}
        self.last_account = PXF_NONE        # never an account id (those are int32)
        self.last_account_ix = -1
        self.contracts = []
        self.symbols = []
        self.contract_ix = {}
        self.pending = {}

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.pages != NULL:
            for i in range(self.npages):
                free(self.pages[i])
            free(self.pages)
        free(self.index)
        free(self.cindex)
        free(self.tindex)
        free(self.arena)
        free(self.ring)

    # -- storage ------------------------------------------------------------

    cdef inline OrderRec *_rec(self, int32_t slot) noexcept:
        return &self.pages[slot >> PAGE_BITS][slot & PAGE_MASK]

    cdef inline int32_t _slot_of(self, int64_t order_id) noexcept:
        cdef uint32_t fp = pxf_fp(order_id)
        cdef uint32_t mask = (1u << self.index_bits) - 1
        cdef uint32_t i = fp >> (32 - self.index_bits)
        cdef Bucket *b
        while True:
            b = &self.index[i]
            if b.slot < 0:
                return -1
            if b.fp == fp and self._rec(b.slot).id == order_id:
                return b.slot
            i = (i + 1) & mask

    cdef OrderRec *find(self, int64_t order_id) noexcept:
        """The record of a tracked order, or NULL (valid until it is forgotten)."""
        cdef int32_t slot = self._slot_of(order_id)
        return NULL if slot < 0 else self._rec(slot)

    cdef int32_t _alloc_slot(self) noexcept:
        cdef int32_t slot
        cdef OrderRec **pages
        cdef OrderRec *page
        if self.free_head >= 0:
            slot = self.free_head
            self.free_head = self._rec(slot).size
            return slot
        if self.nslots >= 0x7FFFFFFF - PAGE_SIZE:
            return -1
        if self.nslots == self.npages * PAGE_SIZE:
            if self.npages == self.pages_cap:
                pages = <OrderRec**>realloc(
                    self.pages, sizeof(OrderRec*) * (self.pages_cap * 2 + 8))
                if pages == NULL:
                    return -1
                self.pages = pages
                self.pages_cap = self.pages_cap * 2 + 8
            page = <OrderRec*>malloc(sizeof(OrderRec) * PAGE_SIZE)
            if page == NULL:
                return -1
            self.pages[self.npages] = page
            self.npages += 1
        slot = self.nslots
        self.nslots += 1
        return slot

    cdef void _free_slot(self, int32_t slot) noexcept:
        cdef OrderRec *r = self._rec(slot)
        r.id = 0
        r.bits = 0
        r.size = self.free_head
        self.free_head = slot

    # -- counters and the anomaly log ---------------------------------------

    cdef void _anomaly(self, int64_t order_id, int old_status, int64_t new_status,
                       int reason) noexcept:
        cdef Anomaly *a = &self.ring[self.ring_seq % RING_SIZE]
        a.order_id = order_id
        a.seq = self.ring_seq
        a.old_status = old_status
        a.new_status = <int32_t>max(-1, min(new_status, 0x7FFFFFFF))
        a.reason = reason
        self.ring_seq += 1
        self.counters[C_ANOMALIES] += 1

    cdef Transition _reject(self, int counter, int64_t order_id, int old_status,
                            int64_t new_status, int reason):
        self.counters[counter] += 1
        if reason:
            self._anomaly(order_id, old_status, new_status, reason)
        return None

    # -- the state machine --------------------------------------------------

    cpdef Transition apply(self, object update):
        """Fold one OrderUpdate (hub event or REST row) into the table.

        Returns the Transition, or None when the update is stale, a duplicate,
        illegal or unusable (each counted in ``stats()``).  Never raises.
        """
        cdef PyObject *f[N_FIELDS]
        cdef PyObject *o = <PyObject*>update
        cdef list held
        cdef Py_ssize_t i
        self.counters[C_UPDATES] += 1
        if _FAST and Py_TYPE(update) == _UPDATE_TYPE:
            for i in range(N_FIELDS):
                f[i] = pxf_slot(o, _OFFSETS[i])
                if f[i] == NULL:
                    break
            else:
                return self._apply(f)
        held = _fields_of(update)
        if held is None:
            return self._reject(C_INVALID, 0, -1, -1, R_INVALID)
        for i in range(N_FIELDS):
            f[i] = PyList_GET_ITEM(held, i)
        return self._apply(f)

    cdef Transition _apply(self, PyObject **f):
        cdef Fields u
        cdef int32_t slot
        cdef OrderRec *r
        cdef int old, action, kind, reason
        cdef bint newer = False
        cdef int64_t fill
        if _decode(f, &u) < 0:
            return self._reject(C_INVALID, u.id, -1, u.status_raw, R_INVALID)
        if u.rounded:
            self.counters[C_PRICE_ROUNDED] += 1
            self._anomaly(u.id, -1, u.status_raw, R_PRICE_ROUNDED)
        if u.bad_timestamp:
            self.counters[C_BAD_TIMESTAMP] += 1
            self._anomaly(u.id, -1, u.status_raw, R_BAD_TIMESTAMP)
        slot = self._slot_of(u.id)
        if slot < 0:
            return self._first(f, &u)
        r = self._rec(slot)
        old = rec_status(r)

        # Order the update against what the table holds.
        if u.updated != PXF_NONE and r.updated != PXF_NONE:
            if u.updated < r.updated:
                return self._reject(C_STALE, u.id, old, u.status_raw, 0)
            newer = u.updated > r.updated
        if u.status < 0:
            return self._reject(C_ILLEGAL, u.id, old, u.status_raw, R_ILLEGAL)
        fill = u.fill
        if fill < 0:
            fill = r.fill_volume
            if u.status == 2 and u.size > fill:
                fill = u.size        # Filled without a fillVolume: all of it
        if not newer and (PXF_RANK[u.status] < PXF_RANK[old] or fill < r.fill_volume):
            return self._reject(C_STALE, u.id, old, u.status, 0)

        action = PXF_TABLE[old][u.status]
        if action == A_ILLEGAL:
            return self._reject(C_ILLEGAL, u.id, old, u.status, R_ILLEGAL)
        if action == A_ABSORB:
            if fill > r.fill_volume:
                return self._reject(C_ILLEGAL, u.id, old, u.status, R_FILL_AFTER_TERMINAL)
            return self._reject(C_DUPLICATE, u.id, old, u.status, 0)
        if fill < r.fill_volume:
            self.counters[C_FILL_CLAMPED] += 1
            self._anomaly(u.id, old, u.status, R_FILL_REGRESSION)
            fill = r.fill_volume

        # Link and tag information may come later than the first sighting.
        if u.parent_id and r.parent_id == 0:
            if self._adopt(slot, u.parent_id) < 0:
                return self._reject(C_INVALID, u.id, old, u.status, R_NO_MEMORY)
        if u.linked_id and not (r.bits & B_WIRE and r.partner_id == u.linked_id):
            self._wire_link(r, u.linked_id)
        if not (r.bits & B_TAGGED) and isinstance(<object>f[F_TAG], str):
            reason = self._set_tag(slot, <object>f[F_TAG])
            if reason:
                self._anomaly(u.id, old, u.status, reason)

        if u.status == old and fill == r.fill_volume:
            if (u.limit_price == r.limit_price and u.stop_price == r.stop_price
                    and u.trail_price == r.trail_price and u.size == r.size
                    and u.trail_distance == r.trail_distance):
                if u.filled_price == r.filled_price:
                    if newer:
                        r.updated = u.updated
                    return self._reject(C_DUPLICATE, u.id, old, u.status, 0)
                kind = KIND_UPDATED
            else:
                kind = KIND_MODIFIED
        elif action == A_TERM:
            kind = PXF_TERMINAL_KIND[u.status]
        elif fill > r.fill_volume:
            kind = KIND_PARTIAL_FILL
        elif action == A_ACTIVATE:
            kind = KIND_ACTIVATED
        else:
            kind = KIND_UPDATED

        fill -= r.fill_volume            # now the delta
        r.state = <uint8_t>((r.state & ~S_STATUS) | u.status)
        r.fill_volume += <int32_t>fill
        r.size = <int32_t>u.size
        r.limit_price = u.limit_price
        r.stop_price = u.stop_price
        r.filled_price = u.filled_price
        r.trail_price = u.trail_price
        r.trail_distance = u.trail_distance
        if u.updated != PXF_NONE and (r.updated == PXF_NONE or u.updated > r.updated):
            r.updated = u.updated
        return self._finish(r, old, kind, fill)

    cdef Transition _first(self, PyObject **f, Fields *u):
        """A first sighting: validate the fields only new orders need, then record it."""
        cdef int64_t account, otype, side, created
        cdef int32_t slot
        cdef int account_ix, contract, rc, kind
        cdef OrderRec *r
        cdef object tag = <object>f[F_TAG]
        if u.status < 0 or PXF_TABLE[9][u.status] == A_ILLEGAL:
            return self._reject(C_ILLEGAL, u.id, -1, u.status_raw, R_ILLEGAL)
        if (pxf_i64(f[F_ACCOUNT], &account) != 1 or not -0x80000000 <= account <= 0x7FFFFFFF
                or pxf_i64(f[F_TYPE], &otype) != 1 or not 0 <= otype <= 7
                or pxf_i64(f[F_SIDE], &side) != 1 or not 0 <= side <= 1
                or not (tag is None or isinstance(tag, str))):
            return self._reject(C_INVALID, u.id, -1, u.status, R_INVALID)
        rc = pxf_timestamp(f[F_CREATED], &created)
        if rc != 1:
            created = PXF_NONE
            self.counters[C_BAD_TIMESTAMP] += 1
            self._anomaly(u.id, -1, u.status, R_BAD_TIMESTAMP)
        if account == self.last_account:
            account_ix = self.last_account_ix       # the usual case: _intern_account's cache
        else:
            account_ix = self._intern_account(account)
        if account_ix < 0:
            return self._reject(C_INVALID, u.id, -1, u.status, R_ACCOUNTS_FULL)
        contract = self._intern(<object>f[F_CONTRACT], <object>f[F_SYMBOL])
        if contract < 0:
            return self._reject(C_INVALID, u.id, -1, u.status,
                                R_CONTRACTS_FULL if contract == -2 else R_INVALID)
        if _reserve(&self.index, &self.index_bits, self.index_used) < 0:
            return self._reject(C_INVALID, u.id, -1, u.status, R_NO_MEMORY)
        slot = self._alloc_slot()
        if slot < 0:
            return self._reject(C_INVALID, u.id, -1, u.status, R_NO_MEMORY)
        _bucket_put(self.index, self.index_bits, pxf_fp(u.id), slot)
        self.index_used += 1
        self.count += 1

        r = self._rec(slot)
        r.id = u.id
        r.created = created
        r.updated = u.updated
        r.limit_price = u.limit_price
        r.stop_price = u.stop_price
        r.filled_price = u.filled_price
        r.trail_price = u.trail_price
        r.parent_id = 0
        r.partner_id = 0
        r.account = <uint16_t>account_ix
        r.size = <int32_t>u.size
        if u.fill >= 0:
            r.fill_volume = <int32_t>u.fill
        else:
            r.fill_volume = <int32_t>u.size if u.status == 2 else 0
        r.trail_distance = u.trail_distance
        r.contract = <uint16_t>contract
        r.group = 0
        r.state = <uint8_t>(u.status | otype << S_TYPE_SHIFT | side << S_SIDE_SHIFT)
        r.bits = 0

        if tag is not None:
            rc = self._set_tag(slot, tag)
            if rc:
                self._anomaly(u.id, -1, u.status, rc)
        if self.pending:
            self._resolve_pending(r)
        if u.parent_id:
            if self._adopt(slot, u.parent_id) < 0:
                self._anomaly(u.id, -1, u.status, R_NO_MEMORY)
        if u.linked_id:
            self._wire_link(r, u.linked_id)
        if self.cindex_used and not (r.bits & B_ROLE) and self._has_children(u.id):
            r.bits |= PXF_ROLE_ENTRY

        if pxf_is_terminal(u.status):
            kind = PXF_TERMINAL_KIND[u.status]
        elif r.fill_volume > 0:
            kind = KIND_PARTIAL_FILL
        else:
            kind = KIND_PLACED
        return self._finish(r, -1, kind, r.fill_volume)

    cdef Transition _finish(self, OrderRec *r, int old, int kind, int64_t fill_delta):
        """Build the Transition: partner to act on, legs to cancel; count it."""
        cdef Transition t = Transition.__new__(Transition)
        t.order_id = r.id
        t.old_status = old
        t.new_status = rec_status(r)
        t.kind = kind
        t.fill_delta = fill_delta
        t.fill_volume = r.fill_volume
        t.group = r.group
        t.role = r.bits & B_ROLE
        t.partner_id = 0
        t.partner_native = False
        t.children = _EMPTY
        if r.bits & B_LINKED:
            if fill_delta > 0:
                t.partner_id = r.partner_id
                t.partner_native = (r.bits & B_NATIVE) != 0
            if pxf_is_terminal(rec_status(r)):
                self._unlink_rec(r)
        if (self.cindex_used and r.fill_volume == 0
                and (kind == KIND_CANCELLED or kind == KIND_REJECTED or kind == KIND_EXPIRED)):
            t.children = tuple(self._children(r.id, True))
        self.counters[C_APPLIED] += 1
        self.counters[C_KIND0 + kind] += 1
        return t

    # -- accounts, contracts and tags ---------------------------------------

    cdef int _intern_account(self, int64_t account) except -3:
        """The index of an account id (-2: table full, 65 536 accounts, as
        for contracts), remembered as the last account: a table rarely sees
        more than one, so _first compares with that in C before calling
        here, and a first sighting skips boxing the id for a dict lookup
        (~420 instructions, ~20 ns)."""
        cdef object ix
        cdef Py_ssize_t n
        ix = self.account_ix.get(account)
        if ix is None:
            n = len(self.accounts)
            if n > 0xFFFF:
                return -2
            ix = n
            self.account_ix[account] = ix
            self.accounts.append(account)
        self.last_account = account
        self.last_account_ix = <int>ix
        return self.last_account_ix

    cdef int _intern(self, object contract, object symbol) except -3:
        """The index of a contract id (-1: not a str, -2: table full).  The
        symbol is kept per contract, from the first update that carried one."""
        cdef object ix
        cdef Py_ssize_t n
        if not isinstance(contract, str) or not (symbol is None or isinstance(symbol, str)):
            return -1
        ix = self.contract_ix.get(contract)
        if ix is None:
            n = len(self.contracts)
            if n > 0xFFFF:
                return -2
            self.contract_ix[contract] = n
            self.contracts.append(contract)
            self.symbols.append(symbol)
            return <int>n
        if symbol is not None and self.symbols[<Py_ssize_t>ix] is None:
            self.symbols[<Py_ssize_t>ix] = symbol
        return <int>ix

    cdef int _set_tag(self, int32_t slot, object tag) noexcept:
        """Copy a customTag (a str) into the arena for the order in slot and
        point the tag index at that order: of orders seen with the same tag,
        find_by_tag answers with the last.  0, or the anomaly to log when the
        tag cannot be kept - R_NO_MEMORY, or R_ARENA_FULL past the arena's
        cap - and the order then stays untagged (a later update carrying the
        tag tries again)."""
        cdef OrderRec *r = self._rec(slot)
        cdef const char *p
        cdef Py_ssize_t n
        cdef PyObject *keep
        cdef uint32_t fp, i
        cdef int rc = R_NO_MEMORY
        if pxf_utf8(<PyObject*>tag, &p, &n, &keep) < 0:
            return R_NO_MEMORY
        if _reserve(&self.tindex, &self.tindex_bits, self.tindex_used) == 0:
            rc = self._arena_add(p, n, &r.tag)
        if rc == 0:
            r.bits |= B_TAGGED
            fp = pxf_tag_fp(p, n)
            i = self._tag_bucket(p, n, fp)
            if self.tindex[i].slot < 0:
                self.tindex[i].fp = fp
                self.tindex_used += 1
            self.tindex[i].slot = slot
        Py_XDECREF(keep)
        return rc

    cdef const char *_tag_bytes(self, OrderRec *r, Py_ssize_t *n) noexcept:
        """r's customTag in the arena (*n bytes), or NULL when it has none.
        The entry is checked against the arena's bounds, so even a corrupt
        offset reads as "no tag", never past the buffer."""
        if not (r.bits & B_TAGGED):
            return NULL
        return pxf_entry(self.arena, self.arena_len, r.tag, n)

    cdef uint32_t _tag_bucket(self, const char *p, Py_ssize_t n, uint32_t fp) noexcept:
        """The tag index bucket of the tag with these bytes, or the empty
        bucket that ends its probe sequence (the load stays <= 3/4)."""
        cdef uint32_t mask = (1u << self.tindex_bits) - 1
        cdef uint32_t i = fp >> (32 - self.tindex_bits)
        cdef const char *q
        cdef Py_ssize_t m
        while self.tindex[i].slot >= 0:
            if self.tindex[i].fp == fp:
                q = self._tag_bytes(self._rec(self.tindex[i].slot), &m)
                if q != NULL and m == n and memcmp(q, p, n) == 0:
                    return i
            i = (i + 1) & mask
        return i

    cdef int _arena_add(self, const char *p, Py_ssize_t n, uint32_t *off) noexcept:
        """Append an entry for the n bytes at p and put its offset in *off.
        The arena grows by half (at least to ARENA_MIN, at most to its cap),
        so appends cost amortised O(n).  The cap (4 GiB) keeps every offset
        in the record's 32 bits: an entry that would end past it is refused
        with R_ARENA_FULL, as an allocation failure is with R_NO_MEMORY; 0
        when appended."""
        # arena_len <= 4 GiB, the count's bytes <= 10, n < 2**63: no overflow
        cdef uint64_t end = (<uint64_t>self.arena_len + <uint64_t>pxf_len_size(<uint64_t>n)
                             + <uint64_t>n)
        cdef Py_ssize_t need, cap
        cdef char *a
        if end > _arena_limit:
            return R_ARENA_FULL
        need = <Py_ssize_t>end
        if need > self.arena_cap:
            cap = <Py_ssize_t>min(
                max(<uint64_t>need, <uint64_t>ARENA_MIN,
                    <uint64_t>self.arena_cap + <uint64_t>(self.arena_cap // 2)),
                _arena_limit)
            a = <char*>realloc(self.arena, cap)
            if a == NULL:
                return R_NO_MEMORY
            self.arena = a
            self.arena_cap = cap
        off[0] = <uint32_t>self.arena_len
        self.arena_len += pxf_put_len(self.arena + self.arena_len, <uint64_t>n)
        memcpy(self.arena + self.arena_len, p, n)
        self.arena_len += n
        return 0

    cdef void _drop_tag(self, int32_t slot, OrderRec *r) noexcept:
        """The tag of an order being forgotten: its index entry goes if the
        index points at this order (not when a later order took the tag), and
        its arena entry becomes dead bytes, reclaimed by _compact_tags."""
        cdef Py_ssize_t n
        cdef const char *p = self._tag_bytes(r, &n)
        if p == NULL:
            return
        if _bucket_del(self.tindex, self.tindex_bits, pxf_tag_fp(p, n), slot):
            self.tindex_used -= 1
        self.arena_dead += pxf_len_size(<uint64_t>n) + n

    cdef void _compact_tags(self) noexcept:
        """Copy the live entries into a new, exactly sized arena once more
        than half of it is dead and there are at least DEAD_PER_SLOT dead
        bytes per slot: a compaction walks every slot twice, and the bytes it
        frees pay for that walk.  Entries move; the tag index holds slots, so
        it does not change.  Out of memory: the old arena stays as it was."""
        cdef Py_ssize_t live = 0, pos = 0, n, size
        cdef int32_t slot
        cdef OrderRec *r
        cdef const char *p
        cdef char *a = NULL
        if (self.arena_dead * 2 <= self.arena_len
                or self.arena_dead < <Py_ssize_t>DEAD_PER_SLOT * self.nslots):
            return
        for slot in range(self.nslots):
            r = self._rec(slot)
            if r.id != 0 and self._tag_bytes(r, &n) != NULL:
                live += pxf_len_size(<uint64_t>n) + n
        if live > 0:
            a = <char*>malloc(live)
            if a == NULL:
                return
        for slot in range(self.nslots):
            r = self._rec(slot)
            p = self._tag_bytes(r, &n) if r.id != 0 else NULL
            if p == NULL:
                continue
            size = pxf_len_size(<uint64_t>n) + n
            if size > live - pos:       # never: this pass copies what the first counted
                r.bits &= ~B_TAGGED
                continue
            r.tag = <uint32_t>pos         # pos < live <= arena_len <= 4 GiB
            pos += pxf_put_len(a + pos, <uint64_t>n)
            memcpy(a + pos, p, n)
            pos += n
        free(self.arena)
        self.arena = a
        self.arena_len = self.arena_cap = pos
        self.arena_dead = 0

    # -- links --------------------------------------------------------------

    cdef void _set_link(self, OrderRec *r, int64_t partner, bint native) noexcept:
        r.partner_id = partner
        r.bits = (r.bits & ~(B_LINKED | B_NATIVE | B_WIRE)) | B_LINKED
        if native:
            r.bits |= B_NATIVE

    cdef void _unlink_rec(self, OrderRec *r):
        """Drop r's live link and its partner's link back to r (both sides)."""
        cdef OrderRec *p
        cdef int64_t partner = r.partner_id
        if not (r.bits & B_LINKED):
            return
        r.bits &= ~B_LINKED
        p = self.find(partner)
        if p != NULL:
            if p.bits & B_LINKED and p.partner_id == r.id:
                p.bits &= ~B_LINKED
        elif self.pending:
            back = self.pending.get(partner)
            if back is not None and back[0] == r.id:
                del self.pending[partner]

    cdef void _break(self, int64_t order_id):
        """Drop any link of order_id, tracked or still pending."""
        cdef OrderRec *r = self.find(order_id)
        cdef OrderRec *p
        if r != NULL:
            self._unlink_rec(r)
            return
        link = self.pending.pop(order_id, None)
        if link is None:
            return
        p = self.find(link[0])
        if p != NULL:
            if p.bits & B_LINKED and p.partner_id == order_id:
                p.bits &= ~B_LINKED
        else:
            back = self.pending.get(link[0])
            if back is not None and back[0] == order_id:
                del self.pending[link[0]]

    cdef void _link(self, int64_t a, int64_t b, bint native):
        """Link a and b as OCO partners, breaking older links of either.  An
        order not seen yet gets the link when it is first seen.  Linking a pair
        that is already linked only adds ``native``: it never forgets that the
        Gateway reported the link."""
        cdef OrderRec *r = self.find(a)
        cdef OrderRec *q = self.find(b)
        if (r != NULL and q != NULL and r.bits & B_LINKED and r.partner_id == b
                and q.bits & B_LINKED and q.partner_id == a):
            if native:
                r.bits |= B_NATIVE
                q.bits |= B_NATIVE
            return
        self._break(a)
        self._break(b)
        r = self.find(a)
        if r != NULL:
            self._set_link(r, b, native)
        else:
            self.pending[a] = (b, native)
        r = self.find(b)
        if r != NULL:
            self._set_link(r, a, native)
        else:
            self.pending[b] = (a, native)

    cdef void _resolve_pending(self, OrderRec *r):
        """A newly seen order that someone linked to before it existed."""
        cdef OrderRec *p
        link = self.pending.pop(r.id, None)
        if link is None:
            return
        partner, native = link
        p = self.find(partner)
        if p != NULL:
            if p.bits & B_LINKED and p.partner_id == r.id:
                self._set_link(r, partner, native)
        else:
            back = self.pending.get(partner)
            if back is not None and back[0] == r.id:
                self._set_link(r, partner, native)

    cdef void _wire_link(self, OrderRec *r, int64_t linked):
        """The Gateway reported linkedOrderId: a native OCO link."""
        cdef OrderRec *p
        if linked == r.id:
            return
        if r.bits & B_LINKED and r.partner_id == linked:
            r.bits |= B_NATIVE | B_WIRE
            p = self.find(linked)
            if p != NULL and p.bits & B_LINKED and p.partner_id == r.id:
                p.bits |= B_NATIVE
            return
        self._link(r.id, linked, True)
        r.bits |= B_WIRE

    cdef int _adopt(self, int32_t slot, int64_t parent) noexcept:
        """Register a bracket leg under its entry: child index, role by type,
        the entry's group, and a native link to its one working sibling."""
        cdef OrderRec *r = self._rec(slot)
        cdef OrderRec *p
        cdef OrderRec *s
        cdef int64_t sibling = 0
        cdef int siblings = 0
        cdef uint32_t fp = pxf_fp(parent)
        cdef uint32_t mask, i
        if parent == r.id:
            return 0
        if _reserve(&self.cindex, &self.cindex_bits, self.cindex_used) < 0:
            return -1
        mask = (1u << self.cindex_bits) - 1
        i = fp >> (32 - self.cindex_bits)
        while self.cindex[i].slot >= 0:
            if self.cindex[i].fp == fp:
                s = self._rec(self.cindex[i].slot)
                if s.parent_id == parent and not pxf_is_terminal(rec_status(s)):
                    sibling = s.id
                    siblings += 1
            i = (i + 1) & mask
        self.cindex[i].fp = fp
        self.cindex[i].slot = slot
        self.cindex_used += 1
        r.parent_id = parent
        if not (r.bits & B_ROLE):
            r.bits |= _role_for_type(rec_type(r))
        p = self.find(parent)
        if p != NULL:
            if not (p.bits & B_ROLE):
                p.bits |= PXF_ROLE_ENTRY
            if r.group == 0:
                r.group = p.group
        if siblings == 1 and not pxf_is_terminal(rec_status(r)) and not (r.bits & B_LINKED):
            s = self.find(sibling)
            if not (s.bits & B_LINKED):
                self._set_link(r, sibling, True)
                self._set_link(s, r.id, True)
        return 0

    cdef bint _has_children(self, int64_t parent) noexcept:
        cdef uint32_t fp = pxf_fp(parent)
        cdef uint32_t mask = (1u << self.cindex_bits) - 1
        cdef uint32_t i = fp >> (32 - self.cindex_bits)
        while self.cindex[i].slot >= 0:
            if self.cindex[i].fp == fp and self._rec(self.cindex[i].slot).parent_id == parent:
                return True
            i = (i + 1) & mask
        return False

    cdef list _children(self, int64_t parent, bint working_only):
        cdef uint32_t fp = pxf_fp(parent)
        cdef uint32_t mask = (1u << self.cindex_bits) - 1
        cdef uint32_t i = fp >> (32 - self.cindex_bits)
        cdef OrderRec *c
        cdef list out = []
        while self.cindex[i].slot >= 0:
            if self.cindex[i].fp == fp:
                c = self._rec(self.cindex[i].slot)
                if c.parent_id == parent and not (working_only and pxf_is_terminal(rec_status(c))):
                    out.append(c.id)
            i = (i + 1) & mask
        out.sort()
        return out

    # -- Python API: links and groups ---------------------------------------

    def link_oco(self, int64_t a, int64_t b, bint native):
        """Link two orders as OCO partners (either may not be seen yet).

        Relinking breaks each order's older link.  ``native`` says the Gateway
        enforces it (the Python layer then does not cancel the partner).
        """
        if a <= 0 or b <= 0:
            raise ValueError("order ids must be positive")
        if a == b:
            raise ValueError(f"cannot link order {a} to itself")
        self._link(a, b, native)

    def unlink(self, int64_t order_id):
        """Drop the OCO link of order_id (both sides); the partner id, or None."""
        cdef OrderRec *r = self.find(order_id)
        if r != NULL:
            if not (r.bits & B_LINKED):
                return None
            partner = r.partner_id
            self._unlink_rec(r)
            return partner
        link = self.pending.get(order_id)
        self._break(order_id)
        return None if link is None else link[0]

    def link_of(self, int64_t order_id):
        """(partner id, native) of a live OCO link, or None."""
        cdef OrderRec *r = self.find(order_id)
        if r != NULL:
            if r.bits & B_LINKED:
                return (r.partner_id, (r.bits & B_NATIVE) != 0)
            return None
        return self.pending.get(order_id)

    def set_group(self, int64_t order_id, int group, int role):
        """Tag an order with a bracket group (1..65535, 0 clears) and a role.

        On an entry, the group also goes to its legs that have none.
        """
        cdef OrderRec *r = self.find(order_id)
        cdef OrderRec *c
        if not 0 <= group <= 0xFFFF:
            raise ValueError(f"group must be in 0..65535, got {group}")
        if not PXF_ROLE_NONE <= role <= PXF_ROLE_SECOND:
            raise ValueError(f"unknown role {role}")
        if r == NULL:
            raise KeyError(order_id)
        r.group = <uint16_t>group
        r.bits = (r.bits & ~B_ROLE) | role
        if self.cindex_used:
            for child in self._children(order_id, False):
                c = self.find(child)
                if c.group == 0:
                    c.group = <uint16_t>group
        return None

    def group_of(self, int64_t order_id):
        """(group, role) of a tracked order, or None."""
        cdef OrderRec *r = self.find(order_id)
        if r == NULL:
            return None
        return (r.group, r.bits & B_ROLE)

    def children(self, int64_t parent_id):
        """Ids of the tracked bracket legs of an entry, sorted."""
        if not self.cindex_used:
            return []
        return self._children(parent_id, False)

    # -- Python API: queries ------------------------------------------------

    def status(self, order_id):
        """The Gateway status int of a tracked order, or -1."""
        cdef int64_t oid
        cdef OrderRec *r = self.find(oid) if _as_id(order_id, &oid) else NULL
        return -1 if r == NULL else rec_status(r)

    def get(self, order_id):
        """Rebuild the order as an OrderUpdate (floats from the exact decimal,
        timestamps as ISO strings in UTC with ``+00:00``), or None."""
        cdef int64_t oid
        cdef OrderRec *r = self.find(oid) if _as_id(order_id, &oid) else NULL
        cdef const char *tag
        cdef Py_ssize_t n = 0
        if r == NULL:
            return None
        tag = self._tag_bytes(r, &n)
        return OrderUpdate(
            id=r.id,
            accountId=self.accounts[r.account],
            contractId=self.contracts[r.contract],
            symbolId=self.symbols[r.contract],
            creationTimestamp="" if r.created == PXF_NONE else pxf_format_iso(r.created),
            updateTimestamp=None if r.updated == PXF_NONE else pxf_format_iso(r.updated),
            status=rec_status(r),
            type=rec_type(r),
            side=rec_side(r),
            size=r.size,
            limitPrice=_float_or_none(r.limit_price),
            stopPrice=_float_or_none(r.stop_price),
            fillVolume=r.fill_volume,
            filledPrice=_float_or_none(r.filled_price),
            customTag=None if tag == NULL else pxf_tag_str(tag, n),
            trailPrice=_float_or_none(r.trail_price),
            trailDistance=None if r.trail_distance == PXF_NONE32 else r.trail_distance,
            parentOrderId=r.parent_id or None,
            linkedOrderId=r.partner_id if r.bits & B_WIRE else None,
        )

    def find_by_tag(self, str tag):
        """The id of the last order seen with this customTag, or None."""
        cdef const char *p
        cdef Py_ssize_t n
        cdef PyObject *keep
        cdef uint32_t i
        if tag is None or self.tindex_used == 0:
            return None
        if pxf_utf8(<PyObject*>tag, &p, &n, &keep) < 0:
            raise MemoryError()
        i = self._tag_bucket(p, n, pxf_tag_fp(p, n))
        Py_XDECREF(keep)
        if self.tindex[i].slot < 0:
            return None
        return self._rec(self.tindex[i].slot).id

    def working_ids(self, account=None, contract=None, group=None):
        """Ids of non-terminal orders, optionally of one account / contract / group."""
        cdef int32_t slot
        cdef OrderRec *r
        cdef int64_t acc
        cdef int aix = -1, cix = -1, grp = -1
        cdef list out = []
        if account is not None:
            acc = account
            ix = self.account_ix.get(acc)
            if ix is None:
                return out
            aix = ix
        if contract is not None:
            ix = self.contract_ix.get(contract)
            if ix is None:
                return out
            cix = ix
        if group is not None:
            grp = group
        for slot in range(self.nslots):
            r = self._rec(slot)
            if (r.id == 0 or pxf_is_terminal(rec_status(r))
                    or (aix >= 0 and r.account != aix)
                    or (cix >= 0 and r.contract != cix)
                    or (grp >= 0 and r.group != grp)):
                continue
            out.append(r.id)
        out.sort()
        return out

    def ids(self):
        """Ids of every tracked order, sorted."""
        cdef int32_t slot
        cdef OrderRec *r
        cdef list out = []
        for slot in range(self.nslots):
            r = self._rec(slot)
            if r.id != 0:
                out.append(r.id)
        out.sort()
        return out

    def forget(self, order_id):
        """Stop tracking an order (its links go too).  True if it was tracked.

        A later update for that id is a first sighting again, so forget only
        what the Gateway will not send again (see prune_terminal).
        """
        cdef int64_t oid
        if not _as_id(order_id, &oid) or not self._forget(oid):
            return False
        self._compact_tags()
        return True

    cdef bint _forget(self, int64_t order_id):
        """forget() but for reclaiming the tag arena, which prune_terminal
        does once for all its victims."""
        cdef int32_t slot = self._slot_of(order_id)
        cdef OrderRec *r
        if slot < 0:
            if order_id in self.pending:
                self._break(order_id)
            return False
        r = self._rec(slot)
        self._unlink_rec(r)
        if r.parent_id:
            _bucket_del(self.cindex, self.cindex_bits, pxf_fp(r.parent_id), slot)
            self.cindex_used -= 1
        self._drop_tag(slot, r)
        _bucket_del(self.index, self.index_bits, pxf_fp(r.id), slot)
        self.index_used -= 1
        self.count -= 1
        self._free_slot(slot)
        return True

    def prune_terminal(self, int64_t older_than):
        """Forget terminal orders last updated before ``older_than`` (100 ns
        since the epoch; creation time when no update time is known).  Their
        slots are reused, so a bot that prunes keeps the table bounded.
        Returns the ids forgotten, for the bookkeeping kept on them elsewhere."""
        cdef int32_t slot
        cdef OrderRec *r
        cdef int64_t ts
        cdef list victims = []
        for slot in range(self.nslots):
            r = self._rec(slot)
            if r.id == 0 or not pxf_is_terminal(rec_status(r)):
                continue
            ts = r.updated if r.updated != PXF_NONE else r.created
            if ts < older_than:
                victims.append(r.id)
        for order_id in victims:
            self._forget(order_id)
        self._compact_tags()
        return victims

    def memory_bytes(self):
        """Bytes held by the C storage: record pages, page table, the three
        indexes, the tag arena (its capacity), the anomaly log.  Python-side
        data (interned account ids and contract strings, links to not-yet-seen
        orders) is not included."""
        return (
            self.npages * PAGE_SIZE * sizeof(OrderRec)
            + self.pages_cap * sizeof(OrderRec*)
            + (sizeof(Bucket) << self.index_bits)
            + (sizeof(Bucket) << self.cindex_bits)
            + (sizeof(Bucket) << self.tindex_bits)
            + self.arena_cap
            + RING_SIZE * sizeof(Anomaly)
        )

    def stats(self):
        """Counters: updates = applied + stale + duplicate + illegal + invalid;
        applied = the sum of the per-kind counts."""
        cdef int i
        out = {name: self.counters[i] for i, name in enumerate(_COUNTER_NAMES)}
        for i in range(1, N_KINDS):
            out[KIND_NAMES[i].lower()] = self.counters[C_KIND0 + i]
        out["orders"] = self.count
        return out

    def anomalies(self):
        """The last 64 anomalies, oldest first: (order_id, old_status, new_status,
        reason).  old_status is -1 for an order not tracked yet."""
        cdef uint64_t start = self.ring_seq - min(self.ring_seq, <uint64_t>RING_SIZE)
        cdef uint64_t seq
        cdef Anomaly *a
        out = []
        for seq in range(start, self.ring_seq):
            a = &self.ring[seq % RING_SIZE]
            out.append((a.order_id, a.old_status, a.new_status, _REASONS[a.reason]))
        return out

    def __len__(self):
        return self.count

    def __contains__(self, order_id):
        cdef int64_t oid
        return _as_id(order_id, &oid) and self.find(oid) != NULL

    def __repr__(self):
        return f"<OrderTable orders={self.count} working={len(self.working_ids())}>"


cdef inline bint _as_id(object order_id, int64_t *out) noexcept:
    """A query's order id as int64; False for anything that cannot be one."""
    return pxf_i64(<PyObject*>order_id, out) == 1


cdef object _float_or_none(int64_t v):
    return None if v == PXF_NONE else pxf_price_float(v)


# ---------------------------------------------------------------------------
# Helpers for the Python layer and tests
# ---------------------------------------------------------------------------

def parse_timestamp(str text):
    """ISO-8601 -> int64 100 ns since the epoch (ValueError if malformed)."""
    cdef int64_t out
    if not text.isascii():
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}")
    data = text.encode("ascii")
    if pxf_parse_iso(data, len(data), &out) != 0:
        raise ValueError(f"not an ISO-8601 timestamp: {text!r}")
    return out


def format_timestamp(int64_t t):
    """int64 100 ns since the epoch -> ISO-8601 in UTC with ``+00:00``."""
    return pxf_format_iso(t)


def price_to_fixed(price):
    """A price (float by its shortest repr, int, Decimal) -> exact counts of 1e-9.

    Raises ValueError for a non-finite or out-of-range price or one with
    more than nine decimals.
    """
    cdef int64_t out
    if pxf_price(<PyObject*>price, &out) != 1:
        raise ValueError(f"not an exact 1e-9 price: {price!r}")
    return out


def fixed_to_price(int64_t value):
    """Counts of 1e-9 -> the float with that shortest repr."""
    return pxf_price_float(value)


def tag_fingerprint(str tag not None):
    """The 32-bit hash the tag index files a customTag under (of its UTF-8
    bytes), so tests can build tags that collide."""
    cdef const char *p
    cdef Py_ssize_t n
    cdef PyObject *keep
    cdef uint32_t fp
    if pxf_utf8(<PyObject*>tag, &p, &n, &keep) < 0:
        raise MemoryError()
    fp = pxf_tag_fp(p, n)
    Py_XDECREF(keep)
    return fp


def _set_tag_arena_limit(limit):
    """Set the tag arena's size cap in bytes for every table (0 up to the
    default, 4 GiB), returning the previous cap.  For tests: a small cap
    reaches the "tag arena full" path with a few short tags.  Production code
    never calls it."""
    global _arena_limit
    cdef uint64_t previous = _arena_limit
    if not 0 <= limit <= PXF_ARENA_LIMIT:
        raise ValueError(f"the tag arena limit must be in 0..{PXF_ARENA_LIMIT}, got {limit!r}")
    _arena_limit = limit
    return previous

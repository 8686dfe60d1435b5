/* Exact decimal view of doubles, shared by the compiled modules.
 *
 * A price arrives as a double (a JSON number, a Python float) but means the
 * decimal the user typed: 21000.13, not 21000.129999999997381.  Python's
 * repr() recovers that decimal (the shortest string that round-trips); so do
 * these helpers, and they are exact: the result is always the decimal
 * Decimal(repr(x)) would hold, expressed as mant * 10^-exp.
 *
 * The fast path needs no allocation and no GIL.  It scales |x| by the largest
 * power of ten that keeps the product below 2^43, rounds, and checks that the
 * integer divides back to x exactly.  Below 2^43 the candidate multiples of
 * 10^-e are at least 512 ulps of x apart, so at most one of them can
 * round-trip, and the product's error (< 2e-3) cannot pick the wrong integer;
 * a passing check therefore proves the candidate is repr(x).  Anything else
 * (more significant digits than fit, huge or tiny magnitudes) takes the slow
 * path through CPython's own shortest-repr conversion.
 */
#ifndef PXFAST_EXACTNUM_H
#define PXFAST_EXACTNUM_H

#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static const double PXF_P10D[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static const int64_t PXF_P10I[19] = {
    1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL,
    100000000LL, 1000000000LL, 10000000000LL, 100000000000LL,
    1000000000000LL, 10000000000000LL, 100000000000000LL,
    1000000000000000LL, 10000000000000000LL, 100000000000000000LL,
    1000000000000000000LL};

#define PXF_FAST_LIMIT 8796093022208.0 /* 2^43 */
#define PXF_FAST_MAX_EXP 15

/* Rounding modes for pxf_div_round. */
enum {
    PXF_HALF_AWAY = 0, /* ties away from zero (ROUND_HALF_UP in decimal) */
    PXF_HALF_EVEN = 1, /* ties to even (Python's round) */
    PXF_FLOOR = 2,
    PXF_CEIL = 3,
    PXF_TRUNC = 4
};

/* Strip trailing decimal zeros: (2000, 3) -> (2, 0). */
static inline void pxf_normalize(int64_t *mant, int *exp) {
    int64_t m = *mant;
    int e = *exp;
    while (e > 0 && m % 10 == 0) {
        m /= 10;
        e--;
    }
    *mant = m;
    *exp = e;
}

/* 1: *mant * 10^-*exp == repr(x) with the smallest exp >= 0;
 * 0: needs the slow path; -1: x is NaN or infinite.  No GIL needed. */
static inline int pxf_double_to_decimal_fast(double x, int64_t *mant, int *exp) {
    double ax, scaled, n;
    int e;
    if (!isfinite(x)) return -1;
    ax = fabs(x);
    if (ax == 0.0) {
        *mant = 0;
        *exp = 0;
        return 1;
    }
    if (ax >= PXF_FAST_LIMIT) return 0;
    e = PXF_FAST_MAX_EXP;
    while (e > 0 && ax * PXF_P10D[e] >= PXF_FAST_LIMIT) e--;
    scaled = ax * PXF_P10D[e];
    n = nearbyint(scaled);
    if (n / PXF_P10D[e] != ax) return 0;
    *mant = (int64_t)n;
    *exp = e;
    pxf_normalize(mant, exp);
    if (x < 0) *mant = -*mant;
    return 1;
}

/* 1: repr(x) has at most e decimals and *mant == repr(x) * 10^e (not
 * normalized: 21000.5 at e=2 gives 2100050); 0: repr(x) has more than e
 * decimals, or |x| * 10^e >= 2^43 (ask pxf_double_to_decimal_fast); -1: x is
 * NaN or infinite.  0 <= e <= 22.  No GIL needed.
 *
 * Callers that know the scale they want (a tick's decimals) skip the search
 * and the normalization of pxf_double_to_decimal_fast.  The argument above
 * holds for any e below the 2^43 bound: if repr(x) has at most e decimals,
 * padded to e decimals it is a round-tripping candidate, the only one. */
static inline int pxf_double_to_decimal_at(double x, int e, int64_t *mant) {
    double ax, scaled;
    int64_t n;
    if (!isfinite(x)) return -1;
    ax = fabs(x);
    scaled = ax * PXF_P10D[e];
    if (scaled >= PXF_FAST_LIMIT) return 0;
    /* scaled < 2^43, so scaled + 0.5 is exact and truncation rounds; an exact
     * tie is never a round-tripping candidate, so its direction is moot. */
    n = (int64_t)(scaled + 0.5);
    if ((double)n / PXF_P10D[e] != ax) return 0;
    *mant = x < 0 ? -n : n;
    return 1;
}

/* Parse "[+-]digits[.digits][(e|E)[+-]digits]" (whitespace-free) into
 * mant * 10^-exp exactly, keeping trailing zeros as written ("0.250" -> 250, 3).
 * A positive decimal exponent is folded into mant ("5E+1" -> 50, 0).
 * Returns 0, or -1 on a syntax error or when the value does not fit int64
 * with exp <= 18. */
static inline int pxf_parse_decimal(const char *s, Py_ssize_t n, int64_t *mant, int *exp) {
    Py_ssize_t i = 0;
    int neg = 0, digits = 0, frac = 0, seen_dot = 0, e10 = 0;
    uint64_t m = 0;
    if (n <= 0) return -1;
    if (s[0] == '+' || s[0] == '-') {
        neg = s[0] == '-';
        i = 1;
    }
    for (; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (m > (UINT64_C(9223372036854775807) - (uint64_t)(c - '0')) / 10) return -1;
            m = m * 10 + (uint64_t)(c - '0');
            digits++;
            if (seen_dot) frac++;
        } else if (c == '.' && !seen_dot) {
            seen_dot = 1;
        } else if (c == 'e' || c == 'E') {
            int eneg = 0, edigits = 0;
            i++;
            if (i < n && (s[i] == '+' || s[i] == '-')) {
                eneg = s[i] == '-';
                i++;
            }
            for (; i < n; i++) {
                if (s[i] < '0' || s[i] > '9' || e10 > 10000) return -1;
                e10 = e10 * 10 + (s[i] - '0');
                edigits++;
            }
            if (!edigits) return -1;
            if (eneg) e10 = -e10;
            break;
        } else {
            return -1;
        }
    }
    if (!digits) return -1;
    frac -= e10;
    while (frac < 0) {
        if (m > UINT64_C(922337203685477580)) return -1;
        m *= 10;
        frac++;
    }
    if (frac > 18) {
        /* Only trailing zeros may be dropped to bring the scale back in range. */
        while (frac > 18 && m % 10 == 0) {
            m /= 10;
            frac--;
        }
        if (frac > 18 && m != 0) return -1;
        if (m == 0) frac = 0;
    }
    *mant = neg ? -(int64_t)m : (int64_t)m;
    *exp = frac;
    return 0;
}

/* Exact repr(x) as mant * 10^-exp (smallest exp).  0 ok; -1 when x is not
 * finite or its decimal does not fit (no Python exception is left set).
 * Needs the GIL only when the fast path declines. */
static inline int pxf_double_to_decimal(double x, int64_t *mant, int *exp) {
    char *text;
    int rc = pxf_double_to_decimal_fast(x, mant, exp);
    if (rc != 0) return rc == 1 ? 0 : -1;
    text = PyOS_double_to_string(x, 'r', 0, 0, NULL);
    if (text == NULL) {
        PyErr_Clear();
        return -1;
    }
    rc = pxf_parse_decimal(text, (Py_ssize_t)strlen(text), mant, exp);
    PyMem_Free(text);
    if (rc == 0) pxf_normalize(mant, exp);
    return rc;
}

/* num / den rounded to an integer by `mode` (den != 0), in 128-bit. */
static inline __int128 pxf_div_round(__int128 num, __int128 den, int mode) {
    __int128 q, r, twice;
    int neg;
    if (den < 0) {
        num = -num;
        den = -den;
    }
    neg = num < 0;
    if (neg) num = -num;
    q = num / den;
    r = num - q * den;
    if (r != 0) {
        switch (mode) {
            case PXF_HALF_AWAY:
                twice = 2 * r;
                if (twice >= den) q++;
                break;
            case PXF_HALF_EVEN:
                twice = 2 * r;
                if (twice > den || (twice == den && (q & 1))) q++;
                break;
            case PXF_FLOOR:
                if (neg) q++;
                break;
            case PXF_CEIL:
                if (!neg) q++;
                break;
            default:
                break;
        }
    }
    return neg ? -q : q;
}

/* Rescale an exact decimal from exp `from_exp` to `to_exp` (to_exp >= from_exp).
 * Returns 0, or -1 on overflow of the 128-bit intermediate. */
static inline int pxf_rescale(int64_t mant, int from_exp, int to_exp, __int128 *out) {
    __int128 v = mant;
    int k = to_exp - from_exp;
    if (k < 0) return -1;
    while (k > 0) {
        int step = k > 18 ? 18 : k;
        __int128 p = PXF_P10I[step];
        __int128 limit = (((__int128)1) << 120) / p;
        if (v > limit || v < -limit) return -1;
        v *= p;
        k -= step;
    }
    *out = v;
    return 0;
}

#endif /* PXFAST_EXACTNUM_H */

# Exact decimal view of doubles (see exactnum.h): shared by ticks, fsm, wire.
from libc.stdint cimport int64_t

cdef extern from "exactnum.h" nogil:
    const double PXF_P10D[23]
    const int64_t PXF_P10I[19]
    enum:
        PXF_HALF_AWAY
        PXF_HALF_EVEN
        PXF_FLOOR
        PXF_CEIL
        PXF_TRUNC
    ctypedef long long pxf_int128 "__int128"
    void pxf_normalize(int64_t *mant, int *exp)
    int pxf_double_to_decimal_fast(double x, int64_t *mant, int *exp)
    int pxf_double_to_decimal_at(double x, int e, int64_t *mant)
    int pxf_parse_decimal(const char *s, Py_ssize_t n, int64_t *mant, int *exp)
    pxf_int128 pxf_div_round(pxf_int128 num, pxf_int128 den, int mode)
    int pxf_rescale(int64_t mant, int from_exp, int to_exp, pxf_int128 *out)

cdef extern from "exactnum.h":
    # May call into CPython (slow path): hold the GIL.
    int pxf_double_to_decimal(double x, int64_t *mant, int *exp)

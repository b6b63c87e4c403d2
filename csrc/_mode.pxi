# Block mode (issue #27): the most frequent value of each window of a label
# image, ties to the smallest, for pyramids that keep objects' sizes (max
# favours high ids).  Windows are the strides, no padding; the last window
# along an axis takes what is left (ceil_mode), so every element counts.
#
# Each window's values are gathered into a per-thread buffer and sorted
# (insertion sort: pyramid windows hold 4 to 64 values, mostly 8), then the
# longest run of equal values wins, the first, i.e. the smallest, among runs
# as long.  A window of one value (or all equal, the common case inside an
# object) needs no sort: the gather notices it.  One task per output row of
# one plane; integers only (labels), viewed as the fixed-width type of their
# size (_kernel_input), bool as uint8.

ctypedef fused label_t:
    int8_t
    int16_t
    int32_t
    int64_t
    uint8_t
    uint16_t
    uint32_t
    uint64_t


def _block_mode(x5, kernel, out_dhw):
    """block_mode3d's body (see the entry point)."""
    dtype = x5.dtype
    x5 = _kernel_input(x5.view(np.uint8) if dtype == np.bool_ else x5)
    shape = x5.shape[:2] + tuple(out_dhw)
    y = np.empty(shape, dtype=x5.dtype)
    cdef Geom g
    g.D, g.H, g.W = x5.shape[2:]
    g.xs_d, g.xs_h, g.xs_w = x5.strides[2:]
    g.OD, g.OH, g.OW = out_dhw
    g.kd, g.kh, g.kw = kernel
    cdef Job j = _job(x5, y, NULL, NULL, &g)
    cdef char* yp = _data(y)
    k = x5.dtype
    if k == np.int8:
        _mode_run(&j, <int8_t*>yp)
    elif k == np.int16:
        _mode_run(&j, <int16_t*>yp)
    elif k == np.int32:
        _mode_run(&j, <int32_t*>yp)
    elif k == np.int64:
        _mode_run(&j, <int64_t*>yp)
    elif k == np.uint8:
        _mode_run(&j, <uint8_t*>yp)
    elif k == np.uint16:
        _mode_run(&j, <uint16_t*>yp)
    elif k == np.uint32:
        _mode_run(&j, <uint32_t*>yp)
    else:
        _mode_run(&j, <uint64_t*>yp)
    return y.view(dtype)


cdef void _mode_run(const Job* j, label_t* y) noexcept nogil:
    cdef const Geom* g = j.g
    cdef Py_ssize_t rows = j.N * j.C * g.OD * g.OH, t
    cdef Py_ssize_t K = g.kd * g.kh * g.kw
    cdef bint threaded = j.N * j.C * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and rows > 1
    cdef label_t* buf
    cdef Region rg
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        buf = <label_t*>malloc(K * sizeof(label_t))
        if buf != NULL:
            for t in prange(rows, schedule="static"):
                _mode_row(j, y, buf, t)
            free(buf)
        _leave(&rg)
    _settle(&rg)


cdef void _mode_row(const Job* j, label_t* y, label_t* buf, Py_ssize_t t) noexcept nogil:
    # Output row t: plane t // (OD * OH), depth and row from the rest.
    cdef const Geom* g = j.g
    cdef Py_ssize_t oh = t % g.OH, rest = t // g.OH
    cdef Py_ssize_t od = rest % g.OD, p = rest // g.OD
    cdef Py_ssize_t n = p // j.C, c = p % j.C
    cdef const char* plane = j.x + n * j.xs_n + c * j.xs_c
    cdef Py_ssize_t d0 = od * g.kd, h0 = oh * g.kh
    cdef Py_ssize_t d1 = min(d0 + g.kd, g.D), h1 = min(h0 + g.kh, g.H)
    cdef label_t* out = y + t * g.OW
    cdef Py_ssize_t ow, w0, w1, d, h, w, m
    cdef bint same
    cdef label_t v, first
    for ow in range(g.OW):
        w0 = ow * g.kw
        w1 = min(w0 + g.kw, g.W)
        m = 0
        same = True
        first = (<const label_t*>(plane + d0 * g.xs_d + h0 * g.xs_h + w0 * g.xs_w))[0]
        for d in range(d0, d1):
            for h in range(h0, h1):
                for w in range(w0, w1):
                    v = (<const label_t*>(plane + d * g.xs_d + h * g.xs_h + w * g.xs_w))[0]
                    same = same and v == first
                    buf[m] = v
                    m += 1
        out[ow] = first if same else _mode_of(buf, m)


cdef inline label_t _mode_of(label_t* a, Py_ssize_t m) noexcept nogil:
    # a[:m] sorted in place, then its longest run, the first among equals.
    cdef Py_ssize_t i, k, run = 1, best_run = 0
    cdef label_t v, best = a[0]
    for i in range(1, m):
        v = a[i]
        k = i
        while k > 0 and a[k - 1] > v:
            a[k] = a[k - 1]
            k -= 1
        a[k] = v
    for i in range(1, m + 1):
        if i < m and a[i] == a[i - 1]:
            run += 1
        else:
            if run > best_run:
                best_run = run
                best = a[i - 1]
            run = 1
    return best

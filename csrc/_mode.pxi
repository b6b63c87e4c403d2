# Block mode (issue #27): the most frequent value of each window of a label
# image, ties to the smallest, for pyramids that keep objects' sizes (max
# favours high ids).  Windows are the strides, no padding; the last window
# along an axis takes what is left (ceil_mode), so every element counts.
#
# A window of one value (inside an object, the usual case) is answered by a
# pass that stops at the first other value.  Other windows are gathered into
# a per-thread buffer: up to 16 values (2x2, 2x2x2, 4x4 windows) each
# value's copies are counted (m * m compares, vectorised), beyond that the
# buffer is sorted (insertion) and the longest run of equal values wins, the
# first, i.e. the smallest, among runs as long.  One task per output row of
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
    cdef label_t first
    for ow in range(g.OW):
        w0 = ow * g.kw
        w1 = min(w0 + g.kw, g.W)
        first = (<const label_t*>(plane + d0 * g.xs_d + h0 * g.xs_h + w0 * g.xs_w))[0]
        if _uniform(plane, g, d0, d1, h0, h1, w0, w1, first):
            out[ow] = first
            continue
        m = 0
        for d in range(d0, d1):
            for h in range(h0, h1):
                for w in range(w0, w1):
                    buf[m] = (<const label_t*>(plane + d * g.xs_d + h * g.xs_h + w * g.xs_w))[0]
                    m += 1
        out[ow] = _mode_of(buf, m)


cdef inline bint _uniform(const char* plane, const Geom* g, Py_ssize_t d0, Py_ssize_t d1,
                          Py_ssize_t h0, Py_ssize_t h1, Py_ssize_t w0, Py_ssize_t w1,
                          label_t first) noexcept nogil:
    # Whether the window holds one value (inside an object, the usual case):
    # no gather, no sort; out at the first other value.
    cdef Py_ssize_t d, h, w
    for d in range(d0, d1):
        for h in range(h0, h1):
            for w in range(w0, w1):
                if (<const label_t*>(plane + d * g.xs_d + h * g.xs_h + w * g.xs_w))[0] != first:
                    return False
    return True


cdef inline label_t _mode_of(label_t* a, Py_ssize_t m) noexcept nogil:
    # The most frequent of a[:m], the smallest among equals.  Small windows
    # (up to 16 values: 2x2, 2x2x2, 4x4) count each value's copies, m * m
    # compares in a loop the compiler vectorises; larger ones sort in place
    # (insertion) and take the longest run, the first among equals.
    cdef Py_ssize_t i, k, n, run = 1, best_run = 0
    cdef label_t v, best = a[0]
    if m <= 16:
        for i in range(m):
            v = a[i]
            n = 0
            for k in range(m):
                n += a[k] == v
            if n > best_run or (n == best_run and v < best):
                best_run = n
                best = v
        return best
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

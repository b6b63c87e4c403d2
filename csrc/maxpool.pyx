"""Max-pooling kernels: one pass computes the window max and its argmax, one
pass scatters gradients back.  Typed loops over raw pointers, GIL released,
work spread over OpenMP threads.  Called through ``pooling._api``, which has
already validated every argument and lifted 1-D and 2-D calls to three
spatial axes (unit depth and height cost one loop trip), so one set of loops
serves every dimensionality.

Memory: a call allocates its outputs and, beyond them, only this: for
float16 values (forward3d, adaptive3d) a float32 copy of the input
(_kernel_input) and a float32 result that is cast back (_result); in the
scatters (backward3d, unpool3d, backward3d_compact) a contiguous copy of
values, gradients or the compact cache not stored densely in the layout the
loops read (_planes, _pixels), and of indices not stored so or not int64;
in adaptive3d, an int64 copy of each window-bound array that is not one
already; and on the stack of each task, accumulators of _CHUNK window
offsets.

Two memory layouts, chosen by the input's strides: channels-first planes
(N, C, D, H, W), and channels-last (N, D, H, W, C), where a window's elements
are contiguous channel vectors and every loop runs over channels.

Forward is row oriented: each output row is an accumulator that the window's
input rows are folded into, in scan order.  Within a row, every output column
takes the first maximum (or last NaN) of its window's columns, then merges it
into the accumulator with the same rule.  That rule picks the window element
with the largest key (value, earlier position first; NaN above all, later
first), and since taking such a maximum is associative, the row-by-row
order gives PyTorch's scan result exactly, while the column loops are simple
enough for the C compiler to vectorise (interior columns of the common
windows have their own loops with the window size known at compile time).
"""
import numpy as np

from cython.parallel cimport prange
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t,
                          uint8_t, uint16_t, uint32_t, uint64_t)
from libc.string cimport memset
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_STRIDES

cimport _openmp

cdef extern from "half.h" nogil:
    float pooling_half_to_float(uint16_t h)
    uint16_t pooling_float_to_half(float f)

ctypedef fused pool_t:
    float
    double
    int8_t
    int16_t
    int32_t
    int64_t
    uint8_t
    uint16_t
    uint32_t
    uint64_t

# Compile-time switches as fused types: each loop is generated once per
# combination, with no run-time test left inside it to stop vectorisation.
cdef struct NoIndex:      # idx_t: values only, no index is written
    char unused
cdef struct Seed:         # row_t: the window's first valid row starts the max
    char unused
cdef struct Merge:        # row_t: later rows merge into it
    char unused

# What an argmax is stored as; the type decides the meaning.
ctypedef fused idx_t:
    uint8_t    # window-local offset (a * kh + r) * kw + t (the layer caches these)
    uint32_t   # the same, as wide as float32/int32 values
    int64_t    # flat position (d * H + h) * W + w: PyTorch's indices
    NoIndex

ctypedef fused row_t:
    Seed
    Merge

cdef struct Flat:         # depth_t: windows one deep (every 1-D and 2-D call)
    char unused
cdef struct Deep:         # depth_t: anything else
    char unused

ctypedef fused depth_t:
    Flat
    Deep

cdef struct Add:          # move_t: a scatter accumulates (gradients)
    char unused
cdef struct Put:          # move_t: a scatter overwrites (unpooling)
    char unused

ctypedef fused move_t:
    Add
    Put

ctypedef fused scat_t:    # what a scatter moves: gradients (float, double,
    float                 # half as uint16_t bits), or any dtype as raw bits
    double
    uint8_t
    uint16_t
    uint32_t
    uint64_t

ctypedef fused grad_t:
    float
    double
    uint16_t   # float16 bits: each addition rounded to half, as NumPy and
               # PyTorch do (summed in float32 first: with 24 >= 2 * 11 + 2
               # bits, that double rounding equals rounding the exact sum)

# Below this many input elements a call stays on one thread: waking the pool
# costs more than the work.
cdef enum:
    _PARALLEL_MIN_WORK = 1 << 15
    _MAX_LOCAL = 256        # window positions a uint8 offset can name
    _CHUNK = 512            # output columns per offset accumulator (stack)
    _WRITE_ONCE_MIN_OW = 32 # shorter output rows: backward scatters instead

# Interior column loops with the window width and stride fixed at compile time.
cdef enum HKind:
    H_GENERIC
    H_K2S2
    H_K3S2
    H_K2S1
    H_K3S1

cdef int _num_threads = 0   # 0: OpenMP's own default (OMP_NUM_THREADS, threadpoolctl)


def openmp_enabled():
    """Whether this build was compiled with OpenMP."""
    return bool(_openmp.POOLING_OPENMP)


def set_num_threads(int n):
    """Threads for later calls; 0 restores OpenMP's default."""
    global _num_threads
    _num_threads = n


def get_num_threads():
    """Threads a large call will use."""
    return _threads()


cdef inline int _threads() noexcept nogil:
    if not _openmp.POOLING_OPENMP:
        return 1
    return _num_threads if _num_threads > 0 else _openmp.omp_get_max_threads()


cdef struct Geom:
    Py_ssize_t D, H, W, OD, OH, OW
    Py_ssize_t kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw
    Py_ssize_t xs_d, xs_h, xs_w    # byte strides of the input within a plane
    Py_ssize_t jlo, jhi            # output columns whose window lies inside [0, W)
    int hkind
    int64_t delta[_MAX_LOCAL]      # window-local offset -> offset in the plane


cdef Geom _geom(spatial, strides, Py_ssize_t itemsize, params, out):
    # spatial, strides, out: (D, H, W) triples; params: three-axis PoolParams.
    cdef Geom g
    g.D, g.H, g.W = spatial
    g.xs_d, g.xs_h, g.xs_w = strides
    g.OD, g.OH, g.OW = out
    g.kd, g.kh, g.kw = params.kernel_size
    g.sd, g.sh, g.sw = params.stride
    g.pd, g.ph, g.pw = params.padding
    g.dd, g.dh, g.dw = params.dilation
    # Python ints: floor division (cdivision would truncate negatives).
    pw, sw, last = <object>g.pw, <object>g.sw, <object>(g.W - 1 - (g.kw - 1) * g.dw)
    g.jlo = min(-(-pw // sw), g.OW)
    g.jhi = max(g.jlo, min(g.OW, (last + pw) // sw + 1))
    cdef Py_ssize_t o, rows = g.kh * g.kw
    for o in range(min(g.kd * rows, _MAX_LOCAL)):
        g.delta[o] = ((o // rows) * g.dd * g.H + (o % rows) // g.kw * g.dh) * g.W \
            + (o % g.kw) * g.dw
    g.hkind = H_GENERIC
    if g.xs_w == itemsize and g.dw == 1:
        if g.kw == 2 and g.sw == 2:
            g.hkind = H_K2S2
        elif g.kw == 3 and g.sw == 2:
            g.hkind = H_K3S2
        elif g.kw == 2 and g.sw == 1:
            g.hkind = H_K2S1
        elif g.kw == 3 and g.sw == 1:
            g.hkind = H_K3S1
    return g


cdef inline Py_ssize_t _window_size(const Geom* g) noexcept nogil:
    return g.kd * g.kh * g.kw


# What one call hands its typed loops.  Element strides for the outputs
# (y, indices, cache share one layout): plane (n, c) starts at n * ys_n +
# c * ys_c, spatial position s sits s * ys_s further.
cdef struct Job:
    const char* x
    Py_ssize_t N, C, xs_n, xs_c    # input byte strides of the batch and channel axes
    Py_ssize_t ys_n, ys_c, ys_s
    uint8_t* cache
    int64_t* flat
    const int64_t* a0[3]           # adaptive windows [a0[axis][i], a1[axis][i])
    const int64_t* a1[3]
    const Geom* g

cdef enum Op:
    OP_FORWARD        # channels-first planes
    OP_FORWARD_CL     # channels-last
    OP_ADAPTIVE


cdef inline bint _channels_last(a, bint prefer):
    # Channel vectors contiguous (and more than one channel): the loops run
    # over channels.  Anything else is read plane by plane through strides.
    # With a single spatial element both layouts are the same memory; the
    # caller's layout (``prefer``) then decides the outputs'.
    return a.shape[1] > 1 and a.strides[1] == a.itemsize and (
        prefer or not a.flags.c_contiguous)


def _alloc(shape, dtype, bint channels_last):
    """An (N, C, D, H, W) array stored channels-last or channels-first."""
    if channels_last:
        n, c, d, h, w = shape
        return np.empty((n, d, h, w, c), dtype=dtype).transpose(0, 4, 1, 2, 3)
    return np.empty(shape, dtype=dtype)


cdef char* _data(a) except NULL:
    # The first element's address (any strides; a non-empty array).  The
    # buffer protocol costs a fraction of ``a.ctypes.data``, which builds a
    # Python object per call, a visible cost on small arrays.
    cdef Py_buffer view
    PyObject_GetBuffer(a, &view, PyBUF_STRIDES)
    cdef char* p = <char*>view.buf
    PyBuffer_Release(&view)
    return p


cdef Job _job(x5, out5, uint8_t* cache, int64_t* flat, const Geom* g):
    cdef Job j
    j.x = _data(x5)
    j.N, j.C = x5.shape[0], x5.shape[1]
    j.xs_n, j.xs_c = x5.strides[0], x5.strides[1]
    item = out5.itemsize
    j.ys_n, j.ys_c, j.ys_s = out5.strides[0] // item, out5.strides[1] // item, \
        out5.strides[4] // item
    j.cache, j.flat, j.g = cache, flat, g
    return j


cdef _dispatch(int op, const Job* j, y):
    # Fused cdef functions cannot be indexed by a runtime dtype: the one
    # place where a dtype becomes a specialisation.
    cdef str k = y.dtype.kind
    cdef int size = y.dtype.itemsize
    cdef void* yp = _data(y)
    if k == "f":
        if size == 4:
            _run(op, j, <float*>yp)
        else:
            _run(op, j, <double*>yp)
    elif k == "i":
        if size == 1:
            _run(op, j, <int8_t*>yp)
        elif size == 2:
            _run(op, j, <int16_t*>yp)
        elif size == 4:
            _run(op, j, <int32_t*>yp)
        else:
            _run(op, j, <int64_t*>yp)
    else:
        if size == 1:
            _run(op, j, <uint8_t*>yp)
        elif size == 2:
            _run(op, j, <uint16_t*>yp)
        elif size == 4:
            _run(op, j, <uint32_t*>yp)
        else:
            _run(op, j, <uint64_t*>yp)


cdef void _run(int op, const Job* j, pool_t* y) noexcept nogil:
    if op == OP_FORWARD:
        _forward(j, y)
    elif op == OP_FORWARD_CL:
        _forward_cl(j, y)
    else:
        _adaptive(j, y)


def _kernel_input(x5):
    """The array the fused kernels read: float16 upcast (every float16 is
    exact in float32, and so is their max; the caller casts the result back),
    integers viewed as the fixed-width type of their size, so that np.longlong
    and friends need no specialisation of their own."""
    dtype = x5.dtype
    if dtype == np.float16:
        return x5.astype(np.float32, order="K")
    if dtype.kind in "iu":
        return x5.view(f"{dtype.kind}{dtype.itemsize}")
    return x5


def _result(y, dtype):
    return y.astype(np.float16, order="K") if dtype == np.float16 else y


# ---------------------------------------------------------------- forward

cdef inline bint _takes(pool_t v, pool_t best) noexcept nogil:
    # PyTorch's rule: a strictly larger value, or any NaN, replaces the running
    # max; so ties keep the first maximum and the last NaN wins.  (Written with
    # `or`: GCC vectorises that form of the float test, not the bitwise one.)
    if pool_t is float or pool_t is double:
        return v > best or v != v
    else:
        return v > best


cdef inline void _put(pool_t* y, idx_t* ix, Py_ssize_t j, pool_t v, Py_ssize_t c,
                      row_t* mode) noexcept nogil:
    # Store (Seed) or merge (Merge) candidate (v, c) into accumulator column j.
    cdef bint t
    cdef pool_t old
    cdef idx_t oldi
    if row_t is Seed:
        y[j] = v
        if idx_t is NoIndex:
            pass
        else:
            ix[j] = <idx_t>c
    else:
        # Both old values are loaded before either store: GCC if-converts
        # (and so vectorises) this form, not the interleaved one.
        old = y[j]
        if idx_t is NoIndex:
            t = _takes(v, old)
            y[j] = v if t else old
        else:
            oldi = ix[j]
            t = _takes(v, old)
            y[j] = v if t else old
            ix[j] = <idx_t>c if t else oldi


# The fold loops below cover output columns [j0, j1) of a chunk that starts at
# column c0: y and ix point at the chunk, so column j lives at [j - c0].  The
# candidate index of window column t of output j is cbase + j*cj + t*ct: a
# window-local offset (cj = 0) or a flat plane position.

cdef void _fold_generic(const char* row, pool_t* y, idx_t* ix, Py_ssize_t j0,
                        Py_ssize_t j1, Py_ssize_t c0, Py_ssize_t cbase,
                        Py_ssize_t cj, Py_ssize_t ct, row_t* mode,
                        const Geom* g) noexcept nogil:
    # Any window width, stride, dilation and column stride; windows clipped
    # to [0, W).
    cdef Py_ssize_t j, t, t0, ws, w, o
    cdef pool_t v, u
    for j in range(j0, j1):
        ws = j * g.sw - g.pw
        t0 = 0
        while ws + t0 * g.dw < 0:
            t0 += 1
        v = (<const pool_t*>(row + (ws + t0 * g.dw) * g.xs_w))[0]
        o = t0
        t = t0 + 1
        w = ws + t * g.dw
        while t < g.kw and w < g.W:
            u = (<const pool_t*>(row + w * g.xs_w))[0]
            if _takes(u, v):
                v = u
                o = t
            t += 1
            w += g.dw
        _put(y, ix, j - c0, v, cbase + j * cj + o * ct, mode)


cdef inline void _fold_k2(const pool_t* row, pool_t* y, idx_t* ix, Py_ssize_t j0,
                          Py_ssize_t j1, Py_ssize_t c0, Py_ssize_t S, Py_ssize_t pw,
                          Py_ssize_t cbase, Py_ssize_t cj, Py_ssize_t ct,
                          row_t* mode) noexcept nogil:
    cdef Py_ssize_t j
    cdef pool_t a, b
    cdef bint t
    for j in range(j0, j1):
        a = row[S * j - pw]
        b = row[S * j - pw + 1]
        t = _takes(b, a)
        _put(y, ix, j - c0, b if t else a, cbase + j * cj + t * ct, mode)


cdef inline void _fold_k3(const pool_t* row, pool_t* y, idx_t* ix, Py_ssize_t j0,
                          Py_ssize_t j1, Py_ssize_t c0, Py_ssize_t S, Py_ssize_t pw,
                          Py_ssize_t cbase, Py_ssize_t cj, Py_ssize_t ct,
                          row_t* mode) noexcept nogil:
    cdef Py_ssize_t j, o
    cdef pool_t a, b, c, v
    cdef bint t
    for j in range(j0, j1):
        a = row[S * j - pw]
        b = row[S * j - pw + 1]
        c = row[S * j - pw + 2]
        t = _takes(b, a)
        v = b if t else a
        o = t
        t = _takes(c, v)
        v = c if t else v
        o = 2 if t else o
        _put(y, ix, j - c0, v, cbase + j * cj + o * ct, mode)


cdef inline void _fold_row(const char* row, pool_t* y, idx_t* ix, Py_ssize_t c0,
                           Py_ssize_t c1, Py_ssize_t cbase, Py_ssize_t cj,
                           Py_ssize_t ct, row_t* mode, const Geom* g) noexcept nogil:
    # Clipped border columns go through the generic loop, the interior
    # [jlo, jhi) through the loop for its window (S is a literal per call).
    cdef const pool_t* r = <const pool_t*>row
    cdef Py_ssize_t i0 = max(c0, g.jlo), i1 = min(c1, g.jhi)
    if i0 > i1:
        i0 = i1 = c1 if g.jlo >= c1 else c0
    if c0 < i0:
        _fold_generic(row, y, ix, c0, i0, c0, cbase, cj, ct, mode, g)
    if g.hkind == H_K2S2:
        _fold_k2(r, y, ix, i0, i1, c0, 2, g.pw, cbase, cj, ct, mode)
    elif g.hkind == H_K3S2:
        _fold_k3(r, y, ix, i0, i1, c0, 2, g.pw, cbase, cj, ct, mode)
    elif g.hkind == H_K2S1:
        _fold_k2(r, y, ix, i0, i1, c0, 1, g.pw, cbase, cj, ct, mode)
    elif g.hkind == H_K3S1:
        _fold_k3(r, y, ix, i0, i1, c0, 1, g.pw, cbase, cj, ct, mode)
    elif i0 < i1:
        _fold_columns(row, y, ix, i0, i1, c0, cbase, cj, ct, mode, g)
    if i1 < c1:
        _fold_generic(row, y, ix, i1, c1, c0, cbase, cj, ct, mode, g)


cdef void _fold_columns(const char* row, pool_t* y, idx_t* ix, Py_ssize_t j0,
                        Py_ssize_t j1, Py_ssize_t c0, Py_ssize_t cbase, Py_ssize_t cj,
                        Py_ssize_t ct, row_t* mode, const Geom* g) noexcept nogil:
    # Interior columns of any other window: one pass per window column t, in
    # scan order, over every output column at once.  Branch-free merges in a
    # loop the compiler can vectorise (strided loads), instead of a scalar
    # scan of each window.
    cdef Py_ssize_t t
    _fold_strided(row - g.pw * g.xs_w, g.sw * g.xs_w, y, ix, j0, j1, c0, cbase, cj, mode)
    for t in range(1, g.kw):
        _fold_strided(row + (t * g.dw - g.pw) * g.xs_w, g.sw * g.xs_w, y, ix, j0, j1, c0,
                      cbase + t * ct, cj, <Merge*>NULL)


cdef inline void _fold_strided(const char* base, Py_ssize_t step, pool_t* y, idx_t* ix,
                               Py_ssize_t j0, Py_ssize_t j1, Py_ssize_t c0,
                               Py_ssize_t cbase, Py_ssize_t cj, row_t* mode) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(j0, j1):
        _put(y, ix, j - c0, (<const pool_t*>(base + j * step))[0], cbase + j * cj, mode)


cdef void _emit(const idx_t* acc, int64_t base, Py_ssize_t step, Py_ssize_t c0,
                Py_ssize_t c1, uint8_t* cache, int64_t* flat, const Geom* g) noexcept nogil:
    # Window-local offsets of entries [c0, c1) to the layer's uint8 cache or
    # to PyTorch's flat indices: entry j's window starts at base + j * step.
    cdef Py_ssize_t j
    if idx_t is uint8_t or idx_t is uint32_t:
        if cache != NULL:
            for j in range(c0, c1):
                cache[j] = <uint8_t>acc[j - c0]
        if flat != NULL:
            for j in range(c0, c1):
                flat[j] = base + j * step + g.delta[acc[j - c0]]


cdef inline void _forward_rows(const char* xp, pool_t* yp, idx_t* acc, uint8_t* cache,
                               int64_t* flat, const Geom* g, depth_t* depth) noexcept nogil:
    # acc: a chunk of window-local offsets (uint8 or uint32, emitted to
    # cache/flat per chunk); int64_t: flat indices folded in place (windows
    # wider than 256 positions); NoIndex: values only.  An output row is
    # (od, oh); its window rows (a, r) are folded in scan order.
    cdef Py_ssize_t orow, od, oh, a, rr, d, h, ds, hs, c0, c1, cbase, cj, ct
    cdef Py_ssize_t kd = g.kd
    cdef const char* row
    cdef bint seeded
    cdef idx_t* ix = NULL
    if depth_t is Flat:
        kd = 1
    # (od, oh) counted, not divided out of orow: a division per short row
    # costs as much as the row's folds.
    od = 0
    oh = -1
    for orow in range(g.OD * g.OH):
        oh += 1
        if oh == g.OH:
            oh = 0
            od += 1
        ds = od * g.sd - g.pd
        hs = oh * g.sh - g.ph
        c0 = 0
        while c0 < g.OW:
            c1 = min(c0 + _CHUNK, g.OW)
            if idx_t is int64_t:
                ix = flat + orow * g.OW + c0
            elif idx_t is NoIndex:
                pass
            else:
                ix = acc
            seeded = False
            # Windows are never empty (the Python layer refuses those
            # settings), so some row always seeds the accumulator.
            # One deep (Flat): a single trip, so the compiler drops the loop
            # and the registers it would hold across the folds.
            for a in range(kd):
                d = ds + a * g.dd
                if d < 0 or d >= g.D:
                    continue
                for rr in range(g.kh):
                    h = hs + rr * g.dh
                    if h < 0 or h >= g.H:
                        continue
                    if idx_t is int64_t:
                        cbase, cj, ct = (d * g.H + h) * g.W - g.pw, g.sw, g.dw
                    else:
                        cbase, cj, ct = (a * g.kh + rr) * g.kw, 0, 1
                    row = xp + d * g.xs_d + h * g.xs_h
                    if seeded:
                        _fold_row(row, yp + orow * g.OW + c0, ix, c0, c1,
                                  cbase, cj, ct, <Merge*>NULL, g)
                    else:
                        _fold_row(row, yp + orow * g.OW + c0, ix, c0, c1,
                                  cbase, cj, ct, <Seed*>NULL, g)
                        seeded = True
            if idx_t is uint8_t or idx_t is uint32_t:
                _emit(acc, (ds * g.H + hs) * g.W - g.pw, g.sw, c0, c1,
                      cache + orow * g.OW if cache != NULL else NULL,
                      flat + orow * g.OW if flat != NULL else NULL, g)
            c0 = c1


cdef void _forward_plane(const char* xp, pool_t* yp, uint8_t* cache, int64_t* flat,
                         const Geom* g) noexcept nogil:
    # The offset accumulator has the width of the values, so a vectorised
    # loop runs as many lanes as the values allow (4 for float32, where a
    # uint8 accumulator would force 16 and leave short rows scalar).
    cdef uint8_t acc8[_CHUNK]
    cdef uint32_t acc32[_CHUNK]
    if cache == NULL and flat == NULL:
        _forward_by_depth(xp, yp, <NoIndex*>NULL, NULL, NULL, g)
    elif _window_size(g) > _MAX_LOCAL:
        _forward_by_depth(xp, yp, <int64_t*>NULL, NULL, flat, g)
    elif pool_t is float or pool_t is int32_t or pool_t is uint32_t:
        _forward_by_depth(xp, yp, acc32, cache, flat, g)
    else:
        _forward_by_depth(xp, yp, acc8, cache, flat, g)


cdef inline void _forward_by_depth(const char* xp, pool_t* yp, idx_t* acc, uint8_t* cache,
                               int64_t* flat, const Geom* g) noexcept nogil:
    if g.kd == 1:
        _forward_rows(xp, yp, acc, cache, flat, g, <Flat*>NULL)
    else:
        _forward_rows(xp, yp, acc, cache, flat, g, <Deep*>NULL)


cdef void _forward(const Job* j, pool_t* y) noexcept nogil:
    # Channels-first: one (D, H, W) volume per task, outputs contiguous.
    cdef const Geom* g = j.g
    cdef Py_ssize_t P = j.N * j.C, p, n, c, o
    cdef bint parallel = P * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        n = p // j.C
        c = p - n * j.C
        o = n * j.ys_n + c * j.ys_c
        _forward_plane(j.x + n * j.xs_n + c * j.xs_c, y + o,
                       j.cache + o if j.cache != NULL else NULL,
                       j.flat + o if j.flat != NULL else NULL, g)


cdef void _forward_cl(const Job* j, pool_t* y) noexcept nogil:
    # Channels-last: one output row (n, od, oh) per task; every channel of a
    # window element is one contiguous vector folded into the output pixel's.
    cdef const Geom* g = j.g
    cdef Py_ssize_t R = j.N * g.OD * g.OH, r
    cdef bint parallel = j.N * j.C * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and R > 1
    for r in prange(R, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        _forward_cl_row(j, y, r)


cdef void _forward_cl_row(const Job* j, pool_t* y, Py_ssize_t r) noexcept nogil:
    cdef uint8_t acc8[_CHUNK]
    cdef uint32_t acc32[_CHUNK]
    if j.cache == NULL and j.flat == NULL:
        _cl_row(j, y, r, <NoIndex*>NULL, False)
    elif _window_size(j.g) > _MAX_LOCAL:
        _cl_row(j, y, r, <int64_t*>NULL, False)
    elif j.cache == NULL and j.C > 4 and (j.g.D * j.g.H * j.g.W) >> 32 == 0:
        # PyTorch's indices wanted: fold positions in the volume, not window
        # offsets, so that each index is a widening copy, not a table lookup
        # per channel.  Not for 2-4 channels: with their literal widths the
        # per-pixel candidates cost more than the lookups save.
        _cl_row(j, y, r, acc32, True)
    elif pool_t is float or pool_t is int32_t or pool_t is uint32_t:
        _cl_row(j, y, r, acc32, False)
    else:
        _cl_row(j, y, r, acc8, False)


cdef void _cl_row(const Job* j, pool_t* y, Py_ssize_t r, idx_t* acc,
                  bint positions) noexcept nogil:
    # One output row (n, od, oh), in blocks of whole pixels: interior pixels
    # (windows inside [0, W)) as many as the accumulator holds, each window
    # element folded over the block's channel vectors at once, so that few
    # channels (RGB) still make long loops; border pixels one at a time;
    # more channels than the accumulator holds in chunks of one pixel.
    cdef const Geom* g = j.g
    cdef Py_ssize_t C = j.C, q = max(1, _CHUNK // C), ow0, ow1, c0, c1
    cdef Py_ssize_t n = r // (g.OD * g.OH)
    cdef Py_ssize_t od = (r - n * g.OD * g.OH) // g.OH
    cdef Py_ssize_t oh = r - (n * g.OD + od) * g.OH
    ow0 = 0
    while ow0 < g.OW:
        ow1 = min(ow0 + q, g.jhi) if g.jlo <= ow0 < g.jhi else ow0 + 1
        c0 = 0
        while c0 < C:
            c1 = min(c0 + _CHUNK, C)
            _cl_block(j, y, n, r, od * g.sd - g.pd, oh * g.sh - g.ph, ow0, ow1, c0, c1, acc,
                      positions)
            c0 = c1
        ow0 = ow1


cdef inline void _cl_block(const Job* j, pool_t* y, Py_ssize_t n, Py_ssize_t r, Py_ssize_t ds,
                    Py_ssize_t hs, Py_ssize_t ow0, Py_ssize_t ow1, Py_ssize_t c0,
                    Py_ssize_t c1, idx_t* acc, bint positions) noexcept nogil:
    # Pixels [ow0, ow1) of output row r, channels [c0, c1) (all of them when
    # the block has more than one pixel: then the block's outputs, like its
    # accumulator, are one run of (pixel, channel) entries).  The accumulator
    # holds window offsets, or with `positions` flat positions in the volume.
    cdef const Geom* g = j.g
    cdef Py_ssize_t C = j.C, q = ow1 - ow0, ws = ow0 * g.sw - g.pw
    cdef Py_ssize_t o = (r * g.OW + ow0) * C      # the block's first pixel
    cdef Py_ssize_t a, rr, t, d, h, w, i, cbase, cj
    cdef const char* px
    cdef bint seeded = False
    cdef idx_t* ix = NULL
    if idx_t is int64_t:
        ix = j.flat + o + c0
    elif idx_t is NoIndex:
        pass
    else:
        ix = acc
    for a in range(g.kd):
        d = ds + a * g.dd
        if d < 0 or d >= g.D:
            continue
        for rr in range(g.kh):
            h = hs + rr * g.dh
            if h < 0 or h >= g.H:
                continue
            for t in range(g.kw):
                w = ws + t * g.dw
                if w < 0 or w + (q - 1) * g.sw >= g.W:   # only border pixels clip
                    continue
                px = j.x + n * j.xs_n + d * g.xs_d + h * g.xs_h + w * g.xs_w + c0 * j.xs_c
                if idx_t is int64_t or positions:
                    cbase, cj = (d * g.H + h) * g.W + w, g.sw
                else:
                    cbase, cj = (a * g.kh + rr) * g.kw + t, 0
                if seeded:
                    _fold_block(px, g.sw * g.xs_w, q, c1 - c0, C, y + o + c0, ix,
                                cbase, cj, <Merge*>NULL)
                else:
                    _fold_block(px, g.sw * g.xs_w, q, c1 - c0, C, y + o + c0, ix,
                                cbase, cj, <Seed*>NULL)
                    seeded = True
    if idx_t is uint8_t or idx_t is uint32_t:
        if j.cache != NULL:   # one run of entries, not one per pixel
            _emit(acc, 0, 0, c0, c0 + q * (c1 - c0), j.cache + o, NULL, g)
        if j.flat != NULL and positions:
            for i in range(q * (c1 - c0)):
                j.flat[o + c0 + i] = acc[i]
        elif j.flat != NULL:
            for i in range(q):
                _emit(acc + i * C, (ds * g.H + hs) * g.W + ws + i * g.sw, 0, c0, c1,
                      NULL, j.flat + o + i * C, g)


cdef inline void _fold_block(const char* px, Py_ssize_t step, Py_ssize_t q,
                             Py_ssize_t width, Py_ssize_t C, pool_t* y, idx_t* ix,
                             Py_ssize_t cbase, Py_ssize_t cj, row_t* mode) noexcept nogil:
    # Two to four channels (RGB, RGBA, ...) get a literal width: the channel
    # loop unrolls and the pixel loop can vectorise, where a loop of three
    # runtime trips stays scalar.
    if width == 3:
        _fold_pixels(px, step, q, 3, 3, y, ix, cbase, cj, mode)
    elif width == 4:
        _fold_pixels(px, step, q, 4, 4, y, ix, cbase, cj, mode)
    elif width == 2:
        _fold_pixels(px, step, q, 2, 2, y, ix, cbase, cj, mode)
    else:
        _fold_pixels(px, step, q, width, C, y, ix, cbase, cj, mode)


cdef inline void _fold_pixels(const char* px, Py_ssize_t step, Py_ssize_t q,
                              Py_ssize_t width, Py_ssize_t C, pool_t* y, idx_t* ix,
                              Py_ssize_t cbase, Py_ssize_t cj, row_t* mode) noexcept nogil:
    # q pixels `step` bytes apart, `width` contiguous channels each, into
    # entries i * C + k of y (and ix); candidate index cbase + i * cj.
    cdef Py_ssize_t i, k
    cdef const pool_t* v
    for i in range(q):
        v = <const pool_t*>(px + i * step)
        for k in range(width):
            if idx_t is NoIndex:
                _put(y + i * C, ix, k, v[k], 0, mode)
            else:
                _put(y + i * C, ix + i * C, k, v[k], cbase + i * cj, mode)


def forward3d(x5, params, out_dhw, indices, bint channels_last=False):
    """Pool a validated, non-empty (N, C, D, H, W) array.

    ``indices``: None (values only), "flat" (int64 (d * H + h) * W + w,
    PyTorch's) or "compact" (the layer's argmax cache: uint8 window-local
    offsets when the window has at most 256 positions, flat int64 otherwise).
    Outputs are stored channels-last when the input is (``channels_last``:
    the caller's layout, where the strides cannot tell).  Returns (y,
    indices or None), both (N, C, OD, OH, OW).
    """
    dtype = x5.dtype
    x5 = _kernel_input(x5)
    cdef bint cl = _channels_last(x5, channels_last)
    cdef Geom g = _geom(x5.shape[2:], x5.strides[2:], x5.itemsize, params, out_dhw)
    out_shape = x5.shape[:2] + tuple(out_dhw)
    y = _alloc(out_shape, x5.dtype, cl)
    idx = None
    cdef uint8_t* cache = NULL
    cdef int64_t* flat = NULL
    if indices == "compact" and _window_size(&g) <= _MAX_LOCAL:
        idx = _alloc(out_shape, np.uint8, cl)
        cache = <uint8_t*>_data(idx)
    elif indices is not None:
        idx = _alloc(out_shape, np.int64, cl)
        flat = <int64_t*>_data(idx)
    cdef Job j = _job(x5, y, cache, flat, &g)
    _dispatch(OP_FORWARD_CL if cl else OP_FORWARD, &j, y)
    return _result(y, dtype), idx


# ---------------------------------------------------------------- backward

cdef inline scat_t _add(scat_t a, scat_t b) noexcept nogil:
    if scat_t is uint16_t:
        return pooling_float_to_half(pooling_half_to_float(a) + pooling_half_to_float(b))
    else:
        return a + b


cdef inline void _move(scat_t* dst, scat_t v, move_t* how) noexcept nogil:
    if move_t is Add:
        dst[0] = _add(dst[0], v)
    else:
        dst[0] = v


# One scatter serves the backward from indices (Add) and unpooling (Put):
# zeros, then every source value moved to its index in output raster order,
# so overlapping windows sum to PyTorch's bits and, where indices repeat,
# the last write wins.  Out-of-range indices are counted, never written.

cdef Py_ssize_t _scatter(const scat_t* src, const int64_t* idx, scat_t* dst,
                         Py_ssize_t P, Py_ssize_t OS, Py_ssize_t S,
                         move_t* how) noexcept nogil:
    # Channels-first: P planes, OS sources and S destinations each.
    cdef Py_ssize_t p, o, bad = 0
    cdef int64_t j
    cdef bint parallel = P * (S + OS) >= _PARALLEL_MIN_WORK and P > 1
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        memset(dst + p * S, 0, S * sizeof(scat_t))
        for o in range(p * OS, (p + 1) * OS):
            j = idx[o]
            if j < 0 or j >= S:
                bad += 1
            else:
                _move(dst + p * S + j, src[o], how)
    return bad


# Channels-last scatters: tasks own a batch item and a block of channels, so
# no two write the same element, and each element still receives its adds in
# output raster order.

cdef inline Py_ssize_t _channel_blocks(Py_ssize_t N, Py_ssize_t C) noexcept nogil:
    # Enough tasks for every thread when the batch is small, each at least 16
    # channels wide so the inner loops stay long.
    cdef Py_ssize_t want = (_threads() + N - 1) // N
    return max(1, min(C // 16, want))


cdef Py_ssize_t _scatter_cl(const scat_t* src, const int64_t* idx, scat_t* dst,
                            Py_ssize_t N, Py_ssize_t OS, Py_ssize_t S, Py_ssize_t C,
                            move_t* how) noexcept nogil:
    # src, idx: (N, OS, C); dst: (N, S, C), zero-filled by the caller.
    cdef Py_ssize_t B = _channel_blocks(N, C), cb = (C + B - 1) // B
    cdef Py_ssize_t task, n, c0, c1, o, c, bad = 0
    cdef int64_t s
    cdef bint parallel = N * C * (S + OS) >= _PARALLEL_MIN_WORK and N * B > 1
    for task in prange(N * B, nogil=True, schedule="static", num_threads=_threads(),
                       use_threads_if=parallel):
        n = task // B
        c0 = (task - n * B) * cb
        c1 = min(C, c0 + cb)
        for o in range(n * OS, (n + 1) * OS):
            for c in range(c0, c1):
                s = idx[o * C + c]
                if s < 0 or s >= S:
                    bad += 1
                else:
                    _move(dst + (n * S + s) * C + c, src[o * C + c], how)
    return bad


cdef Py_ssize_t _scatter_as(scat_t* t, src, idx, dst, bint cl, bint add):
    # `t` only carries the element type (pass a NULL of it).
    cdef const scat_t* sp = <const scat_t*>_data(src)
    cdef scat_t* dp = <scat_t*>_data(dst)
    cdef const int64_t* ip = <const int64_t*>_data(idx)
    cdef Py_ssize_t n = src.shape[0], OS = src.shape[1], S = dst.shape[1]
    cdef Py_ssize_t C = src.shape[2] if cl else 1
    if cl:   # (N, OS, C) into (N, S, C)
        if add:
            return _scatter_cl(sp, ip, dp, n, OS, S, C, <Add*>NULL)
        return _scatter_cl(sp, ip, dp, n, OS, S, C, <Put*>NULL)
    if add:  # (P, OS) into (P, S)
        return _scatter(sp, ip, dp, n, OS, S, <Add*>NULL)
    return _scatter(sp, ip, dp, n, OS, S, <Put*>NULL)


cdef Py_ssize_t _scatter_into(src, idx, dst, bint cl, bint add):
    # The dtype ladder of the scatters.  Unpooling moves any dtype as raw
    # bits of its width; gradients add as float, double or half.
    cdef int size = src.dtype.itemsize
    if add and size == 4:
        return _scatter_as(<float*>NULL, src, idx, dst, cl, add)
    if add and size == 8:
        return _scatter_as(<double*>NULL, src, idx, dst, cl, add)
    if size == 1:
        return _scatter_as(<uint8_t*>NULL, src, idx, dst, cl, add)
    if size == 2:
        return _scatter_as(<uint16_t*>NULL, src, idx, dst, cl, add)
    if size == 4:
        return _scatter_as(<uint32_t*>NULL, src, idx, dst, cl, add)
    return _scatter_as(<uint64_t*>NULL, src, idx, dst, cl, add)


cdef inline Py_ssize_t _volume(spatial):
    d, h, w = spatial
    return d * h * w


def _planes(a):
    """(N*C, spatial) rows of an (N, C, ...) array; a copy only if needed."""
    return np.ascontiguousarray(a).reshape(a.shape[0] * a.shape[1], -1)


def _pixels(a, dtype=None):
    """(N, spatial, C) rows of an (N, C, ...) array stored channels-last; a
    copy only if it is not stored densely so (or not of ``dtype``)."""
    return np.ascontiguousarray(
        a.transpose(0, *range(2, a.ndim), 1), dtype=dtype).reshape(a.shape[0], -1, a.shape[1])


def _bits(a):
    return a.view(np.uint16) if a.dtype == np.float16 else a


def backward3d(g5, idx5, spatial, bint channels_last=False):
    """(grad_input, number of out-of-range indices) for flat int64 indices."""
    return _scatter3d(g5, idx5, spatial, channels_last, True)


def _scatter3d(x5, idx5, spatial, bint channels_last, bint add):
    shape = x5.shape[:2] + tuple(spatial)
    cdef Py_ssize_t bad
    if _channels_last(x5, channels_last) and _channels_last(idx5, channels_last):
        out = np.zeros(shape[:1] + shape[2:] + shape[1:2], dtype=x5.dtype)
        bad = _scatter_into(_pixels(x5), _pixels(idx5, np.int64),
                            out.reshape(shape[0], -1, shape[1]), True, add)
        return out.transpose(0, 4, 1, 2, 3), bad
    out = np.empty((shape[0] * shape[1], _volume(spatial)), dtype=x5.dtype)
    bad = _scatter_into(_planes(x5), np.ascontiguousarray(_planes(idx5), dtype=np.int64),
                        out, False, add)
    return out.reshape(shape), bad


# ------------------------------ backward from the layer's compact argmax

cdef inline void _unfold_k2(grad_t* row, const grad_t* go, const uint8_t* loc,
                            Py_ssize_t j0, Py_ssize_t j1, Py_ssize_t pw,
                            int target) noexcept nogil:
    # Non-overlapping 2-wide windows, stride 2: each column written once.
    # `zero + g` (not g) turns -0.0 into +0.0 exactly as 0 += g does.  The
    # offset is compared as an int: a 64-bit compare stops vectorisation.
    cdef Py_ssize_t j
    cdef grad_t zero = 0, v
    cdef int l
    for j in range(j0, j1):
        v = zero + go[j]
        l = loc[j] - target
        row[2 * j - pw] = v if l == 0 else zero
        row[2 * j - pw + 1] = v if l == 1 else zero


cdef void _unfold_row(grad_t* row, const grad_t* go, const uint8_t* loc,
                      int target, const Geom* g) noexcept nogil:
    # Write the window row whose offsets start at `target` of every output
    # column into input row `row`.
    cdef Py_ssize_t j, j0 = 0
    if g.hkind == H_K2S2:
        _unfold_k2(row, go, loc, g.jlo, g.jhi, g.pw, target)
        for j in range(0, g.jlo):
            _unfold_col(row, go, loc, j, target, g)
        j0 = g.jhi
    for j in range(j0, g.OW):
        _unfold_col(row, go, loc, j, target, g)


cdef inline void _unfold_col(grad_t* row, const grad_t* go, const uint8_t* loc,
                             Py_ssize_t j, int target, const Geom* g) noexcept nogil:
    cdef Py_ssize_t t, w
    cdef grad_t zero = 0
    for t in range(g.kw):
        w = j * g.sw - g.pw + t * g.dw
        if 0 <= w < g.W:
            row[w] = zero + go[j] if loc[j] == target + t else zero


cdef void _backward_compact_plane(const grad_t* go, const uint8_t* loc, grad_t* gi,
                                  const Geom* g, bint scatter, bint tiled) noexcept nogil:
    cdef Py_ssize_t orow, od, oh, ow, a, rr, d, h, ds, hs, o
    cdef int64_t base
    if scatter or not tiled:
        memset(gi, 0, g.D * g.H * g.W * sizeof(grad_t))
    if scatter:
        # Accumulate in output raster order (PyTorch's order, so overlapping
        # windows sum to the same bits) through the offset table.
        o = 0
        for od in range(g.OD):
            for oh in range(g.OH):
                base = ((od * g.sd - g.pd) * g.H + oh * g.sh - g.ph) * g.W - g.pw
                for ow in range(g.OW):
                    gi[base + ow * g.sw + g.delta[loc[o + ow]]] = _add(
                        gi[base + ow * g.sw + g.delta[loc[o + ow]]], go[o + ow])
                o += g.OW
        return
    if grad_t is not uint16_t:
        # Disjoint windows on long rows: every covered element written once.
        for orow in range(g.OD * g.OH):
            od = orow // g.OH
            oh = orow - od * g.OH
            ds = od * g.sd - g.pd
            hs = oh * g.sh - g.ph
            for a in range(g.kd):
                d = ds + a * g.dd
                if d < 0 or d >= g.D:
                    continue
                for rr in range(g.kh):
                    h = hs + rr * g.dh
                    if 0 <= h < g.H:
                        _unfold_row(gi + (d * g.H + h) * g.W, go + orow * g.OW,
                                    loc + orow * g.OW, (a * g.kh + rr) * g.kw, g)


cdef void _backward_compact(const grad_t[:, ::1] go, const uint8_t[:, ::1] loc,
                            grad_t[:, ::1] gi, const Geom* g) noexcept nogil:
    cdef Py_ssize_t P = go.shape[0], p
    cdef bint parallel = P * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    cdef bint overlap = _overlap(g)
    # Short rows leave the vectorised write-once loop mostly scalar (and
    # branchy); a zero fill plus scatter is branch-free and faster there.
    # float16 sums round at each addition: always the scatter.
    cdef bint scatter = overlap or g.OW < _WRITE_ONCE_MIN_OW or grad_t is uint16_t
    # Windows tile the volume exactly: no element is left for a zero fill.
    cdef bint tiled = (not overlap and g.pd == 0 and g.ph == 0 and g.pw == 0
                       and g.dd == 1 and g.dh == 1 and g.dw == 1
                       and g.kd == g.sd and g.kh == g.sh and g.kw == g.sw
                       and g.OD * g.sd == g.D and g.OH * g.sh == g.H
                       and g.OW * g.sw == g.W)
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        _backward_compact_plane(&go[p, 0], &loc[p, 0], &gi[p, 0], g, scatter, tiled)


cdef inline bint _overlap(const Geom* g) noexcept nogil:
    return ((g.kd - 1) * g.dd + 1 > g.sd or (g.kh - 1) * g.dh + 1 > g.sh
            or (g.kw - 1) * g.dw + 1 > g.sw)


cdef void _backward_compact_cl(const grad_t[:, :, ::1] go, const uint8_t[:, :, ::1] loc,
                               grad_t[:, :, ::1] gi, const Geom* g) noexcept nogil:
    # Channels-last, gi zero-filled by the caller: the scatter of
    # _scatter_cl, each channel's position read from the offset table.
    # Output pixels in raster order, so every sum is PyTorch's, bit for bit.
    cdef Py_ssize_t N = go.shape[0], C = go.shape[2]
    cdef Py_ssize_t B = _channel_blocks(N, C), cb = (C + B - 1) // B
    cdef Py_ssize_t task, n, c0, c1, r, ow, od, oh, o, c
    cdef int64_t base, s
    cdef bint parallel = N * C * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and N * B > 1
    for task in prange(N * B, nogil=True, schedule="static", num_threads=_threads(),
                       use_threads_if=parallel):
        n = task // B
        c0 = (task - n * B) * cb
        c1 = min(C, c0 + cb)
        for r in range(g.OD * g.OH):
            od = r // g.OH
            oh = r - od * g.OH
            for ow in range(g.OW):
                o = r * g.OW + ow
                base = ((od * g.sd - g.pd) * g.H + oh * g.sh - g.ph) * g.W + ow * g.sw - g.pw
                for c in range(c0, c1):
                    s = base + g.delta[loc[n, o, c]]
                    gi[n, s, c] = _add(gi[n, s, c], go[n, o, c])


def backward3d_compact(g5, cache5, params, spatial, bint channels_last=False):
    """Input gradient from the layer's cache (see forward3d)."""
    if cache5.dtype != np.uint8:  # windows over 256 positions: flat indices
        return backward3d(g5, cache5, spatial, channels_last)[0]
    shape = g5.shape[:2] + tuple(spatial)
    cdef Geom g = _geom(spatial, (0, 0, 1), 1, params, cache5.shape[2:])
    if _channels_last(g5, channels_last) and _channels_last(cache5, channels_last):
        gi = np.zeros(shape[:1] + shape[2:] + shape[1:2], dtype=g5.dtype)
        go, loc = _pixels(g5), _pixels(cache5)
        gv = gi.reshape(shape[0], -1, shape[1])
        if g5.dtype == np.float16:
            _backward_compact_cl[uint16_t](_bits(go), loc, _bits(gv), &g)
        elif g5.dtype == np.float32:
            _backward_compact_cl[float](go, loc, gv, &g)
        else:
            _backward_compact_cl[double](go, loc, gv, &g)
        return gi.transpose(0, 4, 1, 2, 3)
    go, loc = _planes(g5), _planes(cache5)
    gi = np.empty((go.shape[0], _volume(spatial)), dtype=g5.dtype)
    # The kernel table in _geom is about the input layout; for the gradient
    # (contiguous, element units) only the k2s2 unfold exists.
    g.hkind = H_K2S2 if (g.kw == 2 and g.sw == 2 and g.dw == 1) else H_GENERIC
    if g5.dtype == np.float16:
        _backward_compact[uint16_t](_bits(go), loc, _bits(gi), &g)
    elif g5.dtype == np.float32:
        _backward_compact[float](go, loc, gi, &g)
    else:
        _backward_compact[double](go, loc, gi, &g)
    return gi.reshape(shape)


# ---------------------------------------------------------------- unpool

def unpool3d(x5, idx5, spatial, bint channels_last=False):
    """(output, number of out-of-range indices) for validated arrays."""
    return _scatter3d(x5, idx5, spatial, channels_last, False)


# ---------------------------------------------------------------- adaptive

cdef void _adaptive_plane(const Job* j, const char* xp, pool_t* yp, int64_t* ip) noexcept nogil:
    # Windows differ in size, so one plain scan per output; the first element
    # seeds the max, then PyTorch's rule in scan order.
    cdef const Geom* g = j.g
    cdef Py_ssize_t od, oh, ow, d, h, w, bi, o
    cdef pool_t best, v
    for od in range(g.OD):
        for oh in range(g.OH):
            for ow in range(g.OW):
                d, h, w = j.a0[0][od], j.a0[1][oh], j.a0[2][ow]
                best = (<const pool_t*>(xp + d * g.xs_d + h * g.xs_h + w * g.xs_w))[0]
                bi = (d * g.H + h) * g.W + w
                for d in range(j.a0[0][od], j.a1[0][od]):
                    for h in range(j.a0[1][oh], j.a1[1][oh]):
                        for w in range(j.a0[2][ow], j.a1[2][ow]):
                            v = (<const pool_t*>(xp + d * g.xs_d + h * g.xs_h
                                                 + w * g.xs_w))[0]
                            if _takes(v, best):
                                best = v
                                bi = (d * g.H + h) * g.W + w
                o = ((od * g.OH + oh) * g.OW + ow) * j.ys_s
                yp[o] = best
                if ip != NULL:
                    ip[o] = bi


cdef void _adaptive(const Job* j, pool_t* y) noexcept nogil:
    cdef const Geom* g = j.g
    cdef Py_ssize_t P = j.N * j.C, p, n, c, o
    cdef bint parallel = P * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        n = p // j.C
        c = p - n * j.C
        o = n * j.ys_n + c * j.ys_c
        _adaptive_plane(j, j.x + n * j.xs_n + c * j.xs_c, y + o,
                        j.flat + o if j.flat != NULL else NULL)


def adaptive3d(x5, windows, bint want_indices, bint channels_last=False):
    """(y, int64 indices or None) of a validated, non-empty (N, C, D, H, W)
    array; ``windows`` holds (start, end) arrays for each spatial axis, window
    i spanning [start[i], end[i])."""
    dtype = x5.dtype
    x5 = _kernel_input(x5)
    cdef bint cl = _channels_last(x5, channels_last)
    bounds = [np.ascontiguousarray(a, dtype=np.int64) for pair in windows for a in pair]
    out = tuple(b.shape[0] for b in bounds[::2])
    shape = x5.shape[:2] + out
    y = _alloc(shape, x5.dtype, cl)
    idx = _alloc(shape, np.int64, cl) if want_indices else None
    cdef Geom g
    g.D, g.H, g.W = x5.shape[2:]
    g.xs_d, g.xs_h, g.xs_w = x5.strides[2:]
    g.OD, g.OH, g.OW = out
    cdef Job j = _job(x5, y, NULL,
                      <int64_t*>_data(idx) if idx is not None else NULL, &g)
    cdef int64_t[::1] b
    cdef int axis
    for axis in range(3):
        b = bounds[2 * axis]
        j.a0[axis] = &b[0]
        b = bounds[2 * axis + 1]
        j.a1[axis] = &b[0]
    _dispatch(OP_ADAPTIVE, &j, y)
    return _result(y, dtype), idx

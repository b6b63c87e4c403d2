# cython: language_level=3, boundscheck=False, wraparound=False
# cython: initializedcheck=False, cdivision=True, embedsignature=True
"""Max-pooling kernels: one pass computes the window max and its argmax, one
pass scatters gradients back.  Typed loops over raw pointers, GIL released,
planes spread over OpenMP threads.  Called through ``pooling._api``, which has
already validated every argument; nothing here allocates beyond the outputs.

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
    uint8_t    # window-local offset r * kw + c (the layer caches these)
    uint32_t   # the same, as wide as float32/int32 values
    int64_t    # flat position h * W + w in the plane: PyTorch's indices
    NoIndex

ctypedef fused row_t:
    Seed
    Merge

ctypedef fused grad_t:
    float
    double

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
    Py_ssize_t H, W, OH, OW
    Py_ssize_t kh, kw, sh, sw, ph, pw, dh, dw
    Py_ssize_t xs_h, xs_w          # byte strides of the input within a plane
    Py_ssize_t jlo, jhi            # output columns whose window lies inside [0, W)
    int hkind
    int64_t delta[_MAX_LOCAL]      # window-local offset -> offset in the plane


cdef Geom _geom(Py_ssize_t H, Py_ssize_t W, Py_ssize_t xs_h, Py_ssize_t xs_w,
                Py_ssize_t itemsize, params, out_hw):
    cdef Geom g
    g.H, g.W = H, W
    g.OH, g.OW = out_hw
    g.kh, g.kw = params.kernel_size
    g.sh, g.sw = params.stride
    g.ph, g.pw = params.padding
    g.dh, g.dw = params.dilation
    g.xs_h, g.xs_w = xs_h, xs_w
    # Python ints: floor division (cdivision would truncate negatives).
    pw, sw, last = <object>g.pw, <object>g.sw, <object>(W - 1 - (g.kw - 1) * g.dw)
    g.jlo = min(-(-pw // sw), g.OW)
    g.jhi = max(g.jlo, min(g.OW, (last + pw) // sw + 1))
    cdef Py_ssize_t o
    for o in range(min(g.kh * g.kw, _MAX_LOCAL)):
        g.delta[o] = (o // g.kw) * g.dh * W + (o % g.kw) * g.dw
    g.hkind = H_GENERIC
    if xs_w == itemsize and g.dw == 1:
        if g.kw == 2 and g.sw == 2:
            g.hkind = H_K2S2
        elif g.kw == 3 and g.sw == 2:
            g.hkind = H_K3S2
        elif g.kw == 2 and g.sw == 1:
            g.hkind = H_K2S1
        elif g.kw == 3 and g.sw == 1:
            g.hkind = H_K3S1
    return g


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


cdef void _emit(const idx_t* acc, Py_ssize_t oh, Py_ssize_t c0, Py_ssize_t c1,
                uint8_t* cache, int64_t* flat, const Geom* g) noexcept nogil:
    # Window-local offsets of columns [c0, c1) of output row oh, to the
    # layer's uint8 cache or to PyTorch's flat indices.
    cdef Py_ssize_t j
    cdef int64_t base = (oh * g.sh - g.ph) * g.W - g.pw
    if idx_t is uint8_t or idx_t is uint32_t:
        if cache != NULL:
            for j in range(c0, c1):
                cache[j] = <uint8_t>acc[j - c0]
        if flat != NULL:
            for j in range(c0, c1):
                flat[j] = base + j * g.sw + g.delta[acc[j - c0]]


cdef void _forward_rows(const char* xp, pool_t* yp, idx_t* acc, uint8_t* cache,
                        int64_t* flat, const Geom* g) noexcept nogil:
    # acc: a chunk of window-local offsets (uint8 or uint32, emitted to
    # cache/flat per chunk); int64_t: flat indices folded in place (windows
    # wider than 256 positions); NoIndex: values only.
    cdef Py_ssize_t oh, rr, h, hs, c0, c1, cbase, cj, ct
    cdef bint seeded
    cdef idx_t* ix = NULL
    for oh in range(g.OH):
        hs = oh * g.sh - g.ph
        c0 = 0
        while c0 < g.OW:
            c1 = min(c0 + _CHUNK, g.OW)
            if idx_t is int64_t:
                ix = flat + oh * g.OW + c0
            elif idx_t is NoIndex:
                pass
            else:
                ix = acc
            seeded = False
            # Windows are never empty (the Python layer refuses those
            # settings), so some row always seeds the accumulator.
            for rr in range(g.kh):
                h = hs + rr * g.dh
                if h < 0 or h >= g.H:
                    continue
                if idx_t is int64_t:
                    cbase, cj, ct = h * g.W - g.pw, g.sw, g.dw
                else:
                    cbase, cj, ct = rr * g.kw, 0, 1
                if seeded:
                    _fold_row(xp + h * g.xs_h, yp + oh * g.OW + c0, ix, c0, c1,
                              cbase, cj, ct, <Merge*>NULL, g)
                else:
                    _fold_row(xp + h * g.xs_h, yp + oh * g.OW + c0, ix, c0, c1,
                              cbase, cj, ct, <Seed*>NULL, g)
                    seeded = True
            if idx_t is uint8_t or idx_t is uint32_t:
                _emit(acc, oh, c0, c1, cache + oh * g.OW if cache != NULL else NULL,
                      flat + oh * g.OW if flat != NULL else NULL, g)
            c0 = c1


cdef void _forward_plane(const char* xp, pool_t* yp, uint8_t* cache, int64_t* flat,
                         const Geom* g) noexcept nogil:
    # The offset accumulator has the width of the values, so a vectorised
    # loop runs as many lanes as the values allow (4 for float32, where a
    # uint8 accumulator would force 16 and leave short rows scalar).
    cdef uint8_t acc8[_CHUNK]
    cdef uint32_t acc32[_CHUNK]
    if cache == NULL and flat == NULL:
        _forward_rows(xp, yp, <NoIndex*>NULL, NULL, NULL, g)
    elif g.kh * g.kw > _MAX_LOCAL:
        _forward_rows(xp, yp, <int64_t*>NULL, NULL, flat, g)
    elif pool_t is float or pool_t is int32_t or pool_t is uint32_t:
        _forward_rows(xp, yp, acc32, cache, flat, g)
    else:
        _forward_rows(xp, yp, acc8, cache, flat, g)


cdef void _forward(const pool_t[:, :, :, :] x, pool_t[:, :, :, ::1] y,
                   uint8_t* cache, int64_t* flat, const Geom* g) noexcept nogil:
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], P = N * C, p, n, c
    cdef Py_ssize_t plane_out = g.OH * g.OW
    cdef const char* base = <const char*>&x[0, 0, 0, 0]
    cdef pool_t* yb = &y[0, 0, 0, 0]
    cdef bint parallel = P * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        n = p // C
        c = p - n * C
        _forward_plane(base + n * x.strides[0] + c * x.strides[1],
                       yb + p * plane_out,
                       cache + p * plane_out if cache != NULL else NULL,
                       flat + p * plane_out if flat != NULL else NULL, g)


cdef _run_forward(x4, y, idx, Geom* g):
    # Fused cdef functions cannot be indexed by a runtime dtype: one typed
    # call per dtype.  idx: None, the layer's uint8 cache, or int64 indices.
    cdef str k = x4.dtype.kind
    cdef int size = x4.dtype.itemsize
    cdef uint8_t[:, :, :, ::1] iu
    cdef int64_t[:, :, :, ::1] il
    cdef uint8_t* cache = NULL
    cdef int64_t* flat = NULL
    if idx is not None and idx.dtype == np.uint8:
        iu = idx
        cache = &iu[0, 0, 0, 0]
    elif idx is not None:
        il = idx
        flat = &il[0, 0, 0, 0]
    if k == "f":
        if size == 4:
            _forward[float](x4, y, cache, flat, g)
        else:
            _forward[double](x4, y, cache, flat, g)
    elif k == "i":
        if size == 1:
            _forward[int8_t](x4, y, cache, flat, g)
        elif size == 2:
            _forward[int16_t](x4, y, cache, flat, g)
        elif size == 4:
            _forward[int32_t](x4, y, cache, flat, g)
        else:
            _forward[int64_t](x4, y, cache, flat, g)
    else:
        if size == 1:
            _forward[uint8_t](x4, y, cache, flat, g)
        elif size == 2:
            _forward[uint16_t](x4, y, cache, flat, g)
        elif size == 4:
            _forward[uint32_t](x4, y, cache, flat, g)
        else:
            _forward[uint64_t](x4, y, cache, flat, g)


def _kernel_input(x4):
    """The array the fused kernels read: float16 upcast (every float16 is
    exact in float32, and so is their max; the caller casts the result back),
    integers viewed as the fixed-width type of their size, so that np.longlong
    and friends need no specialisation of their own."""
    dtype = x4.dtype
    if dtype == np.float16:
        return x4.astype(np.float32)
    if dtype.kind in "iu":
        return x4.view(f"{dtype.kind}{dtype.itemsize}")
    return x4


def forward2d(x4, params, out_hw, indices):
    """Pool a validated, non-empty (N, C, H, W) array.

    ``indices``: None (values only), "flat" (int64 h * W + w, PyTorch's) or
    "cache" (the layer's argmax cache: uint8 window-local offsets when the
    window has at most 256 positions, flat int64 otherwise).
    Returns (y, indices or None).
    """
    dtype = x4.dtype
    x4 = _kernel_input(x4)
    cdef Geom g = _geom(x4.shape[2], x4.shape[3], x4.strides[2], x4.strides[3],
                        x4.itemsize, params, out_hw)
    out_shape = (x4.shape[0], x4.shape[1], g.OH, g.OW)
    y = np.empty(out_shape, dtype=x4.dtype)
    idx = None
    if indices == "cache" and g.kh * g.kw <= _MAX_LOCAL:
        idx = np.empty(out_shape, dtype=np.uint8)
    elif indices is not None:
        idx = np.empty(out_shape, dtype=np.int64)
    _run_forward(x4, y, idx, &g)
    if dtype == np.float16:
        y = y.astype(np.float16)
    return y, idx


# ---------------------------------------------------------------- backward

cdef Py_ssize_t _backward_plane(const grad_t* gp, const int64_t* ip, grad_t* gi,
                                Py_ssize_t HW, Py_ssize_t OHW) noexcept nogil:
    # Output raster order, as PyTorch accumulates: bit-identical sums where
    # windows overlap.  Out-of-range indices are counted, never written.
    cdef Py_ssize_t o, bad = 0
    cdef int64_t j
    memset(gi, 0, HW * sizeof(grad_t))
    for o in range(OHW):
        j = ip[o]
        if j < 0 or j >= HW:
            bad += 1
        else:
            gi[j] += gp[o]
    return bad


cdef Py_ssize_t _backward_plane_half(const uint16_t* gp, const int64_t* ip,
                                     uint16_t* gi, Py_ssize_t HW,
                                     Py_ssize_t OHW) noexcept nogil:
    # float16 adds round to half after every addition, as NumPy and PyTorch do.
    cdef Py_ssize_t o, bad = 0
    cdef int64_t j
    memset(gi, 0, HW * sizeof(uint16_t))
    for o in range(OHW):
        j = ip[o]
        if j < 0 or j >= HW:
            bad += 1
        else:
            gi[j] = pooling_float_to_half(pooling_half_to_float(gi[j])
                                          + pooling_half_to_float(gp[o]))
    return bad


cdef Py_ssize_t _backward(const grad_t[:, ::1] go, const int64_t[:, ::1] idx,
                          grad_t[:, ::1] gi) noexcept nogil:
    cdef Py_ssize_t P = go.shape[0], OHW = go.shape[1], HW = gi.shape[1], p
    cdef Py_ssize_t bad = 0
    cdef bint parallel = P * (HW + OHW) >= _PARALLEL_MIN_WORK and P > 1
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        bad += _backward_plane(&go[p, 0], &idx[p, 0], &gi[p, 0], HW, OHW)
    return bad


cdef Py_ssize_t _backward_half(const uint16_t[:, ::1] go, const int64_t[:, ::1] idx,
                               uint16_t[:, ::1] gi) noexcept nogil:
    cdef Py_ssize_t P = go.shape[0], OHW = go.shape[1], HW = gi.shape[1], p
    cdef Py_ssize_t bad = 0
    cdef bint parallel = P * (HW + OHW) >= _PARALLEL_MIN_WORK and P > 1
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        bad += _backward_plane_half(&go[p, 0], &idx[p, 0], &gi[p, 0], HW, OHW)
    return bad


def backward2d(g4, idx4, Py_ssize_t H, Py_ssize_t W):
    """(grad_input, number of out-of-range indices) for flat int64 indices."""
    N, C = g4.shape[0], g4.shape[1]
    P = N * C
    go = np.ascontiguousarray(g4).reshape(P, -1)
    ix = np.ascontiguousarray(idx4, dtype=np.int64).reshape(P, -1)
    gi = np.empty((P, H * W), dtype=g4.dtype)
    cdef Py_ssize_t bad
    if go.dtype == np.float16:
        bad = _backward_half(go.view(np.uint16), ix, gi.view(np.uint16))
    elif go.dtype == np.float32:
        bad = _backward[float](go, ix, gi)
    else:
        bad = _backward[double](go, ix, gi)
    return gi.reshape(N, C, H, W), bad


# -------------------------------------------- backward from the layer's cache

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
                      Py_ssize_t rr, const Geom* g) noexcept nogil:
    # Write window row rr of every output column into input row `row`.
    cdef Py_ssize_t j, j0 = 0
    cdef int target = rr * g.kw
    cdef grad_t zero = 0
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


cdef void _backward_cache_plane(const grad_t* go, const uint8_t* loc, grad_t* gi,
                                const Geom* g, bint scatter, bint tiled) noexcept nogil:
    cdef Py_ssize_t oh, ow, rr, h, hs, o
    if scatter or not tiled:
        memset(gi, 0, g.H * g.W * sizeof(grad_t))
    if scatter:
        # Accumulate in output raster order (PyTorch's order, so overlapping
        # windows sum to the same bits) through the offset table.
        for oh in range(g.OH):
            hs = (oh * g.sh - g.ph) * g.W - g.pw
            for ow in range(g.OW):
                o = oh * g.OW + ow
                gi[hs + ow * g.sw + g.delta[loc[o]]] += go[o]
        return
    # Disjoint windows on long rows: every covered element written once.
    for oh in range(g.OH):
        hs = oh * g.sh - g.ph
        for rr in range(g.kh):
            h = hs + rr * g.dh
            if 0 <= h < g.H:
                _unfold_row(gi + h * g.W, go + oh * g.OW, loc + oh * g.OW, rr, g)


cdef void _backward_cache(const grad_t[:, ::1] go, const uint8_t[:, ::1] loc,
                          grad_t[:, ::1] gi, const Geom* g) noexcept nogil:
    cdef Py_ssize_t P = go.shape[0], p
    cdef bint parallel = P * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    cdef bint overlap = (g.kh - 1) * g.dh + 1 > g.sh or (g.kw - 1) * g.dw + 1 > g.sw
    # Short rows leave the vectorised write-once loop mostly scalar (and
    # branchy); a zero fill plus scatter is branch-free and faster there.
    cdef bint scatter = overlap or g.OW < _WRITE_ONCE_MIN_OW
    # Windows tile the plane exactly: no element is left for a zero fill.
    cdef bint tiled = (not overlap and g.ph == 0 and g.pw == 0 and g.dh == 1
                       and g.dw == 1 and g.kh == g.sh and g.kw == g.sw
                       and g.OH * g.sh == g.H and g.OW * g.sw == g.W)
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        _backward_cache_plane(&go[p, 0], &loc[p, 0], &gi[p, 0], g, scatter, tiled)


cdef void _backward_cache_half(const uint16_t[:, ::1] go, const uint8_t[:, ::1] loc,
                               uint16_t[:, ::1] gi, const Geom* g) noexcept nogil:
    # float16 gradients: zero fill and scatter in raster order, each addition
    # rounded to half (see _backward_plane_half).
    cdef Py_ssize_t P = go.shape[0], p, oh, ow, o, hs, pos
    cdef bint parallel = P * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        memset(&gi[p, 0], 0, g.H * g.W * sizeof(uint16_t))
        for oh in range(g.OH):
            hs = (oh * g.sh - g.ph) * g.W - g.pw
            for ow in range(g.OW):
                o = oh * g.OW + ow
                pos = hs + ow * g.sw + g.delta[loc[p, o]]
                gi[p, pos] = pooling_float_to_half(pooling_half_to_float(gi[p, pos])
                                                   + pooling_half_to_float(go[p, o]))


def backward2d_cache(g4, cache4, params, Py_ssize_t H, Py_ssize_t W):
    """Input gradient from the layer's cache (see forward2d)."""
    if cache4.dtype != np.uint8:  # windows over 256 positions: flat indices
        return backward2d(g4, cache4, H, W)[0]
    N, C = g4.shape[0], g4.shape[1]
    P = N * C
    go = np.ascontiguousarray(g4).reshape(P, -1)
    loc = np.ascontiguousarray(cache4).reshape(P, -1)
    gi = np.empty((P, H * W), dtype=g4.dtype)
    cdef Geom g = _geom(H, W, W, 1, 1, params, cache4.shape[2:])
    # The kernel table above is about the input layout; for the gradient
    # plane (contiguous, element units) only the k2s2 unfold exists.
    g.hkind = H_K2S2 if (g.kw == 2 and g.sw == 2 and g.dw == 1) else H_GENERIC
    if go.dtype == np.float16:
        _backward_cache_half(go.view(np.uint16), loc, gi.view(np.uint16), &g)
    elif go.dtype == np.float32:
        _backward_cache[float](go, loc, gi, &g)
    else:
        _backward_cache[double](go, loc, gi, &g)
    return gi.reshape(N, C, H, W)


# ---------------------------------------------------------------- unpool

ctypedef fused bits_t:
    uint8_t
    uint16_t
    uint32_t
    uint64_t


cdef Py_ssize_t _unpool(const bits_t[:, ::1] x, const int64_t[:, ::1] idx,
                        bits_t[:, ::1] out) noexcept nogil:
    # Values are copied, never compared: any dtype moves as raw bits of its
    # width.  Output raster order, so where indices repeat the last one wins.
    cdef Py_ssize_t P = x.shape[0], n = x.shape[1], HW = out.shape[1], p, o
    cdef Py_ssize_t bad = 0
    cdef int64_t j
    cdef bint parallel = P * (HW + n) >= _PARALLEL_MIN_WORK and P > 1
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        memset(&out[p, 0], 0, HW * sizeof(bits_t))
        for o in range(n):
            j = idx[p, o]
            if j < 0 or j >= HW:
                bad += 1
            else:
                out[p, j] = x[p, o]
    return bad


def unpool2d(x4, idx4, Py_ssize_t H, Py_ssize_t W):
    """(output, number of out-of-range indices) for validated arrays."""
    N, C = x4.shape[0], x4.shape[1]
    P = N * C
    bits = f"u{x4.dtype.itemsize}"
    xs = np.ascontiguousarray(x4).reshape(P, -1)
    ix = np.ascontiguousarray(idx4, dtype=np.int64).reshape(P, -1)
    out = np.empty((P, H * W), dtype=x4.dtype)
    cdef Py_ssize_t bad
    if x4.dtype.itemsize == 1:
        bad = _unpool[uint8_t](xs.view(bits), ix, out.view(bits))
    elif x4.dtype.itemsize == 2:
        bad = _unpool[uint16_t](xs.view(bits), ix, out.view(bits))
    elif x4.dtype.itemsize == 4:
        bad = _unpool[uint32_t](xs.view(bits), ix, out.view(bits))
    else:
        bad = _unpool[uint64_t](xs.view(bits), ix, out.view(bits))
    return out.reshape(N, C, H, W), bad


# ---------------------------------------------------------------- adaptive

cdef void _adaptive_plane(const char* xp, Py_ssize_t xs_h, Py_ssize_t xs_w, Py_ssize_t W,
                          const int64_t* h0, const int64_t* h1, Py_ssize_t OH,
                          const int64_t* w0, const int64_t* w1, Py_ssize_t OW,
                          pool_t* yp, int64_t* ip) noexcept nogil:
    # Windows differ in size, so one plain scan per output; the first element
    # seeds the max, then PyTorch's rule in row-major order.
    cdef Py_ssize_t oh, ow, h, w, bi
    cdef pool_t best, v
    for oh in range(OH):
        for ow in range(OW):
            best = (<const pool_t*>(xp + h0[oh] * xs_h + w0[ow] * xs_w))[0]
            bi = h0[oh] * W + w0[ow]
            for h in range(h0[oh], h1[oh]):
                for w in range(w0[ow], w1[ow]):
                    v = (<const pool_t*>(xp + h * xs_h + w * xs_w))[0]
                    if _takes(v, best):
                        best = v
                        bi = h * W + w
            yp[oh * OW + ow] = best
            if ip != NULL:
                ip[oh * OW + ow] = bi


cdef void _adaptive(const pool_t[:, :, :, :] x, pool_t[:, :, :, ::1] y, int64_t* ib,
                    const int64_t[::1] h0, const int64_t[::1] h1,
                    const int64_t[::1] w0, const int64_t[::1] w1) noexcept nogil:
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], P = N * C, p, n, c
    cdef Py_ssize_t OH = h0.shape[0], OW = w0.shape[0], plane_out = OH * OW
    cdef const char* base = <const char*>&x[0, 0, 0, 0]
    cdef pool_t* yb = &y[0, 0, 0, 0]
    cdef bint parallel = P * x.shape[2] * x.shape[3] >= _PARALLEL_MIN_WORK and P > 1
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        n = p // C
        c = p - n * C
        _adaptive_plane(base + n * x.strides[0] + c * x.strides[1], x.strides[2],
                        x.strides[3], x.shape[3], &h0[0], &h1[0], OH, &w0[0], &w1[0], OW,
                        yb + p * plane_out, ib + p * plane_out if ib != NULL else NULL)


def adaptive2d(x4, rows, cols, bint want_indices):
    """(y, int64 indices or None) for windows [rows[0][i], rows[1][i]) x
    [cols[0][j], cols[1][j]) of a validated, non-empty (N, C, H, W) array."""
    dtype = x4.dtype
    x4 = _kernel_input(x4)
    h0, h1 = (np.ascontiguousarray(a, dtype=np.int64) for a in rows)
    w0, w1 = (np.ascontiguousarray(a, dtype=np.int64) for a in cols)
    shape = (x4.shape[0], x4.shape[1], h0.shape[0], w0.shape[0])
    y = np.empty(shape, dtype=x4.dtype)
    idx = np.empty(shape, dtype=np.int64) if want_indices else None
    cdef int64_t[:, :, :, ::1] il
    cdef int64_t* ib = NULL
    if idx is not None:
        il = idx
        ib = &il[0, 0, 0, 0]
    cdef str k = x4.dtype.kind
    cdef int size = x4.dtype.itemsize
    if k == "f":
        if size == 4:
            _adaptive[float](x4, y, ib, h0, h1, w0, w1)
        else:
            _adaptive[double](x4, y, ib, h0, h1, w0, w1)
    elif k == "i":
        if size == 1:
            _adaptive[int8_t](x4, y, ib, h0, h1, w0, w1)
        elif size == 2:
            _adaptive[int16_t](x4, y, ib, h0, h1, w0, w1)
        elif size == 4:
            _adaptive[int32_t](x4, y, ib, h0, h1, w0, w1)
        else:
            _adaptive[int64_t](x4, y, ib, h0, h1, w0, w1)
    else:
        if size == 1:
            _adaptive[uint8_t](x4, y, ib, h0, h1, w0, w1)
        elif size == 2:
            _adaptive[uint16_t](x4, y, ib, h0, h1, w0, w1)
        elif size == 4:
            _adaptive[uint32_t](x4, y, ib, h0, h1, w0, w1)
        else:
            _adaptive[uint64_t](x4, y, ib, h0, h1, w0, w1)
    if dtype == np.float16:
        y = y.astype(np.float16)
    return y, idx

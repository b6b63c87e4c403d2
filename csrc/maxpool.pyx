# cython: language_level=3, boundscheck=False, wraparound=False
# cython: initializedcheck=False, cdivision=True, embedsignature=True
"""Max-pooling kernels: one pass computes the window max and its argmax, one
pass scatters gradients back.  Typed loops over raw pointers, GIL released,
planes spread over OpenMP threads.  Called through ``pooling._api``, which has
already validated every argument; nothing here allocates beyond the outputs.
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

ctypedef fused grad_t:
    float
    double

# Below this many input elements a call stays on one thread: waking the pool
# costs more than the work.
cdef enum:
    _PARALLEL_MIN_WORK = 1 << 15

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


# ---------------------------------------------------------------- forward

cdef inline bint _takes(pool_t v, pool_t best) noexcept nogil:
    # PyTorch's rule: a strictly larger value, or any NaN, replaces the running
    # max; so ties keep the first maximum and the last NaN wins.
    if pool_t is float or pool_t is double:
        return v > best or v != v
    else:
        return v > best


cdef void _forward_plane(const char* xp, pool_t* yp, int64_t* ip,
                         const Geom* g) noexcept nogil:
    cdef Py_ssize_t oh, ow, h, w, h0, h1, w0, w1, bi
    cdef pool_t best, v
    for oh in range(g.OH):
        h0 = oh * g.sh - g.ph
        h1 = min(h0 + (g.kh - 1) * g.dh + 1, g.H)
        while h0 < 0:
            h0 += g.dh
        for ow in range(g.OW):
            w0 = ow * g.sw - g.pw
            w1 = min(w0 + (g.kw - 1) * g.dw + 1, g.W)
            while w0 < 0:
                w0 += g.dw
            # Windows are never empty (the Python layer refuses those
            # settings), so the first valid element seeds the running max.
            best = (<const pool_t*>(xp + h0 * g.xs_h + w0 * g.xs_w))[0]
            bi = h0 * g.W + w0
            h = h0
            while h < h1:
                w = w0
                while w < w1:
                    v = (<const pool_t*>(xp + h * g.xs_h + w * g.xs_w))[0]
                    if _takes(v, best):
                        best = v
                        bi = h * g.W + w
                    w += g.dw
                h += g.dh
            yp[oh * g.OW + ow] = best
            if ip != NULL:
                ip[oh * g.OW + ow] = bi


cdef void _forward(const pool_t[:, :, :, :] x, pool_t[:, :, :, ::1] y,
                   int64_t[:, :, :, ::1] idx, Geom* g) noexcept nogil:
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], P = N * C, p, n, c
    cdef Py_ssize_t plane_out = g.OH * g.OW
    cdef const char* base = <const char*>&x[0, 0, 0, 0]
    cdef pool_t* yb = &y[0, 0, 0, 0]
    cdef int64_t* ib = NULL
    cdef bint parallel = P * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    if idx is not None:
        ib = &idx[0, 0, 0, 0]
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        n = p // C
        c = p - n * C
        _forward_plane(base + n * x.strides[0] + c * x.strides[1],
                       yb + p * plane_out,
                       ib + p * plane_out if ib != NULL else NULL, g)


cdef Geom _geom(x4, params, out_hw):
    cdef Geom g
    g.H, g.W = x4.shape[2], x4.shape[3]
    g.OH, g.OW = out_hw
    g.kh, g.kw = params.kernel_size
    g.sh, g.sw = params.stride
    g.ph, g.pw = params.padding
    g.dh, g.dw = params.dilation
    g.xs_h, g.xs_w = x4.strides[2], x4.strides[3]
    return g


def forward2d(x4, params, out_hw, bint want_indices):
    """(y, indices or None) for a validated, non-empty (N, C, H, W) array."""
    cdef Geom g
    dtype = x4.dtype
    if dtype == np.float16:
        # Every float16 is exact in float32, and so is their max.
        x4 = x4.astype(np.float32)
    elif dtype.kind in "iu":
        # One fused specialisation per width: np.longlong and friends are
        # reinterpreted (a view) as the fixed-width type of the same size.
        x4 = x4.view(f"{dtype.kind}{dtype.itemsize}")
    g = _geom(x4, params, out_hw)   # byte strides of the array we read
    out_shape = (x4.shape[0], x4.shape[1], g.OH, g.OW)
    y = np.empty(out_shape, dtype=x4.dtype)
    idx = np.empty(out_shape, dtype=np.int64) if want_indices else None
    _dispatch_forward(x4, y, idx, &g)
    if dtype == np.float16:
        y = y.astype(np.float16)
    return y, idx


cdef _dispatch_forward(x4, y, idx, Geom* g):
    # Fused cdef functions cannot be indexed by a runtime dtype directly;
    # one typed call per dtype keeps the dispatch explicit.
    cdef str k = x4.dtype.kind
    cdef int size = x4.dtype.itemsize
    if k == "f":
        if size == 4:
            _forward[float](x4, y, idx, g)
        else:
            _forward[double](x4, y, idx, g)
    elif k == "i":
        if size == 1:
            _forward[int8_t](x4, y, idx, g)
        elif size == 2:
            _forward[int16_t](x4, y, idx, g)
        elif size == 4:
            _forward[int32_t](x4, y, idx, g)
        else:
            _forward[int64_t](x4, y, idx, g)
    else:
        if size == 1:
            _forward[uint8_t](x4, y, idx, g)
        elif size == 2:
            _forward[uint16_t](x4, y, idx, g)
        elif size == 4:
            _forward[uint32_t](x4, y, idx, g)
        else:
            _forward[uint64_t](x4, y, idx, g)


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
    """(grad_input, number of out-of-range indices) for validated arrays."""
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

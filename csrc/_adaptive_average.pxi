# Adaptive average pooling (Design O): PyTorch's channels-first sums, each
# window added sequentially in (d, h, w) order and divided by its extents in
# turn (sum / kd / kh / kw), in both layouts.  The GIL side first (arrays to
# Job and segments), then the forward's loops, then the backward's.
#
# A window's sum is one chain of dependent additions, so a loop over one
# window waits on the adder's latency.  The channels-first forward runs
# _AAVG_LANES windows at once instead (lanes: output columns of a row band,
# of one plane or of several), one addition per lane per window element,
# each lane's chain in its own order.  Channels-last, lanes are channels and
# the loops vectorise.  The backward is a gather: each input element's sum
# of its outputs' shares, in output raster order, written once.

from libc.string cimport memcpy

cdef enum:
    _AAVG_LANES = 8     # independent sums in flight (registers: 8 sums, 8 bases)
    _AAVG_PLANES = 8    # channels-first: planes per task (lanes span them)
    _BAND16_MAX_OW = 64 # _aavg_band16: output columns of a band's sums (stack)


# Compile-time switch: how a sum steps.
cdef struct Wide:         # round_t: in the sum type (float, double)
    char unused
cdef struct HalfStep:     # round_t: every addition and quotient rounded to
    char unused           # float16 (PyTorch's adaptive_avg_pool3d on half)

ctypedef fused round_t:
    Wide
    HalfStep

ctypedef fused avg_t:
    float
    double


# Per axis, the runs of input positions that the same outputs cover: run i
# starts at start[i] (run i + 1 where it ends; the last ends at the axis'
# length) and is covered by outputs [lo[i], hi[i]).  Every element of a run
# has the same gradient, so the backward computes one and copies it.
cdef struct Runs:
    const int64_t* start[3]
    const int64_t* lo[3]
    const int64_t* hi[3]
    Py_ssize_t n[3]


# ---------------------------------------------------------------- GIL side

def _adaptive_avg(x5, windows, int nd, bint channels_last, out):
    """adaptive_avg3d's body (see the entry point)."""
    dtype = x5.dtype
    x5 = _kernel_input(x5)
    cdef bint cl = _channels_last(x5, channels_last)
    bounds = [np.ascontiguousarray(a, dtype=np.int64) for pair in windows for a in pair]
    sizes = tuple(b.shape[0] for b in bounds[::2])
    shape = x5.shape[:2] + sizes
    y = _output(out, shape, x5.dtype, cl)
    cdef Geom g
    g.D, g.H, g.W = x5.shape[2:]
    g.xs_d, g.xs_h, g.xs_w = x5.strides[2:]
    g.OD, g.OH, g.OW = sizes
    cdef Job j = _job(x5, y, NULL, NULL, &g)
    _bounds_into(&j, bounds)
    # PyTorch's 3-D kernel sums half in half; 1-D and 2-D sum it in float.
    cdef bint half = dtype == np.float16 and nd == 3
    if x5.dtype == np.float64:
        _aavg_run(&j, <double*>_data(y), cl, <Wide*>NULL)
    elif half:
        _aavg_run(&j, <float*>_data(y), cl, <HalfStep*>NULL)
    else:
        _aavg_run(&j, <float*>_data(y), cl, <Wide*>NULL)
    return _result(y, dtype, out)


cdef _bounds_into(Job* j, bounds):
    # bounds: contiguous int64 (start, end) arrays per axis, kept alive by
    # the caller.
    cdef int64_t[::1] b
    cdef int axis
    for axis in range(3):
        b = bounds[2 * axis]
        j.a0[axis] = &b[0]
        b = bounds[2 * axis + 1]
        j.a1[axis] = &b[0]


def _runs(start, end, Py_ssize_t n):
    """(run starts, lo, hi) of an axis of n positions (see Runs)."""
    i = np.arange(n, dtype=np.int64)
    lo = np.searchsorted(end, i, side="right")     # first window ending after i
    hi = np.searchsorted(start, i, side="right")   # windows starting at or before i
    new = np.ones(n, dtype=bool)
    new[1:] = (lo[1:] != lo[:n - 1]) | (hi[1:] != hi[:n - 1])
    keep = np.flatnonzero(new)
    return keep.astype(np.int64), lo[keep].astype(np.int64), hi[keep].astype(np.int64)


def _adaptive_avg_backward(g5, windows, spatial, bint channels_last, out):
    """adaptive_avg_backward3d's body (see the entry point)."""
    dtype = g5.dtype
    work = np.dtype(np.float32) if dtype == np.float16 else dtype
    cdef bint cl = _channels_last(g5, channels_last)
    bounds = [np.ascontiguousarray(a, dtype=np.int64) for pair in windows for a in pair]
    # The shares grad / kd / kh / kw, in the layout the gather reads.
    go = _pixels(g5, work) if cl else np.ascontiguousarray(_planes(g5), dtype=work)
    share = np.empty_like(go)
    shape = g5.shape[:2] + tuple(spatial)
    gi = _target(out, work, cl) if dtype != np.float16 else None
    if gi is None:
        gi = _alloc(shape, work, cl)
    cdef Geom g
    g.D, g.H, g.W = spatial
    g.OD, g.OH, g.OW = g5.shape[2:]
    cdef Job j
    j.N, j.C = g5.shape[0], g5.shape[1]
    j.g = &g
    _bounds_into(&j, bounds)
    runs = [_runs(bounds[2 * a], bounds[2 * a + 1], spatial[a]) for a in range(3)]
    cdef Runs r
    cdef int64_t[::1] v
    cdef int axis
    for axis in range(3):
        v = runs[axis][0]
        r.start[axis] = &v[0]
        v = runs[axis][1]
        r.lo[axis] = &v[0]
        v = runs[axis][2]
        r.hi[axis] = &v[0]
        r.n[axis] = runs[axis][0].shape[0]
    if work == np.float64:
        _aavg_backward_run(&j, &r, <const double*>_data(go), <double*>_data(share),
                           <double*>_data(gi), cl, <Wide*>NULL)
    elif dtype == np.float16:
        _aavg_backward_run(&j, &r, <const float*>_data(go), <float*>_data(share),
                           <float*>_data(gi), cl, <HalfStep*>NULL)
    else:
        _aavg_backward_run(&j, &r, <const float*>_data(go), <float*>_data(share),
                           <float*>_data(gi), cl, <Wide*>NULL)
    return _result(gi, dtype, out)


# ------------------------------------------------------------ arithmetic

cdef inline float _half(float v) noexcept nogil:
    # v rounded to float16 (nearest even), as a float.
    return pooling_half_to_float(pooling_float_to_half(v))


cdef inline avg_t _plus(avg_t acc, avg_t v, round_t* r) noexcept nogil:
    # One step of a sequential sum.  Halves sum exactly in float before the
    # rounding (24 >= 2 * 11 + 2 bits): the half-precision addition's bits.
    if round_t is HalfStep:
        return _half(acc + v)
    return acc + v


cdef inline avg_t _over(avg_t v, int64_t n, round_t* r) noexcept nogil:
    # v / n as C++'s ``scalar_t / int64_t``: the divisor in v's type first
    # (c10::Half: rounded to half, the quotient computed in float and
    # rounded back).
    if round_t is HalfStep:
        return _half(v / _half(<float>n))
    return v / <avg_t>n


# ---------------------------------------------------------------- forward

cdef void _aavg_run(const Job* j, avg_t* y, bint cl, round_t* r) noexcept nogil:
    cdef const Geom* g = j.g
    cdef Py_ssize_t P = j.N * j.C, tasks, t, chunks
    cdef bint threaded = P * g.D * g.H * g.W >= _PARALLEL_MIN_WORK
    cdef Region rg
    if cl:  # one task per output row of each batch item
        tasks = j.N * g.OD * g.OH
        rg = _region_begin(threaded and tasks > 1)
        with parallel(num_threads=_threads(), use_threads_if=rg.on):
            _arrive(&rg)
            for t in prange(tasks, schedule="static"):
                _aavg_cl_row(j, y, t, r)
            _leave(&rg)
        _settle(&rg)
    elif (round_t is Wide and g.OD == 1 and g.OH == 1 and g.OW == 1
          and g.xs_w == sizeof(avg_t) and g.xs_h == g.W * g.xs_w
          and (g.D == 1 or g.xs_d == g.H * g.xs_h)):
        # Global pooling of contiguous planes: _CHUNK planes of an item a task.
        chunks = (j.C + _CHUNK - 1) // _CHUNK
        tasks = j.N * chunks
        rg = _region_begin(threaded and tasks > 1)
        with parallel(num_threads=_threads(), use_threads_if=rg.on):
            _arrive(&rg)
            for t in prange(tasks, schedule="static"):
                _aavg_global(j, y, t // chunks, t % chunks * _CHUNK)
            _leave(&rg)
        _settle(&rg)
    elif avg_t is float and round_t is Wide and _band16_fits(j):
        # One task per output row band of 16 planes, in vector lanes.
        tasks = (P + 15) // 16 * g.OD * g.OH
        rg = _region_begin(threaded and tasks > 1)
        with parallel(num_threads=_threads(), use_threads_if=rg.on):
            _arrive(&rg)
            for t in prange(tasks, schedule="static"):
                _aavg_band16(j, y, t)
            _leave(&rg)
        _settle(&rg)
    else:   # one task per output row band of _AAVG_PLANES planes
        tasks = (P + _AAVG_PLANES - 1) // _AAVG_PLANES * g.OD * g.OH
        rg = _region_begin(threaded and tasks > 1)
        with parallel(num_threads=_threads(), use_threads_if=rg.on):
            _arrive(&rg)
            for t in prange(tasks, schedule="static"):
                _aavg_band(j, y, t // (g.OD * g.OH) * _AAVG_PLANES, _AAVG_PLANES,
                           t % (g.OD * g.OH), r)
            _leave(&rg)
        _settle(&rg)


cdef void _aavg_global(const Job* j, avg_t* y, Py_ssize_t n, Py_ssize_t c0) noexcept nogil:
    # Planes [c0, c0 + _CHUNK) of item n, whole: one run each.
    cdef const Geom* g = j.g
    cdef avg_t acc[_CHUNK]
    cdef Py_ssize_t cn = min(_CHUNK, j.C - c0), c
    cdef const char* x = j.x + n * j.xs_n + c0 * j.xs_c
    cdef avg_t* yp = y + n * j.ys_n + c0 * j.ys_c
    cdef Py_ssize_t done
    if avg_t is float:   # AVX2 builds: 16 planes at a time in vector lanes first
        done = _runs16_float(x, j.xs_c, cn, g.D * g.H * g.W, acc)
        _runs_float(x + done * j.xs_c, j.xs_c, cn - done, g.D * g.H * g.W, acc + done)
    else:
        _runs_double(x, j.xs_c, cn, g.D * g.H * g.W, acc)
    # As _aavg_lanes: x / 1 is x; loops over the planes vectorise.
    if g.D != 1:
        for c in range(cn):
            acc[c] = acc[c] / <avg_t>g.D
    if g.H != 1:
        for c in range(cn):
            acc[c] = acc[c] / <avg_t>g.H
    for c in range(cn):
        acc[c] = acc[c] / <avg_t>g.W
    for c in range(cn):
        yp[c * j.ys_c] = acc[c]


cdef bint _band16_fits(const Job* j) noexcept nogil:
    # _aavg_band16's conditions: AVX2 (the baseline build's C returns 0),
    # contiguous rows, planes evenly spaced (items too), every window at
    # least 4 columns wide, the sums of a band's row in _band16_sums.
    cdef const Geom* g = j.g
    cdef Py_ssize_t ow
    if not _HAVE_BAND16 or g.xs_w != sizeof(float) or g.OW > _BAND16_MAX_OW:
        return False
    if j.N > 1 and j.xs_n != j.C * j.xs_c:
        return False
    for ow in range(g.OW):
        if j.a1[2][ow] - j.a0[2][ow] < 4:
            return False
    return True


cdef void _aavg_band16(const Job* j, float* y, Py_ssize_t task) noexcept nogil:
    # Output row (od, oh) of planes [p0, p0 + 16): vector lanes are planes,
    # each summing its windows in (d, h, w) order; a last group of fewer
    # planes goes to _aavg_band.
    cdef const Geom* g = j.g
    cdef Py_ssize_t P = j.N * j.C
    cdef Py_ssize_t row = task % (g.OD * g.OH), p0 = task // (g.OD * g.OH) * 16
    cdef Py_ssize_t oh = row % g.OH, od = row // g.OH
    cdef Py_ssize_t d0 = j.a0[0][od], d1 = j.a1[0][od], h0 = j.a0[1][oh], h1 = j.a1[1][oh]
    cdef Py_ssize_t ow, q, n, c, kd = d1 - d0, kh = h1 - h0, kw
    cdef Py_ssize_t s = (od * g.OH + oh) * g.OW
    cdef float sums[_BAND16_MAX_OW * 16]
    cdef float v
    cdef float* dst
    if P - p0 < 16:
        _aavg_band(j, y, p0, P - p0, row, <Wide*>NULL)
        return
    n = p0 // j.C
    c = p0 - n * j.C
    _band16_sums(j.x + n * j.xs_n + c * j.xs_c + d0 * g.xs_d + h0 * g.xs_h, j.xs_c,
                 kd, g.xs_d, kh, g.xs_h, g.OW, j.a0[2], j.a1[2], sums)
    # x / 1 is x: the divisions by 1 left out, as in _aavg_lanes.
    for q in range(16):
        dst = y + n * j.ys_n + c * j.ys_c + s * j.ys_s
        for ow in range(g.OW):
            v = sums[ow * 16 + q]
            if kd != 1:
                v = v / <float>kd
            if kh != 1:
                v = v / <float>kh
            kw = j.a1[2][ow] - j.a0[2][ow]
            dst[ow * j.ys_s] = v / <float>kw
        c += 1
        if c == j.C:
            c = 0
            n += 1


cdef void _aavg_band(const Job* j, avg_t* y, Py_ssize_t p0, Py_ssize_t np_,
                     Py_ssize_t row, round_t* r) noexcept nogil:
    # Output row (od, oh) = divmod(row, OH) of planes [p0, p0 + np_) (fewer
    # past the last): its lanes are (plane, column) pairs in that order,
    # _AAVG_LANES at a time.  All share the rows of the band; their widths
    # may differ.
    cdef const Geom* g = j.g
    cdef Py_ssize_t P = j.N * j.C
    cdef Py_ssize_t oh = row % g.OH, od = row // g.OH
    cdef Py_ssize_t p1 = min(p0 + np_, P), lanes = (p1 - p0) * g.OW
    cdef Py_ssize_t d0 = j.a0[0][od], d1 = j.a1[0][od], h0 = j.a0[1][oh], h1 = j.a1[1][oh]
    cdef Py_ssize_t l0, q, n, c, ow, w0, pf
    cdef const char* base[_AAVG_LANES]
    cdef avg_t* dst[_AAVG_LANES]
    cdef Py_ssize_t width[_AAVG_LANES]
    cdef Py_ssize_t s = (od * g.OH + oh) * g.OW
    # Rows (and depth slices) that are whole and contiguous run on as one
    # row: global pooling then adds along one stream per lane.
    cdef Py_ssize_t nd = d1 - d0, sd = g.xs_d, nh = h1 - h0, sh = g.xs_h
    cdef bint whole_rows = g.OW == 1 and g.xs_h == g.W * g.xs_w
    cdef const char* corner = j.x + d0 * g.xs_d + h0 * g.xs_h
    n = p0 // j.C
    c = p0 - n * j.C
    ow = 0
    l0 = 0
    while l0 < lanes:
        # Lane l0 + q is (plane, column) (n * C + c, ow), stepped without
        # divisions (they cost more than a global pool's sums); lanes past
        # the end repeat the last.
        for q in range(_AAVG_LANES):
            if l0 + q >= lanes:
                base[q] = base[q - 1]
                width[q] = width[q - 1]
                dst[q] = dst[q - 1]
                continue
            w0 = j.a0[2][ow]
            base[q] = corner + n * j.xs_n + c * j.xs_c + w0 * g.xs_w
            width[q] = j.a1[2][ow] - w0
            dst[q] = y + n * j.ys_n + c * j.ys_c + (s + ow) * j.ys_s
            ow += 1
            if ow == g.OW:
                ow = 0
                c += 1
                if c == j.C:
                    c = 0
                    n += 1
        if whole_rows:   # lanes are planes: the next task's are _AAVG_LANES on
            pf = _AAVG_LANES * j.xs_c
            if h0 == 0 and h1 == g.H and (nd == 1 or g.xs_d == g.H * g.xs_h):
                _aavg_lanes(base, width, dst, 1, 0, 1, 0, nd * nh * g.W, g.xs_w,
                            nd, nh, pf, r)
            else:
                _aavg_lanes(base, width, dst, nd, sd, 1, 0, nh * g.W, g.xs_w, nd, nh, pf, r)
        else:            # the next task is the next row band
            _aavg_lanes(base, width, dst, nd, sd, nh, sh, 0, g.xs_w, nd, nh, nh * sh, r)
        l0 += _AAVG_LANES


cdef extern from *:
    """
    /* The lane sums of _aavg_lanes for float and double, written in C so
       that every lane's sum and base pointer stays in a register: in the
       Cython loop GCC spilled half the pointers, and the loop ran at half
       speed.  Not vectorised: GCC would pack the 8 lanes' scalar loads
       into vectors, three shuffles per vector add, slower than 8 scalar
       additions.  Rows as _aavg_lanes describes them; each cache line of a
       contiguous row is fetched pf bytes ahead first (the next task's, for
       the memory system to overlap with these additions); out: the 8
       sums. */
    #if defined(__GNUC__) && !defined(__clang__)
    #define POOLING_NOINLINE __attribute__((noinline, optimize("no-tree-vectorize")))
    #elif defined(__clang__)
    #define POOLING_NOINLINE __attribute__((noinline))
    #else
    #define POOLING_NOINLINE
    #endif
    #define POOLING_R8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
    #define POOLING_AAVG_LANES(T, NAME)                                            \
    static POOLING_NOINLINE void NAME(const char* const* base, const Py_ssize_t* k, \
            Py_ssize_t nd, Py_ssize_t sd, Py_ssize_t nh, Py_ssize_t sh,             \
            Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t sw, Py_ssize_t pf, T* out)    \
    {                                                                              \
        const T nz = -0.0;                                                         \
        Py_ssize_t a, h, t;                                                        \
        POOLING_R8(POOLING_AAVG_DECL_SUM)                                          \
        for (a = 0; a < nd; a++)                                                   \
            for (h = 0; h < nh; h++) {                                             \
                Py_ssize_t o = a * sd + h * sh;                                    \
                POOLING_R8(POOLING_AAVG_DECL_PTR)                                  \
                if (sw == (Py_ssize_t)sizeof(T)) {                                 \
                    Py_ssize_t t0, t1;                                             \
                    for (t0 = 0; t0 < lo; t0 = t1) {                               \
                        t1 = t0 + 64 / (Py_ssize_t)sizeof(T) < lo ?                \
                             t0 + 64 / (Py_ssize_t)sizeof(T) : lo;                 \
                        POOLING_R8(POOLING_AAVG_FETCH)                             \
                        for (t = t0; t < t1; t++) {                                \
                            POOLING_R8(POOLING_AAVG_ADD_AT)                        \
                        }                                                          \
                    }                                                              \
                } else {                                                           \
                    for (t = 0; t < lo; t++) {                                     \
                        POOLING_R8(POOLING_AAVG_ADD_STEP)                          \
                    }                                                              \
                }                                                                  \
                for (t = lo; t < hi; t++) {                                        \
                    POOLING_R8(POOLING_AAVG_ADD_EXTRA)                             \
                }                                                                  \
            }                                                                      \
        POOLING_R8(POOLING_AAVG_STORE)                                             \
    }
    #define POOLING_AAVG_DECL_SUM(q) __typeof__(*out) s##q = 0;
    #define POOLING_AAVG_DECL_PTR(q) const char* b##q = base[q] + o;
    #define POOLING_AAVG_FETCH(q) POOLING_PREFETCH(b##q + t0 * sw + pf);
    #define POOLING_AAVG_ADD_AT(q) s##q += ((const __typeof__(*out)*)b##q)[t];
    #define POOLING_AAVG_ADD_STEP(q) s##q += *(const __typeof__(*out)*)b##q; b##q += sw;
    #define POOLING_AAVG_ADD_EXTRA(q) \
        s##q += t < k[q] ? *(const __typeof__(*out)*)(base[q] + o + t * sw) : nz;
    #define POOLING_AAVG_STORE(q) out[q] = s##q;
    POOLING_AAVG_LANES(float, pooling_aavg_lanes_float)
    POOLING_AAVG_LANES(double, pooling_aavg_lanes_double)
    /* Global pooling of n contiguous planes of run elements, ps bytes
       apart: the sums (out[i], plane i), 8 planes at once, without
       _aavg_lanes's setup per 8 lanes (as costly as the sums there). */
    #define POOLING_AAVG_RUNS(T, NAME)                                             \
    static POOLING_NOINLINE void NAME(const char* x, Py_ssize_t ps, Py_ssize_t n,  \
                                      Py_ssize_t run, T* out)                      \
    {                                                                              \
        const Py_ssize_t pf = 8 * ps;                                              \
        Py_ssize_t p, t, t0, t1;                                                   \
        for (p = 0; p + 8 <= n; p += 8) {                                          \
            const char* const base0 = x + p * ps;                                  \
            POOLING_R8(POOLING_AAVG_DECL_SUM)                                      \
            POOLING_R8(POOLING_AAVG_RUN_PTR)                                       \
            for (t0 = 0; t0 < run; t0 = t1) {                                      \
                const Py_ssize_t sw = (Py_ssize_t)sizeof(T);                       \
                t1 = t0 + 64 / sw < run ? t0 + 64 / sw : run;                      \
                POOLING_R8(POOLING_AAVG_FETCH)                                     \
                for (t = t0; t < t1; t++) {                                        \
                    POOLING_R8(POOLING_AAVG_ADD_AT)                                \
                }                                                                  \
            }                                                                      \
            POOLING_R8(POOLING_AAVG_RUN_STORE)                                     \
        }                                                                          \
        for (; p < n; p++) {                                                       \
            const T* b = (const T*)(x + p * ps);                                   \
            T s = 0;                                                               \
            for (t = 0; t < run; t++)                                              \
                s += b[t];                                                         \
            out[p] = s;                                                            \
        }                                                                          \
    }
    #define POOLING_AAVG_RUN_PTR(q) const char* b##q = base0 + q * ps;
    #define POOLING_AAVG_RUN_STORE(q) out[p + q] = s##q;
    POOLING_AAVG_RUNS(float, pooling_aavg_runs_float)
    POOLING_AAVG_RUNS(double, pooling_aavg_runs_double)
    #if defined(__AVX2__)
    #include <immintrin.h>
    /* Planes k and k + 4 (ps bytes apart), elements t..t+3 of each. */
    static inline __m256 pooling_aavg_pair(const char* b, Py_ssize_t ps, Py_ssize_t t)
    {
        return _mm256_insertf128_ps(
            _mm256_castps128_ps256(_mm_loadu_ps((const float*)b + t)),
            _mm_loadu_ps((const float*)(b + 4 * ps) + t), 1);
    }
    /* Vector lanes are planes, 8 a vector, two vectors at once: four
       elements of each plane transposed into four vectors (in-lane 4x4
       transposes), added one after the other, so each lane still sums its
       plane in order.  Returns how many planes (a multiple of 16) it
       summed; the rest are pooling_aavg_runs_float's. */
    static POOLING_NOINLINE Py_ssize_t pooling_aavg_runs16_float(
            const char* x, Py_ssize_t ps, Py_ssize_t n, Py_ssize_t run, float* out)
    {
        Py_ssize_t p, t, q, run4 = run & ~(Py_ssize_t)3;
        float s[16];
        for (p = 0; p + 16 <= n; p += 16) {
            const char* b = x + p * ps;
            const char* c = b + 8 * ps;
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
            for (t = 0; t < run4; t += 4) {
                if ((t & 15) == 0)      /* the next 16 planes' line */
                    for (q = 0; q < 16; q++)
                        POOLING_PREFETCH(b + (16 + q) * ps + t * 4);
                __m256 r0 = pooling_aavg_pair(b, ps, t), r1 = pooling_aavg_pair(b + ps, ps, t);
                __m256 r2 = pooling_aavg_pair(b + 2 * ps, ps, t);
                __m256 r3 = pooling_aavg_pair(b + 3 * ps, ps, t);
                __m256 u0 = pooling_aavg_pair(c, ps, t), u1 = pooling_aavg_pair(c + ps, ps, t);
                __m256 u2 = pooling_aavg_pair(c + 2 * ps, ps, t);
                __m256 u3 = pooling_aavg_pair(c + 3 * ps, ps, t);
                __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
                __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
                __m256 v0 = _mm256_unpacklo_ps(u0, u1), v1 = _mm256_unpackhi_ps(u0, u1);
                __m256 v2 = _mm256_unpacklo_ps(u2, u3), v3 = _mm256_unpackhi_ps(u2, u3);
                a0 = _mm256_add_ps(a0, _mm256_shuffle_ps(t0, t2, 0x44));
                a1 = _mm256_add_ps(a1, _mm256_shuffle_ps(v0, v2, 0x44));
                a0 = _mm256_add_ps(a0, _mm256_shuffle_ps(t0, t2, 0xEE));
                a1 = _mm256_add_ps(a1, _mm256_shuffle_ps(v0, v2, 0xEE));
                a0 = _mm256_add_ps(a0, _mm256_shuffle_ps(t1, t3, 0x44));
                a1 = _mm256_add_ps(a1, _mm256_shuffle_ps(v1, v3, 0x44));
                a0 = _mm256_add_ps(a0, _mm256_shuffle_ps(t1, t3, 0xEE));
                a1 = _mm256_add_ps(a1, _mm256_shuffle_ps(v1, v3, 0xEE));
            }
            _mm256_storeu_ps(s, a0);
            _mm256_storeu_ps(s + 8, a1);
            for (q = 0; q < 16; q++) {
                const float* e = (const float*)(b + q * ps);
                float v = s[q];
                for (t = run4; t < run; t++)
                    v += e[t];
                out[p + q] = v;
            }
        }
        return p;
    }
    /* Elements t..t+3 of 16 planes (ps bytes apart, from b), transposed:
       e[i] holds element t + i of planes 0-7, f[i] of planes 8-15. */
    static inline void pooling_aavg_t16(const char* b, Py_ssize_t ps, Py_ssize_t t,
                                        __m256* e, __m256* f)
    {
        const char* c = b + 8 * ps;
        __m256 r0 = pooling_aavg_pair(b, ps, t), r1 = pooling_aavg_pair(b + ps, ps, t);
        __m256 r2 = pooling_aavg_pair(b + 2 * ps, ps, t);
        __m256 r3 = pooling_aavg_pair(b + 3 * ps, ps, t);
        __m256 u0 = pooling_aavg_pair(c, ps, t), u1 = pooling_aavg_pair(c + ps, ps, t);
        __m256 u2 = pooling_aavg_pair(c + 2 * ps, ps, t);
        __m256 u3 = pooling_aavg_pair(c + 3 * ps, ps, t);
        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
        __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        __m256 v0 = _mm256_unpacklo_ps(u0, u1), v1 = _mm256_unpackhi_ps(u0, u1);
        __m256 v2 = _mm256_unpacklo_ps(u2, u3), v3 = _mm256_unpackhi_ps(u2, u3);
        e[0] = _mm256_shuffle_ps(t0, t2, 0x44);
        e[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
        e[2] = _mm256_shuffle_ps(t1, t3, 0x44);
        e[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
        f[0] = _mm256_shuffle_ps(v0, v2, 0x44);
        f[1] = _mm256_shuffle_ps(v0, v2, 0xEE);
        f[2] = _mm256_shuffle_ps(v1, v3, 0x44);
        f[3] = _mm256_shuffle_ps(v1, v3, 0xEE);
    }
    /* The window sums of one output row of 16 planes (ps bytes apart, from
       x, the band's first element): nd x nh rows (byte strides sd, sh),
       window o's columns [w0[o], w1[o]) (at least 4), contiguous.  Row by
       row, each row's windows left to right: the reads stream along each
       plane's rows, and the windows' sums are independent chains.  Each
       lane adds its plane's elements in (d, h, w) order; a window's last
       1-3 columns come from the 4 ending at w1 (all inside the window).
       out[16 o + q]: window o's sum in plane q. */
    #define POOLING_HAVE_BAND16 1
    static POOLING_NOINLINE void pooling_aavg_band16_float(
            const char* x, Py_ssize_t ps, Py_ssize_t nd, Py_ssize_t sd, Py_ssize_t nh,
            Py_ssize_t sh, Py_ssize_t nw, const int64_t* w0, const int64_t* w1, float* out)
    {
        Py_ssize_t a, h, o, t, e1;
        __m256 e[4], f[4];
        for (o = 0; o < nw; o++) {
            _mm256_storeu_ps(out + 16 * o, _mm256_setzero_ps());
            _mm256_storeu_ps(out + 16 * o + 8, _mm256_setzero_ps());
        }
        for (a = 0; a < nd; a++)
            for (h = 0; h < nh; h++) {
                const char* b = x + a * sd + h * sh;
                for (o = 0; o < nw; o++) {
                    __m256 s0 = _mm256_loadu_ps(out + 16 * o);
                    __m256 s1 = _mm256_loadu_ps(out + 16 * o + 8);
                    e1 = (Py_ssize_t)w1[o];
                    for (t = (Py_ssize_t)w0[o]; t + 4 <= e1; t += 4) {
                        pooling_aavg_t16(b, ps, t, e, f);
                        s0 = _mm256_add_ps(s0, e[0]);
                        s1 = _mm256_add_ps(s1, f[0]);
                        s0 = _mm256_add_ps(s0, e[1]);
                        s1 = _mm256_add_ps(s1, f[1]);
                        s0 = _mm256_add_ps(s0, e[2]);
                        s1 = _mm256_add_ps(s1, f[2]);
                        s0 = _mm256_add_ps(s0, e[3]);
                        s1 = _mm256_add_ps(s1, f[3]);
                    }
                    if (t < e1) {
                        Py_ssize_t i;
                        pooling_aavg_t16(b, ps, e1 - 4, e, f);
                        for (i = 4 - (e1 - t); i < 4; i++) {
                            s0 = _mm256_add_ps(s0, e[i]);
                            s1 = _mm256_add_ps(s1, f[i]);
                        }
                    }
                    _mm256_storeu_ps(out + 16 * o, s0);
                    _mm256_storeu_ps(out + 16 * o + 8, s1);
                }
            }
    }
    #else
    static Py_ssize_t pooling_aavg_runs16_float(
            const char* x, Py_ssize_t ps, Py_ssize_t n, Py_ssize_t run, float* out)
    {
        (void)x; (void)ps; (void)n; (void)run; (void)out;
        return 0;
    }
    /* Never called: _band16_fits is false without AVX2. */
    #define POOLING_HAVE_BAND16 0
    static void pooling_aavg_band16_float(
            const char* x, Py_ssize_t ps, Py_ssize_t nd, Py_ssize_t sd, Py_ssize_t nh,
            Py_ssize_t sh, Py_ssize_t nw, const int64_t* w0, const int64_t* w1, float* out)
    {
        (void)x; (void)ps; (void)nd; (void)sd; (void)nh; (void)sh; (void)nw;
        (void)w0; (void)w1; (void)out;
    }
    #endif
    """
    bint _HAVE_BAND16 "POOLING_HAVE_BAND16"
    void _band16_sums "pooling_aavg_band16_float"(
        const char* x, Py_ssize_t ps, Py_ssize_t nd, Py_ssize_t sd, Py_ssize_t nh,
        Py_ssize_t sh, Py_ssize_t nw, const int64_t* w0, const int64_t* w1,
        float* out) noexcept nogil
    Py_ssize_t _runs16_float "pooling_aavg_runs16_float"(
        const char* x, Py_ssize_t ps, Py_ssize_t n, Py_ssize_t run, float* out) noexcept nogil
    void _runs_float "pooling_aavg_runs_float"(
        const char* x, Py_ssize_t ps, Py_ssize_t n, Py_ssize_t run, float* out) noexcept nogil
    void _runs_double "pooling_aavg_runs_double"(
        const char* x, Py_ssize_t ps, Py_ssize_t n, Py_ssize_t run, double* out) noexcept nogil
    void _lanes_float "pooling_aavg_lanes_float"(
        const char** base, const Py_ssize_t* k, Py_ssize_t nd, Py_ssize_t sd, Py_ssize_t nh,
        Py_ssize_t sh, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t sw, Py_ssize_t pf,
        float* out) noexcept nogil
    void _lanes_double "pooling_aavg_lanes_double"(
        const char** base, const Py_ssize_t* k, Py_ssize_t nd, Py_ssize_t sd, Py_ssize_t nh,
        Py_ssize_t sh, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t sw, Py_ssize_t pf,
        double* out) noexcept nogil


cdef inline void _aavg_lanes(const char** base, const Py_ssize_t* width, avg_t** dst,
                             Py_ssize_t nd, Py_ssize_t sd, Py_ssize_t nh, Py_ssize_t sh,
                             Py_ssize_t run, Py_ssize_t sw, Py_ssize_t kd, Py_ssize_t kh,
                             Py_ssize_t pf, round_t* r) noexcept nogil:
    # _AAVG_LANES sums over nd x nh rows (byte strides sd, sh) of each lane's
    # width (run, if not 0: every lane's, its rows whole), elements sw bytes
    # apart.  The columns all lanes have are added lane by lane for each
    # column; a lane's extra column (widths differ by one or more) reads
    # -0.0 past its end in the others, which leaves any sum as it is.
    cdef avg_t acc[_AAVG_LANES]
    cdef Py_ssize_t k[_AAVG_LANES]
    cdef Py_ssize_t q, a, h, t, o, lo, hi
    cdef avg_t nz = -0.0
    cdef const char* zero = <const char*>&nz
    for q in range(_AAVG_LANES):
        acc[q] = 0
        k[q] = width[q] if run == 0 else run
    lo = k[0]
    hi = k[0]
    for q in range(1, _AAVG_LANES):
        lo = min(lo, k[q])
        hi = max(hi, k[q])
    if round_t is Wide:
        if avg_t is float:
            _lanes_float(base, k, nd, sd, nh, sh, lo, hi, sw, pf, acc)
        else:
            _lanes_double(base, k, nd, sd, nh, sh, lo, hi, sw, pf, acc)
    else:   # float16 steps: rare (3-D half), plain loops
        for a in range(nd):
            for h in range(nh):
                o = a * sd + h * sh
                for t in range(hi):
                    for q in range(_AAVG_LANES):
                        acc[q] = _plus(acc[q], (<const avg_t*>(
                            base[q] + o + t * sw if t < k[q] else zero))[0], r)
    # Divisions as loops over the lanes (vector divisions); x / 1 is x.
    if kd != 1:
        for q in range(_AAVG_LANES):
            acc[q] = _over(acc[q], kd, r)
    if kh != 1:
        for q in range(_AAVG_LANES):
            acc[q] = _over(acc[q], kh, r)
    if lo == hi:
        for q in range(_AAVG_LANES):
            acc[q] = _over(acc[q], width[0], r)
    else:
        for q in range(_AAVG_LANES):
            acc[q] = _over(acc[q], width[q], r)
    for q in range(_AAVG_LANES):
        dst[q][0] = acc[q]


cdef void _aavg_cl_row(const Job* j, avg_t* y, Py_ssize_t task, round_t* r) noexcept nogil:
    # Channels-last: output row (n, od, oh); each output pixel's channels
    # are lanes, _CHUNK at a time, summing the window's pixels in order.
    cdef const Geom* g = j.g
    cdef Py_ssize_t oh = task % g.OH, rest = task // g.OH
    cdef Py_ssize_t od = rest % g.OD, n = rest // g.OD
    cdef Py_ssize_t d0 = j.a0[0][od], d1 = j.a1[0][od], h0 = j.a0[1][oh], h1 = j.a1[1][oh]
    cdef Py_ssize_t ow, w0, w1, c0, cn, c, d, h, w
    cdef avg_t acc[_CHUNK]
    cdef const avg_t* px
    cdef avg_t* yp
    for ow in range(g.OW):
        w0 = j.a0[2][ow]
        w1 = j.a1[2][ow]
        yp = y + n * j.ys_n + ((od * g.OH + oh) * g.OW + ow) * j.ys_s
        c0 = 0
        while c0 < j.C:
            cn = min(_CHUNK, j.C - c0)
            for c in range(cn):
                acc[c] = 0
            for d in range(d0, d1):
                for h in range(h0, h1):
                    for w in range(w0, w1):
                        px = <const avg_t*>(j.x + n * j.xs_n + d * g.xs_d + h * g.xs_h
                                            + w * g.xs_w) + c0
                        for c in range(cn):
                            acc[c] = _plus(acc[c], px[c], r)
            for c in range(cn):
                yp[c0 + c] = _over(_over(_over(acc[c], d1 - d0, r), h1 - h0, r),
                                   w1 - w0, r)
            c0 += cn


# --------------------------------------------------------------- backward

cdef void _aavg_backward_run(const Job* j, const Runs* u, const avg_t* go, avg_t* share,
                             avg_t* gi, bint cl, round_t* r) noexcept nogil:
    # go, share: (N*C, OS) planes or (N, OS, C) pixels; gi: (N, C, D, H, W)
    # C-contiguous or (N, D, H, W, C).  First every output's share, then each
    # input element gathers the shares of the outputs covering it.
    cdef const Geom* g = j.g
    cdef Py_ssize_t P = j.N * j.C, tasks, t, p
    cdef Py_ssize_t outer = j.N if cl else P, C = j.C if cl else 1
    cdef Py_ssize_t step = g.OD * g.OH * g.OW * C
    cdef bint threaded = P * g.D * g.H * g.W >= _PARALLEL_MIN_WORK
    cdef Region rg
    rg = _region_begin(threaded and outer > 1)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for p in prange(outer, schedule="static"):
            _aavg_shares(j, go + p * step, share + p * step, C, r)
        _leave(&rg)
    _settle(&rg)
    tasks = outer * u.n[0] * u.n[1]
    rg = _region_begin(threaded and tasks > 1)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for t in prange(tasks, schedule="static"):
            _aavg_gather(j, u, share, gi, t, cl, r)
        _leave(&rg)
    _settle(&rg)


cdef void _aavg_shares(const Job* j, const avg_t* go, avg_t* share, Py_ssize_t C,
                       round_t* r) noexcept nogil:
    # One plane (C = 1) or one batch item's pixels (C channels each).
    cdef const Geom* g = j.g
    cdef Py_ssize_t od, oh, ow, c, s = 0
    cdef int64_t kd, kh, kw
    for od in range(g.OD):
        kd = j.a1[0][od] - j.a0[0][od]
        for oh in range(g.OH):
            kh = j.a1[1][oh] - j.a0[1][oh]
            for ow in range(g.OW):
                kw = j.a1[2][ow] - j.a0[2][ow]
                for c in range(C):
                    share[s + c] = _over(_over(_over(go[s + c], kd, r), kh, r), kw, r)
                s += C


cdef void _aavg_gather(const Job* j, const Runs* u, const avg_t* share, avg_t* gi,
                       Py_ssize_t task, bint cl, round_t* r) noexcept nogil:
    # The block of input rows that depth run a and height run b cover, in
    # one plane (or one batch item's pixels): its first row computed, the
    # others copies of it.
    cdef const Geom* g = j.g
    cdef Py_ssize_t b = task % u.n[1], rest = task // u.n[1]
    cdef Py_ssize_t a = rest % u.n[0], p = rest // u.n[0]
    cdef Py_ssize_t C = j.C if cl else 1
    cdef Py_ssize_t OS = g.OD * g.OH * g.OW, S = g.D * g.H * g.W, row = g.W * C
    cdef Py_ssize_t d0 = u.start[0][a], h0 = u.start[1][b]
    cdef Py_ssize_t d1 = u.start[0][a + 1] if a + 1 < u.n[0] else g.D
    cdef Py_ssize_t h1 = u.start[1][b + 1] if b + 1 < u.n[1] else g.H
    cdef const avg_t* sp = share + p * OS * C
    cdef avg_t* first = gi + p * S * C + (d0 * g.H + h0) * row
    cdef Py_ssize_t d, h, e, w0, w1, c, od, oh, ow, i
    cdef avg_t v
    cdef avg_t* px
    cdef const avg_t* src
    for e in range(u.n[2]):
        w0 = u.start[2][e]
        w1 = u.start[2][e + 1] if e + 1 < u.n[2] else g.W
        px = first + w0 * C
        # 0 + each covering output's share, in output raster order.
        for c in range(C):
            px[c] = 0
        for od in range(u.lo[0][a], u.hi[0][a]):
            for oh in range(u.lo[1][b], u.hi[1][b]):
                for ow in range(u.lo[2][e], u.hi[2][e]):
                    src = sp + ((od * g.OH + oh) * g.OW + ow) * C
                    for c in range(C):
                        px[c] = _plus(px[c], src[c], r)
        if C == 1:
            v = px[0]
            for i in range(1, w1 - w0):
                px[i] = v
        else:
            for i in range(1, w1 - w0):
                memcpy(px + i * C, px, C * sizeof(avg_t))
    for d in range(d0, d1):
        for h in range(h0, h1):
            if d != d0 or h != h0:
                memcpy(gi + p * S * C + (d * g.H + h) * row, first, row * sizeof(avg_t))

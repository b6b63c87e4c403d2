# Fractional max pooling (Design N): windows of one size k per axis, at
# interval starts of their own in every plane (pooling._fractional computes
# them from the random samples, in the input's float type as PyTorch does;
# here they arrive in Job.a0, one (N*C, O) array per axis).  An output row
# (od, oh) has one accumulator over the columns its windows span, column q
# for the window that starts at input column w0 + q (any plane's windows
# start there or not at all): every window element (a, r, t), in scan
# order, is one pass that folds input column w0 + q + t of row (a, r) into
# accumulator column q by PyTorch's own test (a larger value or a NaN
# replaces the max).  Every window thus sees its elements in PyTorch's order,
# whatever the starts, and each pass is a loop over contiguous columns that
# the compiler vectorises.  Then each output column reads the accumulator at
# its own start.  Channels-last input is first copied, a block of channels
# of one item at a time (whole cache lines of channel vectors), into
# contiguous planes (_fractional_cl).  Positions (with indices) are int32
# where the volume allows (as wide as float32 lanes), int64 beyond.

from cython.parallel cimport threadid

ctypedef fused frac_t:     # what PyTorch pools fractionally: floats (float16 as
    float                  # float32, _kernel_input)
    double

ctypedef fused pos_t:
    int32_t
    int64_t
    NoIndex     # values only: no positions kept


cdef void _frac_run(const Job* j, frac_t* y, pos_t* pt, char* scratch, Py_ssize_t per_thread,
                    Py_ssize_t B, const Geom* gc) noexcept nogil:
    # B: channels per block for channels-last memory, 0 for plane by plane.
    if B > 0:
        _fractional_cl(j, y, pt, scratch, per_thread, B, gc)
    else:
        _fractional(j, y, pt, scratch, per_thread)


cdef void _fractional(const Job* j, frac_t* y, pos_t* scratch_pos, char* scratch,
                      Py_ssize_t per_thread) noexcept nogil:
    # scratch: per thread (per_thread bytes each), an accumulator row of
    # values then one of positions; scratch_pos only carries pos_t.
    cdef const Geom* g = j.g
    cdef Py_ssize_t P = j.N * j.C, p, n, c, o
    cdef bint threaded = P * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    cdef Region rg
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for p in prange(P, schedule="static"):
            n = p // j.C
            c = p - n * j.C
            o = n * j.ys_n + c * j.ys_c
            _fractional_plane(j.x + n * j.xs_n + c * j.xs_c, y + o,
                              j.flat + o if j.flat != NULL else NULL,
                              j.a0[0] + p * g.OD, j.a0[1] + p * g.OH, j.a0[2] + p * g.OW,
                              j.ys_s, g, scratch_pos,
                              scratch + threadid() * per_thread)
        _leave(&rg)
    _settle(&rg)


cdef void _fractional_cl(const Job* j, frac_t* y, pos_t* pt, char* scratch,
                         Py_ssize_t per_thread, Py_ssize_t B, const Geom* gc) noexcept nogil:
    # Channels-last memory: a task is a block of B channels of one item,
    # copied (whole cache lines of channel vectors) into contiguous planes
    # at the start of the thread's scratch, which gc describes; then pooled
    # plane by plane as above, the outputs stored in the caller's layout.
    cdef const Geom* g = j.g
    cdef Py_ssize_t nb = (j.C + B - 1) // B, V = g.D * g.H * g.W
    cdef Py_ssize_t T = j.N * nb, task, n, c0, c1, c, s, d, h, w, o, p
    cdef bint threaded = T * B * V >= _PARALLEL_MIN_WORK and T > 1
    cdef char* mine
    cdef frac_t* planes
    cdef const char* px
    cdef Region rg
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for task in prange(T, schedule="static"):
            n = task // nb
            c0 = (task - n * nb) * B
            c1 = min(c0 + B, j.C)
            mine = scratch + threadid() * per_thread
            planes = <frac_t*>mine
            s = 0
            for d in range(g.D):
                for h in range(g.H):
                    for w in range(g.W):
                        px = j.x + n * j.xs_n + d * g.xs_d + h * g.xs_h + w * g.xs_w
                        for c in range(c0, c1):
                            planes[(c - c0) * V + s] = (<const frac_t*>(px + c * j.xs_c))[0]
                        s = s + 1
            for c in range(c0, c1):
                o = n * j.ys_n + c * j.ys_c
                p = n * j.C + c
                _fractional_plane(<const char*>(planes + (c - c0) * V), y + o,
                                  j.flat + o if j.flat != NULL else NULL,
                                  j.a0[0] + p * g.OD, j.a0[1] + p * g.OH, j.a0[2] + p * g.OW,
                                  j.ys_s, gc, pt, mine + B * V * sizeof(frac_t))
        _leave(&rg)
    _settle(&rg)


cdef void _fractional_plane(const char* xp, frac_t* yp, int64_t* ip, const int64_t* sd,
                            const int64_t* sh, const int64_t* sw, Py_ssize_t ys,
                            const Geom* g, pos_t* pt, char* scratch) noexcept nogil:
    # Starts are nondecreasing, the last one W - kw: the accumulator's nq
    # columns cover every window of the plane.
    cdef Py_ssize_t w0 = sw[0], nq = sw[g.OW - 1] - sw[0] + 1
    cdef frac_t* av = <frac_t*>scratch
    cdef pos_t* ap = <pos_t*>(scratch + g.W * sizeof(frac_t))
    cdef Py_ssize_t od, oh, ow, a, r, t, d, h, o
    cdef const char* col
    cdef int64_t pos
    for od in range(g.OD):
        for oh in range(g.OH):
            for a in range(g.kd):
                d = sd[od] + a
                for r in range(g.kh):
                    h = sh[oh] + r
                    for t in range(g.kw):
                        col = xp + d * g.xs_d + h * g.xs_h + (w0 + t) * g.xs_w
                        pos = (d * g.H + h) * g.W + w0 + t
                        if a == 0 and r == 0 and t == 0:
                            _frac_pass(col, av, ap, nq, pos, g, <Seed*>NULL)
                        else:
                            _frac_pass(col, av, ap, nq, pos, g, <Merge*>NULL)
            o = (od * g.OH + oh) * g.OW
            for ow in range(g.OW):
                yp[(o + ow) * ys] = av[sw[ow] - w0]
            if pos_t is not NoIndex:
                for ow in range(g.OW):
                    ip[(o + ow) * ys] = ap[sw[ow] - w0]


cdef inline void _frac_pass(const char* col, frac_t* av, pos_t* ap, Py_ssize_t nq,
                            int64_t pos, const Geom* g, row_t* mode) noexcept nogil:
    # The input's column step as a literal where the row is contiguous, so
    # that the loop vectorises.
    if g.xs_w == sizeof(frac_t):
        _frac_fold(col, sizeof(frac_t), av, ap, nq, pos, mode)
    else:
        _frac_fold(col, g.xs_w, av, ap, nq, pos, mode)


cdef inline void _frac_fold(const char* col, Py_ssize_t step, frac_t* av, pos_t* ap,
                            Py_ssize_t nq, int64_t pos, row_t* mode) noexcept nogil:
    # Element q (at col + q * step, position pos + q) starts (Seed) or
    # merges into (Merge) accumulator column q.  Both old values are loaded
    # before either store, as in _put: the form GCC if-converts.
    cdef Py_ssize_t q
    cdef frac_t v, old
    cdef pos_t oldp
    cdef bint tk
    for q in range(nq):
        v = (<const frac_t*>(col + q * step))[0]
        if row_t is Seed:
            av[q] = v
            if pos_t is not NoIndex:
                ap[q] = <pos_t>(pos + q)
        else:
            old = av[q]
            if pos_t is NoIndex:
                av[q] = v if _takes(v, old) else old
            else:
                oldp = ap[q]
                tk = _takes(v, old)
                av[q] = v if tk else old
                ap[q] = <pos_t>(pos + q) if tk else oldp

# Average pooling (Design K): PyTorch's sums, in its order.  Each output row
# is an accumulator row of the sum type (float for float32 and float16,
# double for float64, int64 for int64), zeroed, then every window row is
# folded in, in (d, h) order, one window column t at a time over all output
# columns: each output's additions run in (d, h, w) order, as PyTorch's
# sequential loop, so the sums are its bits.  The divisor follows per output;
# the quotient is sum / divisor with the divisor in the sum's type (an
# integer division for int64).

cdef void _average(const Job* j, pool_t* y) noexcept nogil:
    cdef const Geom* g = j.g
    cdef Py_ssize_t P = j.N * j.C, p, n, c
    cdef bint parallel = P * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    if not (pool_t is float or pool_t is double or pool_t is int64_t):
        return  # refused in pooling._params: no average of other dtypes
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        n = p // j.C
        c = p - n * j.C
        _average_plane(j.x + n * j.xs_n + c * j.xs_c, y + n * j.ys_n + c * j.ys_c, j, g)


cdef void _average_plane(const char* xp, pool_t* yp, const Job* j,
                         const Geom* g) noexcept nogil:
    cdef pool_t acc[_CHUNK]
    cdef Py_ssize_t od, oh, a, r, d, h, ds, hs, c0, c1, t
    cdef int64_t dpad, dreal, hpad, hreal
    for od in range(g.OD):
        ds = od * g.sd - g.pd
        dpad = min(ds + g.kd, g.D + g.pd) - ds
        dreal = min(ds + g.kd, g.D) - max(ds, 0)
        for oh in range(g.OH):
            hs = oh * g.sh - g.ph
            hpad = min(hs + g.kh, g.H + g.ph) - hs
            hreal = min(hs + g.kh, g.H) - max(hs, 0)
            c0 = 0
            while c0 < g.OW:
                c1 = min(c0 + _CHUNK, g.OW)
                for t in range(c1 - c0):
                    acc[t] = 0
                for a in range(g.kd):
                    d = ds + a
                    if d < 0 or d >= g.D:
                        continue
                    for r in range(g.kh):
                        h = hs + r
                        if 0 <= h < g.H:
                            _sum_row(xp + d * g.xs_d + h * g.xs_h, acc, c0, c1, g)
                _divide(acc, yp + (od * g.OH + oh) * g.OW, c0, c1, dpad * hpad,
                        dreal * hreal, j, g)
                c0 = c1


cdef inline void _sum_row(const char* row, pool_t* acc, Py_ssize_t c0, Py_ssize_t c1,
                          const Geom* g) noexcept nogil:
    # Window column t of outputs [c0, c1), wherever it falls inside [0, W).
    cdef Py_ssize_t t, jl, jh, jj, w0
    for t in range(g.kw):
        w0 = t - g.pw
        jl, jh = _columns(g, w0, c0, c1)
        if g.xs_w == sizeof(pool_t) and g.sw == 1:
            _add_cols(<const pool_t*>row + w0, 1, acc, jl, jh, c0)
        elif g.xs_w == sizeof(pool_t) and g.sw == 2:
            _add_cols(<const pool_t*>row + w0, 2, acc, jl, jh, c0)
        else:
            for jj in range(jl, jh):
                acc[jj - c0] = acc[jj - c0] + (<const pool_t*>(row + (jj * g.sw + w0) * g.xs_w))[0]


cdef inline void _add_cols(const pool_t* r, Py_ssize_t S, pool_t* acc, Py_ssize_t jl,
                           Py_ssize_t jh, Py_ssize_t c0) noexcept nogil:
    # Contiguous columns, stride S a literal at each call: a loop the
    # compiler vectorises (S = 2: an even/odd split of the loads).
    cdef Py_ssize_t jj
    for jj in range(jl, jh):
        acc[jj - c0] = acc[jj - c0] + r[S * jj]


cdef inline void _divide(const pool_t* acc, pool_t* yrow, Py_ssize_t c0, Py_ssize_t c1,
                         int64_t pad_rows, int64_t real_rows, const Job* j,
                         const Geom* g) noexcept nogil:
    cdef Py_ssize_t jj
    cdef int64_t div
    cdef pool_t zero = 0
    for jj in range(c0, c1):
        div = _divisor(j, g, jj * g.sw - g.pw, pad_rows, real_rows)
        if pool_t is int64_t:
            # INT64_MIN / -1 traps (SIGFPE); negation modulo 2**64 gives
            # NumPy's wrapped quotient, as the reference has it.
            if div == -1:
                yrow[jj] = <int64_t>(<uint64_t>0 - <uint64_t>acc[jj - c0])
            else:
                yrow[jj] = acc[jj - c0] // div
        else:
            # PyTorch adds the average into a zeroed output: -0.0 (a zero sum
            # over a negative divisor) comes out +0.0.
            yrow[jj] = zero + acc[jj - c0] / <pool_t>div


cdef inline (Py_ssize_t, Py_ssize_t) _columns(const Geom* g, Py_ssize_t w0, Py_ssize_t c0,
                                              Py_ssize_t c1) noexcept nogil:
    # The outputs [jl, jh) of [c0, c1) whose window column at offset w0
    # (input column jj * sw + w0) falls inside [0, W).
    cdef Py_ssize_t jl = c0, jh = c1
    while jl < c1 and jl * g.sw + w0 < 0:
        jl += 1
    while jh > jl and (jh - 1) * g.sw + w0 >= g.W:
        jh -= 1
    return jl, jh


cdef inline int64_t _divisor(const Job* j, const Geom* g, Py_ssize_t ws, int64_t pad_rows,
                             int64_t real_rows) noexcept nogil:
    # PyTorch's divisor of the window whose columns start at ws, given its
    # depth-and-height factors (the window clipped to the padded input, and
    # to the input).
    if j.divisor != 0:
        return j.divisor
    if j.count_pad:
        return pad_rows * (min(ws + g.kw, g.W + g.pw) - ws)
    return real_rows * (min(ws + g.kw, g.W) - max(ws, 0))


# ---------------------------------------------------------------- backward

cdef void _average_backward(const grad_t[:, ::1] go, grad_t[:, ::1] gi, const Job* j,
                            const Geom* g) noexcept nogil:
    # Channels-first planes, gi zero-filled by the caller: each output's
    # share, grad / divisor in the gradient's type, added to its window in
    # output raster order (PyTorch's), bit for bit.
    cdef Py_ssize_t P = go.shape[0], p
    cdef bint parallel = P * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    if grad_t is uint16_t:
        return  # float16 takes the reference (avg_backward3d)
    for p in prange(P, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        _average_backward_plane(&go[p, 0], &gi[p, 0], j, g)


cdef void _average_backward_plane(const grad_t* go, grad_t* gi, const Job* j,
                                  const Geom* g) noexcept nogil:
    cdef grad_t share[_CHUNK]
    cdef Py_ssize_t od, oh, a, r, d, h, ds, hs, c0, c1, t, jl, jh, jj, w0
    cdef int64_t dpad, dreal, hpad, hreal, div
    cdef grad_t* row
    for od in range(g.OD):
        ds = od * g.sd - g.pd
        dpad = min(ds + g.kd, g.D + g.pd) - ds
        dreal = min(ds + g.kd, g.D) - max(ds, 0)
        for oh in range(g.OH):
            hs = oh * g.sh - g.ph
            hpad = min(hs + g.kh, g.H + g.ph) - hs
            hreal = min(hs + g.kh, g.H) - max(hs, 0)
            c0 = 0
            while c0 < g.OW:
                c1 = min(c0 + _CHUNK, g.OW)
                for jj in range(c0, c1):
                    div = _divisor(j, g, jj * g.sw - g.pw, dpad * hpad, dreal * hreal)
                    share[jj - c0] = go[(od * g.OH + oh) * g.OW + jj] / <grad_t>div
                for a in range(g.kd):
                    d = ds + a
                    if d < 0 or d >= g.D:
                        continue
                    for r in range(g.kh):
                        h = hs + r
                        if h < 0 or h >= g.H:
                            continue
                        row = gi + (d * g.H + h) * g.W
                        # Window columns last to first: an input element
                        # then gets the outputs of one row in column order.
                        for t in range(g.kw - 1, -1, -1):
                            w0 = t - g.pw
                            jl, jh = _columns(g, w0, c0, c1)
                            for jj in range(jl, jh):
                                row[jj * g.sw + w0] = row[jj * g.sw + w0] + share[jj - c0]
                c0 = c1

# Average pooling (Design K): PyTorch's sums, in its order, many outputs at
# once.  PyTorch sums each window sequentially in (d, h, w) order starting
# from 0, then divides once by the divisor in the value type, and adds the
# quotient into a zeroed output.  Starting from the first element instead of
# 0 + it changes only a sum of -0.0s (to -0.0 from +0.0), and adding the
# quotient to +0.0 at the end (_quot) restores PyTorch's +0.0 there, so the
# loops below seed with the first element.  An output's additions stay in
# its order; outputs are independent, so the loops run many of them side by
# side in vector lanes: channels-first, the lanes are an output row's
# columns; channels-last, its channels.

# Which part of an output row's sums a pass over window rows makes.
cdef struct Open:      # open_t: the first window rows start the sums
    char unused
cdef struct Carry:     # open_t: later rows add to the accumulator
    char unused

ctypedef fused open_t:
    Open
    Carry

cdef struct Keep:      # end_t: more rows follow: the sums stay in the accumulator
    char unused
cdef struct Finish:    # end_t: the window's last rows: divide and store
    char unused

ctypedef fused end_t:
    Keep
    Finish


cdef inline pool_t _quot(pool_t s, pool_t dv) noexcept nogil:
    # PyTorch's average of sum s: s / divisor, added to its zeroed output
    # (so -0.0 comes out +0.0); int64 divides truncating.
    cdef pool_t zero = 0
    if pool_t is int64_t:
        # INT64_MIN / -1 traps (SIGFPE); negation modulo 2**64 gives
        # NumPy's wrapped quotient, as the reference has it.
        if dv == -1:
            return <int64_t>(<uint64_t>0 - <uint64_t>s)
        return s // dv
    else:
        return zero + s / dv


# ---------------------------------------------------------- channels-first

cdef void _average(const Job* j, pool_t* y) noexcept nogil:
    cdef const Geom* g = j.g
    cdef Py_ssize_t P = j.N * j.C, p
    cdef bint threaded = P * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    cdef Region rg
    if not (pool_t is float or pool_t is double or pool_t is int64_t):
        return  # refused in pooling._params: no average of other dtypes
    if _tiles_pay(j, y, True):   # small planes in channels-last tiles
        _forward_tiles(j, y, True)
        return
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for p in prange(P, schedule="static"):
            _average_one(j, y, p)
        _leave(&rg)
    _settle(&rg)


cdef inline void _average_one(const Job* j, pool_t* y, Py_ssize_t p) noexcept nogil:
    # Plane p = (n, c).
    cdef Py_ssize_t n = p // j.C
    cdef Py_ssize_t c = p - n * j.C
    _average_plane(j.x + n * j.xs_n + c * j.xs_c, y + n * j.ys_n + c * j.ys_c, j, j.g)


cdef void _average_plane(const char* xp, pool_t* yp, const Job* j,
                         const Geom* g) noexcept nogil:
    # Output row by output row, in chunks of columns.  Interior columns
    # (windows inside [0, W)) of contiguous rows with a window of 2 or 3
    # columns at stride 1 or 2 (g.hkind): the window rows in groups of up to
    # three, each group one pass that adds all its elements to each output
    # in order, the last group dividing and storing (_interior); border
    # columns into an accumulator, output by output (_sum_edge).  Every
    # column of other windows or strided rows: an accumulator row, one pass
    # per window column (_sum_cols).  Accumulated columns are divided each
    # by its own divisor (_divide).
    cdef pool_t acc[_CHUNK]
    cdef const pool_t* rows[3]
    cdef Py_ssize_t od, oh, a, r, d, h, ds, hs, c0, c1, i0, i1, t, nr, seen, total
    cdef int64_t dpad, dreal, hpad, hreal
    cdef bint fast = g.hkind != H_GENERIC
    # Contiguous planes: each window row's data _AVG_AHEAD bytes on is
    # prefetched, which the hardware alone fetches too late for these short
    # rows.
    cdef bint ahead = g.xs_w == sizeof(pool_t) and g.xs_h == g.W * g.xs_w
    cdef const char* row
    cdef pool_t* yrow
    cdef pool_t dv
    for od in range(g.OD):
        ds = od * g.sd - g.pd
        dpad = min(ds + g.kd, g.D + g.pd) - ds
        dreal = min(ds + g.kd, g.D) - max(ds, 0)
        for oh in range(g.OH):
            hs = oh * g.sh - g.ph
            hpad = min(hs + g.kh, g.hend) - hs
            hreal = min(hs + g.kh, g.H) - max(hs, 0)
            total = dreal * hreal   # the window rows inside the input
            yrow = yp + (od * g.OH + oh) * g.OW
            # Every interior column's divisor: its window is not clipped.
            dv = <pool_t>_divisor(j, g, g.jlo * g.sw - g.pw, dpad * hpad, total)
            c0 = 0
            while c0 < g.OW:
                c1 = min(c0 + _CHUNK, g.OW)
                i0 = i1 = c1
                if fast:
                    i0 = min(max(c0, g.jlo), c1)
                    i1 = max(i0, min(c1, g.jhi))
                for t in range(c0, i0):
                    acc[t - c0] = 0
                for t in range(i1, c1):
                    acc[t - c0] = 0
                nr = 0
                seen = 0
                for a in range(g.kd):
                    d = ds + a
                    if d < 0 or d >= g.D:
                        continue
                    for r in range(g.kh):
                        h = hs + r
                        if h < 0 or h >= g.H:
                            continue
                        row = xp + d * g.xs_d + h * g.xs_h
                        if ahead and c0 == 0:
                            t = 0
                            while t < g.W * g.xs_w:
                                _prefetch(row + _AVG_AHEAD + t)
                                t += 64
                        if not fast:
                            _sum_cols(row, acc - c0, c0, c1, g)
                            continue
                        if c0 < i0:
                            _sum_edge(<const pool_t*>row, acc - c0, c0, i0, g)
                        if i1 < c1:
                            _sum_edge(<const pool_t*>row, acc - c0, i1, c1, g)
                        if i0 < i1:
                            rows[nr] = <const pool_t*>row - g.pw
                            nr += 1
                            seen += 1
                            if nr == 3 or seen == total:
                                if seen == nr and seen == total:
                                    _interior(rows, nr, acc - c0, yrow, i0, i1, dv, g,
                                              <Open*>NULL, <Finish*>NULL)
                                elif seen == nr:
                                    _interior(rows, nr, acc - c0, yrow, i0, i1, dv, g,
                                              <Open*>NULL, <Keep*>NULL)
                                elif seen == total:
                                    _interior(rows, nr, acc - c0, yrow, i0, i1, dv, g,
                                              <Carry*>NULL, <Finish*>NULL)
                                else:
                                    _interior(rows, nr, acc - c0, yrow, i0, i1, dv, g,
                                              <Carry*>NULL, <Keep*>NULL)
                                nr = 0
                _divide(acc - c0, yrow, c0, i0, dpad * hpad, total, j, g)
                _divide(acc - c0, yrow, i1, c1, dpad * hpad, total, j, g)
                c0 = c1


cdef enum:
    _AVG_AHEAD = 4096   # bytes


cdef void _interior(const pool_t** rows, Py_ssize_t nr, pool_t* acc, pool_t* y,
                    Py_ssize_t j0, Py_ssize_t j1, pool_t dv, const Geom* g,
                    open_t* o, end_t* e) noexcept nogil:
    # Up to three window rows (pointers at column -pw) added to outputs
    # [j0, j1) (acc and y indexed by output column); the window width and
    # stride, and the row count, become literals here, so that each pass is
    # a loop the compiler vectorises over output columns (stride 2: even
    # and odd input columns deinterleaved into the lanes).
    if g.hkind == H_K2S2:
        _rows(rows, nr, 2, 2, acc, y, j0, j1, dv, o, e)
    elif g.hkind == H_K3S2:
        _rows(rows, nr, 3, 2, acc, y, j0, j1, dv, o, e)
    elif g.hkind == H_K2S1:
        _rows(rows, nr, 2, 1, acc, y, j0, j1, dv, o, e)
    else:
        _rows(rows, nr, 3, 1, acc, y, j0, j1, dv, o, e)


cdef inline void _rows(const pool_t** rows, Py_ssize_t nr, Py_ssize_t K, Py_ssize_t S,
                       pool_t* acc, pool_t* y, Py_ssize_t j0, Py_ssize_t j1, pool_t dv,
                       open_t* o, end_t* e) noexcept nogil:
    if nr == 3:
        _pass(rows[0], rows[1], rows[2], 3, K, S, acc, y, j0, j1, dv, o, e)
    elif nr == 2:
        _pass(rows[0], rows[1], rows[1], 2, K, S, acc, y, j0, j1, dv, o, e)
    else:
        _pass(rows[0], rows[0], rows[0], 1, K, S, acc, y, j0, j1, dv, o, e)


cdef inline void _pass(const pool_t* r0, const pool_t* r1, const pool_t* r2, Py_ssize_t NR,
                       Py_ssize_t K, Py_ssize_t S, pool_t* acc, pool_t* y, Py_ssize_t j0,
                       Py_ssize_t j1, pool_t dv, open_t* o, end_t* e) noexcept nogil:
    # NR, K, S literals: each output's additions in (row, column) order.
    cdef Py_ssize_t jj, b
    cdef pool_t s
    for jj in range(j0, j1):
        b = S * jj
        if open_t is Open:
            s = r0[b]
        else:
            s = acc[jj] + r0[b]
        s = s + r0[b + 1]
        if K == 3:
            s = s + r0[b + 2]
        if NR >= 2:
            s = s + r1[b]
            s = s + r1[b + 1]
            if K == 3:
                s = s + r1[b + 2]
        if NR == 3:
            s = s + r2[b]
            s = s + r2[b + 1]
            if K == 3:
                s = s + r2[b + 2]
        if end_t is Finish:
            y[jj] = _quot(s, dv)
        else:
            acc[jj] = s


cdef inline void _sum_edge(const pool_t* r, pool_t* acc, Py_ssize_t j0, Py_ssize_t j1,
                           const Geom* g) noexcept nogil:
    # Border columns [j0, j1) of a contiguous row, output by output: the
    # window columns inside [0, W), in order.
    cdef Py_ssize_t jj, t, ws
    cdef pool_t s
    for jj in range(j0, j1):
        ws = jj * g.sw - g.pw
        s = acc[jj]
        for t in range(max(0, -ws), min(g.kw, g.W - ws)):
            s = s + r[ws + t]
        acc[jj] = s


cdef inline void _sum_cols(const char* row, pool_t* acc, Py_ssize_t c0, Py_ssize_t c1,
                           const Geom* g) noexcept nogil:
    # One window row added to the sums acc[jj] of outputs [c0, c1), window
    # column t at a time, each where it falls inside [0, W).
    cdef Py_ssize_t t, jl, jh, jj, w0
    for t in range(g.kw):
        w0 = t - g.pw
        jl, jh = _columns(g, w0, c0, c1)
        if g.xs_w == sizeof(pool_t) and g.sw == 1:
            _add_cols(<const pool_t*>row + w0, 1, acc, jl, jh)
        elif g.xs_w == sizeof(pool_t) and g.sw == 2:
            _add_cols(<const pool_t*>row + w0, 2, acc, jl, jh)
        else:
            for jj in range(jl, jh):
                acc[jj] = acc[jj] + (<const pool_t*>(row + (jj * g.sw + w0) * g.xs_w))[0]


cdef inline void _add_cols(const pool_t* r, Py_ssize_t S, pool_t* acc, Py_ssize_t jl,
                           Py_ssize_t jh) noexcept nogil:
    # Contiguous columns, stride S a literal at each call.
    cdef Py_ssize_t jj
    for jj in range(jl, jh):
        acc[jj] = acc[jj] + r[S * jj]


cdef inline void _divide(const pool_t* acc, pool_t* yrow, Py_ssize_t c0, Py_ssize_t c1,
                         int64_t pad_rows, int64_t real_rows, const Job* j,
                         const Geom* g) noexcept nogil:
    # Outputs [c0, c1), each by its own divisor.
    cdef Py_ssize_t jj
    for jj in range(c0, c1):
        yrow[jj] = _quot(acc[jj], <pool_t>_divisor(j, g, jj * g.sw - g.pw, pad_rows,
                                                    real_rows))


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


# ----------------------------------------------------------- channels-last

cdef enum:
    _AVG_LANES = 32      # channels per block: eight SSE registers of float32
    _AVG_CL_AHEAD = 4    # pixels: how far ahead channel vectors are prefetched


cdef void _average_cl(const Job* j, pool_t* y) noexcept nogil:
    # Channels-last (N, D, H, W, C) input, outputs stored so: one output row
    # (n, od, oh) per task.
    cdef const Geom* g = j.g
    cdef Py_ssize_t R = j.N * g.OD * g.OH, r
    cdef bint threaded = j.N * j.C * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and R > 1
    cdef Region rg
    if not (pool_t is float or pool_t is double or pool_t is int64_t):
        return
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for r in prange(R, schedule="static"):
            _average_cl_row(j, y, r)
        _leave(&rg)
    _settle(&rg)


cdef void _average_cl_row(const Job* j, pool_t* y, Py_ssize_t r) noexcept nogil:
    # Pixel by pixel.  With at least _AVG_LANES channels and at most
    # _MAX_LOCAL window elements inside the input, the pixel's elements are
    # listed in scan order and each block of channels sums them in locals
    # (vector registers), stored once (_lanes_sum; the remainder is one
    # more block ending at C, overlapping the one before: its channels are
    # written twice alike).  Otherwise chunks of channels sum into an
    # accumulator, element by element.
    cdef const Geom* g = j.g
    cdef Py_ssize_t C = j.C
    cdef Py_ssize_t n = r // (g.OD * g.OH)
    cdef Py_ssize_t od = (r - n * g.OD * g.OH) // g.OH
    cdef Py_ssize_t oh = r - (n * g.OD + od) * g.OH
    cdef Py_ssize_t ds = od * g.sd - g.pd, hs = oh * g.sh - g.ph, ws
    cdef Py_ssize_t a0 = _first_in(ds, 1), a1 = _end_in(ds, 1, g.D, g.kd)
    cdef Py_ssize_t r0 = _first_in(hs, 1), r1 = _end_in(hs, 1, g.H, g.kh)
    cdef Py_ssize_t t0, t1, ow, c0, a, rr, t, ne, o
    cdef int64_t dpad = min(ds + g.kd, g.D + g.pd) - ds, hpad = min(hs + g.kh, g.hend) - hs
    cdef int64_t rows_in = (a1 - a0) * (r1 - r0)
    cdef Py_ssize_t off[_MAX_LOCAL]
    cdef const char* xn = j.x + n * j.xs_n
    cdef Py_ssize_t k, ahead = _AVG_CL_AHEAD * g.sw * g.xs_w
    cdef pool_t dv
    for ow in range(g.OW):
        ws = ow * g.sw - g.pw
        t0, t1 = _first_in(ws, 1), _end_in(ws, 1, g.W, g.kw)
        dv = <pool_t>_divisor(j, g, ws, dpad * hpad, rows_in)
        o = (r * g.OW + ow) * C
        ne = rows_in * (t1 - t0)
        if C >= _AVG_LANES and 0 < ne <= _MAX_LOCAL:
            ne = 0
            for a in range(a0, a1):
                for rr in range(r0, r1):
                    for t in range(t0, t1):
                        off[ne] = (ds + a) * g.xs_d + (hs + rr) * g.xs_h + (ws + t) * g.xs_w
                        ne = ne + 1
                        if t >= g.kw - g.sw and ow + _AVG_CL_AHEAD < g.OW:
                            # The columns this pixel reaches first, some
                            # pixels on: the hardware fetches them too late.
                            k = 0
                            while k < C * sizeof(pool_t):
                                _prefetch(xn + off[ne - 1] + ahead + k)
                                k = k + 64
            c0 = 0
            while c0 < C:
                c0 = min(c0, C - _AVG_LANES)
                _lanes_sum(xn + c0 * j.xs_c, off, ne, y + o + c0, dv)
                c0 = c0 + _AVG_LANES
        else:
            _pixel_sum(j, xn, ds + a0, ds + a1, hs + r0, hs + r1, ws + t0, ws + t1,
                       y + o, dv)


cdef inline void _lanes_sum(const char* xc, const Py_ssize_t* off, Py_ssize_t ne,
                            pool_t* y, pool_t dv) noexcept nogil:
    # Channels [0, _AVG_LANES) of one pixel: its ne >= 1 window elements
    # (xc + off[e]) summed in scan order in locals, then divided into y.
    # The first two elements seed the sums by an addition, not a copy
    # (which GCC would turn into a memcpy that keeps the locals in memory).
    cdef Py_ssize_t e, k
    cdef pool_t s[_AVG_LANES]
    cdef const pool_t* u = <const pool_t*>(xc + off[0])
    cdef const pool_t* v
    if ne == 1:
        for k in range(_AVG_LANES):
            y[k] = _quot(u[k], dv)
        return
    v = <const pool_t*>(xc + off[1])
    if ne == 2:
        for k in range(_AVG_LANES):
            y[k] = _quot(u[k] + v[k], dv)
        return
    for k in range(_AVG_LANES):
        s[k] = u[k] + v[k]
    for e in range(2, ne - 1):
        v = <const pool_t*>(xc + off[e])
        _keep_nest()
        for k in range(_AVG_LANES):
            s[k] = s[k] + v[k]
    v = <const pool_t*>(xc + off[ne - 1])
    for k in range(_AVG_LANES):
        y[k] = _quot(s[k] + v[k], dv)


cdef void _pixel_sum(const Job* j, const char* xn, Py_ssize_t d0, Py_ssize_t d1,
                     Py_ssize_t h0, Py_ssize_t h1, Py_ssize_t w0, Py_ssize_t w1, pool_t* y,
                     pool_t dv) noexcept nogil:
    # Every channel of one pixel whose window inside the input is
    # [d0, d1) x [h0, h1) x [w0, w1): chunks of channels summed from 0,
    # element by element in scan order.
    cdef const Geom* g = j.g
    cdef pool_t acc[_CHUNK]
    cdef Py_ssize_t c0, c1, k, d, h, w
    cdef const pool_t* v
    c0 = 0
    while c0 < j.C:
        c1 = min(c0 + _CHUNK, j.C)
        for k in range(c1 - c0):
            acc[k] = 0
        for d in range(d0, d1):
            for h in range(h0, h1):
                for w in range(w0, w1):
                    v = <const pool_t*>(xn + d * g.xs_d + h * g.xs_h + w * g.xs_w
                                        + c0 * j.xs_c)
                    for k in range(c1 - c0):
                        acc[k] = acc[k] + v[k]
        for k in range(c1 - c0):
            y[c0 + k] = _quot(acc[k], dv)
        c0 = c1


# ---------------------------------------------------------------- backward

cdef void _average_backward(const grad_t[:, ::1] go, grad_t[:, ::1] gi, const Job* j,
                            const Geom* g) noexcept nogil:
    # Channels-first planes; every element of gi is written (no zero fill
    # by the caller).  Each output's share, grad / divisor in the
    # gradient's type, is added to its window in output raster order
    # (PyTorch's), so each input element's additions are PyTorch's, in its
    # order, bit for bit.
    cdef Py_ssize_t P = go.shape[0], p
    cdef bint threaded = P * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    cdef Region rg
    if grad_t is uint16_t:
        return  # float16 takes the reference (avg_backward3d)
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for p in prange(P, schedule="static"):
            _average_backward_plane(&go[p, 0], &gi[p, 0], j, g)
        _leave(&rg)
    _settle(&rg)


cdef void _average_backward_cl(const grad_t* go, grad_t* gi, Py_ssize_t N, Py_ssize_t C,
                               const Job* j, const Geom* g) noexcept nogil:
    # Channels-last: go (N, OD*OH*OW, C), gi (N, D*H*W, C), filled here, a
    # batch item per task (two threads adding into disjoint channel halves
    # of the same pixels run slower than one: see _scatter_cl).  Outputs in
    # raster order, each one's shares (a channel chunk at a time) added to
    # every pixel of its window: each input element gets PyTorch's
    # additions in PyTorch's order, and the additions run along channels.
    cdef Py_ssize_t S = g.D * g.H * g.W, OS = g.OD * g.OH * g.OW, n
    cdef bint threaded = N * C * (S + OS) >= _PARALLEL_MIN_WORK and N > 1
    cdef Region rg
    if grad_t is uint16_t:
        return  # float16 takes the reference (avg_backward3d)
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for n in prange(N, schedule="static"):
            _average_backward_item(go + n * OS * C, gi + n * S * C, C, j, g)
        _leave(&rg)
    _settle(&rg)


cdef void _average_backward_item(const grad_t* go, grad_t* gi, Py_ssize_t C, const Job* j,
                                 const Geom* g) noexcept nogil:
    cdef grad_t share[_CHUNK]
    cdef Py_ssize_t od, oh, ow, ds, hs, ws, d, h, w, d0, d1, h0, h1, w0, w1, c, c0, nc
    cdef int64_t dpad, hpad
    cdef grad_t dv, zero = 0
    cdef const grad_t* src
    cdef grad_t* dst
    # Windows that tile the input exactly (2x2/s2, global): every element
    # gets one addition, +0.0 + share, written once without a zero fill.
    cdef bint tiled = _windows_tile(g)
    if not tiled:
        memset(gi, 0, g.D * g.H * g.W * C * sizeof(grad_t))
    for od in range(g.OD):
        ds = od * g.sd - g.pd
        d0, d1 = max(ds, 0), min(ds + g.kd, g.D)
        dpad = min(ds + g.kd, g.D + g.pd) - ds
        for oh in range(g.OH):
            hs = oh * g.sh - g.ph
            h0, h1 = max(hs, 0), min(hs + g.kh, g.H)
            hpad = min(hs + g.kh, g.hend) - hs
            for ow in range(g.OW):
                ws = ow * g.sw - g.pw
                w0, w1 = max(ws, 0), min(ws + g.kw, g.W)
                dv = <grad_t>_divisor(j, g, ws, dpad * hpad, (d1 - d0) * (h1 - h0))
                src = go + ((od * g.OH + oh) * g.OW + ow) * C
                c0 = 0
                while c0 < C:
                    nc = min(C - c0, _CHUNK)
                    if tiled:
                        for c in range(nc):
                            share[c] = zero + src[c0 + c] / dv
                        for d in range(d0, d1):
                            for h in range(h0, h1):
                                for w in range(w0, w1):
                                    memcpy(gi + ((d * g.H + h) * g.W + w) * C + c0, share,
                                           nc * sizeof(grad_t))
                        c0 += nc
                        continue
                    for c in range(nc):
                        share[c] = src[c0 + c] / dv
                    for d in range(d0, d1):
                        for h in range(h0, h1):
                            for w in range(w0, w1):
                                dst = gi + ((d * g.H + h) * g.W + w) * C + c0
                                for c in range(nc):
                                    dst[c] = dst[c] + share[c]
                    c0 += nc


cdef enum:
    _SHARE_HALO = 2   # zero shares either side of a chunk: (kw - 1) // sw at most
    _SMALL_PLANE = 1024   # elements: a plane zeroed at once


cdef void _average_backward_plane(const grad_t* go, grad_t* gi, const Job* j,
                                  const Geom* g) noexcept nogil:
    # Output row by output row, in chunks of columns: the chunk's shares
    # (one division each), then each window row of the input gets them.
    # PyTorch adds into a zeroed gradient; here an input row is zeroed
    # just before its first addition, while it is in cache (windows one
    # deep: their output rows reach input rows in increasing order), or the
    # whole plane first (deeper windows).  Rows no window reaches are zeroed
    # at the end.  Each input element's shares arrive in increasing output
    # column order: a gather over its window's outputs (_gather: a window of
    # 2 or 3 columns at stride 1 or 2, shares beyond the chunk read as +0.0,
    # which leaves a sum started from +0.0 unchanged), or window columns
    # last to first over all outputs (other windows).
    cdef grad_t shb[_CHUNK + 2 * _SHARE_HALO]
    cdef grad_t* share = shb + _SHARE_HALO
    cdef Py_ssize_t od, oh, a, r, d, h, ds, hs, c0, c1, t, jl, jh, jj, w0, i0, i1, q
    cdef Py_ssize_t done = 0, rows = g.D * g.H
    cdef int64_t dpad, dreal, hpad, hreal
    cdef grad_t dv
    cdef grad_t* row
    cdef bint gather = g.hkind != H_GENERIC
    cdef bint few = g.OW < g.kw
    if g.OD == 1 and g.OH == 1 and g.OW == 1:
        _average_backward_single(go[0], gi, j, g)
        return
    if g.kd != 1 or rows * g.W <= _SMALL_PLANE:
        # (small planes: one fill instead of one per row)
        memset(gi, 0, rows * g.W * sizeof(grad_t))
        done = rows
    for t in range(_SHARE_HALO):   # (the halo after a chunk: zeroed with each chunk)
        shb[t] = 0
    for od in range(g.OD):
        ds = od * g.sd - g.pd
        dpad = min(ds + g.kd, g.D + g.pd) - ds
        dreal = min(ds + g.kd, g.D) - max(ds, 0)
        for oh in range(g.OH):
            hs = oh * g.sh - g.ph
            hpad = min(hs + g.kh, g.hend) - hs
            hreal = min(hs + g.kh, g.H) - max(hs, 0)
            dv = <grad_t>_divisor(j, g, g.jlo * g.sw - g.pw, dpad * hpad, dreal * hreal)
            c0 = 0
            while c0 < g.OW:
                c1 = min(c0 + _CHUNK, g.OW)
                i0 = min(max(c0, g.jlo), c1)
                i1 = max(i0, min(c1, g.jhi))
                for jj in range(c0, i0):
                    share[jj - c0] = go[(od * g.OH + oh) * g.OW + jj] / <grad_t>_divisor(
                        j, g, jj * g.sw - g.pw, dpad * hpad, dreal * hreal)
                _shares(go + (od * g.OH + oh) * g.OW, share - c0, i0, i1, dv)
                for jj in range(i1, c1):
                    share[jj - c0] = go[(od * g.OH + oh) * g.OW + jj] / <grad_t>_divisor(
                        j, g, jj * g.sw - g.pw, dpad * hpad, dreal * hreal)
                if gather:
                    # The halo beyond the chunk: +0.0 (a full chunk has none
                    # after it; a short last one has stale shares there).
                    for t in range(c1 - c0, c1 - c0 + _SHARE_HALO):
                        share[t] = 0
                for a in range(g.kd):
                    d = ds + a
                    if d < 0 or d >= g.D:
                        continue
                    for r in range(g.kh):
                        h = hs + r
                        if h < 0 or h >= g.H:
                            continue
                        q = d * g.H + h
                        if q >= done:
                            memset(gi + done * g.W, 0, (q + 1 - done) * g.W * sizeof(grad_t))
                            done = q + 1
                        row = gi + q * g.W
                        if gather:
                            _gather(row, share - c0, c0, c1, g)
                        elif few:
                            # Fewer outputs than window columns (global
                            # windows): output by output, its window's
                            # columns clipped once.
                            for jj in range(c0, c1):
                                w0 = jj * g.sw - g.pw
                                for t in range(max(w0, 0), min(w0 + g.kw, g.W)):
                                    row[t] = row[t] + share[jj - c0]
                        else:
                            for t in range(g.kw - 1, -1, -1):
                                w0 = t - g.pw
                                jl, jh = _columns(g, w0, c0, c1)
                                for jj in range(jl, jh):
                                    row[jj * g.sw + w0] = row[jj * g.sw + w0] + share[jj - c0]
                c0 = c1
    if done < rows:
        memset(gi + done * g.W, 0, (rows - done) * g.W * sizeof(grad_t))


cdef void _average_backward_single(grad_t go, grad_t* gi, const Job* j,
                                   const Geom* g) noexcept nogil:
    # One output (global windows): its window gets +0.0 + share, the rest
    # of the plane +0.0 (the additions PyTorch makes into its zeroed
    # gradient: a share of -0.0 comes out +0.0).
    cdef Py_ssize_t d0 = max(-g.pd, 0), d1 = min(g.kd - g.pd, g.D)
    cdef Py_ssize_t h0 = max(-g.ph, 0), h1 = min(g.kh - g.ph, g.H)
    cdef Py_ssize_t w0 = max(-g.pw, 0), w1 = min(g.kw - g.pw, g.W), d, h, w, S
    cdef int64_t dpad = min(g.kd - g.pd, g.D + g.pd) + g.pd
    cdef int64_t hpad = min(g.kh - g.ph, g.hend) + g.ph
    cdef grad_t zero = 0
    cdef grad_t v = zero + go / <grad_t>_divisor(j, g, -g.pw, dpad * hpad,
                                                 (d1 - d0) * (h1 - h0))
    cdef grad_t* row
    if d0 == 0 and h0 == 0 and w0 == 0 and d1 == g.D and h1 == g.H and w1 == g.W:
        S = g.D * g.H * g.W
        for d in range(S):
            gi[d] = v
        return
    memset(gi, 0, g.D * g.H * g.W * sizeof(grad_t))
    for d in range(d0, d1):
        for h in range(h0, h1):
            row = gi + (d * g.H + h) * g.W
            for w in range(w0, w1):
                row[w] = v


cdef inline void _shares(const grad_t* go, grad_t* share, Py_ssize_t i0, Py_ssize_t i1,
                         grad_t dv) noexcept nogil:
    # Interior columns [i0, i1): one divisor.
    cdef Py_ssize_t jj
    for jj in range(i0, i1):
        share[jj] = go[jj] / dv


cdef void _gather(grad_t* row, const grad_t* share, Py_ssize_t c0, Py_ssize_t c1,
                  const Geom* g) noexcept nogil:
    # The shares of outputs [c0, c1) (share[jj]; +0.0 up to _SHARE_HALO
    # outputs either side) added to one input row.  Input column
    # S*m - pw + u (0 <= u < S) gets the shares of outputs m - q, q from
    # (K - 1 - u) // S down to 0: in increasing output order.  Blocks m whose
    # columns all lie in [0, W) take a loop with K and S literals.
    cdef Py_ssize_t S = g.sw, m0, m1, mlo, mhi
    m0 = c0
    m1 = c1 + (g.kw - 1) // S
    mlo = min(max(m0, (g.pw + S - 1) // S), m1)
    mhi = max(mlo, min(m1, (g.W + g.pw) // S))
    _gather_edge(row, share, m0, mlo, g)
    if g.hkind == H_K2S2:
        _gather_k(row - g.pw, share, mlo, mhi, 2, 2)
    elif g.hkind == H_K3S2:
        _gather_k(row - g.pw, share, mlo, mhi, 3, 2)
    elif g.hkind == H_K2S1:
        _gather_k(row - g.pw, share, mlo, mhi, 2, 1)
    else:
        _gather_k(row - g.pw, share, mlo, mhi, 3, 1)
    _gather_edge(row, share, mhi, m1, g)


cdef inline void _gather_k(grad_t* row, const grad_t* share, Py_ssize_t m0, Py_ssize_t m1,
                           Py_ssize_t K, Py_ssize_t S) noexcept nogil:
    # K, S literals (row at column -pw).
    cdef Py_ssize_t m, u, q
    cdef grad_t v
    for m in range(m0, m1):
        for u in range(S):
            v = row[S * m + u]
            for q in range((K - 1 - u) // S, -1, -1):
                v = v + share[m - q]
            row[S * m + u] = v


cdef inline void _gather_edge(grad_t* row, const grad_t* share, Py_ssize_t m0,
                              Py_ssize_t m1, const Geom* g) noexcept nogil:
    # Blocks [m0, m1) as _gather_k, columns outside [0, W) skipped.
    cdef Py_ssize_t m, u, q, w
    cdef grad_t v
    for m in range(m0, m1):
        for u in range(g.sw):
            w = g.sw * m - g.pw + u
            if w < 0 or w >= g.W:
                continue
            v = row[w]
            for q in range((g.kw - 1 - u) // g.sw, -1, -1):
                v = v + share[m - q]
            row[w] = v

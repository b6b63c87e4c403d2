# Forward: the max of every window and, when asked, its argmax (Design D-G).
# Channels-first loops, then channels-last ones, then the steps both share
# (_emit, _put, _takes).

# --------------------------------------------------------- channels-first

cdef void _forward(const Job* j, pool_t* y) noexcept nogil:
    # Channels-first: one (D, H, W) volume per task, outputs contiguous;
    # small planes in channels-last tiles instead (_tiles.pxi).
    cdef const Geom* g = j.g
    cdef Py_ssize_t P = j.N * j.C, p
    cdef bint threaded = P * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    cdef Region rg
    if _tiles_pay(j, y, False):
        _forward_tiles(j, y, False)
        return
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for p in prange(P, schedule="static"):
            _forward_one(j, y, p)
        _leave(&rg)
    _settle(&rg)


cdef inline void _forward_one(const Job* j, pool_t* y, Py_ssize_t p) noexcept nogil:
    # Plane p = (n, c).
    cdef Py_ssize_t n = p // j.C
    cdef Py_ssize_t c = p - n * j.C
    cdef Py_ssize_t o = n * j.ys_n + c * j.ys_c
    _forward_plane(j.x + n * j.xs_n + c * j.xs_c, y + o,
                   j.cache + o if j.cache != NULL else NULL,
                   j.flat + o if j.flat != NULL else NULL, j.g)


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


# The fold loops below cover output columns [j0, j1) of a chunk that starts at
# column c0: y and ix point at the chunk, so column j lives at [j - c0].  The
# candidate index of window column t of output j is cbase + j*cj + t*ct: a
# window-local offset (cj = 0) or a flat plane position.

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


# ---------------------------------------------------------- channels-last

cdef void _forward_cl(const Job* j, pool_t* y) noexcept nogil:
    # Channels-last: one output row (n, od, oh) per task; every channel of a
    # window element is one contiguous vector folded into the output pixel's.
    cdef const Geom* g = j.g
    cdef Py_ssize_t R = j.N * g.OD * g.OH, r
    cdef bint threaded = j.N * j.C * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and R > 1
    cdef Region rg
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for r in prange(R, schedule="static"):
            _forward_cl_row(j, y, r)
        _leave(&rg)
    _settle(&rg)


cdef void _forward_cl_row(const Job* j, pool_t* y, Py_ssize_t r) noexcept nogil:
    cdef uint8_t acc8[_CHUNK]
    cdef uint32_t acc32[_CHUNK]
    if j.C >= _lanes(y, <NoIndex*>NULL) and _window_size(j.g) <= _MAX_LOCAL and (
            (j.cache == NULL and j.flat == NULL)
            or (sizeof(pool_t) < 8 and (j.cache != NULL or (j.g.D * j.g.H * j.g.W) >> 32 == 0))
            or (pool_t is double and j.cache == NULL)):
        # Not with int64 argmax lanes: GCC leaves those loops scalar (beside
        # 8-byte values, or float32 past 2**32 positions), slower than below.
        # float64 values carry PyTorch's indices in float64 lanes.
        _lanes_row(j, y, r)
    elif j.cache == NULL and j.flat == NULL:
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


cdef void _lanes_row(const Job* j, pool_t* y, Py_ssize_t r) noexcept nogil:
    # The argmax lanes as wide as the values where they can be, so that one
    # mask selects both: window offsets for the layer's cache (a byte beside
    # bytes), positions in the volume for PyTorch's indices (a widening copy
    # out; beside float64 values, float64 positions and a conversion out).
    # Integers of 8 bytes with indices do not come here.
    cdef bint offsets = j.cache != NULL
    if j.cache == NULL and j.flat == NULL:
        _cl_lanes_row(j, y, r, <NoIndex*>NULL, False)
    elif pool_t is double:
        _cl_lanes_row(j, y, r, <double*>NULL, False)
    elif sizeof(pool_t) == 1 and offsets:
        _cl_lanes_row(j, y, r, <uint8_t*>NULL, True)
    else:
        _cl_lanes_row(j, y, r, <uint32_t*>NULL, offsets)


cdef void _cl_lanes_row(const Job* j, pool_t* y, Py_ssize_t r, lane_t* kind,
                        bint offsets) noexcept nogil:
    # One output row (n, od, oh), pixel by pixel: the pixel's valid window
    # elements are listed in scan order (byte offset, candidate index), then
    # each block of channels keeps its running max and argmax in locals over
    # that list and is stored once.  A block is _lanes() channels; the
    # remainder is the last block ending at C, overlapping the one before (a
    # channel's result does not depend on its block, so those entries are
    # written twice alike).  `kind` only carries the lane type; `offsets`:
    # candidates are window offsets (the layer's cache), otherwise positions
    # in the volume (PyTorch's indices).
    cdef const Geom* g = j.g
    cdef Py_ssize_t C = j.C, B = _lanes(<pool_t*>NULL, kind)
    cdef Py_ssize_t n = r // (g.OD * g.OH)
    cdef Py_ssize_t od = (r - n * g.OD * g.OH) // g.OH
    cdef Py_ssize_t oh = r - (n * g.OD + od) * g.OH
    cdef Py_ssize_t ds = od * g.sd - g.pd, hs = oh * g.sh - g.ph
    cdef Py_ssize_t a0 = _first_in(ds, g.dd), a1 = _end_in(ds, g.dd, g.D, g.kd)
    cdef Py_ssize_t r0 = _first_in(hs, g.dh), r1 = _end_in(hs, g.dh, g.H, g.kh)
    cdef Py_ssize_t ow, c0, o, ne
    cdef Py_ssize_t off[_MAX_LOCAL]
    cdef int64_t cand[_MAX_LOCAL]
    cdef const char* xn = j.x + n * j.xs_n
    for ow in range(g.OW):
        ne = _window_list(g, ds, hs, ow * g.sw - g.pw, a0, a1, r0, r1, off, cand, offsets)
        o = (r * g.OW + ow) * C
        c0 = 0
        while c0 < C:
            c0 = min(c0, C - B)
            _cl_lanes(j, xn + c0 * j.xs_c, off, cand, ne, y, o + c0, kind, offsets)
            c0 = c0 + B


cdef inline Py_ssize_t _lanes(pool_t* vt, lane_t* it) noexcept nogil:
    # Channels per block: _LANE_BYTES of the wider of value and index, and
    # at least 32, so that GCC's early complete unrolling (16 trips at most)
    # leaves the lane loops to the vectoriser, which if-converts the select;
    # unrolled first they become scalar branches.  32 float32 lanes are
    # eight SSE registers, a lane loop of 32 the same code at AVX2 width.
    cdef Py_ssize_t widest = max(sizeof(pool_t), sizeof(lane_t))
    return max(32, _LANE_BYTES // widest)


cdef inline Py_ssize_t _window_list(const Geom* g, Py_ssize_t ds, Py_ssize_t hs, Py_ssize_t ws,
                                    Py_ssize_t a0, Py_ssize_t a1, Py_ssize_t r0, Py_ssize_t r1,
                                    Py_ssize_t* off, int64_t* cand, bint offsets) noexcept nogil:
    # The valid elements of the window at (ds, hs, ws), in scan order: byte
    # offsets from the volume's start (off), candidates (cand: window
    # offsets, or positions in the volume); returns how many.
    cdef Py_ssize_t t0 = _first_in(ws, g.dw), t1 = _end_in(ws, g.dw, g.W, g.kw)
    cdef Py_ssize_t ne = 0, a, rr, t, d, h, w
    for a in range(a0, a1):
        d = ds + a * g.dd
        for rr in range(r0, r1):
            h = hs + rr * g.dh
            for t in range(t0, t1):
                w = ws + t * g.dw
                off[ne] = d * g.xs_d + h * g.xs_h + w * g.xs_w
                cand[ne] = ((a * g.kh + rr) * g.kw + t) if offsets else ((d * g.H + h) * g.W + w)
                ne = ne + 1
    return ne


cdef inline void _cl_lanes(const Job* j, const char* xc, const Py_ssize_t* off,
                           const int64_t* cand, Py_ssize_t ne, pool_t* y, Py_ssize_t o,
                           lane_t* kind, bint offsets) noexcept nogil:
    # Output entries [o, o + B) of one pixel: the window elements (xc +
    # off[e], candidate cand[e]) in scan order, each a channel vector folded
    # into the locals.  The first two elements seed with a select, not a
    # copy, which GCC would turn into a memcpy that keeps the locals in
    # memory (a window of one folds its element into itself); values only,
    # the last element is folded straight into the output (a window of two
    # folds its last element again: harmless for the element folded last).
    cdef Py_ssize_t B = _lanes(<pool_t*>NULL, kind), e, k
    cdef Py_ssize_t e1 = 1 if ne > 1 else 0
    cdef pool_t mv[_LANE_BYTES]
    cdef lane_t mi[_LANE_BYTES]
    cdef const pool_t* u = <const pool_t*>(xc + off[0])
    cdef const pool_t* v = <const pool_t*>(xc + off[e1])
    cdef lane_t ci, cu
    cdef bint tk
    cdef pool_t* yo = y + o      # locals: the outputs' pointers, not loads
    cdef uint8_t* cache          # from j after every store
    cdef int64_t* flat
    if lane_t is NoIndex:
        for k in range(B):
            mv[k] = v[k] if _takes(v[k], u[k]) else u[k]
        for e in range(2, ne - 1):
            v = <const pool_t*>(xc + off[e])
            _keep_nest()
            for k in range(B):
                mv[k] = v[k] if _takes(v[k], mv[k]) else mv[k]
        v = <const pool_t*>(xc + off[ne - 1])
        for k in range(B):
            yo[k] = v[k] if _takes(v[k], mv[k]) else mv[k]
    else:
        cu, ci = <lane_t>cand[0], <lane_t>cand[e1]
        for k in range(B):
            tk = _takes(v[k], u[k])
            mv[k] = v[k] if tk else u[k]
            mi[k] = ci if tk else cu
        for e in range(2, ne):
            v = <const pool_t*>(xc + off[e])
            _keep_nest()
            ci = <lane_t>cand[e]
            for k in range(B):
                tk = _takes(v[k], mv[k])
                mv[k] = v[k] if tk else mv[k]
                mi[k] = ci if tk else mi[k]
        for k in range(B):
            yo[k] = mv[k]
        if offsets:
            cache = j.cache + o
            for k in range(B):
                cache[k] = <uint8_t>mi[k]
        else:
            flat = j.flat + o
            for k in range(B):
                flat[k] = <int64_t>mi[k]


cdef inline Py_ssize_t _first_in(Py_ssize_t s, Py_ssize_t step) noexcept nogil:
    # The first window element whose coordinate s + k * step is >= 0.
    # (Undilated windows without the division: per pixel, it cost the
    # channels-last tiles of 7x7 planes 6% of their time.)
    if s >= 0:
        return 0
    return -s if step == 1 else (step - 1 - s) // step


cdef inline Py_ssize_t _end_in(Py_ssize_t s, Py_ssize_t step, Py_ssize_t L,
                               Py_ssize_t k) noexcept nogil:
    # One past the last of k window elements whose coordinate is < L.
    if s >= L:
        return 0
    return min(k, L - s if step == 1 else (L - 1 - s) // step + 1)


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


# ----------------------------------------------------------- both layouts

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


cdef inline bint _takes(pool_t v, pool_t best) noexcept nogil:
    # PyTorch's rule: a strictly larger value, or any NaN, replaces the running
    # max; so ties keep the first maximum and the last NaN wins.  (Written with
    # `or`: GCC vectorises that form of the float test, not the bitwise one.)
    if pool_t is float or pool_t is double:
        return v > best or v != v
    else:
        return v > best

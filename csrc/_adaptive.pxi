# Adaptive pooling (Design L): windows of varying size from PyTorch's
# start/end rule, given as bounds per axis in Job.a0/a1 (starts and ends
# nondecreasing along each axis, as that rule makes them).  Channels-first
# loops, then channels-last ones, then what both share: the lane folds, then
# the reductions and exact fix-ups.

from libc.string cimport memcmp

cdef extern from "<math.h>":
    float NAN
    # C99's type-generic macro: one unordered comparison tests two values.
    bint isunordered(double a, double b) noexcept nogil


# How a lane's code (its group's, Job-independent) maps to input elements:
# the i-th segment of the group, lane k.
cdef enum LaneKind:
    LANES_ROWS      # code: a row d * H + h; segment i: row + i; lane k: column s0 + k
    LANES_RUNS      # code: a position; segment i: + i * _CHUNK; lane k: + k
    LANES_PIXELS    # code: (row << sw) | w; segment i: column w + i; lane k: channel

cdef struct Lanes:
    int kind
    const char* x       # element 0 of the volume (channels-last: of lane 0's channel)
    Py_ssize_t s0       # LANES_ROWS: column of lane 0
    Py_ssize_t lane     # bytes from one lane's element to the next (LANES_PIXELS)
    int sw              # LANES_PIXELS: bits of the column in a code
    const Geom* g


# --------------------------------------------------------- channels-first

cdef void _adaptive(const Job* j, pool_t* y) noexcept nogil:
    # Channels-first: one (D, H, W) volume per task, outputs contiguous.
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


cdef void _adaptive_plane(const Job* j, const char* xp, pool_t* yp,
                          int64_t* ip) noexcept nogil:
    # The lanes: values, and each one's group code (uint32 beside values of
    # at most 4 bytes in volumes below 2**32, so that a vectorised fold runs
    # as many lanes as the values allow; int64 otherwise).
    cdef pool_t m[_CHUNK]
    cdef uint32_t b32[_CHUNK]
    cdef int64_t b64[_CHUNK]
    cdef const Geom* g = j.g
    if ip == NULL:
        _adaptive_rows(j, xp, yp, ip, m, <NoIndex*>NULL)
    elif sizeof(pool_t) <= 4 and (g.D * g.H * g.W) >> 32 == 0:
        _adaptive_rows(j, xp, yp, ip, m, b32)
    else:
        _adaptive_rows(j, xp, yp, ip, m, b64)


cdef void _adaptive_rows(const Job* j, const char* xp, pool_t* yp, int64_t* ip,
                         pool_t* m, idx_t* b) noexcept nogil:
    # Output row by output row (od, oh).  Output columns go in groups whose
    # windows together span at most _CHUNK input columns: the window rows,
    # restricted to that span, are folded into lanes (lane k: column s0 + k),
    # then each output reduces its window's lanes.  A window wider than
    # _CHUNK is a group of its own, each row a run folded in pieces of
    # _CHUNK lanes.  An output row of one window spanning whole contiguous
    # rows is a run per depth slice (one run, when the window is the whole
    # contiguous volume): global pooling keeps every lane busy.
    cdef const Geom* g = j.g
    cdef const int64_t* ws = j.a0[2]
    cdef const int64_t* we = j.a1[2]
    cdef Py_ssize_t isz = sizeof(pool_t), od, oh, oa, ob, i, o, s0, n, d, h
    cdef Py_ssize_t d0, d1, h0, h1
    cdef bint seeded
    cdef bint whole = (g.OW == 1 and ws[0] == 0 and we[0] == g.W and g.xs_w == isz
                       and g.xs_h == g.W * isz)
    cdef Lanes L
    L.x, L.g, L.s0, L.lane, L.sw = xp, g, 0, g.xs_w, 0
    for od in range(g.OD):
        d0, d1 = j.a0[0][od], j.a1[0][od]
        for oh in range(g.OH):
            h0, h1 = j.a0[1][oh], j.a1[1][oh]
            o = (od * g.OH + oh) * g.OW
            seeded = False
            if whole:
                L.kind = LANES_RUNS
                if h0 == 0 and h1 == g.H and g.xs_d == g.H * g.xs_h:
                    n = (d1 - d0) * g.H * g.W
                    _fold_run(xp + d0 * g.xs_d, g.xs_w, n, d0 * g.H * g.W, m, b, &seeded)
                else:
                    n = (h1 - h0) * g.W
                    for d in range(d0, d1):
                        _fold_run(xp + d * g.xs_d + h0 * g.xs_h, g.xs_w, n,
                                  (d * g.H + h0) * g.W, m, b, &seeded)
                _store(&L, m, b, 0, min(n, _CHUNK), yp + o * j.ys_s,
                       ip + o * j.ys_s if ip != NULL else NULL, d0, d1, h0, h1, 0, g.W)
                continue
            oa = 0
            while oa < g.OW:
                s0 = ws[oa]
                ob = oa + 1
                if we[oa] - s0 <= _CHUNK:
                    while ob < g.OW and we[ob] - s0 <= _CHUNK:
                        ob += 1
                n = we[ob - 1] - s0
                seeded = False
                if n > _CHUNK:
                    L.kind = LANES_RUNS
                    for d in range(d0, d1):
                        for h in range(h0, h1):
                            _fold_run(xp + d * g.xs_d + h * g.xs_h + s0 * g.xs_w, g.xs_w,
                                      n, (d * g.H + h) * g.W + s0, m, b, &seeded)
                    _store(&L, m, b, 0, _CHUNK, yp + (o + oa) * j.ys_s,
                           ip + (o + oa) * j.ys_s if ip != NULL else NULL,
                           d0, d1, h0, h1, ws[oa], we[oa])
                else:
                    L.kind, L.s0 = LANES_ROWS, s0
                    for d in range(d0, d1):
                        _fold_segments(xp + d * g.xs_d + h0 * g.xs_h + s0 * g.xs_w, g.xs_h,
                                       g.xs_w, h1 - h0, n, d * g.H + h0, 1, m, b, &seeded)
                    for i in range(oa, ob):
                        _store(&L, m, b, ws[i] - s0, we[i] - s0, yp + (o + i) * j.ys_s,
                               ip + (o + i) * j.ys_s if ip != NULL else NULL,
                               d0, d1, h0, h1, ws[i], we[i])
                oa = ob


cdef inline void _fold_run(const char* p, Py_ssize_t step, Py_ssize_t n, int64_t pos,
                           pool_t* m, idx_t* b, bint* seeded) noexcept nogil:
    # A run of n elements (`step` bytes apart, positions pos, pos + 1, ...)
    # as pieces of _CHUNK lanes, then its shorter tail: element q into lane
    # q % _CHUNK, codes positions (LANES_RUNS).  Runs of one window have one
    # length, so the first piece seeds every lane a later one reaches.
    cdef Py_ssize_t full = n // _CHUNK, tail = n - full * _CHUNK
    _fold_segments(p, _CHUNK * step, step, full, _CHUNK, pos, _CHUNK, m, b, seeded)
    if tail:
        _fold_segments(p + full * _CHUNK * step, 0, step, 1, tail, pos + full * _CHUNK,
                       _CHUNK, m, b, seeded)


# ---------------------------------------------------------- channels-last

cdef void _adaptive_cl(const Job* j, pool_t* y) noexcept nogil:
    # Channels-last: one output row (n, od, oh) per task; every channel of a
    # window element is one contiguous vector folded into the output pixel's.
    cdef const Geom* g = j.g
    cdef Py_ssize_t R = j.N * g.OD * g.OH, r
    cdef bint parallel = j.N * j.C * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and R > 1
    for r in prange(R, nogil=True, schedule="static", num_threads=_threads(),
                    use_threads_if=parallel):
        _adaptive_cl_row(j, y, r)


cdef void _adaptive_cl_row(const Job* j, pool_t* y, Py_ssize_t r) noexcept nogil:
    # Codes as uint32 beside values of at most 4 bytes when they fit, int64
    # folded in place otherwise.
    cdef uint32_t acc[_CHUNK]
    cdef const Geom* g = j.g
    cdef int sw = _bit_width(g.W)
    if j.flat == NULL:
        _cl_pixels(j, y, r, sw, <NoIndex*>NULL)
    elif sizeof(pool_t) <= 4 and ((g.D * g.H) << sw) >> 32 == 0:
        _cl_pixels(j, y, r, sw, acc)
    else:
        _cl_pixels(j, y, r, sw, <int64_t*>NULL)


cdef void _cl_pixels(const Job* j, pool_t* y, Py_ssize_t r, int sw,
                     idx_t* acc) noexcept nogil:
    # Output pixels of row r one by one, channels in chunks of _CHUNK: the
    # window's pixels, in scan order and up to four at a time along a row,
    # folded over the chunk into the output pixel's values.  Lanes are
    # channels, whole windows each: no lane merges, only each lane's index
    # found in its group, or after a NaN its window scanned again.
    cdef const Geom* g = j.g
    cdef Py_ssize_t n = r // (g.OD * g.OH)
    cdef Py_ssize_t od = (r - n * g.OD * g.OH) // g.OH
    cdef Py_ssize_t oh = r - (n * g.OD + od) * g.OH
    cdef Py_ssize_t d0 = j.a0[0][od], d1 = j.a1[0][od], h0 = j.a0[1][oh], h1 = j.a1[1][oh]
    cdef Py_ssize_t ow, w0, w1, o, c0, c1, d, h, k
    cdef const char* xn = j.x + n * j.xs_n
    cdef bint seeded
    cdef idx_t* ix = NULL
    cdef pool_t* yc
    cdef Lanes L
    L.kind, L.g, L.s0, L.lane, L.sw = LANES_PIXELS, g, 0, j.xs_c, sw
    for ow in range(g.OW):
        w0, w1 = j.a0[2][ow], j.a1[2][ow]
        o = n * j.ys_n + ((od * g.OH + oh) * g.OW + ow) * j.ys_s    # channel 0
        c0 = 0
        while c0 < j.C:
            c1 = min(c0 + _CHUNK, j.C)
            yc = y + o + c0
            if idx_t is int64_t:
                ix = j.flat + o + c0
            elif idx_t is uint32_t:
                ix = acc
            seeded = False
            for d in range(d0, d1):
                for h in range(h0, h1):
                    _fold_segments(xn + d * g.xs_d + h * g.xs_h + w0 * g.xs_w + c0 * j.xs_c,
                                   g.xs_w, j.xs_c, w1 - w0, c1 - c0,
                                   ((d * g.H + h) << sw) | w0, 1, yc, ix, &seeded)
            L.x = xn + c0 * j.xs_c
            for k in range(c1 - c0):
                if pool_t is float or pool_t is double:
                    if yc[k] != yc[k]:   # a NaN: PyTorch's is the window's last
                        _scan_window(L.x + k * L.lane, g, d0, d1, h0, h1, w0, w1, yc + k,
                                     j.flat + o + c0 + k if j.flat != NULL else NULL)
                        continue
                if idx_t is uint32_t or idx_t is int64_t:
                    j.flat[o + c0 + k] = _resolve(&L, k, ix[k], yc[k])
            c0 = c1


cdef inline int _bit_width(Py_ssize_t n) noexcept nogil:
    # Bits that hold 0 .. n - 1.
    cdef int s = 0
    while (<Py_ssize_t>1 << s) < n:
        s += 1
    return s


# ------------------------------------------------------------ lane folds

# A lane holds a candidate: a value and the code of its group, up to four
# segments folded at once (Lanes says how a code maps to elements).  Every
# lane sees its elements in scan order and keeps the first maximum (Design
# D), so its value is where its group first holds it (_resolve).  A NaN only
# marks its lane (any NaN): that window is then scanned again element by
# element for PyTorch's last NaN.

cdef inline void _fold_segments(const char* p, Py_ssize_t rs, Py_ssize_t step,
                                Py_ssize_t count, Py_ssize_t n, int64_t code,
                                int64_t cstep, pool_t* m, idx_t* b,
                                bint* seeded) noexcept nogil:
    # `count` segments of n elements (`step` bytes apart), segment i at
    # p + i * rs, into lanes [0, n), four at a time with code + i * cstep for
    # the group from segment i; a last group of one to three repeats its
    # last segment (a repeat changes neither maximum nor NaN).  The first
    # fold seeds the lanes.
    cdef Py_ssize_t i = 0, r
    while i < count:
        r = min(count - i, 4) - 1
        if seeded[0]:
            _fold4(p + i * rs, min(r, 1) * rs, min(r, 2) * rs, r * rs, step, n, m, b,
                   code + i * cstep, <Merge*>NULL)
        else:
            _fold4(p + i * rs, min(r, 1) * rs, min(r, 2) * rs, r * rs, step, n, m, b,
                   code + i * cstep, <Seed*>NULL)
            seeded[0] = True
        i += 4


cdef void _fold4(const char* p, Py_ssize_t o1, Py_ssize_t o2, Py_ssize_t o3,
                 Py_ssize_t step, Py_ssize_t n, pool_t* m, idx_t* b, int64_t code,
                 row_t* mode) noexcept nogil:
    # Contiguous elements get their own loop (vector loads).  Not inline:
    # inlined into its callers, GCC vectorised some copies of the loop only.
    if step == sizeof(pool_t):
        _fold4_as(p, o1, o2, o3, sizeof(pool_t), n, m, b, code, mode)
    else:
        _fold4_as(p, o1, o2, o3, step, n, m, b, code, mode)


cdef inline void _fold4_as(const char* p, Py_ssize_t o1, Py_ssize_t o2, Py_ssize_t o3,
                           Py_ssize_t step, Py_ssize_t n, pool_t* m, idx_t* b,
                           int64_t code, row_t* mode) noexcept nogil:
    # Segments at p, p + o1, p + o2, p + o3 into each lane: their first
    # maximum (a chain of maxima, earlier ones kept on ties), merged into the
    # lane if larger, with the group's code; a NaN among them makes the lane
    # NaN.  One code select and one NaN select per four elements: a few
    # vector instructions per element.  (Both old values are loaded before
    # either store, as in _put; the code is cast out of the loop: GCC does
    # not if-convert the select otherwise.)
    cdef Py_ssize_t k
    cdef pool_t x0, x1, x2, x3, u, old
    cdef idx_t oldi, c
    cdef bint t, nan
    if idx_t is uint32_t or idx_t is int64_t:
        c = <idx_t>code
    for k in range(n):
        x0 = (<const pool_t*>(p + k * step))[0]
        x1 = (<const pool_t*>(p + o1 + k * step))[0]
        x2 = (<const pool_t*>(p + o2 + k * step))[0]
        x3 = (<const pool_t*>(p + o3 + k * step))[0]
        u = x1 if x1 > x0 else x0
        u = x2 if x2 > u else u
        u = x3 if x3 > u else u
        if row_t is Merge:
            old = m[k]
            if idx_t is uint32_t or idx_t is int64_t:
                oldi = b[k]
            t = u > old
            u = u if t else old
        if pool_t is float or pool_t is double:
            nan = isunordered(x0, x1) | isunordered(x2, x3)
            u = <pool_t>NAN if nan else u
        m[k] = u
        if idx_t is uint32_t or idx_t is int64_t:
            if row_t is Seed:
                b[k] = c
            else:
                b[k] = c if t else oldi


# ------------------------------------------- reductions and exact fix-ups

cdef void _store(const Lanes* L, const pool_t* m, const idx_t* b, int a, int e, pool_t* y,
                 int64_t* ip, Py_ssize_t d0, Py_ssize_t d1, Py_ssize_t h0, Py_ssize_t h1,
                 Py_ssize_t w0, Py_ssize_t w1) noexcept nogil:
    # One output (y, and ip when not NULL) from lanes [a, e), compared by key
    # (value, then position: lanes are not in scan order among themselves):
    # the max value, then the first position holding it, from the group of
    # each lane that holds it.  The window [d0, d1) x [h0, h1) x [w0, w1) is
    # scanned again where the lanes cannot tell: a NaN, or, values only, a
    # max of zero held by both -0.0 and 0.0.
    cdef pool_t best, u
    cdef int k, cnt = 0, first = 0
    cdef int64_t p = -1, q
    if pool_t is float or pool_t is double:
        if _any_nan(m, a, e):
            _scan_window(L.x, L.g, d0, d1, h0, h1, w0, w1, y, ip)
            return
    best = _lane_max(m, a, e)
    if idx_t is NoIndex:
        if pool_t is float or pool_t is double:
            if best == 0 and not _same_bits(m, a, e, best):
                _scan_window(L.x, L.g, d0, d1, h0, h1, w0, w1, y, ip)
                return
        y[0] = best
    else:
        _tied(m, a, e, best, &cnt, &first)
        if cnt == 1:
            y[0] = best
            ip[0] = _resolve(L, first, b[first], best)
            return
        for k in range(first, e):     # lanes tied: each one's position
            u = m[k]
            if u == best:
                q = _resolve(L, k, b[k], best)
                if p < 0 or q < p:
                    p = q
                    y[0] = u
        ip[0] = p


cdef inline bint _any_nan(const pool_t* m, int a, int e) noexcept nogil:
    # A branch-free OR, which vectorises.
    cdef int k
    cdef bint nan = False
    for k in range(a, e):
        nan |= isunordered(m[k], m[k])
    return nan


cdef inline pool_t _lane_max(const pool_t* m, int a, int e) noexcept nogil:
    # The max of m[a:e] (no NaN): eight running maxima, so that no step
    # waits for the previous one's result, then the rest one by one.  Ties
    # keep the earlier lane (any of them will do: _tied looks at them all).
    cdef pool_t p[8]
    cdef pool_t best, u
    cdef int k = a + 1, l
    best = m[a]
    if e - a >= 16:
        for l in range(8):
            p[l] = m[a + l]
        k = a + 8
        while k + 8 <= e:
            for l in range(8):
                u = m[k + l]
                p[l] = u if u > p[l] else p[l]
            k += 8
        best = p[0]
        for l in range(1, 8):
            best = p[l] if p[l] > best else best
    while k < e:
        u = m[k]
        best = u if u > best else best
        k += 1
    return best


cdef inline void _tied(const pool_t* m, int a, int e, pool_t best, int* count,
                       int* first) noexcept nogil:
    # How many lanes hold `best`, and the first of them: branch-free
    # reductions in lanes as wide as float32 values, which vectorise (a lane
    # not holding it counts as lane e, by a mask: GCC does not if-convert a
    # select on a comparison of values here).
    cdef int k, c = 0, f = e, q, t
    for k in range(a, e):
        t = m[k] == best
        c += t
        q = k | ((t - 1) & e)
        f = q if q < f else f
    count[0] = c
    first[0] = f


cdef int64_t _resolve(const Lanes* L, int k, int64_t code, pool_t best) noexcept nogil:
    # The position of lane k's value `best` (not NaN): the first of its
    # group's segments (at most four) holding it, as the lane kept the first
    # maximum.
    cdef const Geom* g = L.g
    cdef const char* x = L.x + k * L.lane if L.kind == LANES_PIXELS else L.x
    cdef int64_t r, d, h, w, q
    cdef int i
    for i in range(4):
        if L.kind == LANES_ROWS:
            r, w = code + i, L.s0 + k
        elif L.kind == LANES_PIXELS:
            r, w = code >> L.sw, (code & ((<int64_t>1 << L.sw) - 1)) + i
        else:
            q = code + k + i * _CHUNK
            r = q // g.W
            w = q - r * g.W
        d, h = 0, r
        if g.D > 1:
            d = r // g.H
            h = r - d * g.H
        if i == 3 or (<const pool_t*>(x + d * g.xs_d + h * g.xs_h + w * g.xs_w))[0] == best:
            return r * g.W + w
    return 0


cdef void _scan_window(const char* xp, const Geom* g, Py_ssize_t d0, Py_ssize_t d1,
                       Py_ssize_t h0, Py_ssize_t h1, Py_ssize_t w0, Py_ssize_t w1,
                       pool_t* y, int64_t* ip) noexcept nogil:
    # PyTorch's scan of one window, element by element: y (and ip, when not
    # NULL).
    cdef Py_ssize_t d, h, w
    cdef pool_t best = (<const pool_t*>(xp + d0 * g.xs_d + h0 * g.xs_h + w0 * g.xs_w))[0]
    cdef pool_t u
    cdef int64_t bi = (d0 * g.H + h0) * g.W + w0
    for d in range(d0, d1):
        for h in range(h0, h1):
            for w in range(w0, w1):
                u = (<const pool_t*>(xp + d * g.xs_d + h * g.xs_h + w * g.xs_w))[0]
                if _takes(u, best):
                    best = u
                    bi = (d * g.H + h) * g.W + w
    y[0] = best
    if ip != NULL:
        ip[0] = bi


cdef bint _same_bits(const pool_t* m, int a, int e, pool_t best) noexcept nogil:
    # Whether every lane equal to `best` has its bits (-0.0 against 0.0).
    cdef int k
    for k in range(a, e):
        if m[k] == best and memcmp(&m[k], &best, sizeof(pool_t)) != 0:
            return False
    return True

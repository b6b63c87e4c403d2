# Adaptive pooling (Design M): windows of varying size from PyTorch's
# start/end rule, given as bounds per axis in Job.a0/a1 (starts and ends
# nondecreasing along each axis, as that rule makes them).  Channels-first
# loops, then channels-last ones, then what both share: the lane folds, then
# the reductions and exact fix-ups.

from libc.string cimport memcmp

cdef extern from "<math.h>":
    float NAN
    # C99's type-generic macro: one unordered comparison tests two values.
    bint isunordered(double a, double b) noexcept nogil

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define POOLING_PREFETCH(p) __builtin_prefetch(p)
    #else
    #define POOLING_PREFETCH(p) ((void)(p))
    #endif
    """
    # A hint to fetch the cache line at p (never faults, whatever p is).
    void _prefetch "POOLING_PREFETCH"(const void* p) noexcept nogil


# What the row folds' lanes are: how a lane's code (its group's) maps to
# input elements, segment i of the group and lane k.
cdef enum LaneKind:
    LANES_ROWS      # code: a row d * H + h; segment i: row + i; lane k: column s0 + k
    LANES_PIXELS    # code: (row << sw) | w; segment i: column w + i; lane k: channel

cdef struct Lanes:
    int kind
    const char* x       # element 0 of the volume (channels-last: of lane 0's channel)
    Py_ssize_t s0       # LANES_ROWS: column of lane 0
    Py_ssize_t lane     # bytes from one lane's element to the next (LANES_PIXELS)
    int sw              # LANES_PIXELS: bits of the column in a code
    Py_ssize_t last     # the window's last row (LANES_ROWS) or column (LANES_PIXELS)
    bint single         # LANES_ROWS: windows one row high (lanes in scan order)
    const Geom* g


# --------------------------------------------------------- channels-first

cdef void _adaptive(const Job* j, pool_t* y) noexcept nogil:
    # Channels-first: one (D, H, W) volume per task, outputs contiguous.
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
            _adaptive_plane(j, j.x + n * j.xs_n + c * j.xs_c, y + o,
                            j.flat + o if j.flat != NULL else NULL)
        _leave(&rg)
    _settle(&rg)


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
    # _CHUNK is a group of its own, its rows runs (_store_runs); so is an
    # output row of one window spanning whole contiguous rows, a run per
    # depth slice (one run, when the window is the whole contiguous volume).
    cdef const Geom* g = j.g
    cdef const int64_t* ws = j.a0[2]
    cdef const int64_t* we = j.a1[2]
    cdef Py_ssize_t isz = sizeof(pool_t), od, oh, oa, ob, i, o, s0, n, d, h
    cdef Py_ssize_t d0, d1, h0, h1
    cdef bint seeded
    cdef bint whole = (g.OW == 1 and ws[0] == 0 and we[0] == g.W and g.xs_w == isz
                       and g.xs_h == g.W * isz)
    cdef Lanes L
    # Rows are read in order down the plane, one stream, which the hardware
    # fetches ahead too slowly: rows about 4 KB ahead are asked for.
    cdef Py_ssize_t row = min(g.W, <Py_ssize_t>_CHUNK) * (g.xs_w if g.xs_w > 0 else -g.xs_w)
    cdef Py_ssize_t ahead = max(4, min(16, 4096 // max(row, 1)))
    L.kind, L.x, L.g, L.s0, L.lane, L.sw, L.single = LANES_ROWS, xp, g, 0, 0, 0, False
    for od in range(g.OD):
        d0, d1 = j.a0[0][od], j.a1[0][od]
        for oh in range(g.OH):
            h0, h1 = j.a0[1][oh], j.a1[1][oh]
            o = (od * g.OH + oh) * g.OW
            if whole:
                if h0 == 0 and h1 == g.H and g.xs_d == g.H * g.xs_h:   # one run
                    _store_runs(xp, g, m, d0, d1, d1 - d0, 0, g.H, g.H, 0,
                                (d1 - d0) * g.H * g.W, yp + o * j.ys_s,
                                ip + o * j.ys_s if ip != NULL else NULL)
                else:                                                   # one per slice
                    _store_runs(xp, g, m, d0, d1, 1, h0, h1, h1 - h0, 0, (h1 - h0) * g.W,
                                yp + o * j.ys_s, ip + o * j.ys_s if ip != NULL else NULL)
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
                if n > _CHUNK:                                          # a run per row
                    _store_runs(xp, g, m, d0, d1, 1, h0, h1, 1, s0, n, yp + (o + oa) * j.ys_s,
                                ip + (o + oa) * j.ys_s if ip != NULL else NULL)
                else:
                    L.s0, L.last, L.single = s0, h1 - 1, d1 - d0 == 1 and h1 - h0 == 1
                    for d in range(d0, d1):
                        _fold_segments(xp + d * g.xs_d + h0 * g.xs_h + s0 * g.xs_w, g.xs_h,
                                       g.xs_w, h1 - h0, n, d * g.H + h0, 1, m, b, &seeded,
                                       ahead)
                    for i in range(oa, ob):
                        _store(&L, m, b, ws[i] - s0, we[i] - s0, yp + (o + i) * j.ys_s,
                               ip + (o + i) * j.ys_s if ip != NULL else NULL,
                               d0, d1, h0, h1, ws[i], we[i])
                oa = ob


cdef void _store_runs(const char* xp, const Geom* g, pool_t* m, Py_ssize_t d0, Py_ssize_t d1,
                      Py_ssize_t dstep, Py_ssize_t h0, Py_ssize_t h1, Py_ssize_t hstep,
                      Py_ssize_t s0, Py_ssize_t n, pool_t* y, int64_t* ip) noexcept nogil:
    # One output whose window is runs of n elements (xs_w bytes apart)
    # starting at (d, h, s0) for d in range(d0, d1, dstep), h in range(h0, h1,
    # hstep), in scan order.  Long runs have room for another plan than the
    # row folds: first their max, in any order (_fold_quarters), then, where
    # the max alone is not the answer (indices wanted, a NaN, a zero), a
    # search in scan order for its first occurrence, or from the end for the
    # last NaN.  The search stops where it finds it, and reads what the
    # first pass has just brought into the cache.
    cdef Py_ssize_t d, h, q, lanes = 1
    cdef bint seeded = False
    cdef pool_t best
    d = d0
    while d < d1:
        h = h0
        while h < h1:
            lanes = _fold_quarters(xp + d * g.xs_d + h * g.xs_h + s0 * g.xs_w, g.xs_w, n, m,
                                   &seeded)
            h += hstep
        d += dstep
    best = m[0]     # (not read by the NaN search)
    if pool_t is float or pool_t is double:
        if _any_nan(m, 0, <int>lanes):
            d = d1 - dstep
            while d >= d0:
                h = h1 - hstep
                while h >= h0:
                    q = _find(xp + d * g.xs_d + h * g.xs_h + s0 * g.xs_w, g.xs_w, n, best,
                              True)
                    if q >= 0:
                        _take(xp, g, (d * g.H + h) * g.W + s0 + q, y, ip)
                        return
                    h -= hstep
                d -= dstep
    best = _lane_max(m, 0, <int>lanes)
    y[0] = best
    if ip == NULL:
        if pool_t is float or pool_t is double:
            if best != 0:       # a zero: the first one's sign is wanted
                return
        else:
            return
    d = d0
    while d < d1:
        h = h0
        while h < h1:
            q = _find(xp + d * g.xs_d + h * g.xs_h + s0 * g.xs_w, g.xs_w, n, best, False)
            if q >= 0:
                _take(xp, g, (d * g.H + h) * g.W + s0 + q, y, ip)
                return
            h += hstep
        d += dstep


cdef inline Py_ssize_t _fold_quarters(const char* p, Py_ssize_t step, Py_ssize_t n,
                                      pool_t* m, bint* seeded) noexcept nogil:
    # A run into the lanes, order aside: its four quarters as the segments of
    # each fold, so that four long streams are read at once (a single stream
    # runs at a fraction of the bandwidth), in pieces of _CHUNK lanes; the
    # last n % 4 elements into lane 0.  Runs of one window have one length,
    # so the first fold seeds every lane a later one reaches; returns how
    # many that is.
    cdef Py_ssize_t Q = n // 4, c = 0, k, i
    while c < Q:
        k = min(_CHUNK, Q - c)
        if seeded[0]:
            _fold4(p + c * step, Q * step, 2 * Q * step, 3 * Q * step, step, k, m,
                   <NoIndex*>NULL, 0, <Merge*>NULL)
        else:
            _fold4(p + c * step, Q * step, 2 * Q * step, 3 * Q * step, step, k, m,
                   <NoIndex*>NULL, 0, <Seed*>NULL)
            seeded[0] = True
        c += k
    for i in range(4 * Q, n):
        if seeded[0]:
            _fold4(p + i * step, 0, 0, 0, step, 1, m, <NoIndex*>NULL, 0, <Merge*>NULL)
        else:
            _fold4(p + i * step, 0, 0, 0, step, 1, m, <NoIndex*>NULL, 0, <Seed*>NULL)
            seeded[0] = True
    return min(Q, _CHUNK) if Q > 0 else 1


cdef inline Py_ssize_t _find(const char* p, Py_ssize_t step, Py_ssize_t n, pool_t best,
                             bint nan) noexcept nogil:
    # The first element of a run equal to `best`, or (nan) the last NaN; -1
    # if none.  Contiguous runs get their own loops (vector loads).
    if step == sizeof(pool_t):
        return _find_as(p, sizeof(pool_t), n, best, nan)
    return _find_as(p, step, n, best, nan)


cdef inline Py_ssize_t _find_as(const char* p, Py_ssize_t step, Py_ssize_t n, pool_t best,
                                bint nan) noexcept nogil:
    # Blocks of 32 elements tested at once without a branch (that
    # vectorises), then the hit's block element by element.
    cdef Py_ssize_t q, i
    cdef bint hit
    cdef pool_t u
    if pool_t is float or pool_t is double:
        if nan:
            q = n
            while q >= 32:
                hit = False
                for i in range(q - 32, q):
                    u = (<const pool_t*>(p + i * step))[0]
                    hit |= isunordered(u, u)
                if hit:
                    break
                q -= 32
            while q > 0:
                q -= 1
                u = (<const pool_t*>(p + q * step))[0]
                if u != u:
                    return q
            return -1
    q = 0
    while q + 32 <= n:
        hit = False
        for i in range(q, q + 32):
            hit |= (<const pool_t*>(p + i * step))[0] == best
        if hit:
            break
        q += 32
    while q < n:
        if (<const pool_t*>(p + q * step))[0] == best:
            return q
        q += 1
    return -1


cdef inline void _take(const char* xp, const Geom* g, int64_t q, pool_t* y,
                       int64_t* ip) noexcept nogil:
    # Position q of the volume as the result.
    cdef int64_t d = q // (g.H * g.W), h, w
    h = (q - d * g.H * g.W) // g.W
    w = q - (d * g.H + h) * g.W
    y[0] = (<const pool_t*>(xp + d * g.xs_d + h * g.xs_h + w * g.xs_w))[0]
    if ip != NULL:
        ip[0] = q


# ---------------------------------------------------------- channels-last

cdef void _adaptive_cl(const Job* j, pool_t* y) noexcept nogil:
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
            _adaptive_cl_row(j, y, r)
        _leave(&rg)
    _settle(&rg)


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
    L.kind, L.g, L.s0, L.lane, L.sw, L.single = LANES_PIXELS, g, 0, j.xs_c, sw, False
    for ow in range(g.OW):
        w0, w1 = j.a0[2][ow], j.a1[2][ow]
        L.last = w1 - 1
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
                                int64_t cstep, pool_t* m, idx_t* b, bint* seeded,
                                Py_ssize_t ahead=0) noexcept nogil:
    # `count` segments of n elements (`step` bytes apart), segment i at
    # p + i * rs, into lanes [0, n), four at a time with code + i * cstep for
    # the group from segment i; a last group of one to three repeats its
    # last segment (a repeat changes neither maximum nor NaN).  The first
    # fold seeds the lanes.  With `ahead`, the segments that many after each
    # group's are prefetched (whatever they are: the next window's, past
    # the plane).
    cdef Py_ssize_t i = 0, r, a, c, lo, hi, full = count // 4
    if not ahead and full > 1:      # whole groups in one call (short segments)
        if seeded[0]:
            _fold4(p, rs, 2 * rs, 3 * rs, step, n, m, b, code, <Merge*>NULL, full, 4 * rs,
                   4 * cstep)
        else:
            _fold4(p, rs, 2 * rs, 3 * rs, step, n, m, b, code, <Seed*>NULL, full, 4 * rs,
                   4 * cstep)
            seeded[0] = True
        i = 4 * full
    while i < count:
        if ahead:
            for a in range(i + ahead, i + ahead + 4):
                lo, hi = min(0, (n - 1) * step), max(0, (n - 1) * step)
                c = lo
                while c <= hi + 63:
                    _prefetch(p + a * rs + c)
                    c += 64
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
                 row_t* mode, Py_ssize_t groups=1, Py_ssize_t gstep=0,
                 int64_t cstep=0) noexcept nogil:
    # `groups` groups, gstep bytes and cstep codes apart, the first one in
    # `mode`, the others merged.  Contiguous elements get their own loop
    # (vector loads).  Not inline: inlined into its callers, GCC vectorised
    # some copies of the loop only.
    cdef Py_ssize_t i
    if step == sizeof(pool_t):
        _fold4_as(p, o1, o2, o3, sizeof(pool_t), n, m, b, code, mode)
        for i in range(1, groups):
            _fold4_as(p + i * gstep, o1, o2, o3, sizeof(pool_t), n, m, b, code + i * cstep,
                      <Merge*>NULL)
    else:
        _fold4_as(p, o1, o2, o3, step, n, m, b, code, mode)
        for i in range(1, groups):
            _fold4_as(p + i * gstep, o1, o2, o3, step, n, m, b, code + i * cstep,
                      <Merge*>NULL)


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

cdef inline void _store(const Lanes* L, const pool_t* m, const idx_t* b, int a, int e,
                        pool_t* y, int64_t* ip, Py_ssize_t d0, Py_ssize_t d1, Py_ssize_t h0,
                        Py_ssize_t h1, Py_ssize_t w0, Py_ssize_t w1) noexcept nogil:
    # One output (y, and ip when not NULL) from lanes [a, e), compared by key
    # (value, then position: lanes are not in scan order among themselves):
    # the max value, then the first position holding it, from the group of
    # each lane that holds it.  The window [d0, d1) x [h0, h1) x [w0, w1) is
    # scanned again where the lanes cannot tell: a NaN, or, values only, a
    # max of zero held by both -0.0 and 0.0.  Few lanes take one scalar pass,
    # more a pass per question, each vectorised.
    cdef pool_t best, u
    cdef int k, cnt = 1, first = a
    cdef int64_t p = -1, q
    cdef bint nan = False
    if idx_t is uint32_t or idx_t is int64_t:
        if L.single and e - a <= 8:
            # Lanes in scan order: PyTorch's scan over them is exact, and for
            # few lanes cheaper than finding a group's member.
            best = m[a]
            for k in range(a + 1, e):
                if _takes(m[k], best):
                    best, first = m[k], k
            # The value as read: a lane's NaN is any NaN.
            _take(L.x, L.g, <int64_t>b[first] * L.g.W + L.s0 + first, y, ip)
            return
    if e - a <= 8:
        best = m[a]
        for k in range(a + 1, e):
            u = m[k]
            if pool_t is float or pool_t is double:
                nan |= isunordered(u, best)
            if u > best:
                best, first, cnt = u, k, 1
            elif u == best:
                cnt += 1
        if pool_t is float or pool_t is double:
            nan |= isunordered(best, best)
    else:
        if pool_t is float or pool_t is double:
            nan = _any_nan(m, a, e)
        if not nan:
            best = _lane_max(m, a, e)
            if idx_t is uint32_t or idx_t is int64_t:
                _tied(m, a, e, best, &cnt, &first)
    if nan:
        _scan_window(L.x, L.g, d0, d1, h0, h1, w0, w1, y, ip)
        return
    if idx_t is NoIndex:
        if pool_t is float or pool_t is double:
            if best == 0 and not _same_bits(m, a, e, best):
                _scan_window(L.x, L.g, d0, d1, h0, h1, w0, w1, y, ip)
                return
        y[0] = best
    else:
        y[0] = best
        if cnt == 1:
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


cdef inline int64_t _resolve(const Lanes* L, int k, int64_t code, pool_t best) noexcept nogil:
    # The position of lane k's value `best` (not NaN): the first of its
    # group's segments (at most four) holding it, as the lane kept the first
    # maximum.  Rows of a plane and pixels of a row: all four read (the
    # segments past a short group's end, clamped to the window, which the
    # fold has just read, come after the match) and the first match picked
    # without a branch, which a random match position would mispredict.
    cdef const Geom* g = L.g
    cdef const char* x = L.x
    cdef const char* p
    cdef int64_t r, d, h, w, last, s1, s2, s3
    cdef int i
    if L.kind == LANES_ROWS and g.D == 1:
        w = L.s0 + k
        last = L.last
        p = x + code * g.xs_h + w * g.xs_w
        s1, s2, s3 = min(1, last - code), min(2, last - code), min(3, last - code)
        i = _first_of(p, s1 * g.xs_h, s2 * g.xs_h, s3 * g.xs_h, best)
        return (code + i) * g.W + w
    if L.kind == LANES_PIXELS:
        r, w = code >> L.sw, code & ((<int64_t>1 << L.sw) - 1)
        d, h = 0, r
        if g.D > 1:
            d = r // g.H
            h = r - d * g.H
        last = L.last
        p = x + k * L.lane + d * g.xs_d + h * g.xs_h + w * g.xs_w
        s1, s2, s3 = min(1, last - w), min(2, last - w), min(3, last - w)
        i = _first_of(p, s1 * g.xs_w, s2 * g.xs_w, s3 * g.xs_w, best)
        return r * g.W + w + i
    for i in range(4):      # rows of a volume: one by one
        r, w = code + i, L.s0 + k
        d, h = 0, r
        if g.D > 1:
            d = r // g.H
            h = r - d * g.H
        if i == 3 or (<const pool_t*>(x + d * g.xs_d + h * g.xs_h + w * g.xs_w))[0] == best:
            return r * g.W + w
    return 0


cdef inline int _first_of(const char* p, Py_ssize_t o1, Py_ssize_t o2, Py_ssize_t o3,
                          pool_t best) noexcept nogil:
    # Which of the elements at p, p + o1, p + o2, p + o3 first equals `best`
    # (3 if none of the first three).
    # (Arithmetic, not a conditional expression: that compiles to branches.)
    cdef int n0 = (<const pool_t*>p)[0] != best
    cdef int n1 = (<const pool_t*>(p + o1))[0] != best
    cdef int n2 = (<const pool_t*>(p + o2))[0] != best
    return n0 * (1 + n1 * (1 + n2))


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

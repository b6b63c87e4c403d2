# Channels-first small planes in channels-last tiles (Design F2).  A 7x7 or
# 14x14 plane gives the row loops rows of 7 or 14 outputs: per-row and
# per-plane setup, short vectors, scalar tails, 10-20x behind the engines
# that do this (oneDNN, ONNX Runtime).  So _lanes() planes at a time are
# copied into a scratch tile laid out channels-last, (D, H, W, T)
# (tiles.h, in 8x8 blocks through registers), pooled by the channel-block
# loops of channels-last data (every channel of the tile a vector lane,
# the window's valid elements listed once per pixel), and the (OD, OH, OW,
# T) output tile is copied back into the T output planes.  The copy in also
# says whether the tile holds a NaN: without one, PyTorch's rule (a larger
# value, or a NaN, replaces the max) is `v > m` alone, which compiles to max
# instructions (_tile_row); with one, the channels-last loops as they
# are (_cl_lanes_row).  Either way the same bits as the plane loops.
# With indices (PyTorch's, or the layer's window offsets) every row takes
# _cl_lanes_row, its argmax lanes a tile of their own copied into the
# planes after the values.  float32, contiguous planes (_tiles_pay: where).
# Each thread allocates one tile pair (at most _TILE_BYTES; with indices,
# an argmax tile of 8 bytes per output lane beside it) for the call; planes
# left over (P % T), and a thread whose allocation failed, take the plane
# loops.

cdef extern from "tiles.h" nogil:
    int pooling_tile_in4(const char** rows, Py_ssize_t S, Py_ssize_t T, void* tile,
                         int nan_check)
    void pooling_tile_out4(const void* tile, Py_ssize_t OS, Py_ssize_t T, char** rows)
    void pooling_tile_max_f32(const char* x, const Py_ssize_t* off, Py_ssize_t ne, float* out)
    void pooling_tile_avg_f32(const char* x, const Py_ssize_t* off, Py_ssize_t ne, float dv,
                              float* out)

# What a tile's row computes, fixed at compile time (a runtime flag tested
# per pixel cost the max 4-5%).
cdef struct TileMax:
    char unused
cdef struct TileAvg:
    char unused

ctypedef fused tile_t:
    TileMax
    TileAvg

cdef enum:
    _TILE_BYTES = 1 << 17   # input + output tile of one thread
    _TILE_SMALL = 1024      # plane elements below which tiles always pay


cdef inline bint _tiles_pay(const Job* j, pool_t* y, bint avg) noexcept nogil:
    # Where tiles beat the plane loops (compare_builds, one thread): small
    # planes (at most _TILE_SMALL elements: 7x7 to 32x32) always; larger
    # ones only under overlapping windows on rows of at most 64 outputs (40
    # for averages), where the plane loops fold each element several times
    # (8x192x35x35 3x3/s1/p1: 3.5x faster, 32x64x112x112 3x3/s2/p1: 1.2x)
    # and not under windows that tile the plane (4x4/s4, 7x7/s7 on 112x112:
    # 0.75x), nor for the 3x3/s1 average of 112x112 (0.83x).  With indices
    # (the lane loops, not tiles.h's folds) rows of at most 40 outputs too:
    # 8x192x35x35 3x3/s1/p1 1.5x, 4x96x64x64 3x3/s2/p1 1.3x, but 0.8-0.9x
    # on 8x64x64x64 3x3/s1/p1 and 32x64x112x112 3x3/s2/p1.  float32 only:
    # 8-byte values move through tiles.h's scalar loops, which cost more than
    # the tiles gain (64x32x32x32 float64 2x2/s2: 4.6x slower).
    cdef const Geom* g = j.g
    cdef Py_ssize_t T = _lanes(<pool_t*>NULL, <NoIndex*>NULL), z = sizeof(pool_t)
    cdef bint overlap = g.kh > g.sh or g.kw > g.sw or g.kd > g.sd
    cdef bint small = g.D * g.H * g.W <= _TILE_SMALL
    cdef bint argmax = j.flat != NULL or j.cache != NULL
    if not (small or (overlap and g.OW <= (40 if avg or argmax else 64))):
        return False
    # (tiles.h folds 32 lanes: _lanes() of float32 values; indices: the
    # lane loops' uint32 positions or window offsets, which _cl_lanes_row
    # keeps below 2**32 only for volumes that small)
    return (pool_t is float and (g.D * g.H * g.W) >> 32 == 0
            and j.N * j.C >= T and _window_size(g) <= _MAX_LOCAL
            and g.xs_w == z and g.xs_h == g.W * z and (g.D == 1 or g.xs_d == g.H * g.W * z)
            and j.ys_s == 1 and _band_rows(g, T * z) > 0)


cdef inline Py_ssize_t _band_rows(const Geom* g, Py_ssize_t lane_bytes) noexcept nogil:
    # Output rows per tile: as many as fit _TILE_BYTES with their input rows
    # (a band of the plane; volumes, D > 1, whole or not at all); 0: none fit.
    cdef Py_ssize_t b
    if (g.D * g.H * g.W + g.OD * g.OH * g.OW) * lane_bytes <= _TILE_BYTES:
        return g.OH
    if g.D > 1:
        return 0
    b = (_TILE_BYTES // lane_bytes + (g.sh - 1 - (g.kh - 1) * g.dh) * g.W) // (g.sh * g.W + g.OW)
    return max(0, min(b, g.OH))


cdef inline Py_ssize_t _band_in(const Geom* g, Py_ssize_t b) noexcept nogil:
    # Input rows of b output rows.
    return (b - 1) * g.sh + (g.kh - 1) * g.dh + 1


cdef void _forward_tiles(const Job* j, pool_t* y, bint avg) noexcept nogil:
    cdef const Geom* g = j.g
    cdef Py_ssize_t T = _lanes(<pool_t*>NULL, <NoIndex*>NULL)
    cdef Py_ssize_t P = j.N * j.C, S = g.D * g.H * g.W
    cdef Py_ssize_t bh = _band_rows(g, T * sizeof(pool_t))
    cdef Py_ssize_t nb = (g.OH + bh - 1) // bh, tiles = P // T, task, p, t, b
    cdef Py_ssize_t size = (g.D * g.H * g.W + g.OD * g.OH * g.OW) * T if nb == 1 else \
        (_band_in(g, bh) * g.W + bh * g.OW) * T
    if j.flat != NULL or j.cache != NULL:   # the tile's argmax: int64 (or bytes)
        size += (g.OD * g.OH * g.OW if nb == 1 else bh * g.OW) * T * 8 // sizeof(pool_t)
    cdef bint threaded = P * S >= _PARALLEL_MIN_WORK and tiles * nb + P % T > 1
    cdef pool_t* xt
    cdef Geom gt = g[0]
    cdef Region rg
    cdef Py_ssize_t a, rr, w, e = 0
    cdef Py_ssize_t rel[_MAX_LOCAL]
    gt.xs_w = T * sizeof(pool_t)
    gt.xs_h = g.W * gt.xs_w
    gt.xs_d = g.H * gt.xs_h
    # the whole window's byte offsets in the tile, for interior pixels
    for a in range(g.kd):
        for rr in range(g.kh):
            for w in range(g.kw):
                rel[e] = a * g.dd * gt.xs_d + rr * g.dh * gt.xs_h + w * g.dw * gt.xs_w
                e = e + 1
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        xt = <pool_t*>malloc(size * sizeof(pool_t))
        for task in prange(tiles * nb + P % T, schedule="static"):
            if task >= tiles * nb:
                _plane(j, y, tiles * T + task - tiles * nb, avg)
            elif xt != NULL:
                t = task // nb
                b = task - t * nb
                _tile(j, &gt, rel, y, t * T, b * bh, min(g.OH, b * bh + bh), xt, avg)
            elif task % nb == 0:
                for p in range(task // nb * T, task // nb * T + T):
                    _plane(j, y, p, avg)
        free(xt)
        _leave(&rg)
    _settle(&rg)


cdef inline void _plane(const Job* j, pool_t* y, Py_ssize_t p, bint avg) noexcept nogil:
    if avg:
        _average_one(j, y, p)
    else:
        _forward_one(j, y, p)


cdef void _tile(const Job* j, const Geom* gt, const Py_ssize_t* rel, pool_t* y,
                Py_ssize_t p0, Py_ssize_t oh0, Py_ssize_t oh1, pool_t* xt,
                bint avg) noexcept nogil:
    # Output rows [oh0, oh1) of planes [p0, p0 + T) through one tile (all
    # rows of a volume); rel: the window's offsets in the tile.  A band's
    # tile starts at input row h0: its geometry is the plane's with H and
    # OH the band's and the top padding moved by h0.
    cdef const Geom* g = j.g
    cdef Py_ssize_t T = _lanes(<pool_t*>NULL, <NoIndex*>NULL), z = sizeof(pool_t)
    cdef Py_ssize_t h0 = 0, h1 = g.H, t, p, n, c, r
    cdef const char* rows[_LANE_BYTES]
    cdef char* outs[_LANE_BYTES]
    cdef bint nan
    cdef Geom gb = gt[0]
    cdef Job jt = j[0]
    cdef pool_t* yt
    cdef int64_t* it
    cdef Py_ssize_t OS, q, o
    cdef int64_t shift
    if g.D == 1 and oh1 - oh0 < g.OH:   # a band (whole planes keep their geometry)
        h0 = max(0, oh0 * g.sh - g.ph)
        h1 = min(g.H, (oh1 - 1) * g.sh - g.ph + (g.kh - 1) * g.dh + 1)
        gb.H = h1 - h0
        gb.OH = oh1 - oh0
        gb.ph = g.ph + h0 - oh0 * g.sh
        gb.hend = g.hend - h0
    yt = xt + gb.D * gb.H * gb.W * T
    OS = gb.OD * gb.OH * gb.OW
    it = <int64_t*>(yt + OS * T)
    jt.flat = it if j.flat != NULL else NULL
    jt.cache = <uint8_t*>it if j.cache != NULL else NULL
    jt.x = <const char*>xt
    jt.N = 1
    jt.C = T
    jt.xs_n = 0
    jt.xs_c = z
    jt.g = &gb
    for t in range(T):
        p = p0 + t
        n = p // j.C
        c = p - n * j.C
        rows[t] = j.x + n * j.xs_n + c * j.xs_c + h0 * g.W * z
        outs[t] = <char*>(y + n * j.ys_n + c * j.ys_c + oh0 * g.OW)
    nan = pooling_tile_in4(rows, gb.D * gb.H * gb.W, T, xt,
                           not avg and j.flat == NULL and j.cache == NULL)
    for r in range(gb.OD * gb.OH):
        if j.flat != NULL or j.cache != NULL:
            _cl_lanes_row(&jt, yt, r, <uint32_t*>NULL, j.cache != NULL)
        elif avg:
            _tile_row(&jt, rel, yt, r, <TileAvg*>NULL)
        elif nan:
            _cl_lanes_row(&jt, yt, r, <NoIndex*>NULL, False)
        else:
            _tile_row(&jt, rel, yt, r, <TileMax*>NULL)
    pooling_tile_out4(yt, gb.OD * gb.OH * gb.OW, T, outs)
    if j.flat == NULL and j.cache == NULL:
        return
    # The argmax tile into the planes: positions in the band shifted to
    # the plane's (PyTorch's indices), or window offsets as they are.
    shift = h0 * g.W
    for t in range(T):
        p = p0 + t
        n = p // j.C
        c = p - n * j.C
        o = n * j.ys_n + c * j.ys_c + oh0 * g.OW
        if j.flat != NULL:
            for q in range(OS):
                j.flat[o + q] = it[q * T + t] + shift
        else:
            for q in range(OS):
                j.cache[o + q] = jt.cache[q * T + t]


cdef void _tile_row(const Job* j, const Py_ssize_t* rel, pool_t* y, Py_ssize_t r,
                    tile_t* what) noexcept nogil:
    # Output row r of a tile in tiles.h's registers, interior pixels from
    # the whole window's offsets: the max of a NaN-free tile (TileMax), or
    # averages (TileAvg: _average_cl_row's sums, in scan order, seeded with
    # the first element, 0 + sum / divisor).
    cdef const Geom* g = j.g
    cdef Py_ssize_t T = _lanes(<pool_t*>NULL, <NoIndex*>NULL)
    cdef Py_ssize_t od = r // g.OH
    cdef Py_ssize_t oh = r - od * g.OH
    cdef Py_ssize_t ds = od * g.sd - g.pd, hs = oh * g.sh - g.ph
    cdef Py_ssize_t a0 = _first_in(ds, g.dd), a1 = _end_in(ds, g.dd, g.D, g.kd)
    cdef Py_ssize_t r0 = _first_in(hs, g.dh), r1 = _end_in(hs, g.dh, g.H, g.kh)
    cdef bint inner = a0 == 0 and a1 == g.kd and r0 == 0 and r1 == g.kh
    cdef int64_t pads = (min(ds + g.kd, g.D + g.pd) - ds) * (min(hs + g.kh, g.hend) - hs)
    cdef int64_t rows_in = (a1 - a0) * (r1 - r0)
    cdef Py_ssize_t ow, ws, ne
    cdef Py_ssize_t off[_MAX_LOCAL]
    cdef int64_t cand[_MAX_LOCAL]
    cdef const char* xp
    cdef const Py_ssize_t* offs
    cdef pool_t* yo
    if not pool_t is float:   # not reached: _tiles_pay
        if tile_t is TileAvg:
            _average_cl_row(j, y, r)
        else:
            _cl_lanes_row(j, y, r, <NoIndex*>NULL, False)
        return
    for ow in range(g.OW):
        ws = ow * g.sw - g.pw
        yo = y + (r * g.OW + ow) * T
        if inner and g.jlo <= ow < g.jhi:
            xp = j.x + ds * g.xs_d + hs * g.xs_h + ws * g.xs_w
            offs = rel
            ne = _window_size(g)
        else:
            ne = _window_list(g, ds, hs, ws, a0, a1, r0, r1, off, cand, True)
            xp = j.x
            offs = off
        if tile_t is TileAvg:
            pooling_tile_avg_f32(xp, offs, ne, <float>_divisor(j, g, ws, pads, rows_in), yo)
        else:
            pooling_tile_max_f32(xp, offs, ne, yo)

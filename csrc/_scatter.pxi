# Scatters (Design H): the backward from PyTorch's indices and unpooling,
# one scatter that adds or overwrites; then the backward from the layer's
# compact argmax; then the steps both share.

cdef extern from "half.h" nogil:
    float pooling_half_to_float(uint16_t h)
    uint16_t pooling_float_to_half(float f)


# ------------------------------------------ from flat indices: Add or Put

# One scatter serves the backward from indices (Add) and unpooling (Put):
# zeros, then every source value moved to its index in output raster order,
# so overlapping windows sum to PyTorch's bits and, where indices repeat,
# the last write wins.  Out-of-range indices are counted, never written.
cdef Py_ssize_t _scatter(const scat_t* src, const int64_t* idx, scat_t* dst,
                         Py_ssize_t P, Py_ssize_t OS, Py_ssize_t S,
                         move_t* how) noexcept nogil:
    # Channels-first: P planes, OS sources and S destinations each.
    cdef Py_ssize_t p, o, bad = 0
    cdef int64_t j
    cdef bint threaded = P * (S + OS) >= _PARALLEL_MIN_WORK and P > 1
    cdef Region rg
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for p in prange(P, schedule="static"):
            memset(dst + p * S, 0, S * sizeof(scat_t))
            for o in range(p * OS, (p + 1) * OS):
                j = idx[o]
                if j < 0 or j >= S:
                    bad += 1
                else:
                    _move(dst + p * S + j, src[o], how)
        _leave(&rg)
    _settle(&rg)
    return bad


# Channels-last scatters: a task owns a batch item, zero-fills it and
# scatters into it, so no two threads write the same element, and each
# element receives its adds in output raster order.  Not channel blocks of
# one item: two threads writing disjoint channel halves of the same pixels
# at the same time ran 1.5x-6x slower than one thread on this machine's
# cores (the lines are disjoint, even aligned to 64 bytes; the cores'
# prefetchers reach across the halves, by the look of it), and the caller's
# zero fill left every line in the caller's cache for the other thread to
# take over.  A batch of one runs on one thread.

cdef Py_ssize_t _scatter_cl(const scat_t* src, const int64_t* idx, scat_t* dst,
                            Py_ssize_t N, Py_ssize_t OS, Py_ssize_t S, Py_ssize_t C,
                            move_t* how) noexcept nogil:
    # src, idx: (N, OS, C); dst: (N, S, C), filled here.
    cdef Py_ssize_t n, o, c, bad = 0
    cdef int64_t s
    cdef bint threaded = N * C * (S + OS) >= _PARALLEL_MIN_WORK and N > 1
    cdef Region rg
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for n in prange(N, schedule="static"):
            memset(dst + n * S * C, 0, S * C * sizeof(scat_t))
            for o in range(n * OS, (n + 1) * OS):
                for c in range(C):
                    s = idx[o * C + c]
                    if s < 0 or s >= S:
                        bad += 1
                    else:
                        _move(dst + (n * S + s) * C + c, src[o * C + c], how)
        _leave(&rg)
    _settle(&rg)
    return bad


# ---------------------------------------- from the layer's compact argmax

cdef void _backward_compact(const grad_t[:, ::1] go, const uint8_t[:, ::1] loc,
                            grad_t[:, ::1] gi, const Geom* g) noexcept nogil:
    cdef Py_ssize_t P = go.shape[0], p
    cdef bint threaded = P * g.D * g.H * g.W >= _PARALLEL_MIN_WORK and P > 1
    cdef bint overlap = _overlap(g)
    # Short rows leave the vectorised write-once loop mostly scalar (and
    # branchy); a zero fill plus scatter is branch-free and faster there.
    # float16 sums round at each addition: always the scatter.
    cdef bint scatter = overlap or g.OW < _WRITE_ONCE_MIN_OW or grad_t is uint16_t
    # Windows tile the volume exactly: no element is left for a zero fill.
    cdef bint tiled = _windows_tile(g)
    cdef Region rg
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for p in prange(P, schedule="static"):
            _backward_compact_plane(&go[p, 0], &loc[p, 0], &gi[p, 0], g, scatter, tiled)
        _leave(&rg)
    _settle(&rg)


cdef inline bint _windows_tile(const Geom* g) noexcept nogil:
    # Every input element in exactly one window: no padding or dilation,
    # windows as long as their strides, outputs that cover each axis.
    return (g.pd == 0 and g.ph == 0 and g.pw == 0 and g.dd == 1 and g.dh == 1 and g.dw == 1
            and g.kd == g.sd and g.kh == g.sh and g.kw == g.sw
            and g.OD * g.sd == g.D and g.OH * g.sh == g.H and g.OW * g.sw == g.W)


cdef inline bint _overlap(const Geom* g) noexcept nogil:
    return ((g.kd - 1) * g.dd + 1 > g.sd or (g.kh - 1) * g.dh + 1 > g.sh
            or (g.kw - 1) * g.dw + 1 > g.sw)


cdef void _backward_compact_plane(const grad_t* go, const uint8_t* loc, grad_t* gi,
                                  const Geom* g, bint scatter, bint tiled) noexcept nogil:
    cdef Py_ssize_t orow, od, oh, ow, a, rr, d, h, ds, hs, o
    cdef int64_t base
    if scatter or not tiled:
        memset(gi, 0, g.D * g.H * g.W * sizeof(grad_t))
    if scatter:
        # Accumulate in output raster order (PyTorch's order, so overlapping
        # windows sum to the same bits) through the offset table.
        o = 0
        for od in range(g.OD):
            for oh in range(g.OH):
                base = ((od * g.sd - g.pd) * g.H + oh * g.sh - g.ph) * g.W - g.pw
                for ow in range(g.OW):
                    gi[base + ow * g.sw + g.delta[loc[o + ow]]] = _add(
                        gi[base + ow * g.sw + g.delta[loc[o + ow]]], go[o + ow])
                o += g.OW
        return
    if grad_t is not uint16_t:
        # Disjoint windows on long rows: every covered element written once.
        for orow in range(g.OD * g.OH):
            od = orow // g.OH
            oh = orow - od * g.OH
            ds = od * g.sd - g.pd
            hs = oh * g.sh - g.ph
            for a in range(g.kd):
                d = ds + a * g.dd
                if d < 0 or d >= g.D:
                    continue
                for rr in range(g.kh):
                    h = hs + rr * g.dh
                    if 0 <= h < g.H:
                        _unfold_row(gi + (d * g.H + h) * g.W, go + orow * g.OW,
                                    loc + orow * g.OW, (a * g.kh + rr) * g.kw, g)


cdef void _unfold_row(grad_t* row, const grad_t* go, const uint8_t* loc,
                      int target, const Geom* g) noexcept nogil:
    # Write the window row whose offsets start at `target` of every output
    # column into input row `row`.
    cdef Py_ssize_t j, j0 = 0
    if g.hkind == H_K2S2:
        _unfold_k2(row, go, loc, g.jlo, g.jhi, g.pw, target)
        for j in range(0, g.jlo):
            _unfold_col(row, go, loc, j, target, g)
        j0 = g.jhi
    for j in range(j0, g.OW):
        _unfold_col(row, go, loc, j, target, g)


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


cdef inline void _unfold_col(grad_t* row, const grad_t* go, const uint8_t* loc,
                             Py_ssize_t j, int target, const Geom* g) noexcept nogil:
    cdef Py_ssize_t t, w
    cdef grad_t zero = 0
    for t in range(g.kw):
        w = j * g.sw - g.pw + t * g.dw
        if 0 <= w < g.W:
            row[w] = zero + go[j] if loc[j] == target + t else zero


cdef void _backward_compact_cl(const grad_t* go, const uint8_t* loc, grad_t* gi,
                               Py_ssize_t N, Py_ssize_t C, const Geom* g) noexcept nogil:
    # Channels-last, go and loc (N, OS, C), gi (N, S, C) filled here, a
    # batch item per task (see _scatter_cl): the scatter of _scatter_cl,
    # each channel's position read from the offset table.  Output pixels in
    # raster order, so every sum is PyTorch's, bit for bit.  (A gather,
    # each input element written once, did 2.25 select-adds per element
    # for 3x3/s2 windows where this does a zero fill and one add per
    # output: 1.4x slower at 64 channels, 11x at 3.)
    cdef Py_ssize_t S = g.D * g.H * g.W, OS = g.OD * g.OH * g.OW
    cdef Py_ssize_t n, r, ow, od, oh, o, c
    cdef int64_t base, s
    cdef bint threaded = N * C * S >= _PARALLEL_MIN_WORK and N > 1
    cdef const grad_t* gon
    cdef const uint8_t* ln
    cdef grad_t* gin
    cdef Region rg
    rg = _region_begin(threaded)
    with parallel(num_threads=_threads(), use_threads_if=rg.on):
        _arrive(&rg)
        for n in prange(N, schedule="static"):
            gon = go + n * OS * C
            ln = loc + n * OS * C
            gin = gi + n * S * C
            if S * C > 0:
                memset(gin, 0, S * C * sizeof(grad_t))
            for r in range(g.OD * g.OH):
                od = r // g.OH
                oh = r - od * g.OH
                for ow in range(g.OW):
                    o = (r * g.OW + ow) * C
                    base = ((od * g.sd - g.pd) * g.H + oh * g.sh - g.ph) * g.W + ow * g.sw - g.pw
                    for c in range(C):
                        s = (base + g.delta[ln[o + c]]) * C + c
                        gin[s] = _add(gin[s], gon[o + c])
        _leave(&rg)
    _settle(&rg)


# ----------------------------------------------------------------- shared

cdef inline void _move(scat_t* dst, scat_t v, move_t* how) noexcept nogil:
    if move_t is Add:
        dst[0] = _add(dst[0], v)
    else:
        dst[0] = v


cdef inline scat_t _add(scat_t a, scat_t b) noexcept nogil:
    if scat_t is uint16_t:
        return pooling_float_to_half(pooling_half_to_float(a) + pooling_half_to_float(b))
    else:
        return a + b

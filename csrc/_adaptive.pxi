# Adaptive pooling: windows of varying size from PyTorch's start/end rule,
# given as bounds per axis in Job.a0/a1; one plain scan per output.

cdef void _adaptive(const Job* j, pool_t* y) noexcept nogil:
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


cdef void _adaptive_plane(const Job* j, const char* xp, pool_t* yp, int64_t* ip) noexcept nogil:
    # Windows differ in size, so one plain scan per output; the first element
    # seeds the max, then PyTorch's rule in scan order.
    cdef const Geom* g = j.g
    cdef Py_ssize_t od, oh, ow, d, h, w, bi, o
    cdef pool_t best, v
    for od in range(g.OD):
        for oh in range(g.OH):
            for ow in range(g.OW):
                d, h, w = j.a0[0][od], j.a0[1][oh], j.a0[2][ow]
                best = (<const pool_t*>(xp + d * g.xs_d + h * g.xs_h + w * g.xs_w))[0]
                bi = (d * g.H + h) * g.W + w
                for d in range(j.a0[0][od], j.a1[0][od]):
                    for h in range(j.a0[1][oh], j.a1[1][oh]):
                        for w in range(j.a0[2][ow], j.a1[2][ow]):
                            v = (<const pool_t*>(xp + d * g.xs_d + h * g.xs_h
                                                 + w * g.xs_w))[0]
                            if _takes(v, best):
                                best = v
                                bi = (d * g.H + h) * g.W + w
                o = ((od * g.OH + oh) * g.OW + ow) * j.ys_s
                yp[o] = best
                if ip != NULL:
                    ip[o] = bi

# The one place where a runtime dtype becomes a fused specialisation.
#
# A fused cdef function cannot be indexed by a dtype known only at run time,
# so each family of kernels has a ladder from the array's dtype to a typed
# pointer (or to a NULL of the type, which only carries it), followed by the
# step that turns the call's remaining run-time choices into specialisations:
#
#   _dispatch_typed pool_t, by kind and size    _ForwardPlan.run (forward3d),
#                   (_dispatch: from an array)  adaptive3d
#     _run           the Op
#   _scatter_into  scat_t: sums as float,       backward3d, unpool3d
#                  double or half, moves as
#                  raw bits of the width
#     _scatter_as    layout; Add or Put
#   _compact_into  grad_t                       backward3d_compact
#     _compact_as    layout
#
# Three element-type sets, so three ladders: one fused type for all would
# compile every loop for types it never sees.  Another op on pool_t (average
# pooling, say) is one more case in _run.

cdef _dispatch(int op, const Job* j, y):
    # y: the output, of the dtype the kernel reads (_kernel_input).
    _dispatch_typed(op, j, ord(y.dtype.kind), y.dtype.itemsize, _data(y))


cdef _dispatch_typed(int op, const Job* j, char kind, int size, void* yp):
    # kind, size: of the values the loops read and write (yp).
    if kind == b"f":
        if size == 4:
            _run(op, j, <float*>yp)
        else:
            _run(op, j, <double*>yp)
    elif kind == b"i":
        if size == 1:
            _run(op, j, <int8_t*>yp)
        elif size == 2:
            _run(op, j, <int16_t*>yp)
        elif size == 4:
            _run(op, j, <int32_t*>yp)
        else:
            _run(op, j, <int64_t*>yp)
    else:
        if size == 1:
            _run(op, j, <uint8_t*>yp)
        elif size == 2:
            _run(op, j, <uint16_t*>yp)
        elif size == 4:
            _run(op, j, <uint32_t*>yp)
        else:
            _run(op, j, <uint64_t*>yp)


cdef void _run(int op, const Job* j, pool_t* y) noexcept nogil:
    if op == OP_FORWARD:
        _forward(j, y)
    elif op == OP_FORWARD_CL:
        _forward_cl(j, y)
    elif op == OP_ADAPTIVE:
        _adaptive(j, y)
    elif op == OP_ADAPTIVE_CL:
        _adaptive_cl(j, y)
    elif op == OP_AVERAGE:
        _average(j, y)
    else:
        _average_cl(j, y)


cdef Py_ssize_t _scatter_into(src, idx, dst, bint cl, bint add):
    # The dtype ladder of the scatters.  Unpooling moves any dtype as raw
    # bits of its width; gradients add as float, double or half.
    cdef int size = src.dtype.itemsize
    if add and size == 4:
        return _scatter_as(<float*>NULL, src, idx, dst, cl, add)
    if add and size == 8:
        return _scatter_as(<double*>NULL, src, idx, dst, cl, add)
    if size == 1:
        return _scatter_as(<uint8_t*>NULL, src, idx, dst, cl, add)
    if size == 2:
        return _scatter_as(<uint16_t*>NULL, src, idx, dst, cl, add)
    if size == 4:
        return _scatter_as(<uint32_t*>NULL, src, idx, dst, cl, add)
    return _scatter_as(<uint64_t*>NULL, src, idx, dst, cl, add)


cdef Py_ssize_t _scatter_as(scat_t* t, src, idx, dst, bint cl, bint add):
    # `t` only carries the element type (pass a NULL of it).
    cdef const scat_t* sp = <const scat_t*>_data(src)
    cdef scat_t* dp = <scat_t*>_data(dst)
    cdef const int64_t* ip = <const int64_t*>_data(idx)
    cdef Py_ssize_t n = src.shape[0], OS = src.shape[1], S = dst.shape[1]
    cdef Py_ssize_t C = src.shape[2] if cl else 1
    if cl:   # (N, OS, C) into (N, S, C)
        if add:
            return _scatter_cl(sp, ip, dp, n, OS, S, C, <Add*>NULL)
        return _scatter_cl(sp, ip, dp, n, OS, S, C, <Put*>NULL)
    if add:  # (P, OS) into (P, S)
        return _scatter(sp, ip, dp, n, OS, S, <Add*>NULL)
    return _scatter(sp, ip, dp, n, OS, S, <Put*>NULL)


cdef _compact_into(go, loc, gi, bint cl, const Geom* g):
    # The gradient's dtype; float16 as its bits.
    if go.dtype == np.float16:
        _compact_as(<uint16_t*>NULL, _bits(go), loc, _bits(gi), cl, g)
    elif go.dtype == np.float32:
        _compact_as(<float*>NULL, go, loc, gi, cl, g)
    else:
        _compact_as(<double*>NULL, go, loc, gi, cl, g)


cdef _compact_as(grad_t* t, go, loc, gi, bint cl, const Geom* g):
    # `t` only carries the element type (pass a NULL of it).
    cdef Py_ssize_t N = go.shape[0], C = go.shape[2] if cl else 1
    if cl:   # (N, OS, C) into (N, S, C)
        _backward_compact_cl(<const grad_t*>_data(go), <const uint8_t*>_data(loc),
                             <grad_t*>_data(gi), N, C, g)
    else:    # (P, OS) into (P, S)
        _backward_compact[grad_t](go, loc, gi, g)

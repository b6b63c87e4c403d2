# The GIL side of a call: from validated arrays to what the typed loops take
# (Geom, Job, raw pointers), the outputs' layout (_alloc), and the copies
# listed in Design J (_kernel_input, _result, _planes, _pixels).  In the
# order forward3d, then the scatters, call them.

def _kernel_input(x5):
    """The array the fused kernels read: float16 upcast (every float16 is
    exact in float32, and so is their max; the caller casts the result back),
    integers viewed as the fixed-width type of their size, so that np.longlong
    and friends need no specialisation of their own."""
    dtype = x5.dtype
    if dtype == np.float16:
        return x5.astype(np.float32, order="K")
    if dtype.kind in "iu":
        return x5.view(f"{dtype.kind}{dtype.itemsize}")
    return x5


cdef inline bint _channels_last(a, bint prefer):
    # Channel vectors contiguous (and more than one channel): the loops run
    # over channels.  Anything else is read plane by plane through strides.
    # With a single spatial element both layouts are the same memory; the
    # caller's layout (``prefer``) then decides the outputs'.
    return a.shape[1] > 1 and a.strides[1] == a.itemsize and (
        prefer or not a.flags.c_contiguous)


cdef Geom _geom(spatial, strides, Py_ssize_t itemsize, params, out):
    # spatial, strides, out: (D, H, W) triples; params: three-axis PoolParams.
    cdef Geom g
    g.D, g.H, g.W = spatial
    g.xs_d, g.xs_h, g.xs_w = strides
    g.OD, g.OH, g.OW = out
    g.kd, g.kh, g.kw = params.kernel_size
    g.sd, g.sh, g.sw = params.stride
    g.pd, g.ph, g.pw = params.padding
    g.dd, g.dh, g.dw = params.dilation
    _geom_derive(&g, itemsize)
    return g


cdef void _geom_derive(Geom* g, Py_ssize_t itemsize) noexcept nogil:
    # What follows from the sizes, strides and window (set by the caller):
    # the interior columns, the offset table, the column kind.  Without the
    # GIL: the XLA handlers (_xla.pxi) fill their Geom here too.
    cdef Py_ssize_t last = g.W - 1 - (g.kw - 1) * g.dw
    g.jlo = min((g.pw + g.sw - 1) // g.sw, g.OW)
    g.jhi = max(g.jlo, min(g.OW, _floor_div(last + g.pw, g.sw) + 1))
    g.hend = g.H + g.ph
    cdef Py_ssize_t o, rows = g.kh * g.kw
    for o in range(min(g.kd * rows, _MAX_LOCAL)):
        g.delta[o] = ((o // rows) * g.dd * g.H + (o % rows) // g.kw * g.dh) * g.W \
            + (o % g.kw) * g.dw
    g.hkind = H_GENERIC
    if g.xs_w == itemsize and g.dw == 1:
        if g.kw == 2 and g.sw == 2:
            g.hkind = H_K2S2
        elif g.kw == 3 and g.sw == 2:
            g.hkind = H_K3S2
        elif g.kw == 2 and g.sw == 1:
            g.hkind = H_K2S1
        elif g.kw == 3 and g.sw == 1:
            g.hkind = H_K3S1


cdef inline Py_ssize_t _floor_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    # a // b rounded down for b > 0 (C division truncates negatives).
    cdef Py_ssize_t q = a // b
    if q * b > a:
        q -= 1
    return q


def _alloc(shape, dtype, bint channels_last, bint zeros=False):
    """An (N, C, D, H, W) array stored channels-last or channels-first."""
    make = np.zeros if zeros else np.empty
    if channels_last:
        n, c, d, h, w = shape
        return make((n, d, h, w, c), dtype=dtype).transpose(0, 4, 1, 2, 3)
    return make(shape, dtype=dtype)


def _target(out, dtype, bint channels_last):
    """``out`` (a checked (N, C, D, H, W) output, or None) when the loops can
    write it as they would their own (_alloc's layout, the dtype they
    write), else None: the call then writes its own and copies (_into)."""
    if out is None or out.dtype != dtype:
        return None
    a = out.transpose(0, 2, 3, 4, 1) if channels_last else out
    return out if a.flags.c_contiguous else None


def _output(out, shape, dtype, bint channels_last):
    """``out`` where the loops can write it as their own (_target), else a
    fresh array of ``shape`` in _alloc's layout."""
    a = _target(out, dtype, channels_last)
    return _alloc(shape, dtype, channels_last) if a is None else a


def _into(out, a):
    """``a`` delivered into ``out`` when given: a copy unless it is out."""
    if out is None or a is out:
        return a
    out[...] = a
    return out


cdef Job _job(x5, out5, uint8_t* cache, int64_t* flat, const Geom* g):
    cdef Job j
    j.x = _data(x5)
    j.N, j.C = x5.shape[0], x5.shape[1]
    j.xs_n, j.xs_c = x5.strides[0], x5.strides[1]
    item = out5.itemsize
    j.ys_n, j.ys_c, j.ys_s = out5.strides[0] // item, out5.strides[1] // item, \
        out5.strides[4] // item
    j.cache, j.flat, j.g = cache, flat, g
    return j


cdef char* _data(a) except NULL:
    # The first element's address (any strides; a non-empty array).  The
    # buffer protocol costs a fraction of ``a.ctypes.data``, which builds a
    # Python object per call, a visible cost on small arrays.
    cdef Py_buffer view
    PyObject_GetBuffer(a, &view, PyBUF_STRIDES)
    cdef char* p = <char*>view.buf
    PyBuffer_Release(&view)
    return p


def _result(y, dtype, out=None):
    """y as the caller's dtype: float16 results are cast back (a copy), into
    ``out`` when given."""
    if out is None and dtype == np.float16:
        return y.astype(np.float16, order="K")
    return _into(out, y)


def _planes(a):
    """(N*C, spatial) rows of an (N, C, ...) array; a copy only if needed."""
    return np.ascontiguousarray(a).reshape(a.shape[0] * a.shape[1], -1)


def _pixels(a, dtype=None):
    """(N, spatial, C) rows of an (N, C, ...) array stored channels-last; a
    copy only if it is not stored densely so (or not of ``dtype``)."""
    return np.ascontiguousarray(
        a.transpose(0, *range(2, a.ndim), 1), dtype=dtype).reshape(a.shape[0], -1, a.shape[1])


cdef inline Py_ssize_t _volume(spatial):
    d, h, w = spatial
    return d * h * w


def _bits(a):
    """float16 as its bits (a view), for the uint16_t loops."""
    return a.view(np.uint16) if a.dtype == np.float16 else a

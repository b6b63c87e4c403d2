# XLA custom calls (Design X): the kernels as XLA FFI handlers, for
# pooling.layers.jax.  XLA calls a handler on one of its own threads,
# without the GIL, with its buffers (dense, row-major: channels-last for
# flax's (batch..., spatial..., features) arrays); the handler reads the
# window from one int64 array attribute, fills a Geom and a Job as the
# entry points do, and runs the same loops, writing straight into XLA's
# output buffers.  No Python, no copies, no allocation.
#
# The call's contract (checked here, so that a mismatch is an XLA error,
# never a bad read): buffers of float32 or float64 values (the argmax
# uint8 offsets or int64 positions in the plane), of rank nd + 1 or more,
# leading dimensions folded into the batch; attribute "p", int64:
#   nd, kd, kh, kw, sd, sh, sw, pd, ph, pw, divisor, count_include_pad
# (1-D and 2-D windows lifted to three axes as pooling._api does; the
# padding is PyTorch's, at most half the window: pooling.layers.jax pads
# anything else in the graph).  Outputs' spatial sizes come from their
# buffers.

cdef extern from "xla_ffi.h" nogil:
    ctypedef struct XLA_FFI_Extension_Base:
        int type
    ctypedef struct XLA_FFI_Api_Version:
        int major_version
        int minor_version
    ctypedef struct XLA_FFI_Error:
        pass
    ctypedef struct XLA_FFI_Error_Create_Args:
        size_t struct_size
        void* extension_start
        const char* message
        int errc
    ctypedef XLA_FFI_Error* (*ErrorCreate)(XLA_FFI_Error_Create_Args*) noexcept nogil
    ctypedef struct XLA_FFI_Api:
        ErrorCreate XLA_FFI_Error_Create
    ctypedef struct XLA_FFI_Buffer:
        size_t struct_size
        unsigned int dtype      # (an enum: unsigned where GCC compares it)
        void* data
        int64_t rank
        int64_t* dims
    ctypedef struct XLA_FFI_Array:
        int dtype
        size_t size
        void* data
    ctypedef struct XLA_FFI_Args:
        size_t struct_size
        int64_t size
        int* types
        void** args
    ctypedef struct XLA_FFI_Rets:
        size_t struct_size
        int64_t size
        int* types
        void** rets
    ctypedef struct XLA_FFI_Attrs:
        size_t struct_size
        int64_t size
        int* types
        void** attrs
    ctypedef struct XLA_FFI_CallFrame:
        size_t struct_size
        XLA_FFI_Extension_Base* extension_start
        const XLA_FFI_Api* api
        int stage
        XLA_FFI_Args args
        XLA_FFI_Rets rets
        XLA_FFI_Attrs attrs
    ctypedef struct XLA_FFI_Metadata:
        size_t struct_size
        XLA_FFI_Api_Version api_version
        uint32_t traits
    ctypedef struct XLA_FFI_Metadata_Extension:
        XLA_FFI_Metadata* metadata
    enum:
        XLA_FFI_Extension_Metadata
        XLA_FFI_Error_Code_INVALID_ARGUMENT
        XLA_FFI_DataType_U8
        XLA_FFI_DataType_S64
        XLA_FFI_DataType_F32
        XLA_FFI_DataType_F64
        XLA_FFI_ArgType_BUFFER
        XLA_FFI_RetType_BUFFER
        XLA_FFI_AttrType_ARRAY
        XLA_FFI_ExecutionStage_EXECUTE
    void _huge_pages "pooling_xla_huge_pages"(void* data, size_t nbytes)
    size_t _XLA_CALLFRAME_SIZE "POOLING_XLA_CALLFRAME_SIZE"
    size_t _XLA_BUFFER_SIZE "POOLING_XLA_BUFFER_SIZE"
    size_t _XLA_ERROR_ARGS_SIZE "POOLING_XLA_ERROR_ARGS_SIZE"


from cpython.pycapsule cimport PyCapsule_New

# The API version the handlers report: XLA's registry accepts a handler of
# its own version only, so pooling.layers.jax sets it from the installed
# jaxlib (xla_handlers) before registering; what is read here is API 0.1's.
cdef int _xla_major = 0, _xla_minor = 1
cdef bint _xla_huge = True

cdef enum XlaOp:
    XLA_MAX          # x -> (y, argmax: uint8 window offsets or int64 positions)
    XLA_MAX_GRAD     # (dy, argmax) -> dx
    XLA_AVG          # x -> y
    XLA_AVG_GRAD     # dy -> dx

cdef enum:
    _XLA_PARAMS = 12


def xla_handlers(int major, int minor, bint huge_pages=True):
    """{name: PyCapsule} of the XLA FFI handlers, answering to FFI API
    version ``major.minor`` (the installed jaxlib's), for
    ``jax.ffi.register_ffi_target(name, capsule, platform="cpu")``;
    ``huge_pages``: advise large outputs onto transparent huge pages
    (xla_ffi.h; off only to measure what it saves)."""
    global _xla_major, _xla_minor, _xla_huge
    _xla_major, _xla_minor, _xla_huge = major, minor, huge_pages
    return {"pooling_max": PyCapsule_New(<void*>_xla_max, NULL, NULL),
            "pooling_max_grad": PyCapsule_New(<void*>_xla_max_grad, NULL, NULL),
            "pooling_avg": PyCapsule_New(<void*>_xla_avg, NULL, NULL),
            "pooling_avg_grad": PyCapsule_New(<void*>_xla_avg_grad, NULL, NULL)}


cdef XLA_FFI_Error* _xla_max(XLA_FFI_CallFrame* f) noexcept nogil:
    return _xla_call(f, XLA_MAX, 1, 2)


cdef XLA_FFI_Error* _xla_max_grad(XLA_FFI_CallFrame* f) noexcept nogil:
    return _xla_call(f, XLA_MAX_GRAD, 2, 1)


cdef XLA_FFI_Error* _xla_avg(XLA_FFI_CallFrame* f) noexcept nogil:
    return _xla_call(f, XLA_AVG, 1, 1)


cdef XLA_FFI_Error* _xla_avg_grad(XLA_FFI_CallFrame* f) noexcept nogil:
    return _xla_call(f, XLA_AVG_GRAD, 1, 1)


cdef XLA_FFI_Error* _xla_call(XLA_FFI_CallFrame* f, int op, int nargs,
                              int nrets) noexcept nogil:
    cdef XLA_FFI_Metadata_Extension* meta
    if f.extension_start != NULL and f.extension_start.type == XLA_FFI_Extension_Metadata:
        # Registration asks what the handler is (no api, no buffers).
        meta = <XLA_FFI_Metadata_Extension*>f.extension_start
        meta.metadata.api_version.major_version = _xla_major
        meta.metadata.api_version.minor_version = _xla_minor
        meta.metadata.traits = 0
        return NULL
    if f.stage != XLA_FFI_ExecutionStage_EXECUTE:
        return NULL
    if (f.struct_size < _XLA_CALLFRAME_SIZE
            or f.args.size != nargs or f.rets.size != nrets):
        return _xla_error(f, b"pooling: unexpected XLA FFI call frame "
                             b"(arguments, results or its size)")
    cdef const XLA_FFI_Buffer* b[3]
    cdef int i
    for i in range(nargs + nrets):
        if i < nargs:
            if f.args.types[i] != XLA_FFI_ArgType_BUFFER:
                return _xla_error(f, b"pooling: an argument is not a buffer")
            b[i] = <const XLA_FFI_Buffer*>f.args.args[i]
        else:
            if f.rets.types[i - nargs] != XLA_FFI_RetType_BUFFER:
                return _xla_error(f, b"pooling: a result is not a buffer")
            b[i] = <const XLA_FFI_Buffer*>f.rets.rets[i - nargs]
        if b[i].struct_size < _XLA_BUFFER_SIZE:
            return _xla_error(f, b"pooling: unexpected XLA FFI buffer size")
    if f.attrs.size != 1 or f.attrs.types[0] != XLA_FFI_AttrType_ARRAY:
        return _xla_error(f, b"pooling: expected one int64 array attribute, p")
    cdef const XLA_FFI_Array* pa = <const XLA_FFI_Array*>f.attrs.attrs[0]
    if pa.dtype != XLA_FFI_DataType_S64 or pa.size != _XLA_PARAMS:
        return _xla_error(f, b"pooling: attribute p must be 12 int64s")
    cdef const int64_t* p = <const int64_t*>pa.data
    # The input-sized buffer (big) and the output-sized ones; the argmax's.
    cdef int bi = 2 if op == XLA_MAX_GRAD else (1 if op == XLA_AVG_GRAD else 0)
    cdef int ai = 2 if op == XLA_MAX else (1 if op == XLA_MAX_GRAD else -1)
    cdef const XLA_FFI_Buffer* big = b[bi]
    cdef const XLA_FFI_Buffer* small = b[1] if bi == 0 else b[0]
    cdef unsigned int vtype = big.dtype, itype = b[ai].dtype if ai >= 0 else 0
    cdef Py_ssize_t nd = p[0], r = big.rank, isz, k
    if vtype == XLA_FFI_DataType_F32:
        isz = 4
    elif vtype == XLA_FFI_DataType_F64:
        isz = 8
    else:
        return _xla_error(f, b"pooling: values must be float32 or float64")
    if nd < 1 or nd > 3 or r < nd + 1:
        return _xla_error(f, b"pooling: rank below the window's dimensions + 1")
    for i in range(nargs + nrets):
        if i == ai:
            if itype != XLA_FFI_DataType_U8 and itype != XLA_FFI_DataType_S64:
                return _xla_error(f, b"pooling: the argmax must be uint8 or int64")
        elif b[i].dtype != vtype:
            return _xla_error(f, b"pooling: values of different dtypes")
        if b[i].rank != r:
            return _xla_error(f, b"pooling: buffers of different ranks")
        if i != bi:
            for k in range(r):
                if b[i].dims[k] != small.dims[k]:
                    return _xla_error(f, b"pooling: outputs of different shapes")
    # (N, spatial, C): leading dimensions folded, spatial lifted to three.
    cdef Py_ssize_t N = 1, C = big.dims[r - 1]
    for i in range(r - nd - 1):
        if big.dims[i] != small.dims[i]:
            return _xla_error(f, b"pooling: batch dimensions differ")
        N *= big.dims[i]
    if small.dims[r - 1] != C:
        return _xla_error(f, b"pooling: feature dimensions differ")
    cdef Py_ssize_t sp[3]
    cdef Py_ssize_t osp[3]
    for i in range(3):
        sp[i] = big.dims[r - 4 + i] if i >= 3 - nd else 1
        osp[i] = small.dims[r - 4 + i] if i >= 3 - nd else 1
    cdef Geom g
    g.D, g.H, g.W = sp[0], sp[1], sp[2]
    g.OD, g.OH, g.OW = osp[0], osp[1], osp[2]
    g.kd, g.kh, g.kw = p[1], p[2], p[3]
    g.sd, g.sh, g.sw = p[4], p[5], p[6]
    g.pd, g.ph, g.pw = p[7], p[8], p[9]
    g.dd = g.dh = g.dw = 1
    g.xs_w = C * isz
    g.xs_h = g.W * g.xs_w
    g.xs_d = g.H * g.xs_h
    if itype == XLA_FFI_DataType_U8 and _window_size(&g) > _MAX_LOCAL:
        return _xla_error(f, b"pooling: uint8 offsets for a window over 256 positions")
    cdef Py_ssize_t S = g.D * g.H * g.W, OS = g.OD * g.OH * g.OW
    if N * C * S == 0 or OS == 0:
        return NULL                          # nothing to pool: empty outputs
    _geom_derive(&g, isz)
    for i in range(nargs, nargs + nrets if _xla_huge else nargs):
        k = isz if b[i].dtype == vtype else 1    # (the argmax: a byte)
        _huge_pages(b[i].data, (S if i == bi else OS) * N * C * k)
    cdef Job j
    j.x = <const char*>b[0].data
    j.N, j.C = N, C
    j.xs_n, j.xs_c = S * C * isz, isz
    j.ys_n, j.ys_c, j.ys_s = OS * C, 1, C
    j.cache = NULL
    j.flat = NULL
    j.g = &g
    j.divisor = p[10]
    j.count_pad = p[11] != 0
    if op == XLA_MAX:
        if itype == XLA_FFI_DataType_U8:
            j.cache = <uint8_t*>b[2].data
        else:
            j.flat = <int64_t*>b[2].data
        if isz == 4:
            _run(OP_FORWARD_CL, &j, <float*>b[1].data)
        else:
            _run(OP_FORWARD_CL, &j, <double*>b[1].data)
    elif op == XLA_AVG:
        if isz == 4:
            _run(OP_AVERAGE_CL, &j, <float*>b[1].data)
        else:
            _run(OP_AVERAGE_CL, &j, <double*>b[1].data)
    elif op == XLA_AVG_GRAD:
        if isz == 4:
            _average_backward_cl(<const float*>b[0].data, <float*>b[1].data, N, C, &j, &g)
        else:
            _average_backward_cl(<const double*>b[0].data, <double*>b[1].data, N, C, &j, &g)
    elif itype == XLA_FFI_DataType_U8:
        if isz == 4:
            _backward_compact_cl(<const float*>b[0].data, <const uint8_t*>b[1].data,
                                 <float*>b[2].data, N, C, &g)
        else:
            _backward_compact_cl(<const double*>b[0].data, <const uint8_t*>b[1].data,
                                 <double*>b[2].data, N, C, &g)
    elif isz == 4:
        _scatter_cl(<const float*>b[0].data, <const int64_t*>b[1].data, <float*>b[2].data,
                    N, OS, S, C, <Add*>NULL)
    else:
        _scatter_cl(<const double*>b[0].data, <const int64_t*>b[1].data, <double*>b[2].data,
                    N, OS, S, C, <Add*>NULL)
    return NULL


cdef XLA_FFI_Error* _xla_error(XLA_FFI_CallFrame* f, const char* message) noexcept nogil:
    cdef XLA_FFI_Error_Create_Args a
    a.struct_size = _XLA_ERROR_ARGS_SIZE
    a.extension_start = NULL
    a.message = message
    a.errc = XLA_FFI_Error_Code_INVALID_ARGUMENT
    return f.api.XLA_FFI_Error_Create(&a)

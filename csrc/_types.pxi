# Declarations every part of the module shares: the element types, the
# compile-time switches, constants, the Geom and Job structs, the thread
# count.  Included first: Cython needs a type declared before its use.

# ---------------------------------------------------------- element types

# What pooling compares: every real dtype, float16 read as float32 and
# integers as the fixed-width type of their size (_kernel_input).
ctypedef fused pool_t:
    float
    double
    int8_t
    int16_t
    int32_t
    int64_t
    uint8_t
    uint16_t
    uint32_t
    uint64_t

ctypedef fused scat_t:    # what a scatter moves: gradients (float, double,
    float                 # half as uint16_t bits), or any dtype as raw bits
    double
    uint8_t
    uint16_t
    uint32_t
    uint64_t

ctypedef fused grad_t:
    float
    double
    uint16_t   # float16 bits: each addition rounded to half, as NumPy and
               # PyTorch do (summed in float32 first: with 24 >= 2 * 11 + 2
               # bits, that double rounding equals rounding the exact sum)


# -------------------------------------------------- compile-time switches

# Compile-time switches as fused types: each loop is generated once per
# combination, with no run-time test left inside it to stop vectorisation.
cdef struct NoIndex:      # idx_t: values only, no index is written
    char unused
cdef struct Seed:         # row_t: the window's first valid row starts the max
    char unused
cdef struct Merge:        # row_t: later rows merge into it
    char unused

# What an argmax is stored as; the type decides the meaning.
ctypedef fused idx_t:
    uint8_t    # window-local offset (a * kh + r) * kw + t (the layer caches these)
    uint32_t   # the same, as wide as float32/int32 values
    int64_t    # flat position (d * H + h) * W + w: PyTorch's indices
    NoIndex

# The argmax lanes of the channels-last lane loops (_cl_lanes): as wide as
# the values, so that one compare mask selects both (GCC leaves mixed widths
# scalar).
ctypedef fused lane_t:
    uint8_t    # window offsets beside bytes (the layer's cache)
    uint32_t   # window offsets or positions in the volume beside 4-byte values
    double     # positions in the volume beside float64 values (exact below 2**53)
    NoIndex

ctypedef fused row_t:
    Seed
    Merge

cdef struct Flat:         # depth_t: windows one deep (every 1-D and 2-D call)
    char unused
cdef struct Deep:         # depth_t: anything else
    char unused

ctypedef fused depth_t:
    Flat
    Deep

cdef struct Add:          # move_t: a scatter accumulates (gradients)
    char unused
cdef struct Put:          # move_t: a scatter overwrites (unpooling)
    char unused

ctypedef fused move_t:
    Add
    Put


# An empty statement GCC must keep where it is.  In a loop over window
# elements around a loop over lanes, it stops GCC's unroll-and-jam (-O3),
# which would fuse two elements into one lane loop that the vectoriser then
# leaves scalar.  No memory clobber: the lanes stay in registers.
cdef extern from *:
    """
    #if defined(__GNUC__)
    #define POOLING_KEEP_NEST() __asm__ __volatile__("")
    #else
    #define POOLING_KEEP_NEST() ((void)0)
    #endif
    """
    void _keep_nest "POOLING_KEEP_NEST"() noexcept nogil


# -------------------------------------------------------------- constants

# Below this many input elements a call stays on one thread: waking the pool
# costs more than the work.
cdef enum:
    _PARALLEL_MIN_WORK = 1 << 15
    _MAX_LOCAL = 256        # window positions a uint8 offset can name
    _CHUNK = 512            # output columns per offset accumulator (stack)
    _WRITE_ONCE_MIN_OW = 32 # shorter output rows: backward scatters instead
    _LANE_BYTES = 64        # channels-last: bytes of values (or of indices,
                            # if wider) one channel block keeps in registers

# Interior column loops with the window width and stride fixed at compile time.
cdef enum HKind:
    H_GENERIC
    H_K2S2
    H_K3S2
    H_K2S1
    H_K3S1

# What _run runs on the pool_t values.
cdef enum Op:
    OP_FORWARD        # channels-first planes
    OP_FORWARD_CL     # channels-last
    OP_ADAPTIVE       # channels-first planes
    OP_ADAPTIVE_CL    # channels-last
    OP_AVERAGE        # average pooling, channels-first planes (any strides)
    OP_AVERAGE_CL     # average pooling, channels-last


# -------------------------------------------------------- what loops take

cdef struct Geom:
    Py_ssize_t D, H, W, OD, OH, OW
    Py_ssize_t kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw
    Py_ssize_t xs_d, xs_h, xs_w    # byte strides of the input within a plane
    Py_ssize_t jlo, jhi            # output columns whose window lies inside [0, W)
    Py_ssize_t hend                # where the padded input ends along H: H + ph
                                   # (a band of rows in a tile: from its first row)
    int hkind
    int64_t delta[_MAX_LOCAL]      # window-local offset -> offset in the plane


cdef inline Py_ssize_t _window_size(const Geom* g) noexcept nogil:
    return g.kd * g.kh * g.kw


# What one call hands its typed loops.  Element strides for the outputs
# (y, indices, cache share one layout): plane (n, c) starts at n * ys_n +
# c * ys_c, spatial position s sits s * ys_s further.
cdef struct Job:
    const char* x
    Py_ssize_t N, C, xs_n, xs_c    # input byte strides of the batch and channel axes
    Py_ssize_t ys_n, ys_c, ys_s
    uint8_t* cache
    int64_t* flat
    const int64_t* a0[3]           # adaptive windows [a0[axis][i], a1[axis][i])
    const int64_t* a1[3]
    const Geom* g
    int64_t divisor               # average pooling: divisor_override, 0 for none
    bint count_pad                # average pooling: count_include_pad


# ---------------------------------------------------------------- threads

# Design T (threads.h): every parallel region is opened through
# _region_begin and watched (_arrive, _leave, _settle): late workers mean contended
# cores, and the kernels then stay on the caller's thread for a while; a
# forked child stays on it for good; a host framework limits the calls made
# from its threads (_tls_limit).
cdef extern from "threads.h":
    ctypedef struct Region "pooling_region":
        bint on
    Region _region_begin "pooling_region_begin"(bint threaded) noexcept nogil
    void _arrive "pooling_arrive"(Region* r) noexcept nogil
    void _leave "pooling_leave"(Region* r) noexcept nogil
    void _settle "pooling_settle"(const Region* r) noexcept nogil
    void _threads_init "pooling_threads_init"() noexcept nogil
    int _tls_limit "pooling_tls_limit"
    double _serial_until "pooling_serial_until"
    double _backoff_s "pooling_backoff_s"
    bint _forked "pooling_forked"
    long _contended_calls "pooling_contended_calls"
    double _late_bias "pooling_late_bias"
    double _now "pooling_now"() noexcept nogil

_threads_init()

cdef int _num_threads = 0   # 0: OpenMP's own default (OMP_NUM_THREADS, threadpoolctl)


cdef inline int _threads() noexcept nogil:
    # The same all through one call (per-thread scratch is sized by it): the
    # settings change between calls only.
    cdef int n
    if not _openmp.POOLING_OPENMP:
        return 1
    n = _num_threads if _num_threads > 0 else _openmp.omp_get_max_threads()
    if 0 < _tls_limit < n:
        n = _tls_limit
    return n

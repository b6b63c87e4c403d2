"""Max-pooling kernels: one pass computes the window max and its argmax, one
pass scatters gradients back.  Typed loops over raw pointers, GIL released,
work spread over OpenMP threads.  This file holds the entry points that
``pooling._api`` calls; the loops are in the include files listed below.

Design
------
A. One set of loops for every dimensionality.  ``pooling._api`` validates
   every argument and lifts 1-D and 2-D calls to three spatial axes (unit
   depth and height cost one loop trip); nothing here checks them again.
B. One compilation unit.  The .pxi files are textual parts of this module,
   split by concern for the reader: fused functions cimported from another
   module would not inline, and the loops depend on inlining.  Cython
   directives are set in setup.py only: a "# cython:" header here would
   override them, and with them POOLING_DEBUG's bounds checks.
C. Specialised at compile time, dispatched once.  Element types are fused
   types (pool_t, scat_t, grad_t), and so are the loop variants, as empty
   structs (idx_t: what an argmax is stored as; row_t: seed or merge;
   depth_t: windows one deep or deeper; move_t: add or put).  Each loop is
   generated once per combination, with no run-time test left inside it to
   stop vectorisation.  A runtime dtype becomes a specialisation in one
   place, _dispatch.pxi.
D. PyTorch's results from an associative rule.  PyTorch's scan keeps the
   first maximum and the last NaN: it picks the window element with the
   largest key (value, earlier position first; NaN above all, later first).
   Taking such a maximum is associative, so any grouping of the scan, in
   scan order, gives PyTorch's result exactly (_takes, _put).
E. Forward is row oriented.  Each output row is an accumulator that the
   window's input rows are folded into, in scan order.  Within a row, every
   output column takes the maximum of its window's columns and merges it into
   the accumulator.  The column loops are simple enough for the C compiler
   to vectorise; interior columns of the common windows (2 or 3 wide, stride
   1 or 2) have loops with the window size known at compile time, border
   columns whose window is clipped a generic one.
F. Two layouts, chosen by the input's strides: channels-first planes
   (N, C, D, H, W), pooled plane by plane, and channels-last (N, D, H, W, C),
   where a window element is a contiguous channel vector and every loop runs
   over channels.  With at least one channel block (_lanes: 32 lanes, 64 for
   one-byte values) and a window of at most 256 positions (values only, or
   argmax lanes of at most 4 bytes: G) an output pixel is one task: its valid
   window elements are listed in scan order, and each block of channels
   keeps its running max and argmax in locals (vector registers) over the
   whole window and is stored once; a remainder is one more block ending at
   C, overlapping the one before.  Fewer channels (RGB) go in blocks of
   pixels instead, so that they still make long loops.  Outputs are stored
   in the layout the loops read.
F2. Small channels-first planes in channels-last tiles (_tiles.pxi,
   tiles.h).  Rows of 7 or 14 outputs leave E's row loops mostly setup and
   scalar tails: a 7x7 max pool took 20x the time of the fastest engines.
   Values-only max and average pooling of float32 and float64 copy _lanes()
   planes (32) at a time into a scratch tile laid out channels-last (8x8
   blocks through registers), pool it with F's channel blocks (interior
   pixels from the whole window's offsets, 256-bit registers where the
   variant has AVX: the tile's lanes have no tails), and copy the output
   tile back.  Planes too large for _TILE_BYTES go in bands of output rows
   with their input rows (2-D); the average's divisors keep the plane's
   padding (Geom.hend).  The copy in notes whether the tile holds a NaN:
   without one, PyTorch's rule is `v > m` alone, a max instruction; with one,
   F's loops as they are.  2x2/s2 rows of 20 outputs and more (and 3x3/s2
   averages) keep E's unfolded loops, which are faster there.  With
   indices (PyTorch's int64, or the layer's window offsets) every row takes
   F's lane loops with uint32 argmax lanes, whose argmax tile is copied
   into the planes after the values (positions in a band shifted to the
   plane's); larger planes then only on rows of at most 40 outputs.  The
   same bits as E and F: the same order of comparisons and additions.
G. Argmax as window-local offsets while a byte can name them (windows of at
   most 256 positions).  The accumulator is uint32 beside 4-byte values, so
   a vectorised loop runs as many lanes as the values allow, uint8 beside
   the others.  After each chunk of at most _CHUNK outputs the offsets are
   written out as the layer's compact argmax (uint8, one byte per output)
   or, through the table Geom.delta, as PyTorch's flat int64 indices.
   Larger windows fold flat int64 indices directly; channels-last with
   PyTorch's indices and more than four channels folds positions in the
   volume (uint32, below 2**32 elements), each index then a widening copy.
   Channel blocks (F) hold argmax lanes as wide as the values where they
   can: window offsets for the cache (uint8 beside one-byte values, uint32
   otherwise), positions in the volume for PyTorch's indices (uint32;
   float64 beside float64 values, exact below 2**53).  Where the lanes
   would be int64 (8-byte integers, or more than 2**32 elements) GCC
   leaves the loop scalar: those take the pixel blocks.
H. Backward is a scatter in output raster order, PyTorch's order, so that
   overlapping windows sum to PyTorch's bits; float16 sums round at each
   addition, as PyTorch and NumPy do (half.h).  Unpooling is the same scatter
   overwriting instead of adding.  Out-of-range indices are counted, never
   written, and the caller raises.  From the compact argmax, channels-first,
   disjoint windows on rows of at least _WRITE_ONCE_MIN_OW outputs are
   written once instead (no zero fill where they tile the input); float16
   always scatters.
I. Threads: OpenMP over planes (channels-first), output rows (channels-last
   forward) or batch items (channels-last scatters, so that no two tasks
   write one element; not channel blocks of one item, whose threads slowed
   each other down, see _scatter.pxi).  Below
   _PARALLEL_MIN_WORK elements a call stays on one thread.  The loops run
   without the GIL; a compiler without OpenMP builds the same C serially
   (_openmp.pxd).  Every parallel region is opened through threads.h
   (Design T below): it may decide the call stays on the caller's thread.
J. Memory.  A call allocates its outputs, unless the caller gives them
   (``out``) laid out as the loops write (_target: C order, or channels-last
   memory for channels-last data; then they write there, and no other
   layout costs more than a temporary and a copy, _into), and beyond them
   only this:
   - float16 values (forward3d, adaptive3d, fractional3d): a float32 copy of the input
     (_kernel_input) and a float32 result, cast back (_result);
   - backward3d, unpool3d, backward3d_compact: a contiguous copy of values,
     gradients or the compact argmax not stored densely in the layout the
     loops read (_planes, _pixels), and of indices not stored so or not
     int64;
   - adaptive3d: an int64 copy of each window-bound array that is not one;
   - fractional3d: per thread, an accumulator row of W values and W
     positions, and channels-last, a block of planes (at most 4 MB, N);
   - adaptive_avg3d: as adaptive3d (no indices); adaptive_avg_backward3d:
     the gradient's shares (a contiguous array of its size, plus a copy of
     the gradient not stored so) and per axis the runs of input positions
     (O); float16 through float32 arrays, cast back;
   - F2: per thread, a tile pair of at most _TILE_BYTES (128 KB), and with
     indices an argmax tile of 8 bytes per output lane beside it;
   - on each task's stack, accumulators of _CHUNK window offsets (adaptive
     pooling: _CHUNK lane values and group codes, M; average pooling:
     _CHUNK sums or shares, K).
K. A second reduction: average pooling (_average.pxi), reached through
   OP_AVERAGE and OP_AVERAGE_CL, their cases in _run, and sharing the
   types, Geom and Job, the dtype ladder and the threads.  PyTorch sums
   each window in (d, h, w) order from 0 in the sum type (float for float32
   and float16, double, int64), divides once by the divisor in that type
   and adds the quotient to a zeroed output.  The loops seed each sum with
   its first element instead (only a sum of -0.0s differs, and the final
   addition of +0.0 restores PyTorch's +0.0 there), keep each output's
   additions in PyTorch's order, and run many outputs side by side in
   vector lanes; division stays one true division per output.
   Channels-first, lanes are an output row's columns: interior columns of
   contiguous rows with a window 2 or 3 wide at stride 1 or 2 (the
   H_K* kinds of E) take the window rows in groups of up to three, one pass
   per group with the window, stride and row count literals (stride 2:
   even and odd input columns deinterleaved), the last pass dividing by the
   row's one interior divisor and storing; border columns sum output by
   output, and other windows or strided rows an accumulator row, one pass
   per window column, each then divided by its own divisor.  Rows are
   prefetched _AVG_AHEAD bytes ahead.  Channels-last (F's layout, outputs
   stored channels-last), lanes are channels: a pixel's window elements
   listed in scan order, each block of _AVG_LANES channels summed in
   locals, stored once; fewer channels or windows over _MAX_LOCAL elements
   sum chunks of channels element by element.  The backward (float32 and
   float64; float16 rounds differently, int64 divides: the reference's
   loops serve those) takes one output row at a time: its shares (grad /
   divisor, in the gradient's type), then each window row of the input
   gathers them, each input element adding the shares of the outputs over
   it in increasing column order, so that its additions are PyTorch's
   raster-order scatter's, bit for bit.  An input row is zeroed just before
   its first addition, while in cache (windows one deep; deeper windows
   and planes of at most _SMALL_PLANE elements zero their plane first), so
   that nothing is zero-filled beforehand; a plane with one output (global
   windows) is filled with +0.0 + its share.  Channels-last gradients stay
   channels-last: a batch item per task (as H's scatters), outputs in raster
   order, each one's shares added to its window's pixels along channels
   (PyTorch's order); windows that tile the input write each element once.
   _takes and _put are the max rule and stay in _forward.pxi.  Adaptive
   average pooling: O.
L. Decide once, run many times.  A forward call's decisions (Geom, layout,
   kernel, output shapes and strides) are a _ForwardPlan; forward3d builds
   one per call.  For a small input those decisions, and pooling._params'
   checks before them, cost more than the loops, so pooling._api also keeps
   the plan of each distinct user call, keyed by the arguments as given and
   the array's shape, strides and dtype (the only things the checks read),
   and a repeated call runs straight from it, its outputs allocated in the
   user's layout.  Only calls whose key cannot hide a difference the checks
   see are kept: plain int arguments (True and 2.0 hash like 1 and 2), an
   exact, native, non-float16 ndarray.  At most _MAX_PLANS are kept.
M. Adaptive pooling folds rows too, into lanes, whatever the window sizes
   (PyTorch's windows: on an axis at most two sizes, overlapping by at most
   one element).  Channels-first, lanes are input columns: the window rows of
   a group of output columns (spanning at most _CHUNK columns) are folded
   four at a time, a chain of maxima with one index select per four
   elements; each lane keeps its first maximum and the code of its group (the
   group's first row), and rows about 4 KB ahead are prefetched.  Each output
   then reduces its lanes by the key of D: the max value, then the first
   position holding it, found among the at most four rows of the holding
   lane's group.  Windows wider than _CHUNK columns, and windows of whole
   contiguous rows (global pooling), are runs: their max in any order, four
   long streams at once (a run's quarters), then, only where indices, a NaN
   or a zero ask for it, a search for its first occurrence or the last NaN.
   Channels-last, lanes are channels and whole windows: window pixels folded
   four at a time along a row, then each lane's index from its group.  A NaN
   only marks its lane: that window (channel) is scanned again element by
   element, as is, values only, a zero max held by both -0.0 and 0.0.
   pooling._api sends equal windows that tile the input to max pooling's
   loops where those are faster (small windows, long output rows).
N. Fractional max pooling (_fractional.pxi): windows of one size whose
   starts differ per plane (PyTorch draws them per (n, c)); pooling's
   Python side computes each plane's interval starts in the input's float
   type, as PyTorch's generate_intervals does, and passes them as (N*C, O)
   arrays per axis (Job.a0).  Row oriented as E, one accumulator row per
   output row, column q standing for the window that starts at column
   w0 + q: each window element (a, r, t), in scan order, is a pass over
   contiguous columns that folds input column w0 + q + t of row (a, r)
   into column q by PyTorch's test (_takes), so every window sees its
   elements in PyTorch's order and no position needs comparing.  Each
   output column then reads the accumulator at its own start.  Values and
   positions (int32 lanes beside float32 where the volume allows; none for
   values only) in the same pass; any input strides, outputs in the
   caller's layout; prange over planes with per-thread accumulator rows.
   Channels-last memory is copied a block of channels of one item at a
   time (a cache line of channel vectors per pixel) into per-thread
   contiguous planes first: read in place, each plane would touch every
   line of the item for one channel's values.
O. Adaptive average pooling (_adaptive_average.pxi): PyTorch's channels-
   first arithmetic in both layouts, each window summed sequentially in
   (d, h, w) order, then sum / kd / kh / kw.  One window's sum is a chain
   of dependent additions, latency bound; so channels-first, a task (an
   output row band of _AAVG_PLANES planes) sums _AAVG_LANES windows at
   once, one register each (the loop in C: GCC spilled the lanes' pointers
   from the Cython one), each lane's chain in its own order.  Lanes are
   (plane, output column) pairs, so global pooling's lanes are planes, its
   whole contiguous planes one run each (there, a loop of its own without
   the per-group setup, and in AVX2 builds vector lanes of 8 planes fed by
   in-register transposes); widths that differ within a group
   add -0.0 (which changes no sum) where a lane has ended.  The next band
   is prefetched.  float32 in AVX2 builds, when every window is at least 4
   columns wide and planes are evenly spaced, a task is a band of 16
   planes instead and vector lanes are planes (_aavg_band16): 4 columns of
   16 planes transposed in registers into 4 vectors per 8 planes, added
   in column order, so each lane still sums its plane's window in order;
   the adds are vector adds.  It walks each input row's windows left to
   right (reads stream along the rows; the windows' sums are independent
   chains, kept in a small stack array); a window's last 1-3 columns come
   from the 4 columns ending at its end.  Channels-last, lanes are channels (vectorised) and the
   output stays channels-last.  float16 sums in float32 (1-D, 2-D), or in
   float32 rounded to half at every step (3-D: PyTorch's half kernel; the
   round_t switch).  The backward is a gather, written once: each input
   element is 0 + the shares (grad / kd / kh / kw) of the outputs covering
   it, in output raster order, PyTorch's order of additions; input
   positions that the same outputs cover (Runs, per axis) get equal
   gradients, so one element (or channel vector, or row) is computed and
   copied.
X. XLA custom calls (_xla.pxi, xla_ffi.h) for pooling.layers.jax: max
   pooling with the compact argmax and its scatter (H), average pooling and
   its backward, as XLA FFI handlers.  XLA calls them on its own threads,
   without the GIL, with its row-major buffers (flax's channels-last
   arrays, leading dimensions folded into the batch): the handler checks
   the call frame against its contract, fills a Geom and a Job from the
   buffers' shapes and one int64 attribute, and runs F's and K's loops into
   XLA's outputs.  The C ABI's structs are declared here (xla_ffi.h), not
   included from jaxlib: JAX stays an optional runtime extra.  XLA's
   registry takes handlers of its own API version only, so the Python side
   reads it from the jaxlib it runs with.  Large outputs are advised onto
   transparent huge pages before they are written (xla_ffi.h).
T. Threads that never hurt (threads.h).  An OpenMP region ends in a
   barrier that waits for every team thread to arrive, so with the cores
   busy elsewhere a worker the scheduler has not run yet held 0.1 ms calls
   for whole time slices.  Each region notes how late its workers start and
   when the caller's own share is done (_region_begin, _arrive, _leave,
   _settle); a worker more than 1 ms late, or a caller left waiting for its
   workers longer than 50 us and half its own share, means contended cores,
   and the kernels then stay on the caller's thread for a back-off period (0.25 s, doubling while it lasts, at most 4 s) before
   they try threads again.  The decision is made per region and never
   changes _threads() within a call (per-thread scratch is sized by it).
   A fork child stays on one thread (GNU OpenMP's pool does not survive
   fork: a region there would wait forever).  A host framework limits the
   calls made from its threads (set_thread_limit, thread-local: the torch
   adapter passes torch.get_num_threads(), dask tasks one), capped by
   set_num_threads and OpenMP's own limit (threadpoolctl).

Files
-----
In the order they are included; within each, callers come before callees.

_types.pxi      element types, compile-time switches, constants, Geom, Job,
                the thread count (first: Cython needs types before use)
_plans.pxi      _ForwardPlan and the plans kept per call (L; a cdef class
                precedes its uses)
maxpool.pyx     the entry points (this file)
_arrays.pxi     the GIL side: arrays to Geom, Job and pointers; allocations
_dispatch.pxi   every runtime dtype -> fused specialisation ladder
_forward.pxi    forward in both layouts: fold loops, argmax output
_scatter.pxi    backward from indices, unpooling, backward from the compact
                argmax
_adaptive.pxi   adaptive pooling (M): row folds into lanes, runs, exact fix-ups
_average.pxi    average pooling (K): row folds that sum, a divisor per output
_tiles.pxi      small channels-first planes in channels-last tiles (F2)
_fractional.pxi fractional max pooling (N): a pass per window element
_adaptive_average.pxi  adaptive average pooling (O): lanes of sums, a gather
_mode.pxi       block mode of label images (pyramids): gather, sort, longest run
_xla.pxi        XLA FFI handlers (X): call frame -> Geom, Job -> the loops above
half.h          binary16 <-> binary32 for float16 sums
tiles.h         F2's copies into and out of tiles, and its register folds
threads.h       Design T: watched parallel regions, the fork and host limits
xla_ffi.h       the part of XLA's FFI C ABI the handlers use (X)
_openmp.pxd     OpenMP when the compiler has it, a serial stand-in when not
maxpool_avx2.pyx  includes this file: the same kernels built with AVX2 as
                pooling._core._maxpool_avx2, a CPU variant that pooling._core.backend
                chooses at import (cpu_features, compiled_for; setup.py)

Call tree
---------
forward3d -> _kernel_input, _result
  _ForwardPlan (_channels_last, _geom), .run
find_forward_plan, remember_forward_plan -> _forward_key; plan_forward
  -> _ForwardPlan, .for_user, .run
_ForwardPlan.run -> _dispatch_typed (pool_t) -> _run
    _forward -> _tiles_pay; _forward_tiles (prange: tiles x bands)
      -> _tile -> pooling_tile_in4, _tile_row | _cl_lanes_row,
         pooling_tile_out4
    _forward (prange: planes) -> _forward_one -> _forward_plane -> _forward_by_depth
      -> _forward_rows -> _fold_row -> _fold_generic | _fold_k2 | _fold_k3
                                       | _fold_columns -> _fold_strided
                       -> _emit
    _forward_cl (prange: output rows) -> _forward_cl_row
      -> _lanes_row -> _cl_lanes_row -> _cl_lanes     (channel blocks: _lanes)
      -> _cl_row -> _cl_block -> _fold_block -> _fold_pixels   (fewer channels)
                              -> _emit
    every fold -> _put -> _takes; _cl_lanes -> _takes
backward3d, unpool3d -> _scatter3d -> _planes | _pixels
  _scatter_into (scat_t) -> _scatter_as
    _scatter (prange: planes) | _scatter_cl (prange: batch items)
      -> _move -> _add
backward3d_compact -> backward3d (windows over 256 positions)
                    | _planes | _pixels
  _compact_into (grad_t) -> _compact_as
    _backward_compact (prange: planes) -> _backward_compact_plane
      -> _unfold_row -> _unfold_k2 | _unfold_col   (disjoint windows, long rows)
      -> _add                                      (otherwise: a scatter)
    _backward_compact_cl (prange: batch items) -> _add
adaptive3d -> _kernel_input, _channels_last, _output, _job, _result
  _dispatch (pool_t) -> _run
    _adaptive (prange: planes) -> _adaptive_plane -> _adaptive_rows
      -> _fold_segments -> _fold4 -> _fold4_as      (row folds into lanes)
      -> _store -> _any_nan, _lane_max, _tied
                -> _resolve -> _first_of           (a lane's group)
                | _scan_window | _same_bits        (a NaN, a zero of both signs)
      -> _store_runs -> _fold_quarters -> _fold4    (runs: wide, global)
                     -> _any_nan, _lane_max, _find -> _find_as, _take
    _adaptive_cl (prange: output rows) -> _adaptive_cl_row -> _cl_pixels
      -> _fold_segments -> _fold4 -> _fold4_as
      -> _resolve | _scan_window
    exact scans -> _takes
avg3d -> _kernel_input, _channels_last, _target, _alloc, _geom, _job, _result
  _dispatch (pool_t) -> _run
    _average -> _tiles_pay; _forward_tiles -> _tile -> _tile_row (F2)
    _average (prange: planes) -> _average_one -> _average_plane
      -> _interior -> _rows -> _pass -> _quot        (literal windows, interior)
      -> _sum_edge | _sum_cols -> _columns, _add_cols
      -> _divide -> _divisor, _quot
    _average_cl (prange: output rows) -> _average_cl_row -> _divisor
      -> _lanes_sum -> _quot | _pixel_sum -> _quot
avg_backward3d -> _target, _alloc, _planes | _pixels (float16, int64: the reference's)
  _average_backward_cl (prange: batch items) -> _average_backward_item -> _divisor
  _average_backward (prange: planes) -> _average_backward_plane -> _divisor, _shares
    -> _gather -> _gather_k, _gather_edge     (literal windows)
    | _columns                                (other windows: a scatter)
fractional3d -> _kernel_input, _channels_last, _output, _job, _result
  _frac_run (frac_t, pos_t)
    -> _fractional (prange: planes) -> _fractional_plane
    -> _fractional_cl (prange: item, channel block; a copy into planes)
       -> _fractional_plane
  _fractional_plane -> _frac_pass -> _frac_fold -> _takes
adaptive_avg3d -> _adaptive_avg -> _kernel_input, _channels_last, _output, _job,
                                   _bounds_into, _result
  _aavg_run (avg_t, round_t)
    _aavg_global (prange: planes of an item; whole contiguous planes)
      -> pooling_aavg_runs16_float (C, AVX2), pooling_aavg_runs_float | _double (C)
    _aavg_band (prange: row bands of planes) -> _aavg_lanes
      -> pooling_aavg_lanes_float | _double (C) | _plus (float16 steps), _over
    _aavg_cl_row (prange: output rows) -> _plus, _over
adaptive_avg_backward3d -> _adaptive_avg_backward -> _planes | _pixels, _runs,
                                                     _bounds_into, _result
  _aavg_backward_run (avg_t, round_t)
    _aavg_shares (prange: planes or items) -> _over
    _aavg_gather (prange: blocks of rows) -> _plus
_xla_max, _xla_max_grad, _xla_avg, _xla_avg_grad -> _xla_call
  -> _geom_derive; _run (OP_FORWARD_CL, OP_AVERAGE_CL) | _average_backward_cl
     | _backward_compact_cl | _scatter_cl
"""
import numpy as np

cimport cython
from cython.parallel cimport parallel, prange
from libc.stdint cimport (int8_t, int16_t, int32_t, int64_t,
                          uint8_t, uint16_t, uint32_t, uint64_t)
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_STRIDES

cimport _openmp

include "_types.pxi"
# Before the entry points: a cdef class precedes its uses.
include "_plans.pxi"


# ----------------------------------------------------------- entry points

def forward3d(x5, params, out_dhw, indices, bint channels_last=False, out=None):
    """Pool a validated, non-empty (N, C, D, H, W) array.

    ``indices``: None (values only), "flat" (int64 (d * H + h) * W + w,
    PyTorch's) or "compact" (the layer's argmax cache: uint8 window-local
    offsets when the window has at most 256 positions, flat int64 otherwise).
    Outputs are stored channels-last when the input is (``channels_last``:
    the caller's layout, where the strides cannot tell).  Returns (y,
    indices or None), both (N, C, OD, OH, OW): ``out``'s arrays where it
    gives them (a pair, either None), filled.
    """
    dtype = x5.dtype
    x5 = _kernel_input(x5)
    yo, io = (None, None) if out is None else out
    plan = _ForwardPlan(x5, params, out_dhw, indices, channels_last)
    if dtype == np.float16:  # computed in float32, then cast (into yo)
        y, idx = plan.run(x5, (None, io))
        return _result(y, dtype, yo), idx
    return plan.run(x5, out)


def backward3d(g5, idx5, spatial, bint channels_last=False, out=None):
    """(grad_input, number of out-of-range indices) for flat int64 indices;
    grad_input is ``out`` when given."""
    return _scatter3d(g5, idx5, spatial, channels_last, True, out)


def backward3d_compact(g5, cache5, params, spatial, bint channels_last=False, out=None):
    """Input gradient from the layer's compact argmax (see forward3d)."""
    if cache5.dtype != np.uint8:  # windows over 256 positions: flat indices
        return backward3d(g5, cache5, spatial, channels_last, out)[0]
    shape = g5.shape[:2] + tuple(spatial)
    cdef Geom g = _geom(spatial, (0, 0, 1), 1, params, cache5.shape[2:])
    if _channels_last(g5, channels_last) and _channels_last(cache5, channels_last):
        gi = _target(out, g5.dtype, True)
        if gi is None:
            gi = _alloc(shape, g5.dtype, True)
        go, loc = _pixels(g5), _pixels(cache5)
        _compact_into(go, loc, _pixels(gi), True, &g)
        return _into(out, gi)
    go, loc = _planes(g5), _planes(cache5)
    gi = _target(out, g5.dtype, False)
    if gi is None:
        gi = np.empty(shape, dtype=g5.dtype)
    # The kernel table in _geom is about the input layout; for the gradient
    # (contiguous, element units) only the k2s2 unfold exists.
    g.hkind = H_K2S2 if (g.kw == 2 and g.sw == 2 and g.dw == 1) else H_GENERIC
    _compact_into(go, loc, _planes(gi), False, &g)
    return _into(out, gi)


def unpool3d(x5, idx5, spatial, bint channels_last=False, out=None):
    """(output, number of out-of-range indices) for validated arrays; the
    output is ``out`` when given."""
    return _scatter3d(x5, idx5, spatial, channels_last, False, out)


def _scatter3d(x5, idx5, spatial, bint channels_last, bint add, out):
    shape = x5.shape[:2] + tuple(spatial)
    cdef Py_ssize_t bad
    if _channels_last(x5, channels_last) and _channels_last(idx5, channels_last):
        dst = _target(out, x5.dtype, True)
        if dst is None:
            dst = _alloc(shape, x5.dtype, True)
        bad = _scatter_into(_pixels(x5), _pixels(idx5, np.int64), _pixels(dst), True, add)
        return _into(out, dst), bad
    dst = _target(out, x5.dtype, False)
    if dst is None:
        dst = np.empty(shape, dtype=x5.dtype)
    bad = _scatter_into(_planes(x5), np.ascontiguousarray(_planes(idx5), dtype=np.int64),
                        _planes(dst), False, add)
    return _into(out, dst), bad


def adaptive3d(x5, windows, bint want_indices, bint channels_last=False, out=None):
    """(y, int64 indices or None) of a validated, non-empty (N, C, D, H, W)
    array; ``windows`` holds (start, end) arrays for each spatial axis, window
    i spanning [start[i], end[i]).  ``out``: as for forward3d."""
    dtype = x5.dtype
    x5 = _kernel_input(x5)
    cdef bint cl = _channels_last(x5, channels_last)
    bounds = [np.ascontiguousarray(a, dtype=np.int64) for pair in windows for a in pair]
    sizes = tuple(b.shape[0] for b in bounds[::2])
    shape = x5.shape[:2] + sizes
    yo, io = (None, None) if out is None else out
    y = _output(yo, shape, x5.dtype, cl)
    idx = _output(io, shape, np.int64, cl) if want_indices else None
    cdef Geom g
    g.D, g.H, g.W = x5.shape[2:]
    g.xs_d, g.xs_h, g.xs_w = x5.strides[2:]
    g.OD, g.OH, g.OW = sizes
    cdef Job j = _job(x5, y, NULL,
                      <int64_t*>_data(idx) if idx is not None else NULL, &g)
    cdef int64_t[::1] b
    cdef int axis
    for axis in range(3):
        b = bounds[2 * axis]
        j.a0[axis] = &b[0]
        b = bounds[2 * axis + 1]
        j.a1[axis] = &b[0]
    _dispatch(OP_ADAPTIVE_CL if cl else OP_ADAPTIVE, &j, y)
    return _result(y, dtype, yo), _into(io, idx)


def avg3d(x5, params, out_dhw, bint channels_last=False, out=None):
    """Average-pool a validated, non-empty (N, C, D, H, W) array of
    float16, float32, float64 or int64 (``params``: three-axis
    AvgPoolParams).  Returns y, (N, C, OD, OH, OW): ``out`` when given,
    else a new array stored in the input's layout (channels-last when the
    input is, see forward3d)."""
    dtype = x5.dtype
    x5 = _kernel_input(x5)
    cdef bint cl = _channels_last(x5, channels_last)
    shape = x5.shape[:2] + tuple(out_dhw)
    y = _target(out, x5.dtype, cl)
    direct = y is not None
    if y is None:
        y = _alloc(shape, x5.dtype, cl)
    pool = params.pool
    cdef Geom g = _geom(x5.shape[2:], x5.strides[2:], x5.itemsize, pool, out_dhw)
    cdef Job j = _job(x5, y, NULL, NULL, &g)
    j.divisor = 0 if params.divisor_override is None else params.divisor_override
    j.count_pad = params.count_include_pad
    _dispatch(OP_AVERAGE_CL if cl else OP_AVERAGE, &j, y)
    if direct:
        return out
    y = _result(y, dtype)
    if dtype == np.float16:
        # PyTorch adds the half-precision average into a zeroed output: one
        # that rounds to -0.0 only in float16 (an underflow) comes out +0.0.
        y += np.float16(0)
    return _into(out, y)


def avg_backward3d(g5, params, spatial, bint channels_last=False, out=None):
    """Input gradient of avg3d for a validated, non-empty (N, C, OD, OH, OW)
    gradient.  float32 and float64 here; float16 (each addition rounded to
    half, the divisor a half first) and int64 take the NumPy core's loops."""
    if g5.dtype not in (np.float32, np.float64):
        from pooling._core.numpy_avg import AvgCore
        return AvgCore.avg_backward3d(g5, params, spatial, channels_last, out)
    shape = g5.shape[:2] + tuple(spatial)
    cdef bint cl = _channels_last(g5, channels_last)
    gi = _target(out, g5.dtype, cl)
    if gi is None:
        gi = _alloc(shape, g5.dtype, cl)   # every element written
    pool = params.pool
    cdef Geom g = _geom(spatial, (0, 0, 1), 1, pool, g5.shape[2:])
    cdef Job j
    j.divisor = 0 if params.divisor_override is None else params.divisor_override
    j.count_pad = params.count_include_pad
    cdef Py_ssize_t N = shape[0], C = shape[1]
    if cl:
        go = _pixels(g5)
        gv = gi.transpose(0, 2, 3, 4, 1)
        if g5.dtype == np.float32:
            _average_backward_cl[float](<const float*>_data(go), <float*>_data(gv), N, C, &j, &g)
        else:
            _average_backward_cl[double](<const double*>_data(go), <double*>_data(gv), N, C,
                                         &j, &g)
        return _into(out, gi)
    go = _planes(g5)
    gv = gi.reshape(N * C, -1)
    if g5.dtype == np.float32:
        _average_backward[float](go, gv, &j, &g)
    else:
        _average_backward[double](go, gv, &j, &g)
    return _into(out, gi)


def fractional3d(x5, starts, kernel, bint want_indices, bint channels_last=False, out=None):
    """(y, int64 indices or None) of fractional max pooling of a validated,
    non-empty float (N, C, D, H, W) array.  ``starts``: per axis an
    (N*C, O) int64 array of interval starts (plane n * C + c), the windows
    ``kernel`` (a (kd, kh, kw) triple) long from there; the output sizes are
    their O.  ``out``: as for forward3d."""
    dtype = x5.dtype
    x5 = _kernel_input(x5)
    cdef bint cl = _channels_last(x5, channels_last)
    sd, sh, sw = [np.ascontiguousarray(s, dtype=np.int64) for s in starts]
    sizes = (sd.shape[1], sh.shape[1], sw.shape[1])
    shape = x5.shape[:2] + sizes
    yo, io = (None, None) if out is None else out
    y = _output(yo, shape, x5.dtype, cl)
    idx = _output(io, shape, np.int64, cl) if want_indices else None
    cdef Geom g
    g.D, g.H, g.W = x5.shape[2:]
    g.xs_d, g.xs_h, g.xs_w = x5.strides[2:]
    g.OD, g.OH, g.OW = sizes
    g.kd, g.kh, g.kw = kernel
    cdef Job j = _job(x5, y, NULL,
                      <int64_t*>_data(idx) if idx is not None else NULL, &g)
    cdef int64_t[:, ::1] b
    for axis, a in enumerate((sd, sh, sw)):
        b = a
        j.a0[axis] = &b[0, 0]
    # Each thread's scratch: channels-last, a block of B contiguous planes
    # (a cache line of channels, fewer where planes are large); then an
    # accumulator row (values, then positions) of at most W columns; cache
    # lines apart.
    cdef bint wide = g.D * g.H * g.W > 2**31 - 1
    cdef Py_ssize_t pos_size = 8 if wide else 4, isz = x5.itemsize
    cdef Py_ssize_t V = g.D * g.H * g.W
    cdef Py_ssize_t B = 0
    cdef Geom gc
    if cl:
        B = max(1, min(64 // isz, x5.shape[1], (4 << 20) // (V * isz)))
        gc = g
        gc.xs_d, gc.xs_h, gc.xs_w = g.H * g.W * isz, g.W * isz, isz
    cdef Py_ssize_t per_thread = (B * V * isz + g.W * (isz + pos_size) + 127) // 64 * 64
    scratch = np.empty(_threads() * per_thread + 64, dtype=np.uint8)
    cdef char* sp = _data(scratch)
    sp += (-<size_t>sp) % 64
    if x5.dtype == np.float32:
        if idx is None:
            _frac_run(&j, <float*>_data(y), <NoIndex*>NULL, sp, per_thread, B, &gc)
        elif wide:
            _frac_run(&j, <float*>_data(y), <int64_t*>NULL, sp, per_thread, B, &gc)
        else:
            _frac_run(&j, <float*>_data(y), <int32_t*>NULL, sp, per_thread, B, &gc)
    else:
        if idx is None:
            _frac_run(&j, <double*>_data(y), <NoIndex*>NULL, sp, per_thread, B, &gc)
        elif wide:
            _frac_run(&j, <double*>_data(y), <int64_t*>NULL, sp, per_thread, B, &gc)
        else:
            _frac_run(&j, <double*>_data(y), <int32_t*>NULL, sp, per_thread, B, &gc)
    return _result(y, dtype, yo), _into(io, idx)


def adaptive_avg3d(x5, windows, int nd=2, bint channels_last=False, out=None):
    """Adaptive average pooling of a validated, non-empty (N, C, D, H, W)
    float16, float32 or float64 array; ``windows`` as for adaptive3d, ``nd``
    the caller's dimensionality (3: float16 sums in float16, as PyTorch's
    3-D kernel; otherwise in float32).  Returns y: ``out`` when given, else
    stored channels-last when the input is (``channels_last``: the caller's
    layout, where the strides cannot tell)."""
    return _adaptive_avg(x5, windows, nd, channels_last, out)


def adaptive_avg_backward3d(g5, windows, spatial, bint channels_last=False, out=None):
    """Input gradient of adaptive_avg3d for a validated, non-empty (N, C, OD,
    OH, OW) gradient: ``out`` when given, else laid out as the gradient."""
    return _adaptive_avg_backward(g5, windows, spatial, channels_last, out)


def block_mode3d(x5, kernel, out_dhw):
    """The most frequent value of each window of a non-empty integer or bool
    (N, C, D, H, W) array (ties: the smallest): windows ``kernel`` (a (kd,
    kh, kw) triple) at strides equal to it, no padding, the last along an
    axis what is left; ``out_dhw`` the output sizes (ceil(n / k)).  Returns
    a new C-contiguous (N, C, OD, OH, OW) array of the input's dtype."""
    return _block_mode(x5, kernel, out_dhw)


def openmp_enabled():
    """Whether this build was compiled with OpenMP."""
    return bool(_openmp.POOLING_OPENMP)


cdef extern from *:
    """
    /* What this CPU runs (GCC and Clang on x86; elsewhere nothing beyond the
       baseline), for pooling._core.backend's choice of a CPU variant.  The
       builtins also check that the OS saves the wider registers. */
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int pooling_cpu_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    #else
    static int pooling_cpu_avx2(void) { return 0; }
    #endif
    /* What this module was compiled for. */
    #if defined(__AVX2__)
    #define POOLING_ISA "avx2"
    #else
    #define POOLING_ISA "baseline"
    #endif
    """
    int pooling_cpu_avx2() noexcept nogil
    const char* POOLING_ISA


def cpu_features():
    """The CPU features, among those a variant needs, that this CPU has."""
    return ("avx2", "fma") if pooling_cpu_avx2() else ()


def compiled_for():
    """The instruction set this module's kernels were compiled for."""
    return POOLING_ISA.decode()


def set_num_threads(int n):
    """Threads for later calls; 0 restores OpenMP's default."""
    global _num_threads
    _num_threads = n


def get_num_threads():
    """Threads a large call made from this thread will use (when the cores
    are not contended)."""
    return _threads()


def set_thread_limit(int n):
    """Limit the calls made from the calling thread to ``n`` threads (0: no
    limit); returns the previous limit.  For host frameworks (Design T)."""
    global _tls_limit
    cdef int before = _tls_limit
    _tls_limit = n if n > 0 else 0
    return before


def thread_state():
    """What Design T has seen: {"contended_calls": calls that found a late
    worker, "serial_for": seconds left on one thread, "forked": whether this
    process is a fork child (one thread for good)}."""
    return {"contended_calls": _contended_calls,
            "serial_for": max(0.0, _serial_until - _now()),
            "forked": bool(_forked)}


def _reset_thread_state(double late_bias=0.0):
    """Forget any contention seen; ``late_bias`` seconds are added to every
    worker's lateness from now on (the tests' stand-in for a contended
    machine)."""
    global _serial_until, _backoff_s, _contended_calls, _late_bias
    _serial_until = 0.0
    _backoff_s = 0.25
    _contended_calls = 0
    _late_bias = late_bias


# What the entry points call, in call order.
include "_arrays.pxi"
include "_dispatch.pxi"
include "_forward.pxi"
include "_scatter.pxi"
include "_adaptive.pxi"
include "_average.pxi"
include "_tiles.pxi"
include "_fractional.pxi"
include "_adaptive_average.pxi"
include "_mode.pxi"
include "_xla.pxi"

"""The cores: the bottom layer, which computes and knows nothing of argument
parsing, layouts or front ends (it imports nothing from the rest of
pooling).

- ``_maxpool`` (and ``_maxpool_avx2``, the same source built for AVX2):
  the compiled kernels, csrc/ (setup.py).
- ``numpy_core.NumpyCore`` (with ``numpy_avg.AvgCore``): the same functions
  in NumPy, the fallback and, through pooling.reference, the tests' oracle.
- ``backend``: which core serves (compiled or NumPy, and which CPU variant)
  and the kernels' thread count.

Above them, pooling._params and pooling._api (the call sequence); above
those, the front ends.  tests/test_imports.py checks that no import goes
upward.

The protocol.  A core only sees validated, non-empty 5-D (N, C, D, H, W)
arrays and (D, H, W) triples:

- ``forward3d(x5, params, out_dhw, indices, channels_last, out) -> (y5, idx5 | None)`` with
  ``indices`` None, "flat" (PyTorch's int64 indices) or "compact" (whatever
  compact argmax the core's ``backward3d_compact`` reads back);
- ``backward3d(g5, idx5, spatial, channels_last) -> (grad5, n_bad_indices)``;
- ``backward3d_compact(g5, cache5, params, spatial, channels_last) -> grad5``;
- ``unpool3d(x5, idx5, spatial, channels_last) -> (out5, n_bad_indices)``:
  zeros, then each value written at its index in output raster order (the
  last write wins);
- ``adaptive3d(x5, windows, want_indices, channels_last) -> (y5, idx5 | None)``:
  per axis a (start, end) pair of arrays, window i spanning [start[i], end[i]);
- ``avg3d(x5, params, out_dhw, channels_last, out) -> y5``: average pooling,
  ``params`` an AvgPoolParams lifted to 3-D; ``y5`` has x5's dtype;
- ``avg_backward3d(g5, params, spatial, channels_last, out) -> grad5``;
- ``adaptive_avg3d(x5, windows, nd, channels_last, out) -> y5`` (windows as
  for adaptive3d; ``nd`` the caller's dimensionality: PyTorch's 3-D kernel
  computes float16 in float16, its 1-D and 2-D kernel in float32);
- ``adaptive_avg_backward3d(g5, windows, spatial, channels_last, out) -> grad5``;
- ``fractional3d(x5, starts, kernel, want_indices, channels_last, out) -> (y5, idx5 | None)``:
  per axis an (N*C, O) int64 array of window starts (pooling._fractional).

lp_pool needs no core function of its own: it is ``avg3d`` of ``x ** p``
(element-wise steps in NumPy, pooling._torch_math) or, for p = +-inf,
``forward3d`` of ``|x|``; its backward ``avg_backward3d`` or ``backward3d``.

A core may lack the four average-pooling functions: ``pooling._api.core_op``
then takes the NumPy core's, so kernels slot in by defining them (the
compiled core defines all four).

``channels_last`` is the caller's layout: a hint for the outputs' memory
order where the input's strides leave it open.

Every one of them also takes ``out``: None, or the caller's preallocated
output(s) as (N, C, D, H, W) views, already checked (``check_out``): a pair
``(y5 | None, idx5 | None)`` for forward3d and adaptive3d, one array (or
None) for the others.  A core writes into them (straight from its loops
where they are laid out as it would allocate its own, through a copy
otherwise) and returns them in place of its own.

A core may also plan forward calls (the compiled one does; the NumPy one
does not): ``plan_forward`` (same arguments as ``forward3d``) returns a
plan whose ``run(x)`` pools, ``remember_forward_plan(plan, x, call)`` keeps
it for the call, and ``find_forward_plan(x, call)`` finds it again, so a
repeated call skips everything below (csrc/_plans.pxi, Design L).
"""

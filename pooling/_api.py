"""The public call sequence shared by every backend.

A backend ("core") only sees validated 4-D (N, C, H, W) arrays:

- ``forward2d(x4, params, out_hw, indices) -> (y4, idx4 | None)`` with
  ``indices`` None, "flat" (PyTorch's int64 indices) or "cache" (whatever
  compact argmax the core's ``backward2d_cache`` reads back);
- ``backward2d(g4, idx4, H, W) -> (grad4, n_bad_indices)``;
- ``backward2d_cache(g4, cache4, params, H, W) -> grad4``;
- ``unpool2d(x4, idx4, H, W) -> (out4, n_bad_indices)``: zeros, then each
  value written at its index in output raster order (the last write wins);
- ``adaptive2d(x4, (h0, h1), (w0, w1), want_indices) -> (y4, idx4 | None)``:
  window i of an axis spans [start[i], end[i]).

Everything else (argument parsing, unbatched inputs, empty batches, error
messages) happens here, once.  1-D pooling is 2-D pooling of a view with a
unit height (a window of height 1, no vertical padding): the flat index
``h * W + w`` is then ``w``, PyTorch's 1-D index, and no data moves.
"""
from __future__ import annotations

import functools

import numpy as np

from ._params import (PoolParams, adaptive_output_size, adaptive_windows,
                      check_adaptive_input, check_backward, check_input, check_unpool,
                      normalize_pool_args, normalize_unpool_args, unpool_output_size)


def max_pool(core, nd, x, kernel_size, stride=None, padding=0, dilation=1,
             ceil_mode=False, return_indices=False):
    fn = f"max_pool{nd}d"
    params = normalize_pool_args(fn, nd, kernel_size, stride, padding, dilation, ceil_mode)
    x, out_shape = check_input(x, params, fn)
    y, idx = forward(core, x, params, out_shape, "flat" if return_indices else None)
    return (y, idx) if return_indices else y


@functools.lru_cache(maxsize=256)
def _as_2d(params: PoolParams) -> PoolParams:
    if params.ndim == 2:
        return params
    return PoolParams((1,) + params.kernel_size, (1,) + params.stride, (0,) + params.padding,
                      (1,) + params.dilation, params.ceil_mode)


def _lift(a, nd):
    """View a (..., L) array as (..., 1, L), the 2-D layout the cores serve."""
    return a if nd == 2 or a is None else a[..., np.newaxis, :]


def _drop(a, nd):
    return a if nd == 2 or a is None else a[..., 0, :]


def _lift_shape(shape, nd):
    return tuple(shape) if nd == 2 else tuple(shape[:-1]) + (1, shape[-1])


def forward(core, x, params, out_shape, indices):
    """Run a validated input (batched or not) through a core."""
    if x.size == 0:  # N == 0 or C == 0: nothing to read
        y = np.empty(out_shape, dtype=x.dtype)
        idx = None if indices is None else np.empty(out_shape, dtype=np.int64)
        return y, idx
    nd = params.ndim
    x2 = _lift(x, nd)
    x4 = x2 if x2.ndim == 4 else x2[np.newaxis]
    y4, idx4 = core.forward2d(x4, _as_2d(params), _lift_shape(out_shape, nd)[-2:], indices)
    if x2.ndim == 3:
        y4 = y4[0]
        idx4 = None if idx4 is None else idx4[0]
    return _drop(y4, nd), _drop(idx4, nd)


def max_pool_backward(core, nd, grad_output, indices, input_shape):
    fn = f"max_pool{nd}d_backward"
    g, idx, shape = check_backward(grad_output, indices, input_shape, nd, fn)
    return backward(core, g, idx, shape, nd, fn)


def backward(core, g, idx, shape, nd, fn):
    """Run validated backward arguments (batched or not) through a core."""
    if g.size == 0:
        return np.zeros(shape, dtype=g.dtype)
    g2, idx2, shape2 = _lift(g, nd), _lift(idx, nd), _lift_shape(shape, nd)
    g4, idx4 = (g2, idx2) if g2.ndim == 4 else (g2[np.newaxis], idx2[np.newaxis])
    H, W = shape2[-2:]
    grad4, n_bad = core.backward2d(g4, idx4, H, W)
    if n_bad:
        raise _bad_index_error(fn, idx, shape[-nd:])
    return _drop(grad4 if g2.ndim == 4 else grad4[0], nd)


def backward_cache(core, g, cache, params, shape):
    """Input gradient through a layer's cached argmax (shapes already checked)."""
    if g.size == 0:
        return np.zeros(shape, dtype=g.dtype)
    nd = params.ndim
    g2, c2, shape2 = _lift(g, nd), _lift(cache, nd), _lift_shape(shape, nd)
    g4, c4 = (g2, c2) if g2.ndim == 4 else (g2[np.newaxis], c2[np.newaxis])
    grad4 = core.backward2d_cache(g4, c4, _as_2d(params), *shape2[-2:])
    return _drop(grad4 if g2.ndim == 4 else grad4[0], nd)


def _bad_index_error(fn, idx, spatial) -> ValueError:
    flat = np.asarray(idx).ravel()
    size = int(np.prod(spatial))
    bad = flat[(flat < 0) | (flat >= size)]
    return ValueError(
        f"{fn}: indices must lie in [0, {size}) for an input plane of size "
        f"{tuple(spatial)}, but got index {int(bad[0])} ({bad.size} out of range)"
    )


def max_unpool(core, nd, x, indices, kernel_size, stride=None, padding=0, output_size=None):
    fn = f"max_unpool{nd}d"
    k, s, p = normalize_unpool_args(fn, nd, kernel_size, stride, padding)
    x, idx = check_unpool(x, indices, nd, fn)
    spatial = unpool_output_size(fn, x.shape[-nd:], k, s, p, output_size)
    shape = x.shape[:-nd] + spatial
    if x.size == 0:
        return np.zeros(shape, dtype=x.dtype)
    x2, idx2, shape2 = _lift(x, nd), _lift(idx, nd), _lift_shape(shape, nd)
    x4, idx4 = (x2, idx2) if x2.ndim == 4 else (x2[np.newaxis], idx2[np.newaxis])
    out4, n_bad = core.unpool2d(x4, idx4, *shape2[-2:])
    if n_bad:
        flat = idx.ravel()
        size = int(np.prod(spatial))
        bad = flat[(flat < 0) | (flat >= size)]
        raise ValueError(f"{fn}: Found an invalid max index: {int(bad[0])} (output volumes "
                         f"are of size {'x'.join(map(str, spatial))}; {bad.size} out of range)")
    return _drop(out4 if x2.ndim == 4 else out4[0], nd)


def adaptive_max_pool(core, nd, x, output_size, return_indices=False):
    fn = f"adaptive_max_pool{nd}d"
    x = check_adaptive_input(x, nd, fn)
    out = adaptive_output_size(fn, nd, output_size, x.shape[-nd:])
    shape = x.shape[:-nd] + out
    if x.size == 0 or min(out) == 0:
        y = np.empty(shape, dtype=x.dtype)
        return (y, np.empty(shape, dtype=np.int64)) if return_indices else y
    if all(n % o == 0 and n // o <= 16 for n, o in zip(x.shape[-nd:], out)):
        # Equal windows that tile the input: plain max pooling (window n // o,
        # stride the same) and its faster loops, with identical results.  Its
        # pass per window column stops paying off for very wide windows
        # (global pooling), which the adaptive kernel scans faster.
        k = tuple(n // o for n, o in zip(x.shape[-nd:], out))
        params = normalize_pool_args(fn, nd, k, k, 0, 1, False)
        y, idx = forward(core, x, params, shape, "flat" if return_indices else None)
        return (y, idx) if return_indices else y
    x2, shape2 = _lift(x, nd), _lift_shape(shape, nd)
    in2 = _lift_shape(x.shape, nd)
    rows = adaptive_windows(in2[-2], shape2[-2])
    cols = adaptive_windows(in2[-1], shape2[-1])
    x4 = x2 if x2.ndim == 4 else x2[np.newaxis]
    y4, idx4 = core.adaptive2d(x4, rows, cols, return_indices)
    if x2.ndim == 3:
        y4 = y4[0]
        idx4 = None if idx4 is None else idx4[0]
    y, idx = _drop(y4, nd), _drop(idx4, nd)
    return (y, idx) if return_indices else y

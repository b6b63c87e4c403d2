"""The public call sequence shared by every backend.

A backend ("core") only sees validated 4-D arrays:

- ``forward2d(x4, params, out_hw, indices) -> (y4, idx4 | None)`` with
  ``indices`` None, "flat" (PyTorch's int64 indices) or "cache" (whatever
  compact argmax the core's ``backward2d_cache`` reads back);
- ``backward2d(g4, idx4, H, W) -> (grad4, n_bad_indices)``;
- ``backward2d_cache(g4, cache4, params, H, W) -> grad4``.

Everything else (argument parsing, unbatched inputs, empty batches, error
messages) happens here, once.
"""
from __future__ import annotations

import numpy as np

from ._params import check_backward, check_input, normalize_pool_args

FORWARD_2D = "max_pool2d"
BACKWARD_2D = "max_pool2d_backward"


def max_pool2d(core, x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False):
    params = normalize_pool_args(FORWARD_2D, 2, kernel_size, stride, padding, dilation,
                                 ceil_mode)
    x, out_shape = check_input(x, params, FORWARD_2D)
    y, idx = forward2d(core, x, params, out_shape, "flat" if return_indices else None)
    return (y, idx) if return_indices else y


def forward2d(core, x, params, out_shape, indices):
    """Run a validated input (3-D or 4-D) through a core."""
    x4 = x if x.ndim == 4 else x[np.newaxis]
    if x.size == 0:  # N == 0 or C == 0: nothing to read
        y = np.empty(out_shape, dtype=x.dtype)
        idx = None if indices is None else np.empty(out_shape, dtype=np.int64)
        return y, idx
    y4, idx4 = core.forward2d(x4, params, out_shape[-2:], indices)
    if x.ndim == 3:
        y4 = y4[0]
        idx4 = None if idx4 is None else idx4[0]
    return y4, idx4


def max_pool2d_backward(core, grad_output, indices, input_shape):
    g, idx, shape = check_backward(grad_output, indices, input_shape, 2, BACKWARD_2D)
    return backward2d(core, g, idx, shape)


def backward2d(core, g, idx, shape):
    """Run validated backward arguments (3-D or 4-D) through a core."""
    if g.size == 0:
        return np.zeros(shape, dtype=g.dtype)
    g4, idx4 = (g, idx) if g.ndim == 4 else (g[np.newaxis], idx[np.newaxis])
    H, W = shape[-2:]
    grad4, n_bad = core.backward2d(g4, idx4, H, W)
    if n_bad:
        raise _bad_index_error(idx, H, W)
    return grad4 if g.ndim == 4 else grad4[0]


def backward2d_cache(core, g, cache, params, shape):
    """Input gradient through a layer's cached argmax (shapes already checked)."""
    if g.size == 0:
        return np.zeros(shape, dtype=g.dtype)
    g4, c4 = (g, cache) if g.ndim == 4 else (g[np.newaxis], cache[np.newaxis])
    grad4 = core.backward2d_cache(g4, c4, params, *shape[-2:])
    return grad4 if g.ndim == 4 else grad4[0]


def _bad_index_error(idx, H, W) -> ValueError:
    flat = np.asarray(idx).ravel()
    bad = flat[(flat < 0) | (flat >= H * W)]
    return ValueError(
        f"{BACKWARD_2D}: indices must lie in [0, {H * W}) for an input plane of "
        f"size ({H}, {W}), but got index {int(bad[0])} "
        f"({bad.size} out of range)"
    )

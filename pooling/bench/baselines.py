"""The textbook im2col max pool the benchmark compares against: copy every
window into columns, then argmax; its backward scatters through col2im."""
from __future__ import annotations

import numpy as np


def _im2col_indices(H, W, k, s, p):
    """Row/column gather indices of every window: (k*k, OH*OW) each."""
    OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    ki, kj = np.divmod(np.arange(k * k), k)
    oi, oj = np.divmod(np.arange(OH * OW), OW)
    return ki[:, None] + s * oi[None, :], kj[:, None] + s * oj[None, :], OH, OW


def im2col_forward(x, k, s, p):
    """The textbook NumPy max pool: copy every window into columns, argmax."""
    N, C, H, W = x.shape
    planes = x.reshape(N * C, H, W)
    if p:
        planes = np.pad(planes, ((0, 0), (p, p), (p, p)), constant_values=-np.inf)
    rows, cols, OH, OW = _im2col_indices(H, W, k, s, p)
    col = planes[:, rows, cols]                     # (N*C, k*k, OH*OW): K*K copies
    arg = col.argmax(axis=1)
    y = np.take_along_axis(col, arg[:, None, :], axis=1)[:, 0]
    return y.reshape(N, C, OH, OW), (arg, x.shape, k, s, p)


def im2col_backward(grad, cache):
    arg, (N, C, H, W), k, s, p = cache
    rows, cols, OH, OW = _im2col_indices(H, W, k, s, p)
    gcol = np.zeros((N * C, k * k, OH * OW), dtype=grad.dtype)
    np.put_along_axis(gcol, arg[:, None, :], grad.reshape(N * C, 1, -1), axis=1)
    padded = np.zeros((N * C, H + 2 * p, W + 2 * p), dtype=grad.dtype)
    np.add.at(padded, (slice(None), rows, cols), gcol)  # col2im
    return padded[:, p:p + H, p:p + W].reshape(N, C, H, W)

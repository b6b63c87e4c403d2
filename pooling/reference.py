"""Pure-NumPy max pooling: the obviously-correct twin of the Cython kernels.

It is the fallback backend and the oracle the tests compare against.  Both
directions are vectorised over the whole array; the only Python loops run over
the window offsets, each of which is one strided view of the input (never an
im2col copy).  Values are a running ``np.maximum`` (NaN-propagating) over
those views; indices are the first window position holding the max (matches
written in reverse scan order, so the earliest lands last), or, where the max
is NaN, the last NaN: PyTorch's scan rule, ``v > best or isnan(v)``.
Temporaries stay the size of the output.  It never imports the extension.
"""
from __future__ import annotations

import numpy as np

from . import _api

__all__ = ["max_pool1d", "max_pool1d_backward", "max_pool2d", "max_pool2d_backward",
           "max_unpool1d", "max_unpool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"]


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False):
    """Reference ``max_pool2d``; same contract as :func:`pooling.max_pool2d`."""
    return _api.max_pool(_Core, 2, x, kernel_size, stride, padding, dilation,
                         ceil_mode, return_indices)


def max_pool2d_backward(grad_output, indices, input_shape):
    """Reference ``max_pool2d_backward``; same contract as the kernels'."""
    return _api.max_pool_backward(_Core, 2, grad_output, indices, input_shape)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False):
    """Reference ``max_pool1d``; same contract as :func:`pooling.max_pool1d`."""
    return _api.max_pool(_Core, 1, x, kernel_size, stride, padding, dilation,
                         ceil_mode, return_indices)


def max_pool1d_backward(grad_output, indices, input_shape):
    """Reference ``max_pool1d_backward``."""
    return _api.max_pool_backward(_Core, 1, grad_output, indices, input_shape)


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Reference ``max_unpool2d``; same contract as :func:`pooling.max_unpool2d`."""
    return _api.max_unpool(_Core, 2, x, indices, kernel_size, stride, padding, output_size)


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Reference ``max_unpool1d``."""
    return _api.max_unpool(_Core, 1, x, indices, kernel_size, stride, padding, output_size)


def adaptive_max_pool2d(x, output_size, return_indices=False):
    """Reference ``adaptive_max_pool2d``."""
    return _api.adaptive_max_pool(_Core, 2, x, output_size, return_indices)


def adaptive_max_pool1d(x, output_size, return_indices=False):
    """Reference ``adaptive_max_pool1d``."""
    return _api.adaptive_max_pool(_Core, 1, x, output_size, return_indices)


def _axis_plan(n, out, k, s, p, d):
    """Per window offset along one axis: (first output, stop output, first input
    position) of the outputs for which that offset lands inside [0, n)."""
    plan = []
    for i in range(k):
        shift = i * d - p  # input position of output o is o*s + shift
        lo = -(shift // s) if shift < 0 else 0  # ceil(-shift / s)
        hi = min(out, (n - 1 - shift) // s + 1)
        plan.append((lo, hi, lo * s + shift))
    return plan


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


class _Core:
    @staticmethod
    def forward2d(x4, params, out_hw, indices):
        N, C, H, W = x4.shape
        OH, OW = out_hw
        (kh, kw), (sh, sw) = params.kernel_size, params.stride
        (ph, pw), (dh, dw) = params.padding, params.dilation
        best = np.full((N, C, OH, OW), _lowest(x4.dtype), dtype=x4.dtype)
        want_indices = indices is not None  # the cache is flat indices too
        # Every element is written below: each window either holds its
        # (non-NaN) max somewhere or holds a NaN.
        idx = np.empty(best.shape, dtype=np.int64) if want_indices else None
        rows, cols = _axis_plan(H, OH, kh, sh, ph, dh), _axis_plan(W, OW, kw, sw, pw, dw)
        offsets = [(r, c) for r in rows if r[0] < r[1] for c in cols if c[0] < c[1]]

        def view(r, c):
            (oh0, oh1, h0), (ow0, ow1, w0) = r, c
            v = x4[:, :, h0:h0 + (oh1 - oh0 - 1) * sh + 1:sh,
                   w0:w0 + (ow1 - ow0 - 1) * sw + 1:sw]
            pos = (np.arange(h0, h0 + (oh1 - oh0) * sh, sh)[:, None] * W
                   + np.arange(w0, w0 + (ow1 - ow0) * sw, sw))
            return v, (slice(None), slice(None), slice(oh0, oh1), slice(ow0, ow1)), pos

        # Values: a NaN-propagating running max, in place.  On ties NumPy
        # returns the second operand, the earlier value (only the sign of a
        # tied zero could tell).
        for r, c in offsets:
            v, out, _ = view(r, c)
            np.maximum(v, best[out], out=best[out])
        if want_indices:
            # The first position holding the max: write matches in reverse
            # scan order so the earliest lands last.  A NaN max matches no
            # value; there the last NaN in scan order wins, as in PyTorch.
            for r, c in reversed(offsets):
                v, out, pos = view(r, c)
                np.copyto(idx[out], pos, where=v == best[out])
            if x4.dtype.kind == "f" and np.isnan(best).any():
                for r, c in offsets:
                    v, out, pos = view(r, c)
                    np.copyto(idx[out], pos, where=np.isnan(v))
        return best, idx

    @staticmethod
    def backward2d(g4, idx4, H, W):
        N, C = g4.shape[:2]
        idx = idx4.reshape(N * C, -1)
        bad = int(np.count_nonzero((idx < 0) | (idx >= H * W)))
        grad = np.zeros((N * C, H * W), dtype=g4.dtype)
        if not bad:
            # ufunc.at adds sequentially in C order: within a plane, output
            # raster order, which is PyTorch's accumulation order.
            np.add.at(grad, (np.arange(N * C)[:, None], idx), g4.reshape(N * C, -1))
        return grad.reshape(N, C, H, W), bad

    @staticmethod
    def adaptive2d(x4, rows, cols, want_indices):
        # Loop over offsets within the longest window; an offset past a
        # window's end is masked out.  PyTorch's update rule, in scan order.
        N, C, H, W = x4.shape
        (h0, h1), (w0, w1) = rows, cols
        best = np.full((N, C, h0.size, w0.size), _lowest(x4.dtype), dtype=x4.dtype)
        idx = np.broadcast_to(h0[:, None] * W + w0, best.shape).copy()
        for a in range(int((h1 - h0).max())):
            for b in range(int((w1 - w0).max())):
                valid = ((h0 + a < h1)[:, None]) & ((w0 + b < w1)[None, :])
                hh, ww = np.minimum(h0 + a, H - 1), np.minimum(w0 + b, W - 1)
                v = x4[:, :, hh[:, None], ww[None, :]]
                take = v > best
                if x4.dtype.kind == "f":
                    take |= np.isnan(v)
                take &= valid
                np.copyto(best, v, where=take)
                np.copyto(idx, hh[:, None] * W + ww, where=take)
        return best, (idx if want_indices else None)

    @staticmethod
    def unpool2d(x4, idx4, H, W):
        N, C = x4.shape[:2]
        idx = idx4.reshape(N * C, -1)
        bad = int(np.count_nonzero((idx < 0) | (idx >= H * W)))
        out = np.zeros(N * C * H * W, dtype=x4.dtype)
        if not bad:
            keys = (idx + (np.arange(N * C) * (H * W))[:, None]).ravel()
            # the last write wins: keep each position's last occurrence
            uniq, first_from_end = np.unique(keys[::-1], return_index=True)
            out[uniq] = x4.reshape(-1)[keys.size - 1 - first_from_end]
        return out.reshape(N, C, H, W), bad

    @staticmethod
    def backward2d_cache(g4, cache4, params, H, W):
        return _Core.backward2d(g4, cache4, H, W)[0]

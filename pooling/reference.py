"""Pure-NumPy max pooling: the obviously-correct twin of the Cython kernels.

It is the fallback backend and the oracle the tests compare against.  Both
directions are vectorised over the whole array; the only Python loops run over
the window offsets, each of which is one strided view of the input (never an
im2col copy).  Values are a running ``np.maximum`` (NaN-propagating) over
those views; indices are the first window position holding the max (matches
written in reverse scan order, so the earliest lands last), or, where the max
is NaN, the last NaN: PyTorch's scan rule, ``v > best or isnan(v)``.
Temporaries stay the size of the output.  It never imports the extension.

Average and adaptive average pooling live in pooling._reference_avg and are
re-exported here; ``_Core`` carries their core functions too.  lp_pool is
composed of them (pooling._api.lp_pool) on this core.
"""
from __future__ import annotations

import itertools

import numpy as np

from . import _api, _fractional, _reference_avg
from ._reference_avg import (_AvgCore, adaptive_avg_pool1d, adaptive_avg_pool1d_backward,
                             adaptive_avg_pool2d, adaptive_avg_pool2d_backward,
                             adaptive_avg_pool3d, adaptive_avg_pool3d_backward, avg_pool1d,
                             avg_pool1d_backward, avg_pool2d, avg_pool2d_backward, avg_pool3d,
                             avg_pool3d_backward)

__all__ = ["adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "max_pool1d", "max_pool1d_backward", "max_pool2d", "max_pool2d_backward",
           "max_pool3d", "max_pool3d_backward", "max_unpool1d", "max_unpool2d",
           "max_unpool3d", "fractional_max_pool2d", "fractional_max_pool3d",
           "lp_pool1d", "lp_pool1d_backward", "lp_pool2d",
           "lp_pool2d_backward", "lp_pool3d", "lp_pool3d_backward"] + _reference_avg.__all__


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False, data_format="NCL", *, out=None):
    """Reference ``max_pool1d``; same contract as :func:`pooling.max_pool1d`."""
    return _api.max_pool(_Core, 1, x, kernel_size, stride, padding, dilation,
                         ceil_mode, return_indices, data_format, out=out)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False, data_format="NCHW", *, out=None):
    """Reference ``max_pool2d``; same contract as :func:`pooling.max_pool2d`."""
    return _api.max_pool(_Core, 2, x, kernel_size, stride, padding, dilation,
                         ceil_mode, return_indices, data_format, out=out)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False, data_format="NCDHW", *, out=None):
    """Reference ``max_pool3d``; same contract as :func:`pooling.max_pool3d`."""
    return _api.max_pool(_Core, 3, x, kernel_size, stride, padding, dilation,
                         ceil_mode, return_indices, data_format, out=out)


def max_pool1d_backward(grad_output, indices, input_shape, data_format="NCL", *, out=None):
    """Reference ``max_pool1d_backward``."""
    return _api.max_pool_backward(_Core, 1, grad_output, indices, input_shape, data_format,
                                  out=out)


def max_pool2d_backward(grad_output, indices, input_shape, data_format="NCHW", *, out=None):
    """Reference ``max_pool2d_backward``."""
    return _api.max_pool_backward(_Core, 2, grad_output, indices, input_shape, data_format,
                                  out=out)


def max_pool3d_backward(grad_output, indices, input_shape, data_format="NCDHW", *, out=None):
    """Reference ``max_pool3d_backward``."""
    return _api.max_pool_backward(_Core, 3, grad_output, indices, input_shape, data_format,
                                  out=out)


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 data_format="NCL", *, out=None):
    """Reference ``max_unpool1d``."""
    return _api.max_unpool(_Core, 1, x, indices, kernel_size, stride, padding, output_size,
                           data_format, out=out)


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 data_format="NCHW", *, out=None):
    """Reference ``max_unpool2d``."""
    return _api.max_unpool(_Core, 2, x, indices, kernel_size, stride, padding, output_size,
                           data_format, out=out)


def max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 data_format="NCDHW", *, out=None):
    """Reference ``max_unpool3d``."""
    return _api.max_unpool(_Core, 3, x, indices, kernel_size, stride, padding, output_size,
                           data_format, out=out)


def adaptive_max_pool1d(x, output_size, return_indices=False, data_format="NCL", *, out=None):
    """Reference ``adaptive_max_pool1d``."""
    return _api.adaptive_max_pool(_Core, 1, x, output_size, return_indices, data_format, out=out)


def adaptive_max_pool2d(x, output_size, return_indices=False, data_format="NCHW", *, out=None):
    """Reference ``adaptive_max_pool2d``."""
    return _api.adaptive_max_pool(_Core, 2, x, output_size, return_indices, data_format, out=out)


def adaptive_max_pool3d(x, output_size, return_indices=False, data_format="NCDHW", *, out=None):
    """Reference ``adaptive_max_pool3d``."""
    return _api.adaptive_max_pool(_Core, 3, x, output_size, return_indices, data_format, out=out)


def lp_pool1d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCL",
              *, out=None):
    """Reference ``lp_pool1d``; same contract as :func:`pooling.lp_pool1d`."""
    return _api.lp_pool(_Core, 1, x, norm_type, kernel_size, stride, ceil_mode,
                        data_format, out=out)


def lp_pool1d_backward(grad_output, x, norm_type, kernel_size, stride=None, ceil_mode=False,
                       data_format="NCL", *, out=None):
    """Reference ``lp_pool1d_backward``."""
    return _api.lp_pool_backward(_Core, 1, grad_output, x, norm_type, kernel_size,
                                 stride, ceil_mode, data_format, out=out)


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCHW",
              *, out=None):
    """Reference ``lp_pool2d``; same contract as :func:`pooling.lp_pool2d`."""
    return _api.lp_pool(_Core, 2, x, norm_type, kernel_size, stride, ceil_mode,
                        data_format, out=out)


def lp_pool2d_backward(grad_output, x, norm_type, kernel_size, stride=None, ceil_mode=False,
                       data_format="NCHW", *, out=None):
    """Reference ``lp_pool2d_backward``."""
    return _api.lp_pool_backward(_Core, 2, grad_output, x, norm_type, kernel_size,
                                 stride, ceil_mode, data_format, out=out)


def lp_pool3d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCDHW",
              *, out=None):
    """Reference ``lp_pool3d``; same contract as :func:`pooling.lp_pool3d`."""
    return _api.lp_pool(_Core, 3, x, norm_type, kernel_size, stride, ceil_mode,
                        data_format, out=out)


def lp_pool3d_backward(grad_output, x, norm_type, kernel_size, stride=None, ceil_mode=False,
                       data_format="NCDHW", *, out=None):
    """Reference ``lp_pool3d_backward``."""
    return _api.lp_pool_backward(_Core, 3, grad_output, x, norm_type, kernel_size,
                                 stride, ceil_mode, data_format, out=out)


def fractional_max_pool2d(x, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, random_samples=None, data_format="NCHW", *,
                          rng=None, out=None):
    """Reference ``fractional_max_pool2d``; same contract as
    :func:`pooling.fractional_max_pool2d`."""
    return _fractional.fractional_max_pool(_Core, 2, x, kernel_size, output_size,
                                           output_ratio, return_indices, random_samples,
                                           data_format, rng, out=out)


def fractional_max_pool3d(x, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, random_samples=None, data_format="NCDHW", *,
                          rng=None, out=None):
    """Reference ``fractional_max_pool3d``."""
    return _fractional.fractional_max_pool(_Core, 3, x, kernel_size, output_size,
                                           output_ratio, return_indices, random_samples,
                                           data_format, rng, out=out)


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


class _Core(_AvgCore):
    """The pure-NumPy backend; every array is (N, C, D, H, W), any strides
    (``channels_last``, a layout hint for outputs, is not needed here).
    The average-pooling functions come from _AvgCore.
    ``out``: see pooling._api; the running max and indices are kept in out's
    arrays themselves, whatever their strides."""

    fractional3d = staticmethod(_fractional.fractional3d)

    @staticmethod
    def forward3d(x5, params, out_dhw, indices, channels_last=False, out=None):
        spatial = x5.shape[2:]
        shape = x5.shape[:2] + tuple(out_dhw)
        yo, io = (None, None) if out is None else out
        best = _full(yo, shape, _lowest(x5.dtype), x5.dtype)
        want_indices = indices is not None  # the cache is flat indices too
        # Every element is written below: each window either holds its
        # (non-NaN) max somewhere or holds a NaN.
        idx = (io if io is not None else np.empty(shape, dtype=np.int64)) \
            if want_indices else None
        plans = [[a for a in _axis_plan(n, o, k, s, p, d) if a[0] < a[1]]
                 for n, o, k, s, p, d in zip(spatial, out_dhw, params.kernel_size,
                                             params.stride, params.padding, params.dilation)]
        offsets = list(itertools.product(*plans))  # scan order: depth, rows, columns

        def view(offset):
            """The input elements at one window offset, the outputs they
            reach, and their flat positions (d * H + h) * W + w."""
            into, read, pos = [slice(None)] * 2, [slice(None)] * 2, 0
            for axis, ((o0, o1, i0), s, n) in enumerate(zip(offset, params.stride, spatial)):
                into.append(slice(o0, o1))
                read.append(slice(i0, i0 + (o1 - o0 - 1) * s + 1, s))
                at = np.arange(i0, i0 + (o1 - o0) * s, s)
                pos = pos * n + at.reshape((-1,) + (1,) * (2 - axis))
            return x5[tuple(read)], tuple(into), pos

        # Values: a NaN-propagating running max, in place.  On ties NumPy
        # returns the second operand, the earlier value (only the sign of a
        # tied zero could tell).
        for offset in offsets:
            v, out, _ = view(offset)
            np.maximum(v, best[out], out=best[out])
        if want_indices:
            # The first position holding the max: write matches in reverse
            # scan order so the earliest lands last.  A NaN max matches no
            # value; there the last NaN in scan order wins, as in PyTorch.
            for offset in reversed(offsets):
                v, out, pos = view(offset)
                np.copyto(idx[out], pos, where=v == best[out])
            if x5.dtype.kind == "f" and np.isnan(best).any():
                for offset in offsets:
                    v, out, pos = view(offset)
                    np.copyto(idx[out], pos, where=np.isnan(v))
        return best, idx

    @staticmethod
    def backward3d(g5, idx5, spatial, channels_last=False, out=None):
        planes, size = g5.shape[0] * g5.shape[1], int(np.prod(spatial))
        idx = idx5.reshape(planes, -1)
        bad = int(np.count_nonzero((idx < 0) | (idx >= size)))
        grad = _flat(out, (planes, size), g5.dtype)
        if not bad:
            # ufunc.at adds sequentially in C order: within a plane, output
            # raster order, which is PyTorch's accumulation order.
            np.add.at(grad, (np.arange(planes)[:, None], idx), g5.reshape(planes, -1))
        return _into(out, grad.reshape(g5.shape[:2] + tuple(spatial))), bad

    @staticmethod
    def backward3d_compact(g5, cache5, params, spatial, channels_last=False, out=None):
        return _Core.backward3d(g5, cache5, spatial, out=out)[0]

    @staticmethod
    def adaptive3d(x5, windows, want_indices, channels_last=False, out=None):
        # Loop over offsets within the longest window of each axis; an offset
        # past a window's end is masked out.  PyTorch's rule, in scan order.
        spatial = x5.shape[2:]
        starts = [s for s, _ in windows]
        shape = x5.shape[:2] + tuple(s.size for s in starts)
        yo, io = (None, None) if out is None else out
        best = _full(yo, shape, _lowest(x5.dtype), x5.dtype)
        idx = io if io is not None else np.empty(shape, dtype=np.int64)
        grid = np.ix_(*starts)
        idx[...] = (grid[0] * spatial[1] + grid[1]) * spatial[2] + grid[2]
        spans = [range(int((e - s).max())) for s, e in windows]
        for offset in itertools.product(*spans):
            at = [np.minimum(s + o, n - 1) for (s, _), o, n in zip(windows, offset, spatial)]
            valid = np.ones(best.shape[2:], dtype=bool)
            for axis, ((s, e), o) in enumerate(zip(windows, offset)):
                valid &= np.expand_dims(s + o < e, [a for a in range(3) if a != axis])
            ad, ah, aw = np.ix_(*at)
            v = x5[:, :, ad, ah, aw]
            take = v > best
            if x5.dtype.kind == "f":
                take |= np.isnan(v)
            take &= valid
            np.copyto(best, v, where=take)
            np.copyto(idx, (ad * spatial[1] + ah) * spatial[2] + aw, where=take)
        return best, (idx if want_indices else None)

    @staticmethod
    def unpool3d(x5, idx5, spatial, channels_last=False, out=None):
        planes, size = x5.shape[0] * x5.shape[1], int(np.prod(spatial))
        idx = idx5.reshape(planes, -1)
        bad = int(np.count_nonzero((idx < 0) | (idx >= size)))
        res = _flat(out, (planes * size,), x5.dtype)
        if not bad:
            keys = (idx + (np.arange(planes) * size)[:, None]).ravel()
            # the last write wins: keep each position's last occurrence
            uniq, first_from_end = np.unique(keys[::-1], return_index=True)
            res[uniq] = x5.reshape(-1)[keys.size - 1 - first_from_end]
        return _into(out, res.reshape(x5.shape[:2] + tuple(spatial))), bad


def _full(out, shape, value, dtype):
    """np.full(shape, value, dtype), in ``out`` when given."""
    if out is None:
        return np.full(shape, value, dtype=dtype)
    out[...] = value
    return out


def _flat(out, shape, dtype):
    """Zeros of ``shape``, a C-order reshape of ``out``: out itself (a view)
    where its memory is so, a new array otherwise (_into copies it over)."""
    if out is not None and out.flags.c_contiguous:
        flat = out.reshape(shape)
        flat[...] = 0
        return flat
    return np.zeros(shape, dtype=dtype)


def _into(out, a):
    """``a`` delivered into ``out`` when given: a copy unless a is out's
    memory (from _flat; a new array never shares it)."""
    if out is None:
        return a
    if not np.may_share_memory(a, out):
        out[...] = a
    return out

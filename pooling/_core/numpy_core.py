"""The NumPy core: max pooling with PyTorch's indices, its backward, max
unpooling, adaptive and fractional max pooling on validated (N, C, D, H, W)
arrays (the average-pooling half is pooling._core.numpy_avg).

The obviously-correct twin of the compiled kernels: the fallback backend and,
through ``pooling.reference``, the tests' oracle.  Both directions are
vectorised over the whole array; the only Python loops run over the window
offsets, each of which is one strided view of the input (never an im2col
copy).  Values are a running ``np.maximum`` (NaN-propagating) over those
views; indices are the first window position holding the max (matches
written in reverse scan order, so the earliest lands last), or, where the max
is NaN, the last NaN: PyTorch's scan rule, ``v > best or isnan(v)``.
Temporaries stay the size of the output.  It never imports the extension.
"""
from __future__ import annotations

import itertools

import numpy as np

from .numpy_avg import AvgCore
from .numpy_mode import block_mode3d


def fractional3d(x5, starts, kernel, want_indices, channels_last=False, out=None):
    """Fractional max pooling of x5 over windows ``[start, start + k)`` per
    axis (``starts``: per axis an (N*C, O) int64 array, from
    pooling._fractional, where PyTorch's float arithmetic lives): PyTorch's
    scan, one window offset at a time over all outputs: a candidate
    replaces the running max when it is larger or NaN, which starts at -inf
    and the window's first position."""
    n, c, d, h, w = x5.shape
    planes = n * c
    sd, sh, sw = starts
    sizes = (sd.shape[1], sh.shape[1], sw.shape[1])
    flat = x5.reshape(planes, d * h * w)
    pos0 = ((sd[:, :, None, None] * h + sh[:, None, :, None]) * w + sw[:, None, None, :])
    best = np.full(pos0.shape, -np.inf, dtype=x5.dtype)
    idx = pos0.copy()
    kd, kh, kw = kernel
    for a in range(kd):
        for r in range(kh):
            for t in range(kw):
                pos = pos0 + ((a * h + r) * w + t)
                v = np.take_along_axis(flat, pos.reshape(planes, -1), axis=1)
                v = v.reshape(pos.shape)
                take = (v > best) | np.isnan(v)
                np.copyto(best, v, where=take)
                np.copyto(idx, pos, where=take)
    shape = (n, c) + sizes
    yo, io = (None, None) if out is None else out
    y = best.reshape(shape)
    if yo is not None:
        yo[...] = y
        y = yo
    i5 = idx.reshape(shape) if want_indices else None
    if want_indices and io is not None:
        io[...] = i5
        i5 = io
    return y, i5


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


class NumpyCore(AvgCore):
    """The pure-NumPy core; every array is (N, C, D, H, W), any strides
    (``channels_last``, a layout hint for outputs, is not needed here).
    The average-pooling functions come from AvgCore.
    ``out``: see pooling._core; the running max and indices are kept in
    out's arrays themselves, whatever their strides."""

    fractional3d = staticmethod(fractional3d)
    block_mode3d = staticmethod(block_mode3d)

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
        return NumpyCore.backward3d(g5, cache5, spatial, out=out)[0]

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

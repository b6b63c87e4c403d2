"""The average-pooling half of the NumPy core: average and adaptive average
pooling on validated (N, C, D, H, W) arrays, with PyTorch 2.13's CPU
arithmetic bit for bit (``pooling.reference`` is the front end over it).

What makes the bits PyTorch's:

- Each window is summed sequentially, in (d, h, w) order, from zero, in the
  accumulation type: float32 for float16 and float32, float64 for float64,
  int64 for int64.  np.sum and np.mean add pairwise and would differ; here
  the only Python loop runs over the window offsets, each adding one strided
  view of the input into the running sums of all outputs at once, so every
  output's sum is sequential.
- avg_pool divides once, by the divisor converted to the accumulation type
  (a float32 array divided by an int64 one would promote to float64); int64
  divides in C's way, truncating.  The result goes into the value type and
  is added to zero, as PyTorch's channels-first kernel adds it into a zeroed
  output: an average of -0.0 comes back as +0.0.
- adaptive_avg_pool divides by each window extent in turn: ``sum / kd / kh
  / kw``, in the accumulation type, and assigns (a -0.0 stays).  Except
  that PyTorch's adaptive_avg_pool3d sums and divides float16 in float16,
  rounding every step (its 1-D and 2-D kernels use float32).
- Backwards: ``grad_output / divisor`` (adaptive: ``/ kd / kh / kw``) in
  grad_output's type, float16 through float32 with the divisor rounded to
  float16 first and the quotient rounded back (c10::Half's ``Half / int64``),
  added into a zero gradient in output raster order, every addition rounded
  to the gradient's type.
- NaN: a sum (or gradient) that is NaN keeps its own NaN when another is
  added, as x86 does for ``sum += v``; inf + -inf is the default NaN.
"""
from __future__ import annotations

import itertools
from typing import NamedTuple, Tuple

import numpy as np


class _Tiles(NamedTuple):
    """Adaptive windows that tile the input, as plain pooling windows (the
    attributes of a PoolParams that _axes reads)."""

    kernel_size: Tuple[int, ...]
    stride: Tuple[int, ...]
    padding: Tuple[int, ...]
    dilation: Tuple[int, ...]
    ceil_mode: bool


_F32 = np.dtype(np.float32)


def _acc(dtype: np.dtype) -> np.dtype:
    """PyTorch's opmath type: float16 sums in float32."""
    return _F32 if dtype == np.float16 else dtype


def _truncdiv(a, b):
    """C's integer division (toward zero), where NumPy's // floors."""
    with np.errstate(all="ignore"):
        neg = np.equal(b, -1)
        if np.any(neg):
            # NumPy before 1.25 gives 0 for INT64_MIN // -1; the kernel (and
            # NumPy since) wraps to INT64_MIN, as negation does everywhere.
            if np.ndim(b) == 0:
                return np.negative(a)
            return np.where(neg, np.negative(a), _truncdiv(a, np.where(neg, 1, b)))
        q = np.floor_divide(a, b)
        return q + ((q * b != a) & ((a < 0) != (b < 0)))


def _divide(g, divisor):
    """``g / divisor`` in g's type, as ``scalar_t / int64_t`` in C++."""
    if g.dtype.kind == "i":
        return _truncdiv(g, divisor)
    with np.errstate(all="ignore"):
        if g.dtype == np.float16:  # c10::Half / int64: the divisor becomes a Half first
            d = divisor.astype(_F32).astype(np.float16).astype(_F32)
            return (g.astype(_F32) / d).astype(np.float16)
        return g / divisor.astype(g.dtype)


def _axes(pool, spatial, out_dhw):
    """Per axis: the window offsets' plans (first output, stop output, first
    input position of the outputs an offset lands inside the input for), and
    the window extents clipped to the padded input (pool) and to the input
    (count), per output."""
    plans, pools, counts = [], [], []
    for n, o, k, s, p in zip(spatial, out_dhw, pool.kernel_size, pool.stride, pool.padding):
        plan = []
        for i in range(k):
            shift = i - p  # input position of output j is j*s + shift
            lo = -(shift // s) if shift < 0 else 0
            hi = min(o, (n - 1 - shift) // s + 1)
            if lo < hi:
                plan.append((lo, hi, lo * s + shift))
        plans.append(plan)
        start = np.arange(o, dtype=np.int64) * s - p
        end = np.minimum(start + k, n + p)
        pools.append(end - start)
        counts.append(np.minimum(end, n) - np.maximum(start, 0))
    return plans, pools, counts


def _views(offset, stride):
    """(output slices, input slices) of one window offset."""
    into, read = [slice(None)] * 2, [slice(None)] * 2
    for (o0, o1, i0), s in zip(offset, stride):
        into.append(slice(o0, o1))
        read.append(slice(i0, i0 + (o1 - o0 - 1) * s + 1, s))
    return tuple(into), tuple(read)


def _outer(vectors):
    """The (D, H, W) product of three per-axis int64 vectors."""
    d, h, w = vectors
    return d[:, None, None] * h[None, :, None] * w[None, None, :]


def _divisors(params, spatial, out_dhw):
    plans, pools, counts = _axes(params.pool, spatial, out_dhw)
    if params.divisor_override is not None:
        div = np.full(tuple(out_dhw), params.divisor_override, dtype=np.int64)
    else:
        div = _outer(pools if params.count_include_pad else counts)
    return plans, div


def _accumulate(acc, v, where=True):
    """``acc += v`` in place, as PyTorch's ``sum += v``: a NaN sum stays that
    NaN (x86 returns the first operand's NaN when both are NaN; NumPy's
    loops may pass the operands either way round)."""
    if acc.dtype.kind == "f":
        where = np.logical_and(where, ~np.isnan(acc))
    with np.errstate(invalid="ignore", over="ignore"):
        np.add(acc, v, out=acc, where=where)


def _deliver(out, a):
    if out is None:
        return a
    out[...] = a
    return out


def _extents(windows):
    return [(e - s) for s, e in windows]


def _tiling(windows, spatial):
    """The windows as plain pooling (kernel = stride = n // out, no padding)
    where they tile the input, else None."""
    outs = [s.size for s, _ in windows]
    if any(n % o for n, o in zip(spatial, outs)):
        return None
    k = tuple(n // o for n, o in zip(spatial, outs))
    return _Tiles(k, k, (0, 0, 0), (1, 1, 1), False)


class AvgCore:
    """The average-pooling functions of the pure-NumPy core (see pooling._core
    for the protocol); every array is (N, C, D, H, W), any strides."""

    @staticmethod
    def avg3d(x5, params, out_dhw, channels_last=False, out=None):
        plans, div = _divisors(params, x5.shape[2:], out_dhw)
        total = np.zeros(x5.shape[:2] + tuple(out_dhw), dtype=_acc(x5.dtype))
        for offset in itertools.product(*plans):  # window order: depth, rows, columns
            into, read = _views(offset, params.pool.stride)
            _accumulate(total[into], x5[read])
        if x5.dtype.kind == "i":
            return _deliver(out, _truncdiv(total, div))
        with np.errstate(all="ignore"):
            y = (total / div.astype(total.dtype)).astype(x5.dtype)
        y += 0  # PyTorch adds the average into a zeroed output: -0.0 becomes +0.0
        return _deliver(out, y)

    @staticmethod
    def avg_backward3d(g5, params, spatial, channels_last=False, out=None):
        plans, div = _divisors(params, spatial, g5.shape[2:])
        delta = _divide(g5, div)
        grad = np.zeros(g5.shape[:2] + tuple(spatial), dtype=g5.dtype)
        # For one input position, later outputs reach it at earlier window
        # offsets on every axis: offsets in reverse order add the outputs'
        # shares in output raster order, PyTorch's order.
        for offset in reversed(list(itertools.product(*plans))):
            into, read = _views(offset, params.pool.stride)
            _accumulate(grad[read], delta[into])
        return _deliver(out, grad)

    @staticmethod
    def adaptive_avg3d(x5, windows, nd=2, channels_last=False, out=None):
        # Offsets within the longest window of each axis, masked past a
        # window's end: every output's sum still runs in window order.
        spatial = x5.shape[2:]
        starts = [s for s, _ in windows]
        # PyTorch's 3-D kernel sums float16 in float16 and divides by each
        # extent as c10::Half / int64 does; its 1-D and 2-D one in float32.
        acc = x5.dtype if nd == 3 else _acc(x5.dtype)
        total = np.zeros(x5.shape[:2] + tuple(s.size for s in starts), dtype=acc)
        tiles = _tiling(windows, spatial)
        if tiles is not None:  # strided views, as avg3d: the same order, faster
            for offset in itertools.product(*_axes(tiles, spatial, total.shape[2:])[0]):
                into, read = _views(offset, tiles.stride)
                _accumulate(total[into], x5[read])
        for offset in (() if tiles is not None else
                       itertools.product(*[range(int(k.max())) for k in _extents(windows)])):
            at = [np.minimum(s + o, n - 1) for s, o, n in zip(starts, offset, spatial)]
            valid = np.ones(total.shape[2:], dtype=bool)
            for axis, ((s, e), o) in enumerate(zip(windows, offset)):
                valid &= np.expand_dims(s + o < e, [a for a in range(3) if a != axis])
            _accumulate(total, x5[(slice(None), slice(None)) + np.ix_(*at)], valid)
        kd, kh, kw = _extents(windows)
        y = _divide(_divide(_divide(total, kd[:, None, None]), kh[None, :, None]),
                    kw[None, None, :])
        return _deliver(out, y.astype(x5.dtype))

    @staticmethod
    def adaptive_avg_backward3d(g5, windows, spatial, channels_last=False, out=None):
        kd, kh, kw = _extents(windows)
        delta = _divide(_divide(_divide(g5, kd[:, None, None]), kh[None, :, None]),
                        kw[None, None, :])
        tiles = _tiling(windows, spatial)
        if tiles is not None:  # one addition per input position: strided views
            grad = np.zeros(g5.shape[:2] + tuple(spatial), dtype=g5.dtype)
            for offset in itertools.product(*_axes(tiles, spatial, g5.shape[2:])[0]):
                into, read = _views(offset, tiles.stride)
                _accumulate(grad[read], delta[into])
            return _deliver(out, grad)
        # Every (output, window element) pair, outputs in raster order; then
        # rounds of additions, round r adding each input position's r-th
        # pair (adaptive windows can start at the same place, so no offset
        # order serves).
        pos, ok = [], []
        for axis, ((s, e), n) in enumerate(zip(windows, spatial)):
            k = np.arange(int((e - s).max()))
            shape = [1] * 6
            shape[axis], shape[axis + 3] = s.size, k.size
            pos.append((s[:, None] + k[None, :]).reshape(shape))
            ok.append((k[None, :] < (e - s)[:, None]).reshape(shape))
        flat = (pos[0] * spatial[1] + pos[1]) * spatial[2] + pos[2]
        mask = ok[0] & ok[1] & ok[2]
        src = np.broadcast_to(np.arange(g5[0, 0].size).reshape(g5.shape[2:] + (1,) * 3),
                              mask.shape)[mask]
        at = np.broadcast_to(flat, mask.shape)[mask]
        order = np.argsort(at, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(at.size) - np.searchsorted(at[order], at[order])
        planes = g5.shape[0] * g5.shape[1]
        grad = np.zeros((planes, int(np.prod(spatial))), dtype=g5.dtype)
        delta = delta.reshape(planes, -1)
        for r in range(int(rank.max()) + 1):
            now = rank == r  # positions distinct within a round
            cur = grad[:, at[now]]
            _accumulate(cur, delta[:, src[now]])
            grad[:, at[now]] = cur
        return _deliver(out, grad.reshape(g5.shape[:2] + tuple(spatial)))

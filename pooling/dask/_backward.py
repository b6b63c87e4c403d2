"""The dask forms of the max and average pooling gradients.

The gradient is chunked like the input the forward read: block boundaries
where each grad_output chunk's first window starts.  An input block R takes
every output whose window meets it (its own and those of the previous
block whose windows reach into it: the forward's halo, seen from the other
side) and runs the in-memory backward on them.  PyTorch sums into each
input element in output raster order; the outputs gathered for R are a box
of the output grid, whose raster order is the global one restricted to
it, and the outputs left out add nothing to R: the sums are PyTorch's, bit
for bit.  Outputs gathered but not wanted contribute zeros, which leave a
sum that started at +0.0 unchanged.
"""
from __future__ import annotations

import itertools
from functools import partial

import numpy as np
import dask.array as da
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from .._params import (channels_last, check_avg_backward, check_backward, normalize_avg_args,
                       normalize_pool_args, output_length, spatial_of)
from . import _plan
from ._chunk import in_memory
from ._graph import check_dask, gc_paused, no_out, spatial_axes, stand_in

_MAXB, _AVGB = in_memory("max_pool_backward"), in_memory("avg_pool_backward")


def _place(arrays, where, shape, dtype):
    """Zeros of ``shape`` with the pieces written in (None: one whole chunk)."""
    if where is None:
        return arrays[0]
    box = np.zeros(shape, dtype)
    for a, (src, dst) in zip(arrays, where):
        box[dst] = a[src]
    return box


def _pieces(chunks, bi, sp, ranges, ndim):
    """For output ranges ``ranges[a] = (o_lo, o_hi, at)`` along the spatial
    axes (``at``: where o_lo lands in the box), the chunk keys' indices and
    (src, dst) slices that fill the box."""
    per_axis = []
    for a in range(ndim):
        if a in ranges:
            o_lo, o_hi, at = ranges[a]
            bounds = _plan.cumulative(chunks[a])
            per_axis.append([(i, slice(s0, s1), slice(bounds[i] + s0 - o_lo + at,
                                                      bounds[i] + s1 - o_lo + at))
                             for i, s0, s1 in _plan.pieces(bounds, o_lo, o_hi)])
        else:
            per_axis.append([(bi[a], slice(None), slice(None))])
    out = []
    for combo in itertools.product(*per_axis):
        out.append((tuple(c[0] for c in combo),
                    (tuple(c[1] for c in combo), tuple(c[2] for c in combo))))
    return out


def _is_whole(parts, shape, chunks) -> bool:
    """Whether the box is exactly one whole chunk (no copy needed)."""
    if len(parts) != 1:
        return False
    index, (src, dst) = parts[0]
    for a, (i, s, t) in enumerate(zip(index, src, dst)):
        n = chunks[a][i]
        if s != slice(None) and (s != slice(0, n) or t != slice(0, n) or shape[a] != n):
            return False
        if s == slice(None) and shape[a] != n:
            return False
    return True


def _array(name, layer, deps, chunks, dtype):
    graph = HighLevelGraph.from_collections(name, layer, dependencies=deps)
    return da.Array(graph, name, chunks, meta=np.empty((0,) * len(chunks), dtype=dtype))


def _zeros_task(shape, dtype):
    return np.zeros(shape, dtype)


def _grad_chunks(g, sp, axes):
    chunks = list(g.chunks)
    for a, ax in zip(sp, axes):
        b = _plan.input_bounds(ax, g.chunks[a])
        chunks[a] = tuple(b[i + 1] - b[i] for i in range(len(b) - 1))
    return tuple(chunks)


# -- average pooling --------------------------------------------------------

def _avg_task(arrays, *, where, g_shape, dtype, call, box_shape, keep, r_shape, dst):
    g_box = _place(arrays, where, g_shape, dtype)
    grad = call(g_box, box_shape)
    if dst is None:
        return grad[keep]
    r = np.zeros(r_shape, dtype)
    r[dst] = grad[keep]
    return r


def avg_pool_backward(*args):
    with gc_paused():
        return _avg_pool_backward(*args)


def max_pool_backward(*args):
    with gc_paused():
        return _max_pool_backward(*args)


def _avg_pool_backward(nd, grad_output, input_shape, kernel_size, stride=None, padding=0,
                      ceil_mode=False, count_include_pad=True, divisor_override=None,
                      data_format=None, out=None):
    fn = f"avg_pool{nd}d_backward"
    g = check_dask(grad_output, "grad_output", fn)
    no_out(out, fn)
    params = normalize_avg_args(fn, nd, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override)
    last = channels_last(fn, nd, data_format)
    _, shape = check_avg_backward(stand_in(g), input_shape, params, fn, last)
    pool = params.pool
    ndim = g.ndim
    sp = spatial_axes(ndim, nd, last)
    axes = [_plan.Axis(n, k, s, p, 1, pool.ceil_mode) for n, k, s, p in
            zip(spatial_of(shape, nd, last), pool.kernel_size, pool.stride, pool.padding)]
    chunks = _grad_chunks(g, sp, axes)
    name = f"{fn}-{tokenize(g.name, fn, params, shape, data_format)}"
    layer = {}
    calls = {}
    for bi in itertools.product(*(range(len(c)) for c in chunks)):
        r_shape = tuple(c[i] for c, i in zip(chunks, bi))
        ranges, keep, dst, box_shape, g_shape, pads = {}, [], [], list(r_shape), list(g.shape), []
        empty = False
        for a in range(ndim):
            keep.append(slice(None))
            dst.append(slice(None))
            if a in sp:
                j = sp.index(a)
                ax = axes[j]
                r0 = sum(chunks[a][:bi[a]])
                r1 = r0 + chunks[a][bi[a]]
                o_lo, o_hi = _plan.windows_touching(ax, r0, r1)
                if o_hi <= o_lo:
                    empty = True
                    break
                b = _plan.block(ax, o_lo, o_hi, "avg")
                ranges[a] = (o_lo, o_hi, b.skip)
                g_shape[a] = output_length(b.local_n, ax.k, ax.s, b.pad, 1, ax.ceil)
                box_shape[a] = b.local_n
                c0, c1 = max(b.lo, r0), min(b.hi, r1)
                keep[a] = slice(c0 - b.lo, c1 - b.lo)
                dst[a] = slice(c0 - r0, c1 - r0)
                pads.append(b.pad)
            else:
                g_shape[a] = g.chunks[a][bi[a]]
        key = (name,) + bi
        if empty:
            layer[key] = (partial(_zeros_task, r_shape, g.dtype),)
            continue
        pads = tuple(pads)
        if pads not in calls:
            calls[pads] = partial(_avg_call, _AVGB[nd], pool.kernel_size, pool.stride, pads,
                                  pool.ceil_mode, params.count_include_pad,
                                  params.divisor_override, data_format)
        parts = _pieces(g.chunks, bi, sp, ranges, ndim)
        keys = [(g.name,) + i for i, _ in parts]
        where = [w for _, w in parts]
        whole_chunk = _is_whole(parts, g_shape, g.chunks)
        covers = all(dst[a] == slice(0, r_shape[a]) or a not in sp for a in range(ndim))
        layer[key] = (partial(_avg_task, where=None if whole_chunk else where,
                              g_shape=tuple(g_shape), dtype=g.dtype, call=calls[pads],
                              box_shape=tuple(box_shape), keep=tuple(keep),
                              r_shape=r_shape, dst=None if covers else tuple(dst)), keys)
    return _array(name, layer, [g], chunks, g.dtype)


def _avg_call(fn, k, s, pads, ceil, cip, div, data_format, g_box, box_shape):
    return fn(g_box, box_shape, k, s, pads, ceil, cip, div, data_format)


# -- max pooling ------------------------------------------------------------

def _max_task(arrays, *, n_g, where, g_shape, dtype, call, r_shape, r0, o_lo, axes, whole,
              sp, fn):
    g = _place(arrays[:n_g], where, g_shape, dtype)
    idx = _place(arrays[n_g:], where, g_shape, np.int64)
    vol = int(np.prod(whole))
    bad = (idx < 0) | (idx >= vol)
    if bad.any():
        raise ValueError(f"pooling.dask.{fn}: indices must lie in [0, {vol}) for an input "
                         f"plane of size {tuple(whole)}, but got index "
                         f"{int(idx[bad].ravel()[0])}")
    rem = idx.astype(np.int64, copy=True)
    inside = np.ones(idx.shape, dtype=bool)
    local = np.zeros(idx.shape, dtype=np.int64)
    mult = 1
    for j in reversed(range(len(sp))):
        c = rem % whole[j]
        rem //= whole[j]
        ax = axes[j]
        # Every index must lie in its own window, or the blocks that
        # gather its output would not be the ones it scatters into.
        o = np.arange(g_shape[sp[j]]).reshape([-1 if a == sp[j] else 1
                                               for a in range(idx.ndim)]) + o_lo[j]
        off = c - (o * ax.s - ax.p)
        out_of_window = (off < 0) | (off >= ax.K) | (off % ax.d != 0)
        if out_of_window.any():
            raise ValueError(f"pooling.dask.{fn}: an index does not lie in its output's "
                             f"pooling window (index {int(idx[out_of_window].ravel()[0])}): "
                             f"the dask form needs the indices the forward returned")
        c -= r0[j]
        inside &= (c >= 0) & (c < r_shape[sp[j]])
        local += c * mult
        mult *= r_shape[sp[j]]
    g_loc = np.where(inside, g, g.dtype.type(0))
    local[~inside] = 0
    return call(g_loc, local, r_shape)


def _max_pool_backward(nd, grad_output, indices, input_shape, data_format=None, out=None,
                      kernel_size=None, stride=None, padding=0, dilation=1):
    fn = f"max_pool{nd}d_backward"
    g = check_dask(grad_output, "grad_output", fn)
    idx = check_dask(indices, "indices", fn)
    no_out(out, fn)
    last = channels_last(fn, nd, data_format)
    _, _, shape = check_backward(stand_in(g), stand_in(idx), input_shape, nd, fn, last)
    if kernel_size is None:
        windows = getattr(indices, "_pooling_windows", None)
        if windows is None or windows[0] != nd or windows[2] != last:
            raise TypeError(
                f"pooling.dask.{fn}: the dask form needs the pooling windows: pass the "
                f"indices array pooling.dask.max_pool{nd}d returned (which carries them), "
                f"or kernel_size= (and stride=, padding=, dilation=) as given to the "
                f"forward")
        params = windows[1]
    else:
        params = normalize_pool_args(fn, nd, kernel_size, stride, padding, dilation, False)
    spatial = spatial_of(shape, nd, last)
    out_spatial = spatial_of(g.shape, nd, last)
    axes = []
    for n, o, k, s, p, d in zip(spatial, out_spatial, params.kernel_size, params.stride,
                                params.padding, params.dilation):
        ax = next((_plan.Axis(n, k, s, p, d, c) for c in (False, True)
                   if _plan.Axis(n, k, s, p, d, c).out == o), None)
        if ax is None:
            raise ValueError(f"pooling.dask.{fn}: grad_output of shape {g.shape} is not the "
                             f"output of pooling an input of shape {shape} with "
                             f"kernel_size={params.kernel_size}, stride={params.stride}, "
                             f"padding={params.padding}, dilation={params.dilation}")
        axes.append(ax)
    if idx.chunks != g.chunks:
        idx = idx.rechunk(g.chunks)
    ndim = g.ndim
    sp = spatial_axes(ndim, nd, last)
    chunks = _grad_chunks(g, sp, axes)
    name = f"{fn}-{tokenize(g.name, idx.name, fn, params, shape, data_format)}"
    call = partial(_max_call, _MAXB[nd], data_format)
    layer = {}
    for bi in itertools.product(*(range(len(c)) for c in chunks)):
        r_shape = tuple(c[i] for c, i in zip(chunks, bi))
        ranges, g_shape, r0, o_lo = {}, list(g.shape), [], []
        empty = False
        for a in range(ndim):
            if a in sp:
                ax = axes[sp.index(a)]
                lo = sum(chunks[a][:bi[a]])
                lo_o, hi_o = _plan.windows_touching(ax, lo, lo + r_shape[a])
                if hi_o <= lo_o:
                    empty = True
                    break
                ranges[a] = (lo_o, hi_o, 0)
                g_shape[a] = hi_o - lo_o
                r0.append(lo)
                o_lo.append(lo_o)
            else:
                g_shape[a] = g.chunks[a][bi[a]]
        key = (name,) + bi
        if empty:
            layer[key] = (partial(_zeros_task, r_shape, g.dtype),)
            continue
        parts = _pieces(g.chunks, bi, sp, ranges, ndim)
        where = [w for _, w in parts]
        whole_chunk = _is_whole(parts, g_shape, g.chunks)
        keys = [(g.name,) + i for i, _ in parts] + [(idx.name,) + i for i, _ in parts]
        layer[key] = (partial(_max_task, n_g=len(parts), where=None if whole_chunk else where,
                              g_shape=tuple(g_shape), dtype=g.dtype, call=call,
                              r_shape=r_shape, r0=tuple(r0), o_lo=tuple(o_lo),
                              axes=tuple(axes), whole=spatial, sp=sp, fn=fn), keys)
    return _array(name, layer, [g, idx], chunks, g.dtype)


def _max_call(fn, data_format, g, idx, r_shape):
    return fn(g, idx, r_shape, data_format)

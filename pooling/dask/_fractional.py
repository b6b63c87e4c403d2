"""Fractional max pooling over dask arrays.

The windows sit at pseudo-random starts, one sequence per (n, c) plane,
computed once at graph construction from the samples (drawn then, as the
in-memory call draws them, when not given): small arrays, (planes,
outputs) per axis.  An output block reads, along each axis, from the
smallest start of its first output over its planes to the largest end of
its last; the compiled core's fractional kernel then runs on that box with
the block's starts shifted into it, so every window is the whole-array
call's.
"""
from __future__ import annotations

import itertools
import operator
from functools import partial

import numpy as np
import dask.array as da
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from .._core import backend as _backend
from .._api import _lift, core_op
from .._fractional import all_starts, prepare
from . import _plan
from ._chunk import with_task_threads
from ._graph import (_assemble, _gather, _globalize, check_dask, gc_paused, no_out,
                     spatial_axes, stand_in)


def _task(arrays, *, where, shape, dtype, starts, k3, want_idx, nd, last, local, lo, whole):
    box = _assemble(arrays, where, shape, dtype, None)
    lift = _lift(box, nd, last)
    y5, i5 = with_task_threads(core_op(_backend.core(), "fractional3d"), lift.to_core(box),
                               starts, k3, want_idx, last)
    y = lift.from_core(y5)
    if not want_idx:
        return y
    return y, _globalize(lift.from_core(i5), local, lo, whole)


def fractional_max_pool(*args):
    with gc_paused():
        return _fractional_max_pool(*args)


def _fractional_max_pool(nd, x, kernel_size, output_size=None, output_ratio=None,
                        return_indices=False, random_samples=None, data_format=None,
                        rng=None, out=None):
    fn = f"fractional_max_pool{nd}d"
    x = check_dask(x, "input", fn)
    no_out(out, fn)
    _, lift, k, sizes, shape, u = prepare(fn, nd, stand_in(x), kernel_size, output_size,
                                          output_ratio, random_samples, data_format, rng)
    last = lift.last
    want_idx = bool(return_indices)
    ndim = x.ndim
    sp = spatial_axes(ndim, nd, last)
    spatial = tuple(x.shape[a] for a in sp)
    if x.size == 0 or min(sizes) == 0:
        y = da.zeros(shape, dtype=x.dtype)
        return (y, da.zeros(shape, dtype=np.int64)) if want_idx else y
    starts = all_starts(nd, u, spatial, sizes, k)[3 - nd:]  # per spatial axis
    channels = x.shape[-1] if last else x.shape[-nd - 1]
    c_axis = ndim - 1 if last else ndim - nd - 1
    out_chunks = list(x.chunks)
    out_bounds = {}
    for j, a in enumerate(sp):
        n, o = spatial[j], sizes[j]
        b, c = {0, o}, 0
        for length in x.chunks[a][:-1]:
            c += length
            b.add(min(o, max(0, round(c * o / n))))
        out_bounds[a] = sorted(b)
        out_chunks[a] = tuple(q - p for p, q in zip(out_bounds[a], out_bounds[a][1:]))
    in_bounds = {a: _plan.cumulative(x.chunks[a]) for a in sp}
    plane_index = np.arange(u.shape[0] * channels).reshape(u.shape[0], channels)
    token = tokenize(x.name, fn, k, sizes, u, want_idx, data_format)
    pair = f"{fn}-pair-{token}" if want_idx else f"{fn}-{token}"
    layer = {}
    k3 = (1,) * (3 - nd) + k
    for bi in itertools.product(*(range(len(c)) for c in out_chunks)):
        # The block's planes n * C + c, in the order its (n, c) axes give.
        cb = _plan.cumulative(x.chunks[c_axis])
        cs = slice(cb[bi[c_axis]], cb[bi[c_axis] + 1])
        if lift.batched:
            nb = _plan.cumulative(x.chunks[0])
            rows = plane_index[nb[bi[0]]:nb[bi[0] + 1], cs].ravel()
        else:
            rows = plane_index[0, cs]
        blocks, block_starts = {}, []
        for j, a in enumerate(sp):
            o0, o1 = out_bounds[a][bi[a]], out_bounds[a][bi[a] + 1]
            s = starts[j][rows, o0:o1]
            lo = int(s[:, 0].min()) if s.size else 0
            hi = int(s[:, -1].max()) + k[j] if s.size else lo
            blocks[a] = _plan.Block(lo, hi, 0, 0, o1 - o0)
            block_starts.append(np.ascontiguousarray(s - lo))
        if nd == 2:
            block_starts.insert(0, np.zeros((rows.size, 1), dtype=np.int64))
        keys, where, bshape = _gather(x, bi, blocks, in_bounds)
        task = partial(_task, where=where, shape=bshape, dtype=x.dtype,
                       starts=tuple(block_starts), k3=k3, want_idx=want_idx, nd=nd,
                       last=last, local=tuple(blocks[a].local_n for a in sp),
                       lo=tuple(blocks[a].lo for a in sp), whole=spatial)
        layer[(pair,) + bi] = (task, keys)
    chunks = tuple(out_chunks)
    base = HighLevelGraph.from_collections(pair, layer, dependencies=[x])
    if not want_idx:
        return da.Array(base, pair, chunks, meta=np.empty((0,) * ndim, dtype=x.dtype))
    arrays = []
    for i, (label, dt) in enumerate((("values", x.dtype), ("indices", np.int64))):
        nm = f"{fn}-{label}-{token}"
        sub = {(nm,) + key[1:]: (operator.getitem, key, i) for key in layer}
        graph = HighLevelGraph({**base.layers, nm: sub}, {**base.dependencies, nm: {pair}})
        arrays.append(da.Array(graph, nm, chunks, meta=np.empty((0,) * ndim, dtype=dt)))
    return tuple(arrays)


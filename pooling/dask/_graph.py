"""Graph construction: one task per output block, reading the input chunks
its slice covers (``_plan``), assembling them into one array only when the
slice spans several chunks, and calling the in-memory function on it.

Every check runs here, at graph-construction time, through the in-memory
functions' own checks (``pooling._params``) applied to a zero-stride
stand-in of the dask array's shape and dtype: a call is refused by the
dask form exactly when, and with the message with which, the in-memory
function would refuse the computed array.
"""
from __future__ import annotations

import contextlib
import gc
import itertools
import math
import operator
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import dask.array as da
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from . import _plan


def check_dask(x, name: str, fn: str):
    """``x`` as a dask array with known chunks and native byte order."""
    if not isinstance(x, da.Array):
        raise TypeError(f"pooling.dask.{fn}: {name} must be a dask.array.Array, but got "
                        f"{name} of type {type(x).__module__}.{type(x).__qualname__}; "
                        f"pooling.{fn} pools in-memory arrays")
    if any(isinstance(c, float) and math.isnan(c) for cs in x.chunks for c in cs):
        raise ValueError(f"pooling.dask.{fn}: {name} has unknown chunk sizes (chunks="
                         f"{x.chunks}); expected known sizes: call "
                         f"{name}.compute_chunk_sizes() first")
    if not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    return x


def no_out(out, fn: str) -> None:
    if out is not None:
        raise TypeError(f"pooling.dask.{fn}: out must be None for dask arrays (a lazy "
                        f"result has no preallocated output), but got out of type "
                        f"{type(out).__name__}; store the result with dask instead, "
                        f"e.g. da.store or to_zarr")


def stand_in(x) -> np.ndarray:
    """A zero-stride array of ``x``'s shape and dtype (no memory), for the
    in-memory checks."""
    return np.lib.stride_tricks.as_strided(np.zeros(1, x.dtype), shape=x.shape,
                                           strides=(0,) * x.ndim)


def spatial_axes(ndim: int, nd: int, last: bool) -> list[int]:
    return list(range(ndim - nd - 1, ndim - 1)) if last else list(range(ndim - nd, ndim))


def identity(dtype: np.dtype):
    """The identity of max over ``dtype``."""
    if dtype.kind == "f":
        return dtype.type(-np.inf)
    return np.iinfo(dtype).min


@contextlib.contextmanager
def gc_paused():
    """Build a graph without the cyclic collector: its many small tuples
    make it scan the growing graph again and again (two thirds of the
    time for a few thousand blocks) though they hold no cycles."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# -- tasks ------------------------------------------------------------------

def _assemble(arrays, where, shape, dtype, fill):
    """The block's input: one chunk's slice as a view when it is all of it,
    else the pieces copied into one array (``fill`` where none lands)."""
    if where is None:
        return arrays[0]
    if len(where) == 1 and fill is None:
        return arrays[0][where[0][0]]
    box = np.empty(shape, dtype) if fill is None else np.full(shape, fill, dtype)
    for a, (src, dst) in zip(arrays, where):
        box[dst] = a[src]
    return box


def _globalize(idx, local, lo, whole):
    """Flat indices in the block's spatial box (sizes ``local``, origin
    ``lo``) as flat indices in the whole input's (sizes ``whole``)."""
    if tuple(local) == tuple(whole) and not any(lo):
        return idx
    rem = idx.copy() if idx.base is not None else idx
    out = np.zeros_like(idx)
    mult = 1
    for b, o, w in zip(reversed(local), reversed(lo), reversed(whole)):
        c = rem % b
        rem //= b
        c += o
        c *= mult
        out += c
        mult *= w
    return out


class Sub(NamedTuple):
    """One in-memory call of a block: ``n`` input chunks, assembled as
    ``where`` says into ``shape``; outputs ``out_sl`` of the call land at
    ``dst`` in the block's output."""

    n: int
    where: Any
    shape: tuple
    call: Any
    out_sl: tuple
    dst: tuple
    local: tuple
    lo: tuple
    fill: Any


def _run(sub, arrays, dtype, want_idx, whole):
    res = sub.call(_assemble(arrays, sub.where, sub.shape, dtype, sub.fill))
    if not want_idx:
        return res[sub.out_sl], None
    y, idx = res
    return y[sub.out_sl], _globalize(idx[sub.out_sl], sub.local, sub.lo, whole)


def forward_task(arrays, *, subs, out_shape, dtype, want_idx, whole):
    if len(subs) == 1:
        y, idx = _run(subs[0], arrays, dtype, want_idx, whole)
        return (y, idx) if want_idx else y
    y = np.empty(out_shape, dtype)
    idx = np.empty(out_shape, np.int64) if want_idx else None
    i = 0
    for sub in subs:
        ys, ids = _run(sub, arrays[i:i + sub.n], dtype, want_idx, whole)
        i += sub.n
        y[sub.dst] = ys
        if want_idx:
            idx[sub.dst] = ids
    return (y, idx) if want_idx else y


# -- graphs -----------------------------------------------------------------

def build_forward(fn: str, x, nd: int, last: bool, axes, kind: str, make_call,
                  want_idx: bool, fill, out_dtype, token_args):
    """The dask array(s) of pooling ``x`` (user layout): ``axes`` the
    spatial axes' ``_plan.Axis``; ``make_call(pads)`` the in-memory call
    for a block with per-axis padding ``pads``."""
    with gc_paused():
        return _build_forward(fn, x, nd, last, axes, kind, make_call, want_idx, fill,
                              out_dtype, token_args)


def _build_forward(fn, x, nd, last, axes, kind, make_call, want_idx, fill, out_dtype,
                   token_args):
    ndim = x.ndim
    sp = spatial_axes(ndim, nd, last)
    in_bounds = {a: _plan.cumulative(x.chunks[a]) for a in sp}
    splits = {}
    out_chunks = list(x.chunks)
    for ax, a in zip(axes, sp):
        b = _plan.output_bounds(ax, x.chunks[a])
        splits[a] = [_plan.split(ax, b[i], b[i + 1], kind, in_bounds[a])
                     for i in range(len(b) - 1)]
        out_chunks[a] = tuple(b[i + 1] - b[i] for i in range(len(b) - 1))
    whole = tuple(ax.n for ax in axes)
    token = tokenize(x.name, fn, kind, want_idx, token_args)
    name = f"{fn}-{token}"
    pair = f"{fn}-pair-{token}" if want_idx else name
    layer: dict[Any, Any] = {}
    calls: dict[tuple, Any] = {}
    cache: dict[tuple, Any] = {}
    for bi in itertools.product(*(range(len(c)) for c in out_chunks)):
        subs, keys = [], []
        for combo in itertools.product(*(splits[a][bi[a]] for a in sp)):
            blocks = dict(zip(sp, (c[2] for c in combo)))
            k, where, shape = _gather(x, bi, blocks, in_bounds, cache)
            blk = [blocks[a] for a in sp]
            pads = tuple(b.pad for b in blk)
            if pads not in calls:
                calls[pads] = make_call(pads)
            out_sl = [slice(None)] * ndim
            dst = [slice(None)] * ndim
            o0 = {a: splits[a][bi[a]][0][0] for a in sp}
            for a, b, (s0, s1, _) in zip(sp, blk, combo):
                out_sl[a] = slice(b.skip, b.skip + b.count)
                dst[a] = slice(s0 - o0[a], s1 - o0[a])
            subs.append(Sub(len(k), where, shape, calls[pads], tuple(out_sl), tuple(dst),
                            tuple(b.local_n for b in blk), tuple(b.lo for b in blk),
                            fill if any(b.extra for b in blk) else None))
            keys += k
        out_shape = tuple(c[i] for c, i in zip(out_chunks, bi))
        task = partial(forward_task, subs=tuple(subs), out_shape=out_shape, dtype=x.dtype,
                       want_idx=want_idx, whole=whole)
        layer[(pair,) + bi] = (task, keys)
    meta = np.empty((0,) * ndim, dtype=out_dtype)
    chunks = tuple(out_chunks)
    if not want_idx:
        graph = HighLevelGraph.from_collections(name, layer, dependencies=[x])
        return da.Array(graph, name, chunks, meta=meta)
    base = HighLevelGraph.from_collections(pair, layer, dependencies=[x])
    arrays = []
    for i, (label, dt) in enumerate((("values", out_dtype), ("indices", np.int64))):
        nm = f"{fn}-{label}-{token}"
        sub: dict[Any, Any] = {(nm,) + k[1:]: (operator.getitem, k, i) for k in layer}
        graph = HighLevelGraph({**base.layers, nm: sub},
                               {**base.dependencies, nm: {pair}})
        arrays.append(da.Array(graph, nm, chunks, meta=np.empty((0,) * ndim, dtype=dt)))
    return tuple(arrays)


def _gather(x, bi, blocks, in_bounds, cache=None):
    """Keys of the input chunks output block ``bi`` reads, where each piece
    lands in the block's input (None: the whole of one chunk), and that
    input's shape.  ``cache``: a dict keeping each axis's pieces for the
    next block that reads the same stretch."""
    per_axis = []
    shape = []
    whole = True  # every axis one piece that is its chunk
    chunks = x.chunks  # (dask's shape and ndim are recomputed on each access)
    for a in range(len(chunks)):
        if a in blocks:
            b = blocks[a]
            key = (a, b.lo, b.hi, b.extra)
            got = None if cache is None else cache.get(key)
            if got is None:
                bounds = in_bounds[a]
                ps = [(i, slice(s0, s1), slice(bounds[i] + s0 - b.lo, bounds[i] + s1 - b.lo))
                      for i, s0, s1 in _plan.pieces(bounds, b.lo, b.hi)]
                one = (len(ps) == 1 and b.extra == 0 and ps[0][1].start == 0
                       and ps[0][1].stop == chunks[a][ps[0][0]] == b.local_n)
                got = (ps, one)
                if cache is not None:
                    cache[key] = got
            per_axis.append(got[0])
            whole = whole and got[1]
            shape.append(b.local_n)
        else:
            per_axis.append([(bi[a], slice(None), slice(None))])
            shape.append(chunks[a][bi[a]])
    name = x.name
    if whole:
        return [(name,) + tuple(p[0][0] for p in per_axis)], None, tuple(shape)
    keys, where = [], []
    for combo in itertools.product(*per_axis):
        keys.append((name,) + tuple(c[0] for c in combo))
        where.append((tuple(c[1] for c in combo), tuple(c[2] for c in combo)))
    return keys, where, tuple(shape)

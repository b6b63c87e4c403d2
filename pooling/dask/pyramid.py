"""``pooling.dask.pyramid``: the levels of a multiscale pyramid of a 2-D image
or 3-D volume, lazily over dask, optionally written to a Zarr store.

Every level is the previous level pooled by ``factors`` with windows equal to
the strides (``pooling.dask.max_pool2d/3d`` or ``avg_pool2d/3d``, no padding,
``ceil_mode=True``), so each level equals the in-memory function applied to
the previous level, bit for bit, whatever the chunking.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["pyramid"]

_FN = "pyramid"


def pyramid(image: Any, factors: Union[int, Sequence[int]] = 2, levels: Optional[int] = None,
            reduction: str = "max", store: Any = None,
            chunks: Union[None, int, Sequence[int]] = None, *, copy_input: bool = True,
            overwrite: bool = False, zarr_kwargs: Optional[dict] = None,
            progress: Optional[Callable[[int, Any], None]] = None) -> List[Any]:
    """The levels of a multiscale pyramid of ``image``, level 0 first.

    image
        A 2-D (Y, X) or 3-D (Z, Y, X) array: a ``dask.array.Array``, a NumPy
        array or anything ``dask.array.from_array`` takes (a ``zarr.Array``).
        No batch or channel axes.  Integer dtypes (label volumes), float16,
        float32, float64; bool with ``reduction="max"`` only.
    factors
        The reduction factor per axis, the same at every level: an int for
        every axis, or one int >= 1 per axis (``(1, 2, 2)`` keeps Z).  At least
        one must be > 1.
    levels
        How many levels to return, level 0 (the input) included.  ``None``:
        a further level is made while every reduced axis (factor > 1) still
        has at least ``factor`` elements, i.e. until a side would drop below
        one.  An axis shorter than its factor (only when ``levels`` asks for
        more) is reduced to one element.
    reduction
        ``"max"``: the maximum of each window; integer labels stay exact (each
        value is one of the window's values), a max over negative data is
        right at the edges.  ``"mean"``: the mean of each window; float inputs
        keep their dtype (the in-memory ``avg_pool`` in that dtype); integer
        inputs are averaged in float64 and rounded to the nearest integer
        (half to even), so every level keeps the input's dtype (exact while
        the window sums stay below 2**53).  Each level is made from the
        previous, stored level, rounding included.
    store
        ``None``: nothing is written; the levels are lazy dask arrays.  A
        path, ``zarr`` store or group: each level is written with
        ``dask.array.to_zarr`` as the array ``"0"``, ``"1"``, ... of one group,
        level by level (each level reads the previous one back from the store,
        so nothing is recomputed and no level is ever held in memory), and
        the group gets OME-Zarr-like ``multiscales`` metadata (``"ome"``
        attribute, version 0.5, for a Zarr v3 group; top-level
        ``"multiscales"``, version 0.4, for a v2 group).  The returned levels
        then read the store (``dask.array.from_zarr``).
    chunks
        The chunk shape of every level (an int or one per axis; clipped to
        each level's shape), also the Zarr chunks.  ``None``: the input's
        chunk shape (its largest chunk per axis), or dask's ``"auto"`` for a
        NumPy input.
    copy_input
        With ``store``: write level 0 (a copy of the input) as ``"0"`` too.
        ``False`` writes the levels from ``"1"`` on and returns the input
        (rechunked to ``chunks``) as level 0.
    overwrite
        With ``store``: replace arrays of those names already in it.
    zarr_kwargs
        With ``store``: more arguments for each array's creation
        (``zarr.Group.create_array``), e.g. ``{"compressors": None}``.
    progress
        With ``store``: called as ``progress(i, level)`` before level ``i`` is
        written (``level`` the lazy dask array), and as ``progress(n, None)``
        once all ``n`` levels are; ``python -m pooling.dask pyramid`` prints
        a line per level and dask's progress bar with it.

    Edges the factor does not divide: the last window along an axis covers
    what is left (``ceil_mode=True``), so every input element counts: the max
    over the partial window, the mean over its real elements only (no
    padding enters a mean).  A side of n elements gives ceil(n / factor).

    Returns the list of levels as dask arrays, shapes decreasing.  Uses the
    current dask scheduler (a ``distributed.Client`` when one is active).
    Raises ValueError or TypeError for bad arguments before any task runs.

    Examples
    --------
    >>> labels = da.from_array(np.arange(35).reshape(5, 7), chunks=3)
    >>> levels = pooling.dask.pyramid(labels, 2, reduction="max")
    >>> [lv.shape for lv in levels]
    [(5, 7), (3, 4), (2, 2), (1, 1)]
    >>> levels[-1].compute().tolist()
    [[34]]
    """
    import dask.array as da

    if isinstance(image, da.Array):
        x = image
    else:
        if not hasattr(image, "shape") or not hasattr(image, "dtype"):
            image = np.asarray(image)
        if image.ndim not in (2, 3):
            raise ValueError(f"{_FN}: image must be 2-D (Y, X) or 3-D (Z, Y, X), but got "
                             f"shape {tuple(image.shape)}")
        x = da.from_array(image, chunks="auto" if chunks is None else
                          _per_axis(chunks, image.ndim, "chunks"))
    nd = x.ndim
    if nd not in (2, 3):
        raise ValueError(f"{_FN}: image must be 2-D (Y, X) or 3-D (Z, Y, X), but got shape "
                         f"{tuple(x.shape)}")
    if any(np.isnan(n) for n in x.shape) or any(np.isnan(c) for cs in x.chunks for c in cs):
        raise ValueError(f"{_FN}: image has unknown chunk sizes {x.chunks}; expected known "
                         "chunks (call compute_chunk_sizes() first)")
    f = _per_axis(factors, nd, "factors")
    if max(f) < 2:
        raise ValueError(f"{_FN}: factors must have at least one factor > 1, but got {factors!r}")
    if reduction not in ("max", "mean"):
        raise ValueError(f"{_FN}: reduction must be 'max' or 'mean', but got {reduction!r}")
    dtype = np.dtype(x.dtype)
    ok = dtype.kind in "iu" or dtype in (np.float16, np.float32, np.float64) or (
        dtype == np.bool_ and reduction == "max")
    if not ok:
        raise TypeError(f"{_FN}: image has unsupported dtype {dtype} for reduction "
                        f"{reduction!r}; expected an integer, float16, float32 or float64 dtype"
                        + (" (or bool)" if reduction == "max" else ""))
    if levels is not None and not (_is_int(levels) and levels >= 1):
        raise ValueError(f"{_FN}: levels must be None or an int >= 1, but got {levels!r}")
    target = (tuple(max(c) for c in x.chunks) if chunks is None
              else _per_axis(chunks, nd, "chunks"))

    steps = _steps(tuple(x.shape), f, levels)
    root = None
    if store is not None:
        import zarr
        root = store if isinstance(store, zarr.Group) else zarr.open_group(store, mode="a")
        held = [str(i) for i in range(0 if copy_input else 1, len(steps) + 1) if str(i) in root]
        if held and not overwrite:
            raise ValueError(f"{_FN}: the store already holds {', '.join(map(repr, held))}; "
                             "pass overwrite=True to replace them")
    out = [_rechunk(x, target)]
    if root is not None and copy_input:
        if progress is not None:
            progress(0, out[0])
        out[0] = _write(out[0], root, "0", overwrite, zarr_kwargs)
    level = out[0]
    for k in steps:
        level = _rechunk(_reduce(level, k, reduction), target)
        if root is not None:
            if progress is not None:
                progress(len(out), level)
            level = _write(level, root, str(len(out)), overwrite, zarr_kwargs)
        out.append(level)
    if root is not None:
        _multiscales(root, nd, steps, reduction, copy_input)
        if progress is not None:
            progress(len(out), None)
    return out


def _is_int(a: Any) -> bool:
    return isinstance(a, numbers.Integral) and not isinstance(a, bool)


def _per_axis(v, nd, name) -> Tuple[int, ...]:
    t: Any = (v,) * nd if _is_int(v) else v
    try:
        t = tuple(t)
    except TypeError:
        t = None
    if (t is None or len(t) != nd
            or not all(_is_int(a) and a >= 1 for a in t)):
        raise ValueError(f"{_FN}: {name} must be an int >= 1 or {nd} of them (one per axis), "
                         f"but got {v!r}")
    return tuple(int(a) for a in t)


def _steps(shape, f, levels) -> List[Tuple[int, ...]]:
    """The window (== stride) of each level after the first: the factor,
    clipped to the side it pools."""
    steps: List[Tuple[int, ...]] = []
    while levels is None or len(steps) + 1 < levels:
        if levels is None and any(fi > 1 and n < fi for n, fi in zip(shape, f)):
            break
        k = tuple(min(fi, n) for n, fi in zip(shape, f))
        steps.append(k)
        shape = tuple(-(-n // ki) for n, ki in zip(shape, k))
    return steps


def _reduce(x, k, reduction):
    import dask.array as da

    from ._forward import avg_pool, max_pool

    nd = x.ndim
    dtype = x.dtype
    x = x[(None, None)]
    if reduction == "max":
        if dtype == np.bool_:
            return max_pool(nd, x.astype(np.uint8), k, k, ceil_mode=True)[0, 0].astype(np.bool_)
        return max_pool(nd, x, k, k, ceil_mode=True)[0, 0]
    if dtype.kind == "f":
        return avg_pool(nd, x, k, k, ceil_mode=True, count_include_pad=False)[0, 0]
    y = avg_pool(nd, x.astype(np.float64), k, k, ceil_mode=True, count_include_pad=False)[0, 0]
    return da.map_blocks(_round_to, y, dtype=dtype, target=dtype)


def _round_to(block, target):
    return np.rint(block).astype(target)


def _rechunk(x, target):
    c = tuple(min(t, n) for t, n in zip(target, x.shape))
    return x if all(set(cs[:-1]) <= {ci} and cs[-1] <= ci for cs, ci in zip(x.chunks, c)) \
        else x.rechunk(c)


def _write(x, root, name, overwrite, zarr_kwargs):
    import dask.array as da

    # dask's to_zarr creates the array with the dask chunks (regular, as
    # _rechunk made them) and writes each block into its own Zarr chunks
    # without a lock; mode "a" leaves the group's other arrays alone.
    path = f"{root.path}/{name}" if root.path else name
    kw = dict(zarr_kwargs or {}, overwrite=True) if overwrite else dict(zarr_kwargs or {})
    da.to_zarr(x, root.store, component=path, mode="a", **kw)
    arr = root[name]
    return da.from_zarr(arr)


def _multiscales(root, nd, steps, reduction, copy_input):
    axes = [{"name": a, "type": "space"} for a in ("zyx"[3 - nd:])]
    scale = [1] * nd
    datasets = []
    for i in range(len(steps) + 1):
        if i:
            scale = [s * k for s, k in zip(scale, steps[i - 1])]
        if i or copy_input:
            datasets.append({"path": str(i), "coordinateTransformations": [
                {"type": "scale", "scale": [float(s) for s in scale]}]})
    ms = {"axes": axes, "datasets": datasets, "type": reduction,
          "metadata": {"method": f"pooling.dask.pyramid (reduction={reduction!r}, "
                                 "ceil_mode=True)"}}
    if getattr(getattr(root, "metadata", None), "zarr_format", 2) == 3:
        root.attrs["ome"] = {"version": "0.5", "multiscales": [ms]}
    else:
        root.attrs["multiscales"] = [dict(ms, version="0.4")]

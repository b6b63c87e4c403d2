"""``pooling.dask.pyramid``: the levels of a multiscale pyramid of an image
(2 or 3 space axes, optionally after time and channel axes), lazily over
dask, optionally written to a Zarr store as an OME-Zarr image.

Every level is the previous level pooled by ``factors`` with windows equal to
the strides (``pooling.dask.max_pool2d/3d`` or ``avg_pool2d/3d``, no padding,
``ceil_mode=True``; time and channel axes lifted into the batch), so each
level equals the in-memory function applied to the previous level, bit for
bit, whatever the chunking.
"""
from __future__ import annotations

import numbers
import os
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["pyramid"]

_FN = "pyramid"
_REDUCTIONS = ("max", "mean", "mode", "nearest")


def pyramid(image: Any, factors: Union[int, Sequence[int]] = 2, levels: Optional[int] = None,
            reduction: str = "max", store: Any = None,
            chunks: Union[None, int, Sequence[int]] = None, *, axes: Any = None,
            scale: Any = None, units: Any = None, translation: Any = None,
            copy_input: bool = True, overwrite: bool = False, resume: bool = False,
            shards: Union[None, int, Sequence[int]] = None,
            zarr_format: Optional[int] = None, zarr_kwargs: Optional[dict] = None,
            progress: Optional[Callable[[int, Any], None]] = None) -> List[Any]:
    """The levels of a multiscale pyramid of ``image``, level 0 first.

    image
        An array whose axes ``axes`` names: a ``dask.array.Array``, a NumPy
        array or anything ``dask.array.from_array`` takes (a ``zarr.Array``);
        or an OME-Zarr image (a ``zarr.Group`` with multiscales metadata),
        whose first dataset is read with its axes, voxel size, units and
        translation (the arguments of those names then override them).
        Integer dtypes (label volumes), float16, float32, float64; bool with
        ``reduction="max"`` only.
    factors
        The reduction factor per axis, the same at every level: an int for
        every space axis (time and channel axes keep their size), or one
        int >= 1 per axis (``(1, 2, 2)`` keeps Z; 1 on time and channel
        axes).  At least one must be > 1.
    levels
        How many levels to return, level 0 (the input) included.  ``None``:
        a further level is made while every reduced axis (factor > 1) still
        has at least ``factor`` elements, i.e. until a side would drop below
        one.  An axis shorter than its factor (only when ``levels`` asks for
        more) is reduced to one element.
    reduction
        ``"mode"``: the most frequent value of each window, ties to the
        smallest (integer and bool images): the choice for labels, whose
        objects keep their sizes level after level (max favours high ids);
        ``"nearest"``: each window's first element (subsampling, as
        ome-zarr-py's nearest).  ``"max"``: the maximum of each window; integer labels stay exact (each
        value is one of the window's values), a max over negative data is
        right at the edges.  ``"mean"``: the mean of each window, summed in
        float64 (the in-memory ``avg_pool`` of the level in float64) and
        rounded once to the input's dtype: float inputs get the block mean
        correctly rounded (up to float64's rounding of the sum), integer
        inputs the nearest integer (half to even; exact while the window
        sums stay below 2**53, clipped to the dtype's range beyond), so
        every level keeps the input's dtype.  Each level is made from the
        previous, stored level, rounding included.
    store
        ``None``: nothing is written; the levels are lazy dask arrays.  A
        path, ``zarr`` store or group: each level is written with
        ``dask.array.to_zarr`` as the array ``"0"``, ``"1"``, ... of one group,
        level by level (each level reads the previous one back from the store,
        so nothing is recomputed and no level is ever held in memory), and
        the group gets OME-Zarr ``multiscales`` metadata (``"ome"``
        attribute, version 0.5, for a Zarr v3 group, whose arrays name
        their dimensions; top-level ``"multiscales"``, version 0.4, for a
        v2 group, whose chunk keys use "/").  The returned levels
        then read the store (``dask.array.from_zarr``).
    chunks
        The chunk shape of every level (an int or one per axis; clipped to
        each level's shape), also the Zarr chunks.  ``None``: the input's
        chunk shape (its largest chunk per axis), or dask's ``"auto"`` for a
        NumPy input.
    axes
        The image's axes as OME-Zarr names them: a string of letters or a
        sequence of names, 2 or 3 space axes (``z``, ``y``, ``x`` or other
        names) after at most one time axis ``t`` and one channel axis ``c``,
        in that order (``"tczyx"``, ``"cyx"``).  ``None``: ``"yx"`` or
        ``"zyx"`` (2-D and 3-D images only).
    scale, units, translation
        Level 0's voxel size per axis (a number for every axis or one per
        axis; 1.0), the axes' units (a string for the space axes, or one
        string or None per axis: OME-Zarr's names, "micrometer", "second")
        and the position of its first voxel's centre (0.0).  Written to the
        metadata: each level's scale is level 0's times the factors so far,
        and its translation moves by (factor - 1) / 2 level-0 voxels, where
        the centre of a block of level-0 voxels lies.
    copy_input
        With ``store``: write level 0 (a copy of the input) as ``"0"`` too.
        ``False`` writes the levels from ``"1"`` on and returns the input
        (rechunked to ``chunks``) as level 0.
    overwrite
        With ``store``: replace a pyramid (or any arrays "0", "1", ...) or an
        OME-Zarr image already in the group; numbered arrays beyond the new
        levels are deleted, so no stale level remains.
    resume
        With ``store``: finish the pyramid an earlier run with the same
        arguments left incomplete (killed, or failed), reusing the levels it
        completed.
    shards
        With ``store`` (Zarr v3): the shard shape of every level (an int or
        one per axis, multiples of ``chunks``): each Zarr file then holds a
        shard of chunks, and each dask block is one shard, so that no two
        tasks write into the same file.
    zarr_format
        With ``store`` as a path: 2 or 3, the Zarr format of a new group
        (OME-Zarr 0.4 or 0.5); ``None``: zarr-python's default (3 with
        zarr-python 3).  An existing group keeps its own format.
    zarr_kwargs
        With ``store``: more arguments for each array's creation
        (``zarr.Group.create_array``), e.g. ``{"compressors": None}``.
    progress
        With ``store``: called as ``progress(i, level)`` before level ``i`` is
        written (``level`` the lazy dask array), and as ``progress(n, None)``
        once all ``n`` levels are; ``python -m pooling.dask pyramid`` prints
        a line per level and dask's progress bar with it.

    Writing is safe for the input and for readers.  A store whose levels
    would overwrite, delete or contain the input's Zarr array (the input
    read from the same group, ``--component 0`` rebuilt in place) is refused
    before anything is written; an input elsewhere in the output group (such
    as ``"0"`` with ``copy_input=False``) is read, never touched.  While the
    levels are written the group holds no ``multiscales`` metadata, only a
    ``"pooling"`` attribute naming the levels completed so far, and the
    metadata naming every level is written last: a store killed at any
    moment reads as no pyramid, never as a pyramid with partial levels, and
    a rerun says what is incomplete (``resume=True`` finishes it).

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

    from . import _axes

    ome = None
    if _is_group(image):
        first = _axes.multiscale(image.attrs)["datasets"][0]["path"]
        ome, dataset = _axes.from_ome(image.attrs, image[first].ndim)
        image = image[dataset]
    if isinstance(image, da.Array):
        x = image
    else:
        if not hasattr(image, "shape") or not hasattr(image, "dtype"):
            image = np.asarray(image)
        x = da.from_array(image, chunks="auto" if chunks is None else
                          _per_axis(chunks, image.ndim, "chunks"))
    nd = x.ndim
    if not 2 <= nd <= 5:
        raise ValueError(f"{_FN}: image must have 2 to 5 dimensions (2 or 3 space axes after "
                         f"optional time and channel axes), but got shape {tuple(x.shape)}")
    if ome is not None:
        ax = _axes.make_axes(nd, ome.names if axes is None else axes,
                             ome.scale if scale is None else scale, None,
                             ome.translation if translation is None else translation)
        ax.units = ome.units if units is None else _axes.make_axes(nd, ax.names,
                                                                    units=units).units
    else:
        ax = _axes.make_axes(nd, axes, scale, units, translation)
    if any(np.isnan(n) for n in x.shape) or any(np.isnan(c) for cs in x.chunks for c in cs):
        raise ValueError(f"{_FN}: image has unknown chunk sizes {x.chunks}; expected known "
                         "chunks (call compute_chunk_sizes() first)")
    if _is_int(factors) and int(factors) >= 1:   # type: ignore[arg-type]
        f = tuple(int(factors) if i in ax.space else 1  # type: ignore[arg-type]
                  for i in range(nd))
    else:
        f = _per_axis(factors, nd, "factors")
    if max(f) < 2:
        raise ValueError(f"{_FN}: factors must have at least one factor > 1, but got {factors!r}")
    moved = [ax.names[i] for i in range(nd) if i not in ax.space and f[i] != 1]
    if moved:
        raise ValueError(f"{_FN}: factors must be 1 on the time and channel axes "
                         f"({', '.join(moved)}), but got {factors!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{_FN}: reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, "
                         f"but got {reduction!r}")
    dtype = np.dtype(x.dtype)
    if reduction == "mode":
        ok = dtype.kind in "iub"
        expected = "an integer or bool dtype (labels)"
    else:
        ok = dtype.kind in "iu" or dtype in (np.float16, np.float32, np.float64) or (
            dtype == np.bool_ and reduction != "mean")
        expected = "an integer, float16, float32 or float64 dtype" + (
            " (or bool)" if reduction != "mean" else "")
    if not ok:
        raise TypeError(f"{_FN}: image has unsupported dtype {dtype} for reduction "
                        f"{reduction!r}; expected {expected}")
    if levels is not None and not (_is_int(levels) and levels >= 1):
        raise ValueError(f"{_FN}: levels must be None or an int >= 1, but got {levels!r}")
    target = (tuple(max(c) for c in x.chunks) if chunks is None
              else _per_axis(chunks, nd, "chunks"))
    shard: Optional[Tuple[int, ...]] = None
    if shards is not None:
        shard = _per_axis(shards, nd, "shards")
        if store is None or any(s % c for s, c in zip(shard, target)):
            raise ValueError(f"{_FN}: shards must be multiples of the chunks {target} and "
                             f"need a store, but got shards={shards!r}")
    blocks = target if shard is None else shard   # (what one dask task writes)

    steps = _steps(tuple(x.shape), f, levels)
    root = None
    done: List[str] = []
    if store is not None:
        root, done, zero = _open_store(x, store, len(steps), copy_input, overwrite, resume,
                                       zarr_format,
                                       dict(factors=list(f), reduction=reduction,
                                            levels=len(steps) + 1, shape=list(x.shape),
                                            dtype=str(dtype), chunks=list(target),
                                            shards=shard and list(shard),
                                            copy_input=copy_input))
    if shard is not None and _zarr_format(root) != 3:
        raise ValueError(f"{_FN}: shards need a Zarr v3 store, but the store is Zarr v2")
    out = [_rechunk(x, blocks, target)]
    if root is not None and copy_input:
        out[0] = _level(root, "0", out[0], done, progress, 0, ax, target, shard, zarr_kwargs)
    level = out[0]
    for k in steps:
        level = _rechunk(_reduce(level, k, reduction, ax), blocks, target)
        if root is not None:
            level = _level(root, str(len(out)), level, done, progress, len(out), ax, target,
                           shard, zarr_kwargs)
        out.append(level)
    if root is not None:
        _drop_stale(root, len(out))
        _multiscales(root, ax, steps, reduction, copy_input or zero)
        if progress is not None:
            progress(len(out), None)
    return out


def _open_store(x, store, n_steps, copy_input, overwrite, resume, zarr_format, plan):
    """The output group, after every check (nothing written before them), the
    levels an earlier run completed that this one reuses (``resume``), and
    whether the input is the group's own array "0" (then level 0 in place)."""
    import zarr

    from . import _stores

    names = [str(i) for i in range(0 if copy_input else 1, n_steps + 2)]
    if isinstance(store, zarr.Group):
        target = _stores.of_node(store)
    elif isinstance(store, (str, os.PathLike)):
        target = _stores.of_path(store)
    else:
        target = _stores.of_store(store)
    sources = _stores.zarr_sources(x)
    for src in sources:
        _refuse_overlap(src, target, names, overwrite)
    zero = sources == [(target[0], target[1] + ("0",))]
    if zarr_format not in (None, 2, 3):
        raise ValueError(f"{_FN}: zarr_format must be None, 2 or 3, but got {zarr_format!r}")
    if isinstance(store, zarr.Group):
        root = store
    elif zarr_format is None:
        root = zarr.open_group(store, mode="a")
    elif _ZARR_MAJOR >= 3:
        root = zarr.open_group(store, mode="a", zarr_format=zarr_format)
    elif zarr_format == 2:
        root = zarr.open_group(store, mode="a")
    else:
        raise ValueError(f"{_FN}: zarr_format=3 needs zarr-python 3 (installed: "
                         f"{zarr.__version__})")
    state = root.attrs.get("pooling")
    record = state.get("pyramid") if isinstance(state, dict) else None
    if isinstance(record, dict) and record.get("state") == "incomplete":
        done = list(record.get("complete", []))
        if resume and not overwrite:
            if record.get("plan") != plan:
                raise ValueError(
                    f"{_FN}: cannot resume: the store's incomplete pyramid was made with "
                    f"{record.get('plan')}, not {plan}; pass overwrite=True to start again")
            return root, done, zero
        if not overwrite:
            raise ValueError(
                f"{_FN}: the store holds an incomplete pyramid (an earlier run stopped with "
                f"levels {done or 'none'} of {record.get('plan', {}).get('levels', '?')} "
                "complete); pass resume=True to finish it or overwrite=True to start again")
    elif resume:
        raise ValueError(f"{_FN}: resume=True but the store holds no incomplete pyramid")
    if not overwrite:
        held = [n for n in names if n in root]
        if held:
            raise ValueError(f"{_FN}: the store already holds {', '.join(map(repr, held))}; "
                             "pass overwrite=True to replace them")
        if "ome" in root.attrs or "multiscales" in root.attrs:
            raise ValueError(f"{_FN}: the store is already an OME-Zarr image (it has "
                             "multiscales metadata); pass overwrite=True to replace it")
    # From here on the group reads as no pyramid until the last level is in.
    for key in ("ome", "multiscales"):
        if key in root.attrs:
            del root.attrs[key]
    _record(root, [], plan)
    return root, [], zero


def _refuse_overlap(src, target, names, overwrite):
    """Refuse a store that would write over, delete or sit inside the input
    array at ``src`` (a location, see _stores)."""
    if src[0] != target[0]:
        return
    a, g = src[1], target[1]
    from ._stores import describe
    where = describe(src)
    if a[:len(g)] == g:
        if len(a) == len(g):
            raise ValueError(f"{_FN}: the store is the input array itself ({where}); write the "
                             "pyramid to another group")
        name = a[len(g)]
        stale = overwrite and name.isdigit() and int(name) > int(names[-1])
        if name in names or stale:
            raise ValueError(
                f"{_FN}: the store's array {name!r} is the input ({where}): writing the "
                "pyramid there would destroy the input; write it to another group, or keep the "
                "input as level 0 (copy_input=False, --no-copy-input)")
    elif g[:len(a)] == a:
        raise ValueError(f"{_FN}: the store lies inside the input array ({where}); write the "
                         "pyramid to another group")


def _record(root, complete, plan):
    root.attrs["pooling"] = {"pyramid": {"state": "incomplete", "complete": list(complete),
                                         "plan": plan}}


def _level(root, name, level, done, progress, i, ax, chunks, shard, zarr_kwargs):
    """Level ``name`` written (or, when an earlier run completed it, read
    back), then recorded as complete."""
    import dask.array as da

    if name in done:
        return da.from_zarr(root[name])
    if progress is not None:
        progress(i, level)
    level = _write(level, root, name, ax, chunks, shard, zarr_kwargs)
    done.append(name)
    _record(root, done, root.attrs["pooling"]["pyramid"]["plan"])
    return level


def _drop_stale(root, n):
    """Delete numbered arrays beyond the n levels (an earlier, deeper pyramid)."""
    for name in list(root.array_keys()):
        if name.isdigit() and int(name) >= n:
            del root[name]


def _is_group(a: Any) -> bool:
    try:
        import zarr
    except ImportError:
        return False
    return isinstance(a, zarr.Group)


def _zarr_major() -> int:
    try:
        import zarr
    except ImportError:
        return 0
    return int(zarr.__version__.split(".")[0])


_ZARR_MAJOR = _zarr_major()


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


def _reduce(x, k, reduction, ax):
    """The next level: x pooled by windows k (one per axis), its time and
    channel axes (factor 1) the pooling's batch and channels."""
    import dask.array as da

    from ._forward import avg_pool, max_pool

    nd = len(ax.space)
    lead = ax.lead
    dtype = x.dtype
    x = x[(None,) * (2 - lead)]
    k = tuple(k[lead:])
    drop = (0,) * (2 - lead)
    if reduction == "nearest":
        # each block's first element: the subsampling ome-zarr-py calls nearest
        return x[(slice(None),) * 2 + tuple(slice(None, None, ki) for ki in k)][drop]
    if reduction == "mode":
        return _block_mode(x, k)[drop]
    if reduction == "max":
        if dtype == np.bool_:
            return max_pool(nd, x.astype(np.uint8), k, k, ceil_mode=True)[drop].astype(np.bool_)
        return max_pool(nd, x, k, k, ceil_mode=True)[drop]
    # Means sum in float64 and round once to the dtype: each value the block
    # mean correctly rounded (up to float64's own rounding of the sum), where
    # summing in float32 would round at every addition.
    y = avg_pool(nd, x.astype(np.float64), k, k, ceil_mode=True, count_include_pad=False)[drop]
    if dtype.kind == "f":
        return y.astype(dtype)
    return da.map_blocks(_round_to, y, dtype=dtype, target=dtype)


def _block_mode(x, k):
    """The most frequent value of each k-block of an (N, C, *space) dask
    array: chunks cut at multiples of k along the space axes (the last chunk
    takes the rest), then the compiled block mode on each chunk."""
    import dask.array as da

    chunks = list(x.chunks[:2])
    for cs, ki in zip(x.chunks[2:], k):
        n = sum(cs)
        size = max(ki, max(cs) // ki * ki)
        chunks.append(tuple(min(size, n - i) for i in range(0, n, size)))
    x = x.rechunk(tuple(chunks))
    out_chunks = x.chunks[:2] + tuple(tuple(-(-c // ki) for c in cs)
                                      for cs, ki in zip(x.chunks[2:], k))
    return da.map_blocks(_mode_chunk, x, k=tuple(k), chunks=out_chunks, dtype=x.dtype)


def _mode_chunk(block, k):
    from .. import _api
    from .._core import backend
    from ._chunk import with_task_threads

    nd = len(k)
    pad = 3 - nd
    x5 = block.reshape(block.shape[:2] + (1,) * pad + block.shape[2:])
    k3 = (1,) * pad + tuple(k)
    out = tuple(-(-n // ki) for n, ki in zip(x5.shape[2:], k3))
    if block.size == 0:
        return np.empty(block.shape[:2] + out[pad:], block.dtype)
    y = with_task_threads(_api.core_op(backend.core(), "block_mode3d"), x5, k3, out)
    return y.reshape(block.shape[:2] + out[pad:])


def _round_to(block, target):
    # (clipped: a mean never leaves the dtype's range, but float64 rounds
    # int64's and uint64's largest values up past it, which would wrap)
    info = np.iinfo(target)
    r = np.rint(block)
    over = r >= 2.0 ** (info.bits - (info.min < 0))   # (float(info.max) may round up)
    out = np.clip(np.where(over, 0, r), info.min, info.max).astype(target)
    out[over] = info.max
    return out


def _rechunk(x, blocks, chunks):
    """x in dask blocks of ``_level_blocks`` (the last along an axis what is
    left): each block whole Zarr chunks, or one shard."""
    c = tuple(max(1, min(b, n)) for b, n in zip(_level_blocks(x.shape, blocks, chunks),
                                                  x.shape))
    return x if all(set(cs[:-1]) <= {ci} and cs[-1] <= ci for cs, ci in zip(x.chunks, c)) \
        else x.rechunk(c)


def _level_blocks(shape, blocks, chunks):
    """Per axis, the block (chunk, or shard) of a level of ``shape``: the
    chunk clipped to the side, the shard to whole clipped chunks covering it."""
    out = []
    for b, ci, n in zip(blocks, chunks, shape):
        cl = max(1, min(ci, n))
        out.append(max(1, min(b, -(-n // cl) * cl)))
    return tuple(out)


def _write(x, root, name, ax, chunks, shard, zarr_kwargs):
    """Level ``name``: a new array of x's shape and dtype, Zarr chunks
    ``chunks`` (and shards ``shard``), clipped to the shape (replacing an
    array of that name), x stored into it block by block (each block whole
    Zarr chunks or shards: no lock), read back as a dask array."""
    import dask.array as da

    kw = dict(zarr_kwargs or {})
    if shard is not None:
        kw["shards"] = _level_blocks(x.shape, shard, chunks)
    chunks = tuple(max(1, min(c, n)) for c, n in zip(chunks, x.shape))
    if name in root:
        del root[name]
    if _ZARR_MAJOR >= 3:
        if _zarr_format(root) == 3:
            # OME-Zarr 0.5: each array names its axes as the metadata does
            kw.setdefault("dimension_names", list(ax.names))
        else:
            # OME-Zarr 0.4: chunk keys with "/"
            kw.setdefault("chunk_key_encoding", {"name": "v2", "separator": "/"})
        arr = root.create_array(name, shape=x.shape, chunks=chunks, dtype=x.dtype, **kw)
    else:
        kw.setdefault("dimension_separator", "/")
        arr = root.create_dataset(name, shape=x.shape, chunks=chunks, dtype=x.dtype, **kw)
    da.store(x, arr, lock=False)
    return da.from_zarr(arr)


def _zarr_format(root) -> int:
    return getattr(getattr(root, "metadata", None), "zarr_format", 2)


def _multiscales(root, ax, steps, reduction, copy_input):
    total = [1] * len(ax.names)
    datasets = []
    for i in range(len(steps) + 1):
        if i:
            total = [t * k for t, k in zip(total, steps[i - 1])]
        if i or copy_input:
            sc, tr = ax.level(total)
            transforms = [{"type": "scale", "scale": sc}]
            if any(tr):
                transforms.append({"type": "translation", "translation": tr})
            datasets.append({"path": str(i), "coordinateTransformations": transforms})
    ms = {"axes": ax.ome(), "datasets": datasets, "type": reduction,
          "metadata": {"method": f"pooling.dask.pyramid (reduction={reduction!r}, "
                                 "ceil_mode=True)"}}
    # one write: the multiscales metadata appears as the record goes
    attrs = dict(root.attrs)
    attrs.pop("pooling", None)
    # a mode pyramid is a label image (OME-Zarr's image-label metadata)
    label = {"image-label": {}} if reduction == "mode" else {}
    if _zarr_format(root) == 3:
        attrs["ome"] = {"version": "0.5", "multiscales": [ms], **label}
    else:
        attrs["multiscales"] = [dict(ms, version="0.4")]
        attrs.update({k: dict(v, version="0.4") for k, v in label.items()})
    root.attrs.put(attrs)

"""Named axes, voxel sizes and units of a pyramid (OME-Zarr's ``axes``,
``scale`` and ``translation``), checked once for ``pyramid``."""
from __future__ import annotations

import numbers
from typing import Any, List, Optional, Sequence, Tuple

_FN = "pyramid"
_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}


class Axes:
    """The image's axes: names, OME types, voxel size and units, and the
    level-0 translation."""

    def __init__(self, names: Tuple[str, ...], scale: Tuple[float, ...],
                 units: Tuple[Optional[str], ...], translation: Tuple[float, ...]):
        self.names, self.scale, self.units, self.translation = names, scale, units, translation
        self.types = tuple(_TYPES.get(n, "space") for n in names)
        self.space = tuple(i for i, t in enumerate(self.types) if t == "space")

    @property
    def lead(self) -> int:
        """Axes before the space axes (time, channel): lifted into the batch."""
        return len(self.names) - len(self.space)

    def ome(self) -> List[dict]:
        out = []
        for n, t, u in zip(self.names, self.types, self.units):
            a = {"name": n, "type": t}
            if u is not None:
                a["unit"] = u
            out.append(a)
        return out

    def level(self, total: Sequence[int]) -> Tuple[List[float], List[float]]:
        """(scale, translation) of a level pooled by ``total`` per axis from
        level 0: voxels ``total`` times larger, whose centres lie
        (total - 1) / 2 level-0 voxels further on."""
        scale = [float(s * f) for s, f in zip(self.scale, total)]
        shift = [float(t + (f - 1) * s / 2)
                 for t, s, f in zip(self.translation, self.scale, total)]
        return scale, shift


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def make_axes(ndim: int, axes: Any = None, scale: Any = None, units: Any = None,
              translation: Any = None) -> Axes:
    """Axes for an ndim-dimensional image from pyramid's arguments."""
    if axes is None:
        if ndim not in (2, 3):
            raise ValueError(f"{_FN}: a {ndim}-D image needs axes naming its dimensions (such "
                             f"as {'tczyx'[5 - ndim:]!r}); only 2-D (yx) and 3-D (zyx) images "
                             "have default axes")
        names: Tuple[str, ...] = tuple("zyx"[3 - ndim:])
    else:
        names = tuple(axes) if not isinstance(axes, str) else tuple(axes)
        if not all(isinstance(n, str) and n for n in names):
            raise ValueError(f"{_FN}: axes must be a string of axis letters (such as 'tczyx') "
                             f"or a sequence of names, but got {axes!r}")
        names = tuple(n.lower() if len(n) == 1 else n for n in names)
    _check_names(names, ndim, axes)
    ax = Axes(names, (1.0,) * ndim, (None,) * ndim, (0.0,) * ndim)
    if scale is not None:
        ax.scale = _floats(scale, ndim, "scale", positive=True)
    if translation is not None:
        ax.translation = _floats(translation, ndim, "translation", positive=False)
    if units is not None:
        ax.units = _units(units, ax)
    return ax


def _check_names(names, ndim, given) -> None:
    if len(names) != ndim:
        raise ValueError(f"{_FN}: axes {given!r} names {len(names)} axes but the image has "
                         f"{ndim} dimensions")
    if len(set(names)) != len(names):
        raise ValueError(f"{_FN}: axes must be distinct, but got {given!r}")
    types = [_TYPES.get(n, "space") for n in names]
    n_space = types.count("space")
    # OME-Zarr: 2 to 5 axes, 2 or 3 of space, time first, then channel, then space
    order = {"time": 0, "channel": 1, "space": 2}
    if not (2 <= ndim <= 5 and n_space in (2, 3) and types.count("time") <= 1
            and types.count("channel") <= 1
            and [order[t] for t in types] == sorted(order[t] for t in types)):
        raise ValueError(f"{_FN}: axes must be 2 or 3 space axes (z, y, x or other names) after "
                         f"at most one time axis 't' and one channel axis 'c', in that order "
                         f"(OME-Zarr), but got {given!r}")


def _floats(v, ndim, name, positive) -> Tuple[float, ...]:
    t = (v,) * ndim if _is_number(v) else v
    try:
        t = tuple(t)
    except TypeError:
        t = None
    if (t is None or len(t) != ndim or not all(_is_number(a) for a in t)
            or not all(float(a) == float(a) and abs(float(a)) != float("inf") for a in t)
            or (positive and not all(a > 0 for a in t))):
        what = "positive numbers" if positive else "finite numbers"
        raise ValueError(f"{_FN}: {name} must be a number or {ndim} {what} (one per axis), "
                         f"but got {v!r}")
    return tuple(float(a) for a in t)


def _units(units, ax: Axes) -> Tuple[Optional[str], ...]:
    ndim = len(ax.names)
    if isinstance(units, str):   # one unit for the space axes
        return tuple(units if t == "space" else None for t in ax.types)
    try:
        t = tuple(units)
    except TypeError:
        t = None
    if t is None or len(t) != ndim or not all(u is None or isinstance(u, str) for u in t):
        raise ValueError(f"{_FN}: units must be a string (the space axes' unit) or {ndim} "
                         f"strings or None (one per axis), but got {units!r}")
    bad = [(n, u) for n, ty, u in zip(ax.names, ax.types, t) if u is not None and ty == "channel"]
    if bad:
        raise ValueError(f"{_FN}: the channel axis has no unit, but got units {units!r}")
    return t


def multiscale(attrs: Any) -> dict:
    """An OME-Zarr image group's first multiscale (0.4 or 0.5 attributes)."""
    ms_list = attrs.get("ome", {}).get("multiscales") if "ome" in attrs else \
        attrs.get("multiscales")
    if not ms_list:
        raise ValueError(f"{_FN}: the input group has no OME-Zarr multiscales metadata; "
                         "name the array (component) to read")
    return ms_list[0]


def from_ome(attrs: Any, ndim: int) -> Tuple[Axes, str]:
    """The axes, scale, units and translation of an OME-Zarr image's first
    dataset, and that dataset's path, from the group's attributes (0.4 or 0.5)."""
    ms = multiscale(attrs)
    axes = ms.get("axes") or [{"name": n} for n in "tczyx"[5 - ndim:]]
    names = tuple(a["name"] if isinstance(a, dict) else a for a in axes)
    units = tuple(a.get("unit") if isinstance(a, dict) else None for a in axes)
    ds = ms["datasets"][0]
    scale, shift = [1.0] * ndim, [0.0] * ndim
    for transforms in (ds.get("coordinateTransformations", []),
                       ms.get("coordinateTransformations", [])):
        s_here, t_here = [1.0] * ndim, [0.0] * ndim
        for tr in transforms:
            if tr.get("type") == "scale":
                s_here = [float(v) for v in tr["scale"]]
            elif tr.get("type") == "translation":
                t_here = [float(v) for v in tr["translation"]]
        # (applied in turn: the dataset's, then the multiscale's)
        scale = [a * b for a, b in zip(scale, s_here)]
        shift = [a * b + c for a, b, c in zip(shift, s_here, t_here)]
    ax = make_axes(ndim, names, scale, None, shift)
    ax.units = tuple(u if t != "channel" else None for u, t in zip(units, ax.types))
    return ax, ds["path"]

"""Argument normalisation, validation and output-shape arithmetic.

Every backend (the Cython kernels, the NumPy reference, the layers) goes through
this module, so a given call is accepted or refused, and sized, identically
everywhere.  Messages follow PyTorch's wording where it has one, and always
name the argument, the value received and what was expected.
"""
from __future__ import annotations

import functools
import operator
import sys
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

# PyTorch refuses sizes above INT_MAX ("integer out of range"); so do we, which
# also keeps every product in the kernels' index arithmetic inside int64.
_INT_MAX = 2**31 - 1
_WORDS = {1: "one int", 2: "two ints", 3: "three ints"}

# dtype kinds the kernels serve: signed and unsigned integers, and floats up to
# 64 bits (float16 is computed exactly through float32).
_FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
SUPPORTED_DTYPES_TEXT = (
    "float16, float32, float64, int8, int16, int32, int64, "
    "uint8, uint16, uint32 or uint64"
)


@dataclass(frozen=True)
class PoolParams:
    """Normalised pooling arguments, one entry per spatial dimension."""

    kernel_size: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    ceil_mode: bool

    @property
    def ndim(self) -> int:
        return len(self.kernel_size)

    def output_size(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(
            output_length(n, k, s, p, d, self.ceil_mode)
            for n, k, s, p, d in zip(
                spatial, self.kernel_size, self.stride, self.padding, self.dilation
            )
        )


def output_length(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooling_output_shape: floor or ceil division, and with ceil_mode
    the last window must start inside the input or the left padding."""
    numerator = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = numerator // s + 1  # Python floors, as PyTorch's div_rtn does
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _as_int(value, name: str, fn: str, nd: int) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{fn}: {name} must be an int or a tuple of {_WORDS[nd]}, "
            f"but got {name}={value!r} (bool)"
        )
    try:
        out = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{fn}: {name} must be an int or a tuple of {_WORDS[nd]}, "
            f"but got {name}={value!r} ({type(value).__name__})"
        ) from None
    if abs(out) > _INT_MAX:
        raise ValueError(
            f"{fn}: {name} is out of range: got {name}={value!r}, "
            f"expected at most {_INT_MAX} in absolute value"
        )
    return out


def _ntuple(value, name: str, fn: str, nd: int, omitted: bool = False) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            value = value[0]
        elif len(value) != nd:
            either = "either be omitted, a single int" if omitted else "either be a single int"
            raise ValueError(
                f"{fn}: {name} must {either}, or a tuple of {_WORDS[nd]}, "
                f"but got {name}={tuple(value)!r}"
            )
        else:
            return tuple(_as_int(v, name, fn, nd) for v in value)
    return (_as_int(value, name, fn, nd),) * nd


def normalize_pool_args(
    fn: str, nd: int, kernel_size, stride, padding, dilation, ceil_mode
) -> PoolParams:
    """Check the pooling arguments on their own (no input needed)."""
    args = (kernel_size, stride, padding, dilation)
    if all(map(_plain, args)) and type(ceil_mode) is bool:
        # Only exact ints are cached: 2.0 and True hash like 2, and must
        # still be refused.
        return _normalize_cached(fn, nd, *args, ceil_mode)
    return _normalize(fn, nd, *args, ceil_mode)


def _plain(v) -> bool:
    return v is None or type(v) is int or (
        type(v) is tuple and all(type(i) is int for i in v))


@functools.lru_cache(maxsize=256)
def _normalize_cached(fn, nd, kernel_size, stride, padding, dilation, ceil_mode):
    return _normalize(fn, nd, kernel_size, stride, padding, dilation, ceil_mode)


def _normalize(fn, nd, kernel_size, stride, padding, dilation, ceil_mode) -> PoolParams:
    k, s, p = _parse_window(fn, nd, kernel_size, stride_or_kernel(stride, kernel_size),
                            padding)
    d = _ntuple(dilation, "dilation", fn, nd)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"{fn}: ceil_mode must be a bool, but got ceil_mode={ceil_mode!r}")
    _check_window(fn, k, s, p, d)
    # PyTorch's max_pool checks pad <= kernel_size // 2 (the stricter of its two
    # pad checks; the other uses the dilated kernel).  It also guarantees that
    # every window reaches at least one position >= 0.
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(
            f"{fn}: pad should be smaller than or equal to half of kernel size, "
            f"but got padding={_show(p)}, kernel_size={_show(k)}"
        )
    return PoolParams(k, s, p, d, bool(ceil_mode))


@dataclass(frozen=True)
class AvgPoolParams:
    """Normalised average-pooling arguments: the windows (``pool``, dilation
    1) and how each window's sum is divided."""

    pool: PoolParams
    count_include_pad: bool
    divisor_override: int | None

    @property
    def ndim(self) -> int:
        return self.pool.ndim


_INT64_MAX = 2**63 - 1


def normalize_avg_args(fn: str, nd: int, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override) -> AvgPoolParams:
    """Check the average-pooling arguments on their own (no input needed)."""
    k, s, p = _parse_window(fn, nd, kernel_size, stride_or_kernel(stride, kernel_size),
                            padding)
    for name, flag in (("ceil_mode", ceil_mode), ("count_include_pad", count_include_pad)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{fn}: {name} must be a bool, but got {name}={flag!r}")
    divisor = None
    if divisor_override is not None:
        if isinstance(divisor_override, (bool, np.bool_)):
            raise TypeError(f"{fn}: divisor_override must be an int or None, but got "
                            f"divisor_override={divisor_override!r} (bool)")
        try:
            divisor = operator.index(divisor_override)
        except TypeError:
            raise TypeError(f"{fn}: divisor_override must be an int or None, but got "
                            f"divisor_override={divisor_override!r} "
                            f"({type(divisor_override).__name__})") from None
        if divisor == 0:
            raise ValueError(f"{fn}: divisor must be not zero, but got divisor_override=0")
        if abs(divisor) > _INT64_MAX:
            raise ValueError(f"{fn}: divisor_override is out of range: got "
                             f"divisor_override={divisor}, expected at most {_INT64_MAX} "
                             f"in absolute value")
    _check_window(fn, k, s, p)
    # PyTorch's pooling_output_shape check, pad <= ((k - 1) * dilation + 1) / 2
    # with dilation 1: every window then holds at least one input element.
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(
            f"{fn}: pad should be at most half of effective kernel size, "
            f"but got padding={_show(p)}, kernel_size={_show(k)}"
        )
    return AvgPoolParams(PoolParams(k, s, p, (1,) * nd, bool(ceil_mode)),
                         bool(count_include_pad), divisor)


def stride_or_kernel(stride, kernel_size):
    """PyTorch's pooling default: an omitted stride (None or []) means
    kernel_size.  (Its max_unpool omits only None: see normalize_unpool_args.)"""
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel_size
    return stride


def normalize_unpool_args(fn: str, nd: int, kernel_size, stride, padding):
    """(kernel, stride, padding) for max_unpool, checked as PyTorch checks
    them (no more): stride None means kernel_size."""
    k, s, p = _parse_window(fn, nd, kernel_size,
                            kernel_size if stride is None else stride, padding)
    _check_window(fn, k, s, p)
    return k, s, p


def _parse_window(fn: str, nd: int, kernel_size, stride, padding):
    return (_ntuple(kernel_size, "kernel_size", fn, nd),
            _ntuple(stride, "stride", fn, nd, omitted=True),
            _ntuple(padding, "padding", fn, nd))


def _check_window(fn: str, k, s, p, d=None) -> None:
    """Sizes greater than zero, then padding non-negative (PyTorch's order)."""
    for name, vals in (("kernel_size", k), ("stride", s), ("dilation", d)):
        if vals is not None and min(vals) < 1:
            raise ValueError(
                f"{fn}: {name} should be greater than zero, but got {name}={_show(vals)}")
    if min(p) < 0:
        raise ValueError(f"{fn}: pad must be non-negative, but got padding={_show(p)}")


def _show(vals: tuple[int, ...]) -> str:
    return str(vals[0]) if len(set(vals)) == 1 else str(vals)


def check_dtype(dtype: np.dtype, name: str, fn: str, floating_only: bool = False) -> None:
    if floating_only:
        if dtype not in _FLOAT_DTYPES:
            raise TypeError(
                f"{fn}: {name} must have a floating dtype (float16, float32 or "
                f"float64), but got dtype {dtype}"
            )
        return
    ok = dtype in _FLOAT_DTYPES or (dtype.kind in "iu" and dtype.itemsize <= 8)
    if not ok:
        raise TypeError(
            f"{fn}: {name} has unsupported dtype {dtype}; expected one of "
            f"{SUPPORTED_DTYPES_TEXT}"
        )


def as_array(x, name: str, fn: str) -> np.ndarray:
    """np.asarray, with a TypeError naming the argument when that fails."""
    if not isinstance(x, np.ndarray):
        _refuse_lazy(x, name, fn)
        try:
            with warnings.catch_warnings():
                # NumPy < 1.24 makes a ragged list an object array with a
                # warning; later NumPy raises.  Both end in the error below.
                warnings.simplefilter("ignore")
                a = np.asarray(x)
        except (ValueError, TypeError) as exc:
            raise TypeError(
                f"{fn}: {name} must be a numeric array or array-like, but "
                f"np.asarray could not convert {type(x).__name__}: {exc}"
            ) from None
        if a.dtype == object and isinstance(x, (list, tuple)):
            raise TypeError(
                f"{fn}: {name} must be a numeric array or array-like, but "
                f"np.asarray could not convert {type(x).__name__}: it gives an object "
                "array (ragged nesting, or elements that are not numbers)")
        x = a
    if not x.dtype.isnative:
        # The kernels read machine-order values; this is the one copy the
        # layout forces.
        x = x.astype(x.dtype.newbyteorder("="))
    return x


def _refuse_lazy(x, name: str, fn: str) -> None:
    """A dask array reaching a function without a dask form is refused
    rather than silently computed (np.asarray would load all of it)."""
    mod = sys.modules.get("dask.array")
    if mod is not None and isinstance(x, mod.Array):
        raise TypeError(f"{fn}: {name} is a dask array, which {fn} does not pool lazily "
                        f"(pooling.dask lists the functions that do); compute it first "
                        f"(np.asarray({name})) if it fits in memory")


LAYOUTS = {1: ("NCL", "NLC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}


def channels_last(fn: str, nd: int, data_format) -> bool:
    """Whether ``data_format`` puts channels last (None: channels first)."""
    first, last = LAYOUTS[nd]
    if data_format is None or data_format == first:
        return False
    if data_format == last:
        return True
    if not isinstance(data_format, str):
        raise TypeError(f"{fn}: data_format must be a str, {first!r} or {last!r}, but got "
                        f"data_format={data_format!r} ({type(data_format).__name__})")
    raise ValueError(f"{fn}: data_format must be {first!r} or {last!r}, but got "
                     f"data_format={data_format!r}")


def spatial_of(shape, nd: int, last: bool) -> tuple[int, ...]:
    """The spatial sizes of a shape in the user's layout."""
    return tuple(shape[-nd - 1:-1]) if last else tuple(shape[-nd:])


def with_spatial(shape, spatial, last: bool) -> tuple[int, ...]:
    """``shape`` with its spatial sizes replaced."""
    nd = len(spatial)
    return (tuple(shape[:-nd - 1]) + tuple(spatial) + tuple(shape[-1:]) if last
            else tuple(shape[:-nd]) + tuple(spatial))


def _layout_text(nd: int, last: bool) -> str:
    names = _spatial_names(nd)
    return f"{names}, C" if last else f"C, {names}"


def _check_rank(x, nd: int, fn: str, last: bool, name: str = "input",
                nonzero: bool = True) -> None:
    """Unbatched or batched, with non-zero spatial sizes (unless not ``nonzero``)."""
    layout = _layout_text(nd, last)
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{fn}: expected a {nd + 1}D ({layout}) or {nd + 2}D (N, {layout}) {name}, "
            f"but got an array of shape {x.shape}"
        )
    if nonzero and min(spatial_of(x.shape, nd, last)) < 1:
        raise ValueError(
            f"{fn}: {name} spatial sizes must be non-zero, but got {name} of "
            f"shape {x.shape}"
        )


def check_input(x, params: PoolParams, fn: str,
                last: bool = False) -> tuple[np.ndarray, tuple[int, ...]]:
    """Validate the pooling input; return it as an array and the output shape.

    The input is (N, C, *spatial) or unbatched (C, *spatial), or with
    channels last (N, *spatial, C) or (*spatial, C).  N and C may be zero
    (the result is then empty); spatial sizes may not.
    """
    x = as_array(x, "input", fn)
    check_dtype(x.dtype, "input", fn)
    nd = params.ndim
    _check_rank(x, nd, fn, last)
    spatial = spatial_of(x.shape, nd, last)
    channels = x.shape[-1] if last else x.shape[-nd - 1]
    return x, with_spatial(x.shape, _output_spatial(params, spatial, channels, fn), last)


@functools.lru_cache(maxsize=256)
def _output_spatial(params: PoolParams, spatial, channels, fn: str) -> tuple[int, ...]:
    """Output spatial size, once the windows are known to fit (cached: the
    same layer sees the same shapes again and again)."""
    out = params.output_size(spatial)
    if min(out) < 1:
        raise ValueError(
            f"{fn}: Given input size: ({'x'.join(map(str, (channels,) + spatial))}). "
            f"Calculated output size: ({'x'.join(map(str, (channels,) + out))}). "
            f"Output size is too small (kernel_size={_show(params.kernel_size)}, "
            f"stride={_show(params.stride)}, padding={_show(params.padding)}, "
            f"dilation={_show(params.dilation)}, ceil_mode={params.ceil_mode})"
        )
    _check_windows_reach_input(params, spatial, fn)
    return out


def _check_windows_reach_input(params: PoolParams, spatial, fn: str) -> None:
    # With dilation, a leading window can straddle the whole input: e.g. H=2,
    # kernel 2, padding 1, dilation 3 reads rows -1 and 2.  PyTorch then returns
    # -inf with an index outside the plane (and its backward writes out of
    # bounds); we refuse the configuration instead.  Only windows starting in
    # the left padding can be empty (see output_length), so few are checked.
    for axis, (n, s, p, d) in enumerate(
        zip(spatial, params.stride, params.padding, params.dilation)
    ):
        o = 0
        while o * s < p:
            first = (o * s - p) % d  # first non-negative position of window o
            if first >= n:
                raise ValueError(
                    f"{fn}: the pooling window at output position {o} along "
                    f"spatial axis {axis} covers no input element (input size {n}, "
                    f"padding={p}, dilation={d}, stride={s}); reduce padding or "
                    f"dilation"
                )
            o += 1


# PyTorch's CPU average pooling has floating kernels and, for avg_pool
# (not adaptive), an int64 one (integer sum, truncating division).
_AVG_DTYPES = _FLOAT_DTYPES + (np.dtype(np.int64),)


def check_average_dtype(dtype: np.dtype, name: str, fn: str, integer: bool) -> None:
    """float16, float32, float64, and with ``integer`` also int64."""
    if dtype in (_AVG_DTYPES if integer else _FLOAT_DTYPES):
        return
    expected = ("float16, float32, float64 or int64 (PyTorch has no kernel for other "
                "integer types)" if integer else
                "float16, float32 or float64 (PyTorch has no integer kernel for it)")
    raise TypeError(f"{fn}: {name} has unsupported dtype {dtype}; expected {expected}")


def _check_kernel_fits(params: AvgPoolParams, spatial, fn: str) -> None:
    """avg_pool3d's own rule (PyTorch's pool3d_shape_check): the input at least
    as large as the kernel on every axis, whatever the padding."""
    if params.ndim == 3 and any(n < k for n, k in zip(spatial, params.pool.kernel_size)):
        (t, h, w), (kt, kh, kw) = spatial, params.pool.kernel_size
        raise ValueError(f"{fn}: input image (T: {t} H: {h} W: {w}) smaller than kernel "
                         f"size (kT: {kt} kH: {kh} kW: {kw})")


def check_avg_input(x, params: AvgPoolParams, fn: str,
                    last: bool = False) -> tuple[np.ndarray, tuple[int, ...]]:
    """Validate the average-pooling input; return it as an array and the
    output shape (as check_input)."""
    x = as_array(x, "input", fn)
    check_average_dtype(x.dtype, "input", fn, integer=True)
    nd = params.ndim
    _check_rank(x, nd, fn, last)
    spatial = spatial_of(x.shape, nd, last)
    _check_kernel_fits(params, spatial, fn)
    channels = x.shape[-1] if last else x.shape[-nd - 1]
    return x, with_spatial(x.shape, _output_spatial(params.pool, spatial, channels, fn), last)


def check_avg_backward(grad_output, input_shape, params: AvgPoolParams, fn: str,
                       last: bool = False) -> tuple[np.ndarray, tuple[int, ...]]:
    """Validate avg_pool backward arguments: grad_output must have the
    shape pooling an input of ``input_shape`` gives.  Returns (array, shape)."""
    g = as_array(grad_output, "grad_output", fn)
    check_average_dtype(g.dtype, "grad_output", fn, integer=True)
    nd = params.ndim
    _check_rank(g, nd, fn, last, "grad_output")
    shape = _input_shape_of(g, input_shape, nd, fn, last)
    spatial = spatial_of(shape, nd, last)
    _check_kernel_fits(params, spatial, fn)
    channels = shape[-1] if last else shape[-nd - 1]
    want = _output_spatial(params.pool, spatial, channels, fn)
    if spatial_of(g.shape, nd, last) != want:
        raise ValueError(f"{fn}: grad_output of shape {g.shape} does not match the output "
                         f"of pooling an input of shape {shape}, whose spatial size is "
                         f"{want}")
    return g, shape


@dataclass(frozen=True)
class LpPoolParams:
    """Normalised power-average pooling arguments: ``norm_type`` as a float
    and the average pooling PyTorch runs on ``x ** norm_type`` (no padding,
    ``count_include_pad``, no divisor override)."""

    norm_type: float
    avg: AvgPoolParams

    @property
    def ndim(self) -> int:
        return self.avg.ndim

    @property
    def pool(self) -> PoolParams:
        """The windows (for norm_type +-inf, PyTorch's max pooling of |x|)."""
        return self.avg.pool

    @property
    def kernel_numel(self) -> int:
        return int(np.prod(self.avg.pool.kernel_size))


def normalize_lp_args(fn: str, nd: int, norm_type, kernel_size, stride,
                      ceil_mode) -> LpPoolParams:
    """Check the lp_pool arguments on their own (no input needed)."""
    if (isinstance(norm_type, (bool, np.bool_))
            or not isinstance(norm_type, (int, float, np.integer, np.floating))):
        raise TypeError(f"{fn}: norm_type must be an int or a float, but got "
                        f"norm_type={norm_type!r} ({type(norm_type).__name__})")
    try:
        p = float(norm_type)
    except OverflowError:
        raise ValueError(f"{fn}: norm_type is out of range: got norm_type={norm_type!r}, "
                         f"expected a value a float can hold") from None
    if p == 0:
        # PyTorch computes 1.0 / norm_type and fails there.
        raise ValueError(f"{fn}: norm_type must be non-zero (PyTorch raises "
                         f"ZeroDivisionError: float division by zero), but got "
                         f"norm_type={norm_type!r}")
    avg = normalize_avg_args(fn, nd, kernel_size, stride, 0, ceil_mode, True, None)
    return LpPoolParams(p, avg)


def check_lp_input(x, params: LpPoolParams, fn: str,
                   last: bool = False) -> tuple[np.ndarray, tuple[int, ...]]:
    """Validate the lp_pool input; return it as an array and the output
    shape.  Floating dtypes only: PyTorch's integer lp_pool changes dtype
    along the way (see the message)."""
    x = as_array(x, "input", fn)
    if x.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"{fn}: input has unsupported dtype {x.dtype}; expected float16, float32 or "
            f"float64 (PyTorch's lp_pool turns integer input into float32 for a float "
            f"norm_type, keeps int64 until the last power for an int norm_type, and has no "
            f"kernel for other integer types: convert the input first, e.g. "
            f"x.astype(np.float32), which gives PyTorch's result for a float norm_type)")
    nd = params.ndim
    _check_rank(x, nd, fn, last)
    spatial = spatial_of(x.shape, nd, last)
    if np.isfinite(params.norm_type):  # avg_pool3d's check; +-inf is max_pool3d
        _check_kernel_fits(params.avg, spatial, fn)
    channels = x.shape[-1] if last else x.shape[-nd - 1]
    return x, with_spatial(x.shape, _output_spatial(params.pool, spatial, channels, fn), last)


def check_lp_backward(grad_output, x, params: LpPoolParams, fn: str, last: bool = False):
    """Validate lp_pool backward arguments: the input as for the forward,
    grad_output of its output's shape and dtype.  Returns (g, x)."""
    x, shape = check_lp_input(x, params, fn, last)
    g = as_array(grad_output, "grad_output", fn)
    if g.shape != shape:
        raise ValueError(f"{fn}: grad_output of shape {g.shape} does not match the output "
                         f"of pooling an input of shape {x.shape}, which has shape {shape}")
    if g.dtype != x.dtype:
        raise TypeError(f"{fn}: grad_output has dtype {g.dtype}, but input has dtype "
                        f"{x.dtype}; expected the same dtype")
    return g, x


def check_adaptive_avg_input(x, nd: int, fn: str, last: bool = False) -> np.ndarray:
    x = as_array(x, "input", fn)
    check_average_dtype(x.dtype, "input", fn, integer=False)
    _check_rank(x, nd, fn, last)
    return x


def check_adaptive_avg_backward(grad_output, input_shape, nd: int, fn: str,
                                last: bool = False) -> tuple[np.ndarray, tuple[int, ...]]:
    """The output size is grad_output's (zero sizes allowed: the forward's
    output_size may be 0)."""
    g = as_array(grad_output, "grad_output", fn)
    check_average_dtype(g.dtype, "grad_output", fn, integer=False)
    _check_rank(g, nd, fn, last, "grad_output", nonzero=False)
    return g, _input_shape_of(g, input_shape, nd, fn, last)


def _spatial_names(nd: int) -> str:
    return {1: "L", 2: "H, W", 3: "D, H, W"}[nd]


def check_backward(grad_output, indices, input_shape, nd: int, fn: str, last: bool = False):
    """Validate max_pool backward arguments; return arrays and the input shape."""
    g, idx = _check_same_shape(grad_output, "grad_output", indices, fn)
    check_dtype(g.dtype, "grad_output", fn, floating_only=True)
    _check_rank(g, nd, fn, last, "grad_output")
    return g, idx, _input_shape_of(g, input_shape, nd, fn, last)


def _input_shape_of(g, input_shape, nd: int, fn: str, last: bool) -> tuple[int, ...]:
    """``input_shape`` as a tuple of ints, consistent with ``grad_output``
    (same rank, N and C) and with non-zero spatial sizes."""
    try:
        shape = tuple(_as_int(v, "input_shape", fn, nd) for v in input_shape)
    except TypeError:
        raise TypeError(
            f"{fn}: input_shape must be a tuple of ints, but got input_shape={input_shape!r}"
        ) from None
    if (
        len(shape) != g.ndim
        or with_spatial(shape, spatial_of(g.shape, nd, last), last) != g.shape
        or min(spatial_of(shape, nd, last)) < 1
    ):
        lead = "(N, C)" if not last else "N and C"
        raise ValueError(
            f"{fn}: input_shape {shape} is inconsistent with grad_output shape "
            f"{g.shape}: expected the same number of dimensions, the same {lead} sizes "
            f"and non-zero spatial sizes"
        )
    return shape


def _check_same_shape(x, name: str, indices, fn: str):
    x = as_array(x, name, fn)
    idx = as_array(indices, "indices", fn)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{fn}: indices must have an integer dtype, but got dtype {idx.dtype}")
    if x.shape != idx.shape:
        raise ValueError(f"{fn}: {name} and indices must have the same shape, but got {name} "
                         f"shape {x.shape} and indices shape {idx.shape}")
    return x, idx


def unpool_output_size(fn, in_spatial, k, s, p, output_size) -> tuple[int, ...]:
    """PyTorch's _unpool_output_size: the default (n - 1) * s + k - 2p, or an
    explicit size (spatial, or with N and C in front) within one stride of it."""
    nd = len(k)
    default = tuple((n - 1) * si + ki - 2 * pi for n, ki, si, pi in zip(in_spatial, k, s, p))
    if output_size is None:
        out = default
    else:
        try:
            out = tuple(output_size)
        except TypeError:
            raise TypeError(f"{fn}: output_size must be a sequence of ints, but got "
                            f"output_size={output_size!r}") from None
        if len(out) == nd + 2:
            out = out[2:]
        if len(out) != nd:
            raise ValueError(
                f"{fn}: output_size should be a sequence containing {nd} or {nd + 2} "
                f"elements, but it has a length of '{len(out)}'")
        out = tuple(_as_int(o, "output_size", fn, nd) for o in out)
        for d, (o, de, si) in enumerate(zip(out, default, s)):
            if not de - si < o < de + si:
                raise ValueError(f'{fn}: invalid output_size "{out}" (dim {d} must be '
                                 f"between {de - si} and {de + si})")
    if min(out) < 1:
        raise ValueError(f"{fn}: output size {out} is too small for input spatial size "
                         f"{tuple(in_spatial)} (kernel_size={k}, stride={s}, padding={p})")
    return out


def check_pair(x, indices, nd: int, fn: str, last: bool = False):
    """The input of max_unpool (with its indices) or of adaptive pooling
    (indices None): (array, indices array or None)."""
    if indices is None:
        x, idx = as_array(x, "input", fn), None
    else:
        x, idx = _check_same_shape(x, "input", indices, fn)
    check_dtype(x.dtype, "input", fn)
    _check_rank(x, nd, fn, last)
    return x, idx


def adaptive_output_size(fn: str, nd: int, output_size, spatial) -> tuple[int, ...]:
    """An int or a tuple of nd ints or None (None keeps that input size)."""
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != nd:
            raise ValueError(f"{fn}: output_size must be an int or a tuple of {_WORDS[nd]} "
                             f"(or None), but got output_size={tuple(output_size)!r}")
        out = tuple(n if o is None else _as_int(o, "output_size", fn, nd)
                    for o, n in zip(output_size, spatial))
    else:
        out = (_as_int(output_size, "output_size", fn, nd),) * nd
    if min(out) < 0:
        raise ValueError(f"{fn}: output_size must be non-negative, but got output_size={out}")
    return out


def adaptive_windows(n: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's windows: start floor(i*n/out), end ceil((i+1)*n/out)."""
    i = np.arange(out, dtype=np.int64)
    return (i * n) // out, -((-(i + 1) * n) // out)


# np.shares_memory's bound on the work of proving that two views of one buffer
# do not overlap (exactly, element sets, not address ranges); beyond it the
# views count as overlapping.  Ordinary views (slices, transposes) take a few
# steps.
_OVERLAP_MAX_WORK: Any = 10_000   # (NumPy's stubs admit only -1 and 0)
_TooHardError = getattr(np, "exceptions", np).TooHardError


def _show_out(a) -> str:
    if isinstance(a, np.ndarray):
        return f"array of shape {a.shape} and dtype {a.dtype}"
    return f"{type(a).__name__}"


def _overlaps(a, b) -> bool:
    # (np.shares_memory compares the address ranges first: the common case,
    # disjoint ranges, costs no more than np.may_share_memory.)
    try:
        return bool(np.shares_memory(a, b, _OVERLAP_MAX_WORK))
    except _TooHardError:
        return True


_INT64 = np.dtype(np.int64)


def check_out(out, fn: str, shape: tuple, dtype: np.dtype, inputs: dict, pair: bool = False):
    """The preallocated outputs of ``fn``: None for out=None, else the pair
    ``(y, indices)``, indices None unless ``pair`` (return_indices=True).
    With ``pair``, ``out`` must be a tuple of two arrays; without, an array
    or a 1-tuple holding one, as for NumPy ufuncs.

    Each must be a writeable np.ndarray of exactly the result's ``shape`` (a
    tuple) and dtype (``dtype`` for values, int64 for indices; no casting), and none may
    share memory with an input (``inputs``: name -> the array as the caller
    gave it) or with the other.
    """
    if out is None:
        return None
    if pair:
        if not isinstance(out, tuple):
            raise TypeError(f"{fn}: out must be a tuple (y, indices) of two arrays with "
                            f"return_indices=True, but got out={_show_out(out)}")
        if len(out) != 2:
            raise ValueError(f"{fn}: out must be a tuple (y, indices) of two arrays with "
                             f"return_indices=True, but got a tuple of {len(out)}")
        arrays: tuple[tuple[str, Any, np.dtype], ...] = (
            ("out[0]", out[0], dtype), ("out[1]", out[1], _INT64))
    else:
        name = "out"
        if isinstance(out, tuple):
            if len(out) != 1:
                raise ValueError(f"{fn}: out must be an array or a tuple of one array, "
                                 f"but got a tuple of {len(out)}")
            out, name = out[0], "out[0]"
        arrays = ((name, out, dtype),)
    for name, a, want in arrays:
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{fn}: {name} must be a numpy.ndarray, but got "
                            f"{name}={_show_out(a)}")
        if a.shape != shape:
            raise ValueError(f"{fn}: {name} has the wrong shape: expected {shape}, "
                             f"but got {a.shape}")
        if a.dtype != want:
            raise TypeError(f"{fn}: {name} has the wrong dtype: expected {want} (no "
                            f"casting), but got {a.dtype}")
        if not a.flags.writeable:
            raise ValueError(f"{fn}: {name} is read-only; expected a writeable array")
        for what, x in inputs.items():
            if isinstance(x, np.ndarray) and _overlaps(a, x):
                raise ValueError(f"{fn}: {name} shares memory with {what}; expected an "
                                 f"output that does not overlap the inputs")
    if pair and _overlaps(arrays[0][1], arrays[1][1]):
        raise ValueError(f"{fn}: out[0] and out[1] share memory; expected two arrays "
                         f"that do not overlap")
    return tuple(a for _, a, _ in arrays) + ((None,) if not pair else ())

"""The call sequence shared by every backend and front end.

Below it, the cores (pooling._core: the compiled kernels and the NumPy
core, with the protocol they implement); above it, the front ends
(pooling.functional, pooling.reference, pooling.numpy_layers, pooling.dask,
the framework adapters), which pass it a core and the user's arguments.

Everything else (argument parsing, unbatched inputs, empty batches, data
layouts, error messages) happens here, once.  1-D and 2-D pooling are 3-D
pooling of a view with unit depth (and height): a window of size 1 there, no
padding, so the flat index ``(d * H + h) * W + w`` is PyTorch's 1-D or 2-D
index, and no data moves.  Channels-last data (``data_format="NHWC"`` and
friends) is handed over as a transposed view, still (N, C, D, H, W) to the
core, which sees the layout in the strides and keeps it in its outputs.
"""
from __future__ import annotations

import functools

import numpy as np

from . import _torch_math as tm
from ._core.backend import get_num_threads
from ._core.numpy_core import NumpyCore
from ._params import (AvgPoolParams, PoolParams, adaptive_output_size, adaptive_windows,
                      channels_last, check_adaptive_avg_backward, check_adaptive_avg_input,
                      check_avg_backward, check_avg_input, check_backward, check_input,
                      check_lp_backward, check_lp_input, check_out, check_pair,
                      normalize_avg_args, normalize_lp_args, normalize_pool_args,
                      normalize_unpool_args, spatial_of, unpool_output_size, with_spatial)


class _Lift:
    """How a user's array maps to the cores' (N, C, D, H, W) and back."""

    __slots__ = ("nd", "batched", "last")

    def __init__(self, nd: int, batched: bool, last: bool):
        self.nd, self.batched, self.last = nd, batched, last

    def to_core(self, a):
        if a is None:
            return None
        if not self.batched:
            a = a[np.newaxis]
        if self.last:   # (np.moveaxis costs microseconds a call; transpose does not)
            k = a.ndim
            a = a.transpose((0, k - 1) + tuple(range(1, k - 1)))
        return a[(slice(None), slice(None)) + (np.newaxis,) * (3 - self.nd)]

    def from_core(self, a):
        if a is None:
            return None
        a = a[(slice(None), slice(None)) + (0,) * (3 - self.nd)]
        if self.last:
            k = a.ndim
            a = a.transpose((0,) + tuple(range(2, k)) + (1,))
        return a if self.batched else a[0]

    def shape_to_core(self, shape):
        """A user-layout shape as (N, C, D, H, W)."""
        shape = tuple(shape)
        if not self.batched:
            shape = (1,) + shape
        if self.last:
            shape = shape[:1] + shape[-1:] + shape[1:-1]
        return shape[:2] + (1,) * (3 - self.nd) + shape[2:]

    def spatial(self, shape):
        """(D, H, W) of a user-layout shape."""
        return self.shape_to_core(shape)[2:]

    def user_spatial(self, shape):
        """The nd spatial sizes of a user-layout shape."""
        return spatial_of(shape, self.nd, self.last)

    def with_user_spatial(self, shape, spatial):
        """A user-layout shape with its spatial sizes replaced."""
        return with_spatial(shape, spatial, self.last)


def _lift(x, nd, last) -> _Lift:
    return _Lift(nd, x.ndim == nd + 2, last)


@functools.lru_cache(maxsize=256)
def _as_3d(params: PoolParams) -> PoolParams:
    pad = 3 - params.ndim
    return PoolParams((1,) * pad + params.kernel_size, (1,) * pad + params.stride,
                      (0,) * pad + params.padding, (1,) * pad + params.dilation,
                      params.ceil_mode)


def max_pool(core, nd, x, kernel_size, stride=None, padding=0, dilation=1,
             ceil_mode=False, return_indices=False, data_format=None, out=None):
    call = (nd, kernel_size, stride, padding, dilation, ceil_mode,
            "flat" if return_indices else None, data_format)
    plan = find_plan(core, x, call)
    if plan is None:
        fn = f"max_pool{nd}d"
        params = normalize_pool_args(fn, nd, kernel_size, stride, padding, dilation,
                                     ceil_mode)
        given = x
        x, out_shape, lift = check_pool_input(x, params, fn, data_format)
        outs = check_out(out, fn, out_shape, x.dtype, {"input": given}, return_indices)
        y, idx = forward(core, x, params, out_shape, call[6], lift, call, outs)
    else:
        if out is not None:  # (the checks are on out: every call)
            out = check_out(out, f"max_pool{nd}d", plan.out_shape, x.dtype, {"input": x},
                            return_indices)
        y, idx = plan.run(x, out)
    return (y, idx) if return_indices else y


def find_plan(core, x, call):
    """The core's kept plan for this call (whose checks passed before), or
    None: the call then takes the full path, which keeps one."""
    find = getattr(core, "find_forward_plan", None)
    return None if find is None else find(x, call)


def check_pool_input(x, params, fn, data_format):
    """(array, output shape in the user's layout, lift) for a pooling input."""
    last = channels_last(fn, params.ndim, data_format)
    x, out_shape = check_input(x, params, fn, last)
    return x, out_shape, _lift(x, params.ndim, last)


def forward(core, x, params, out_shape, indices, lift, call=None, out=None):
    """Run a validated input through a core; with ``call`` (the arguments
    as given, see max_pool), a core that plans keeps the plan for the next
    such call.  ``out``: None or ``(y | None, indices | None)``, checked
    arrays of the user's layout to write the results into."""
    if x.size == 0:  # N == 0 or C == 0: nothing to read
        yo, io = (None, None) if out is None else out
        y = np.empty(out_shape, dtype=x.dtype) if yo is None else yo
        idx = (None if indices is None else
               np.empty(out_shape, dtype=np.int64) if io is None else io)
        return y, idx
    x5, params3, out_dhw = lift.to_core(x), _as_3d(params), lift.spatial(out_shape)
    plan_forward = getattr(core, "plan_forward", None)
    if plan_forward is None or x.dtype == np.float16:
        out5 = None if out is None else (lift.to_core(out[0]), lift.to_core(out[1]))
        y5, idx5 = core.forward3d(x5, params3, out_dhw, indices, lift.last, out=out5)
        return _user(out, 0, y5, lift), _user(out, 1, idx5, lift)
    plan = plan_forward(x5, params3, out_dhw, indices, lift.last).for_user(
        out_shape, lift.batched, lift.last, lift)
    if call is not None:
        core.remember_forward_plan(plan, x, call)
    return plan.run(x, out)


def _user(out, i, a5, lift):
    """The user's out[i] if given (the core wrote into it), else a5 in the
    user's layout."""
    if out is not None and out[i] is not None:
        return out[i]
    return lift.from_core(a5)


def max_pool_backward(core, nd, grad_output, indices, input_shape, data_format=None,
                      out=None):
    fn = f"max_pool{nd}d_backward"
    last = channels_last(fn, nd, data_format)
    g, idx, shape = check_backward(grad_output, indices, input_shape, nd, fn, last)
    if out is not None:
        out = check_out(out, fn, shape, g.dtype,
                        {"grad_output": grad_output, "indices": indices})[0]
    return backward(core, g, idx, shape, _lift(g, nd, last), fn, out)


def backward(core, g, idx, shape, lift, fn, out=None):
    """Run validated backward arguments through a core (into ``out``, a
    checked array, when given)."""
    if g.size == 0:
        return _zeros(shape, g.dtype, out)
    spatial = lift.spatial(shape)
    grad5, n_bad = core.backward3d(lift.to_core(g), lift.to_core(idx), spatial, lift.last,
                                   out=lift.to_core(out))
    if n_bad:
        first, count = _first_bad(idx, spatial)
        raise ValueError(
            f"{fn}: indices must lie in [0, {_volume(spatial)}) for an input plane of "
            f"size {lift.user_spatial(shape)}, but got index {first} "
            f"({count} out of range)")
    return lift.from_core(grad5) if out is None else out


def _zeros(shape, dtype, out):
    if out is None:
        return np.zeros(shape, dtype=dtype)
    out[...] = 0
    return out


def backward_compact(core, g, cache, params, shape, lift):
    """Input gradient through a layer's cached argmax (shapes already checked)."""
    if g.size == 0:
        return np.zeros(shape, dtype=g.dtype)
    grad5 = core.backward3d_compact(lift.to_core(g), lift.to_core(cache), _as_3d(params),
                                  lift.spatial(shape), lift.last)
    return lift.from_core(grad5)


def _volume(spatial) -> int:
    return int(np.prod(spatial, dtype=np.int64))


def _first_bad(idx, spatial) -> tuple[int, int]:
    """The first out-of-range index and how many there are."""
    flat = np.asarray(idx).ravel()
    bad = flat[(flat < 0) | (flat >= _volume(spatial))]
    return int(bad[0]), bad.size


def max_unpool(core, nd, x, indices, kernel_size, stride=None, padding=0, output_size=None,
               data_format=None, out=None):
    fn = f"max_unpool{nd}d"
    k, s, p = normalize_unpool_args(fn, nd, kernel_size, stride, padding)
    last = channels_last(fn, nd, data_format)
    given = {"input": x, "indices": indices}
    x, idx = check_pair(x, indices, nd, fn, last)
    lift = _lift(x, nd, last)
    spatial = unpool_output_size(fn, lift.user_spatial(x.shape), k, s, p, output_size)
    shape = lift.with_user_spatial(x.shape, spatial)
    if out is not None:
        out = check_out(out, fn, shape, x.dtype, given)[0]
    if x.size == 0:
        return _zeros(shape, x.dtype, out)
    out5, n_bad = core.unpool3d(lift.to_core(x), lift.to_core(idx), lift.spatial(shape),
                                lift.last, out=lift.to_core(out))
    if n_bad:
        first, count = _first_bad(idx, spatial)
        raise ValueError(f"{fn}: Found an invalid max index: {first} (output volumes are "
                         f"of size {'x'.join(map(str, spatial))}; {count} out of range)")
    return lift.from_core(out5) if out is None else out


def adaptive_max_pool(core, nd, x, output_size, return_indices=False, data_format=None,
                      out=None):
    fn = f"adaptive_max_pool{nd}d"
    last = channels_last(fn, nd, data_format)
    given = x
    x = check_pair(x, None, nd, fn, last)[0]
    lift = _lift(x, nd, last)
    in_spatial = lift.user_spatial(x.shape)
    sizes = adaptive_output_size(fn, nd, output_size, in_spatial)
    shape = lift.with_user_spatial(x.shape, sizes)
    outs = check_out(out, fn, shape, x.dtype, {"input": given}, return_indices)
    if x.size == 0 or min(sizes) == 0:
        y, idx = (np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int64)) \
            if outs is None else outs
        return (y, idx) if return_indices else y
    # Equal windows that tile the input go to plain max pooling (window n // o,
    # stride the same: identical results) where its loops are the faster ones
    # (measured on 32x64x112x112 float32, one thread).  They pass once per
    # window column over an output row and keep window-local argmax offsets:
    # fastest for small windows, above all with indices, and for long output
    # rows.  The adaptive kernel folds whole window rows at once and wins on
    # wide windows over short rows (7x7 from 112x112: 9.5 against 24 ms).
    # Channels-last memory, as the cores see it, keeps the earlier limit of 16
    # wide: max pooling's pixel blocks stay ahead up to it (10 against 11 ms).
    k = tuple(n // o for n, o in zip(in_spatial, sizes))
    x5 = lift.to_core(x)
    if x5.shape[1] > 1 and x5.strides[1] == x5.itemsize and (
            lift.last or not x5.flags.c_contiguous):
        tiles_fast = max(k) <= 16
    else:
        tiles_fast = (int(np.prod(k)) <= (64 if return_indices else 16)
                      or (sizes[-1] >= 64 and max(k) <= 64))
    if tiles_fast and all(n % o == 0 for n, o in zip(in_spatial, sizes)):
        params = normalize_pool_args(fn, nd, k, k, 0, 1, False)
        y, idx = forward(core, x, params, shape, "flat" if return_indices else None, lift,
                         out=outs)
    else:
        windows = [adaptive_windows(n, o)
                   for n, o in zip(lift.spatial(x.shape), lift.spatial(shape))]
        out5 = None if outs is None else (lift.to_core(outs[0]), lift.to_core(outs[1]))
        y5, idx5 = core.adaptive3d(x5, windows, return_indices, lift.last, out=out5)
        y, idx = _user(outs, 0, y5, lift), _user(outs, 1, idx5, lift)
    return (y, idx) if return_indices else y


def core_op(core, name: str):
    """The core's function ``name``.  A core that lacks it is served by the
    reference core's: a core gains average-pooling kernels by defining these
    functions, with no change here (the compiled core has avg3d,
    avg_backward3d, adaptive_avg3d and adaptive_avg_backward3d)."""
    op = getattr(core, name, None)
    if op is None:
        op = getattr(NumpyCore, name)
    return op


@functools.lru_cache(maxsize=256)
def _avg_as_3d(params: AvgPoolParams) -> AvgPoolParams:
    return AvgPoolParams(_as_3d(params.pool), params.count_include_pad,
                         params.divisor_override)


# Kept average-pooling calls: for a call whose arguments are plain values
# (exact ints, bools, None, strings, tuples of ints) on a native NumPy array,
# what its checks found, so that the next such call on an array of the same
# shape, strides and dtype runs the kernel directly (a tiny call's time is
# mostly those checks: issue #26).  The max-pooling core keeps whole plans
# (csrc/_plans.pxi); the average kernels have none, so this keeps their
# arguments.  Cleared when full, like the plans.
_KEPT: dict = {}
_MAX_KEPT = 256


def _plain(v) -> bool:
    if v is None or type(v) in (int, bool, str):
        return True
    return type(v) is tuple and all(type(e) is int for e in v)


def _kept_key(core, name, a, args):
    """The key of a call that may be kept, or None."""
    if type(a) is not np.ndarray or not a.dtype.isnative:
        return None
    for v in args:
        if not _plain(v):
            return None
    # (types with the values: True == 1 and hashes alike)
    return (id(core), name, a.shape, a.strides, a.dtype.char,
            tuple((type(v), v) for v in args))


def _keep(key, value):
    if key is not None:
        if len(_KEPT) >= _MAX_KEPT:
            _KEPT.clear()
        _KEPT[key] = value


def avg_pool(core, nd, x, kernel_size, stride=None, padding=0, ceil_mode=False,
             count_include_pad=True, divisor_override=None, data_format=None, out=None):
    key = None
    if out is None:
        key = _kept_key(core, nd, x, (kernel_size, stride, padding, ceil_mode,
                                      count_include_pad, divisor_override, data_format))
        kept = _KEPT.get(key) if key is not None else None
        if kept is not None:
            op, params3, spatial, lift = kept
            return lift.from_core(op(lift.to_core(x), params3, spatial, lift.last, out=None))
    fn = f"avg_pool{nd}d"
    params = normalize_avg_args(fn, nd, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override)
    last = channels_last(fn, nd, data_format)
    given = x
    x, shape = check_avg_input(x, params, fn, last)
    if out is not None:
        out = check_out(out, fn, shape, x.dtype, {"input": given})[0]
    if x.size == 0:
        return np.empty(shape, dtype=x.dtype) if out is None else out
    lift = _lift(x, nd, last)
    op, params3, spatial = core_op(core, "avg3d"), _avg_as_3d(params), lift.spatial(shape)
    if x is given:
        _keep(key, (op, params3, spatial, lift))
    y5 = op(lift.to_core(x), params3, spatial, lift.last, out=lift.to_core(out))
    return lift.from_core(y5) if out is None else out


def avg_pool_backward(core, nd, grad_output, input_shape, kernel_size, stride=None, padding=0,
                      ceil_mode=False, count_include_pad=True, divisor_override=None,
                      data_format=None, out=None):
    key = None
    if out is None:
        key = _kept_key(core, -nd, grad_output,
                        (input_shape if type(input_shape) is tuple else None, kernel_size,
                         stride, padding, ceil_mode, count_include_pad, divisor_override,
                         data_format))
        kept = _KEPT.get(key) if key is not None and key[-1][0][1] is not None else None
        if kept is not None:
            op, params3, spatial, lift = kept
            return lift.from_core(op(lift.to_core(grad_output), params3, spatial, lift.last,
                                     out=None))
    fn = f"avg_pool{nd}d_backward"
    params = normalize_avg_args(fn, nd, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override)
    last = channels_last(fn, nd, data_format)
    g, shape = check_avg_backward(grad_output, input_shape, params, fn, last)
    if out is not None:
        out = check_out(out, fn, shape, g.dtype, {"grad_output": grad_output})[0]
    if g.size == 0:
        return _zeros(shape, g.dtype, out)
    lift = _lift(g, nd, last)
    op, params3, spatial = core_op(core, "avg_backward3d"), _avg_as_3d(params), \
        lift.spatial(shape)
    if g is grad_output and key is not None and key[-1][0][1] is not None:
        _keep(key, (op, params3, spatial, lift))
    grad5 = op(lift.to_core(g), params3, spatial, lift.last, out=lift.to_core(out))
    return lift.from_core(grad5) if out is None else out


def adaptive_avg_pool(core, nd, x, output_size, data_format=None, out=None):
    fn = f"adaptive_avg_pool{nd}d"
    last = channels_last(fn, nd, data_format)
    given = x
    x = check_adaptive_avg_input(x, nd, fn, last)
    lift = _lift(x, nd, last)
    sizes = adaptive_output_size(fn, nd, output_size, lift.user_spatial(x.shape))
    shape = lift.with_user_spatial(x.shape, sizes)
    if out is not None:
        out = check_out(out, fn, shape, x.dtype, {"input": given})[0]
    if x.size == 0 or min(sizes) == 0:
        return np.empty(shape, dtype=x.dtype) if out is None else out
    windows = [adaptive_windows(n, o)
               for n, o in zip(lift.spatial(x.shape), lift.spatial(shape))]
    y5 = core_op(core, "adaptive_avg3d")(lift.to_core(x), windows, nd, lift.last,
                                         out=lift.to_core(out))
    return lift.from_core(y5) if out is None else out


def adaptive_avg_pool_backward(core, nd, grad_output, input_shape, data_format=None,
                               out=None):
    fn = f"adaptive_avg_pool{nd}d_backward"
    last = channels_last(fn, nd, data_format)
    g, shape = check_adaptive_avg_backward(grad_output, input_shape, nd, fn, last)
    if out is not None:
        out = check_out(out, fn, shape, g.dtype, {"grad_output": grad_output})[0]
    if g.size == 0:
        return _zeros(shape, g.dtype, out)
    lift = _lift(g, nd, last)
    spatial = lift.spatial(shape)
    windows = [adaptive_windows(n, o) for n, o in zip(spatial, lift.spatial(g.shape))]
    grad5 = core_op(core, "adaptive_avg_backward3d")(lift.to_core(g), windows, spatial,
                                                     lift.last, out=lift.to_core(out))
    return lift.from_core(grad5) if out is None else out


# lp_pool computes x ** p a block of (N, C) planes at a time, into one
# buffer of about this size that the average pooling then reads while it is
# still in cache (instead of a temporary the size of the input).  Half the
# L2 of the project's machine; 256 KiB blocks (more calls) were slower
# (docs/performance.md).
_LP_BLOCK_BYTES = 1 << 20


def _blocks(x5, block_bytes):
    """(n, c) slices of x5 covering it in blocks of about ``block_bytes``:
    whole images when they fit (or the layout puts channels last), else
    runs of channel planes within one image."""
    n, c = x5.shape[:2]
    plane = max(1, x5[0, 0].size * x5.itemsize)
    image = c * plane
    if image <= block_bytes or (c > 1 and x5.strides[1] == x5.itemsize):
        nb = max(1, block_bytes // image)
        return [(slice(i, i + nb), slice(None)) for i in range(0, n, nb)]
    cb = max(1, block_bytes // plane)
    return [(slice(i, i + 1), slice(j, j + cb)) for i in range(n) for j in range(0, c, cb)]


def lp_pool(core, nd, x, norm_type, kernel_size, stride=None, ceil_mode=False,
            data_format=None, out=None):
    """PyTorch's lp_pool: ``avg_pool(x.pow(p), kernel_size, stride, 0,
    ceil_mode)``, then ``(sign(s) * relu(abs(s))).mul(kernel_numel).pow(1/p)``;
    for p = +-inf, ``max_pool(|x|)`` and ``-max_pool(-|x|)``."""
    fn = f"lp_pool{nd}d"
    params = normalize_lp_args(fn, nd, norm_type, kernel_size, stride, ceil_mode)
    last = channels_last(fn, nd, data_format)
    given = x
    x, shape = check_lp_input(x, params, fn, last)
    if out is not None:
        out = check_out(out, fn, shape, x.dtype, {"input": given})[0]
    y = np.empty(shape, dtype=x.dtype) if out is None else out
    if x.size == 0:
        return y
    lift, p = _lift(x, nd, last), params.norm_type
    if np.isinf(p):
        a = np.abs(x) if p > 0 else np.negative(np.abs(x))
        forward(core, a, params.pool, shape, None, lift, out=(y, None))
        if p < 0:
            np.negative(y, out=y)
        return y
    x5, y5 = lift.to_core(x), lift.to_core(y)
    params3, out_dhw = _avg_as_3d(params.avg), lift.spatial(shape)
    avg = core_op(core, "avg3d")
    if p == 1:  # x.pow(1) is x
        avg(x5, params3, out_dhw, lift.last, out=y5)
        _lp_finish(y5, params)
        return y
    # With threads, one block: each threaded kernel call pays a fork and
    # join, which on a loaded machine costs a scheduler time slice
    # (docs/performance.md), so many small calls would be ruinous.
    block = _LP_BLOCK_BYTES if get_num_threads() <= 1 else 1 << 62
    buf = None
    for sl in _blocks(x5, block):
        xb = x5[sl]
        if buf is None:
            buf = np.empty_like(xb)
        tb = buf[:xb.shape[0], :xb.shape[1]]
        tm.pow(xb, p, out=tb)
        avg(tb, params3, out_dhw, lift.last, out=y5[sl])
        _lp_finish(y5[sl], params)  # while the block's outputs are in cache
    return y


def _lp_finish(s, params):
    """``(sign(s) * relu(abs(s))).mul(kernel_numel).pow(1 / p)`` in place.
    sign(s) * relu(abs(s)) is s here: the average pooling never returns
    -0.0 (PyTorch's product turns it into +0.0), and a NaN stays NaN."""
    tm.mul_scalar(s, params.kernel_numel, out=s)
    if params.norm_type != 1:
        tm.pow(s, 1.0 / params.norm_type, out=s)


def lp_pool_backward(core, nd, grad_output, x, norm_type, kernel_size, stride=None,
                     ceil_mode=False, data_format=None, out=None):
    """The input gradient of lp_pool, through PyTorch autograd's chain of
    the forward's steps, in its order (see docs/api.md)."""
    fn = f"lp_pool{nd}d_backward"
    params = normalize_lp_args(fn, nd, norm_type, kernel_size, stride, ceil_mode)
    last = channels_last(fn, nd, data_format)
    given = {"grad_output": grad_output, "input": x}
    g, x = check_lp_backward(grad_output, x, params, fn, last)
    if out is not None:
        out = check_out(out, fn, x.shape, x.dtype, given)[0]
    if x.size == 0:
        return _zeros(x.shape, x.dtype, out)
    lift, p = _lift(x, nd, last), params.norm_type
    if np.isinf(p):
        # abs -> (neg) -> max_pool -> (neg): the gradient of |x| goes to each
        # window's argmax (of -|x| for -inf), then times sgn(x).
        a = np.abs(x) if p > 0 else np.negative(np.abs(x))
        _, idx = forward(core, a, params.pool, g.shape, "flat", lift)
        ga = backward(core, g if p > 0 else np.negative(g), idx, x.shape, lift, fn, out)
        if p < 0:
            np.negative(ga, out=ga)
        return np.multiply(ga, tm.sign(x), out=ga)
    params3, out_dhw = _avg_as_3d(params.avg), lift.spatial(g.shape)
    a = tm.pow(x, p)
    s = lift.from_core(core_op(core, "avg3d")(lift.to_core(a), params3, out_dhw, lift.last))
    k, e = params.kernel_numel, 1.0 / p
    mk = tm.mul_scalar(s, k)
    with np.errstate(all="ignore"):
        # pow backward: grad * (e * mk.pow(e - 1)); mul(k) backward: * k
        g1 = np.multiply(g, tm.mul_scalar(tm.pow(mk, e - 1), e))
        g2 = tm.mul_scalar(g1, k)
        # m = sign(s) * relu(abs(s)): relu's branch gets g2 * sign(s), zero
        # where relu's output is <= 0; abs backward multiplies by sgn(s);
        # sign's branch adds zeros (which turns -0.0 into +0.0).
        sg = tm.sign(s)
        g3 = np.multiply(g2, sg)
        g3[np.abs(s) <= 0] = 0
        g4 = np.multiply(g3, sg, out=g3)
        g4 += g4.dtype.type(0)
        ga = core_op(core, "avg_backward3d")(lift.to_core(g4), params3, lift.spatial(x.shape),
                                             lift.last)
        # pow backward: grad * (p * x.pow(p - 1))
        q = tm.mul_scalar(tm.pow(x, p - 1), p)
        return np.multiply(lift.from_core(ga), q, out=out)

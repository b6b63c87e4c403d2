"""Fractional max pooling's call sequence: argument checks, the random
samples, PyTorch's interval starts.

A core's ``fractional3d(x5, starts, kernel, want_indices, channels_last,
out) -> (y5, idx5 | None)`` pools a validated, non-empty floating (N, C, D,
H, W) array: ``starts`` holds per axis an (N*C, O) int64 array, the
interval starts of plane ``n * C + c``; window i on that axis spans
``[start[i], start[i] + k)``.  The starts are computed here, once, for every
core: they are where PyTorch's float arithmetic lives.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ._api import _lift, _user, core_op
from ._params import (_check_rank, _ntuple, as_array, channels_last,
                      check_average_dtype, check_out)

_AXES = {2: ("height", "width"), 3: ("time", "height", "width")}


def fractional_max_pool(core, nd, x, kernel_size, output_size=None, output_ratio=None,
                        return_indices=False, random_samples=None, data_format=None,
                        rng=None, out=None):
    fn = f"fractional_max_pool{nd}d"
    given = x
    x, lift, k, sizes, shape, u = prepare(fn, nd, x, kernel_size, output_size, output_ratio,
                                          random_samples, data_format, rng)
    outs = check_out(out, fn, shape, x.dtype,
                     {"input": given, "random_samples": random_samples}, return_indices)
    if x.size == 0 or min(sizes) == 0:
        y, idx = (np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int64)) \
            if outs is None else outs
        return (y, idx) if return_indices else y
    starts = all_starts(nd, u, lift.user_spatial(x.shape), sizes, k)
    k3 = (1,) * (3 - nd) + k
    out5 = None if outs is None else (lift.to_core(outs[0]), lift.to_core(outs[1]))
    y5, idx5 = core_op(core, "fractional3d")(lift.to_core(x), tuple(starts), k3,
                                             return_indices, lift.last, out=out5)
    y, idx = _user(outs, 0, y5, lift), _user(outs, 1, idx5, lift)
    return (y, idx) if return_indices else y


def prepare(fn, nd, x, kernel_size, output_size, output_ratio, random_samples, data_format,
            rng):
    """The checked call: (x as an array, its lift, kernel, output spatial
    sizes, output shape, the (batch, channels, nd) samples)."""
    last = channels_last(fn, nd, data_format)
    x = as_array(x, "input", fn)
    check_average_dtype(x.dtype, "input", fn, integer=False)
    _check_rank(x, nd, fn, last)
    lift = _lift(x, nd, last)
    channels = x.shape[-1] if last else x.shape[-nd - 1]
    spatial = lift.user_spatial(x.shape)
    k = _kernel(fn, nd, kernel_size)
    sizes = fractional_output_size(fn, nd, k, output_size, output_ratio, spatial)
    shape = lift.with_user_spatial(x.shape, sizes)
    batch = x.shape[0] if lift.batched else 1
    u = random_samples_for(fn, nd, random_samples, rng, batch, channels, x.dtype)
    return x, lift, k, sizes, shape, u


def all_starts(nd, u, spatial, sizes, k):
    """Per axis (D, H, W: a zero depth for 2-D) the (planes, out) window
    starts of every plane ``n * C + c``."""
    planes = u.reshape(-1, nd)
    # 2-D: sample 0 drives the width, sample 1 the height; 3-D: T, H, W.
    order = (1, 0) if nd == 2 else (0, 1, 2)
    starts = [interval_starts(planes[:, s], n, o, kk)
              for s, n, o, kk in zip(order, spatial, sizes, k)]
    if nd == 2:
        starts.insert(0, np.zeros((planes.shape[0], 1), dtype=np.int64))
    return starts


def _kernel(fn, nd, kernel_size):
    k = _ntuple(kernel_size, "kernel_size", fn, nd)
    if min(k) < 1:
        raise ValueError(f"{fn}: kernel_size should be greater than zero, but got "
                         f"kernel_size={k}")
    return k


def fractional_output_size(fn, nd, k, output_size, output_ratio, spatial):
    """The output's spatial size: ``output_size`` if given, else
    ``int(n * ratio)`` per axis; then PyTorch's fit check (2-D: output +
    kernel - 1 <= input; 3-D: < input, checked for time, width, height)."""
    if output_size is None and output_ratio is None:
        raise ValueError(f"{fn} requires specifying either an output_size or an "
                         f"output_ratio")
    if output_size is not None:
        sizes = _ntuple(output_size, "output_size", fn, nd)
        if min(sizes) < 0:
            raise ValueError(f"{fn}: output_size must be non-negative, but got "
                             f"output_size={sizes}")
    else:
        ratios = _ratios(fn, nd, output_ratio)
        sizes = tuple(int(n * r) for n, r in zip(spatial, ratios))
    names = _AXES[nd]
    check = (0, 1) if nd == 2 else (0, 2, 1)
    for a in check:
        o, kk, n = sizes[a], k[a], spatial[a]
        fits = o + kk - 1 <= n if nd == 2 else o + kk - 1 < n
        if not fits:
            need = "<=" if nd == 2 else "<"
            raise ValueError(
                f"{fn}: pool {names[a]} {kk} too large relative to input {names[a]} {n} "
                f"(output {names[a]} {o}; expected output + kernel_size - 1 {need} input)")
    return sizes


def _ratios(fn, nd, output_ratio):
    values = (tuple(output_ratio) if isinstance(output_ratio, (tuple, list))
              else (output_ratio,))
    if len(values) == 1:
        values = values * nd
    if len(values) != nd:
        raise ValueError(f"{fn}: output_ratio must be a number or a tuple of {nd} numbers, "
                         f"but got output_ratio={output_ratio!r}")
    for r in values:
        if isinstance(r, (bool, np.bool_)) or not isinstance(r, numbers.Real):
            raise TypeError(f"{fn}: output_ratio must be a number or a tuple of {nd} "
                            f"numbers, but got output_ratio={output_ratio!r}")
        if not (math.isfinite(r) and 0 <= r <= 1):
            raise ValueError(f"{fn}: output_ratio must be between 0 and 1, but got "
                             f"output_ratio={output_ratio!r}")
    return values


def random_samples_for(fn, nd, random_samples, rng, batch, channels, dtype):
    """(batch, channels, nd) samples in ``dtype``: the given ones (their
    first ``batch`` rows, converted to the input's dtype, each in [0, 1)),
    or drawn from ``rng`` (a numpy Generator or an int seed) or, with
    rng=None, from NumPy's global generator."""
    if random_samples is None:
        u = _draw(fn, rng, (batch, channels, nd))
        # A draw just below 1 can round up to 1 in a narrower type.
        return np.minimum(u.astype(dtype), np.nextafter(dtype.type(1), dtype.type(0)))
    u = as_array(random_samples, "random_samples", fn)
    if u.dtype.kind != "f":
        raise TypeError(f"{fn}: random_samples must have a floating dtype, but got "
                        f"dtype {u.dtype}")
    want = f"(N >= {batch}, {channels}, {nd})"
    if u.ndim != 3 or u.shape[0] < batch or u.shape[1] != channels or u.shape[2] != nd:
        raise ValueError(f"{fn}: random_samples must have shape {want} for an input of "
                         f"{batch} item(s) of {channels} channel(s), but got shape "
                         f"{u.shape}")
    u = u[:batch].astype(dtype)
    bad = ~((u >= 0) & (u < 1))
    if bad.any():
        raise ValueError(f"{fn}: random_samples must lie in [0, 1) (in the input's dtype "
                         f"{dtype}), but got {u[bad][0].item()!r}")
    return u


def _draw(fn, rng, shape):
    gen = generator(fn, rng)
    return np.random.random_sample(shape) if gen is None else gen.random(shape)


def generator(fn, rng):
    """``rng`` as a numpy Generator (an int seed makes a new one), or None
    for NumPy's global generator."""
    if rng is None or isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, numbers.Integral):
        raise TypeError(f"{fn}: rng must be None, an int seed or a numpy.random.Generator, "
                        f"but got rng={rng!r} ({type(rng).__name__})")
    if rng < 0:
        raise ValueError(f"{fn}: rng must be a non-negative int seed, but got rng={rng}")
    return np.random.default_rng(int(rng))


def check_args(fn, nd, kernel_size, output_size, output_ratio):
    """The arguments checked on their own (no input): the kernel, and
    output_size or output_ratio (as output_size_for checks them)."""
    k = _kernel(fn, nd, kernel_size)
    fractional_output_size(fn, nd, (1,) * nd, output_size, output_ratio, (2**40,) * nd)
    return k


def output_shape(fn, nd, input_shape, kernel_size, output_size, output_ratio, data_format):
    """The shape pooling an input of ``input_shape`` gives (checked as a call)."""
    last = channels_last(fn, nd, data_format)
    shape = tuple(input_shape)
    x = np.lib.stride_tricks.as_strided(np.empty(1, np.float32), shape, (0,) * len(shape))
    _check_rank(x, nd, fn, last)
    lift = _lift(x, nd, last)
    k = _kernel(fn, nd, kernel_size)
    sizes = fractional_output_size(fn, nd, k, output_size, output_ratio,
                                   lift.user_spatial(shape))
    return lift.with_user_spatial(shape, sizes)


def interval_starts(u, n, out, k):
    """PyTorch's generate_intervals for every plane: (P, out) int64 starts
    from P samples ``u`` (in the input's float type), in that type's
    arithmetic: alpha = (n - k) / (out - 1), start i = int((i + u) * alpha)
    - int(u * alpha), the last start n - k."""
    t = u.dtype.type
    seq = np.empty((u.shape[0], out), dtype=np.int64)
    if out > 1:
        alpha = t(n - k) / t(out - 1)
        i = np.arange(out - 1).astype(u.dtype)
        scaled = np.add(i[None, :], u[:, None])
        np.multiply(scaled, alpha, out=scaled)
        body = seq[:, :-1]
        body[...] = scaled        # float to int64: truncation, as static_cast<int>
        body -= (u * alpha).astype(np.int64)[:, None]
    if out > 0:
        seq[:, -1] = n - k
    return seq


__all__ = ["all_starts", "check_args", "fractional_max_pool", "fractional_output_size", "generator",
           "interval_starts", "output_shape", "prepare", "random_samples_for"]

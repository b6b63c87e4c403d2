"""JAX pooling on pooling's kernels, with flax.linen.pooling's calling
convention: ``max_pool``, ``min_pool`` and ``avg_pool`` of channels-last
inputs (any leading batch dimensions), 1-D, 2-D and 3-D windows,
differentiable, under ``jax.jit``, ``jax.vmap``, ``jax.grad`` and
``jax.checkpoint``.

Design:
- The kernels run as XLA custom calls (``jax.ffi``; the handlers are
  pooling._core's, csrc/_xla.pxi), registered on first use: XLA calls them
  on its own threads with its own buffers.  Where they cannot serve (the
  NumPy backend, max and min windows of more than 256 positions,
  POOLING_JAX_CALLBACK=1) the calls go through ``jax.pure_callback``
  instead.  Either way a vmapped call gets one more leading batch
  dimension, which the kernels fold into the batch like the others.
- Gradients are ``jax.custom_vjp`` rules on the same path: max and min
  pooling scatter through the argmax the forward kept (a uint8 window
  offset per output through the custom calls, int32 flat indices through
  the callbacks; ties go to the first maximum in window order, as XLA's
  ``select_and_scatter`` with ``>=`` does), average pooling through
  pooling's average backward.
- Windows follow ``lax.reduce_window`` with flax's padding: "VALID",
  "SAME" (``lax.padtype_to_pads``) or ``(low, high)`` pairs.  They are
  handed to the kernels as PyTorch windows when that is exact (padding
  ``low`` on both sides, at most half the window, and ``ceil_mode`` making
  the count of windows match: ``(0, 1)`` is ``ceil_mode`` with no padding),
  else the input is padded first (-inf for max, 0 for sums: in the graph
  for the custom calls, on the host for the callbacks) and pooled without
  padding.
- Average pooling sums each window in window order in float32 (float16,
  bfloat16) or float64, then divides once: by the window's size
  (``count_include_pad=True``, pooling's ``divisor_override``) or by its
  elements inside the input; XLA sums in an order of its own, so results
  agree within 2 ulp, not bit for bit.  Max and min are exact.
- bfloat16 is computed in float32 (exact for max and min) and rounded back.
- Arrays on other devices (a GPU or TPU backend) go to ``lax.reduce_window``.

Examples
--------
>>> import jax.numpy as jnp
>>> import pooling.layers.jax as pj
>>> x = jnp.arange(32.0).reshape(1, 4, 4, 2)
>>> pj.max_pool(x, (2, 2), strides=(2, 2))[0, :, :, 0].tolist()
[[10.0, 14.0], [26.0, 30.0]]
>>> pj.avg_pool(x, (2, 2), strides=(2, 2), padding="SAME").shape
(1, 2, 2, 2)
"""
from __future__ import annotations

import os
import re
from functools import partial
from typing import Any, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

import jax
import jax.numpy as jnp
from jax import lax

from .. import _api
from .._core import backend as _backend
from .._params import LAYOUTS, output_length

__all__ = ["avg_pool", "max_pool", "min_pool"]

Padding = Union[str, Sequence[Tuple[int, int]]]


class _Spec(NamedTuple):
    """One call's windows (hashable: custom_vjp's static argument)."""
    nd: int
    window: Tuple[int, ...]
    stride: Tuple[int, ...]
    kpad: Tuple[int, ...]          # PyTorch padding the kernels apply
    ceil: bool                     # ... with ceil_mode
    host: Optional[Tuple[Tuple[int, int], ...]]   # else: padded before the kernels
    out: Tuple[int, ...]           # output spatial sizes
    ffi: bool                      # the XLA custom calls (else the callbacks)


# ------------------------------------------------------------ argument plan

def _plan(shape, window_shape, strides, padding, fn, op="max"):
    """The _Spec of a call on an input of ``shape`` (``op``: "max" or "avg")."""
    try:
        window = tuple(int(w) for w in window_shape)
    except TypeError:
        raise TypeError(f"{fn}: window_shape must be a sequence of ints, but got "
                        f"window_shape={window_shape!r}") from None
    nd = len(window)
    if nd not in (1, 2, 3) or min(window) < 1:
        raise ValueError(f"{fn}: window_shape must have 1 to 3 sizes >= 1, but got "
                         f"window_shape={window_shape!r}")
    if len(shape) < nd + 1:
        raise ValueError(f"{fn}: inputs must have the window's {nd} dimensions and features "
                         f"after any batch dimensions, but got shape {tuple(shape)}")
    stride = (1,) * nd if strides is None else tuple(int(s) for s in strides)
    if len(stride) != nd or min(stride) < 1:
        raise ValueError(f"{fn}: strides must be None or {nd} ints >= 1, but got "
                         f"strides={strides!r}")
    spatial = tuple(shape[-nd - 1:-1])
    if isinstance(padding, str):
        if padding.upper() not in ("VALID", "SAME"):
            raise ValueError(f"{fn}: padding must be 'VALID', 'SAME' or {nd} (low, high) "
                             f"pairs, but got padding={padding!r}")
        pads = tuple(lax.padtype_to_pads(spatial, window, stride, padding.upper()))
    else:
        try:
            pads = tuple((int(lo), int(hi)) for lo, hi in padding)
        except (TypeError, ValueError):
            pads = ()
        if len(pads) != nd or min(min(p) for p in pads) < 0:
            raise ValueError(f"{fn}: padding must be 'VALID', 'SAME' or {nd} (low, high) "
                             f"pairs of ints >= 0, but got padding={padding!r}")
    out = tuple((n + lo + hi - k) // s + 1 if n + lo + hi >= k else 0
                for n, k, s, (lo, hi) in zip(spatial, window, stride, pads))
    if min(out) < 1:
        raise ValueError(f"{fn}: the padded input {spatial} is smaller than the window "
                         f"{window} (padding {pads})")
    kernel_pad, ceil, host = [], False, None
    for ceil_mode in (False, True):
        # (PyTorch's windows: padding at most half the window, the window no
        # larger than the input, as PyTorch's 3-D average requires, and as
        # many windows as reduce_window's)
        ok = all(2 * lo <= k and n >= k
                 and output_length(n, k, s, lo, 1, ceil_mode) == o
                 for n, k, s, (lo, hi), o in zip(spatial, window, stride, pads, out))
        if ok:
            kernel_pad, ceil = [lo for lo, _ in pads], ceil_mode
            break
    else:
        host = pads
        kernel_pad = [0] * nd
    ffi = _ffi_ready() and (op == "avg" or int(np.prod(window)) <= _MAX_OFFSETS)
    return _Spec(nd, window, stride, tuple(kernel_pad), ceil, host, out, ffi)


# -------------------------------------------------------------- host side

def _fold(a, nd):
    """(N, *spatial, C): every leading dimension folded into one batch."""
    return a.reshape((-1,) + a.shape[-nd - 1:])


def _work(a):
    """The dtype the kernels compute in: bfloat16 (which they lack) as float32."""
    return a.astype(np.float32) if a.dtype.name == "bfloat16" else a


def _host_pad(a, nd, host, value):
    if host is None:
        return a
    width = [(0, 0)] + list(host) + [(0, 0)]
    return np.pad(a, width, constant_values=value)


def _out_shape(shape, spec):
    """The outputs' shape for an input of ``shape``."""
    return tuple(shape[:-spec.nd - 1]) + spec.out + tuple(shape[-1:])


def _padded(shape, nd, host):
    """``shape`` with the host padding added to its window dimensions."""
    if host is None:
        return tuple(shape)
    spatial = tuple(n + lo + hi for n, (lo, hi) in zip(shape[-nd - 1:-1], host))
    return tuple(shape[:-nd - 1]) + spatial + tuple(shape[-1:])


def _padded_input(gf, shape, nd, host):
    """The (N, *spatial, C) input shape the kernels saw: host padding included."""
    return (gf.shape[0],) + _padded(shape, nd, host)[-nd - 1:]


def _unpad(gi, shape, nd, host, dtype):
    """A gradient of the kernels' input as one of the caller's: host padding
    cut off, the caller's dtype and leading dimensions."""
    if host is not None:
        gi = gi[(slice(None),) + tuple(slice(lo, lo + n) for (lo, _), n in
                                       zip(host, shape[-nd - 1:-1]))]
    return np.ascontiguousarray(gi).astype(dtype, copy=False).reshape(shape)


def _threads(fn, *args, **kwargs):
    return _backend.with_thread_limit(0, fn, *args, **kwargs)


def _max_host(x, spec, negate):
    nd, window, stride, kpad, ceil, host = spec[:6]
    a = _fold(np.asarray(x), nd)
    dtype = a.dtype
    a = _work(a)
    if negate:
        a = np.negative(a)
    a = _host_pad(a, nd, host, -np.inf)
    y, idx = _threads(_api.max_pool, _backend.core(), nd, a, window, stride, kpad, 1, ceil,
                      True, LAYOUTS[nd][1])
    if negate:
        y = np.negative(y)
    lead = x.shape[:-nd - 1]
    return (y.astype(dtype, copy=False).reshape(lead + y.shape[1:]),
            idx.astype(np.int32).reshape(lead + y.shape[1:]))


def _max_back_host(g, idx, spec, shape):
    # (min pooling too: its indices point at the minima)
    nd, host = spec.nd, spec.host
    gf = _fold(np.asarray(g), nd)
    dtype = gf.dtype
    gf = _work(gf)
    gi = _threads(_api.max_pool_backward, _backend.core(), nd, gf,
                  _fold(np.asarray(idx), nd).astype(np.int64),
                  _padded_input(gf, shape, nd, host), LAYOUTS[nd][1])
    return _unpad(gi, shape, nd, host, dtype)


def _avg_host(x, spec, count_include_pad):
    nd, window, stride, kpad, ceil, host = spec[:6]
    a = _fold(np.asarray(x), nd)
    dtype = a.dtype
    a = _host_pad(_work(a), nd, host, 0)
    div, cip = _divisor(window, host, count_include_pad)
    y = _threads(_api.avg_pool, _backend.core(), nd, a, window, stride, kpad, ceil, cip, div,
                 LAYOUTS[nd][1])
    if host is not None and not count_include_pad:
        with np.errstate(invalid="ignore"):   # (a window wholly in the padding: 0 / 0, as flax)
            y = y / _counts(x.shape, spec).astype(y.dtype)
    lead = x.shape[:-nd - 1]
    return y.astype(dtype, copy=False).reshape(lead + y.shape[1:])


def _avg_back_host(g, spec, shape, count_include_pad):
    nd, window, stride, kpad, ceil, host = spec[:6]
    gf = _fold(np.asarray(g), nd)
    dtype = gf.dtype
    gf = _work(gf)
    div, cip = _divisor(window, host, count_include_pad)
    if host is not None and not count_include_pad:
        with np.errstate(invalid="ignore", divide="ignore"):
            gf = gf / _counts(shape, spec).astype(gf.dtype)
    gi = _threads(_api.avg_pool_backward, _backend.core(), nd, gf,
                  _padded_input(gf, shape, nd, host), window, stride, kpad, ceil, cip, div,
                  LAYOUTS[nd][1])
    return _unpad(gi, shape, nd, host, dtype)


def _divisor(window, host, count_include_pad):
    """(divisor_override, count_include_pad) for the kernels: flax divides by
    the window's size, or by its elements inside the input; with host
    padding the latter divides afterwards (a divisor of 1: the sums)."""
    if count_include_pad:
        return int(np.prod(window)), True
    if host is not None:
        return 1, True
    return None, False


def _counts(shape, spec):
    """Each window's elements inside the input, (1, *out, 1), for host-padded
    averages without the padding."""
    nd, window, host, out = spec.nd, spec.window, spec.host, spec.out
    ones = np.ones((1,) + tuple(shape[-nd - 1:-1]) + (1,), np.float64)
    ones = _host_pad(ones, nd, host, 0)
    return _api.avg_pool(_backend.core(), nd, ones, window, spec.stride, 0, False, True, 1,
                         LAYOUTS[nd][1])


# -------------------------------------------------------------- XLA side

# Windows of at most this many positions keep the argmax as one byte per
# output (window offsets, the layer's cache); larger ones take the callbacks.
_MAX_OFFSETS = 256
_registered: Optional[bool] = None
# POOLING_JAX_CALLBACK=1: every call through the callbacks (what the custom
# calls replaced; for comparison and as a way around them)
_callbacks_only = os.environ.get("POOLING_JAX_CALLBACK") == "1"


def _ffi_api_version():
    """(major, minor) of the XLA FFI API of the installed jaxlib, from the
    C header it ships, or None."""
    try:
        path = os.path.join(jax.ffi.include_dir(), "xla", "ffi", "api", "c_api.h")
        with open(path) as f:
            text = f.read()
    except (AttributeError, OSError):
        return None
    found = [re.search(rf"#define XLA_FFI_API_{part}\s+(\d+)", text) for part in
             ("MAJOR", "MINOR")]
    if None in found:
        return None
    return tuple(int(m.group(1)) for m in found)


def _ffi_ready() -> bool:
    """Whether the kernels serve as XLA custom calls: the compiled core is
    the backend, and its handlers are registered (once, on first use) with
    an FFI API whose layouts they know (major version 0)."""
    global _registered
    core = _backend.core()
    if _callbacks_only or not hasattr(core, "xla_handlers"):
        return False
    if _registered is None:
        version = _ffi_api_version()
        _registered = False
        if version is not None and version[0] == 0:
            try:
                for name, capsule in core.xla_handlers(*version).items():
                    jax.ffi.register_ffi_target(name, capsule, platform="cpu")
                _registered = True
            except Exception:   # (an XLA that refuses them: the callbacks serve)
                _registered = False
    return _registered


def _params(spec, divisor=0, count_pad=False):
    """The handlers' attribute: nd, then window, strides and kernel padding
    on three axes (1-D and 2-D lifted as pooling._api does), divisor,
    count_include_pad."""
    lift = (1,) * (3 - spec.nd)
    pad0 = (0,) * (3 - spec.nd)
    return np.array((spec.nd,) + lift + spec.window + lift + spec.stride + pad0 + spec.kpad
                    + (int(divisor or 0), int(count_pad)), np.int64)


def _xla(target, results, *args, p):
    return jax.ffi.ffi_call(target, results, vmap_method="broadcast_all")(*args, p=p)


def _lifted(x):
    """The values the kernels compute in: float32 for float16 and bfloat16
    (exact for max and min; sums in float32, as the kernels' float16)."""
    return x.astype(jnp.float32) if x.dtype in (jnp.float16, jnp.bfloat16) else x


def _pad(x, spec, value):
    """Host padding (windows the kernels' PyTorch padding cannot give), in
    the graph: XLA fuses it with what feeds the call."""
    if spec.host is None:
        return x
    lead = x.ndim - spec.nd - 1
    config = [(0, 0, 0)] * lead + [(lo, hi, 0) for lo, hi in spec.host] + [(0, 0, 0)]
    return lax.pad(x, jnp.asarray(value, x.dtype), config)


def _cut(gx, spec, shape):
    """A gradient of the padded input as one of the input's (host padding cut off)."""
    if spec.host is None:
        return gx
    lead = len(shape) - spec.nd - 1
    starts = (0,) * lead + tuple(lo for lo, _ in spec.host) + (0,)
    return lax.slice(gx, starts, tuple(s + n for s, n in zip(starts, shape)))


def _max_xla(x, spec, negate):
    a = _lifted(x)
    a = _pad(-a if negate else a, spec, -jnp.inf)
    out = _out_shape(a.shape, spec)
    y, idx = _xla("pooling_max", (jax.ShapeDtypeStruct(out, a.dtype),
                                  jax.ShapeDtypeStruct(out, jnp.uint8)), a, p=_params(spec))
    return (-y if negate else y).astype(x.dtype), idx


def _max_grad_xla(g, idx, spec, shape):
    # (min pooling too: its offsets point at the minima, and the negations
    # around the max cancel in the gradient)
    gl = _lifted(g)
    padded = _padded(shape, spec.nd, spec.host)
    gx = _xla("pooling_max_grad", jax.ShapeDtypeStruct(padded, gl.dtype), gl, idx,
              p=_params(spec))
    return _cut(gx, spec, shape).astype(g.dtype)


def _avg_xla(x, spec, count_include_pad):
    a = _pad(_lifted(x), spec, 0)
    div, cip = _divisor(spec.window, spec.host, count_include_pad)
    out = _out_shape(a.shape, spec)
    y = _xla("pooling_avg", jax.ShapeDtypeStruct(out, a.dtype), a,
             p=_params(spec, div, cip))
    if spec.host is not None and not count_include_pad:
        y = y / _counts_in(x.shape, spec, y.dtype)
    return y.astype(x.dtype)


def _avg_grad_xla(g, spec, shape, count_include_pad):
    gl = _lifted(g)
    div, cip = _divisor(spec.window, spec.host, count_include_pad)
    if spec.host is not None and not count_include_pad:
        gl = gl / _counts_in(shape, spec, gl.dtype)
    padded = _padded(shape, spec.nd, spec.host)
    gx = _xla("pooling_avg_grad", jax.ShapeDtypeStruct(padded, gl.dtype), gl,
              p=_params(spec, div, cip))
    return _cut(gx, spec, shape).astype(g.dtype)


def _counts_in(shape, spec, dtype):
    """_counts as a constant that broadcasts against outputs of inputs of ``shape``."""
    c = _counts(shape, spec)
    return jnp.asarray(c.reshape((1,) * (len(shape) - spec.nd - 1) + c.shape[1:]), dtype)


# -------------------------------------------------------------- JAX side

def _callback(fn, shapes, *args):
    return jax.pure_callback(fn, shapes, *args, vmap_method="expand_dims")


@partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _max(x, spec, negate):
    return _max_fwd(x, spec, negate)[0]


def _max_fwd(x, spec, negate):
    if spec.ffi:
        y, idx = _max_xla(x, spec, negate)
        return y, (idx, x.shape)
    out = _out_shape(x.shape, spec)
    y, idx = _callback(partial(_max_host, spec=spec, negate=negate),
                       (jax.ShapeDtypeStruct(out, x.dtype),
                        jax.ShapeDtypeStruct(out, jnp.int32)), x)
    return y, (idx, x.shape)


def _max_bwd(spec, negate, res, g):
    idx, shape = res
    if spec.ffi:
        return (_max_grad_xla(g, idx, spec, shape),)
    gx = _callback(partial(_max_back_host, spec=spec, shape=shape),
                   jax.ShapeDtypeStruct(shape, g.dtype), g, idx)
    return (gx,)


_max.defvjp(_max_fwd, _max_bwd)


@partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _avg(x, spec, count_include_pad):
    if spec.ffi:
        return _avg_xla(x, spec, count_include_pad)
    out = _out_shape(x.shape, spec)
    return _callback(partial(_avg_host, spec=spec, count_include_pad=count_include_pad),
                     jax.ShapeDtypeStruct(out, x.dtype), x)


def _avg_fwd(x, spec, count_include_pad):
    return _avg(x, spec, count_include_pad), x.shape


def _avg_bwd(spec, count_include_pad, shape, g):
    if spec.ffi:
        return (_avg_grad_xla(g, spec, shape, count_include_pad),)
    gx = _callback(partial(_avg_back_host, spec=spec, shape=shape,
                           count_include_pad=count_include_pad),
                   jax.ShapeDtypeStruct(shape, g.dtype), g)
    return (gx,)


_avg.defvjp(_avg_fwd, _avg_bwd)


_FLOATS = ("float16", "bfloat16", "float32", "float64")


def _check(inputs, fn):
    if not hasattr(inputs, "shape") or not hasattr(inputs, "dtype"):
        inputs = jnp.asarray(inputs)
    if jnp.dtype(inputs.dtype).name not in _FLOATS:
        raise TypeError(f"{fn}: inputs must be float16, bfloat16, float32 or float64, but got "
                        f"dtype {inputs.dtype}")
    return inputs


def _on_host() -> bool:
    return jax.default_backend() == "cpu"


def _lax_pool(inputs, init, op, window, strides, padding):
    """flax.linen.pooling.pool: lax.reduce_window over the window axes."""
    nd = len(window)
    lead = inputs.ndim - nd - 1
    stride = (1,) * nd if strides is None else tuple(strides)
    pad = padding if isinstance(padding, str) else \
        ((0, 0),) * lead + tuple(tuple(p) for p in padding) + ((0, 0),)
    return lax.reduce_window(inputs, init, op, (1,) * lead + tuple(window) + (1,),
                             (1,) * lead + stride + (1,), pad)


def max_pool(inputs: Any, window_shape: Sequence[int], strides: Any = None,
             padding: Padding = "VALID") -> Any:
    """``flax.linen.max_pool``: the maximum of each window of a channels-last
    array (leading batch dimensions, then the window's dimensions, then
    features); ``strides`` None means 1; ``padding`` "VALID", "SAME" or
    (low, high) pairs.  Equal to ``lax.reduce_window`` bit for bit.

    Examples
    --------
    >>> x = jnp.array([[[1.0], [5.0], [2.0], [4.0]]])          # (batch, width, features)
    >>> max_pool(x, (2,), strides=(2,))[0, :, 0].tolist()
    [5.0, 4.0]
    """
    inputs = _check(inputs, "max_pool")
    if not _on_host():
        return _lax_pool(inputs, -jnp.inf, lax.max, window_shape, strides, padding)
    return _max(inputs, _plan(inputs.shape, window_shape, strides, padding, "max_pool"), False)


def min_pool(inputs: Any, window_shape: Sequence[int], strides: Any = None,
             padding: Padding = "VALID") -> Any:
    """``flax.linen.min_pool``: the minimum of each window (the max of the
    negated values, negated: exact), otherwise as ``max_pool``.

    Examples
    --------
    >>> x = jnp.array([[[1.0], [5.0], [2.0], [4.0]]])
    >>> min_pool(x, (2,), strides=(2,))[0, :, 0].tolist()
    [1.0, 2.0]
    """
    inputs = _check(inputs, "min_pool")
    if not _on_host():
        return _lax_pool(inputs, jnp.inf, lax.min, window_shape, strides, padding)
    return _max(inputs, _plan(inputs.shape, window_shape, strides, padding, "min_pool"), True)


def avg_pool(inputs: Any, window_shape: Sequence[int], strides: Any = None,
             padding: Padding = "VALID", count_include_pad: bool = True) -> Any:
    """``flax.linen.avg_pool``: each window's sum divided by the window's
    size (``count_include_pad=True``) or by its elements inside the input;
    within 2 ulp of flax's (another summation order).

    Examples
    --------
    >>> x = jnp.array([[[1.0], [5.0], [2.0], [4.0]]])
    >>> avg_pool(x, (2,), strides=(2,))[0, :, 0].tolist()
    [3.0, 3.0]
    >>> y = jnp.array([[[1.0], [5.0], [3.0], [4.0]]])          # SAME: windows 1,5,3 and 3,4
    >>> avg_pool(y, (3,), strides=(2,), padding="SAME", count_include_pad=False)[0, :, 0].tolist()
    [3.0, 3.5]
    """
    inputs = _check(inputs, "avg_pool")
    if not _on_host():
        y = _lax_pool(inputs, 0.0, lax.add, window_shape, strides, padding)
        if count_include_pad:
            return y / np.prod(window_shape)
        ones = jnp.ones((1,) * (inputs.ndim - len(window_shape) - 1)
                        + inputs.shape[-len(window_shape) - 1:-1] + (1,), inputs.dtype)
        return y / _lax_pool(ones, 0.0, lax.add, window_shape, strides, padding)
    return _avg(inputs, _plan(inputs.shape, window_shape, strides, padding, "avg_pool", "avg"),
                bool(count_include_pad))

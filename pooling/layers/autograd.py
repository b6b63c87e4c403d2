"""pooling's functions as HIPS autograd primitives, so ``autograd.grad`` works
through them.

    import autograd.numpy as anp
    from autograd import grad
    from pooling.layers import autograd as P

    loss = lambda x: anp.sum(P.max_pool2d(x, 2) ** 2)
    dx = grad(loss)(x)

Each function has ``pooling.functional``'s signature (``data_format``
included; no ``out=``, which autograd's values cannot be written into) and
returns what it returns.  Gradients are computed by pooling's own backward
functions, so they equal ``pooling.max_pool2d_backward`` and the others (and
the NumPy layers' ``backward``) bit for bit.  Only the pooled input is
differentiable: indices, sizes and ``random_samples`` are not.

Why the design is as it is:

- Max pooling (plain, adaptive, fractional) is computed once, with indices,
  on the unboxed input; the values then pass through ``_routed(x, y, idx)``,
  a primitive whose value is ``y`` and whose vjp scatters the incoming
  gradient at ``idx`` (``max_pool*_backward``).  The alternative, one
  primitive returning the pair ``(y, idx)`` with the values wrapper taking
  ``[0]``, makes autograd box the tuple and add a ``container_take`` node,
  whose vjp builds zeros for the whole tuple (values and int64 indices)
  and adds the incoming gradient into them: a copy of the gradient and an
  index-sized allocation per step, measurably slower on mid-sized inputs
  (docs/performance.md, "HIPS autograd"); and the indices it hands out are
  boxed.  Here they are plain int64 arrays (``max_unpool*`` reads them as
  they are) and the graph has one node per pool.
- Every primitive takes the array positionally and the settings as one
  normalised tuple, because autograd traces positional arguments only and
  passes the vjp maker the arguments exactly as the primitive got them.
- The backward steps are primitives too, each the adjoint of another:
  scatter (``max_pool*_backward``) and gather (max_unpool's gradient) of
  each other, ``avg_pool*_backward`` and ``adaptive_avg_pool*_backward`` of
  their forwards.  So gradients of gradients (Hessian-vector products)
  work through max, average and adaptive average pooling and unpooling.
  ``lp_pool*_backward`` has no vjp: differentiating it twice raises
  autograd's NotImplementedError.

This module imports autograd; ``import pooling`` does not.
"""
from __future__ import annotations

import numpy as np
from autograd.extend import defvjp, primitive
from autograd.tracer import getval

from .. import _api
from .. import functional as F
from .._params import channels_last

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "avg_pool1d", "avg_pool2d", "avg_pool3d", "fractional_max_pool2d",
           "fractional_max_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d",
           "max_pool1d", "max_pool2d", "max_pool3d", "max_unpool1d", "max_unpool2d",
           "max_unpool3d"]

_SCATTER = {1: F.max_pool1d_backward, 2: F.max_pool2d_backward, 3: F.max_pool3d_backward}
_UNPOOL = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}
_AVG_BACKWARD = {1: F.avg_pool1d_backward, 2: F.avg_pool2d_backward,
                 3: F.avg_pool3d_backward}
_ADAPTIVE_AVG = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d,
                 3: F.adaptive_avg_pool3d}
_ADAPTIVE_AVG_BACKWARD = {1: F.adaptive_avg_pool1d_backward, 2: F.adaptive_avg_pool2d_backward,
                          3: F.adaptive_avg_pool3d_backward}
_LP = {1: F.lp_pool1d, 2: F.lp_pool2d, 3: F.lp_pool3d}
_LP_BACKWARD = {1: F.lp_pool1d_backward, 2: F.lp_pool2d_backward, 3: F.lp_pool3d_backward}


# -- the primitives: (array, nd, settings) -> array ---------------------------

@primitive
def _routed(x, y, idx, nd, data_format):
    """``y``, the max pooling of ``x`` with argmax ``idx`` (see the module
    docstring): its gradient goes to x at idx."""
    return y


@primitive
def _scatter(g, idx, shape, nd, data_format):
    """Each g element added at its index in zeros of ``shape``."""
    return _SCATTER[nd](g, idx, shape, data_format)


@primitive
def _gather(g, idx, nd, data_format):
    """g read at each index (idx's shape): the adjoint of _scatter."""
    g = np.asarray(g)
    lift = _api._lift(g, nd, channels_last(f"max_unpool{nd}d", nd, data_format))
    g5, idx5 = lift.to_core(g), lift.to_core(np.asarray(idx))
    planes = (g5.shape[0] * g5.shape[1], -1) if g5.size else (0, 0)
    got = np.take_along_axis(g5.reshape(planes), idx5.reshape(planes).astype(np.intp), axis=1)
    return lift.from_core(got.reshape(idx5.shape))


@primitive
def _unpool(x, idx, nd, args):
    return _UNPOOL[nd](x, idx, *args)


@primitive
def _avg(x, nd, args):
    return _AVG[nd](x, *args)


@primitive
def _avg_backward(g, shape, nd, args):
    return _AVG_BACKWARD[nd](g, shape, *args)


@primitive
def _adaptive_avg(x, nd, output_size, data_format):
    return _ADAPTIVE_AVG[nd](x, output_size, data_format)


@primitive
def _adaptive_avg_backward(g, shape, nd, data_format):
    return _ADAPTIVE_AVG_BACKWARD[nd](g, shape, data_format)


@primitive
def _lp(x, nd, args):
    return _LP[nd](x, *args)


@primitive
def _lp_backward(g, x, nd, args):
    return _LP_BACKWARD[nd](g, x, *args)


def _spatial(a, nd, data_format):
    """The spatial sizes of a's shape: the adaptive output size that gives it."""
    last = channels_last(f"adaptive_avg_pool{nd}d", nd, data_format)
    shape = np.shape(a)
    return tuple(shape[-nd - 1:-1]) if last else tuple(shape[-nd:])


defvjp(_routed, lambda y, x, y_, idx, nd, fmt: lambda g: _scatter(g, idx, np.shape(x), nd, fmt))
defvjp(_scatter, lambda ans, g, idx, shape, nd, fmt: lambda gg: _gather(gg, idx, nd, fmt))
defvjp(_gather, lambda ans, g, idx, nd, fmt:
       lambda gg: _scatter(gg, idx, np.shape(g), nd, fmt))
defvjp(_unpool, lambda ans, x, idx, nd, args: lambda g: _gather(g, idx, nd, args[-1]))
defvjp(_avg, lambda ans, x, nd, args: lambda g: _avg_backward(g, np.shape(x), nd, args))
defvjp(_avg_backward, lambda ans, g, shape, nd, args: lambda gg: _avg(gg, nd, args))
defvjp(_adaptive_avg, lambda ans, x, nd, size, fmt:
       lambda g: _adaptive_avg_backward(g, np.shape(x), nd, fmt))
defvjp(_adaptive_avg_backward, lambda ans, g, shape, nd, fmt:
       lambda gg: _adaptive_avg(gg, nd, _spatial(g, nd, fmt), fmt))
defvjp(_lp, lambda ans, x, nd, args: lambda g: _lp_backward(g, x, nd, args))


def _max(nd, pair, return_indices, x, data_format):
    """(y, idx) from ``pair`` (computed on x's value) routed back to x."""
    y, idx = pair
    y = _routed(x, y, idx, nd, data_format)
    return (y, idx) if return_indices else y


# -- the functions, with pooling.functional's signatures ------------------------

def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, data_format="NCL"):
    """:func:`pooling.max_pool1d`, differentiable in ``x``."""
    pair = F.max_pool1d(getval(x), kernel_size, stride, padding, dilation, ceil_mode, True,
                        data_format)
    return _max(1, pair, return_indices, x, data_format)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, data_format="NCHW"):
    """:func:`pooling.max_pool2d`, differentiable in ``x`` (the indices,
    with ``return_indices``, are a plain int64 array)."""
    pair = F.max_pool2d(getval(x), kernel_size, stride, padding, dilation, ceil_mode, True,
                        data_format)
    return _max(2, pair, return_indices, x, data_format)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, data_format="NCDHW"):
    """:func:`pooling.max_pool3d`, differentiable in ``x``."""
    pair = F.max_pool3d(getval(x), kernel_size, stride, padding, dilation, ceil_mode, True,
                        data_format)
    return _max(3, pair, return_indices, x, data_format)


def adaptive_max_pool1d(x, output_size, return_indices=False, data_format="NCL"):
    """:func:`pooling.adaptive_max_pool1d`, differentiable in ``x``."""
    pair = F.adaptive_max_pool1d(getval(x), output_size, True, data_format)
    return _max(1, pair, return_indices, x, data_format)


def adaptive_max_pool2d(x, output_size, return_indices=False, data_format="NCHW"):
    """:func:`pooling.adaptive_max_pool2d`, differentiable in ``x``."""
    pair = F.adaptive_max_pool2d(getval(x), output_size, True, data_format)
    return _max(2, pair, return_indices, x, data_format)


def adaptive_max_pool3d(x, output_size, return_indices=False, data_format="NCDHW"):
    """:func:`pooling.adaptive_max_pool3d`, differentiable in ``x``."""
    pair = F.adaptive_max_pool3d(getval(x), output_size, True, data_format)
    return _max(3, pair, return_indices, x, data_format)


def fractional_max_pool2d(x, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, random_samples=None, data_format="NCHW", *,
                          rng=None):
    """:func:`pooling.fractional_max_pool2d`, differentiable in ``x``: the
    gradient goes through the windows this call drew."""
    pair = F.fractional_max_pool2d(getval(x), kernel_size, output_size, output_ratio, True,
                                   random_samples, data_format, rng=rng)
    return _max(2, pair, return_indices, x, data_format)


def fractional_max_pool3d(x, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, random_samples=None, data_format="NCDHW", *,
                          rng=None):
    """:func:`pooling.fractional_max_pool3d`, differentiable in ``x``."""
    pair = F.fractional_max_pool3d(getval(x), kernel_size, output_size, output_ratio, True,
                                   random_samples, data_format, rng=rng)
    return _max(3, pair, return_indices, x, data_format)


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 data_format="NCL"):
    """:func:`pooling.max_unpool1d`, differentiable in ``x`` (its gradient
    is the incoming gradient read at ``indices``)."""
    return _unpool(x, indices, 1, (kernel_size, stride, padding, output_size, data_format))


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 data_format="NCHW"):
    """:func:`pooling.max_unpool2d`, differentiable in ``x``."""
    return _unpool(x, indices, 2, (kernel_size, stride, padding, output_size, data_format))


def max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 data_format="NCDHW"):
    """:func:`pooling.max_unpool3d`, differentiable in ``x``."""
    return _unpool(x, indices, 3, (kernel_size, stride, padding, output_size, data_format))


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, data_format="NCL"):
    """:func:`pooling.avg_pool1d`, differentiable in ``x``."""
    return _avg(x, 1, (kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override, data_format))


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, data_format="NCHW"):
    """:func:`pooling.avg_pool2d`, differentiable in ``x``."""
    return _avg(x, 2, (kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override, data_format))


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, data_format="NCDHW"):
    """:func:`pooling.avg_pool3d`, differentiable in ``x``."""
    return _avg(x, 3, (kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override, data_format))


def adaptive_avg_pool1d(x, output_size, data_format="NCL"):
    """:func:`pooling.adaptive_avg_pool1d`, differentiable in ``x``."""
    return _adaptive_avg(x, 1, output_size, data_format)


def adaptive_avg_pool2d(x, output_size, data_format="NCHW"):
    """:func:`pooling.adaptive_avg_pool2d`, differentiable in ``x``."""
    return _adaptive_avg(x, 2, output_size, data_format)


def adaptive_avg_pool3d(x, output_size, data_format="NCDHW"):
    """:func:`pooling.adaptive_avg_pool3d`, differentiable in ``x``."""
    return _adaptive_avg(x, 3, output_size, data_format)


def lp_pool1d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCL"):
    """:func:`pooling.lp_pool1d`, differentiable in ``x`` (once)."""
    return _lp(x, 1, (norm_type, kernel_size, stride, ceil_mode, data_format))


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCHW"):
    """:func:`pooling.lp_pool2d`, differentiable in ``x`` (once)."""
    return _lp(x, 2, (norm_type, kernel_size, stride, ceil_mode, data_format))


def lp_pool3d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCDHW"):
    """:func:`pooling.lp_pool3d`, differentiable in ``x`` (once)."""
    return _lp(x, 3, (norm_type, kernel_size, stride, ceil_mode, data_format))

"""pooling's kernels as PyTorch custom operators, ``torch.ops.pooling.*``.

Design:
- One operator per operation and direction, for every dimensionality: the
  number of spatial axes is the length of ``kernel_size`` or
  ``output_size`` (backward operators take it as ``nd``).  The forward
  operators' gradients are registered (``register_autograd``) and call the
  backward operators, so autograd, ``torch.compile`` (AOTAutograd) and
  ``torch.export`` see one opaque node each way and trace nothing inside.
- Each implementation hands NumPy views of the tensors to pooling's
  functions (``_api``, which checks the arguments and raises pooling's
  errors) and wraps the fresh NumPy results with ``torch.from_numpy``: no
  copies beyond what the kernels allocate.  Channels-last tensors are given
  to the kernels as NHWC/NDHWC views and their results come back as
  channels-last tensors, because PyTorch's own operator answers in the
  layout in ``_KEEPS_LAST`` (checked against PyTorch in the tests).
- Fake (meta) implementations compute shapes with plain arithmetic that
  works on symbolic sizes (``torch.compile(dynamic=True)``, opcheck's
  dynamic-shape test); the argument checks run in the real implementation.
- ``max_pool`` (values only) recomputes the argmax in its backward: the
  functionals call ``max_pool_with_indices`` whenever a gradient is wanted,
  so that path only serves direct callers of the operator.
- Indices are int64 flat positions in one input plane, as PyTorch's.
"""
from __future__ import annotations

import functools
import math
from typing import Optional

import torch
from torch import Tensor

from ... import _api, _fractional
from ..._core import backend as _backend
from ..._params import LAYOUTS, normalize_avg_args, normalize_pool_args, output_length
from ._errors import PoolingValueError

__all__ = ["OPS", "keeps_last"]

OPS: dict = {}  # name -> the registered operator (torch.ops.pooling.<name>)


def torch_threads(fn):
    """``fn`` with the kernels at PyTorch's thread count: a call runs with
    ``torch.get_num_threads()`` of the calling thread (capped by
    pooling.set_num_threads), so that torch.set_num_threads governs both,
    in a DataLoader worker too (Design T in csrc/maxpool.pyx)."""
    limited, threads = _backend.with_thread_limit, torch.get_num_threads

    @functools.wraps(fn)
    def call(*args, **kwargs):
        return limited(threads(), fn, *args, **kwargs)
    return call


def _op(fn):
    """Register ``fn`` (at PyTorch's thread count) as ``pooling::<its
    name>`` and return it: the functionals call it directly on their eager
    path without autograd."""
    fn = torch_threads(fn)
    OPS[fn.__name__] = torch.library.custom_op(f"pooling::{fn.__name__}", fn, mutates_args=(),
                                               device_types="cpu")
    return fn

# Operation -> dimensionalities whose PyTorch CPU operator returns a
# channels-last result for a channels-last input (forward and gradient).
_KEEPS_LAST = {"max": (2, 3), "avg": (2,), "adaptive_avg": (2,), "adaptive_max": (2,),
               "unpool": (2,), "fractional": ()}
_MEMORY_FORMAT = {2: torch.channels_last, 3: torch.channels_last_3d}


def keeps_last(kind: str, x: Tensor, nd: int) -> bool:
    """Whether the result of ``kind`` for ``x`` is stored channels last, as
    PyTorch's ``suggest_memory_format`` decides it for its own operator."""
    if nd not in _KEEPS_LAST[kind] or x.is_contiguous():
        return False
    if x.dim() == nd + 1 and (kind, nd) == ("max", 3):
        x = x.unsqueeze(0)   # PyTorch's unbatched max_pool3d keeps it too
    if x.dim() != nd + 2:
        return False
    return x.is_contiguous(memory_format=_MEMORY_FORMAT[nd]) or \
        _suggests_last(x, nd)


def _kernels_layout(x: Tensor, nd: int, last: bool) -> bool:
    """Whether the kernels, left to allocate, write PyTorch's layout for x:
    x dense channels first, or dense channels last (batched or not) where
    PyTorch answers channels last."""
    if x.is_contiguous():
        return True
    if not last:
        return False
    x = x.unsqueeze(0) if x.dim() == nd + 1 else x
    return x.is_contiguous(memory_format=_MEMORY_FORMAT[nd])


def _suggests_last(x: Tensor, nd: int) -> bool:
    from torch._prims_common import suggest_memory_format
    return suggest_memory_format(x) == _MEMORY_FORMAT[nd]


def _np(t: Tensor, nd: int, last: bool):
    """A NumPy view of ``t``, (N, *spatial, C) when ``last``."""
    if last:   # (the channel axis: 1, or 0 unbatched)
        t = t.movedim(t.dim() - nd - 1, -1)
    return t.numpy(force=t.requires_grad)  # (force: a view still, for a CPU tensor)


def _torch(a, nd: int, last: bool) -> Tensor:
    """A tensor over the NumPy result ``a`` (channels-last memory when ``last``)."""
    t = torch.from_numpy(a)
    t = t.movedim(-1, t.dim() - nd - 1) if last else t
    if t.numel() == 0:   # (an empty array's strides from NumPy are not PyTorch's)
        return _alloc(list(t.shape), t.dtype, t.device, nd, last)
    return t


def _shape(shape, nd: int, last: bool) -> tuple:
    """A channels-first shape in the kernels' layout."""
    shape = tuple(shape)
    c = len(shape) - nd - 1
    return shape[:c] + shape[c + 1:] + shape[c:c + 1] if last else shape


def _fmt(nd: int, last: bool) -> str:
    return LAYOUTS[nd][1 if last else 0]


def _empty(x: Tensor, spatial, nd: int, last: bool, dtype=None) -> Tensor:
    """The fake result: x's leading sizes, then ``spatial``."""
    return _alloc(list(x.shape[:-nd]) + list(spatial), dtype or x.dtype, x.device, nd, last)


def _alloc(shape, dtype, device, nd: int, last: bool) -> Tensor:
    """An empty tensor, channels last when ``last`` (unbatched too)."""
    if not last:
        return torch.empty(shape, dtype=dtype, device=device)
    if len(shape) == nd + 1:
        return _alloc([1] + list(shape), dtype, device, nd, True)[0]
    return torch.empty(shape, dtype=dtype, device=device, memory_format=_MEMORY_FORMAT[nd])


def _gradient(grad_output: Tensor, input_size, nd: int, last: bool) -> Tensor:
    """A fresh input gradient in PyTorch's layout; the kernels write into it
    (the incoming gradient's own layout is whatever autograd gives)."""
    return _alloc(list(input_size), grad_output.dtype, grad_output.device, nd, last)


def _outs(x: Tensor, nd: int, last: bool, spatial, pair: bool):
    """``out`` for the kernels: None where they allocate PyTorch's layout
    themselves (x dense in it), else fresh arrays in PyTorch's layout
    (values, and int64 indices with ``pair``): channels first where x
    looks channels last but PyTorch answers channels first, channels last
    where x is channels last but not dense (a slice of channels), whose
    values the kernels read through strides, channels first."""
    if _kernels_layout(x, nd, last):
        return None
    y = _np(_empty(x, spatial, nd, last), nd, last)
    return (y, _np(_empty(x, spatial, nd, last, torch.int64), nd, last)) if pair else y


def _core():
    return _backend.core()


# ------------------------------------------------------------------ max pooling

@torch_threads
def max_pool_eager(x, nd, kernel_size, stride, padding, dilation, ceil_mode, indices):
    """Max pooling with the arguments as the user gave them (ints or
    tuples, stride None): pooling's kept plan for the call then skips their
    normalisation, which is most of a tiny call's time."""
    last = keeps_last("max", x, nd)
    out = None
    if not _kernels_layout(x, nd, last):
        p = normalize_pool_args(f"max_pool{nd}d", nd, kernel_size, stride, padding, dilation,
                                ceil_mode)
        out = _outs(x, nd, last, _max_pool_fake(x, p.kernel_size, p.stride, p.padding,
                                                p.dilation, ceil_mode)[0], indices)
    r = _api.max_pool(_core(), nd, _np(x, nd, last), kernel_size, stride, padding, dilation,
                      ceil_mode, indices, _fmt(nd, last), out=out)
    if indices:
        return _torch(r[0], nd, last), _torch(r[1], nd, last)
    return _torch(r, nd, last)


def _max_pool_fake(x, kernel_size, stride, padding, dilation, ceil_mode):
    nd = len(kernel_size)
    out = [output_length(n, k, s, p, d, ceil_mode)
           for n, k, s, p, d in zip(x.shape[-nd:], kernel_size, stride, padding, dilation)]
    return out, keeps_last("max", x, nd)


@_op
def max_pool(x: Tensor, kernel_size: list[int], stride: list[int], padding: list[int],
             dilation: list[int], ceil_mode: bool) -> Tensor:
    """Max pooling, values only (``F.max_pool{1,2,3}d``)."""
    return max_pool_eager(x, len(kernel_size), tuple(kernel_size), tuple(stride),
                          tuple(padding), tuple(dilation), ceil_mode, False)


@OPS["max_pool"].register_fake
def _(x, kernel_size, stride, padding, dilation, ceil_mode):
    out, last = _max_pool_fake(x, kernel_size, stride, padding, dilation, ceil_mode)
    return _empty(x, out, len(kernel_size), last)


@_op
def max_pool_with_indices(x: Tensor, kernel_size: list[int], stride: list[int],
                          padding: list[int], dilation: list[int],
                          ceil_mode: bool) -> tuple[Tensor, Tensor]:
    """Max pooling with PyTorch's int64 indices."""
    return max_pool_eager(x, len(kernel_size), tuple(kernel_size), tuple(stride),
                          tuple(padding), tuple(dilation), ceil_mode, True)


@OPS["max_pool_with_indices"].register_fake
def _(x, kernel_size, stride, padding, dilation, ceil_mode):
    out, last = _max_pool_fake(x, kernel_size, stride, padding, dilation, ceil_mode)
    nd = len(kernel_size)
    return _empty(x, out, nd, last), _empty(x, out, nd, last, torch.int64)


@_op
def max_pool_backward(grad_output: Tensor, indices: Tensor, input_size: list[int], nd: int,
                      channels_last: bool) -> Tensor:
    """Input gradient from int64 indices (max, adaptive max and fractional
    max pooling): each gradient added at its index, in PyTorch's order."""
    g = _gradient(grad_output, input_size, nd, channels_last)
    _api.max_pool_backward(_core(), nd, _np(grad_output, nd, channels_last),
                           _np(indices, nd, channels_last), _shape(input_size, nd, channels_last),
                           _fmt(nd, channels_last), out=_np(g, nd, channels_last))
    return g


@torch_threads
def max_pool_backward_own(grad_output: Tensor, indices: Tensor, input_size: list[int], nd: int,
                          channels_last: bool) -> Tensor:
    """max_pool_backward of indices pooling's own forward gave for an input
    of ``input_size`` and of the gradient autograd gives for its values
    (their shape and dtype): the argument checks skipped, the kernel's
    range check kept."""
    g = _gradient(grad_output, input_size, nd, channels_last)
    gn = _np(grad_output, nd, channels_last)
    _api.backward(_core(), gn, _np(indices, nd, channels_last),
                  _shape(input_size, nd, channels_last), _api._lift(gn, nd, channels_last),
                  f"max_pool{nd}d_backward", _np(g, nd, channels_last))
    return g


@OPS["max_pool_backward"].register_fake
def _(grad_output, indices, input_size, nd, channels_last):
    return _gradient(grad_output, input_size, nd, channels_last)


def gather(grad: Tensor, indices: Tensor, nd: int) -> Tensor:
    """grad (input-sized) read at each plane's indices: the gradient of a
    scatter (unpooling, a max backward) and of nothing else; a copy, so
    PyTorch's bits in any order (PyTorch's max_pool_double_backward)."""
    lead = indices.shape[:-nd]
    # (sizes spelled out: -1 is ambiguous for a batch of 0)
    flat = grad.reshape(*lead, math.prod(grad.shape[-nd:]))
    g = torch.gather(flat, -1, indices.reshape(*lead, math.prod(indices.shape[-nd:])))
    return g.reshape(indices.shape)


def _max_backward_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[1])
    ctx.nd = inputs[3]


def _max_backward_backward(ctx, grad):
    # Second order: the backward is linear in grad_output.
    (indices,) = ctx.saved_tensors
    return gather(grad, indices, ctx.nd), None, None, None, None


OPS["max_pool_backward"].register_autograd(_max_backward_backward,
                                           setup_context=_max_backward_setup)


def _indices_setup(kind, n_args):
    """setup_context of an operator whose gradient goes through its indices
    (output 1); its size argument (kernel or output size) is ``inputs[1]``."""
    def setup_context(ctx, inputs, output):
        x, nd = inputs[0], len(inputs[1])
        ctx.save_for_backward(output[1])
        ctx.input_size, ctx.nd, ctx.n_args = list(x.shape), nd, n_args
        ctx.last = keeps_last(kind, x, nd)
    return setup_context


def _indices_backward(ctx, grad, _grad_indices):
    (indices,) = ctx.saved_tensors
    g = torch.ops.pooling.max_pool_backward(grad, indices, ctx.input_size, ctx.nd, ctx.last)
    return (g,) + (None,) * ctx.n_args


OPS["max_pool_with_indices"].register_autograd(_indices_backward,
                                        setup_context=_indices_setup("max", 5))


def _max_pool_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])
    ctx.args = inputs[1:]


def _max_pool_values_backward(ctx, grad):
    (x,) = ctx.saved_tensors
    _, indices = torch.ops.pooling.max_pool_with_indices(x, *ctx.args)
    nd = len(ctx.args[0])
    g = torch.ops.pooling.max_pool_backward(grad, indices, list(x.shape), nd,
                                            keeps_last("max", x, nd))
    return (g,) + (None,) * 5


OPS["max_pool"].register_autograd(_max_pool_values_backward, setup_context=_max_pool_setup)


# --------------------------------------------------------- adaptive max pooling

@_op
def adaptive_max_pool(x: Tensor, output_size: list[int]) -> tuple[Tensor, Tensor]:
    """Adaptive max pooling, values and int64 indices."""
    nd = len(output_size)
    last = keeps_last("adaptive_max", x, nd)
    y, i = _api.adaptive_max_pool(_core(), nd, _np(x, nd, last), tuple(output_size), True,
                                  _fmt(nd, last), out=_outs(x, nd, last, output_size, True))
    return _torch(y, nd, last), _torch(i, nd, last)


@OPS["adaptive_max_pool"].register_fake
def _(x, output_size):
    nd = len(output_size)
    last = keeps_last("adaptive_max", x, nd)
    return (_empty(x, output_size, nd, last),
            _empty(x, output_size, nd, last, torch.int64))


OPS["adaptive_max_pool"].register_autograd(_indices_backward,
                                    setup_context=_indices_setup("adaptive_max", 1))


# ------------------------------------------------------- fractional max pooling

@_op
def fractional_max_pool(x: Tensor, kernel_size: list[int], output_size: list[int],
                        samples: Tensor) -> tuple[Tensor, Tensor]:
    """Fractional max pooling with the given samples, values and indices."""
    nd = len(output_size)
    y, i = _fractional.fractional_max_pool(
        _core(), nd, _np(x, nd, False), tuple(kernel_size), tuple(output_size), None, True,
        _np(samples, nd, False), _fmt(nd, False), out=_outs(x, nd, False, output_size, True))
    return _torch(y, nd, False), _torch(i, nd, False)


@OPS["fractional_max_pool"].register_fake
def _(x, kernel_size, output_size, samples):
    nd = len(output_size)
    return (_empty(x, output_size, nd, False),
            _empty(x, output_size, nd, False, torch.int64))


OPS["fractional_max_pool"].register_autograd(_indices_backward,
                                      setup_context=_indices_setup("fractional", 3))


# ------------------------------------------------------------------- unpooling

@_op
def max_unpool(x: Tensor, indices: Tensor, kernel_size: list[int], stride: list[int],
               padding: list[int], output_size: list[int]) -> Tensor:
    """Max unpooling into ``output_size`` (spatial sizes)."""
    nd = len(output_size)
    last = keeps_last("unpool", x, nd)
    y = _api.max_unpool(_core(), nd, _np(x, nd, last), _np(indices, nd, last),
                        tuple(kernel_size), tuple(stride), tuple(padding),
                        tuple(output_size), _fmt(nd, last),
                        out=_outs(x, nd, last, output_size, False))
    return _torch(y, nd, last)


@OPS["max_unpool"].register_fake
def _(x, indices, kernel_size, stride, padding, output_size):
    nd = len(output_size)
    return _empty(x, output_size, nd, keeps_last("unpool", x, nd))


def _unpool_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[1])
    ctx.nd = len(inputs[5])


def _unpool_backward(ctx, grad):
    # The gradient of a scatter is a gather (PyTorch's too: a copy, no
    # arithmetic, so any order gives the same bits).
    (indices,) = ctx.saved_tensors
    return gather(grad, indices, ctx.nd), None, None, None, None, None


OPS["max_unpool"].register_autograd(_unpool_backward, setup_context=_unpool_setup)


# ------------------------------------------------------------- average pooling

@_op
def avg_pool(x: Tensor, kernel_size: list[int], stride: list[int], padding: list[int],
             ceil_mode: bool, count_include_pad: bool,
             divisor_override: Optional[int]) -> Tensor:
    """Average pooling (``F.avg_pool{1,2,3}d``)."""
    nd = len(kernel_size)
    last = keeps_last("avg", x, nd)
    out = None
    if not _kernels_layout(x, nd, last):
        # (the arguments checked before the sizes are computed from them)
        normalize_avg_args(f"avg_pool{nd}d", nd, kernel_size, stride, padding, ceil_mode,
                           count_include_pad, divisor_override)
        out = _outs(x, nd, last, _avg_sizes(x, kernel_size, stride, padding, ceil_mode), False)
    y = _api.avg_pool(_core(), nd, _np(x, nd, last), tuple(kernel_size), tuple(stride),
                      tuple(padding), ceil_mode, count_include_pad, divisor_override,
                      _fmt(nd, last), out=out)
    return _torch(y, nd, last)


@OPS["avg_pool"].register_fake
def _(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    nd = len(kernel_size)
    return _empty(x, _avg_sizes(x, kernel_size, stride, padding, ceil_mode), nd,
                  keeps_last("avg", x, nd))


def _avg_sizes(x, kernel_size, stride, padding, ceil_mode):
    nd = len(kernel_size)
    return [output_length(n, k, s, p, 1, ceil_mode)
            for n, k, s, p in zip(x.shape[-nd:], kernel_size, stride, padding)]


@_op
def avg_pool_backward(grad_output: Tensor, input_size: list[int], kernel_size: list[int],
                      stride: list[int], padding: list[int], ceil_mode: bool,
                      count_include_pad: bool, divisor_override: Optional[int],
                      channels_last: bool) -> Tensor:
    """Input gradient of average pooling (PyTorch's raster order)."""
    nd = len(kernel_size)
    g = _gradient(grad_output, input_size, nd, channels_last)
    _api.avg_pool_backward(
        _core(), nd, _np(grad_output, nd, channels_last), _shape(input_size, nd, channels_last),
        tuple(kernel_size), tuple(stride), tuple(padding), ceil_mode, count_include_pad,
        divisor_override, _fmt(nd, channels_last), out=_np(g, nd, channels_last))
    return g


@OPS["avg_pool_backward"].register_fake
def _(grad_output, input_size, kernel_size, stride, padding, ceil_mode, count_include_pad,
      divisor_override, channels_last):
    nd = len(kernel_size)
    return _gradient(grad_output, input_size, nd, channels_last)


def _avg_setup(ctx, inputs, output):
    x = inputs[0]
    ctx.input_size, ctx.args = list(x.shape), inputs[1:]
    ctx.last = keeps_last("avg", x, len(inputs[1]))


def _avg_backward(ctx, grad):
    g = torch.ops.pooling.avg_pool_backward(grad, ctx.input_size, *ctx.args, ctx.last)
    return (g,) + (None,) * 6


OPS["avg_pool"].register_autograd(_avg_backward, setup_context=_avg_setup)


def _avg_backward_setup(ctx, inputs, output):
    ctx.args = inputs[2:8]   # kernel_size ... divisor_override


def _avg_backward_backward(ctx, grad):
    # Second order: linear in grad_output, its gradient the average pooling
    # of the incoming one (PyTorch's derivative of avg_pool2d_backward).
    return (torch.ops.pooling.avg_pool(grad, *ctx.args),) + (None,) * 8


OPS["avg_pool_backward"].register_autograd(_avg_backward_backward,
                                           setup_context=_avg_backward_setup)


# ---------------------------------------------------- adaptive average pooling

@_op
def adaptive_avg_pool(x: Tensor, output_size: list[int]) -> Tensor:
    """Adaptive average pooling (each sum divided by the window's extents in turn)."""
    nd = len(output_size)
    last = keeps_last("adaptive_avg", x, nd)
    y = _api.adaptive_avg_pool(_core(), nd, _np(x, nd, last), tuple(output_size),
                               _fmt(nd, last), out=_outs(x, nd, last, output_size, False))
    return _torch(y, nd, last)


@OPS["adaptive_avg_pool"].register_fake
def _(x, output_size):
    nd = len(output_size)
    return _empty(x, output_size, nd, keeps_last("adaptive_avg", x, nd))


@_op
def adaptive_avg_pool_backward(grad_output: Tensor, input_size: list[int], nd: int,
                               channels_last: bool) -> Tensor:
    """Input gradient of adaptive average pooling."""
    # PyTorch's check of an empty output's gradient, in its words (its 1-D
    # pooling is 2-D pooling of a height-1 input)
    sizes = list(grad_output.shape)
    if nd == 1:
        sizes.insert(-1, 1)
    for i in range(1, len(sizes)):
        if sizes[i] == 0:
            raise PoolingValueError(
                f"adaptive_avg_pool{max(nd, 2)}d_backward(): Expected grad_output to have "
                f"non-zero size for non-batch dimensions, but grad_output has sizes {sizes} "
                f"with dimension {i} being empty")
    g = _gradient(grad_output, input_size, nd, channels_last)
    _api.adaptive_avg_pool_backward(_core(), nd, _np(grad_output, nd, channels_last),
                                    _shape(input_size, nd, channels_last),
                                    _fmt(nd, channels_last), out=_np(g, nd, channels_last))
    return g


@OPS["adaptive_avg_pool_backward"].register_fake
def _(grad_output, input_size, nd, channels_last):
    return _gradient(grad_output, input_size, nd, channels_last)


def _adaptive_avg_setup(ctx, inputs, output):
    x, nd = inputs[0], len(inputs[1])
    ctx.input_size, ctx.nd = list(x.shape), nd
    ctx.last = keeps_last("adaptive_avg", x, nd)


def _adaptive_avg_backward(ctx, grad):
    g = torch.ops.pooling.adaptive_avg_pool_backward(grad, ctx.input_size, ctx.nd, ctx.last)
    return g, None


OPS["adaptive_avg_pool"].register_autograd(_adaptive_avg_backward, setup_context=_adaptive_avg_setup)


def _adaptive_avg_backward_setup(ctx, inputs, output):
    ctx.sizes = list(inputs[0].shape[-inputs[2]:])


def _adaptive_avg_backward_backward(ctx, grad):
    # Second order: the adaptive average of the incoming gradient to the
    # output's sizes (PyTorch's derivative of _adaptive_avg_pool2d_backward).
    return torch.ops.pooling.adaptive_avg_pool(grad, ctx.sizes), None, None, None


OPS["adaptive_avg_pool_backward"].register_autograd(_adaptive_avg_backward_backward,
                                                    setup_context=_adaptive_avg_backward_setup)

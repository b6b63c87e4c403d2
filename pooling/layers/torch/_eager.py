"""Eager autograd without the dispatcher: ``torch.autograd.Function``s over
the operators' implementations.

Design:
- A custom operator's autograd (``register_autograd``) runs through
  PyTorch's Python dispatcher twice a call (forward and backward), about
  90 us each on a tiny tensor: five times PyTorch's whole forward and
  backward (issue #26).  Eager calls that want a gradient take these
  Functions instead, which call the same implementations (``_ops``) with
  one ``Function.apply`` of overhead; graphs (``torch.compile``,
  ``torch.export``, ``torch.jit.trace``) still see the operators.
- The backward of each Function calls the backward implementation
  directly, or, when its own graph is being recorded (``create_graph``,
  the backward running with grad mode on), the registered backward
  operator, whose autograd formula gives the second order: one formula
  for both paths.
- The saved state is what the operators' ``setup_context`` saves: the
  indices (max pooling) or nothing (averages), with the input's size and
  layout.
"""
from __future__ import annotations

import torch

from . import _ops

__all__ = ["adaptive_avg_pool", "avg_pool", "by_indices", "max_unpool"]

_ops_ns = torch.ops.pooling


class _ByIndices(torch.autograd.Function):
    """An operation whose gradient is its int64 indices' scatter (max,
    adaptive max, fractional max): ``run(x, *args) -> (y, indices)``."""

    @staticmethod
    def forward(ctx, x, kind, nd, run, *args):
        y, indices = run(x, *args)
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(indices)
        ctx.meta = (list(x.shape), nd, _ops.keeps_last(kind, x, nd), len(args))
        return y, indices

    @staticmethod
    def backward(ctx, grad, _grad_indices):
        (indices,) = ctx.saved_tensors
        size, nd, last, n = ctx.meta
        back = _ops_ns.max_pool_backward if torch.is_grad_enabled() else \
            _ops.max_pool_backward_own
        return (back(grad, indices, size, nd, last),) + (None,) * (3 + n)


def by_indices(x, kind, nd, run, *args):
    """(values, indices) of ``run(x, *args)``, differentiable in ``x``."""
    return _ByIndices.apply(x, kind, nd, run, *args)


class _AvgPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
        nd = len(kernel_size)
        ctx.meta = (list(x.shape), _ops.keeps_last("avg", x, nd))
        ctx.args = (kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override)
        return _ops.avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                             divisor_override)

    @staticmethod
    def backward(ctx, grad):
        size, last = ctx.meta
        back = _ops_ns.avg_pool_backward if torch.is_grad_enabled() else \
            _ops.avg_pool_backward
        return (back(grad, size, *ctx.args, last),) + (None,) * 6


def avg_pool(x, *args):
    """``_ops.avg_pool(x, *args)``, differentiable in ``x``."""
    return _AvgPool.apply(x, *args)


class _AdaptiveAvgPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, output_size):
        nd = len(output_size)
        ctx.meta = (list(x.shape), nd, _ops.keeps_last("adaptive_avg", x, nd))
        return _ops.adaptive_avg_pool(x, output_size)

    @staticmethod
    def backward(ctx, grad):
        size, nd, last = ctx.meta
        back = _ops_ns.adaptive_avg_pool_backward if torch.is_grad_enabled() else \
            _ops.adaptive_avg_pool_backward
        return back(grad, size, nd, last), None


def adaptive_avg_pool(x, output_size):
    """``_ops.adaptive_avg_pool(x, output_size)``, differentiable in ``x``."""
    return _AdaptiveAvgPool.apply(x, output_size)


class _Unpool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, indices, *args):
        ctx.save_for_backward(indices)
        ctx.nd = len(args[-1])
        return _ops.max_unpool(x, indices, *args)

    @staticmethod
    def backward(ctx, grad):
        # A gather of torch operations: differentiable again as it stands.
        (indices,) = ctx.saved_tensors
        return (_ops.gather(grad, indices, ctx.nd),) + (None,) * 5


def max_unpool(x, indices, *args):
    """``_ops.max_unpool(x, indices, *args)``, differentiable in ``x``."""
    return _Unpool.apply(x, indices, *args)

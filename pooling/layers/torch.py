"""``torch.nn.MaxPool2d`` and ``F.max_pool2d``, computed by pooling's kernels.

    from pooling.layers.torch import MaxPool2d, max_pool2d
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), MaxPool2d(2))

CPU tensors go through pooling without copies (``Tensor.numpy()`` and
``torch.from_numpy`` share memory; channels-last tensors are just strided
arrays to the kernels).  Tensors we do not serve (other devices, bfloat16,
complex) go to PyTorch's own op, so the layer stays a drop-in everywhere.
Values, indices and gradients equal PyTorch's bit for bit.
"""
from __future__ import annotations

import torch

from .. import functional as F
from .._params import stride_or_kernel
from ..numpy_layers import MaxPool2D as _CoreMaxPool2D

__all__ = ["MaxPool2d", "convert", "max_pool2d"]

_SERVED = {torch.float16, torch.float32, torch.float64, torch.int8, torch.int16,
           torch.int32, torch.int64, torch.uint8}


class _MaxPool2dValues(torch.autograd.Function):
    """y only: the layer's compact argmax cache carries backward."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode):
        pool = _CoreMaxPool2D(kernel_size, stride, padding, dilation, ceil_mode)
        y = pool.forward(x.detach().numpy())
        ctx.pool = pool
        return _like(torch.from_numpy(y), x)

    @staticmethod
    def backward(ctx, gy):
        g = ctx.pool.backward(gy.detach().contiguous().numpy())
        return torch.from_numpy(g), None, None, None, None, None


class _MaxPool2dIndices(torch.autograd.Function):
    """(y, int64 indices), as F.max_pool2d(..., return_indices=True)."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode):
        y, idx = F.max_pool2d(x.detach().numpy(), kernel_size, stride, padding, dilation,
                              ceil_mode, return_indices=True)
        indices = _like(torch.from_numpy(idx), x)
        ctx.save_for_backward(indices)
        ctx.input_shape = tuple(x.shape)
        ctx.mark_non_differentiable(indices)
        return _like(torch.from_numpy(y), x), indices

    @staticmethod
    def backward(ctx, gy, _gi):
        (indices,) = ctx.saved_tensors
        g = F.max_pool2d_backward(gy.detach().contiguous().numpy(),
                                  indices.contiguous().numpy(), ctx.input_shape)
        return torch.from_numpy(g), None, None, None, None, None


def _like(t, x):
    # PyTorch returns channels-last results for channels-last inputs.
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) \
            and not x.is_contiguous():
        return t.contiguous(memory_format=torch.channels_last)
    return t


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """``torch.nn.functional.max_pool2d``, on pooling's kernels for CPU tensors."""
    if input.device.type != "cpu" or input.dtype not in _SERVED:
        return torch.nn.functional.max_pool2d(input, kernel_size, stride, padding, dilation,
                                              ceil_mode=ceil_mode,
                                              return_indices=return_indices)
    args = (input, kernel_size, stride_or_kernel(stride, kernel_size), padding, dilation,
            ceil_mode)
    if return_indices:
        return _MaxPool2dIndices.apply(*args)
    return _MaxPool2dValues.apply(*args)


class MaxPool2d(torch.nn.Module):
    """``torch.nn.MaxPool2d`` with the same constructor and behaviour."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride_or_kernel(stride, kernel_size)
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


def convert(model):
    """STUB (the lead's convert replaces this): every ``torch.nn.MaxPool2d``
    in model, nested ones included, replaced in place by ours with the same
    arguments; returns model."""
    for name, child in model.named_children():
        if type(child) is torch.nn.MaxPool2d:
            setattr(model, name, MaxPool2d(child.kernel_size, child.stride, child.padding,
                                           child.dilation, child.return_indices,
                                           child.ceil_mode))
        else:
            convert(child)
    return model

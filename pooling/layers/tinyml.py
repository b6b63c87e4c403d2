"""tinyml's ``MaxPool2D``, computed by pooling's kernels (no im2col).

    from pooling.layers.tinyml import MaxPool2D
    pool = MaxPool2D('pool1', input_dim=(16, 28, 28), size=(2, 2), stride=2)

Same constructor, attributes, refusal of settings whose output size is not an
integer, outputs, returned indices (window-local argmax r * size[1] + c, as
tinyml's ``MaxUnpool2D`` reads them) and input gradients as
``tinyml.layers.MaxPool2D``; it is a subclass of it when tinyml is installed,
so ``tinyml.net.Sequential`` treats it as one.  Where a window holds several
NaNs, tinyml's ``np.argmax`` picks the first one; so does this layer (the
core functions follow PyTorch, which picks the last).
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..numpy_layers import MaxPool2D as _CoreMaxPool2D

try:
    from tinyml.layers import MaxPool2D as _Base
except ImportError:  # tinyml absent: a plain class with the same interface
    _Base = object

__all__ = ["MaxPool2D"]


class MaxPool2D(_Base):
    """tinyml's ``MaxPool2D(name, input_dim, size, stride, return_index=False)``."""

    def __init__(self, name, input_dim, size, stride, return_index=False):
        # tinyml's Layer.__init__ and MaxPool2D.__init__, attribute for attribute
        # (theirs builds nothing else, so there is nothing to inherit here).
        self.name = name
        self.parameters = []
        self.type = "MaxPool2D"
        self.input_channel, self.input_height, self.input_width = input_dim
        self.size = size
        self.stride = stride
        self.return_index = return_index
        self.out_height = (self.input_height - size[0]) / stride + 1
        self.out_width = (self.input_width - size[1]) / stride + 1
        if not self.out_height.is_integer() or not self.out_width.is_integer():
            raise Exception("[tinyml] Invalid dimension settings!")
        self.out_width = int(self.out_width)
        self.out_height = int(self.out_height)
        self.out_dim = (self.input_channel, self.out_height, self.out_width)
        self._pool = _CoreMaxPool2D((size[0], size[1]), stride)
        self._flat = None

    def forward(self, input):
        x = np.asarray(input)
        self._dtype, self._shape = x.dtype, x.shape
        self._flat = None
        if not self.return_index:
            y = self._pool.forward(x)  # compact argmax cache for backward
            if not _has_nan(y):
                return y
        # Indices wanted, or NaN present (tinyml's first-NaN rule): flat indices.
        y, flat = F.max_pool2d(x, self._pool.kernel_size, self.stride, return_indices=True)
        if _has_nan(y):
            _first_nan(x, y, flat, self._pool.kernel_size, self.stride)
        self._flat = flat
        if self.return_index:
            return y, self._local(flat)
        return y

    def backward(self, in_gradient):
        g = np.asarray(in_gradient)
        if self._dtype.kind == "f":
            g = g.astype(self._dtype, copy=False)  # tinyml sums in the input's dtype
        if self._flat is None:
            return self._pool.backward(g)
        return F.max_pool2d_backward(g, self._flat, self._shape)

    def _local(self, flat):
        """Flat h * W + w -> tinyml's window-local r * size[1] + c."""
        W = self._shape[-1]
        h, w = np.divmod(flat, W)
        r = h - (np.arange(flat.shape[-2]) * self.stride)[:, None]
        c = w - np.arange(flat.shape[-1]) * self.stride
        return r * self.size[1] + c

    def summary(self):
        return [self.type, self.name, "N/A", self.out_dim]

    def __call__(self, *args):
        return self.forward(*args)


def _has_nan(y):
    return y.dtype.kind == "f" and bool(np.isnan(y).any())


def _first_nan(x, y, flat, kernel, stride):
    """Re-point NaN windows at their first NaN, in place: windows are visited
    in reverse scan order so the earliest NaN is written last."""
    kh, kw = kernel
    OH, OW = y.shape[-2:]
    W = x.shape[-1]
    nan_window = np.isnan(y)
    base = (np.arange(OH) * stride * W)[:, None] + np.arange(OW) * stride
    for r in range(kh - 1, -1, -1):
        for c in range(kw - 1, -1, -1):
            v = x[..., r:r + (OH - 1) * stride + 1:stride, c:c + (OW - 1) * stride + 1:stride]
            np.copyto(flat, base + r * W + c, where=nan_window & np.isnan(v))

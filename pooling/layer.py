"""MaxPool1D and MaxPool2D: layer objects with forward/backward for NumPy
networks.  Both are one class parametrised by the number of spatial axes."""
from __future__ import annotations

import numpy as np

from . import _api, _backend
from ._params import as_array, check_dtype, check_input, normalize_pool_args

__all__ = ["MaxPool1D", "MaxPool2D"]


class _MaxPool:
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        self._name = type(self).__name__
        self._params = normalize_pool_args(
            self._name, self._nd, kernel_size, stride, padding, dilation, ceil_mode)
        self._cache = self._core = self._input_shape = None

    kernel_size = property(lambda self: self._params.kernel_size)
    stride = property(lambda self: self._params.stride)
    padding = property(lambda self: self._params.padding)
    dilation = property(lambda self: self._params.dilation)
    ceil_mode = property(lambda self: self._params.ceil_mode)

    def output_shape(self, input_shape):
        """The shape forward returns for an input of ``input_shape``."""
        shape = tuple(input_shape)
        _, out = check_input(np.empty(shape, dtype=np.uint8), self._params, self._name)
        return out

    def forward(self, x):
        """Pool ``x`` and cache the argmax (not the input) for backward."""
        x, out_shape = check_input(x, self._params, self._name)
        core = _backend.core()
        y, cache = _api.forward(core, x, self._params, out_shape, "cache")
        # The cache is only meaningful to the core that wrote it.
        self._cache, self._core, self._input_shape = cache, core, x.shape
        return y

    __call__ = forward

    def backward(self, grad_output):
        """The input gradient of the last forward, for ``grad_output``."""
        if self._cache is None:
            raise RuntimeError(f"{self._name}.backward called before forward: there is "
                               "no cached argmax to route the gradient through")
        fn = f"{self._name}.backward"
        g = as_array(grad_output, "grad_output", fn)
        check_dtype(g.dtype, "grad_output", fn, floating_only=True)
        if g.shape != self._cache.shape:
            raise ValueError(
                f"{fn}: grad_output shape {g.shape} does not match "
                f"the last forward's output shape {self._cache.shape}")
        return _api.backward_cache(self._core, g, self._cache, self._params,
                                   self._input_shape)

    def __repr__(self):
        p = self._params
        return (f"{self._name}(kernel_size={p.kernel_size}, stride={p.stride}, "
                f"padding={p.padding}, dilation={p.dilation}, ceil_mode={p.ceil_mode})")


class MaxPool2D(_MaxPool):
    """2-D max pooling layer over (N, C, H, W) or (C, H, W) arrays.

    ``forward(x)`` pools and caches the argmax (not the input);
    ``backward(grad_output)`` scatters the gradient back through that cache.
    Arguments as in :func:`pooling.max_pool2d`.
    """

    _nd = 2


class MaxPool1D(_MaxPool):
    """1-D max pooling layer over (N, C, L) or (C, L) arrays; arguments as in
    :func:`pooling.max_pool1d`."""

    _nd = 1

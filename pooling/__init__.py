"""pooling: fast, exact max pooling for NumPy, and exact average pooling.

Cython kernels compute the window max and its argmax in one pass and scatter
gradients back, with the same values, indices and gradients as PyTorch's
``max_pool2d_with_indices``.  ``pooling.reference`` is the pure-NumPy twin;
it also serves average and adaptive average pooling (PyTorch's arithmetic,
bit for bit), whose compiled kernels are still to come.
"""
from ._version import __version__
from ._backend import get_backend, get_num_threads, set_backend, set_num_threads
from .functional import (adaptive_avg_pool1d, adaptive_avg_pool1d_backward,
                         adaptive_avg_pool2d, adaptive_avg_pool2d_backward,
                         adaptive_avg_pool3d, adaptive_avg_pool3d_backward,
                         adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d,
                         avg_pool1d, avg_pool1d_backward, avg_pool2d, avg_pool2d_backward,
                         avg_pool3d, avg_pool3d_backward,
                         fractional_max_pool2d, fractional_max_pool3d,
                         max_pool1d, max_pool1d_backward, max_pool2d, max_pool2d_backward,
                         max_pool3d, max_pool3d_backward, max_unpool1d, max_unpool2d,
                         max_unpool3d)
from .numpy_layers import (AdaptiveMaxPool1D, AdaptiveMaxPool2D, AdaptiveMaxPool3D,
                           FractionalMaxPool2D, FractionalMaxPool3D,
                           MaxPool1D, MaxPool2D, MaxPool3D, MaxUnpool1D,
                           MaxUnpool2D, MaxUnpool3D)

from . import functional as _functional, numpy_layers as _layers

__all__ = (["__version__", "get_backend", "get_num_threads", "set_backend", "set_num_threads"]
           + _functional.__all__ + _layers.__all__)

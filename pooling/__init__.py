"""pooling: fast, exact pooling for NumPy, as PyTorch computes it.

Cython kernels compute max pooling (the window max and its argmax in one
pass), average, adaptive and fractional max pooling, and scatter or gather
gradients back, with the same values, indices and gradients as PyTorch's
CPU kernels.  ``pooling.reference`` is the pure-NumPy twin: the fallback and
the tests' oracle.  Power-average (Lp) pooling is composed of average
pooling (or max pooling of |x|) and NumPy element-wise steps.
"""
from ._version import __version__
from ._core.backend import get_backend, get_num_threads, set_backend, set_num_threads
from .functional import (adaptive_avg_pool1d, adaptive_avg_pool1d_backward,
                         adaptive_avg_pool2d, adaptive_avg_pool2d_backward,
                         adaptive_avg_pool3d, adaptive_avg_pool3d_backward,
                         adaptive_max_pool1d, adaptive_max_pool2d, adaptive_max_pool3d,
                         avg_pool1d, avg_pool1d_backward, avg_pool2d, avg_pool2d_backward,
                         avg_pool3d, avg_pool3d_backward, fractional_max_pool2d,
                         fractional_max_pool3d, lp_pool1d, lp_pool1d_backward,
                         lp_pool2d, lp_pool2d_backward, lp_pool3d, lp_pool3d_backward,
                         max_pool1d, max_pool1d_backward, max_pool2d, max_pool2d_backward,
                         max_pool3d, max_pool3d_backward, max_unpool1d, max_unpool2d,
                         max_unpool3d)
from .numpy_layers import (AdaptiveAvgPool1D, AdaptiveAvgPool2D, AdaptiveAvgPool3D,
                           AdaptiveMaxPool1D, AdaptiveMaxPool2D, AdaptiveMaxPool3D,
                           AvgPool1D, AvgPool2D, AvgPool3D, FractionalMaxPool2D,
                           FractionalMaxPool3D, LPPool1D, LPPool2D, LPPool3D,
                           MaxPool1D, MaxPool2D, MaxPool3D, MaxUnpool1D,
                           MaxUnpool2D, MaxUnpool3D)

from . import functional as _functional, numpy_layers as _layers

__all__ = (["__version__", "get_backend", "get_num_threads", "set_backend", "set_num_threads"]
           + _functional.__all__ + _layers.__all__)

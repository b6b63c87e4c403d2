"""pooling.reference: every public function on the pure-NumPy core.

The obviously-correct twin of the compiled kernels (bottleneck's "slow"
functions): the same call sequence (pooling._api: argument checks, layouts,
``out=``) over ``pooling._core.NumpyCore`` instead of the compiled core, so
the tests compare the kernels with it, function for function.  It is also
what the fallback backend runs.  It never imports the extension, and never
dispatches to pooling.dask (a dask array is computed into memory first).

How the NumPy core computes PyTorch's bits: pooling._core.numpy_core (max,
unpool, adaptive and fractional max) and pooling._core.numpy_avg (average).
lp_pool is composed of them (pooling._api.lp_pool).
"""
from __future__ import annotations

from . import _api, _fractional
from ._core.numpy_core import NumpyCore as _Core

__all__ = ["adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "max_pool1d", "max_pool1d_backward", "max_pool2d", "max_pool2d_backward",
           "max_pool3d", "max_pool3d_backward", "max_unpool1d", "max_unpool2d",
           "max_unpool3d", "fractional_max_pool2d", "fractional_max_pool3d",
           "lp_pool1d", "lp_pool1d_backward", "lp_pool2d",
           "lp_pool2d_backward", "lp_pool3d", "lp_pool3d_backward",
           "adaptive_avg_pool1d", "adaptive_avg_pool1d_backward", "adaptive_avg_pool2d",
           "adaptive_avg_pool2d_backward", "adaptive_avg_pool3d",
           "adaptive_avg_pool3d_backward", "avg_pool1d", "avg_pool1d_backward", "avg_pool2d",
           "avg_pool2d_backward", "avg_pool3d", "avg_pool3d_backward"]



def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False, data_format="NCL", *, out=None):
    """Reference ``max_pool1d``; same contract as :func:`pooling.max_pool1d`."""
    return _api.max_pool(_Core, 1, x, kernel_size, stride, padding, dilation,
                         ceil_mode, return_indices, data_format, out=out)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False, data_format="NCHW", *, out=None):
    """Reference ``max_pool2d``; same contract as :func:`pooling.max_pool2d`."""
    return _api.max_pool(_Core, 2, x, kernel_size, stride, padding, dilation,
                         ceil_mode, return_indices, data_format, out=out)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False, data_format="NCDHW", *, out=None):
    """Reference ``max_pool3d``; same contract as :func:`pooling.max_pool3d`."""
    return _api.max_pool(_Core, 3, x, kernel_size, stride, padding, dilation,
                         ceil_mode, return_indices, data_format, out=out)


def max_pool1d_backward(grad_output, indices, input_shape, data_format="NCL", *, out=None):
    """Reference ``max_pool1d_backward``."""
    return _api.max_pool_backward(_Core, 1, grad_output, indices, input_shape, data_format,
                                  out=out)


def max_pool2d_backward(grad_output, indices, input_shape, data_format="NCHW", *, out=None):
    """Reference ``max_pool2d_backward``."""
    return _api.max_pool_backward(_Core, 2, grad_output, indices, input_shape, data_format,
                                  out=out)


def max_pool3d_backward(grad_output, indices, input_shape, data_format="NCDHW", *, out=None):
    """Reference ``max_pool3d_backward``."""
    return _api.max_pool_backward(_Core, 3, grad_output, indices, input_shape, data_format,
                                  out=out)


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 data_format="NCL", *, out=None):
    """Reference ``max_unpool1d``."""
    return _api.max_unpool(_Core, 1, x, indices, kernel_size, stride, padding, output_size,
                           data_format, out=out)


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 data_format="NCHW", *, out=None):
    """Reference ``max_unpool2d``."""
    return _api.max_unpool(_Core, 2, x, indices, kernel_size, stride, padding, output_size,
                           data_format, out=out)


def max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 data_format="NCDHW", *, out=None):
    """Reference ``max_unpool3d``."""
    return _api.max_unpool(_Core, 3, x, indices, kernel_size, stride, padding, output_size,
                           data_format, out=out)


def adaptive_max_pool1d(x, output_size, return_indices=False, data_format="NCL", *, out=None):
    """Reference ``adaptive_max_pool1d``."""
    return _api.adaptive_max_pool(_Core, 1, x, output_size, return_indices, data_format, out=out)


def adaptive_max_pool2d(x, output_size, return_indices=False, data_format="NCHW", *, out=None):
    """Reference ``adaptive_max_pool2d``."""
    return _api.adaptive_max_pool(_Core, 2, x, output_size, return_indices, data_format, out=out)


def adaptive_max_pool3d(x, output_size, return_indices=False, data_format="NCDHW", *, out=None):
    """Reference ``adaptive_max_pool3d``."""
    return _api.adaptive_max_pool(_Core, 3, x, output_size, return_indices, data_format, out=out)


def lp_pool1d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCL",
              *, out=None):
    """Reference ``lp_pool1d``; same contract as :func:`pooling.lp_pool1d`."""
    return _api.lp_pool(_Core, 1, x, norm_type, kernel_size, stride, ceil_mode,
                        data_format, out=out)


def lp_pool1d_backward(grad_output, x, norm_type, kernel_size, stride=None, ceil_mode=False,
                       data_format="NCL", *, out=None):
    """Reference ``lp_pool1d_backward``."""
    return _api.lp_pool_backward(_Core, 1, grad_output, x, norm_type, kernel_size,
                                 stride, ceil_mode, data_format, out=out)


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCHW",
              *, out=None):
    """Reference ``lp_pool2d``; same contract as :func:`pooling.lp_pool2d`."""
    return _api.lp_pool(_Core, 2, x, norm_type, kernel_size, stride, ceil_mode,
                        data_format, out=out)


def lp_pool2d_backward(grad_output, x, norm_type, kernel_size, stride=None, ceil_mode=False,
                       data_format="NCHW", *, out=None):
    """Reference ``lp_pool2d_backward``."""
    return _api.lp_pool_backward(_Core, 2, grad_output, x, norm_type, kernel_size,
                                 stride, ceil_mode, data_format, out=out)


def lp_pool3d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCDHW",
              *, out=None):
    """Reference ``lp_pool3d``; same contract as :func:`pooling.lp_pool3d`."""
    return _api.lp_pool(_Core, 3, x, norm_type, kernel_size, stride, ceil_mode,
                        data_format, out=out)


def lp_pool3d_backward(grad_output, x, norm_type, kernel_size, stride=None, ceil_mode=False,
                       data_format="NCDHW", *, out=None):
    """Reference ``lp_pool3d_backward``."""
    return _api.lp_pool_backward(_Core, 3, grad_output, x, norm_type, kernel_size,
                                 stride, ceil_mode, data_format, out=out)


def fractional_max_pool2d(x, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, random_samples=None, data_format="NCHW", *,
                          rng=None, out=None):
    """Reference ``fractional_max_pool2d``; same contract as
    :func:`pooling.fractional_max_pool2d`."""
    return _fractional.fractional_max_pool(_Core, 2, x, kernel_size, output_size,
                                           output_ratio, return_indices, random_samples,
                                           data_format, rng, out=out)


def fractional_max_pool3d(x, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, random_samples=None, data_format="NCDHW", *,
                          rng=None, out=None):
    """Reference ``fractional_max_pool3d``."""
    return _fractional.fractional_max_pool(_Core, 3, x, kernel_size, output_size,
                                           output_ratio, return_indices, random_samples,
                                           data_format, rng, out=out)

def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, data_format="NCL", *, out=None):
    """Reference ``avg_pool1d``; same contract as :func:`pooling.avg_pool1d`."""
    return _api.avg_pool(_Core, 1, x, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out=out)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, data_format="NCHW", *, out=None):
    """Reference ``avg_pool2d``; same contract as :func:`pooling.avg_pool2d`."""
    return _api.avg_pool(_Core, 2, x, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out=out)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, data_format="NCDHW", *, out=None):
    """Reference ``avg_pool3d``; same contract as :func:`pooling.avg_pool3d`."""
    return _api.avg_pool(_Core, 3, x, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out=out)


def avg_pool1d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None,
                        data_format="NCL", *, out=None):
    """Reference ``avg_pool1d_backward``."""
    return _api.avg_pool_backward(_Core, 1, grad_output, input_shape, kernel_size, stride,
                                  padding, ceil_mode, count_include_pad, divisor_override,
                                  data_format, out=out)


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None,
                        data_format="NCHW", *, out=None):
    """Reference ``avg_pool2d_backward``."""
    return _api.avg_pool_backward(_Core, 2, grad_output, input_shape, kernel_size, stride,
                                  padding, ceil_mode, count_include_pad, divisor_override,
                                  data_format, out=out)


def avg_pool3d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None,
                        data_format="NCDHW", *, out=None):
    """Reference ``avg_pool3d_backward``."""
    return _api.avg_pool_backward(_Core, 3, grad_output, input_shape, kernel_size, stride,
                                  padding, ceil_mode, count_include_pad, divisor_override,
                                  data_format, out=out)


def adaptive_avg_pool1d(x, output_size, data_format="NCL", *, out=None):
    """Reference ``adaptive_avg_pool1d``."""
    return _api.adaptive_avg_pool(_Core, 1, x, output_size, data_format, out=out)


def adaptive_avg_pool2d(x, output_size, data_format="NCHW", *, out=None):
    """Reference ``adaptive_avg_pool2d``."""
    return _api.adaptive_avg_pool(_Core, 2, x, output_size, data_format, out=out)


def adaptive_avg_pool3d(x, output_size, data_format="NCDHW", *, out=None):
    """Reference ``adaptive_avg_pool3d``."""
    return _api.adaptive_avg_pool(_Core, 3, x, output_size, data_format, out=out)


def adaptive_avg_pool1d_backward(grad_output, input_shape, data_format="NCL", *, out=None):
    """Reference ``adaptive_avg_pool1d_backward``."""
    return _api.adaptive_avg_pool_backward(_Core, 1, grad_output, input_shape, data_format,
                                           out=out)


def adaptive_avg_pool2d_backward(grad_output, input_shape, data_format="NCHW", *, out=None):
    """Reference ``adaptive_avg_pool2d_backward``."""
    return _api.adaptive_avg_pool_backward(_Core, 2, grad_output, input_shape, data_format,
                                           out=out)


def adaptive_avg_pool3d_backward(grad_output, input_shape, data_format="NCDHW", *, out=None):
    """Reference ``adaptive_avg_pool3d_backward``."""
    return _api.adaptive_avg_pool_backward(_Core, 3, grad_output, input_shape, data_format,
                                           out=out)

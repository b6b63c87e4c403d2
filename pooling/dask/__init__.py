"""Exact pooling over dask arrays.

The functions here take and return ``dask.array.Array``s, lazily, with the
signatures of the in-memory functions of the same names (``out`` must stay
None: a lazy result has no preallocated output).  The result equals, bit
for bit, the in-memory function applied to the computed array, for any
chunking; indices are int64 flat positions in the whole input's spatial
volume.  Each output block is one call of the in-memory function on its
chunk plus a one-sided halo (docs/api.md, "Dask arrays").

``pooling.max_pool2d`` and the other top-level functions come here by
themselves when given a dask array.  Importing this module imports dask;
``import pooling`` does not.

The docstrings' examples assume ``import numpy as np``, ``import
dask.array as da`` and ``import pooling.dask``.
"""
from __future__ import annotations

from ._backward import avg_pool_backward, max_pool_backward
from ._chunk import set_task_threads
from ._forward import avg_pool, lp_pool, max_pool
from ._fractional import fractional_max_pool
from .pyramid import pyramid

__all__ = ["avg_pool1d", "avg_pool1d_backward", "avg_pool2d", "avg_pool2d_backward",
           "avg_pool3d", "avg_pool3d_backward", "fractional_max_pool2d",
           "fractional_max_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d",
           "max_pool1d", "max_pool1d_backward", "max_pool2d", "max_pool2d_backward",
           "max_pool3d", "max_pool3d_backward", "pyramid", "set_task_threads"]


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False, data_format="NCL", *, out=None):
    """pooling.max_pool1d over a dask array.

    Examples
    --------
    >>> x = da.from_array(np.array([[[1, 3, 2, 5, 4, 0]]]), chunks=(1, 1, 2))
    >>> pooling.dask.max_pool1d(x, 3, stride=2, padding=1).compute().tolist()
    [[[3, 5, 5]]]
    """
    return max_pool(1, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                    data_format, out)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False, data_format="NCHW", *, out=None):
    """pooling.max_pool2d over a dask array: ``y`` or ``(y, indices)``,
    indices flat ``h * W + w`` in the whole input plane.

    Examples
    --------
    >>> x = da.from_array(np.arange(16.0).reshape(1, 1, 4, 4), chunks=(1, 1, 2, 2))
    >>> y, idx = pooling.dask.max_pool2d(x, 2, return_indices=True)
    >>> y.compute().tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    >>> idx.compute().tolist()                   # in the whole plane
    [[[[5, 7], [13, 15]]]]
    """
    return max_pool(2, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                    data_format, out)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False, data_format="NCDHW", *, out=None):
    """pooling.max_pool3d over a dask array.

    Examples
    --------
    >>> x = da.from_array(np.arange(64.0).reshape(1, 1, 4, 4, 4), chunks=2)
    >>> pooling.dask.max_pool3d(x, 2).compute().ravel().tolist()
    [21.0, 23.0, 29.0, 31.0, 53.0, 55.0, 61.0, 63.0]
    """
    return max_pool(3, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                    data_format, out)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, data_format="NCL", *, out=None):
    """pooling.avg_pool1d over a dask array.

    Examples
    --------
    >>> x = da.from_array(np.array([[[1.0, 2.0, 4.0, 8.0]]]), chunks=(1, 1, 1))
    >>> pooling.dask.avg_pool1d(x, 2).compute().tolist()
    [[[1.5, 6.0]]]
    """
    return avg_pool(1, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override, data_format, out)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, data_format="NCHW", *, out=None):
    """pooling.avg_pool2d over a dask array.

    Examples
    --------
    >>> x = da.from_array(np.arange(16.0).reshape(1, 1, 4, 4), chunks=(1, 1, 2, 2))
    >>> pooling.dask.avg_pool2d(x, 2).compute().tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    return avg_pool(2, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override, data_format, out)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, data_format="NCDHW", *,
               out=None):
    """pooling.avg_pool3d over a dask array.

    Examples
    --------
    >>> x = da.from_array(np.arange(64.0).reshape(1, 1, 4, 4, 4), chunks=2)
    >>> pooling.dask.avg_pool3d(x, 2).compute().ravel().tolist()
    [10.5, 12.5, 18.5, 20.5, 42.5, 44.5, 50.5, 52.5]
    """
    return avg_pool(3, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                    divisor_override, data_format, out)


def lp_pool1d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCL", *,
              out=None):
    """pooling.lp_pool1d over a dask array.

    Examples
    --------
    >>> x = da.from_array(np.array([[[3.0, 4.0, 6.0, 8.0]]]), chunks=(1, 1, 1))
    >>> pooling.dask.lp_pool1d(x, 2, 2).compute().tolist()
    [[[5.0, 10.0]]]
    """
    return lp_pool(1, x, norm_type, kernel_size, stride, ceil_mode, data_format, out)


def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCHW", *,
              out=None):
    """pooling.lp_pool2d over a dask array.

    Examples
    --------
    >>> x = da.from_array(np.arange(16.0).reshape(1, 1, 4, 4), chunks=(1, 1, 2, 2))
    >>> pooling.dask.lp_pool2d(x, 1, 2).compute().tolist()
    [[[[10.0, 18.0], [42.0, 50.0]]]]
    """
    return lp_pool(2, x, norm_type, kernel_size, stride, ceil_mode, data_format, out)


def lp_pool3d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCDHW", *,
              out=None):
    """pooling.lp_pool3d over a dask array.

    Examples
    --------
    >>> x = da.ones((1, 1, 4, 4, 4), chunks=2)
    >>> pooling.dask.lp_pool3d(x, 1, 2).compute().ravel().tolist()
    [8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0]
    """
    return lp_pool(3, x, norm_type, kernel_size, stride, ceil_mode, data_format, out)


def max_pool1d_backward(grad_output, indices, input_shape, data_format="NCL", *, out=None,
                        kernel_size=None, stride=None, padding=0, dilation=1):
    """pooling.max_pool1d_backward over dask arrays (see max_pool2d_backward).

    Examples
    --------
    >>> x = da.from_array(np.array([[[1.0, 3.0, 2.0, 5.0]]]), chunks=(1, 1, 2))
    >>> y, idx = pooling.dask.max_pool1d(x, 2, return_indices=True)
    >>> pooling.dask.max_pool1d_backward(da.ones_like(y), idx, x.shape).compute().tolist()
    [[[0.0, 1.0, 0.0, 1.0]]]
    """
    return max_pool_backward(1, grad_output, indices, input_shape, data_format, out,
                             kernel_size, stride, padding, dilation)


def max_pool2d_backward(grad_output, indices, input_shape, data_format="NCHW", *, out=None,
                        kernel_size=None, stride=None, padding=0, dilation=1):
    """pooling.max_pool2d_backward over dask arrays.

    The in-memory signature has no window arguments, but a graph linear in
    blocks needs them (which outputs can reach an input block): they come
    from ``indices`` when it is the array ``pooling.dask.max_pool2d``
    returned, else from the keyword-only ``kernel_size``, ``stride``,
    ``padding`` and ``dilation`` (the forward's).  Every index must lie in
    its own window (checked when the blocks run).

    Examples
    --------
    >>> x = da.from_array(np.arange(16.0).reshape(1, 1, 4, 4), chunks=(1, 1, 2, 2))
    >>> y, idx = pooling.dask.max_pool2d(x, 2, return_indices=True)
    >>> dx = pooling.dask.max_pool2d_backward(da.ones_like(y), idx, x.shape)
    >>> dx.compute()[0, 0, 1].tolist()
    [0.0, 1.0, 0.0, 1.0]
    """
    return max_pool_backward(2, grad_output, indices, input_shape, data_format, out,
                             kernel_size, stride, padding, dilation)


def max_pool3d_backward(grad_output, indices, input_shape, data_format="NCDHW", *, out=None,
                        kernel_size=None, stride=None, padding=0, dilation=1):
    """pooling.max_pool3d_backward over dask arrays (see max_pool2d_backward).

    Examples
    --------
    >>> x = da.from_array(np.arange(8.0).reshape(1, 1, 2, 2, 2), chunks=1)
    >>> y, idx = pooling.dask.max_pool3d(x, 2, return_indices=True)
    >>> pooling.dask.max_pool3d_backward(da.ones_like(y), idx, x.shape).compute().ravel().tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    """
    return max_pool_backward(3, grad_output, indices, input_shape, data_format, out,
                             kernel_size, stride, padding, dilation)


def avg_pool1d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None,
                        data_format="NCL", *, out=None):
    """pooling.avg_pool1d_backward over a dask array.

    Examples
    --------
    >>> g = da.from_array(np.array([[[1.0, 2.0]]]), chunks=(1, 1, 1))
    >>> pooling.dask.avg_pool1d_backward(g, (1, 1, 4), 2).compute().tolist()
    [[[0.5, 0.5, 1.0, 1.0]]]
    """
    return avg_pool_backward(1, grad_output, input_shape, kernel_size, stride, padding,
                             ceil_mode, count_include_pad, divisor_override, data_format, out)


def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None,
                        data_format="NCHW", *, out=None):
    """pooling.avg_pool2d_backward over a dask array.

    Examples
    --------
    >>> g = da.ones((1, 1, 2, 2), chunks=1)
    >>> pooling.dask.avg_pool2d_backward(g, (1, 1, 4, 4), 2).compute()[0, 0, 0].tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    return avg_pool_backward(2, grad_output, input_shape, kernel_size, stride, padding,
                             ceil_mode, count_include_pad, divisor_override, data_format, out)


def avg_pool3d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None,
                        data_format="NCDHW", *, out=None):
    """pooling.avg_pool3d_backward over a dask array.

    Examples
    --------
    >>> g = da.full((1, 1, 1, 1, 1), 8.0, chunks=1)
    >>> pooling.dask.avg_pool3d_backward(g, (1, 1, 2, 2, 2), 2).compute().ravel().tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    return avg_pool_backward(3, grad_output, input_shape, kernel_size, stride, padding,
                             ceil_mode, count_include_pad, divisor_override, data_format, out)


def fractional_max_pool2d(x, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, random_samples=None, data_format="NCHW", *,
                          rng=None, out=None):
    """pooling.fractional_max_pool2d over a dask array.  Samples not given
    are drawn when the graph is built (from ``rng``, or NumPy's global
    generator), as the in-memory call would draw them then.

    Examples
    --------
    >>> x = da.ones((2, 3, 10, 10), chunks=(1, 3, 5, 5))
    >>> pooling.dask.fractional_max_pool2d(x, 3, output_ratio=0.5, rng=0).shape
    (2, 3, 5, 5)
    """
    return fractional_max_pool(2, x, kernel_size, output_size, output_ratio, return_indices,
                               random_samples, data_format, rng, out)


def fractional_max_pool3d(x, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, random_samples=None, data_format="NCDHW", *,
                          rng=None, out=None):
    """pooling.fractional_max_pool3d over a dask array (see fractional_max_pool2d).

    Examples
    --------
    >>> x = da.ones((1, 2, 9, 9, 9), chunks=3)
    >>> pooling.dask.fractional_max_pool3d(x, 2, output_size=4, rng=0).compute().shape
    (1, 2, 4, 4, 4)
    """
    return fractional_max_pool(3, x, kernel_size, output_size, output_ratio, return_indices,
                               random_samples, data_format, rng, out)


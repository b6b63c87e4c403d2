"""The functional API, served by the current backend.

Every function takes ``data_format``: channels first (PyTorch's layout, the
default) or channels last ("NLC", "NHWC", "NDHWC"), where the input is
(N, *spatial, C) or (*spatial, C) and the results come back in the same
layout, equal to the channels-first results transposed (indices included:
flat positions within one channel's spatial volume).  Channels-last arrays
are pooled where they lie, vectorised over channels; the forward never
transposes them into a copy.

Every function takes a keyword-only ``out``: preallocated output(s) to write
into instead of allocating, as NumPy ufuncs take them.  With
``return_indices=True`` it is a pair ``(y, indices)``; otherwise one array
(or a 1-tuple holding it).  Each must be a writeable ndarray of exactly the
result's shape and dtype (int64 for indices), sharing no memory with the
inputs or with the other; the function returns ``out``'s arrays themselves.

Average and adaptive average pooling have compiled kernels too, with the
exact NumPy reference's (``pooling.reference``) results bit for bit; the
NumPy backend runs the reference.

The docstrings' examples assume ``import numpy as np`` and ``import pooling``.
"""
from __future__ import annotations

import functools
import sys

import numpy as np

from . import _api, _fractional
from ._core import backend as _backend

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool1d_backward", "adaptive_avg_pool2d",
           "adaptive_avg_pool2d_backward", "adaptive_avg_pool3d",
           "adaptive_avg_pool3d_backward", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "adaptive_max_pool3d", "avg_pool1d", "avg_pool1d_backward", "avg_pool2d",
           "avg_pool2d_backward", "avg_pool3d", "avg_pool3d_backward",
           "fractional_max_pool2d", "fractional_max_pool3d",
           "lp_pool1d", "lp_pool1d_backward", "lp_pool2d", "lp_pool2d_backward", "lp_pool3d",
           "lp_pool3d_backward", "max_pool1d", "max_pool1d_backward", "max_pool2d", "max_pool2d_backward",
           "max_pool3d", "max_pool3d_backward", "max_unpool1d", "max_unpool2d",
           "max_unpool3d"]


def _dask_form(n_arrays=1):
    """The function, or pooling.dask's function of the same name when one of
    its first ``n_arrays`` arguments is a dask array.  This front end is the
    one place that dispatches on the array type: the call sequence below it
    (pooling._api) sees ndarrays only.  Dask is looked for only once
    something has imported dask.array (no dask array can exist before), so
    ``import pooling`` and calls on ndarrays never import it."""
    def wrap(fn):
        name = fn.__name__
        names = fn.__code__.co_varnames[:n_arrays]

        @functools.wraps(fn)
        def call(*args, **kwargs):
            arrays = args[:n_arrays] if len(args) >= n_arrays else \
                args + tuple(kwargs.get(k) for k in names[len(args):])
            if type(arrays[0]) is not np.ndarray or type(arrays[-1]) is not np.ndarray:
                dask_array = sys.modules.get("dask.array")
                if dask_array is not None and any(isinstance(a, dask_array.Array)
                                                  for a in arrays):
                    from . import dask
                    return getattr(dask, name)(*args, **kwargs)
            return fn(*args, **kwargs)
        return call
    return wrap


@_dask_form()
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False, data_format="NCHW", *, out=None):
    """2-D max pooling over an (N, C, H, W) or (C, H, W) array.

    Same arguments and results as ``torch.nn.functional.max_pool2d``:
    ``kernel_size``, ``stride`` (None means ``kernel_size``), ``padding`` and
    ``dilation`` are ints or (h, w) pairs; padding is implicit -inf; windows
    follow PyTorch's output-size rule, including ``ceil_mode``.
    ``data_format="NHWC"`` takes (N, H, W, C) or (H, W, C) arrays instead.

    Returns ``y`` (x's dtype), or ``(y, indices)`` with ``return_indices``:
    int64 flat positions ``h * W + w`` of each maximum in its input plane.
    Ties pick the first maximum in row-major window order; a window holding
    NaN gives NaN, indexed at its last NaN.  ``x`` is never modified.
    ``out``: ``y``, or ``(y, indices)`` with ``return_indices``, to write
    into and return (see the module docstring).

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> y, idx = pooling.max_pool2d(x, 2, return_indices=True)
    >>> y.tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    >>> idx.tolist()
    [[[[5, 7], [13, 15]]]]
    >>> img = np.ones((8, 32, 32, 3))                       # channels last
    >>> pooling.max_pool2d(img, 3, stride=2, padding=1, data_format="NHWC").shape
    (8, 16, 16, 3)
    """
    return _api.max_pool(_backend.core(), 2, x, kernel_size, stride, padding,
                         dilation, ceil_mode, return_indices, data_format, out=out)


@_dask_form(2)
def max_pool2d_backward(grad_output, indices, input_shape, data_format="NCHW", *, out=None):
    """Gradient of max_pool2d with respect to its input.

    Adds each ``grad_output`` element at its ``indices`` position in a zero
    array of ``input_shape`` (overlapping windows accumulate, in PyTorch's
    order); the result has grad_output's dtype, which must be floating.
    ``out``: an array of ``input_shape`` and that dtype to write it into and
    return (preallocated, it saves the page faults of a fresh gradient).

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> y, idx = pooling.max_pool2d(x, 2, return_indices=True)
    >>> pooling.max_pool2d_backward(np.ones_like(y), idx, x.shape)[0, 0].tolist()
    [[0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0]]
    """
    return _api.max_pool_backward(_backend.core(), 2, grad_output, indices, input_shape,
                                  data_format, out=out)


@_dask_form()
def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False, data_format="NCL", *, out=None):
    """1-D max pooling over an (N, C, L) or (C, L) array ("NLC": (N, L, C)).

    Same arguments and results as ``torch.nn.functional.max_pool1d``; indices
    are int64 positions in L.  Same rules as :func:`max_pool2d` otherwise.

    Examples
    --------
    >>> pooling.max_pool1d(np.array([[[1, 3, 2, 5, 4]]]), 2).tolist()
    [[[3, 5]]]
    >>> pooling.max_pool1d(np.array([[[1, 3, 2, 5, 4]]]), 2, ceil_mode=True).tolist()
    [[[3, 5, 4]]]
    """
    return _api.max_pool(_backend.core(), 1, x, kernel_size, stride, padding,
                         dilation, ceil_mode, return_indices, data_format, out=out)


@_dask_form(2)
def max_pool1d_backward(grad_output, indices, input_shape, data_format="NCL", *, out=None):
    """Gradient of max_pool1d with respect to its input (see max_pool2d_backward).

    Examples
    --------
    >>> x = np.array([[[1.0, 3.0, 2.0, 5.0]]])
    >>> y, idx = pooling.max_pool1d(x, 2, return_indices=True)
    >>> pooling.max_pool1d_backward(np.ones_like(y), idx, x.shape).tolist()
    [[[0.0, 1.0, 0.0, 1.0]]]
    """
    return _api.max_pool_backward(_backend.core(), 1, grad_output, indices, input_shape,
                                  data_format, out=out)


@_dask_form()
def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode=False, return_indices=False, data_format="NCDHW", *, out=None):
    """3-D max pooling over an (N, C, D, H, W) or (C, D, H, W) array
    ("NDHWC": (N, D, H, W, C)).

    Same arguments and results as ``torch.nn.functional.max_pool3d``: ints or
    (d, h, w) triples; indices are int64 flat positions ``(d * H + h) * W + w``
    in each input volume; ties and NaN as in :func:`max_pool2d`.

    Examples
    --------
    >>> x = np.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> y, idx = pooling.max_pool3d(x, 2, return_indices=True)
    >>> y.tolist(), idx.tolist()
    ([[[[[7.0]]]]], [[[[[7]]]]])
    """
    return _api.max_pool(_backend.core(), 3, x, kernel_size, stride, padding,
                         dilation, ceil_mode, return_indices, data_format, out=out)


@_dask_form(2)
def max_pool3d_backward(grad_output, indices, input_shape, data_format="NCDHW", *, out=None):
    """Gradient of max_pool3d with respect to its input (see max_pool2d_backward).

    Examples
    --------
    >>> x = np.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> y, idx = pooling.max_pool3d(x, 2, return_indices=True)
    >>> pooling.max_pool3d_backward(2 * np.ones_like(y), idx, x.shape).ravel().tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0]
    """
    return _api.max_pool_backward(_backend.core(), 3, grad_output, indices, input_shape,
                                  data_format, out=out)


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 data_format="NCHW", *, out=None):
    """Partial inverse of max_pool2d, as ``torch.nn.functional.max_unpool2d``.

    A zero array of the output size, ``(H_in - 1) * stride + kernel_size -
    2 * padding`` per axis unless ``output_size`` says otherwise (within one
    stride of it; N and C may lead), with every value of ``x`` written at its
    index; where indices repeat, the last write wins.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> y, idx = pooling.max_pool2d(x, 2, return_indices=True)
    >>> pooling.max_unpool2d(y, idx, 2)[0, 0].tolist()
    [[0.0, 0.0, 0.0, 0.0], [0.0, 5.0, 0.0, 7.0], [0.0, 0.0, 0.0, 0.0], [0.0, 13.0, 0.0, 15.0]]
    """
    return _api.max_unpool(_backend.core(), 2, x, indices, kernel_size, stride, padding,
                           output_size, data_format, out=out)


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 data_format="NCL", *, out=None):
    """Partial inverse of max_pool1d, as ``torch.nn.functional.max_unpool1d``.

    Examples
    --------
    >>> pooling.max_unpool1d(np.array([[[7.0, 9.0]]]), np.array([[[1, 3]]]), 2).tolist()
    [[[0.0, 7.0, 0.0, 9.0]]]
    """
    return _api.max_unpool(_backend.core(), 1, x, indices, kernel_size, stride, padding,
                           output_size, data_format, out=out)


def max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size=None,
                 data_format="NCDHW", *, out=None):
    """Partial inverse of max_pool3d, as ``torch.nn.functional.max_unpool3d``.

    Examples
    --------
    >>> u = pooling.max_unpool3d(np.array([[[[[5.0]]]]]), np.array([[[[[6]]]]]), 2)
    >>> u.shape
    (1, 1, 2, 2, 2)
    >>> u.ravel().tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0, 0.0]
    """
    return _api.max_unpool(_backend.core(), 3, x, indices, kernel_size, stride, padding,
                           output_size, data_format, out=out)


def adaptive_max_pool2d(x, output_size, return_indices=False, data_format="NCHW", *, out=None):
    """Adaptive max pooling, as ``torch.nn.functional.adaptive_max_pool2d``.

    Output (h, w) = ``output_size`` (an int, or a pair whose None entries keep
    the input size); window i along an axis of length L spans
    ``floor(i*L/out)`` to ``ceil((i+1)*L/out)``.  Same tie, NaN and index rules
    as :func:`max_pool2d`; its gradient is :func:`max_pool2d_backward`.

    Examples
    --------
    >>> x = np.arange(20.0).reshape(1, 4, 5)                  # unbatched (C, H, W)
    >>> pooling.adaptive_max_pool2d(x, (2, 2)).tolist()
    [[[7.0, 9.0], [17.0, 19.0]]]
    >>> pooling.adaptive_max_pool2d(x, (1, None), return_indices=True)[1].tolist()
    [[[15, 16, 17, 18, 19]]]
    """
    return _api.adaptive_max_pool(_backend.core(), 2, x, output_size, return_indices,
                                  data_format, out=out)


def adaptive_max_pool1d(x, output_size, return_indices=False, data_format="NCL", *, out=None):
    """Adaptive 1-D max pooling, as ``torch.nn.functional.adaptive_max_pool1d``;
    its gradient is :func:`max_pool1d_backward`.

    Examples
    --------
    >>> pooling.adaptive_max_pool1d(np.array([[[1, 5, 2, 4, 3]]]), 2).tolist()
    [[[5, 4]]]
    """
    return _api.adaptive_max_pool(_backend.core(), 1, x, output_size, return_indices,
                                  data_format, out=out)


def adaptive_max_pool3d(x, output_size, return_indices=False, data_format="NCDHW", *, out=None):
    """Adaptive 3-D max pooling, as ``torch.nn.functional.adaptive_max_pool3d``;
    its gradient is :func:`max_pool3d_backward`.

    Examples
    --------
    >>> x = np.arange(27.0).reshape(1, 1, 3, 3, 3)
    >>> pooling.adaptive_max_pool3d(x, 1, return_indices=True)[1].tolist()
    [[[[[26]]]]]
    """
    return _api.adaptive_max_pool(_backend.core(), 3, x, output_size, return_indices,
                                  data_format, out=out)


@_dask_form()
def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, data_format="NCHW", *, out=None):
    """2-D average pooling over an (N, C, H, W) or (C, H, W) array, as
    ``torch.nn.functional.avg_pool2d``, bit for bit.

    ``kernel_size``, ``stride`` (None means ``kernel_size``) and ``padding``
    (implicit zeros, at most half the kernel) are ints or (h, w) pairs.  Each
    window's sum is divided by ``divisor_override`` if given (a non-zero
    int), else by the window's size clipped to the padded input
    (``count_include_pad=True``) or by its number of input elements.
    Windows follow PyTorch's output-size rule, ``ceil_mode`` included.
    float16, float32 and float64 inputs sum in float32 (float16 too) or
    float64, in window order; int64 inputs sum in int64 and divide
    truncating, as PyTorch's int64 kernel; other dtypes are a TypeError.
    Compiled kernels, equal to the NumPy reference bit for bit.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> pooling.avg_pool2d(x, 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    >>> pooling.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)[0, 0, 0].tolist()
    [2.5, 4.0]
    """
    return _api.avg_pool(_backend.core(), 2, x, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out=out)


@_dask_form()
def avg_pool2d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None,
                        data_format="NCHW", *, out=None):
    """Gradient of avg_pool2d with respect to its input, as
    ``torch.ops.aten.avg_pool2d_backward``: each ``grad_output`` element
    divided by its window's divisor and added to every input position of
    the window, in output raster order.  Same pooling arguments as the
    forward; the result has grad_output's dtype (float16, float32, float64
    or int64) and ``input_shape``.

    Examples
    --------
    >>> pooling.avg_pool2d_backward(np.ones((1, 1, 1, 1)), (1, 1, 2, 2), 2).tolist()
    [[[[0.25, 0.25], [0.25, 0.25]]]]
    """
    return _api.avg_pool_backward(_backend.core(), 2, grad_output, input_shape, kernel_size,
                                  stride, padding, ceil_mode, count_include_pad,
                                  divisor_override, data_format, out=out)


@_dask_form()
def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, data_format="NCL", *, out=None):
    """1-D average pooling over an (N, C, L) or (C, L) array ("NLC": (N, L, C)),
    as ``torch.nn.functional.avg_pool1d`` (which lacks ``divisor_override``).
    Same rules as :func:`avg_pool2d`.

    Examples
    --------
    >>> x = np.array([[[1.0, 2.0, 4.0]]])
    >>> pooling.avg_pool1d(x, 2, padding=1).tolist()
    [[[0.5, 3.0]]]
    >>> pooling.avg_pool1d(x, 2, padding=1, count_include_pad=False).tolist()
    [[[1.0, 3.0]]]
    >>> pooling.avg_pool1d(np.array([[[-7, 2]]]), 2).tolist()      # int64 truncates toward zero
    [[[-2]]]
    """
    return _api.avg_pool(_backend.core(), 1, x, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out=out)


@_dask_form()
def avg_pool1d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None,
                        data_format="NCL", *, out=None):
    """Gradient of avg_pool1d with respect to its input (see avg_pool2d_backward).

    Examples
    --------
    >>> pooling.avg_pool1d_backward(np.array([[[1.0, 2.0]]]), (1, 1, 4), 2).tolist()
    [[[0.5, 0.5, 1.0, 1.0]]]
    """
    return _api.avg_pool_backward(_backend.core(), 1, grad_output, input_shape, kernel_size,
                                  stride, padding, ceil_mode, count_include_pad,
                                  divisor_override, data_format, out=out)


@_dask_form()
def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None, data_format="NCDHW", *, out=None):
    """3-D average pooling over an (N, C, D, H, W) or (C, D, H, W) array
    ("NDHWC": (N, D, H, W, C)), as ``torch.nn.functional.avg_pool3d``.  As
    PyTorch, the input must be at least as large as the kernel on every
    axis, whatever the padding.  Same rules as :func:`avg_pool2d`.

    Examples
    --------
    >>> pooling.avg_pool3d(np.arange(8.0).reshape(1, 1, 2, 2, 2), 2).tolist()
    [[[[[3.5]]]]]
    """
    return _api.avg_pool(_backend.core(), 3, x, kernel_size, stride, padding, ceil_mode,
                         count_include_pad, divisor_override, data_format, out=out)


@_dask_form()
def avg_pool3d_backward(grad_output, input_shape, kernel_size, stride=None, padding=0,
                        ceil_mode=False, count_include_pad=True, divisor_override=None,
                        data_format="NCDHW", *, out=None):
    """Gradient of avg_pool3d with respect to its input (see avg_pool2d_backward).

    Examples
    --------
    >>> g = np.full((1, 1, 1, 1, 1), 8.0)
    >>> pooling.avg_pool3d_backward(g, (1, 1, 2, 2, 2), 2).ravel().tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    return _api.avg_pool_backward(_backend.core(), 3, grad_output, input_shape, kernel_size,
                                  stride, padding, ceil_mode, count_include_pad,
                                  divisor_override, data_format, out=out)


def adaptive_avg_pool2d(x, output_size, data_format="NCHW", *, out=None):
    """Adaptive average pooling, as ``torch.nn.functional.adaptive_avg_pool2d``.

    Output (h, w) = ``output_size`` (an int, or a pair whose None entries
    keep the input size); window i along an axis of length L spans
    ``floor(i*L/out)`` to ``ceil((i+1)*L/out)``.  Each window is summed in
    order (float32 for float16) and divided by its height, then its width,
    as PyTorch's kernel does; floating dtypes only, as in PyTorch.  The
    result is stored channels-last when the input is.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> pooling.adaptive_avg_pool2d(x, 1).tolist()
    [[[[7.5]]]]
    >>> pooling.adaptive_avg_pool2d(np.ones((2, 3, 7, 9)), (2, None)).shape
    (2, 3, 2, 9)
    """
    return _api.adaptive_avg_pool(_backend.core(), 2, x, output_size, data_format, out=out)


def adaptive_avg_pool2d_backward(grad_output, input_shape, data_format="NCHW", *, out=None):
    """Gradient of adaptive_avg_pool2d, as
    ``torch.ops.aten._adaptive_avg_pool2d_backward``: the output size is
    grad_output's; each element divided by its window's height, then width,
    and added over the window, in output raster order.

    Examples
    --------
    >>> pooling.adaptive_avg_pool2d_backward(np.ones((1, 1, 1, 1)), (1, 1, 2, 2)).tolist()
    [[[[0.25, 0.25], [0.25, 0.25]]]]
    """
    return _api.adaptive_avg_pool_backward(_backend.core(), 2, grad_output, input_shape,
                                           data_format, out=out)


def adaptive_avg_pool1d(x, output_size, data_format="NCL", *, out=None):
    """Adaptive 1-D average pooling, as ``torch.nn.functional.adaptive_avg_pool1d``.

    Examples
    --------
    >>> pooling.adaptive_avg_pool1d(np.array([[[1.0, 2.0, 3.0, 6.0]]]), 2).tolist()
    [[[1.5, 4.5]]]
    """
    return _api.adaptive_avg_pool(_backend.core(), 1, x, output_size, data_format, out=out)


def adaptive_avg_pool1d_backward(grad_output, input_shape, data_format="NCL", *, out=None):
    """Gradient of adaptive_avg_pool1d (see adaptive_avg_pool2d_backward).

    Examples
    --------
    >>> pooling.adaptive_avg_pool1d_backward(np.array([[[2.0, 4.0]]]), (1, 1, 4)).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    """
    return _api.adaptive_avg_pool_backward(_backend.core(), 1, grad_output, input_shape,
                                           data_format, out=out)


def adaptive_avg_pool3d(x, output_size, data_format="NCDHW", *, out=None):
    """Adaptive 3-D average pooling, as ``torch.nn.functional.adaptive_avg_pool3d``
    (each sum divided by depth, height, then width).

    Examples
    --------
    >>> pooling.adaptive_avg_pool3d(np.arange(8.0).reshape(1, 1, 2, 2, 2), 1).tolist()
    [[[[[3.5]]]]]
    """
    return _api.adaptive_avg_pool(_backend.core(), 3, x, output_size, data_format, out=out)


def adaptive_avg_pool3d_backward(grad_output, input_shape, data_format="NCDHW", *, out=None):
    """Gradient of adaptive_avg_pool3d (see adaptive_avg_pool2d_backward).

    Examples
    --------
    >>> g = np.full((1, 1, 1, 1, 1), 8.0)
    >>> pooling.adaptive_avg_pool3d_backward(g, (1, 1, 2, 2, 2)).ravel().tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    return _api.adaptive_avg_pool_backward(_backend.core(), 3, grad_output, input_shape,
                                           data_format, out=out)


@_dask_form()
def lp_pool2d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCHW", *,
              out=None):
    """2-D power-average pooling, as ``torch.nn.functional.lp_pool2d``:
    ``(sum over the window of x**p) ** (1/p)``, computed as PyTorch does,
    ``avg_pool2d(x**p, kernel_size, stride, 0, ceil_mode)`` then
    ``(sign(s) * relu(|s|) * kh * kw) ** (1/p)`` (a window cut short by
    ``ceil_mode`` is scaled to the full kernel's size, as in PyTorch).
    ``norm_type`` p is an int or a float, not 0; p = inf is ``max_pool2d(|x|)``
    and p = -inf ``-max_pool2d(-|x|)``.

    p = 1 gives PyTorch's bits.  Other p are within 2 ulp of PyTorch, whose
    vectorised sqrt and pow are not correctly rounded: here products and
    quotients are PyTorch's, square roots NumPy's (correctly rounded), other
    powers float64 ``pow`` rounded once (docs/pytorch-differences.md).
    Floating dtypes only (float16 computed through float32 as PyTorch's);
    integer inputs are a TypeError.  Memory: with one thread, ``x ** p`` is
    computed a block of planes at a time into one buffer of about 1 MiB;
    with more threads it is one temporary the size of the input.

    Examples
    --------
    >>> x = np.array([[[[3.0, 0.0], [0.0, -4.0]]]])
    >>> pooling.lp_pool2d(x, 2, 2).tolist()
    [[[[5.0]]]]
    >>> pooling.lp_pool2d(x, 1, 2).tolist()
    [[[[-1.0]]]]
    >>> pooling.lp_pool2d(x, float("inf"), 2).tolist()
    [[[[4.0]]]]
    """
    return _api.lp_pool(_backend.core(), 2, x, norm_type, kernel_size, stride, ceil_mode,
                        data_format, out=out)


def lp_pool2d_backward(grad_output, x, norm_type, kernel_size, stride=None, ceil_mode=False,
                       data_format="NCHW", *, out=None):
    """Gradient of lp_pool2d with respect to its input ``x`` (needed: the
    chain runs through ``x ** p``), as ``torch.autograd`` computes it through
    the forward's steps, within a few ulp.  For p = +-inf the gradient goes
    to each window's argmax of ``|x|`` (first in window order), times
    ``sign(x)``.  Temporaries: ``x ** p`` and ``x ** (p - 1)``, each the
    size of the input.

    Examples
    --------
    >>> x = np.array([[[[3.0, 0.0], [0.0, -4.0]]]])
    >>> pooling.lp_pool2d_backward(np.ones((1, 1, 1, 1)), x, float("inf"), 2).tolist()
    [[[[0.0, 0.0], [0.0, -1.0]]]]
    """
    return _api.lp_pool_backward(_backend.core(), 2, grad_output, x, norm_type, kernel_size,
                                 stride, ceil_mode, data_format, out=out)


@_dask_form()
def lp_pool1d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCL", *,
              out=None):
    """1-D power-average pooling, as ``torch.nn.functional.lp_pool1d``
    (see :func:`lp_pool2d`).

    Examples
    --------
    >>> pooling.lp_pool1d(np.array([[[3.0, 4.0, -1.0]]]), 2, 2).tolist()
    [[[5.0]]]
    """
    return _api.lp_pool(_backend.core(), 1, x, norm_type, kernel_size, stride, ceil_mode,
                        data_format, out=out)


def lp_pool1d_backward(grad_output, x, norm_type, kernel_size, stride=None, ceil_mode=False,
                       data_format="NCL", *, out=None):
    """Gradient of lp_pool1d (see :func:`lp_pool2d_backward`).

    Examples
    --------
    >>> x = np.array([[[3.0, 4.0]]])
    >>> pooling.lp_pool1d_backward(np.ones((1, 1, 1)), x, 1, 2).tolist()
    [[[1.0, 1.0]]]
    """
    return _api.lp_pool_backward(_backend.core(), 1, grad_output, x, norm_type, kernel_size,
                                 stride, ceil_mode, data_format, out=out)


@_dask_form()
def lp_pool3d(x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format="NCDHW", *,
              out=None):
    """3-D power-average pooling, as ``torch.nn.functional.lp_pool3d``
    (see :func:`lp_pool2d`; as avg_pool3d, a finite p needs the input at
    least as large as the kernel on every axis).

    Examples
    --------
    >>> pooling.lp_pool3d(np.ones((1, 1, 2, 2, 2)), 1, 2).tolist()
    [[[[[8.0]]]]]
    """
    return _api.lp_pool(_backend.core(), 3, x, norm_type, kernel_size, stride, ceil_mode,
                        data_format, out=out)


def lp_pool3d_backward(grad_output, x, norm_type, kernel_size, stride=None, ceil_mode=False,
                       data_format="NCDHW", *, out=None):
    """Gradient of lp_pool3d (see :func:`lp_pool2d_backward`).

    Examples
    --------
    >>> x = np.arange(8.0).reshape(1, 1, 2, 2, 2)
    >>> pooling.lp_pool3d_backward(np.ones((1, 1, 1, 1, 1)), x, float("inf"), 2).ravel().tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    """
    return _api.lp_pool_backward(_backend.core(), 3, grad_output, x, norm_type, kernel_size,
                                 stride, ceil_mode, data_format, out=out)


@_dask_form()
def fractional_max_pool2d(x, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, random_samples=None, data_format="NCHW", *,
                          rng=None, out=None):
    """Fractional max pooling over an (N, C, H, W) or (C, H, W) array, as
    ``torch.nn.functional.fractional_max_pool2d`` with ``_random_samples``,
    bit for bit (values and int64 indices ``h * W + w``).

    Windows are ``kernel_size`` (an int or (h, w)) in size, at pseudo-random
    starts: the output (h, w) is ``output_size`` (an int or a pair), or else
    ``int(size * output_ratio)`` per axis (a number or a pair in [0, 1]);
    ``output + kernel_size - 1 <= input`` on each axis.  Each plane (n, c)
    has two samples u in [0, 1), ``random_samples[n, c]``: u[0] places the
    columns, u[1] the rows, as PyTorch's ``generate_intervals`` does, in the
    input's float type: ``alpha = (in - k) / (out - 1)``, start
    ``int((i + u) * alpha) - int(u * alpha)``, the last start ``in - k``.
    ``random_samples``: floating, shape (N', C, 2) with N' >= N (1 for an
    unbatched input), converted to the input's dtype.  When None they are
    drawn: from ``rng`` (keyword-only: a ``numpy.random.Generator`` or an int
    seed), or with rng=None from NumPy's global generator
    (``np.random.random_sample``), so ``np.random.seed(s)`` makes the call
    reproducible as ``torch.manual_seed`` does torch's.  Floating inputs
    only (float16, float32, float64), as PyTorch.  Ties keep the first
    maximum, a NaN wins (the last NaN); the gradient is
    :func:`max_pool2d_backward` with the returned indices.

    Examples
    --------
    >>> x = np.arange(25.0).reshape(1, 1, 5, 5)
    >>> u = np.full((1, 1, 2), 0.5)                            # one (u_w, u_h) per plane
    >>> y, idx = pooling.fractional_max_pool2d(x, 2, output_size=3, return_indices=True,
    ...                                        random_samples=u)
    >>> idx.tolist()
    [[[[6, 8, 9], [16, 18, 19], [21, 23, 24]]]]
    >>> pooling.fractional_max_pool2d(np.ones((2, 3, 10, 10)), 3, output_ratio=0.5, rng=0).shape
    (2, 3, 5, 5)
    """
    return _fractional.fractional_max_pool(_backend.core(), 2, x, kernel_size, output_size,
                                           output_ratio, return_indices, random_samples,
                                           data_format, rng, out=out)


@_dask_form()
def fractional_max_pool3d(x, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, random_samples=None, data_format="NCDHW", *,
                          rng=None, out=None):
    """Fractional max pooling over an (N, C, T, H, W) or (C, T, H, W) array
    ("NDHWC": channels last), as ``torch.nn.functional.fractional_max_pool3d``
    with ``_random_samples`` of shape (N', C, 3): u[0] places the windows in
    time, u[1] in height, u[2] in width.  ``output + kernel_size - 1 <
    input`` on each axis (PyTorch's 3-D rule is strict).  Indices are
    ``(t * H + h) * W + w``; the gradient is :func:`max_pool3d_backward`.
    Otherwise as :func:`fractional_max_pool2d`.

    Examples
    --------
    >>> pooling.fractional_max_pool3d(np.ones((1, 2, 9, 9, 9)), 2, output_size=4, rng=0).shape
    (1, 2, 4, 4, 4)
    """
    return _fractional.fractional_max_pool(_backend.core(), 3, x, kernel_size, output_size,
                                           output_ratio, return_indices, random_samples,
                                           data_format, rng, out=out)

"""Layer objects with forward/backward for NumPy networks: MaxPool1D/2D/3D,
AdaptiveMaxPool1D/2D/3D, MaxUnpool1D/2D/3D, AvgPool1D/2D/3D,
AdaptiveAvgPool1D/2D/3D, LPPool1D/2D/3D and FractionalMaxPool2D/3D, each one
class parametrised by the number of spatial axes.  Every layer takes ``data_format`` as the
functions do (channels first by default, or "NLC", "NHWC", "NDHWC"), checks
its arguments when it is made, and computes what the functions compute, bit
for bit.  The docstrings' examples assume ``import numpy as np`` and
``import pooling``."""
from __future__ import annotations

import numpy as np

from . import _api, _fractional
from ._core import backend as _backend
from ._params import (LAYOUTS, adaptive_output_size, as_array, channels_last,
                      check_adaptive_avg_input, check_average_dtype, check_avg_input,
                      check_dtype, check_lp_input, normalize_avg_args, normalize_lp_args,
                      normalize_pool_args, normalize_unpool_args)

__all__ = ["AdaptiveAvgPool1D", "AdaptiveAvgPool2D", "AdaptiveAvgPool3D", "AdaptiveMaxPool1D",
           "AdaptiveMaxPool2D", "AdaptiveMaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D",
           "FractionalMaxPool2D", "FractionalMaxPool3D", "LPPool1D", "LPPool2D", "LPPool3D", "MaxPool1D", "MaxPool2D", "MaxPool3D",
           "MaxUnpool1D", "MaxUnpool2D", "MaxUnpool3D"]


def _shape_only(shape, dtype=np.float32):
    """An array of ``shape`` that owns no memory (zero strides), for the
    shape checks of output_shape."""
    shape = tuple(shape)
    return np.lib.stride_tricks.as_strided(np.empty(1, dtype), shape, (0,) * len(shape))

class _Layer:
    _nd = 2
    _out_shape = None  # the last forward's output shape

    def _layout(self, data_format):
        """Check and keep the layout argument."""
        fmt = LAYOUTS[self._nd][0] if data_format is None else data_format
        channels_last(type(self).__name__, self._nd, fmt)
        self.data_format = fmt

    def _grad(self, grad_output, integer=False):
        """grad_output, checked against the last forward (``integer``: int64
        allowed, as average pooling's gradient may be)."""
        name = type(self).__name__
        if self._out_shape is None:
            raise RuntimeError(f"{name}.backward called before forward: there is "
                               "nothing cached to route the gradient through")
        fn = f"{name}.backward"
        g = as_array(grad_output, "grad_output", fn)
        if integer:
            check_average_dtype(g.dtype, "grad_output", fn, integer=True)
        else:
            check_dtype(g.dtype, "grad_output", fn, floating_only=True)
        if g.shape != self._out_shape:
            raise ValueError(
                f"{fn}: grad_output shape {g.shape} does not match "
                f"the last forward's output shape {self._out_shape}")
        return g


class _MaxPool(_Layer):

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                 data_format=None):
        self._name = type(self).__name__
        self._params = normalize_pool_args(
            self._name, self._nd, kernel_size, stride, padding, dilation, ceil_mode)
        self._layout(data_format)
        self._argmax = self._core = self._input_shape = self._lift = None
        # The arguments as given, for the plan the core keeps (see _api).
        self._call = (self._nd, kernel_size, stride, padding, dilation, ceil_mode,
                      "compact", self.data_format)

    kernel_size = property(lambda self: self._params.kernel_size)
    stride = property(lambda self: self._params.stride)
    padding = property(lambda self: self._params.padding)
    dilation = property(lambda self: self._params.dilation)
    ceil_mode = property(lambda self: self._params.ceil_mode)

    def output_shape(self, input_shape):
        """The shape forward returns for an input of ``input_shape``."""
        shape = tuple(input_shape)
        empty = np.lib.stride_tricks.as_strided(np.empty(1, np.uint8), shape, (0,) * len(shape))
        return _api.check_pool_input(empty, self._params, self._name, self.data_format)[1]

    def forward(self, x):
        """Pool ``x`` and cache the argmax (not the input) for backward."""
        core = _backend.core()
        plan = _api.find_plan(core, x, self._call)
        if plan is None:
            x, out_shape, lift = _api.check_pool_input(x, self._params, self._name,
                                                       self.data_format)
            y, argmax = _api.forward(core, x, self._params, out_shape, "compact", lift,
                                     self._call, self._reuse(core, out_shape))
        else:
            (y, argmax), lift = plan.run(x, self._reuse(core, plan.out_shape)), plan.lift
        # The argmax is only meaningful to the core that wrote it.
        self._argmax, self._core, self._input_shape, self._lift = argmax, core, x.shape, lift
        self._out_shape = y.shape
        return y

    __call__ = forward

    def _reuse(self, core, shape):
        """``out`` for the forward: the last forward's argmax cache, written
        over when it fits (saves a fresh array's page faults on every step).
        The cache is internal and only backward reads it, and backward wants
        the last forward's: nothing else can see the old contents go.  The
        returned values are always a new array: the caller may keep them."""
        a = self._argmax
        if a is None or self._core is not core or a.shape != shape:
            return None
        return None, a

    def backward(self, grad_output):
        """The input gradient of the last forward, for ``grad_output``."""
        g = self._grad(grad_output)
        return _api.backward_compact(self._core, g, self._argmax, self._params,
                                   self._input_shape, self._lift)

    def __repr__(self):
        p = self._params
        return (f"{self._name}(kernel_size={p.kernel_size}, stride={p.stride}, "
                f"padding={p.padding}, dilation={p.dilation}, ceil_mode={p.ceil_mode}, "
                f"data_format={self.data_format!r})")


class MaxPool2D(_MaxPool):
    """2-D max pooling layer over (N, C, H, W) or (C, H, W) arrays.

    ``forward(x)`` pools and caches the argmax (not the input);
    ``backward(grad_output)`` scatters the gradient back through that cache.
    Arguments as in :func:`pooling.max_pool2d`.

    Examples
    --------
    >>> layer = pooling.MaxPool2D(2)
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> layer(x).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    >>> layer.backward(np.ones((1, 1, 2, 2)))[0, 0, 1].tolist()
    [0.0, 1.0, 0.0, 1.0]
    """

    _nd = 2


class MaxPool1D(_MaxPool):
    """1-D max pooling layer over (N, C, L) or (C, L) arrays; arguments as in
    :func:`pooling.max_pool1d`.

    Examples
    --------
    >>> layer = pooling.MaxPool1D(2)
    >>> layer(np.array([[[1.0, 3.0, 2.0, 5.0]]])).tolist()
    [[[3.0, 5.0]]]
    >>> layer.backward(np.array([[[10.0, 20.0]]])).tolist()
    [[[0.0, 10.0, 0.0, 20.0]]]
    """

    _nd = 1


class MaxPool3D(_MaxPool):
    """3-D max pooling layer over (N, C, D, H, W) or (C, D, H, W) arrays;
    arguments as in :func:`pooling.max_pool3d`.

    Examples
    --------
    >>> layer = pooling.MaxPool3D(2, data_format="NDHWC")
    >>> layer.output_shape((4, 8, 8, 8, 3))
    (4, 4, 4, 4, 3)
    """

    _nd = 3


class _AdaptiveMaxPool(_Layer):
    def __init__(self, output_size, data_format=None):
        self.output_size = output_size
        self._layout(data_format)

    def forward(self, x):
        """Pool ``x`` adaptively (see :func:`pooling.adaptive_max_pool2d`) and
        cache the argmax for backward."""
        core = _backend.core()
        y, idx = _api.adaptive_max_pool(core, self._nd, x, self.output_size, True,
                                        self.data_format)
        self._core, self._indices = core, idx
        self._input_shape = np.shape(x)
        self._out_shape = y.shape
        return y

    __call__ = forward

    def backward(self, grad_output):
        g = self._grad(grad_output)
        return _api.max_pool_backward(self._core, self._nd, g, self._indices,
                                      self._input_shape, self.data_format)

    def __repr__(self):
        return (f"{type(self).__name__}(output_size={self.output_size!r}, "
                f"data_format={self.data_format!r})")


class AdaptiveMaxPool2D(_AdaptiveMaxPool):
    """Adaptive 2-D max pooling layer (``output_size`` as in
    :func:`pooling.adaptive_max_pool2d`).

    Examples
    --------
    >>> layer = pooling.AdaptiveMaxPool2D((1, 2))
    >>> layer(np.arange(8.0).reshape(1, 1, 2, 4)).tolist()
    [[[[5.0, 7.0]]]]
    >>> layer.backward(np.ones((1, 1, 1, 2)))[0, 0].tolist()
    [[0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0]]
    """

    _nd = 2


class AdaptiveMaxPool1D(_AdaptiveMaxPool):
    """Adaptive 1-D max pooling layer.

    Examples
    --------
    >>> layer = pooling.AdaptiveMaxPool1D(1)
    >>> layer(np.array([[[2.0, 7.0, 1.0]]])).tolist()
    [[[7.0]]]
    >>> layer.backward(np.array([[[1.0]]])).tolist()
    [[[0.0, 1.0, 0.0]]]
    """

    _nd = 1


class AdaptiveMaxPool3D(_AdaptiveMaxPool):
    """Adaptive 3-D max pooling layer.

    Examples
    --------
    >>> layer = pooling.AdaptiveMaxPool3D(1)
    >>> layer(np.arange(8.0).reshape(1, 2, 2, 2)).tolist()        # unbatched (C, D, H, W)
    [[[[7.0]]]]
    """

    _nd = 3


class _MaxUnpool(_Layer):
    def __init__(self, kernel_size, stride=None, padding=0, data_format=None):
        name = type(self).__name__
        self.kernel_size, self.stride, self.padding = normalize_unpool_args(
            name, self._nd, kernel_size, stride, padding)
        self._layout(data_format)

    def forward(self, x, indices, output_size=None):
        """Unpool (see :func:`pooling.max_unpool2d`); backward then gathers the
        gradient at ``indices``, as PyTorch's max_unpool backward does."""
        y = _api.max_unpool(_backend.core(), self._nd, x, indices, self.kernel_size,
                            self.stride, self.padding, output_size, self.data_format)
        self._indices = np.asarray(indices)
        self._out_shape = y.shape
        return y

    __call__ = forward

    def backward(self, grad_output):
        """Gather ``grad_output`` at the indices of the last forward."""
        g = self._grad(grad_output)
        last = channels_last(type(self).__name__, self._nd, self.data_format)
        lift = _api._lift(g, self._nd, last)
        g5, idx5 = lift.to_core(g), lift.to_core(self._indices)
        planes = (g5.shape[0] * g5.shape[1], -1) if g5.size else (0, 0)
        got = np.take_along_axis(g5.reshape(planes),
                                 idx5.reshape(planes).astype(np.intp), axis=1)
        return lift.from_core(got.reshape(idx5.shape))

    def __repr__(self):
        return (f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, data_format={self.data_format!r})")


class MaxUnpool2D(_MaxUnpool):
    """2-D max unpooling layer (arguments as in :func:`pooling.max_unpool2d`).

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> y, idx = pooling.max_pool2d(x, 2, return_indices=True)
    >>> unpool = pooling.MaxUnpool2D(2)
    >>> unpool(y, idx)[0, 0, 1].tolist()
    [0.0, 5.0, 0.0, 7.0]
    >>> unpool.backward(x).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """

    _nd = 2


class MaxUnpool1D(_MaxUnpool):
    """1-D max unpooling layer.

    Examples
    --------
    >>> unpool = pooling.MaxUnpool1D(2)
    >>> unpool(np.array([[[7.0, 9.0]]]), np.array([[[1, 3]]])).tolist()
    [[[0.0, 7.0, 0.0, 9.0]]]
    """

    _nd = 1


class MaxUnpool3D(_MaxUnpool):
    """3-D max unpooling layer.

    Examples
    --------
    >>> unpool = pooling.MaxUnpool3D(2)
    >>> unpool(np.array([[[[[5.0]]]]]), np.array([[[[[6]]]]])).shape
    (1, 1, 2, 2, 2)
    """

    _nd = 3


class _AvgPool(_Layer):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None, data_format=None):
        self._name = type(self).__name__
        self._params = normalize_avg_args(self._name, self._nd, kernel_size, stride, padding,
                                          ceil_mode, count_include_pad, divisor_override)
        self._layout(data_format)
        self._input_shape = self._core = None

    kernel_size = property(lambda self: self._params.pool.kernel_size)
    stride = property(lambda self: self._params.pool.stride)
    padding = property(lambda self: self._params.pool.padding)
    ceil_mode = property(lambda self: self._params.pool.ceil_mode)
    count_include_pad = property(lambda self: self._params.count_include_pad)
    divisor_override = property(lambda self: self._params.divisor_override)

    def _args(self):
        p = self._params
        return (p.pool.kernel_size, p.pool.stride, p.pool.padding, p.pool.ceil_mode,
                p.count_include_pad, p.divisor_override, self.data_format)

    def output_shape(self, input_shape):
        """The shape forward returns for an input of ``input_shape``."""
        last = channels_last(self._name, self._nd, self.data_format)
        return check_avg_input(_shape_only(input_shape), self._params, self._name, last)[1]

    def forward(self, x):
        """Average-pool ``x`` (see :func:`pooling.avg_pool2d`); only its
        shape is kept for backward."""
        core = _backend.core()
        y = _api.avg_pool(core, self._nd, x, *self._args())
        self._core, self._input_shape, self._out_shape = core, np.shape(x), y.shape
        return y

    __call__ = forward

    def backward(self, grad_output):
        """The input gradient of the last forward (see
        :func:`pooling.avg_pool2d_backward`); grad_output's dtype."""
        g = self._grad(grad_output, integer=True)
        return _api.avg_pool_backward(self._core, self._nd, g, self._input_shape, *self._args())

    def __repr__(self):
        p = self._params
        return (f"{self._name}(kernel_size={p.pool.kernel_size}, stride={p.pool.stride}, "
                f"padding={p.pool.padding}, ceil_mode={p.pool.ceil_mode}, "
                f"count_include_pad={p.count_include_pad}, "
                f"divisor_override={p.divisor_override}, data_format={self.data_format!r})")


class AvgPool2D(_AvgPool):
    """2-D average pooling layer over (N, C, H, W) or (C, H, W) arrays;
    arguments as ``torch.nn.AvgPool2d`` (and :func:`pooling.avg_pool2d`).
    Its gradient needs no cache beyond the input's shape.

    Examples
    --------
    >>> layer = pooling.AvgPool2D(2)
    >>> layer(np.arange(16.0).reshape(1, 1, 4, 4)).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    >>> layer.backward(np.ones((1, 1, 2, 2)))[0, 0, 0].tolist()
    [0.25, 0.25, 0.25, 0.25]
    """

    _nd = 2


class AvgPool1D(_AvgPool):
    """1-D average pooling layer (arguments as :func:`pooling.avg_pool1d`,
    ``divisor_override`` included, which torch.nn.AvgPool1d lacks).

    Examples
    --------
    >>> layer = pooling.AvgPool1D(2, divisor_override=1)
    >>> layer(np.array([[[1.0, 2.0, 4.0, 8.0]]])).tolist()
    [[[3.0, 12.0]]]
    """

    _nd = 1


class AvgPool3D(_AvgPool):
    """3-D average pooling layer (arguments as :func:`pooling.avg_pool3d`).

    Examples
    --------
    >>> layer = pooling.AvgPool3D(2)
    >>> layer(np.arange(8.0).reshape(1, 1, 2, 2, 2)).tolist()
    [[[[[3.5]]]]]
    """

    _nd = 3


class _AdaptiveAvgPool(_Layer):
    def __init__(self, output_size, data_format=None):
        name = type(self).__name__
        # The sizes are checked now; None entries take the input's later.
        adaptive_output_size(name, self._nd, output_size, (1,) * self._nd)
        self.output_size = output_size
        self._layout(data_format)
        self._input_shape = self._core = None

    def output_shape(self, input_shape):
        """The shape forward returns for an input of ``input_shape``."""
        name = type(self).__name__
        last = channels_last(name, self._nd, self.data_format)
        x = check_adaptive_avg_input(_shape_only(input_shape), self._nd, name, last)
        lift = _api._lift(x, self._nd, last)
        sizes = adaptive_output_size(name, self._nd, self.output_size,
                                     lift.user_spatial(x.shape))
        return lift.with_user_spatial(x.shape, sizes)

    def forward(self, x):
        """Pool ``x`` adaptively (see :func:`pooling.adaptive_avg_pool2d`);
        only its shape is kept for backward."""
        core = _backend.core()
        y = _api.adaptive_avg_pool(core, self._nd, x, self.output_size, self.data_format)
        self._core, self._input_shape, self._out_shape = core, np.shape(x), y.shape
        return y

    __call__ = forward

    def backward(self, grad_output):
        """The input gradient of the last forward (see
        :func:`pooling.adaptive_avg_pool2d_backward`)."""
        g = self._grad(grad_output)
        return _api.adaptive_avg_pool_backward(self._core, self._nd, g, self._input_shape,
                                               self.data_format)

    def __repr__(self):
        return (f"{type(self).__name__}(output_size={self.output_size!r}, "
                f"data_format={self.data_format!r})")


class AdaptiveAvgPool2D(_AdaptiveAvgPool):
    """Adaptive 2-D average pooling layer (``output_size`` as in
    :func:`pooling.adaptive_avg_pool2d`).

    Examples
    --------
    >>> layer = pooling.AdaptiveAvgPool2D(1)
    >>> layer(np.arange(16.0).reshape(1, 1, 4, 4)).tolist()
    [[[[7.5]]]]
    >>> layer.backward(np.ones((1, 1, 1, 1)))[0, 0, 0].tolist()
    [0.0625, 0.0625, 0.0625, 0.0625]
    """

    _nd = 2


class AdaptiveAvgPool1D(_AdaptiveAvgPool):
    """Adaptive 1-D average pooling layer.

    Examples
    --------
    >>> layer = pooling.AdaptiveAvgPool1D(2)
    >>> layer(np.array([[[1.0, 2.0, 3.0, 6.0]]])).tolist()
    [[[1.5, 4.5]]]
    """

    _nd = 1


class AdaptiveAvgPool3D(_AdaptiveAvgPool):
    """Adaptive 3-D average pooling layer.

    Examples
    --------
    >>> layer = pooling.AdaptiveAvgPool3D((1, 2, 2))
    >>> layer.output_shape((2, 3, 8, 8, 8))
    (2, 3, 1, 2, 2)
    """

    _nd = 3


class _LPPool(_Layer):
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False, data_format=None):
        self._name = type(self).__name__
        self._params = normalize_lp_args(self._name, self._nd, norm_type, kernel_size, stride,
                                         ceil_mode)
        self._layout(data_format)
        self._input = self._core = None

    norm_type = property(lambda self: self._params.norm_type)
    kernel_size = property(lambda self: self._params.pool.kernel_size)
    stride = property(lambda self: self._params.pool.stride)
    ceil_mode = property(lambda self: self._params.pool.ceil_mode)

    def _args(self):
        p = self._params
        return (p.norm_type, p.pool.kernel_size, p.pool.stride, p.pool.ceil_mode,
                self.data_format)

    def output_shape(self, input_shape):
        """The shape forward returns for an input of ``input_shape``."""
        last = channels_last(self._name, self._nd, self.data_format)
        return check_lp_input(_shape_only(input_shape), self._params, self._name, last)[1]

    def forward(self, x):
        """Power-average-pool ``x`` (see :func:`pooling.lp_pool2d`).  The
        gradient needs the input: the layer keeps a reference to ``x`` (not
        a copy), so ``x`` must not change before backward."""
        core = _backend.core()
        y = _api.lp_pool(core, self._nd, x, *self._args())
        self._core, self._input, self._out_shape = core, x, y.shape
        return y

    __call__ = forward

    def backward(self, grad_output):
        """The input gradient of the last forward (see
        :func:`pooling.lp_pool2d_backward`)."""
        g = self._grad(grad_output)
        return _api.lp_pool_backward(self._core, self._nd, g, self._input, *self._args())

    def __repr__(self):
        p = self._params
        return (f"{self._name}(norm_type={p.norm_type}, kernel_size={p.pool.kernel_size}, "
                f"stride={p.pool.stride}, ceil_mode={p.pool.ceil_mode}, "
                f"data_format={self.data_format!r})")


class LPPool2D(_LPPool):
    """2-D power-average pooling layer over (N, C, H, W) or (C, H, W)
    arrays; arguments as ``torch.nn.LPPool2d`` (and
    :func:`pooling.lp_pool2d`).

    Examples
    --------
    >>> layer = pooling.LPPool2D(2, 2)
    >>> layer(np.array([[[[3.0, 0.0], [0.0, 4.0]]]])).tolist()
    [[[[5.0]]]]
    """

    _nd = 2


class LPPool1D(_LPPool):
    """1-D power-average pooling layer (arguments as :func:`pooling.lp_pool1d`).

    Examples
    --------
    >>> layer = pooling.LPPool1D(1, 2)
    >>> layer(np.array([[[1.0, 2.0, 3.0, 4.0]]])).tolist()
    [[[3.0, 7.0]]]
    >>> layer.backward(np.ones((1, 1, 2))).tolist()
    [[[1.0, 1.0, 1.0, 1.0]]]
    """

    _nd = 1


class LPPool3D(_LPPool):
    """3-D power-average pooling layer (arguments as :func:`pooling.lp_pool3d`).

    Examples
    --------
    >>> layer = pooling.LPPool3D(1, 2)
    >>> layer(np.ones((1, 1, 2, 2, 2))).tolist()
    [[[[[8.0]]]]]
    """

    _nd = 3


class _FractionalMaxPool(_Layer):
    def __init__(self, kernel_size, output_size=None, output_ratio=None, data_format=None,
                 rng=None):
        name = type(self).__name__
        self.kernel_size = _fractional.check_args(name, self._nd, kernel_size, output_size,
                                                  output_ratio)
        self.output_size, self.output_ratio = output_size, output_ratio
        self._layout(data_format)
        # An int seed starts one generator, so that successive forwards draw
        # new samples, the same sequence every run.
        self._rng = _fractional.generator(name, rng)

    def output_shape(self, input_shape):
        """The shape forward returns for an input of ``input_shape``."""
        return _fractional.output_shape(type(self).__name__, self._nd, input_shape,
                                        self.kernel_size, self.output_size,
                                        self.output_ratio, self.data_format)

    def forward(self, x, random_samples=None):
        """Pool ``x`` (see :func:`pooling.fractional_max_pool2d`) with new
        random samples from the layer's ``rng`` (or ``random_samples``, if
        given), and cache the indices for backward."""
        core = _backend.core()
        y, idx = _fractional.fractional_max_pool(
            core, self._nd, x, self.kernel_size, self.output_size, self.output_ratio, True,
            random_samples, self.data_format, self._rng)
        self._core, self._indices = core, idx
        self._input_shape = np.shape(x)
        self._out_shape = y.shape
        return y

    __call__ = forward

    def backward(self, grad_output):
        """The input gradient of the last forward: each ``grad_output``
        element added at its window's argmax (max_pool_backward)."""
        g = self._grad(grad_output)
        if g.size == 0:   # (max_pool_backward refuses outputs of zero size)
            return np.zeros(self._input_shape, dtype=g.dtype)
        return _api.max_pool_backward(self._core, self._nd, g, self._indices,
                                      self._input_shape, self.data_format)

    def __repr__(self):
        return (f"{type(self).__name__}(kernel_size={self.kernel_size}, "
                f"output_size={self.output_size!r}, output_ratio={self.output_ratio!r}, "
                f"data_format={self.data_format!r})")


class FractionalMaxPool2D(_FractionalMaxPool):
    """Fractional 2-D max pooling layer (arguments as in
    :func:`pooling.fractional_max_pool2d`; ``rng``: a numpy Generator, an
    int seed, or None for NumPy's global generator).  Every forward draws
    new samples; backward routes the gradient through that forward's
    indices.

    Examples
    --------
    >>> layer = pooling.FractionalMaxPool2D(3, output_ratio=0.5, rng=0)
    >>> y = layer(np.random.default_rng(1).random((2, 3, 10, 10)))
    >>> y.shape
    (2, 3, 5, 5)
    >>> layer.backward(np.ones_like(y)).shape
    (2, 3, 10, 10)
    """

    _nd = 2


class FractionalMaxPool3D(_FractionalMaxPool):
    """Fractional 3-D max pooling layer (see FractionalMaxPool2D).

    Examples
    --------
    >>> layer = pooling.FractionalMaxPool3D(2, output_size=4, rng=0)
    >>> layer.output_shape((1, 2, 9, 9, 9))
    (1, 2, 4, 4, 4)
    """

    _nd = 3

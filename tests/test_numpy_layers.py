"""The NumPy layer classes (MaxPool*D, AdaptiveMaxPool*D, MaxUnpool*D; and
AvgPool*D, AdaptiveAvgPool*D, LPPool*D, which must equal their functions bit
for bit, at the end) as layers: the worked example, finite-difference gradients, the contract (the
argmax is cached, not the input; the gradient's dtype; output_shape and repr),
and gradients against PyTorch autograd.  The operation files also run the
layers through their kernel and PyTorch cases; misuse is in test_bad_input.py."""
import numpy as np
import pytest

import pooling
from pooling import MaxPool2D

from strategies import conformance_values


def test_worked_example(backend):
    # tinyml's documentation: a 2x2 window, stride 1, over A gives C.
    A = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=np.float64)
    C = np.array([[5, 6], [8, 9]], dtype=np.float64)
    assert np.array_equal(pooling.max_pool2d(A[None], 2, stride=1)[0], C)
    layer = MaxPool2D(2, stride=1)
    assert np.array_equal(layer(A[None, None])[0, 0], C)
    grad = layer.backward(np.ones((1, 1, 2, 2)))
    assert np.array_equal(grad[0, 0], [[0, 0, 0], [0, 1, 1], [0, 1, 1]])


def _loss(layer, x, r):
    return float(np.sum(layer.forward(x) * r))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(2, 3), stride=1, dilation=(2, 1))])
def test_finite_difference_gradient(backend, kw):
    rng = np.random.default_rng(3)
    # distinct values with gaps >> eps: the argmax cannot flip under +-eps
    x = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6).astype(np.float64)
    layer = MaxPool2D(**kw)
    r = rng.standard_normal(layer.output_shape(x.shape))
    layer.forward(x)
    analytic = layer.backward(r)
    numeric = np.zeros_like(x)
    eps = 1e-3
    for pos in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[pos] += eps
        xm[pos] -= eps
        numeric[pos] = (_loss(layer, xp, r) - _loss(layer, xm, r)) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, atol=1e-8)
    # overlapping windows must accumulate, not overwrite
    if kw.get("stride", kw["kernel_size"]) != kw["kernel_size"]:
        layer.forward(x)
        assert layer.backward(np.ones_like(r)).max() > 1


def test_layer_caches_argmax_not_input(backend):
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    layer = MaxPool2D(2)
    layer.forward(x)
    x[...] = 0  # the layer must not be reading x again
    assert np.array_equal(layer.backward(np.ones((1, 1, 2, 2), np.float32))[0, 0],
                          [[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 1, 0, 1]])
    assert not any(v is x for v in vars(layer).values())


def test_layer_output_shape_and_repr():
    layer = MaxPool2D(3, stride=2, padding=1, ceil_mode=True)
    assert layer.output_shape((8, 16, 15, 15)) == (8, 16, 8, 8)
    assert layer.output_shape((16, 15, 15)) == (16, 8, 8)
    assert layer.output_shape((0, 16, 15, 15)) == (0, 16, 8, 8)
    assert repr(layer) == ("MaxPool2D(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
                           "dilation=(1, 1), ceil_mode=True, data_format='NCHW')")
    assert (layer.kernel_size, layer.stride, layer.padding) == ((3, 3), (2, 2), (1, 1))


def test_layer_output_shape_and_repr_1d():
    layer = pooling.MaxPool1D(3, 2, 1, ceil_mode=True)
    assert repr(layer) == ("MaxPool1D(kernel_size=(3,), stride=(2,), padding=(1,), "
                           "dilation=(1,), ceil_mode=True, data_format='NCL')")
    assert layer.output_shape((4, 5, 10)) == (4, 5, 6)
    assert layer.output_shape((5, 10)) == (5, 6)


def test_layer_output_shape_and_repr_3d():
    layer = pooling.MaxPool3D(3, 2, 1, ceil_mode=True)
    assert repr(layer) == ("MaxPool3D(kernel_size=(3, 3, 3), stride=(2, 2, 2), "
                           "padding=(1, 1, 1), dilation=(1, 1, 1), ceil_mode=True, "
                           "data_format='NCDHW')")
    assert layer.output_shape((4, 5, 10, 9, 8)) == (4, 5, 6, 5, 5)
    assert layer.output_shape((5, 10, 9, 8)) == (5, 6, 5, 5)
    assert pooling.MaxPool3D(2, data_format="NDHWC").output_shape((4, 8, 6, 4, 5)) \
        == (4, 4, 3, 2, 5)


def test_layer_backward_dtype_follows_grad(backend):
    x = np.arange(36, dtype=np.int32).reshape(1, 1, 6, 6)
    layer = MaxPool2D(2)
    y = layer(x)
    assert y.dtype == np.int32
    g = layer.backward(np.ones(y.shape, dtype=np.float32))
    assert g.dtype == np.float32 and g.shape == x.shape and g.sum() == 9


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=1), dict(kernel_size=(3, 2), stride=(1, 2),
                                                                     dilation=(2, 1), ceil_mode=True)])
def test_max_pool2d_layer_matches_autograd(backend, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x = conformance_values((4, 5, 12, 13), np.float32, rng)
    layer = pooling.MaxPool2D(**kw)
    y = layer.forward(x)
    g = rng.standard_normal(y.shape).astype(np.float32)
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    ty, _ = torch.nn.functional.max_pool2d(t, return_indices=True, **kw)
    ty.backward(torch.from_numpy(g))
    assert np.array_equal(y, ty.detach().numpy(), equal_nan=True)
    assert np.array_equal(layer.backward(g).view(np.uint32), t.grad.numpy().view(np.uint32))


@pytest.mark.parametrize("size", [(3, 4), (5, None), 2])
def test_adaptive_layer_matches_autograd(backend, size):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, size=(2, 3, 7, 9)).astype(np.float64)  # ties
    layer = pooling.AdaptiveMaxPool2D(size)
    y = layer.forward(x)
    t = torch.from_numpy(x.copy()).requires_grad_()
    ty = F.adaptive_max_pool2d(t, size)
    g = rng.standard_normal(y.shape)
    ty.backward(torch.from_numpy(g))
    assert np.array_equal(y, ty.detach().numpy())
    assert np.array_equal(layer.backward(g).view(np.uint64), t.grad.numpy().view(np.uint64))
    x1 = x[0]  # 1-D on (C, L) rows of the first image
    layer1 = pooling.AdaptiveMaxPool1D(4)
    y1 = layer1(x1[:, 0, :])
    t1 = torch.from_numpy(x1[:, 0, :].copy()).requires_grad_()
    ty1 = F.adaptive_max_pool1d(t1[None], 4)[0]
    g1 = rng.standard_normal(y1.shape)
    ty1.backward(torch.from_numpy(g1))
    assert np.array_equal(y1, ty1.detach().numpy())
    assert np.array_equal(layer1.backward(g1), t1.grad.numpy())


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)])
def test_unpool_layer_matches_autograd(backend, kw):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    x = rng.integers(-3, 4, size=(2, 3, 8, 8)).astype(np.float64)
    y, i = pooling.max_pool2d(x, return_indices=True, **kw)  # stride 1: repeated indices
    layer = pooling.MaxUnpool2D(**kw)
    u = layer.forward(y, i, output_size=x.shape[-2:])
    ty = torch.from_numpy(y.copy()).requires_grad_()
    tu = F.max_unpool2d(ty, torch.from_numpy(i), output_size=x.shape[-2:], **kw)
    g = rng.standard_normal(u.shape)
    tu.backward(torch.from_numpy(g))
    assert np.array_equal(u, tu.detach().numpy())
    assert np.array_equal(layer.backward(g), ty.grad.numpy())
    y1, i1 = pooling.max_pool1d(x[0, :, 0, :], 2, return_indices=True)
    layer1 = pooling.MaxUnpool1D(2)
    u1 = layer1(y1, i1)
    g1 = rng.standard_normal(u1.shape)
    assert np.array_equal(layer1.backward(g1), np.take_along_axis(g1, i1, axis=-1))


def test_adaptive_and_unpool_layer_repr():
    assert repr(pooling.MaxUnpool2D(2)) == "MaxUnpool2D(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), data_format='NCHW')"
    assert repr(pooling.AdaptiveMaxPool1D(3)) == "AdaptiveMaxPool1D(output_size=3, data_format='NCL')"


# ---- AvgPool*D, AdaptiveAvgPool*D, LPPool*D --------------------------------
# Each equals its functional pair (forward and backward) bit for bit, in
# both layouts; the functions are tested against PyTorch in test_avg_pool.py
# and test_lp_pool.py.

FIRST = {1: "NCL", 2: "NCHW", 3: "NCDHW"}
LAST = {1: "NLC", 2: "NHWC", 3: "NDHWC"}


def _bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(
        a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))


def _layer_cases(nd):
    yield (getattr(pooling, f"AvgPool{nd}D"), (3,), dict(stride=2, padding=1, ceil_mode=True,
                                                         count_include_pad=False),
           f"avg_pool{nd}d", lambda g, x, a, kw: getattr(pooling, f"avg_pool{nd}d_backward")(
               g, x.shape, *a, **kw))
    yield (getattr(pooling, f"AvgPool{nd}D"), (2,), dict(divisor_override=3),
           f"avg_pool{nd}d", lambda g, x, a, kw: getattr(pooling, f"avg_pool{nd}d_backward")(
               g, x.shape, *a, **kw))
    yield (getattr(pooling, f"AdaptiveAvgPool{nd}D"), ((3, None, 2)[:nd],), {},
           f"adaptive_avg_pool{nd}d",
           lambda g, x, a, kw: getattr(pooling, f"adaptive_avg_pool{nd}d_backward")(
               g, x.shape, **kw))
    for p in (2, 1, 3.5, float("inf"), -float("inf")):
        yield (getattr(pooling, f"LPPool{nd}D"), (p, 2), dict(stride=1, ceil_mode=True),
               f"lp_pool{nd}d", lambda g, x, a, kw: getattr(pooling, f"lp_pool{nd}d_backward")(
                   g, x, *a, **kw))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("last", [False, True])
def test_average_layers_equal_their_functions(backend, nd, dtype, last):
    rng = np.random.default_rng(nd)
    shape = (2, 3) + (7, 6, 5)[:nd]
    x = np.exp(rng.uniform(-2, 2, size=shape)).astype(dtype)
    if last:
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    fmt = (LAST if last else FIRST)[nd]
    for cls, args, kw, fname, back in _layer_cases(nd):
        layer = cls(*args, data_format=fmt, **kw)
        y = layer.forward(x)
        want = getattr(pooling, fname)(x, *args, data_format=fmt, **kw)
        assert _bits(y, want), cls.__name__
        assert layer.output_shape(x.shape) == y.shape
        assert layer.output_shape(x.shape[1:]) == y.shape[1:]
        g = rng.standard_normal(y.shape).astype(dtype)
        assert _bits(layer.backward(g), back(g, x, args, dict(kw, data_format=fmt)))
        assert layer(x[0]).shape == y.shape[1:]  # unbatched, as the functions


def test_avg_layer_int64_and_repr(backend):
    x = np.arange(2 * 3 * 6 * 6, dtype=np.int64).reshape(2, 3, 6, 6)
    layer = pooling.AvgPool2D(3, 2, 1)
    y = layer(x)
    assert y.dtype == np.int64 and _bits(y, pooling.avg_pool2d(x, 3, 2, 1))
    g = np.ones(y.shape, np.int64)
    assert _bits(layer.backward(g), pooling.avg_pool2d_backward(g, x.shape, 3, 2, 1))
    assert repr(layer) == ("AvgPool2D(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
                           "ceil_mode=False, count_include_pad=True, divisor_override=None, "
                           "data_format='NCHW')")
    assert repr(pooling.AdaptiveAvgPool3D((2, None, 1), data_format="NDHWC")) == (
        "AdaptiveAvgPool3D(output_size=(2, None, 1), data_format='NDHWC')")
    lp = pooling.LPPool1D(2, 3)
    assert repr(lp) == ("LPPool1D(norm_type=2.0, kernel_size=(3,), stride=(3,), "
                        "ceil_mode=False, data_format='NCL')")
    assert (lp.norm_type, lp.kernel_size, lp.stride, lp.ceil_mode) == (2.0, (3,), (3,), False)
    assert pooling.AvgPool3D(2).output_shape((1, 2, 4, 6, 8)) == (1, 2, 2, 3, 4)
    assert pooling.AdaptiveAvgPool2D((3, None)).output_shape((5, 7, 9)) == (5, 3, 9)
    assert pooling.LPPool2D(2, 2, data_format="NHWC").output_shape((1, 6, 4, 3)) == (1, 3, 2, 3)


def test_lp_layer_matches_autograd(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 8, 9))
    layer = pooling.LPPool2D(1, 3, 2, ceil_mode=True)
    y = layer(x)
    t = torch.from_numpy(x.copy()).requires_grad_()
    ty = torch.nn.LPPool2d(1, 3, 2, ceil_mode=True)(t)
    g = rng.standard_normal(y.shape)
    ty.backward(torch.from_numpy(g))
    assert _bits(y, ty.detach().numpy())
    assert _bits(layer.backward(g), t.grad.numpy())


def test_average_layers_refuse_before_forward():
    with pytest.raises(ValueError, match="AvgPool2D: pad should be at most half"):
        pooling.AvgPool2D(2, padding=2)
    with pytest.raises(ValueError, match="AvgPool1D: divisor must be not zero"):
        pooling.AvgPool1D(2, divisor_override=0)
    with pytest.raises(ValueError, match="AdaptiveAvgPool2D: output_size must be non-negative"):
        pooling.AdaptiveAvgPool2D(-1)
    with pytest.raises(ValueError, match="AdaptiveAvgPool3D: output_size must be an int or a "
                                         "tuple of three ints"):
        pooling.AdaptiveAvgPool3D((1, 2))
    with pytest.raises(ValueError, match="LPPool2D: norm_type must be non-zero"):
        pooling.LPPool2D(0, 2)
    with pytest.raises(TypeError, match="LPPool3D: norm_type must be an int or a float"):
        pooling.LPPool3D("2", 2)
    with pytest.raises(ValueError, match="LPPool1D: kernel_size should be greater than zero"):
        pooling.LPPool1D(2, 0)
    with pytest.raises(ValueError, match="AvgPool3D: data_format must be 'NCDHW' or 'NDHWC'"):
        pooling.AvgPool3D(2, data_format="NCHW")
    for layer in (pooling.AvgPool2D(2), pooling.AdaptiveAvgPool2D(2), pooling.LPPool2D(2, 2)):
        name = type(layer).__name__
        with pytest.raises(RuntimeError, match=f"{name}.backward called before forward"):
            layer.backward(np.zeros((1, 1, 2, 2), np.float32))
        layer.forward(np.ones((1, 1, 4, 4), np.float32))
        with pytest.raises(ValueError, match=f"{name}.backward: grad_output shape"):
            layer.backward(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="LPPool2D: .*Output size is too small"):
        pooling.LPPool2D(2, 3).output_shape((1, 1, 2, 2))
    with pytest.raises(TypeError, match="lp_pool2d: input has unsupported dtype int64"):
        pooling.LPPool2D(2, 2).forward(np.ones((1, 1, 4, 4), np.int64))
    with pytest.raises(TypeError, match="AdaptiveAvgPool2D.backward: grad_output must have a "
                                        "floating dtype"):
        layer = pooling.AdaptiveAvgPool2D(2)
        layer.forward(np.ones((1, 1, 4, 4)))
        layer.backward(np.ones((1, 1, 2, 2), np.int64))

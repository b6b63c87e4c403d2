"""Conformance with PyTorch's CPU max_pool2d: values, int64 indices, and
autograd gradients, bit for bit, on PyTorch's own test grid and more."""
import itertools
import zlib

import numpy as np
import pytest

import pooling

torch = pytest.importorskip("torch")
F = torch.nn.functional

# PyTorch's OpInfo grid (sample_inputs_max_pool) plus odd shapes.
SHAPES = [(1, 2, 3, 6), (1, 2, 6, 6), (2, 2, 3, 6), (2, 2, 6, 6), (2, 3, 6), (2, 6, 6),
          (2, 3, 7, 9), (1, 1, 1, 5), (1, 1, 11, 4)]
GRID = list(itertools.product([3, (3, 2), 2], [2, None, (2, 1)], [True, False],
                              [0, 1, (1, 1)], [1, (1, 2)]))


def _data(shape, dtype, rng):
    x = rng.integers(-3, 4, size=shape).astype(dtype)  # many ties
    if np.dtype(dtype).kind == "f":
        r = rng.random(shape)
        x[r < 0.05] = np.nan
        x[(r >= 0.05) & (r < 0.08)] = np.inf
        x[(r >= 0.08) & (r < 0.11)] = -np.inf
    return x


def _torch_pool(x, kw, g):
    t = torch.from_numpy(x.copy())
    floating = t.is_floating_point()
    if floating:
        t.requires_grad_(True)
    y, i = F.max_pool2d(t, return_indices=True, **kw)
    grad = None
    if floating:
        y.backward(torch.from_numpy(g))
        grad = t.grad.numpy()
    return y.detach().numpy(), i.numpy(), grad


def _torch_or_error(x, kw, g):
    try:
        return _torch_pool(x, kw, g), None
    except RuntimeError as exc:
        return None, exc


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pytorch_grid(backend, shape, dtype):
    rng = np.random.default_rng(zlib.crc32(repr((shape, np.dtype(dtype).name)).encode()))
    for k, s, ceil, p, d in GRID:
        kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
        x = _data(shape, dtype, rng)
        try:
            y, i = pooling.max_pool2d(x, return_indices=True, **kw)
        except ValueError as exc:
            # Our one refusal PyTorch lacks: windows that cover no element.
            res, err = _torch_or_error(x, kw, None)
            assert err is not None or "covers no input element" in str(exc), (kw, exc)
            continue
        g = rng.standard_normal(y.shape).astype(dtype)
        res, err = _torch_or_error(x, kw, g)
        assert err is None, (kw, err)
        ty, ti, tg = res
        assert np.array_equal(y, ty, equal_nan=True), kw
        assert np.array_equal(i, ti), kw
        got = pooling.max_pool2d_backward(g, i, x.shape)
        assert np.array_equal(got.view(np.uint8), tg.view(np.uint8)), kw  # bit for bit


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.int16,
                                   np.int32, np.int64, np.uint8])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1))])
def test_dtypes(backend, dtype, kw):
    rng = np.random.default_rng(3)
    x = _data((2, 3, 13, 12), dtype, rng)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        x.flat[::7] = info.min
        x.flat[3::11] = info.max
    y, i = pooling.max_pool2d(x, return_indices=True, **kw)
    ty, ti = F.max_pool2d(torch.from_numpy(x), return_indices=True, **kw)
    assert y.dtype == x.dtype
    assert np.array_equal(y, ty.numpy(), equal_nan=True) and np.array_equal(i, ti.numpy())


def test_float16_gradients_overlapping_windows(backend):
    rng = np.random.default_rng(4)
    x = _data((2, 3, 9, 10), np.float16, rng)
    kw = dict(kernel_size=3, stride=1, padding=1)
    y, i = pooling.max_pool2d(x, return_indices=True, **kw)
    g = rng.standard_normal(y.shape).astype(np.float16)
    _, _, tg = _torch_pool(x, kw, g)
    got = pooling.max_pool2d_backward(g, i, x.shape)
    assert np.array_equal(got.view(np.uint16), tg.view(np.uint16))


def test_pytorch_regressions(backend):
    # (1,1,6,7), k=1, s=2, ceil -> (3,4)
    assert pooling.max_pool2d(np.zeros((1, 1, 6, 7)), 1, 2, ceil_mode=True).shape == (1, 1, 3, 4)
    # arange(1..64).view(2,2,4,4), k=2 -> indices [[5,7],[13,15]] in every plane
    _, i = pooling.max_pool2d(np.arange(1, 65, dtype=np.float32).reshape(2, 2, 4, 4), 2,
                              return_indices=True)
    assert (i == np.array([[5, 7], [13, 15]])).all()
    # a 3x3 all-NaN window gives NaN
    y = pooling.max_pool2d(np.full((1, 1, 3, 3), np.nan), 3)
    assert np.isnan(y).all()
    # int32 [[[[-1,-2],[-3,-4]]]], k=2, s=2, p=1, d=2, ceil -> all -4
    y = pooling.max_pool2d(np.array([[[[-1, -2], [-3, -4]]]], np.int32), 2, 2, 1, 2, ceil_mode=True)
    assert y.dtype == np.int32 and (y == -4).all()
    ty = F.max_pool2d(torch.tensor([[[[-1, -2], [-3, -4]]]], dtype=torch.int32), 2, 2, 1, 2,
                      ceil_mode=True)
    assert np.array_equal(y, ty.numpy())


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=1), dict(kernel_size=(3, 2), stride=(1, 2),
                                                                     dilation=(2, 1), ceil_mode=True)])
def test_layer_matches_autograd(backend, kw):
    rng = np.random.default_rng(8)
    x = _data((4, 5, 12, 13), np.float32, rng)
    layer = pooling.MaxPool2D(**kw)
    y = layer.forward(x)
    g = rng.standard_normal(y.shape).astype(np.float32)
    ty, _, tg = _torch_pool(x, kw, g)
    assert np.array_equal(y, ty, equal_nan=True)
    assert np.array_equal(layer.backward(g).view(np.uint32), tg.view(np.uint32))

"""AdaptiveMaxPool1D/2D and MaxUnpool1D/2D layers against PyTorch autograd."""
import numpy as np
import pytest

import pooling

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("size", [(3, 4), (5, None), 2])
def test_adaptive_layer_matches_autograd(backend, size):
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


def test_layer_misuse():
    with pytest.raises(RuntimeError, match="AdaptiveMaxPool2D.backward called before forward"):
        pooling.AdaptiveMaxPool2D(2).backward(np.zeros((1, 2, 2)))
    layer = pooling.MaxUnpool2D(2)
    with pytest.raises(RuntimeError, match="MaxUnpool2D.backward called before forward"):
        layer.backward(np.zeros((1, 4, 4)))
    layer.forward(np.ones((1, 2, 2)), np.zeros((1, 2, 2), np.int64))
    with pytest.raises(ValueError, match=r"\(1, 3, 3\).*\(1, 4, 4\)"):
        layer.backward(np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="kernel_size should be greater than zero"):
        pooling.MaxUnpool1D(0)
    assert repr(pooling.MaxUnpool2D(2)) == "MaxUnpool2D(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), data_format='NCHW')"
    assert repr(pooling.AdaptiveMaxPool1D(3)) == "AdaptiveMaxPool1D(output_size=3, data_format='NCL')"

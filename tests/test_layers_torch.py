"""pooling.layers.torch against torch.nn.functional.max_pool2d and
torch.nn.MaxPool2d: values, indices, gradients, gradcheck, training."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from pooling.layers.torch import MaxPool2d, max_pool2d  # noqa: E402

F = torch.nn.functional
KWS = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
       dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=(3, 2), stride=(2, 1),
                                                      dilation=(1, 2), ceil_mode=True)]


def _x(shape=(2, 3, 9, 10), dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-3, 4, shape, generator=g).to(dtype)  # ties
    if dtype.is_floating_point:
        x.view(-1)[::17] = float("nan")
    return x


@pytest.mark.parametrize("kw", KWS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
def test_matches_functional(backend, kw, dtype):
    x = _x(dtype=dtype)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    y, i = max_pool2d(a, return_indices=True, **kw)
    ty, ti = F.max_pool2d(b, return_indices=True, **kw)
    assert torch.equal(i, ti) and i.dtype == torch.int64
    assert torch.allclose(y, ty, equal_nan=True) and y.dtype == ty.dtype
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(1)).to(dtype)
    y.backward(g)
    ty.backward(g)
    assert torch.equal(a.grad, b.grad)  # bit for bit
    # values only (the compact-cache path)
    a.grad = b.grad = None
    max_pool2d(a, **kw).backward(g)
    F.max_pool2d(b, **kw).backward(g)
    assert torch.equal(a.grad, b.grad)


@pytest.mark.parametrize("kw", KWS)
def test_gradcheck_float64(kw):
    x = torch.randn(2, 2, 7, 8, dtype=torch.float64, requires_grad=True)  # distinct values
    assert torch.autograd.gradcheck(lambda t: max_pool2d(t, **kw), (x,))
    assert torch.autograd.gradcheck(lambda t: max_pool2d(t, return_indices=True, **kw)[0], (x,))


def test_module_matches_stock_module():
    for kw in KWS:
        for ri in (False, True):
            ours, stock = MaxPool2d(return_indices=ri, **kw), torch.nn.MaxPool2d(return_indices=ri, **kw)
            x = _x()
            a, b = ours(x), stock(x)
            if ri:
                assert torch.equal(a[1], b[1])
                a, b = a[0], b[0]
            assert torch.equal(torch.nan_to_num(a), torch.nan_to_num(b))
    assert "kernel_size=2" in repr(MaxPool2d(2))


def test_requires_grad_false_and_integers():
    x = _x()
    y = max_pool2d(x, 2)
    assert not y.requires_grad and torch.equal(torch.nan_to_num(y), torch.nan_to_num(F.max_pool2d(x, 2)))
    xi = _x(dtype=torch.int32)
    assert torch.equal(max_pool2d(xi, 3, 2, 1), F.max_pool2d(xi, 3, 2, 1))
    # bfloat16 is not served by our kernels: PyTorch's own op answers
    xb = _x(dtype=torch.bfloat16)
    assert torch.equal(torch.nan_to_num(max_pool2d(xb, 2)), torch.nan_to_num(F.max_pool2d(xb, 2)))


def test_channels_last():
    x = _x((2, 8, 10, 12)).contiguous(memory_format=torch.channels_last)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    y, ty = max_pool2d(a, 3, 2, 1), F.max_pool2d(b, 3, 2, 1)
    assert y.is_contiguous(memory_format=torch.channels_last) == \
        ty.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(torch.nan_to_num(y), torch.nan_to_num(ty))
    g = torch.randn(y.shape)
    y.backward(g)
    ty.backward(g)
    assert torch.equal(a.grad, b.grad)


def _cnn(pool):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), pool(2),
                               torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.ReLU(), pool(2),
                               torch.nn.Flatten(), torch.nn.Linear(6 * 3 * 3, 3))


def test_training_matches_stock_layer():
    g = torch.Generator().manual_seed(3)
    x, target = torch.randn(8, 1, 12, 12, generator=g), torch.randn(8, 3, generator=g)
    losses = []
    for pool in (torch.nn.MaxPool2d, MaxPool2d):
        model = _cnn(pool)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        run = []
        for _ in range(5):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), target)
            loss.backward()
            opt.step()
            run.append(loss.item())
        losses.append(run)
    assert losses[0] == losses[1] and losses[0][-1] < losses[0][0]

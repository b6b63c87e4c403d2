"""pooling.layers.autograd: gradients through each primitive equal pooling's
own backward functions bit for bit (both layouts, batched and unbatched),
compositions and second derivatives, and a small CNN trained with
autograd.grad whose gradients match central finite differences."""
import subprocess
import sys

import numpy as np
import pytest

autograd = pytest.importorskip("autograd")
import autograd.numpy as anp  # noqa: E402

import pooling.functional as F  # noqa: E402
from pooling import numpy_layers  # noqa: E402
from pooling._params import LAYOUTS  # noqa: E402
from pooling.layers import autograd as P  # noqa: E402

SPATIAL = {1: (9,), 2: (7, 8), 3: (5, 6, 7)}


def _shape(nd, last, batched, channels=3, spatial=None):
    spatial = SPATIAL[nd] if spatial is None else spatial
    shape = spatial + (channels,) if last else (channels,) + spatial
    return (2,) + shape if batched else shape


def _input(nd, last, batched, dtype=np.float32, seed=0, **kw):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(_shape(nd, last, batched, **kw)).astype(dtype)


def _grad_of(fn, x, G):
    """autograd's gradient of sum(fn(x) * G): fn's vjp applied to G."""
    return autograd.grad(lambda a: anp.sum(fn(a) * G))(x)


def _upstream(y, seed=1):
    return np.random.default_rng(seed).standard_normal(np.shape(y)).astype(y.dtype)


def _same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)


LAYOUT_CASES = [pytest.param(nd, last, batched, id=f"{nd}d-{LAYOUTS[nd][last]}-"
                             f"{'batched' if batched else 'unbatched'}")
                for nd in (1, 2, 3) for last in (False, True) for batched in (True, False)]


@pytest.mark.parametrize("nd, last, batched", LAYOUT_CASES)
def test_max_pool(backend, nd, last, batched):
    fmt = LAYOUTS[nd][last]
    x = _input(nd, last, batched)
    args = dict(kernel_size=3, stride=2, padding=1, data_format=fmt)
    pool, pool_back = getattr(F, f"max_pool{nd}d"), getattr(F, f"max_pool{nd}d_backward")
    ours = getattr(P, f"max_pool{nd}d")
    y, idx = pool(x, return_indices=True, **args)
    _same(ours(x, **args), y)
    G = _upstream(y)
    _same(_grad_of(lambda a: ours(a, **args), x, G), pool_back(G, idx, x.shape, fmt))
    # with indices: the same values and gradient, the indices a plain array
    y2, idx2 = ours(x, return_indices=True, **args)
    assert type(idx2) is np.ndarray
    _same(y2, y)
    _same(idx2, idx)
    _same(_grad_of(lambda a: ours(a, return_indices=True, **args)[0], x, G),
          pool_back(G, idx, x.shape, fmt))
    # the NumPy layer, through its compact cache, agrees
    layer = getattr(numpy_layers, f"MaxPool{nd}D")(3, 2, 1, data_format=fmt)
    layer.forward(x)
    _same(_grad_of(lambda a: ours(a, **args), x, G), layer.backward(G))


@pytest.mark.parametrize("nd, last, batched", LAYOUT_CASES)
def test_adaptive_max_pool(backend, nd, last, batched):
    fmt = LAYOUTS[nd][last]
    x = _input(nd, last, batched)
    size = (4, 3, 5)[:nd]
    pool = getattr(F, f"adaptive_max_pool{nd}d")
    ours = getattr(P, f"adaptive_max_pool{nd}d")
    y, idx = pool(x, size, True, fmt)
    _same(ours(x, size, data_format=fmt), y)
    G = _upstream(y)
    want = getattr(F, f"max_pool{nd}d_backward")(G, idx, x.shape, fmt)
    _same(_grad_of(lambda a: ours(a, size, data_format=fmt), x, G), want)
    y2, idx2 = ours(x, size, True, fmt)
    _same(idx2, idx)
    _same(_grad_of(lambda a: ours(a, size, True, fmt)[0], x, G), want)


@pytest.mark.parametrize("nd, last, batched",
                         [c for c in LAYOUT_CASES if c.values[0] in (2, 3)])
def test_fractional_max_pool(backend, nd, last, batched):
    fmt = LAYOUTS[nd][last]
    x = _input(nd, last, batched, dtype=np.float64)
    u = np.random.default_rng(5).random((2 if batched else 1, 3, nd))
    args = dict(kernel_size=2, output_size=(3, 4, 5)[:nd], random_samples=u, data_format=fmt)
    ours = getattr(P, f"fractional_max_pool{nd}d")
    y, idx = getattr(F, f"fractional_max_pool{nd}d")(x, return_indices=True, **args)
    _same(ours(x, **args), y)
    G = _upstream(y)
    want = getattr(F, f"max_pool{nd}d_backward")(G, idx, x.shape, fmt)
    _same(_grad_of(lambda a: ours(a, **args), x, G), want)
    _same(_grad_of(lambda a: ours(a, return_indices=True, **args)[0], x, G), want)
    # samples drawn from NumPy's generator, new ones each call: the gradient
    # goes through the windows of the call that pooled
    drawn = dict(kernel_size=2, output_ratio=0.5, data_format=fmt)
    np.random.seed(11)
    G3 = _upstream(ours(x, **drawn))
    seen = []

    def loss(a):
        y3, idx3 = ours(a, return_indices=True, **drawn)
        seen.append(idx3)
        return anp.sum(y3 * G3)

    got = autograd.grad(loss)(x)
    assert not np.array_equal(ours(x, return_indices=True, **drawn)[1], seen[0])
    _same(got, getattr(F, f"max_pool{nd}d_backward")(G3, seen[0], x.shape, fmt))


@pytest.mark.parametrize("nd, last, batched", LAYOUT_CASES)
def test_max_unpool(backend, nd, last, batched):
    fmt = LAYOUTS[nd][last]
    x = _input(nd, last, batched)
    _, idx = getattr(F, f"max_pool{nd}d")(x, 2, return_indices=True, data_format=fmt)
    v = _input(nd, last, batched, seed=3, spatial=np.shape(idx)[-nd - 1:-1] if last
               else np.shape(idx)[-nd:])
    unpool = getattr(F, f"max_unpool{nd}d")
    ours = getattr(P, f"max_unpool{nd}d")
    out_size = x.shape[-nd - 1:-1] if last else x.shape[-nd:]
    z = unpool(v, idx, 2, output_size=out_size, data_format=fmt)
    _same(ours(v, idx, 2, output_size=out_size, data_format=fmt), z)
    G = _upstream(z)
    layer = getattr(numpy_layers, f"MaxUnpool{nd}D")(2, data_format=fmt)
    layer.forward(v, idx, out_size)
    _same(_grad_of(lambda a: ours(a, idx, 2, output_size=out_size, data_format=fmt), v, G),
          layer.backward(G))


@pytest.mark.parametrize("nd, last, batched", LAYOUT_CASES)
@pytest.mark.parametrize("settings", [
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=2, stride=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, divisor_override=5)],
    ids=["pad", "ceil-exclude", "divisor"])
def test_avg_pool(backend, nd, last, batched, settings):
    fmt = LAYOUTS[nd][last]
    x = _input(nd, last, batched)
    args = dict(settings, data_format=fmt)
    ours = getattr(P, f"avg_pool{nd}d")
    y = getattr(F, f"avg_pool{nd}d")(x, **args)
    _same(ours(x, **args), y)
    G = _upstream(y)
    _same(_grad_of(lambda a: ours(a, **args), x, G),
          getattr(F, f"avg_pool{nd}d_backward")(G, x.shape, **args))


@pytest.mark.parametrize("nd, last, batched", LAYOUT_CASES)
def test_adaptive_avg_pool(backend, nd, last, batched):
    fmt = LAYOUTS[nd][last]
    x = _input(nd, last, batched)
    size = (4, 3, 5)[:nd]
    ours = getattr(P, f"adaptive_avg_pool{nd}d")
    y = getattr(F, f"adaptive_avg_pool{nd}d")(x, size, fmt)
    _same(ours(x, size, fmt), y)
    G = _upstream(y)
    _same(_grad_of(lambda a: ours(a, size, data_format=fmt), x, G),
          getattr(F, f"adaptive_avg_pool{nd}d_backward")(G, x.shape, fmt))


@pytest.mark.parametrize("nd, last, batched", LAYOUT_CASES)
@pytest.mark.parametrize("p", [1, 2, 3.5, np.inf])
def test_lp_pool(backend, nd, last, batched, p):
    fmt = LAYOUTS[nd][last]
    x = np.abs(_input(nd, last, batched, dtype=np.float64)) + 0.5
    args = dict(kernel_size=2, stride=2, ceil_mode=True, data_format=fmt)
    ours = getattr(P, f"lp_pool{nd}d")
    y = getattr(F, f"lp_pool{nd}d")(x, p, **args)
    _same(ours(x, p, **args), y)
    G = _upstream(y)
    _same(_grad_of(lambda a: ours(a, p, **args), x, G),
          getattr(F, f"lp_pool{nd}d_backward")(G, x, p, **args))


@pytest.mark.parametrize("last", [False, True])
def test_gradient_of_a_plain_sum(backend, last):
    """anp.sum's vjp hands the primitives a read-only broadcast (zero-stride)
    gradient: the backward functions take it as it is."""
    fmt = LAYOUTS[2][last]
    x = _input(2, last, True)
    _, idx = F.max_pool2d(x, 2, return_indices=True, data_format=fmt)
    cases = [(lambda a: P.max_pool2d(a, 2, data_format=fmt),
              lambda g: F.max_pool2d_backward(g, idx, x.shape, fmt)),
             (lambda a: P.avg_pool2d(a, 3, 2, 1, data_format=fmt),
              lambda g: F.avg_pool2d_backward(g, x.shape, 3, 2, 1, data_format=fmt)),
             (lambda a: P.adaptive_avg_pool2d(a, (4, 3), fmt),
              lambda g: F.adaptive_avg_pool2d_backward(g, x.shape, fmt)),
             (lambda a: P.lp_pool2d(a, 2, 2, data_format=fmt),
              lambda g: F.lp_pool2d_backward(g, x, 2, 2, data_format=fmt))]
    for op, backward in cases:
        _same(autograd.grad(lambda a: anp.sum(op(a)))(x), backward(np.ones_like(op(x))))


def test_lp_pool_second_derivative_is_refused():
    x = np.abs(_input(2, False, True, dtype=np.float64)) + 0.5
    first = autograd.grad(lambda a: anp.sum(P.lp_pool2d(a, 2, 2) ** 2))
    with pytest.raises(NotImplementedError, match="_lp_backward"):
        autograd.grad(lambda a: anp.sum(first(a)))(x)


def test_composition_with_numpy_ops(backend):
    x = _input(2, False, True, dtype=np.float64)
    G = np.random.default_rng(2).standard_normal((2, 3, 3, 4))

    def linear(a):  # max, then average: gradient is their backwards chained
        y = P.max_pool2d(a, 2, 1, data_format="NCHW")
        return anp.sum(P.avg_pool2d(y, 3, 2, 1) * G)

    y, idx = F.max_pool2d(x, 2, 1, return_indices=True)
    want = F.max_pool2d_backward(F.avg_pool2d_backward(G, y.shape, 3, 2, 1), idx, x.shape)
    _same(autograd.grad(linear)(x), want)

    def nonlinear(a):
        y = anp.tanh(P.max_pool2d(a * 1.5, 2) + 0.25) ** 2
        z = P.adaptive_avg_pool2d(anp.transpose(y, (0, 2, 3, 1)), 2, data_format="NHWC")
        return anp.sum(anp.exp(z) * G[:, :, :2, :2].transpose(0, 2, 3, 1)) \
            + anp.sum(P.lp_pool1d(anp.reshape(a, (2, 3, 56)), 2, 4) ** 3)

    got = autograd.grad(nonlinear)(x)
    _same(got, autograd.grad(nonlinear)(x))  # deterministic
    np.testing.assert_allclose(got, _central_differences(nonlinear, x), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("pool", ["max", "avg", "adaptive_avg", "unpool"])
@pytest.mark.parametrize("last", [False, True])
def test_second_derivatives(backend, pool, last):
    """Hessian-vector products of 0.5 * |pool(x)|^2, P^T P v, with small
    integers (exact arithmetic) so equality is exact."""
    fmt = LAYOUTS[2][last]
    rng = np.random.default_rng(4)
    x = rng.permutation(2 * 3 * 6 * 8).reshape(_shape(2, last, True, spatial=(6, 8)))
    x = x.astype(np.float64)
    v = rng.integers(-4, 5, x.shape).astype(np.float64)
    _, idx = F.max_pool2d(x, 2, data_format=fmt, return_indices=True)
    if pool == "max":
        op = lambda a: P.max_pool2d(a, 2, data_format=fmt)  # noqa: E731
        want = F.max_pool2d_backward(_gather(v, idx, fmt), idx, x.shape, fmt)
    elif pool == "avg":
        op = lambda a: P.avg_pool2d(a, 2, data_format=fmt)  # noqa: E731
        want = F.avg_pool2d_backward(F.avg_pool2d(v, 2, data_format=fmt), x.shape, 2,
                                     data_format=fmt)
    elif pool == "adaptive_avg":
        op = lambda a: P.adaptive_avg_pool2d(a, (3, 4), fmt)  # noqa: E731
        want = F.adaptive_avg_pool2d_backward(F.adaptive_avg_pool2d(v, (3, 4), fmt), x.shape,
                                              fmt)
    else:  # unpool the pooled input: gather, then scatter
        small = F.max_pool2d(x, 2, data_format=fmt)
        x, v = small, rng.integers(-4, 5, small.shape).astype(np.float64)
        op = lambda a: P.max_unpool2d(a, idx, 2, data_format=fmt)  # noqa: E731
        want = _gather(F.max_unpool2d(v, idx, 2, data_format=fmt), idx, fmt)
    first = autograd.grad(lambda a: 0.5 * anp.sum(op(a) ** 2))
    _same(autograd.grad(lambda a: anp.sum(first(a) * v))(x), want)


def _gather(g, idx, fmt):
    """g read at idx, by the NumPy unpool layer's backward."""
    layer = numpy_layers.MaxUnpool2D(2, data_format=fmt)
    layer.forward(np.zeros(idx.shape, g.dtype), idx, g.shape[1:3] if fmt == "NHWC"
                  else g.shape[2:])
    return layer.backward(g)


def test_import_pooling_does_not_import_autograd():
    code = ("import sys, pooling, pooling.layers, pooling.functional; "
            "assert 'autograd' not in sys.modules, 'autograd imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- a small CNN: conv (a correlation in autograd.numpy), ReLU, max pool, avg
# pool, dense, softmax cross-entropy -------------------------------------------

def _conv(x, w, b):
    """Valid cross-correlation of (N, C, H, W) with (F, C, kh, kw) filters."""
    kh, kw = w.shape[2:]
    oh, ow = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    out = 0.0
    for i in range(kh):
        for j in range(kw):
            out = out + anp.einsum("nchw,fc->nfhw", x[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return out + anp.reshape(b, (1, -1, 1, 1))


def _loss(params, x, labels):
    w, b, v, c = params
    h = anp.maximum(_conv(x, w, b), 0.0)            # (N, 4, 10, 10)
    h = P.max_pool2d(h, 2)                          # (N, 4, 5, 5)
    h = P.avg_pool2d(h, 2, 1)                       # (N, 4, 4, 4)
    logits = anp.dot(anp.reshape(h, (h.shape[0], -1)), v) + c
    logits = logits - anp.max(logits, axis=1, keepdims=True)
    logp = logits - anp.log(anp.sum(anp.exp(logits), axis=1, keepdims=True))
    return -anp.mean(logp[np.arange(len(labels)), labels])


def _cnn(seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal((4, 1, 3, 3)) * 0.5, rng.standard_normal(4) * 0.1,
              rng.standard_normal((64, 3)) * 0.05, np.zeros(3)]
    x = rng.standard_normal((8, 1, 12, 12))  # float64, no ties: max is differentiable
    labels = rng.integers(0, 3, 8)
    return params, x, labels


def _central_differences(f, x, eps=1e-6):
    x = np.array(x, dtype=np.float64)
    out = np.empty_like(x)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + eps
        up = f(x)
        x[i] = keep - eps
        down = f(x)
        x[i] = keep
        out[i] = (up - down) / (2 * eps)
    return out


def test_cnn_gradients_match_finite_differences(backend):
    params, x, labels = _cnn()
    grads = autograd.grad(_loss)(params, x, labels)
    for k, (p, g) in enumerate(zip(params, grads)):
        def f(q, k=k):
            return _loss(params[:k] + [q] + params[k + 1:], x, labels)
        np.testing.assert_allclose(g, _central_differences(f, p), rtol=1e-5, atol=1e-8,
                                   err_msg=f"parameter {k}")
    dx = autograd.grad(_loss, 1)(params, x, labels)
    np.testing.assert_allclose(dx, _central_differences(lambda a: _loss(params, a, labels), x),
                               rtol=1e-5, atol=1e-8)


def test_cnn_trains(backend):
    params, x, labels = _cnn()
    step = autograd.grad(_loss)
    losses = []
    for _ in range(6):
        losses.append(_loss(params, x, labels))
        params = [p - 0.05 * g for p, g in zip(params, step(params, x, labels))]
    losses.append(_loss(params, x, labels))
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.5 * losses[0], losses

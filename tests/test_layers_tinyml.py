"""pooling.layers.tinyml.MaxPool2D against tinyml's own layer, alone and
inside a small tinyml CNN trained for a few SGD steps."""
import numpy as np
import pytest

tinyml_layers = pytest.importorskip("tinyml.layers")
from tinyml.net import Sequential  # noqa: E402
from tinyml.optims import SGDOptimizer  # noqa: E402

import pooling  # noqa: E402
from pooling.layers.tinyml import MaxPool2D  # noqa: E402

CONFIGS = [((3, 8, 8), (2, 2), 2), ((2, 9, 9), (3, 3), 3), ((2, 7, 9), (3, 3), 2),
           ((1, 6, 6), (2, 2), 1), ((2, 6, 8), (2, 3), 1)]


def _data(shape, seed, nan=False):
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, size=shape).astype(np.float64)  # ties everywhere
    if nan:
        x[rng.random(shape) < 0.15] = np.nan
    return x


@pytest.mark.parametrize("input_dim, size, stride", CONFIGS)
@pytest.mark.parametrize("nan", [False, True])
def test_same_outputs_indices_gradients(backend, input_dim, size, stride, nan):
    x = _data((4,) + input_dim, 1, nan)
    ours = MaxPool2D("p", input_dim, size, stride, return_index=True)
    theirs = tinyml_layers.MaxPool2D("p", input_dim, size, stride, return_index=True)
    (y, i), (ty, ti) = ours.forward(x), theirs.forward(x)
    assert np.array_equal(y, ty, equal_nan=True)
    assert np.array_equal(i, ti) and i.dtype == ti.dtype
    g = _data(y.shape, 2)
    # small integers: sums are exact in any order, so equality is exact
    assert np.array_equal(ours.backward(g), theirs.backward(g))
    plain = MaxPool2D("p", input_dim, size, stride)
    assert np.array_equal(plain.forward(x), ty, equal_nan=True)
    assert np.array_equal(plain.backward(g), theirs.backward(g))


def test_same_attributes_and_refusal():
    ours = MaxPool2D("pool", (3, 8, 8), (2, 2), 2, return_index=True)
    theirs = tinyml_layers.MaxPool2D("pool", (3, 8, 8), (2, 2), 2, return_index=True)
    assert isinstance(ours, tinyml_layers.MaxPool2D)
    for attr in ("type", "name", "parameters", "out_dim", "input_channel", "input_height",
                 "input_width", "size", "stride", "return_index", "out_height", "out_width"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert ours.summary() == theirs.summary()
    for cls in (MaxPool2D, tinyml_layers.MaxPool2D):
        with pytest.raises(Exception, match="Invalid dimension settings"):
            cls("p", (3, 9, 8), (2, 2), 2)


def test_maxunpool_reads_our_indices():
    x = _data((2, 3, 8, 8), 3)
    y, i = MaxPool2D("p", (3, 8, 8), (2, 2), 2, return_index=True).forward(x)
    _, ti = tinyml_layers.MaxPool2D("p", (3, 8, 8), (2, 2), 2, return_index=True).forward(x)
    unpool = tinyml_layers.MaxUnpool2D("u", (3, 4, 4), (2, 2), 2)
    assert np.array_equal(unpool(y, i), unpool(y, ti))


def test_float32_gradient_keeps_input_dtype():
    x = _data((2, 3, 8, 8), 4).astype(np.float32)
    ours, theirs = (cls("p", (3, 8, 8), (2, 2), 2) for cls in (MaxPool2D,
                                                                tinyml_layers.MaxPool2D))
    ours.forward(x), theirs.forward(x)
    g = np.random.default_rng(5).standard_normal((2, 3, 4, 4))  # float64 gradient
    a, b = ours.backward(g), theirs.backward(g)
    assert a.dtype == b.dtype == np.float32 and np.array_equal(a, b)


def _cnn(pool_cls, seed):
    from tinyml.layers import Conv2D, Flatten, Linear, ReLu
    np.random.seed(seed)  # tinyml initialises weights from np.random
    return Sequential([
        Conv2D("conv1", (1, 10, 10), n_filter=4, h_filter=3, w_filter=3, stride=1, padding=1),
        ReLu("relu1"),
        pool_cls("pool1", (4, 10, 10), (2, 2), 2),
        Conv2D("conv2", (4, 5, 5), n_filter=6, h_filter=2, w_filter=2, stride=1, padding=0),
        ReLu("relu2"),
        pool_cls("pool2", (6, 4, 4), (2, 2), 2),
        Flatten("flat"),
        Linear("fc", 6 * 2 * 2, 3),
    ])


def test_inside_a_tinyml_cnn_training():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((8, 1, 10, 10))
    target = rng.standard_normal((8, 3))
    runs = []
    for cls in (tinyml_layers.MaxPool2D, MaxPool2D):
        net = _cnn(cls, 7)
        net.build_params()
        opt = SGDOptimizer(lr=0.05)
        losses, first = [], None
        for _ in range(5):
            out = net.forward(x)
            diff = out - target
            losses.append(float(np.mean(diff ** 2)))
            gin = net.backward(2 * diff / diff.size)
            first = first if first is not None else (out, gin)
            net.update(opt)
        runs.append((losses, first))
    (l0, (o0, g0)), (l1, (o1, g1)) = runs
    assert np.array_equal(o0, o1) and np.array_equal(g0, g1)
    assert l0 == l1 and l0[-1] < l0[0]


def test_in_sequential_with_indices():
    x = _data((2, 3, 8, 8), 8)
    for cls in (MaxPool2D, tinyml_layers.MaxPool2D):
        net = Sequential([cls("p", (3, 8, 8), (2, 2), 2, return_index=True)])
        out, idx = net.forward(x, return_indices=True)
        assert idx[0] is not None and idx[0].shape == (2, 3, 4, 4)
    assert pooling.get_backend() in ("cython", "numpy")

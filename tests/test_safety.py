"""Thread safety, GIL release, determinism, leaks and very large planes."""
import gc
import threading
import tracemalloc

import numpy as np
import pytest

import pooling
from pooling import reference


def _overlapping_case(seed=0, shape=(4, 16, 40, 40)):
    rng = np.random.default_rng(seed)
    x = rng.integers(-5, 5, size=shape).astype(np.float32)  # ties
    return x, dict(kernel_size=3, stride=1, padding=1)


def test_eight_threads_share_inputs(backend):
    x, kw = _overlapping_case()
    layer_args = dict(kw)
    y0, i0 = pooling.max_pool2d(x, return_indices=True, **kw)
    g = np.random.default_rng(1).standard_normal(y0.shape).astype(np.float32)
    gi0 = pooling.max_pool2d_backward(g, i0, x.shape)
    errors, results = [], []

    def work():
        try:
            for _ in range(5):
                y, i = pooling.max_pool2d(x, return_indices=True, **kw)
                layer = pooling.MaxPool2D(**layer_args)
                ly = layer.forward(x)
                results.append(np.array_equal(y, y0) and np.array_equal(i, i0)
                               and np.array_equal(ly, y0)
                               and np.array_equal(pooling.max_pool2d_backward(g, i, x.shape), gi0)
                               and np.array_equal(layer.backward(g), gi0))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 40 and all(results)


def test_kernels_release_the_gil(cython_backend):
    # While one thread pools a large array, another Python thread must run.
    x = np.random.default_rng(2).standard_normal((16, 64, 112, 112)).astype(np.float32)
    pooling.set_num_threads(1)
    started, done = threading.Event(), threading.Event()
    ticks = []

    def count():
        started.wait()
        while not done.is_set():
            ticks.append(1)

    t = threading.Thread(target=count)
    t.start()
    try:
        started.set()
        for _ in range(5):  # ~0.1 s in nogil loops
            pooling.max_pool2d(x, 3, 2, 1, return_indices=True)
    finally:
        done.set()
        t.join()
        pooling.set_num_threads(0)
    # With the GIL held through the kernels the counter could only run in the
    # microseconds of Python between calls; released, it runs throughout.
    assert len(ticks) > 10000


@pytest.mark.parametrize("threads", [1, 2])
def test_gradients_are_deterministic(cython_backend, threads):
    x, kw = _overlapping_case(3, (8, 16, 48, 48))
    y, i = pooling.max_pool2d(x, return_indices=True, **kw)
    g = np.random.default_rng(4).standard_normal(y.shape).astype(np.float32)
    pooling.set_num_threads(1)
    want = pooling.max_pool2d_backward(g, i, x.shape).view(np.uint32)
    pooling.set_num_threads(threads)
    try:
        for _ in range(3):
            assert np.array_equal(pooling.max_pool2d_backward(g, i, x.shape).view(np.uint32), want)
            layer = pooling.MaxPool2D(**kw)
            layer.forward(x)
            assert np.array_equal(layer.backward(g).view(np.uint32), want)
    finally:
        pooling.set_num_threads(0)
    assert np.array_equal(reference.max_pool2d_backward(g, i, x.shape).view(np.uint32), want)


def test_no_leaks_over_20000_calls(cython_backend):
    x = np.random.default_rng(5).standard_normal((2, 3, 8, 8)).astype(np.float32)
    layer = pooling.MaxPool2D(3, 2, 1)
    y, i = pooling.max_pool2d(x, 3, 2, 1, return_indices=True)
    g = np.ones_like(y)
    calls = [
        lambda: pooling.max_pool2d(x, 3, 2, 1),
        lambda: pooling.max_pool2d(x, 3, 2, 1, return_indices=True),
        lambda: pooling.max_pool2d_backward(g, i, x.shape),
        lambda: layer.forward(x),
        lambda: layer.backward(g),
        lambda: pooling.max_pool2d(x[0], (2, 3), 1, dilation=2, ceil_mode=True),
    ]

    def bad():
        try:
            pooling.max_pool2d(x, 9)
        except ValueError:
            pass
    calls.append(bad)
    for fn in calls:  # warm caches (argument memo, NumPy internals)
        for _ in range(200):
            fn()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for fn in calls:
            for _ in range(20000):
                fn()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 256 * 1024, f"{grown} bytes still allocated after 140,000 calls"


@pytest.mark.slow
def test_plane_larger_than_2_31_elements(cython_backend):
    # One (2, 2**30 + 2048) uint8 plane: more than 2**31 elements (2 GB).
    # Indices past 2**31 must come out exact (int64 all the way), through the
    # flat path (a 2048-position window) and the uint8 cache (a 2x2 window).
    W = 2**30 + 2048
    x = np.zeros((1, 1, 2, W), dtype=np.uint8)
    x[0, 0, 1, -1] = 7           # the plane's last element: flat 2*W - 1
    x[0, 0, 1, 2**29 + 5] = 5
    x[0, 0, 0, 3] = 9
    y, i = pooling.max_pool2d(x, (2, 1024), return_indices=True)
    assert y.shape == (1, 1, 1, W // 1024)
    assert i[0, 0, 0, -1] == 2 * W - 1 > 2**31 and y[0, 0, 0, -1] == 7
    assert i[0, 0, 0, 2**19] == W + 2**29 + 5 and y[0, 0, 0, 2**19] == 5
    assert i[0, 0, 0, 0] == 3 and y[0, 0, 0, 0] == 9
    assert i[0, 0, 0, 1] == 1024  # all zeros: the window's first position
    del y, i
    layer = pooling.MaxPool2D(2)
    y = layer.forward(x)
    assert y[0, 0, 0, -1] == 7 and y[0, 0, 0, 1] == 9 and y[0, 0, 0, 2**28 + 2] == 5
    g = np.zeros(y.shape, dtype=np.float16)
    del y
    g[0, 0, 0, -1] = 1
    g[0, 0, 0, 2**28 + 2] = 2
    gi = layer.backward(g)
    del g
    assert gi.dtype == np.float16 and gi.shape == x.shape
    assert gi[0, 0, 1, -1] == 1 and gi[0, 0, 1, 2**29 + 5] == 2
    assert float(gi.sum(dtype=np.float64)) == 3

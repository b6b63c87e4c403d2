"""Property tests: the compiled kernels equal the NumPy reference exactly."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import reference

from strategies import (ALL_DTYPES, FLOAT_DTYPES, MEMORY_LAYOUTS, make_values, more_examples,
                        outcome, pool_args, with_layout)


@more_examples(1.5)  # 300 examples with the standard profile
@given(args=pool_args(), dtype=st.sampled_from(ALL_DTYPES),
       batch=st.sampled_from([None, 0, 1, 2, 3]), channels=st.integers(0, 3),
       hw=st.tuples(st.integers(1, 13), st.integers(1, 13)),
       layout=st.sampled_from(MEMORY_LAYOUTS), seed=st.integers(0, 2**32 - 1))
def test_forward_matches_reference(cython_backend, args, dtype, batch, channels, hw,
                                   layout, seed):
    rng = np.random.default_rng(seed)
    shape = ((channels,) if batch is None else (batch, channels)) + hw
    x = with_layout(make_values(rng, shape, dtype), layout)
    before = x.copy()
    got, got_err = outcome(pooling.max_pool2d, x, return_indices=True, **args)
    want, want_err = outcome(reference.max_pool2d, x, return_indices=True, **args)
    assert got_err == want_err
    np.testing.assert_array_equal(x, before)  # input untouched
    if want_err:
        return
    (y, i), (ry, ri) = got, want
    assert y.dtype == x.dtype and i.dtype == np.int64
    assert y.shape == ry.shape == i.shape
    assert np.array_equal(y, ry, equal_nan=y.dtype.kind == "f")
    assert np.array_equal(i, ri)
    # without indices: the same values
    y2 = pooling.max_pool2d(x, **args)
    assert np.array_equal(y2, ry, equal_nan=y.dtype.kind == "f")


@more_examples(1.5)  # 300 examples with the standard profile
@given(args=pool_args(), gdtype=st.sampled_from(FLOAT_DTYPES),
       batch=st.sampled_from([None, 1, 2]), channels=st.integers(1, 3),
       hw=st.tuples(st.integers(1, 11), st.integers(1, 11)),
       layout=st.sampled_from(["contiguous", "fortran", "strided", "readonly"]),
       seed=st.integers(0, 2**32 - 1))
def test_backward_matches_reference(cython_backend, args, gdtype, batch, channels, hw,
                                    layout, seed):
    rng = np.random.default_rng(seed)
    shape = ((channels,) if batch is None else (batch, channels)) + hw
    x = make_values(rng, shape, np.float32)
    out, err = outcome(reference.max_pool2d, x, return_indices=True, **args)
    if err:
        return
    _, idx = out
    # random normal gradients: overlapping windows accumulate several addends,
    # so any change of order or rounding shows up
    g = with_layout(rng.standard_normal(idx.shape).astype(gdtype), layout)
    g_before = g.copy()
    got = pooling.max_pool2d_backward(g, idx, shape)
    want = reference.max_pool2d_backward(g, idx, shape)
    np.testing.assert_array_equal(g, g_before)
    assert got.dtype == want.dtype == np.dtype(gdtype)
    assert got.shape == shape
    assert np.array_equal(got, want)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.float16])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=1, dilation=2)])
def test_parallel_path_matches_reference(cython_backend, threads, dtype, kw):
    # Large enough (> 2**15 elements, several planes) for the threaded loop.
    rng = np.random.default_rng(7)
    x = make_values(rng, (3, 5, 48, 41), dtype)
    pooling.set_num_threads(threads)
    try:
        y, i = pooling.max_pool2d(x, return_indices=True, **kw)
        g = rng.standard_normal(y.shape).astype(np.float16 if dtype == np.float16 else np.float32)
        gi = pooling.max_pool2d_backward(g, i, x.shape)
    finally:
        pooling.set_num_threads(0)  # back to OpenMP's default
    ry, ri = reference.max_pool2d(x, return_indices=True, **kw)
    assert np.array_equal(y, ry, equal_nan=True) and np.array_equal(i, ri)
    assert np.array_equal(gi, reference.max_pool2d_backward(g, ri, x.shape))


def test_float16_gradient_rounds_per_addition(cython_backend):
    # 2048 + 1 + 1 in float16: per-step rounding gives 2048 (ties to even),
    # a float32 accumulator would give 2050.
    x = np.zeros((1, 1, 1, 3), dtype=np.float32)
    x[0, 0, 0, 1] = 1
    y, i = pooling.max_pool2d(x, (1, 2), stride=1, return_indices=True)
    assert i.ravel().tolist() == [1, 1]
    g = np.array([[[[2048, 1]]]], dtype=np.float16)
    gi = pooling.max_pool2d_backward(g, i, x.shape)
    assert gi[0, 0, 0, 1] == np.float16(2048) + np.float16(1)
    assert np.array_equal(gi, reference.max_pool2d_backward(g, i, x.shape))


def test_float16_conversion_every_value(cython_backend):
    # Every finite float16 value goes through the kernel's half<->float
    # conversions unchanged (one element per window, zero added first).
    vals = np.arange(2**16, dtype=np.uint16).view(np.float16)
    vals = vals[np.isfinite(vals)]
    n = vals.size
    idx = np.arange(n, dtype=np.int64).reshape(1, 1, 1, n)
    gi = pooling.max_pool2d_backward(vals.reshape(1, 1, 1, n), idx, (1, 1, 1, n))
    assert np.array_equal(gi.ravel().view(np.uint16), (vals + np.float16(0)).view(np.uint16))


# Each interior column loop (2- and 3-wide windows at stride 1 and 2), the
# clipped border columns around it, and the window-local argmax cache used by
# the layer.  Widths up to 40 put whole vectors and remainders in every row.
FAST_WINDOWS = [(2, 2), (3, 2), (2, 1), (3, 1)]


@st.composite
def fast_path_args(draw):
    kh = draw(st.integers(1, 3))
    kw, sw = draw(st.sampled_from(FAST_WINDOWS))
    sh = draw(st.integers(1, 3))
    return dict(kernel_size=(kh, kw), stride=(sh, sw),
                padding=(draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))),
                dilation=(draw(st.integers(1, 2)), 1), ceil_mode=draw(st.booleans()))


@more_examples(1.5)  # 300 examples with the standard profile
@given(args=fast_path_args(), dtype=st.sampled_from(ALL_DTYPES),
       shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 9),
                       st.integers(1, 40)),
       layout=st.sampled_from(["contiguous", "strided", "flipped", "readonly"]),
       seed=st.integers(0, 2**32 - 1))
def test_fast_paths_and_layer_cache(cython_backend, args, dtype, shape, layout, seed):
    rng = np.random.default_rng(seed)
    x = with_layout(make_values(rng, shape, dtype), layout)
    want, err = outcome(reference.max_pool2d, x, return_indices=True, **args)
    if err:
        return
    ry, ri = want
    eq_nan = ry.dtype.kind == "f"
    assert np.array_equal(pooling.max_pool2d(x, **args), ry, equal_nan=eq_nan)
    y, i = pooling.max_pool2d(x, return_indices=True, **args)
    assert np.array_equal(y, ry, equal_nan=eq_nan) and np.array_equal(i, ri)
    layer = pooling.MaxPool2D(**args)
    assert np.array_equal(layer.forward(x), ry, equal_nan=eq_nan)
    for gdtype in (np.float32, np.float64, np.float16):
        g = rng.standard_normal(ry.shape).astype(gdtype)
        assert np.array_equal(layer.backward(g), reference.max_pool2d_backward(g, ri, shape))


@pytest.mark.parametrize("kw", [dict(kernel_size=17), dict(kernel_size=(16, 17), stride=3),
                                dict(kernel_size=(1, 300), stride=1, padding=(0, 150))])
def test_windows_wider_than_the_uint8_cache(cython_backend, kw):
    # More than 256 window positions: the cache and the indices are flat int64.
    rng = np.random.default_rng(11)
    x = make_values(rng, (2, 3, 40, 333), np.float32)
    ry, ri = reference.max_pool2d(x, return_indices=True, **kw)
    y, i = pooling.max_pool2d(x, return_indices=True, **kw)
    assert np.array_equal(y, ry, equal_nan=True) and np.array_equal(i, ri)
    layer = pooling.MaxPool2D(**kw)
    assert np.array_equal(layer.forward(x), ry, equal_nan=True)
    g = rng.standard_normal(ry.shape).astype(np.float32)
    assert np.array_equal(layer.backward(g), reference.max_pool2d_backward(g, ri, x.shape))


@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (2, 3, 9, 11), (1, 1, 2, 2)])
def test_layer_backward_tiling_writes_every_element(cython_backend, shape):
    # Exact 2x2 tiling skips the zero fill: every element must still be set,
    # so start from memory full of garbage.
    rng = np.random.default_rng(2)
    x = make_values(rng, shape, np.float32)
    layer = pooling.MaxPool2D(2)
    for _ in range(3):
        junk = np.full(10**6, np.nan, np.float32)  # recycle dirty memory
        del junk
        y = layer.forward(x)
        g = rng.standard_normal(y.shape).astype(np.float32)
        g[..., 0] = -0.0  # must come back as +0.0 where unselected, like 0 += g
        _, ri = reference.max_pool2d(x, 2, return_indices=True)
        want = reference.max_pool2d_backward(g, ri, shape)
        got = layer.backward(g)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32))


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1))])
@pytest.mark.parametrize("dtype", [np.float32, np.int8, np.float64])
def test_rows_longer_than_one_accumulator_chunk(cython_backend, kw, dtype):
    # Output rows of more than 512 columns are folded in several chunks.
    rng = np.random.default_rng(5)
    x = make_values(rng, (1, 2, 5, 1100), dtype)
    ry, ri = reference.max_pool2d(x, return_indices=True, **kw)
    y, i = pooling.max_pool2d(x, return_indices=True, **kw)
    assert ry.shape[-1] > 512
    assert np.array_equal(y, ry, equal_nan=True) and np.array_equal(i, ri)
    layer = pooling.MaxPool2D(**kw)
    assert np.array_equal(layer.forward(x), ry, equal_nan=True)
    g = rng.standard_normal(ry.shape).astype(np.float32)
    assert np.array_equal(layer.backward(g), reference.max_pool2d_backward(g, ri, x.shape))

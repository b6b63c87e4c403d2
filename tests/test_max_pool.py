"""max_pool1d/2d/3d and their backwards.

The compiled kernels equal the NumPy reference exactly (hypothesis: values,
indices, gradients; NaN, +-inf, ties, every dtype and memory layout,
unbatched), on every specialised loop (column loops, the compact argmax cache
behind MaxPool*D, windows too wide for it, long rows, threads, float16
accumulation); known answers; and PyTorch conformance (its OpInfo grid and
regressions: values, int64 indices and autograd gradients, bit for bit).
Refusals are in test_bad_input.py, channels-last data in test_layout.py."""
import itertools
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import reference

from strategies import (ALL_DTYPES, FLOAT_DTYPES, MEMORY_LAYOUTS, conformance_values,
                        make_values, more_examples, outcome, pool_args, with_bits, with_layout)



def assert_like_reference(nd, x, kw, rng, gdtypes=(np.float32,)):
    """Every route through max_pool{nd}d equals the reference exactly: values
    with and without indices, the backward from the indices, and the layer
    (through its compact argmax cache) forward and backward, for gradients of
    each of ``gdtypes``.  Returns the reference's (y, indices)."""
    ry, ri = getattr(reference, f"max_pool{nd}d")(x, return_indices=True, **kw)
    pool = getattr(pooling, f"max_pool{nd}d")
    eq_nan = ry.dtype.kind == "f"
    y, i = pool(x, return_indices=True, **kw)
    assert y.dtype == x.dtype and y.shape == ry.shape == i.shape
    assert np.array_equal(y, ry, equal_nan=eq_nan) and np.array_equal(i, ri)
    assert np.array_equal(pool(x, **kw), ry, equal_nan=eq_nan)
    layer = getattr(pooling, f"MaxPool{nd}D")(**kw)
    assert np.array_equal(layer.forward(x), ry, equal_nan=eq_nan)
    for gdtype in gdtypes:
        g = rng.standard_normal(ry.shape).astype(gdtype)
        want = getattr(reference, f"max_pool{nd}d_backward")(g, ri, x.shape)
        assert np.array_equal(getattr(pooling, f"max_pool{nd}d_backward")(g, i, x.shape), want)
        assert np.array_equal(layer.backward(g), want)
    return ry, ri


# ---- 1-D ------------------------------------------------------------------

@given(k=st.integers(1, 5), s=st.one_of(st.none(), st.integers(1, 4)), d=st.integers(1, 3),
       pad=st.integers(0, 2), ceil=st.booleans(), dtype=st.sampled_from(ALL_DTYPES),
       shape=st.one_of(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 40)),
                       st.tuples(st.integers(1, 3), st.integers(1, 40))),
       step=st.sampled_from([1, 2, -1]), seed=st.integers(0, 2**32 - 1))
def test_kernels_match_reference_1d(cython_backend, k, s, d, pad, ceil, dtype, shape, step, seed):
    rng = np.random.default_rng(seed)
    big = make_values(rng, shape[:-1] + (2 * shape[-1],), dtype)
    x = big[..., ::step][..., :shape[-1]]
    kw = dict(kernel_size=k, stride=s, padding=min(pad, k // 2), dilation=d, ceil_mode=ceil)
    try:
        reference.max_pool1d(x, **kw)
    except ValueError as exc:
        with pytest.raises(ValueError, match="max_pool1d"):
            pooling.max_pool1d(x, **kw)
        assert "max_pool1d" in str(exc)
        return
    assert_like_reference(1, x, kw, rng)


def test_matches_pytorch_1d(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
               dict(kernel_size=3, stride=1, dilation=2, ceil_mode=True),
               dict(kernel_size=4, stride=3, padding=2, ceil_mode=True)):
        for shape in ((2, 3, 17), (3, 12)):
            x = rng.integers(-3, 4, size=shape).astype(np.float64)
            x[rng.random(shape) < 0.1] = np.nan
            t = torch.from_numpy(x.copy()).requires_grad_()
            ty, ti = torch.nn.functional.max_pool1d(t, return_indices=True, **kw)
            y, i = pooling.max_pool1d(x, return_indices=True, **kw)
            assert np.array_equal(y, ty.detach().numpy(), equal_nan=True)
            assert np.array_equal(i, ti.numpy())
            g = rng.standard_normal(y.shape)
            ty.backward(torch.from_numpy(g))
            got = pooling.max_pool1d_backward(g, i, x.shape)
            assert np.array_equal(got.view(np.uint64), t.grad.numpy().view(np.uint64))
            layer = pooling.MaxPool1D(**kw)
            layer.forward(x)
            assert np.array_equal(layer.backward(g), got)


# ---- 2-D: kernels against the reference -----------------------------------

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


def test_unbatched_equals_batched(backend):
    x = np.random.default_rng(1).standard_normal((3, 7, 8))
    y, i = pooling.max_pool2d(x, 3, 2, 1, return_indices=True)
    yb, ib = pooling.max_pool2d(x[None], 3, 2, 1, return_indices=True)
    assert np.array_equal(y, yb[0]) and np.array_equal(i, ib[0])
    g = np.ones_like(y)
    assert np.array_equal(pooling.max_pool2d_backward(g, i, x.shape),
                          pooling.max_pool2d_backward(g[None], ib, (1,) + x.shape)[0])


def test_known_indices():
    # PyTorch's test: arange(1..64).view(2,2,4,4), kernel 2
    x = np.arange(1, 65, dtype=np.float32).reshape(2, 2, 4, 4)
    _, i = pooling.max_pool2d(x, 2, return_indices=True)
    assert (i == np.array([[5, 7], [13, 15]])).all()


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


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)])
def test_channels_last_scatters_match_reference(cython_backend, threads, dtype, batch, kw):
    """The channels-last scatters (backward from indices, the layer's
    backward, unpooling) split by batch item: a batch of 3 opens the
    threaded loop, a batch of 1 stays on one thread; each item is zero-filled
    inside the loop, so `out=` with stale contents comes back exact."""
    rng = np.random.default_rng(11)
    x = make_values(rng, (batch, 48, 41, 17), dtype)   # NHWC, > 2**15 elements
    gdt = np.float16 if dtype == np.float16 else dtype
    pooling.set_num_threads(threads)
    try:
        y, i = pooling.max_pool2d(x, return_indices=True, data_format="NHWC", **kw)
        g = rng.standard_normal(y.shape).astype(gdt)
        gi = pooling.max_pool2d_backward(g, i, x.shape, data_format="NHWC")
        stale = np.full(x.shape, 7, gdt)
        gi_out = pooling.max_pool2d_backward(g, i, x.shape, data_format="NHWC", out=stale)
        layer = pooling.MaxPool2D(data_format="NHWC", **kw)
        layer.forward(x)
        gl = layer.backward(g)
        up = pooling.max_unpool2d(y, i, output_size=x.shape[1:3], data_format="NHWC", **kw)
    finally:
        pooling.set_num_threads(0)
    _, ri = reference.max_pool2d(x, return_indices=True, data_format="NHWC", **kw)
    want = reference.max_pool2d_backward(g, ri, x.shape, data_format="NHWC")
    assert gi_out is stale
    for got in (gi, gi_out, gl):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    assert np.array_equal(up, reference.max_unpool2d(y, ri, output_size=x.shape[1:3],
                                                     data_format="NHWC", **kw), equal_nan=True)


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
    if outcome(reference.max_pool2d, x, **args)[1]:
        return
    assert_like_reference(2, x, args, rng, (np.float32, np.float64, np.float16))


@pytest.mark.parametrize("kw", [dict(kernel_size=17), dict(kernel_size=(16, 17), stride=3),
                                dict(kernel_size=(1, 300), stride=1, padding=(0, 150))])
def test_windows_wider_than_the_uint8_cache(cython_backend, kw):
    # More than 256 window positions: the cache and the indices are flat int64.
    rng = np.random.default_rng(11)
    x = make_values(rng, (2, 3, 40, 333), np.float32)
    assert_like_reference(2, x, kw, rng)


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
    ry, _ = assert_like_reference(2, x, kw, rng)
    assert ry.shape[-1] > 512


# ---- 2-D: PyTorch conformance ---------------------------------------------

# PyTorch's OpInfo grid (sample_inputs_max_pool) plus odd shapes.
SHAPES = [(1, 2, 3, 6), (1, 2, 6, 6), (2, 2, 3, 6), (2, 2, 6, 6), (2, 3, 6), (2, 6, 6),
          (2, 3, 7, 9), (1, 1, 1, 5), (1, 1, 11, 4)]
GRID = list(itertools.product([3, (3, 2), 2], [2, None, (2, 1)], [True, False],
                              [0, 1, (1, 1)], [1, (1, 2)]))


def _torch_pool(x, kw, g):
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(x.copy())
    floating = t.is_floating_point()
    if floating:
        t.requires_grad_(True)
    y, i = torch.nn.functional.max_pool2d(t, return_indices=True, **kw)
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
    pytest.importorskip("torch")
    rng = np.random.default_rng(zlib.crc32(repr((shape, np.dtype(dtype).name)).encode()))
    for k, s, ceil, p, d in GRID:
        kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil)
        x = conformance_values(shape, dtype, rng)
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
def test_pytorch_dtypes(backend, dtype, kw):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    x = conformance_values((2, 3, 13, 12), dtype, rng)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        x.flat[::7] = info.min
        x.flat[3::11] = info.max
    y, i = pooling.max_pool2d(x, return_indices=True, **kw)
    ty, ti = F.max_pool2d(torch.from_numpy(x), return_indices=True, **kw)
    assert y.dtype == x.dtype
    assert np.array_equal(y, ty.numpy(), equal_nan=True) and np.array_equal(i, ti.numpy())


def test_float16_gradients_overlapping_windows(backend):
    pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = conformance_values((2, 3, 9, 10), np.float16, rng)
    kw = dict(kernel_size=3, stride=1, padding=1)
    y, i = pooling.max_pool2d(x, return_indices=True, **kw)
    g = rng.standard_normal(y.shape).astype(np.float16)
    _, _, tg = _torch_pool(x, kw, g)
    got = pooling.max_pool2d_backward(g, i, x.shape)
    assert np.array_equal(got.view(np.uint16), tg.view(np.uint16))


def test_pytorch_regressions(backend):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
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


# ---- 3-D ------------------------------------------------------------------

@st.composite
def pool3d_args(draw):
    k = tuple(draw(st.integers(1, 3)) for _ in range(3))
    kernel = k if len(set(k)) > 1 or draw(st.booleans()) else k[0]
    stride = draw(st.one_of(st.none(), st.integers(1, 3),
                            st.tuples(*[st.integers(1, 3)] * 3)))
    padding = tuple(draw(st.integers(0, ki // 2)) for ki in k)
    dilation = draw(st.one_of(st.integers(1, 2), st.tuples(*[st.integers(1, 2)] * 3)))
    return dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                ceil_mode=draw(st.booleans()))


@given(args=pool3d_args(), dtype=st.sampled_from(ALL_DTYPES),
       lead=st.sampled_from([(2,), (1, 3), (2, 2), (0, 2), (2, 0)]),
       dhw=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 7)),
       layout=st.sampled_from(["contiguous", "strided", "flipped", "channels_last"]),
       seed=st.integers(0, 2**32 - 1))
def test_kernels_match_reference_3d(cython_backend, args, dtype, lead, dhw, layout, seed):
    rng = np.random.default_rng(seed)
    x = with_layout(make_values(rng, lead + dhw, dtype), layout, 3)
    before = x.copy()
    err = outcome(pooling.max_pool3d, x, return_indices=True, **args)[1]
    want_err = outcome(reference.max_pool3d, x, return_indices=True, **args)[1]
    assert err == want_err
    np.testing.assert_array_equal(x, before)
    if err:
        return
    assert_like_reference(3, x, args, rng, (rng.choice(FLOAT_DTYPES),))


def test_windows_wider_than_the_uint8_cache_3d(cython_backend):
    # 7x7x7 = 343 window positions: flat int64 indices fold in place, and the
    # layer caches them instead of uint8 offsets.
    rng = np.random.default_rng(2)
    x = make_values(rng, (2, 3, 9, 10, 11), np.float32)
    for data in (x, with_layout(x, "channels_last", 3)):
        y, i = pooling.max_pool3d(data, 7, stride=2, padding=3, return_indices=True)
        ry, ri = reference.max_pool3d(data, 7, stride=2, padding=3, return_indices=True)
        assert np.array_equal(y, ry, equal_nan=True) and np.array_equal(i, ri)
        layer = pooling.MaxPool3D(7, stride=2, padding=3)
        layer.forward(data)
        assert layer._argmax.dtype == np.int64
        g = rng.standard_normal(y.shape).astype(np.float32)
        assert np.array_equal(layer.backward(g), reference.max_pool3d_backward(g, ri, x.shape))


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3, 2), stride=(1, 2, 1), dilation=(2, 1, 1), ceil_mode=True),
    dict(kernel_size=3, stride=1, padding=1),  # overlapping windows
    dict(kernel_size=(1, 2, 2)),  # 2-D pooling of every slice
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_matches_pytorch_3d(backend, kw, dtype):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    for shape in ((2, 3, 5, 6, 7), (3, 4, 5, 6)):
        x = rng.integers(-3, 4, size=shape).astype(dtype)
        x[rng.random(shape) < 0.1] = np.nan
        t = torch.from_numpy(x.copy()).requires_grad_()
        ty, ti = F.max_pool3d(t, return_indices=True, **kw)
        y, i = pooling.max_pool3d(x, return_indices=True, **kw)
        assert np.array_equal(y, ty.detach().numpy(), equal_nan=True)
        assert np.array_equal(i, ti.numpy())
        g = rng.standard_normal(y.shape).astype(dtype)
        ty.backward(torch.from_numpy(g))
        got = pooling.max_pool3d_backward(g, i, x.shape)
        assert got.tobytes() == t.grad.numpy().tobytes()  # bit for bit
        layer = pooling.MaxPool3D(**kw)
        layer.forward(x)
        assert layer.backward(g).tobytes() == got.tobytes()
        # and back: unpooling to the input size
        ukw = {k: v for k, v in kw.items() if k in ("kernel_size", "stride", "padding")}
        try:
            want = F.max_unpool3d(ty.detach(), ti, output_size=x.shape[-3:], **ukw).numpy()
        except (RuntimeError, ValueError):  # output size out of reach of these arguments
            with pytest.raises(ValueError, match="invalid output_size"):
                pooling.max_unpool3d(y, i, output_size=x.shape[-3:], **ukw)
            continue
        u = pooling.max_unpool3d(y, i, output_size=x.shape[-3:], **ukw)
        assert np.array_equal(u, want, equal_nan=True)



# ---- channels-first planes in channels-last tiles (Design F2) ----------------
# 32 float32 planes at a time (other dtypes: the plane loops they take), in
# whole tiles or bands of rows, values only or with indices (PyTorch's, the
# layer's window offsets),
# NaN-free tiles through max instructions and the others through the
# channels-last loops, leftover planes through the plane loops.  The oracle
# is the element PyTorch's indices name (the reference's indices), so the
# values are compared bit for bit: which zero of a tie, which NaN.

def _picked(x, indices):
    """The elements of x (N, C, *spatial) at flat per-plane indices."""
    flat = x.reshape(x.shape[:2] + (-1,))
    return np.take_along_axis(flat, indices.reshape(indices.shape[:2] + (-1,)),
                              axis=2).reshape(indices.shape)


def _assert_tiles_exact(nd, x, kw, threads=1):
    # values only, with PyTorch's indices, and the layer's forward and
    # backward (its window offsets): the tiles' three kinds of output
    layer = getattr(pooling, f"MaxPool{nd}D")(**kw)
    pooling.set_num_threads(threads)
    try:
        y = getattr(pooling, f"max_pool{nd}d")(x, **kw)
        yi, i = getattr(pooling, f"max_pool{nd}d")(x, return_indices=True, **kw)
        yl = layer.forward(x)
        g = np.arange(1, yl.size + 1, dtype=np.float32).reshape(yl.shape)
        gl = layer.backward(g)
    finally:
        pooling.set_num_threads(0)
    _, ri = getattr(reference, f"max_pool{nd}d")(x, return_indices=True, **kw)
    want = _picked(x, ri)
    assert np.array_equal(i, ri)
    assert np.array_equal(gl, getattr(reference, f"max_pool{nd}d_backward")(g, ri, x.shape))
    for got in (y, yi, yl):
        assert got.dtype == x.dtype and got.shape == want.shape
        if x.dtype.kind == "f":
            assert np.array_equal(got.view(f"u{x.itemsize}"), want.view(f"u{x.itemsize}"))
        else:
            assert np.array_equal(got, want)


@more_examples(1.5)
@given(args=pool_args(), n=st.integers(1, 2), c=st.integers(16, 70),
       hw=st.tuples(st.integers(1, 24), st.integers(1, 24)),
       dtype=st.sampled_from([np.float32, np.float64, np.int32, np.int64]),
       special=st.booleans(), threads=st.sampled_from([1, 2]),
       seed=st.integers(0, 2**32 - 1))
def test_tiles_bit_for_bit(cython_backend, args, n, c, hw, dtype, special, threads, seed):
    rng = np.random.default_rng(seed)
    x = with_bits(rng, make_values(rng, (n, c) + hw, dtype, special=special))
    if outcome(reference.max_pool2d, x, **args)[1]:
        return
    _assert_tiles_exact(2, x, args, threads)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kw", [
    ((1, 33, 70, 67), dict(kernel_size=3, stride=1, padding=1)),        # bands, stride 1
    ((1, 33, 60, 38), dict(kernel_size=3, stride=1, padding=1)),        # bands with indices too
    ((2, 40, 64, 64), dict(kernel_size=3, stride=2, padding=1)),        # bands, planes 16 KB apart
    ((1, 64, 75, 61), dict(kernel_size=(3, 2), stride=(2, 1), dilation=(2, 3), ceil_mode=True)),
    ((1, 32, 28, 28), dict(kernel_size=2)),                             # 2x2/s2, short rows: tiles
    ((1, 32, 56, 56), dict(kernel_size=2)),                             # 2x2/s2, long rows: planes
    ((3, 50, 7, 7), dict(kernel_size=7)),                               # a global window
])
def test_tiles_in_bands_bit_for_bit(cython_backend, threads, dtype, shape, kw):
    rng = np.random.default_rng(5)
    for special in (False, True):   # NaN-free tiles, and tiles with NaNs
        x = with_bits(rng, make_values(rng, shape, dtype, special=special))
        _assert_tiles_exact(2, x, kw, threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiles_of_volumes_bit_for_bit(cython_backend, dtype):
    rng = np.random.default_rng(6)
    for shape, kw in [((2, 20, 4, 6, 6), dict(kernel_size=2, stride=1, padding=1)),
                      ((1, 40, 3, 9, 5), dict(kernel_size=(3, 2, 2), stride=2, ceil_mode=True)),
                      ((1, 33, 16, 32, 32), dict(kernel_size=2))]:   # too large: planes
        for special in (False, True):
            _assert_tiles_exact(3, with_bits(rng, make_values(rng, shape, dtype, special)), kw)

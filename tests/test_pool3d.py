"""3-D max pooling (and 3-D unpooling and adaptive pooling): kernels against
the reference, PyTorch conformance, the layers, and refusals."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import reference

from strategies import ALL_DTYPES, FLOAT_DTYPES, make_values, outcome, with_layout

LAYOUTS_3D = ["contiguous", "strided", "flipped", "channels_last"]


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
       layout=st.sampled_from(LAYOUTS_3D), seed=st.integers(0, 2**32 - 1))
def test_kernels_match_reference(cython_backend, args, dtype, lead, dhw, layout, seed):
    rng = np.random.default_rng(seed)
    x = with_layout(make_values(rng, lead + dhw, dtype), layout, 3)
    before = x.copy()
    got, err = outcome(pooling.max_pool3d, x, return_indices=True, **args)
    want, want_err = outcome(reference.max_pool3d, x, return_indices=True, **args)
    assert err == want_err
    np.testing.assert_array_equal(x, before)
    if err:
        return
    (y, i), (ry, ri) = got, want
    eq_nan = y.dtype.kind == "f"
    assert y.dtype == x.dtype and y.shape == ry.shape == i.shape
    assert np.array_equal(y, ry, equal_nan=eq_nan) and np.array_equal(i, ri)
    assert np.array_equal(pooling.max_pool3d(x, **args), ry, equal_nan=eq_nan)
    g = rng.standard_normal(y.shape).astype(rng.choice(FLOAT_DTYPES))
    want_g = reference.max_pool3d_backward(g, ri, x.shape)
    assert np.array_equal(pooling.max_pool3d_backward(g, i, x.shape), want_g)
    layer = pooling.MaxPool3D(**args)
    assert np.array_equal(layer.forward(x), ry, equal_nan=eq_nan)
    assert np.array_equal(layer.backward(g), want_g)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3, 2), stride=(1, 2, 1), dilation=(2, 1, 1), ceil_mode=True),
    dict(kernel_size=3, stride=1, padding=1),  # overlapping windows
    dict(kernel_size=(1, 2, 2)),  # 2-D pooling of every slice
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_matches_pytorch(backend, kw, dtype):
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


@pytest.mark.parametrize("size", [(2, 3, 4), (3, None, 2), 1, (5, 7, 9), (2, 2, 2)])
def test_adaptive_matches_pytorch(backend, size):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(9)
    x = rng.integers(-3, 4, size=(2, 3, 4, 5, 6)).astype(np.float64)
    x[rng.random(x.shape) < 0.1] = np.nan
    t = torch.from_numpy(x.copy()).requires_grad_()
    ty, ti = F.adaptive_max_pool3d(t, size, return_indices=True)
    y, i = pooling.adaptive_max_pool3d(x, size, return_indices=True)
    assert np.array_equal(y, ty.detach().numpy(), equal_nan=True)
    assert np.array_equal(i, ti.numpy())
    g = rng.standard_normal(y.shape)
    ty.backward(torch.from_numpy(g))
    layer = pooling.AdaptiveMaxPool3D(size)
    assert np.array_equal(layer.forward(x), y, equal_nan=True)
    assert layer.backward(g).tobytes() == t.grad.numpy().tobytes()


@given(dtype=st.sampled_from(ALL_DTYPES), lead=st.sampled_from([(1,), (2, 3), (0, 2)]),
       sp=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)),
       out=st.tuples(st.one_of(st.none(), st.integers(0, 8)), st.integers(1, 8),
                     st.integers(1, 8)),
       layout=st.sampled_from(LAYOUTS_3D), seed=st.integers(0, 2**32 - 1))
def test_adaptive_kernels_match_reference(cython_backend, dtype, lead, sp, out, layout, seed):
    rng = np.random.default_rng(seed)
    x = make_values(rng, lead + sp, dtype)
    x = with_layout(x, layout, 3) if len(lead) == 2 else x
    got, err = outcome(pooling.adaptive_max_pool3d, x, out, return_indices=True)
    want, want_err = outcome(reference.adaptive_max_pool3d, x, out, return_indices=True)
    assert err == want_err
    if err is None:
        (y, i), (ry, ri) = got, want
        assert y.dtype == x.dtype and y.shape == ry.shape
        assert np.array_equal(y, ry, equal_nan=y.dtype.kind == "f") and np.array_equal(i, ri)


@given(k=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 1),
       dtype=st.sampled_from(ALL_DTYPES), lead=st.sampled_from([(2,), (2, 3), (0, 2)]),
       sp=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
       grow=st.integers(-1, 1), seed=st.integers(0, 2**32 - 1))
def test_unpool_kernels_match_reference(cython_backend, k, s, p, dtype, lead, sp, grow, seed):
    rng = np.random.default_rng(seed)
    x = make_values(rng, lead + sp, dtype)
    out_sp = tuple(max(1, (n - 1) * s + k - 2 * p + grow) for n in sp)
    idx = rng.integers(0, int(np.prod(out_sp)), size=x.shape)  # repeats: last wins
    got, err = outcome(pooling.max_unpool3d, x, idx, k, s, p, out_sp)
    want, want_err = outcome(reference.max_unpool3d, x, idx, k, s, p, out_sp)
    assert err == want_err
    if err is None:
        assert got.shape == x.shape[:-3] + out_sp
        assert np.array_equal(got, want, equal_nan=got.dtype.kind == "f")


def test_windows_wider_than_the_uint8_cache(cython_backend):
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


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: pooling.max_pool3d(np.zeros((2, 2, 2)), 2), ValueError,
     r"max_pool3d: expected a 4D \(C, D, H, W\) or 5D \(N, C, D, H, W\) input.*\(2, 2, 2\)"),
    (lambda: pooling.max_pool3d(np.zeros((1, 2, 4, 4)), (2, 2)), ValueError,
     r"kernel_size must either be a single int, or a tuple of three ints.*\(2, 2\)"),
    (lambda: pooling.max_pool3d(np.zeros((1, 2, 4, 4)), 2, padding=(0, 2, 0)), ValueError,
     r"pad should be smaller than or equal to half of kernel size"),
    (lambda: pooling.max_pool3d(np.zeros((1, 1, 4, 4)), 2), ValueError,
     r"Output size is too small"),
    (lambda: pooling.max_pool3d(np.zeros((1, 0, 4, 4)), 2), ValueError,
     r"spatial sizes must be non-zero.*\(1, 0, 4, 4\)"),
    (lambda: pooling.max_pool3d_backward(np.zeros((1, 1, 1, 1)), np.full((1, 1, 1, 1), 8),
                                         (1, 2, 2, 2)),
     ValueError, r"max_pool3d_backward: indices must lie in \[0, 8\).*\(2, 2, 2\).*index 8"),
    (lambda: pooling.max_unpool3d(np.ones((1, 1, 1, 1)), np.full((1, 1, 1, 1), 8), 2),
     ValueError, r"max_unpool3d: Found an invalid max index: 8 \(output volumes are of "
                 r"size 2x2x2"),
    (lambda: pooling.adaptive_max_pool3d(np.ones((1, 4, 4, 4)), (1, 2)), ValueError,
     r"output_size must be an int or a tuple of three ints"),
    (lambda: pooling.MaxPool3D(2).backward(np.zeros((1, 1, 1, 1))), RuntimeError,
     r"MaxPool3D.backward called before forward"),
])
def test_refusals(backend, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_layers_repr_and_shapes():
    layer = pooling.MaxPool3D(3, 2, 1, ceil_mode=True)
    assert repr(layer) == ("MaxPool3D(kernel_size=(3, 3, 3), stride=(2, 2, 2), "
                           "padding=(1, 1, 1), dilation=(1, 1, 1), ceil_mode=True, "
                           "data_format='NCDHW')")
    assert layer.output_shape((4, 5, 10, 9, 8)) == (4, 5, 6, 5, 5)
    assert layer.output_shape((5, 10, 9, 8)) == (5, 6, 5, 5)
    assert pooling.MaxPool3D(2, data_format="NDHWC").output_shape((4, 8, 6, 4, 5)) \
        == (4, 4, 3, 2, 5)

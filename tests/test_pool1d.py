"""1-D max pooling: kernels against the reference, PyTorch conformance, the
layer, and refusals."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import reference

from strategies import ALL_DTYPES, make_values


@given(k=st.integers(1, 5), s=st.one_of(st.none(), st.integers(1, 4)), d=st.integers(1, 3),
       pad=st.integers(0, 2), ceil=st.booleans(), dtype=st.sampled_from(ALL_DTYPES),
       shape=st.one_of(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(1, 40)),
                       st.tuples(st.integers(1, 3), st.integers(1, 40))),
       step=st.sampled_from([1, 2, -1]), seed=st.integers(0, 2**32 - 1))
def test_kernels_match_reference(cython_backend, k, s, d, pad, ceil, dtype, shape, step, seed):
    rng = np.random.default_rng(seed)
    big = make_values(rng, shape[:-1] + (2 * shape[-1],), dtype)
    x = big[..., ::step][..., :shape[-1]]
    kw = dict(kernel_size=k, stride=s, padding=min(pad, k // 2), dilation=d, ceil_mode=ceil)
    try:
        ry, ri = reference.max_pool1d(x, return_indices=True, **kw)
    except ValueError as exc:
        with pytest.raises(ValueError, match="max_pool1d"):
            pooling.max_pool1d(x, **kw)
        assert "max_pool1d" in str(exc)
        return
    y, i = pooling.max_pool1d(x, return_indices=True, **kw)
    eq_nan = y.dtype.kind == "f"
    assert np.array_equal(y, ry, equal_nan=eq_nan) and np.array_equal(i, ri)
    assert np.array_equal(pooling.max_pool1d(x, **kw), ry, equal_nan=eq_nan)
    g = rng.standard_normal(ry.shape).astype(np.float32)
    want = reference.max_pool1d_backward(g, ri, x.shape)
    assert np.array_equal(pooling.max_pool1d_backward(g, i, x.shape), want)
    layer = pooling.MaxPool1D(**kw)
    assert np.array_equal(layer.forward(x), ry, equal_nan=eq_nan)
    assert np.array_equal(layer.backward(g), want)


def test_matches_pytorch(backend):
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


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: pooling.max_pool1d(np.zeros((2, 2, 2, 2)), 2), ValueError,
     r"max_pool1d: expected a 2D \(C, L\) or 3D \(N, C, L\) input.*\(2, 2, 2, 2\)"),
    (lambda: pooling.max_pool1d(np.zeros((2, 4)), (2, 2)), ValueError,
     r"kernel_size must either be a single int, or a tuple of one int.*\(2, 2\)"),
    (lambda: pooling.max_pool1d(np.zeros((2, 4)), 2, padding=2), ValueError,
     r"pad should be smaller than or equal to half of kernel size"),
    (lambda: pooling.max_pool1d(np.zeros((2, 4)), 5), ValueError, r"Output size is too small"),
    (lambda: pooling.max_pool1d_backward(np.zeros((1, 2)), np.full((1, 2), 9), (1, 4)),
     ValueError, r"max_pool1d_backward: indices must lie in \[0, 4\).*\(4,\).*index 9"),
    (lambda: pooling.MaxPool1D(2).backward(np.zeros((1, 2))), RuntimeError,
     r"MaxPool1D.backward called before forward"),
])
def test_refusals(backend, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_layer_repr_and_shapes():
    layer = pooling.MaxPool1D(3, 2, 1, ceil_mode=True)
    assert repr(layer) == ("MaxPool1D(kernel_size=(3,), stride=(2,), padding=(1,), "
                           "dilation=(1,), ceil_mode=True, data_format='NCL')")
    assert layer.output_shape((4, 5, 10)) == (4, 5, 6)
    assert layer.output_shape((5, 10)) == (5, 6)

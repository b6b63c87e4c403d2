"""3-D unpooling and adaptive pooling: kernels against the reference, PyTorch
conformance (3-D max pooling is in test_max_pool.py, refusals in
test_bad_input.py, the layer's repr in test_numpy_layers.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import reference

from strategies import ALL_DTYPES, make_values, outcome, with_layout


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
       layout=st.sampled_from(["contiguous", "strided", "flipped", "channels_last"]),
       seed=st.integers(0, 2**32 - 1))
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

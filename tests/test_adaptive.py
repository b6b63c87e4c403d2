"""adaptive_max_pool1d/2d/3d: kernels against the reference (both the general
kernel and the route through max pooling when windows tile), PyTorch
conformance.  Refusals are in test_bad_input.py."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import reference

from strategies import ALL_DTYPES, make_values, outcome, with_layout


@given(nd=st.sampled_from([1, 2]), dtype=st.sampled_from(ALL_DTYPES),
       lead=st.sampled_from([(1,), (2, 3), (0, 2)]),
       sp=st.tuples(st.integers(1, 12), st.integers(1, 12)),
       out=st.tuples(st.one_of(st.none(), st.integers(0, 14)), st.integers(0, 14)),
       layout=st.sampled_from(["contiguous", "strided", "flipped", "readonly"]),
       seed=st.integers(0, 2**32 - 1))
def test_kernels_match_reference(cython_backend, nd, dtype, lead, sp, out, layout, seed):
    rng = np.random.default_rng(seed)
    x = with_layout(make_values(rng, lead + sp[:nd], dtype), layout, nd)
    size = out[1] if nd == 1 else out
    fn, ref = (pooling.adaptive_max_pool1d, reference.adaptive_max_pool1d) if nd == 1 else \
        (pooling.adaptive_max_pool2d, reference.adaptive_max_pool2d)
    got, err = outcome(fn, x, size, return_indices=True)
    want, want_err = outcome(ref, x, size, return_indices=True)
    assert err == want_err
    if err is None:
        (y, i), (ry, ri) = got, want
        assert y.dtype == x.dtype and y.shape == ry.shape
        assert np.array_equal(y, ry, equal_nan=y.dtype.kind == "f") and np.array_equal(i, ri)
        if y.size:
            g = rng.standard_normal(y.shape).astype(np.float32)
            bwd, ref_bwd = ((pooling.max_pool1d_backward, reference.max_pool1d_backward)
                            if nd == 1 else
                            (pooling.max_pool2d_backward, reference.max_pool2d_backward))
            assert np.array_equal(bwd(g, i, x.shape), ref_bwd(g, ri, x.shape))


@pytest.mark.parametrize("size", [(3, 4), (5, 7), (2, None), 1, (7, 9), (10, 14), (1, 3)])
def test_matches_pytorch(backend, size):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    x = rng.integers(-3, 4, size=(2, 3, 5, 7)).astype(np.float64)
    x[rng.random(x.shape) < 0.1] = np.nan
    t = torch.from_numpy(x.copy()).requires_grad_()
    ty, ti = F.adaptive_max_pool2d(t, size, return_indices=True)
    y, i = pooling.adaptive_max_pool2d(x, size, return_indices=True)
    assert np.array_equal(y, ty.detach().numpy(), equal_nan=True) and np.array_equal(i, ti.numpy())
    g = rng.standard_normal(y.shape)
    ty.backward(torch.from_numpy(g))
    got = pooling.max_pool2d_backward(g, i, x.shape)
    assert np.array_equal(got.view(np.uint64), t.grad.numpy().view(np.uint64))
    # 1-D
    x1 = x[:, :, 0, :]
    ty1, ti1 = F.adaptive_max_pool1d(torch.from_numpy(x1.copy()), 3, return_indices=True)
    y1, i1 = pooling.adaptive_max_pool1d(x1, 3, return_indices=True)
    assert np.array_equal(y1, ty1.numpy(), equal_nan=True) and np.array_equal(i1, ti1.numpy())


@given(dtype=st.sampled_from(ALL_DTYPES), lead=st.sampled_from([(1,), (2, 3), (0, 2)]),
       sp=st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6)),
       out=st.tuples(st.one_of(st.none(), st.integers(0, 8)), st.integers(1, 8),
                     st.integers(1, 8)),
       layout=st.sampled_from(["contiguous", "strided", "flipped", "channels_last"]),
       seed=st.integers(0, 2**32 - 1))
def test_kernels_match_reference_3d(cython_backend, dtype, lead, sp, out, layout, seed):
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


@pytest.mark.parametrize("size", [(2, 3, 4), (3, None, 2), 1, (5, 7, 9), (2, 2, 2)])
def test_matches_pytorch_3d(backend, size):
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

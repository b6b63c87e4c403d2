"""max_unpool1d/2d/3d: kernels against the reference (output sizes, repeated
indices: the last write wins), PyTorch conformance, empty and untouched
inputs.  Refusals are in test_bad_input.py."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import reference

from strategies import ALL_DTYPES, make_values, outcome


@given(nd=st.sampled_from([1, 2]), k=st.integers(1, 3), s=st.integers(1, 3),
       p=st.integers(0, 1), dtype=st.sampled_from(ALL_DTYPES),
       lead=st.sampled_from([(), (2,), (2, 3), (0, 2)]),
       sp=st.tuples(st.integers(1, 6), st.integers(1, 6)),
       grow=st.integers(-1, 1), seed=st.integers(0, 2**32 - 1))
def test_kernels_match_reference(cython_backend, nd, k, s, p, dtype, lead, sp, grow, seed):
    rng = np.random.default_rng(seed)
    shape = lead + sp[:nd] if lead else (1,) + sp[:nd]
    x = make_values(rng, shape, dtype)
    out_sp = tuple(max(1, (n - 1) * s + k - 2 * p + grow) for n in sp[:nd])
    # indices anywhere in the output plane, with repeats (last write wins)
    idx = rng.integers(0, int(np.prod(out_sp)), size=shape)
    fn, ref = (pooling.max_unpool1d, reference.max_unpool1d) if nd == 1 else \
        (pooling.max_unpool2d, reference.max_unpool2d)
    got, err = outcome(fn, x, idx, k, s, p, out_sp)
    want, want_err = outcome(ref, x, idx, k, s, p, out_sp)
    assert err == want_err
    if err is None:
        assert got.dtype == x.dtype and got.shape == shape[:-nd] + out_sp
        assert np.array_equal(got, want, equal_nan=got.dtype.kind == "f")


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=1, padding=1),  # repeats
                                dict(kernel_size=(2, 3), stride=(2, 1))])
def test_matches_pytorch(backend, kw):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(2)
    x = rng.integers(-3, 4, size=(2, 3, 9, 8)).astype(np.float32)
    y, i = pooling.max_pool2d(x, return_indices=True, **kw)
    ty, ti = torch.from_numpy(y), torch.from_numpy(i)
    ukw = dict(kernel_size=kw["kernel_size"], stride=kw.get("stride"),
               padding=kw.get("padding", 0))
    for size in (None, x.shape[-2:], x.shape):
        try:
            want = F.max_unpool2d(ty, ti, output_size=size, **ukw).numpy()
        except RuntimeError as exc:  # the default size can be too small
            assert "invalid max index" in str(exc)
            with pytest.raises(ValueError, match="Found an invalid max index"):
                pooling.max_unpool2d(y, i, output_size=size, **ukw)
            continue
        assert np.array_equal(pooling.max_unpool2d(y, i, output_size=size, **ukw), want)
    # 1-D, unbatched
    x1 = rng.standard_normal((3, 11)).astype(np.float64)
    y1, i1 = pooling.max_pool1d(x1, 3, 2, return_indices=True)
    want1 = F.max_unpool1d(torch.from_numpy(y1)[None], torch.from_numpy(i1)[None], 3, 2,
                           output_size=(11,)).numpy()[0]
    assert np.array_equal(pooling.max_unpool1d(y1, i1, 3, 2, output_size=(11,)), want1)


def test_empty_and_inputs_untouched(backend):
    x = np.ones((0, 3, 2, 2), np.float32)
    assert pooling.max_unpool2d(x, np.zeros(x.shape, int), 2).shape == (0, 3, 4, 4)
    x = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    i = np.arange(8).reshape(2, 2, 2) % 4
    xb, ib = x.copy(), i.copy()
    pooling.max_unpool2d(x, i, 2)
    assert np.array_equal(x, xb) and np.array_equal(i, ib)


@given(k=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 1),
       dtype=st.sampled_from(ALL_DTYPES), lead=st.sampled_from([(2,), (2, 3), (0, 2)]),
       sp=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4)),
       grow=st.integers(-1, 1), seed=st.integers(0, 2**32 - 1))
def test_kernels_match_reference_3d(cython_backend, k, s, p, dtype, lead, sp, grow, seed):
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

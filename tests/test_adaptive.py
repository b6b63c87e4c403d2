"""adaptive_max_pool1d/2d/3d: kernels against the reference (both the general
kernel and the route through max pooling when windows tile), PyTorch
conformance.  The adaptive kernel's paths (row folds into lanes, groups of
output columns, windows wider than a lane chunk, global pooling as runs, a
NaN or a zero of both signs scanned again) are reached by property tests that
compare bits: signed zeros and NaN payloads included.  Channels-last data is
in test_layout.py, refusals in test_bad_input.py."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import reference
from pooling._params import adaptive_windows

from strategies import (ALL_DTYPES, assert_same_bits, axis_and_output, make_values,
                        more_examples, outcome, scan_reference, with_bits, with_layout)

@st.composite
def sizes_and_outputs(draw, nd):
    """Input and output sizes: the last axis of 1-D and 2-D data sometimes
    wider than a lane chunk (512), by a little or by more than twice (then
    the other axis stays short, for the reference's sake)."""
    last = draw(st.one_of(st.integers(1, 24), st.integers(500, 600),
                          st.integers(1025, 1100))) if nd < 3 else draw(st.integers(1, 9))
    other = 4 if last > 24 else (24 if nd < 3 else 9)
    spatial = tuple(draw(st.integers(1, other)) for _ in range(nd - 1)) + (last,)
    return spatial, tuple(draw(axis_and_output(n)) for n in spatial)


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


@more_examples(1.5)  # 300 examples with the standard profile
@given(nd=st.sampled_from([1, 2, 3]), dtype=st.sampled_from(ALL_DTYPES),
       lead=st.sampled_from([(1,), (3,), (2, 1), (2, 3)]), data=st.data(),
       layout=st.sampled_from(["contiguous", "strided", "flipped", "fortran"]),
       return_indices=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_adaptive_kernel_paths(cython_backend, nd, dtype, lead, data, layout, return_indices,
                               seed):
    # Channels-first data (the plane kernel): the last axis sometimes wider
    # than a lane chunk (groups of output columns, windows wider than a
    # chunk, global rows as runs), windows from one to many rows (folds of
    # four rows and the rest), global pooling over the plane or the volume,
    # strided and reversed memory (no runs), bit-exact against the reference.
    rng = np.random.default_rng(seed)
    spatial, out = data.draw(sizes_and_outputs(nd))
    x = with_bits(rng, make_values(rng, lead + spatial, dtype))
    if len(lead) == 2:
        x = with_layout(x, layout, nd)
    fn = getattr(pooling, f"adaptive_max_pool{nd}d")
    want = scan_reference(x, out)
    got = fn(x, out, return_indices=True)
    assert_same_bits(got, want)
    if not return_indices:
        assert_same_bits((fn(x, out), want[1]), want)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int16, np.uint8])
@pytest.mark.parametrize("shape, out", [   # each over 2**15 elements (threads)
    ((16, 8, 24, 24), (5, 5)),        # row folds, overlapping windows
    ((16, 8, 32, 32), (2, 2)),        # tiling windows 16 wide: the adaptive kernel
    ((16, 8, 16, 16), (1, 1)),        # global: runs, searched for the index
    ((2, 2, 9, 1100), (2, 2)),        # windows wider than a lane chunk: runs
    ((2, 3, 5, 1300), (4, 7)),        # several groups of output columns
    ((8, 4, 4, 8, 40), (3, 1, 1)),    # 3-D: runs per depth slice
    ((16, 4, 4, 4, 40), (1, 1, 1)),   # 3-D global: the volume as one run
    ((8, 4, 5, 9, 30), (2, 4, 5)),    # 3-D row folds
])
def test_adaptive_kernel_threads(cython_backend, threads, dtype, shape, out):
    rng = np.random.default_rng(11)
    x = with_bits(rng, make_values(rng, shape, dtype))
    nd = len(out)
    pooling.set_num_threads(threads)
    try:
        for ri in (True, False):
            got = getattr(pooling, f"adaptive_max_pool{nd}d")(x, out, return_indices=ri)
            want = scan_reference(x, out)
            assert_same_bits(got if ri else (got, want[1]), want)
    finally:
        pooling.set_num_threads(0)


def test_adaptive_exact_bits_known_answers(cython_backend):
    # The windows the lanes cannot tell apart, scanned again: a zero max of
    # both signs (the first one's comes out), NaNs of two payloads (the last
    # one's), in a row fold, a global run and a channels-last window.
    x = np.zeros((1, 2, 6, 40), dtype=np.float32)
    x[0, 0] = -1.0
    x[0, 0, 2, 7] = -0.0       # first zero of plane 0
    x[0, 0, 4, 1] = 0.0
    x[0, 1, 1, 3] = np.nan
    x[0, 1, 5, 0] = np.float32(np.nan) * -1
    u = x.view(np.uint32)
    u[0, 1, 1, 3] = 0x7FC00001
    u[0, 1, 5, 0] = 0xFFC00000    # the last NaN of plane 1
    for out in [(1, 1), (2, 3), (1, 40), (3, 1)]:
        for xs in (x, np.asfortranarray(x)):
            want = scan_reference(xs, out)
            assert_same_bits(pooling.adaptive_max_pool2d(xs, out, return_indices=True), want)
            assert_same_bits((pooling.adaptive_max_pool2d(xs, out), want[1]), want)
    y, i = pooling.adaptive_max_pool2d(x, 1, return_indices=True)
    assert y.view(np.uint32)[0, 0, 0, 0] == 0x80000000 and i[0, 0, 0, 0] == 2 * 40 + 7
    assert y.view(np.uint32)[0, 1, 0, 0] == 0xFFC00000 and i[0, 1, 0, 0] == 5 * 40
    xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    y, i = pooling.adaptive_max_pool2d(xl, 1, return_indices=True, data_format="NHWC")
    assert y.view(np.uint32)[0, 0, 0, 0] == 0x80000000 and i[0, 0, 0, 0] == 2 * 40 + 7
    assert y.view(np.uint32)[0, 0, 0, 1] == 0xFFC00000 and i[0, 0, 0, 1] == 5 * 40


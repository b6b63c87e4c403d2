"""fractional_max_pool2d/3d and the FractionalMaxPool2D/3D layers.

The reference against PyTorch 2.13 bit for bit (values with their NaN
payloads and zero signs, int64 indices, and gradients through autograd,
which PyTorch routes through the indices as we do through
max_pool*_backward): hypothesis over shapes, kernels, output sizes and
ratios, samples, dtypes, NaN/+-inf/ties, unbatched inputs and both data
formats.  The compiled kernel against the reference on every path it has
(test_kernel_paths, test_kernel_hypothesis, test_wide_volume), refusals,
out= and the random samples' sources at the end."""
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import _api, _fractional, reference
from pooling._core import backend as _backend

from strategies import (MEMORY_LAYOUTS, assert_same_bits, make_values, more_examples,
                        with_bits, with_layout)

FLOATS = [np.float16, np.float32, np.float64]
FIRST = {2: "NCHW", 3: "NCDHW"}
LAST = {2: "NHWC", 3: "NDHWC"}


def ours(m, nd):
    return m.fractional_max_pool2d if nd == 2 else m.fractional_max_pool3d


def backward(m, nd):
    return m.max_pool2d_backward if nd == 2 else m.max_pool3d_backward


def to_last(a, nd):
    return np.moveaxis(a, a.ndim - nd - 1, -1)


def to_first(a, nd):
    return np.moveaxis(a, -1, a.ndim - nd - 1)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@st.composite
def cases(draw, nd=None, max_n=2):
    """(nd, x channels first, kernel, output_size or None, output_ratio or
    None, samples (N', C, nd)) for a valid call; x has ties, NaN of several
    payloads, +-inf and both zeros."""
    nd = draw(st.sampled_from([2, 3])) if nd is None else nd
    dtype = draw(st.sampled_from(FLOATS))
    batched = draw(st.booleans())
    n = draw(st.integers(1, max_n)) if batched else 1
    c = draw(st.integers(1, 3))
    hi = 13 if nd == 2 else 7
    spatial = tuple(draw(st.integers(2, hi)) for _ in range(nd))
    strict = 1 if nd == 3 else 0   # 3-D: output + kernel - 1 < input
    k = tuple(draw(st.integers(1, s - strict)) for s in spatial)
    sizes = tuple(draw(st.integers(0, s - kk + 1 - strict)) for s, kk in zip(spatial, k))
    kernel = k[0] if len(set(k)) == 1 and draw(st.booleans()) else k
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shape = ((n,) if batched else ()) + (c,) + spatial
    x = with_bits(rng, make_values(rng, shape, dtype))
    if draw(st.booleans()):   # spread values: few ties
        x = np.where(np.isfinite(x), rng.standard_normal(shape), x).astype(dtype)
    extra = draw(st.integers(0, 1))
    # (float16 rounds draws above 1 - 2**-12 up to 1, which is refused.)
    u = np.minimum(rng.random((n + extra, c, nd)).astype(dtype),
                   np.nextafter(dtype(1), dtype(0)))
    if draw(st.booleans()):
        return nd, x, kernel, sizes, None, u
    ratio = tuple(o / s for o, s in zip(sizes, spatial))
    # int(s * (o / s)) is o, or o - 1 where the quotient rounds down: a
    # smaller output, which fits too.
    return nd, x, kernel, None, ratio if len(set(ratio)) > 1 else ratio[0], u


def torch_fractional(x, nd, kernel, output_size, output_ratio, u, g=None):
    """PyTorch's (y, indices, autograd gradient or None) for channels-first x."""
    torch = pytest.importorskip("torch")
    f = (torch.nn.functional.fractional_max_pool2d if nd == 2
         else torch.nn.functional.fractional_max_pool3d)
    t = torch.from_numpy(x.copy()).requires_grad_(g is not None)
    if nd == 2 and output_ratio is not None and not isinstance(output_ratio, tuple):
        output_ratio = (output_ratio,) * 2   # F.fractional_max_pool2d takes len() of it
    y, i = f(t, kernel, output_size=output_size, output_ratio=output_ratio,
             return_indices=True, _random_samples=torch.from_numpy(u))
    grad = None
    if g is not None:
        y.backward(torch.from_numpy(g))
        grad = t.grad.numpy()
    return y.detach().numpy(), i.numpy(), grad


def bits_equal(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return (a.dtype == b.dtype and a.shape == b.shape
            and np.array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}")))


# ---- the reference against PyTorch ------------------------------------------

@more_examples(1.5)
@given(cases(), st.booleans())
def test_reference_matches_torch(case, last):
    nd, x, kernel, size, ratio, u = case
    ty, ti, _ = torch_fractional(x, nd, kernel, size, ratio, u)
    g = np.random.default_rng(1).standard_normal(ty.shape).astype(x.dtype)
    _, _, tgrad = torch_fractional(x, nd, kernel, size, ratio, u, g)
    fmt = LAST[nd] if last else FIRST[nd]
    xx, gg = (to_last(x, nd), to_last(g, nd)) if last else (x, g)
    y, i = ours(reference, nd)(xx, kernel, size, ratio, True, u, fmt)
    # (max_pool*_backward refuses an output of zero size; its gradient is 0.)
    grad = (backward(reference, nd)(gg, i, xx.shape, fmt) if y.size
            else np.zeros(xx.shape, x.dtype))
    if last:
        y, i, grad = to_first(y, nd), to_first(i, nd), to_first(grad, nd)
    assert_same_bits((y, i), (ty, ti))
    assert bits_equal(grad, tgrad)


def test_reference_matches_torch_known_grid():
    # A fixed grid beside hypothesis: every dtype, kernel 1 to 3, outputs
    # from 1 (the last start only) to the largest the rule allows.
    rng = np.random.default_rng(7)
    for nd in (2, 3):
        for dtype in FLOATS:
            for k in (1, 2, 3):
                spatial = (9, 8) if nd == 2 else (6, 7, 5)
                strict = 1 if nd == 3 else 0
                for o in (1, 2, min(spatial) - k + 1 - strict):
                    x = with_bits(rng, make_values(rng, (2, 3) + spatial, dtype))
                    u = rng.random((2, 3, nd)).astype(dtype)
                    ty, ti, _ = torch_fractional(x, nd, k, o, None, u)
                    for m in (reference, pooling):
                        got = ours(m, nd)(x, k, o, return_indices=True, random_samples=u)
                        assert_same_bits(got, (ty, ti))


def test_samples_edges_match_torch():
    # Samples at 0 and just below 1, in every float type: the interval
    # arithmetic (in that type) at its extremes.
    for dtype in FLOATS:
        below = np.nextafter(dtype(1), dtype(0))
        x = np.random.default_rng(3).standard_normal((2, 2, 31, 29)).astype(dtype)
        u = np.array([[[0, 0], [below, below]], [[0, below], [below, 0]]], dtype)
        for k, o in ((2, (15, 14)), (3, (20, 27)), (1, (31, 2))):
            ty, ti, _ = torch_fractional(x, 2, k, o, None, u)
            for m in (reference, pooling):
                assert_same_bits(ours(m, 2)(x, k, o, return_indices=True, random_samples=u),
                                 (ty, ti))


def test_interval_starts_float16_arithmetic():
    # In float16, (i + u) * alpha rounds at each step: a float32 computation
    # would give other starts.  PyTorch's are the float16 ones.
    torch = pytest.importorskip("torch")
    x = np.arange(2 * 1 * 3 * 1500, dtype=np.float16).reshape(2, 1, 3, 1500) % 7
    u = np.array([[[0.3, 0.7]], [[0.9, 0.1]]], np.float16)
    ti = torch.nn.functional.fractional_max_pool2d(
        torch.from_numpy(x), (1, 3), (2, 1100), return_indices=True,
        _random_samples=torch.from_numpy(u))[1].numpy()
    got = pooling.fractional_max_pool2d(x, (1, 3), (2, 1100), return_indices=True,
                                        random_samples=u)[1]
    assert np.array_equal(got, ti)
    planes = u.reshape(2, 2)
    as32 = _fractional.interval_starts(planes[:, 0].astype(np.float32), 1500, 1100, 3)
    as16 = _fractional.interval_starts(planes[:, 0], 1500, 1100, 3)
    assert not np.array_equal(as16, as32)   # the test can tell the two apart


def test_layer_matches_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    for nd, layer_cls, module in ((2, pooling.FractionalMaxPool2D,
                                   torch.nn.FractionalMaxPool2d),
                                  (3, pooling.FractionalMaxPool3D,
                                   torch.nn.FractionalMaxPool3d)):
        spatial = (11, 10) if nd == 2 else (7, 6, 8)
        x = make_values(rng, (2, 3) + spatial, np.float32)
        u = rng.random((2, 3, nd)).astype(np.float32)
        layer = layer_cls(2, output_ratio=0.5)
        y = layer.forward(x, random_samples=u)
        g = rng.standard_normal(y.shape).astype(np.float32)
        t = torch.from_numpy(x).requires_grad_(True)
        ty = module(2, output_ratio=0.5, _random_samples=torch.from_numpy(u))(t)
        ty.backward(torch.from_numpy(g))
        assert bits_equal(y, ty.detach().numpy())
        assert bits_equal(layer.backward(g), t.grad.numpy())
        assert layer.output_shape(x.shape) == y.shape


# ---- the compiled kernel against the reference ------------------------------

def both(nd, x, *args, **kw):
    """(kernel's, reference's) results of one call."""
    got = ours(pooling, nd)(x, *args, **kw)
    want = ours(reference, nd)(x, *args, **kw)
    return got, want


@more_examples(1.5)
@given(cases(max_n=3), st.sampled_from(MEMORY_LAYOUTS), st.booleans(), st.booleans(),
       st.sampled_from([1, 2]))
def test_kernel_hypothesis(cython_backend, case, layout, last, want_indices, threads):
    nd, x, kernel, size, ratio, u = case
    fmt = LAST[nd] if last else FIRST[nd]
    xx = with_layout(to_last(x, nd) if last else x, layout, nd, fmt)
    before = xx.copy()
    pooling.set_num_threads(threads)
    try:
        got, want = both(nd, xx, kernel, size, ratio, want_indices, u, fmt)
    finally:
        pooling.set_num_threads(0)
    if want_indices:
        assert_same_bits(got, want)
    else:
        assert bits_equal(got, want)
    assert bits_equal(xx, before)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("nd, shape, kernel, size", [
    # contiguous rows: kernels 1 (seed only), 2 and 3, long rows
    (2, (2, 20, 40, 37), 3, (25, 30)),
    (2, (2, 20, 33, 41), (2, 1), (30, 40)),
    (2, (1, 3, 5, 1300), (1, 1), (4, 1000)),
    # 3-D windows (several depths folded)
    (3, (2, 6, 9, 12, 11), (2, 3, 2), (5, 7, 8)),
])
@pytest.mark.parametrize("view", ["contiguous", "strided", "channels_last"])
@pytest.mark.parametrize("want_indices", [False, True])
def test_kernel_paths(cython_backend, threads, dtype, nd, shape, kernel, size, view,
                      want_indices):
    # Each loop of the compiled fractional3d against the reference: the
    # contiguous fold, the strided one (every other column of a wider
    # array, or channels-last memory), values only and with int32
    # positions, float16 through float32, planes over threads (each case
    # above 2**15 elements).
    rng = np.random.default_rng(zlib.crc32(repr((shape, kernel, view)).encode()))
    x = with_bits(rng, make_values(rng, shape, dtype))
    fmt = FIRST[nd]
    if view == "strided":
        x = with_layout(x, "strided", nd)
    elif view == "channels_last":
        x, fmt = np.ascontiguousarray(to_last(x, nd)), LAST[nd]
    u = rng.random((shape[0], shape[1], nd))
    pooling.set_num_threads(threads)
    try:
        got, want = both(nd, x, kernel, size, None, want_indices, u, fmt)
    finally:
        pooling.set_num_threads(0)
    if want_indices:
        assert_same_bits(got, want)
    else:
        assert bits_equal(got, want)
    assert _api.core_op(_backend.core(), "fractional3d") is not reference._Core.fractional3d


def test_kernel_channels_last_blocks(cython_backend):
    # Channels-last memory is copied into planes a block of channels at a
    # time: 16 float32 (8 float64) channels per block, a partial last
    # block, and one channel per block where planes are over 4 MB.
    rng = np.random.default_rng(13)
    for dtype, shape, size in ((np.float32, (2, 37, 12, 10), (7, 6)),
                               (np.float64, (1, 19, 9, 8), (5, 5)),
                               (np.float32, (1, 3, 1100, 1000), (4, 300))):
        x = np.ascontiguousarray(to_last(with_bits(rng, make_values(rng, shape, dtype)), 2))
        u = rng.random((shape[0], shape[1], 2))
        for threads in (1, 2):
            pooling.set_num_threads(threads)
            try:
                got, want = both(2, x, 2, size, None, True, u, "NHWC")
            finally:
                pooling.set_num_threads(0)
            assert_same_bits(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_volume(cython_backend, dtype):
    # Planes of more than 2**31 elements: positions as int64 in the
    # kernel.  A broadcast row (no memory) keeps it cheap; the reference
    # would copy it, so the expected answer is PyTorch's scan worked out
    # by hand: every row holds the same values, so the first window row
    # holds each window's first maximum, and the last row its last NaN.
    # (float16 is left out: its float32 copy would be 8 GB.)
    n = 46400
    rng = np.random.default_rng(11)
    row = make_values(rng, (n,), dtype)
    x = np.broadcast_to(row, (1, 1, n, n))
    u = np.array([[[0.25, 0.75]]], dtype)
    kernel, size = (2, 3), (3, 5)
    y, i = pooling.fractional_max_pool2d(x, kernel, size, return_indices=True,
                                         random_samples=u)
    sh = _fractional.interval_starts(u[0, :, 1], n, size[0], kernel[0])[0]
    sw = _fractional.interval_starts(u[0, :, 0], n, size[1], kernel[1])[0]
    for a, h in enumerate(sh):
        for b, w in enumerate(sw):
            win = row[w:w + kernel[1]]
            nan = np.flatnonzero(np.isnan(win))
            j = nan[-1] if nan.size else int(np.argmax(win))
            r = h + kernel[0] - 1 if nan.size else h
            assert i[0, 0, a, b] == r * n + w + j
            assert bits_equal(y[0, 0, a, b], win[j])
    assert i.max() > 2**31 - 1
    assert bits_equal(y, pooling.fractional_max_pool2d(x, kernel, size, random_samples=u))


# ---- refusals -----------------------------------------------------------------

@pytest.mark.parametrize("backend_name", ["numpy", "cython"])
def test_refusals(backend_name, use_backend):
    if backend_name not in _backend._CORES:
        pytest.skip("compiled kernels not built")
    use_backend(backend_name)
    x = np.zeros((2, 3, 10, 12), np.float32)
    u = np.full((2, 3, 2), 0.5, np.float32)
    f2, f3 = pooling.fractional_max_pool2d, pooling.fractional_max_pool3d
    x3 = np.zeros((2, 3, 6, 7, 8), np.float32)
    u3 = np.full((2, 3, 3), 0.5, np.float32)
    cases = [
        (lambda: f2(x, 3), ValueError,
         "fractional_max_pool2d requires specifying either an output_size or an output_ratio"),
        (lambda: f2(x, 3, (9, 10), random_samples=u), ValueError,
         r"fractional_max_pool2d: pool height 3 too large relative to input height 10 "
         r"\(output height 9"),
        (lambda: f2(x, 3, (8, 11), random_samples=u), ValueError,
         "pool width 3 too large relative to input width 12"),
        (lambda: f3(x3, 2, (5, 6, 7), random_samples=u3), ValueError,
         "fractional_max_pool3d: pool time 2 too large relative to input time 6"),
        (lambda: f3(x3, 2, (4, 6, 7), random_samples=u3), ValueError,
         "pool width 2 too large relative to input width 8"),
        (lambda: f3(x3, 2, (4, 6, 6), random_samples=u3), ValueError,
         "pool height 2 too large relative to input height 7"),
        (lambda: f2(x, 0, 4), ValueError,
         r"kernel_size should be greater than zero, but got kernel_size=\(0, 0\)"),
        (lambda: f2(x, (2, 2, 2), 4), ValueError, "kernel_size must either be a single int"),
        (lambda: f2(x, 2.0, 4), TypeError, "kernel_size must be an int"),
        (lambda: f2(x, 2, -1), ValueError,
         r"output_size must be non-negative, but got output_size=\(-1, -1\)"),
        (lambda: f2(x, 2, (4, 4, 4)), ValueError, "output_size must either be a single int"),
        (lambda: f2(x, 2, output_ratio=1.5), ValueError,
         "output_ratio must be between 0 and 1, but got output_ratio=1.5"),
        (lambda: f2(x, 2, output_ratio=(0.5, 0.5, 0.5)), ValueError,
         "output_ratio must be a number or a tuple of 2 numbers"),
        (lambda: f2(x, 2, output_ratio="half"), TypeError,
         "output_ratio must be a number or a tuple of 2 numbers, but got output_ratio='half'"),
        (lambda: f2(x.astype(np.int64), 2, 4), TypeError,
         "fractional_max_pool2d: input has unsupported dtype int64; expected float16, "
         "float32 or float64"),
        (lambda: f2(x[0, 0], 2, 4), ValueError, r"expected a 3D \(C, H, W\) or 4D"),
        (lambda: f2(x[..., :0], 2, 0), ValueError, "spatial sizes must be non-zero"),
        (lambda: f2(x, 2, 4, random_samples=u[:1]), ValueError,
         r"random_samples must have shape \(N >= 2, 3, 2\) .* but got shape \(1, 3, 2\)"),
        (lambda: f2(x, 2, 4, random_samples=u[0]), ValueError,
         r"but got shape \(3, 2\)"),
        (lambda: f2(x, 2, 4, random_samples=u3), ValueError, r"but got shape \(2, 3, 3\)"),
        (lambda: f2(x, 2, 4, random_samples=u.astype(np.int32)), TypeError,
         "random_samples must have a floating dtype, but got dtype int32"),
        (lambda: f2(x, 2, 4, random_samples=u + 0.5), ValueError,
         r"random_samples must lie in \[0, 1\) \(in the input's dtype float32\), but got "
         r"1.0$"),  # the value as a Python float: the same under NumPy 1 and 2
        (lambda: f2(x, 2, 4, random_samples=u - 0.75), ValueError, "must lie in"),
        (lambda: f2(x, 2, 4, random_samples=np.full((2, 3, 2), np.nan)), ValueError,
         "must lie in"),
        (lambda: f2(x, 2, 4, random_samples=np.full((2, 3, 2), 0.9999999999)), ValueError,
         "float32"),
        (lambda: f2(x, 2, 4, rng="seed"), TypeError,
         "rng must be None, an int seed or a numpy.random.Generator, but got rng='seed'"),
        (lambda: f2(x, 2, 4, rng=-1), ValueError, "rng must be a non-negative int seed"),
        (lambda: f2(x, 2, 4, rng=True), TypeError, "rng=True"),
        (lambda: f2(x, 2, 4, data_format="NCWH"), ValueError, "data_format must be"),
    ]
    for call, exc, pattern in cases:
        with pytest.raises(exc, match=pattern):
            call()
    # PyTorch's own checks, the same calls refused there too.
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    with pytest.raises(RuntimeError, match="pool height 3 too large relative to input height 10"):
        F.fractional_max_pool2d(torch.from_numpy(x), 3, (9, 10),
                                _random_samples=torch.from_numpy(u))
    with pytest.raises(RuntimeError, match="Expect _random_samples.size"):
        F.fractional_max_pool2d(torch.from_numpy(x), 2, 4,
                                _random_samples=torch.from_numpy(u[:1]))


def test_layer_refusals():
    with pytest.raises(ValueError, match="FractionalMaxPool2D requires specifying"):
        pooling.FractionalMaxPool2D(2)
    with pytest.raises(ValueError, match="FractionalMaxPool3D: kernel_size should be greater"):
        pooling.FractionalMaxPool3D(0, 2)
    with pytest.raises(TypeError, match="FractionalMaxPool2D: rng must be"):
        pooling.FractionalMaxPool2D(2, 2, rng=1.5)
    layer = pooling.FractionalMaxPool2D(2, 3)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.zeros((1, 1, 3, 3), np.float32))
    layer.forward(np.zeros((1, 1, 6, 6), np.float32))
    with pytest.raises(ValueError, match="does not match"):
        layer.backward(np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="pool height 2 too large"):
        layer.output_shape((1, 1, 3, 6))


# ---- shapes, empties, out= ------------------------------------------------------

def test_unbatched_ratio_and_empty(backend):
    rng = np.random.default_rng(2)
    x = make_values(rng, (3, 10, 12), np.float64)
    u = rng.random((1, 3, 2))
    y, i = pooling.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.75), return_indices=True,
                                         random_samples=u)
    assert y.shape == (3, 5, 9)
    assert_same_bits((y, i), reference.fractional_max_pool2d(
        x, 2, (5, 9), return_indices=True, random_samples=u))
    assert_same_bits((y[None], i[None]), pooling.fractional_max_pool2d(
        x[None], 2, (5, 9), return_indices=True, random_samples=u))
    # Empty batches and zero output sizes: empty results, as PyTorch.
    y, i = pooling.fractional_max_pool2d(x[None][:0], 2, 4, return_indices=True,
                                         random_samples=np.zeros((0, 3, 2)))
    assert y.shape == i.shape == (0, 3, 4, 4) and i.dtype == np.int64
    # No channels: an empty result too (PyTorch refuses C = 0, as for max
    # pooling; see pytorch-differences.md).
    assert pooling.fractional_max_pool2d(x[None][:, :0], 2, 4, random_samples=np.zeros(
        (1, 0, 2))).shape == (1, 0, 4, 4)
    assert pooling.fractional_max_pool3d(np.zeros((1, 2, 5, 5, 5)), 2, (0, 3, 3),
                                         random_samples=np.zeros((1, 2, 3))).shape == (
        1, 2, 0, 3, 3)
    # More sample rows than items: the first ones are used (PyTorch's rule).
    u2 = rng.random((4, 3, 2))
    assert_same_bits(
        pooling.fractional_max_pool2d(x[None], 2, 4, return_indices=True, random_samples=u2),
        pooling.fractional_max_pool2d(x[None], 2, 4, return_indices=True,
                                      random_samples=u2[:1]))


def test_out(backend):
    rng = np.random.default_rng(4)
    for dtype in FLOATS:
        for fmt in ("NCHW", "NHWC"):
            x = make_values(rng, (2, 9, 11, 9), dtype)   # C 9 either way
            u = rng.random((2, 9, 2))
            want = pooling.fractional_max_pool2d(x, 3, (6, 7), None, True, u, fmt)
            for order in ("C", "F"):
                y = np.empty(want[0].shape, dtype, order=order)
                i = np.empty(want[0].shape, np.int64, order=order)
                got = pooling.fractional_max_pool2d(x, 3, (6, 7), None, True, u, fmt,
                                                    out=(y, i))
                assert got[0] is y and got[1] is i
                assert_same_bits(got, want)
                y2 = np.empty(want[0].shape, dtype, order=order)
                assert pooling.fractional_max_pool2d(x, 3, (6, 7), None, False, u, fmt,
                                                     out=y2) is y2
                assert bits_equal(y2, want[0])
    x = np.zeros((1, 2, 6, 6), np.float32)
    u = np.zeros((1, 2, 2))
    with pytest.raises(ValueError, match=r"out has the wrong shape: expected \(1, 2, 3, 3\)"):
        pooling.fractional_max_pool2d(x, 2, 3, random_samples=u,
                                      out=np.empty((1, 2, 3, 4), np.float32))
    with pytest.raises(TypeError, match="out must be a tuple"):
        pooling.fractional_max_pool2d(x, 2, 3, return_indices=True, random_samples=u,
                                      out=np.empty((1, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match="shares memory with input"):
        pooling.fractional_max_pool2d(x, 2, 3, random_samples=u, out=x[..., :3, :3])


# ---- the random samples ----------------------------------------------------------

def test_random_samples_sources(backend):
    x = np.random.default_rng(0).standard_normal((3, 4, 12, 13)).astype(np.float32)
    f = pooling.fractional_max_pool2d
    # rng=None: NumPy's global generator, as np.random.random_sample draws.
    np.random.seed(123)
    a = f(x, 2, 6, return_indices=True)
    np.random.seed(123)
    u = np.random.random_sample((3, 4, 2)).astype(np.float32)
    assert_same_bits(a, f(x, 2, 6, return_indices=True, random_samples=u))
    np.random.seed(123)
    assert_same_bits(a, f(x, 2, 6, return_indices=True))
    # An int seed: a fresh generator each call (the same samples each time).
    b = f(x, 2, 6, return_indices=True, rng=7)
    assert_same_bits(b, f(x, 2, 6, return_indices=True, rng=7))
    u7 = np.random.default_rng(7).random((3, 4, 2)).astype(np.float32)
    assert_same_bits(b, f(x, 2, 6, return_indices=True, random_samples=u7))
    # A Generator: drawn from it, so successive calls differ.
    gen = np.random.default_rng(7)
    assert_same_bits(b, f(x, 2, 6, return_indices=True, rng=gen))
    assert not np.array_equal(b[1], f(x, 2, 6, return_indices=True, rng=gen)[1])
    # Unbatched: samples for one item.
    assert_same_bits(f(x[0], 2, 6, return_indices=True, rng=7),
                     f(x[0], 2, 6, return_indices=True, random_samples=u7[:1]))
    # Given samples win over rng.
    assert_same_bits(f(x, 2, 6, return_indices=True, random_samples=u7, rng=99), b)


def test_drawn_samples_stay_below_one(monkeypatch):
    # A float64 draw just below 1 rounds to 1.0 in float16 and float32:
    # kept below 1.
    monkeypatch.setattr(np.random, "random_sample", lambda shape: np.full(shape, 1 - 2.0**-40))
    for dtype in FLOATS:
        u = _fractional.random_samples_for("f", 2, None, None, 2, 3, np.dtype(dtype))
        assert u.dtype == dtype and u.shape == (2, 3, 2)
        below = dtype(1 - 2.0**-40) if dtype == np.float64 else np.nextafter(dtype(1), dtype(0))
        assert (u == below).all()


def test_layer_rng_and_layouts(backend):
    rng = np.random.default_rng(9)
    x = make_values(rng, (2, 3, 9, 8), np.float32)
    a = pooling.FractionalMaxPool2D(2, (5, 4), rng=3)
    b = pooling.FractionalMaxPool2D(2, (5, 4), rng=3)
    ya, yb = a(x), b(x)
    assert bits_equal(ya, yb)
    assert bits_equal(a(x), b(x))           # the second draws of one sequence
    gen = np.random.default_rng(3)
    gen.random((2, 3, 2))
    u2 = gen.random((2, 3, 2)).astype(np.float32)
    assert bits_equal(a._indices, pooling.fractional_max_pool2d(x, 2, (5, 4), return_indices=True,
                                                                 random_samples=u2)[1])
    # Channels last: the same results transposed, gradients too.
    u = rng.random((2, 3, 2))
    first = pooling.FractionalMaxPool2D(2, (5, 4))
    last = pooling.FractionalMaxPool2D(2, (5, 4), data_format="NHWC")
    y1, y2 = first.forward(x, u), last.forward(to_last(x, 2), u)
    assert bits_equal(y1, to_first(y2, 2))
    g = rng.standard_normal(y1.shape).astype(np.float32)
    assert bits_equal(first.backward(g), to_first(last.backward(to_last(g, 2)), 2))
    assert last.output_shape((2, 9, 8, 3)) == (2, 5, 4, 3)
    assert "FractionalMaxPool2D(kernel_size=(2, 2)" in repr(first)
    three = pooling.FractionalMaxPool3D((2, 1, 2), output_ratio=0.5, rng=1)
    x3 = make_values(rng, (3, 8, 6, 7), np.float64)
    assert three(x3).shape == three.output_shape(x3.shape) == (3, 4, 3, 3)
    assert three.backward(np.ones((3, 4, 3, 3))).shape == x3.shape

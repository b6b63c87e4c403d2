"""lp_pool1d/2d/3d and their backwards.

lp_pool is composed in pooling._api of the average-pooling core (the
compiled kernel on the cython backend) and NumPy element-wise steps, so the
public functions and the reference compute the same steps: they must agree
bit for bit everywhere (checked on every case below).

Against PyTorch 2.13 (torch.nn.functional.lp_pool*d and torch.autograd):

- p = 1, -1, +inf, -inf: bit for bit (NaN positions; a NaN's sign and
  payload are not compared), values and gradients: only products,
  quotients, sums and maxima are involved.
- other p, forward: within 2 ulp where PyTorch's ``x.pow(p)`` is exact
  arithmetic (p = 2, 3, -1, -2: products and quotients, the same bits here)
  and only its last ``pow(1/p)`` (a sqrt, a pow) is approximate; else
  within ``2 + max(3, n) |1/p|`` ulp for windows of n elements: PyTorch's
  first pow is off by up to an ulp per element, the float32 sum of the n
  terms may round each addition differently, and the final ``** (1/p)``
  scales that relative error by |1/p|.  (Hypothesis found 12 ulp for a
  3x3x3 window at p = 1/3: PyTorch's result 9.3 ulp from the exact value,
  pooling's 2.7 ulp.)
- gradients: within ``8 + 2 |1/p|`` ulp of the gradient's magnitude without
  cancellation (the same chain run on |grad_output|, which has no terms of
  opposite signs); where the terms have one sign, that is within so many ulp
  of the gradient itself.
"""
import itertools
import math

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import pooling
from pooling import reference

from strategies import make_values, more_examples, outcome, with_layout
from test_avg_pool import GRID_SHAPES, LAST, same_bits, to_channels_first, to_channels_last

FLOATS = [np.float16, np.float32, np.float64]
EXACT_FIRST_POW = {1.0, 2.0, 3.0, -1.0, -2.0}
NORMS = [1, 2, 3, 0.5, -1, -2, 1.5, 4, -0.5, 1 / 3, 2.5, math.inf, -math.inf]


def _torch():
    return pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def ulp_distance(a, b):
    """Elementwise distance in ulp, NaNs (which must agree) at 0."""
    a, b = np.asarray(a), np.asarray(b)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    i = f"i{a.itemsize}"

    def ordered(v):
        v = np.where(np.isnan(v), 0, v).astype(v.dtype).view(i).astype(np.int64)
        return np.where(v < 0, np.iinfo(i).min - v, v)
    return np.abs(ordered(a) - ordered(b))


def forward_ulps(p, n):
    """The bound for a window of n elements (see the module docstring)."""
    if p in EXACT_FIRST_POW or math.isinf(p):
        return 0 if p in (1.0, -1.0) or math.isinf(p) else 2
    return 2 + math.ceil(max(3, n) * abs(1 / p))


def backward_ulps(p):
    return 0 if p == 1 or math.isinf(p) else 8 + math.ceil(2 * abs(1 / p))


def torch_lp(x, nd, p, k, s, ceil, g=None):
    """PyTorch's output and (with g) autograd gradient, channels first."""
    torch = _torch()
    t = torch.from_numpy(x.copy()).requires_grad_(g is not None)
    op = getattr(torch.nn.functional, f"lp_pool{nd}d")
    y = op(t, p, k[0] if nd == 1 else k, s, ceil)  # (F.lp_pool1d wants an int)
    grad = None
    if g is not None:
        y.backward(torch.from_numpy(g.copy()))
        grad = t.grad.numpy()
    return y.detach().numpy(), grad


def assert_near_gradient(got, want, magnitude, p):
    """|got - want| within backward_ulps(p) ulp of ``magnitude``, where
    that is finite; NaN and infinities where PyTorch has them."""
    assert np.array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want) & np.isfinite(magnitude)
    assert np.array_equal(got[np.isinf(want)], want[np.isinf(want)])
    tol = backward_ulps(p) * np.spacing(np.abs(magnitude[fin]).astype(want.dtype))
    with np.errstate(all="ignore"):
        err = np.abs(got[fin].astype(np.float64) - want[fin].astype(np.float64))
    assert (err <= tol).all(), (err.max(), p)


@st.composite
def lp_case(draw, nd=None):
    nd = draw(st.sampled_from([1, 2, 3])) if nd is None else nd
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    spatial = tuple(draw(st.integers(ki, ki + 5)) for ki in k)
    lead = draw(st.sampled_from([(2, 3), (1, 1), (3,)]))
    return dict(nd=nd, k=k, s=s, ceil=draw(st.booleans()), shape=lead + spatial,
                p=draw(st.sampled_from(NORMS)))


def kwargs(c):
    k, s = c["k"], c["s"]
    return dict(norm_type=c["p"], kernel_size=k[0] if len(set(k)) == 1 else k,
                stride=None if s == k else s, ceil_mode=c["ceil"])


def data(rng, shape, dtype, kind):
    """"positive": spread-out values > 0 (no NaN from fractional powers);
    "special": small integers of both signs, zeros, NaN and +-inf."""
    if kind == "positive":
        x = np.exp(rng.uniform(-3, 3, size=shape))
        return x.astype(dtype)
    return make_values(rng, shape, dtype)


@more_examples(2)
@given(c=lp_case(), dtype=st.sampled_from(FLOATS), kind=st.sampled_from(["positive", "special"]),
       seed=st.integers(0, 2**32 - 1))
@example(c=dict(nd=3, k=(3, 3, 3), s=(1, 1, 1), ceil=False, shape=(2, 3, 3, 5, 6), p=1 / 3),
         dtype=np.float32, kind="positive", seed=2)  # 12 ulp apart (the bound's module docstring)
def test_lp_pool_matches_pytorch_and_reference(c, dtype, kind, seed):
    torch = _torch()
    nd, p = c["nd"], c["p"]
    rng = np.random.default_rng(seed)
    x = data(rng, c["shape"], dtype, kind)
    kw = kwargs(c)
    y, err = outcome(getattr(reference, f"lp_pool{nd}d"), x, **kw)
    if err:
        assert outcome(getattr(pooling, f"lp_pool{nd}d"), x, **kw)[1] == err
        with pytest.raises((RuntimeError, ValueError)):
            torch_lp(x, nd, p, c["k"], c["s"], c["ceil"])
        return
    g = data(rng, y.shape, dtype, "positive")
    gi = getattr(reference, f"lp_pool{nd}d_backward")(g, x, **kw)
    # the public functions (the compiled average pooling) compute the same steps
    assert same_bits(getattr(pooling, f"lp_pool{nd}d")(x, **kw), y)
    assert same_bits(getattr(pooling, f"lp_pool{nd}d_backward")(g, x, **kw), gi)
    if nd == 3 and dtype == np.float16 and math.isfinite(p):
        return  # PyTorch 2.13 has no float16 avg_pool3d (pooling: as float32, rounded)
    ty, tgrad = torch_lp(x, nd, p, c["k"], c["s"], c["ceil"], g)
    if forward_ulps(p, 1) == 0:
        assert same_bits(y, ty)
        assert same_bits(gi, tgrad)
        return
    assert ulp_distance(y, ty).max(initial=0) <= forward_ulps(p, math.prod(c["k"]))
    magnitude = getattr(reference, f"lp_pool{nd}d_backward")(g, np.abs(x), **kw)
    if kind == "positive":
        assert ulp_distance(gi, tgrad).max(initial=0) <= backward_ulps(p)
    assert_near_gradient(gi, tgrad, np.maximum(np.abs(magnitude), np.abs(gi)), p)
    del torch


@more_examples(0.5)
@given(c=lp_case(), dtype=st.sampled_from(FLOATS), seed=st.integers(0, 2**32 - 1))
def test_lp_pool_mixed_sign_gradients(c, dtype, seed):
    # grad_output of both signs: the average pooling's backward adds terms
    # of opposite signs, so the bound is on the magnitude without cancellation
    nd, p = c["nd"], c["p"]
    if nd == 3 and dtype == np.float16 and math.isfinite(p):
        return
    rng = np.random.default_rng(seed)
    x = data(rng, c["shape"], dtype, "positive")
    kw = kwargs(c)
    y, err = outcome(getattr(reference, f"lp_pool{nd}d"), x, **kw)
    if err:
        return
    g = (rng.standard_normal(y.shape) * 4).astype(dtype)
    gi = getattr(pooling, f"lp_pool{nd}d_backward")(g, x, **kw)
    _, tgrad = torch_lp(x, nd, p, c["k"], c["s"], c["ceil"], g)
    if backward_ulps(p) == 0:
        assert same_bits(gi, tgrad)
        return
    magnitude = getattr(pooling, f"lp_pool{nd}d_backward")(np.abs(g), x, **kw)
    assert_near_gradient(gi, tgrad, np.abs(magnitude), p)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("p", [1, -1, math.inf, -math.inf])
def test_exact_norms_are_pytorchs_bits_in_both_layouts(nd, dtype, p):
    # p = 1 (and -1: a reciprocal, correctly rounded) and +-inf: PyTorch's
    # bits, forward and autograd, channels first and last, every dimensionality
    if nd == 3 and dtype == np.float16 and math.isfinite(p):
        pytest.skip("PyTorch 2.13 has no float16 avg_pool3d")
    rng = np.random.default_rng(nd * 100 + FLOATS.index(dtype))
    shape = (2, 3) + (7, 6, 5)[:nd]
    for kind in ("positive", "special"):
        x = data(rng, shape, dtype, kind) * np.where(rng.random(shape) < 0.5, -1, 1).astype(dtype)
        for k, s, ceil in [(2, None, False), (3, 2, True), (2, 1, False)]:
            fn = getattr(pooling, f"lp_pool{nd}d")
            back = getattr(pooling, f"lp_pool{nd}d_backward")
            y = fn(x, p, k, s, ceil)
            g = data(rng, y.shape, dtype, "positive")
            ty, tg = torch_lp(x, nd, p, (k,) * nd, s, ceil, g)
            assert same_bits(y, ty)
            gi = back(g, x, p, k, s, ceil)
            assert same_bits(gi, tg)
            xl = to_channels_last(x, nd)
            yl = fn(xl, p, k, s, ceil, data_format=LAST[nd])
            assert same_bits(to_channels_first(yl, nd), ty)
            gl = back(to_channels_last(g, nd), xl, p, k, s, ceil, data_format=LAST[nd])
            assert same_bits(to_channels_first(gl, nd), tg)


@pytest.mark.parametrize("nd", [2, 3])
def test_pytorch_channels_last_tensors_p1(nd):
    # PyTorch's channels-last kernels: the same values for p = 1 (its
    # channels-last average may keep -0.0; sign(s) * relu(|s|) makes it +0.0)
    torch = _torch()
    rng = np.random.default_rng(5)
    x = make_values(rng, (2, 5) + (6, 7, 5)[:nd], np.float32)
    fmt = torch.channels_last if nd == 2 else torch.channels_last_3d
    t = torch.from_numpy(x.copy()).to(memory_format=fmt)
    ty = getattr(torch.nn.functional, f"lp_pool{nd}d")(t, 1, 2, 1).contiguous().numpy()
    y = getattr(pooling, f"lp_pool{nd}d")(to_channels_last(x, nd), 1, 2, 1,
                                           data_format=LAST[nd])
    assert same_bits(to_channels_first(y, nd), ty)


@given(c=lp_case(), dtype=st.sampled_from(FLOATS),
       layout=st.sampled_from(["contiguous", "fortran", "strided", "flipped", "channels_last",
                               "broadcast", "readonly"]),
       seed=st.integers(0, 2**32 - 1))
def test_lp_pool_layouts_unbatched_and_channels_last(c, dtype, layout, seed):
    # any strides, either data_format, batched or not: the same bits; the
    # input is never modified
    nd = c["nd"]
    rng = np.random.default_rng(seed)
    x = data(rng, c["shape"], dtype, "special")
    kw = kwargs(c)
    fn = getattr(pooling, f"lp_pool{nd}d")
    back = getattr(pooling, f"lp_pool{nd}d_backward")
    xs = with_layout(x, layout, nd)
    x = np.ascontiguousarray(xs)  # (broadcast changes the values)
    y, err = outcome(fn, x, **kw)
    if err:
        assert outcome(fn, to_channels_last(x, nd), data_format=LAST[nd], **kw)[1] == err
        return
    before = xs.copy()
    assert same_bits(fn(xs, **kw), y)
    gs = with_layout(data(rng, y.shape, dtype, "positive"), layout, nd)
    g = np.ascontiguousarray(gs)
    gi = back(g, x, **kw)
    assert same_bits(back(gs, xs, **kw), gi)
    assert same_bits(xs, before)
    # (broadcasting the channels-last array's first axis would change its values)
    xl = with_layout(to_channels_last(x, nd), "contiguous" if layout == "broadcast" else layout,
                     nd, LAST[nd])
    assert same_bits(to_channels_first(fn(xl, data_format=LAST[nd], **kw), nd), y)
    gl = back(to_channels_last(g, nd), xl, data_format=LAST[nd], **kw)
    assert same_bits(to_channels_first(gl, nd), gi)
    if x.ndim == nd + 2:  # unbatched: each image alone
        assert same_bits(fn(x[1 % x.shape[0]], **kw), y[1 % x.shape[0]])
        assert same_bits(back(g[0], x[0], **kw), gi[0])


def test_blocks_cover_large_inputs(backend, monkeypatch):
    # x ** p goes through a buffer a block of planes at a time: blocks of
    # whole images, of channel runs within one image, and channels last
    # all give the unblocked result
    from pooling import _api
    rng = np.random.default_rng(2)
    x = data(rng, (3, 5, 9, 8), np.float32, "positive")
    want = pooling.lp_pool2d(x, 2, 3, 2, True)
    wl = pooling.lp_pool2d(to_channels_last(x, 2), 3.5, 2, data_format="NHWC")
    threads = pooling.get_num_threads()
    try:
        for size, n in [(1, 1), (9 * 8 * 4 * 2, 1), (5 * 9 * 8 * 4 * 2 + 4, 1),
                        (9 * 8 * 4 * 2, 2)]:  # (n threads: one block)
            monkeypatch.setattr(_api, "_LP_BLOCK_BYTES", size)
            pooling.set_num_threads(n)
            assert same_bits(pooling.lp_pool2d(x, 2, 3, 2, True), want)
            assert same_bits(pooling.lp_pool2d(to_channels_last(x, 2), 3.5, 2,
                                               data_format="NHWC"), wl)
            assert same_bits(reference.lp_pool2d(x, 2, 3, 2, True), want)
    finally:
        pooling.set_num_threads(threads)


# A fixed grid beside hypothesis, over the shapes of the average-pooling
# grid (test_avg_pool.GRID_SHAPES): every kernel, stride and ceil_mode
# combination there, for the norms whose bounds differ (exact, exact first
# power, approximate), float32 and float64, positive and special data.
LP_GRID = list(itertools.product([3, (3, 2), 2], [2, None, (2, 1)], [True, False],
                                 [1, 2, math.inf, 1.5]))


@pytest.mark.parametrize("shape", GRID_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pytorch_grid(shape, dtype):
    torch = _torch()
    rng = np.random.default_rng(len(shape) * 100 + shape[-1])
    checked = 0
    for k, s, ceil, p in LP_GRID:
        for kind in ("positive", "special"):
            x = data(rng, shape, dtype, kind)
            y, err = outcome(reference.lp_pool2d, x, p, k, s, ceil)
            if err:  # the kernel does not fit: PyTorch refuses too
                with pytest.raises((RuntimeError, ValueError)):
                    torch.nn.functional.lp_pool2d(torch.from_numpy(x), p, k, s, ceil)
                continue
            assert same_bits(pooling.lp_pool2d(x, p, k, s, ceil), y)
            want = torch.nn.functional.lp_pool2d(torch.from_numpy(x), p, k, s, ceil).numpy()
            n = k * k if isinstance(k, int) else math.prod(k)
            assert (ulp_distance(y, want) <= forward_ulps(p, n)).all(), (k, s, ceil, p, kind)
            checked += 1
    assert checked  # (on (1, 1, 1, 5), only ceil_mode windows fit: fewer cases)


def test_known_values():
    x = np.array([[[[1.0, -2.0], [0.0, 3.0]]]], np.float64)
    assert pooling.lp_pool2d(x, 1, 2).item() == 2.0
    assert pooling.lp_pool2d(x, 2, 2).item() == math.sqrt(14.0)
    assert pooling.lp_pool2d(x, math.inf, 2).item() == 3.0
    assert pooling.lp_pool2d(x, -math.inf, 2).item() == 0.0
    assert pooling.lp_pool2d(x, -1, 2).item() == 0.0  # 1/0 = inf in the sum
    # a window cut short by ceil_mode is scaled to the whole kernel, as PyTorch does
    y = pooling.lp_pool1d(np.array([[1.0, 2.0, 3.0]]), 1, 2, ceil_mode=True)
    assert y.tolist() == [[3.0, 6.0]]
    # sign(s) * relu(|s|) makes a -0.0 sum +0.0, in either layout
    for dt in FLOATS:
        for last in (False, True):
            z = np.full((1, 3, 2, 2), -0.0, dt)
            fmt = "NHWC" if last else "NCHW"
            got = pooling.lp_pool2d(np.moveaxis(z, 1, -1) if last else z, 1, 2, data_format=fmt)
            assert not np.signbit(got).any()
    # the gradient of an all-zero window is zero (PyTorch's relu branch)
    g = pooling.lp_pool2d_backward(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 2, 2)), 2, 2)
    assert np.array_equal(g, np.zeros((1, 1, 2, 2)))


def test_float16_goes_through_float32_with_a_half_exponent():
    # PyTorch's float16 pow takes the exponent as a half: 1/3 is 0.33325...
    torch = _torch()
    x = np.linspace(0.5, 60, 2 * 3 * 8 * 8).astype(np.float16).reshape(2, 3, 8, 8)
    for p in (3, 1 / 3, 2.5, 2):
        ty = torch.nn.functional.lp_pool2d(torch.from_numpy(x), p, 2).numpy()
        y = pooling.lp_pool2d(x, p, 2)
        assert ulp_distance(y, ty).max() <= 1


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_out(backend, nd):
    rng = np.random.default_rng(nd)
    x = data(rng, (2, 3) + (6, 5, 4)[:nd], np.float32, "positive")
    fn = getattr(pooling, f"lp_pool{nd}d")
    back = getattr(pooling, f"lp_pool{nd}d_backward")
    for p in (1, 2, math.inf):
        y = fn(x, p, 2)
        o = np.full(y.shape, np.nan, np.float32)
        assert fn(x, p, 2, out=o) is o and same_bits(o, y)
        assert fn(x, p, 2, out=(o,)) is o
        g = np.ones(y.shape, np.float32)
        gi = back(g, x, p, 2)
        og = np.full(x.shape, np.nan, np.float32)
        assert back(g, x, p, 2, out=og) is og and same_bits(og, gi)
        # a channels-last out for a channels-first call
        ol = np.empty(y.shape[:1] + y.shape[2:] + y.shape[1:2], np.float32)
        assert same_bits(fn(x, p, 2, out=np.moveaxis(ol, -1, 1)), y)
    with pytest.raises(TypeError, match="lp_pool.*out has the wrong dtype"):
        fn(x, 2, 2, out=np.empty(fn(x, 2, 2).shape, np.float64))
    with pytest.raises(ValueError, match="lp_pool.*out shares memory with input"):
        fn(x, 2, 2, out=x[..., :fn(x, 2, 2).shape[-1]][tuple(
            slice(0, n) for n in fn(x, 2, 2).shape)])
    with pytest.raises(ValueError, match="backward: out has the wrong shape"):
        back(np.ones(fn(x, 2, 2).shape, np.float32), x, 2, 2, out=np.empty((1,), np.float32))


def test_empty_batches():
    for p in (2, math.inf):
        x = np.zeros((0, 3, 4, 4), np.float32)
        assert pooling.lp_pool2d(x, p, 2).shape == (0, 3, 2, 2)
        g = pooling.lp_pool2d_backward(np.zeros((0, 3, 2, 2), np.float32), x, p, 2)
        assert g.shape == x.shape


@pytest.mark.parametrize("fn", [pooling.lp_pool2d, reference.lp_pool2d])
def test_refusals(fn):
    x = np.ones((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"lp_pool2d: norm_type must be non-zero .*float "
                                         r"division by zero.*norm_type=0"):
        fn(x, 0, 2)
    with pytest.raises(ValueError, match="norm_type=0.0"):
        fn(x, 0.0, 2)
    for bad in (True, "2", None, [2], 2j):
        with pytest.raises(TypeError, match="lp_pool2d: norm_type must be an int or a float"):
            fn(x, bad, 2)
    for dt in (np.int64, np.int32, np.uint8, np.bool_, np.complex64):
        with pytest.raises(TypeError, match=rf"lp_pool2d: input has unsupported dtype "
                                            rf"{np.dtype(dt)}; expected float16"):
            fn(x.astype(dt), 2, 2)
    with pytest.raises(ValueError, match="lp_pool2d: kernel_size should be greater than zero"):
        fn(x, 2, 0)
    with pytest.raises(ValueError, match="lp_pool2d: stride should be greater than zero"):
        fn(x, 2, 2, 0)
    with pytest.raises(ValueError, match="lp_pool2d: .*Output size is too small"):
        fn(x, 2, 5)
    with pytest.raises(ValueError, match="lp_pool2d: data_format must be 'NCHW' or 'NHWC'"):
        fn(x, 2, 2, data_format="NCL")
    with pytest.raises(ValueError, match=r"lp_pool2d: expected a 3D \(C, H, W\) or 4D"):
        fn(x[0, 0], 2, 2)
    with pytest.raises(TypeError, match="lp_pool2d: ceil_mode must be a bool"):
        fn(x, 2, 2, ceil_mode=1)


def test_refusals_follow_pytorch():
    torch = _torch()
    # PyTorch's own failure for p = 0 (worded in ours)
    with pytest.raises(ZeroDivisionError, match="float division by zero"):
        torch.nn.functional.lp_pool2d(torch.ones(1, 1, 4, 4), 0, 2)
    # lp_pool3d with a finite p is avg_pool3d: the kernel must fit, padding or
    # not; with +-inf it is max_pool3d, which pools with ceil_mode
    x = np.ones((1, 1, 2, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"lp_pool3d: input image \(T: 2 H: 4 W: 4\) smaller "
                                         r"than kernel size \(kT: 3 kH: 3 kW: 3\)"):
        pooling.lp_pool3d(x, 2, 3, 2, True)
    with pytest.raises(RuntimeError, match="smaller than kernel size"):
        torch.nn.functional.lp_pool3d(torch.from_numpy(x), 2, 3, 2, True)
    ty = torch.nn.functional.lp_pool3d(torch.from_numpy(x), math.inf, 3, 2, True).numpy()
    assert same_bits(pooling.lp_pool3d(x, math.inf, 3, 2, True), ty)


def test_backward_refusals():
    x = np.ones((1, 1, 4, 4), np.float32)
    g = np.ones((1, 1, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"lp_pool2d_backward: grad_output of shape \(1, 1, 3, "
                                         r"3\) does not match"):
        pooling.lp_pool2d_backward(np.ones((1, 1, 3, 3), np.float32), x, 2, 2)
    with pytest.raises(TypeError, match="lp_pool2d_backward: grad_output has dtype float64, "
                                        "but input has dtype float32"):
        pooling.lp_pool2d_backward(g.astype(np.float64), x, 2, 2)
    with pytest.raises(ValueError, match="lp_pool2d_backward: norm_type must be non-zero"):
        pooling.lp_pool2d_backward(g, x, 0, 2)
    with pytest.raises(ValueError, match="lp_pool2d_backward: out shares memory with "
                                         "grad_output"):
        big = np.ones((1, 1, 4, 4), np.float32)
        pooling.lp_pool2d_backward(big[:, :, :2, :2], x, 2, 2, out=big)

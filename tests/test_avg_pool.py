"""avg_pool1d/2d/3d, adaptive_avg_pool1d/2d/3d and their backwards.

The compiled core has kernels for avg_pool's forward and backward (avg3d,
avg_backward3d) and for adaptive average pooling (adaptive_avg3d,
adaptive_avg_backward3d; checked against the reference on every path in
test_adaptive_avg.py).  The avg kernel is checked against the reference on every path it has
(test_avg_kernel_paths), and the reference against PyTorch 2.13 bit for bit (NaN-aware, on the bits): values, gradients
through autograd and through the aten backward ops, on random cases
(hypothesis: shapes, kernel, stride, padding, ceil_mode, count_include_pad,
divisor_override, float16/32/64 and int64, NaN and +-inf, unbatched, memory
layouts, both data_formats) and on PyTorch's OpInfo sample inputs.

Two PyTorch paths sum in other orders, so there we assert only nearness,
as issue #12 allows: adaptive average pooling to an all-ones output size
(F.adaptive_avg_pool* call ``mean``, a cascade sum; the aten kernel itself,
which we match bit for bit, is not used) and PyTorch's channels-last
adaptive kernel (vector lanes divide once by kh*kw).  Within 2 ulp holds for
data whose sums are exact (small integers); on general data the cascade sum
differs from the sequential one by summation error, which cancellation can
make many ulp, so there we bound the difference by that error.
Refusals and out= are at the end."""
import itertools
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import _api, reference
from pooling._core import backend as _backend

from strategies import (conformance_values, axis_and_output, more_examples, outcome,
                        with_layout)

AVG_DTYPES = [np.float16, np.float32, np.float64, np.int64]
FLOATS = [np.float16, np.float32, np.float64]
FIRST = {1: "NCL", 2: "NCHW", 3: "NCDHW"}
LAST = {1: "NLC", 2: "NHWC", 3: "NDHWC"}


def same_bits(a, b):
    """Equal dtype, shape and bits (-0.0 != 0.0), NaN where NaN.  A NaN's
    sign and payload are not compared: where two NaNs meet in a sum (a NaN
    input and inf + -inf, say), which one survives depends on the operand
    order the compiler picks for a commutative addition (PyTorch's own
    vectorised and scalar loops differ there too)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        nan = np.isnan(a)
        return (np.array_equal(nan, np.isnan(b))
                and np.array_equal(a[~nan].view(f"u{a.itemsize}"),
                                   b[~nan].view(f"u{b.itemsize}")))
    return np.array_equal(a, b)


def ulps(a, b):
    """Distance in units in the last place, elementwise (NaNs must agree)."""
    a, b = np.asarray(a), np.asarray(b)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(a)
    i = f"i{a.itemsize}"

    def ordered(v):
        v = v[ok].view(i).astype(np.int64)
        return np.where(v < 0, np.iinfo(i).min - v, v)
    return np.abs(ordered(a) - ordered(b))


def to_channels_last(a, nd):
    return np.moveaxis(a, a.ndim - nd - 1, -1)


def to_channels_first(a, nd):
    return np.moveaxis(a, -1, a.ndim - nd - 1)


def values(rng, shape, dtype, kind):
    """Small integers with NaN and +-inf (many exact sums), or spread-out
    values whose sums round."""
    if np.dtype(dtype).kind == "i":
        x = rng.integers(-1000, 1000, size=shape)
        return x.astype(np.int64)
    if kind == "ints":
        return conformance_values(shape, dtype, rng)
    x = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, size=shape)
    return x.astype(dtype)


# ---- PyTorch --------------------------------------------------------------

def _torch():
    return pytest.importorskip("torch")


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def torch_avg(x, k, s, p, ceil, cip, div, g=None):
    """PyTorch's (y, autograd gradient or None, aten backward or None) for
    channels-first x; 1-D through avg_pool2d on an unsqueezed input, as
    F.avg_pool1d does (it lacks divisor_override)."""
    torch = _torch()
    nd = len(k)
    t = torch.from_numpy(x.copy())
    floating = t.is_floating_point()
    if floating and g is not None:
        t.requires_grad_(True)
    if nd == 1:
        k, s, p = (1,) + k, (1,) + s, (0,) + p
    ti = t.unsqueeze(-2) if nd == 1 else t
    op = torch.nn.functional.avg_pool3d if nd == 3 else torch.nn.functional.avg_pool2d
    y = op(ti, k, s, p, ceil, cip, div)
    grad = aten = None
    if g is not None:
        tg = torch.from_numpy(g.copy())
        tg = tg.unsqueeze(-2) if nd == 1 else tg
        back = (torch.ops.aten.avg_pool3d_backward if nd == 3 else
                torch.ops.aten.avg_pool2d_backward)
        aten = back(tg, ti.detach(), list(k), list(s), list(p), ceil, cip, div)
        aten = (aten.squeeze(-2) if nd == 1 else aten).numpy()
        if floating:
            y.backward(tg)
            grad = t.grad.numpy()
    y = y.detach()
    return (y.squeeze(-2) if nd == 1 else y).numpy(), grad, aten


def torch_refuses(x, k, s, p, ceil, cip, div) -> bool:
    torch = _torch()
    try:
        torch_avg(x, k, s, p, ceil, cip, div)
    except (RuntimeError, NotImplementedError):
        return True
    return False


@st.composite
def avg_case(draw, nd=None):
    nd = draw(st.sampled_from([1, 2, 3])) if nd is None else nd
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    p = tuple(draw(st.integers(0, ki // 2)) for ki in k)
    # (avg_pool3d needs the kernel to fit; 1-D and 2-D inputs may be too
    # small for it, which both refuse)
    spatial = tuple(draw(st.integers(ki if nd == 3 else 1, ki + 7)) for ki in k)
    lead = draw(st.sampled_from([(2, 3), (1, 1), (3,), (1, 5)]))
    return dict(nd=nd, k=k, s=s, p=p, ceil=draw(st.booleans()), cip=draw(st.booleans()),
                div=draw(st.sampled_from([None, None, 1, 2, 3, -2, 7, 50])),
                shape=lead + spatial)


def pool_kwargs(c):
    """The user-facing spelling of a case: ints where all axes agree, and
    stride None where it equals the kernel."""
    def short(t):
        return t[0] if len(set(t)) == 1 else t
    return dict(kernel_size=short(c["k"]), stride=None if c["s"] == c["k"] else c["s"],
                padding=short(c["p"]), ceil_mode=c["ceil"], count_include_pad=c["cip"],
                divisor_override=c["div"])


@more_examples(1.5)
@given(c=avg_case(), dtype=st.sampled_from(AVG_DTYPES), kind=st.sampled_from(["ints", "spread"]),
       seed=st.integers(0, 2**32 - 1))
def test_avg_pool_matches_pytorch(c, dtype, kind, seed):
    _torch()
    nd = c["nd"]
    if nd == 3 and dtype == np.float16:
        dtype = np.float32  # PyTorch has no float16 avg_pool3d (see the test below)
    rng = np.random.default_rng(seed)
    x = values(rng, c["shape"], dtype, kind)
    kw = pool_kwargs(c)
    fn = getattr(reference, f"avg_pool{nd}d")
    y, err = outcome(fn, x, **kw)
    if err:
        assert torch_refuses(x, c["k"], c["s"], c["p"], c["ceil"], c["cip"], c["div"]), err
        return
    g = values(rng, y.shape, dtype, "spread")
    ty, tgrad, taten = torch_avg(x, c["k"], c["s"], c["p"], c["ceil"], c["cip"], c["div"], g)
    assert same_bits(y, ty)
    gi = getattr(reference, f"avg_pool{nd}d_backward")(g, x.shape, **kw)
    assert same_bits(gi, taten)
    if tgrad is not None:
        assert same_bits(gi, tgrad)
    # the public function (the compiled kernel on the cython backend)
    assert same_bits(getattr(pooling, f"avg_pool{nd}d")(x, **kw), y)
    assert same_bits(getattr(pooling, f"avg_pool{nd}d_backward")(g, x.shape, **kw), gi)


@given(c=avg_case(), dtype=st.sampled_from(AVG_DTYPES),
       layout=st.sampled_from(["contiguous", "fortran", "strided", "flipped", "channels_last",
                               "readonly"]),
       seed=st.integers(0, 2**32 - 1))
def test_avg_pool_layouts_and_channels_last(c, dtype, layout, seed):
    # Any strides give the same bits; data_format="N...C" gives the
    # channels-first results transposed, forward and backward.
    nd = c["nd"]
    rng = np.random.default_rng(seed)
    x = values(rng, c["shape"], dtype, "ints")
    kw = pool_kwargs(c)
    fn = getattr(pooling, f"avg_pool{nd}d")
    y, err = outcome(fn, x, **kw)
    if err:
        last = to_channels_last(x, nd)
        assert outcome(fn, last, data_format=LAST[nd], **kw)[1] == (err[0], err[1])
        return
    before = x.copy()
    assert same_bits(fn(with_layout(x, layout, nd), **kw), y)
    xl = with_layout(to_channels_last(x, nd), layout, nd, LAST[nd])
    yl = fn(xl, data_format=LAST[nd], **kw)
    assert same_bits(to_channels_first(yl, nd), y)
    g = values(rng, y.shape, dtype, "spread")
    back = getattr(pooling, f"avg_pool{nd}d_backward")
    gi = back(g, x.shape, **kw)
    gl = back(to_channels_last(g, nd), to_channels_last(x, nd).shape, data_format=LAST[nd],
              **kw)
    assert same_bits(to_channels_first(gl, nd), gi)
    assert same_bits(back(with_layout(g, layout, nd), x.shape, **kw), gi)
    assert same_bits(x, before)


@given(c=avg_case(), dtype=st.sampled_from([np.float32, np.float64, np.int64]),
       seed=st.integers(0, 2**32 - 1))
def test_avg_pool_pytorch_channels_last_tensors(c, dtype, seed):
    # PyTorch's channels-last kernels give the same values (and gradients),
    # except that their forward keeps a -0.0 average (negative
    # divisor_override, underflow) that its channels-first kernel, and
    # pooling in either layout, returns as +0.0; and that where two NaNs
    # meet, its vector lanes keep the later one's bits (its channels-first
    # kernel, pooling and its tail lanes the earlier one's): NaN bits are
    # not compared here.
    torch = _torch()
    nd = c["nd"]
    if nd == 1 or len(c["shape"]) != nd + 2:
        return  # channels_last memory exists for 4-D and 5-D tensors only
    rng = np.random.default_rng(seed)
    x = values(rng, c["shape"], dtype, "ints")
    kw = pool_kwargs(c)
    y, err = outcome(getattr(pooling, f"avg_pool{nd}d"), to_channels_last(x, nd),
                     data_format=LAST[nd], **kw)
    if err:
        return
    fmt = torch.channels_last if nd == 2 else torch.channels_last_3d
    t = torch.from_numpy(x.copy()).to(memory_format=fmt)
    op = getattr(torch.nn.functional, f"avg_pool{nd}d")
    ty = op(t, c["k"], c["s"], c["p"], c["ceil"], c["cip"], c["div"])
    ty = to_channels_last(ty.contiguous().numpy(), nd)
    assert np.array_equal(y, ty, equal_nan=dtype != np.int64)
    zero = (ty == 0) | np.isnan(ty) if dtype != np.int64 else np.zeros(ty.shape, bool)
    assert same_bits(y[~zero], ty[~zero])
    assert not np.signbit(y[ty == 0]).any()
    g = values(rng, y.shape, dtype, "spread")
    back = getattr(torch.ops.aten, f"avg_pool{nd}d_backward")
    tg = back(torch.from_numpy(to_channels_first(g, nd).copy()).to(memory_format=fmt), t,
              list(c["k"]), list(c["s"]), list(c["p"]), c["ceil"], c["cip"], c["div"])
    gi = getattr(pooling, f"avg_pool{nd}d_backward")(g, to_channels_last(x, nd).shape,
                                                     data_format=LAST[nd], **kw)
    assert same_bits(gi, to_channels_last(tg.contiguous().numpy(), nd))


def test_pytorch_channels_last_keeps_negative_zero():
    torch = _torch()
    t = torch.zeros(1, 1, 2, 2).to(memory_format=torch.channels_last)
    ty = torch.nn.functional.avg_pool2d(t, 2, divisor_override=-1)
    assert np.signbit(ty.numpy()).all()  # the difference documented above
    y = pooling.avg_pool2d(np.zeros((1, 2, 2, 1), np.float32), 2, divisor_override=-1,
                           data_format="NHWC")
    assert not np.signbit(y).any()


@given(c=avg_case(nd=3), kind=st.sampled_from(["ints", "spread"]),
       seed=st.integers(0, 2**32 - 1))
def test_avg_pool3d_float16_as_float32(c, kind, seed):
    # PyTorch 2.13 has no float16 avg_pool3d on the CPU; pooling computes it
    # as its float16 avg_pool2d does: float32 sums, one division, rounded.
    rng = np.random.default_rng(seed)
    x = values(rng, c["shape"], np.float16, kind)
    kw = pool_kwargs(c)
    y, err = outcome(pooling.avg_pool3d, x, **kw)
    if err:
        return
    want = pooling.avg_pool3d(x.astype(np.float32), **kw).astype(np.float16) + np.float16(0)
    assert same_bits(y, want)


# PyTorch's OpInfo sample inputs (common_methods_invocations: sample_inputs_avgpool1d/2d/3d),
# as (input shape, kernel_size, keyword arguments).
OPINFO_AVG = [
    ((2, 3, 9), (3,), {}),
    ((1, 3, 9), 3, dict(stride=1, padding=1, ceil_mode=True, count_include_pad=False)),
    ((1, 3, 9), (6,), dict(stride=(3,), padding=(2,), ceil_mode=True, count_include_pad=True)),
    ((2, 3, 9), (3,), dict(stride=(1,), padding=(1,), ceil_mode=False, count_include_pad=True)),
    ((0, 3, 9), (6,), dict(stride=(3,), padding=(2,), ceil_mode=False, count_include_pad=True)),
    ((1, 2, 9), (7,), dict(stride=(3,), padding=(2,), ceil_mode=False)),
    ((1, 2, 9), (7,), dict(stride=(3,), padding=(3,), ceil_mode=True)),
    ((1, 2, 9), (7,), dict(stride=(3,), ceil_mode=False)),
    ((1, 2, 9), (7,), dict(stride=(3,), ceil_mode=True)),
    ((1, 3, 9, 9), 3, dict(stride=1, padding=1, ceil_mode=True, count_include_pad=False,
                           divisor_override=2)),
    ((1, 3, 9, 9), (4, 4), dict(stride=(2, 3), padding=1, ceil_mode=True,
                                count_include_pad=False, divisor_override=2)),
    ((1, 3, 9, 9), (6, 6), dict(stride=(3, 3), padding=(2, 3), ceil_mode=True,
                                count_include_pad=True, divisor_override=2)),
    ((2, 3, 9, 9), (3, 3), dict(stride=(1, 1), padding=(1,), ceil_mode=True,
                                count_include_pad=False, divisor_override=2)),
    ((1, 1, 4, 4), (2, 2), dict(stride=(), padding=(0,), ceil_mode=False,
                                count_include_pad=True, divisor_override=-2)),
    ((1, 2, 6, 6), (4, 4), dict(stride=(2, 2), padding=(2,), ceil_mode=True,
                                count_include_pad=True, divisor_override=None)),
    ((1, 3, 9, 9), (3, 3), dict(stride=3)),
    ((2, 3, 3, 4, 4), (2, 2, 2), {}),
    ((1, 2, 4, 4, 4), 2, dict(stride=1, padding=1, ceil_mode=True, count_include_pad=False,
                              divisor_override=2)),
    ((1, 2, 5, 5, 5), (2, 3, 4), dict(stride=(1, 2, 2), padding=(0, 1, 2), ceil_mode=True,
                                      count_include_pad=True, divisor_override=2)),
    ((1, 2, 5, 5, 5), (2, 3, 4), dict(stride=(1, 2, 2), padding=(0, 1, 2), ceil_mode=False)),
    ((1, 1, 7, 5, 7), (6, 3, 4), dict(stride=(2, 3, 2), padding=(3, 1, 0), ceil_mode=False,
                                      count_include_pad=False, divisor_override=2)),
    ((1, 1, 4, 5, 4), (2, 2, 3), dict(stride=(2, 2, 1), padding=0, ceil_mode=False,
                                      count_include_pad=True, divisor_override=-2)),
    ((1, 1, 6, 5, 6), (4, 5, 6), dict(stride=(2, 3, 2), padding=2, ceil_mode=True,
                                      count_include_pad=True, divisor_override=None)),
    ((0, 1, 4, 5, 4), (2, 3, 1), dict(stride=(2, 1, 2), padding=0, ceil_mode=False,
                                      count_include_pad=True, divisor_override=None)),
]


def _as_tuple(v, nd):
    if isinstance(v, tuple) and len(v) == nd:
        return v
    if isinstance(v, tuple):
        v = v[0]
    return (v,) * nd


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
@pytest.mark.parametrize("case", OPINFO_AVG, ids=lambda c: f"{c[0]}-{c[1]}")
def test_pytorch_opinfo_samples(case, dtype):
    _torch()
    shape, kernel, kw = case
    nd = len(shape) - 2
    if nd == 3 and dtype == np.float16:
        pytest.skip("PyTorch has no float16 avg_pool3d")
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    for data in ("ints", "spread"):
        x = values(rng, shape, dtype, data)
        for unbatched in (False, True):
            xi = x[0] if unbatched and shape[0] else x
            args = dict(kw, kernel_size=kernel)
            k = _as_tuple(kernel, nd)
            s = kw.get("stride")
            s = k if s in (None, ()) else _as_tuple(s, nd)
            p = _as_tuple(kw.get("padding", 0), nd)
            y = getattr(pooling, f"avg_pool{nd}d")(xi, **args)
            g = values(rng, y.shape, dtype, "spread")
            ty, tg, ta = torch_avg(xi, k, s, p, kw.get("ceil_mode", False),
                                   kw.get("count_include_pad", True),
                                   kw.get("divisor_override"), g)
            assert same_bits(y, ty)
            gi = getattr(pooling, f"avg_pool{nd}d_backward")(g, xi.shape, **args)
            assert same_bits(gi, ta)
            if tg is not None:
                assert same_bits(gi, tg)


# A max-pooling-style grid over PyTorch's own shapes.
GRID_SHAPES = [(1, 2, 3, 6), (1, 2, 6, 6), (2, 2, 3, 6), (2, 2, 6, 6), (2, 3, 6), (2, 6, 6),
               (2, 3, 7, 9), (1, 1, 1, 5)]
GRID = list(itertools.product([3, (3, 2), 2], [2, None, (2, 1)], [True, False],
                              [0, 1, (1, 1)], [True, False], [None, 2, -3]))


@pytest.mark.parametrize("shape", GRID_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pytorch_grid(shape, dtype):
    _torch()
    rng = np.random.default_rng(zlib.crc32(repr((shape, np.dtype(dtype).name)).encode()))
    for k, s, ceil, p, cip, div in GRID:
        kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip,
                  divisor_override=div)
        x = values(rng, shape, dtype, "ints")
        y, err = outcome(pooling.avg_pool2d, x, **kw)
        kt, pt = _as_tuple(k, 2), _as_tuple(p, 2)
        st_ = kt if s is None else _as_tuple(s, 2)
        if err:
            assert torch_refuses(x, kt, st_, pt, ceil, cip, div), (kw, err)
            continue
        g = values(rng, y.shape, dtype, "spread")
        ty, tg, ta = torch_avg(x, kt, st_, pt, ceil, cip, div, g)
        assert same_bits(y, ty), kw
        gi = pooling.avg_pool2d_backward(g, x.shape, **kw)
        assert same_bits(gi, tg) and same_bits(gi, ta), kw


def test_known_answers():
    # Sequential float32 sums: 2**24 + 1 stays 2**24 at each step (ties to
    # even); NumPy's pairwise np.mean keeps some of the ones.
    x = np.array([[[2.0**24] + [1.0] * 15]], np.float32)
    assert pooling.avg_pool1d(x, 16)[0, 0, 0] == np.float32(2.0**20)
    assert np.mean(x, dtype=np.float32) != np.float32(2.0**20)
    # int64: integer sum, division truncating toward zero (C's, not floor)
    xi = np.array([[[[-7, -6], [-3, -2]]]], np.int64)
    assert pooling.avg_pool2d(xi, 2).item() == -4
    assert pooling.avg_pool2d(xi, 2, divisor_override=-5).item() == 3
    # an average of -0.0 is +0.0 (added into a zeroed output, as PyTorch)
    z = np.zeros((1, 1, 2, 2), np.float32)
    y = pooling.avg_pool2d(z, 2, divisor_override=-1)
    assert y.view(np.uint32).item() == 0
    # count_include_pad: corners of a 3x3/s1/p1 pool of ones are 4/9 or 1
    ones = np.ones((1, 1, 3, 3), np.float64)
    assert pooling.avg_pool2d(ones, 3, 1, 1)[0, 0, 0, 0] == 4 / 9
    assert pooling.avg_pool2d(ones, 3, 1, 1, count_include_pad=False)[0, 0, 0, 0] == 1
    # ceil_mode: the window hanging past the padded input is not counted
    y = pooling.avg_pool1d(np.ones((1, 1, 5), np.float32), 2, 2, ceil_mode=True)
    assert y.tolist() == [[[1.0, 1.0, 1.0]]]
    # float16 gradients: divisor and quotient rounded to float16, then
    # every addition rounded (2048 + 1 = 2048)
    g = np.array([[[[2048, 1]]]], np.float16)
    gi = pooling.avg_pool2d_backward(g, (1, 1, 1, 3), (1, 2), 1, divisor_override=1)
    assert gi.tolist() == [[[[2048, 2048, 1]]]]
    # adaptive: sum / kh / kw, not sum / (kh * kw)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 3, 7)).astype(np.float32)
    s = np.float32(0)
    for v in x.ravel():
        s = np.float32(s + v)
    assert pooling.adaptive_avg_pool2d(x, 1).item() == s / np.float32(3) / np.float32(7)


# ---- adaptive average pooling ---------------------------------------------

def torch_adaptive(x, out, g=None, kernel=True):
    """PyTorch's (y, gradient): through the aten kernels (``kernel``, as our
    arithmetic) or through F.adaptive_avg_pool* with autograd."""
    torch = _torch()
    nd = len(out)
    t = torch.from_numpy(x.copy())
    A = torch.ops.aten
    if kernel:
        ti = t.unsqueeze(-2) if nd == 1 else t
        o = (1,) + tuple(out) if nd == 1 else tuple(out)
        fwd = A._adaptive_avg_pool3d if nd == 3 else A._adaptive_avg_pool2d
        y = fwd(ti, o)
        grad = None
        if g is not None:
            tg = torch.from_numpy(g.copy())
            tg = tg.unsqueeze(-2) if nd == 1 else tg
            back = (A._adaptive_avg_pool3d_backward if nd == 3 else
                    A._adaptive_avg_pool2d_backward)
            grad = back(tg, ti)
            grad = (grad.squeeze(-2) if nd == 1 else grad).numpy()
        return (y.squeeze(-2) if nd == 1 else y).numpy(), grad
    t.requires_grad_(True)
    y = getattr(torch.nn.functional, f"adaptive_avg_pool{nd}d")(t, tuple(out))
    grad = None
    if g is not None:
        y.backward(torch.from_numpy(g.copy()))
        grad = t.grad.numpy()
    return y.detach().numpy(), grad


@st.composite
def adaptive_case(draw):
    nd = draw(st.sampled_from([1, 2, 3]))
    spatial = tuple(draw(st.integers(1, 9)) for _ in range(nd))
    out = tuple(draw(axis_and_output(n)) for n in spatial)
    lead = draw(st.sampled_from([(2, 3), (1, 1), (3,), (1, 4)]))
    return nd, lead + spatial, out


@more_examples(1.5)
@given(case=adaptive_case(), dtype=st.sampled_from(FLOATS),
       kind=st.sampled_from(["ints", "spread"]), nones=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_adaptive_matches_pytorch_kernels(case, dtype, kind, nones, seed):
    # Bit for bit against aten._adaptive_avg_pool{2,3}d and its backward
    # (every output size, all ones included), and against F.adaptive_avg_pool*
    # with autograd wherever that calls the same kernel.
    _torch()
    nd, shape, out = case
    rng = np.random.default_rng(seed)
    x = values(rng, shape, dtype, kind)
    spatial = shape[-nd:]
    arg = tuple(None if nones and o == n else o for o, n in zip(out, spatial))
    y = getattr(reference, f"adaptive_avg_pool{nd}d")(x, arg)
    g = values(rng, y.shape, dtype, "spread")
    ty, tg = torch_adaptive(x, out, g)
    assert same_bits(y, ty)
    gi = getattr(reference, f"adaptive_avg_pool{nd}d_backward")(g, x.shape)
    assert same_bits(gi, tg)
    assert same_bits(getattr(pooling, f"adaptive_avg_pool{nd}d")(x, arg), y)
    assert same_bits(getattr(pooling, f"adaptive_avg_pool{nd}d_backward")(g, x.shape), gi)
    if set(out) != {1}:
        fy, fg = torch_adaptive(x, out, g, kernel=False)
        assert same_bits(y, fy) and same_bits(gi, fg)


@given(case=adaptive_case(), dtype=st.sampled_from(FLOATS), seed=st.integers(0, 2**32 - 1))
def test_adaptive_all_ones_output_near_pytorch_mean(case, dtype, seed):
    # F.adaptive_avg_pool* to an all-ones size calls mean(): a cascade sum
    # divided once.  Issue #12 allows 2 ulp there: on small-integer data
    # (exact sums) only the division differs, within 2 ulp.  On spread-out
    # data the summation orders differ by at most their error bound.
    _torch()
    nd, shape, _ = case
    out = (1,) * nd
    rng = np.random.default_rng(seed)
    x = values(rng, shape, dtype, "ints")
    x[~np.isfinite(x)] = 1
    y = getattr(pooling, f"adaptive_avg_pool{nd}d")(x, 1)
    g = values(rng, y.shape, dtype, "spread")
    fy, fg = torch_adaptive(x, out, g, kernel=False)
    assert ulps(y, fy).max(initial=0) <= 2
    gi = getattr(pooling, f"adaptive_avg_pool{nd}d_backward")(g, x.shape)
    assert ulps(gi, fg).max(initial=0) <= 2
    xs = values(rng, shape, dtype, "spread")
    ys = getattr(pooling, f"adaptive_avg_pool{nd}d")(xs, 1)
    fys, _ = torch_adaptive(xs, out, None, kernel=False)
    n = int(np.prod(shape[-nd:]))
    # (the float16 sums are float32, but float16 in PyTorch's 3-D kernel)
    acc = np.float32 if dtype == np.float16 and nd < 3 else dtype
    mean_abs = np.abs(xs.astype(np.float64)).mean(axis=tuple(range(-nd, 0)), keepdims=True)
    bound = 2 * n * np.finfo(acc).eps * mean_abs + 2 * np.spacing(np.abs(fys)).astype(np.float64)
    assert (np.abs(ys.astype(np.float64) - fys.astype(np.float64)) <= bound).all()


@given(case=adaptive_case(), dtype=st.sampled_from([np.float32, np.float64]),
       kind=st.sampled_from(["ints", "spread"]), seed=st.integers(0, 2**32 - 1))
def test_adaptive_near_pytorch_channels_last(case, dtype, kind, seed):
    # PyTorch's channels_last kernel sums in the same order but divides its
    # vector lanes once by kh*kw: within 2 ulp of ours (issue #12).  Ours,
    # with data_format="N...C", is the channels-first result transposed.
    torch = _torch()
    nd, shape, out = case
    if nd == 1 or len(shape) != nd + 2 or set(out) == {1}:
        return  # PyTorch has channels_last memory for 4-D and 5-D tensors only
    rng = np.random.default_rng(seed)
    x = values(rng, shape, dtype, kind)
    fmt = torch.channels_last if nd == 2 else torch.channels_last_3d
    t = torch.from_numpy(x.copy()).to(memory_format=fmt)
    ty = getattr(torch.nn.functional, f"adaptive_avg_pool{nd}d")(t, out).contiguous().numpy()
    y = getattr(pooling, f"adaptive_avg_pool{nd}d")(to_channels_last(x, nd), out,
                                                     data_format=LAST[nd])
    y = to_channels_first(y, nd)
    assert same_bits(y, getattr(pooling, f"adaptive_avg_pool{nd}d")(x, out))
    assert ulps(y, ty).max(initial=0) <= 2


@given(case=adaptive_case(), dtype=st.sampled_from(FLOATS),
       layout=st.sampled_from(["contiguous", "fortran", "strided", "flipped", "channels_last",
                               "readonly"]),
       seed=st.integers(0, 2**32 - 1))
def test_adaptive_layouts_and_channels_last(case, dtype, layout, seed):
    nd, shape, out = case
    rng = np.random.default_rng(seed)
    x = values(rng, shape, dtype, "ints")
    fn = getattr(pooling, f"adaptive_avg_pool{nd}d")
    back = getattr(pooling, f"adaptive_avg_pool{nd}d_backward")
    y = fn(x, out)
    assert same_bits(fn(with_layout(x, layout, nd), out), y)
    yl = fn(with_layout(to_channels_last(x, nd), layout, nd, LAST[nd]), out,
            data_format=LAST[nd])
    assert same_bits(to_channels_first(yl, nd), y)
    g = values(rng, y.shape, dtype, "spread")
    gi = back(g, x.shape)
    gl = back(to_channels_last(g, nd), to_channels_last(x, nd).shape, data_format=LAST[nd])
    assert same_bits(to_channels_first(gl, nd), gi)
    assert same_bits(back(with_layout(g, layout, nd), x.shape), gi)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, out", [
    # PyTorch's OpInfo samples (sample_inputs_adaptive_avg_pool1d/2d/3d)
    ((0, 8, 8), (5,)), ((3, 8, 8), 5), ((3, 8, 8), 1),
    ((1, 8, 8, 8), (5, 7)), ((2, 8, 8, 8), (None, 7)), ((1, 8, 4, 3), (5, None)),
    ((1, 8, 4, 3), (None, None)), ((1, 8, 4, 3), 5),
    ((0, 8, 8, 8, 8), (5, 7, 4)), ((1, 8, 4, 3, 7), (None, None, None)),
    ((1, 8, 4, 3, 7), (1, 1, 1)), ((3, 3, 8, 8, 6), (5, 7, None)),
    ((1, 3, 8, 8, 6), (5, None, 2)), ((3, 3, 8, 8, 6), (None, 3, 2)),
])
def test_adaptive_pytorch_opinfo_samples(shape, out, dtype):
    _torch()
    nd = len(shape) - 2
    rng = np.random.default_rng(zlib.crc32(repr((shape, out)).encode()))
    for kind in ("ints", "spread"):
        x = values(rng, shape, dtype, kind)
        for xi in (x, x[0]) if shape[0] else (x,):
            y = getattr(pooling, f"adaptive_avg_pool{nd}d")(xi, out)
            sizes = y.shape[-nd:]
            g = values(rng, y.shape, dtype, "spread")
            ty, tg = torch_adaptive(xi, sizes, g)
            assert same_bits(y, ty)
            assert same_bits(getattr(pooling, f"adaptive_avg_pool{nd}d_backward")(g, xi.shape),
                             tg)


def test_adaptive_zero_output_and_empty_batches():
    x = np.ones((2, 3, 4, 4), np.float32)
    y = pooling.adaptive_avg_pool2d(x, (0, 2))
    assert y.shape == (2, 3, 0, 2)
    assert pooling.adaptive_avg_pool2d_backward(y, x.shape).tolist() == np.zeros_like(x).tolist()
    assert pooling.adaptive_avg_pool2d(np.ones((0, 3, 4, 4), np.float32), 2).shape == (0, 3, 2, 2)
    assert pooling.avg_pool2d(np.ones((2, 0, 4, 4), np.float64), 2).shape == (2, 0, 2, 2)
    g = pooling.avg_pool2d_backward(np.ones((0, 3, 2, 2), np.float32), (0, 3, 4, 4), 2)
    assert g.shape == (0, 3, 4, 4)


# ---- backends -------------------------------------------------------------

def test_core_op_falls_back_to_the_reference_core(use_backend):
    # A core lacking one of these functions is served by the reference
    # core's; a core that has one (the compiled core has all four) is used.
    for name in ("avg3d", "avg_backward3d", "adaptive_avg3d", "adaptive_avg_backward3d"):
        for core in _backend._CORES.values():
            want = getattr(core, name, None) or getattr(reference._Core, name)
            assert _api.core_op(core, name) is want

    class Core:
        calls = []

        @staticmethod
        def avg3d(x5, params, out_dhw, channels_last=False, out=None):
            Core.calls.append(params)
            return reference._Core.avg3d(x5, params, out_dhw, channels_last, out)

    x = np.arange(16.0).reshape(1, 1, 4, 4)
    y = _api.avg_pool(Core, 2, x, 2)
    assert len(Core.calls) == 1 and Core.calls[0].pool.kernel_size == (1, 2, 2)
    assert same_bits(y, reference.avg_pool2d(x, 2))
    for name in _backend._CORES:
        use_backend(name)
        assert same_bits(pooling.avg_pool2d(x, 3, 1, 1), reference.avg_pool2d(x, 3, 1, 1))


# ---- refusals -------------------------------------------------------------

X = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
X3 = np.zeros((1, 1, 1, 8, 8), np.float32)

AVG_REFUSALS = [
    # (function, args, kwargs, exception, pattern)
    ("avg_pool2d", (X, (2, 2, 2)), {}, ValueError, r"kernel_size must either be a single int.*\(2, 2, 2\)"),
    ("avg_pool2d", (X, 2, (1, 2, 3)), {}, ValueError, r"stride must either be omitted"),
    ("avg_pool2d", (X, 0), {}, ValueError, r"kernel_size should be greater than zero, but got kernel_size=0"),
    ("avg_pool2d", (X, 2, 0), {}, ValueError, r"stride should be greater than zero, but got stride=0"),
    ("avg_pool2d", (X, 2, 1, -1), {}, ValueError, r"pad must be non-negative, but got padding=-1"),
    ("avg_pool2d", (X, 2, 1, 2), {}, ValueError, r"pad should be at most half of effective kernel size, but got padding=2, kernel_size=2"),
    ("avg_pool2d", (X, (3, 2), 1, (1, 2)), {}, ValueError, r"at most half of effective kernel size.*padding=\(1, 2\), kernel_size=\(3, 2\)"),
    ("avg_pool2d", (X, 2), {"divisor_override": 0}, ValueError, r"divisor must be not zero, but got divisor_override=0"),
    ("avg_pool2d", (X, 2), {"divisor_override": 2.5}, TypeError, r"divisor_override must be an int or None.*2.5 \(float\)"),
    ("avg_pool2d", (X, 2), {"divisor_override": True}, TypeError, r"divisor_override=True \(bool\)"),
    ("avg_pool2d", (X, 2), {"divisor_override": 2**63}, ValueError, r"divisor_override is out of range"),
    ("avg_pool2d", (X, 2), {"count_include_pad": 1}, TypeError, r"count_include_pad must be a bool, but got count_include_pad=1"),
    ("avg_pool2d", (X, 2), {"ceil_mode": None}, TypeError, r"ceil_mode must be a bool, but got ceil_mode=None"),
    ("avg_pool2d", (X, 2.0), {}, TypeError, r"kernel_size=2.0 \(float\)"),
    ("avg_pool2d", (X, 5), {}, ValueError, r"Given input size: \(1x4x4\). Calculated output size: \(1x0x0\). Output size is too small"),
    ("avg_pool2d", (X.astype(np.int32), 2), {}, TypeError, r"input has unsupported dtype int32; expected float16, float32, float64 or int64"),
    ("avg_pool2d", (X.astype(np.uint8), 2), {}, TypeError, r"unsupported dtype uint8"),
    ("avg_pool2d", (X.astype(bool), 2), {}, TypeError, r"unsupported dtype bool"),
    ("avg_pool2d", (X.astype(complex), 2), {}, TypeError, r"unsupported dtype complex128"),
    ("avg_pool2d", (X[0, 0, 0], 2), {}, ValueError, r"3D \(C, H, W\) or 4D \(N, C, H, W\) input, but got an array of shape \(4,\)"),
    ("avg_pool2d", (X, 2), {"data_format": "NCWH"}, ValueError, r"data_format must be 'NCHW' or 'NHWC'"),
    ("avg_pool1d", (X[0], 2, 1, 2), {}, ValueError, r"avg_pool1d: pad should be at most half"),
    ("avg_pool3d", (X3, 2), {}, ValueError, r"input image \(T: 1 H: 8 W: 8\) smaller than kernel size \(kT: 2 kH: 2 kW: 2\)"),
    ("avg_pool3d", (X3, 2, 1, 1), {}, ValueError, r"smaller than kernel size"),
    ("avg_pool3d", (X3, (1, 2, 2)), {"divisor_override": 0}, ValueError, r"divisor must be not zero"),
    ("avg_pool2d_backward", (np.zeros((1, 1, 3, 3), np.float32), X.shape, 2), {}, ValueError, r"grad_output of shape \(1, 1, 3, 3\) does not match the output of pooling an input of shape \(1, 1, 4, 4\), whose spatial size is \(2, 2\)"),
    ("avg_pool2d_backward", (np.zeros((1, 2, 2, 2), np.float32), X.shape, 2), {}, ValueError, r"input_shape \(1, 1, 4, 4\) is inconsistent with grad_output shape \(1, 2, 2, 2\)"),
    ("avg_pool2d_backward", (np.zeros((1, 1, 2, 2), np.int32), X.shape, 2), {}, TypeError, r"grad_output has unsupported dtype int32"),
    ("avg_pool2d_backward", (np.zeros((1, 1, 2, 2), np.float32), (1, 1, 4.0, 4), 2), {}, TypeError, r"input_shape must be a tuple of ints"),
    ("avg_pool2d_backward", (np.zeros((1, 1, 2, 2), np.float32), X.shape, 2), {"divisor_override": 0}, ValueError, r"divisor must be not zero"),
    ("avg_pool3d_backward", (np.zeros((1, 1, 1, 4, 4), np.float32), X3.shape, 2, 2, 1), {}, ValueError, r"input image \(T: 1 H: 8 W: 8\) smaller than kernel size"),
    ("adaptive_avg_pool2d", (X, (1, 2, 3)), {}, ValueError, r"output_size must be an int or a tuple of two ints.*\(1, 2, 3\)"),
    ("adaptive_avg_pool2d", (X, (-1, 2)), {}, ValueError, r"output_size must be non-negative"),
    ("adaptive_avg_pool2d", (X, 2.0), {}, TypeError, r"output_size=2.0"),
    ("adaptive_avg_pool2d", (X.astype(np.int64), 2), {}, TypeError, r"input has unsupported dtype int64; expected float16, float32 or float64"),
    ("adaptive_avg_pool2d", (X[0, 0], 2), {}, ValueError, r"3D \(C, H, W\) or 4D"),
    ("adaptive_avg_pool2d_backward", (np.zeros((1, 1, 2, 2), np.int64), X.shape), {}, TypeError, r"grad_output has unsupported dtype int64"),
    ("adaptive_avg_pool2d_backward", (np.zeros((2, 1, 2, 2), np.float32), X.shape), {}, ValueError, r"input_shape \(1, 1, 4, 4\) is inconsistent"),
    ("adaptive_avg_pool2d_backward", (np.zeros((1, 1, 2, 2), np.float32), (1, 1, 0, 4)), {}, ValueError, r"inconsistent"),
    ("adaptive_avg_pool3d", (X[0], 2), {}, ValueError, r"4D \(C, D, H, W\) or 5D"),
]


@pytest.mark.parametrize("fn, args, kwargs, exc, pattern", AVG_REFUSALS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(AVG_REFUSALS)])
def test_refusals(backend, fn, args, kwargs, exc, pattern):
    before = [a.copy() for a in args if isinstance(a, np.ndarray)]
    for module in (pooling, reference):
        with pytest.raises(exc, match=pattern) as info:
            getattr(module, fn)(*args, **kwargs)
        assert str(info.value).startswith(f"{fn}:")
    for a, b in zip([a for a in args if isinstance(a, np.ndarray)], before):
        assert same_bits(a, b)


def test_pytorch_refuses_alike():
    # The refusals PyTorch has (it raises RuntimeError or NotImplementedError).
    torch = _torch()
    F = torch.nn.functional
    t = torch.from_numpy(X)
    for call in (lambda: F.avg_pool2d(t, 2, 1, 2), lambda: F.avg_pool2d(t, 2, divisor_override=0),
                 lambda: F.avg_pool2d(t, 5), lambda: F.avg_pool2d(t.int(), 2),
                 lambda: F.avg_pool3d(torch.from_numpy(X3), 2, 1, 1),
                 lambda: F.adaptive_avg_pool2d(t.long(), 2),
                 lambda: torch.ops.aten.avg_pool2d_backward(t[..., :2, :2].int(), t.int(), [2, 2],
                                                            [2, 2], [0, 0], False, True, None)):
        with pytest.raises((RuntimeError, NotImplementedError)):
            call()
    # and accepts what we accept: int64 average pooling, forward and backward
    assert F.avg_pool2d(t.long(), 2).dtype == torch.int64


# ---- out= -----------------------------------------------------------------

def _calls(nd, dtype):
    """(name, args, kwargs) of each function, with a result of dtype."""
    rng = np.random.default_rng(nd)
    shape = (2, 3) + (5,) * nd
    x = values(rng, shape, dtype, "spread")
    y = getattr(reference, f"avg_pool{nd}d")(x, 3, 2, 1)
    ya = getattr(reference, f"adaptive_avg_pool{nd}d")(x, 3)
    return [(f"avg_pool{nd}d", (x, 3, 2, 1), {}),
            (f"avg_pool{nd}d_backward", (y, shape, 3, 2, 1), {}),
            (f"adaptive_avg_pool{nd}d", (x, 3), {}),
            (f"adaptive_avg_pool{nd}d_backward", (ya, shape), {})]


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("how", ["c", "fortran", "strided", "tuple"])
def test_out_written_and_returned(nd, dtype, how):
    for name, args, kw in _calls(nd, dtype):
        for module in (pooling, reference):
            want = getattr(module, name)(*args, **kw)
            if how == "c":
                out = np.full_like(want, 7)
            elif how == "fortran":
                out = np.asfortranarray(np.full_like(want, 7))
            else:
                out = np.full(tuple(2 * n for n in want.shape), 7, want.dtype)[
                    tuple(slice(None, None, 2) for _ in want.shape)]
            given = (out,) if how == "tuple" else out
            got = getattr(module, name)(*args, out=given, **kw)
            assert got is out
            assert same_bits(out, want), name


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_out_channels_last(nd):
    rng = np.random.default_rng(0)
    x = values(rng, (2,) + (6,) * nd + (3,), np.float32, "spread")
    for name, args in ((f"avg_pool{nd}d", (x, 2)), (f"adaptive_avg_pool{nd}d", (x, 4))):
        want = getattr(pooling, name)(*args, data_format=LAST[nd])
        out = np.empty_like(want)
        assert getattr(pooling, name)(*args, data_format=LAST[nd], out=out) is out
        assert same_bits(out, want)


def test_out_refusals():
    x = np.zeros((1, 1, 4, 4), np.float32)
    g = np.zeros((1, 1, 2, 2), np.float32)
    cases = [
        (lambda o: pooling.avg_pool2d(x, 2, out=o), np.zeros((1, 1, 2, 3), np.float32),
         ValueError, r"avg_pool2d: out has the wrong shape: expected \(1, 1, 2, 2\)"),
        (lambda o: pooling.avg_pool2d(x, 2, out=o), np.zeros((1, 1, 2, 2), np.float64),
         TypeError, r"out has the wrong dtype: expected float32"),
        (lambda o: pooling.avg_pool2d(x, 2, out=o), (g.copy(), g.copy()),
         ValueError, r"out must be an array or a tuple of one array"),
        (lambda o: pooling.avg_pool2d(x, 2, out=o), [g.copy()], TypeError,
         r"out must be a numpy.ndarray"),
        (lambda o: pooling.avg_pool2d(x, 1, out=o), x, ValueError,
         r"out shares memory with input"),
        (lambda o: pooling.avg_pool2d_backward(g, x.shape, 2, out=o),
         np.zeros((1, 1, 4, 4), np.int64), TypeError, r"avg_pool2d_backward: out has the wrong dtype"),
        (lambda o: pooling.adaptive_avg_pool2d(x, 2, out=o), np.zeros((1, 1, 3, 3), np.float32),
         ValueError, r"adaptive_avg_pool2d: out has the wrong shape"),
        (lambda o: pooling.adaptive_avg_pool2d_backward(g, x.shape, out=o), g,
         ValueError, r"adaptive_avg_pool2d_backward: out has the wrong shape"),
    ]
    ro = np.zeros((1, 1, 2, 2), np.float32)
    ro.setflags(write=False)
    cases.append((lambda o: pooling.avg_pool2d(x, 2, out=o), ro, ValueError, "read-only"))
    full = np.zeros((1, 1, 4, 4), np.float32)
    cases.append((lambda o: pooling.avg_pool2d_backward(full[..., :2, :2], x.shape, 2, out=o),
                  full, ValueError, "out shares memory with grad_output"))
    for call, out, exc, pattern in cases:
        before = out.copy() if isinstance(out, np.ndarray) else None
        with pytest.raises(exc, match=pattern):
            call(out)
        if before is not None:
            assert same_bits(out, before)  # a refused call writes nothing


def test_out_int64_and_empty():
    xi = np.arange(32, dtype=np.int64).reshape(2, 1, 4, 4) - 16
    out = np.empty((2, 1, 2, 2), np.int64)
    assert pooling.avg_pool2d(xi, 2, out=out) is out
    assert np.array_equal(out, reference.avg_pool2d(xi, 2))
    gout = np.full((0, 3, 4, 4), 5, np.float32)
    res = pooling.avg_pool2d_backward(np.zeros((0, 3, 2, 2), np.float32), gout.shape, 2, out=gout)
    assert res is gout


# ---- the compiled forward kernel --------------------------------------------

@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape, kw", [
    # contiguous rows, stride 1 and 2 (literal loops), borders clipped
    ((2, 40, 20, 33), dict(kernel_size=3, stride=1, padding=1)),
    ((2, 40, 21, 34), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((2, 40, 22, 35), dict(kernel_size=(2, 3), stride=(2, 3), ceil_mode=True)),
    # output rows longer than the accumulator chunk (512 columns)
    ((1, 3, 4, 1100), dict(kernel_size=(2, 2), stride=(1, 2), padding=(1, 1))),
    ((1, 2, 3, 1030), dict(kernel_size=3, stride=1, padding=1, divisor_override=5)),
])
@pytest.mark.parametrize("view", ["contiguous", "strided"])
def test_avg_kernel_paths(cython_backend, threads, dtype, shape, kw, view):
    # Each loop of the compiled avg3d and avg_backward3d against the
    # reference, bit for bit:
    # the stride-1 and stride-2 column loops on contiguous rows, the strided
    # one (every other column of a wider array), chunks of long rows, the
    # planes spread over threads (each case above 2**15 elements).
    rng = np.random.default_rng(zlib.crc32(repr((shape, kw, view)).encode()))
    wide = shape[:-1] + (2 * shape[-1],)
    x = values(rng, wide if view == "strided" else shape, dtype, "spread")
    if view == "strided":
        x = x[..., ::2]
    before = x.copy()
    pooling.set_num_threads(threads)
    try:
        got = pooling.avg_pool2d(x, **kw)
    finally:
        pooling.set_num_threads(0)
    assert same_bits(got, reference.avg_pool2d(x, **kw))
    assert same_bits(x, before)
    assert _api.core_op(_backend.core(), "avg3d") is not reference._Core.avg3d
    # The backward: float32 and float64 in the kernel (the others through
    # the reference's loops), from a strided gradient when the input was.
    g = values(rng, got.shape[:-1] + (2 * got.shape[-1],), dtype, "spread")
    g = g[..., ::2] if view == "strided" else np.ascontiguousarray(g[..., ::2])
    pooling.set_num_threads(threads)
    try:
        gi = pooling.avg_pool2d_backward(g, x.shape, **kw)
    finally:
        pooling.set_num_threads(0)
    assert same_bits(gi, reference.avg_pool2d_backward(g, x.shape, **kw))


def test_avg_kernel_int64_edges(cython_backend):
    # Integer division truncates toward zero, and INT64_MIN / -1 (which
    # traps in C) wraps to INT64_MIN, as NumPy's (and the reference's)
    # division has it.
    lo = np.iinfo(np.int64).min
    x = np.array([[[lo, 7, -7, 5]]], dtype=np.int64)
    for div in (-1, 2, -2, 3):
        kw = dict(kernel_size=1, divisor_override=div)
        want = reference.avg_pool1d(x, **kw)
        assert np.array_equal(pooling.avg_pool1d(x, **kw), want)
    assert pooling.avg_pool1d(x, 1, divisor_override=-1)[0, 0, 0] == lo
    assert pooling.avg_pool1d(x, 1, divisor_override=2)[0, 0].tolist() == [lo // 2, 3, -3, 2]


def test_avg_kernel_float16_underflow_to_plus_zero(cython_backend):
    # An average that becomes -0.0 only when rounded to float16 (here
    # -3.6e-7 / 50) comes out +0.0, as from PyTorch's zeroed output: the
    # kernel's float32 +0.0 cannot do it, the float16 result must.
    x = np.array([[[-3.5762786865234375e-07, -0.0, 1.0]]], dtype=np.float16)
    y = pooling.avg_pool1d(x, 1, divisor_override=50)
    assert same_bits(y, reference.avg_pool1d(x, 1, divisor_override=50))
    assert y.view(np.uint16)[0, 0, 0] == 0


def _with_specials(rng, x):
    """x (a fresh float array) with NaN, +-inf and -0.0 sprinkled in."""
    if x.dtype.kind == "f":
        flat = x.reshape(-1)
        for v in (np.nan, np.inf, -np.inf, -0.0):
            flat[rng.integers(0, flat.size, size=max(1, flat.size // 400))] = v
    return x


# (shape, channels first; keyword arguments): each reaches kernel paths the
# comment names, channels-first and channels-last.
KERNEL_CASES = [
    # 3x3/s1 interior (groups of 2 and 3 rows), border columns, tails
    ((2, 40, 9, 37), dict(kernel_size=3, stride=1, padding=1)),
    # 3-wide at stride 2, window rows 3 + 1 (Open/Keep, Carry/Finish)
    ((2, 40, 10, 38), dict(kernel_size=(4, 3), stride=2, padding=1, ceil_mode=True)),
    # 2-wide at stride 2, window rows 3 + 2 and clipped, real elements only
    ((2, 33, 11, 39), dict(kernel_size=(5, 2), stride=(1, 2), padding=(2, 1),
                           count_include_pad=False)),
    # 2x2 windows of one and two elements at the corners and edges
    ((1, 33, 6, 7), dict(kernel_size=2, padding=1)),
    # 2-wide at stride 1, an override
    ((1, 34, 7, 30), dict(kernel_size=2, stride=1, divisor_override=3)),
    # output rows over two accumulator chunks (512 columns)
    ((1, 3, 3, 1100), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1))),
    ((1, 2, 3, 1030), dict(kernel_size=3, stride=1, padding=1, divisor_override=-5)),
    # no literal loop (4 wide, stride 3)
    ((2, 35, 9, 14), dict(kernel_size=(3, 4), stride=(2, 3), padding=(1, 2))),
    # input rows no window reaches (stride 3 over one row), zeroed in the backward
    ((1, 4, 10, 13), dict(kernel_size=(1, 3), stride=(3, 1), padding=(0, 1))),
    # windows over 256 elements; channels-last chunks of channels
    ((1, 520, 18, 18), dict(kernel_size=17, stride=1)),
    # 3-D: 9 window rows (groups Open/Keep, Carry/Keep, Carry/Finish), deep backward
    ((1, 36, 5, 8, 21), dict(kernel_size=3, stride=(1, 2, 1), padding=1)),
    ((1, 34, 4, 7, 15), dict(kernel_size=(2, 1, 2), stride=(1, 3, 2), divisor_override=-4)),
    # one deep, depth slices skipped (stride 2): rows zeroed in between
    ((1, 33, 6, 6, 9), dict(kernel_size=(1, 2, 3), stride=(2, 2, 1), padding=(0, 1, 1))),
    # 1-D
    ((2, 40, 50), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
@pytest.mark.parametrize("layout", ["first", "last", "first, channels-last memory"])
@pytest.mark.parametrize("case", range(len(KERNEL_CASES)))
def test_avg_kernel_windows_and_layouts(cython_backend, case, layout, dtype):
    # The compiled loops on each window kind, group of window rows, border,
    # chunk and layout, against the reference bit for bit, NaN, +-inf and
    # -0.0 included; outputs keep the input's layout (channels-last data
    # gives channels-last outputs); every other case through out= (written
    # in place), and on two threads.
    shape, kw = KERNEL_CASES[case]
    nd = len(shape) - 2
    rng = np.random.default_rng(zlib.crc32(repr((case, layout, np.dtype(dtype).str)).encode()))
    x = _with_specials(rng, values(rng, shape, dtype, "spread"))
    fmt = FIRST[nd]
    if layout == "last":
        x, fmt = np.ascontiguousarray(to_channels_last(x, nd)), LAST[nd]
    elif layout != "first":
        x = to_channels_first(np.ascontiguousarray(to_channels_last(x, nd)), nd)
    kw = dict(kw, data_format=fmt)
    fwd, bwd = getattr(pooling, f"avg_pool{nd}d"), getattr(pooling, f"avg_pool{nd}d_backward")
    ref_fwd = getattr(reference, f"avg_pool{nd}d")
    ref_bwd = getattr(reference, f"avg_pool{nd}d_backward")
    before = x.copy()
    want = ref_fwd(x, **kw)
    pooling.set_num_threads(1 + case % 2)
    try:
        if case % 2:
            out = np.empty_like(want)
            got = fwd(x, **kw, out=out)
            assert got is out
        else:
            got = fwd(x, **kw)
            if layout != "first":   # channels-last data: channels-last outputs
                c_axis = -1 if layout == "last" else 1
                assert np.moveaxis(got, c_axis, -1).flags.c_contiguous
        assert same_bits(got, want)
        assert same_bits(x, before)
        g = _with_specials(rng, values(rng, want.shape, dtype, "spread"))
        gwant = ref_bwd(g, x.shape, **kw)
        if case % 2:
            gi = bwd(g, x.shape, **kw, out=np.full_like(gwant, 7))
        else:
            gi = bwd(g, x.shape, **kw)
        assert same_bits(gi, gwant)
    finally:
        pooling.set_num_threads(0)


# ---- channels-first planes in channels-last tiles (Design F2) ----------------
# 32 float32 planes at a time (float64: the plane loops), whole or in bands
# of rows (whose
# divisors count the plane's padding, not the band's), and the planes left
# over through the plane loops: the same bits as the reference.

@more_examples(1.5)
@given(c=avg_case(nd=2), planes=st.sampled_from([(1, 32), (2, 33), (1, 70), (3, 16)]),
       dtype=st.sampled_from([np.float32, np.float64]), kind=st.sampled_from(["ints", "spread"]),
       threads=st.sampled_from([1, 2]), seed=st.integers(0, 2**32 - 1))
def test_avg_tiles_match_reference(cython_backend, c, planes, dtype, kind, threads, seed):
    rng = np.random.default_rng(seed)
    x = values(rng, planes + c["shape"][-2:], dtype, kind)
    kw = pool_kwargs(c)
    want, err = outcome(reference.avg_pool2d, x, **kw)
    if err:
        return
    pooling.set_num_threads(threads)
    try:
        assert same_bits(pooling.avg_pool2d(x, **kw), want)
    finally:
        pooling.set_num_threads(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kw", [
    ((1, 40, 50, 47), dict(kernel_size=3, stride=1, padding=1)),                 # bands
    ((1, 33, 64, 64), dict(kernel_size=3, stride=1, padding=1, ceil_mode=True,
                           count_include_pad=False)),
    ((2, 32, 61, 40), dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 1), ceil_mode=True)),
    ((1, 32, 70, 33), dict(kernel_size=2, stride=1, divisor_override=3)),
    ((1, 64, 14, 14), dict(kernel_size=2)),
    ((1, 48, 7, 7), dict(kernel_size=7)),
])
def test_avg_tiles_in_bands_match_reference(cython_backend, dtype, shape, kw):
    rng = np.random.default_rng(3)
    for kind in ("ints", "spread"):
        x = values(rng, shape, dtype, kind)
        for threads in (1, 2):
            pooling.set_num_threads(threads)
            try:
                assert same_bits(pooling.avg_pool2d(x, **kw), reference.avg_pool2d(x, **kw))
            finally:
                pooling.set_num_threads(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_tiles_of_volumes_match_reference(cython_backend, dtype):
    rng = np.random.default_rng(4)
    for shape, kw in [((2, 20, 4, 6, 6), dict(kernel_size=2, stride=1, padding=1)),
                      ((1, 40, 3, 9, 5), dict(kernel_size=(3, 2, 2), stride=2, ceil_mode=True,
                                              count_include_pad=False))]:
        x = values(rng, shape, dtype, "spread")
        assert same_bits(pooling.avg_pool3d(x, **kw), reference.avg_pool3d(x, **kw))


@more_examples(1.5)
@given(c=avg_case(), dtype=st.sampled_from([np.float32, np.float64]),
       lead=st.sampled_from([(1, 3), (3, 5), (2, 40)]), last=st.booleans(),
       threads=st.sampled_from([1, 2]), seed=st.integers(0, 2**32 - 1))
def test_avg_backward_paths_match_reference(cython_backend, c, dtype, lead, last, threads, seed):
    # The backward's paths: channels-last batch items (tiled windows written
    # once, others added into a zeroed item), channels-first planes (one
    # output per plane; fewer outputs than window columns; the gather; the
    # scatter), on one and two threads.
    nd = c["nd"]
    rng = np.random.default_rng(seed)
    shape = lead + c["shape"][-nd:]
    kw = pool_kwargs(c)
    y, err = outcome(getattr(reference, f"avg_pool{nd}d"), np.zeros(shape, dtype), **kw)
    if err:
        return
    g = values(rng, y.shape, dtype, "spread")
    want = getattr(reference, f"avg_pool{nd}d_backward")(g, shape, **kw)
    back = getattr(pooling, f"avg_pool{nd}d_backward")
    pooling.set_num_threads(threads)
    try:
        if last:
            got = back(np.ascontiguousarray(to_channels_last(g, nd)),
                       to_channels_last(want, nd).shape, data_format=LAST[nd], **kw)
            assert got.flags.c_contiguous   # stored as the caller's layout
            got = np.moveaxis(got, -1, 1)
        else:
            got = back(g, shape, **kw)
    finally:
        pooling.set_num_threads(0)
    assert same_bits(got, want)


@pytest.mark.parametrize("last", [False, True])
@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 7, 7), dict(kernel_size=7)),                                  # global, tiled
    ((2, 3, 6, 5), dict(kernel_size=(7, 6), padding=3, ceil_mode=True)),  # one output, padded
    ((2, 3, 9, 5), dict(kernel_size=4, stride=3, count_include_pad=False, padding=1)),  # few
    ((2, 600, 4, 4), dict(kernel_size=2)),                                # channel chunks, tiled
    ((2, 600, 5, 5), dict(kernel_size=3, stride=1, padding=1)),           # channel chunks
    ((2, 5, 40, 40), dict(kernel_size=3, stride=1, padding=1)),           # a plane > 1024
])
def test_avg_backward_named_paths_match_reference(cython_backend, last, shape, kw):
    rng = np.random.default_rng(5)
    y = reference.avg_pool2d(np.zeros(shape, np.float32), **kw)
    for dtype in (np.float32, np.float64):
        g = values(rng, y.shape, dtype, "spread")
        g.flat[::7] = -0.0   # a share of -0.0 adds to +0.0
        want = reference.avg_pool2d_backward(g, shape, **kw)
        if last:
            got = pooling.avg_pool2d_backward(
                np.ascontiguousarray(to_channels_last(g, 2)), to_channels_last(want, 2).shape,
                data_format="NHWC", **kw)
            assert got.flags.c_contiguous
            got = np.moveaxis(got, -1, 1)
        else:
            got = pooling.avg_pool2d_backward(g, shape, **kw)
        assert same_bits(got, want)

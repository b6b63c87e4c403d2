"""The compiled adaptive average pooling kernels (adaptive_avg3d,
adaptive_avg_backward3d) against the NumPy reference, bit for bit (NaN-aware,
-0.0 apart from +0.0): both layouts, float16 (summed in float32 in 1-D and
2-D, in float16 in 3-D), float32, float64, NaN and +-inf, windows that tile
the input and windows that do not (widths differing within one group of
lanes), outputs larger than the input, global pooling (whole planes as one
run), unbatched and non-contiguous inputs, strided columns, lanes past the
last plane, channel blocks, threads, and out=.  The reference itself is
checked against PyTorch in test_avg_pool.py."""
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import _api, reference
from pooling._core import backend as _backend

from strategies import axis_and_output, more_examples, with_layout
from test_avg_pool import LAST, same_bits, to_channels_first, to_channels_last

FLOATS = [np.float16, np.float32, np.float64]


def values(rng, shape, dtype):
    """Spread-out values (sums that round), NaN, +-inf and -0.0."""
    x = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4, size=shape)).astype(dtype)
    r = rng.random(shape)
    x[r < 0.03] = np.nan
    x[(r >= 0.03) & (r < 0.05)] = np.inf
    x[(r >= 0.05) & (r < 0.07)] = -np.inf
    x[(r >= 0.07) & (r < 0.1)] = -0.0
    return x


def fns(nd):
    return (getattr(pooling, f"adaptive_avg_pool{nd}d"),
            getattr(reference, f"adaptive_avg_pool{nd}d"),
            getattr(pooling, f"adaptive_avg_pool{nd}d_backward"),
            getattr(reference, f"adaptive_avg_pool{nd}d_backward"))


def threads(n, fn, *args, **kw):
    pooling.set_num_threads(n)
    try:
        return fn(*args, **kw)
    finally:
        pooling.set_num_threads(0)


@st.composite
def case(draw):
    nd = draw(st.sampled_from([1, 2, 3]))
    spatial = tuple(draw(st.integers(1, 12)) for _ in range(nd))
    out = tuple(draw(axis_and_output(n)) for n in spatial)
    # 1 to 3 batch items, planes around multiples of the 8 lanes
    lead = draw(st.sampled_from([(1, 1), (2, 3), (3, 5), (1, 8), (2, 9), (7,), (1, 17)]))
    return nd, lead + spatial, out


@pytest.mark.usefixtures("cython_backend")
@more_examples(2)
@given(c=case(), dtype=st.sampled_from(FLOATS),
       layout=st.sampled_from(["contiguous", "strided", "flipped", "channels_last", "fortran"]),
       fmt=st.sampled_from(["first", "last"]), seed=st.integers(0, 2**32 - 1))
def test_kernel_matches_reference(c, dtype, layout, fmt, seed):
    nd, shape, out = c
    fwd, rfwd, back, rback = fns(nd)
    rng = np.random.default_rng(seed)
    x = values(rng, shape, dtype)
    y = rfwd(x, out)
    g = values(rng, y.shape, dtype)
    gi = rback(g, x.shape)
    if fmt == "last":
        xl = with_layout(to_channels_last(x, nd), layout, nd, LAST[nd])
        before = xl.copy()
        got = fwd(xl, out, data_format=LAST[nd])
        assert same_bits(to_channels_first(got, nd), y)
        assert same_bits(xl, before)
        gl = with_layout(to_channels_last(g, nd), layout, nd, LAST[nd])
        got = back(gl, xl.shape, data_format=LAST[nd])
        assert same_bits(to_channels_first(got, nd), gi)
    else:
        xv = with_layout(x, layout, nd)
        before = xv.copy()
        assert same_bits(fwd(xv, out), y)
        assert same_bits(xv, before)
        assert same_bits(back(with_layout(g, layout, nd), x.shape), gi)
    assert _api.core_op(_backend.core(), "adaptive_avg3d") is not \
        reference._Core.adaptive_avg3d


# Each path of the kernels, some above 2**15 elements (threads):
PATHS = [
    # (shape, output size): what it reaches
    ((2, 3, 112, 112), (7, 7)),      # tiling windows, the next band prefetched
    ((2, 3, 112, 112), (6, 5)),      # widths 19/20 and 22/23: extra columns
    ((4, 64, 7, 7), (1, 1)),         # global: whole planes, one run per lane
    ((3, 5, 9, 4), (2, 1)),          # whole rows, but not the whole plane
    ((1, 1, 5, 6), (9, 13)),         # output larger than the input
    ((1, 1, 300, 2), (7, 1)),        # one plane: its columns are all the lanes
    ((2, 600, 3, 3), (2, 2)),        # channels-last blocks of 512 channels
    ((1, 9, 4, 5, 6), (3, 2, 4)),    # 3-D (float16 rounds every step)
    ((2, 4, 6, 9, 8), (1, 1, 1)),    # 3-D global: depth slices as one run
    ((2, 4, 6, 9, 8), (4, 1, 1)),    # 3-D whole rows per depth slice
    # float32 on AVX2: 16 planes in vector lanes (windows >= 4 columns wide)
    ((2, 9, 112, 112), (7, 7)),      # 16 planes in lanes, the last 2 as above
    ((2, 8, 6, 14), (2, 3)),         # widths 5, 6, 5: last 1 or 2 columns apart
    ((1, 16, 9, 47), (4, 5)),        # widths 10, 11: last 2 or 3 columns apart
    ((1, 16, 3, 5, 12), (2, 2, 3)),  # 3-D: depth and height divisions
    ((1, 16, 2, 260), (1, 65)),      # more columns than the lanes' sums hold
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, out", PATHS)
@pytest.mark.parametrize("n_threads", [1, 2])
def test_kernel_paths(cython_backend, shape, out, dtype, n_threads):
    nd = len(shape) - 2
    fwd, rfwd, back, rback = fns(nd)
    rng = np.random.default_rng(zlib.crc32(repr((shape, out)).encode()))
    x = values(rng, shape, dtype)
    y = rfwd(x, out)
    g = values(rng, y.shape, dtype)
    gi = rback(g, x.shape)
    for xv, gv in ((x, g), (x[..., ::-1][..., ::-1], g),           # as given
                   (np.repeat(x, 2, axis=-1)[..., ::2], np.repeat(g, 2, axis=-1)[..., ::2])):
        assert same_bits(threads(n_threads, fwd, xv, out), y)
        assert same_bits(threads(n_threads, back, gv, x.shape), gi)
    xl, gl = to_channels_last(x, nd), to_channels_last(g, nd)
    xl, gl = np.ascontiguousarray(xl), np.ascontiguousarray(gl)
    got = threads(n_threads, fwd, xl, out, data_format=LAST[nd])
    assert same_bits(to_channels_first(got, nd), y)
    got = threads(n_threads, back, gl, xl.shape, data_format=LAST[nd])
    assert same_bits(to_channels_first(got, nd), gi)
    # unbatched: the lifted batch of one
    assert same_bits(fwd(x[0], out), y[0])
    assert same_bits(back(g[0], x[0].shape), gi[0])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("fmt", ["first", "last"])
@pytest.mark.parametrize("contiguous", [True, False])
def test_out(cython_backend, dtype, fmt, contiguous):
    # out= written straight from the loops where it is laid out as they
    # write (float32, float64), through a copy otherwise; returned itself.
    rng = np.random.default_rng(1)
    x = values(rng, (2, 11, 10, 9), dtype)
    y = reference.adaptive_avg_pool2d(x, (4, 3))
    g = values(rng, y.shape, dtype)
    gi = reference.adaptive_avg_pool2d_backward(g, x.shape)
    last = fmt == "last"
    kw = dict(data_format="NHWC") if last else {}
    xa, ga, ya, gia = ((to_channels_last(a, 2) if last else a) for a in (x, g, y, gi))

    def target(like):
        big = np.full(like.shape[:-1] + (2 * like.shape[-1],), 7, dtype=like.dtype)
        return np.ascontiguousarray(big[..., ::2]) if contiguous else big[..., ::2]
    o = target(ya)
    assert pooling.adaptive_avg_pool2d(xa, (4, 3), out=o, **kw) is o
    assert same_bits(o, ya)
    o = target(gia)
    assert pooling.adaptive_avg_pool2d_backward(ga, xa.shape, out=o, **kw) is o
    assert same_bits(o, gia)


def test_channels_last_outputs_stay_channels_last(cython_backend):
    # As max pooling's kernels: NHWC in, NHWC memory out (no copy to C
    # order and back), forward and backward.
    x = np.random.default_rng(2).standard_normal((2, 9, 9, 16)).astype(np.float32)
    y = pooling.adaptive_avg_pool2d(x, 4, data_format="NHWC")
    assert y.flags.c_contiguous
    xt = to_channels_first(x, 2)   # channels-last memory, NCHW axes
    yt = pooling.adaptive_avg_pool2d(xt, 4)
    assert np.moveaxis(yt, 1, -1).flags.c_contiguous
    g = pooling.adaptive_avg_pool2d_backward(y, x.shape, data_format="NHWC")
    assert g.flags.c_contiguous
    assert same_bits(g, to_channels_last(
        reference.adaptive_avg_pool2d_backward(to_channels_first(y, 2), xt.shape), 2))


def test_float16_3d_rounds_each_step(cython_backend):
    # PyTorch's 3-D kernel sums half in half: 2048 + 1 + 1 stays 2048 (each
    # addition of 1 rounds back), where a float sum would give 2050.
    x = np.array([2048, 1, 1, 1], dtype=np.float16).reshape(1, 1, 1, 1, 4)
    y = pooling.adaptive_avg_pool3d(x, 1)
    assert same_bits(y, reference.adaptive_avg_pool3d(x, 1))
    assert y.item() == np.float16(2048) / np.float16(4)
    assert pooling.adaptive_avg_pool2d(x[0], 1).item() == np.float16(2051 / 4)

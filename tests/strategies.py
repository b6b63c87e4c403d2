"""Hypothesis strategies shared by the property tests: pooling arguments,
arrays with ties, NaN and infinities, and every memory layout; and the
environment of a subprocess that must import the pooling under test."""
import os

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

import pooling
from pooling import reference
from pooling._params import LAYOUTS, adaptive_windows

FLOAT_DTYPES = [np.float16, np.float32, np.float64]
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64,
              np.uint8, np.uint16, np.uint32, np.uint64]
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES
MEMORY_LAYOUTS = ["contiguous", "fortran", "strided", "flipped", "channels_last",
                  "broadcast", "readonly"]


@st.composite
def pool_args(draw, max_k=4):
    def pair(lo, hi):
        a = draw(st.integers(lo, hi))
        return draw(st.sampled_from([a, (a, draw(st.integers(lo, hi)))]))
    k = draw(st.tuples(st.integers(1, max_k), st.integers(1, max_k)))
    kernel = k if k[0] != k[1] or draw(st.booleans()) else k[0]
    stride = draw(st.sampled_from([None, "draw"]))
    stride = pair(1, 4) if stride == "draw" else None
    padding = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    dilation = pair(1, 3)
    return dict(kernel_size=kernel, stride=stride, padding=padding,
                dilation=dilation, ceil_mode=draw(st.booleans()))


def make_values(rng, shape, dtype, special=True):
    """Small integers (many ties); floats also get NaN and +-inf, integers
    their extremes."""
    dtype = np.dtype(dtype)
    x = rng.integers(-3, 4, size=shape)
    if dtype.kind == "u":
        x = np.abs(x)
    x = x.astype(dtype)
    if special and x.size:
        r = rng.random(shape)
        if dtype.kind == "f":
            x[r < 0.06] = np.nan
            x[(r >= 0.06) & (r < 0.1)] = np.inf
            x[(r >= 0.1) & (r < 0.14)] = -np.inf
        else:
            info = np.iinfo(dtype)
            x[r < 0.05] = info.min
            x[(r >= 0.05) & (r < 0.1)] = info.max
    return x


def conformance_values(shape, dtype, rng):
    """The PyTorch conformance tests' data: small integers (many ties); floats
    also 5% NaN, 3% +inf and 3% -inf."""
    x = rng.integers(-3, 4, size=shape).astype(dtype)  # many ties
    if np.dtype(dtype).kind == "f":
        r = rng.random(shape)
        x[r < 0.05] = np.nan
        x[(r >= 0.05) & (r < 0.08)] = np.inf
        x[(r >= 0.08) & (r < 0.11)] = -np.inf
    return x


def with_layout(x, layout, nd=2, data_format=None):
    """The same values as x, stored with another memory layout.

    x has nd spatial axes and, before them, a channel axis (channels first, the
    default) or, for data_format="NLC"/"NHWC"/"NDHWC", the channel axis last;
    any leading axes are batch axes.  The layouts (MEMORY_LAYOUTS):

    contiguous     C order
    fortran        Fortran order
    strided        every other element, on every axis, of an array twice as big
    flipped        negative strides on two axes: the first and the last spatial
                   axis (the channel and the spatial axis when nd is 1)
    channels_last  channels innermost in memory, other axes in order (PyTorch's
                   channels_last for a channels-first array; C order for a
                   channels-last one)
    broadcast      zero strides over the first axis: every image is the first
                   (the only layout that changes the values)
    readonly       a C-order copy that cannot be written
    """
    first, last = LAYOUTS[nd]
    if data_format not in (None, first, last):
        raise ValueError(f"data_format={data_format!r} for nd={nd}")
    channel = x.ndim - 1 if data_format == last else x.ndim - nd - 1
    spatial = [a for a in range(x.ndim - nd - 1, x.ndim) if a != channel]
    if layout == "contiguous":
        return np.ascontiguousarray(x)
    if layout == "fortran":
        return np.asfortranarray(x)
    if layout == "strided":
        big = np.zeros(tuple(2 * n for n in x.shape), dtype=x.dtype)
        view = big[tuple(slice(None, None, 2) for _ in x.shape)]
        view[...] = x
        return view
    if layout == "flipped":
        axes = {spatial[0], spatial[-1]} if nd > 1 else {channel, spatial[0]}
        rev = tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(x.ndim))
        return np.ascontiguousarray(x[rev])[rev]
    if layout == "channels_last":
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(x, channel, -1)), -1, channel)
    if layout == "broadcast":
        return np.broadcast_to(x[:1] if x.shape[0] else x, x.shape)
    if layout == "readonly":
        x = x.copy()
        x.setflags(write=False)
        return x
    raise ValueError(f"unknown layout {layout!r}")


def more_examples(factor, **kw):
    """@settings for a test that runs `factor` times as many examples as the
    loaded profile (tests/conftest.py); everything else comes from the profile."""
    return settings(max_examples=round(factor * settings.default.max_examples), **kw)


def outcome(fn, *args, **kw):
    """(result, None) or (None, (type, message)): refusals become comparable."""
    try:
        return fn(*args, **kw), None
    except (ValueError, TypeError) as exc:
        return None, (type(exc), str(exc))


# Quiet NaNs of other payloads and signs than np.nan's, by float dtype.
NAN_BITS = {np.dtype(np.float16): [0x7E01, 0xFE00, 0x7FFF],
            np.dtype(np.float32): [0x7FC00001, 0xFFC00000, 0x7FFFFFFF],
            np.dtype(np.float64): [0x7FF8000000000001, 0xFFF8000000000000]}


def with_bits(rng, x):
    """make_values' data, and for floats also -0.0 among its zeros and NaNs of
    several payloads: PyTorch returns the first maximum's bits (-0.0 or 0.0,
    whichever comes first) and the last NaN's."""
    if x.dtype.kind != "f" or not x.size:
        return x
    x = x.copy()
    r = rng.random(x.shape)
    x[(x == 0) & (r < 0.5)] = -0.0
    u = x.view(f"u{x.itemsize}")
    nan = np.isnan(x)
    for i, b in enumerate(NAN_BITS[x.dtype]):
        u[nan & (r >= 0.25 * i) & (r < 0.25 * (i + 1))] = b
    return x


def scan_reference(x, out):
    """PyTorch's scan itself, bit for bit: the reference core's adaptive kernel
    on channels-first x ((C, ...) or (N, C, ...)), whatever route the public
    reference function would take (its max pooling, for windows that tile,
    keeps either zero of a tie)."""
    nd = len(out)
    xb = x if x.ndim == nd + 2 else x[np.newaxis]
    x5 = xb.reshape(xb.shape[:2] + (1,) * (3 - nd) + xb.shape[2:])
    windows = [adaptive_windows(n, o) for n, o in zip(x5.shape[2:], (1,) * (3 - nd) + out)]
    y5, i5 = reference._Core.adaptive3d(x5, windows, True)
    shape = x.shape[:x.ndim - nd] + tuple(out)
    return y5.reshape(shape), i5.reshape(shape)


def assert_same_bits(got, want):
    """Values (bit for bit when floats) and indices equal."""
    (y, i), (ry, ri) = got, want
    assert y.dtype == ry.dtype and y.shape == ry.shape
    if y.dtype.kind == "f":
        assert np.array_equal(y.view(f"u{y.itemsize}"), ry.view(f"u{ry.itemsize}"))
    else:
        assert np.array_equal(y, ry)
    assert np.array_equal(i, ri)


@st.composite
def axis_and_output(draw, n):
    """An output size for an axis of n: global pooling (output 1), two
    windows, output larger than the input, windows that tile it, any."""
    kind = draw(st.sampled_from(["global", "two", "larger", "tiles", "any"]))
    if kind == "global":
        return 1
    if kind == "two":
        return min(n, 2)
    if kind == "larger":
        return draw(st.integers(n, n + 5))
    if kind == "tiles":
        return draw(st.sampled_from([o for o in range(1, n + 1) if n % o == 0]))
    return draw(st.integers(1, min(n, 40)))


def subprocess_env():
    """os.environ with PYTHONPATH putting the pooling under test first, so a
    ``python -m pooling...`` subprocess imports the same package (the
    source tree's or the installed one) as these tests."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(pooling.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env

"""Hypothesis strategies shared by the property tests: pooling arguments,
arrays with ties, NaN and infinities, and every memory layout."""
import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

FLOAT_DTYPES = [np.float16, np.float32, np.float64]
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64,
              np.uint8, np.uint16, np.uint32, np.uint64]
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES
LAYOUTS = ["contiguous", "fortran", "strided", "flipped", "channels_last",
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


def with_layout(x, layout, rng):
    """The same values as x, stored with another memory layout."""
    if layout == "fortran":
        return np.asfortranarray(x)
    if layout == "strided":
        big = np.zeros(tuple(2 * n for n in x.shape), dtype=x.dtype)
        view = big[tuple(slice(None, None, 2) for _ in x.shape)]
        view[...] = x
        return view
    if layout == "flipped":
        flipped = np.ascontiguousarray(x[..., ::-1, ::-1])
        return flipped[..., ::-1, ::-1]
    if layout == "channels_last":
        nhwc = np.ascontiguousarray(np.moveaxis(x, x.ndim - 3, -1))
        return np.moveaxis(nhwc, -1, x.ndim - 3)
    if layout == "broadcast":
        # zero strides over the leading axis: every image is the first one
        x = np.broadcast_to(x[:1] if x.shape[0] else x, x.shape)
        return x
    if layout == "readonly":
        x = x.copy()
        x.setflags(write=False)
        return x
    return np.ascontiguousarray(x)


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

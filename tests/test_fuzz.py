"""Fuzzing: arbitrary arguments and array views.  Every call either raises a
clean ValueError/TypeError (the same one as the reference) or returns exactly
the reference's result, and never modifies its input."""
import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import pooling
from pooling import reference

from strategies import more_examples, outcome

# 400 examples with the standard profile; drawing arbitrary views can be slow
FUZZ = more_examples(2, suppress_health_check=[*settings.default.suppress_health_check,
                                               HealthCheck.too_slow])

scalars = st.one_of(st.integers(-3, 7), st.integers(-2**64, 2**64), st.floats(-3, 5),
                    st.none(), st.booleans(), st.text(max_size=2),
                    st.sampled_from([np.int64(2), np.int32(3), np.uint8(1), np.float32(2)]))
small = st.integers(1, 3)
anything = st.one_of(scalars, st.lists(scalars, max_size=3).map(tuple),
                     st.lists(st.integers(0, 4), max_size=3))


def arg(sensible):
    """Mostly sensible values (so that many calls pool), sometimes anything."""
    return st.integers(0, 9).flatmap(lambda n: anything if n == 0 else sensible)


dtypes = st.one_of(st.sampled_from(["float32", "float64", "int16", "uint8"]),
                   st.sampled_from(["float16", "float32", "float64", "int8", "int16", "int32",
                                    "int64", "uint8", "uint16", "uint32", "uint64", "bool",
                                    "complex64", "object", ">f8", "<i2", "M8[s]"]))


@st.composite
def arrays(draw):
    ndim = draw(st.sampled_from([3, 4, 3, 4, 0, 1, 2, 5]))
    shape = tuple(draw(st.lists(st.integers(0, 7), min_size=ndim, max_size=ndim)))
    dtype = np.dtype(draw(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = np.asarray(rng.integers(-3, 4, size=tuple(2 * n + 1 for n in shape)))
    if dtype.kind == "M":
        x = base.astype("M8[s]")
    elif dtype.kind == "u":
        x = np.abs(base).astype(dtype)
    else:
        x = base.astype(dtype)
    if dtype.kind == "f":
        x[rng.random(x.shape) < 0.1] = np.nan
    # a view: steps, reversals and offsets per axis
    view = tuple(slice(draw(st.integers(0, 1)), None, draw(st.sampled_from([1, 2, -1])))
                 for _ in shape)
    x = x[view + (...,)][tuple(slice(0, n) for n in shape) + (...,)]
    if draw(st.booleans()) and x.ndim >= 2:
        x = np.swapaxes(x, -1, -2)
    return x


@FUZZ
@given(x=arrays(), kernel=arg(st.one_of(small, st.tuples(small, small))),
       stride=arg(st.one_of(st.none(), small, st.tuples(small, small))),
       padding=arg(st.one_of(st.just(0), st.integers(0, 1))),
       dilation=arg(st.one_of(st.just(1), small)), ceil=arg(st.booleans()),
       ri=st.booleans(), backend_name=st.sampled_from(["cython", "numpy"]))
def test_forward_fuzz(use_backend, x, kernel, stride, padding, dilation, ceil, ri,
                      backend_name):
    if backend_name not in pooling._core.backend._CORES:
        return
    use_backend(backend_name)
    before = x.copy()
    got, err = outcome(pooling.max_pool2d, x, kernel, stride, padding, dilation, ceil, ri)
    want, want_err = outcome(reference.max_pool2d, x, kernel, stride, padding, dilation,
                              ceil, ri)
    assert np.array_equal(x, before, equal_nan=x.dtype.kind == "f") if x.dtype.kind in "fiu" \
        else (x == before).all() or x.size == 0
    assert err == want_err
    event("pooled" if err is None else "refused")
    if err is None:
        for a, b in zip(got if ri else (got,), want if ri else (want,)):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


@FUZZ
@given(g=arrays(), idx=arrays(), shape=st.one_of(anything, st.lists(st.integers(-1, 9),
                                                                   max_size=5).map(tuple)),
       backend_name=st.sampled_from(["cython", "numpy"]))
def test_backward_fuzz(use_backend, g, idx, shape, backend_name):
    if backend_name not in pooling._core.backend._CORES:
        return
    use_backend(backend_name)
    got, err = outcome(pooling.max_pool2d_backward, g, idx, shape)
    want, want_err = outcome(reference.max_pool2d_backward, g, idx, shape)
    assert err == want_err
    if err is None:
        assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True)

"""Kept forward plans (csrc/_plans.pxi): a repeated max-pooling call runs
from the plan its first call left, skipping the argument checks.

A plan must serve only calls whose checks it would pass again: the same
arguments (as given), the same array shape, strides and dtype.  Here: the
call that runs from a plan equals the reference exactly (every dtype, layout,
data_format, batched or not, values, indices and the layer's gradients), it
reads the new array's values (not the planned one's), and arguments that
hash like accepted ones (True, 2.0, ceil_mode=1), byte-swapped and float16
arrays, array-likes and subclasses never reach a plan."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import reference
from pooling._core import backend as _backend
from pooling._params import LAYOUTS

from strategies import (ALL_DTYPES, MEMORY_LAYOUTS, make_values, outcome, pool_args,
                        with_layout)

pytest.importorskip("pooling._core._maxpool")
# The CPU variant in use (pooling._core._maxpool or a wider build): plans are kept
# by the module that made them.
_maxpool = _backend._maxpool


def kept(x, nd, kw, indices, data_format):
    """The plan kept for max_pool{nd}d(x, **kw) as the functions call it."""
    call = (nd, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0),
            kw.get("dilation", 1), kw.get("ceil_mode", False), indices, data_format)
    return _maxpool.find_forward_plan(x, call)


@given(nd=st.sampled_from([1, 2, 3]), dtype=st.sampled_from(ALL_DTYPES),
       layout=st.sampled_from(MEMORY_LAYOUTS), last=st.booleans(), batched=st.booleans(),
       k=st.integers(1, 3), s=st.one_of(st.none(), st.integers(1, 3)), pad=st.integers(0, 1),
       d=st.integers(1, 2), ceil=st.booleans(), channels=st.sampled_from([1, 3, 5]),
       seed=st.integers(0, 2**32 - 1))
def test_repeated_calls_run_from_the_plan(cython_backend, nd, dtype, layout, last, batched,
                                          k, s, pad, d, ceil, channels, seed):
    rng = np.random.default_rng(seed)
    fmt = LAYOUTS[nd][last]
    spatial = tuple(rng.integers(1, 7, size=nd))
    shape = ((2,) if batched else ()) + ((*spatial, channels) if last else (channels, *spatial))
    kw = dict(kernel_size=k, stride=s, padding=min(pad, k // 2), dilation=d, ceil_mode=ceil)
    pool = getattr(pooling, f"max_pool{nd}d")
    ref = getattr(reference, f"max_pool{nd}d")
    layer = getattr(pooling, f"MaxPool{nd}D")(**kw, data_format=fmt)
    x = with_layout(make_values(rng, shape, dtype), layout, nd, fmt)
    if outcome(ref, x, data_format=fmt, **kw)[1]:
        return
    eq_nan = x.dtype.kind == "f"
    for _ in range(2):
        # fresh values, same shape, strides and dtype: the second round runs
        # from plans (float16 never does: it is converted on the way in)
        x = with_layout(make_values(rng, shape, dtype), layout, nd, fmt)
        before = x.copy()
        ry, ri = ref(x, return_indices=True, data_format=fmt, **kw)
        y, i = pool(x, return_indices=True, data_format=fmt, **kw)
        assert y.dtype == x.dtype and np.array_equal(y, ry, equal_nan=eq_nan)
        assert np.array_equal(i, ri) and i.dtype == np.int64
        assert np.array_equal(pool(x, data_format=fmt, **kw), ry, equal_nan=eq_nan)
        assert np.array_equal(layer.forward(x), ry, equal_nan=eq_nan)
        g = rng.standard_normal(ry.shape).astype(np.float32)
        assert np.array_equal(layer.backward(g),
                              getattr(reference, f"max_pool{nd}d_backward")(g, ri, x.shape,
                                                                            data_format=fmt))
        np.testing.assert_array_equal(x, before)
    planned = x.dtype != np.float16 and x.dtype.isnative
    assert (kept(x, nd, kw, "flat", fmt) is not None) == planned
    assert (kept(x, nd, kw, None, fmt) is not None) == planned


def test_outputs_keep_their_layout_from_a_plan(cython_backend):
    # The four combinations of user layout and memory layout.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
    cases = [(x, "NCHW"), (with_layout(x, "channels_last"), "NCHW"),
             (np.ascontiguousarray(np.moveaxis(x, 1, -1)), "NHWC"),
             (np.moveaxis(x, 1, -1), "NHWC")]   # NHWC shape, channels-first memory
    for arr, fmt in cases:
        first = pooling.max_pool2d(arr, 2, return_indices=True, data_format=fmt)
        again = pooling.max_pool2d(arr, 2, return_indices=True, data_format=fmt)
        assert kept(arr, 2, dict(kernel_size=2), "flat", fmt) is not None
        for a, b in zip(first, again):
            assert a.shape == b.shape and a.strides == b.strides
            assert np.array_equal(a, b)


@pytest.mark.parametrize("good, bad", [
    (dict(kernel_size=1), dict(kernel_size=True)),
    (dict(kernel_size=2), dict(kernel_size=2.0)),
    (dict(kernel_size=(2, 1)), dict(kernel_size=(2, True))),
    (dict(kernel_size=2, stride=2), dict(kernel_size=2, stride=2.0)),
    (dict(kernel_size=2, ceil_mode=True), dict(kernel_size=2, ceil_mode=1)),
    (dict(kernel_size=2, padding=0), dict(kernel_size=2, padding=False)),
])
def test_arguments_equal_to_accepted_ones_are_still_refused(cython_backend, good, bad):
    # True == 1, 2.0 == 2 and 1 == True hash alike: a plan kept for the
    # accepted call must not answer these.
    x = np.ones((1, 1, 4, 4), np.float32)
    layer = pooling.MaxPool2D(**good)
    for _ in range(2):
        pooling.max_pool2d(x, **good)
        layer.forward(x)
    assert kept(x, 2, good, None, "NCHW") is not None
    with pytest.raises(TypeError):
        pooling.max_pool2d(x, **bad)
    with pytest.raises(TypeError):
        pooling.MaxPool2D(**bad)


def test_converted_inputs_never_reach_a_plan(cython_backend):
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    want = pooling.max_pool2d(x, 2)
    pooling.max_pool2d(x, 2)
    swapped = x.astype(x.dtype.newbyteorder(">"))
    assert swapped.shape == x.shape and swapped.strides == x.strides
    assert kept(swapped, 2, dict(kernel_size=2), None, "NCHW") is None
    for _ in range(2):
        assert np.array_equal(pooling.max_pool2d(swapped, 2), want)
    half = x.astype(np.float16)
    for _ in range(2):
        assert np.array_equal(pooling.max_pool2d(half, 2), want.astype(np.float16))
    assert kept(half, 2, dict(kernel_size=2), None, "NCHW") is None
    assert kept(x.tolist(), 2, dict(kernel_size=2), None, "NCHW") is None
    assert np.array_equal(pooling.max_pool2d(x.tolist(), 2), want)

    class Sub(np.ndarray):
        pass
    sub = x.view(Sub)
    assert kept(sub, 2, dict(kernel_size=2), None, "NCHW") is None
    assert np.array_equal(pooling.max_pool2d(sub, 2), want)


def test_other_strides_and_shapes_get_their_own_plans(cython_backend):
    rng = np.random.default_rng(3)
    big = rng.standard_normal((2, 3, 10, 12)).astype(np.float64)
    for x in (big, big[:, :, ::2], big[:, :, :, ::-1], big[:1], big[0]):
        for _ in range(2):
            got = pooling.max_pool2d(x, 2, return_indices=True)
            want = reference.max_pool2d(x, 2, return_indices=True)
            assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_plans_kept_are_bounded(cython_backend):
    x = np.ones((1, 1, 40, 300), np.float32)
    for w in range(1, 300):   # more distinct calls than plans are kept
        y = pooling.max_pool2d(x[..., :w], 1)
        assert y.shape == (1, 1, 40, w)
    assert 0 < _maxpool.forward_plans_kept() <= 256


# ------------------------------------------------- kept average-pooling calls

from pooling import _api  # noqa: E402


def _kept_avg(x, nd, args, backward=False):
    key = _api._kept_key(_backend.core(), -nd if backward else nd, x, args)
    return None if key is None else _api._KEPT.get(key)


@given(nd=st.sampled_from([1, 2, 3]), dtype=st.sampled_from([np.float16, np.float32,
                                                              np.float64, np.int64]),
       layout=st.sampled_from(MEMORY_LAYOUTS), last=st.booleans(), batched=st.booleans(),
       k=st.integers(1, 3), s=st.one_of(st.none(), st.integers(1, 3)), pad=st.integers(0, 1),
       ceil=st.booleans(), cip=st.booleans(), div=st.sampled_from([None, 3]),
       seed=st.integers(0, 2**32 - 1))
def test_repeated_average_calls_run_from_what_was_kept(cython_backend, nd, dtype, layout, last,
                                                       batched, k, s, pad, ceil, cip, div,
                                                       seed):
    """avg_pool and avg_pool_backward keep what a call's checks found
    (pooling._api._KEPT): the next call of the same arguments and array
    shape, strides and dtype equals the reference and reads its own values."""
    rng = np.random.default_rng(seed)
    fmt = LAYOUTS[nd][last]
    spatial = tuple(rng.integers(1, 7, size=nd))
    shape = ((2,) if batched else ()) + ((*spatial, 3) if last else (3, *spatial))
    kw = dict(kernel_size=k, stride=s, padding=min(pad, k // 2), ceil_mode=ceil,
              count_include_pad=cip, divisor_override=div)
    pool, ref = getattr(pooling, f"avg_pool{nd}d"), getattr(reference, f"avg_pool{nd}d")
    back = getattr(pooling, f"avg_pool{nd}d_backward")
    ref_back = getattr(reference, f"avg_pool{nd}d_backward")
    if outcome(ref, make_values(rng, shape, dtype), data_format=fmt, **kw)[1]:
        return
    for _ in range(3):
        x = with_layout(make_values(rng, shape, dtype), layout, nd, fmt)
        before = x.copy()
        want = ref(x, data_format=fmt, **kw)
        got = pool(x, data_format=fmt, **kw)
        assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True)
        np.testing.assert_array_equal(x, before)
        if dtype != np.int64:
            g = with_layout(make_values(rng, want.shape, dtype), layout, nd, fmt)
            assert np.array_equal(back(g, x.shape, data_format=fmt, **kw),
                                  ref_back(g, x.shape, data_format=fmt, **kw), equal_nan=True)
    args = (k, s, kw["padding"], ceil, cip, div, fmt)
    assert _kept_avg(x, nd, args) is not None
    if dtype != np.int64:
        assert _kept_avg(g, nd, (tuple(x.shape),) + args, backward=True) is not None


@pytest.mark.parametrize("good, bad", [
    (dict(kernel_size=1), dict(kernel_size=True)),
    (dict(kernel_size=2), dict(kernel_size=2.0)),
    (dict(kernel_size=(2, 1)), dict(kernel_size=(2, True))),
    (dict(kernel_size=2, ceil_mode=True), dict(kernel_size=2, ceil_mode=1)),
    (dict(kernel_size=2, divisor_override=1), dict(kernel_size=2, divisor_override=True)),
])
def test_average_arguments_equal_to_accepted_ones_are_still_refused(cython_backend, good, bad):
    x = np.ones((1, 1, 4, 4), np.float32)
    g = np.ones((1, 1) + pooling.avg_pool2d(x, **good).shape[2:], np.float32)
    for _ in range(2):
        pooling.avg_pool2d(x, **good)
        pooling.avg_pool2d_backward(g, x.shape, **good)
    with pytest.raises(TypeError):
        pooling.avg_pool2d(x, **bad)
    with pytest.raises(TypeError):
        pooling.avg_pool2d_backward(g, x.shape, **bad)


def test_average_calls_kept_only_for_plain_arrays_and_bounded(cython_backend):
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    want = pooling.avg_pool2d(x, 2)
    swapped = x.astype(x.dtype.newbyteorder(">"))

    class Sub(np.ndarray):
        pass
    for a in (swapped, x.tolist(), x.view(Sub)):
        for _ in range(2):
            assert np.array_equal(pooling.avg_pool2d(a, 2), want)
        assert _kept_avg(a, 2, (2, None, 0, False, True, None, "NCHW")) is None
    for i in range(_api._MAX_KEPT + 10):
        pooling.avg_pool2d(np.ones((1, 1, 2, 2 + i), np.float32), 2)
    assert 0 < len(_api._KEPT) <= _api._MAX_KEPT

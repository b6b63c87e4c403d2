"""Block mode (csrc/_mode.pxi, ``block_mode3d``): the most frequent value of
each window of a label image, ties to the smallest, for
``pooling.dask.pyramid(reduction="mode")``.  Hypothesis: the compiled kernel
equals the NumPy twin (pooling._core.numpy_mode) exactly over integer and
bool dtypes, shapes, windows (partial ones at the edges), strides and
layouts, few labels (ties) and many; one value per window (no sort) and
threads; known answers."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pooling import _api
from pooling._core import backend as _backend
from pooling._core.numpy_mode import block_mode3d as reference

from strategies import more_examples

DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
          np.bool_, np.intc, np.longlong]


def _kernel():
    return _api.core_op(_backend.core(), "block_mode3d")


def _out(shape, k):
    return tuple(-(-n // ki) for n, ki in zip(shape[2:], k))


@more_examples(1.5)
@given(dtype=st.sampled_from(DTYPES), n=st.integers(1, 2), c=st.integers(1, 3),
       spatial=st.tuples(st.integers(1, 7), st.integers(1, 9), st.integers(1, 9)),
       k=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
       labels=st.sampled_from([1, 2, 3, 40, 2 ** 62]), view=st.sampled_from(
           ["contiguous", "channels_last", "reversed", "strided"]),
       seed=st.integers(0, 2 ** 32 - 1))
def test_kernel_equals_the_reference(cython_backend, dtype, n, c, spatial, k, labels, view,
                                     seed):
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    hi = 2 if info is None else min(labels, int(info.max))
    lo = 0 if info is None or info.min == 0 else max(-labels, int(info.min))
    x = rng.integers(lo, hi, (n, c) + spatial, endpoint=True, dtype=np.int64)
    x = x.astype(dtype) if info is not None else x.astype(bool)
    if view == "channels_last":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
        x = np.moveaxis(x, -1, 1)
    elif view == "reversed":
        x = x[:, ::-1, ::-1, :, ::-1]
    elif view == "strided":
        x = np.concatenate([x, x], axis=-1)[..., ::2]
    before = x.copy()
    k = tuple(min(a, b) for a, b in zip(k, spatial))
    got = _kernel()(x, k, _out(x.shape, k))
    want = reference(x, k, _out(x.shape, k))
    assert got.dtype == x.dtype and got.shape == want.shape
    assert np.array_equal(got, want)
    np.testing.assert_array_equal(x, before)


def test_known_answers(cython_backend):
    x = np.array([[3, 3, 1, 2], [1, 1, 2, 7], [5, 5, 5, 5]], np.int32)[None, None, None]
    # 2x2 windows: {3,3,1,1} ties: 1; {1,2,2,7}: 2; the last row alone: 5
    got = _kernel()(x, (1, 2, 2), (1, 2, 2))[0, 0, 0]
    assert got.tolist() == [[1, 2], [5, 5]]
    # the extremes of the dtype, and a window that is one value
    u = np.array([[np.iinfo(np.uint64).max] * 3 + [0]], np.uint64)[None, None, None]
    assert _kernel()(u, (1, 1, 4), (1, 1, 1))[0, 0, 0, 0, 0] == np.iinfo(np.uint64).max
    assert _kernel()(u, (1, 1, 1), (1, 1, 4)).ravel().tolist() == u.ravel().tolist()
    # windows of more than 16 values take the sort: 5 x 4 values, 7 and 9
    # five times each (a tie: 7), 1 four times, the rest once
    w = np.array([9, 7, 1, 9, 7, 2, 9, 7, 1, 3, 9, 7, 1, 4, 9, 7, 1, 5, 6, 0], np.int16)
    assert _kernel()(w.reshape(1, 1, 1, 4, 5), (1, 4, 5), (1, 1, 1)).item() == 7
    assert _kernel()(w[:16].reshape(1, 1, 1, 4, 4), (1, 4, 4), (1, 1, 1)).item() == 7


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_and_one_label_windows(cython_backend, threads):
    """A label image large enough for the parallel region (objects: windows of
    one label, no sort; borders: sorted), on 1 and 2 threads."""
    import pooling
    rng = np.random.default_rng(4)
    blocks = rng.integers(0, 9, (2, 3, 6, 12, 12))
    x = np.repeat(np.repeat(np.repeat(blocks, 3, 2), 3, 3), 3, 4).astype(np.uint16)
    x[:, :, ::5] = rng.integers(0, 9, x[:, :, ::5].shape)
    assert x.size >= 1 << 15
    before = pooling.get_num_threads()
    pooling.set_num_threads(threads)
    try:
        got = _kernel()(x, (2, 2, 2), _out(x.shape, (2, 2, 2)))
    finally:
        pooling.set_num_threads(before)
    assert np.array_equal(got, reference(x, (2, 2, 2), _out(x.shape, (2, 2, 2))))

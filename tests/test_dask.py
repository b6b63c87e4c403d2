"""pooling.dask: pooling over dask arrays, bit for bit the in-memory
function on the computed array, for any chunking (chunks smaller than the
window, size-1 chunks, uneven chunks, chunks along N and C).

Most tests run dask's synchronous scheduler (fast, deterministic); one runs
the threaded one.  Refusals are compared with the in-memory function's:
the same exception type and message, raised when the graph is built.
"""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

import pooling  # noqa: E402
import pooling.dask as pd  # noqa: E402
from pooling._params import LAYOUTS  # noqa: E402

from strategies import ALL_DTYPES, make_values, more_examples, outcome, with_bits  # noqa: E402

FLOATS = [np.float16, np.float32, np.float64]


@pytest.fixture(autouse=True)
def sync_scheduler():
    with dask.config.set(scheduler="synchronous"):
        yield


def same(got, want, payload=False):
    """Equal bit for bit (floats compared as bit patterns, -0.0 != 0.0),
    NaN where NaN.  A NaN's sign and payload only with ``payload`` (max
    pooling returns the last NaN's bits); in a sum, which of two NaNs
    survives depends on the operand order the compiler picks, which the
    in-memory kernels themselves do not fix (tests/test_avg_pool.py)."""
    assert got.dtype == want.dtype and got.shape == want.shape
    if got.dtype.kind == "f":
        u = f"u{got.itemsize}"
        got, want = np.ascontiguousarray(got), np.ascontiguousarray(want)
        if payload:
            assert np.array_equal(got.view(u), want.view(u))
        else:
            nan = np.isnan(got)
            assert np.array_equal(nan, np.isnan(want))
            assert np.array_equal(got[~nan].view(u), want[~nan].view(u))
    else:
        assert np.array_equal(got, want)


@st.composite
def chunking(draw, n):
    """A partition of n: one chunk, all size 1, or random cuts (uneven)."""
    if n <= 1:
        return (n,)
    kind = draw(st.sampled_from(["one", "ones", "cuts", "cuts"]))
    if kind == "one":
        return (n,)
    if kind == "ones":
        return (1,) * n
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=min(n - 1, 6))))
    b = [0] + cuts + [n]
    return tuple(b[i + 1] - b[i] for i in range(len(b) - 1))


@st.composite
def case(draw, dtypes, max_k=4):
    """(x, chunks, data_format, nd): an input of small random shape, with
    its chunking, in either layout, batched or not."""
    nd = draw(st.integers(1, 3))
    last = draw(st.booleans())
    data_format = LAYOUTS[nd][last]
    spatial = tuple(draw(st.integers(1, {1: 14, 2: 9, 3: 6}[nd])) for _ in range(nd))
    c = draw(st.integers(1, 3))
    lead = (draw(st.integers(0, 2)),) if draw(st.booleans()) else ()
    shape = lead + ((spatial + (c,)) if last else ((c,) + spatial))
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = with_bits(rng, make_values(rng, shape, dtype))
    chunks = tuple(draw(chunking(n)) for n in shape)
    return x, chunks, data_format, nd


@st.composite
def windows(draw, nd, max_k=4, dilation=True):
    k = tuple(draw(st.integers(1, max_k)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    p = tuple(draw(st.integers(0, ki // 2)) for ki in k)
    kw = dict(kernel_size=k, stride=draw(st.sampled_from([None, s])), padding=p,
              ceil_mode=draw(st.booleans()))
    if dilation:
        kw["dilation"] = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    return kw


def fn(name, nd):
    return getattr(pooling, f"{name}{nd}d"), getattr(pd, f"{name}{nd}d")


def compare(name, nd, x, chunks, *args, **kw):
    """The dask form on x in ``chunks`` against the in-memory function:
    equal results, or the same refusal at graph construction."""
    eager, lazy = fn(name, nd)
    want, err = outcome(eager, x, *args, **kw)
    dx = da.from_array(x, chunks=chunks)
    got, lazy_err = outcome(lazy, dx, *args, **kw)
    assert lazy_err == err
    if err is not None:
        return None
    payload = name in ("max_pool", "fractional_max_pool")
    if isinstance(want, tuple):
        got = dask.compute(*got)
        for g, w in zip(got, want):
            same(g, w, payload)
        return got
    got = got.compute()
    same(got, want, payload)
    return got


@more_examples(0.5)
@given(case(ALL_DTYPES), st.data())
def test_max_pool(c, data):
    x, chunks, data_format, nd = c
    kw = data.draw(windows(nd))
    compare("max_pool", nd, x, chunks, return_indices=data.draw(st.booleans()),
            data_format=data_format, **kw)


@more_examples(0.5)
@given(case(FLOATS + [np.int64]), st.data())
def test_avg_pool(c, data):
    x, chunks, data_format, nd = c
    kw = data.draw(windows(nd, dilation=False))
    compare("avg_pool", nd, x, chunks, count_include_pad=data.draw(st.booleans()),
            divisor_override=data.draw(st.sampled_from([None, 1, 3, -2, 7])),
            data_format=data_format, **kw)


@more_examples(0.3)
@given(case(FLOATS), st.data())
def test_lp_pool(c, data):
    x, chunks, data_format, nd = c
    kw = data.draw(windows(nd, dilation=False))
    del kw["padding"]
    p = data.draw(st.sampled_from([1, 2, 3.5, -1, np.inf, -np.inf]))
    compare("lp_pool", nd, x, chunks, p, data_format=data_format, **kw)


@more_examples(0.3)
@given(case(FLOATS), st.data())
def test_max_pool_backward(c, data):
    """The gradient from the forward's global indices, with grad_output
    chunked independently of the forward (ties share argmaxes: windows
    overlap and the values have many ties)."""
    x, chunks, data_format, nd = c
    kw = data.draw(windows(nd))
    want, err = outcome(pooling.__dict__[f"max_pool{nd}d"], x, return_indices=True,
                        data_format=data_format, **kw)
    if err is not None:
        return
    y, idx = want
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    g = make_values(rng, y.shape, x.dtype)
    g_chunks = tuple(data.draw(chunking(n)) for n in g.shape)
    ref = getattr(pooling, f"max_pool{nd}d_backward")(g, idx, x.shape, data_format)
    lazy_idx = pd.__dict__[f"max_pool{nd}d"](da.from_array(x, chunks=chunks),
                                            return_indices=True, data_format=data_format,
                                            **kw)[1]
    got = pd.__dict__[f"max_pool{nd}d_backward"](da.from_array(g, chunks=g_chunks), lazy_idx,
                                                 x.shape, data_format)
    same(got.compute(), ref)
    # Indices from elsewhere, with the windows given explicitly.
    del kw["ceil_mode"]
    got = pd.__dict__[f"max_pool{nd}d_backward"](da.from_array(g, chunks=g_chunks),
                                                 da.from_array(idx, chunks=g_chunks),
                                                 x.shape, data_format, **kw)
    same(got.compute(), ref)


@more_examples(0.3)
@given(case(FLOATS + [np.int64]), st.data())
def test_avg_pool_backward(c, data):
    x, _, data_format, nd = c
    kw = data.draw(windows(nd, dilation=False))
    kw.update(count_include_pad=data.draw(st.booleans()),
              divisor_override=data.draw(st.sampled_from([None, 1, 3, -2])))
    eager = getattr(pooling, f"avg_pool{nd}d_backward")
    y, err = outcome(getattr(pooling, f"avg_pool{nd}d"), x, data_format=data_format, **kw)
    if err is not None:
        return
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    g = with_bits(rng, make_values(rng, y.shape, x.dtype))
    g_chunks = tuple(data.draw(chunking(n)) for n in g.shape)
    ref = eager(g, x.shape, data_format=data_format, **kw)
    got = getattr(pd, f"avg_pool{nd}d_backward")(da.from_array(g, chunks=g_chunks), x.shape,
                                                 data_format=data_format, **kw)
    same(got.compute(), ref)


@more_examples(0.3)
@given(st.data())
def test_fractional_max_pool(data):
    nd = data.draw(st.integers(2, 3))
    last = data.draw(st.booleans())
    spatial = tuple(data.draw(st.integers(2, 9)) for _ in range(nd))
    c = data.draw(st.integers(1, 3))
    lead = (data.draw(st.integers(1, 2)),) if data.draw(st.booleans()) else ()
    shape = lead + ((spatial + (c,)) if last else ((c,) + spatial))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = with_bits(rng, make_values(rng, shape, data.draw(st.sampled_from(FLOATS))))
    chunks = tuple(data.draw(chunking(n)) for n in shape)
    k = data.draw(st.integers(1, 3))
    sizes = tuple(data.draw(st.integers(1, max(1, n - k))) for n in spatial)
    kw = dict(kernel_size=k, output_size=sizes, return_indices=data.draw(st.booleans()),
              data_format=LAYOUTS[nd][last])
    if data.draw(st.booleans()):
        kw["random_samples"] = rng.random((lead[0] if lead else 1, c, nd))
    else:
        kw["rng"] = data.draw(st.integers(0, 100))
    compare("fractional_max_pool", nd, x, chunks, **kw)


def test_backward_sums_overlaps_in_pytorch_order():
    """Stride 1 windows of 5: each input element sums five terms from
    outputs of up to five size-1 chunks; float32 sums of these values
    depend on the order."""
    rng = np.random.default_rng(7)
    g = (rng.standard_normal((1, 1, 40)) * 10.0 ** rng.integers(-4, 5, (1, 1, 40))
         ).astype(np.float32)
    shape = (1, 1, 44)
    ref = pooling.avg_pool1d_backward(g, shape, 5, 1)
    got = pd.avg_pool1d_backward(da.from_array(g, chunks=(1, 1, 1)), shape, 5, 1)
    same(got.compute(), ref)


def test_halo_spans_several_chunks_and_chunks_smaller_than_the_stride():
    rng = np.random.default_rng(1)
    x = make_values(rng, (2, 3, 30, 31), np.float32)
    for chunks in [(1, 1, 1, 1), (2, 3, (2, 1, 3, 20, 4), 2), (1, 2, 7, 3)]:
        for kw in [dict(kernel_size=7, stride=1, padding=3), dict(kernel_size=2, stride=5),
                   dict(kernel_size=5, stride=3, padding=2, ceil_mode=True, dilation=2)]:
            compare("max_pool", 2, x, chunks, return_indices=True, **kw)


def test_threaded_scheduler():
    rng = np.random.default_rng(2)
    x = make_values(rng, (2, 4, 20, 21, 22), np.float32)
    dx = da.from_array(x, chunks=(1, 2, 7, 8, 9))
    y, i = pd.max_pool3d(dx, 3, 2, 1, return_indices=True)
    with dask.config.set(scheduler="threads"):
        y, i = dask.compute(y, i)
    ry, ri = pooling.max_pool3d(x, 3, 2, 1, return_indices=True)
    same(y, ry, payload=True)
    same(i, ri)


def test_non_native_byte_order():
    x = np.arange(2 * 3 * 10 * 11, dtype=">f4").reshape(2, 3, 10, 11)
    dx = da.from_array(x, chunks=(1, 2, 4, 5))
    same(pd.max_pool2d(dx, 3, 2, 1).compute(), pooling.max_pool2d(x, 3, 2, 1), payload=True)
    same(pd.avg_pool2d(dx, 3, 2, 1).compute(), pooling.avg_pool2d(x, 3, 2, 1))


def test_signatures_are_the_in_memory_ones():
    """Parameter for parameter, defaults included; the max backward adds
    keyword-only window arguments after them."""
    import inspect
    for name in set(pd.__all__) - {"pyramid", "set_task_threads"}:  # (no in-memory twins)
        want = list(inspect.signature(getattr(pooling, name)).parameters.values())
        got = list(inspect.signature(getattr(pd, name)).parameters.values())
        assert got[:len(want)] == want, name
        extra = [p.name for p in got[len(want):]]
        assert extra == ([] if "max_pool" not in name or "backward" not in name
                         else ["kernel_size", "stride", "padding", "dilation"]), name


# -- dispatch ------------------------------------------------------------

def test_top_level_functions_return_dask_arrays():
    rng = np.random.default_rng(3)
    x = make_values(rng, (2, 3, 9, 10), np.float32)
    dx = da.from_array(x, chunks=(1, 2, 4, 3))
    for name, args, kw in [("max_pool2d", (3, 2, 1), {}),
                           ("avg_pool2d", (3, 2, 1), dict(count_include_pad=False)),
                           ("lp_pool2d", (2, 3, 2), {}),
                           ("fractional_max_pool2d", (2,), dict(output_size=4, rng=1))]:
        got = getattr(pooling, name)(dx, *args, **kw)
        assert isinstance(got, da.Array)
        same(got.compute(), getattr(pooling, name)(x, *args, **kw))
    y, idx = pooling.max_pool2d(dx, 3, 2, 1, return_indices=True)
    assert isinstance(y, da.Array) and isinstance(idx, da.Array)
    g = da.ones_like(y)
    got = pooling.max_pool2d_backward(g, idx, x.shape)
    assert isinstance(got, da.Array)
    ri = pooling.max_pool2d(x, 3, 2, 1, return_indices=True)[1]
    same(got.compute(), pooling.max_pool2d_backward(np.ones(y.shape, np.float32), ri, x.shape))
    got = pooling.avg_pool2d_backward(g, x.shape, 3, 2, 1)
    assert isinstance(got, da.Array)
    same(got.compute(), pooling.avg_pool2d_backward(np.ones(y.shape, np.float32), x.shape,
                                                    3, 2, 1))
    for name in ["max_pool1d", "max_pool3d", "avg_pool1d", "avg_pool3d", "lp_pool1d",
                 "lp_pool3d"]:
        nd = int(name[-2])
        dz = da.ones((1, 2) + (4,) * nd, chunks=2)
        args = (2, 2) if name.startswith("lp") else (2,)
        assert isinstance(getattr(pooling, name)(dz, *args), da.Array)


def test_functions_without_a_dask_form_refuse_dask_arrays():
    dx = da.ones((1, 2, 8, 8), chunks=4)
    for call in [lambda: pooling.adaptive_max_pool2d(dx, 2),
                 lambda: pooling.adaptive_avg_pool2d(dx, 2),
                 lambda: pooling.max_unpool2d(dx, dx.astype(np.int64), 2)]:
        with pytest.raises(TypeError, match="dask array"):
            call()


def test_import_pooling_does_not_import_dask():
    code = ("import sys, numpy as np, pooling; "
            "pooling.max_pool2d(np.zeros((1, 1, 4, 4), np.float32), 2); "
            "pooling.avg_pool2d([[[1.0, 2.0]]], 1); "
            "assert 'dask' not in sys.modules, sorted(m for m in sys.modules if 'dask' in m)")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- refusals before any task runs -------------------------------------------

def poisoned(shape, chunks, dtype=np.float32):
    """A dask array whose every task fails: a refusal at graph construction
    never runs one; a successful construction must not either."""
    def boom(block):
        raise AssertionError("a task ran")
    return da.zeros(shape, chunks=chunks, dtype=dtype).map_blocks(boom, dtype=dtype)


def test_construction_runs_no_task():
    x = poisoned((2, 3, 16, 16), (1, 2, 5, 5))
    y, i = pd.max_pool2d(x, 3, 2, 1, return_indices=True)
    pd.avg_pool2d(x, 3, 2, 1, ceil_mode=True)
    pd.lp_pool2d(x, 2, 3)
    pd.max_pool2d_backward(y, i, x.shape)
    pd.avg_pool2d_backward(y, x.shape, 3, 2, 1)
    with pytest.raises(AssertionError, match="a task ran"):
        y.compute()


@pytest.mark.parametrize("call, exc, match", [
    (lambda x: pd.max_pool2d(np.zeros((1, 1, 4, 4)), 2), TypeError,
     "input must be a dask.array.Array.*numpy.ndarray"),
    (lambda x: pd.max_pool2d(x, 0), ValueError, "kernel_size should be greater than zero"),
    (lambda x: pd.max_pool2d(x, 2, padding=2), ValueError, "pad should be smaller"),
    (lambda x: pd.max_pool2d(x, 2, data_format="NCL"), ValueError, "data_format"),
    (lambda x: pd.max_pool2d(x, 20), ValueError, "Output size is too small"),
    (lambda x: pd.max_pool2d(x.astype(bool), 2), TypeError, "unsupported dtype bool"),
    (lambda x: pd.max_pool2d(x.astype(np.complex64), 2), TypeError, "unsupported dtype"),
    (lambda x: pd.avg_pool2d(x.astype(np.int32), 2), TypeError, "unsupported dtype int32"),
    (lambda x: pd.avg_pool2d(x, 2, divisor_override=0), ValueError, "divisor must be not zero"),
    (lambda x: pd.lp_pool2d(x, 0, 2), ValueError, "norm_type must be non-zero"),
    (lambda x: pd.max_pool2d(x[0, 0], 2), ValueError, "expected a 3D"),
    (lambda x: pd.max_pool2d(x[x[:, 0, 0, 0] > 0], 2), ValueError, "unknown chunk sizes"),
    (lambda x: pd.max_pool2d(x, 2, out=np.zeros((1, 1, 4, 4))), TypeError, "out must be None"),
    (lambda x: pooling.avg_pool2d(x, 2, out=np.zeros((1, 1, 4, 4))), TypeError,
     "out must be None"),
    (lambda x: pd.max_pool2d_backward(x, x.astype(np.int64), x.shape), TypeError,
     "needs the pooling windows"),
    (lambda x: pd.max_pool2d_backward(x[..., :4, :4], x[..., :4, :4].astype(np.int64),
                                      x.shape, kernel_size=3), ValueError,
     "is not the output of pooling"),
    (lambda x: pd.avg_pool2d_backward(x, (2, 3, 8, 8), 2), ValueError,
     "does not match the output"),
    (lambda x: pd.avg_pool2d_backward(np.zeros((1, 1, 4, 4)), (1, 1, 8, 8), 2), TypeError,
     "grad_output must be a dask.array.Array"),
])
def test_bad_input_refused_at_graph_construction(call, exc, match):
    x = poisoned((2, 3, 8, 8), (1, 2, 3, 5))
    with pytest.raises(exc, match=match):
        call(x)


def test_indices_outside_their_window_fail_when_computed():
    g = da.ones((1, 1, 4), chunks=2, dtype=np.float32)
    idx = da.from_array(np.array([[[0, 7, 2, 3]]]), chunks=2)
    got = pd.max_pool1d_backward(g, idx, (1, 1, 8), kernel_size=2)
    with pytest.raises(ValueError, match="does not lie in its output's pooling window"):
        got.compute()
    got = pd.max_pool1d_backward(g, idx * 0 + 9, (1, 1, 8), kernel_size=2)
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 8\)"):
        got.compute()


# -- graph size ---------------------------------------------------------------

def _own_tasks(result, *sources):
    before = set().union(*(dict(s.__dask_graph__()) for s in sources))
    return len(set(dict(result.__dask_graph__())) - before)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=7, stride=1, padding=3),
                                dict(kernel_size=3, stride=2, padding=1, dilation=2)])
def test_task_count_is_linear_in_blocks(kw):
    """One task per output block (three with indices: the pair, values,
    indices), however small the chunks against the window; each reads a
    bounded number of input chunks."""
    for n_blocks in (4, 16, 64):
        x = da.zeros((1, 1, 16, 8 * n_blocks), chunks=(1, 1, 16, 8), dtype=np.float32)
        y = pd.max_pool2d(x, **kw)
        assert _own_tasks(y, x) == y.npartitions <= x.npartitions
        y, i = pd.max_pool2d(x, return_indices=True, **kw)
        assert _own_tasks(y, x) == 2 * y.npartitions
        gy = da.zeros(y.shape, chunks=y.chunks, dtype=y.dtype)
        g = pd.max_pool2d_backward(gy, i, x.shape)
        assert _own_tasks(g, gy, i) == g.npartitions
        deps = max(len(set(v[1])) for v in dict(y.__dask_graph__()).values()
                   if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], list))
        assert deps <= 3
    x = da.zeros((1, 1, 512), chunks=1, dtype=np.float32)  # chunks far below the window
    y = pd.max_pool1d(x, 7, 1, 3)
    assert _own_tasks(y, x) == y.npartitions <= 512

"""``out=``: every function writes into preallocated outputs and returns
them, equal bit for bit to its results without ``out`` (values, indices,
gradients), for every dtype, both layouts, unbatched and empty inputs and
every writeable memory layout of ``out`` (the kernels' own layout is written
directly, any other through a copy); every refusal with its message; inputs
untouched; the layers' reuse of their argmax cache is invisible."""
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import reference
from pooling._params import LAYOUTS, spatial_of

from strategies import ALL_DTYPES, FLOAT_DTYPES, make_values, with_layout

MODULES = {"pooling": pooling, "reference": reference}
# the writeable layouts of strategies.with_layout
OUT_LAYOUTS = ["contiguous", "fortran", "strided", "flipped", "channels_last"]


def fn(module, name, nd):
    return getattr(MODULES[module], name.format(nd))


def make_out(like, layout, nd, data_format):
    """An array of like's shape and dtype in ``layout``, holding garbage
    (never zeros: the backward's zero fill must show)."""
    junk = np.full(like.shape, 77, dtype=like.dtype)
    return with_layout(junk, layout, nd, data_format)


def bits(a):
    a = np.ascontiguousarray(a)
    return a.view(f"u{a.itemsize}") if a.dtype.kind == "f" else a


def assert_same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(bits(got), bits(want))


def make_input(rng, nd, dtype, batch, channels, size, last, layout, low=1):
    """(array in the user's layout, its data_format); spatial sizes from low
    to size."""
    lead = (channels,) if batch is None else (batch, channels)
    spatial = tuple(int(n) for n in rng.integers(low, size + 1, size=nd))
    x = make_values(rng, lead + spatial, dtype)
    fmt = LAYOUTS[nd][1 if last else 0]
    if last:
        x = np.moveaxis(x, -nd - 1, -1)
    return with_layout(x, layout, nd, fmt), fmt


def call_with_out(f, args, kw, want, out_layouts, nd, fmt, single_as_tuple=False):
    """f(*args, **kw, out=...) equals ``want`` and returns out's arrays."""
    pair = isinstance(want, tuple)
    wants = want if pair else (want,)
    outs = tuple(make_out(w, lay, nd, fmt) for w, lay in zip(wants, out_layouts))
    out = outs if pair or single_as_tuple else outs[0]
    got = f(*args, **kw, out=out)
    if pair:
        assert type(got) is tuple and len(got) == 2
        assert got[0] is outs[0] and got[1] is outs[1]
    else:
        assert got is outs[0]
    for g, w in zip(got if pair else (got,), wants):
        assert_same(g, w)


common = dict(module=st.sampled_from(sorted(MODULES)), nd=st.sampled_from([1, 2, 3]),
              dtype=st.sampled_from(ALL_DTYPES), batch=st.sampled_from([None, 0, 1, 2]),
              channels=st.sampled_from([1, 2, 3, 5]), size=st.integers(1, 6),
              last=st.booleans(),
              in_layout=st.sampled_from(["contiguous", "channels_last", "strided"]),
              out_layouts=st.tuples(st.sampled_from(OUT_LAYOUTS),
                                    st.sampled_from(OUT_LAYOUTS)),
              seed=st.integers(0, 2**32 - 1))


@given(k=st.integers(1, 3), s=st.integers(1, 3), ceil=st.booleans(),
       return_indices=st.booleans(), as_tuple=st.booleans(), **common)
def test_max_pool_out(backend, module, nd, dtype, batch, channels, size, last, in_layout,
                      out_layouts, seed, k, s, ceil, return_indices, as_tuple):
    rng = np.random.default_rng(seed)
    x, fmt = make_input(rng, nd, dtype, batch, channels, size + k, last, in_layout)
    before = x.copy()
    f = fn(module, "max_pool{}d", nd)
    kw = dict(kernel_size=k, stride=s, padding=k // 2, ceil_mode=ceil,
              return_indices=return_indices, data_format=fmt)
    # Twice around the call without out: once before a plan may be kept for
    # it, once from the kept plan.
    call_with_out(f, (x,), kw, f(x, **kw), out_layouts, nd, fmt, as_tuple)
    call_with_out(f, (x,), kw, f(x, **kw), out_layouts[::-1], nd, fmt, as_tuple)
    assert_same(x, before)


@given(k=st.integers(1, 3), **common)
def test_backward_out(backend, module, nd, dtype, batch, channels, size, last, in_layout,
                      out_layouts, seed, k):
    rng = np.random.default_rng(seed)
    x, fmt = make_input(rng, nd, dtype, batch, channels, size + k, last, in_layout, k)
    gdtype = dtype if np.dtype(dtype) in map(np.dtype, FLOAT_DTYPES) else np.float32
    _, idx = fn(module, "max_pool{}d", nd)(x, k, 1, return_indices=True, data_format=fmt)
    g = with_layout(make_values(rng, idx.shape, gdtype, special=False), in_layout, nd, fmt)
    idx = with_layout(idx, out_layouts[1], nd, fmt)
    before = g.copy(), idx.copy()
    f = fn(module, "max_pool{}d_backward", nd)
    args = (g, idx, x.shape, fmt)
    call_with_out(f, args, {}, f(*args), out_layouts, nd, fmt)
    assert_same(g, before[0])
    assert_same(idx, before[1])


@given(k=st.integers(1, 3), **common)
def test_unpool_out(backend, module, nd, dtype, batch, channels, size, last, in_layout,
                    out_layouts, seed, k):
    rng = np.random.default_rng(seed)
    x, fmt = make_input(rng, nd, dtype, batch, channels, size + k, last, in_layout, k)
    y, idx = fn(module, "max_pool{}d", nd)(x, k, return_indices=True, data_format=fmt)
    f = fn(module, "max_unpool{}d", nd)
    args = (with_layout(y, in_layout, nd, fmt), idx, k)
    kw = dict(data_format=fmt, output_size=spatial_of(x.shape, nd, last))
    call_with_out(f, args, kw, f(*args, **kw), out_layouts, nd, fmt)


@given(out_size=st.integers(0, 5), return_indices=st.booleans(), **common)
def test_adaptive_out(backend, module, nd, dtype, batch, channels, size, last, in_layout,
                      out_layouts, seed, out_size, return_indices):
    # sizes up to 11 against outputs up to 5: windows that tile the input
    # (max pooling's loops) and that do not (the adaptive kernel)
    rng = np.random.default_rng(seed)
    x, fmt = make_input(rng, nd, dtype, batch, channels, 2 * size, last, in_layout)
    before = x.copy()
    f = fn(module, "adaptive_max_pool{}d", nd)
    kw = dict(return_indices=return_indices, data_format=fmt)
    call_with_out(f, (x, out_size), kw, f(x, out_size, **kw), out_layouts, nd, fmt)
    assert_same(x, before)


def test_out_zero_fill_of_untouched_gradient(backend):
    """Padding never read, and strides skipping rows: the gradient's
    untouched elements are zeros whatever out held, in both layouts and
    every out layout (the write-once unfold and the scatter)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 40, 9, 70)).astype(np.float32)
    for kw in (dict(kernel_size=2, stride=3), dict(kernel_size=2), dict(kernel_size=3,
                                                                         padding=1)):
        for fmt, xx in (("NCHW", x), ("NHWC", np.moveaxis(x, 1, -1))):
            y, idx = pooling.max_pool2d(xx, return_indices=True, data_format=fmt, **kw)
            g = np.ones_like(y)
            want = pooling.max_pool2d_backward(g, idx, xx.shape, fmt)
            for layout in OUT_LAYOUTS:
                o = make_out(want, layout, 2, fmt)
                assert pooling.max_pool2d_backward(g, idx, xx.shape, fmt, out=o) is o
                assert_same(o, want)


@pytest.mark.parametrize("fmt", ["NCHW", "NHWC"])
def test_layer_cache_reuse_is_invisible(backend, fmt):
    """A layer may write a forward's argmax over the last one's (internal);
    the values it returns stay the caller's, and backward follows the last
    forward, also when forward runs twice before it."""
    rng = np.random.default_rng(1)
    shape = (2, 3, 8, 8) if fmt == "NCHW" else (2, 8, 8, 3)
    x1, x2 = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    g = rng.standard_normal(pooling.MaxPool2D(3, 2, 1, data_format=fmt).output_shape(shape))
    g = g.astype(np.float32)
    layer = pooling.MaxPool2D(3, stride=2, padding=1, data_format=fmt)
    y1 = layer.forward(x1)
    kept = y1.copy()
    d1 = layer.backward(g)
    y2 = layer.forward(x2)
    y3 = layer.forward(x1)        # twice before backward: the last one counts
    assert y1 is not y2 and y1 is not y3
    assert_same(y1, kept)
    assert_same(y2, pooling.max_pool2d(x2, 3, 2, 1, data_format=fmt))
    assert_same(layer.backward(g), d1)
    layer.forward(x2)
    fresh = pooling.MaxPool2D(3, stride=2, padding=1, data_format=fmt)
    fresh.forward(x2)
    assert_same(layer.backward(g), fresh.backward(g))
    # another shape: a new cache
    small = x1[:1, ...]
    assert_same(layer.forward(small), pooling.max_pool2d(small, 3, 2, 1, data_format=fmt))
    assert layer._argmax.shape == pooling.MaxPool2D(3, 2, 1, data_format=fmt).output_shape(
        small.shape)


# ---------------------------------------------------------------- refusals

X = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
Y_SHAPE = (2, 3, 2, 2)
Y_SIZE = int(np.prod(Y_SHAPE))


def _bad(f, out, err, match, *args, **kw):
    with pytest.raises(err, match=match):
        f(*args, **kw, out=out)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_out_refusals(backend, module):
    m = MODULES[module]
    y = np.empty(Y_SHAPE, np.float32)
    i = np.empty(Y_SHAPE, np.int64)
    ro = np.empty(Y_SHAPE, np.float32)
    ro.setflags(write=False)
    f = m.max_pool2d
    pair = "max_pool2d: out must be a tuple \\(y, indices\\) of two arrays with return_indices=True"
    for _ in range(2):  # the full path, then the kept plan's
        _bad(f, [0.0], TypeError,
             r"^max_pool2d: out must be a numpy.ndarray, but got out=list$", X, 2)
        _bad(f, np.empty((2, 3, 2), np.float32), ValueError,
             r"^max_pool2d: out has the wrong shape: expected \(2, 3, 2, 2\), but got "
             r"\(2, 3, 2\)$", X, 2)
        _bad(f, np.empty(Y_SHAPE, np.float64), TypeError,
             r"^max_pool2d: out has the wrong dtype: expected float32 \(no casting\), but got "
             r"float64$", X, 2)
        _bad(f, ro, ValueError, r"^max_pool2d: out is read-only; expected a writeable array$",
             X, 2)
        _bad(f, (y, i), ValueError, r"^max_pool2d: out must be an array or a tuple of one "
             r"array, but got a tuple of 2$", X, 2)
        _bad(f, y, TypeError, rf"^{pair}, but got out=array of shape \(2, 3, 2, 2\) and "
             r"dtype float32$", X, 2, return_indices=True)
        _bad(f, (y,), ValueError, rf"^{pair}, but got a tuple of 1$", X, 2, return_indices=True)
        _bad(f, (y, i, i), ValueError, rf"^{pair}, but got a tuple of 3$", X, 2,
             return_indices=True)
        _bad(f, (y, None), TypeError, r"^max_pool2d: out\[1\] must be a numpy.ndarray, but "
             r"got out\[1\]=NoneType$", X, 2, return_indices=True)
        _bad(f, (y, i.astype(np.int32)), TypeError, r"^max_pool2d: out\[1\] has the wrong "
             r"dtype: expected int64 \(no casting\), but got int32$", X, 2, return_indices=True)
        _bad(f, (y, y), TypeError, r"^max_pool2d: out\[1\] has the wrong dtype", X, 2,
             return_indices=True)
        f(X, 2)
        f(X, 2, return_indices=True)  # plans kept for the second round
    # out[0] and out[1] in one buffer
    buf = np.empty(3 * Y_SIZE, np.float32)
    y2 = buf[:Y_SIZE].reshape(Y_SHAPE)
    i2 = buf[Y_SIZE - 2:3 * Y_SIZE - 2].view(np.int64).reshape(Y_SHAPE)
    _bad(f, (y2, i2), ValueError, r"^max_pool2d: out\[0\] and out\[1\] share memory; "
         r"expected two arrays that do not overlap$", X, 2, return_indices=True)
    # the same buffer, apart: fine
    y3, i3 = buf[:Y_SIZE].reshape(Y_SHAPE), buf[Y_SIZE:].view(np.int64).reshape(Y_SHAPE)
    assert f(X, 2, return_indices=True, out=(y3, i3))[1] is i3
    # overlap with the input: out a view of x (also through a transpose)
    x = X.copy()
    for view in (x[:, :, :2, :2], x[:, :, 2:, 2:].transpose(0, 1, 3, 2)):
        for _ in range(2):
            _bad(f, view, ValueError, r"^max_pool2d: out shares memory with input; expected an "
                 r"output that does not overlap the inputs$", x, 2)
            f(x, 2)
        _bad(f, (view, i), ValueError, r"^max_pool2d: out\[0\] shares memory with input",
             x, 2, return_indices=True)
    np.testing.assert_array_equal(x, X)
    # a disjoint part of the input's buffer is fine: every other column
    whole = np.zeros((2, 3, 4, 8), np.float32)
    whole[..., ::2] = X
    got = f(whole[..., ::2], 2, out=whole[:, :, :2, 1::4])
    np.testing.assert_array_equal(got, f(X, 2))
    np.testing.assert_array_equal(whole[..., ::2], X)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_out_refusals_other_functions(backend, module):
    m = MODULES[module]
    y, i = m.max_pool2d(X, 2, return_indices=True)
    g = np.ones_like(y)
    bw = m.max_pool2d_backward
    _bad(bw, np.empty((2, 3, 4, 5), np.float32), ValueError,
         r"^max_pool2d_backward: out has the wrong shape: expected \(2, 3, 4, 4\), but got "
         r"\(2, 3, 4, 5\)$", g, i, X.shape)
    _bad(bw, np.empty(X.shape, np.float64), TypeError,
         r"^max_pool2d_backward: out has the wrong dtype: expected float32 \(no casting\), "
         r"but got float64$", g, i, X.shape)
    # out over grad_output, and over the indices
    big = np.zeros(X.size + g.size, np.float32)
    gv = big[X.size:].reshape(g.shape)
    gv[...] = g
    _bad(bw, big[g.size:].reshape(X.shape), ValueError,
         r"^max_pool2d_backward: out shares memory with grad_output; expected an output that "
         r"does not overlap the inputs$", gv, i, X.shape)
    ib = np.zeros(X.size // 2, np.int64)
    iv = ib[:i.size].reshape(i.shape)
    iv[...] = i
    _bad(bw, ib.view(np.float32).reshape(X.shape), ValueError,
         r"^max_pool2d_backward: out shares memory with indices", g, iv, X.shape)
    np.testing.assert_array_equal(iv, i)
    un = m.max_unpool2d
    _bad(un, [1], TypeError, r"^max_unpool2d: out must be a numpy.ndarray, but got out=list$",
         y, i, 2)
    _bad(un, y.copy(), ValueError, r"^max_unpool2d: out has the wrong shape: expected "
         r"\(2, 3, 4, 4\), but got \(2, 3, 2, 2\)$", y, i, 2)
    _bad(un, np.empty(X.shape, np.int32), TypeError, r"^max_unpool2d: out has the wrong dtype",
         y, i, 2)
    _bad(un, ib.view(np.float32).reshape(X.shape), ValueError,
         r"^max_unpool2d: out shares memory with indices", y, iv, 2)
    yb = np.zeros(X.size, np.float32)
    yv = yb[:y.size].reshape(y.shape)
    _bad(un, yb.reshape(X.shape), ValueError, r"^max_unpool2d: out shares memory with input",
         yv, i, 2)
    ad = m.adaptive_max_pool2d
    _bad(ad, np.empty((2, 3, 3, 3), np.float32), ValueError,
         r"^adaptive_max_pool2d: out has the wrong shape: expected \(2, 3, 2, 2\), but got "
         r"\(2, 3, 3, 3\)$", X, 2)
    _bad(ad, (np.empty(Y_SHAPE, np.float32),), ValueError,
         r"^adaptive_max_pool2d: out must be a tuple \(y, indices\) of two arrays", X, 2,
         return_indices=True)
    x = X.copy()
    _bad(ad, x[:, :, 1:3, 1:3], ValueError, r"^adaptive_max_pool2d: out shares memory with "
         r"input", x, 2)
    np.testing.assert_array_equal(x, X)


def test_refused_out_leaves_it_and_the_inputs_alone(backend):
    """A refused call writes nothing."""
    y = np.full(Y_SHAPE, 5, np.float32)
    with pytest.raises(TypeError):
        pooling.max_pool2d(X, 2, return_indices=True, out=(y, np.empty(Y_SHAPE, np.int32)))
    assert (y == 5).all()


def _peak(f):
    """Peak bytes NumPy allocates during f() (NumPy reports to tracemalloc)."""
    tracemalloc.start()
    try:
        f()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["NCHW", "NHWC", "channels_last memory"])
def test_kernels_write_into_out_directly(cython_backend, fmt):
    """out laid out as the kernels' own outputs is written by the loops
    (nothing of its size allocated: the fast path is taken); any other
    layout through a temporary (the copy path)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 32, 32, 32)).astype(np.float32)
    data_format = "NCHW"
    if fmt == "NHWC":
        x, data_format = np.ascontiguousarray(np.moveaxis(x, 1, -1)), "NHWC"
    elif fmt != "NCHW":
        x = with_layout(x, "channels_last")
    kw = dict(data_format=data_format)
    y, i = pooling.max_pool2d(x, 2, return_indices=True, **kw)
    a = pooling.adaptive_max_pool2d(x, 5, **kw)
    runs = [  # (call, its out, the size of a temporary)
        (lambda o: pooling.max_pool2d(x, 2, **kw, out=o), np.empty_like(y), y.nbytes),
        (lambda o, io=np.empty_like(i): pooling.max_pool2d(x, 2, return_indices=True, **kw,
                                                           out=(o, io)),
         np.empty_like(y), y.nbytes),
        (lambda o: pooling.max_pool2d_backward(y, i, x.shape, out=o, **kw), np.empty_like(x),
         x.nbytes),
        (lambda o: pooling.max_unpool2d(y, i, 2, out=o, **kw), np.empty_like(x), x.nbytes),
        (lambda o: pooling.adaptive_max_pool2d(x, 5, out=o, **kw), np.empty_like(a), a.nbytes)]
    for call, o, size in runs:
        call(o)  # a plan kept, where the call has one
        # the least of three calls: a one-off Python allocation (a cache
        # entry, a gc pass) once added 1.5 KB to a single call's 2.3 KB in
        # CI; a temporary of the output's size would be in every call
        assert min(_peak(lambda: call(o)) for _ in range(3)) < size / 4
        f = np.asfortranarray(o)
        assert _peak(lambda: call(f)) >= size
    # the layer writes its argmax over the last one's: nothing of its size
    layer = pooling.MaxPool2D(2, **kw)
    layer.forward(x)
    assert _peak(lambda: layer.forward(x)) < y.nbytes + y.size // 2

"""Channels-last data (data_format="NLC"/"NHWC"/"NDHWC"): the native
kernels against the reference, results equal to the channels-first ones
transposed, PyTorch's channels_last conformance.  Refusals are in
test_bad_input.py."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import pooling
from pooling import reference
from pooling._params import LAYOUTS

from strategies import (ALL_DTYPES, FLOAT_DTYPES, assert_same_bits, axis_and_output,
                        make_values, more_examples, outcome, scan_reference, with_bits,
                        with_layout)

LAST = {nd: formats[1] for nd, formats in LAYOUTS.items()}  # NLC, NHWC, NDHWC


def fn(name, nd, module=pooling):
    return getattr(module, name.format(nd))


def to_last(a, batched=True):
    """A channels-first array's values, channels last (a view)."""
    return np.moveaxis(a, 1 if batched else 0, -1)


@more_examples(1.25)  # 250 examples with the standard profile
@given(nd=st.sampled_from([1, 2, 3]), dtype=st.sampled_from(ALL_DTYPES),
       k=st.integers(1, 3), s=st.one_of(st.none(), st.integers(1, 3)), d=st.integers(1, 2),
       pad=st.integers(0, 1), ceil=st.booleans(), batch=st.sampled_from([None, 0, 1, 2]),
       channels=st.sampled_from([0, 1, 2, 3, 4, 5, 17]), size=st.integers(1, 7),
       how=st.sampled_from(["contiguous", "strided", "fortran"]),
       seed=st.integers(0, 2**32 - 1))
def test_pooling_channels_last(cython_backend, nd, dtype, k, s, d, pad, ceil, batch, channels,
                               size, how, seed):
    rng = np.random.default_rng(seed)
    lead = (channels,) if batch is None else (batch, channels)
    spatial = tuple(rng.integers(1, size + 1, size=nd))
    x = make_values(rng, lead + spatial, dtype)
    xl = with_layout(to_last(x, batch is not None), how, nd, LAST[nd])
    before = xl.copy()
    kw = dict(kernel_size=k, stride=s, padding=min(pad, k // 2), dilation=d, ceil_mode=ceil)
    want, err = outcome(fn("max_pool{}d", nd, reference), x, return_indices=True, **kw)
    got, got_err = outcome(fn("max_pool{}d", nd), xl, return_indices=True,
                           data_format=LAST[nd], **kw)
    assert (err is None) == (got_err is None), (err, got_err)
    np.testing.assert_array_equal(xl, before)
    if err:
        return
    (y, i), (ry, ri) = got, want
    eq_nan = y.dtype.kind == "f"
    b = batch is not None
    assert y.dtype == x.dtype and y.shape == to_last(ry, b).shape
    assert np.array_equal(y, to_last(ry, b), equal_nan=eq_nan)
    assert np.array_equal(i, to_last(ri, b))
    if how == "contiguous" and y.size:
        assert y.flags.c_contiguous and i.flags.c_contiguous  # the layout is kept
    # the reference takes data_format too
    ref_l = fn("max_pool{}d", nd, reference)(xl, data_format=LAST[nd], **kw)
    assert np.array_equal(ref_l, y, equal_nan=eq_nan)
    # backward: flat indices, and the layer's cache
    g = rng.standard_normal(ry.shape).astype(rng.choice(FLOAT_DTYPES))
    want_g = fn("max_pool{}d_backward", nd, reference)(g, ri, x.shape)
    gl = with_layout(to_last(g, b), how, nd, LAST[nd])
    got_g = fn("max_pool{}d_backward", nd)(gl, i, xl.shape, data_format=LAST[nd])
    assert np.array_equal(got_g, to_last(want_g, b))
    layer = getattr(pooling, f"MaxPool{nd}D")(data_format=LAST[nd], **kw)
    assert np.array_equal(layer.forward(xl), y, equal_nan=eq_nan)
    assert np.array_equal(layer.backward(gl), to_last(want_g, b))


@more_examples(1.25)  # 250 examples with the standard profile
@given(nd=st.sampled_from([1, 2, 3]), dtype=st.sampled_from(ALL_DTYPES),
       lead=st.sampled_from([(1, 3), (2, 5), (2, 1), (0, 2), (4,)]),
       size=st.integers(1, 7), out=st.integers(0, 5), k=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_adaptive_and_unpool_channels_last(cython_backend, nd, dtype, lead, size, out, k,
                                           seed):
    rng = np.random.default_rng(seed)
    spatial = tuple(rng.integers(1, size + 1, size=nd))
    x = make_values(rng, lead + spatial, dtype)
    b = len(lead) == 2
    xl = np.ascontiguousarray(to_last(x, b))
    want, err = outcome(fn("adaptive_max_pool{}d", nd, reference), x, out, True)
    got, got_err = outcome(fn("adaptive_max_pool{}d", nd), xl, out, True,
                           data_format=LAST[nd])
    assert (err is None) == (got_err is None)
    if err is None:
        assert np.array_equal(got[0], to_last(want[0], b), equal_nan=dtype in FLOAT_DTYPES)
        assert np.array_equal(got[1], to_last(want[1], b))
    out_sp = tuple(n * k for n in spatial)
    idx = rng.integers(0, int(np.prod(out_sp)), size=x.shape)
    want_u = fn("max_unpool{}d", nd, reference)(x, idx, k, output_size=out_sp)
    got_u = fn("max_unpool{}d", nd)(xl, np.ascontiguousarray(to_last(idx, b)), k,
                                    output_size=out_sp, data_format=LAST[nd])
    assert np.array_equal(got_u, to_last(want_u, b), equal_nan=dtype in FLOAT_DTYPES)
    layer = getattr(pooling, f"MaxUnpool{nd}D")(k, data_format=LAST[nd])
    layer.forward(xl, np.ascontiguousarray(to_last(idx, b)), out_sp)
    g = rng.standard_normal(got_u.shape).astype(np.float32)
    gather = np.take_along_axis(
        np.moveaxis(g, -1, -nd - 1).reshape(-1, int(np.prod(out_sp))),
        idx.reshape(-1, int(np.prod(spatial))), axis=1).reshape(x.shape)
    assert np.array_equal(layer.backward(g), to_last(gather, b))


@more_examples(1.25)  # 250 examples with the standard profile
@given(nd=st.sampled_from([1, 2, 3]), dtype=st.sampled_from(ALL_DTYPES),
       batch=st.sampled_from([None, 1, 2]), channels=st.sampled_from([2, 3, 5, 64, 520]),
       data=st.data(), how=st.sampled_from(["contiguous", "strided", "memory"]),
       seed=st.integers(0, 2**32 - 1))
def test_adaptive_channels_last_paths(cython_backend, nd, dtype, batch, channels, data, how,
                                      seed):
    # The channels-last kernel: lanes are channels (more than a lane chunk of
    # 512 in chunks), blocks of output pixels, window rows folded up to four
    # pixels at a time (whole groups in one call from eight on), each lane's
    # index found in its group, a lane with a NaN scanned again; int64 codes
    # beside 8-byte values, uint32 otherwise.  Bit-exact against PyTorch's
    # scan: signed zeros and NaN payloads.  "memory": a channels-first array
    # stored channels-last, no data_format.
    rng = np.random.default_rng(seed)
    small = channels > 64 or nd == 3
    spatial = tuple(data.draw(st.integers(1, 6 if small else 20)) for _ in range(nd))
    out = tuple(data.draw(axis_and_output(n)) for n in spatial)
    lead = (channels,) if batch is None else (batch, channels)
    x = with_bits(rng, make_values(rng, lead + spatial, dtype))
    want = scan_reference(x, out)
    fn = getattr(pooling, f"adaptive_max_pool{nd}d")
    b = batch is not None
    if how == "memory":
        xm = with_layout(x, "channels_last", nd)
        assert_same_bits(fn(xm, out, return_indices=True), want)
        assert_same_bits((fn(xm, out), want[1]), want)
        return
    xl = with_layout(to_last(x, b), how, nd, LAST[nd])
    y, i = fn(xl, out, return_indices=True, data_format=LAST[nd])
    assert_same_bits((np.moveaxis(y, -1, -nd - 1), np.moveaxis(i, -1, -nd - 1)), want)
    y = fn(xl, out, data_format=LAST[nd])
    assert_same_bits((np.moveaxis(y, -1, -nd - 1), want[1]), want)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8])
@pytest.mark.parametrize("shape, out", [   # each over 2**15 elements (threads)
    ((4, 64, 24, 24), (5, 5)), ((4, 64, 24, 24), (1, 1)), ((2, 600, 5, 7), (2, 3)),
    ((2, 3, 40, 200), (3, 7)), ((2, 8, 6, 9, 40), (2, 1, 3)),
])
def test_adaptive_channels_last_threads(cython_backend, threads, dtype, shape, out):
    rng = np.random.default_rng(12)
    x = with_bits(rng, make_values(rng, shape, dtype))
    nd = len(out)
    want = scan_reference(x, out)
    xl = np.ascontiguousarray(to_last(x))
    pooling.set_num_threads(threads)
    try:
        y, i = getattr(pooling, f"adaptive_max_pool{nd}d")(xl, out, return_indices=True,
                                                        data_format=LAST[nd])
    finally:
        pooling.set_num_threads(0)
    assert_same_bits((np.moveaxis(y, -1, 1), np.moveaxis(i, -1, 1)), want)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape, kw", [
    ((1, 64, 40, 40), dict(kernel_size=2)),                 # channel blocks over threads
    ((2, 600, 9, 8), dict(kernel_size=3, stride=2, padding=1)),  # > one 512 chunk
    ((3, 24, 33, 20), dict(kernel_size=3, stride=1, dilation=2)),
    ((1, 8, 40, 40), dict(kernel_size=17, stride=8, padding=8)),  # flat int64 accumulators
    ((2, 3, 6, 700), dict(kernel_size=3, stride=2, padding=1)),  # RGB: rows of pixel blocks
    ((1, 4, 5, 600), dict(kernel_size=2)),                  # RGBA
    ((2, 2, 3, 1100), dict(kernel_size=(1, 3), stride=1)),   # two channels
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int16])
def test_large_channels_last(cython_backend, threads, shape, kw, dtype):
    rng = np.random.default_rng(4)
    x = make_values(rng, shape, dtype)
    xl = np.ascontiguousarray(to_last(x))
    ry, ri = reference.max_pool2d(x, return_indices=True, **kw)
    pooling.set_num_threads(threads)
    try:
        y, i = pooling.max_pool2d(xl, return_indices=True, data_format="NHWC", **kw)
        assert np.array_equal(y, to_last(ry), equal_nan=True)
        assert np.array_equal(i, to_last(ri))
        if dtype == np.int16:
            return
        g = rng.standard_normal(ry.shape).astype(dtype)
        want = to_last(reference.max_pool2d_backward(g, ri, x.shape))
        gl = np.ascontiguousarray(to_last(g))
        assert np.array_equal(pooling.max_pool2d_backward(gl, i, xl.shape, "NHWC"), want)
        layer = pooling.MaxPool2D(data_format="NHWC", **kw)
        layer.forward(xl)
        assert np.array_equal(layer.backward(gl), want)
        u = pooling.max_unpool2d(y, i, kw["kernel_size"], kw.get("stride"),
                                 kw.get("padding", 0), output_size=x.shape[-2:],
                                 data_format="NHWC") if "dilation" not in kw else None
        if u is not None:
            ru = reference.max_unpool2d(ry, ri, kw["kernel_size"], kw.get("stride"),
                                        kw.get("padding", 0), output_size=x.shape[-2:])
            assert np.array_equal(u, to_last(ru), equal_nan=True)
    finally:
        pooling.set_num_threads(0)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=(2, 3), stride=(1, 2), dilation=2,
                                     ceil_mode=True)])
def test_matches_pytorch_channels_last(backend, kw):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(8)
    x = rng.integers(-3, 4, size=(2, 9, 7, 10)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    t = torch.from_numpy(x.copy()).contiguous(memory_format=torch.channels_last)
    t.requires_grad_()
    ty, ti = F.max_pool2d(t, return_indices=True, **kw)
    xl = np.ascontiguousarray(to_last(x))
    y, i = pooling.max_pool2d(xl, return_indices=True, data_format="NHWC", **kw)
    assert np.array_equal(y, to_last(ty.detach().numpy()), equal_nan=True)
    assert np.array_equal(i, to_last(ti.numpy()))
    g = rng.standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.from_numpy(g).contiguous(memory_format=torch.channels_last))
    got = pooling.max_pool2d_backward(np.ascontiguousarray(to_last(g)), i, xl.shape, "NHWC")
    assert np.array_equal(got, to_last(t.grad.numpy()))
    assert got.tobytes() == np.ascontiguousarray(to_last(t.grad.numpy())).tobytes()


def test_channels_last_memory_without_data_format(cython_backend):
    # An NCHW array that is channels-last in memory (PyTorch's channels_last
    # format) takes the channels-last kernel and keeps its layout.
    rng = np.random.default_rng(1)
    x = make_values(rng, (2, 8, 10, 12), np.float32)
    xm = with_layout(x, "channels_last")
    y, i = pooling.max_pool2d(xm, 3, 2, 1, return_indices=True)
    ry, ri = reference.max_pool2d(x, 3, 2, 1, return_indices=True)
    assert np.array_equal(y, ry, equal_nan=True) and np.array_equal(i, ri)
    assert np.moveaxis(y, 1, -1).flags.c_contiguous


# Channel blocks: at least 32 channels (64 for one-byte values) take the
# window-at-once loop (_cl_lanes_row); a channel count that is not a multiple
# of the block ends in a block overlapping the one before.
def winners(x, ri):
    """PyTorch's output bits: the elements its indices name (the reference's
    values may hold another NaN's bits, or the other zero of a tie)."""
    n, c = x.shape[:2]
    flat = np.take_along_axis(x.reshape(n, c, -1), ri.reshape(n, c, -1), axis=2)
    return flat.reshape(ri.shape), ri


@more_examples(1.25)  # 250 examples with the standard profile
@given(nd=st.sampled_from([1, 2, 3]), dtype=st.sampled_from(ALL_DTYPES),
       k=st.integers(1, 3), s=st.one_of(st.none(), st.integers(1, 3)), d=st.integers(1, 2),
       pad=st.integers(0, 1), ceil=st.booleans(), batch=st.integers(1, 2),
       channels=st.sampled_from([31, 32, 33, 47, 63, 64, 65, 100, 128, 130]),
       size=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_channel_blocks(cython_backend, nd, dtype, k, s, d, pad, ceil, batch, channels, size,
                        seed):
    rng = np.random.default_rng(seed)
    spatial = tuple(rng.integers(1, size + 1, size=nd))
    x = with_bits(rng, make_values(rng, (batch, channels) + spatial, dtype))
    xl = np.ascontiguousarray(to_last(x))
    kw = dict(kernel_size=k, stride=s, padding=min(pad, k // 2), dilation=d, ceil_mode=ceil)
    want, err = outcome(fn("max_pool{}d", nd, reference), x, return_indices=True, **kw)
    if err:
        return
    ry, ri = want
    assert np.array_equal(ry, winners(x, ri)[0], equal_nan=dtype in FLOAT_DTYPES)
    want = winners(x, ri)
    y, i = fn("max_pool{}d", nd)(xl, return_indices=True, data_format=LAST[nd], **kw)
    assert_same_bits((np.moveaxis(y, -1, 1), np.moveaxis(i, -1, 1)), want)
    y = fn("max_pool{}d", nd)(xl, data_format=LAST[nd], **kw)
    assert_same_bits((np.moveaxis(y, -1, 1), ri), want)
    layer = getattr(pooling, f"MaxPool{nd}D")(data_format=LAST[nd], **kw)   # compact cache
    assert_same_bits((np.moveaxis(layer.forward(xl), -1, 1), ri), want)
    g = rng.standard_normal(ry.shape).astype(dtype if dtype in FLOAT_DTYPES else np.float32)
    want_g = fn("max_pool{}d_backward", nd, reference)(g, ri, x.shape)
    assert np.array_equal(layer.backward(np.ascontiguousarray(to_last(g))), to_last(want_g))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape, kw", [   # each over 2**15 elements (threads)
    ((2, 64, 17, 19), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 100, 20, 20), dict(kernel_size=2)),
    ((3, 72, 9, 11), dict(kernel_size=3, stride=1)),
    ((1, 40, 6, 7, 8), dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), dilation=(2, 1, 1))),
])
def test_channel_blocks_threads(cython_backend, threads, dtype, shape, kw):
    rng = np.random.default_rng(16)
    x = with_bits(rng, make_values(rng, shape, dtype))
    nd = len(shape) - 2
    want = winners(x, fn("max_pool{}d", nd, reference)(x, return_indices=True, **kw)[1])
    xl = np.ascontiguousarray(to_last(x))
    pooling.set_num_threads(threads)
    try:
        y, i = fn("max_pool{}d", nd)(xl, return_indices=True, data_format=LAST[nd], **kw)
        y2 = fn("max_pool{}d", nd)(xl, data_format=LAST[nd], **kw)
        layer = getattr(pooling, f"MaxPool{nd}D")(data_format=LAST[nd], **kw)
        y3 = layer.forward(xl)
        g = rng.standard_normal(want[0].shape).astype(
            dtype if dtype in FLOAT_DTYPES else np.float32)
        gi = layer.backward(np.ascontiguousarray(to_last(g)))
    finally:
        pooling.set_num_threads(0)
    assert_same_bits((np.moveaxis(y, -1, 1), np.moveaxis(i, -1, 1)), want)
    assert_same_bits((np.moveaxis(y2, -1, 1), want[1]), want)
    assert_same_bits((np.moveaxis(y3, -1, 1), want[1]), want)
    want_g = fn("max_pool{}d_backward", nd, reference)(g, want[1], x.shape)
    assert np.array_equal(gi, to_last(want_g))


@more_examples(1.5)
@given(nd=st.sampled_from([1, 2, 3]), dtype=st.sampled_from([np.float32, np.float64, np.int8,
                                                             np.int64]),
       k=st.integers(1, 3), s=st.integers(1, 3), d=st.integers(1, 2), pad=st.integers(0, 1),
       ceil=st.booleans(), channels=st.sampled_from([32, 33, 64, 70]),
       size=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_channels_last_lanes_with_indices(cython_backend, nd, dtype, k, s, d, pad, ceil,
                                          channels, size, seed):
    # 32 channels and more: the lane loops (_cl_lanes), their argmax lanes as
    # wide as the values (float64: positions in float64 lanes), the last
    # block overlapping the one before; PyTorch's indices and the layer's.
    rng = np.random.default_rng(seed)
    spatial = tuple(rng.integers(1, size + 1, size=nd))
    x = make_values(rng, (2, channels) + spatial, dtype)
    xl = np.ascontiguousarray(to_last(x))
    kw = dict(kernel_size=k, stride=s, padding=min(pad, k // 2), dilation=d, ceil_mode=ceil)
    want, err = outcome(fn("max_pool{}d", nd, reference), x, return_indices=True, **kw)
    if err:
        return
    y, i = fn("max_pool{}d", nd)(xl, return_indices=True, data_format=LAST[nd], **kw)
    eq_nan = y.dtype.kind == "f"
    assert np.array_equal(y, to_last(want[0]), equal_nan=eq_nan)
    assert np.array_equal(i, to_last(want[1]))
    layer = getattr(pooling, f"MaxPool{nd}D")(data_format=LAST[nd], **kw)
    assert np.array_equal(layer.forward(xl), y, equal_nan=eq_nan)
    if eq_nan:
        g = rng.standard_normal(y.shape).astype(dtype)
        assert np.array_equal(layer.backward(g), fn("max_pool{}d_backward", nd)(
            g, i, xl.shape, data_format=LAST[nd]))

"""pooling.layers.jax against lax.reduce_window with flax.linen.pooling's
conventions (skipped without JAX): max and min pooling bit for bit, average
within 2 ulp, over window dimensionalities, strides, VALID/SAME/explicit
(low, high) padding (kernel padding, ceil_mode and host padding paths),
leading batch dimensions, dtypes (float16, bfloat16, float32, float64), NaN,
infinities and ties; gradients (max/min equal to JAX's where the window
maximum is unique, and on ties too: both take the first; average within
ulps); jit, vmap over any axis, grad inside jit, checkpoint; refusals; the
import on demand."""
import contextlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

import pooling.layers.jax as pj  # noqa: E402
from strategies import more_examples, subprocess_env  # noqa: E402

# Each example traces and compiles new XLA programs (ours and reduce_window's,
# forward and gradient: about a second on two cores), so the property tests
# run a tenth of the profile's examples (20 in the standard profile).
_FEWER = more_examples(0.1)



@pytest.fixture(autouse=True, scope="module")
def _x64():
    """float64 inputs stay float64 (JAX's default makes them float32), for
    this module only."""
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)

DTYPES = {"float32": np.float32, "float64": np.float64, "float16": np.float16,
          "bfloat16": jnp.bfloat16}


def _flax(x, init, op, window, strides, padding):
    return pj._lax_pool(x, init, op, window, strides, padding)


def _flax_avg(x, window, strides, padding, count_include_pad):
    y = _flax(x, jnp.asarray(0, x.dtype), lax.add, window, strides, padding)
    if count_include_pad:
        return y / np.prod(window)
    ones = jnp.ones((1,) * (x.ndim - len(window) - 1) + x.shape[-len(window) - 1:-1] + (1,),
                    x.dtype)
    return y / _flax(ones, jnp.asarray(0, x.dtype), lax.add, window, strides, padding)


def _same(a, b):
    a, b = np.asarray(a.astype(jnp.float64)), np.asarray(b.astype(jnp.float64))
    assert a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=True)


def _ulps(a, b, dtype):
    a = np.asarray(a.astype(jnp.float64))
    b = np.asarray(b.astype(jnp.float64))
    eps = float(jnp.finfo(dtype).eps)
    scale = np.maximum(np.abs(b), float(jnp.finfo(dtype).tiny))
    return np.max(np.abs(a - b) / (scale * eps), initial=0.0)


@st.composite
def _cases(draw):
    nd = draw(st.sampled_from([1, 2, 3]))
    lead = draw(st.integers(0, 2))
    spatial = tuple(draw(st.lists(st.integers(1, 9), min_size=nd, max_size=nd)))
    # (33 and 69: the kernels' channel-block loops, 32 lanes and a remainder)
    feats = draw(st.sampled_from([1, 2, 3, 4, 33, 69]))
    window = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    strides = draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * nd)))
    padding = draw(st.one_of(st.sampled_from(["VALID", "SAME"]),
                             st.tuples(*[st.tuples(st.integers(0, 3), st.integers(0, 3))] * nd)))
    shape = tuple(draw(st.integers(1, 2)) for _ in range(lead)) + spatial + (feats,)
    dtype = draw(st.sampled_from(sorted(DTYPES)))
    values = draw(st.sampled_from(["spread", "ties", "special"]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    path = draw(st.sampled_from(PATHS))
    return nd, shape, window, strides, padding, dtype, values, seed, path


# How the kernels are reached: XLA custom calls (where the compiled kernels
# are the backend) or the pure_callback path.
PATHS = ["ffi", "callback"] if pj._ffi_ready() else ["callback"]


@pytest.fixture(params=PATHS)
def path(request):
    """Each path in turn (for tests that are not property tests)."""
    with _path(request.param):
        yield request.param


@contextlib.contextmanager
def _path(path):
    before = pj._callbacks_only
    pj._callbacks_only = path == "callback"
    try:
        yield
    finally:
        pj._callbacks_only = before


def _values(shape, dtype, values, seed):
    rng = np.random.default_rng(seed)
    if values == "ties":
        x = rng.integers(-2, 3, shape).astype(np.float64)
    else:
        x = rng.standard_normal(shape) * 10
        if values == "special":
            flat = x.reshape(-1)
            flat[rng.integers(0, flat.size, max(1, flat.size // 7))] = rng.choice(
                [np.inf, -np.inf, np.nan])
    return jnp.asarray(x, dtype=DTYPES[dtype])


def _valid(shape, window, strides, padding):
    nd = len(window)
    spatial = shape[-nd - 1:-1]
    s = strides or (1,) * nd
    if isinstance(padding, str):
        pads = lax.padtype_to_pads(spatial, window, s, padding)
    else:
        pads = padding
    return all(n + lo + hi >= k for n, k, (lo, hi) in zip(spatial, window, pads))


@_FEWER
@given(_cases())
def test_max_and_min_equal_reduce_window(case):
    nd, shape, window, strides, padding, dtype, values, seed, path = case
    assume(_valid(shape, window, strides, padding))
    with _path(path):
        x = _values(shape, dtype, values, seed)
        before = np.asarray(x.astype(jnp.float64)).copy()
        _same(pj.max_pool(x, window, strides, padding),
              _flax(x, -jnp.inf, lax.max, window, strides, padding))
        _same(pj.min_pool(x, window, strides, padding),
              _flax(x, jnp.inf, lax.min, window, strides, padding))
        assert pj.max_pool(x, window, strides, padding).dtype == x.dtype
        np.testing.assert_array_equal(np.asarray(x.astype(jnp.float64)), before)


@_FEWER
@given(_cases(), st.booleans())
def test_avg_within_two_ulp(case, count_include_pad):
    nd, shape, window, strides, padding, dtype, values, seed, path = case
    assume(_valid(shape, window, strides, padding) and values != "special")
    with _path(path):
        x = _values(shape, dtype, values, seed)
        got = pj.avg_pool(x, window, strides, padding, count_include_pad)
        want = _flax_avg(x, window, strides, padding, count_include_pad)
        assert got.dtype == x.dtype and got.shape == want.shape
        # sums of well-spread values in another order: 2 ulp of the result, plus
        # the cancellation a sum of mixed signs brings (bounded by the sum of
        # magnitudes, in the result's ulps)
        mag = _flax_avg(jnp.abs(x.astype(jnp.float64)), window, strides, padding,
                        count_include_pad)
        err = np.abs(np.asarray(got.astype(jnp.float64)) - np.asarray(want.astype(jnp.float64)))
        eps = float(jnp.finfo(x.dtype).eps)
        bound = 2 * eps * np.asarray(mag) + 2 * eps * np.abs(np.asarray(want.astype(jnp.float64)))
        # (a window wholly in the padding, without count_include_pad: 0 / 0 on both sides)
        both_nan = np.isnan(np.asarray(got.astype(jnp.float64))) & \
            np.isnan(np.asarray(want.astype(jnp.float64)))
        ok = (err <= bound + float(jnp.finfo(x.dtype).tiny)) | both_nan
        assert np.all(ok), np.max(np.where(ok, 0, err - bound))


@_FEWER
@given(_cases())
def test_max_gradients_equal_jax(case):
    """Max and min gradients equal JAX's own (select_and_scatter): on unique
    maxima, and on ties, where both take the window's first maximum."""
    nd, shape, window, strides, padding, dtype, values, seed, path = case
    assume(_valid(shape, window, strides, padding) and values != "special")
    assume(dtype != "float16" or values == "ties")   # (float16 sums of cotangents round)
    with _path(path):
        x = _values(shape, dtype, values, seed)
        for ours, init, op in ((pj.max_pool, -jnp.inf, lax.max), (pj.min_pool, jnp.inf, lax.min)):
            y = ours(x, window, strides, padding)
            w = jnp.asarray(np.random.default_rng(seed).integers(1, 5, y.shape), x.dtype)
            got = jax.grad(lambda t: (ours(t, window, strides, padding) * w).sum())(x)
            want = jax.grad(lambda t: (_flax(t, init, op, window, strides, padding) * w).sum())(x)
            _same(got, want)


@_FEWER
@given(_cases(), st.booleans())
def test_avg_gradients_within_ulps(case, count_include_pad):
    nd, shape, window, strides, padding, dtype, values, seed, path = case
    assume(_valid(shape, window, strides, padding) and values != "special")
    assume(dtype in ("float32", "float64"))
    with _path(path):
        x = _values(shape, dtype, values, seed)
        y = pj.avg_pool(x, window, strides, padding, count_include_pad)
        w = jnp.asarray(np.random.default_rng(seed).integers(1, 5, y.shape), x.dtype)
        got = jax.grad(lambda t: (pj.avg_pool(t, window, strides, padding,
                                              count_include_pad) * w).sum())(x)
        want = jax.grad(lambda t: (_flax_avg(t, window, strides, padding,
                                             count_include_pad) * w).sum())(x)
        assert _ulps(got, want, x.dtype) <= 4 * np.prod(window)


def test_kernel_padding_ceil_mode_and_host_padding_paths(path):
    """Each way a padding reaches the kernels: none, symmetric kernel
    padding, ceil_mode for (0, 1), host padding for pads beyond half the
    window; all equal to reduce_window."""
    x = _values((2, 9, 8, 3), "float32", "spread", 1)
    cases = {"VALID": ("VALID", (3, 3), (2, 2)), "kernel": (((1, 1), (1, 1)), (3, 3), (1, 1)),
             "ceil": ("SAME", (3, 3), (2, 2)), "host": (((3, 0), (0, 2)), (3, 2), (2, 1))}
    seen = {}
    for name, (padding, window, strides) in cases.items():
        plan = pj._plan(x.shape, window, strides, padding, "max_pool")
        seen[name] = ("host" if plan[5] is not None else "ceil" if plan[4]
                      else "kernel" if any(plan[3]) else "VALID")
        _same(pj.max_pool(x, window, strides, padding),
              _flax(x, -jnp.inf, lax.max, window, strides, padding))
    assert seen == {k: k for k in cases}


def test_transformations(path):
    x = _values((2, 9, 8, 3), "float32", "spread", 2)
    f = lambda t: pj.max_pool(t, (3, 3), (2, 2), "SAME")  # noqa: E731
    want = f(x)
    _same(jax.jit(f)(x), want)
    # vmap over the batch, over the features, over a new axis in the middle
    _same(jax.vmap(f)(x), want)
    xs = jnp.stack([x, x + 1], axis=3)                     # (2, 9, 8, 2, 3)
    got = jax.vmap(f, in_axes=3, out_axes=3)(xs)
    _same(got[..., 0, :], want)
    _same(got[..., 1, :], f(x + 1))
    g = jax.jit(jax.grad(lambda t: jnp.sum(f(t) ** 2)))(x)
    _same(g, jax.grad(lambda t: jnp.sum(_flax(t, -jnp.inf, lax.max, (3, 3), (2, 2),
                                                 "SAME") ** 2))(x))
    gc = jax.grad(jax.checkpoint(lambda t: jnp.sum(pj.avg_pool(t, (2, 2), (2, 2)) ** 2)))(x)
    ga = jax.grad(lambda t: jnp.sum(pj.avg_pool(t, (2, 2), (2, 2)) ** 2))(x)
    _same(gc, ga)
    v, gv = jax.jit(jax.value_and_grad(lambda t: pj.min_pool(t, (2,), (1,)).sum()))(x[:, :, 0])
    assert v.shape == () and gv.shape == x[:, :, 0].shape


@pytest.mark.parametrize("kw, err, match", [
    (dict(window_shape=(2, 2, 2, 2)), ValueError, r"max_pool: window_shape must have 1 to 3"),
    (dict(window_shape=(0, 2)), ValueError, r"window_shape must have 1 to 3 sizes >= 1"),
    (dict(window_shape=2), TypeError, r"max_pool: window_shape must be a sequence of ints"),
    (dict(window_shape=(2, 2), strides=(2,)), ValueError,
     r"max_pool: strides must be None or 2 ints >= 1, but got strides=\(2,\)"),
    (dict(window_shape=(2, 2), padding="FULL"), ValueError,
     r"max_pool: padding must be 'VALID', 'SAME' or 2 \(low, high\) pairs"),
    (dict(window_shape=(2, 2), padding=((1, 1),)), ValueError, r"2 \(low, high\) pairs"),
    (dict(window_shape=(9, 9)), ValueError, r"max_pool: the padded input \(5, 6\) is smaller"),
    (dict(inputs=jnp.zeros((5, 6), jnp.int32), window_shape=(2,)), TypeError,
     r"max_pool: inputs must be float16, bfloat16, float32 or float64, but got dtype int32"),
    (dict(inputs=jnp.zeros((5,)), window_shape=(2, 2)), ValueError,
     r"max_pool: inputs must have the window's 2 dimensions and features"),
])
def test_refusals(kw, err, match):
    args = dict(inputs=jnp.zeros((1, 5, 6, 2)))
    args.update(kw)
    with pytest.raises(err, match=match):
        pj.max_pool(**args)


def test_import_pooling_does_not_import_jax():
    code = "import sys, pooling, pooling.layers; assert 'jax' not in sys.modules; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=subprocess_env())
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_paths_chosen():
    """The custom calls serve wherever the compiled kernels are the backend
    (windows of at most 256 positions for max and min: the argmax is a byte
    per output), the callbacks otherwise."""
    from pooling._core import backend
    compiled = hasattr(backend.core(), "xla_handlers")
    assert pj._plan((1, 8, 8, 3), (2, 2), (2, 2), "VALID", "max_pool").ffi == compiled
    assert pj._plan((1, 8, 8, 3), (2, 2), (2, 2), "VALID", "avg_pool", "avg").ffi == compiled
    assert not pj._plan((1, 20, 20, 3), (17, 17), (1, 1), "VALID", "max_pool").ffi
    assert pj._plan((1, 20, 20, 3), (17, 17), (1, 1), "VALID", "avg_pool", "avg").ffi == compiled
    with _path("callback"):
        assert not pj._plan((1, 8, 8, 3), (2, 2), (2, 2), "VALID", "max_pool").ffi


def test_large_windows(path):
    """Windows over 256 positions: max through the callbacks' int32
    indices, average through whichever path."""
    x = _values((2, 20, 19, 3), "float32", "spread", 4)
    window = (17, 16)
    _same(pj.max_pool(x, window), _flax(x, -jnp.inf, lax.max, window, None, "VALID"))
    got = jax.grad(lambda t: pj.max_pool(t, window).sum())(x)
    _same(got, jax.grad(lambda t: _flax(t, -jnp.inf, lax.max, window, None, "VALID").sum())(x))
    got = pj.avg_pool(x, window, padding="SAME", count_include_pad=False)
    want = _flax_avg(x, window, None, "SAME", False)
    assert _ulps(got, want, np.float32) <= 4


@pytest.mark.skipif(not pj._ffi_ready(), reason="the compiled kernels are not the backend")
@pytest.mark.parametrize("results, args, p, match", [
    ("int32", "float32", None, "the argmax must be uint8 or int64"),
    ("uint8", "int32", None, "values must be float32 or float64"),
    ("uint8", "float32", np.zeros(3, np.int64), "attribute p must be 12 int64s"),
    ("uint8", "float32", np.array([4] + [1] * 11, np.int64), "rank below the window"),
])
def test_custom_call_refusals(results, args, p, match):
    """The handlers check what XLA hands them: a call that does not match
    their contract is an XLA error naming it, never a read out of bounds."""
    spec = pj._plan((1, 4, 4, 2), (2, 2), (2, 2), "VALID", "max_pool")
    p = pj._params(spec) if p is None else p
    x = jnp.zeros((1, 4, 4, 2), args)
    shapes = (jax.ShapeDtypeStruct((1, 2, 2, 2), x.dtype),
              jax.ShapeDtypeStruct((1, 2, 2, 2), results))
    with pytest.raises(Exception, match=match):
        jax.block_until_ready(jax.ffi.ffi_call("pooling_max", shapes)(x, p=p))

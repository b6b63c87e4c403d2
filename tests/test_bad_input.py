"""Every refused argument, for every operation and layer, on both backends: the
right exception and a message naming the argument and its value (max_pool2d
and its backward: also the input left untouched, and every refusal of the
function also by MaxPool2D); misused layers; odd but valid inputs (empty
batches, read-only, byte-swapped, other index dtypes)."""
import numpy as np
import pytest

import pooling

X = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)

FORWARD_CASES = [
    # (args, kwargs, exception, pattern the message must contain)
    ((X, (2, 2, 2)), {}, ValueError, r"kernel_size must either be a single int.*kernel_size=\(2, 2, 2\)"),
    ((X, 2, (1, 2, 3)), {}, ValueError, r"stride must either be omitted.*stride=\(1, 2, 3\)"),
    ((X, 2, 1, (1, 2, 3)), {}, ValueError, r"padding must either be a single int.*padding=\(1, 2, 3\)"),
    ((X, 2, 1, 0, (1, 1, 1)), {}, ValueError, r"dilation must either be a single int.*dilation=\(1, 1, 1\)"),
    ((X, 0), {}, ValueError, r"kernel_size should be greater than zero, but got kernel_size=0"),
    ((X, (2, 0)), {}, ValueError, r"kernel_size should be greater than zero, but got kernel_size=\(2, 0\)"),
    ((X, 2, 0), {}, ValueError, r"stride should be greater than zero, but got stride=0"),
    ((X, 2, (-1, 1)), {}, ValueError, r"stride should be greater than zero, but got stride=\(-1, 1\)"),
    ((X, 2, 1, 0, 0), {}, ValueError, r"dilation should be greater than zero, but got dilation=0"),
    ((X, 2, 1, -1), {}, ValueError, r"pad must be non-negative, but got padding=-1"),
    ((X, 2, 1, 2), {}, ValueError, r"pad should be smaller than or equal to half of kernel size, but got padding=2, kernel_size=2"),
    ((X, (3, 2), 1, (1, 2)), {}, ValueError, r"half of kernel size.*padding=\(1, 2\), kernel_size=\(3, 2\)"),
    ((X, 2.5), {}, TypeError, r"kernel_size must be an int.*kernel_size=2.5 \(float\)"),
    ((X, "2"), {}, TypeError, r"kernel_size=.2. \(str\)"),
    ((X, None), {}, TypeError, r"kernel_size=None"),
    ((X, True), {}, TypeError, r"kernel_size=True \(bool\)"),
    ((X, (2, 2.0)), {}, TypeError, r"kernel_size=2.0 \(float\)"),
    ((X, 2, 1.5), {}, TypeError, r"stride=1.5"),
    ((X, 2**40), {}, ValueError, r"kernel_size is out of range.*kernel_size=1099511627776"),
    ((X, 2, 2**40), {}, ValueError, r"stride is out of range"),
    ((X, 5), {}, ValueError, r"Given input size: \(1x4x4\). Calculated output size: \(1x0x0\). Output size is too small"),
    ((X, 2), {"ceil_mode": 1}, TypeError, r"ceil_mode must be a bool, but got ceil_mode=1"),
    ((np.zeros((2, 2), np.float32), 1), {}, ValueError, r"3D \(C, H, W\) or 4D \(N, C, H, W\) input, but got an array of shape \(2, 2\)"),
    ((np.zeros((1, 1, 1, 2, 2), np.float32), 1), {}, ValueError, r"shape \(1, 1, 1, 2, 2\)"),
    ((np.zeros((1, 1, 0, 2), np.float32), 1), {}, ValueError, r"spatial sizes must be non-zero.*\(1, 1, 0, 2\)"),
    ((np.zeros((1, 0), np.float32), 1), {}, ValueError, r"shape \(1, 0\)"),
    (([[[1, 2], [3]]], 1), {}, TypeError, r"input must be a numeric array.*np.asarray could not convert list"),
    ((np.array([[["a"]]]), 1), {}, TypeError, r"unsupported dtype <U1"),
    ((None, 1), {}, TypeError, r"unsupported dtype object"),
    ((np.zeros((1, 2, 2), bool), 1), {}, TypeError, r"unsupported dtype bool"),
    ((np.zeros((1, 2, 2), complex), 1), {}, TypeError, r"unsupported dtype complex128"),
    ((np.zeros((1, 2, 2), "M8[s]"), 1), {}, TypeError, r"unsupported dtype datetime64"),
    ((np.zeros((1, 2, 2), object), 1), {}, TypeError, r"unsupported dtype object"),
    ((np.zeros((1, 1, 2, 2), np.float32), 2, 1, 1, 3), {}, ValueError, r"covers no input element.*input size 2, padding=1, dilation=3"),
]
if np.dtype(np.longdouble).itemsize > 8:
    FORWARD_CASES.append(((np.zeros((1, 2, 2), np.longdouble), 1), {}, TypeError,
                          r"unsupported dtype float(96|128)"))


@pytest.mark.parametrize("args, kwargs, exc, pattern", FORWARD_CASES)
def test_forward_refuses(backend, args, kwargs, exc, pattern):
    x = args[0]
    before = x.copy() if isinstance(x, np.ndarray) else None
    with pytest.raises(exc, match=pattern) as info:
        pooling.max_pool2d(*args, **kwargs)
    assert str(info.value).startswith("max_pool2d:")
    if before is not None:
        np.testing.assert_array_equal(x, before)
    # the layer refuses the same arguments (at construction or at forward)
    with pytest.raises(exc, match=pattern):
        pooling.MaxPool2D(*args[1:], **kwargs).forward(x)


G = np.zeros((1, 1, 2, 2), np.float32)
I = np.zeros((1, 1, 2, 2), np.int64)

BACKWARD_CASES = [
    ((G.astype(np.int32), I, (1, 1, 4, 4)), TypeError, r"grad_output must have a floating dtype.*int32"),
    ((G.astype(bool), I, (1, 1, 4, 4)), TypeError, r"grad_output must have a floating dtype.*bool"),
    ((G, I.astype(np.float64), (1, 1, 4, 4)), TypeError, r"indices must have an integer dtype.*float64"),
    ((G, I[..., :1], (1, 1, 4, 4)), ValueError, r"same shape.*\(1, 1, 2, 2\).*\(1, 1, 2, 1\)"),
    ((G, I - 1, (1, 1, 4, 4)), ValueError, r"indices must lie in \[0, 16\).*size \(4, 4\).*index -1"),
    ((G, I + 16, (1, 1, 4, 4)), ValueError, r"indices must lie in \[0, 16\).*index 16"),
    ((G, I + 2**40, (1, 1, 4, 4)), ValueError, r"index 1099511627776"),
    ((G[0, 0], I[0, 0], (4, 4)), ValueError, r"expected a 3D \(C, H, W\) or 4D \(N, C, H, W\) grad_output.*\(2, 2\)"),
    ((G, I, (1, 4, 4)), ValueError, r"input_shape \(1, 4, 4\) is inconsistent with grad_output shape \(1, 1, 2, 2\)"),
    ((G, I, (2, 1, 4, 4)), ValueError, r"input_shape \(2, 1, 4, 4\) is inconsistent"),
    ((G, I, (1, 1, 0, 4)), ValueError, r"input_shape \(1, 1, 0, 4\) is inconsistent"),
    ((G, I, (1, 1, 4.0, 4)), TypeError, r"input_shape must be a tuple of ints.*4.0"),
    ((G, I, 5), TypeError, r"input_shape must be a tuple of ints, but got input_shape=5"),
]


@pytest.mark.parametrize("args, exc, pattern", BACKWARD_CASES)
def test_backward_refuses(backend, args, exc, pattern):
    before = [a.copy() for a in args[:2]]
    with pytest.raises(exc, match=pattern) as info:
        pooling.max_pool2d_backward(*args)
    assert str(info.value).startswith("max_pool2d_backward:")
    for a, b in zip(args[:2], before):
        np.testing.assert_array_equal(a, b)


def test_layer_backward_before_forward():
    with pytest.raises(RuntimeError, match="before forward"):
        pooling.MaxPool2D(2).backward(G)


def test_layer_backward_wrong_shape(backend):
    layer = pooling.MaxPool2D(2)
    layer.forward(X)
    with pytest.raises(ValueError, match=r"\(1, 1, 3, 3\).*\(1, 1, 2, 2\)"):
        layer.backward(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(TypeError, match="floating dtype"):
        layer.backward(np.zeros((1, 1, 2, 2), np.int32))


@pytest.mark.parametrize("shape", [(0, 3, 5, 5), (2, 0, 5, 5), (0, 5, 5), (0, 0, 4, 4)])
def test_empty_batches_give_empty_results(backend, shape):
    x = np.zeros(shape, np.float32)
    y, i = pooling.max_pool2d(x, 2, return_indices=True)
    assert y.shape == i.shape == shape[:-2] + (2, 2)
    assert y.dtype == np.float32 and i.dtype == np.int64
    g = pooling.max_pool2d_backward(np.zeros(y.shape, np.float32), i, shape)
    assert g.shape == shape
    layer = pooling.MaxPool2D(2)
    assert layer.forward(x).shape == y.shape
    assert layer.backward(np.zeros(y.shape, np.float32)).shape == shape


def test_readonly_and_byteswapped_inputs(backend):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6)).astype(np.float32)
    want_y, want_i = pooling.max_pool2d(x, 3, 2, 1, return_indices=True)
    ro = x.copy()
    ro.setflags(write=False)
    swapped = x.astype(">f4")
    for arr in (ro, swapped, x.tolist()):
        y, i = pooling.max_pool2d(arr, 3, 2, 1, return_indices=True)
        assert np.array_equal(y, want_y) and np.array_equal(i, want_i)
    g = np.ones(want_y.shape, np.float32)
    g.setflags(write=False)
    idx = want_i.copy()
    idx.setflags(write=False)
    assert pooling.max_pool2d_backward(g, idx, x.shape).sum() == g.size


def test_other_integer_index_dtypes_are_accepted(backend):
    x = np.random.default_rng(1).standard_normal((1, 2, 6, 6))
    y, i = pooling.max_pool2d(x, 2, return_indices=True)
    g = np.ones_like(y)
    want = pooling.max_pool2d_backward(g, i, x.shape)
    for dt in (np.int32, np.uint16, np.intp):
        assert np.array_equal(pooling.max_pool2d_backward(g, i.astype(dt), x.shape), want)


# ---- the other operations: the exception and its message, on both backends ----

MAX_POOL1D_CASES = [
    (lambda: pooling.max_pool1d(np.zeros((2, 2, 2, 2)), 2), ValueError,
     r"max_pool1d: expected a 2D \(C, L\) or 3D \(N, C, L\) input.*\(2, 2, 2, 2\)"),
    (lambda: pooling.max_pool1d(np.zeros((2, 4)), (2, 2)), ValueError,
     r"kernel_size must either be a single int, or a tuple of one int.*\(2, 2\)"),
    (lambda: pooling.max_pool1d(np.zeros((2, 4)), 2, padding=2), ValueError,
     r"pad should be smaller than or equal to half of kernel size"),
    (lambda: pooling.max_pool1d(np.zeros((2, 4)), 5), ValueError, r"Output size is too small"),
    (lambda: pooling.max_pool1d_backward(np.zeros((1, 2)), np.full((1, 2), 9), (1, 4)),
     ValueError, r"max_pool1d_backward: indices must lie in \[0, 4\).*\(4,\).*index 9"),
    (lambda: pooling.MaxPool1D(2).backward(np.zeros((1, 2))), RuntimeError,
     r"MaxPool1D.backward called before forward"),
]


MAX_POOL3D_CASES = [
    (lambda: pooling.max_pool3d(np.zeros((2, 2, 2)), 2), ValueError,
     r"max_pool3d: expected a 4D \(C, D, H, W\) or 5D \(N, C, D, H, W\) input.*\(2, 2, 2\)"),
    (lambda: pooling.max_pool3d(np.zeros((1, 2, 4, 4)), (2, 2)), ValueError,
     r"kernel_size must either be a single int, or a tuple of three ints.*\(2, 2\)"),
    (lambda: pooling.max_pool3d(np.zeros((1, 2, 4, 4)), 2, padding=(0, 2, 0)), ValueError,
     r"pad should be smaller than or equal to half of kernel size"),
    (lambda: pooling.max_pool3d(np.zeros((1, 1, 4, 4)), 2), ValueError,
     r"Output size is too small"),
    (lambda: pooling.max_pool3d(np.zeros((1, 0, 4, 4)), 2), ValueError,
     r"spatial sizes must be non-zero.*\(1, 0, 4, 4\)"),
    (lambda: pooling.max_pool3d_backward(np.zeros((1, 1, 1, 1)), np.full((1, 1, 1, 1), 8),
                                         (1, 2, 2, 2)),
     ValueError, r"max_pool3d_backward: indices must lie in \[0, 8\).*\(2, 2, 2\).*index 8"),
    (lambda: pooling.MaxPool3D(2).backward(np.zeros((1, 1, 1, 1))), RuntimeError,
     r"MaxPool3D.backward called before forward"),
]


UNPOOL_CASES = [
    (lambda: pooling.max_unpool2d(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), int), 2,
                                  output_size=(6, 6)),
     ValueError, r'max_unpool2d: invalid output_size "\(6, 6\)" \(dim 0 must be between 2 and 6\)'),
    (lambda: pooling.max_unpool2d(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), int), 2,
                                  output_size=(4, 4, 4)),
     ValueError, r"output_size should be a sequence containing 2 or 4 elements.*'3'"),
    (lambda: pooling.max_unpool2d(np.ones((1, 1, 2, 2)), np.full((1, 1, 2, 2), 16), 2),
     ValueError, r"Found an invalid max index: 16 \(output volumes are of size 4x4"),
    (lambda: pooling.max_unpool2d(np.ones((1, 1, 2, 2)), np.full((1, 1, 2, 2), -1), 2),
     ValueError, r"Found an invalid max index: -1"),
    (lambda: pooling.max_unpool2d(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 1), int), 2),
     ValueError, r"same shape.*\(1, 1, 2, 2\).*\(1, 1, 2, 1\)"),
    (lambda: pooling.max_unpool2d(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)), 2),
     TypeError, r"indices must have an integer dtype, but got dtype float64"),
    (lambda: pooling.max_unpool2d(np.ones((2, 2)), np.zeros((2, 2), int), 2),
     ValueError, r"expected a 3D \(C, H, W\) or 4D.*\(2, 2\)"),
    (lambda: pooling.max_unpool2d(np.ones((1, 2, 2)), np.zeros((1, 2, 2), int), 0),
     ValueError, r"kernel_size should be greater than zero, but got kernel_size=0"),
    (lambda: pooling.max_unpool1d(np.ones((1, 2)), np.zeros((1, 2), int), 2, output_size=3),
     TypeError, r"output_size must be a sequence of ints, but got output_size=3"),
    (lambda: pooling.max_unpool2d(np.ones((1, 2, 2), bool), np.zeros((1, 2, 2), int), 2),
     TypeError, r"unsupported dtype bool"),
    (lambda: pooling.max_unpool3d(np.ones((1, 1, 1, 1)), np.full((1, 1, 1, 1), 8), 2),
     ValueError, r"max_unpool3d: Found an invalid max index: 8 \(output volumes are of "
                 r"size 2x2x2"),
]


ADAPTIVE_CASES = [
    (lambda: pooling.adaptive_max_pool2d(np.ones((1, 4, 4)), (1, 2, 3)), ValueError,
     r"adaptive_max_pool2d: output_size must be an int or a tuple of two ints.*\(1, 2, 3\)"),
    (lambda: pooling.adaptive_max_pool2d(np.ones((1, 4, 4)), -1), ValueError,
     r"output_size must be non-negative, but got output_size=\(-1, -1\)"),
    (lambda: pooling.adaptive_max_pool2d(np.ones((1, 4, 4)), 2.5), TypeError,
     r"output_size=2.5"),
    (lambda: pooling.adaptive_max_pool2d(np.ones((4, 4)), 2), ValueError,
     r"expected a 3D \(C, H, W\) or 4D.*\(4, 4\)"),
    (lambda: pooling.adaptive_max_pool1d(np.ones((2, 0)), 2), ValueError,
     r"spatial sizes must be non-zero.*\(2, 0\)"),
    (lambda: pooling.adaptive_max_pool2d(np.ones((1, 2, 2), complex), 1), TypeError,
     r"unsupported dtype complex128"),
    (lambda: pooling.adaptive_max_pool3d(np.ones((1, 4, 4, 4)), (1, 2)), ValueError,
     r"output_size must be an int or a tuple of three ints"),
]


# channels-last data: data_format itself, and shapes read in that layout
DATA_FORMAT_CASES = [
    (lambda: pooling.max_pool2d(np.zeros((1, 4, 4, 2)), 2, data_format="NCWH"), ValueError,
     r"max_pool2d: data_format must be 'NCHW' or 'NHWC', but got data_format='NCWH'"),
    (lambda: pooling.max_pool3d(np.zeros((1, 4, 4, 4, 2)), 2, data_format="NHWC"), ValueError,
     r"max_pool3d: data_format must be 'NCDHW' or 'NDHWC', but got data_format='NHWC'"),
    (lambda: pooling.max_pool1d(np.zeros((1, 4, 2)), 2, data_format=1), TypeError,
     r"max_pool1d: data_format must be a str.*data_format=1 \(int\)"),
    (lambda: pooling.MaxPool2D(2, data_format="nhwc"), ValueError,
     r"MaxPool2D: data_format must be 'NCHW' or 'NHWC', but got data_format='nhwc'"),
    (lambda: pooling.max_pool2d(np.zeros((4, 4)), 2, data_format="NHWC"), ValueError,
     r"expected a 3D \(H, W, C\) or 4D \(N, H, W, C\) input.*\(4, 4\)"),
    (lambda: pooling.max_pool2d(np.zeros((1, 1, 4, 2)), 2, data_format="NHWC"), ValueError,
     r"Output size is too small"),
    (lambda: pooling.max_pool2d_backward(np.zeros((1, 2, 2, 3)), np.zeros((1, 2, 2, 3), int),
                                         (1, 4, 4, 2), data_format="NHWC"), ValueError,
     r"input_shape \(1, 4, 4, 2\) is inconsistent with grad_output shape \(1, 2, 2, 3\)"),
    (lambda: pooling.adaptive_max_pool2d(np.zeros((1, 4, 0, 2)), 2, data_format="NHWC"),
     ValueError, r"spatial sizes must be non-zero.*\(1, 4, 0, 2\)"),
]


# One table per operation; every refusal runs on both backends.
CALL_CASES = {"max_pool1d": MAX_POOL1D_CASES, "max_pool3d": MAX_POOL3D_CASES,
              "unpool": UNPOOL_CASES, "adaptive": ADAPTIVE_CASES,
              "data_format": DATA_FORMAT_CASES}


@pytest.mark.parametrize("call, exc, pattern", [
    pytest.param(*case, id=f"{op}-{i}")
    for op, cases in CALL_CASES.items() for i, case in enumerate(cases)])
def test_refuses(backend, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_adaptive_and_unpool_layer_misuse():
    with pytest.raises(RuntimeError, match="AdaptiveMaxPool2D.backward called before forward"):
        pooling.AdaptiveMaxPool2D(2).backward(np.zeros((1, 2, 2)))
    layer = pooling.MaxUnpool2D(2)
    with pytest.raises(RuntimeError, match="MaxUnpool2D.backward called before forward"):
        layer.backward(np.zeros((1, 4, 4)))
    layer.forward(np.ones((1, 2, 2)), np.zeros((1, 2, 2), np.int64))
    with pytest.raises(ValueError, match=r"\(1, 3, 3\).*\(1, 4, 4\)"):
        layer.backward(np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="kernel_size should be greater than zero"):
        pooling.MaxUnpool1D(0)

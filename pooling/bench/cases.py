"""What the benchmark measures: the case tables, and for each case the
callables of every implementation (ours, the reference, im2col, torch)."""
from __future__ import annotations

import numpy as np

import pooling
from pooling import reference

from .baselines import im2col_backward, im2col_forward
from .timing import settle

# (name, shape, dtype, pooling arguments)
CASES = [
    ("32x64x112x112 3x3/s2/p1", (32, 64, 112, 112), "float32",
     dict(kernel_size=3, stride=2, padding=1)),
    ("32x64x112x112 2x2/s2", (32, 64, 112, 112), "float32", dict(kernel_size=2, stride=2)),
    ("8x256x56x56 2x2/s2", (8, 256, 56, 56), "float32", dict(kernel_size=2, stride=2)),
    ("16x512x14x14 2x2/s2", (16, 512, 14, 14), "float32", dict(kernel_size=2, stride=2)),
    ("64x32x32x32 f64 2x2/s2", (64, 32, 32, 32), "float64", dict(kernel_size=2, stride=2)),
    ("8x64x64x64 3x3/s1/p1", (8, 64, 64, 64), "float32",
     dict(kernel_size=3, stride=1, padding=1)),
]
# --quick: the same cases on a smaller batch (the same rows, 1 to 3 MB each)
QUICK_CASES = [(f"{b}x{name.split('x', 1)[1]}", (b,) + shape[1:], dtype, kw)
               for (name, shape, dtype, kw), b in zip(CASES, (1, 1, 1, 2, 4, 1))]
TINY_CASES = [
    ("2x3x16x16 2x2/s2", (2, 3, 16, 16), "float32", dict(kernel_size=2, stride=2)),
    ("2x3x15x15 3x3/s2/p1", (2, 3, 15, 15), "float32", dict(kernel_size=3, stride=2, padding=1)),
]
# "forward": pooling.max_pool2d, values only.  "forward+int64": the same call
# with return_indices=True (PyTorch's int64 indices).  "layer forward" and
# "layer backward": pooling.MaxPool2D, which caches a compact (uint8) argmax
# instead.  Torch's side of both forward-with-indices rows is
# max_pool2d(return_indices=True).
OPS = ("forward", "forward+int64", "layer forward", "layer backward")
# im2col and the reference are slow: above this many (elements x window
# positions) --quick skips them.
QUICK_LIMIT = 50_000_000
# 100x in size.  The largest output stays under 32 MB: above that glibc maps
# fresh pages for every output and page faults, not pooling, set the pace.
LINEAR_SHAPES = [(2, 32, 56, 56), (8, 32, 56, 56), (8, 64, 56, 56), (8, 64, 112, 112),
                 (16, 64, 112, 112), (20, 80, 112, 112)]
# --quick: 128x in size, the largest 26 MB
QUICK_LINEAR_SHAPES = [(1, 16, 56, 56), (2, 16, 56, 56), (2, 32, 56, 56), (8, 32, 56, 56),
                       (8, 64, 56, 56), (8, 64, 112, 112)]
TINY_LINEAR_SHAPES = [(1, 2, 8, 8), (2, 4, 16, 16), (4, 8, 32, 32)]


def main_cases(size):
    """The main table's cases at size ("full", "quick" or "tiny")."""
    return {"full": CASES, "quick": QUICK_CASES, "tiny": TINY_CASES}[size]


def linear_shapes(size):
    """The linear-cost section's shapes at size."""
    return {"full": LINEAR_SHAPES, "quick": QUICK_LINEAR_SHAPES, "tiny": TINY_LINEAR_SHAPES}[size]


def input_bytes(case):
    """Bytes of a case's input."""
    _, shape, dtype, _ = case
    return int(np.prod(shape)) * np.dtype(dtype).itemsize


def largest(cases):
    """The cases whose input is the largest (all of them if several tie)."""
    most = max(map(input_bytes, cases), default=0)
    return [c for c in cases if input_bytes(c) == most]


def impls(x, kw, torch):
    """{impl: {op: callable}} for one input, the bytes each op reads and
    writes, the output's bytes, and {op: the array whose single read is the
    op's floor} (the input; for the backward, the incoming gradient).  Ops
    that time the same call share one callable, so it is measured once."""
    k = kw["kernel_size"]
    s = kw.get("stride", k)
    p = kw.get("padding", 0)
    layer = pooling.MaxPool2D(**kw)
    y = layer.forward(x)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
    _, ref_idx = reference.max_pool2d(x, return_indices=True, **kw)
    _, i2c_cache = im2col_forward(x, k, s, p)

    def ref_indices():
        return reference.max_pool2d(x, return_indices=True, **kw)

    def i2c():
        return im2col_forward(x, k, s, p)
    fns = {
        "ours": {"forward": lambda: pooling.max_pool2d(x, **kw),
                 "forward+int64": lambda: pooling.max_pool2d(x, return_indices=True, **kw),
                 "layer forward": lambda: layer.forward(x),
                 "layer backward": lambda: layer.backward(g)},
        "reference": {"forward": lambda: reference.max_pool2d(x, **kw),
                      "forward+int64": ref_indices,
                      "layer forward": ref_indices,
                      "layer backward": lambda: reference.max_pool2d_backward(g, ref_idx, x.shape)},
        "im2col": {"forward": lambda: i2c()[0],
                   "forward+int64": i2c,
                   "layer forward": i2c,
                   "layer backward": lambda: im2col_backward(g, i2c_cache)},
    }
    if torch is not None:
        t = torch.from_numpy(x)
        tg = torch.from_numpy(g)
        _, ti = torch.nn.functional.max_pool2d(t, return_indices=True, **kw)
        args = (k, s, p, 1, False)

        def torch_indices():
            return torch.nn.functional.max_pool2d(t, return_indices=True, **kw)
        fns["torch"] = {
            "forward": lambda: torch.nn.functional.max_pool2d(t, **kw),
            "forward+int64": torch_indices,
            "layer forward": torch_indices,
            "layer backward": lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                tg, t, *args, ti)}
    sizes = {"forward": x.nbytes + y.nbytes,
             "forward+int64": x.nbytes + y.nbytes + y.size * 8,
             "layer forward": x.nbytes + y.nbytes + y.size * layer._argmax.itemsize,
             "layer backward": g.nbytes + y.size * layer._argmax.itemsize + x.size * g.itemsize}
    reads = {"forward": x, "forward+int64": x, "layer forward": x, "layer backward": g}
    return fns, sizes, y.nbytes, reads


def _nhwc(a):
    """a's values, channels last and stored so (a copy)."""
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def other_ops_cases(torch, size):
    """Windows without a dedicated loop, 1-D and 3-D pooling, channels-last
    data, unpooling and adaptive pooling, as (name, ours, (theirs, array),
    reads): ours(m) runs the operation with m = pooling or pooling.reference,
    theirs(torch.nn.functional, torch.from_numpy(array)) runs torch's (given
    the same memory layout: channels_last tensors for NHWC), and reads is the
    array the operation reads once: its input, or for a backward the
    incoming gradient (the floor's array).  size: "full", "quick" (a
    smaller batch and image, 1 MB inputs; the global average pooling's
    input stays ResNet's) or "tiny"."""
    tiny = size == "tiny"
    rng = np.random.default_rng(0)
    n, c, hw = {"full": (32, 64, 56), "quick": (2, 32, 28), "tiny": (2, 3, 12)}[size]
    x2 = rng.standard_normal((n, c, 2 * hw, 2 * hw)).astype(np.float32)
    x1 = rng.standard_normal((n, c, 4 * hw * hw)).astype(np.float32)
    y2, i2 = pooling.max_pool2d(x2, 2, return_indices=True)
    d3, c3 = {"full": (16, 32), "quick": (8, 16), "tiny": (4, 3)}[size]
    x3 = rng.standard_normal((n // 4 or 1, c3, d3, hw, hw)).astype(np.float32)
    y3, i3 = pooling.max_pool3d(x3, 2, return_indices=True)
    g3 = rng.standard_normal(y3.shape).astype(np.float32)
    xh = _nhwc(x2)                                            # (N, H, W, C)
    rgb = _nhwc(rng.standard_normal((n // 4 or 1, 3, 4 * hw, 4 * hw)).astype(np.float32))
    yh, ih = pooling.max_pool2d(xh, 3, 2, 1, return_indices=True, data_format="NHWC")
    gh = rng.standard_normal(yh.shape).astype(np.float32)
    layer_h = pooling.MaxPool2D(3, 2, 1, data_format="NHWC")
    layer_h.forward(xh)
    ga = rng.standard_normal(pooling.avg_pool2d(x2, 3, 2, 1).shape).astype(np.float32)

    # Fractional max pooling with fixed samples, the same for both sides.
    fo = {"full": 80, "quick": 40, "tiny": 17}[size]
    u2 = rng.random((n, c, 2)).astype(np.float32)
    # ResNet's last layer: global average pooling of 7x7 maps
    xg = rng.standard_normal((2, 16, 7, 7) if tiny else (64, 512, 7, 7)).astype(np.float32)
    ya = pooling.adaptive_avg_pool2d(x2, 7)
    gaa = rng.standard_normal(ya.shape).astype(np.float32)

    def nhwc(a):   # the channels-last tensor torch gets for an NHWC array
        return torch.from_numpy(a).permute(0, 3, 1, 2)

    aten = None if torch is None else torch.ops.aten
    return [
        (f"max_pool1d {x1.shape} k2", lambda m: m.max_pool1d(x1, 2),
         (lambda F, t: F.max_pool1d(t, 2), x1), x1),
        (f"max_unpool2d {y2.shape} k2", lambda m: m.max_unpool2d(y2, i2, 2),
         (lambda F, t: F.max_unpool2d(t, torch.from_numpy(i2), 2), y2), y2),
        (f"max_pool2d {x2.shape} 4x4/s4", lambda m: m.max_pool2d(x2, 4),
         (lambda F, t: F.max_pool2d(t, 4), x2), x2),
        (f"max_pool2d {x2.shape} 7x7/s7", lambda m: m.max_pool2d(x2, 7),
         (lambda F, t: F.max_pool2d(t, 7), x2), x2),
        (f"adaptive_max_pool2d {x2.shape} -> (5, 5)", lambda m: m.adaptive_max_pool2d(x2, 5),
         (lambda F, t: F.adaptive_max_pool2d(t, 5), x2), x2),
        (f"adaptive_max_pool2d {x2.shape} -> (8, 8)", lambda m: m.adaptive_max_pool2d(x2, 8),
         (lambda F, t: F.adaptive_max_pool2d(t, 8), x2), x2),
        (f"adaptive_max_pool2d {x2.shape} -> (1, 1)", lambda m: m.adaptive_max_pool2d(x2, 1),
         (lambda F, t: F.adaptive_max_pool2d(t, 1), x2), x2),
        (f"max_pool3d {x3.shape} 2x2x2", lambda m: m.max_pool3d(x3, 2),
         (lambda F, t: F.max_pool3d(t, 2), x3), x3),
        (f"max_pool3d {x3.shape} 3x3x3/s2/p1", lambda m: m.max_pool3d(x3, 3, 2, 1),
         (lambda F, t: F.max_pool3d(t, 3, 2, 1), x3), x3),
        (f"max_pool3d {x3.shape} 2x2x2 +indices",
         lambda m: m.max_pool3d(x3, 2, return_indices=True),
         (lambda F, t: F.max_pool3d(t, 2, return_indices=True), x3), x3),
        (f"max_pool3d_backward {y3.shape} 2x2x2",
         lambda m: m.max_pool3d_backward(g3, i3, x3.shape),
         (lambda F, t: aten.max_pool3d_with_indices_backward(
             torch.from_numpy(g3), t, [2] * 3, [2] * 3, [0] * 3, [1] * 3, False,
             torch.from_numpy(i3)), x3), g3),
        (f"adaptive_max_pool3d {x3.shape} -> (3, 5, 5)",
         lambda m: m.adaptive_max_pool3d(x3, (3, 5, 5)),
         (lambda F, t: F.adaptive_max_pool3d(t, (3, 5, 5)), x3), x3),
        (f"max_unpool3d {y3.shape} k2", lambda m: m.max_unpool3d(y3, i3, 2),
         (lambda F, t: F.max_unpool3d(t, torch.from_numpy(i3), 2), y3), y3),
        (f"NHWC max_pool2d {xh.shape} 2x2/s2",
         lambda m: m.max_pool2d(xh, 2, data_format="NHWC"),
         (lambda F, t: F.max_pool2d(nhwc(t.numpy()), 2), xh), xh),
        (f"NHWC max_pool2d {xh.shape} 3x3/s2/p1 +indices",
         lambda m: m.max_pool2d(xh, 3, 2, 1, return_indices=True, data_format="NHWC"),
         (lambda F, t: F.max_pool2d(nhwc(t.numpy()), 3, 2, 1, return_indices=True), xh), xh),
        (f"NHWC MaxPool2D {xh.shape} 3x3/s2/p1 backward",
         lambda m: layer_h.backward(gh) if m is pooling else m.max_pool2d_backward(
             gh, ih, xh.shape, "NHWC"),
         (lambda F, t: aten.max_pool2d_with_indices_backward(
             nhwc(gh), nhwc(xh), [3, 3], [2, 2], [1, 1], [1, 1], False, nhwc(ih)), xh), gh),
        (f"NHWC max_pool2d {rgb.shape} 2x2/s2 (RGB)",
         lambda m: m.max_pool2d(rgb, 2, data_format="NHWC"),
         (lambda F, t: F.max_pool2d(nhwc(t.numpy()), 2), rgb), rgb),
        (f"avg_pool2d {x2.shape} 2x2/s2", lambda m: m.avg_pool2d(x2, 2),
         (lambda F, t: F.avg_pool2d(t, 2), x2), x2),
        (f"avg_pool2d {x2.shape} 3x3/s2/p1", lambda m: m.avg_pool2d(x2, 3, 2, 1),
         (lambda F, t: F.avg_pool2d(t, 3, 2, 1), x2), x2),
        (f"avg_pool2d {x2.shape} 3x3/s1/p1", lambda m: m.avg_pool2d(x2, 3, 1, 1),
         (lambda F, t: F.avg_pool2d(t, 3, 1, 1), x2), x2),
        (f"lp_pool2d {x2.shape} p=2 2x2", lambda m: m.lp_pool2d(x2, 2, 2),
         (lambda F, t: F.lp_pool2d(t, 2, 2), x2), x2),
        (f"avg_pool2d_backward {ga.shape} 3x3/s2/p1",
         lambda m: m.avg_pool2d_backward(ga, x2.shape, 3, 2, 1),
         (lambda F, t: aten.avg_pool2d_backward(
             torch.from_numpy(ga), t, [3, 3], [2, 2], [1, 1], False, True, None), x2), ga),
        (f"NHWC avg_pool2d {xh.shape} 3x3/s2/p1",
         lambda m: m.avg_pool2d(xh, 3, 2, 1, data_format="NHWC"),
         (lambda F, t: F.avg_pool2d(nhwc(t.numpy()), 3, 2, 1), xh), xh),
        (f"fractional_max_pool2d {x2.shape} 3x3 -> ({fo}, {fo})",
         lambda m: m.fractional_max_pool2d(x2, 3, fo, random_samples=u2),
         (lambda F, t: F.fractional_max_pool2d(t, 3, fo, _random_samples=torch.from_numpy(u2)),
          x2), x2),
        (f"NHWC fractional_max_pool2d {xh.shape} 3x3 -> ({fo}, {fo})",
         lambda m: m.fractional_max_pool2d(xh, 3, fo, random_samples=u2, data_format="NHWC"),
         (lambda F, t: F.fractional_max_pool2d(nhwc(t.numpy()), 3, fo,
                                               _random_samples=torch.from_numpy(u2)), xh), xh),
        (f"adaptive_avg_pool2d {x2.shape} -> (7, 7)", lambda m: m.adaptive_avg_pool2d(x2, 7),
         (lambda F, t: F.adaptive_avg_pool2d(t, 7), x2), x2),
        (f"adaptive_avg_pool2d {x2.shape} -> (5, 5)", lambda m: m.adaptive_avg_pool2d(x2, 5),
         (lambda F, t: F.adaptive_avg_pool2d(t, 5), x2), x2),
        (f"adaptive_avg_pool2d {xg.shape} -> (1, 1)", lambda m: m.adaptive_avg_pool2d(xg, 1),
         (lambda F, t: F.adaptive_avg_pool2d(t, 1), xg), xg),
        (f"adaptive_avg_pool2d_backward {ya.shape} -> {x2.shape}",
         lambda m: m.adaptive_avg_pool2d_backward(gaa, x2.shape),
         (lambda F, t: aten._adaptive_avg_pool2d_backward(torch.from_numpy(gaa), t), x2), gaa),
    ]


# out=: the main table's large 2x2 case and a mid-sized one.
OUT_SHAPES = [(32, 64, 112, 112), (8, 64, 56, 56)]
QUICK_OUT_SHAPES = [(2, 64, 112, 112), (1, 32, 56, 56)]
TINY_OUT_SHAPES = [(2, 3, 16, 16)]


def out_cases(size):
    """max_pool2d and max_pool2d_backward, 2x2/s2 float32, each as (name,
    fresh, preallocated, reads): fresh() allocates its output as usual,
    preallocated() writes into one made beforehand (``out=``), reads is
    what the call reads (the floor's array)."""
    rng = np.random.default_rng(0)
    out = []
    for shape in {"full": OUT_SHAPES, "quick": QUICK_OUT_SHAPES, "tiny": TINY_OUT_SHAPES}[size]:
        x = rng.standard_normal(shape).astype(np.float32)
        y, i = pooling.max_pool2d(x, 2, return_indices=True)
        g = rng.standard_normal(y.shape).astype(np.float32)
        y_out, dx_out = np.empty_like(y), np.empty_like(x)
        out += [(f"max_pool2d {shape} 2x2/s2", lambda x=x: pooling.max_pool2d(x, 2),
                 lambda x=x, o=y_out: pooling.max_pool2d(x, 2, out=o), x),
                (f"max_pool2d_backward {shape} 2x2/s2",
                 lambda g=g, i=i, s=shape: pooling.max_pool2d_backward(g, i, s),
                 lambda g=g, i=i, s=shape, o=dx_out: pooling.max_pool2d_backward(g, i, s, out=o),
                 g)]
    return out


# Calls so small that their time is the call's overhead.
TINY_CALL_SHAPES = [(1, 1, 4, 4), (1, 16, 8, 8)]


def tiny_call_cases():
    """max_pool2d, kernel 2, float32, without and with indices on each of
    TINY_CALL_SHAPES, and MaxPool2D(2).forward on the last one (against
    torch's max_pool2d without indices), as (name, ours, theirs, x): ours()
    runs our call, theirs(torch.nn.functional, torch.from_numpy(x)) torch's."""
    rng = np.random.default_rng(0)
    out = []
    x = None
    for shape in TINY_CALL_SHAPES:
        x = rng.standard_normal(shape).astype(np.float32)
        out += [(f"max_pool2d {shape} k2", lambda x=x: pooling.max_pool2d(x, 2),
                 lambda F, t: F.max_pool2d(t, 2), x),
                (f"max_pool2d {shape} k2 +indices",
                 lambda x=x: pooling.max_pool2d(x, 2, return_indices=True),
                 lambda F, t: F.max_pool2d(t, 2, return_indices=True), x)]
    layer = pooling.MaxPool2D(2)
    out.append((f"MaxPool2D(2).forward {x.shape}", lambda x=x: layer.forward(x),
                lambda F, t: F.max_pool2d(t, 2), x))
    return out + _torch_tiny_calls(x)


def _torch_tiny_calls(x):
    """pooling.layers.torch on the last tiny input (issue #13's per-call
    target): its functional (eager, no autograd: the operator's
    implementation called directly), the custom operator through PyTorch's
    dispatcher, and the module with autograd recording (the operator with
    its registered gradient), each against PyTorch's own call."""
    try:
        import torch
        import pooling.layers.torch as pt
    except ImportError:
        return []
    settle()
    t, tg = torch.from_numpy(x), torch.from_numpy(x).requires_grad_()
    ours, theirs = pt.MaxPool2d(2), torch.nn.MaxPool2d(2)
    op = torch.ops.pooling.max_pool.default
    return [
        (f"torch adapter max_pool2d {x.shape} k2", lambda: pt.max_pool2d(t, 2),
         lambda F, _: F.max_pool2d(t, 2), x),
        (f"torch.ops.pooling.max_pool {x.shape} k2 (dispatcher)",
         lambda: op(t, [2, 2], [2, 2], [0, 0], [1, 1], False),
         lambda F, _: F.max_pool2d(t, 2), x),
        (f"torch adapter MaxPool2d(2) {x.shape} requires_grad", lambda: ours(tg),
         lambda F, _: theirs(tg), x),
    ]


def large_cases(size):
    """Inputs of 100 MB and more (13 MB for --quick, tiny ones for the
    tests' --tiny):
    channels-last pooling without and with int64 indices, and adaptive
    pooling whose windows tile the input (112 / 7 = 16), do not (-> 5) and
    are global (-> 1), as (name, ours, theirs, x): ours() runs our call,
    theirs(torch.nn.functional, torch.from_numpy(x)) torch's, on a
    channels_last tensor for NHWC.  x is what the call reads."""
    rng = np.random.default_rng(0)
    n, c, hw = {"full": (32, 64, 112), "quick": (4, 64, 112), "tiny": (2, 4, 14)}[size]
    x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
    xh = _nhwc(x)

    def nhwc(t):   # the channels_last view torch gets of an NHWC array
        return t.permute(0, 3, 1, 2)
    return [
        (f"NHWC max_pool2d {xh.shape} 3x3/s2/p1",
         lambda: pooling.max_pool2d(xh, 3, 2, 1, data_format="NHWC"),
         lambda F, t: F.max_pool2d(nhwc(t), 3, 2, 1), xh),
        (f"NHWC max_pool2d {xh.shape} 3x3/s2/p1 +indices",
         lambda: pooling.max_pool2d(xh, 3, 2, 1, return_indices=True, data_format="NHWC"),
         lambda F, t: F.max_pool2d(nhwc(t), 3, 2, 1, return_indices=True), xh),
        (f"adaptive_max_pool2d {x.shape} -> (7, 7) tiling",
         lambda: pooling.adaptive_max_pool2d(x, 7),
         lambda F, t: F.adaptive_max_pool2d(t, 7), x),
        (f"adaptive_max_pool2d {x.shape} -> (5, 5) not tiling",
         lambda: pooling.adaptive_max_pool2d(x, 5),
         lambda F, t: F.adaptive_max_pool2d(t, 5), x),
        (f"adaptive_max_pool2d {x.shape} -> (1, 1) global",
         lambda: pooling.adaptive_max_pool2d(x, 1),
         lambda F, t: F.adaptive_max_pool2d(t, 1), x),
    ]

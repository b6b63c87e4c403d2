"""The training section (issue #25): what training needs beyond the
forward values, on the pooling layers of the peers section.

- ``max+int64``: max pooling with PyTorch's int64 indices, ours
  (``max_pool2d(..., return_indices=True)``) beside PyTorch's
  ``return_indices=True`` and ONNX Runtime's MaxPool with its ``Indices``
  output (channels first; its flat indices are mapped to per-plane ones
  before they are compared);
- ``max backward``: ``max_pool2d_backward`` from int64 indices beside
  ``torch.ops.aten.max_pool2d_with_indices_backward``;
- ``layer backward``: ``MaxPool2D.backward`` (its compact cache) beside
  the same PyTorch operator, which is what a PyTorch layer's backward runs;
- ``avg backward``: ``avg_pool2d_backward`` beside
  ``torch.ops.aten.avg_pool2d_backward``.

No other engine trains on the CPU faster than PyTorch (XLA's gradient of a
max pool is 35-78x slower than ours: issue #28), so the peers here are
PyTorch and, for indices, ONNX Runtime.  Outputs are checked equal
(values, indices and gradients bit for bit); every engine runs at the
run's thread count, timed with timing.alternating_ms."""
from __future__ import annotations

import math

import numpy as np

import pooling

from . import progress
from .peers import LAYERS, _layers, _onnx_model, _window, ort_session
from .timing import alternating_ms

# The layers timed: the max layers for the indices and max backward rows,
# the average layers for the average backward.
BATCHES = {"full": (1, 8), "quick": (8,), "tiny": (1,)}
SECONDS = {"full": 0.4, "quick": 0.15, "tiny": 0.0}
# float64 rows: max with indices on these layers (indices in LAYERS), batch 8
FLOAT64_LAYERS = {"full": [1, 5], "quick": [5], "tiny": []}
# Issue #25's targets: over ONNX Runtime's MaxPool with indices, and over
# PyTorch for the indices and every backward row.
ORT_TARGET, TORCH_TARGET = 1.5, 2.0


def _ort_indices(x, layer, threads):
    """ONNX Runtime's MaxPool with Indices (NCHW): (call, result), as the peers' engines."""
    import onnx
    from onnx import TensorProto, helper
    model = onnx.load_from_string(_onnx_model(x.astype(np.float32), layer))
    ty = TensorProto.DOUBLE if x.dtype == np.float64 else TensorProto.FLOAT
    graph = model.graph
    graph.input[0].type.tensor_type.elem_type = ty
    graph.output[0].type.tensor_type.elem_type = ty
    graph.node[0].output.append("i")
    shape = [d.dim_value for d in graph.output[0].type.tensor_type.shape.dim]
    graph.output.append(helper.make_tensor_value_info("i", TensorProto.INT64, shape))
    sess = ort_session(model.SerializeToString(), threads)
    feed = {"x": x}
    out = []

    def call():
        out[:] = sess.run(None, feed)

    def result():
        call()
        y, i = out
        n, c, h, w = x.shape
        plane = (np.arange(n * c, dtype=np.int64) * (h * w)).reshape(n, c, 1, 1)
        return y, i - plane
    return call, result


def _torch_t(torch, a, layout):
    t = torch.from_numpy(a)
    return t.permute(0, 3, 1, 2) if layout == "NHWC" else t


def _from_torch(t, layout):
    return (t.permute(0, 2, 3, 1) if layout == "NHWC" else t).contiguous().numpy()


def _max_ops(x, layer, layout, torch, ort, threads):
    """{op: [(engine, call, result)]} for the max layer over x."""
    _, _, _, _, k, s, p, ceil = layer
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, data_format=layout)
    y, idx = pooling.max_pool2d(x, return_indices=True, **kw)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
    lay = pooling.MaxPool2D(k, s, p, ceil_mode=ceil, data_format=layout)
    lay.forward(x)
    ops = {"max+int64": [("ours", lambda: pooling.max_pool2d(x, return_indices=True, **kw),
                          None)],
           "max backward": [("ours", lambda: pooling.max_pool2d_backward(g, idx, x.shape, layout),
                             None)]}
    if x.dtype == np.float32:
        ops["layer backward"] = [("ours", lambda: lay.backward(g), None)]
    if torch is not None:
        t, tg = _torch_t(torch, x, layout), _torch_t(torch, g, layout)
        f = torch.nn.functional.max_pool2d
        _, ti = f(t, k, s, p, ceil_mode=ceil, return_indices=True)

        def t_idx():
            return f(t, k, s, p, ceil_mode=ceil, return_indices=True)

        def t_bwd():
            return torch.ops.aten.max_pool2d_with_indices_backward(tg, t, [k, k], [s, s], [p, p],
                                                                    [1, 1], ceil, ti)
        ops["max+int64"].append(("PyTorch", t_idx, lambda: tuple(
            _from_torch(a, layout) for a in t_idx())))
        for op in ("max backward", "layer backward"):
            if op in ops:
                ops[op].append(("PyTorch", t_bwd, lambda: _from_torch(t_bwd(), layout)))
    if ort and layout == "NCHW":
        call, result = _ort_indices(x, layer, threads)
        ops["max+int64"].append(("ONNX Runtime", call, result))
    want = {"max+int64": (y, idx), "max backward": pooling.max_pool2d_backward(g, idx, x.shape,
                                                                               layout)}
    want["layer backward"] = want["max backward"]
    return ops, want


def _avg_ops(x, layer, layout, torch):
    _, _, _, _, k, s, p, ceil = layer
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, data_format=layout)
    y = pooling.avg_pool2d(x, **kw)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
    ops = {"avg backward": [("ours", lambda: pooling.avg_pool2d_backward(g, x.shape, **kw),
                             None)]}
    if torch is not None:
        t, tg = _torch_t(torch, x, layout), _torch_t(torch, g, layout)

        def t_bwd():
            return torch.ops.aten.avg_pool2d_backward(tg, t, [k, k], [s, s], [p, p], ceil,
                                                      True, None)
        ops["avg backward"].append(("PyTorch", t_bwd, lambda: _from_torch(t_bwd(), layout)))
    return ops, {"avg backward": pooling.avg_pool2d_backward(g, x.shape, **kw)}


def _equal(a, b):
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_equal(u, v) for u, v in zip(a, b))
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=True))


def training_rows(threads, size):
    """One row per (op, layer, batch, layout, dtype): ours and each peer's
    ms per call, whether its output equals ours, and each peer's time over
    ours (above 1: ours is faster)."""
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        ort = True
    except ImportError:
        ort = False
    rng = np.random.default_rng(0)
    jobs = [(layer, n, np.float32) for layer in _layers(size) for n in BATCHES[size]]
    jobs += [(LAYERS[i], 8, np.float64) for i in FLOAT64_LAYERS[size]]
    rows = []
    for layer, n, dtype in jobs:
        net, name, (c, h, w), op, k, s, p, ceil = layer
        base = rng.standard_normal((n, c, h, w)).astype(dtype)
        for layout in ("NCHW", "NHWC"):
            x = base if layout == "NCHW" else np.ascontiguousarray(base.transpose(0, 2, 3, 1))
            if op == "max":
                ops, want = _max_ops(x, layer, layout, torch, ort, threads)
            else:
                ops, want = _avg_ops(x, layer, layout, torch)
            for kind, engines in ops.items():
                rows.append(_row(kind, engines, want[kind], layer, layout, x, threads, size))
            progress.step("training", f"{net} {name} batch {n} {layout}")
    return rows


def _row(kind, engines, want, layer, layout, x, threads, size):
    net, name, _, _, k, s, p, ceil = layer
    agree = {e: _equal(want, result()) for e, _, result in engines[1:]}
    timed = alternating_ms([call for _, call, _ in engines], SECONDS[size], min_runs=3)
    ms = {e: t[0] for (e, _, _), t in zip(engines, timed)}
    return {"op": kind, "network": net, "layer": name, "batch": x.shape[0], "layout": layout,
            "dtype": x.dtype.name, "shape": list(x.shape), "window": _window(k, s, p, ceil),
            "threads": threads, "ms": ms, "agree": agree,
            "ratio": {e: ms[e] / ms["ours"] for e in ms if e != "ours"}}


def target_lines(rows):
    """Issue #25's indices and backward targets: the worst row of each."""
    lines = []
    for what, ops, engine, target in (
            ("max with int64 indices", ("max+int64",), "ONNX Runtime", ORT_TARGET),
            ("max with int64 indices", ("max+int64",), "PyTorch", TORCH_TARGET),
            ("backward (max from indices, layer, average)",
             ("max backward", "layer backward", "avg backward"), "PyTorch", TORCH_TARGET)):
        ranked = [r for r in rows if r["op"] in ops and engine in r["ratio"]]
        if not ranked:
            continue
        worst = min(ranked, key=lambda r: r["ratio"][engine])
        below = sum(r["ratio"][engine] < target for r in ranked)
        g = math.exp(sum(math.log(r["ratio"][engine]) for r in ranked) / len(ranked))
        differ = sum(not r["agree"][engine] for r in ranked)
        lines.append(
            f"training: {what}, {engine} / ours, worst {worst['ratio'][engine]:.2f}x "
            f"({worst['op']} {worst['network']} {worst['layer']} batch {worst['batch']} "
            f"{worst['layout']} {worst['dtype']}), {below} of {len(ranked)} rows below "
            f"{target:g}x (target >= {target:g}x on every row: "
            f"{'met' if not below else 'missed'}); geometric mean {g:.2f}x; outputs differing "
            f"from ours: {differ}")
    return lines

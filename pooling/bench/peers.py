"""The peers section (issue #25): our forward pooling beside the fastest
CPU engines a user could pick instead, on the pooling layers of real
networks.  Each engine is optional (the ``[bench]`` extra installs them)
and is skipped with a note when its package is missing:

- oneDNN, through PyTorch's mkldnn tensors (``tensor.to_mkldnn()``; the
  conversion to its blocked layout is done before timing);
- ONNX Runtime and OpenVINO, each running a one-node ONNX model built with
  the ``onnx`` package (channels first only: their pooling operators take
  NCHW);
- XLA, through ``jax.jit`` of ``lax.reduce_window`` (its thread count is
  fixed when jax is first imported: see ``available``);
- PyTorch's own CPU kernels, for reference (never counted as the best peer).

Every engine runs at the run's thread count, times the same input with
the same timer (timing.alternating_ms: the engines take turns), and its
output is checked against ours: max pooling equal, average pooling within
what reordering its sum can change (_same)."""
from __future__ import annotations

import importlib
import math
import os
import sys

import numpy as np

import pooling
from pooling._params import output_length

from . import progress
from .timing import alternating_ms

# (network, layer, (C, H, W), op, kernel, stride, padding, ceil_mode): the
# pooling layers of torchvision's builds of these networks (global
# averages as the window that covers the plane).
LAYERS = [
    ("AlexNet", "features.2", (64, 55, 55), "max", 3, 2, 0, False),
    ("AlexNet", "features.12", (256, 13, 13), "max", 3, 2, 0, False),
    ("VGG-16", "features.4", (64, 224, 224), "max", 2, 2, 0, False),
    ("VGG-16", "features.23", (512, 28, 28), "max", 2, 2, 0, False),
    ("VGG-16", "features.30", (512, 14, 14), "max", 2, 2, 0, False),
    ("ResNet-50", "maxpool", (64, 112, 112), "max", 3, 2, 1, False),
    ("ResNet-50", "avgpool", (2048, 7, 7), "avg", 7, 7, 0, False),
    ("GoogLeNet", "maxpool3", (480, 28, 28), "max", 3, 2, 0, True),
    ("GoogLeNet", "inception4a.branch4", (480, 14, 14), "max", 3, 1, 1, True),
    ("GoogLeNet", "inception5b.branch4", (832, 7, 7), "max", 3, 1, 1, True),
    ("Inception-v3", "Mixed_5b.branch_pool", (192, 35, 35), "avg", 3, 1, 1, False),
    ("Inception-v3", "Mixed_7c.branch_pool", (2048, 8, 8), "avg", 3, 1, 1, False),
    ("DenseNet-121", "transition1.pool", (128, 56, 56), "avg", 2, 2, 0, False),
    ("DenseNet-121", "transition3.pool", (512, 14, 14), "avg", 2, 2, 0, False),
    ("MobileNet-v2", "avgpool", (1280, 7, 7), "avg", 7, 7, 0, False),
]
BATCHES = {"full": (1, 8, 32), "quick": (1, 8), "tiny": (1,)}
# --quick: the layers with the smaller planes and one large one
QUICK_LAYERS = [1, 4, 5, 6, 9, 11, 13]
# Seconds each row's engines take turns.
SECONDS = {"full": 0.6, "quick": 0.2, "tiny": 0.0}

ENGINES = ("oneDNN", "ONNX Runtime", "OpenVINO", "XLA")


def _layers(size):
    if size == "full":
        return LAYERS
    if size == "quick":
        return [LAYERS[i] for i in QUICK_LAYERS]
    return [("tiny", "max", (16, 8, 8), "max", 3, 2, 1, True),
            ("tiny", "avg", (16, 8, 8), "avg", 2, 2, 0, False)]


def _window(k, s, p, ceil):
    return f"{k}x{k}/s{s}" + (f"/p{p}" if p else "") + ("/ceil" if ceil else "")


# ---------------------------------------------------------------- engines
# Each engine: a function (x in NCHW or NHWC as the layout says, layer,
# layout, threads) -> (call, result) where call() runs the pooling and
# result() returns its last output as an NCHW/NHWC NumPy array; None when
# the engine does not run that layout.  ImportError: not installed.

def _torch(x, layer, layout, threads, mkldnn):
    """PyTorch's pooling of x: through oneDNN (mkldnn: the input converted
    to its blocked layout before timing) or its own CPU kernels."""
    import torch
    torch.set_num_threads(threads)
    _, _, _, op, k, s, p, ceil = layer
    t = torch.from_numpy(x)
    if layout == "NHWC":
        t = t.permute(0, 3, 1, 2)   # channels_last memory
    if mkldnn:
        t = t.to_mkldnn()
    pool = torch.nn.functional.max_pool2d if op == "max" else torch.nn.functional.avg_pool2d

    def call():
        return pool(t, k, s, p, ceil_mode=ceil)   # avg: count_include_pad, as ours

    def result():
        y = call()
        y = y.to_dense() if mkldnn else y
        return (y.permute(0, 2, 3, 1) if layout == "NHWC" else y).contiguous().numpy()
    return call, result


def _onednn(x, layer, layout, threads):
    return _torch(x, layer, layout, threads, True)


def _torch_native(x, layer, layout, threads):
    return _torch(x, layer, layout, threads, False)


def _onnx_model(x, layer):
    """A one-node MaxPool or AveragePool model over x (NCHW), serialised."""
    import onnx
    from onnx import TensorProto, helper
    _, _, _, op, k, s, p, ceil = layer
    n, c, h, w = x.shape
    oh, ow = output_length(h, k, s, p, 1, ceil), output_length(w, k, s, p, 1, ceil)
    attrs = dict(kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p], ceil_mode=int(ceil))
    if op == "avg":
        attrs["count_include_pad"] = 1
    node = helper.make_node("MaxPool" if op == "max" else "AveragePool", ["x"], ["y"], **attrs)
    graph = helper.make_graph([node], "pool",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                                             (n, c, oh, ow))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = min(model.ir_version, 9)
    return model.SerializeToString()


def ort_session(model: bytes, threads):
    """An ONNX Runtime CPU session of a serialised model at ``threads``."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # one thread pool that does not spin between calls (other engines take
    # turns with it; a spinning pool would eat their core)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def _onnxruntime(x, layer, layout, threads):
    if layout != "NCHW":
        return None
    sess = ort_session(_onnx_model(x, layer), threads)
    feed = {"x": x}
    out = []

    def call():
        out[:] = sess.run(None, feed)
    return call, lambda: (call(), out[0])[1]


def _openvino(x, layer, layout, threads):
    import openvino as ov
    if layout != "NCHW":
        return None
    core = ov.Core()
    model = core.read_model(_onnx_model(x, layer), b"")
    # f32 inference (on CPUs with bf16 units OpenVINO would otherwise
    # compute in bf16), at the run's thread count, for latency
    compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                 "INFERENCE_PRECISION_HINT": "f32",
                                                 "PERFORMANCE_HINT": "LATENCY"})
    req = compiled.create_infer_request()

    def call():
        req.infer({0: x}, share_inputs=True)

    def result():
        call()
        return np.array(req.get_output_tensor(0).data)
    return call, result


def _xla(x, layer, layout, threads):
    import jax
    from jax import lax
    import jax.numpy as jnp
    _, _, _, op, k, s, p, ceil = layer
    hw = (1, 2) if layout == "NHWC" else (2, 3)
    window, strides, pads = [1] * 4, [1] * 4, [(0, 0)] * 4
    for d in hw:
        n = x.shape[d]
        o = output_length(n, k, s, p, 1, ceil)
        window[d], strides[d] = k, s
        pads[d] = (p, max(p, (o - 1) * s + k - n - p))
    cpu = jax.devices("cpu")[0]
    xj = jax.device_put(x, cpu)
    if op == "max":
        f = jax.jit(lambda a: lax.reduce_window(a, -jnp.inf, lax.max, window, strides, pads))
    else:   # count_include_pad without ceil-mode windows: every window counts k*k
        f = jax.jit(lambda a: lax.reduce_window(a, 0.0, lax.add, window, strides, pads)
                    / (k * k))

    def call():
        f(xj).block_until_ready()
    return call, lambda: np.asarray(f(xj))


PEERS = {"oneDNN": _onednn, "ONNX Runtime": _onnxruntime, "OpenVINO": _openvino,
         "XLA": _xla}
MODULES = {"oneDNN": "torch", "ONNX Runtime": "onnxruntime", "OpenVINO": "openvino",
           "XLA": "jax"}


def _ours(x, layer, layout):
    _, _, _, op, k, s, p, ceil = layer
    fn = pooling.max_pool2d if op == "max" else pooling.avg_pool2d

    def call():
        return fn(x, k, s, p, ceil_mode=ceil, data_format=layout)
    return call


def available(threads):
    """{engine: None if it runs, else why not}.  XLA's CPU thread pool is
    sized when jax is first imported, so a one-thread run asks for one
    thread (XLA_FLAGS) before that; a jax imported earlier is used as it
    is."""
    if "jax" not in sys.modules and threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false "
                                       "intra_op_parallelism_threads=1").strip()
    out = {}
    for name in ENGINES:
        try:
            importlib.import_module(MODULES[name])
            if name in ("ONNX Runtime", "OpenVINO"):
                importlib.import_module("onnx")
            out[name] = None
        except ImportError as e:
            out[name] = f"{e.name or MODULES[name]} is not installed"
        except Exception as e:   # a package that is installed but broken
            out[name] = f"{MODULES[name]} failed to import: {type(e).__name__}: {e}"
    return out


def _same(ours, theirs, x, layer):
    """Max: equal.  Average: within what reordering a k*k-term float32 sum
    can change, k*k ulp of the input's largest magnitude (the engines sum
    in their own orders, and near-zero averages of mixed signs leave no
    bound relative to the result)."""
    if theirs.shape != ours.shape:
        return False
    op, k = layer[3], layer[4]
    if op == "max":
        return bool(np.array_equal(ours, theirs, equal_nan=True))
    tol = k * k * np.spacing(np.float32(np.abs(x).max()))
    return bool(np.all(np.abs(theirs - ours) <= tol))


def peer_rows(threads, size):
    """One row per (layer, batch, layout): ours and each engine's ms per
    call (median of the turns), whether its values agree, and the best
    peer's time over ours (above 1: ours is faster)."""
    why = available(threads)
    engines = [e for e in ENGINES if why[e] is None]
    torch_ok = why["oneDNN"] is None
    rng = np.random.default_rng(0)
    rows = []
    for layer in _layers(size):
        net, name, (c, h, w), op, k, s, p, ceil = layer
        for n in BATCHES[size]:
            base = rng.standard_normal((n, c, h, w)).astype(np.float32)
            for layout in ("NCHW", "NHWC"):
                x = base if layout == "NCHW" else np.ascontiguousarray(base.transpose(0, 2, 3, 1))
                rows.append(_row(x, layer, layout, n, threads, engines, torch_ok, size))
                progress.step("peers", f"{net} {name} batch {n} {layout}")
    for r in rows:
        r["skipped"] = {e: why[e] for e in ENGINES if why[e] is not None}
    return rows


def _row(x, layer, layout, n, threads, engines, torch_ok, size):
    net, name, (c, h, w), op, k, s, p, ceil = layer
    ours = _ours(x, layer, layout)
    want = ours()
    calls, names, agree, notes = [ours], ["ours"], {}, {}
    for e in engines + (["PyTorch"] if torch_ok else []):
        make = _torch_native if e == "PyTorch" else PEERS[e]
        try:
            made = make(x, layer, layout, threads)
        except Exception as err:   # an engine that refuses this layer: a note, not a crash
            notes[e] = f"{type(err).__name__}: {err}"[:120]
            continue
        if made is None:
            continue
        call, result = made
        agree[e] = _same(want, result(), x, layer)
        calls.append(call)
        names.append(e)
    timed = alternating_ms(calls, SECONDS[size], min_runs=3)
    ms = {nm: t[0] for nm, t in zip(names, timed)}
    peers = {e: ms[e] for e in ms if e in ENGINES}
    best = min(peers, key=peers.get) if peers else None
    return {"network": net, "layer": name, "op": op, "batch": n, "layout": layout,
            "shape": list(x.shape), "window": _window(k, s, p, ceil), "threads": threads,
            "ms": ms, "agree": agree, "notes": notes, "best": best,
            "ratio": peers[best] / ms["ours"] if best else math.nan}

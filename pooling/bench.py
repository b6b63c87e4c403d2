"""``python -m pooling.bench``: how fast the kernels are, measured side by side.

Each row times one operation on one case, as the median of repeated runs in
this process, for this package's Cython kernels, its pure-NumPy reference,
the textbook im2col implementation it replaces (written below), and PyTorch's
CPU max pooling when torch is importable, all at the same thread count.
Speedups are ratios of those medians.  Effective bandwidth is (bytes read +
bytes written) / time, printed beside a plain copy's bandwidth measured in the
same run; peak extra memory is tracemalloc's peak during one call (NumPy
reports its allocations to it; PyTorch's are not seen).

    python -m pooling.bench [--threads N] [--quick] [--json PATH] [--cases TEXT]
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np

import pooling
from pooling import reference

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
TINY_CASES = [
    ("2x3x16x16 2x2/s2", (2, 3, 16, 16), "float32", dict(kernel_size=2, stride=2)),
    ("2x3x15x15 3x3/s2/p1", (2, 3, 15, 15), "float32", dict(kernel_size=3, stride=2, padding=1)),
]
OPS = ("forward", "forward+indices", "backward")
IMPLS = ("ours", "reference", "im2col", "torch")
# im2col and the reference are slow: above this many (elements x window
# positions) --quick skips them.
QUICK_LIMIT = 50_000_000
# 100x in size.  The largest output stays under 32 MB: above that glibc maps
# fresh pages for every output and page faults, not pooling, set the pace.
LINEAR_SHAPES = [(2, 32, 56, 56), (8, 32, 56, 56), (8, 64, 56, 56), (8, 64, 112, 112),
                 (16, 64, 112, 112), (20, 80, 112, 112)]


# ------------------------------------------------------------ im2col baseline

def _im2col_indices(H, W, k, s, p):
    """Row/column gather indices of every window: (k*k, OH*OW) each."""
    OH, OW = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    ki, kj = np.divmod(np.arange(k * k), k)
    oi, oj = np.divmod(np.arange(OH * OW), OW)
    return ki[:, None] + s * oi[None, :], kj[:, None] + s * oj[None, :], OH, OW


def im2col_forward(x, k, s, p):
    """The textbook NumPy max pool: copy every window into columns, argmax."""
    N, C, H, W = x.shape
    planes = x.reshape(N * C, H, W)
    if p:
        planes = np.pad(planes, ((0, 0), (p, p), (p, p)), constant_values=-np.inf)
    rows, cols, OH, OW = _im2col_indices(H, W, k, s, p)
    col = planes[:, rows, cols]                     # (N*C, k*k, OH*OW): K*K copies
    arg = col.argmax(axis=1)
    y = np.take_along_axis(col, arg[:, None, :], axis=1)[:, 0]
    return y.reshape(N, C, OH, OW), (arg, x.shape, k, s, p)


def im2col_backward(grad, cache):
    arg, (N, C, H, W), k, s, p = cache
    rows, cols, OH, OW = _im2col_indices(H, W, k, s, p)
    gcol = np.zeros((N * C, k * k, OH * OW), dtype=grad.dtype)
    np.put_along_axis(gcol, arg[:, None, :], grad.reshape(N * C, 1, -1), axis=1)
    padded = np.zeros((N * C, H + 2 * p, W + 2 * p), dtype=grad.dtype)
    np.add.at(padded, (slice(None), rows, cols), gcol)  # col2im
    return padded[:, p:p + H, p:p + W].reshape(N, C, H, W)


# ------------------------------------------------------------ timing helpers

def calibrate(fn, min_seconds=0.02):
    """Calls of fn per timed repeat (doubling until one lasts min_seconds),
    after a warm-up call: first-touch pages, lazy initialisation."""
    fn()
    loops = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        if time.perf_counter() - t0 >= min_seconds or loops >= 1 << 16:
            return loops
        loops *= 2


def _median_ms(fn, repeats, min_seconds=0.02):
    """Median time of one call, in ms.  Calls are looped until one repeat
    lasts min_seconds (as timeit does), so small cases are not lost in timer
    noise; the garbage collector is off while timing."""
    loops = calibrate(fn, min_seconds)
    times = []
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(loops):
                fn()
            times.append((time.perf_counter() - t0) / loops)
    finally:
        if enabled:
            gc.enable()
    return 1e3 * statistics.median(times)


def _peak_mb(fn):
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def copy_bandwidth(nbytes, repeats):
    """GB/s of np.copyto between preallocated arrays (read + write)."""
    src = np.ones(nbytes // 8, dtype=np.float64)
    dst = np.empty_like(src)
    ms = _median_ms(lambda: np.copyto(dst, src), repeats)
    return 2 * src.nbytes / ms / 1e6


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# ------------------------------------------------------------ one case

def _impls(x, kw, torch):
    """{impl: {op: callable}} for one input."""
    k = kw["kernel_size"]
    s = kw.get("stride", k)
    p = kw.get("padding", 0)
    layer = pooling.MaxPool2D(**kw)
    y = layer.forward(x)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
    _, ref_idx = reference.max_pool2d(x, return_indices=True, **kw)
    _, i2c_cache = im2col_forward(x, k, s, p)
    impls = {
        "ours": {"forward": lambda: pooling.max_pool2d(x, **kw),
                 "forward+indices": lambda: layer.forward(x),
                 "backward": lambda: layer.backward(g)},
        "reference": {"forward": lambda: reference.max_pool2d(x, **kw),
                      "forward+indices": lambda: reference.max_pool2d(
                          x, return_indices=True, **kw),
                      "backward": lambda: reference.max_pool2d_backward(g, ref_idx, x.shape)},
        "im2col": {"forward": lambda: im2col_forward(x, k, s, p)[0],
                   "forward+indices": lambda: im2col_forward(x, k, s, p),
                   "backward": lambda: im2col_backward(g, i2c_cache)},
    }
    if torch is not None:
        t = torch.from_numpy(x)
        tg = torch.from_numpy(g)
        _, ti = torch.nn.functional.max_pool2d(t, return_indices=True, **kw)
        args = (k, s, p, 1, False)
        impls["torch"] = {
            "forward": lambda: torch.nn.functional.max_pool2d(t, **kw),
            "forward+indices": lambda: torch.nn.functional.max_pool2d(
                t, return_indices=True, **kw),
            "backward": lambda: torch.ops.aten.max_pool2d_with_indices_backward(
                tg, t, *args, ti)}
    sizes = {"forward": x.nbytes + y.nbytes,
             "forward+indices": x.nbytes + y.nbytes + y.size * layer._argmax.itemsize,
             "backward": g.nbytes + y.size * layer._argmax.itemsize + x.size * g.itemsize}
    return impls, sizes, y.nbytes


def run_case(name, shape, dtype, kw, repeats, quick, torch):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    impls, sizes, out_bytes = _impls(x, kw, torch)
    k = kw["kernel_size"]
    slow_ok = not quick or x.size * k * k <= QUICK_LIMIT
    rows = []
    for op in OPS:
        row = {"case": name, "op": op, "ms": {}, "peak_mb": {}}
        for impl, fns in impls.items():
            if impl in ("reference", "im2col") and not slow_ok:
                continue
            reps = repeats if impl in ("ours", "torch") else max(3, repeats // 3)
            row["ms"][impl] = _median_ms(fns[op], reps)
            if impl != "torch":
                row["peak_mb"][impl] = _peak_mb(fns[op])
        row["gbps"] = sizes[op] / row["ms"]["ours"] / 1e6
        row["out_mb"] = out_bytes / 1e6
        rows.append(row)
    return rows


# ------------------------------------------------------------ report

def _fmt_ms(v):
    return "skipped" if v is None else (f"{v:8.3f}" if v < 1 else f"{v:8.2f}" if v < 1000 else f"{v:8.0f}")


def _ratio(row, other):
    a, b = row["ms"].get("ours"), row["ms"].get(other)
    return None if a is None or b is None else b / a


def _geomean(vals):
    vals = [v for v in vals if v]
    return math.exp(sum(map(math.log, vals)) / len(vals)) if vals else None


def print_table(rows, copy_gbps):
    head = (f"{'case':26} {'op':16} {'ours ms':>8} {'ref ms':>8} {'im2col':>8} "
            f"{'torch ms':>8} {'x ref':>6} {'x i2c':>6} {'x torch':>7} {'GB/s':>6} "
            f"{'peak MB ours/ref/i2c (x out)':>30}")
    print(head)
    print("-" * len(head))
    for r in rows:
        ratios = [_ratio(r, o) for o in ("reference", "im2col", "torch")]
        peaks = "/".join("-" if r["peak_mb"].get(i) is None else
                         f"{r['peak_mb'][i]:.0f}({r['peak_mb'][i] / r['out_mb']:.1f})"
                         for i in ("ours", "reference", "im2col"))
        print(f"{r['case']:26} {r['op']:16} {_fmt_ms(r['ms'].get('ours'))} "
              f"{_fmt_ms(r['ms'].get('reference'))} {_fmt_ms(r['ms'].get('im2col'))} "
              f"{_fmt_ms(r['ms'].get('torch'))} "
              + " ".join("     -" if v is None else f"{v:6.1f}" for v in ratios[:2])
              + ("       -" if ratios[2] is None else f" {ratios[2]:7.1f}")
              + f" {r['gbps']:6.1f} {peaks:>30}")
    print(f"copy bandwidth (np.copyto, read + write): {copy_gbps:.1f} GB/s")


def thread_scaling(threads, repeats, quick, cases):
    """Ours at 1 thread and at `threads` on the 32x64x112x112 cases."""
    out = []
    for name, shape, dtype, kw in cases:
        if not name.startswith("32x64x112x112"):
            continue
        x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
        impls, _, _ = _impls(x, kw, None)
        for op in OPS:
            t = {}
            for n in (1, threads):
                pooling.set_num_threads(n)
                t[n] = _median_ms(impls["ours"][op], repeats)
            pooling.set_num_threads(threads)
            out.append({"case": name, "op": op, "ms_1": t[1], "ms_n": t[threads],
                        "speedup": t[1] / t[threads]})
    return out


def linear_cost(repeats, tiny):
    shapes = [(1, 2, 8, 8), (2, 4, 16, 16), (4, 8, 32, 32)] if tiny else LINEAR_SHAPES
    out = []
    for shape in shapes:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        ms = _median_ms(lambda: pooling.max_pool2d(x, 2), repeats)
        out.append({"shape": shape, "elements": x.size, "ms": ms,
                    "ns_per_element": 1e6 * ms / x.size})
    med = statistics.median(r["ns_per_element"] for r in out)
    for r in out:
        r["ratio_to_median"] = r["ns_per_element"] / med
    return out


def _nhwc(a):
    """a's values, channels last and stored so (a copy)."""
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


def other_ops(repeats, torch, tiny):
    """Windows without a dedicated loop, 1-D and 3-D pooling, channels-last
    data, unpooling and adaptive pooling: ours vs reference and torch (torch
    given the same memory layout: channels_last tensors for NHWC)."""
    rng = np.random.default_rng(0)
    n, c, hw = (2, 3, 12) if tiny else (32, 64, 56)
    x2 = rng.standard_normal((n, c, 2 * hw, 2 * hw)).astype(np.float32)
    x1 = rng.standard_normal((n, c, 4 * hw * hw)).astype(np.float32)
    y2, i2 = pooling.max_pool2d(x2, 2, return_indices=True)
    d3, c3 = (4, 3) if tiny else (16, 32)
    x3 = rng.standard_normal((n // 4 or 1, c3, d3, hw, hw)).astype(np.float32)
    y3, i3 = pooling.max_pool3d(x3, 2, return_indices=True)
    g3 = rng.standard_normal(y3.shape).astype(np.float32)
    xh = _nhwc(x2)                                            # (N, H, W, C)
    rgb = _nhwc(rng.standard_normal((n // 4 or 1, 3, 4 * hw, 4 * hw)).astype(np.float32))
    yh, ih = pooling.max_pool2d(xh, 3, 2, 1, return_indices=True, data_format="NHWC")
    gh = rng.standard_normal(yh.shape).astype(np.float32)
    layer_h = pooling.MaxPool2D(3, 2, 1, data_format="NHWC")
    layer_h.forward(xh)

    def nhwc(a):   # the channels-last tensor torch gets for an NHWC array
        return torch.from_numpy(a).permute(0, 3, 1, 2)

    aten = None if torch is None else torch.ops.aten
    cases = [
        (f"max_pool1d {x1.shape} k2", lambda m: m.max_pool1d(x1, 2),
         (lambda F, t: F.max_pool1d(t, 2), x1)),
        (f"max_unpool2d {y2.shape} k2", lambda m: m.max_unpool2d(y2, i2, 2),
         (lambda F, t: F.max_unpool2d(t, torch.from_numpy(i2), 2), y2)),
        (f"max_pool2d {x2.shape} 4x4/s4", lambda m: m.max_pool2d(x2, 4),
         (lambda F, t: F.max_pool2d(t, 4), x2)),
        (f"max_pool2d {x2.shape} 7x7/s7", lambda m: m.max_pool2d(x2, 7),
         (lambda F, t: F.max_pool2d(t, 7), x2)),
        (f"adaptive_max_pool2d {x2.shape} -> (5, 5)", lambda m: m.adaptive_max_pool2d(x2, 5),
         (lambda F, t: F.adaptive_max_pool2d(t, 5), x2)),
        (f"adaptive_max_pool2d {x2.shape} -> (8, 8)", lambda m: m.adaptive_max_pool2d(x2, 8),
         (lambda F, t: F.adaptive_max_pool2d(t, 8), x2)),
        (f"adaptive_max_pool2d {x2.shape} -> (1, 1)", lambda m: m.adaptive_max_pool2d(x2, 1),
         (lambda F, t: F.adaptive_max_pool2d(t, 1), x2)),
        (f"max_pool3d {x3.shape} 2x2x2", lambda m: m.max_pool3d(x3, 2),
         (lambda F, t: F.max_pool3d(t, 2), x3)),
        (f"max_pool3d {x3.shape} 3x3x3/s2/p1", lambda m: m.max_pool3d(x3, 3, 2, 1),
         (lambda F, t: F.max_pool3d(t, 3, 2, 1), x3)),
        (f"max_pool3d {x3.shape} 2x2x2 +indices",
         lambda m: m.max_pool3d(x3, 2, return_indices=True),
         (lambda F, t: F.max_pool3d(t, 2, return_indices=True), x3)),
        (f"max_pool3d_backward {y3.shape} 2x2x2",
         lambda m: m.max_pool3d_backward(g3, i3, x3.shape),
         (lambda F, t: aten.max_pool3d_with_indices_backward(
             torch.from_numpy(g3), t, [2] * 3, [2] * 3, [0] * 3, [1] * 3, False,
             torch.from_numpy(i3)), x3)),
        (f"adaptive_max_pool3d {x3.shape} -> (3, 5, 5)",
         lambda m: m.adaptive_max_pool3d(x3, (3, 5, 5)),
         (lambda F, t: F.adaptive_max_pool3d(t, (3, 5, 5)), x3)),
        (f"max_unpool3d {y3.shape} k2", lambda m: m.max_unpool3d(y3, i3, 2),
         (lambda F, t: F.max_unpool3d(t, torch.from_numpy(i3), 2), y3)),
        (f"NHWC max_pool2d {xh.shape} 2x2/s2",
         lambda m: m.max_pool2d(xh, 2, data_format="NHWC"),
         (lambda F, t: F.max_pool2d(nhwc(t.numpy()), 2), xh)),
        (f"NHWC max_pool2d {xh.shape} 3x3/s2/p1 +indices",
         lambda m: m.max_pool2d(xh, 3, 2, 1, return_indices=True, data_format="NHWC"),
         (lambda F, t: F.max_pool2d(nhwc(t.numpy()), 3, 2, 1, return_indices=True), xh)),
        (f"NHWC MaxPool2D {xh.shape} 3x3/s2/p1 backward",
         lambda m: layer_h.backward(gh) if m is pooling else m.max_pool2d_backward(
             gh, ih, xh.shape, "NHWC"),
         (lambda F, t: aten.max_pool2d_with_indices_backward(
             nhwc(gh), nhwc(xh), [3, 3], [2, 2], [1, 1], [1, 1], False, nhwc(ih)), xh)),
        (f"NHWC max_pool2d {rgb.shape} 2x2/s2 (RGB)",
         lambda m: m.max_pool2d(rgb, 2, data_format="NHWC"),
         (lambda F, t: F.max_pool2d(nhwc(t.numpy()), 2), rgb)),
    ]
    rows = []
    for name, ours, (theirs, arr) in cases:
        row = {"case": name, "ours_ms": _median_ms(lambda: ours(pooling), repeats),
               "reference_ms": _median_ms(lambda: ours(reference), max(3, repeats // 3))}
        if torch is not None:
            t = torch.from_numpy(arr)
            row["torch_ms"] = _median_ms(lambda: theirs(torch.nn.functional, t), repeats)
        rows.append(row)
    return rows


def adapter_rows(quick):
    try:
        from pooling.layers import _bench
    except ImportError:
        return []
    rows = []
    for fn in ("tinyml_rows", "torch_rows"):
        try:
            rows += getattr(_bench, fn)(quick)
        except ImportError:
            continue
    return rows


def summary(rows, scaling, linear, copy_gbps):
    """The project's performance targets, with the measured values."""
    lines = []
    by = {(r["case"], r["op"]): r for r in rows}
    fwd = [r for r in rows if r["op"] == "forward" and "2x2/s2" in r["case"]]
    for r in fwd:
        v = _ratio(r, "torch")
        if v:
            lines.append(f"forward (no indices) vs torch, {r['case']}: {v:.1f}x (target >= 10x)")
    big = by.get(("32x64x112x112 2x2/s2", "forward"))
    if big:
        lines.append(f"forward 32x64x112x112 2x2/s2: {big['gbps']:.1f} GB/s = "
                     f"{100 * big['gbps'] / copy_gbps:.0f}% of copy bandwidth (target >= 60%)")
    for op, target in (("forward+indices", 5), ("backward", 3)):
        g = _geomean([_ratio(r, "torch") for r in rows if r["op"] == op])
        if g:
            lines.append(f"layer {op} vs torch, geometric mean: {g:.1f}x (target >= {target}x)")
    for s in scaling:
        lines.append(f"threads: {s['case']} {s['op']}: {s['speedup']:.2f}x (target >= 1.7x)")
    for op in OPS:
        g = _geomean([r["ms"]["im2col"] / r["ms"]["reference"] for r in rows
                      if r["op"] == op and "im2col" in r["ms"] and "reference" in r["ms"]])
        if g:
            lines.append(f"reference vs im2col, {op}, geometric mean: {g:.1f}x (target >= 3x)")
    peaks = [r["peak_mb"]["reference"] / r["out_mb"] for r in rows
             if r["op"] == "forward" and "reference" in r["peak_mb"]]
    if peaks:
        lines.append(f"reference forward peak memory: at most {max(peaks):.1f}x the output")
    if linear:
        spread = max(abs(r["ratio_to_median"] - 1) for r in linear)
        lines.append(f"linear cost: ns/element within +-{100 * spread:.0f}% of the median across "
                     f"{linear[-1]['elements'] / linear[0]['elements']:.0f}x sizes "
                     f"(target +-25%)")
    return lines


def bench(threads=None, quick=False, cases=None, json_path=None, tiny=False):
    """Run the benchmark, print the tables, return the measurements."""
    torch = _torch()
    if pooling.get_backend() != "cython":
        print("warning: the compiled kernels are not in use; 'ours' is the NumPy reference")
    threads = threads or pooling.get_num_threads()
    pooling.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    repeats = 3 if quick or tiny else 7
    selected = [c for c in (TINY_CASES if tiny else CASES) if not cases or cases in c[0]]
    print(f"pooling {pooling.__version__} ({pooling.get_backend()}), numpy {np.__version__}, "
          f"torch {getattr(torch, '__version__', 'not installed')}, threads {threads}, "
          f"{platform.machine()}, median of {repeats} runs")
    biggest = max((int(np.prod(c[1])) * np.dtype(c[2]).itemsize for c in selected), default=1 << 20)
    copy_gbps = copy_bandwidth(biggest, repeats)
    rows = []
    for name, shape, dtype, kw in selected:
        rows += run_case(name, shape, dtype, kw, repeats, quick, torch)
    print()
    print_table(rows, copy_gbps)
    scaling = thread_scaling(max(threads, 2), repeats, quick, selected) if threads > 1 or tiny else []
    if scaling:
        print("\nthread scaling (ours):")
        for s in scaling:
            print(f"  {s['case']:26} {s['op']:16} 1 thread {s['ms_1']:8.2f} ms   "
                  f"{max(threads, 2)} threads {s['ms_n']:8.2f} ms   {s['speedup']:.2f}x")
    linear = [] if quick and not tiny else linear_cost(repeats, tiny)
    if linear:
        print("\nlinear cost (ours, forward 2x2/s2 float32):")
        for r in linear:
            print(f"  {str(r['shape']):22} {r['elements']:>11,} elements {r['ms']:9.3f} ms "
                  f"{r['ns_per_element']:7.3f} ns/element  x{r['ratio_to_median']:.2f} of median")
    others = other_ops(repeats, torch, tiny)
    print("\nother operations (ours / reference / torch, ms):")
    for o in others:
        tm = o.get("torch_ms")
        print(f"  {o['case']:60} {o['ours_ms']:8.3f} {o['reference_ms']:9.3f} "
              + ("        -" if tm is None else f"{tm:9.3f}  x{tm / o['ours_ms']:.1f} torch"))
    adapters = adapter_rows(quick)
    if adapters:
        print("\nframework layers (ours vs theirs):")
        for a in adapters:
            print(f"  {a['case']:40} ours {a['ours_ms']:8.2f} ms  theirs {a['theirs_ms']:8.2f} ms"
                  f"  {a['speedup']:.1f}x")
    lines = summary(rows, scaling, linear, copy_gbps)
    print("\ntargets:")
    for line in lines:
        print("  " + line)
    result = {"version": pooling.__version__, "threads": threads, "copy_gbps": copy_gbps,
              "rows": rows, "thread_scaling": scaling, "linear_cost": linear,
              "other_ops": others, "adapters": adapters, "summary": lines}
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=1, default=str)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pooling.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for every implementation (default: pooling's)")
    ap.add_argument("--quick", action="store_true", help="fewer repeats, skip slow baselines")
    ap.add_argument("--json", dest="json_path", help="also write the measurements here")
    ap.add_argument("--cases", help="only cases whose name contains this text")
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # for the tests
    a = ap.parse_args(argv)
    bench(a.threads, a.quick, a.cases, a.json_path, a.tiny)
    return 0


if __name__ == "__main__":
    sys.exit(main())

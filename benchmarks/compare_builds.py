"""Time two builds of pooling side by side in one process.

    python benchmarks/compare_builds.py OLD_DIR [--threads N] [--repeats R]

OLD_DIR holds a built copy of another version of the package, renamed
``pooling_old`` (for example: ``git worktree add /tmp/old REV``, build it in
place, then ``cp -r /tmp/old/pooling OLD_DIR/pooling_old``).  The current
checkout's ``pooling`` is the new one.  Calls alternate old/new within each
repeat so that the shared machine's drift hits both alike; the ratio printed
is median(old) / median(new), so above 1 means the new build is faster.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def side_by_side(fns, repeats):
    from pooling.bench.timing import calibrate
    loops = max(calibrate(f) for f in fns)
    times = [[] for _ in fns]
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            for f, t in zip(fns, times):
                t0 = time.perf_counter()
                for _ in range(loops):
                    f()
                t.append((time.perf_counter() - t0) / loops)
    finally:
        gc.enable()
    return [1e3 * statistics.median(t) for t in times]


def cases(m):
    """(name, callable) pairs of the public API of module m."""
    rng = np.random.default_rng(0)
    from pooling.bench.cases import CASES
    out = []
    for name, shape, dtype, kw in CASES:
        x = rng.standard_normal(shape).astype(dtype)
        layer = m.MaxPool2D(**kw)
        y = layer.forward(x)
        g = rng.standard_normal(y.shape).astype(dtype)
        out += [(f"{name} forward", lambda x=x, kw=kw: m.max_pool2d(x, **kw)),
                (f"{name} forward+int64",
                 lambda x=x, kw=kw: m.max_pool2d(x, return_indices=True, **kw)),
                (f"{name} layer forward", lambda x=x, l=layer: l.forward(x)),
                (f"{name} layer backward", lambda g=g, l=layer: l.backward(g))]
    x2 = rng.standard_normal((32, 64, 112, 112)).astype(np.float32)
    x1 = rng.standard_normal((32, 64, 4 * 56 * 56)).astype(np.float32)
    y2, i2 = m.max_pool2d(x2, 2, return_indices=True)
    g2 = rng.standard_normal(y2.shape).astype(np.float32)
    out += [("max_pool2d 4x4/s4", lambda: m.max_pool2d(x2, 4)),
            ("max_pool2d_backward k2 (indices)",
             lambda: m.max_pool2d_backward(g2, i2, x2.shape)),
            ("max_pool2d 7x7/s7", lambda: m.max_pool2d(x2, 7)),
            ("max_pool1d k2", lambda: m.max_pool1d(x1, 2)),
            ("max_unpool2d k2", lambda: m.max_unpool2d(y2, i2, 2)),
            ("adaptive_max_pool2d -> 5", lambda: m.adaptive_max_pool2d(x2, 5)),
            ("adaptive_max_pool2d -> 1", lambda: m.adaptive_max_pool2d(x2, 1))]
    # Average pooling, both layouts, and its backward (old builds without
    # a kernel for a case run the reference's: compare where both have one).
    xh = np.ascontiguousarray(np.moveaxis(x2, 1, -1))
    ya = m.avg_pool2d(x2, 3, 2, 1)
    ga = rng.standard_normal(ya.shape).astype(np.float32)
    out += [("avg_pool2d 2x2/s2", lambda: m.avg_pool2d(x2, 2)),
            ("avg_pool2d 3x3/s2/p1", lambda: m.avg_pool2d(x2, 3, 2, 1)),
            ("avg_pool2d 3x3/s1/p1", lambda: m.avg_pool2d(x2, 3, 1, 1)),
            ("avg_pool2d_backward 3x3/s2/p1",
             lambda: m.avg_pool2d_backward(ga, x2.shape, 3, 2, 1)),
            ("avg_pool2d_backward 2x2/s2",
             lambda: m.avg_pool2d_backward(ga, x2.shape, 2)),
            ("NHWC avg_pool2d 3x3/s2/p1",
             lambda: m.avg_pool2d(xh, 3, 2, 1, data_format="NHWC")),
            ("NHWC avg_pool2d 2x2/s2", lambda: m.avg_pool2d(xh, 2, data_format="NHWC"))]
    # Small channels-first planes (Design F2's tiles), the late layers of CNNs.
    for shape, op, k, st, p in [((8, 1024, 7, 7), "max", 3, 1, 1), ((8, 192, 35, 35), "max", 3, 1, 1),
                                ((4, 96, 64, 64), "max", 3, 2, 1), ((8, 512, 14, 14), "max", 2, 2, 0),
                                ((8, 2048, 8, 8), "avg", 3, 1, 1), ((8, 1280, 7, 7), "avg", 7, 7, 0),
                                ((16, 512, 14, 14), "avg", 2, 2, 0), ((8, 192, 35, 35), "avg", 3, 1, 1)]:
        xs = rng.standard_normal(shape).astype(np.float32)
        fn = m.max_pool2d if op == "max" else m.avg_pool2d
        name = f"{op} {'x'.join(map(str, shape))} {k}x{k}/s{st}/p{p}"
        out.append((name, lambda xs=xs, fn=fn, k=k, st=st, p=p: fn(xs, k, st, p)))
        if op == "max":   # with PyTorch's indices, and the layer's offsets
            lay = m.MaxPool2D(k, st, p)
            out += [(f"{name} +int64", lambda xs=xs, k=k, st=st, p=p:
                     m.max_pool2d(xs, k, st, p, return_indices=True)),
                    (f"{name} layer", lambda xs=xs, lay=lay: lay.forward(xs))]
    # The average backward: one output per plane, channels last.
    for shape, k, st, p, fmt in [((8, 2048, 7, 7), 7, 7, 0, "NCHW"),
                                 ((8, 7, 7, 2048), 7, 7, 0, "NHWC"),
                                 ((8, 14, 14, 512), 2, 2, 0, "NHWC"),
                                 ((8, 35, 35, 192), 3, 1, 1, "NHWC")]:
        xs = np.empty(shape, np.float32)
        gs = rng.standard_normal(m.avg_pool2d(xs, k, st, p, data_format=fmt).shape).astype(
            np.float32)
        out.append((f"{fmt} avg backward {'x'.join(map(str, shape))} {k}x{k}/s{st}/p{p}",
                    lambda gs=gs, xs=xs, k=k, st=st, p=p, fmt=fmt: m.avg_pool2d_backward(
                        gs, xs.shape, k, st, p, data_format=fmt)))
    xd = rng.standard_normal((8, 112, 112, 64))
    out.append(("NHWC float64 +int64 (8,112,112,64) 3x3/s2/p1", lambda: m.max_pool2d(
        xd, 3, 2, 1, return_indices=True, data_format="NHWC")))
    out += [("adaptive_avg_pool2d -> 7", lambda: m.adaptive_avg_pool2d(x2, 7)),
            ("adaptive_avg_pool2d -> 5", lambda: m.adaptive_avg_pool2d(x2, 5)),
            ("adaptive_avg_pool2d -> 6", lambda: m.adaptive_avg_pool2d(x2, 6))]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old_dir")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--cases", default="", help="only cases whose name contains this text")
    a = ap.parse_args(argv)
    sys.path.insert(0, os.path.dirname(HERE))
    sys.path.insert(0, os.path.abspath(a.old_dir))
    import pooling
    import pooling_old
    for m in (pooling, pooling_old):
        assert m.get_backend() == "cython", f"{m.__name__} is not compiled"
        m.set_num_threads(a.threads)
    print(f"old {pooling_old.__file__}\nnew {pooling.__file__}\n"
          f"threads {a.threads}, median of {a.repeats} alternating runs")
    print(f"{'case':44} {'old ms':>9} {'new ms':>9} {'old/new':>8}")
    ratios = []
    for (name, old), (_, new) in zip(cases(pooling_old), cases(pooling)):
        if a.cases not in name:
            continue
        t_old, t_new = side_by_side([old, new], a.repeats)
        ratios.append(t_old / t_new)
        print(f"{name:44} {t_old:9.3f} {t_new:9.3f} {t_old / t_new:8.2f}")
    geo = float(np.exp(np.mean(np.log(ratios))))
    print(f"geometric mean old/new: {geo:.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Channels-last max pooling forward, two builds side by side (issue #11).

    python benchmarks/nhwc.py OLD_DIR [--repeats R] [--only TEXT]
        [--matrix [--dtypes float32,...] [--channels 3,64,...] [--windows 2x2/s2,...]]

OLD_DIR holds ``pooling_old`` (see compare_builds.py).  One thread.  Each row
times, alternating within each repeat, the old build, the new build, the
read floor (``x.max()`` over the input) and, for float32, PyTorch's
``F.max_pool2d`` on the channels_last tensor; printed are medians in ms and
old/new, new/floor, torch/new.  Kinds: values, int64 indices
(``return_indices=True``), the layer's compact cache (``MaxPool2D.forward``
with data_format="NHWC").  Without --matrix only the issue's large cases run.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
WINDOWS = {"2x2/s2": (2, 2, 0), "3x3/s2/p1": (3, 2, 1), "3x3/s1": (3, 1, 0)}


def headline():
    for shape in ((32, 112, 112, 64), (16, 56, 56, 128)):
        for win in ("3x3/s2/p1", "2x2/s2"):
            for kind in ("values", "int64", "cache"):
                yield shape, np.float32, win, kind


def matrix(dtypes, channels, windows):
    shapes = {3: (32, 160, 160, 3), 64: (20, 56, 56, 64),
              128: (10, 56, 56, 128), 512: (2, 56, 56, 512)}
    for dtype in dtypes:
        for c in channels:
            shape = shapes[c]
            for win in windows:
                for kind in ("values", "int64", "cache"):
                    yield shape, dtype, win, kind


def call(m, x, win, kind):
    k, s, p = WINDOWS[win]
    if kind == "cache":
        layer = m.MaxPool2D(k, s, p, data_format="NHWC")
        return lambda: layer.forward(x)
    return lambda: m.max_pool2d(x, k, s, p, return_indices=kind == "int64",
                                data_format="NHWC")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old_dir")
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--only", default="")
    ap.add_argument("--matrix", action="store_true")
    ap.add_argument("--dtypes", default="float32,float64,int8,float16")
    ap.add_argument("--channels", default="3,64,128,512")
    ap.add_argument("--windows", default=",".join(WINDOWS))
    a = ap.parse_args(argv)
    sys.path.insert(0, os.path.dirname(HERE))
    sys.path.insert(0, os.path.abspath(a.old_dir))
    sys.path.insert(0, HERE)
    import torch
    import torch.nn.functional as F
    import pooling
    import pooling_old
    from compare_builds import side_by_side
    torch.set_num_threads(1)
    for m in (pooling, pooling_old):
        assert m.get_backend() == "cython"
        m.set_num_threads(1)
    print(f"{'case':52} {'old':>8} {'new':>8} {'floor':>8} {'torch':>8}"
          f" {'old/new':>7} {'new/flr':>7} {'trch/new':>8}")
    rng = np.random.default_rng(0)
    for shape, dtype, win, kind in (matrix([np.dtype(d).type for d in a.dtypes.split(",")],
                                                      [int(c) for c in a.channels.split(",")],
                                                      a.windows.split(","))
                                               if a.matrix else headline()):
        name = f"{np.dtype(dtype).name} {shape} {win} {kind}"
        if a.only not in name:
            continue
        x = (rng.standard_normal(shape) * 40).astype(dtype)
        fns = [call(pooling_old, x, win, kind), call(pooling, x, win, kind), x.max]
        if dtype == np.float32 and kind != "cache":
            k, s, p = WINDOWS[win]
            t = torch.from_numpy(x).permute(0, 3, 1, 2)
            assert t.is_contiguous(memory_format=torch.channels_last)
            fns.append(lambda t=t: F.max_pool2d(t, k, s, p, return_indices=kind == "int64"))
        ts = side_by_side(fns, a.repeats)
        tt = f"{ts[3]:8.2f}" if len(ts) > 3 else f"{'':8}"
        tr = f"{ts[3] / ts[1]:8.2f}" if len(ts) > 3 else ""
        print(f"{name:52} {ts[0]:8.2f} {ts[1]:8.2f} {ts[2]:8.2f} {tt}"
              f" {ts[0] / ts[1]:7.2f} {ts[1] / ts[2]:7.2f} {tr}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

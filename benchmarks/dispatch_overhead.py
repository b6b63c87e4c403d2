"""Tiny calls before and after a change to the call path (here: the dask
dispatch), side by side in one process.

    python benchmarks/dispatch_overhead.py OLD_DIR [--repeats 21]

OLD_DIR holds the older build renamed ``pooling_old`` (as for
compare_builds.py).  Calls on a (1, 16, 8, 8) float32 array alternate
old/new within each repeat; prints the median microseconds per call and
old / new (above 1: the new code is faster).
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old_dir")
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--loops", type=int, default=2000)
    args = ap.parse_args()
    sys.path.insert(0, args.old_dir)
    import pooling
    import pooling_old
    for m in (pooling, pooling_old):
        m.set_num_threads(1)
    x = np.random.default_rng(0).standard_normal((1, 16, 8, 8)).astype(np.float32)
    cases = [("max_pool2d k2 (kept plan)", lambda m: m.max_pool2d(x, 2)),
             ("max_pool2d k2 indices", lambda m: m.max_pool2d(x, 2, return_indices=True)),
             ("avg_pool2d k2", lambda m: m.avg_pool2d(x, 2)),
             ("max_pool2d k2, list input", lambda m: m.max_pool2d(x[0].tolist(), 2))]
    for name, f in cases:
        times: dict[int, list[float]] = {0: [], 1: []}
        gc.disable()
        for _ in range(args.repeats):
            for i, m in enumerate((pooling_old, pooling)):
                t0 = time.perf_counter()
                for _ in range(args.loops):
                    f(m)
                times[i].append((time.perf_counter() - t0) / args.loops * 1e6)
        gc.enable()
        a, b = statistics.median(times[0]), statistics.median(times[1])
        print(f"{name:28s} old {a:7.2f} us  new {b:7.2f} us  old/new {a / b:.3f}")


if __name__ == "__main__":
    main()

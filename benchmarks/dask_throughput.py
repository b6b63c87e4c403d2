"""Chunked (pooling.dask) against in-memory pooling of one volume, and
against ``dask.array.coarsen(np.max)``, side by side in one process.

    python benchmarks/dask_throughput.py [--size 512] [--chunk 256] [--threads 1]
                                         [--repeats 7]

The volume is (1, 1, S, S, S) float32 (S = 512: 512 MiB) in memory, and
a copy of it as a dask array of contiguous (C, C, C) chunks held in
memory (C = 256: 64 MiB each), so the chunked figures are pooling.dask's
overhead (graph, scheduling, block assembly, the final concatenation of
compute()) and not I/O.  Same thread count for each: ``--threads 1`` runs
dask's synchronous scheduler and one pooling thread, against the
in-memory call with one thread; ``--threads T`` runs T dask worker threads,
each block one pooling thread, against the in-memory call with T pooling
threads.  Prints the median time of each and GB/s of input read.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--chunk", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    import dask
    import dask.array as da

    import pooling
    import pooling.dask as pd

    s, c, t = args.size, args.chunk, args.threads
    x = np.random.default_rng(0).standard_normal((1, 1, s, s, s), dtype=np.float32)
    # Chunks held as contiguous arrays, as a store (Zarr, HDF5) returns them
    # (da.from_array's chunks would be strided views into x).
    dx = da.from_array(x, chunks=(1, 1, c, c, c)).map_blocks(np.ascontiguousarray)
    dx = dx.persist(scheduler="synchronous")
    gb = x.nbytes / 1e9

    def in_memory(f):
        def run():
            pooling.set_num_threads(t)
            f(x)
        return run

    sched = (dict(scheduler="synchronous") if t == 1 else
             dict(scheduler="threads", num_workers=t))

    def chunked(f):
        def run():
            pooling.set_num_threads(1)
            f(dx).compute(**sched)
        return run

    targets = {}

    def stored(f):
        """Blocks written into a preallocated array (da.store), as to_zarr
        writes them, instead of compute()'s concatenation."""
        def run():
            pooling.set_num_threads(1)
            y = f(dx)
            if y.shape not in targets:
                targets[y.shape] = np.ones(y.shape, y.dtype)  # touched once
            da.store(y, targets[y.shape], lock=False, **sched)
        return run

    cases = [
        ("max_pool3d 2x2x2", [
            ("in memory", in_memory(lambda a: pooling.max_pool3d(a, 2))),
            ("pooling.dask", chunked(lambda a: pd.max_pool3d(a, 2))),
            ("pooling.dask, store", stored(lambda a: pd.max_pool3d(a, 2))),
            ("da.coarsen(np.max)", chunked(lambda a: da.coarsen(np.max, a, {2: 2, 3: 2, 4: 2}))),
        ]),
        ("max_pool3d 3x3x3 s2 p1", [
            ("in memory", in_memory(lambda a: pooling.max_pool3d(a, 3, 2, 1))),
            ("pooling.dask", chunked(lambda a: pd.max_pool3d(a, 3, 2, 1))),
            ("pooling.dask, store", stored(lambda a: pd.max_pool3d(a, 3, 2, 1))),
        ]),
        ("avg_pool3d 2x2x2", [
            ("in memory", in_memory(lambda a: pooling.avg_pool3d(a, 2))),
            ("pooling.dask", chunked(lambda a: pd.avg_pool3d(a, 2))),
            ("pooling.dask, store", stored(lambda a: pd.avg_pool3d(a, 2))),
            ("da.coarsen(np.mean)", chunked(lambda a: da.coarsen(np.mean, a, {2: 2, 3: 2, 4: 2}))),
        ]),
    ]
    print(f"volume (1, 1, {s}, {s}, {s}) float32 ({x.nbytes / 2**20:.0f} MiB), chunks "
          f"{c}^3 ({c**3 * 4 / 2**20:.0f} MiB), threads {t}, median of {args.repeats}")
    for name, fns in cases:
        times = [[] for _ in fns]
        for _, f in fns:  # warm up (page faults of the first outputs)
            f()
        gc.collect()
        for _ in range(args.repeats):
            for (_, f), ts in zip(fns, times):
                t0 = time.perf_counter()
                f()
                ts.append(time.perf_counter() - t0)
        base = statistics.median(times[0])
        for (label, _), ts in zip(fns, times):
            m = statistics.median(ts)
            print(f"  {name:24s} {label:21s} {1e3 * m:8.1f} ms  {gb / m:6.2f} GB/s  "
                  f"{m / base:5.2f}x in-memory time")


if __name__ == "__main__":
    main()

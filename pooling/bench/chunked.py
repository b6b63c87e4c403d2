"""The dask section: ``pooling.dask.max_pool3d`` over a chunked volume (2 GB
float32; ``--quick`` 17 MB, ``--tiny`` a few KB) against the same call on
the same data in memory, against ``dask.array.coarsen(np.max, ...)`` on the
same chunks, and against ``skimage.measure.block_reduce(x, (2, 2, 2),
np.max)`` in memory when scikit-image is installed, all 2x2x2 windows with
stride 2, in the same run.

The chunked runs use dask's threaded scheduler with ``threads`` workers, one
kernel thread per block (pooling's thread count is 1 while they run); the
in-memory call runs at ``threads`` kernel threads.  NumPy's max (coarsen's
and block_reduce's reduction) uses one thread per call.  The chunked volume
is the in-memory array's data in contiguous chunks held in memory (as a
store hands chunks over), and the chunked results stay chunked (``persist``,
as before writing them to a store): what is timed is the chunking's
overhead, not a disk, nor joining the blocks into one array.  Throughput is the input's bytes over the
median time.  Each result is checked against the in-memory one (not timed).
dask, ``pooling.dask`` and scikit-image are imported only when the section
runs.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

import pooling

from . import progress
from .timing import settle

# (shape, chunks) of the volume: 2.1 GB and 64 MB chunks; --quick; --tiny
FULL = ((512, 1024, 1024), (128, 256, 512))
QUICK = ((64, 256, 256), (16, 128, 128))
TINY = ((16, 32, 48), (8, 16, 16))


def _skimage_block_reduce():
    try:
        from skimage.measure import block_reduce
    except ImportError:
        return None
    return block_reduce


def dask_rows(repeats, threads, size="full"):
    """The section's one row (a list, as the other sections'), or [] when
    dask is not installed.  size: "full", "quick" or "tiny" (the volume)."""
    try:
        import dask
        import dask.array as da

        import pooling.dask as pdask
    except ImportError:
        return []
    settle()
    shape, chunks = {"full": FULL, "quick": QUICK, "tiny": TINY}[size]
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    # The chunked volume as a store hands its chunks over, contiguous (those
    # of dask.array.from_array alone are strided views of the one array,
    # which read slower), held in memory: the chunking's cost is timed, not
    # a disk's.  Results stay chunked (persist), as a pipeline writing them
    # to a store keeps them; joining them into one array is not timed.
    xd = da.from_array(x, chunks=chunks).map_blocks(np.copy).persist(scheduler="sync")
    want = pooling.max_pool3d(x[None, None], 2)[0, 0]

    def in_memory():
        return pooling.max_pool3d(x[None, None], 2)[0, 0]

    def chunked():
        return pdask.max_pool3d(xd[None, None], 2)[0, 0].persist()

    def coarsen():
        return da.coarsen(np.max, xd, {0: 2, 1: 2, 2: 2}).persist()

    fns = {"in memory": in_memory, "chunked": chunked, "coarsen": coarsen}
    block_reduce = _skimage_block_reduce()
    settle()
    if block_reduce is not None:
        fns["block_reduce"] = lambda: block_reduce(x, (2, 2, 2), np.max)
    before = pooling.get_num_threads()
    ms = {}
    try:
        with dask.config.set(scheduler="threads", num_workers=threads):
            for name, fn in fns.items():
                pooling.set_num_threads(threads if name == "in memory" else 1)
                # the first call warms up and is checked
                if not np.array_equal(np.asarray(fn()), want):
                    raise AssertionError(f"bench: {name} differs from the in-memory max_pool3d")
                # the baselines are 10-30 times slower: fewer runs
                ms[name] = _median_ms(fn, repeats if name in ("in memory", "chunked") else
                                      max(1, repeats // 3))
                progress.step("dask", name)
    finally:
        pooling.set_num_threads(before)
    tasks = len(pdask.max_pool3d(xd[None, None], 2).__dask_graph__())
    return [{"case": f"max_pool3d 2x2x2 {shape} float32", "shape": shape, "chunks": chunks,
             "blocks": int(np.prod(xd.numblocks)), "tasks": tasks, "input_gb": x.nbytes / 1e9,
             "threads": threads, "repeats": repeats, "ms": ms,
             "gbps": {k: x.nbytes / v / 1e6 for k, v in ms.items()}}]


def _median_ms(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def print_dask(rows, skipped=False):
    if skipped:
        print("\ndask: skipped (dask is not installed)")
    for r in rows:
        print(f"\ndask (pooling.dask vs the same data in memory and the usual tools; "
              f"{r['case']}, {r['input_gb']:.2f} GB, chunks {r['chunks']}, {r['blocks']} "
              f"blocks, {r['tasks']} tasks; threaded scheduler, {r['threads']} threads; median "
              f"of {r['repeats']} (of {max(1, r['repeats'] // 3)} for coarsen and "
              "block_reduce); GB/s of input):")
        labels = {"in memory": "pooling.max_pool3d in memory",
                  "chunked": "pooling.dask.max_pool3d chunked",
                  "coarsen": "dask.array.coarsen(np.max) chunked",
                  "block_reduce": "skimage block_reduce(np.max) in memory"}
        for k, label in labels.items():
            if k in r["ms"]:
                print(f"  {label:40} {r['ms'][k]:9.1f} ms {r['gbps'][k]:6.2f} GB/s  "
                      f"x{r['ms'][k] / r['ms']['chunked']:.2f} of chunked")
        if "block_reduce" not in r["ms"]:
            print("  (scikit-image not installed: no block_reduce row)")


def dask_targets(rows):
    """Issue #14's overhead targets."""
    lines = []
    for r in rows:
        ms = r["ms"]
        lines.append(f"dask max_pool3d 2x2x2 chunked vs in memory: "
                     f"{ms['chunked'] / ms['in memory']:.2f}x (target <= 1.5x)")
        lines.append(f"dask max_pool3d 2x2x2 chunked vs dask.array.coarsen(np.max): "
                     f"{ms['coarsen'] / ms['chunked']:.2f}x (target > 1x)")
    return lines

"""Larger than memory: a 4.2 GB float32 Zarr volume pooled into a pyramid by
a distributed.LocalCluster of two worker processes capped at 1 GB each.

Peak worker memory (each worker's process RSS, polled every 5 ms by a thread
inside the worker) stays under the cap, no worker dies or restarts, and crops
of every level equal the in-memory function applied to the same crop of the
input (kernel == stride: a crop aligned to the level's windows needs no
halo) and to a crop of the level before.  The figures are printed (run with
-s to see them); docs/performance.md has a run's.

    python -m pytest -m slow -s tests/test_dask_scale.py
"""
import os
import shutil
import sys
import time

import numpy as np
import pytest

import pooling

pytestmark = pytest.mark.slow

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")
pytest.importorskip("psutil")
pdask = pytest.importorskip("pooling.dask")
cloudpickle = pytest.importorskip("cloudpickle")

# The functions the workers run travel by value: the spawned worker
# processes need not import this module, whose importable name (if any)
# depends on pytest's --import-mode.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

SHAPE = (1001, 1024, 1027)      # float32: 4.21 GB; two sides the factor does not divide
CHUNKS = (128, 256, 512)        # 64 MB
CAP = 10 ** 9                   # memory_limit="1GB" is 10**9 bytes


def _start_rss_poll(dask_worker):
    import threading
    import time as _time

    import psutil
    proc = psutil.Process()
    rss = proc.memory_info().rss
    state = {"start": rss, "peak": rss, "stop": False, "pid": os.getpid()}

    def poll():
        while not state["stop"]:
            state["peak"] = max(state["peak"], proc.memory_info().rss)
            _time.sleep(0.005)
    threading.Thread(target=poll, daemon=True).start()
    dask_worker._pooling_rss = state
    return state["pid"]


def _stop_rss_poll(dask_worker):
    state = dask_worker._pooling_rss
    state["stop"] = True
    spilled = getattr(dask_worker.data, "spilled_total", None)
    return {"pid": state["pid"], "start": state["start"], "peak": state["peak"],
            "spilled_bytes": getattr(spilled, "disk", 0) if spilled is not None else 0}


def _block(block_id=None):
    """The input's block at block_id: seeded by its position, negative values
    included (a max that padded with zeros would show at the edges)."""
    start = [b * c for b, c in zip(block_id, CHUNKS)]
    shape = [min(c, n - s) for c, n, s in zip(CHUNKS, SHAPE, start)]
    seed = np.ravel_multi_index(block_id, [-(-n // c) for n, c in zip(SHAPE, CHUNKS)])
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def _pool_times(x, times, reduction):
    for _ in range(times):
        k = tuple(min(2, n) for n in x.shape)
        if reduction == "max":
            x = pooling.max_pool3d(x[None, None], k, k, ceil_mode=True)[0, 0]
        else:   # (pyramid means sum in float64 and round once to the dtype)
            x = pooling.avg_pool3d(x[None, None].astype(np.float64), k, k, ceil_mode=True,
                                   count_include_pad=False)[0, 0].astype(x.dtype)
    return x


def _crops(shape, level):
    """Output crops of a level: the first corner, the last corner (partial
    windows) and one across chunk boundaries, up to `side` per axis."""
    side = max(1, 256 >> level) if level <= 5 else 8
    out = []
    for where in ("first", "last", "middle"):
        sl = []
        for n, c in zip(shape, CHUNKS):
            m = min(side, n)
            s = {"first": 0, "last": n - m, "middle": max(0, min(c - m // 2, n - m))}[where]
            sl.append(slice(s, s + m))
        out.append(tuple(sl))
    return out


def test_pyramid_larger_than_worker_memory(tmp_path):
    from distributed import Client, LocalCluster
    root = tmp_path / "scale"
    src, dst = str(root / "volume.zarr"), str(root / "pyramid.zarr")
    try:
        cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                               memory_limit="1GB", dashboard_address=None)
        with cluster, Client(cluster) as client:
            pids = client.run(_start_rss_poll)
            t0 = time.perf_counter()
            # written block by block by the workers; no compression, as the
            # data are random
            vol = da.map_blocks(_block, chunks=da.core.normalize_chunks(CHUNKS, SHAPE),
                                dtype=np.float32)
            da.to_zarr(vol, src, compressors=None)
            t1 = time.perf_counter()
            x = da.from_zarr(src)
            assert x.nbytes > 2 * CAP * 2
            pyramids, seconds = {}, {}
            for reduction in ("max", "mean"):
                t = time.perf_counter()
                pyramids[reduction] = pdask.pyramid(
                    x, 2, reduction=reduction, store=f"{dst}/{reduction}", copy_input=False,
                    zarr_kwargs={"compressors": None})
                seconds[reduction] = time.perf_counter() - t
            stats = client.run(_stop_rss_poll)
            levels = pyramids["max"]
            assert {w: s["pid"] for w, s in stats.items()} == pids, "a worker restarted"
            assert len(client.scheduler_info()["workers"]) == 2
        print(f"\nvolume {SHAPE} float32 {x.nbytes / 1e9:.2f} GB, chunks {CHUNKS}; "
              f"{len(levels)} levels, {levels[1].shape} ... {levels[-1].shape}; write "
              f"{t1 - t0:.1f} s, pyramid max {seconds['max']:.1f} s, mean {seconds['mean']:.1f} "
              "s; peak worker RSS "
              + ", ".join(f"{s['peak'] / 1e6:.0f} MB (from {s['start'] / 1e6:.0f} MB)"
                          for s in stats.values())
              + f" (cap {CAP / 1e6:.0f} MB); spilled "
              + ", ".join(f"{s['spilled_bytes'] / 1e6:.0f} MB" for s in stats.values()))
        assert max(s["peak"] for s in stats.values()) < CAP
        # the poll saw the work: a worker held at least a chunk
        assert max(s["peak"] - s["start"] for s in stats.values()) > np.prod(CHUNKS) * 4
        # down to 1001 -> 1: (1, 1, 2) is the last level
        assert levels[-1].shape == (1, 1, 2) and len(levels) == 11
        assert [lv.shape for lv in pyramids["mean"]] == [lv.shape for lv in levels]

        # crops, in this process, from the stores
        source = zarr.open_array(src, mode="r")
        t3 = time.perf_counter()
        for reduction in ("max", "mean"):
            g = zarr.open_group(f"{dst}/{reduction}", mode="r")
            for level in range(1, len(levels)):
                out = g[str(level)]
                prev = source if level == 1 else g[str(level - 1)]
                for crop in _crops(out.shape, level):
                    got = out[crop]
                    # one level down: the crop of the level before
                    below = prev[tuple(slice(2 * s.start, 2 * s.stop) for s in crop)]
                    assert got.tobytes() == _pool_times(below, 1, reduction).tobytes()
                    if level <= 5:   # the input itself, up to 256**3 of it
                        f = 2 ** level
                        inp = source[tuple(slice(f * s.start, f * s.stop) for s in crop)]
                        assert got.tobytes() == _pool_times(inp, level, reduction).tobytes()
        print(f"crops checked in {time.perf_counter() - t3:.1f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert not root.exists()

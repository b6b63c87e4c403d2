"""pooling.dask.pyramid against the tools a bioimaging user already has
(issue #27): a float32 volume on disk (Zarr) into a mean pyramid written to
Zarr, and a label volume into a label pyramid; wall time and peak memory
(each tool in a fresh process: its maximum resident set), and, for the
float32 means, the share of level-1 voxels that are the correctly rounded
block mean.

    python benchmarks/pyramid_tools.py [--size 320] [--workdir DIR] [--tools a,b]

Tools (each skipped when not installed): pooling (``reduction="mean"``,
``"mode"``, ``"max"``), dask's ``coarsen`` with ``np.mean`` level by level
(each level read back from the store), xarray-multiscale's ``multiscale``
(``windowed_mean``, ``windowed_mode``) on dask, ome-zarr-py's
``write_image`` (its default scaler), scikit-image's
``downscale_local_mean`` on the volume in memory.  Every tool writes levels
down to 1/8 per axis (3 levels below level 0, factor 2 on every axis) with
64^3 chunks, on dask's threaded scheduler with the machine's cores.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

LEVELS = 4          # level 0 and three below it
CHUNK = 64


def _make(workdir, size):
    import zarr
    rng = np.random.default_rng(0)
    path = os.path.join(workdir, "volume.zarr")
    if not os.path.exists(path):
        z = zarr.create_array(path, shape=(size,) * 3, chunks=(CHUNK,) * 3, dtype="float32")
        for i in range(0, size, CHUNK):
            z[i:i + CHUNK] = rng.standard_normal((min(CHUNK, size - i), size, size),
                                                 dtype=np.float32) * 100 + 1000
    lpath = os.path.join(workdir, "labels.zarr")
    if not os.path.exists(lpath):
        # blobs of labels: 6^3 cells of random ids over background 0
        cells = rng.integers(0, 5000, (-(-size // 6),) * 3).astype(np.uint32)
        cells[rng.random(cells.shape) < 0.5] = 0
        z = zarr.create_array(lpath, shape=(size,) * 3, chunks=(CHUNK,) * 3, dtype="uint32")
        for i in range(0, size, CHUNK):   # (slabs: bounded memory)
            rows = np.repeat(cells[i // 6:-(-(i + CHUNK) // 6)], 6, 0)[i % 6:][:CHUNK]
            z[i:i + rows.shape[0]] = np.repeat(np.repeat(rows, 6, 1), 6, 2)[:, :size, :size]
    return path, lpath


def _peak_mb():
    """This process's peak resident memory since it started: VmHWM (the
    rusage maximum would include the parent's at the fork, which survives
    exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_tool(tool, src, out):
    """Child process: one tool, src Zarr array to out (a fresh group)."""
    import dask.array as da
    import zarr
    x = da.from_zarr(src)
    t0 = time.perf_counter()
    if tool.startswith("pooling"):
        import pooling.dask as pd
        reduction = tool.split("-")[1]
        pd.pyramid(x, 2, levels=LEVELS, reduction=reduction, store=out, chunks=CHUNK)
    elif tool == "dask-coarsen":
        level = x
        da.to_zarr(level, out, component="0")
        for i in range(1, LEVELS):
            level = da.coarsen(np.mean, level, {0: 2, 1: 2, 2: 2}, trim_excess=True)
            level = level.astype(np.float32).rechunk(CHUNK)
            da.to_zarr(level, out, component=str(i))
            level = da.from_zarr(out, component=str(i))
    elif tool.startswith("xarray-multiscale"):
        import xarray as xr
        from xarray_multiscale import multiscale, reducers
        fn = reducers.windowed_mode if tool.endswith("mode") else reducers.windowed_mean
        levels = multiscale(xr.DataArray(x, dims=("z", "y", "x")), fn, 2)[:LEVELS]
        for i, lv in enumerate(levels):
            da.to_zarr(lv.data.rechunk(CHUNK), out, component=str(i))
    elif tool == "ome-zarr-py":
        from ome_zarr.writer import write_image
        g = zarr.open_group(out, mode="w")
        write_image(x, g, axes="zyx", scale_factors=[2] * (LEVELS - 1),
                    storage_options={"chunks": (CHUNK,) * 3})
    elif tool == "scikit-image":
        from skimage.transform import downscale_local_mean
        level = np.asarray(x)
        g = zarr.open_group(out, mode="w")
        g.create_array("0", data=level, chunks=(CHUNK,) * 3)
        for i in range(1, LEVELS):
            level = downscale_local_mean(level, (2, 2, 2)).astype(np.float32)
            g.create_array(str(i), data=level, chunks=(CHUNK,) * 3)
    else:
        raise SystemExit(f"unknown tool {tool}")
    return time.perf_counter() - t0


def _level1(out, tool):
    import zarr
    g = zarr.open_group(out, mode="r")
    names = sorted(g.array_keys(), key=lambda s: int(s.lstrip("s") or 0))
    return np.asarray(g[names[1]][...])


def _correct(src, lv1):
    """Share of level-1 voxels equal to the correctly rounded block mean
    (long double sums of the 2x2x2 block, divided, rounded once to float32),
    over the whole blocks both cover."""
    import zarr
    z = zarr.open_array(src, mode="r")
    n = min(min(s // 2 for s in z.shape), *lv1.shape)
    hits = 0
    for i in range(0, n, 16):   # (slabs of 16 output planes: bounded memory)
        m = min(16, n - i)
        x = np.asarray(z[2 * i:2 * (i + m), :2 * n, :2 * n]).astype(np.longdouble)
        b = x.reshape(m, 2, n, 2, n, 2).sum(axis=(1, 3, 5)) / 8
        hits += int(np.sum(b.astype(np.float32) == lv1[i:i + m, :n, :n]))
    return hits / n ** 3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=320, help="the volume's side (float32)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--tools", default=None, help="comma-separated rows to run (default: all)")
    ap.add_argument("--tool", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--src", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.tool:   # child
        seconds = run_tool(a.tool, a.src, a.out)
        print(json.dumps({"seconds": seconds, "peak_mb": _peak_mb()}))
        return
    workdir = a.workdir or tempfile.mkdtemp(prefix="pyramid-tools-")
    src, lsrc = _make(workdir, a.size)
    print(f"float32 volume {a.size}^3 ({a.size ** 3 * 4 / 1e6:.0f} MB), uint32 labels "
          f"{a.size}^3; {LEVELS} levels, factor 2, chunks {CHUNK}^3; {os.cpu_count()} cores")
    rows = [("pooling-mean", src), ("dask-coarsen", src), ("xarray-multiscale-mean", src),
            ("ome-zarr-py", src), ("scikit-image", src),
            ("pooling-mode", lsrc), ("pooling-max", lsrc), ("xarray-multiscale-mode", lsrc)]
    print(f"{'tool':24} {'input':8} {'seconds':>8} {'peak MB':>8} {'correctly rounded':>18}")
    if a.tools:
        rows = [r for r in rows if r[0] in a.tools.split(",")]
    for tool, path in rows:
        out = os.path.join(workdir, f"out-{tool}.zarr")
        shutil.rmtree(out, ignore_errors=True)
        proc = subprocess.run([sys.executable, __file__, "--tool", tool, "--src", path,
                               "--out", out], capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{tool:24} skipped: {last[:90]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        share = ""
        if path == src:
            share = f"{_correct(src, _level1(out, tool)):.1%}"
        name = "labels" if path == lsrc else "float32"
        print(f"{tool:24} {name:8} {r['seconds']:8.1f} {r['peak_mb']:8.0f} {share:>18}",
              flush=True)
        shutil.rmtree(out, ignore_errors=True)
    if a.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()

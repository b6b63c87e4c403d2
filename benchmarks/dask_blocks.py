"""Where pooling.dask's chunked time goes, at one thread, in one process:
max_pool3d 2x2x2 on a 2.15 GB float32 volume as a whole, on its 32 chunks
(128 x 256 x 512) as views of it (what dask.array.from_array gives a task),
on the same chunks made contiguous (as read from Zarr), and through
pooling.dask on the synchronous scheduler.  Medians of 5, in ms.

    python benchmarks/dask_blocks.py
"""
import time

import dask.array as da
import numpy as np

import pooling
import pooling.dask as pdask

SHAPE, CHUNKS = (512, 1024, 1024), (128, 256, 512)


def median_ms(fn, repeats=5):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def main():
    x = np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32)
    pooling.set_num_threads(1)
    views = [x[a:a + CHUNKS[0], b:b + CHUNKS[1], c:c + CHUNKS[2]]
             for a in range(0, SHAPE[0], CHUNKS[0]) for b in range(0, SHAPE[1], CHUNKS[1])
             for c in range(0, SHAPE[2], CHUNKS[2])]
    print(f"{SHAPE} float32, chunks {CHUNKS}, 1 thread, median of 5 (ms):")
    print(f"  whole volume                         "
          f"{median_ms(lambda: pooling.max_pool3d(x[None, None], 2)):8.1f}")
    print(f"  {len(views)} chunks as views of it            "
          f"{median_ms(lambda: [pooling.max_pool3d(v[None, None], 2) for v in views]):8.1f}")
    blocks = [np.ascontiguousarray(v) for v in views]
    print(f"  {len(views)} contiguous chunks                "
          f"{median_ms(lambda: [pooling.max_pool3d(b[None, None], 2) for b in blocks]):8.1f}")
    del blocks
    y = pdask.max_pool3d(da.from_array(x, chunks=CHUNKS)[None, None], 2)
    print(f"  pooling.dask, synchronous scheduler  "
          f"{median_ms(lambda: y.compute(scheduler='sync')):8.1f}")


if __name__ == "__main__":
    main()

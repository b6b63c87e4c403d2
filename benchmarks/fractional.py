"""Fractional max pooling against PyTorch (issue #12).

    python benchmarks/fractional.py [--threads N] [--repeats R]

Times, side by side in one process (calls alternate within each repeat, so
the shared machine's drift hits all alike), medians of repeated runs of
``pooling.fractional_max_pool2d`` and ``torch.nn.functional.fractional_max_pool2d``
on a (32, 64, 112, 112) float32 input, kernel 3 to (80, 80), with the same
random samples on both sides: ours without and with indices (PyTorch
computes its indices either way), the same values stored channels-last
(NHWC; PyTorch gets the channels_last tensor of the same memory), and the
interval starts alone (pooling._fractional.interval_starts, both axes).

Columns: ms per call; torch/ours (above 1: ours is faster).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    import torch
    import torch.nn.functional as F

    import pooling
    from pooling import _fractional
    from pooling._core import backend as _backend

    pooling.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64, 112, 112)).astype(np.float32)
    xh = np.ascontiguousarray(np.moveaxis(x, 1, -1))
    u = rng.random((32, 64, 2)).astype(np.float32)
    xt, xht, ut = torch.from_numpy(x), torch.from_numpy(xh).permute(0, 3, 1, 2), \
        torch.from_numpy(u)
    planes = u.reshape(-1, 2)
    calls = {
        "torch": lambda: F.fractional_max_pool2d(xt, 3, 80, _random_samples=ut),
        "ours": lambda: pooling.fractional_max_pool2d(x, 3, 80, random_samples=u),
        "ours +indices": lambda: pooling.fractional_max_pool2d(
            x, 3, 80, random_samples=u, return_indices=True),
        "torch NHWC": lambda: F.fractional_max_pool2d(xht, 3, 80, _random_samples=ut),
        "ours NHWC": lambda: pooling.fractional_max_pool2d(
            xh, 3, 80, random_samples=u, data_format="NHWC"),
        "starts only": lambda: [_fractional.interval_starts(planes[:, a], 112, 80, 3)
                                for a in (0, 1)],
    }
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(args.repeats):
        for name, call in calls.items():
            t = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t)
    ms = {k: 1e3 * statistics.median(v) for k, v in times.items()}
    print(f"kernels {_backend.cpu_variant()}, threads {args.threads}, "
          f"median of {args.repeats}")
    for name, t in ms.items():
        theirs = ms["torch NHWC" if "NHWC" in name else "torch"]
        ratio = f"  torch/ours {theirs / t:5.1f}" if name.startswith("ours") else ""
        print(f"  {name:15s} {t:9.1f} ms{ratio}")


if __name__ == "__main__":
    main()

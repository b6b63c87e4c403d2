"""Adaptive average pooling against PyTorch, one thread, calls alternating
within each repeat (so that a shared machine's drift hits both alike);
medians in ms and PyTorch's time over ours.

    python benchmarks/adaptive_avg_vs_torch.py [--repeats R]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import pooling


def side_by_side(name, fns, repeats):
    times = [[] for _ in fns]
    for _ in range(repeats):
        for f, t in zip(fns, times):
            t0 = time.perf_counter()
            f()
            t.append(time.perf_counter() - t0)
    ms = [statistics.median(t) * 1e3 for t in times]
    print(f"{name:58s} ours {ms[0]:8.3f}  torch {ms[1]:8.3f}  torch/ours {ms[1] / ms[0]:5.2f}"
          + (f"  x.max() {ms[2]:7.3f}" if len(ms) > 2 else ""), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=11)
    r = ap.parse_args().repeats
    pooling.set_num_threads(1)
    torch.set_num_threads(1)
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64, 112, 112)).astype(np.float32)
    xg = rng.standard_normal((64, 512, 7, 7)).astype(np.float32)
    tx, tg = torch.from_numpy(x), torch.from_numpy(xg)
    for o in (7, 6, 5):
        side_by_side(f"adaptive_avg_pool2d {x.shape} -> ({o}, {o})",
                     [lambda: pooling.adaptive_avg_pool2d(x, o),
                      lambda: F.adaptive_avg_pool2d(tx, o), x.max], r)
    side_by_side(f"adaptive_avg_pool2d {xg.shape} -> (1, 1)",
                 [lambda: pooling.adaptive_avg_pool2d(xg, 1),
                  lambda: F.adaptive_avg_pool2d(tg, 1), xg.max], 5 * r)
    for o in (7, 6):
        y = pooling.adaptive_avg_pool2d(x, o)
        ty = torch.from_numpy(y)
        side_by_side(f"adaptive_avg_pool2d_backward {y.shape} -> {x.shape}",
                     [lambda: pooling.adaptive_avg_pool2d_backward(y, x.shape),
                      lambda: torch.ops.aten._adaptive_avg_pool2d_backward(ty, tx)], r)


if __name__ == "__main__":
    main()

"""Where pooling.layers.torch starts beating PyTorch's own CPU operators, per
operation, with and without autograd: the source of ``STEP_ASIDE`` in
pooling/layers/torch/functional.py (issue #26's per-call target).

    python benchmarks/torch_crossover.py [--threads 1] [--budget 0.2]

For each operation and input size (1, C, H, W) it prints the time of
PyTorch's call and of pooling's, the kernels forced
(``STEP_ASIDE`` 0) and with the default step-aside sizes, as ratios to
PyTorch's (below 1: faster), side by side in one process, medians of 7
repeats; "eager" is a forward without autograd, "train" a forward and a
backward of a contiguous gradient (``y.backward(g)``).  The last lines name,
per operation and kind, the smallest size of the grid from which the kernels
win every larger size: the step-aside limit to choose.
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("POOLING_TORCH_STEP_ASIDE", "0")

import torch  # noqa: E402

import pooling  # noqa: E402
from pooling.layers.torch import functional as PF  # noqa: E402

F = torch.nn.functional
CALLS = {"max": lambda f, x: f.max_pool2d(x, 3, 2, 1),
         "avg": lambda f, x: f.avg_pool2d(x, 2),
         "adaptive_max": lambda f, x: f.adaptive_max_pool2d(x, 4),
         "adaptive_avg": lambda f, x: f.adaptive_avg_pool2d(x, 7)}
SHAPES = [(1, 16, 8, 8), (1, 16, 16, 16), (1, 32, 16, 16), (1, 16, 32, 32), (1, 32, 32, 32),
          (1, 64, 32, 32), (1, 64, 56, 56), (4, 64, 56, 56), (8, 64, 56, 56)]


def timed(fn, budget):
    fn()
    t0 = time.perf_counter()
    fn()
    one = time.perf_counter() - t0
    n = max(3, int(budget / 7 / max(one, 1e-7)))
    runs = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--budget", type=float, default=0.2, help="seconds per measurement")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pooling.set_num_threads(args.threads)
    forced = dict(PF.STEP_ASIDE)
    default = dict(PF.STEP_ASIDE_DEFAULT)
    wins = {}
    print(f"threads {args.threads}; ratios pooling/torch: kernels forced | default step-aside")
    for kind, call in CALLS.items():
        for shape in SHAPES:
            x = torch.randn(*shape)
            xg = x.clone().requires_grad_()
            gy = torch.randn_like(call(F, x))
            cells = []
            for mode in ("eager", "train"):
                def run(f, mode=mode):
                    if mode == "eager":
                        return lambda: call(f, x)
                    return lambda: call(f, xg).backward(gy)
                theirs = timed(run(F), args.budget)
                PF.STEP_ASIDE = forced
                ours = timed(run(PF), args.budget)
                PF.STEP_ASIDE = default
                ours_default = timed(run(PF), args.budget)
                PF.STEP_ASIDE = forced
                wins.setdefault((kind, mode), []).append((x.numel(), ours < theirs))
                cells.append(f"{mode} {theirs:8.0f} us {ours / theirs:5.2f} | "
                             f"{ours_default / theirs:5.2f}")
            print(f"{kind:13s} {str(shape):17s} {x.numel():8d}  " + "   ".join(cells),
                  flush=True)
    print("\nsmallest size from which the kernels win at every larger size of the grid:")
    for (kind, mode), rows in wins.items():
        limit = None
        for numel, won in reversed(rows):
            if not won:
                break
            limit = numel
        print(f"  {kind:13s} {mode:5s} {limit if limit is not None else 'none'}"
              f"   (STEP_ASIDE_DEFAULT {default[kind][mode == 'train']})")


if __name__ == "__main__":
    main()

"""Per-call time of pooling.layers.torch on a tiny input against PyTorch's
own calls, interleaved in one process (issue #13's per-call target).

    python benchmarks/torch_overhead.py [--repeats 15] [--number 2000]

Rows: the functional (eager, no autograd: the operator's implementation
called directly), the custom operator through PyTorch's dispatcher, the
module, the module with autograd recording (forward only), and the
module's forward and backward with autograd (``y.backward(g)``: issue #26's
per-call target), each beside PyTorch's call; us per call, the median over
repeats of the mean of ``number`` calls; torch and pooling at one thread.
"ours" is pooling.layers.torch as shipped (a call this small steps aside
to PyTorch's own function, ``STEP_ASIDE``), "kernels" the same call with
the step-aside off (pooling's kernels and the adapter's Python).
"""
import argparse
import statistics
import timeit

import torch

import pooling
import pooling.layers.torch as pt
from pooling.layers.torch import functional as TF


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--number", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    pooling.set_num_threads(1)
    F = torch.nn.functional
    x = torch.randn(1, 16, 8, 8)
    xg = x.clone().requires_grad_()
    gy = torch.randn(1, 16, 4, 4)
    ours_m, theirs_m = pt.MaxPool2d(2), torch.nn.MaxPool2d(2)
    op = torch.ops.pooling.max_pool.default
    pairs = [
        ("functional max_pool2d(x, 2)", lambda: pt.max_pool2d(x, 2), lambda: F.max_pool2d(x, 2)),
        ("functional, return_indices", lambda: pt.max_pool2d(x, 2, return_indices=True),
         lambda: F.max_pool2d(x, 2, return_indices=True)),
        ("torch.ops.pooling.max_pool (dispatcher)",
         lambda: op(x, [2, 2], [2, 2], [0, 0], [1, 1], False), lambda: F.max_pool2d(x, 2)),
        ("module MaxPool2d(2)", lambda: ours_m(x), lambda: theirs_m(x)),
        ("module, input requires_grad", lambda: ours_m(xg), lambda: theirs_m(xg)),
        ("module forward+backward (autograd)", lambda: ours_m(xg).backward(gy),
         lambda: theirs_m(xg).backward(gy)),
    ]
    print(f"(1, 16, 8, 8) float32, us per call, median of {args.repeats} repeats "
          f"(x = torch / ours):")
    default, kernels = dict(TF.STEP_ASIDE_DEFAULT), {k: (0, 0) for k in TF.STEP_ASIDE}
    for name, ours, theirs in pairs:
        a, k, b = [], [], []
        for _ in range(args.repeats):  # interleaved: the three see the same load
            TF.STEP_ASIDE = default
            a.append(timeit.timeit(ours, number=args.number) / args.number * 1e6)
            TF.STEP_ASIDE = kernels
            k.append(timeit.timeit(ours, number=args.number) / args.number * 1e6)
            b.append(timeit.timeit(theirs, number=args.number) / args.number * 1e6)
        o, kk, t = statistics.median(a), statistics.median(k), statistics.median(b)
        print(f"  {name:42} ours {o:8.2f} (x{t / o:.2f})  kernels {kk:8.2f} (x{t / kk:.2f})"
              f"  torch {t:8.2f}")


if __name__ == "__main__":
    main()

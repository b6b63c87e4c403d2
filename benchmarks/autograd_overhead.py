"""What HIPS autograd adds to pooling's forward + backward (issue #13).

    python benchmarks/autograd_overhead.py [--threads N] [--repeats R]

Times, side by side in one process (calls alternate within each repeat),
medians of forward + backward of 2x2/s2 max pooling and 3x3/s2/p1 average
pooling on float32 inputs, three ways:

  direct    pooling's functions: ``max_pool2d(..., return_indices=True)``
            then ``max_pool2d_backward`` (``avg_pool2d``, ``avg_pool2d_backward``)
  autograd  ``autograd.make_vjp`` of ``pooling.layers.autograd``'s function,
            then the vjp: one trace node per pool
  pair      (max only) the design ``pooling.layers.autograd`` does not use:
            one primitive returning ``(y, indices)``, the values taken with
            ``[0]`` (autograd boxes the tuple, adds a ``container_take``
            node and builds a zero int64 cotangent for the indices)

All three give the same gradient, checked before timing.  Columns: ms per
forward + backward; each way over direct.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=15)
    a = ap.parse_args(argv)
    sys.path.insert(0, os.path.dirname(HERE))
    from autograd import make_vjp
    from autograd.extend import defvjp, primitive
    from compare_builds import side_by_side

    import pooling
    import pooling.functional as F
    from pooling.layers import autograd as P

    assert pooling.get_backend() == "cython", "pooling is not compiled"
    pooling.set_num_threads(a.threads)

    @primitive
    def pair(x):
        return F.max_pool2d(x, 2, return_indices=True)

    defvjp(pair, lambda ans, x: lambda g: F.max_pool2d_backward(g[0], ans[1], x.shape))

    def max_direct(x, g):
        y, idx = F.max_pool2d(x, 2, return_indices=True)
        return F.max_pool2d_backward(g, idx, x.shape)

    def max_autograd(x, g):
        vjp, _ = make_vjp(lambda a: P.max_pool2d(a, 2))(x)
        return vjp(g)

    def max_pair(x, g):
        vjp, _ = make_vjp(lambda a: pair(a)[0])(x)
        return vjp(g)

    def avg_direct(x, g):
        F.avg_pool2d(x, 3, 2, 1)
        return F.avg_pool2d_backward(g, x.shape, 3, 2, 1)

    def avg_autograd(x, g):
        vjp, _ = make_vjp(lambda a: P.avg_pool2d(a, 3, 2, 1))(x)
        return vjp(g)

    print("threads", a.threads, "| median of", a.repeats, "alternating runs | float32")
    print(f"{'case':36} {'direct ms':>10} {'autograd':>10} {'pair':>10} "
          f"{'autograd/direct':>16} {'pair/direct':>12}")
    rng = np.random.default_rng(0)
    for shape in [(1, 16, 8, 8), (8, 64, 56, 56)]:
        x = rng.standard_normal(shape).astype(np.float32)
        for name, ways, out in [("max_pool2d 2x2/s2", [max_direct, max_autograd, max_pair],
                                 F.max_pool2d(x, 2)),
                                ("avg_pool2d 3x3/s2/p1", [avg_direct, avg_autograd],
                                 F.avg_pool2d(x, 3, 2, 1))]:
            g = rng.standard_normal(out.shape).astype(np.float32)
            want = ways[0](x, g)
            for way in ways[1:]:
                assert np.array_equal(way(x, g), want), way.__name__
            ms = side_by_side([lambda w=w: w(x, g) for w in ways], a.repeats)
            cols = "".join(f" {v:10.4f}" for v in ms) + " " * 11 * (3 - len(ms))
            ratios = f" {ms[1] / ms[0]:16.2f}" + (f" {ms[2] / ms[0]:12.2f}" if len(ms) > 2
                                                  else "")
            print(f"{name + ' ' + str(shape):36}{cols}{ratios}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Adaptive max pooling against PyTorch and the read-once floor (issue #11).

    python benchmarks/adaptive.py [--old OLD_DIR] [--threads N] [--repeats R]

Times, side by side in one process (calls alternate within each repeat, so
the shared machine's drift hits all alike), medians of repeated runs of
``pooling.adaptive_max_pool2d`` and ``torch.nn.functional.adaptive_max_pool2d``
on a (32, 64, 112, 112) float32 input, with and without indices, and on the
same values stored channels-last (NHWC; PyTorch gets the channels_last tensor
of the same memory), and ``x.max()`` as the floor (one read of the input).
With ``--old``, OLD_DIR holds another build of the package renamed
``pooling_old`` (see compare_builds.py), timed in the same process.

Columns: ms per call; torch/ours (above 1: ours is faster); ours/floor.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--shape", default="32,64,112,112")
    a = ap.parse_args(argv)
    sys.path.insert(0, os.path.dirname(HERE))
    import torch
    import torch.nn.functional as F

    import pooling
    from compare_builds import side_by_side
    mods = [("new", pooling)]
    if a.old:
        sys.path.insert(0, os.path.abspath(a.old))
        import pooling_old
        mods.insert(0, ("old", pooling_old))
    for _, m in mods:
        assert m.get_backend() == "cython", f"{m.__name__} is not compiled"
        m.set_num_threads(a.threads)
    torch.set_num_threads(a.threads)
    print("threads", a.threads, "| median of", a.repeats, "alternating runs |",
          ", ".join(f"{n} {m.__file__}" for n, m in mods))

    shape = tuple(int(s) for s in a.shape.split(","))
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))        # NHWC memory
    t = torch.from_numpy(x)
    tl = torch.from_numpy(xl).permute(0, 3, 1, 2)              # channels_last tensor
    floor_ms = side_by_side([lambda: x.max()], a.repeats)[0]
    print(f"floor x.max(): {floor_ms:.2f} ms")
    cols = "".join(f" {n + ' ms':>9}" for n, _ in mods)
    print(f"{'case':34} {'torch ms':>9}{cols} {'torch/new':>9} {'new/floor':>9}"
          + (f" {'old/new':>8}" if a.old else ""))
    cases = []
    for o in [(1, 1), (5, 5), (7, 7)]:
        for ri in (False, True):
            cases.append((f"NCHW -> {o}{' +indices' if ri else ''}", x, t, o, ri, None))
    for o in [(7, 7), (5, 5), (1, 1)]:
        for ri in (False, True):
            cases.append((f"NHWC -> {o}{' +indices' if ri else ''}", xl, tl, o, ri, "NHWC"))
    for name, xa, ta, o, ri, fmt in cases:
        kw = {} if fmt is None else {"data_format": fmt}
        want = F.adaptive_max_pool2d(ta, o, return_indices=ri)
        fns = [lambda: F.adaptive_max_pool2d(ta, o, return_indices=ri)]
        for _, m in mods:
            got = m.adaptive_max_pool2d(xa, o, return_indices=ri, **kw)
            _check(got, want, ri, fmt)
            fns.append(lambda m=m: m.adaptive_max_pool2d(xa, o, return_indices=ri, **kw))
        ms = side_by_side(fns, a.repeats)
        line = f"{name:34} " + "".join(f"{v:9.2f} " for v in ms)
        line += f"{ms[0] / ms[-1]:9.2f} {ms[-1] / floor_ms:9.2f}"
        if a.old:
            line += f" {ms[1] / ms[2]:8.2f}"
        print(line, flush=True)
    return 0


def _check(got, want, ri, fmt):
    """Ours equals PyTorch's (values and indices) before anything is timed."""
    def as_np(a):
        a = a.numpy()
        return np.moveaxis(a, 1, -1) if fmt else a
    if ri:
        assert np.array_equal(got[0], as_np(want[0])) and np.array_equal(got[1], as_np(want[1]))
    else:
        assert np.array_equal(got, as_np(want))


if __name__ == "__main__":
    sys.exit(main())

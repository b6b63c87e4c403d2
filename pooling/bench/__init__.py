"""``python -m pooling.bench``: how fast the kernels are, measured side by side.

Each row times one operation on one case, as the median of repeated runs in
this process, for this package's Cython kernels, its pure-NumPy reference,
the textbook im2col implementation it replaces (``baselines``), and PyTorch's
CPU max pooling when torch is importable, all at the same thread count.
Speedups are ratios of those medians.  Every row that times one of our calls
also times its floor: ``x.max()`` on the array the call reads once (the
input; for a backward, the incoming gradient), with the same timer, and
gives ours / floor.  Effective bandwidth is (bytes read + bytes written) /
time, printed beside a plain copy's bandwidth measured in the same run; peak
extra memory is tracemalloc's peak during one call (NumPy reports its
allocations to it; PyTorch's are not seen).

Sections: the main table (``cases.CASES``), thread scaling, linear cost,
other operations, large inputs (100 MB and more), tiny calls (the per-call
overhead, in microseconds), ``out=`` (a fresh output against a preallocated
one), the framework layers, and the targets.

    python -m pooling.bench [--threads N] [--quick] [--json PATH] [--cases TEXT]

Modules: ``timing`` (timers), ``cases`` (what is measured), ``baselines``
(im2col), ``measure`` (each section's measurements), ``adapters`` (the
framework layers of ``pooling.layers``), ``report`` (tables, targets, JSON).
"""
from __future__ import annotations

import argparse
import gc
import platform

import numpy as np

import pooling
from pooling import _backend

from .adapters import adapter_rows
from .baselines import im2col_backward, im2col_forward
from .cases import CASES, OPS, TINY_CASES, input_bytes, large_cases, largest, tiny_call_cases
from .measure import (linear_cost, other_ops, preallocated, run_case, thread_scaling,
                      versus_torch)
from .report import (print_adapters, print_large, print_linear, print_other_ops, print_out,
                     print_scaling, print_table, print_targets, print_tiny_calls, summary,
                     write_json)
from . import timing
from .timing import calibrate, copy_bandwidth

__all__ = ["CASES", "OPS", "TINY_CASES", "bench", "calibrate", "im2col_backward",
           "im2col_forward", "main"]


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def bench(threads=None, quick=False, cases=None, json_path=None, tiny=False):
    """Run the benchmark, print the tables, return the measurements."""
    torch = _torch()
    # The objects of the imports (torch's are many) move out of the
    # collector's reach, so that the full collection before each timing
    # (timing.median_ms) takes microseconds, not a tenth of a second.
    gc.collect()
    gc.freeze()
    try:
        return _bench(torch, threads, quick, cases, json_path, tiny)
    finally:
        gc.unfreeze()


def _bench(torch, threads, quick, cases, json_path, tiny):
    if pooling.get_backend() != "cython":
        print("warning: the compiled kernels are not in use; 'ours' is the NumPy reference")
    threads = threads or pooling.get_num_threads()
    pooling.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    repeats = 3 if quick or tiny else 7
    timing.MIN_SECONDS = 0.002 if tiny else 0.02
    selected = [c for c in (TINY_CASES if tiny else CASES) if not cases or cases in c[0]]
    kernels = f", {_backend.cpu_variant()} kernels" if pooling.get_backend() == "cython" else ""
    print(f"pooling {pooling.__version__} ({pooling.get_backend()}{kernels}), "
          f"numpy {np.__version__}, "
          f"torch {getattr(torch, '__version__', 'not installed')}, threads {threads}, "
          f"{platform.machine()}, median of {repeats} runs")
    copy_gbps = copy_bandwidth(max(map(input_bytes, selected), default=1 << 20), repeats)
    rows = []
    for name, shape, dtype, kw in selected:
        rows += run_case(name, shape, dtype, kw, repeats, quick, torch)
    print()
    print_table(rows, copy_gbps)
    # the largest selected cases, at 1 thread and at `threads` (at 2 for --tiny,
    # so that the tests see the section even at one thread)
    scaling = (thread_scaling(max(threads, 2), repeats, largest(selected))
               if threads > 1 or tiny else [])
    print_scaling(scaling, max(threads, 2))
    linear = [] if quick and not tiny else linear_cost(repeats, tiny)
    print_linear(linear)
    others = other_ops(repeats, torch, tiny)
    print_other_ops(others)
    # --quick: the same cases, with its fewer repeats
    large = versus_torch(large_cases(tiny), repeats, torch)
    print_large(large)
    tiny_calls = versus_torch(tiny_call_cases(), repeats, torch)
    print_tiny_calls(tiny_calls)
    outs = preallocated(repeats, tiny)
    print_out(outs)
    adapters = adapter_rows(repeats, tiny)
    print_adapters(adapters)
    lines = summary(rows, scaling, linear, copy_gbps, tiny_calls, large, others)
    print_targets(lines)
    result = {"version": pooling.__version__, "threads": threads, "copy_gbps": copy_gbps,
              "rows": rows, "thread_scaling": scaling, "linear_cost": linear,
              "other_ops": others, "large_inputs": large, "tiny_calls": tiny_calls,
              "out": outs, "adapters": adapters, "summary": lines}
    if json_path:
        write_json(result, json_path)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pooling.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for every implementation (default: pooling's)")
    ap.add_argument("--quick", action="store_true", help="fewer repeats, skip slow baselines")
    ap.add_argument("--json", dest="json_path", help="also write the measurements here")
    ap.add_argument("--cases", help="only cases whose name contains this text")
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # for the tests
    a = ap.parse_args(argv)
    bench(a.threads, a.quick, a.cases, a.json_path, a.tiny)
    return 0

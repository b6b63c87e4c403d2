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

Sections, by the names ``--sections`` and ``--skip`` take: ``main`` (the
main table, ``cases.CASES``), ``scaling`` (thread scaling), ``linear``
(linear cost), ``other`` (other operations), ``large`` (large inputs, 100 MB
and more), ``tiny`` (tiny calls: the per-call overhead, in microseconds),
``out`` (a fresh output against a preallocated one), ``layers`` (the
framework layers), ``dask`` (``pooling.dask.max_pool3d`` over a chunked 2 GB
volume against the same data in memory, ``dask.array.coarsen`` and
scikit-image's ``block_reduce``; when dask is installed), ``models`` (ResNet-18 and VGG-11 end to end, converted by
``pooling.layers.torch.convert`` against unconverted, batch 32 and batch 1
at 224x224, one thread and all ``--threads``; the longest: minutes),
``peers`` (the forward pooling layers of AlexNet, VGG, ResNet, GoogLeNet,
Inception, DenseNet and MobileNet, batch 1, 8 and 32, channels first and
last, against oneDNN, ONNX Runtime, OpenVINO and XLA, each when installed:
``pip install "pooling-kernels[bench]"``), ``training`` (on the same
layers, batch 1 and 8: max pooling with int64 indices against PyTorch and
ONNX Runtime's MaxPool with indices, and the backward of max and average
pooling against PyTorch's), ``jax`` (``pooling.layers.jax`` against
``lax.reduce_window``: each pool's forward and ``jit(value_and_grad)``, the
per-call time, a small CNN's training step and pooling's share of it, at
one thread and at ``--threads``, each in a subprocess; when jax is
installed: ``jax_layers``), ``contention`` (every kind of operation, tiny inputs to large, channels
first and last, at ``--threads`` and at one thread, interleaved, while one
busy process per core, started by the section and ended with it, competes
for the cores, and the same calls without them), and the targets, for
what ran.

Before measuring, the run checks whether the machine is loaded (the load
average against the cores, the CPUs' busy share over 0.2 s: ``load``); if
it is, the header says so ("machine loaded: ...: figures unreliable"), as
do the JSON and the plots' titles.  The contention section's load, which
comes later and on purpose, does not count.

    python -m pooling.bench [--threads N] [--quick] [--json PATH] [--cases TEXT]
                            [--sections LIST | --skip LIST] [--plot FILE] [--quiet]

``--quick`` takes about half a minute: every section runs, with the same
rows and columns, on smaller inputs (the main table's cases on a smaller
batch, ``cases.QUICK_CASES``; the other sections' ``QUICK_*`` shapes, a
17 MB dask volume), 3 repeats of at least 3 ms instead of 7 of 20 ms, and
the models once each at batch 2 and 1, ResNet-18 at 64x64, VGG-11 at 32x32
with its hidden layers 256 wide.  Its figures show the shape of the results, not the full run's
values.  ``--sections models`` runs the models alone; ``--skip models`` all
but them.

``--plot FILE`` draws the run's measurements with matplotlib (``pip install
"pooling-kernels[plot]"``; without it the run stops before measuring, with
status 2): the speedups against PyTorch, the NumPy reference and im2col in
FILE, the time per element across the linear section's sizes in FILE's stem
+ ``.sizes`` + suffix, in the format of FILE's suffix (.png, .svg, .pdf);
see ``plot``.  While the run lasts, standard error gets a line per case
measured (time since the start, section, case) when it is a terminal;
``--quiet`` turns that off.  The tables go to standard output either way.

Modules: ``timing`` (timers), ``cases`` (what is measured), ``baselines``
(im2col), ``measure`` (each section's measurements), ``adapters`` (the
framework layers of ``pooling.layers``), ``chunked`` (the dask section),
``models`` and ``nets`` (the networks), ``peers`` (the other engines),
``training`` (indices and backward against the engines), ``jax_layers``
(the jax section),
``contention`` (the busy
processes and the contention section), ``load`` (the load notice),
``report`` (tables, targets, JSON), ``progress`` (the progress lines),
``plot`` (``--plot``).
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import platform
import shlex
import sys

import numpy as np

import pooling
from pooling._core import backend as _backend

from .adapters import adapter_rows
from .baselines import im2col_backward, im2col_forward
from .chunked import dask_rows, dask_targets, print_dask
from .jax_layers import jax_rows, jax_targets, print_jax
from .cases import (CASES, OPS, QUICK_CASES, TINY_CASES, input_bytes, large_cases, largest,
                    main_cases, tiny_call_cases)
from .contention import contention_rows
from .measure import (linear_cost, other_ops, preallocated, run_case, thread_scaling,
                      versus_torch)
from .models import model_rows
from .peers import peer_rows
from .training import target_lines as training_targets, training_rows
from .report import (print_adapters, print_contention, print_large, print_linear, print_models,
                     print_other_ops, print_out, print_peers, print_scaling, print_table,
                     print_targets, print_tiny_calls, print_training, summary, write_json)
from . import load as _load, progress, timing
from .timing import calibrate, copy_bandwidth

# The sections, in the order they run and print (the targets come last).
SECTIONS = ("main", "scaling", "linear", "other", "large", "tiny", "out", "layers", "dask",
            "models", "peers", "training", "jax", "contention")

# How long one timed repeat lasts at least (timing.MIN_SECONDS), in seconds,
# for --quick: its inputs are 8 to 64 times smaller than the full run's.
QUICK_MIN_SECONDS = 0.003

__all__ = ["CASES", "OPS", "QUICK_CASES", "SECTIONS", "TINY_CASES", "bench", "calibrate",
           "im2col_backward", "im2col_forward", "main"]


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def bench(threads=None, quick=False, cases=None, json_path=None, tiny=False, sections=SECTIONS):
    """Run the benchmark's sections (any of SECTIONS), print the tables,
    return the measurements (an empty list for a section that did not run)."""
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        raise ValueError(f"bench(): unknown sections {unknown}; expected some of "
                         f"{', '.join(SECTIONS)}")
    torch = _torch()
    # The objects of the imports (torch's are many) move out of the
    # collector's reach, so that the full collection before each timing
    # (timing.median_ms) takes microseconds, not a tenth of a second.
    gc.collect()
    gc.freeze()
    try:
        return _bench(torch, threads, quick, cases, json_path, tiny, frozenset(sections))
    finally:
        gc.unfreeze()


def _bench(torch, threads, quick, cases, json_path, tiny, on):
    # before anything runs: the contention section's busy processes come later
    load = _load.check()
    if pooling.get_backend() != "cython":
        print("warning: the compiled kernels are not in use; 'ours' is the NumPy reference")
    threads = threads or pooling.get_num_threads()
    pooling.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    repeats = 3 if quick or tiny else 7
    size = "tiny" if tiny else "quick" if quick else "full"
    timing.MIN_SECONDS = {"full": 0.02, "quick": QUICK_MIN_SECONDS, "tiny": 0.002}[size]
    selected = [c for c in main_cases(size) if not cases or cases in c[0]]
    kernels = f", {_backend.cpu_variant()} kernels" if pooling.get_backend() == "cython" else ""
    print(f"pooling {pooling.__version__} ({pooling.get_backend()}{kernels}), "
          f"numpy {np.__version__}, "
          f"torch {getattr(torch, '__version__', 'not installed')}, threads {threads}, "
          f"{platform.machine()}, median of {repeats} runs")
    if load["loaded"]:
        print(load["notice"])
    copy_gbps = copy_bandwidth(max(map(input_bytes, selected), default=1 << 20), repeats)
    rows = []
    if "main" in on:
        for name, shape, dtype, kw in selected:
            rows += run_case(name, shape, dtype, kw, repeats, quick, torch)
        print()
        print_table(rows, copy_gbps)
    # the largest selected cases, at 1 thread and at `threads` (at 2 for --tiny,
    # so that the tests see the section even at one thread)
    scaling = (thread_scaling(max(threads, 2), repeats, largest(selected))
               if "scaling" in on and (threads > 1 or tiny) else [])
    print_scaling(scaling, max(threads, 2))
    linear = linear_cost(repeats, size) if "linear" in on else []
    print_linear(linear)
    others = []
    if "other" in on:
        others = other_ops(repeats, torch, size)
        print_other_ops(others)
    large = versus_torch("large", large_cases(size), repeats, torch) if "large" in on else []
    print_large(large)
    tiny_calls = (versus_torch("tiny", tiny_call_cases(), repeats, torch) if "tiny" in on
                  else [])
    print_tiny_calls(tiny_calls)
    outs = preallocated(repeats, size) if "out" in on else []
    print_out(outs)
    adapters = adapter_rows(repeats, size) if "layers" in on else []
    print_adapters(adapters)
    dasks = []
    if "dask" in on:
        # --quick and --tiny: a smaller volume
        dasks = dask_rows(min(repeats, 5), threads, size)
        print_dask(dasks, skipped=not dasks)
    models = []
    if "models" in on:
        if torch is None:
            print("\nmodels: skipped (torch is not installed)")
        else:
            # --quick and the tests' --tiny: one repeat, as the networks'
            # steps are the longest calls of the run
            models = model_rows(repeats if size == "full" else 1, threads, size != "full",
                                size == "tiny")
            print_models(models)
    peers = []
    if "peers" in on:
        peers = peer_rows(threads, size)
        print_peers(peers)
        if torch is not None:
            torch.set_num_threads(threads)
    training = []
    if "training" in on:
        training = training_rows(threads, size)
        print_training(training)
    jaxes = []
    if "jax" in on:
        jaxes = jax_rows(threads, size)
        print_jax(jaxes, skipped=importlib.util.find_spec("jax") is None)
    contention = []
    if "contention" in on:
        # at 2 threads for --tiny, as the scaling section, so that the tests
        # see the section at --threads 1
        n = max(threads, 2) if tiny else threads
        if n > 1:
            try:
                contention = contention_rows(n, size)
            except (OSError, RuntimeError) as e:   # the busy processes did not start
                print(f"\ncontention: skipped ({e})")
            else:
                print_contention(contention)
        else:
            print("\ncontention: skipped (one thread: nothing to compare with one thread)")
    lines = summary(rows, scaling, linear, copy_gbps, tiny_calls, large, others, models,
                    contention, peers)
    lines += training_targets(training) + dask_targets(dasks) + jax_targets(jaxes)
    print_targets(lines)
    result = {"version": pooling.__version__, "threads": threads, "copy_gbps": copy_gbps,
              "rows": rows, "thread_scaling": scaling, "linear_cost": linear,
              "other_ops": others, "large_inputs": large, "tiny_calls": tiny_calls,
              "out": outs, "adapters": adapters, "dask": dasks, "models": models,
              "peers": peers, "training": training, "jax": jaxes, "contention": contention,
              "load": load,
              "summary": lines}
    if json_path:
        write_json(result, json_path)
    return result


def _sections(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    return names


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pooling.bench", description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for every implementation (default: pooling's)")
    ap.add_argument("--quick", action="store_true",
                    help="half a minute: every section on smaller inputs, fewer and shorter "
                         "repeats, the models at a tiny size")
    ap.add_argument("--json", dest="json_path", help="also write the measurements here")
    ap.add_argument("--cases", help="only main-table cases whose name contains this text")
    pick = ap.add_mutually_exclusive_group()
    pick.add_argument("--sections", type=_sections, default=list(SECTIONS), metavar="LIST",
                      help="run only these sections, comma-separated, of: "
                           + ", ".join(SECTIONS) + " (default: all; the targets always "
                           "print, for what ran; models takes minutes)")
    pick.add_argument("--skip", type=_sections, default=[], metavar="LIST",
                      help="run every section but these (e.g. --skip models)")
    ap.add_argument("--plot", metavar="FILE",
                    help="also draw the run's speedups into FILE and its time per element "
                         "into FILE's stem + .sizes + suffix (.png, .svg or .pdf; needs "
                         "matplotlib)")
    ap.add_argument("--quiet", action="store_true",
                    help="no progress lines on standard error (printed only to a terminal)")
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # for the tests
    a = ap.parse_args(argv)
    if a.plot:
        from . import plot
        if os.path.splitext(a.plot)[1].lower() not in plot.SUFFIXES:
            ap.error(f"argument --plot: {a.plot!r} should end in one of "
                     f"{', '.join(plot.SUFFIXES)}")
        # before any measuring: a run of minutes should not end without its plot
        if not plot.available():
            print(plot.MISSING, file=sys.stderr)
            return 2
    progress.start(sys.stderr if not a.quiet and sys.stderr.isatty() else None)
    try:
        result = bench(a.threads, a.quick, a.cases, a.json_path, a.tiny,
                       [n for n in a.sections if n not in a.skip])
    finally:
        progress.stop()
    if a.plot:
        torch = _torch()
        versions = (f"pooling {pooling.__version__}, numpy {np.__version__}, "
                    f"torch {getattr(torch, '__version__', 'not installed')}")
        command = "python -m pooling.bench " + shlex.join(
            sys.argv[1:] if argv is None else argv)
        for path in plot.write(result, a.plot, command, versions):
            print(f"wrote {os.path.abspath(path)}", file=sys.stderr)
    return 0

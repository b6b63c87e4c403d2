"""The contention section (issue #24, threads that never hurt): each of our
operations at the run's thread count and at one thread, interleaved, while
processes that this section starts keep every core busy, and the same
calls without them (idle).  ``Busy`` holds those processes; ``cases``
what is timed; ``contention_rows`` the measurements."""
from __future__ import annotations

import multiprocessing
import os
import signal
import time

import numpy as np

import pooling

from . import progress
from .timing import alternating_ms

# The longest a set of busy processes spins, in seconds: each one stops by
# itself then (or when the benchmark's process is gone), even if the
# benchmark is killed before it can end them.
BUSY_SECONDS = 120
# How long the section waits for each busy process to start, at most
START_SECONDS = 60

# (shape, kernel, stride, padding) of the 2-D inputs, from tiny to large;
# the 1-D and 3-D rows take the same elements (cases.py has the others).
SHAPES = [((1, 16, 8, 8), 2, 2, 0), ((1, 64, 56, 56), 3, 2, 1), ((1, 64, 112, 112), 2, 2, 0),
          ((8, 64, 112, 112), 3, 2, 1)]
QUICK_SHAPES = [((1, 16, 8, 8), 2, 2, 0), ((1, 32, 28, 28), 3, 2, 1), ((1, 32, 56, 56), 2, 2, 0),
                ((2, 64, 56, 56), 3, 2, 1)]
TINY_SHAPES = [((1, 2, 4, 4), 2, 2, 0), ((2, 3, 8, 8), 3, 2, 1)]
# channels first, channels last: the names' prefixes and data_format by dimensions
LAYOUTS = {1: ("NCL", "NLC"), 2: ("NCHW", "NHWC"), 3: ("NCDHW", "NDHWC")}


def cores():
    """The cores this process may run on (its affinity), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def spin(seconds, ready, parent):
    """A busy process: says it runs (releases `ready`), then counts in
    plain Python until `seconds` have passed or its parent is gone.  Ctrl-C
    is its parent's to handle (which then ends it)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ready.release()
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end and os.getppid() == parent:
        for i in range(10_000):
            n += i


class Busy:
    """n processes that keep n cores busy for at most `seconds` each, in the
    "spawn" context (a fork of a process whose OpenMP threads have run can
    hang).  A context manager: ``with Busy(n, s) as busy:`` starts them and
    waits until each runs; leaving ends them (terminate, then kill)."""

    def __init__(self, n, seconds=BUSY_SECONDS):
        self.n, self.seconds = n, min(seconds, BUSY_SECONDS)
        self.procs, self.deadline = [], 0.0

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Semaphore(0)
        self.deadline = time.monotonic() + self.seconds
        self.procs = [ctx.Process(target=spin, args=(self.seconds, ready, os.getpid()),
                                  name=f"pooling.bench busy {i}", daemon=True)
                      for i in range(self.n)]
        try:
            for p in self.procs:
                p.start()
            for _ in self.procs:
                if not ready.acquire(timeout=START_SECONDS):
                    raise RuntimeError(f"a busy process did not start in {START_SECONDS} s")
        except BaseException:
            self.stop()
            raise

    def stop(self):
        started = [p for p in self.procs if p.pid is not None]
        for p in started:
            p.terminate()
        for p in started:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join()
        self.procs = []

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    def alive(self):
        """Whether all of them still spin."""
        return bool(self.procs) and all(p.is_alive() for p in self.procs)

    def renew(self, margin):
        """Start them anew unless all run with `margin` seconds left."""
        if not self.alive() or self.deadline - time.monotonic() < margin:
            self.stop()
            self.start()


def _window(dims, k, s, p):
    """"3x3/s2/p1", "2x2x2/s2", "k2/s2" (1-D)."""
    kernel = "x".join([str(k)] * dims) if dims > 1 else f"k{k}"
    return f"{kernel}/s{s}" + (f"/p{p}" if p else "")


def cases(size):
    """[(name, op, data_format, call)] at size ("full", "quick", "tiny"):
    for each of its shapes, max_pool1d/2d/3d, avg_pool2d,
    adaptive_max_pool2d, adaptive_avg_pool2d, max_pool2d_backward and
    MaxPool2D's backward, channels first and channels last, float32."""
    rng = np.random.default_rng(0)
    out = []
    for shape, k, s, p in {"full": SHAPES, "quick": QUICK_SHAPES, "tiny": TINY_SHAPES}[size]:
        x = rng.standard_normal(shape).astype(np.float32)
        for last in (False, True):
            out += _cases(x, k, s, p, last, rng)
    return out


def _cases(x2, k, s, p, last, rng):
    """cases() of one 2-D input and window, channels last or first."""
    n, c, h, w = x2.shape
    inputs = {1: x2.reshape(n, c, h * w), 2: x2,
              3: x2.reshape(n, max(1, c // 4), -1, h, w)}  # the same elements
    xs = {d: np.ascontiguousarray(np.moveaxis(a, 1, -1)) if last else a
          for d, a in inputs.items()}
    fmt = {d: LAYOUTS[d][last] for d in LAYOUTS}
    x, f = xs[2], fmt[2]
    y, idx = pooling.max_pool2d(x, k, s, p, return_indices=True, data_format=f)
    g = rng.standard_normal(y.shape).astype(np.float32)
    layer = pooling.MaxPool2D(k, s, p, data_format=f)
    layer.forward(x)
    size = 7 if h >= 14 else 2   # adaptive pooling's output

    def name(d, op, what):
        return f"{fmt[d] + ' ' if last else ''}{op} {xs[d].shape} {what}"
    win, to = _window(2, k, s, p), f"-> ({size}, {size})"
    return [
        (name(1, "max_pool1d", _window(1, k, s, p)), "max_pool1d", fmt[1],
         lambda: pooling.max_pool1d(xs[1], k, s, p, data_format=fmt[1])),
        (name(2, "max_pool2d", win), "max_pool2d", f,
         lambda: pooling.max_pool2d(x, k, s, p, data_format=f)),
        (name(3, "max_pool3d", _window(3, k, s, p)), "max_pool3d", fmt[3],
         lambda: pooling.max_pool3d(xs[3], k, s, p, data_format=fmt[3])),
        (name(2, "avg_pool2d", win), "avg_pool2d", f,
         lambda: pooling.avg_pool2d(x, k, s, p, data_format=f)),
        (name(2, "adaptive_max_pool2d", to), "adaptive_max_pool2d", f,
         lambda: pooling.adaptive_max_pool2d(x, size, data_format=f)),
        (name(2, "adaptive_avg_pool2d", to), "adaptive_avg_pool2d", f,
         lambda: pooling.adaptive_avg_pool2d(x, size, data_format=f)),
        (name(2, "max_pool2d_backward", win), "max_pool2d_backward", f,
         lambda: pooling.max_pool2d_backward(g, idx, x.shape, data_format=f)),
        (name(2, "MaxPool2D.backward", win), "MaxPool2D.backward", f,
         lambda: layer.backward(g)),
    ]


# Seconds each row's two thread counts take turns, per phase (busy, idle).
SECONDS = {"full": 0.5, "quick": 0.2, "tiny": 0.0}


def _time(calls, phase, threads, seconds, busy=None, idle_s=None):
    """[((median, mean, runs) at threads, (median, mean, runs) at one
    thread, seconds taken, busy throughout)] of each of calls [(name,
    call)], the two thread counts taking turns in short runs
    (timing.alternating_ms).  With busy: its processes are started anew
    before a call when few seconds are left on them (a few times the call's
    idle_s), and a call during which they ended is timed again, once."""
    setters = [lambda: pooling.set_num_threads(threads), lambda: pooling.set_num_threads(1)]
    out = []
    for i, (name, fn) in enumerate(calls):
        for _ in range(2):
            if busy is not None:
                busy.renew(min(busy.seconds / 2, 2 + 10 * idle_s[i]))
            t0 = time.perf_counter()
            n, one = alternating_ms([fn, fn], seconds, min_runs=3, before=setters)
            throughout = busy is None or busy.alive()
            if throughout:
                break
        out.append((n, one, time.perf_counter() - t0, throughout))
        progress.step("contention", f"{phase} {name}")
    return out


def contention_rows(threads, size):
    """One row per case (see cases): its ms at `threads` and at one thread,
    median (ms_n, ms_1) and mean (mean_ms_n, mean_ms_1) of runs of about
    2 ms, and their ratios, with one busy process per core (cores())
    started for the section and ended before it returns, and the same
    without them (idle_*), measured first.  Pooling's thread count is
    restored afterwards."""
    found = cases(size)
    calls = [(name, fn) for name, _, _, fn in found]
    seconds = SECONDS[size]
    before = pooling.get_num_threads()
    try:
        t0 = time.perf_counter()
        idle = _time(calls, "idle", threads, seconds)
        # the processes' time: the idle phase's several times over, and a margin
        spin_s = min(BUSY_SECONDS, 10 + 5 * (time.perf_counter() - t0))
        with Busy(cores(), spin_s) as busy:
            loaded = _time(calls, "busy", threads, seconds, busy, [t[2] for t in idle])
    finally:
        pooling.set_num_threads(before)
    return [{"case": name, "op": op, "data_format": fmt, "threads": threads, "busy": busy.n,
             "seconds": seconds, "runs": min(b[0][2], b[1][2]),
             "ms_n": b[0][0], "ms_1": b[1][0], "ratio": b[0][0] / b[1][0],
             "mean_ms_n": b[0][1], "mean_ms_1": b[1][1], "mean_ratio": b[0][1] / b[1][1],
             "busy_throughout": b[3],
             "idle_ms_n": i[0][0], "idle_ms_1": i[1][0], "idle_ratio": i[0][0] / i[1][0]}
            for (name, op, fmt, _), b, i in zip(found, loaded, idle)]

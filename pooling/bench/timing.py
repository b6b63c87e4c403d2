"""How the benchmark times and sizes a call: loop calibration, the median
timer, the floor (reading the input once), tracemalloc's peak, and a plain
copy's bandwidth to compare against."""
from __future__ import annotations

import gc
import math
import statistics
import time
import tracemalloc

import numpy as np

# How long one timed repeat lasts at least, in seconds (calls are looped until
# it does).  bench() lowers it for the tests' --tiny, whose timings nobody reads.
MIN_SECONDS = 0.02


def calibrate(fn, min_seconds=None):
    """Calls of fn per timed repeat (doubling until one lasts min_seconds,
    default MIN_SECONDS), after a warm-up call: first-touch pages, lazy
    initialisation."""
    min_seconds = MIN_SECONDS if min_seconds is None else min_seconds
    fn()
    loops = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        if time.perf_counter() - t0 >= min_seconds or loops >= 1 << 16:
            return loops
        loops *= 2


def median_ms(fn, repeats, min_seconds=None):
    """Median time of one call, in ms.  Calls are looped until one repeat
    lasts min_seconds (default MIN_SECONDS; as timeit does), so small cases
    are not lost in timer noise; the garbage collector is off while timing."""
    loops = calibrate(fn, min_seconds)
    times = []
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(loops):
                fn()
            times.append((time.perf_counter() - t0) / loops)
    finally:
        if enabled:
            gc.enable()
    return 1e3 * statistics.median(times)


def interleaved_ms(fns, repeats, min_seconds=None, before=None):
    """Median time of one call of each of fns, in ms, the calls taking turns:
    each repeat times every fn once, in turn, the order reversed on every
    other repeat, so that all of them see the same machine (other processes,
    clock speed) in the same proportion.  Three warm-up calls each, the
    fastest setting the loop count: calls shorter than min_seconds (default
    MIN_SECONDS) are looped as in median_ms, calls longer (a network's forward and backward) are not.  The
    garbage collector is off while timing.  before: callables, one per fn,
    each called untimed before its fn's warm-up and before each of its
    timed repeats."""
    before = before or [None] * len(fns)
    loops = _loop_counts(fns, before, MIN_SECONDS if min_seconds is None else min_seconds)
    times = _take_turns(fns, before, loops, lambda r: r < repeats)
    return [1e3 * statistics.median(t) for t in times]


# How long one run of alternating_ms lasts: short beside the scheduler's
# time slice (4 ms here), so that most runs are not preempted at all.
RUN_SECONDS = 0.002


def alternating_ms(fns, seconds, run_seconds=RUN_SECONDS, min_runs=5, before=None):
    """[(median ms, mean ms, runs)] of one call of each of fns, in runs of
    about run_seconds that take turns as in interleaved_ms, for `seconds`
    in all (at least min_runs each).  For a loaded machine: with runs of
    20 ms, each run of both fns took a few of the caller's own 4 ms
    preemptions, and the medians of 15 swung by half between two
    measurements of the same call; with 2 ms runs most runs see none, the
    median is the call's time and the mean (the runs' total) what the
    preemptions and anything rarer add."""
    before = before or [None] * len(fns)
    loops = _loop_counts(fns, before, run_seconds)
    end = time.perf_counter() + seconds
    times = _take_turns(fns, before, loops,
                        lambda r: r < min_runs or time.perf_counter() < end)
    return [(1e3 * statistics.median(t), 1e3 * statistics.fmean(t), len(t)) for t in times]


def _loop_counts(fns, before, min_seconds):
    """Calls of each fn per timed run: the fastest of three warm-up calls
    sets it (on a busy machine one slow call would leave a run a call or
    two long); calls longer than min_seconds are not looped."""
    loops = []
    for fn, setup in zip(fns, before):
        if setup:
            setup()
        one = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            one = min(one, time.perf_counter() - t0)
        loops.append(max(1, math.ceil(min_seconds / max(one, 1e-9))))
    return loops


def _take_turns(fns, before, loops, more):
    """Per fn, the time of one call in each timed run, the fns taking turns
    (the order reversed every other round) while more(round) holds; the
    garbage collector off meanwhile."""
    times: list[list[float]] = [[] for _ in fns]
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        r = 0
        while more(r):
            order = list(range(len(fns)))
            for i in order[::-1] if r % 2 else order:
                if before[i]:
                    before[i]()
                t0 = time.perf_counter()
                for _ in range(loops[i]):
                    fns[i]()
                times[i].append((time.perf_counter() - t0) / loops[i])
            r += 1
    finally:
        if enabled:
            gc.enable()
    return times


def settle():
    """After a lazy import (a framework, dask): its objects move out of the
    collector's reach, as bench() did with those imported before it started,
    so that the collection before each timing stays short (the torch
    adapter's and dask's imports would make it 50 ms).  Nothing when the
    collector's permanent generation is empty (not inside bench())."""
    if gc.get_freeze_count():
        gc.collect()
        gc.freeze()


def floor_ms(a, repeats):
    """The floor of a call that reads array a: the median time of ``a.max()``
    (one pass over a, nothing written), with the same timer as the calls.
    NumPy's reduction runs on one thread whatever the thread count."""
    return median_ms(a.max, repeats)


class Floors:
    """floor_ms of each array, measured once per array object (several rows
    read the same input).  Holds the arrays until it is dropped."""

    def __init__(self, repeats):
        self.repeats = repeats
        self._ms = {}

    def __call__(self, a):
        key = id(a)
        if key not in self._ms:
            self._ms[key] = (a, floor_ms(a, self.repeats))
        return self._ms[key][1]


def peak_mb(fn):
    """tracemalloc's peak during one call of fn, in MB (NumPy reports its
    allocations to tracemalloc; PyTorch's are not seen)."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def copy_bandwidth(nbytes, repeats):
    """GB/s of np.copyto between preallocated arrays (read + write)."""
    src = np.ones(nbytes // 8, dtype=np.float64)
    dst = np.empty_like(src)
    ms = median_ms(lambda: np.copyto(dst, src), repeats)
    return 2 * src.nbytes / ms / 1e6

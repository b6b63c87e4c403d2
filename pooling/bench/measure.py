"""The measurements of each section: the main table's rows, thread scaling,
linear cost and the other operations."""
from __future__ import annotations

import statistics

import numpy as np

import pooling
from pooling import reference

from . import progress
from .cases import OPS, QUICK_LIMIT, impls, linear_shapes, other_ops_cases, out_cases
from .timing import Floors, floor_ms, median_ms, peak_mb


def run_case(name, shape, dtype, kw, repeats, quick, torch):
    """One row per op: every implementation's median ms and (except torch's)
    peak memory, the floor (x.max() on what the op reads), our effective
    bandwidth, the input's and the output's size.  A callable shared by two
    ops (the reference's, im2col's and torch's forward with indices) is
    measured once."""
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    fns, sizes, out_bytes, reads = impls(x, kw, torch)
    floors = Floors(repeats)
    k = kw["kernel_size"]
    slow_ok = not quick or x.size * k * k <= QUICK_LIMIT
    timed = {}
    rows = []
    for op in OPS:
        row = {"case": name, "op": op, "dtype": dtype, "ms": {}, "peak_mb": {}}
        for impl, by_op in fns.items():
            if impl in ("reference", "im2col") and not slow_ok:
                continue
            fn = by_op[op]
            if id(fn) not in timed:
                reps = repeats if impl in ("ours", "torch") else max(3, repeats // 3)
                timed[id(fn)] = (median_ms(fn, reps), None if impl == "torch" else peak_mb(fn))
            row["ms"][impl], peak = timed[id(fn)]
            if peak is not None:
                row["peak_mb"][impl] = peak
        row["floor_ms"] = floors(reads[op])
        row["gbps"] = sizes[op] / row["ms"]["ours"] / 1e6
        row["input_mb"] = x.nbytes / 1e6
        row["out_mb"] = out_bytes / 1e6
        rows.append(row)
    progress.step("main", name)
    return rows


def thread_scaling(threads, repeats, cases):
    """Ours at 1 thread and at `threads` on each of cases, and the floor;
    pooling's thread count is restored afterwards."""
    out = []
    before = pooling.get_num_threads()
    try:
        for name, shape, dtype, kw in cases:
            x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
            fns, _, _, reads = impls(x, kw, None)
            floors = Floors(repeats)
            for op in OPS:
                t = {}
                for n in (1, threads):
                    pooling.set_num_threads(n)
                    t[n] = median_ms(fns["ours"][op], repeats)
                out.append({"case": name, "op": op, "ms_1": t[1], "ms_n": t[threads],
                            "speedup": t[1] / t[threads], "floor_ms": floors(reads[op])})
            progress.step("scaling", name)
    finally:
        pooling.set_num_threads(before)
    return out


def linear_cost(repeats, size):
    """ns per element of a 2x2/s2 forward across sizes (cases.linear_shapes
    at size), and each size's ratio to the median."""
    out = []
    for shape in linear_shapes(size):
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        ms = median_ms(lambda: pooling.max_pool2d(x, 2), repeats)
        out.append({"shape": shape, "elements": x.size, "ms": ms,
                    "ns_per_element": 1e6 * ms / x.size, "floor_ms": floor_ms(x, repeats)})
        progress.step("linear", str(shape))
    med = statistics.median(r["ns_per_element"] for r in out)
    for r in out:
        r["ratio_to_median"] = r["ns_per_element"] / med
    return out


def other_ops(repeats, torch, size):
    """Ours vs reference and torch on cases.other_ops_cases at size, and the
    floor (x.max() on what the operation reads)."""
    rows = []
    floors = Floors(repeats)
    for name, ours, (theirs, arr), reads in other_ops_cases(torch, size):
        row = {"case": name, "ours_ms": median_ms(lambda: ours(pooling), repeats),
               "reference_ms": median_ms(lambda: ours(reference), max(3, repeats // 3)),
               "floor_ms": floors(reads), "input_mb": reads.nbytes / 1e6}
        if torch is not None:
            t = torch.from_numpy(arr)
            row["torch_ms"] = median_ms(lambda: theirs(torch.nn.functional, t), repeats)
        rows.append(row)
        progress.step("other", name)
    return rows


def preallocated(repeats, size):
    """cases.out_cases: the call with a fresh output and with ``out=``, one
    after the other for each repeat (so that both see the same machine),
    and the floor."""
    rows = []
    floors = Floors(repeats)
    for name, fresh, into, reads in out_cases(size):
        t_fresh, t_out = [], []
        for _ in range(repeats):
            t_fresh.append(median_ms(fresh, 1))
            t_out.append(median_ms(into, 1))
        row = {"case": name, "fresh_ms": statistics.median(t_fresh),
               "out_ms": statistics.median(t_out), "floor_ms": floors(reads)}
        row["ratio"] = row["fresh_ms"] / row["out_ms"]
        rows.append(row)
        progress.step("out", name)
    return rows


def versus_torch(section, cases, repeats, torch):
    """Ours, torch's (when importable) and the floor on each of cases, as
    given by cases.tiny_call_cases and cases.large_cases (section: the
    name progress lines give)."""
    rows = []
    floors = Floors(repeats)
    for name, ours, theirs, x in cases:
        row = {"case": name, "input_mb": x.nbytes / 1e6, "ours_ms": median_ms(ours, repeats),
               "floor_ms": floors(x)}
        if torch is not None:
            t = torch.from_numpy(x)
            row["torch_ms"] = median_ms(lambda: theirs(torch.nn.functional, t), repeats)
        rows.append(row)
        progress.step(section, name)
    return rows

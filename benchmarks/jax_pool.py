"""pooling.layers.jax against lax.reduce_window (flax's pooling), side by
side in one process (issue #28): the forward, and ``jit(value_and_grad)``
of a loss through each pool, on issue #28's shape; and the per-call time
on a tiny input.

    python benchmarks/jax_pool.py [--threads 1] [--repeats 7]

Threads: XLA's CPU thread pool is fixed when JAX starts, so ``--threads 1``
sets XLA_FLAGS (``--xla_cpu_multi_thread_eigen=false``) before importing it
and pooling.set_num_threads(1); other values leave XLA's default (every
core) and give pooling that many.  Medians of ``--repeats`` timings, ms
(us for the tiny call), each after a warm-up call that compiles.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--shape", default="16,112,112,64")
    a = ap.parse_args()
    if a.threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1")
    import jax
    import jax.numpy as jnp
    import numpy as np

    import pooling
    import pooling.layers.jax as pj
    pooling.set_num_threads(a.threads)

    def timed(fn, *args, number=1):
        jax.block_until_ready(fn(*args))
        runs = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            for _ in range(number):
                r = fn(*args)
            jax.block_until_ready(r)
            runs.append((time.perf_counter() - t0) / number)
        return statistics.median(runs)

    shape = tuple(int(s) for s in a.shape.split(","))
    x = jnp.asarray(np.random.default_rng(0).standard_normal(shape, dtype=np.float32))
    print(f"{shape} float32, threads {a.threads}, JAX {jax.__version__}; ms, median of "
          f"{a.repeats}; x = lax / pooling")
    cases = [("max 3x3/s2 SAME", lambda m, t: m(t, (3, 3), (2, 2), "SAME"), "max"),
             ("avg 3x3/s2 SAME", lambda m, t: m(t, (3, 3), (2, 2), "SAME"), "avg"),
             ("max 2x2/s2 VALID", lambda m, t: m(t, (2, 2), (2, 2), "VALID"), "max"),
             ("min 3x3/s1 SAME", lambda m, t: m(t, (3, 3), (1, 1), "SAME"), "min")]
    rows = []
    for name, call, kind in cases:
        ours_fn = {"max": pj.max_pool, "avg": pj.avg_pool, "min": pj.min_pool}[kind]
        init, op = {"max": (-jnp.inf, jax.lax.max), "avg": (0.0, jax.lax.add),
                    "min": (jnp.inf, jax.lax.min)}[kind]

        def lax_fn(t, window, strides, padding, init=init, op=op, kind=kind):
            y = pj._lax_pool(t, init, op, window, strides, padding)
            return y / np.prod(window) if kind == "avg" else y

        for what in ("forward", "jit(value_and_grad)"):
            fns = []
            for m in (ours_fn, lax_fn):
                if what == "forward":
                    fns.append(jax.jit(lambda t, m=m: call(m, t)))
                else:
                    fns.append(jax.jit(jax.value_and_grad(
                        lambda t, m=m: jnp.sum(call(m, t) ** 2))))
            ours = timed(fns[0], x)
            theirs = timed(fns[1], x)
            rows.append((f"{name} {what}", theirs / ours))
            print(f"  {name:18} {what:20} pooling {ours * 1e3:9.2f}  lax {theirs * 1e3:9.2f}  "
                  f"x{theirs / ours:.2f}", flush=True)
    tiny = jnp.ones((1, 8, 8, 16), jnp.float32)
    f = jax.jit(lambda t: pj.max_pool(t, (2, 2), (2, 2)))
    g = jax.jit(lambda t: pj._lax_pool(t, -jnp.inf, jax.lax.max, (2, 2), (2, 2), "VALID"))
    ours = timed(f, tiny, number=2000)
    theirs = timed(g, tiny, number=2000)
    print(f"per call, (1, 8, 8, 16) max 2x2/s2 under jit: pooling {ours * 1e6:.1f} us, "
          f"lax {theirs * 1e6:.1f} us")
    target = dict(rows)["max 3x3/s2 SAME jit(value_and_grad)"]
    print(f"target: jit(value_and_grad) of max 3x3/s2 SAME on {shape}, one thread: "
          f"x{target:.1f} (>= 10x {'met' if target >= 10 else 'missed'}); per call "
          f"{ours * 1e6:.1f} us (<= 30 us {'met' if ours * 1e6 <= 30 else 'missed'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

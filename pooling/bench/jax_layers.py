"""The jax section (issue #28): ``pooling.layers.jax`` against
``lax.reduce_window`` (what flax, Equinox and Keras pool through), side by
side, at one thread and at the run's thread count:

- each pool's forward, and ``jax.jit(jax.value_and_grad)`` of a loss
  (the sum of squares) through it, on (16, 112, 112, 64) float32 (a
  ResNet stem's max pool; ``--quick`` and ``--tiny`` smaller);
- the per-call time of a jitted (1, 8, 8, 16) max pool;
- a small CNN's training step (``jax.numpy`` and
  ``lax.conv_general_dilated``, no flax: three convolutions with ReLU, two
  3x3/s2 max pools and a 2x2 average pool, a global mean, a dense layer,
  softmax cross-entropy, an SGD update, all in one ``jax.jit``) with
  pooling's functions and with lax's, and with each pool replaced by a
  strided slice of the same output shape (no pooling): pooling's share of
  the lax step is (lax - none) / lax, the most any faster pooling could
  save.

XLA's CPU thread pool is sized when jax is first imported, so each thread
count runs in a subprocess of its own (``python -m
pooling.bench.jax_layers``, its rows as JSON on standard output), with
XLA_FLAGS asking for one thread where the count is one; pooling runs at
the same count.  The engines take turns (timing.interleaved_ms), each
repeat timing consecutive calls of one engine for at least ``SPAN``
seconds, as a training loop repeats one step: strictly alternating single
calls made each of ours follow lax's quarter second of other memory
traffic, which doubled its time on the test machine (53 against 23 ms).  Max and
min pooling's loss and gradient are checked equal to lax's, average
pooling's within 1e-5 of the largest magnitude.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np

# (shape of the pools' input, CNN batch and image side) per size
SHAPES = {"full": ((16, 112, 112, 64), (32, 64)), "quick": ((4, 56, 56, 64), (8, 32)),
          "tiny": ((2, 12, 12, 8), (2, 8))}
TINY_CALL = (1, 8, 8, 16)
# (name, pool, window, strides, padding)
POOLS = [("max 3x3/s2 SAME", "max", (3, 3), (2, 2), "SAME"),
         ("avg 3x3/s2 SAME", "avg", (3, 3), (2, 2), "SAME"),
         ("max 2x2/s2 VALID", "max", (2, 2), (2, 2), "VALID"),
         ("min 3x3/s1 SAME", "min", (3, 3), (1, 1), "SAME")]
# Seconds each timed repeat of a row lasts at least, per size.
SPAN = {"full": 0.2, "quick": 0.05, "tiny": 0.0}
# Issue #28's targets: value_and_grad of the first pool at one thread, and
# the per-call time.
GRAD_TARGET, CALL_TARGET_US = 10.0, 30.0


def jax_rows(threads, size):
    """The section's rows at one thread and at ``threads`` (each count in a
    subprocess), or [] when jax is not installed (or its run failed: the
    reason is printed)."""
    if importlib.util.find_spec("jax") is None:
        return []
    rows = []
    for n in sorted({1, threads}):
        env = dict(os.environ)
        flags = env.get("XLA_FLAGS", "")
        if n == 1 and "xla_cpu_multi_thread_eigen" not in flags:
            env["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false "
                                "intra_op_parallelism_threads=1").strip()
        proc = subprocess.run([sys.executable, "-m", "pooling.bench.jax_layers",
                               "--threads", str(n), "--size", size],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            print(f"\njax: the {n}-thread run failed:\n{proc.stderr[-2000:]}")
            continue
        rows += json.loads(proc.stdout.strip().splitlines()[-1])
    return rows


def _measure(threads, size):
    """The rows of one thread count (in this process: jax imported here)."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    import pooling
    import pooling.layers.jax as pj

    from .timing import interleaved_ms

    pooling.set_num_threads(threads)
    repeats = {"full": 7, "quick": 3, "tiny": 1}[size]
    shape, (batch, side) = SHAPES[size]
    x = jnp.asarray(np.random.default_rng(0).standard_normal(shape, dtype=np.float32))
    ours = {"max": pj.max_pool, "min": pj.min_pool, "avg": pj.avg_pool}
    ref = {"max": lambda t, w, s, p: pj._lax_pool(t, -jnp.inf, lax.max, w, s, p),
           "min": lambda t, w, s, p: pj._lax_pool(t, jnp.inf, lax.min, w, s, p),
           "avg": lambda t, w, s, p: pj._lax_pool(t, 0.0, lax.add, w, s, p) / np.prod(w)}
    head = {"threads": threads, "jax": jax.__version__, "shape": list(shape),
            "path": "custom call" if pj._ffi_ready() else "callback"}
    rows = []
    for name, op, window, strides, padding in POOLS:
        fns = {}
        for who, pool in (("pooling", ours[op]), ("lax", ref[op])):
            def call(t, pool=pool):
                return pool(t, window, strides, padding)
            fns[who] = (jax.jit(call),
                        jax.jit(jax.value_and_grad(lambda t, call=call: jnp.sum(call(t) ** 2))))
        same = _agree(op, fns["pooling"][1](x), fns["lax"][1](x))
        for i, what in enumerate(("forward", "jit(value_and_grad)")):
            a, b = fns["pooling"][i], fns["lax"][i]
            ms = interleaved_ms([lambda f=a: jax.block_until_ready(f(x)),
                                 lambda f=b: jax.block_until_ready(f(x))], repeats,
                                min_seconds=SPAN[size])
            rows.append(dict(head, case=name, what=what, ms={"pooling": ms[0], "lax": ms[1]},
                             same=same))
    small = jnp.ones(TINY_CALL, jnp.float32)
    f = jax.jit(lambda t: pj.max_pool(t, (2, 2), (2, 2)))
    g = jax.jit(lambda t: ref["max"](t, (2, 2), (2, 2), "VALID"))
    ms = interleaved_ms([lambda: jax.block_until_ready(f(small)),
                         lambda: jax.block_until_ready(g(small))], max(repeats, 3))
    rows.append(dict(head, case=f"max 2x2/s2 {TINY_CALL}", what="per call",
                     ms={"pooling": ms[0], "lax": ms[1]}, same=True))
    rows.append(dict(head, **_cnn_step(batch, side, repeats, SPAN[size], ours, ref)))
    return rows


def _agree(op, ours, theirs):
    """Loss and gradient agree: max and min bit for bit, average within
    1e-5 of the largest magnitude (XLA sums in an order of its own)."""
    pairs = [(np.asarray(a), np.asarray(b)) for a, b in zip(ours, theirs)]
    if op != "avg":
        return all(np.array_equal(a, b, equal_nan=True) for a, b in pairs)
    return all(np.max(np.abs(a - b), initial=0) <= 1e-5 * np.max(np.abs(b), initial=0)
               for a, b in pairs)


def _cnn_step(batch, side, repeats, span, ours, ref):
    """The CNN's training step with each pooling: ms per step and pooling's
    share of lax's."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    from .timing import interleaved_ms

    rng = np.random.default_rng(1)

    def weight(*s):
        return jnp.asarray(rng.standard_normal(s, dtype=np.float32) / np.sqrt(np.prod(s[:-1])))

    params = [weight(3, 3, 3, 32), weight(3, 3, 32, 64), weight(3, 3, 64, 128), weight(128, 10)]
    images = jnp.asarray(rng.standard_normal((batch, side, side, 3), dtype=np.float32))
    labels = jnp.asarray(rng.integers(0, 10, batch))

    def none(t, window, strides, padding):
        # the pool's output shape, no pooling: a strided slice
        return t[:, ::strides[0], ::strides[1], :]

    def step(pools):
        def loss(ps, x, y):
            for w, pool in zip(ps[:3], pools):
                x = jax.nn.relu(lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                                         dimension_numbers=("NHWC", "HWIO",
                                                                            "NHWC")))
                x = pool(x)
            logits = x.mean(axis=(1, 2)) @ ps[3]
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], 1))

        @jax.jit
        def train(ps, x, y):
            value, grads = jax.value_and_grad(loss)(ps, x, y)
            return value, [p - 0.01 * g for p, g in zip(ps, grads)]
        return train

    def pools(kind):
        p = {"pooling": ours, "lax": ref}.get(kind)
        if p is None:
            return [lambda t: none(t, (3, 3), (2, 2), "SAME")] * 2 + \
                [lambda t: none(t, (2, 2), (2, 2), "VALID")]
        return [lambda t: p["max"](t, (3, 3), (2, 2), "SAME")] * 2 + \
            [lambda t: p["avg"](t, (2, 2), (2, 2), "VALID")]

    steps = {k: step(pools(k)) for k in ("pooling", "lax", "none")}
    losses = {k: float(s(params, images, labels)[0]) for k, s in steps.items()}
    ms = interleaved_ms([lambda s=s: jax.block_until_ready(s(params, images, labels))
                         for s in steps.values()], repeats, min_seconds=span)
    ms = dict(zip(steps, ms))
    return {"case": f"CNN step, batch {batch}, {side}x{side}x3", "what": "training step",
            "ms": ms, "same": bool(np.isclose(losses["pooling"], losses["lax"], rtol=1e-5)),
            "share": (ms["lax"] - ms["none"]) / ms["lax"]}


def print_jax(rows, skipped=False):
    if skipped:
        print("\njax: skipped (jax is not installed)")
    if not rows:
        return
    r0 = rows[0]
    print(f"\njax (pooling.layers.jax through {r0['path']}s vs lax.reduce_window; "
          f"{tuple(r0['shape'])} float32, jax {r0['jax']}; ms, the engines taking turns; "
          "x = lax / pooling):")
    for r in rows:
        ms = r["ms"]
        unit, scale = ("us", 1e3) if r["what"] == "per call" else ("ms", 1.0)
        extra = ""
        if "share" in r:
            extra = (f"  no pooling {ms['none']:.2f} ms: pooling is {100 * r['share']:.0f}% "
                     "of lax's step")
        print(f"  {r['threads']} thr  {r['case']:28} {r['what']:20} pooling "
              f"{ms['pooling'] * scale:9.2f} {unit}  lax {ms['lax'] * scale:9.2f} {unit}  "
              f"x{ms['lax'] / ms['pooling']:.2f}  {'same' if r['same'] else 'DIFFERENT'}"
              f"{extra}")


def jax_targets(rows):
    """Issue #28's targets, for the rows that ran."""
    lines = []
    for r in rows:
        ms = r["ms"]
        if r["threads"] == 1 and r["case"] == POOLS[0][0] and r["what"] != "forward":
            x = ms["lax"] / ms["pooling"]
            lines.append(f"jax jit(value_and_grad) {r['case']} {tuple(r['shape'])}, one thread: "
                         f"x{x:.1f} over lax.reduce_window (target >= {GRAD_TARGET:g}x)")
        elif r["threads"] == 1 and r["what"] == "per call":
            lines.append(f"jax per call, {r['case']} under jit: {ms['pooling'] * 1e3:.1f} us "
                         f"(target <= {CALL_TARGET_US:g} us)")
        elif r["what"] == "training step":
            lines.append(f"jax {r['case']}, {r['threads']} thread(s): x{ms['lax'] / ms['pooling']:.2f}"
                         f" over lax's pooling; pooling is {100 * r['share']:.0f}% of lax's step, "
                         f"so at most x{ms['lax'] / ms['none']:.2f}")
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m pooling.bench.jax_layers",
                                 description="one thread count of the jax section, as JSON")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--size", choices=sorted(SHAPES), default="full")
    a = ap.parse_args(argv)
    from . import timing
    timing.MIN_SECONDS = {"full": 0.02, "quick": 0.003, "tiny": 0.002}[a.size]
    print(json.dumps(_measure(a.threads, a.size)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

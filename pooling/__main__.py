"""``python -m pooling``: version, backend, threads and a quick self-check."""
from __future__ import annotations

import sys

import numpy as np

import pooling
from pooling import reference
from pooling._core import backend as _backend


def self_check(seed: int = 0) -> list[str]:
    """Compare the active backend with the reference on a few cases; return
    the descriptions of any mismatches."""
    rng = np.random.default_rng(seed)
    failures = []
    cases: list[tuple[tuple[int, ...], type, dict]] = [
        ((2, 3, 9, 11), np.float32, dict(kernel_size=2)),
        ((2, 3, 9, 11), np.float64, dict(kernel_size=3, stride=2, padding=1)),
        ((3, 8, 7), np.int16, dict(kernel_size=(2, 3), stride=1, dilation=(1, 2))),
        ((1, 2, 10, 10), np.float16, dict(kernel_size=3, stride=2, ceil_mode=True)),
    ]
    for shape, dtype, kw in cases:
        x: np.ndarray = rng.integers(-4, 4, size=shape).astype(dtype)
        if x.dtype.kind == "f":
            x[rng.random(shape) < 0.05] = np.nan
        y, i = pooling.max_pool2d(x, return_indices=True, **kw)
        ry, ri = reference.max_pool2d(x, return_indices=True, **kw)
        g = rng.standard_normal(y.shape).astype(np.float32)
        ok = (np.array_equal(y, ry, equal_nan=True) and np.array_equal(i, ri)
              and np.array_equal(pooling.max_pool2d_backward(g, i, shape),
                                 reference.max_pool2d_backward(g, ri, shape)))
        if not ok:
            failures.append(f"{shape} {np.dtype(dtype).name} {kw}")
    return failures


def main() -> int:
    print(f"pooling {pooling.__version__} (distribution pooling-kernels)")
    print(f"backend: {pooling.get_backend()}")
    variant = _backend.cpu_variant()
    if variant is None:
        print("kernels: none (not compiled)")
    else:
        print(f"kernels: {variant} (available: {', '.join(_backend.available_cpu_variants())})")
    print(f"threads: {pooling.get_num_threads()}")
    failures = self_check()
    if failures:
        for f in failures:
            print(f"self-check MISMATCH: {f}")
        return 1
    print("self-check: kernels match the reference (4 cases: values, indices, gradients)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time the CPU variants of the compiled kernels side by side in one process.

    python benchmarks/variants.py [--threads N] [--repeats R] [--cases TEXT]

Every built variant module (pooling._core._maxpool, pooling._core._maxpool_avx2, ...)
that this CPU runs is a core: each case makes the same calls through
pooling._api (functions and layers) with each core in turn, alternating
within every repeat so that the shared machine's drift hits all alike.
Prints the median ms per variant and baseline / variant ratios (above 1:
the variant is faster).  Run from the checkout after an in-place build.

``--extra NAME=PATH`` adds another build of a variant module (for example
pooling/_core/_maxpool_avx2*.so from a scratch copy of the tree built with other
flags in setup.py's VARIANTS) as one more column, to try flags side by side.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import pooling  # noqa: E402
from pooling import numpy_layers  # noqa: E402
from pooling._core import backend as _backend  # noqa: E402
from pooling.bench.cases import CASES  # noqa: E402

from compare_builds import side_by_side  # noqa: E402


def with_core(core, fn):
    """fn run with ``core`` as the cython backend (layers remember theirs)."""
    def call():
        _backend._CORES["cython"] = core
        return fn()
    return call


def cases():
    """(name, factory) pairs: factory() builds the inputs and returns the
    callable for the current core."""
    rng = np.random.default_rng(0)

    def arr(shape, dtype="float32"):
        return rng.standard_normal(shape).astype(dtype)

    out = []
    x = arr((64, 32, 48, 48), "float64")
    out.append(("f64 64x32x48x48 2x2 +int64",
                lambda x=x: lambda: pooling.max_pool2d(x, 2, return_indices=True)))
    x = arr((16, 56, 56, 128))
    out.append(("NHWC 16x56x56x128 3x3/s2/p1 +int64",
                lambda x=x: lambda: pooling.max_pool2d(x, 3, 2, 1, return_indices=True,
                                                       data_format="NHWC")))
    x = arr((32, 64, 112, 112))
    out.append(("32x64x112x112 3x3/s2/p1 +int64",
                lambda x=x: lambda: pooling.max_pool2d(x, 3, 2, 1, return_indices=True)))
    x = arr((16, 512, 14, 14))
    out.append(("16x512x14x14 2x2", lambda x=x: lambda: pooling.max_pool2d(x, 2)))
    for name, shape, dtype, kw in CASES:
        x = arr(shape, dtype)

        def layer_backward(x=x, kw=kw):
            layer = numpy_layers.MaxPool2D(**kw)
            g = np.ones(layer.forward(x).shape, x.dtype)
            return lambda: layer.backward(g)

        out += [(f"{name} forward", lambda x=x, kw=kw: lambda: pooling.max_pool2d(x, **kw)),
                (f"{name} forward+int64",
                 lambda x=x, kw=kw: lambda: pooling.max_pool2d(x, return_indices=True, **kw)),
                (f"{name} layer forward",
                 lambda x=x, kw=kw: functools.partial(numpy_layers.MaxPool2D(**kw).forward, x)),
                (f"{name} layer backward", layer_backward)]
    # Outside the max-pooling forward: scatters and adaptive pooling.
    x = arr((32, 64, 112, 112))
    y, i = pooling.max_pool2d(x, 2, return_indices=True)
    out += [("max_pool2d_backward k2", lambda: lambda: pooling.max_pool2d_backward(y, i, x.shape)),
            ("max_unpool2d k2", lambda: lambda: pooling.max_unpool2d(y, i, 2)),
            ("adaptive_max_pool2d -> 5", lambda: lambda: pooling.adaptive_max_pool2d(x, 5))]
    return out


def load_extra(name, path):
    """An extension module built elsewhere; its file name (up to the first
    dot) names its init function, so it loads beside the package's own."""
    import importlib.util
    init = os.path.basename(path).split(".")[0]
    spec = importlib.util.spec_from_file_location(f"pooling_{name}.{init}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--cases", default="", help="only cases whose name contains this text")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=PATH",
                    help="time another build of a variant module too")
    a = ap.parse_args(argv)
    assert pooling.get_backend() == "cython", "pooling is not compiled"
    cores = {name: _backend.load_variant(name) for name in _backend.available_cpu_variants()}
    for extra in a.extra:
        name, path = extra.split("=", 1)
        cores[name] = load_extra(name, path)
    for core in cores.values():
        core.set_num_threads(a.threads)
    names = list(cores)
    print(f"{pooling.__file__}\nthreads {a.threads}, median of {a.repeats} alternating runs, ms")
    head = "".join(f"{n:>10}" for n in names)
    ratios = "".join(f"{'b/' + n[:6]:>10}" for n in names[1:])
    print(f"{'case':44}{head}{ratios}")
    logs: dict[str, list[float]] = {n: [] for n in names[1:]}
    try:
        for name, factory in cases():
            if a.cases not in name:
                continue
            fns = []
            for core in cores.values():
                _backend._CORES["cython"] = core
                fns.append(with_core(core, factory()))
            t = side_by_side(fns, a.repeats)
            for n, tv in zip(names[1:], t[1:]):
                logs[n].append(np.log(t[0] / tv))
            print(f"{name:44}" + "".join(f"{v:10.3f}" for v in t)
                  + "".join(f"{t[0] / v:10.2f}" for v in t[1:]))
    finally:
        _backend._CORES["cython"] = _backend._maxpool
    for n, lg in logs.items():
        if lg:
            print(f"{n}: geometric mean baseline/{n} {np.exp(np.mean(lg)):.2f} "
                  f"(min {np.exp(min(lg)):.2f}, max {np.exp(max(lg)):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

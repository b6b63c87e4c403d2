"""Rows for the framework layers in ``pooling.layers``: each adapter against
the framework's own layer, forward + backward.  The frameworks are imported
only when their rows are measured."""
from __future__ import annotations

import numpy as np

from . import progress
from .timing import floor_ms, median_ms, settle

SHAPES = [((32, 16, 28, 28), 2), ((8, 64, 56, 56), 2)]
QUICK_SHAPES = [((8, 16, 28, 28), 2), ((2, 64, 56, 56), 2)]
TINY_SHAPES = [((2, 3, 8, 8), 2), ((2, 4, 16, 16), 2)]


def _shapes(size):
    return {"full": SHAPES, "quick": QUICK_SHAPES, "tiny": TINY_SHAPES}[size]


def _row(case, ours, theirs, repeats, x):
    """Ours and theirs, and the floor: x.max() on the NumPy input x."""
    a, b = median_ms(ours, repeats), median_ms(theirs, repeats)
    progress.step("layers", case)
    return {"case": case, "ours_ms": a, "theirs_ms": b, "speedup": b / a,
            "floor_ms": floor_ms(x, repeats)}


def tinyml_rows(repeats, size="full"):
    """pooling.layers.tinyml.MaxPool2D vs tinyml.layers.MaxPool2D."""
    from tinyml.layers import MaxPool2D as Theirs

    from ..layers.tinyml import MaxPool2D as Ours
    settle()
    rows = []
    for shape, k in _shapes(size):
        x = np.random.default_rng(0).standard_normal(shape)
        dim = shape[1:]
        ours, theirs = Ours("p", dim, (k, k), k), Theirs("p", dim, (k, k), k)
        g = np.ones((shape[0],) + ours.out_dim)

        def step(layer):
            return lambda: (layer.forward(x), layer.backward(g))
        rows.append(_row(f"tinyml MaxPool2D {shape} {k}x{k}/s{k} fwd+bwd",
                         step(ours), step(theirs), repeats, x))
    return rows


def torch_rows(repeats, size="full"):
    """pooling.layers.torch.MaxPool2d vs torch.nn.MaxPool2d, forward+backward."""
    import torch

    from ..layers.torch import MaxPool2d as Ours
    settle()
    rows = []
    for shape, k in _shapes(size):
        x = torch.randn(shape, requires_grad=True)

        def step(layer):
            def run():
                x.grad = None
                layer(x).sum().backward()
            return run
        rows.append(_row(f"torch MaxPool2d {shape} {k}x{k}/s{k} fwd+bwd",
                         step(Ours(k)), step(torch.nn.MaxPool2d(k)), repeats,
                         x.detach().numpy()))
    return rows


def adapter_rows(repeats, size="full"):
    """The rows of every framework that imports; none for one that does not
    (size: "full", "quick" or "tiny", the tests' --tiny)."""
    rows = []
    for fn in (tinyml_rows, torch_rows):
        try:
            rows += fn(repeats, size)
        except ImportError:
            continue
    return rows

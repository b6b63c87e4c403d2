"""pooling's layers import one way: cores, then the call sequence, then the
front ends.  Every import statement in the package's source is read (module
level and lazy ones inside functions alike); the graph must have no circle
and no edge from a lower layer to a higher one.

Run as a script it prints the graph and any circle:
``python tests/test_imports.py [-v]``.
"""
from __future__ import annotations

import ast
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "pooling")

# Layer of each module by name prefix, lowest first.  A module may import
# from its own layer or lower ones only.
LAYERS = [
    ("core", ("pooling._core",)),
    ("call sequence", ("pooling._params", "pooling._api", "pooling._fractional",
                       "pooling._torch_math", "pooling._version")),
    ("front end", ("pooling",)),
]


def _modules():
    """{dotted name: path} of every .py file of the package."""
    mods = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(folder, f)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                mods[name[:-len(".__init__")] if name.endswith(".__init__") else name] = path
    return mods


def _targets(mod, node, mods):
    """The package's modules an import statement of ``mod`` executes: the
    module named, and the packages above it (their __init__ runs first),
    except ``mod``'s own packages, which are running already."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = mod.split(".")
            if not mods[mod].endswith("__init__.py"):
                base = base[:-1]
            base = base[:len(base) - node.level + 1]
            origin = ".".join(base + ([node.module] if node.module else []))
        else:
            origin = node.module or ""
        # "from a import b": the submodule a.b if there is one, else a.
        names = [origin + "." + a.name if origin + "." + a.name in mods else origin
                 for a in node.names]
    found = set()
    for name in names:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        while name:
            if name != mod and not mod.startswith(name + "."):
                found.add(name)
            name = name.rpartition(".")[0]
    return found


def import_graph():
    mods = _modules()
    graph = {}
    for mod, path in mods.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        graph[mod] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[mod] |= _targets(mod, node, mods)
    return graph


def circles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer(mod):
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(mod == p or mod.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(mod)


def upward(graph):
    return sorted((a, b) for a, pointing in graph.items() for b in pointing
                  if layer(b) > layer(a))


pytestmark = pytest.mark.skipif(not os.path.isdir(PACKAGE), reason="needs the source tree")


def test_no_import_circle():
    assert circles(import_graph()) == []


def test_layers_import_downward_only():
    assert upward(import_graph()) == []


def test_the_compiled_kernels_import_only_the_cores():
    """csrc/ is a core too: a Python import there may reach pooling._core only."""
    bad = []
    csrc = os.path.join(ROOT, "csrc")
    for f in sorted(os.listdir(csrc)):
        if f.endswith((".pyx", ".pxi")):
            with open(os.path.join(csrc, f), encoding="utf-8") as src:
                for n, line in enumerate(src, 1):
                    m = re.match(r"\s*(?:from|import)\s+(pooling[\w.]*)", line)
                    if m and not (m.group(1) + ".").startswith("pooling._core."):
                        bad.append(f"{f}:{n}: {line.strip()}")
    assert bad == []


def test_the_checker_sees_circles_and_upward_imports():
    """The checks above can fail: a made-up graph with a lazy circle and a
    core reaching up is caught."""
    graph = {"pooling._core.backend": {"pooling.reference"},
             "pooling.reference": {"pooling._api"},
             "pooling._api": {"pooling._core.backend"}}
    assert circles(graph) == [sorted(graph)]
    assert upward(graph) == [("pooling._core.backend", "pooling.reference")]


def test_the_checker_reads_lazy_and_relative_imports():
    graph = import_graph()
    # functional's dispatch to dask is a lazy import inside a function
    assert "pooling.dask" in graph["pooling.functional"]
    # "from .._core import backend" from pooling.dask._chunk
    assert {"pooling._core", "pooling._core.backend"} <= graph["pooling.dask._chunk"]


if __name__ == "__main__":
    g = import_graph()
    if "-v" in sys.argv:
        for m in sorted(g):
            print(m, "->", ", ".join(sorted(g[m])))
    print("circles:", circles(g) or "none")
    print("upward imports:", upward(g) or "none")

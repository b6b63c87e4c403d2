"""Where Zarr arrays and groups live, so that ``pyramid`` never writes over
what it reads (issue #27).

A location is ``(store, path)``: ``store`` names the storage (the local
file system, whatever zarr-python class or version opened it; another
fsspec file system by protocol and root; any other store by identity) and
``path`` the node inside it, as a tuple of names (on the local file system,
the resolved absolute path's).  Two locations overlap when their stores are
the same and one path is a prefix of the other.
"""
from __future__ import annotations

import os
from typing import Any, Iterator, List, Tuple

Location = Tuple[Any, Tuple[str, ...]]


def _names(path: str) -> Tuple[str, ...]:
    return tuple(p for p in str(path).replace("\\", "/").split("/") if p and p != ".")


def _local(root: Any) -> Any:
    return ("file", os.path.realpath(os.fspath(root)))


def store_key(store: Any) -> Any:
    """A hashable name of the storage ``store`` (a zarr 2 or 3 store) writes to."""
    root = getattr(store, "root", None)          # zarr 3 LocalStore
    if root is not None:
        return _local(root)
    fs = getattr(store, "fs", None)              # zarr 3 FsspecStore, zarr 2 FSStore
    if fs is not None:
        inner = getattr(fs, "sync_fs", fs)       # (AsyncFileSystemWrapper)
        protocol = getattr(inner, "protocol", None)
        protocol = protocol if isinstance(protocol, str) else tuple(protocol or ())
        path = getattr(store, "path", "")
        if protocol in ("file", "local") or (isinstance(protocol, tuple)
                                             and {"file", "local"} & set(protocol)):
            return _local(path)
        return (protocol, str(path).rstrip("/"))
    path = getattr(store, "path", None)          # zarr 2 DirectoryStore
    if isinstance(path, str) and os.path.isabs(path):
        return _local(path)
    return ("object", id(store))


def _located(key: Any, names: Tuple[str, ...]) -> Location:
    if key[0] == "file":   # (one file system: the root joins the path)
        return ("file",), _names(key[1]) + names
    return key, names


def of_store(store: Any) -> Location:
    """The location of a zarr store's root."""
    return _located(store_key(store), ())


def of_node(node: Any) -> Location:
    """The location of a zarr Array or Group."""
    return _located(store_key(node.store), _names(getattr(node, "path", "") or ""))


def of_path(path: Any, component: Any = None) -> Location:
    """The location of a local path (and a component inside it)."""
    return _located(_local(path), _names(component or ""))


def describe(loc: Location) -> str:
    """A location as a path, for messages."""
    if loc[0] == ("file",):
        return "/" + "/".join(loc[1])
    return "/".join(loc[1]) or "/"


def overlap(a: Location, b: Location) -> bool:
    if a[0] != b[0]:
        return False
    n = min(len(a[1]), len(b[1]))
    return a[1][:n] == b[1][:n]


def zarr_sources(x: Any) -> List[Location]:
    """The locations of the Zarr arrays a dask array's graph reads."""
    try:
        import zarr
    except ImportError:   # (no zarr: no Zarr array can be read)
        return []
    found: List[Location] = []
    for value in _values(x.__dask_graph__()):
        if isinstance(value, zarr.Array):
            loc = of_node(value)
            if loc not in found:
                found.append(loc)
    return found


def _values(graph: Any) -> Iterator[Any]:
    """The graph's values, and the arguments of its tasks, two levels deep
    (an array given to from_array inline sits in the getters' arguments)."""
    stack = [(v, 0) for v in dict(graph).values()]
    seen = set()
    while stack:
        v, depth = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        yield v
        if depth >= 3:
            continue
        args = getattr(v, "args", None)
        if isinstance(v, (tuple, list)):
            args = v
        elif args is None and hasattr(v, "value"):   # a DataNode
            args = (v.value,)
        if isinstance(args, (tuple, list)):
            stack.extend((a, depth + 1) for a in args)

"""Backend selection: the compiled kernels, or the NumPy reference.

``POOLING_BACKEND=numpy`` selects the reference at import; ``set_backend``
switches at run time.  If the extension cannot be imported the package still
works on the reference and says so, once, with a RuntimeWarning.
"""
from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType
from typing import Any, Dict, Optional

from . import reference

_maxpool: Optional[ModuleType]
_IMPORT_ERROR: Optional[str] = None
try:
    _maxpool = importlib.import_module(f"{__package__}._maxpool")
except ImportError as exc:  # not compiled, or compiled for another Python
    _maxpool = None
    _IMPORT_ERROR = f"{type(exc).__name__}: {exc}"
    _root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.isfile(os.path.join(_root, "setup.py")) and os.path.isdir(
            os.path.join(_root, "csrc")):
        # `python -m ...` or `python -c ...` run in a checkout imports the
        # uncompiled source tree, not the installed package.
        _IMPORT_ERROR += (f"; pooling was imported from its source tree {_root}: run "
                          f"from another directory, or build in place with "
                          f"'python setup.py build_ext --inplace'")

# A core is anything with the five functions pooling._api describes.
_CORES: Dict[str, Any] = {"numpy": reference._Core}
if _maxpool is not None:
    _CORES["cython"] = _maxpool

_current = "numpy"


def get_backend() -> str:
    """The backend in use: "cython" (compiled kernels) or "numpy" (reference)."""
    return _current


def set_backend(name: str) -> None:
    """Switch to the "cython" or "numpy" backend."""
    global _current
    if name not in ("cython", "numpy"):
        raise ValueError(f'set_backend: name must be "cython" or "numpy", but got name={name!r}')
    if name not in _CORES:
        raise RuntimeError(
            f"set_backend: the cython backend is unavailable ({_IMPORT_ERROR}); "
            f"reinstall pooling with a C compiler present (pip install .)"
        )
    _current = name


def core():
    return _CORES[_current]


def get_num_threads() -> int:
    """Threads the compiled kernels use for large inputs (1 without OpenMP)."""
    return _maxpool.get_num_threads() if _maxpool is not None else 1


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the compiled kernels; 0 restores OpenMP's default
    (``OMP_NUM_THREADS``, or what threadpoolctl sets)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"set_num_threads: n must be an int >= 0, but got n={n!r}")
    if _maxpool is not None:
        _maxpool.set_num_threads(n)


def _init() -> None:
    requested = os.environ.get("POOLING_BACKEND", "").strip().lower()
    if requested not in ("", "cython", "numpy"):
        warnings.warn(
            f'POOLING_BACKEND={requested!r} is not "cython" or "numpy"; ignoring it',
            RuntimeWarning, stacklevel=3)
        requested = ""
    if requested == "numpy":
        return
    if _maxpool is None:
        warnings.warn(
            "pooling: the compiled kernels could not be imported "
            f"({_IMPORT_ERROR}); using the pure-NumPy reference backend, which "
            "is exact but much slower. This is expected after an install with "
            "POOLING_PURE_PYTHON=1 or one whose C compiler failed; reinstall "
            "with a C compiler present (pip install .) to get the Cython "
            "kernels.", RuntimeWarning, stacklevel=3)
        return
    set_backend("cython")
    threads = os.environ.get("POOLING_NUM_THREADS", "").strip()
    if threads:
        try:
            set_num_threads(int(threads))
        except ValueError:
            warnings.warn(f"POOLING_NUM_THREADS={threads!r} is not an int >= 0; ignoring it",
                          RuntimeWarning, stacklevel=3)


_init()

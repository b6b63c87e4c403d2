"""Backend selection: the compiled kernels, or the NumPy reference; and which
CPU variant of the compiled kernels.

``POOLING_BACKEND=numpy`` selects the reference at import; ``set_backend``
switches at run time.  If the extension cannot be imported the package still
works on the reference and says so, once, with a RuntimeWarning.

The compiled kernels come in CPU variants, the same source built for several
instruction sets (setup.py): ``pooling._core._maxpool`` (the baseline, any
x86-64 or other CPU) and ``pooling._core._maxpool_avx2``.  At import the best variant
that this CPU runs (asked of the baseline module, which compiles
``__builtin_cpu_supports``) and that was built is chosen; a variant is never
imported on a CPU without its instructions.  ``POOLING_CPU=baseline`` (or
``avx2``) forces one, so the test suite can run each.
"""
from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType
from typing import Any, Callable, Dict, Optional, Tuple

from .numpy_core import NumpyCore

# Best first: variant name -> the CPU features it needs (the names the
# baseline module's cpu_features() reports).
_VARIANTS = {"avx2": ("avx2", "fma"), "baseline": ()}

_baseline: Optional[ModuleType]
_IMPORT_ERROR: Optional[str] = None
try:
    _baseline = importlib.import_module(f"{__package__}._maxpool")
except ImportError as exc:  # not compiled, or compiled for another Python
    _baseline = None
    _IMPORT_ERROR = f"{type(exc).__name__}: {exc}"
    _root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if os.path.isfile(os.path.join(_root, "setup.py")) and os.path.isdir(
            os.path.join(_root, "csrc")):
        # `python -m ...` or `python -c ...` run in a checkout imports the
        # uncompiled source tree, not the installed package.
        _IMPORT_ERROR += (f"; pooling was imported from its source tree {_root}: run "
                          f"from another directory, or build in place with "
                          f"'python setup.py build_ext --inplace'")


def load_variant(name: str) -> ModuleType:
    """The module of a CPU variant; ImportError if it is not built, or if
    this CPU lacks its instructions (importing it could crash the process)."""
    if _baseline is None:
        raise ImportError(f"the compiled kernels are unavailable ({_IMPORT_ERROR})")
    if name == "baseline":
        return _baseline
    missing = [f for f in _VARIANTS[name] if f not in _baseline.cpu_features()]
    if missing:
        raise ImportError(f"this CPU lacks {', '.join(missing)}")
    return importlib.import_module(f"{__package__}._maxpool_{name}")


def available_cpu_variants() -> Tuple[str, ...]:
    """The CPU variants built and runnable here, baseline first."""
    found = []
    for name in reversed(list(_VARIANTS)):
        try:
            load_variant(name)
        except ImportError:
            continue
        found.append(name)
    return tuple(found)


def _choose(requested: str) -> Tuple[str, ModuleType]:
    """The requested variant and its module, or the best one when nothing
    usable is requested (with a RuntimeWarning saying why)."""
    if requested not in ("", "auto"):
        if requested not in _VARIANTS:
            warnings.warn(f"POOLING_CPU={requested!r} is not one of "
                          f"{', '.join(['auto'] + list(_VARIANTS))}; ignoring it",
                          RuntimeWarning, stacklevel=4)
        else:
            try:
                return requested, load_variant(requested)
            except ImportError as exc:
                warnings.warn(f"POOLING_CPU={requested!r}: that variant cannot be used "
                              f"here ({exc}); choosing automatically", RuntimeWarning,
                              stacklevel=4)
    for name in _VARIANTS:
        try:
            return name, load_variant(name)
        except ImportError:
            continue
    raise AssertionError("unreachable: the baseline loads")


# The chosen variant and its module, the "cython" core.
_variant: Optional[str] = None
_maxpool: Optional[ModuleType] = None
if _baseline is not None:
    _variant, _maxpool = _choose(os.environ.get("POOLING_CPU", "").strip().lower())

# A core is anything with the functions pooling._core describes.
_CORES: Dict[str, Any] = {"numpy": NumpyCore}
if _maxpool is not None:
    _CORES["cython"] = _maxpool

_current = "numpy"


def cpu_variant() -> Optional[str]:
    """The CPU variant of the compiled kernels in use ("baseline", "avx2"),
    or None without them."""
    return _variant


def get_backend() -> str:
    """The backend in use: "cython" (compiled kernels) or "numpy" (reference).

    Examples
    --------
    >>> pooling.get_backend() in ("cython", "numpy")
    True
    """
    return _current


def set_backend(name: str) -> None:
    """Switch to the "cython" or "numpy" backend.

    Examples
    --------
    >>> before = pooling.get_backend()
    >>> pooling.set_backend("numpy")
    >>> pooling.get_backend()
    'numpy'
    >>> pooling.set_backend(before)
    """
    global _current
    if name not in ("cython", "numpy"):
        raise ValueError(f'set_backend: name must be "cython" or "numpy", but got name={name!r}')
    if name not in _CORES:
        raise RuntimeError(
            f"set_backend: the cython backend is unavailable ({_IMPORT_ERROR}); "
            "reinstall pooling-kernels with a C compiler present (pip install "
            "--force-reinstall --no-binary pooling-kernels pooling-kernels, or pip install . "
            "in a checkout)"
        )
    _current = name


def core():
    return _CORES[_current]


def get_num_threads() -> int:
    """Threads the compiled kernels use for large inputs (1 without OpenMP).

    Examples
    --------
    >>> pooling.get_num_threads() >= 1
    True
    """
    return _maxpool.get_num_threads() if _maxpool is not None else 1


def _no_limit(n: int) -> int:
    return 0


# Design T (csrc/threads.h): a limit on the threads of the calls made from
# the calling thread, for host frameworks (the torch adapter passes
# torch.get_num_threads(), dask tasks one); returns the previous limit.
set_thread_limit = _maxpool.set_thread_limit if _maxpool is not None else _no_limit


def with_thread_limit(n: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with the calls made from this thread limited
    to ``n`` threads (set_thread_limit; 0: no limit), the previous limit
    restored afterwards: how a host framework's thread count reaches the
    kernels (the torch adapter, dask tasks)."""
    before = set_thread_limit(n)
    try:
        return fn(*args, **kwargs)
    finally:
        set_thread_limit(before)


def thread_state() -> Dict[str, Any]:
    """What the kernels' threads have met (csrc/threads.h): calls that found
    the cores contended, seconds left on one thread, whether this process is
    a fork child (one thread for good)."""
    if _maxpool is None:
        return {"contended_calls": 0, "serial_for": 0.0, "forked": False}
    return _maxpool.thread_state()


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the compiled kernels; 0 restores OpenMP's default
    (``OMP_NUM_THREADS``, or what threadpoolctl sets).

    Examples
    --------
    >>> pooling.set_num_threads(1)
    >>> pooling.get_num_threads()
    1
    >>> pooling.set_num_threads(0)                  # back to OpenMP's default
    """
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
            "pooling-kernels with a C compiler present (pip install --force-reinstall "
            "--no-binary pooling-kernels pooling-kernels, or pip install . in a checkout) to "
            "get the Cython kernels.", RuntimeWarning, stacklevel=3)
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

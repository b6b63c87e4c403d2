"""What a task runs on its block: the in-memory operation through the call
sequence (pooling._api) on the backend current when the task runs, exactly
as pooling.functional's functions do for ndarrays.  The dask forms sit
beside pooling.functional, not above it: functional is the front end that
dispatches dask arrays to them."""
from __future__ import annotations

from functools import partial

from .. import _api
from .._core import backend


# Threads the kernels use inside one task: dask runs tasks side by side on
# its own threads or workers, so one each unless set_task_threads says
# otherwise (read when a task runs, in the process that runs it).
_task_threads = 1


def set_task_threads(n: int) -> None:
    """Threads the kernels use inside each dask task (1 by default: dask
    already runs one task per core); 0 lifts the limit (pooling's own
    setting, ``pooling.set_num_threads``).  It applies in the process that
    runs the tasks: the threaded scheduler's, or each distributed worker's
    (``client.run(pooling.dask.set_task_threads, n)``).

    Examples
    --------
    >>> pooling.dask.set_task_threads(2)
    >>> pooling.dask.set_task_threads(1)                  # the default
    """
    global _task_threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"set_task_threads: n must be an int >= 0, but got n={n!r}")
    _task_threads = n


def with_task_threads(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with the kernels at the task's thread count."""
    return backend.with_thread_limit(_task_threads, fn, *args, **kwargs)


def _run(op, nd, *args, **kwargs):
    return with_task_threads(op, backend.core(), nd, *args, **kwargs)


def in_memory(op: str) -> dict:
    """``{nd: pooling.functional's {op}{nd}d}`` as picklable callables
    (``op``: a function of pooling._api taking ``core, nd`` first)."""
    return {nd: partial(_run, getattr(_api, op), nd) for nd in (1, 2, 3)}

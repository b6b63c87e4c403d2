"""What a task runs on its block: the in-memory operation through the call
sequence (pooling._api) on the backend current when the task runs, exactly
as pooling.functional's functions do for ndarrays.  The dask forms sit
beside pooling.functional, not above it: functional is the front end that
dispatches dask arrays to them."""
from __future__ import annotations

from functools import partial

from .. import _api
from .._core import backend


def _run(op, nd, *args, **kwargs):
    return op(backend.core(), nd, *args, **kwargs)


def in_memory(op: str) -> dict:
    """``{nd: pooling.functional's {op}{nd}d}`` as picklable callables
    (``op``: a function of pooling._api taking ``core, nd`` first)."""
    return {nd: partial(_run, getattr(_api, op), nd) for nd in (1, 2, 3)}

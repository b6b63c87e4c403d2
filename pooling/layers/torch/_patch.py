"""patch(): torch.nn.functional's pooling functions routed to pooling's
while it is active, for models that call ``F.max_pool2d`` and the others
inside ``forward`` (convert() reaches only modules)."""
from __future__ import annotations

import contextlib
import threading

from torch.nn import functional as _tf

from . import functional

_LOCK = threading.Lock()
_DEPTH = 0          # active patch() contexts, over all threads
_SAVED: dict = {}   # torch.nn.functional's functions while patched


class patch(contextlib.ContextDecorator):
    """Route ``torch.nn.functional``'s pooling functions (``max_pool2d``,
    ``avg_pool2d`` and the other eighteen of ``pooling.layers.torch``) to
    pooling's kernels while the context is active; restore PyTorch's when
    the last active context ends.

    The replacement is process-wide (``torch.nn.functional`` is one
    module): while any thread is inside ``patch()``, every thread's calls
    go to pooling's functions, which give PyTorch's results (and send
    tensors they do not serve to PyTorch's own functions).  Contexts nest
    and may overlap across threads: a count under a lock decides when to
    restore.  Also a decorator.

    Examples
    --------
    >>> import torch, torch.nn.functional as F, pooling.layers.torch as pt
    >>> with pt.patch():
    ...     F.max_pool2d is pt.max_pool2d
    True
    >>> F.max_pool2d is pt.max_pool2d
    False
    """

    def __enter__(self):
        global _DEPTH
        with _LOCK:
            if _DEPTH == 0:
                for name in functional.__all__:
                    _SAVED[name] = getattr(_tf, name)
                    setattr(_tf, name, getattr(functional, name))
            _DEPTH += 1
        return self

    def __exit__(self, *exc):
        global _DEPTH
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                for name, fn in _SAVED.items():
                    setattr(_tf, name, fn)
                _SAVED.clear()
        return False

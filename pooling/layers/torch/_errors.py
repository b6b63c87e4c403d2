"""The adapter's error classes: pooling's ValueError and TypeError that are
also the RuntimeError PyTorch raises for the same bad arguments."""
from __future__ import annotations

import functools


class PoolingValueError(ValueError, RuntimeError):
    """pooling's ValueError for a bad argument, catchable as the
    RuntimeError PyTorch raises for it too."""


class PoolingTypeError(TypeError, RuntimeError):
    """pooling's TypeError, catchable as PyTorch's RuntimeError too."""


def torch_errors(f):
    """f, its ValueError and TypeError re-raised as the classes above (same
    message and traceback), so that ``except RuntimeError`` written for
    PyTorch's functions catches ours."""
    @functools.wraps(f)
    def call(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except (ValueError, TypeError) as e:
            if isinstance(e, RuntimeError):
                raise
            cls = PoolingValueError if isinstance(e, ValueError) else PoolingTypeError
            raise cls(*e.args).with_traceback(e.__traceback__) from None
    return call

"""``torch.nn.functional``'s pooling functions, on pooling's kernels.

Same names, signatures, results and errors as ``torch.nn.functional``.
Each function picks one of three paths:

- tensors pooling does not serve (another device, bfloat16, complex, an
  integer dtype PyTorch's operator refuses) go to PyTorch's own function;
- inside ``torch.compile``/``torch.export``, or when a gradient is wanted,
  the ``torch.ops.pooling`` operator (``_ops``), whose autograd formula is
  registered with it;
- otherwise (eager, no autograd) the operator's implementation itself: the
  same kernels, without the dispatcher's Python layers (about 10 us a call).

Arguments are normalised here with plain Python (no caches, nothing that
breaks a Dynamo graph); the operators check them against the input.
"""
from __future__ import annotations

import os as _os

import torch
from torch._C._functorch import peek_interpreter_stack as _functorch_level
from torch.autograd import forward_ad as _forward_ad
from torch.nn import functional as _tf

from ... import _api
from ..._core import backend as _backend
from ..._params import (LAYOUTS, _ntuple, adaptive_output_size, normalize_unpool_args,
                        stride_or_kernel, unpool_output_size)
from . import _eager, _ops
from ._errors import torch_errors as _torch_errors

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
           "avg_pool1d", "avg_pool2d", "avg_pool3d", "fractional_max_pool2d",
           "fractional_max_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_pool1d",
           "max_pool2d", "max_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d"]

_FLOATS = frozenset({torch.float16, torch.float32, torch.float64})
# Max pooling and unpooling also serve the integer dtypes PyTorch's CPU
# operators take.
_NUMBERS = _FLOATS | {torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8}
_ops_ns = torch.ops.pooling


def _transformed() -> bool:
    """Whether a torch.func transform (vmap, grad, jacrev, jvp...) or
    forward-mode AD is active: the custom operators have neither batching
    rules nor forward derivatives, so PyTorch's own functions (the same
    bits) serve those calls.  (Not asked inside a graph being compiled,
    whose tracer would stop at these calls.)"""
    return not _is_compiling() and (_functorch_level() is not None
                                    or _forward_ad._current_level >= 0)


# Input sizes (elements) below which PyTorch's own CPU operator answers a
# call sooner than pooling's kernels with this adapter's Python around them,
# per operation: (without a gradient, with one).  Such calls go to PyTorch's
# function, whose results are the same bits, so that a converted model is
# never slower than the unconverted one on small inputs (issue #26).  Read
# off ``python benchmarks/torch_crossover.py`` (docs/performance.md); 0
# sends every call to the kernels, as does POOLING_TORCH_STEP_ASIDE=0 in
# the environment (the tests set it).  Graphs (torch.compile, export,
# jit.trace) keep the operators whatever the size.
STEP_ASIDE_DEFAULT = {"max": (4096, 65536), "avg": (16384, 65536),
                      "adaptive_max": (65536, 200704), "adaptive_avg": (200704, 802816)}
STEP_ASIDE = ({k: (0, 0) for k in STEP_ASIDE_DEFAULT}
              if _os.environ.get("POOLING_TORCH_STEP_ASIDE") == "0" else dict(STEP_ASIDE_DEFAULT))


def _served(x, dtypes) -> bool:
    """Whether pooling's kernels serve x (else PyTorch's function): a CPU
    tensor of ``dtypes``, no torch.func transform."""
    return (isinstance(x, torch.Tensor) and x.dtype in dtypes and x.is_cpu
            and x.layout == torch.strided and not _transformed())


def _aside(kind, x) -> bool:
    """Whether STEP_ASIDE gives this call to PyTorch: a float tensor (PyTorch
    refuses some integer and empty calls pooling serves, and a call's size
    must not change that), not empty, outside graphs (asked first: a
    symbolic size compared would add a guard)."""
    return (isinstance(x, torch.Tensor) and x.dtype in _FLOATS and not _graph()
            and 0 < x.numel() < STEP_ASIDE[kind][x.requires_grad and torch.is_grad_enabled()])


_tracing = torch._C._get_tracing_state   # torch.jit.trace recording (None when not)


def _graph() -> bool:
    """Whether a graph is being traced (torch.compile/export or
    torch.jit.trace): its tracer records only operator calls, and a tensor
    made from NumPy would be recorded as a constant, so the registered
    operators serve it."""
    return torch.compiler.is_compiling() or _tracing() is not None


def _route(x):
    """The registered operators' namespace inside a graph, ``_eager``'s
    autograd Functions when autograd records ``x``'s call, else ``_ops``'s
    implementations themselves (eager, no gradient)."""
    if _graph():
        return _ops_ns
    if x.requires_grad and torch.is_grad_enabled():
        return _eager
    return _ops


def _window(fn, nd, kernel_size, stride, padding):
    """(kernel, stride, padding) as lists, stride omitted meaning kernel_size."""
    return (list(_ntuple(kernel_size, "kernel_size", fn, nd)),
            list(_ntuple(stride_or_kernel(stride, kernel_size), "stride", fn, nd,
                         omitted=True)),
            list(_ntuple(padding, "padding", fn, nd)))


# ------------------------------------------------------------------ max pooling

_is_compiling = torch.compiler.is_compiling
_core = _backend.core
_limited, _threads = _backend.with_thread_limit, torch.get_num_threads  # see _ops.torch_threads


@_torch_errors
def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    # The tiny-call path first, written out: a plain contiguous CPU tensor
    # without autograd, outside any graph, whose call pooling has kept a plan
    # for (found as _api.max_pool finds it).  Its time is its overhead
    # (issue #13).
    if _aside("max", input):
        return _ORIGINAL[f"max_pool{nd}d"](input, kernel_size, stride, padding, dilation,
                                           ceil_mode=ceil_mode, return_indices=return_indices)
    if (type(input) is torch.Tensor and not input.requires_grad and input.is_cpu
            and input.layout == torch.strided and input.dtype in _NUMBERS
            and input.is_contiguous() and not _is_compiling() and _tracing() is None
            and not _transformed()):
        a = input.numpy()
        plan = _api.find_plan(_core(), a, (nd, kernel_size, stride, padding, dilation,
                                           ceil_mode, "flat" if return_indices else None,
                                           LAYOUTS[nd][0]))
        if plan is not None:
            y, i = _limited(_threads(), plan.run, a, None)
            return (torch.from_numpy(y), torch.from_numpy(i)) if return_indices else \
                torch.from_numpy(y)
    if not _served(input, _NUMBERS):
        return _ORIGINAL[f"max_pool{nd}d"](input, kernel_size, stride, padding, dilation,
                                              ceil_mode=ceil_mode,
                                              return_indices=return_indices)
    route = _route(input)
    if route is _ops:
        return _ops.max_pool_eager(input, nd, kernel_size, stride, padding, dilation,
                                   ceil_mode, return_indices)
    if route is _eager:
        y, indices = _eager.by_indices(input, "max", nd, _ops.max_pool_eager, nd, kernel_size,
                                       stride, padding, dilation, ceil_mode, True)
        return (y, indices) if return_indices else y
    fn = f"max_pool{nd}d"
    args = (*_window(fn, nd, kernel_size, stride, padding),
            list(_ntuple(dilation, "dilation", fn, nd)), ceil_mode)
    if return_indices or input.requires_grad and torch.is_grad_enabled():
        y, indices = _ops_ns.max_pool_with_indices(input, *args)
        return (y, indices) if return_indices else y
    return _ops_ns.max_pool(input, *args)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """``torch.nn.functional.max_pool1d``."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """``torch.nn.functional.max_pool2d``."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """``torch.nn.functional.max_pool3d``."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


# --------------------------------------------------------- adaptive max pooling

@_torch_errors
def _adaptive_max_pool(nd, input, output_size, return_indices):
    fn = f"adaptive_max_pool{nd}d"
    if _aside("adaptive_max", input) or not _served(input, _NUMBERS):
        return _ORIGINAL[fn](input, output_size, return_indices)
    sizes = list(adaptive_output_size(fn, nd, output_size, input.shape[-nd:]))
    route = _route(input)
    if route is _eager:
        y, indices = _eager.by_indices(input, "adaptive_max", nd, _ops.adaptive_max_pool, sizes)
    else:
        y, indices = route.adaptive_max_pool(input, sizes)
    return (y, indices) if return_indices else y


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """``torch.nn.functional.adaptive_max_pool1d``."""
    return _adaptive_max_pool(1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """``torch.nn.functional.adaptive_max_pool2d``."""
    return _adaptive_max_pool(2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """``torch.nn.functional.adaptive_max_pool3d``."""
    return _adaptive_max_pool(3, input, output_size, return_indices)


# ------------------------------------------------------- fractional max pooling

@_torch_errors
def _fractional_max_pool(nd, input, kernel_size, output_size, output_ratio, return_indices,
                         _random_samples):
    fn = f"fractional_max_pool{nd}d"
    if not _served(input, _FLOATS):
        return _ORIGINAL[fn](input, kernel_size, output_size, output_ratio, return_indices,
                                _random_samples=_random_samples)
    if output_size is None and output_ratio is None:
        raise ValueError(f"{fn} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        ratio = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * nd
        if len(ratio) != nd:
            raise ValueError(f"{fn}: output_ratio must be a number or a tuple of {nd} numbers, "
                             f"but got output_ratio={output_ratio!r}")
        output_size = [int(input.size(i - nd) * r) for i, r in enumerate(ratio)]
    sizes = list(_ntuple(output_size, "output_size", fn, nd))
    if _random_samples is None:
        batch = 1 if input.dim() == nd + 1 else input.size(0)
        _random_samples = torch.rand(batch, input.size(-nd - 1), nd, dtype=input.dtype,
                                     device=input.device)
    kernel = list(_ntuple(kernel_size, "kernel_size", fn, nd))
    route = _route(input)
    if route is _eager:
        y, indices = _eager.by_indices(input, "fractional", nd, _ops.fractional_max_pool, kernel,
                                       sizes, _random_samples)
    else:
        y, indices = route.fractional_max_pool(input, kernel, sizes, _random_samples)
    return (y, indices) if return_indices else y


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """``torch.nn.functional.fractional_max_pool2d``: with ``_random_samples``
    None they are drawn with ``torch.rand`` as PyTorch draws them, so
    ``torch.manual_seed`` gives PyTorch's own windows."""
    return _fractional_max_pool(2, input, kernel_size, output_size, output_ratio,
                                return_indices, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """``torch.nn.functional.fractional_max_pool3d`` (see fractional_max_pool2d)."""
    return _fractional_max_pool(3, input, kernel_size, output_size, output_ratio,
                                return_indices, _random_samples)


# ------------------------------------------------------------------- unpooling

@_torch_errors
def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    fn = f"max_unpool{nd}d"
    if not (_served(input, _NUMBERS) and _served(indices, {torch.int64})):
        return _ORIGINAL[fn](input, indices, kernel_size, stride, padding, output_size)
    k, s, p = normalize_unpool_args(fn, nd, kernel_size, stride, padding)
    sizes = unpool_output_size(fn, tuple(input.shape[-nd:]), k, s, p, output_size)
    return _route(input).max_unpool(input, indices, [int(v) for v in k], [int(v) for v in s],
                                    [int(v) for v in p], [int(v) for v in sizes])   # (ints: the tracer asserts them)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``torch.nn.functional.max_unpool1d``."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``torch.nn.functional.max_unpool2d``."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """``torch.nn.functional.max_unpool3d``."""
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)


# ------------------------------------------------------------- average pooling

@_torch_errors
def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    fn = f"avg_pool{nd}d"
    if _aside("avg", input) or not _served(input, _FLOATS):
        extra = () if nd == 1 else (divisor_override,)
        return _ORIGINAL[fn](input, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, *extra)
    args = (*_window(fn, nd, kernel_size, stride, padding), ceil_mode, count_include_pad,
            divisor_override)
    return _route(input).avg_pool(input, *args)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """``torch.nn.functional.avg_pool1d``."""
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """``torch.nn.functional.avg_pool2d``."""
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """``torch.nn.functional.avg_pool3d``."""
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ---------------------------------------------------- adaptive average pooling

@_torch_errors
def _adaptive_avg_pool(nd, input, output_size):
    fn = f"adaptive_avg_pool{nd}d"
    if _aside("adaptive_avg", input) or not _served(input, _FLOATS):
        return _ORIGINAL[fn](input, output_size)
    sizes = list(adaptive_output_size(fn, nd, output_size, input.shape[-nd:]))
    if all(s == 1 for s in sizes):
        # PyTorch computes a 1x1 output with ``mean`` (another summation
        # order): its own operator keeps its bits (ResNet's last layer).
        return _ORIGINAL[fn](input, output_size)
    return _route(input).adaptive_avg_pool(input, sizes)


def adaptive_avg_pool1d(input, output_size):
    """``torch.nn.functional.adaptive_avg_pool1d``."""
    return _adaptive_avg_pool(1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """``torch.nn.functional.adaptive_avg_pool2d``."""
    return _adaptive_avg_pool(2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """``torch.nn.functional.adaptive_avg_pool3d``."""
    return _adaptive_avg_pool(3, input, output_size)


# ---------------------------------------------------------------- Lp pooling

@_torch_errors
def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    # PyTorch's own composition (torch.nn.functional.lp_pool2d), with this
    # module's average and max pooling: PyTorch's element-wise steps, so
    # PyTorch's bits.
    fn = f"lp_pool{nd}d"
    kernel = _ntuple(kernel_size, "kernel_size", fn, nd)
    pool = (max_pool1d, max_pool2d, max_pool3d)[nd - 1]
    if isinstance(norm_type, (int, float)):
        if norm_type == float("inf"):
            return pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        if norm_type == -float("inf"):
            return -pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    avg = (avg_pool1d, avg_pool2d, avg_pool3d)[nd - 1]
    out = avg(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    numel = 1
    for k in kernel:
        numel *= k
    return (torch.sign(out) * _tf.relu(torch.abs(out))).mul(numel).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``torch.nn.functional.lp_pool1d``."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``torch.nn.functional.lp_pool2d``."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """``torch.nn.functional.lp_pool3d``."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


# torch.nn.functional's own functions, kept at import: the fallbacks above
# call these, so that under patch() (which puts this module's functions in
# torch.nn.functional) they do not call back into this module.
_ORIGINAL = {name: getattr(_tf, name) for name in __all__}

# torch.fx.symbolic_trace records these as calls (the modules reach them
# through this module's namespace), not as the PyTorch functions their
# fallbacks would show a tracer's proxies.
for _name in __all__ + ["_max_pool"]:
    torch.fx.wrap(_name)

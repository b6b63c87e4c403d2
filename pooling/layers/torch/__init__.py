"""torch.nn's pooling modules and functionals, computed by pooling's kernels.

    import pooling.layers.torch as pt
    model = pt.convert(model)           # every torch.nn pooling module, in place
    y = pt.max_pool2d(x, 3, 2, 1)       # torch.nn.functional's signature
    with pt.patch():                    # F.max_pool2d & co. called in forward
        y = model(x)

The kernels are registered as PyTorch custom operators (``torch.ops.pooling.*``,
``_ops``) with fake implementations and autograd formulas, so models using
them run under ``torch.compile(fullgraph=True)`` and ``torch.export`` without
graph breaks.  CPU tensors go to the kernels without copies (channels-last
tensors as NHWC views); tensors pooling does not serve (other devices,
bfloat16, complex) go to PyTorch's own operators.  Values, indices and
gradients equal PyTorch's bit for bit wherever pooling's core does
(docs/pytorch-differences.md says where it does not).  Bad arguments raise
``PoolingValueError`` or ``PoolingTypeError``: ValueError and TypeError as in
the rest of pooling, and RuntimeError as PyTorch's functions raise.
"""
from . import _ops  # noqa: F401  (registers torch.ops.pooling)
from .functional import *  # noqa: F401,F403
from ._errors import PoolingTypeError, PoolingValueError
from .functional import __all__ as _functional_all
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .modules import convert
from ._patch import patch

__all__ = ["convert", "patch", "PoolingTypeError", "PoolingValueError"] + _functional_all + _modules_all

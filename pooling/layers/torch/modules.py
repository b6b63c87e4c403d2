"""torch.nn's pooling modules, on pooling's kernels.

Each class subclasses its torch.nn namesake and replaces only ``forward``
(which calls this package's functional of the same name): constructor,
attributes, buffers (FractionalMaxPool's ``_random_samples``),
``state_dict``, ``repr`` and ``isinstance`` checks are PyTorch's own.  That is
also what lets ``convert`` turn a torch.nn module into ours in place.
"""
from __future__ import annotations

from torch import nn

from . import functional as F

__all__ = ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AvgPool1d",
           "AvgPool2d", "AvgPool3d", "FractionalMaxPool2d", "FractionalMaxPool3d",
           "LPPool1d", "LPPool2d", "LPPool3d", "MaxPool1d", "MaxPool2d", "MaxPool3d",
           "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d"]


class _Max:
    def forward(self, input):
        # (straight to the functional's body: one Python frame less per call)
        return F._max_pool(self._nd, input, self.kernel_size, self.stride, self.padding,
                           self.dilation, self.ceil_mode, self.return_indices)


class _Avg:
    def forward(self, input):
        extra = () if self._nd == 1 else (self.divisor_override,)
        return getattr(F, self._fname)(input, self.kernel_size, self.stride, self.padding,
                                       self.ceil_mode, self.count_include_pad, *extra)


class _AdaptiveMax:
    def forward(self, input):
        return getattr(F, self._fname)(input, self.output_size, self.return_indices)


class _AdaptiveAvg:
    def forward(self, input):
        return getattr(F, self._fname)(input, self.output_size)


class _Unpool:
    def forward(self, input, indices, output_size=None):
        return getattr(F, self._fname)(input, indices, self.kernel_size, self.stride,
                                       self.padding, output_size)


class _Lp:
    def forward(self, input):
        return getattr(F, self._fname)(input, float(self.norm_type), self.kernel_size,
                                       self.stride, self.ceil_mode)


class _Fractional:
    def forward(self, input):
        return getattr(F, self._fname)(input, self.kernel_size, self.output_size,
                                       self.output_ratio, self.return_indices,
                                       _random_samples=self._random_samples)


def _refuse_script(self):
    # torch.jit.script asks every module for this before compiling: a clear
    # refusal instead of TorchScript's error deep inside the functional.
    name = type(self).__name__
    raise RuntimeError(
        f"torch.jit.script cannot compile pooling.layers.torch.{name}: its forward calls "
        f"pooling's kernels from Python, which TorchScript does not support. Use "
        f"torch.jit.trace, torch.compile or torch.export (they record its operator, "
        f"torch.ops.pooling.*), or script the model without convert() (torch.nn.{name} "
        f"gives the same results).")


def _module(family, base, fn):
    """``base`` (a torch.nn class) with ``family``'s forward calling ``fn``."""
    name = base.__name__
    return type(name, (family, base), {
        "__prepare_scriptable__": _refuse_script,
        # (the functional looked up by name at each call: torch.fx.wrap
        # replaces it in the functional module while symbolic_trace runs)
        "_fname": fn.__name__, "_nd": int(name[-2]), "__module__": __name__,
        "__qualname__": name,
        "__doc__": f"``torch.nn.{name}``, computed by pooling's kernels "
                   f"(``pooling.layers.torch.{fn.__name__}``)."})


MaxPool1d = _module(_Max, nn.MaxPool1d, F.max_pool1d)
MaxPool2d = _module(_Max, nn.MaxPool2d, F.max_pool2d)
MaxPool3d = _module(_Max, nn.MaxPool3d, F.max_pool3d)
AvgPool1d = _module(_Avg, nn.AvgPool1d, F.avg_pool1d)
AvgPool2d = _module(_Avg, nn.AvgPool2d, F.avg_pool2d)
AvgPool3d = _module(_Avg, nn.AvgPool3d, F.avg_pool3d)
AdaptiveMaxPool1d = _module(_AdaptiveMax, nn.AdaptiveMaxPool1d, F.adaptive_max_pool1d)
AdaptiveMaxPool2d = _module(_AdaptiveMax, nn.AdaptiveMaxPool2d, F.adaptive_max_pool2d)
AdaptiveMaxPool3d = _module(_AdaptiveMax, nn.AdaptiveMaxPool3d, F.adaptive_max_pool3d)
AdaptiveAvgPool1d = _module(_AdaptiveAvg, nn.AdaptiveAvgPool1d, F.adaptive_avg_pool1d)
AdaptiveAvgPool2d = _module(_AdaptiveAvg, nn.AdaptiveAvgPool2d, F.adaptive_avg_pool2d)
AdaptiveAvgPool3d = _module(_AdaptiveAvg, nn.AdaptiveAvgPool3d, F.adaptive_avg_pool3d)
MaxUnpool1d = _module(_Unpool, nn.MaxUnpool1d, F.max_unpool1d)
MaxUnpool2d = _module(_Unpool, nn.MaxUnpool2d, F.max_unpool2d)
MaxUnpool3d = _module(_Unpool, nn.MaxUnpool3d, F.max_unpool3d)
LPPool1d = _module(_Lp, nn.LPPool1d, F.lp_pool1d)
LPPool2d = _module(_Lp, nn.LPPool2d, F.lp_pool2d)
LPPool3d = _module(_Lp, nn.LPPool3d, F.lp_pool3d)
FractionalMaxPool2d = _module(_Fractional, nn.FractionalMaxPool2d, F.fractional_max_pool2d)
FractionalMaxPool3d = _module(_Fractional, nn.FractionalMaxPool3d, F.fractional_max_pool3d)

# torch.nn class -> ours, for convert.
REPLACEMENTS = {cls.__mro__[2]: cls for cls in (
    MaxPool1d, MaxPool2d, MaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d, AdaptiveMaxPool1d,
    AdaptiveMaxPool2d, AdaptiveMaxPool3d, AdaptiveAvgPool1d, AdaptiveAvgPool2d,
    AdaptiveAvgPool3d, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d, LPPool1d, LPPool2d, LPPool3d,
    FractionalMaxPool2d, FractionalMaxPool3d)}


def convert(model):
    """Make every torch.nn pooling module in ``model`` (``model`` itself and
    nested ones) compute with pooling's kernels, in place, and return
    ``model``, as ``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` does.

    Each module keeps its identity, arguments, buffers, hooks, ``repr`` and
    ``state_dict``: only its class changes, to this module's subclass of its
    torch.nn class (exact classes only: a user's own subclass of a torch.nn
    pooling module is left alone, its forward may differ).  The converted
    model pickles and deep-copies; ``copy.deepcopy`` before converting keeps
    an unconverted twin.

    Examples
    --------
    >>> import torch, pooling.layers.torch as pt
    >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.MaxPool2d(2))
    >>> pt.convert(model) is model, type(model[1]).__module__
    (True, 'pooling.layers.torch.modules')
    >>> model[1]
    MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    """
    for module in model.modules():
        ours = REPLACEMENTS.get(type(module))
        if ours is not None:
            module.__class__ = ours
    return model

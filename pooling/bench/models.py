"""The models section: ResNet-18 and VGG-11 with batch norm (``nets``) end to
end, converted by ``pooling.layers.torch.convert`` against an unconverted
copy of the same model, and the share of the unconverted model's time spent
in its pooling layers.  torch, the networks and the torch layers are
imported only when the section runs.

Both models run in train mode (batch norm with batch statistics, dropout
on), as in training: "forward" is the forward under ``torch.no_grad()``,
"forward+backward" sets the parameter gradients to None, runs the forward,
sums the output and backpropagates (every parameter gets its gradient).
The two models take turns within each repeat (``timing.interleaved_ms``).

The pooling share is measured by timing, on their own, the pooling modules
of the unconverted model (every module of ``torch.nn.modules.pooling``) on
random inputs of the shapes they see in it (recorded by a forward pre-hook
during one forward), the same way as the model: forward under no_grad, or
forward and backward with a random output gradient, the input requiring a
gradient as inside the model.  The sum of their medians over the model's
median is the share P; making pooling free would speed the model up at
most 1 / (1 - P) times.
"""
from __future__ import annotations

import copy

import pooling

from . import progress
from .timing import interleaved_ms, median_ms, settle

# (name printed, builder in nets)
NETS = (("ResNet-18", "resnet18"), ("VGG-11", "vgg11_bn"))
# (batch, height = width)
SIZES = ((32, 224), (1, 224))
# --quick and the tests' --tiny, by network.  ResNet-18 at 64 and not less:
# at 32x32 its last stage is 1x1, and batch norm in train mode refuses a
# batch of one value per channel.  VGG-11's last batch norm is before its
# fifth pooling, 2x2 at 32x32; its convolutions cost 4x more than ResNet's
# at the same size.
TINY_SIZES = {"ResNet-18": ((2, 64), (1, 64)), "VGG-11": ((2, 32), (1, 32))}
# At TINY_SIZES, VGG-11's hidden layers narrowed from 4096 to this: its
# 25088 x 4096 classifier layer alone would take most of --quick's time
# (it does not shrink with the image: the average pooling's output is 7x7).
SMALL_HIDDEN = 256
MODES = ("forward", "forward+backward")


def _run(model, x, mode, torch):
    """One forward (under no_grad), or one training step's forward and
    backward without the optimiser."""
    if mode == "forward":
        def run():
            with torch.no_grad():
                model(x)
    else:
        def run():
            model.zero_grad(set_to_none=True)
            model(x).sum().backward()
    return run


def pooling_calls(model, x, torch):
    """(module, input shape) for each call of a torch.nn pooling module in
    one forward of model on x."""
    calls = []

    def record(module, args):
        calls.append((module, tuple(args[0].shape)))
    hooks = [m.register_forward_pre_hook(record) for m in model.modules()
             if type(m).__module__ == "torch.nn.modules.pooling"]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return calls


def pooling_ms(calls, mode, repeats, torch):
    """The summed median ms of the pooling calls on their own, on random
    inputs of their shapes, as _run times the model."""
    total = 0.0
    gen = torch.Generator().manual_seed(1)
    for module, shape in calls:
        x = torch.randn(shape, generator=gen)
        g = None
        if mode != "forward":
            x.requires_grad_()
            g = torch.randn(module(x).shape, generator=gen)
        run = _pooling_run(module, x, g, torch)
        total += median_ms(run, repeats)
    return total


def _pooling_run(module, x, g, torch):
    """module's forward under no_grad (g None), or forward and backward of g."""
    if g is None:
        def run():
            with torch.no_grad():
                module(x)
    else:
        def run():
            x.grad = None
            module(x).backward(g)
    return run


def thread_counts(threads, tiny):
    """One thread and all of them (`threads`); two for the tests' --tiny,
    so that they see both rows even at one thread."""
    most = max(threads, 2) if tiny else threads
    return (1, most) if most > 1 else (1,)


def model_rows(repeats, threads, small, tiny=False):
    """A row for each network, size, thread count and mode: the unconverted
    and the converted model's median ms, unconverted / converted, and the
    pooling modules' ms and share of the unconverted model's time.  small:
    TINY_SIZES and VGG-11's hidden layers SMALL_HIDDEN wide (--quick and the
    tests' --tiny); tiny: two threads even when `threads` is one (the
    tests' --tiny).  Raises ImportError without torch.  The thread counts
    of torch and pooling are restored."""
    import torch

    from ..layers.torch import convert
    from . import nets
    settle()
    rows = []
    before = pooling.get_num_threads(), torch.get_num_threads()
    try:
        for name, builder in NETS:
            torch.manual_seed(0)
            model = (nets.vgg11_bn(hidden=SMALL_HIDDEN) if small and builder == "vgg11_bn"
                     else getattr(nets, builder)())
            unconverted = copy.deepcopy(model)
            converted = convert(model)
            for batch, hw in TINY_SIZES[name] if small else SIZES:
                x = torch.randn((batch, 3, hw, hw), generator=torch.Generator().manual_seed(0))
                calls = pooling_calls(unconverted, x, torch)
                for n in thread_counts(threads, tiny):
                    pooling.set_num_threads(n)
                    torch.set_num_threads(n)
                    for mode in MODES:
                        theirs, ours = interleaved_ms(
                            [_run(unconverted, x, mode, torch), _run(converted, x, mode, torch)],
                            repeats)
                        pool = pooling_ms(calls, mode, repeats, torch)
                        rows.append({"net": name, "batch": batch, "size": hw, "threads": n,
                                     "mode": mode, "unconverted_ms": theirs,
                                     "converted_ms": ours, "speedup": theirs / ours,
                                     "pooling_ms": pool, "pooling_share": pool / theirs,
                                     "pooling_modules": len(calls), "repeats": repeats,
                                     "hidden": SMALL_HIDDEN if small and name == "VGG-11"
                                     else None})
                        progress.step("models", f"{name} batch {batch} {hw}x{hw} "
                                                f"{n} thread(s) {mode}")
            del model, unconverted, converted
    finally:
        pooling.set_num_threads(before[0])
        torch.set_num_threads(before[1])
    return rows

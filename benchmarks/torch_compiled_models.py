"""A training step (forward and backward of the summed logits, batch 8,
224x224) of torchvision models under torch.compile and eager: converted
(pooling.layers.torch.convert and patch()) against the unconverted model,
medians of 7 steps taken in turn (issue #26).

    python benchmarks/torch_compiled_models.py THREADS resnet18,googlenet

Model names are torchvision.models' (torchvision needed: its wheels want
the CUDA build of torch, e.g. torch==2.14.1 torchvision==0.29.1), or
"nets.resnet18" / "nets.vgg11_bn" for pooling.bench.nets' (no torchvision).
"""
import copy
import statistics
import sys
import time

import torch

import pooling.layers.torch as pt

threads = int(sys.argv[1])
names = sys.argv[2].split(",")
torch.set_num_threads(threads)
torch.manual_seed(0)
x = torch.randn(8, 3, 224, 224)
for name in names:
    if name.startswith("nets."):
        from pooling.bench import nets
        base = getattr(nets, name[5:])()
    else:
        import torchvision
        base = getattr(torchvision.models, name)(weights=None)
    conv = pt.convert(copy.deepcopy(base))
    def step(m, patched):
        def f():
            m.zero_grad(set_to_none=True)
            if patched:
                with pt.patch():
                    y = m(x)
            else:
                y = m(x)
            y = y.logits if hasattr(y, "logits") else y
            y.sum().backward()
        return f
    fs = {}
    for tag, m, patched in [("torch", base, False), ("pooling", conv, True)]:
        c = torch.compile(m)
        f = step(c, patched); t0 = time.perf_counter(); f(); f()
        print(name, tag, "compile", round(time.perf_counter() - t0, 1), "s", flush=True)
        fs[tag + " compiled"] = f
        fs[tag + " eager"] = step(m, patched)
    times = {k: [] for k in fs}
    for _ in range(7):
        for k, f in fs.items():
            t0 = time.perf_counter(); f(); times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(f"{name} threads {threads}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in med.items()))
    print(f"{name} threads {threads}: compiled pooling/torch {med['pooling compiled']/med['torch compiled']:.3f}, eager pooling/torch {med['pooling eager']/med['torch eager']:.3f}", flush=True)

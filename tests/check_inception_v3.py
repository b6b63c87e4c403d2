"""Inception v3 (torchvision) under pooling.layers.torch.patch() and convert:
every pooling call counted (calls into pooling's functionals, and those
handed to PyTorch's own function), outputs, input and every parameter
gradient and batch-norm statistics bit for bit against the unconverted
model; training and eval, contiguous and channels_last.

Not collected by pytest (torchvision is not a test dependency: its wheels
need the CUDA build of torch).  Run by hand in an environment with both:

    pip install torch==2.14.1 torchvision==0.29.1 && pip install .
    python tests/check_inception_v3.py
"""
import copy, collections, torch, torchvision
import pooling.layers.torch as pt
from pooling.layers.torch import functional as TF
torch.manual_seed(0)
torch.set_num_threads(2)
counts = collections.Counter()
for name in ("_max_pool", "_avg_pool", "_adaptive_avg_pool", "_adaptive_max_pool"):
    f = getattr(TF, name)
    def spy(*a, _f=f, _n=name, **k):
        counts["calls"] += 1
        return _f(*a, **k)
    setattr(TF, name, spy)
for name in list(TF._ORIGINAL):
    f = TF._ORIGINAL[name]
    def spy2(*a, _f=f, _n=name, **k):
        counts["to PyTorch: " + _n] += 1
        return _f(*a, **k)
    TF._ORIGINAL[name] = spy2

def run(model, x, train, use_patch):
    model.train(train)
    x = x.clone().requires_grad_()
    torch.manual_seed(1)
    if use_patch:
        with pt.patch():
            out = model(x)
    else:
        out = model(x)
    logits = out.logits if hasattr(out, "logits") else out
    loss = logits.square().mean() + (out.aux_logits.square().mean() if getattr(out, "aux_logits", None) is not None else 0)
    loss.backward()
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    stats = [b.clone() for b in model.buffers()]
    return logits.detach(), x.grad, grads, stats

base = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True)
for fmt in ("contiguous", "channels_last"):
    for train in (True, False):
        x = torch.randn(2, 3, 299, 299)
        a_model, b_model = copy.deepcopy(base), pt.convert(copy.deepcopy(base))
        if fmt == "channels_last":
            x = x.contiguous(memory_format=torch.channels_last)
            a_model = a_model.to(memory_format=torch.channels_last)
            b_model = b_model.to(memory_format=torch.channels_last)
        counts.clear()
        a = run(a_model, x, train, False)
        assert counts["calls"] == 0
        b = run(b_model, x, train, True)
        same = (torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
                and all((p is None and q is None) or torch.equal(p, q) for p, q in zip(a[2], b[2]))
                and all(torch.equal(p, q) for p, q in zip(a[3], b[3])))
        print(fmt, "train" if train else "eval", "bit-identical:", same, dict(counts), flush=True)

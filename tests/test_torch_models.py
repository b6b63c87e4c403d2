"""Issue #13's proof in real networks: ResNet-18 and VGG-11 with batch norm
(built as torchvision builds them, pooling.bench.nets), converted with
pooling.layers.torch.convert, against the same networks unconverted: bit for
bit in train mode (outputs, input gradients, every parameter gradient,
batch-norm statistics) for contiguous and channels_last inputs; under
torch.compile(fullgraph=True) and torch.export, with pooling's operators in
the graph."""
import copy

import pytest

torch = pytest.importorskip("torch")
nets = pytest.importorskip("pooling.bench.nets")
import pooling.layers.torch as pt  # noqa: E402

NETS = {"resnet18": nets.resnet18, "vgg11_bn": nets.vgg11_bn}


def _pair(name, channels_last=False):
    torch.manual_seed(0)
    model = NETS[name](num_classes=10)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, pt.convert(copy.deepcopy(model))


def _input(channels_last, batch=2, size=64):
    x = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(1))
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _pools(model):
    return [type(m) for m in model.modules() if isinstance(m, tuple(pt.modules.REPLACEMENTS))]


@pytest.mark.parametrize("name", sorted(NETS))
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
def test_converted_network_is_bit_identical_in_training(name, channels_last):
    model, twin = _pair(name, channels_last)
    assert _pools(twin) and all(t.__module__ == "pooling.layers.torch.modules"
                                for t in _pools(twin))
    assert all(t.__module__.startswith("torch.nn") for t in _pools(model))
    x = _input(channels_last)
    results = []
    for m in (model, twin):
        m.train()
        xx = x.clone(memory_format=torch.preserve_format).requires_grad_()
        torch.manual_seed(2)  # the same dropout masks
        y = m(xx)
        y.backward(torch.randn(y.shape, generator=torch.Generator().manual_seed(3)))
        results.append((y, xx.grad, [p.grad for p in m.parameters()],
                        [b.clone() for b in m.buffers()]))
    (y0, g0, p0, b0), (y1, g1, p1, b1) = results
    assert torch.equal(y0, y1)
    assert torch.equal(g0, g1)
    assert len(p0) == len(p1) and all(torch.equal(a, b) for a, b in zip(p0, p1))
    assert all(torch.equal(a, b) for a, b in zip(b0, b1))  # running mean/var, counts


@pytest.mark.parametrize("name", sorted(NETS))
def test_no_graph_break_compile_and_export(name):
    _, twin = _pair(name)
    twin.eval()  # dropout off: compiled and eager runs then see the same network
    x = _input(False)
    explain = torch._dynamo.explain(twin)(x)
    assert explain.graph_break_count == 0, explain.break_reasons
    graph = "\n".join(str(g.graph) for g in explain.graphs)
    assert "torch.ops.pooling" in graph  # the custom operators, not a fallback

    torch._dynamo.reset()
    compiled = torch.compile(twin, fullgraph=True)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = compiled(a), twin(b)
    torch.testing.assert_close(ya, yb)
    ya.sum().backward()
    yb.sum().backward()
    torch.testing.assert_close(a.grad, b.grad)

    exported = torch.export.export(twin, (x,))
    targets = {str(n.target) for n in exported.graph.nodes if n.op == "call_function"}
    assert any(t.startswith("pooling.") for t in targets), targets
    assert torch.equal(exported.module()(x), twin(x))

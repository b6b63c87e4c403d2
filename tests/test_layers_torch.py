"""pooling.layers.torch against torch.nn.functional and torch.nn: values,
indices, gradients and memory layouts, for every pooling function and
module; the fallbacks to PyTorch; argument errors."""
import copy
import math
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

import pooling.layers.torch as pt  # noqa: E402

F = torch.nn.functional
CL = {2: torch.channels_last, 3: torch.channels_last_3d}
FLOATS = [torch.float32, torch.float64, torch.float16]


def _x(shape, dtype=torch.float32, seed=0, nan=True):
    """Small integers (ties), NaN in floats."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-3, 4, shape, generator=g).to(dtype)
    if dtype.is_floating_point:
        x = x + torch.rand(shape, generator=g).to(dtype) * (x > 0)  # some distinct values
        if nan:
            x.view(-1)[::17] = float("nan")
    return x


def _layouts(x, nd):
    """x as channels first, channels last (batched 2-D/3-D), a strided
    slice, and unbatched."""
    out = {"contiguous": x}
    if nd in CL:
        out["channels_last"] = x.contiguous(memory_format=CL[nd])
    wide = torch.cat([x, x], dim=-1)
    out["strided"] = wide[..., ::2]
    out["unbatched"] = x[0]
    return out


def _same(a, b):
    """Bit-identical values (NaN equal to NaN), same dtype and shape."""
    assert a.dtype == b.dtype and a.shape == b.shape
    assert torch.equal(torch.nan_to_num(a), torch.nan_to_num(b)), (a, b)
    assert torch.equal(a.isnan(), b.isnan())


def _same_layout(a, b, nd):
    if nd in CL and a.dim() == nd + 2:
        assert a.is_contiguous(memory_format=CL[nd]) == b.is_contiguous(memory_format=CL[nd])
        assert a.is_contiguous() == b.is_contiguous()


def _check(ours, theirs, x, nd, grad=True, seed=1):
    """Results (and, for floats, input gradients through the first result)
    of ``ours(x)`` and ``theirs(x)`` equal bit for bit, with PyTorch's layout."""
    a = x.detach().clone(memory_format=torch.preserve_format)
    b = x.detach().clone(memory_format=torch.preserve_format)
    grad = grad and x.dtype.is_floating_point
    a.requires_grad_(grad)
    b.requires_grad_(grad)
    ya, yb = ours(a), theirs(b)
    ra, rb = (ya, yb) if isinstance(ya, tuple) else ((ya,), (yb,))
    for u, v in zip(ra, rb):
        _same(u, v)
        _same_layout(u, v, nd)
    if grad:
        g = torch.randn(ra[0].shape, generator=torch.Generator().manual_seed(seed)).to(x.dtype)
        ga, = torch.autograd.grad(ra[0], a, g)
        gb, = torch.autograd.grad(rb[0], b, g)
        _same(ga, gb)
        _same_layout(ga, gb, nd)
    return ra


SHAPES = {1: (2, 3, 11), 2: (2, 3, 9, 10), 3: (2, 3, 5, 6, 7)}
MAX_KWS = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
           dict(kernel_size=3, stride=1, padding=1, ceil_mode=True),
           dict(kernel_size=2, stride=1, dilation=2)]
AVG_KWS = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
           dict(kernel_size=3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
           dict(kernel_size=3, stride=1, padding=1)]


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", MAX_KWS)
@pytest.mark.parametrize("dtype", FLOATS + [torch.int32])
def test_max_pool(nd, kw, dtype):
    ours, theirs = getattr(pt, f"max_pool{nd}d"), getattr(F, f"max_pool{nd}d")
    for name, x in _layouts(_x(SHAPES[nd], dtype), nd).items():
        for ri in (False, True):
            if not ri and not dtype.is_floating_point:
                # PyTorch's values-only 1-D kernel refuses integers (its
                # 2-D/3-D and indices kernels take them): we serve them.
                _check(lambda t: ours(t, **kw),
                       lambda t: theirs(t, return_indices=True, **kw)[0], x, nd)
                continue
            _check(lambda t: ours(t, return_indices=ri, **kw),
                   lambda t: theirs(t, return_indices=ri, **kw), x, nd)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", AVG_KWS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_avg_pool(nd, kw, dtype):
    ours, theirs = getattr(pt, f"avg_pool{nd}d"), getattr(F, f"avg_pool{nd}d")
    kws = [kw] + ([dict(kw, divisor_override=5)] if nd > 1 else [])
    if nd == 3 and dtype == torch.float16:
        # PyTorch has no float16 avg_pool3d on the CPU; pooling computes it
        # through float32, as its other float16 kernels: PyTorch's float32
        # result rounded once.
        theirs = _through_float32(theirs)
    for name, x in _layouts(_x(SHAPES[nd], dtype, nan=False), nd).items():
        for k in kws:
            _check(lambda t: ours(t, **k), lambda t: theirs(t, **k), x, nd,
                   grad=not (nd == 3 and dtype == torch.float16))


def _through_float32(fn):
    return lambda t, *a, **k: fn(t.float(), *a, **k).half()


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("size", [1, 3, 4, 7])
@pytest.mark.parametrize("dtype", FLOATS)
def test_adaptive(nd, size, dtype):
    for kind in ("max", "avg"):
        ours = getattr(pt, f"adaptive_{kind}_pool{nd}d")
        theirs = getattr(F, f"adaptive_{kind}_pool{nd}d")
        for name, x in _layouts(_x(SHAPES[nd], dtype, nan=kind == "max"), nd).items():
            if kind == "avg" and name == "channels_last" and size not in (1, 4):
                # PyTorch's channels-last adaptive average divides most
                # lanes once by kh * kw (docs/pytorch-differences.md):
                # compared within 2 ulp below.
                continue
            sizes = [size, (size, None, 2)[:nd] if nd > 1 else size]
            for s in sizes:
                extra = [dict(return_indices=True), {}] if kind == "max" else [{}]
                for e in extra:
                    _check(lambda t: ours(t, s, **e), lambda t: theirs(t, s, **e), x, nd)


@pytest.mark.parametrize("size", [3, 5])
def test_adaptive_avg_channels_last_within_2_ulp(size):
    x = torch.randn(2, 19, 11, 13).contiguous(memory_format=torch.channels_last)
    a, b = pt.adaptive_avg_pool2d(x, size), F.adaptive_avg_pool2d(x, size)
    assert a.is_contiguous(memory_format=torch.channels_last)
    ulp = np.spacing(np.abs(b.numpy())).astype(np.float32)
    assert np.all(np.abs(a.numpy() - b.numpy()) <= 2 * ulp)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("norm_type", [1, 2, 3.5, float("inf"), -float("inf")])
def test_lp_pool(nd, norm_type):
    # PyTorch's composition with our average and max pooling: PyTorch's bits
    # for every p (its element-wise steps are its own).
    ours, theirs = getattr(pt, f"lp_pool{nd}d"), getattr(F, f"lp_pool{nd}d")
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, ceil_mode=True)):
        x = _x(SHAPES[nd], torch.float64, nan=False).abs() + 0.5
        for name, xx in _layouts(x, nd).items():
            _check(lambda t: ours(t, norm_type, **kw), lambda t: theirs(t, norm_type, **kw),
                   xx, nd)


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("dtype", FLOATS)
def test_fractional(nd, dtype):
    ours = getattr(pt, f"fractional_max_pool{nd}d")
    theirs = getattr(F, f"fractional_max_pool{nd}d")
    x = _x((2, 3) + (9,) * nd, dtype)
    for name, xx in _layouts(x, nd).items():
        batch = 1 if name == "unbatched" else 2
        u = torch.rand(batch, 3, nd, generator=torch.Generator().manual_seed(4)).to(dtype)
        # (PyTorch's functional takes no single-number output_ratio: its
        # module turns one into a pair.)
        for kw in (dict(output_size=4), dict(output_ratio=(0.5,) * nd)):
            _check(lambda t: ours(t, 2, return_indices=True, _random_samples=u, **kw),
                   lambda t: theirs(t, 2, return_indices=True, _random_samples=u, **kw),
                   xx, nd)
    # Drawn samples: torch.rand, so torch.manual_seed gives PyTorch's windows.
    torch.manual_seed(7)
    a = ours(x, 3, output_size=5, return_indices=True)
    torch.manual_seed(7)
    b = theirs(x, 3, output_size=5, return_indices=True)
    _same(a[0], b[0])
    assert torch.equal(a[1], b[1])


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_unpool(nd):
    x = torch.randn(SHAPES[nd], dtype=torch.float64)
    for name, xx in _layouts(x, nd).items():
        y, i = F.max_pool2d(xx, 2, return_indices=True) if nd == 2 else \
            getattr(F, f"max_pool{nd}d")(xx, 2, return_indices=True)
        for size in (None, tuple(xx.shape[-nd:])):
            if size is None and any(s % 2 for s in xx.shape[-nd:]):
                continue  # an odd size's last index is outside the default output
            _check(lambda t: getattr(pt, f"max_unpool{nd}d")(t, i, 2, output_size=size),
                   lambda t: getattr(F, f"max_unpool{nd}d")(t, i, 2, output_size=size), y, nd)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_random_cases_match_torch(data):
    """Random shapes, windows, dtypes and layouts: values, indices and
    gradients of max and average pooling bit-identical to PyTorch's."""
    nd = data.draw(st.sampled_from([1, 2, 3]))
    k = data.draw(st.integers(1, 3))
    s = data.draw(st.integers(1, 3))
    p = data.draw(st.integers(0, k // 2))
    ceil = data.draw(st.booleans())
    spatial = tuple(data.draw(st.integers(k, 8)) for _ in range(nd))
    c = data.draw(st.integers(1, 5))
    dtype = data.draw(st.sampled_from(FLOATS))
    x = _x((2, c) + spatial, dtype, seed=data.draw(st.integers(0, 99)))
    layout = data.draw(st.sampled_from(sorted(_layouts(x, nd))))
    x = _layouts(x, nd)[layout]
    kind = data.draw(st.sampled_from(["max", "avg"]))
    if kind == "max":
        d = data.draw(st.integers(1, 2))
        if p > (d * (k - 1) + 1) // 2 or min(spatial) + 2 * p < d * (k - 1) + 1:
            return
        kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil,
                  return_indices=True)
    else:
        if nd == 3 and dtype == torch.float16:
            return  # no PyTorch float16 avg_pool3d (see test_avg_pool)
        x = torch.nan_to_num(x)
        kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil,
                  count_include_pad=data.draw(st.booleans()))
    _check(lambda t: getattr(pt, f"{kind}_pool{nd}d")(t, **kw),
           lambda t: getattr(F, f"{kind}_pool{nd}d")(t, **kw), x, nd)


def test_unserved_tensors_go_to_pytorch():
    for dtype in (torch.bfloat16, torch.complex64):
        x = _x((2, 3, 8, 8)).to(dtype)
        if dtype.is_complex:
            with pytest.raises(RuntimeError):  # PyTorch's own refusal
                pt.max_pool2d(x, 2)
            continue
        for ours, theirs in ((pt.max_pool2d, F.max_pool2d), (pt.avg_pool2d, F.avg_pool2d)):
            _same(ours(x, 2), theirs(x, 2))
    x = _x((2, 3, 8, 8), torch.int64)  # average pooling of integers: PyTorch's
    _same(pt.avg_pool2d(x, 2), F.avg_pool2d(x, 2))
    xr = _x((2, 3, 8, 8)).to(torch.bfloat16).requires_grad_()
    pt.adaptive_avg_pool2d(xr, 3).sum().backward()
    assert xr.grad is not None


def test_errors_name_the_argument():
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match="kernel_size"):
        pt.max_pool2d(x, (2, 2, 2))
    with pytest.raises(TypeError, match="kernel_size"):
        pt.avg_pool2d(x, "2")
    with pytest.raises(ValueError, match="pad should be"):
        pt.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="pad should be"):
        pt.max_pool2d(x.requires_grad_(), 2, padding=2)  # through the operator
    with pytest.raises(ValueError, match="output_size or an output_ratio"):
        pt.fractional_max_pool2d(x, 2)
    with pytest.raises(ValueError, match="invalid output_size"):
        y, i = pt.max_pool2d(x, 2, return_indices=True)
        pt.max_unpool2d(y, i, 2, output_size=(20, 20))
    assert torch.equal(x, x.clone())  # inputs untouched


# ----------------------------------------------------------------- modules

MODULES = [
    ("MaxPool1d", dict(kernel_size=3, stride=2, padding=1, return_indices=True), 1),
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1), 2),
    ("MaxPool3d", dict(kernel_size=2, ceil_mode=True), 3),
    ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False), 1),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, divisor_override=7), 2),
    ("AvgPool3d", dict(kernel_size=2), 3),
    ("AdaptiveMaxPool1d", dict(output_size=4, return_indices=True), 1),
    ("AdaptiveMaxPool2d", dict(output_size=(3, None)), 2),
    ("AdaptiveMaxPool3d", dict(output_size=2), 3),
    ("AdaptiveAvgPool1d", dict(output_size=4), 1),
    ("AdaptiveAvgPool2d", dict(output_size=(4, 3)), 2),
    ("AdaptiveAvgPool3d", dict(output_size=(2, 3, 2)), 3),
    ("LPPool1d", dict(norm_type=2, kernel_size=3), 1),
    ("LPPool2d", dict(norm_type=1.5, kernel_size=2, stride=1), 2),
    ("LPPool3d", dict(norm_type=3, kernel_size=2), 3),
    ("FractionalMaxPool2d", dict(kernel_size=2, output_size=4, return_indices=True), 2),
    ("FractionalMaxPool3d", dict(kernel_size=2, output_ratio=0.5), 3),
]


@pytest.mark.parametrize("name,kw,nd", MODULES)
def test_module_matches_torch_module(name, kw, nd):
    ours, theirs = getattr(pt, name)(**kw), getattr(torch.nn, name)(**kw)
    assert isinstance(ours, getattr(torch.nn, name))
    assert repr(ours) == repr(theirs)
    x = _x((2, 3) + (8,) * nd, torch.float64, nan=False).abs() + 0.25
    for xx in (x, x.contiguous(memory_format=CL[nd])) if nd in CL else (x,):
        torch.manual_seed(3)  # fractional's samples
        a = ours(xx)
        torch.manual_seed(3)
        b = theirs(xx)
        for u, v in zip(*((a, b) if isinstance(a, tuple) else ((a,), (b,)))):
            _same(u, v)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_unpool_module(nd):
    x = torch.randn((2, 3) + (8,) * nd)
    y, i = getattr(F, f"max_pool{nd}d")(x, 2, return_indices=True)
    ours, theirs = getattr(pt, f"MaxUnpool{nd}d")(2), getattr(torch.nn, f"MaxUnpool{nd}d")(2)
    _same(ours(y, i), theirs(y, i))
    _same(ours(y, i, output_size=x.shape), theirs(y, i, output_size=x.shape))
    assert repr(ours) == repr(theirs)


class _EveryPool(torch.nn.Module):
    """A model holding every torch.nn pooling module (pickled in the tests,
    so defined at module level)."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.blocks = nn.Sequential(nn.MaxPool2d(3, 2, 1), nn.AvgPool2d(3, 1, 1),
                                    nn.LPPool2d(2, 1), nn.AdaptiveMaxPool2d(6),
                                    nn.AdaptiveAvgPool2d((5, 5)))
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)
        self.frac = nn.FractionalMaxPool2d(2, output_size=3,
                                           _random_samples=torch.rand(2, 4, 2))
        self.one_d = nn.Sequential(nn.MaxPool1d(2), nn.AvgPool1d(2), nn.LPPool1d(1, 2),
                                   nn.AdaptiveMaxPool1d(3), nn.AdaptiveAvgPool1d(2))
        self.three_d = nn.Sequential(nn.MaxPool3d(1), nn.AvgPool3d(1),
                                     nn.LPPool3d(2, 1), nn.AdaptiveMaxPool3d(2),
                                     nn.AdaptiveAvgPool3d((2, 1, 2)))
        self.head = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        h = self.blocks(torch.relu(self.conv(x)))
        y, i = self.pool(h)
        h = self.unpool(y, i, output_size=h.shape[-2:])
        f = self.frac(h)
        one = self.one_d(h.flatten(2))
        three = self.three_d(h.unsqueeze(2).expand(-1, -1, 2, -1, -1))
        return self.head(h).sum() + f.sum() + one.sum() + three.sum()


def _every_pool_model():
    return _EveryPool()


def test_convert_in_place_keeps_state_repr_and_pickles():
    torch.manual_seed(0)
    model = _every_pool_model()
    twin = copy.deepcopy(model)
    before, text = model.state_dict(), repr(model)
    assert pt.convert(model) is model
    pools = tuple(pt.modules.REPLACEMENTS)
    kinds = {type(m).__module__ for m in model.modules() if isinstance(m, pools)}
    assert kinds == {"pooling.layers.torch.modules"}
    assert repr(model) == text
    after = model.state_dict()
    assert list(after) == list(before) and all(torch.equal(after[k], before[k]) for k in after)
    x = torch.randn(2, 3, 12, 12)
    _same(model(x), twin(x))
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert type(clone.blocks[0]) is pt.MaxPool2d
        _same(clone(x), twin(x))
    # the root itself, and a user's subclass (its forward may differ) left alone
    root = torch.nn.MaxPool2d(2)
    assert type(pt.convert(root)) is pt.MaxPool2d

    class Mine(torch.nn.MaxPool2d):
        pass

    assert type(pt.convert(torch.nn.Sequential(Mine(2)))[0]) is Mine


def test_converted_model_gradients_match():
    torch.manual_seed(0)
    model = _every_pool_model()
    twin = pt.convert(copy.deepcopy(model))
    x = torch.randn(2, 3, 12, 12)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    model(a).backward()
    twin(b).backward()
    _same(a.grad, b.grad)
    for p, q in zip(model.parameters(), twin.parameters()):
        _same(p.grad, q.grad)


def test_no_graph_breaks_and_compile():
    torch.manual_seed(0)
    model = pt.convert(_every_pool_model())
    x = torch.randn(2, 3, 12, 12)
    explain = torch._dynamo.explain(model)(x)
    assert explain.graph_break_count == 0, explain.break_reasons
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ya, yb = compiled(a), model(b)
    _same(ya, yb)
    ya.backward()
    yb.backward()
    _same(a.grad, b.grad)


OPCHECK_CASES = {
    "max_pool": lambda x: (x, [3, 3], [2, 2], [1, 1], [1, 1], False),
    "max_pool_with_indices": lambda x: (x, [2, 2], [1, 2], [0, 1], [1, 1], True),
    "avg_pool": lambda x: (x, [3, 3], [2, 2], [1, 1], True, False, None),
    "adaptive_avg_pool": lambda x: (x, [3, 4]),
    "adaptive_max_pool": lambda x: (x, [3, 4]),
    "fractional_max_pool": lambda x: (x, [2, 2], [4, 4], torch.rand(2, 3, 2, dtype=x.dtype)),
}


@pytest.mark.parametrize("name", sorted(OPCHECK_CASES))
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_opcheck_forward(name, layout):
    x = torch.randn(2, 3, 9, 10, dtype=torch.float64)
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    args = OPCHECK_CASES[name](x.requires_grad_())
    torch.library.opcheck(getattr(torch.ops.pooling, name).default, args)


@pytest.mark.parametrize("nd", [1, 3])
def test_opcheck_other_dimensionalities(nd):
    x = torch.randn((2, 3) + (6,) * nd, dtype=torch.float64)
    if nd == 3:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    k = [2] * nd
    ops = torch.ops.pooling
    for op, args in ((ops.max_pool, (k, k, [0] * nd, [1] * nd, True)),
                     (ops.max_pool_with_indices, (k, [1] * nd, [1] * nd, [1] * nd, False)),
                     (ops.avg_pool, (k, k, [1] * nd, False, False, None)),
                     (ops.adaptive_avg_pool, ([4] * nd,)),
                     (ops.adaptive_max_pool, ([4] * nd,))):
        torch.library.opcheck(op.default, (x.detach().requires_grad_(),) + args)
    torch.library.opcheck(ops.max_pool.default, (x[0].detach().requires_grad_(), k, k,
                                                 [0] * nd, [1] * nd, False))  # unbatched


def test_traced_path_has_no_python_caches():
    """Dynamo warns when it traces through functools.lru_cache (issue #13's
    report on the old adapter): the functionals' traced path has none."""
    import warnings
    model = torch.nn.Sequential(pt.MaxPool2d(3, 2, 1), pt.AvgPool2d(2), pt.AdaptiveMaxPool2d(2),
                                pt.LPPool2d(2, 1))
    torch._dynamo.reset()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        explain = torch._dynamo.explain(model)(torch.randn(2, 3, 12, 12))
    assert explain.graph_break_count == 0
    assert not [w for w in caught if "lru_cache" in str(w.message)]


def test_opcheck_backward_and_unpool():
    x = torch.randn(2, 3, 9, 10, dtype=torch.float64)
    for last in (False, True):
        xx = x.contiguous(memory_format=torch.channels_last) if last else x
        y, i = torch.ops.pooling.max_pool_with_indices(xx, [2, 2], [2, 2], [0, 0], [1, 1],
                                                        False)
        ops = torch.ops.pooling
        torch.library.opcheck(ops.max_pool_backward.default,
                              (torch.randn_like(y), i, list(x.shape), 2, last))
        torch.library.opcheck(ops.avg_pool_backward.default,
                              (torch.randn_like(y), list(x.shape), [2, 2], [2, 2], [0, 0],
                               False, True, None, last))
        torch.library.opcheck(ops.adaptive_avg_pool_backward.default,
                              (torch.randn_like(y), list(x.shape), 2, last))
        torch.library.opcheck(ops.max_unpool.default,
                              (y.detach().requires_grad_(), i, [2, 2], [2, 2], [0, 0], [9, 10]))


def test_eager_paths_match_torch():
    """The tiny-call path (a kept plan found directly), its first call (no
    plan yet), the NumPy backend (no plans) and a tensor subclass (the
    general path) give PyTorch's results."""
    import pooling
    x = _x((1, 16, 8, 8))
    want = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    for _ in range(3):  # the first call keeps a plan, the next ones find it
        got = pt.max_pool2d(x, 3, 2, 1, return_indices=True)
        _same(got[0], want[0])
        assert torch.equal(got[1], want[1])
    _same(pt.max_pool2d(torch.nn.Parameter(x, requires_grad=False), 3, 2, 1), want[0])
    old = pooling.get_backend()
    pooling.set_backend("numpy")
    try:
        _same(pt.max_pool2d(x, 3, 2, 1), want[0])
    finally:
        pooling.set_backend(old)


# ---- torch.jit (issue #26, items 1 and 2) -----------------------------------

_TRACED = [
    ("max_pool2d", lambda t: pt.max_pool2d(t, 2)),
    ("max_pool2d indices", lambda t: pt.max_pool2d(t, 3, 1, 1, return_indices=True)[1]),
    ("max_pool1d", lambda t: pt.max_pool1d(t.flatten(2), 3)),
    ("max_pool3d", lambda t: pt.max_pool3d(t.unsqueeze(2), (1, 2, 2))),
    ("avg_pool2d", lambda t: pt.avg_pool2d(t, 3, 2, 1)),
    ("adaptive_max_pool2d", lambda t: pt.adaptive_max_pool2d(t, 3)),
    ("adaptive_avg_pool2d", lambda t: pt.adaptive_avg_pool2d(t, 3)),
    ("max_unpool2d", lambda t: pt.max_unpool2d(*pt.max_pool2d(t, 2, return_indices=True), 2)),
    ("lp_pool2d", lambda t: pt.lp_pool2d(t, 2, 2)),
    ("fractional_max_pool2d", lambda t: pt.fractional_max_pool2d(
        t, 2, output_size=3, _random_samples=torch.full((2, 3, 2), 0.5))),
]


@pytest.mark.parametrize("name,fn", _TRACED, ids=[n for n, _ in _TRACED])
@pytest.mark.parametrize("grad", [False, True])
def test_jit_trace_records_the_operator(name, fn, grad):
    # A trace recorded from the tiny-call path (or the eager one) used to
    # bake the output in as a constant: the traced function then answered
    # the first input's result for every input.
    x, x2 = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    with torch.set_grad_enabled(grad):
        fn(x)   # the tiny-call path keeps a plan from this call
        traced = torch.jit.trace(fn, x, check_trace=False)
    assert "pooling::" in str(traced.graph)
    assert torch.equal(traced(x2), fn(x2))
    assert torch.equal(traced(x), fn(x))


def test_jit_trace_of_a_converted_model():
    model = pt.convert(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.MaxPool2d(2),
                                           torch.nn.ReLU(), torch.nn.AvgPool2d(2))).eval()
    x, x2 = torch.randn(1, 3, 10, 10), torch.randn(1, 3, 10, 10)
    with torch.no_grad():
        model(x)
        traced = torch.jit.trace(model, x, check_trace=False)
        assert torch.equal(traced(x2), model(x2))


def test_jit_script_refuses_clearly():
    model = pt.convert(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.MaxPool2d(2)))
    with pytest.raises(RuntimeError, match=r"torch\.jit\.script cannot compile "
                                           r"pooling\.layers\.torch\.MaxPool2d: .*torch\.jit\.trace"):
        torch.jit.script(model)
    assert type(model[1]) is pt.MaxPool2d   # the model is left as it was
    torch.jit.script(torch.nn.Sequential(torch.nn.MaxPool2d(2)))   # torch.nn's still scripts


# ---- errors catchable as PyTorch's (issue #26, item 6) ------------------------

_BAD = [
    ("max_pool2d", lambda F, x: F.max_pool2d(x, 0)),
    ("max_pool2d", lambda F, x: F.max_pool2d(x, 2, padding=2)),
    ("max_pool2d", lambda F, x: F.max_pool2d(x, 2, dilation=0)),
    ("max_pool2d", lambda F, x: F.max_pool2d(x.flatten(), 2)),
    ("max_pool2d", lambda F, x: F.max_pool2d(x, 9)),
    ("max_pool1d", lambda F, x: F.max_pool1d(x[0], 2, stride=-1)),
    ("max_pool3d", lambda F, x: F.max_pool3d(x[0, 0], 2)),
    ("avg_pool2d", lambda F, x: F.avg_pool2d(x, 3, padding=2)),
    ("avg_pool2d", lambda F, x: F.avg_pool2d(x, 2, divisor_override=0)),
    ("avg_pool3d", lambda F, x: F.avg_pool3d(x.unsqueeze(2), (1, 9, 9))),
    ("adaptive_max_pool2d", lambda F, x: F.adaptive_max_pool2d(x, (1, 2, 3))),
    ("adaptive_avg_pool2d", lambda F, x: F.adaptive_avg_pool2d(x.flatten(), 2)),
    ("max_unpool2d", lambda F, x: F.max_unpool2d(x, torch.full(x.shape, 10**6), 2)),
    ("fractional_max_pool2d", lambda F, x: F.fractional_max_pool2d(x, 2)),
    ("lp_pool2d", lambda F, x: F.lp_pool2d(x, 2, 0)),
    ("avg_pool2d", lambda F, x: F.avg_pool2d(x[..., ::2], 2, 0)),     # not contiguous
    ("avg_pool2d", lambda F, x: F.avg_pool2d(x.contiguous(memory_format=torch.channels_last)[
        :, ::2], 2, 0)),                                                # channels last, sliced
]


@pytest.mark.parametrize("case", range(len(_BAD)), ids=[n for n, _ in _BAD])
def test_errors_are_pytorchs_class_too(case):
    # `except RuntimeError` written for torch.nn.functional catches ours; ours
    # stay ValueError/TypeError (pooling's classes) as well.
    _, call = _BAD[case]
    x = torch.randn(2, 3, 6, 6)
    with pytest.raises(Exception) as theirs:
        call(torch.nn.functional, x)
    with pytest.raises(Exception) as ours:
        call(pt, x)
    assert isinstance(ours.value, theirs.type), (theirs.value, ours.value)
    assert isinstance(ours.value, (ValueError, TypeError))
    assert isinstance(ours.value, (pt.PoolingValueError, pt.PoolingTypeError))


def test_error_classes():
    assert issubclass(pt.PoolingValueError, ValueError)
    assert issubclass(pt.PoolingValueError, RuntimeError)
    assert issubclass(pt.PoolingTypeError, TypeError)
    assert issubclass(pt.PoolingTypeError, RuntimeError)
    with pytest.raises(RuntimeError, match="kernel_size should be greater than zero"):
        pt.MaxPool2d(0)(torch.randn(1, 1, 4, 4))


# ---- edge cases (issue #26, item 8) ---------------------------------------------

@pytest.mark.parametrize("nd", [1, 2, 3])
def test_unpool_backward_of_an_empty_batch(nd):
    x = torch.randn((0, 2) + (4,) * nd)
    y, i = getattr(pt, f"max_pool{nd}d")(x, 2, return_indices=True)
    ours, theirs = y.clone().requires_grad_(), y.clone().requires_grad_()
    getattr(pt, f"max_unpool{nd}d")(ours, i, 2).sum().backward()
    getattr(torch.nn.functional, f"max_unpool{nd}d")(theirs, i, 2).sum().backward()
    assert ours.grad.shape == theirs.grad.shape == y.shape


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("batched", [True, False])
def test_adaptive_avg_backward_of_an_empty_output_is_refused(nd, batched):
    shape = ((1,) if batched else ()) + (2,) + (4,) * nd
    fn = f"adaptive_avg_pool{nd}d"
    said = []
    for F in (torch.nn.functional, pt):
        x = torch.randn(shape, requires_grad=True)
        y = getattr(F, fn)(x, 0)
        assert y.shape == shape[:-nd] + (0,) * nd
        with pytest.raises(RuntimeError, match=r"_backward\(\): Expected grad_output to have "
                                               r"non-zero size for non-batch dimensions") as e:
            y.sum().backward()
        said.append(str(e.value))
    assert said[0] == said[1]   # PyTorch's words


# ---- layouts PyTorch keeps (issue #26, item 7) ---------------------------------

def _sliced_last(shape, fmt):
    """Channels-last memory that is not dense: every other channel."""
    return torch.randn(shape).contiguous(memory_format=fmt)[:, ::2]


_LAYOUT_CASES = [
    ("max_pool2d", lambda M, x: M.max_pool2d(x, 2)),
    ("max_pool2d indices", lambda M, x: M.max_pool2d(x, 3, 1, 1, return_indices=True)[1]),
    ("avg_pool2d", lambda M, x: M.avg_pool2d(x, 3, 2, 1)),
    ("adaptive_max_pool2d", lambda M, x: M.adaptive_max_pool2d(x, 3)),
    ("adaptive_avg_pool2d", lambda M, x: M.adaptive_avg_pool2d(x, 3)),
    ("max_unpool2d", lambda M, x: M.max_unpool2d(
        x, torch.nn.functional.max_pool2d(x.detach() * 0 + torch.arange(36.).reshape(6, 6),
                                          1, return_indices=True)[1], 1)),
]


@pytest.mark.parametrize("name,call", _LAYOUT_CASES, ids=[n for n, _ in _LAYOUT_CASES])
@pytest.mark.parametrize("grad", [False, True])
def test_sliced_channels_last_keeps_pytorchs_layout(name, call, grad):
    base = _sliced_last((2, 8, 6, 6), torch.channels_last)
    outs = []
    for M in (torch.nn.functional, pt):
        x = base.detach().requires_grad_(grad)
        y = call(M, x)
        if grad and y.is_floating_point():
            y.backward(torch.ones_like(y))
        outs.append((y, x.grad))
    (ty, tg), (oy, og) = outs
    assert oy.stride() == ty.stride() and torch.equal(oy, ty)
    if tg is not None:
        assert og.stride() == tg.stride() and torch.equal(og, tg)


def test_sliced_channels_last_3d_and_unbatched_max_pool3d():
    x = _sliced_last((2, 8, 4, 6, 6), torch.channels_last_3d)
    u = torch.randn(4, 4, 4, 6).permute(3, 0, 1, 2)   # unbatched, strides (1, 96, 24, 6)
    for v in (x, u):
        outs = []
        for M in (torch.nn.functional, pt):
            xx = v.detach().requires_grad_()
            y, i = M.max_pool3d(xx, 2, return_indices=True)
            y.backward(torch.ones_like(y))
            outs.append((y, i, xx.grad))
        for a, b in zip(*outs):
            assert a.stride() == b.stride() and torch.equal(a, b)


# ---- patch(): F.* inside forward (issue #26, item 5) ----------------------------

class _InceptionLike(torch.nn.Module):
    """Pooling through torch.nn.functional inside forward, as torchvision's
    Inception v3, GoogLeNet and DenseNet do, beside a torch.nn module."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.pool = torch.nn.MaxPool2d(3, 2, ceil_mode=True)

    def forward(self, x):
        x = self.conv(x)
        a = torch.nn.functional.avg_pool2d(x, 3, 1, 1)
        b = torch.nn.functional.max_pool2d(x, 3, 2)
        c = self.pool(x)
        d = torch.nn.functional.adaptive_avg_pool2d(torch.cat([b, c], 1), (2, 2))
        return a.sum((2, 3)), d.flatten(1)


def test_patch_routes_functional_calls(monkeypatch):
    import torch.nn.functional as F
    from pooling.layers.torch import functional as ours
    original = {n: getattr(F, n) for n in ours.__all__}
    calls = []
    for helper in ("_max_pool", "_avg_pool", "_adaptive_avg_pool"):
        f = getattr(ours, helper)
        monkeypatch.setattr(ours, helper, lambda *a, _f=f, _n=helper, **k: (
            calls.append(_n), _f(*a, **k))[1])
    torch.manual_seed(0)
    model = _InceptionLike()
    x = torch.randn(2, 3, 15, 15, requires_grad=True)
    want = model(x)
    gw = torch.autograd.grad(sum(w.sum() for w in want), x)[0]
    assert calls == []
    with pt.patch():
        assert all(getattr(F, n) is getattr(ours, n) for n in ours.__all__)
        got = model(x)
        gg = torch.autograd.grad(sum(w.sum() for w in got), x)[0]
    assert calls == ["_avg_pool", "_max_pool", "_max_pool", "_adaptive_avg_pool"]
    assert all(torch.equal(a, b) for a, b in zip(got, want)) and torch.equal(gg, gw)
    assert all(getattr(F, n) is original[n] for n in ours.__all__)   # restored


def test_patch_nests_across_threads_and_decorates():
    import threading
    import torch.nn.functional as F
    original = F.max_pool2d
    entered, leave = threading.Event(), threading.Event()

    def other():
        with pt.patch():
            entered.set()
            leave.wait(10)

    with pt.patch():
        with pt.patch():
            assert F.max_pool2d is pt.max_pool2d
        assert F.max_pool2d is pt.max_pool2d   # the inner exit keeps the outer's
        t = threading.Thread(target=other)
        t.start()
        entered.wait(10)
    assert F.max_pool2d is pt.max_pool2d       # the other thread's is still active
    leave.set()
    t.join()
    assert F.max_pool2d is original

    @pt.patch()
    def pooled(x):
        return F.max_pool2d(x, 2), F.max_pool2d is pt.max_pool2d
    y, patched = pooled(torch.randn(1, 1, 4, 4))
    assert patched and F.max_pool2d is original
    # under patch, tensors pooling does not serve still reach PyTorch's own
    with pt.patch():
        b = torch.randn(1, 2, 4, 4, dtype=torch.bfloat16)
        assert torch.equal(F.max_pool2d(b, 2), original(b, 2))
        assert torch.equal(F.adaptive_avg_pool2d(b.float(), 1),
                           pt.functional._ORIGINAL["adaptive_avg_pool2d"](b.float(), 1))


# ---- second-order gradients (issue #26, item 3) --------------------------------

_SECOND = [
    ("max_pool2d", lambda M, x: M.max_pool2d(x, 3, 2, 1)),
    ("max_pool1d", lambda M, x: M.max_pool1d(x.flatten(2), 3, 2)),
    ("max_pool3d", lambda M, x: M.max_pool3d(x.unsqueeze(2), (1, 2, 2))),
    ("max_pool2d indices", lambda M, x: M.max_pool2d(x, 2, return_indices=True)[0]),
    ("adaptive_max_pool2d", lambda M, x: M.adaptive_max_pool2d(x, 3)),
    ("fractional_max_pool2d", lambda M, x: M.fractional_max_pool2d(
        x, 2, output_size=3, _random_samples=torch.full((2, 3, 2), 0.3, dtype=x.dtype))),
    ("avg_pool2d", lambda M, x: M.avg_pool2d(x, 3, 2, 1, ceil_mode=True)),
    ("avg_pool2d divisor", lambda M, x: M.avg_pool2d(x, 2, divisor_override=3)),
    ("avg_pool3d", lambda M, x: M.avg_pool3d(x.unsqueeze(2), (1, 3, 3), 1, (0, 1, 1))),
    ("adaptive_avg_pool2d", lambda M, x: M.adaptive_avg_pool2d(x, 4)),
    ("max_unpool2d", lambda M, x: M.max_unpool2d(x, _UNPOOL_INDICES, 2)),
]
_UNPOOL_INDICES = torch.nn.functional.max_pool2d(
    torch.randn(2, 3, 14, 14, generator=torch.Generator().manual_seed(4)), 2,
    return_indices=True)[1]


@pytest.mark.parametrize("name,call", _SECOND, ids=[n for n, _ in _SECOND])
@pytest.mark.parametrize("last", [False, True])
def test_second_order_gradients_are_pytorchs(name, call, last):
    # Gradient penalties, MAML, Hessian-vector products: a gradient taken
    # with create_graph=True, then differentiated again (through the
    # backward operators' own formulas), bit for bit against PyTorch.
    rng = torch.Generator().manual_seed(1)
    x0 = torch.randn(2, 3, 7, 7, generator=rng)
    if last:
        x0 = x0.contiguous(memory_format=torch.channels_last)
    results = []
    for M in (torch.nn.functional, pt):
        x = x0.detach().clone(memory_format=torch.preserve_format).requires_grad_()
        y = call(M, x)
        r = torch.randn(y.shape, generator=torch.Generator().manual_seed(2)).requires_grad_()
        (gx,) = torch.autograd.grad(y, x, grad_outputs=r, create_graph=True)
        v = torch.randn(gx.shape, generator=torch.Generator().manual_seed(3))
        (gr,) = torch.autograd.grad(gx, r, grad_outputs=v)
        results.append((gx.detach(), gr))
    (tgx, tgr), (ogx, ogr) = results
    assert torch.equal(ogx, tgx) and torch.equal(ogr, tgr)


@pytest.mark.parametrize("name,call", _SECOND, ids=[n for n, _ in _SECOND])
def test_gradgradcheck(name, call):
    x = torch.randn(2, 3, 7, 7, dtype=torch.float64)
    x = (x + torch.arange(x.numel(), dtype=torch.float64).reshape(x.shape) * 1e-3)  # no ties
    x.requires_grad_()
    assert torch.autograd.gradgradcheck(lambda t: call(pt, t), (x,))


# ---- torch.func and forward-mode AD (issue #26, item 4) -------------------------

_FUNC_CASES = [c for c in _SECOND if c[0] != "fractional_max_pool2d"] + [
    ("lp_pool2d", lambda M, x: M.lp_pool2d(x, 2, 2)),
]


@pytest.mark.parametrize("name,call", _FUNC_CASES, ids=[n for n, _ in _FUNC_CASES])
def test_torch_func_and_forward_ad_are_pytorchs(name, call):
    # The operators have no batching rules or forward derivatives: under a
    # transform (or a dual level) the functionals hand the call to PyTorch's
    # own functions, so the results are PyTorch's (they returned no tangent,
    # or raised, before).
    from torch.autograd import forward_ad as fwAD
    from torch.func import grad, jacrev, jvp, vmap
    x = torch.randn(2, 3, 7, 7, generator=torch.Generator().manual_seed(5))
    t = torch.randn(x.shape, generator=torch.Generator().manual_seed(6))
    F = torch.nn.functional
    for M in (pt,):
        def loss(a, M=M):
            return (call(M, a) ** 2).sum()
        assert torch.equal(grad(loss)(x), grad(lambda a: (call(F, a) ** 2).sum())(x))
        assert torch.equal(jacrev(lambda a: call(M, a))(x), jacrev(lambda a: call(F, a))(x))
        assert torch.equal(jvp(lambda a: call(M, a), (x,), (t,))[1],
                           jvp(lambda a: call(F, a), (x,), (t,))[1])
        # vmap over a batch dimension in the middle; per-sample gradients
        xs = torch.stack([x, x.flip(-1)], 1)
        assert torch.equal(vmap(lambda a: call(M, a), in_dims=1)(xs),
                           vmap(lambda a: call(F, a), in_dims=1)(xs))
        assert torch.equal(vmap(grad(loss), in_dims=1)(xs),
                           vmap(grad(lambda a: (call(F, a) ** 2).sum()), in_dims=1)(xs))
        with fwAD.dual_level():
            ours = fwAD.unpack_dual(call(M, fwAD.make_dual(x, t))).tangent
            theirs = fwAD.unpack_dual(call(F, fwAD.make_dual(x, t))).tangent
        assert ours is not None and torch.equal(ours, theirs)


def test_fx_symbolic_trace_keeps_pooling():
    # FX traced through the converted modules' forward and recorded the
    # PyTorch functions their fallbacks hand a proxy to: the traced model
    # then pooled with PyTorch's kernels, silently.
    model = pt.convert(torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.MaxPool2d(2), torch.nn.AvgPool2d(2, ceil_mode=True),
        torch.nn.AdaptiveMaxPool2d(2), torch.nn.LPPool2d(2, 2), torch.nn.AdaptiveAvgPool2d(1)))
    traced = torch.fx.symbolic_trace(model)
    targets = [n.target for n in traced.graph.nodes if n.op == "call_function"]
    assert [t.__module__ for t in targets] == ["pooling.layers.torch.functional"] * 5, targets
    x = torch.randn(2, 3, 22, 22)
    assert torch.equal(traced(x), model(x))


def _pytorch_test_data(name):
    """torch.testing._internal.<name> (PyTorch's test data, in the wheel),
    imported without its side effect on this suite: its common_utils loads
    PyTorch's own hypothesis profile ("dev": 10 examples, health checks
    ours suppress), which would replace ours for every later test."""
    import importlib
    profile = settings.get_current_profile_name()
    try:
        return importlib.import_module(f"torch.testing._internal.{name}")
    finally:
        settings.load_profile(profile)


def test_importing_pytorchs_test_data_keeps_our_hypothesis_profile():
    pytest.importorskip("expecttest")
    before = settings.get_current_profile_name()
    _pytorch_test_data("common_utils")
    assert settings.get_current_profile_name() == before != "dev"
    assert settings.default.max_examples >= 20


def test_pytorchs_own_error_inputs():
    # PyTorch's OpInfo error inputs (torch.testing._internal, shipped in the
    # wheel) for every pooling functional: each raises an instance of the
    # class PyTorch raises, except inputs with zero channels, which pooling
    # serves with an empty result (docs/pytorch-differences.md, "C = 0").
    pytest.importorskip("expecttest")   # torch.testing._internal imports it
    op_db = _pytorch_test_data("common_methods_invocations").op_db
    names = {f"nn.functional.{n}" for n in pt.functional.__all__}
    raised = served = 0
    for op in op_db:
        if op.name not in names or op.error_inputs_func is None:
            continue
        fn, nd = getattr(pt, op.name.split(".")[-1]), int(op.name[-2])
        for ei in op.error_inputs(torch.device("cpu")):
            s = ei.sample_input
            x = s.input
            if x.dim() in (nd + 1, nd + 2) and x.shape[x.dim() - nd - 1] == 0:
                try:
                    y = fn(x, *s.args, **s.kwargs)
                except ei.error_type:   # refused for another argument
                    raised += 1
                else:
                    assert (y[0] if isinstance(y, tuple) else y).numel() == 0
                    served += 1
                continue
            with pytest.raises(ei.error_type):
                fn(x, *s.args, **s.kwargs)
            raised += 1
    assert raised >= 60 and served <= 3, (raised, served)


def _opinfos():
    """PyTorch's OpInfos for this module's functionals (op_db, shipped in the
    wheel), as (id, OpInfo); empty without expecttest."""
    try:
        op_db = _pytorch_test_data("common_methods_invocations").op_db
    except ImportError:   # (torch.testing._internal imports expecttest)
        return []
    names = {f"nn.functional.{n}" for n in pt.functional.__all__}
    return [(f"{o.name[14:]}{'-' + o.variant_test_name if o.variant_test_name else ''}", o)
            for o in op_db if o.name in names]


_OPINFOS = _opinfos()


@pytest.fixture
def one_torch_thread():
    """PyTorch's operators on one thread: thousands of tiny calls, whose
    OpenMP team would spin against the other pytest-xdist worker's (2.5x
    slower on two cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("op", [o for _, o in _OPINFOS], ids=[i for i, _ in _OPINFOS])
def test_pytorchs_own_sample_inputs(one_torch_thread, op):
    """Every OpInfo sample input of every float dtype PyTorch's CPU operator
    takes, and every third of each integer dtype's (the same grid; op_db:
    its shapes, windows, layouts, unbatched and empty inputs):
    values, indices and layout equal to PyTorch's function's, and, where the
    sample asks for a gradient, the input gradient bit for bit.  Fractional
    pooling draws its samples with the seed OpInfo's wrapper sets (42);
    given samples outside [0, 1) it refuses, as documented
    (docs/pytorch-differences.md: windows that may leave the input)."""
    fn = getattr(pt.functional, op.name.split(".")[-1])
    count = 0
    for dtype in sorted(op.supported_dtypes("cpu"), key=str):
        grad = dtype.is_floating_point and op.supports_autograd
        samples = list(op.sample_inputs("cpu", dtype, requires_grad=grad))
        if not dtype.is_floating_point:
            samples = samples[::3]   # (the float dtypes' grid again: a third, for CI's time)
        for s in samples:
            u = s.kwargs.get("_random_samples")
            if u is not None and dtype in (torch.float16, torch.float32, torch.float64) and \
                    not bool(((u >= 0) & (u < 1)).all()):
                with pytest.raises(ValueError, match="must lie in"):
                    fn(s.input, *s.args, **s.kwargs)
                count += 1
                continue
            results = []
            for f in (fn, op.op):
                x = s.input.detach().clone(memory_format=torch.preserve_format)
                x.requires_grad_(s.input.requires_grad)
                torch.manual_seed(42)
                y = f(x, *s.args, **s.kwargs)
                ys = y if isinstance(y, tuple) else (y,)
                g = None
                if x.requires_grad and ys[0].requires_grad:
                    v = torch.linspace(-1, 1, ys[0].numel()).reshape(ys[0].shape).to(dtype)
                    (g,) = torch.autograd.grad(ys[0], x, v)
                results.append((ys, g))
            (ya, ga), (yb, gb) = results
            for u, v in zip(ya, yb):
                _same(u.detach(), v.detach())
                _same_layout(u, v, op.name[-2:-1] == "3" and 3 or 2)
            assert (ga is None) == (gb is None)
            if ga is not None:
                _same(ga, gb)
            count += 1
    assert count >= 9, count


def _moduleinfos():
    try:
        module_db = _pytorch_test_data("common_modules").module_db
    except ImportError:
        return []
    return [m for m in module_db if hasattr(pt, m.module_cls.__name__)
            and m.module_cls.__module__.startswith("torch.nn.modules.pooling")]


_MODULEINFOS = _moduleinfos()


@pytest.mark.parametrize("info", _MODULEINFOS, ids=[m.module_cls.__name__ for m in _MODULEINFOS])
def test_pytorchs_own_module_inputs(one_torch_thread, info):
    """Every ModuleInfo input (module_db) of every pooling module, float32
    and float64, training and eval, contiguous and, for 4-D/5-D inputs,
    channels-last memory (ModuleInfo's memory-format cases): pooling's module
    of the same constructor arguments gives PyTorch's module's output,
    layout and input gradient bit for bit (fractional samples of another
    dtype, which pooling converts, given to PyTorch converted)."""
    count = 0
    for dtype in (torch.float32, torch.float64):
        for training in (True, False):
            inputs = info.module_inputs_func(info, device="cpu", dtype=dtype, requires_grad=True,
                                             training=training)
            for mi in inputs:
                ctor, fwd = mi.constructor_input, mi.forward_input
                kw = dict(ctor.kwargs)
                if "_random_samples" in kw:
                    # PyTorch requires samples of the input's dtype; pooling
                    # converts them (docs/pytorch-differences.md)
                    kw["_random_samples"] = kw["_random_samples"].to(dtype)
                theirs = info.module_cls(*ctor.args, **kw).train(training)
                ours = getattr(pt, info.module_cls.__name__)(*ctor.args, **ctor.kwargs)
                ours.train(training)
                x0 = fwd.args[0]
                formats = [torch.contiguous_format]
                if x0.dim() in (4, 5):
                    formats.append(CL[x0.dim() - 2])
                for fmt in formats:
                    results = []
                    for m in (ours, theirs):
                        x = x0.detach().contiguous(memory_format=fmt).requires_grad_()
                        torch.manual_seed(42)
                        y = m(x, *fwd.args[1:], **fwd.kwargs)
                        ys = y if isinstance(y, tuple) else (y,)
                        v = torch.linspace(-1, 1, ys[0].numel()).reshape(ys[0].shape).to(dtype)
                        (g,) = torch.autograd.grad(ys[0], x, v)
                        results.append((ys, g))
                    (ya, ga), (yb, gb) = results
                    for u, w in zip(ya, yb):
                        _same(u.detach(), w.detach())
                        _same_layout(u, w, x0.dim() - 2)
                    _same(ga, gb)
                    _same_layout(ga, gb, x0.dim() - 2)
                    count += 1
    assert count >= 8, count


# ------------------------------------------------- small calls, eager autograd

_ASIDE_CALLS = {"max": lambda f, x: f.max_pool2d(x, 3, 2, 1),
                "avg": lambda f, x: f.avg_pool2d(x, 2),
                "adaptive_max": lambda f, x: f.adaptive_max_pool2d(x, 4),
                "adaptive_avg": lambda f, x: f.adaptive_avg_pool2d(x, 3)}


@pytest.mark.parametrize("kind", sorted(_ASIDE_CALLS))
@pytest.mark.parametrize("grad", [False, True])
def test_small_calls_step_aside(monkeypatch, kind, grad):
    """With the default STEP_ASIDE (the suite sets 0), a float call on fewer
    elements than its limit goes to PyTorch's own function, one on as many
    to the kernels; both give PyTorch's bits (values, gradients).  Integer
    and empty inputs and graphs never step aside."""
    from pooling.layers.torch import functional as TF
    monkeypatch.setattr(TF, "STEP_ASIDE", dict(TF.STEP_ASIDE_DEFAULT))
    name = {"max": "max_pool2d", "avg": "avg_pool2d", "adaptive_max": "adaptive_max_pool2d",
            "adaptive_avg": "adaptive_avg_pool2d"}[kind]
    calls = []
    original = TF._ORIGINAL[name]
    monkeypatch.setitem(TF._ORIGINAL, name,
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    limit = TF.STEP_ASIDE_DEFAULT[kind][grad]
    call = _ASIDE_CALLS[kind]
    for shape, aside in [((1, 4, 16, limit // 128), True), ((1, 4, 16, limit // 64), False)]:
        assert (math.prod(shape) < limit) == aside
        x = _x(shape, torch.float32)
        calls.clear()
        _check(lambda t: call(pt.functional, t), lambda t: call(F, t), x, 2, grad=grad)
        # (_check calls each function twice when grad: forward, then autograd)
        assert bool(calls) == aside, (kind, grad, shape)
    if kind in ("max", "adaptive_max"):
        calls.clear()
        call(pt.functional, _x((1, 4, 8, 8), torch.int64))
        assert not calls
    calls.clear()
    call(pt.functional, torch.zeros(0, 4, 8, 8))
    assert not calls


def test_step_aside_off_by_environment():
    """POOLING_TORCH_STEP_ASIDE=0 (set by conftest for the suite) sends every
    call to the kernels."""
    from pooling.layers.torch import functional as TF
    assert all(v == (0, 0) for v in TF.STEP_ASIDE.values())
    assert set(TF.STEP_ASIDE) == set(TF.STEP_ASIDE_DEFAULT)


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided", "unbatched"])
@pytest.mark.parametrize("op", ["max", "max_indices", "avg", "adaptive_max", "adaptive_avg",
                                "fractional", "unpool"])
@pytest.mark.parametrize("path", ["eager", "operators"])
def test_eager_autograd_equals_the_operators(monkeypatch, path, op, layout):
    """The eager autograd Functions (_eager, the path eager calls take) and
    the registered operators' autograd (the path of graphs, forced here)
    each give PyTorch's values and first- and second-order gradients."""
    from pooling.layers.torch import functional as TF
    if path == "operators":
        monkeypatch.setattr(TF, "_route", lambda x: TF._ops_ns)
    x0 = _layouts(_x((2, 3, 9, 8), torch.float64, nan=False), 2)[layout]
    samples = torch.rand(2, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    if layout == "unbatched":
        samples = samples[:1]

    def run(f, x):
        if op == "max":
            return f.max_pool2d(x, 3, 2, 1)
        if op == "max_indices":
            return f.max_pool2d(x, (2, 3), 2, 1, return_indices=True)[0]
        if op == "avg":
            return f.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
        if op == "adaptive_max":
            return f.adaptive_max_pool2d(x, (4, 3))
        if op == "adaptive_avg":
            return f.adaptive_avg_pool2d(x, (4, 3))
        if op == "fractional":
            return f.fractional_max_pool2d(x, 2, output_size=(4, 3), _random_samples=samples)
        y, i = f.max_pool2d(x, 2, return_indices=True)
        return f.max_unpool2d(y * 2, i, 2, output_size=x.shape[-2:])

    results = []
    for f in (pt.functional, F):
        x = x0.detach().clone(memory_format=torch.preserve_format).requires_grad_()
        y = run(f, x)
        v = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape).requires_grad_()
        (g,) = torch.autograd.grad(y, x, v, create_graph=True)
        w = torch.linspace(2, -1, g.numel(), dtype=g.dtype).reshape(g.shape)
        (gg,) = torch.autograd.grad((g * w).sum(), v)   # (second order: g is linear in v)
        results.append((y, g, gg))
    for a, b in zip(*results):
        _same(a.detach(), b.detach())
        _same_layout(a, b, 2)

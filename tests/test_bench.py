"""The benchmark runs and reports what it promises (no timing assertions)."""
import importlib
import importlib.util
import io
import json
import multiprocessing
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import pooling
from pooling import bench
from pooling.bench.cases import largest
from pooling.bench.measure import thread_scaling
from strategies import subprocess_env


def _imports(name):
    """Whether ``name`` imports, as the benchmark decides (the ASan run hides
    torch behind a module that raises ImportError, which find_spec still
    finds)."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def _has_torch():
    return _imports("torch")


def _run(args, cwd):
    """python args in a fresh interpreter that imports this pooling."""
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=subprocess_env(),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """`python -m pooling.bench --tiny --threads 1 --json PATH`: its output
    and the JSON it wrote (one run, shared by the tests that read it)."""
    tmp = tmp_path_factory.mktemp("bench")
    path = tmp / "bench.json"
    out = _run(["-m", "pooling.bench", "--tiny", "--threads", "1", "--json", str(path)],
               tmp).stdout
    return out, json.loads(path.read_text())


@pytest.fixture
def keep_threads():
    """Pooling's thread count is restored."""
    before = pooling.get_num_threads()
    yield
    pooling.set_num_threads(before)


def test_bench_tiny_writes_json(tiny_run):
    out, data = tiny_run
    assert "copy bandwidth" in out and "targets:" in out
    ops = {(r["case"], r["op"]) for r in data["rows"]}
    assert len(ops) == len(bench.TINY_CASES) * len(bench.OPS)
    for row in data["rows"]:
        assert row["ms"]["ours"] > 0 and row["gbps"] > 0
        assert {"ours", "reference", "im2col"} <= set(row["ms"])
        assert row["floor_ms"] > 0 and row["input_mb"] > 0
    assert len(data["linear_cost"]) == 3 and data["copy_gbps"] > 0
    assert len(data["other_ops"]) == 29 and all(o["ours_ms"] > 0 for o in data["other_ops"])
    # --tiny scales its largest case
    assert ({(s["case"], s["op"]) for s in data["thread_scaling"]}
            == {(bench.TINY_CASES[0][0], op) for op in bench.OPS})
    assert all(s["ms_1"] > 0 and s["ms_n"] > 0 for s in data["thread_scaling"])
    # every row that times one of our calls has its floor (the framework
    # layers' section has rows only where a framework is installed)
    frameworks = any(_imports(m) for m in ("tinyml", "torch"))
    for section in ("thread_scaling", "linear_cost", "other_ops", "large_inputs", "tiny_calls",
                    "out", "adapters"):
        assert data[section] or (section == "adapters" and not frameworks), section
        assert all(r["floor_ms"] > 0 for r in data[section]), section


def test_bench_out_section(tiny_run):
    """out=: the forward and the backward, each with a fresh output and a
    preallocated one, side by side."""
    out, data = tiny_run
    assert [r["case"] for r in data["out"]] == [
        "max_pool2d (2, 3, 16, 16) 2x2/s2", "max_pool2d_backward (2, 3, 16, 16) 2x2/s2"]
    for r in data["out"]:
        assert r["fresh_ms"] > 0 and r["out_ms"] > 0
        assert r["ratio"] == r["fresh_ms"] / r["out_ms"]
        assert f"  {r['case']} " in out


def test_bench_forward_int64_row(tiny_run):
    """The main table has a row for max_pool2d(return_indices=True) besides
    the layer's rows, and torch's side of both is the same measurement."""
    _, data = tiny_run
    assert bench.OPS == ("forward", "forward+int64", "layer forward", "layer backward")
    by = {(r["case"], r["op"]): r for r in data["rows"]}
    for name, *_ in bench.TINY_CASES:
        int64, layer = by[(name, "forward+int64")], by[(name, "layer forward")]
        assert int64["ms"]["ours"] > 0 and int64["peak_mb"]["ours"] > 0
        assert int64["ms"].get("torch") == layer["ms"].get("torch")
        assert int64["ms"]["reference"] == layer["ms"]["reference"]


def test_bench_new_sections(tiny_run):
    """The tiny-call and large-input sections: ours, torch's (when
    importable) and the floor, printed and in the JSON."""
    out, data = tiny_run
    has_torch = _has_torch()
    tiny = data["tiny_calls"]
    assert [r["case"] for r in tiny] == [
        "max_pool2d (1, 1, 4, 4) k2", "max_pool2d (1, 1, 4, 4) k2 +indices",
        "max_pool2d (1, 16, 8, 8) k2", "max_pool2d (1, 16, 8, 8) k2 +indices",
        "MaxPool2D(2).forward (1, 16, 8, 8)"] + ([
        "torch adapter max_pool2d (1, 16, 8, 8) k2",
        "torch.ops.pooling.max_pool (1, 16, 8, 8) k2 (dispatcher)",
        "torch adapter MaxPool2d(2) (1, 16, 8, 8) requires_grad"] if has_torch else [])
    large = data["large_inputs"]
    assert len(large) == 5 and [r["case"].split()[0] for r in large] == (
        ["NHWC"] * 2 + ["adaptive_max_pool2d"] * 3)
    for r in tiny + large:
        assert r["ours_ms"] > 0 and r["floor_ms"] > 0 and r["input_mb"] > 0
        assert (r.get("torch_ms", 0) > 0) == has_torch
        assert f"  {r['case']} " in out
    lines = out.splitlines()
    assert " x floor " in lines[lines.index(next(x for x in lines if x.startswith("case ")))]
    tiny_head = next(x for x in lines if x.startswith("tiny calls"))
    assert "us per call" in tiny_head


def test_bench_target_lines_for_what_ran(tiny_run):
    """Issue #11's targets: a line for each measurement that ran."""
    _, data = tiny_run
    lines = data["summary"]
    if not _has_torch():
        pytest.skip("the targets compare with torch")

    def starting(text):
        return [line for line in lines if line.startswith(text)]
    assert len(starting("tiny call ")) == 8  # 3 of them pooling.layers.torch
    assert all("torch/ours" in line and "(target >= 1: ours <= torch)" in line
               for line in starting("tiny call "))
    for what, target in (("forward (values only)", 10), ("forward with int64 indices", 6),
                         ("layer backward", 3)):
        assert starting(f"{what} vs torch, geometric mean over {len(bench.TINY_CASES)} cases: "
                        ) and starting(what)[0].endswith(f"(target >= {target}x)")
    assert len(starting("large input, ")) == 5     # the section's rows; the main table's
    assert all("(target <= 2x)" in line and "(target >= 3x)" in line       # are tiny
               for line in starting("large input, "))
    assert len(starting("other operations >= 2x torch: ")) == 1


def test_bench_prints_every_section(tiny_run):
    out, data = tiny_run
    frameworks = [m for m in ("tinyml", "torch") if _imports(m)]
    heads = ["pooling ", "case ", "copy bandwidth", "thread scaling (ours):",
             "linear cost (ours", "other operations", "large inputs", "tiny calls",
             "out= (", "framework layers", "dask", "models (", "peers (", "training (", "jax",
             "contention (", "targets:"]
    if not frameworks:
        heads.remove("framework layers")
    if "torch" not in frameworks:
        heads.remove("models (")
    found = [next((i for i, line in enumerate(out.splitlines()) if line.startswith(h)), None)
             for h in heads]
    assert None not in found and found == sorted(found), dict(zip(heads, found))
    assert set(data) == {"version", "threads", "copy_gbps", "rows", "thread_scaling",
                         "linear_cost", "other_ops", "large_inputs", "tiny_calls", "out",
                         "adapters", "dask", "models", "peers", "training", "jax", "contention",
                         "load", "summary"}
    assert data["threads"] == 1
    assert ({a["case"].split()[0] for a in data["adapters"]} == set(frameworks)
            and all(a["ours_ms"] > 0 and a["theirs_ms"] > 0 for a in data["adapters"]))
    # the thread target names the large cases: none for the tiny ones
    assert not [line for line in data["summary"] if line.startswith("threads: ")]
    assert [line for line in data["summary"] if line.startswith("linear cost: ")]


def test_bench_models_section(tiny_run):
    """The models section at --tiny: both networks at both sizes, one thread
    and two (two even at --threads 1), forward and forward+backward, each
    printed, and issue #13's end-to-end line for VGG-11."""
    if not _has_torch():
        pytest.skip("the models section needs torch")
    from pooling.bench.models import MODES, NETS, TINY_SIZES
    out, data = tiny_run
    rows = data["models"]
    assert [(r["net"], r["batch"], r["size"], r["threads"], r["mode"]) for r in rows] == [
        (net, b, hw, n, mode) for net, _ in NETS for b, hw in TINY_SIZES[net] for n in (1, 2)
        for mode in MODES]
    for r in rows:
        assert r["unconverted_ms"] > 0 and r["converted_ms"] > 0 and r["pooling_ms"] > 0
        assert r["speedup"] == r["unconverted_ms"] / r["converted_ms"]
        assert r["pooling_share"] == r["pooling_ms"] / r["unconverted_ms"]
        # ResNet-18: the stem's max pooling and the global average; VGG-11:
        # five max poolings and the 7x7 average
        assert r["pooling_modules"] == {"ResNet-18": 2, "VGG-11": 6}[r["net"]]
        assert r["repeats"] == 1
    section = out.split("\nmodels (ms per run")[1].split("\ntargets:")[0]
    printed = [line for line in section.splitlines()
               if line.startswith(("  ResNet-18 ", "  VGG-11 "))]
    assert len(printed) == len(rows)
    assert all(" unconverted " in line and " converted " in line and "(bound x" in line
               for line in printed)
    vgg = next(r for r in rows if r["net"] == "VGG-11" and r["batch"] == 2 and r["threads"] == 1
               and r["mode"] == "forward+backward")
    assert [line for line in data["summary"] if line.startswith("VGG-11 ")] == [
        f"VGG-11 converted vs unconverted, batch 2 32x32, one thread, forward+backward: "
        f"{vgg['speedup']:.3f}x (target > 1x); pooling share of unconverted: "
        f"{100 * vgg['pooling_share']:.1f}% (bound: at most "
        f"{1 / (1 - vgg['pooling_share']):.3f}x speed-up)"]


def test_models_target_line():
    """The end-to-end line: VGG-11, one thread, forward+backward, the
    largest batch; no line without such a row."""
    from pooling.bench.report import summary

    def row(net, batch, threads, mode, theirs=10.0, ours=8.0, pool=2.5):
        return {"net": net, "batch": batch, "size": 224, "threads": threads, "mode": mode,
                "unconverted_ms": theirs, "converted_ms": ours, "speedup": theirs / ours,
                "pooling_ms": pool, "pooling_share": pool / theirs, "pooling_modules": 6,
                "repeats": 7}
    models = [row("ResNet-18", 32, 1, "forward+backward"), row("VGG-11", 1, 1, "forward+backward"),
              row("VGG-11", 32, 2, "forward+backward"), row("VGG-11", 32, 1, "forward"),
              row("VGG-11", 32, 1, "forward+backward", 20.0, 16.0, 5.0)]
    assert summary([], [], [], 1.0, models=models) == [
        "VGG-11 converted vs unconverted, batch 32 224x224, one thread, forward+backward: "
        "1.250x (target > 1x); pooling share of unconverted: 25.0% (bound: at most 1.333x "
        "speed-up)"]
    assert summary([], [], [], 1.0, models=models[:1] + models[2:4]) == []


def test_sections_pick_what_runs(tmp_path):
    """--sections runs those sections only, --skip all but those; the JSON
    keeps every key, empty for what did not run."""
    path = tmp_path / "b.json"
    out = _run(["-m", "pooling.bench", "--tiny", "--threads", "1", "--sections", "tiny,out",
                "--json", str(path)], tmp_path).stdout
    data = json.loads(path.read_text())
    ran = {k for k in ("rows", "thread_scaling", "linear_cost", "other_ops", "large_inputs",
                       "tiny_calls", "out", "adapters", "models") if data[k]}
    assert ran == {"tiny_calls", "out"}
    assert "\ntiny calls" in out and "\nout= (" in out and "\ntargets:" in out
    assert "\ncase " not in out and "\nmodels" not in out and "\nother operations" not in out
    skip = ",".join(n for n in bench.SECTIONS if n != "linear")
    out = _run(["-m", "pooling.bench", "--tiny", "--threads", "1", "--skip", skip,
                "--json", str(path)], tmp_path).stdout
    data = json.loads(path.read_text())
    assert len(data["linear_cost"]) == 3 and not data["tiny_calls"] and not data["models"]
    assert "\nlinear cost (ours" in out and "\ntiny calls" not in out


def test_sections_bad_names(capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--sections", "tiny,mian"])
    assert e.value.code == 2
    assert "unknown section(s) mian; choose from main, scaling," in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--sections", "tiny", "--skip", "out"])
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"bench\(\): unknown sections \['mian'\]; expected"):
        bench.bench(sections=["tiny", "mian"])


def test_interleaved_ms_takes_turns():
    """Three warm-up calls each (the fastest sets the loop count), then every
    repeat calls each once, the order reversed every other repeat; a call
    shorter than min_seconds is looped."""
    from pooling.bench.timing import interleaved_ms
    calls = []
    ms = interleaved_ms([lambda: calls.append("a"), lambda: calls.append("b")], 3,
                        min_seconds=0)
    assert "".join(calls) == "aaa" + "bbb" + "ab" + "ba" + "ab"
    assert len(ms) == 2 and all(v >= 0 for v in ms)
    calls.clear()
    interleaved_ms([lambda: calls.append("a")], 2, min_seconds=0.01)
    assert len(calls) > 3
    # before: each fn's own, untimed, before its warm-up and each of its repeats
    calls.clear()
    interleaved_ms([lambda: calls.append("a"), lambda: calls.append("b")], 2, min_seconds=0,
                   before=[lambda: calls.append("1"), lambda: calls.append("2")])
    assert "".join(calls) == "1aaa2bbb" + "1a2b" + "2b1a"


def test_alternating_ms_runs_for_its_seconds():
    """At least min_runs turns, more while `seconds` last, each fn's runs
    looped to run_seconds; median, mean and the count of runs each."""
    import time

    from pooling.bench.timing import alternating_ms
    calls = []
    out = alternating_ms([lambda: calls.append("a"), lambda: calls.append("b")], 0,
                         run_seconds=0, min_runs=3,
                         before=[lambda: calls.append("1"), lambda: calls.append("2")])
    assert "".join(calls) == "1aaa2bbb" + "1a2b" + "2b1a" + "1a2b"
    assert [n for _, _, n in out] == [3, 3]
    assert all(med >= 0 and mean >= 0 for med, mean, _ in out)
    t0 = time.perf_counter()
    out = alternating_ms([lambda: time.sleep(0.001)], 0.05, run_seconds=0.0025, min_runs=1)
    assert time.perf_counter() - t0 >= 0.05
    med, mean, n = out[0]
    # three calls of a 1 ms sleep per run: each call's time, not the run's
    assert 1 <= n <= 17 and 1 <= med < 2.5 and mean >= 1


def test_nets_are_torchvisions():
    """ResNet-18 and VGG-11-BN as torchvision builds them: its parameter
    counts, names, pooling layers and initialisation; the same seed gives
    the same weights."""
    torch = pytest.importorskip("torch")
    from torch import nn

    from pooling.bench import nets
    torch.manual_seed(0)
    r, v = nets.resnet18(), nets.vgg11_bn()
    # torchvision's model table: 11,689,512 and 132,868,840 parameters
    assert sum(p.numel() for p in r.parameters()) == 11_689_512
    assert sum(p.numel() for p in v.parameters()) == 132_868_840
    rs, vs = r.state_dict(), v.state_dict()
    assert rs["layer2.0.downsample.0.weight"].shape == (128, 64, 1, 1)
    assert rs["layer4.1.bn2.running_var"].shape == (512,) and rs["fc.weight"].shape == (1000, 512)
    assert vs["features.25.weight"].shape == (512, 512, 3, 3)
    assert vs["classifier.6.weight"].shape == (1000, 4096) and len(vs) == 62 and len(rs) == 122
    assert repr(r.maxpool) == "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, " \
                              "ceil_mode=False)"
    assert r.avgpool.output_size == (1, 1) and v.avgpool.output_size == (7, 7)
    pools = [m for m in v.features if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 5 and all((m.kernel_size, m.stride) == (2, 2) for m in pools)
    for model in (r, v):
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                assert bool((m.weight == 1).all() and (m.bias == 0).all())
            if isinstance(m, nn.Conv2d):   # kaiming_normal_, fan_out
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                assert abs(m.weight.std().item() / (2 / fan_out) ** 0.5 - 1) < 0.15
                assert m.bias is None if model is r else bool((m.bias == 0).all())
    linears = [m for m in v.modules() if isinstance(m, nn.Linear)]
    assert all(abs(m.weight.std().item() / 0.01 - 1) < 0.05 and bool((m.bias == 0).all())
               for m in linears)
    torch.manual_seed(0)
    again = nets.resnet18()
    assert all(torch.equal(a, b) for a, b in zip(rs.values(), again.state_dict().values()))
    x = torch.randn(2, 3, 64, 64)
    assert nets.resnet18(10)(x).shape == (2, 10) and v(x).shape == (2, 1000)


def test_bench_dask_section(tiny_run):
    """The dask section at --tiny: pooling.dask chunked, in memory,
    dask.array.coarsen and (with scikit-image) block_reduce, each printed,
    and issue #14's two target lines; "skipped" without dask."""
    out, data = tiny_run
    if importlib.util.find_spec("dask") is None:
        assert data["dask"] == [] and "\ndask: skipped (dask is not installed)" in out
        return
    from pooling.bench.chunked import TINY
    (r,) = data["dask"]
    impls = ["in memory", "chunked", "coarsen"] + (
        ["block_reduce"] if importlib.util.find_spec("skimage") else [])
    assert list(r["ms"]) == impls and all(v > 0 for v in r["ms"].values())
    assert tuple(r["shape"]) == TINY[0] and tuple(r["chunks"]) == TINY[1]
    assert r["blocks"] == 2 * 2 * 3 and r["tasks"] > 0 and r["threads"] == 1
    assert all(abs(r["gbps"][k] - r["input_gb"] / r["ms"][k] * 1e3) < 1e-9 * r["gbps"][k]
               for k in impls)
    section = out.split("\ndask (pooling.dask vs")[1].split("\ntargets:")[0]
    assert "pooling.dask.max_pool3d chunked" in section and "coarsen(np.max) chunked" in section
    assert ("skimage block_reduce(np.max) in memory" in section) == ("block_reduce" in impls)
    ms = r["ms"]
    assert [line for line in data["summary"] if line.startswith("dask ")] == [
        f"dask max_pool3d 2x2x2 chunked vs in memory: {ms['chunked'] / ms['in memory']:.2f}x "
        "(target <= 1.5x)",
        f"dask max_pool3d 2x2x2 chunked vs dask.array.coarsen(np.max): "
        f"{ms['coarsen'] / ms['chunked']:.2f}x (target > 1x)"]


def test_import_leaves_dask_alone(tmp_path):
    """Importing the benchmark imports neither dask nor pooling.dask nor
    scikit-image: only running the dask section does."""
    lazy = ("dask", "pooling.dask", "skimage", "zarr", "distributed")
    out = _run(["-c", f"import sys, pooling.bench; print([m for m in {lazy!r} if m in sys.modules])"],
               tmp_path).stdout
    assert out.strip() == "[]"


def test_thread_target_only_for_the_cases_it_names():
    from pooling.bench.report import summary
    rows = [{"case": name, "op": "forward", "ms_1": 2.0, "ms_n": 1.0, "speedup": 2.0}
            for name in ("32x64x112x112 2x2/s2", "2x3x16x16 2x2/s2")]
    lines = [line for line in summary([], rows, [], 1.0) if line.startswith("threads: ")]
    assert lines == ["threads: 32x64x112x112 2x2/s2 forward: 2.00x (target >= 1.7x)"]


def test_targets_only_for_what_ran():
    """summary() on made-up rows: the large-input lines of the main table only
    for inputs of 100 MB and more, the float64 line only for float64 rows, the
    other-operations line names the rows below 2x; nothing measured, no line."""
    from pooling.bench.report import summary

    def row(case, op, mb, dtype="float32", ours=1.0, torch=20.0):
        return {"case": case, "op": op, "dtype": dtype, "input_mb": mb, "ms": {
            "ours": ours, "torch": torch}, "floor_ms": 0.8, "gbps": 1.0, "out_mb": 1.0,
            "peak_mb": {}}
    rows = [row("big", "forward", 103), row("big", "forward+int64", 103, ours=2.0),
            row("small", "forward", 10), row("small", "forward+int64", 10),
            row("f64", "forward+int64", 17, "float64", torch=5.0)]
    others = [{"case": "fast op", "ours_ms": 1.0, "torch_ms": 3.0, "floor_ms": 1.0},
              {"case": "slow op", "ours_ms": 1.0, "torch_ms": 1.5, "floor_ms": 1.0},
              {"case": "no torch", "ours_ms": 1.0, "floor_ms": 1.0}]
    lines = summary(rows, [], [], 1.0, others=others)
    assert [line for line in lines if line.startswith("large input")] == [
        "large input, forward (values only), big: 1.25x the floor (target <= 1.5x)",
        "large input, forward with int64 indices, big: 2.50x the floor (target <= 2.5x)"]
    assert [line for line in lines if line.startswith("float64")] == [
        "float64 forward with int64 indices vs torch, f64: 5.0x (target >= 4x)"]
    assert [line for line in lines if line.startswith("other operations")] == [
        "other operations >= 2x torch: 1 of 2 rows; below: slow op (target: all)"]
    assert [line for line in lines if "geometric mean over" in line] == [
        "forward (values only) vs torch, geometric mean over 2 cases: 20.0x (target >= 10x)",
        "forward with int64 indices vs torch, geometric mean over 3 cases: 10.0x (target >= 6x)"]
    tiny = [{"case": "call", "ours_ms": 0.004, "torch_ms": 0.003, "floor_ms": 0.001},
            {"case": "call without torch", "ours_ms": 0.004, "floor_ms": 0.001}]
    assert [line for line in summary([], [], [], 1.0, tiny=tiny) if "tiny" in line] == [
        "tiny call call: ours 4.00 us, torch 3.00 us, torch/ours 0.75 "
        "(target >= 1: ours <= torch)"]
    assert summary([], [], [], 1.0) == []


def test_average_family_targets():
    """Issue #12's lines: one geometric mean per family, a row counted once
    (the backward is not a forward; global average is not adaptive), the
    floor line only for large channels-first average-pooling inputs."""
    from pooling.bench.report import summary

    def op(case, ours, torch, mb=103.0, floor=1.0):
        return {"case": case, "ours_ms": ours, "torch_ms": torch, "floor_ms": floor,
                "input_mb": mb}
    others = [op("avg_pool2d (32, 64, 112, 112) 2x2/s2", 1.0, 4.0, floor=0.8),
              op("avg_pool2d (32, 64, 112, 112) 3x3/s1/p1", 1.0, 16.0),
              op("avg_pool2d_backward (32, 64, 56, 56) 3x3/s2/p1", 2.0, 12.0, mb=25),
              op("NHWC avg_pool2d (32, 112, 112, 64) 3x3/s2/p1", 1.0, 1.2),
              op("adaptive_avg_pool2d (64, 512, 7, 7) -> (1, 1)", 1.0, 0.5, mb=6),
              op("adaptive_avg_pool2d (32, 64, 112, 112) -> (7, 7)", 1.0, 3.0),
              op("adaptive_avg_pool2d_backward (32, 64, 7, 7) -> (32, 64, 112, 112)", 1.0, 2.0),
              op("lp_pool2d (32, 64, 112, 112) p=2 2x2", 1.0, 3.0),
              op("fractional_max_pool2d (32, 64, 112, 112) 3x3 -> (80, 80)", 1.0, 12.0),
              {"case": "avg_pool2d without torch", "ours_ms": 1.0, "floor_ms": 1.0,
               "input_mb": 1.0}]
    lines = [line for line in summary([], [], [], 1.0, others=others)
             if not line.startswith("other operations")]
    assert lines == [
        "average pooling backward vs torch, geometric mean over 1 cases: 6.0x (target >= 5x)",
        "average pooling forward vs torch, geometric mean over 2 cases: 8.0x (target >= 5x)",
        "channels-last average pooling vs torch, geometric mean over 1 cases: 1.2x "
        "(target >= 1.5x)",
        "global average pooling vs torch, geometric mean over 1 cases: 0.5x (target >= 1x)",
        "adaptive average pooling backward vs torch, geometric mean over 1 cases: 2.0x "
        "(target >= 3x)",
        "adaptive average pooling vs torch, geometric mean over 1 cases: 3.0x (target >= 3x)",
        "Lp pooling vs torch, geometric mean over 1 cases: 3.0x (target >= 3x)",
        "fractional max pooling vs torch, geometric mean over 1 cases: 12.0x "
        "(target >= 10x)",
        "average pooling, avg_pool2d (32, 64, 112, 112) 2x2/s2: 1.25x the floor "
        "(target <= 1.5x)",
        "average pooling, avg_pool2d (32, 64, 112, 112) 3x3/s1/p1: 1.00x the floor "
        "(target <= 1.5x)"]


def test_quick_prints_the_tiny_calls(tmp_path):
    """--quick keeps the tiny-call section; a --cases filter that matches no
    case prints no target line for the main table."""
    out = _run(["-m", "pooling.bench", "--tiny", "--quick", "--threads", "1", "--cases",
                "no such case", "--skip", "models"], tmp_path).stdout
    assert "\ntiny calls (us per call" in out
    targets = out.split("\ntargets:\n")[1]
    main_table = ("forward (values only) vs torch", "forward with int64 indices vs torch",
                  "layer backward vs torch", "layer forward (uint8 argmax)",
                  "reference vs im2col")
    assert not [line for line in targets.splitlines() if line.strip().startswith(main_table)]
    assert "vs torch, 2x3x16x16" not in targets
    if _has_torch():
        assert targets.count("  tiny call ") == 8  # 3 of them pooling.layers.torch


def test_thread_scaling_restores_the_thread_count(keep_threads):
    pooling.set_num_threads(1)
    rows = thread_scaling(2, 1, bench.TINY_CASES[:1])
    assert pooling.get_num_threads() == 1
    assert [r["op"] for r in rows] == list(bench.OPS)


def test_thread_scaling_takes_the_largest_cases():
    assert [c[0] for c in largest(bench.CASES)] == ["32x64x112x112 3x3/s2/p1",
                                                    "32x64x112x112 2x2/s2"]
    assert largest(bench.TINY_CASES) == bench.TINY_CASES[:1]
    assert [c[0] for c in largest([c for c in bench.CASES if "f64" in c[0] or "16x512" in c[0]])
            ] == ["64x32x32x32 f64 2x2/s2"]
    assert largest([]) == []


def test_import_leaves_frameworks_alone(tmp_path):
    """Importing the benchmark imports neither the frameworks nor their
    adapters: only measuring the framework rows does."""
    lazy = ("torch", "tinyml", "pooling.layers.torch", "pooling.layers.tinyml",
            "pooling.bench.nets")
    out = _run(["-c", f"import sys, pooling.bench; print([m for m in {lazy!r} if m in sys.modules])"],
               tmp_path).stdout
    assert out.strip() == "[]"


def test_im2col_baseline_is_correct():
    import numpy as np

    x = np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32)
    for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 1, 1)):
        y, cache = bench.im2col_forward(x, k, s, p)
        ry, ri = pooling.max_pool2d(x, k, s, p, return_indices=True)
        assert np.array_equal(y, ry)
        g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
        # overlapping windows sum in another order: equal up to rounding
        np.testing.assert_allclose(bench.im2col_backward(g, cache),
                                   pooling.max_pool2d_backward(g, ri, x.shape), atol=1e-5)


def test_import_leaves_matplotlib_alone(tmp_path):
    """matplotlib is imported only when --plot draws."""
    out = _run(["-c", "import sys, pooling.bench; print('matplotlib' in sys.modules)"],
               tmp_path).stdout
    assert out.strip() == "False"


def test_quick_cases_are_the_full_ones_smaller():
    """--quick: the main table's cases with the same windows, dtypes and
    order, on smaller inputs; the other sections' --quick inputs as well."""
    from pooling.bench import adapters, cases, chunked

    assert [(c[2], c[3]) for c in bench.QUICK_CASES] == [(c[2], c[3]) for c in bench.CASES]
    assert all(cases.input_bytes(q) < cases.input_bytes(c) / 4
               for q, c in zip(bench.QUICK_CASES, bench.CASES))
    assert len(cases.linear_shapes("quick")) == len(cases.linear_shapes("full"))
    for quick, full in ((cases.QUICK_OUT_SHAPES, cases.OUT_SHAPES),
                        ([s for s, _ in adapters.QUICK_SHAPES], [s for s, _ in adapters.SHAPES])):
        assert len(quick) == len(full)
        assert all(np.prod(q) < np.prod(f) for q, f in zip(quick, full))
    assert np.prod(chunked.QUICK[0]) < np.prod(chunked.FULL[0]) / 16
    assert ([n.split(" (")[0] for n, *_ in cases.other_ops_cases(None, "quick")]
            == [n.split(" (")[0] for n, *_ in cases.other_ops_cases(None, "full")])


class _Terminal(io.StringIO):
    """A standard error that says it is a terminal."""

    def isatty(self):
        return True


@pytest.mark.parametrize("terminal, quiet", [(True, False), (True, True), (False, False)])
def test_progress_lines_only_on_a_terminal(monkeypatch, capsys, keep_threads, terminal, quiet):
    """A line per case on standard error when it is a terminal, none with
    --quiet or when it is not; the tables stay on standard output."""
    err = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    args = ["--tiny", "--threads", "1", "--sections", "linear,out"] + (["--quiet"] * quiet)
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert "\nlinear cost (ours" in out and "\nout= (" in out and "] linear: " not in out
    lines = err.getvalue().splitlines()
    if terminal and not quiet:
        from pooling.bench.cases import TINY_LINEAR_SHAPES, out_cases
        want = ([f"linear: {s}" for s in TINY_LINEAR_SHAPES]
                + [f"out: {c[0]}" for c in out_cases("tiny")])
        assert [line.split("] ", 1)[1] for line in lines] == want
        assert all(re.fullmatch(r"\[ *\d+\.\d s\] .*", line) for line in lines)
    else:
        assert lines == []


@pytest.fixture(scope="module")
def plotted(tmp_path_factory):
    """`python -m pooling.bench --tiny --threads 1 --sections main,linear
    --plot b.svg --json b.json` in a fresh interpreter: its directory and
    standard error."""
    pytest.importorskip("matplotlib")
    tmp = tmp_path_factory.mktemp("plot")
    err = _run(["-m", "pooling.bench", "--tiny", "--threads", "1", "--sections", "main,linear",
                "--plot", str(tmp / "b.svg"), "--json", str(tmp / "b.json")], tmp).stderr
    return tmp, err


def test_plot_svg(plotted):
    """--plot b.svg: the speedups in b.svg, the time per element in
    b.sizes.svg, text kept as text, the command and the machine on both."""
    from pooling.bench import plot
    tmp, err = plotted
    assert err.splitlines()[-2:] == [f"wrote {tmp / 'b.svg'}", f"wrote {tmp / 'b.sizes.svg'}"]
    for name in ("b.svg", "b.sizes.svg"):
        text = (tmp / name).read_text()
        assert "<svg" in text[:1000] and text.rstrip().endswith("</svg>")
        assert "python -m pooling.bench --tiny --threads 1 --sections main,linear" in text
        assert plot.cpu_model() in text and "1 thread;" in text
    speedups = (tmp / "b.svg").read_text()
    for name, *_ in bench.TINY_CASES:
        for op in bench.OPS:
            assert f"{name} {op}" in speedups
    assert "NumPy reference" in speedups and "im2col" in speedups
    assert "ns per input element" in (tmp / "b.sizes.svg").read_text()


def test_plot_png_from_the_json(plotted, tmp_path):
    """The figures drawn again from the run's JSON, as PNG."""
    from pooling.bench import plot
    tmp, _ = plotted
    result = json.loads((tmp / "b.json").read_text())
    path = tmp_path / "b.png"
    assert plot.write(result, path, "python -m pooling.bench", "versions") == [
        str(path), str(tmp_path / "b.sizes.png")]
    for p in (path, tmp_path / "b.sizes.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_data(tmp_path):
    """Nothing measured: the speedup figure says so, and no sizes figure."""
    pytest.importorskip("matplotlib")
    from pooling.bench import plot
    empty = {"threads": 2, "rows": [], "other_ops": [], "large_inputs": [], "tiny_calls": [],
             "linear_cost": []}
    path = tmp_path / "e.svg"
    assert plot.write(empty, path, "python -m pooling.bench", "versions") == [str(path)]
    text = path.read_text()
    assert "no speedups" in text and "2 threads;" in text
    assert not (tmp_path / "e.sizes.svg").exists()
    # a row without its baselines (no torch, reference and im2col skipped) has no bar
    rows = [{"case": "c", "op": "forward", "ms": {"ours": 1.0}}]
    assert plot.speedups(dict(empty, rows=rows)) == []


def test_plot_needs_matplotlib(monkeypatch, capsys, tmp_path):
    """Without matplotlib, --plot stops with status 2 and the line that says
    what to install, before measuring anything."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib fails
    path = tmp_path / "b.png"
    assert bench.main(["--tiny", "--threads", "1", "--plot", str(path)]) == 2
    out, err = capsys.readouterr()
    assert err == '--plot needs matplotlib: pip install "pooling-kernels[plot]"\n'
    assert out == "" and not path.exists()


def test_plot_suffix(capsys):
    with pytest.raises(SystemExit) as e:
        bench.main(["--plot", "bench.jpg"])
    assert e.value.code == 2
    assert "argument --plot: 'bench.jpg' should end in one of .png, .svg, .pdf" in \
        capsys.readouterr().err


def test_bench_contention_section(tiny_run):
    """The contention section at --tiny (at 2 threads, even at --threads 1):
    every kind of operation, channels first and last, busy and idle, each
    row printed, the worst ratios, and issue #24's target line (met or
    missed: no timing is asserted)."""
    from pooling.bench import contention
    out, data = tiny_run
    rows = data["contention"]
    assert [(r["case"], r["op"], r["data_format"]) for r in rows] == [
        (name, op, fmt) for name, op, fmt, _ in contention.cases("tiny")]
    assert len(rows) == 8 * 2 * len(contention.TINY_SHAPES)
    assert {r["op"] for r in rows} == {
        "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool2d", "adaptive_max_pool2d",
        "adaptive_avg_pool2d", "max_pool2d_backward", "MaxPool2D.backward"}
    assert {r["data_format"] for r in rows} == {"NCL", "NLC", "NCHW", "NHWC", "NCDHW", "NDHWC"}
    for r in rows:
        assert r["threads"] == 2 and r["busy"] == contention.cores()
        assert r["seconds"] == contention.SECONDS["tiny"] and r["runs"] >= 3
        assert min(r["ms_n"], r["ms_1"], r["idle_ms_n"], r["idle_ms_1"]) > 0
        assert r["ratio"] == r["ms_n"] / r["ms_1"]
        assert r["mean_ratio"] == r["mean_ms_n"] / r["mean_ms_1"]
        assert r["idle_ratio"] == r["idle_ms_n"] / r["idle_ms_1"]
        assert isinstance(r["busy_throughout"], bool)
    section = out.split("\ncontention (")[1].split("\ntargets:")[0]
    assert "a deliberate load, which the load notice does not count" in section
    for r in rows:
        assert f"\n  {r['case']} " in section
    worst = max(rows, key=lambda r: r["ratio"])
    total = max(rows, key=lambda r: r["mean_ratio"])
    idle = max(rows, key=lambda r: r["idle_ratio"])
    assert (f"\n  worst ratio: busy x{worst['ratio']:.2f} ({worst['case']}); busy total "
            f"x{total['mean_ratio']:.2f} ({total['case']}); idle "
            f"x{idle['idle_ratio']:.2f} ({idle['case']})") in section
    met = "met" if worst["ratio"] <= 1.5 else "missed"
    line = (f"contention: worst 2 threads / 1 thread with {contention.cores()} busy processes, "
            f"per call: {worst['ratio']:.2f}x, {worst['case']} (target <= 1.5x: {met}); "
            f"in total: {total['mean_ratio']:.2f}x, {total['case']}")
    assert [x for x in data["summary"] if x.startswith("contention")] == [line]
    assert f"\n  {line}\n" in out.split("\ntargets:")[1]


def test_bench_peers_section(tiny_run):
    """The peers section at --tiny: a row per layer, batch and layout, ours
    and each installed engine timed, every engine's values agreeing with
    ours, the best engine named with its ratio, the engines that are not
    installed listed as skipped, and issue #25's target line."""
    from pooling.bench import peers
    out, data = tiny_run
    rows = data["peers"]
    assert len(rows) == len(peers._layers("tiny")) * len(peers.BATCHES["tiny"]) * 2
    assert [r["layout"] for r in rows[:2]] == ["NCHW", "NHWC"]
    installed = {e for e in peers.ENGINES if _imports(peers.MODULES[e])
                 and (e not in ("ONNX Runtime", "OpenVINO") or _imports("onnx"))}
    section = out.split("\npeers (")[1].split("\ntargets:")[0]
    for r in rows:
        assert r["threads"] == 1 and r["ms"]["ours"] > 0
        ran = set(r["ms"]) - {"ours", "PyTorch"}
        # ONNX Runtime and OpenVINO take channels-first inputs only
        assert ran == (installed if r["layout"] == "NCHW"
                       else installed - {"ONNX Runtime", "OpenVINO"})
        assert r["agree"] == {e: True for e in r["ms"] if e != "ours"}
        assert set(r["skipped"]) == set(peers.ENGINES) - installed
        if ran:
            assert r["ratio"] == r["ms"][r["best"]] / r["ms"]["ours"]
            assert r["ms"][r["best"]] == min(r["ms"][e] for e in ran)
    for e in set(peers.ENGINES) - installed:
        assert f"\n  {e}: skipped (" in section
    lines = [x for x in data["summary"] if x.startswith("peers")]
    assert len(lines) == (1 if any(r["best"] for r in rows) else 0)


def test_bench_training_section(tiny_run):
    """The training section at --tiny: for each layer and layout, max with
    int64 indices, its backward from indices and the layer's backward (max
    layers) or the average backward, ours and the installed peers timed,
    every peer's output equal to ours, and issue #25's target lines."""
    from pooling.bench import training
    out, data = tiny_run
    rows = data["training"]
    torch_ok = _imports("torch")
    ort_ok = _imports("onnxruntime") and _imports("onnx")
    want = []
    for layer in training._layers("tiny"):
        for layout in ("NCHW", "NHWC"):
            ops = (["max+int64", "max backward", "layer backward"] if layer[3] == "max"
                   else ["avg backward"])
            want += [(layer[1], layout, op) for op in ops]
    assert [(r["layer"], r["layout"], r["op"]) for r in rows] == want
    for r in rows:
        assert r["threads"] == 1 and r["ms"]["ours"] > 0 and r["dtype"] == "float32"
        peers = ({"PyTorch"} if torch_ok else set()) | (
            {"ONNX Runtime"} if ort_ok and r["op"] == "max+int64" and r["layout"] == "NCHW"
            else set())
        assert set(r["ms"]) == {"ours"} | peers
        assert r["agree"] == {e: True for e in peers}
        assert r["ratio"] == {e: r["ms"][e] / r["ms"]["ours"] for e in peers}
    assert "\ntraining (" in out
    lines = [x for x in data["summary"] if x.startswith("training: ")]
    assert len(lines) == (2 if torch_ok else 0) + (1 if ort_ok else 0)
    assert all("outputs differing from ours: 0" in x for x in lines)


def test_training_target_lines():
    """The worst row of each target, met when no row is below it."""
    from pooling.bench.training import target_lines

    def row(op, ratios):
        return {"op": op, "network": "VGG-16", "layer": "features.4", "batch": 8,
                "layout": "NHWC", "dtype": "float64", "ratio": ratios,
                "agree": {e: True for e in ratios}}
    lines = target_lines([row("max+int64", {"PyTorch": 4.0, "ONNX Runtime": 1.5}),
                          row("max+int64", {"PyTorch": 1.0}),
                          row("avg backward", {"PyTorch": 2.0})])
    assert lines == [
        "training: max with int64 indices, ONNX Runtime / ours, worst 1.50x (max+int64 VGG-16 "
        "features.4 batch 8 NHWC float64), 0 of 1 rows below 1.5x (target >= 1.5x on every "
        "row: met); geometric mean 1.50x; outputs differing from ours: 0",
        "training: max with int64 indices, PyTorch / ours, worst 1.00x (max+int64 VGG-16 "
        "features.4 batch 8 NHWC float64), 1 of 2 rows below 2x (target >= 2x on every row: "
        "missed); geometric mean 2.00x; outputs differing from ours: 0",
        "training: backward (max from indices, layer, average), PyTorch / ours, worst 2.00x "
        "(avg backward VGG-16 features.4 batch 8 NHWC float64), 0 of 1 rows below 2x (target "
        ">= 2x on every row: met); geometric mean 2.00x; outputs differing from ours: 0"]
    assert target_lines([]) == []


def test_peers_target_line():
    """Issue #25's line: the worst ratio's row, met when every row is at
    1x or above; the geometric mean; engines whose values differ."""
    from pooling.bench.report import summary

    def row(ratio, agree=True, best="oneDNN"):
        return {"network": "VGG-16", "layer": "features.4", "batch": 8, "layout": "NCHW",
                "threads": 2, "ratio": ratio, "best": best, "agree": {"XLA": agree}}
    assert summary([], [], [], 1.0, peers=[row(4.0), row(1.0), row(0.5, best=None)]) == [
        "peers: best engine / ours at 2 threads, worst 1.00x (VGG-16 features.4 batch 8 "
        "NCHW), 0 of 2 rows below 1 (target >= 1x on every row: met); geometric mean 2.00x "
        "(moonshot >= 1.5x); values differing from ours: none"]
    assert summary([], [], [], 1.0, peers=[row(0.25, agree=False), row(1.0)]) == [
        "peers: best engine / ours at 2 threads, worst 0.25x (VGG-16 features.4 batch 8 "
        "NCHW), 1 of 2 rows below 1 (target >= 1x on every row: missed); geometric mean "
        "0.50x (moonshot >= 1.5x); values differing from ours: XLA"]
    assert summary([], [], [], 1.0, peers=[row(1.0, best=None)]) == []


def test_contention_target_line():
    """Issue #24's line: the worst per-call ratio's row, met at 1.5x or
    below; the worst total beside it."""
    from pooling.bench.report import summary

    def row(case, ratio, total=1.0):
        return {"case": case, "op": "max_pool2d", "threads": 2, "busy": 2, "ratio": ratio,
                "mean_ratio": total}
    assert summary([], [], [], 1.0, contention=[row("a", 1.2, 1.9), row("b", 1.5)]) == [
        "contention: worst 2 threads / 1 thread with 2 busy processes, per call: 1.50x, b "
        "(target <= 1.5x: met); in total: 1.90x, a"]
    assert summary([], [], [], 1.0, contention=[row("a", 4.0), row("b", 1.5, 1.1)]) == [
        "contention: worst 2 threads / 1 thread with 2 busy processes, per call: 4.00x, a "
        "(target <= 1.5x: missed); in total: 1.10x, b"]
    assert summary([], [], [], 1.0, contention=[]) == []


def _spawned_children():
    """Our child processes that multiprocessing's "spawn" started (its
    resource tracker, which lives as long as this process, aside), from
    /proc; None without /proc."""
    if not os.path.isdir("/proc/self"):
        return None
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"spawn_main" in cmdline:
            found.append(int(pid))
    return found


def test_busy_processes_end():
    """Busy: its processes spin while the with block lasts and are gone
    after it; one stops by itself after its seconds."""
    from pooling.bench.contention import Busy
    with Busy(2, seconds=60) as busy:
        pids = busy.pids
        assert len(pids) == 2 and busy.alive()
        children = _spawned_children()
        assert children is None or set(pids) <= set(children)
    assert multiprocessing.active_children() == []
    assert _spawned_children() in (None, [])
    with Busy(1, seconds=0.2) as busy:
        (p,) = busy.procs
        p.join(60)
        assert p.exitcode == 0      # it ended by itself, not terminated


def test_contention_run_checks_the_load_first(monkeypatch, capsys, keep_threads, tmp_path):
    """`--sections contention` in this process: the load is checked once,
    before the busy processes start (their load is not counted), and no
    busy process is left when the run ends."""
    from pooling.bench import contention, load
    events = []
    start = contention.Busy.start
    monkeypatch.setattr(load, "busy_share", lambda *a: events.append("check") or 0.0)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(contention.Busy, "start",
                        lambda self: events.append("busy") or start(self))
    path = tmp_path / "b.json"
    assert bench.main(["--tiny", "--threads", "1", "--sections", "contention", "--json",
                       str(path)]) == 0
    out = capsys.readouterr().out
    assert events[0] == "check" and events.count("check") == 1 and "busy" in events
    assert "machine loaded" not in out and "\ncontention (" in out
    data = json.loads(path.read_text())
    assert data["contention"] and data["load"]["loaded"] is False
    assert multiprocessing.active_children() == []
    assert _spawned_children() in (None, [])


@pytest.mark.parametrize("loaded", [True, False])
def test_load_notice(monkeypatch, capsys, keep_threads, tmp_path, loaded):
    """A fake high load average: the header says the machine is loaded and
    the JSON records it; a quiet machine: neither."""
    from pooling.bench import load
    fake = (64.0, 32.0, 16.0) if loaded else (0.0, 0.0, 0.0)
    monkeypatch.setattr(os, "getloadavg", lambda: fake)
    monkeypatch.setattr(load, "busy_share", lambda *a: 0.0)
    path = tmp_path / "b.json"
    assert bench.main(["--tiny", "--threads", "1", "--sections", "linear", "--json",
                       str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("pooling "))
    notice = (f"machine loaded: load average 64.00 on {os.cpu_count()} cores, 0% of the CPU "
              "time busy over 0.2 s before the run: figures unreliable")
    assert (lines[head + 1] == notice) == loaded
    assert any("machine loaded" in line for line in lines) == loaded
    data = json.loads(path.read_text())
    assert data["load"] == {"load_average": fake[0], "cores": os.cpu_count(), "busy_share": 0.0,
                            "loaded": loaded, "notice": notice if loaded else None}


def test_load_check(monkeypatch):
    """Either figure can say the machine is loaded; without either, it is
    not."""
    from pooling.bench import load
    cores = os.cpu_count()
    for avg, share, loaded in ((0.0, 0.9, True), (cores - 0.5, 0.2, False),
                               (float(cores), None, True), (None, None, False)):
        def getloadavg(avg=avg):
            if avg is None:
                raise OSError("no load average")
            return (avg, avg, avg)
        monkeypatch.setattr(os, "getloadavg", getloadavg)
        monkeypatch.setattr(load, "busy_share", lambda *a, share=share: share)
        got = load.check()
        assert got["loaded"] is loaded and (got["notice"] is not None) == loaded
    assert load.check()["notice"] is None
    assert load.notice(None, 2, 0.75) == ("machine loaded: 2 cores, 75% of the CPU time busy "
                                          "over 0.2 s before the run: figures unreliable")
    share = load.busy_share(0.05)
    assert share is None or 0 <= share <= 1


def test_plot_title_says_the_machine_was_loaded(tmp_path):
    """The run's load notice goes into the figures' titles; none without it
    (or from a JSON written before it was recorded)."""
    pytest.importorskip("matplotlib")
    from pooling.bench import plot
    empty = {"threads": 2, "rows": [], "other_ops": [], "large_inputs": [], "tiny_calls": [],
             "linear_cost": []}
    notice = "machine loaded: load average 5.00 on 2 cores: figures unreliable"
    assert notice in plot.provenance(dict(empty, load={"loaded": True, "notice": notice}),
                                     "python -m pooling.bench", "versions", "today")
    for result in (empty, dict(empty, load={"loaded": False, "notice": None})):
        assert "machine loaded" not in plot.provenance(result, "python -m pooling.bench",
                                                       "versions", "today")
    path = tmp_path / "l.svg"
    plot.write(dict(empty, load={"loaded": True, "notice": notice}), path,
               "python -m pooling.bench", "versions")
    assert notice in path.read_text()


def test_bench_jax_section(tiny_run):
    """The jax section at --tiny --threads 1 (one subprocess, one thread):
    every pool forward and jit(value_and_grad), the per-call row and the
    CNN step, pooling's results the same as lax's, the custom calls in use,
    and issue #28's target lines."""
    if not _imports("jax"):
        pytest.skip("the jax section needs jax")
    from pooling.bench.jax_layers import POOLS
    out, data = tiny_run
    rows = data["jax"]
    assert [(r["case"], r["what"]) for r in rows[:-2]] == [
        (name, what) for name, *_ in POOLS for what in ("forward", "jit(value_and_grad)")]
    assert [r["what"] for r in rows[-2:]] == ["per call", "training step"]
    for r in rows:
        assert r["threads"] == 1 and r["same"] and r["path"] == "custom call", r
        assert all(v > 0 for v in r["ms"].values())
    assert 0 < rows[-1]["ms"]["none"] and "share" in rows[-1]
    assert "jax (pooling.layers.jax through custom calls" in out
    lines = [x for x in data["summary"] if x.startswith("jax ")]
    assert len(lines) == 3 and "(target >= 10x)" in lines[0] and "(target <= 30 us)" in lines[1]
    assert "of lax's step" in lines[2]

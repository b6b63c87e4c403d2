"""The benchmark runs and reports what it promises (no timing assertions)."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

import pooling
from pooling import bench
from pooling.bench.cases import largest
from pooling.bench.measure import thread_scaling


def _run(args, cwd):
    """python args in a fresh interpreter that imports this pooling."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(pooling.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True)
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
    frameworks = any(importlib.util.find_spec(m) for m in ("tinyml", "torch"))
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
    has_torch = importlib.util.find_spec("torch") is not None
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
    if importlib.util.find_spec("torch") is None:
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
    frameworks = [m for m in ("tinyml", "torch") if importlib.util.find_spec(m)]
    heads = ["pooling ", "case ", "copy bandwidth", "thread scaling (ours):",
             "linear cost (ours", "other operations", "large inputs", "tiny calls",
             "out= (", "framework layers", "targets:"]
    if not frameworks:
        heads.remove("framework layers")
    found = [next((i for i, line in enumerate(out.splitlines()) if line.startswith(h)), None)
             for h in heads]
    assert None not in found and found == sorted(found), dict(zip(heads, found))
    assert set(data) == {"version", "threads", "copy_gbps", "rows", "thread_scaling",
                         "linear_cost", "other_ops", "large_inputs", "tiny_calls", "out",
                         "adapters", "summary"}
    assert data["threads"] == 1
    assert ({a["case"].split()[0] for a in data["adapters"]} == set(frameworks)
            and all(a["ours_ms"] > 0 and a["theirs_ms"] > 0 for a in data["adapters"]))
    # the thread target names the large cases: none for the tiny ones
    assert not [line for line in data["summary"] if line.startswith("threads: ")]
    assert [line for line in data["summary"] if line.startswith("linear cost: ")]


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
                "no such case"], tmp_path).stdout
    assert "\ntiny calls (us per call" in out
    targets = out.split("\ntargets:\n")[1]
    main_table = ("forward (values only) vs torch", "forward with int64 indices vs torch",
                  "layer backward vs torch", "layer forward (uint8 argmax)",
                  "reference vs im2col")
    assert not [line for line in targets.splitlines() if line.strip().startswith(main_table)]
    assert "vs torch, 2x3x16x16" not in targets
    if importlib.util.find_spec("torch"):
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
    lazy = ("torch", "tinyml", "pooling.layers.torch", "pooling.layers.tinyml")
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

"""The benchmark runs and reports what it promises (no timing assertions)."""
import json

from pooling import bench


def test_bench_tiny_writes_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert bench.main(["--tiny", "--threads", "1", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "copy bandwidth" in out and "targets:" in out
    data = json.loads(path.read_text())
    ops = {(r["case"], r["op"]) for r in data["rows"]}
    assert len(ops) == len(bench.TINY_CASES) * len(bench.OPS)
    for row in data["rows"]:
        assert row["ms"]["ours"] > 0 and row["gbps"] > 0
        assert {"ours", "reference", "im2col"} <= set(row["ms"])
    assert len(data["linear_cost"]) == 3 and data["copy_gbps"] > 0
    assert len(data["other_ops"]) == 17 and all(o["ours_ms"] > 0 for o in data["other_ops"])


def test_im2col_baseline_is_correct():
    import numpy as np

    import pooling
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32)
    for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 1, 1)):
        y, cache = bench.im2col_forward(x, k, s, p)
        ry, ri = pooling.max_pool2d(x, k, s, p, return_indices=True)
        assert np.array_equal(y, ry)
        g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
        # overlapping windows sum in another order: equal up to rounding
        np.testing.assert_allclose(bench.im2col_backward(g, cache),
                                   pooling.max_pool2d_backward(g, ri, x.shape), atol=1e-5)

"""Backend selection, the fallback path and python -m pooling."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pooling
from pooling import _backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pooling.__file__)))


def _run(code, **env):
    full_env = dict(os.environ, **env)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env=full_env, cwd=ROOT, check=True)
    return out


def test_env_selects_numpy_backend_and_results_match(tmp_path):
    if "cython" not in _backend._CORES:
        pytest.skip("compiled kernels not built")
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 3, (2, 3, 11, 9)).astype(np.float32)
    x[0, 0, 0, 0] = np.nan
    np.save(tmp_path / "x.npy", x)
    code = f"""
        import json, numpy as np, pooling
        x = np.load({str(tmp_path / 'x.npy')!r})
        y, i = pooling.max_pool2d(x, 3, 2, 1, return_indices=True)
        g = pooling.max_pool2d_backward(np.ones_like(y), i, x.shape)
        np.savez({str(tmp_path / 'out.npz')!r}, y=y, i=i, g=g)
        print(json.dumps(pooling.get_backend()))
    """
    out = _run(code, POOLING_BACKEND="numpy")
    assert json.loads(out.stdout) == "numpy"
    assert "RuntimeWarning" not in out.stderr
    res = np.load(tmp_path / "out.npz")
    y, i = pooling.max_pool2d(x, 3, 2, 1, return_indices=True)  # kernels
    assert pooling.get_backend() == "cython"
    assert np.array_equal(res["y"], y, equal_nan=True) and np.array_equal(res["i"], i)
    assert np.array_equal(res["g"], pooling.max_pool2d_backward(np.ones_like(y), i, x.shape))


def test_missing_extension_falls_back_with_one_warning():
    # Make the extension unimportable: a meta-path finder that refuses it.
    code = """
        import sys, warnings
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "pooling._maxpool":
                    raise ImportError("blocked for the test")
        sys.meta_path.insert(0, Block())
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            import pooling
            import pooling.functional
        msgs = [str(m.message) for m in w if m.category is RuntimeWarning]
        assert len(msgs) == 1, msgs
        assert "pip install" in msgs[0] and "blocked for the test" in msgs[0], msgs[0]
        assert pooling.get_backend() == "numpy"
        assert pooling.max_pool2d([[[1, 2], [3, 4]]], 2).tolist() == [[[4]]]
        try:
            pooling.set_backend("cython")
        except RuntimeError as e:
            assert "unavailable" in str(e)
        else:
            raise AssertionError("set_backend('cython') should fail")
        print("ok")
    """
    assert _run(code).stdout.strip() == "ok"


def test_set_backend_rejects_unknown_name(use_backend):
    with pytest.raises(ValueError, match="'torch'"):
        pooling.set_backend("torch")


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match="n=-1"):
        pooling.set_num_threads(-1)
    with pytest.raises(ValueError, match="n=1.5"):
        pooling.set_num_threads(1.5)


def test_python_m_pooling_self_check():
    out = subprocess.run([sys.executable, "-m", "pooling"], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert f"pooling {pooling.__version__}" in out
    assert f"backend: {pooling.get_backend()}" in out
    assert "threads:" in out and "self-check: kernels match" in out


def test_threadpoolctl_sees_and_limits_the_openmp_pool():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if "cython" not in _backend._CORES or not _backend._maxpool.openmp_enabled():
        pytest.skip("kernels built without OpenMP")
    pooling.set_num_threads(0)  # follow OpenMP's own setting
    pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "openmp"]
    assert pools, "threadpoolctl does not see an OpenMP runtime"
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert pooling.get_num_threads() == 1
    # an explicit setting wins over OpenMP's
    pooling.set_num_threads(3)
    try:
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            assert pooling.get_num_threads() == 3
    finally:
        pooling.set_num_threads(0)


def test_env_sets_thread_count():
    if "cython" not in _backend._CORES or not _backend._maxpool.openmp_enabled():
        pytest.skip("kernels built without OpenMP")
    out = _run("import pooling; print(pooling.get_num_threads())", POOLING_NUM_THREADS="3")
    assert out.stdout.strip() == "3"

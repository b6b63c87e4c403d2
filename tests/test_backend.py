"""Backend selection, the fallback path and python -m pooling."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import pooling
from pooling._core import backend as _backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(pooling.__file__)))


def _run(code, **env):
    full_env = dict(os.environ, **env)
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, env=full_env, cwd=ROOT, check=True)
    return out


def _blocking(module):
    """Code (for _run) that makes ``module`` unimportable, imports pooling and
    asserts exactly one RuntimeWarning, its message left in ``msgs``."""
    return f"""
        import sys, warnings
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == {module!r}:
                    raise ImportError("blocked for the test")
        sys.meta_path.insert(0, Block())
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            import pooling
            import pooling.functional
            from pooling._core import backend as _backend
        msgs = [str(m.message) for m in w if m.category is RuntimeWarning]
        assert len(msgs) == 1, msgs"""


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
    code = _blocking("pooling._core._maxpool") + """
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


def test_cpu_variant_is_reported_and_in_use():
    if "cython" not in _backend._CORES:
        assert _backend.cpu_variant() is None
        pytest.skip("compiled kernels not built")
    available = _backend.available_cpu_variants()
    assert available[0] == "baseline"
    assert _backend.cpu_variant() in available
    assert _backend._CORES["cython"] is _backend.load_variant(_backend.cpu_variant())
    # set_num_threads reaches the chosen module, the one the calls run on
    pooling.set_num_threads(1)
    try:
        assert _backend._CORES["cython"].get_num_threads() == 1
    finally:
        pooling.set_num_threads(0)
    out = subprocess.run([sys.executable, "-m", "pooling"], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert f"kernels: {_backend.cpu_variant()} (available: {', '.join(available)})" in out


def test_every_cpu_variant_matches_the_reference(use_backend):
    # The suite runs on one variant (POOLING_CPU picks which); this checks all
    # of those built here at least on the self-check's cases.
    from pooling.__main__ import self_check
    if "cython" not in _backend._CORES:
        pytest.skip("compiled kernels not built")
    use_backend("cython")
    chosen = _backend._CORES["cython"]
    try:
        for name in _backend.available_cpu_variants():
            core = _backend.load_variant(name)
            assert core.compiled_for() == name
            _backend._CORES["cython"] = core
            assert self_check() == [], name
    finally:
        _backend._CORES["cython"] = chosen


def test_env_forces_the_baseline_variant():
    if "cython" not in _backend._CORES:
        pytest.skip("compiled kernels not built")
    code = """
        import json, warnings
        warnings.simplefilter("error")
        import pooling
        from pooling._core import backend as _backend
        print(json.dumps([_backend.cpu_variant(), _backend._maxpool.__name__,
                          _backend._maxpool.get_num_threads()]))
    """
    out = _run(code, POOLING_CPU="baseline", POOLING_NUM_THREADS="3")
    variant, module, threads = json.loads(out.stdout)
    assert (variant, module) == ("baseline", "pooling._core._maxpool")
    if _backend._maxpool.openmp_enabled():
        assert threads == 3


def test_env_with_an_unknown_cpu_variant_warns_and_chooses():
    if "cython" not in _backend._CORES:
        pytest.skip("compiled kernels not built")
    out = _run("from pooling._core import backend; print(backend.cpu_variant())",
               POOLING_CPU="avx9")
    assert "POOLING_CPU='avx9' is not one of auto, " in out.stderr
    assert "RuntimeWarning" in out.stderr
    assert out.stdout.strip() == _backend.available_cpu_variants()[-1]


def test_env_with_a_variant_not_built_warns_and_falls_back():
    if "cython" not in _backend._CORES:
        pytest.skip("compiled kernels not built")
    code = _blocking("pooling._core._maxpool_avx2") + """
        assert "POOLING_CPU='avx2'" in msgs[0] and "cannot be used here" in msgs[0], msgs[0]
        assert _backend.cpu_variant() == "baseline"
        assert _backend.available_cpu_variants() == ("baseline",)
        assert pooling.get_backend() == "cython"
        assert pooling.max_pool2d([[[1, 2], [3, 4]]], 2).tolist() == [[[4]]]
        print("ok")
    """
    assert _run(code, POOLING_CPU="avx2").stdout.strip() == "ok"


def test_the_kernels_marker_names_test_files_that_exist():
    """CI reruns ``-m kernels`` under every other CPU variant: a renamed file
    must not drop out of that run silently."""
    import conftest
    here = os.path.dirname(os.path.abspath(__file__))
    assert conftest.KERNEL_TESTS <= set(os.listdir(here))
    assert "test_max_pool.py" in conftest.KERNEL_TESTS

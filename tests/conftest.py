import os

import pytest
from hypothesis import HealthCheck, settings

# pooling.layers.torch sends small calls to PyTorch's own functions
# (STEP_ASIDE); the suite compares pooling's kernels with PyTorch at every
# size, so it sends every call to the kernels (test_layers_torch's
# step-aside tests restore the defaults).
os.environ["POOLING_TORCH_STEP_ASIDE"] = "0"

import pooling  # noqa: E402
from pooling._core import backend as _backend  # noqa: E402

# Hypothesis settings for every property test, in one place.  Tests use plain
# @given (or strategies.more_examples for a multiple of the profile's count).
# POOLING_HYPOTHESIS_PROFILE picks the profile; pytest's --hypothesis-profile
# overrides it.  No deadline (timings vary too much across machines, sanitizer
# builds and 2**15-element arrays); the function-scoped fixtures (backend,
# use_backend) are deliberately shared across a test's examples.
_BASE = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("standard", max_examples=200, **_BASE)  # CI and the default
settings.register_profile("quick", max_examples=20, **_BASE)      # while editing
settings.register_profile("thorough", max_examples=2000, **_BASE)  # before a release
settings.load_profile(os.environ.get("POOLING_HYPOTHESIS_PROFILE", "standard"))
_PROFILE = []


def pytest_sessionstart(session):
    # (after hypothesis's plugin applied --hypothesis-profile)
    _PROFILE.append(settings.get_current_profile_name())


def pytest_collection_finish(session):
    # A module imported while collecting may load a hypothesis profile of its
    # own (torch.testing._internal.common_utils loads PyTorch's "dev", 10
    # examples): ours is put back before any test runs.
    settings.load_profile(_PROFILE[0])

# `python -m pytest` from a source checkout imports the source tree: without an
# in-place build every "kernel" test would silently run the NumPy fallback.
# .ci/run sets POOLING_REQUIRE_CYTHON=1 so that situation fails loudly.
if os.environ.get("POOLING_REQUIRE_CYTHON", "") not in ("", "0"):
    if "cython" not in _backend._CORES:
        raise RuntimeError(
            f"POOLING_REQUIRE_CYTHON is set but the compiled kernels did not import "
            f"({_backend._IMPORT_ERROR}); pooling was imported from {pooling.__file__}")

# POOLING_CPU (read by pooling._core.backend) picks the CPU variant of the
# compiled kernels the whole suite runs on: `POOLING_CPU=baseline pytest`
# tests the baseline build on a CPU where a wider variant would be chosen.
BACKENDS = [name for name in ("cython", "numpy") if name in _backend._CORES]

# The files whose tests drive the compiled kernels over their paths (against
# the reference or PyTorch), marked ``kernels``: CI runs ``-m kernels`` once
# more under each CPU variant other than the one import chooses.  The rest
# (adapters, dask, docs, the benchmark, refusals, packaging) reach the kernels
# only through paths these files cover, or not at all.
KERNEL_TESTS = {"test_adaptive.py", "test_adaptive_avg.py", "test_avg_pool.py",
                "test_backend.py", "test_fractional.py", "test_fuzz.py", "test_layout.py",
                "test_lp_pool.py", "test_max_pool.py", "test_numpy_layers.py", "test_out.py",
                "test_plans.py", "test_safety.py", "test_threads.py", "test_unpool.py",
                "test_block_mode.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if os.path.basename(str(item.fspath)) in KERNEL_TESTS:
            item.add_marker(pytest.mark.kernels)


@pytest.fixture
def use_backend():
    """Call use_backend(name) inside a test; the previous backend is restored."""
    before = pooling.get_backend()
    yield pooling.set_backend
    pooling.set_backend(before)


@pytest.fixture(params=BACKENDS)
def backend(request, use_backend):
    use_backend(request.param)
    return request.param


@pytest.fixture
def cython_backend(use_backend):
    if "cython" not in _backend._CORES:
        pytest.skip("compiled kernels not built")
    use_backend("cython")
    return "cython"


@pytest.fixture(scope="module")
def torch_one_thread():
    """PyTorch at one thread for a module's tests (those that make thousands
    of tiny PyTorch calls, where its thread pool only adds contention: five
    times slower on a shared 2-core machine); its count restored after."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_report_header(config):
    return (f"pooling {pooling.__version__} from {os.path.dirname(pooling.__file__)}; "
            f"backend {pooling.get_backend()}, kernels {_backend.cpu_variant()} of "
            f"{_backend.available_cpu_variants()}, {pooling.get_num_threads()} threads; "
            f"hypothesis profile {settings.get_current_profile_name()!r} "
            f"({settings.default.max_examples} examples)")

import os

import pytest

import pooling
from pooling import _backend

# `python -m pytest` from a source checkout imports the source tree: without an
# in-place build every "kernel" test would silently run the NumPy fallback.
# .ci/run sets POOLING_REQUIRE_CYTHON=1 so that situation fails loudly.
if os.environ.get("POOLING_REQUIRE_CYTHON", "") not in ("", "0"):
    if "cython" not in _backend._CORES:
        raise RuntimeError(
            f"POOLING_REQUIRE_CYTHON is set but the compiled kernels did not import "
            f"({_backend._IMPORT_ERROR}); pooling was imported from {pooling.__file__}")

BACKENDS = [name for name in ("cython", "numpy") if name in _backend._CORES]


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


def pytest_report_header(config):
    return (f"pooling {pooling.__version__} from {os.path.dirname(pooling.__file__)}; "
            f"backend {pooling.get_backend()}, {pooling.get_num_threads()} threads")

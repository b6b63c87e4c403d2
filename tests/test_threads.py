"""Threads that never hurt (Design T, csrc/threads.h): contention makes the
kernels step down to the caller's thread, a forked child pools at once, and
the host framework's thread setting governs the calls made through it
(PyTorch's adapter, dask's tasks).  No timing is asserted anywhere: the
contended path is reached through the kernels' stand-in for a late worker."""
import multiprocessing
import os

import numpy as np
import pytest

import pooling
from pooling import reference
from pooling._core import backend as _backend

needs_threads = pytest.mark.skipif(
    "cython" not in _backend._CORES or not _backend._maxpool.openmp_enabled(),
    reason="needs the compiled kernels built with threads")

# Large enough for every kernel to open a parallel region.
X = np.random.default_rng(0).standard_normal((4, 16, 64, 64)).astype(np.float32)


@pytest.fixture
def two_threads(cython_backend):
    pooling.set_num_threads(2)
    _backend._maxpool._reset_thread_state()
    yield
    _backend._maxpool._reset_thread_state()
    pooling.set_num_threads(0)   # the suite runs at the default


CALLS = [
    lambda x, m: m.max_pool2d(x, 3, 2, 1, return_indices=True),
    lambda x, m: m.max_pool2d(x, 3, 2, 1, data_format="NHWC"),
    lambda x, m: m.avg_pool2d(x, 3, 2, 1),
    lambda x, m: m.adaptive_max_pool2d(x, 5, return_indices=True),
    lambda x, m: m.adaptive_avg_pool2d(x, 7),
    lambda x, m: m.max_pool2d_backward(np.ones((4, 16, 32, 32), np.float32),
                                       reference.max_pool2d(x, 2, return_indices=True)[1],
                                       x.shape),
    lambda x, m: m.fractional_max_pool2d(x, 2, output_size=20, rng=0),
]


def _same(a, b):
    if isinstance(a, tuple):
        return all(_same(p, q) for p, q in zip(a, b))
    return np.array_equal(a, b, equal_nan=True)


@needs_threads
@pytest.mark.parametrize("call", range(len(CALLS)))
def test_a_late_worker_sends_the_next_calls_to_one_thread(two_threads, call):
    """A region whose worker starts late (here the stand-in: one second of
    lateness on every worker) backs off: the kernels stay on one thread for
    a while; every result equals the reference throughout."""
    fn = CALLS[call]
    want = fn(X, reference)
    _backend._maxpool._reset_thread_state(late_bias=1.0)
    assert _same(fn(X, pooling), want)
    state = _backend.thread_state()
    assert state["contended_calls"] >= 1
    assert 0 < state["serial_for"] <= 0.25
    # on one thread now: no region opens, so no late worker is seen again
    seen = state["contended_calls"]
    assert _same(fn(X, pooling), want)
    assert _backend.thread_state()["contended_calls"] == seen
    _backend._maxpool._reset_thread_state()
    assert _same(fn(X, pooling), want)   # on threads again (unless the machine is busy)


@needs_threads
def test_the_back_off_doubles_while_contention_lasts(two_threads):
    import time
    _backend._maxpool._reset_thread_state(late_bias=1.0)
    pooling.max_pool2d(X, 3, 2, 1)
    assert 0 < _backend.thread_state()["serial_for"] <= 0.25
    time.sleep(0.3)   # the period over, the contention still there
    assert _backend.thread_state()["serial_for"] == 0
    pooling.max_pool2d(X, 3, 2, 1)
    state = _backend.thread_state()
    assert 0.25 < state["serial_for"] <= 0.5 and state["contended_calls"] == 2


def _child(q):
    try:
        y, i = pooling.max_pool2d(X, 3, 2, 1, return_indices=True)
        ry, ri = reference.max_pool2d(X, 3, 2, 1, return_indices=True)
        g = pooling.avg_pool2d(X, 2)
        q.put((bool(np.array_equal(y, ry) and np.array_equal(i, ri)
                    and np.array_equal(g, reference.avg_pool2d(X, 2))),
               _backend.thread_state()["forked"]))
    except BaseException as exc:  # pragma: no cover - reported to the parent
        q.put((repr(exc), None))


@needs_threads
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_children_pool_at_once(two_threads):
    """GNU OpenMP's pool does not survive fork(): a child that opened a
    parallel region after its parent had would wait forever.  The parent
    pools on threads first; four forked children must pool, correctly,
    within the timeout."""
    pooling.max_pool2d(X, 3, 2, 1)
    pooling.avg_pool2d(X, 2)
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    children = [ctx.Process(target=_child, args=(q,)) for _ in range(4)]
    for c in children:
        c.start()
    try:
        results = [q.get(timeout=60) for _ in children]
    finally:
        for c in children:
            c.join(timeout=5)
            if c.is_alive():
                c.kill()
    assert results == [(True, True)] * 4
    assert not _backend.thread_state()["forked"]   # the parent keeps its threads


class _Recorder:
    """The current core, noting pooling's thread count each time the call
    sequence asks it for a function (that is, inside each call)."""

    def __init__(self, core):
        self._core, self.seen = core, []

    def __getattr__(self, name):
        self.seen.append(pooling.get_num_threads())
        return getattr(self._core, name)


@pytest.fixture
def recorder(monkeypatch, cython_backend):
    rec = _Recorder(_backend.core())
    monkeypatch.setattr(_backend, "core", lambda: rec)
    return rec


@needs_threads
def test_the_torch_adapter_follows_torch_set_num_threads(recorder, two_threads):
    torch = pytest.importorskip("torch")
    from pooling.layers.torch import functional as PF
    x = torch.from_numpy(X)
    before = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            recorder.seen.clear()
            PF.max_pool2d(x, 3, 2, 1)
            PF.avg_pool2d(x.requires_grad_(), 2).sum().backward()
            x = x.detach()
            assert recorder.seen and set(recorder.seen) == {n}
    finally:
        torch.set_num_threads(before)
    # outside the adapter, pooling's own setting again
    assert pooling.get_num_threads() == 2


@needs_threads
def test_dask_tasks_use_one_thread_each_unless_asked(recorder, two_threads):
    da = pytest.importorskip("dask.array")
    import pooling.dask as pdask
    x = da.from_array(X, chunks=(2, 8, 32, 32))
    pdask.max_pool2d(x, 3, 2, 1).compute(scheduler="threads")
    assert recorder.seen and set(recorder.seen) == {1}
    recorder.seen.clear()
    try:
        pdask.set_task_threads(0)
        pdask.avg_pool2d(x, 2).compute(scheduler="threads")
        assert recorder.seen and set(recorder.seen) == {2}
    finally:
        pdask.set_task_threads(1)
    with pytest.raises(ValueError, match=r"set_task_threads: n must be an int >= 0, but got n=-1"):
        pdask.set_task_threads(-1)


@needs_threads
def test_threadpoolctl_still_limits_the_kernels(cython_backend):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = pooling.get_num_threads()
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert pooling.get_num_threads() == 1
        assert _backend.set_thread_limit(4) == 0   # a host's limit cannot raise it
        try:
            assert pooling.get_num_threads() == 1
        finally:
            _backend.set_thread_limit(0)
    assert pooling.get_num_threads() == before


@needs_threads
def test_the_thread_limit_is_per_thread(two_threads):
    import threading
    assert _backend.set_thread_limit(1) == 0
    try:
        assert pooling.get_num_threads() == 1
        seen = []
        t = threading.Thread(target=lambda: seen.append(pooling.get_num_threads()))
        t.start()
        t.join()
        assert seen == [2]
    finally:
        assert _backend.set_thread_limit(0) == 1
    assert pooling.get_num_threads() == 2


@needs_threads
def test_with_thread_limit_restores_the_limit_even_on_error(two_threads):
    seen = []
    assert _backend.with_thread_limit(1, lambda a, b=0: seen.append(
        (a, b, pooling.get_num_threads())) or "done", "a", b=3) == "done"
    assert seen == [("a", 3, 1)] and pooling.get_num_threads() == 2
    _backend.set_thread_limit(2)
    try:
        with pytest.raises(KeyError):
            _backend.with_thread_limit(1, {}.__getitem__, "x")
        assert _backend.set_thread_limit(2) == 2   # the outer limit, restored
    finally:
        _backend.set_thread_limit(0)


def test_thread_state_keys_without_the_kernels(cython_backend, monkeypatch):
    """The stand-in state (no compiled kernels) has the kernels' keys."""
    compiled = _backend.thread_state()
    monkeypatch.setattr(_backend, "_maxpool", None)
    assert _backend.thread_state().keys() == compiled.keys()

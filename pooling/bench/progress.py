"""Progress lines on standard error: one short line per case once it is
measured (the time since the run started, the section, the case), so that a
run of minutes shows where it is.  ``python -m pooling.bench`` turns them on
only when standard error is a terminal and ``--quiet`` is not given: a log
or a pipe gets the tables alone, on standard output, unchanged."""
from __future__ import annotations

import time

_stream = None
_t0 = 0.0


def start(stream):
    """Print progress lines on stream from now on (None: none)."""
    global _stream, _t0
    _stream = stream
    _t0 = time.perf_counter()


def stop():
    start(None)


def step(section, case):
    """The line for a case of section just measured (nothing when off)."""
    if _stream is not None:
        print(f"[{time.perf_counter() - _t0:6.1f} s] {section}: {case}", file=_stream,
              flush=True)

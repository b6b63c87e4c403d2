"""Halo arithmetic: which slice of the input each output block reads, and
how the in-memory function is called on it so that its windows, divisors
and tie-breaking are those of the call on the whole array.

Along one spatial axis of length ``n`` the windows are ``o * s - p + i * d``
(i < k), ``K = d * (k - 1) + 1`` wide.  An output block ``[o0, o1)`` reads
``[o0 * s - p, (o1 - 1) * s - p + K)``: its own stretch of input plus a
one-sided halo of ``K - s`` (when positive) from the next chunk(s).  The
in-memory function is then called on that slice with padding 0, and only
blocks at a true border need more (``Block``):

- windows starting in the left padding (``o < m = ceil(p / s)``) are all
  in the first block, which reads from 0 and is called with padding ``p``:
  its windows are then the global ones (the extra windows the symmetric
  padding adds at its right end are dropped);
- windows reaching past the end (``o >= r``) are all in the last block.
  For average pooling (whose divisors depend on where the true border
  is) it reads from ``(o0 - m) * s``, a multiple of the stride, and is
  called with padding ``p`` and the caller's ceil_mode: its windows are
  then the global windows ``o0 - m ...`` (the first ``m`` are dropped),
  clipped at the true end exactly as the whole-array call clips them.
  Max pooling with padding instead appends the reduction's identity
  (-inf, or the dtype's minimum) on the right: a window's first element
  is then always a real one, so a tie with the identity keeps PyTorch's
  first-maximum index (left padding stays implicit for the same reason).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

from .._params import output_length


@dataclass(frozen=True)
class Axis:
    """One spatial axis of one pooling call."""

    n: int
    k: int
    s: int
    p: int
    d: int
    ceil: bool

    @property
    def K(self) -> int:  # noqa: N802 -- the dilated window's extent
        return self.d * (self.k - 1) + 1

    @property
    def out(self) -> int:
        return output_length(self.n, self.k, self.s, self.p, self.d, self.ceil)

    @property
    def m(self) -> int:
        """Windows starting in the left padding: o * s < p."""
        return min(-(-self.p // self.s), self.out)

    @property
    def r(self) -> int:
        """The first window that reaches past the input's end."""
        return min(max(0, (self.n + self.p - self.K) // self.s + 1), self.out)

    def start(self, o: int) -> int:
        return o * self.s - self.p


@dataclass(frozen=True)
class Block:
    """How an output block ``[o0, o0 + count)`` is computed along one axis:
    the in-memory call reads input ``[lo, hi)`` followed by ``extra``
    identity elements, with padding ``pad``; its outputs ``[skip, skip +
    count)`` are the block's."""

    lo: int
    hi: int
    pad: int
    skip: int
    count: int
    extra: int = 0

    @property
    def local_n(self) -> int:
        return self.hi - self.lo + self.extra


def block(ax: Axis, o0: int, o1: int, kind: str) -> Block:
    """The Block of outputs ``[o0, o1)``; ``kind`` "max" may append its
    identity, "avg" (average and Lp pooling) may not."""
    n, s, p, K, count = ax.n, ax.s, ax.p, ax.K, o1 - o0
    left, right = o0 < ax.m, o1 > ax.r
    if left and right:
        return Block(0, n, p, o0, count)
    if left:
        # avg_pool3d wants at least a kernel's worth of input (n >= K there).
        return Block(0, min(n, max(ax.start(o1 - 1) + K, K)), p, o0, count)
    if right:
        if kind == "max" and p > 0:
            lo = ax.start(o0)
            return Block(lo, n, 0, 0, count, ax.start(o1 - 1) + K - n)
        m = -(-p // s)
        lo, skip = (o0 - m) * s, m
        if n - lo < K:  # avg_pool3d's rule again; step back whole strides
            j = min(lo // s, -(-(K - (n - lo)) // s))
            lo, skip = lo - j * s, skip + j
        return Block(lo, n, p, skip, count)
    return Block(ax.start(o0), ax.start(o1 - 1) + K, 0, 0, count)


def output_bounds(ax: Axis, in_chunks) -> list[int]:
    """Output block boundaries (0, ..., out) for input chunks ``in_chunks``:
    block j holds the windows starting in chunk j, except that the windows
    starting in the left padding share the first block and the windows
    reaching past the end share the last."""
    out, m, r = ax.out, ax.m, ax.r
    bounds = {0, out}
    c = 0
    for length in in_chunks[:-1]:
        c += length
        b = -(-(c + ax.p) // ax.s)
        if 0 < b < out and m <= b <= r:
            bounds.add(b)
    return sorted(bounds)


def input_bounds(ax: Axis, out_chunks) -> list[int]:
    """Input block boundaries for a gradient: where each output chunk's
    first window starts (clipped to the input)."""
    bounds = {0, ax.n}
    o = 0
    for length in out_chunks[:-1]:
        o += length
        b = ax.start(o)
        if 0 < b < ax.n:
            bounds.add(b)
    return sorted(bounds)


def windows_touching(ax: Axis, r0: int, r1: int) -> tuple[int, int]:
    """The outputs ``[o_lo, o_hi)`` whose windows' extents meet input
    ``[r0, r1)`` (possibly empty)."""
    lo = max(0, -(-(r0 + ax.p - ax.K + 1) // ax.s))
    hi = min(ax.out, (r1 - 1 + ax.p) // ax.s + 1)
    return lo, max(lo, hi)


def cumulative(chunks) -> list[int]:
    out = [0]
    for c in chunks:
        out.append(out[-1] + c)
    return out


def pieces(bounds: list[int], lo: int, hi: int) -> list[tuple[int, int, int]]:
    """(chunk index, start within the chunk, stop within the chunk) of the
    chunks (``bounds`` cumulative) covering ``[lo, hi)``, in order."""
    out = []
    i = max(0, bisect.bisect_right(bounds, lo) - 1)
    while i < len(bounds) - 1 and bounds[i] < hi:
        a, b = max(lo, bounds[i]), min(hi, bounds[i + 1])
        if b > a:
            out.append((i, a - bounds[i], b - bounds[i]))
        i += 1
    return out


def split(ax: Axis, o0: int, o1: int, kind: str, bounds: list[int]):
    """``[(a, b, Block)]``: outputs ``[o0, o1)`` as at most two calls, the
    first reading a single input chunk (a view, no copy) and the second
    the rest (the windows that reach into the halo), when that saves
    copying the whole chunk into one array with its halo."""
    whole = block(ax, o0, o1, kind)
    if len(pieces(bounds, whole.lo, whole.hi)) <= 1:
        return [(o0, o1, whole)]
    fits, fails = o0, o1  # the largest e with outputs [o0, e) in one chunk
    while fails - fits > 1:
        mid = (fits + fails) // 2
        b = block(ax, o0, mid, kind)
        if len(pieces(bounds, b.lo, b.hi)) <= 1:
            fits = mid
        else:
            fails = mid
    if fits == o0:
        return [(o0, o1, whole)]
    return [(o0, fits, block(ax, o0, fits, kind)), (fits, o1, block(ax, fits, o1, kind))]

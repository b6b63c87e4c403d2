"""PyTorch 2.13's CPU element-wise arithmetic on NumPy arrays, as lp_pool
and its autograd chain use it.

Rounding, per dtype:

- float32 and float64: one IEEE operation, one rounding; a Python scalar
  operand is first converted to the array's type (a float32 tensor times the
  double 0.5 multiplies by float32(0.5)).
- float16: each operation computed in float32 and rounded to half once;
  a scalar operand is a float32 (PyTorch's opmath scalar).

``pow(a, e)`` follows aten's ``pow(Tensor, Scalar)``: e == 0 fills ones,
e == 1 copies; float32 and float64 special-case 2, 3 and -2 (``a*a``,
``a*a*a``, ``1/(a*a)``), 0.5 (sqrt), -0.5 (``1/sqrt``) and -1 (``1/a``),
and take ``pow`` otherwise; float16 takes ``pow`` for every other e, with
e first rounded to half.  Where PyTorch's own arithmetic is correctly
rounded (products, quotients) the results here are its bits.  Its sqrt and
pow are not (vectorised approximations, within an ulp or so): here sqrt is
NumPy's, correctly rounded; float32 pow is computed in float64 from the
float32 exponent PyTorch's vector lanes use and rounded once (a correctly
rounded float32 pow in all but rare double-rounding cases); float64 pow is
NumPy's; float16 pow is the float64 pow of the half exponent rounded to
half.
"""
from __future__ import annotations

import numpy as np

_F16, _F32, _F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)


def _into(out, r):
    if out is None:
        return r
    out[...] = r
    return out


def mul_scalar(a, c: float, out=None):
    """``a * c`` for a Python scalar ``c``."""
    with np.errstate(all="ignore"):
        if a.dtype == _F16:
            return _into(out, (a.astype(_F32) * np.float32(c)).astype(_F16))
        return np.multiply(a, a.dtype.type(c), out=out)


def sign(a):
    """torch.sign on floats: -1, 0 or 1 in a's dtype, 0 for NaN (and -0.0)."""
    r = (a > 0).astype(a.dtype)
    r -= a < 0
    return r


def _c_pow(a, e: float):
    """C's pow(a, e) on a float64 array (np.power takes sqrt for e = 0.5,
    which differs from pow at -0.0 and -inf)."""
    if e == 0.5:
        r = np.sqrt(a) + 0.0
        r[np.isneginf(a)] = np.inf
        return r
    return np.power(a, e)


def pow(a, e: float, out=None):  # noqa: A001 (aten's name)
    """``a.pow(e)`` for a Python scalar ``e`` (see the module docstring)."""
    dt = a.dtype
    with np.errstate(all="ignore"):
        if e == 0:
            return _into(out, np.ones_like(a))
        if e == 1:
            return a.copy() if out is None else _into(out, a)
        if dt == _F16:
            eh = float(np.float16(e))
            return _into(out, _c_pow(a.astype(_F64), eh).astype(_F16))
        one = dt.type(1)
        if e == 2:
            return np.multiply(a, a, out=out)
        if e == 3:  # (a*a)*a; out may be a itself
            r = np.multiply(a, a)
            return np.multiply(r, a, out=r if out is None else out)
        if e == -2:
            r = np.multiply(a, a, out=out)
            return np.divide(one, r, out=r)
        if e == 0.5:
            return np.sqrt(a, out=out)
        if e == -0.5:
            r = np.sqrt(a, out=out)
            return np.divide(one, r, out=r)
        if e == -1:
            return np.divide(one, a, out=out)
        if dt == _F32:
            return _into(out, _c_pow(a.astype(_F64), float(np.float32(e))).astype(_F32))
        return np.power(a, e, out=out)

"""The dask forms of max, average and Lp pooling (see pooling.dask)."""
from __future__ import annotations

from functools import partial

import numpy as np

from .._params import (channels_last, check_avg_input, check_input, check_lp_input,
                       normalize_avg_args, normalize_lp_args, normalize_pool_args,
                       spatial_of)
from ._chunk import in_memory
from ._graph import build_forward, check_dask, identity, no_out, stand_in
from ._plan import Axis

_MAX, _AVG, _LP = in_memory("max_pool"), in_memory("avg_pool"), in_memory("lp_pool")


def _axes(spatial, k, s, p, d, ceil):
    return [Axis(*a, ceil) for a in zip(spatial, k, s, p, d)]


def max_pool(nd, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
             return_indices=False, data_format=None, out=None):
    fn = f"max_pool{nd}d"
    x = check_dask(x, "input", fn)
    no_out(out, fn)
    params = normalize_pool_args(fn, nd, kernel_size, stride, padding, dilation, ceil_mode)
    last = channels_last(fn, nd, data_format)
    check_input(stand_in(x), params, fn, last)
    want_idx = bool(return_indices)
    axes = _axes(spatial_of(x.shape, nd, last), params.kernel_size, params.stride,
                 params.padding, params.dilation, params.ceil_mode)

    def make_call(pads):
        return partial(_MAX[nd], kernel_size=params.kernel_size, stride=params.stride,
                       padding=pads, dilation=params.dilation, ceil_mode=params.ceil_mode,
                       return_indices=want_idx, data_format=data_format)

    res = build_forward(fn, x, nd, last, axes, "max", make_call, want_idx,
                        identity(x.dtype), x.dtype, (params, data_format))
    if want_idx:
        # max_poolNd_backward reads the windows from here (its in-memory
        # signature has no window arguments).
        res[1]._pooling_windows = (nd, params, last)
    return res


def avg_pool(nd, x, kernel_size, stride=None, padding=0, ceil_mode=False,
             count_include_pad=True, divisor_override=None, data_format=None, out=None):
    fn = f"avg_pool{nd}d"
    x = check_dask(x, "input", fn)
    no_out(out, fn)
    params = normalize_avg_args(fn, nd, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override)
    last = channels_last(fn, nd, data_format)
    check_avg_input(stand_in(x), params, fn, last)
    pool = params.pool
    axes = _axes(spatial_of(x.shape, nd, last), pool.kernel_size, pool.stride, pool.padding,
                 pool.dilation, pool.ceil_mode)

    def make_call(pads):
        return partial(_AVG[nd], kernel_size=pool.kernel_size, stride=pool.stride,
                       padding=pads, ceil_mode=pool.ceil_mode,
                       count_include_pad=params.count_include_pad,
                       divisor_override=params.divisor_override, data_format=data_format)

    return build_forward(fn, x, nd, last, axes, "avg", make_call, False, None, x.dtype,
                         (params, data_format))


def lp_pool(nd, x, norm_type, kernel_size, stride=None, ceil_mode=False, data_format=None,
            out=None):
    fn = f"lp_pool{nd}d"
    x = check_dask(x, "input", fn)
    no_out(out, fn)
    params = normalize_lp_args(fn, nd, norm_type, kernel_size, stride, ceil_mode)
    last = channels_last(fn, nd, data_format)
    check_lp_input(stand_in(x), params, fn, last)
    pool = params.pool
    axes = _axes(spatial_of(x.shape, nd, last), pool.kernel_size, pool.stride, pool.padding,
                 pool.dilation, pool.ceil_mode)

    def make_call(pads):
        # No padding in lp_pool: every block is called with the caller's
        # arguments (the last one starting at a multiple of the stride).
        return partial(_LP[nd], norm_type=norm_type, kernel_size=pool.kernel_size,
                       stride=pool.stride, ceil_mode=pool.ceil_mode, data_format=data_format)

    return build_forward(fn, x, nd, last, axes, "avg", make_call, False, None, x.dtype,
                         (params, data_format))

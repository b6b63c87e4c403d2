"""Block mode in NumPy: the compiled kernel's twin (block_mode3d, used by
``pooling.dask.pyramid(reduction="mode")``), window by window and plane by
plane, with ``np.unique``'s counts: slow and plainly right."""
from __future__ import annotations

import numpy as np


def block_mode3d(x5, kernel, out_dhw):
    """The most frequent value of each window of an (N, C, D, H, W) integer
    or bool array, ties to the smallest (see the compiled entry point)."""
    n, c = x5.shape[:2]
    y = np.empty((n, c) + tuple(out_dhw), dtype=x5.dtype)
    kd, kh, kw = kernel
    for od in range(out_dhw[0]):
        for oh in range(out_dhw[1]):
            for ow in range(out_dhw[2]):
                win = x5[:, :, od * kd:(od + 1) * kd, oh * kh:(oh + 1) * kh,
                         ow * kw:(ow + 1) * kw].reshape(n * c, -1)
                for p in range(n * c):
                    values, counts = np.unique(win[p], return_counts=True)
                    # (values ascending: argmax takes the first, smallest, of the most)
                    y.reshape(n * c, *out_dhw)[p, od, oh, ow] = values[np.argmax(counts)]
    return y

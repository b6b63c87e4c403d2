"""1-D max pooling: refusals (the kernels and PyTorch conformance are in
test_max_pool.py, the layer's repr in test_numpy_layers.py)."""
import numpy as np
import pytest

import pooling


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: pooling.max_pool1d(np.zeros((2, 2, 2, 2)), 2), ValueError,
     r"max_pool1d: expected a 2D \(C, L\) or 3D \(N, C, L\) input.*\(2, 2, 2, 2\)"),
    (lambda: pooling.max_pool1d(np.zeros((2, 4)), (2, 2)), ValueError,
     r"kernel_size must either be a single int, or a tuple of one int.*\(2, 2\)"),
    (lambda: pooling.max_pool1d(np.zeros((2, 4)), 2, padding=2), ValueError,
     r"pad should be smaller than or equal to half of kernel size"),
    (lambda: pooling.max_pool1d(np.zeros((2, 4)), 5), ValueError, r"Output size is too small"),
    (lambda: pooling.max_pool1d_backward(np.zeros((1, 2)), np.full((1, 2), 9), (1, 4)),
     ValueError, r"max_pool1d_backward: indices must lie in \[0, 4\).*\(4,\).*index 9"),
    (lambda: pooling.MaxPool1D(2).backward(np.zeros((1, 2))), RuntimeError,
     r"MaxPool1D.backward called before forward"),
])
def test_refusals(backend, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()

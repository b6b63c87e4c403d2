# Stubs for the compiled kernels (pooling._maxpool), written by hand: Cython
# emits none.  Internal API: called by pooling._api with validated arguments.
from typing import Any, Literal, Optional, Tuple

import numpy as np
import numpy.typing as npt

def openmp_enabled() -> bool: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def forward2d(
    x4: npt.NDArray[Any],
    params: Any,
    out_hw: Tuple[int, int],
    indices: Optional[Literal["flat", "cache"]],
) -> Tuple[npt.NDArray[Any], Optional[npt.NDArray[Any]]]: ...
def backward2d(
    g4: npt.NDArray[np.floating[Any]],
    idx4: npt.NDArray[np.integer[Any]],
    H: int,
    W: int,
) -> Tuple[npt.NDArray[np.floating[Any]], int]: ...
def backward2d_cache(
    g4: npt.NDArray[np.floating[Any]],
    cache4: npt.NDArray[Any],
    params: Any,
    H: int,
    W: int,
) -> npt.NDArray[np.floating[Any]]: ...

__test__: dict[str, str]
def unpool2d(
    x4: npt.NDArray[Any], idx4: npt.NDArray[np.integer[Any]], H: int, W: int
) -> Tuple[npt.NDArray[Any], int]: ...
def adaptive2d(
    x4: npt.NDArray[Any],
    rows: Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    cols: Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]],
    want_indices: bool,
) -> Tuple[npt.NDArray[Any], Optional[npt.NDArray[np.int64]]]: ...

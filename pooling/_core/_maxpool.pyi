# Stubs for the compiled kernels (pooling._core._maxpool), written by hand: Cython
# emits none.  Internal API: called by pooling._api with validated arguments.
from typing import Any, Dict, Literal, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt
from typing_extensions import disjoint_base

# out: the caller's preallocated (values, indices), either None
_Outs = Optional[Tuple[Optional[npt.NDArray[Any]], Optional[npt.NDArray[Any]]]]

def openmp_enabled() -> bool: ...
def cpu_features() -> Tuple[str, ...]: ...
def compiled_for() -> str: ...
def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...
def set_thread_limit(n: int) -> int: ...
def thread_state() -> Dict[str, Any]: ...
def _reset_thread_state(late_bias: float = ...) -> None: ...
@disjoint_base
class _ForwardPlan:
    lift: Any
    out_shape: Tuple[int, ...]
    def __init__(
        self,
        x5: npt.NDArray[Any],
        params: Any,
        out_dhw: Tuple[int, int, int],
        indices: Optional[Literal["flat", "compact"]],
        channels_last: bool,
    ) -> None: ...
    def for_user(
        self, out_shape: Tuple[int, ...], batched: bool, user_last: bool, lift: Any
    ) -> _ForwardPlan: ...
    def run(
        self, x: npt.NDArray[Any], out: _Outs = ...
    ) -> Tuple[npt.NDArray[Any], Optional[npt.NDArray[Any]]]: ...

def find_forward_plan(x: Any, call: Tuple[Any, ...]) -> Optional[_ForwardPlan]: ...
def remember_forward_plan(
    plan: _ForwardPlan, x: npt.NDArray[Any], call: Tuple[Any, ...]
) -> None: ...
def forward_plans_kept() -> int: ...
def plan_forward(
    x5: npt.NDArray[Any],
    params: Any,
    out_dhw: Tuple[int, int, int],
    indices: Optional[Literal["flat", "compact"]],
    channels_last: bool = ...,
) -> _ForwardPlan: ...
def forward3d(
    x5: npt.NDArray[Any],
    params: Any,
    out_dhw: Tuple[int, int, int],
    indices: Optional[Literal["flat", "compact"]],
    channels_last: bool = ...,
    out: _Outs = ...,
) -> Tuple[npt.NDArray[Any], Optional[npt.NDArray[Any]]]: ...
def backward3d(
    g5: npt.NDArray[np.floating[Any]],
    idx5: npt.NDArray[np.integer[Any]],
    spatial: Tuple[int, int, int],
    channels_last: bool = ...,
    out: Optional[npt.NDArray[np.floating[Any]]] = ...,
) -> Tuple[npt.NDArray[np.floating[Any]], int]: ...
def backward3d_compact(
    g5: npt.NDArray[np.floating[Any]],
    cache5: npt.NDArray[Any],
    params: Any,
    spatial: Tuple[int, int, int],
    channels_last: bool = ...,
    out: Optional[npt.NDArray[np.floating[Any]]] = ...,
) -> npt.NDArray[np.floating[Any]]: ...
def unpool3d(
    x5: npt.NDArray[Any],
    idx5: npt.NDArray[np.integer[Any]],
    spatial: Tuple[int, int, int],
    channels_last: bool = ...,
    out: Optional[npt.NDArray[Any]] = ...,
) -> Tuple[npt.NDArray[Any], int]: ...
def adaptive3d(
    x5: npt.NDArray[Any],
    windows: Sequence[Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
    want_indices: bool,
    channels_last: bool = ...,
    out: _Outs = ...,
) -> Tuple[npt.NDArray[Any], Optional[npt.NDArray[np.int64]]]: ...
def avg_backward3d(
    g5: npt.NDArray[Any],
    params: Any,
    spatial: Tuple[int, int, int],
    channels_last: bool = ...,
    out: Optional[npt.NDArray[Any]] = ...,
) -> npt.NDArray[Any]: ...
def avg3d(
    x5: npt.NDArray[Any],
    params: Any,
    out_dhw: Tuple[int, int, int],
    channels_last: bool = ...,
    out: Optional[npt.NDArray[Any]] = ...,
) -> npt.NDArray[Any]: ...
def fractional3d(
    x5: npt.NDArray[Any],
    starts: Sequence[npt.NDArray[np.int64]],
    kernel: Tuple[int, int, int],
    want_indices: bool,
    channels_last: bool = ...,
    out: _Outs = ...,
) -> Tuple[npt.NDArray[Any], Optional[npt.NDArray[np.int64]]]: ...
def adaptive_avg3d(
    x5: npt.NDArray[Any],
    windows: Sequence[Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
    nd: int = ...,
    channels_last: bool = ...,
    out: Optional[npt.NDArray[Any]] = ...,
) -> npt.NDArray[Any]: ...
def adaptive_avg_backward3d(
    g5: npt.NDArray[Any],
    windows: Sequence[Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]],
    spatial: Tuple[int, int, int],
    channels_last: bool = ...,
    out: Optional[npt.NDArray[Any]] = ...,
) -> npt.NDArray[Any]: ...

def block_mode3d(
    x5: npt.NDArray[Any], kernel: Tuple[int, int, int], out_dhw: Tuple[int, int, int]
) -> npt.NDArray[Any]: ...

__test__: dict[str, str]
def xla_handlers(major: int, minor: int, huge_pages: bool = ...) -> Dict[str, Any]: ...

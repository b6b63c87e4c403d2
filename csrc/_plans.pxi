# Forward plans: everything a forward call decides before its loops run
# (geometry, layout, kernel, output shapes), decided once and kept.
#
# forward3d builds one per call.  pooling._api also keeps one per distinct
# user call, keyed by the call's arguments and the input's shape, strides and
# dtype: the checks in pooling._params depend on nothing else, so a call
# whose key is known passed them, with these very arguments, before, and
# runs straight from its plan (Design L).  A key exists only for plain
# arguments (ints, tuples of ints, None; a bool ceil_mode; a str layout),
# an exact ndarray and a native dtype other than float16: 2.0 or True hash
# like 2 and must still be refused, and anything converted or copied on the
# way in (non-native bytes, float16, array-likes) takes the full path.

cdef dict _forward_plans = {}
cdef enum:
    _MAX_PLANS = 256        # distinct calls remembered; then the cache restarts


@cython.auto_pickle(False)
cdef class _ForwardPlan:
    """One forward call's decisions; ``run(x)`` pools any array with the
    shape, strides and dtype it was planned for."""
    cdef Geom g
    cdef Job j                  # all but the pointers
    cdef int op, index          # index: 0 none, 1 compact uint8, 2 flat int64
    cdef char kind
    cdef int size
    cdef object dtype           # the values' dtype as the loops write it
    cdef object alloc, axes     # outputs: np.empty(alloc), then transposed by axes
    cdef object inverse         # axes undone: an output as the loops write it
    cdef public object lift     # the caller's, for the layer's backward
    cdef public tuple out_shape # the outputs' shape as run returns them
    cdef object user_dtype      # held while the plan is kept: its id is in the key

    def __init__(self, x5, params, out_dhw, indices, bint channels_last):
        # x5: validated, non-empty (N, C, D, H, W), of a dtype the loops read.
        cdef bint cl = _channels_last(x5, channels_last)
        self.g = _geom(x5.shape[2:], x5.strides[2:], x5.itemsize, params, out_dhw)
        self.op = OP_FORWARD_CL if cl else OP_FORWARD
        self.index = (0 if indices is None else
                      1 if indices == "compact" and _window_size(&self.g) <= _MAX_LOCAL
                      else 2)
        self.dtype = x5.dtype
        self.kind = ord(x5.dtype.kind)
        self.size = x5.itemsize
        n, c = x5.shape[:2]
        cdef Py_ssize_t OS = self.g.OD * self.g.OH * self.g.OW
        self.j.N, self.j.C = n, c
        self.j.xs_n, self.j.xs_c = x5.strides[0], x5.strides[1]
        if cl:
            self.j.ys_n, self.j.ys_c, self.j.ys_s = OS * c, 1, c
            self.alloc = (n,) + tuple(out_dhw) + (c,)
            self.axes, self.inverse = (0, 4, 1, 2, 3), (0, 2, 3, 4, 1)
        else:
            self.j.ys_n, self.j.ys_c, self.j.ys_s = c * OS, OS, 1
            self.alloc = (n, c) + tuple(out_dhw)
            self.axes = self.inverse = None
        self.out_shape = (n, c) + tuple(out_dhw)
        self.lift = None

    def for_user(self, tuple out_shape, bint batched, bint user_last, lift):
        """Outputs shaped as the user's ``out_shape`` (their layout) directly,
        instead of (N, C, D, H, W) views; returns self."""
        cdef int nd = len(out_shape) - (2 if batched else 1)
        cdef bint cl = self.op == OP_FORWARD_CL
        lead = 1 if batched else 0          # axes before C (first) or spatial (last)
        spatial = list(range(lead + 1, lead + 1 + nd))
        if cl == user_last:
            self.alloc, self.axes = tuple(out_shape), None
        elif cl:      # channels-first shape, channels-last memory
            self.alloc = out_shape[:lead] + out_shape[lead + 1:] + out_shape[lead:lead + 1]
            self.axes = tuple(range(lead)) + (lead + nd,) + tuple(range(lead, lead + nd))
        else:         # channels-last shape, channels-first memory
            last = lead + nd             # (wraparound is off: no negative indices)
            self.alloc = out_shape[:lead] + out_shape[last:] + out_shape[lead:last]
            self.axes = tuple(range(lead)) + tuple(spatial) + (lead,)
        self.inverse = None if self.axes is None else tuple(np.argsort(self.axes).tolist())
        self.out_shape = out_shape
        self.lift = lift
        return self

    def run(self, x, out=None):
        """(y, indices or None) of ``x``; with ``out``, a pair of checked
        arrays (either None) shaped as the results, those arrays, filled."""
        yo = io = ya = ia = idx = None
        if out is not None:
            yo, io = out
            ya = self._target(yo, self.dtype)
        y = np.empty(self.alloc, self.dtype) if ya is None else ya
        cdef Job j = self.j
        j.g = &self.g
        j.cache = NULL
        j.flat = NULL
        if self.index == 1:
            ia = self._target(io, np.uint8)
            idx = np.empty(self.alloc, np.uint8) if ia is None else ia
            j.cache = <uint8_t*>_data(idx)
        elif self.index == 2:
            ia = self._target(io, np.int64)
            idx = np.empty(self.alloc, np.int64) if ia is None else ia
            j.flat = <int64_t*>_data(idx)
        j.x = _data(x)
        _dispatch_typed(self.op, &j, self.kind, self.size, _data(y))
        if self.axes is not None:
            y = y.transpose(self.axes)
            if idx is not None:
                idx = idx.transpose(self.axes)
        if out is None:
            return y, idx
        return _delivered(yo, ya, y), _delivered(io, ia, idx)

    cdef object _target(self, out, dtype):
        # out as the loops write (alloc's shape, C order) when it is laid out
        # so, else None.
        if out is None or out.dtype != dtype:
            return None
        a = out if self.inverse is None else out.transpose(self.inverse)
        return a if a.flags.c_contiguous else None


cdef inline object _delivered(out, direct, a):
    # The result for a caller who gave ``out``: out itself, written by the
    # loops (direct) or here.
    if out is None:
        return a
    if direct is None:
        out[...] = a
    return out


cdef inline bint _plain(v):
    if v is None or type(v) is int:
        return True
    if type(v) is not tuple:
        return False
    for e in <tuple>v:
        if type(e) is not int:
            return False
    return True


cdef object _forward_key(x, tuple call):
    # call: (nd, kernel_size, stride, padding, dilation, ceil_mode, indices,
    # data_format).  None: not a call a plan may serve (see the top).
    if (type(x) is not np.ndarray or len(call) != 8 or type(call[5]) is not bool
            or not (call[7] is None or type(call[7]) is str)
            or not (_plain(call[1]) and _plain(call[2]) and _plain(call[3])
                    and _plain(call[4]))):
        return None
    # The dtype by identity: the kept plan holds a reference to it, so while
    # the entry exists no other dtype can have its id (remember_forward_plan
    # stores neither non-native nor float16 ones).
    return (call, x.shape, x.strides, id(x.dtype))


def find_forward_plan(x, tuple call):
    """The plan kept for this call of ``x``, or None."""
    key = _forward_key(x, call)
    return None if key is None else _forward_plans.get(key)


def remember_forward_plan(_ForwardPlan plan, x, tuple call):
    """Keep ``plan`` for later calls like this one (checked: x is the array
    the checks passed, after any conversion); no-op for calls a plan may
    not serve."""
    key = _forward_key(x, call)
    dtype = x.dtype
    if key is None or not dtype.isnative or dtype == np.float16 or x.size == 0:
        return
    if len(_forward_plans) >= _MAX_PLANS:
        _forward_plans.clear()
    plan.user_dtype = dtype
    _forward_plans[key] = plan


def forward_plans_kept():
    """How many plans are kept now (at most _MAX_PLANS)."""
    return len(_forward_plans)


def plan_forward(x5, params, out_dhw, indices, bint channels_last=False):
    """A plan for a validated, non-empty (N, C, D, H, W) array of a dtype the
    loops read (not float16), outputs as (N, C, D, H, W) until for_user."""
    return _ForwardPlan(x5, params, out_dhw, indices, channels_last)

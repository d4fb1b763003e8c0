# srcdiff: gradient of loss (tests/compiler/golden_functions.py:13) with respect to w
# path: 0
# to run: _saved, _path = {}, []; value = loss_primal(_saved, _path, <args>); rt.path_key(_path); grads = loss_adjoint(_saved, 1.0)
# the primal of this path: a call going another way raises rt.Diverged and is traced again
from srcdiff import runtime as rt
import numpy as np


def loss_primal(_saved, _path, /, w, x, y):
    # line 14: h = np.tanh(x @ w)
    t1 = x @ w
    _saved[1] = (x, w)
    h = np.tanh(t1)
    _saved[2] = h
    # line 15: if h.sum() > 0:
    t2 = h.sum()
    t3 = t2 > 0
    if t3:
        raise rt.Diverged()
    _path.append(0)
    # line 17: return np.mean((h - y) ** 2)
    t5 = h - y
    t6 = t5 ** 2
    _saved[3] = t5
    t7 = rt.np_mean(t6)
    _saved[4] = t6
    return t7


def loss_adjoint(_saved, d_result):
    # line 17: return np.mean((h - y) ** 2)
    t6 = _saved[4]
    t5 = _saved[3]
    d_t5 = rt.unreduce_times(d_result / rt.size(t6), t6, None, False, t5, 2)
    # line 15: if branch not taken
    # line 14: h = np.tanh(x @ w)
    h = _saved[2]
    d_t1 = d_t5 * (1.0 - h * h)
    x, w = _saved[1]
    d_w = rt.matmul_rhs(d_t1, x, w)
    return (d_w,)

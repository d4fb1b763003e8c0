# srcdiff: gradient of logsumexp (tests/compiler/golden_functions.py:20) with respect to x
# path: straight line
# to run: _saved, _path = {}, []; value = logsumexp_primal(_saved, _path, <args>); rt.path_key(_path); grads = logsumexp_adjoint(_saved, 1.0)
from srcdiff import runtime as rt
import numpy as np


def logsumexp_primal(_saved, _path, /, x):
    # line 21: m = x.max()
    m = x.max()
    _saved[1] = (m, x)
    # line 22: return m + np.log(np.sum(np.exp(x - m)))
    t1 = x - m
    t2 = np.exp(t1)
    _saved[2] = t2
    t3 = rt.np_sum(t2)
    t4 = np.log(t3)
    _saved[3] = t3
    t5 = m + t4
    return t5


def logsumexp_adjoint(_saved, d_result):
    # line 22: return m + np.log(np.sum(np.exp(x - m)))
    t3 = _saved[3]
    d_t3 = d_result / t3
    t2 = _saved[2]
    d_t1 = rt.unreduce_times(d_t3, t2, None, False, t2)
    m = _saved[1][0]
    d_m = d_result - rt.unbroadcast(d_t1, m)
    # line 21: m = x.max()
    m, x = _saved[1]
    d_x = d_t1 + rt.extreme_grad(d_m, m, x, None, False)
    return (d_x,)

# srcdiff: gradient of cumulative (tests/compiler/golden_functions.py:66) with respect to x
# path: straight line
# to run: _saved, _path = {}, []; value = cumulative_primal(_saved, _path, <args>); rt.path_key(_path); grads = cumulative_adjoint(_saved, 1.0)
from srcdiff import runtime as rt
import numpy as np


def cumulative_primal(_saved, _path, /, x):
    # line 67: h = np.zeros(len(x))
    t1 = len(x)
    h = np.zeros(t1)
    # line 68: run = 0.0
    run = 0.0
    # line 69: for i in range(len(x)):
    t2 = len(x)
    _saved[1] = (h, run, x)
    _loop2 = []
    _saved[2] = _loop2
    for i in range(t2):
        _s1 = {}
        _loop2.append(_s1)
        # line 70: run = run * 0.9 + x[i]
        t3 = run * 0.9
        t4 = x[i]
        _s1[3] = i
        run = t3 + t4
        # line 71: h[i] += run
        t5 = h[i]
        _s1[4] = h
        t6 = t5 + run
        _s1[5] = (t5, run)
        h = rt.setitem(h, i, t6)
        _s1[6] = t6
    _saved[7] = (h, run)
    # line 72: return np.sum(h * h)
    t8 = h * h
    t9 = rt.np_sum(t8)
    _saved[8] = t8
    return t9


def cumulative_adjoint(_saved, d_result):
    # line 72: return np.sum(h * h)
    t8 = _saved[8]
    d_t8 = rt.unreduce(d_result, t8, None, False)
    h = _saved[7][0]
    d_h = d_t8 * 2.0 * h
    # line 69: for i in range(len(x)):
    x = _saved[1][2]
    d_run = rt.zeros_like(_saved[7][1])
    d_x = rt.zeros_like(x)
    for _s1 in reversed(_saved[2]):
        # line 71: h[i] += run
        t6 = _s1[6]
        i = _s1[3]
        d_x1, d_value1 = rt.setitem_grads(d_h, i, t6)
        t5, run = _s1[5]
        d_t5 = rt.unbroadcast(d_value1, t5)
        d_run = d_run + rt.unbroadcast(d_value1, run)
        h = _s1[4]
        d_h = d_x1 + rt.index_grad(h, i, d_t5)
        # line 70: run = run * 0.9 + x[i]
        d_x = rt.index_add(d_x, i, d_run)
        d_run = d_run * 0.9
    return (d_x,)

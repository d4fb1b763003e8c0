# srcdiff: gradient of rnn (tests/compiler/golden_functions.py:25) with respect to w, u
# path: straight line
# to run: _saved, _path = {}, []; value = rnn_primal(_saved, _path, <args>); rt.path_key(_path); grads = rnn_adjoint(_saved, 1.0)
from srcdiff import runtime as rt
import numpy as np


def rnn_primal(_saved, _path, /, w, u, xs):
    # line 26: h = np.zeros(w.shape[0])
    t1 = w.shape
    t2 = t1[0]
    h = np.zeros(t2)
    # line 27: total = 0.0
    total = 0.0
    # line 28: for x in xs:
    t3 = rt.iterable(xs)
    t4 = len(t3)
    _saved[1] = (h, total, u, w)
    _loop2 = []
    _saved[2] = _loop2
    for i1 in range(t4):
        _s1 = {}
        _loop2.append(_s1)
        x = t3[i1]
        # line 29: h = np.tanh(w @ h + u @ x)
        t5 = w @ h
        _s1[3] = h
        rt.operands('@', u, x)
        t6 = u @ x
        _s1[4] = x
        t7 = t5 + t6
        _s1[5] = (t5, t6)
        h = np.tanh(t7)
        _s1[6] = h
        # line 30: total = total + np.sum(h * h)
        t8 = h * h
        t9 = rt.np_sum(t8)
        _s1[7] = t8
        t10 = total + t9
        total = t10
    _saved[8] = (h, total)
    # line 31: return total
    return total


def rnn_adjoint(_saved, d_result):
    # line 28: for x in xs:
    _, _, u, w = _saved[1]
    d_h = rt.zeros_like(_saved[8][0])
    d_u = rt.zeros_like(u)
    d_w = rt.zeros_like(w)
    d_total = d_result
    for _s1 in reversed(_saved[2]):
        # line 30: total = total + np.sum(h * h)
        t8 = _s1[7]
        d_t8 = rt.unreduce(d_total, t8, None, False)
        h = _s1[6]
        d_h = d_h + d_t8 * 2.0 * h
        # line 29: h = np.tanh(w @ h + u @ x)
        d_t7 = d_h * (1.0 - h * h)
        t5, t6 = _s1[5]
        d_t5 = rt.unbroadcast(d_t7, t5)
        d_t6 = rt.unbroadcast(d_t7, t6)
        x = _s1[4]
        d_u += rt.matmul_lhs(d_t6, u, x)
        h = _s1[3]
        d_w += rt.matmul_lhs(d_t5, w, h)
        d_h = rt.matmul_rhs(d_t5, w, h)
    return (d_w, d_u)

# srcdiff: gradient of rnn (tests/compiler/golden_functions.py:25) with respect to w, u
# path: straight line
import numpy as xp
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
    t3 = len(xs)
    _saved[1] = (h, total, u, w)
    _loop2 = []
    _saved[2] = _loop2
    for i1 in range(t3):
        _s1 = {}
        _loop2.append(_s1)
        x = xs[i1]
        # line 29: h = np.tanh(w @ h + u @ x)
        t4 = w @ h
        _s1[3] = (w, h)
        t5 = u @ x
        _s1[4] = (u, x)
        t6 = t4 + t5
        _s1[5] = (t4, t5)
        h = np.tanh(t6)
        _s1[6] = h
        # line 30: total = total + np.sum(h * h)
        t7 = h * h
        _s1[7] = h
        t8 = np.sum(t7)
        _s1[8] = t7
        t9 = total + t8
        _s1[9] = (total, t8)
        total = t9
    # line 31: return total
    return total


def rnn_adjoint(_saved, d_result):
    # line 28: for x in xs:
    h, total, u, w = _saved[1]
    d_h = rt.zeros_like(h)
    d_u = rt.zeros_like(u)
    d_w = rt.zeros_like(w)
    d_total = d_result
    for _s1 in reversed(_saved[2]):
        # line 30: total = total + np.sum(h * h)
        total, t8 = _s1[9]
        d_t8 = rt.unbroadcast(d_total, t8)
        d_total = rt.unbroadcast(d_total, total)
        t7 = _s1[8]
        d_t7 = rt.unreduce(d_t8, t7, None, False)
        h = _s1[7]
        d_h = d_h + rt.unbroadcast(d_t7 * h, h)
        d_h += rt.unbroadcast(d_t7 * h, h)
        # line 29: h = np.tanh(w @ h + u @ x)
        h = _s1[6]
        d_t6 = d_h * (1.0 - h * h)
        t4, t5 = _s1[5]
        d_t4 = rt.unbroadcast(d_t6, t4)
        d_t5 = rt.unbroadcast(d_t6, t5)
        u, x = _s1[4]
        d_u += rt.matmul_lhs(d_t5, u, x)
        w, h = _s1[3]
        d_w += rt.matmul_lhs(d_t4, w, h)
        d_h = rt.matmul_rhs(d_t4, w, h)
    return (d_w, d_u)

# srcdiff: gradient of branchy_loop (tests/compiler/golden_functions.py:34) with respect to x
# path: ((0,), (1,))
# to run: _saved, _path = {}, []; value = branchy_loop_primal(_saved, _path, <args>); rt.path_key(_path); grads = branchy_loop_adjoint(_saved, 1.0)
import numpy as xp
from srcdiff import runtime as rt
import numpy as np


def branchy_loop_primal(_saved, _path, /, x):
    # line 35: s = 0.0
    s = 0.0
    # line 36: for i in range(len(x)):
    t1 = len(x)
    _saved[1] = (s, x)
    _loop2 = rt.Iterations()
    _saved[2] = _loop2
    _path.append(_loop2)
    for i in range(t1):
        _s1 = {}
        _p1 = []
        _loop2.append([_p1, _s1])
        # line 37: if x[i] > 0:
        t2 = x[i]
        t3 = t2 > 0
        if t3:
            _p1.append(1)
            # line 38: s = s + np.sin(x[i]) * s
            t4 = x[i]
            _s1[3] = i
            t5 = np.sin(t4)
            _s1[4] = t4
            t6 = t5 * s
            _s1[5] = (s, t5)
            t7 = s + t6
            s = t7
        else:
            _p1.append(0)
            # line 40: s = s * 0.5 - x[i]
            t8 = s * 0.5
            t9 = x[i]
            _s1[6] = i
            s = t8 - t9
    _saved[7] = s
    # line 41: return s
    return s


def branchy_loop_adjoint(_saved, d_result):
    # line 36: for i in range(len(x)):
    x = _saved[1][1]
    d_x = rt.zeros_like(x)
    d_s = d_result
    for _v1, _s1 in reversed(_saved[2]):
        if _v1 == 0:
            # line 40: s = s * 0.5 - x[i]
            d_t9 = -d_s
            i = _s1[6]
            d_x = rt.index_add(d_x, i, d_t9)
            d_s = d_s * 0.5
            # line 37: if branch not taken
        else:
            # line 38: s = s + np.sin(x[i]) * s
            s, t5 = _s1[5]
            d_t5 = d_s * s
            d_s = d_s + d_s * t5
            t4 = _s1[4]
            d_t4 = d_t5 * xp.cos(t4)
            i = _s1[3]
            d_x = rt.index_add(d_x, i, d_t4)
            # line 37: if branch taken
    return (d_x,)

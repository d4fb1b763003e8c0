# srcdiff: gradient of first_positive (tests/compiler/golden_functions.py:75) with respect to x
# path: ((0,), (1,))
# to run: _saved, _path = {}, []; value = first_positive_primal(_saved, _path, <args>); rt.path_key(_path); grads = first_positive_adjoint(_saved, 1.0)
from srcdiff import runtime as rt
import numpy as np


def first_positive_primal(_saved, _path, /, x):
    # line 76: for i in range(len(x)):
    t1 = len(x)
    _saved[1] = x
    _loop2 = rt.Iterations()
    _saved[2] = _loop2
    _path.append(_loop2)
    for i in range(t1):
        _s1 = {}
        _p1 = []
        _loop2.append([_p1, _s1])
        # line 77: if x[i] > 0:
        t2 = x[i]
        t3 = t2 > 0
        if t3:
            _p1.append(1)
            # line 78: return x[i] * np.exp(x[i])
            t4 = x[i]
            _s1[3] = i
            t5 = x[i]
            t6 = np.exp(t5)
            _s1[4] = t6
            t7 = t4 * t6
            _s1[5] = t4
            return t7
        else:
            _p1.append(0)
    # line 79: return np.sum(x)
    t8 = rt.np_sum(x)
    _saved[6] = x
    return t8


def first_positive_adjoint(_saved, d_result):
    # line 76: for i in range(len(x)):
    x = _saved[1]
    d_x = rt.zeros_like(x)
    for _v1, _s1 in reversed(_saved[2]):
        if _v1 == 0:
            # line 77: if branch not taken
            pass
        else:
            # line 78: return x[i] * np.exp(x[i])
            t4 = _s1[5]
            t6 = _s1[4]
            d_t4 = d_result * t6
            d_t6 = d_result * t4
            d_t5 = d_t6 * t6
            i = _s1[3]
            d_x = rt.index_add(d_x, i, d_t5)
            d_x = rt.index_add(d_x, i, d_t4)
            # line 77: if branch taken
    return (d_x,)

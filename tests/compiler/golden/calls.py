# srcdiff: gradient of calls (tests/compiler/golden_functions.py:86) with respect to x, y
# path: straight line
# to run: _saved, _path = {}, []; value = calls_primal(_saved, _path, <args>); rt.path_key(_path); grads = calls_adjoint(_saved, 1.0)
import numpy as xp
from srcdiff import runtime as rt
import numpy as np


def calls_primal(_saved, _path, /, x, y):
    # line 87: a = square(x)
    a, _saved[1] = rt.call(square, (0,), x)
    # line 88: b = square(np.sin(y))
    t1 = np.sin(y)
    _saved[2] = y
    b, _saved[3] = rt.call(square, (0,), t1)
    # line 89: return np.sum(a * b)
    rt.operands('*', a, b)
    t2 = a * b
    _saved[4] = (a, b)
    rt.arguments('np.sum', t2, None, None, None, False, None, None)
    t3 = rt.np_sum(t2)
    _saved[5] = t2
    return t3


def calls_adjoint(_saved, d_result):
    # line 89: return np.sum(a * b)
    t2 = _saved[5]
    d_t2 = rt.unreduce(d_result, t2, None, False)
    a, b = _saved[4]
    d_a = rt.unbroadcast(d_t2 * b, a)
    d_b = rt.unbroadcast(d_t2 * a, b)
    # line 88: b = square(np.sin(y))
    r1 = rt.call_vjp(_saved[3], d_b)
    d_t1 = r1[0]
    y = _saved[2]
    d_y = d_t1 * xp.cos(y)
    # line 87: a = square(x)
    r2 = rt.call_vjp(_saved[1], d_a)
    d_x = r2[0]
    return (d_x, d_y)


# called: square (tests/compiler/golden_functions.py:82) with respect to v; path: straight line


def square_primal(_saved, _path, /, v):
    # line 83: return v * v
    t1 = v * v
    _saved[1] = v
    return t1


def square_adjoint(_saved, d_result):
    # line 83: return v * v
    v = _saved[1]
    d_v = d_result * 2.0 * v
    return (d_v,)

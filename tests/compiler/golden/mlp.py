# srcdiff: gradient of mlp (tests/compiler/golden_functions.py:60) with respect to params
# path: straight line
# to run: _saved, _path = {}, []; value = mlp_primal(_saved, _path, <args>); rt.path_key(_path); grads = mlp_adjoint(_saved, 1.0)
import numpy as xp
from srcdiff import runtime as rt
import numpy as np


def mlp_primal(_saved, _path, /, params, x):
    # line 61: h = np.maximum(x @ params["w1"] + params["b1"], 0.0)
    t1 = params['w1']
    _saved[1] = params
    rt.operands('@', x, t1)
    t2 = x @ t1
    _saved[2] = (x, t1)
    t3 = params['b1']
    rt.operands('+', t2, t3)
    t4 = t2 + t3
    _saved[3] = (t2, t3)
    h = np.maximum(t4, 0.0)
    _saved[4] = t4
    # line 62: out = h @ params["w2"]
    t5 = params['w2']
    rt.operands('@', h, t5)
    out = h @ t5
    _saved[5] = (h, t5)
    # line 63: return np.sum(out**2)
    t6 = out ** 2
    _saved[6] = out
    t7 = rt.np_sum(t6)
    _saved[7] = t6
    return t7


def mlp_adjoint(_saved, d_result):
    # line 63: return np.sum(out**2)
    t6 = _saved[7]
    out = _saved[6]
    d_out = rt.unreduce_times(d_result, t6, None, False, out, 2)
    # line 62: out = h @ params["w2"]
    h, t5 = _saved[5]
    d_h = rt.matmul_lhs(d_out, h, t5)
    d_t5 = rt.matmul_rhs(d_out, h, t5)
    params = _saved[1]
    d_params = rt.index_grad(params, 'w2', d_t5)
    # line 61: h = np.maximum(x @ params["w1"] + params["b1"], 0.0)
    t4 = _saved[4]
    share1 = xp.where(t4 == 0.0, 0.5 * d_h, d_h)
    d_t4 = xp.where(t4 >= 0.0, share1, 0.0)
    t2, t3 = _saved[3]
    d_t2 = rt.unbroadcast(d_t4, t2)
    d_t3 = rt.unbroadcast(d_t4, t3)
    d_params = rt.index_add(d_params, 'b1', d_t3)
    x, t1 = _saved[2]
    d_t1 = rt.matmul_rhs(d_t2, x, t1)
    d_params = rt.index_add(d_params, 'w1', d_t1)
    return (d_params,)

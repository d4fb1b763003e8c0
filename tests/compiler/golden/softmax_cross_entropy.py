# srcdiff: gradient of softmax_cross_entropy (tests/compiler/golden_functions.py:53) with respect to w
# path: straight line
# to run: _saved, _path = {}, []; value = softmax_cross_entropy_primal(_saved, _path, <args>); rt.path_key(_path); grads = softmax_cross_entropy_adjoint(_saved, 1.0)
from srcdiff import runtime as rt
import numpy as np


def softmax_cross_entropy_primal(_saved, _path, /, w, x, labels):
    # line 54: logits = x @ w
    logits = x @ w
    _saved[1] = (x, w)
    # line 55: shifted = logits - logits.max(axis=1, keepdims=True)
    t1 = logits.max(axis=1, keepdims=True)
    _saved[2] = (t1, logits)
    shifted = logits - t1
    # line 56: logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    t2 = np.exp(shifted)
    _saved[3] = t2
    t3 = t2.sum(axis=1, keepdims=True)
    t4 = np.log(t3)
    _saved[4] = t3
    logp = shifted - t4
    _saved[5] = t4
    # line 57: return -np.mean(logp[np.arange(len(labels)), labels])
    t5 = len(labels)
    t6 = np.arange(t5)
    t7 = logp[t6, labels]
    _saved[6] = (logp, t6, labels)
    t8 = rt.np_mean(t7)
    _saved[7] = t7
    t9 = -t8
    return t9


def softmax_cross_entropy_adjoint(_saved, d_result):
    # line 57: return -np.mean(logp[np.arange(len(labels)), labels])
    d_t8 = -d_result
    t7 = _saved[7]
    d_t7 = rt.unreduce(d_t8 / rt.size(t7), t7, None, False)
    logp, t6, labels = _saved[6]
    d_logp = rt.index_grad(logp, (t6, labels), d_t7)
    # line 56: logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    t4 = _saved[5]
    d_t4 = -rt.unbroadcast(d_logp, t4)
    t3 = _saved[4]
    d_t3 = d_t4 / t3
    t2 = _saved[3]
    d_shifted = d_logp + rt.unreduce_times(d_t3, t2, 1, True, t2)
    # line 55: shifted = logits - logits.max(axis=1, keepdims=True)
    t1 = _saved[2][0]
    d_t1 = -rt.unbroadcast(d_shifted, t1)
    t1, logits = _saved[2]
    d_logits = d_shifted + rt.extreme_grad(d_t1, t1, logits, 1, True)
    # line 54: logits = x @ w
    x, w = _saved[1]
    d_w = rt.matmul_rhs(d_logits, x, w)
    return (d_w,)

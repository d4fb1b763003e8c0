"""Representative functions whose generated gradient source is kept in ``golden/``.

Each entry of ``GOLDEN`` is (function, arguments, wrt). Changing a function here (or
adding lines above one) changes its golden file: rewrite them with
``SRCDIFF_UPDATE_GOLDEN=1 pytest tests/compiler/test_golden.py`` and read the diff.
"""

from __future__ import annotations

import numpy as np


def loss(w, x, y):
    h = np.tanh(x @ w)
    if h.sum() > 0:
        h = h * 2.0
    return np.mean((h - y) ** 2)


def logsumexp(x):
    m = x.max()
    return m + np.log(np.sum(np.exp(x - m)))


def rnn(w, u, xs):
    h = np.zeros(w.shape[0])
    total = 0.0
    for x in xs:
        h = np.tanh(w @ h + u @ x)
        total = total + np.sum(h * h)
    return total


def branchy_loop(x):
    s = 0.0
    for i in range(len(x)):
        if x[i] > 0:
            s = s + np.sin(x[i]) * s
        else:
            s = s * 0.5 - x[i]
    return s


def newton_while(a):
    x = a
    n = 0
    while n < 5:
        x = 0.5 * (x + a / x)
        n = n + 1
    return x


def softmax_cross_entropy(w, x, labels):
    logits = x @ w
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


def mlp(params, x):
    h = np.maximum(x @ params["w1"] + params["b1"], 0.0)
    out = h @ params["w2"]
    return np.sum(out**2)


def cumulative(x):
    h = np.zeros(len(x))
    run = 0.0
    for i in range(len(x)):
        run = run * 0.9 + x[i]
        h[i] += run
    return np.sum(h * h)


def first_positive(x):
    for i in range(len(x)):
        if x[i] > 0:
            return x[i] * np.exp(x[i])
    return np.sum(x)


def square(v):
    return v * v


def calls(x, y):
    a = square(x)
    b = square(np.sin(y))
    return np.sum(a * b)


_RNG = np.random.default_rng(7)
_X = _RNG.standard_normal((4, 3))

GOLDEN = [
    (loss, (np.full(3, 0.5), _X, np.ones(4)), 0),
    (logsumexp, (np.array([0.5, -1.0, 2.0, 0.25]),), 0),
    (
        rnn,
        (
            _RNG.standard_normal((3, 3)) * 0.5,
            _RNG.standard_normal((3, 2)),
            _RNG.standard_normal((5, 2)),
        ),
        (0, 1),
    ),
    (branchy_loop, (np.array([0.5, -1.0, 2.0, -0.25]),), 0),
    (newton_while, (2.0,), 0),
    (softmax_cross_entropy, (_RNG.standard_normal((3, 3)), _X, np.array([0, 2, 1, 1])), 0),
    (
        mlp,
        (
            {
                "w1": _RNG.standard_normal((3, 4)),
                "b1": np.zeros(4),
                "w2": _RNG.standard_normal((4, 2)),
            },
            _X,
        ),
        0,
    ),
    (cumulative, (np.array([0.5, -1.0, 2.0]),), 0),
    (first_positive, (np.array([-0.5, -1.0, 2.0, 0.5]),), 0),
    (calls, (np.array([0.5, -1.0]), np.array([2.0, 0.1])), (0, 1)),
]

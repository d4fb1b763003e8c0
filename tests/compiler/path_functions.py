"""Functions whose path decides what runs (for test_paths.py)."""

import numpy as np

CALLS = []


def branchy(x):
    h = np.tanh(x)
    if h.sum() > 0:
        h = h * 2.0
    else:
        h = h * 3.0 + 1.0
    return np.sum(h * h)


def early_return(x):
    if np.sum(x) > 0:
        return np.sum(np.sin(x))
    return np.sum(np.cos(x))


def with_side_effect(x):
    CALLS.append(1)
    if np.sum(x) > 0:
        return np.sum(x * 2.0)
    return np.sum(x * 5.0)


def halve_or_triple(h):
    if np.sum(h) > 0:
        return h * 0.5
    return h * 3.0


def calls_a_branchy_helper(x):
    return np.sum(halve_or_triple(np.sin(x)) ** 2)


def power_sum(x, n):
    if n == 0:
        return np.sum(x)
    return power_sum(x * x, n - 1)


def sum_of(w, xs):
    total = 0.0
    for x in xs:
        total = total + np.sum(np.sin(w * x))
    return total


LOG = [0]


def counts_in_a_list(x):
    LOG[0] = LOG[0] + 1
    return np.sum(x * 3.0)

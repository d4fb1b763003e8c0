"""A module of its own for tests/test_export.py: globals and functions under names that
test_export.py gives other objects, which an exported module must keep apart."""

import numpy as np
from numpy import sin as act  # test_export's act is np.tanh

SHIFT = 100.0  # test_export's SHIFT is 1.0


def shifted(x):
    return x * SHIFT


def shifted_sum(x):  # the comprehension's SHIFT is its own
    return x * SHIFT + sum([SHIFT * 2.0 for SHIFT in (1.0, 2.0)])


def activated(x):
    return act(x)


def squash(h):  # test_export's squash(h, w) computes something else
    return h * 3.0


def squashed(x):
    return np.sum(squash(x))


def _scaler():
    factor = 2.0  # a closure variable, as the loss of test_export's closure_and_callee

    def scaled_by_factor(x):
        return x * factor

    return scaled_by_factor


scaled_by_factor = _scaler()


def countdown(x, n):
    return x if n == 0 else countdown(x * 0.5, n - 1)

"""A module whose globals are read by functions given to srcdiff, and changed by the
functions of another module (``module_bumper``) called meanwhile."""

import numpy as np

from . import module_bumper

N = 2.0


def reads_n_around_a_call(x, bump=module_bumper.by_attribute):
    """``N`` read before and after a call of another module's function assigning it."""
    y = np.sum(x) * N
    bump()
    return y + np.sum(x**2) * N


def assigns_n_around_a_call(x, bump=module_bumper.by_attribute):
    """``global N``: assigned here, then assigned by another module's function."""
    global N
    N = N * 2.0
    bump()
    return np.sum(x * x) * N


def assigns_n_around_a_named_call(x):
    """As above, the other module's function called by its name."""
    global N
    N = N * 2.0
    module_bumper.by_attribute()
    return np.sum(x * x) * N


def reads_n_after_a_call_in_its_statement(x, bump=module_bumper.by_attribute):
    global N
    N = N * 2.0
    return np.sum(x) * bump() * N


def _doubles_n():
    global N
    N = N * 2.0


def reads_n_around_a_call_of_its_module(x, bump=None):
    """``N`` read, then assigned by a function of its own module."""
    y = np.sum(x) * N
    _doubles_n()
    return y + np.sum(x**2) * N


def tensor_step(w, bump=module_bumper.by_attribute):
    """Tensor code reading ``N`` around a call assigning it: each read is its own."""
    loss = (w * N).sum()
    bump()
    loss = loss + (w * w * N).sum()
    loss.backward()
    return loss


def counts_then_reads_beside_array_methods(x):
    """``global N`` read in a statement calling an array's methods, which assign no
    global: not refused (the global is read again after it all the same)."""
    global N
    N = N + 1.0
    return x.sum() * N + np.sum(x.reshape(-1) ** 2) * N


def scaled_by_n_each_step(x):
    """A generator reading ``N`` for each of its values."""
    for _ in range(3):
        yield x * N


def doubles_n():
    """``N`` assigned (``global N``) by a function of this module."""
    _doubles_n()

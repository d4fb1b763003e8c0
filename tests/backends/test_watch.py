"""The watch for a silent fall back to NumPy sees NumPy float arrays where they are."""

import numpy as np

import srcdiff as sd
from srcdiff import runtime as rt

from .watch import numpy_floats


def f(x):
    return np.sum(np.tanh(x) ** 2)


def test_the_watch_lists_numpy_floats_in_generated_code_and_helpers():
    with numpy_floats() as found:
        sd.grad(f)(np.ones(3))
        rt.unbroadcast(np.ones((2, 3)), np.ones(3))
    names = {entry.split(":")[0] for entry in found}
    assert {"f_primal", "f_adjoint", "unbroadcast"} <= names


def test_the_watch_passes_integer_arrays_and_code_of_its_own():
    with numpy_floats() as found:
        rt.transpose_grad(np.ones((2, 3), dtype=np.int64), (1, 0))
        np.tanh(np.ones(3))
    assert found == []

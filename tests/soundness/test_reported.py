"""Every function that once had a wrong gradient, changed the caller's objects or
crashed now gets the right gradient (or, where marked, a ``CompileError``)."""

import numpy as np
import pytest

import srcdiff as sd

from .reported import CASES
from .verify import verify


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reported_function(case):
    outcome = verify(case.fn, case.args, case.wrt)
    assert outcome == "ok" or case.refusable, f"{case.name} was refused"


def _entry_updated_in_place(w, x):
    a = np.sin(x) * 1.0
    held = [a]
    held[0] += 0.5  # Python updates the array ``a`` names, in place
    return np.sum(np.tanh(a * w))


@pytest.mark.xfail(
    strict=True,
    reason="known: `held[0] += v` on a list entry holding an array is compiled as "
    "`held[0] = held[0] + v`, so `a`, which Python updates in place, keeps its old value "
    "in the primal and the gradient (a wrong value without a word); to be followed as an "
    "in-place update of the array, or refused when the entry is an array",
)
def test_an_augmented_assignment_to_a_list_entry_updates_the_array_it_holds():
    w, x = np.array([0.3, -0.2, 0.8]), np.array([0.5, 1.0, -0.4])
    value, grad = sd.value_and_grad(_entry_updated_in_place)(w, x)
    assert value == _entry_updated_in_place(w, x)
    e = np.eye(3) * 1e-6
    fd = [(_entry_updated_in_place(w + d, x) - _entry_updated_in_place(w - d, x)) / 2e-6 for d in e]
    np.testing.assert_allclose(grad, fd, rtol=1e-6)

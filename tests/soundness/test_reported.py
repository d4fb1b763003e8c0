"""Every function that once had a wrong gradient, changed the caller's objects or
crashed now gets the right gradient (or, where marked, a ``CompileError``)."""

import numpy as np
import pytest

import srcdiff as sd

from .reported import CASES, _cached, a_write_into_a_dict_field_of_a_global_object, vec
from .verify import verify


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reported_function(case):
    outcome = verify(case.fn, case.args, case.wrt)
    assert outcome == "ok" or case.refusable, f"{case.name} was refused"


def test_a_function_updating_its_default_list_keeps_it_as_python_does():
    """Called with its default, the function's list is written back as Python leaves it:
    the next call sees the earlier entries."""
    store: list = []

    def appended(v, acc=store):
        acc.append(v)
        return sum(np.sum(a) for a in acc)

    x = np.array([1.0, 2.0])
    g = sd.value_and_grad(appended)
    assert g(x)[0] == pytest.approx(3.0)
    assert g(x)[0] == pytest.approx(6.0) and len(store) == 2


def test_a_dict_fields_write_reaches_the_callers_dict():
    """A write into a dict a field of the caller's object holds reaches that dict, as a
    plain call's does (the field's own dict, which every name holding it sees)."""
    cache = _cached.cache
    calls = cache["calls"]
    sd.grad(a_write_into_a_dict_field_of_a_global_object)(vec(3))
    assert _cached.cache is cache and cache["calls"] == calls + 1

"""The compiler's battery (tests/compiler/functions.py) on every backend.

Each function's arguments are moved to the backend and ``sd.value_and_grad`` runs there:
the value and the gradients must be the backend's (nothing converted to NumPy behind the
user's back) and equal those computed on NumPy, which tests/compiler checks against
finite differences. The functions are written with NumPy (``np.tanh``, ``np.sum``);
compiled code calls the backend's counterparts.
"""

from __future__ import annotations

import numpy as np
import pytest
from compiler import functions  # noqa: F401 - registers the cases
from compiler.cases import CASES, Case

import srcdiff as sd

from .support import (
    STRICT,
    UNSUPPORTED_FUNCTIONS,
    assert_close,
    assert_on,
    backend_params,
    module,
    to_backend,
)
from .watch import numpy_floats

RUNNABLE = [c for c in CASES if not c.xfail]


@pytest.mark.parametrize("name", backend_params())
@pytest.mark.parametrize("case", RUNNABLE, ids=[c.name for c in RUNNABLE])
def test_function_on_backend_matches_numpy(case: Case, name: str):
    reason = UNSUPPORTED_FUNCTIONS.get(name, {}).get(case.name)
    if reason:
        pytest.skip(reason)
    xp = module(name)
    args = case.args()
    f = sd.value_and_grad(case.fn, wrt=case.positions)
    value, grads = f(*args, **case.kwargs)
    on = to_backend(args, xp)
    with numpy_floats() as fell_back:
        got_value, got_grads = f(*on, **case.kwargs)
    where = f"{case.name} on {name}"
    if xp is not np:
        assert not fell_back, f"{where}: NumPy float arrays in {fell_back}"
        assert_on(got_value, xp, f"{where}: the value")
        for i, d in zip(case.positions, got_grads, strict=True):
            assert_on(d, xp, f"{where}: the gradient of argument {i}")
    assert_close(got_value, value, f"{where}: the value", rtol=1e-9)
    assert_close(got_grads, grads, f"{where}: the gradients", rtol=1e-9)


LISTED = sorted(UNSUPPORTED_FUNCTIONS[STRICT])


def test_listed_functions_are_in_the_battery():
    assert set(LISTED) <= {c.name for c in CASES}


@pytest.mark.parametrize("fn_name", LISTED)
def test_listed_functions_do_fail_on_strict(fn_name: str):
    """The list of what array-api-strict cannot run holds nothing it can run."""
    case = next(c for c in CASES if c.name == fn_name)
    f = sd.value_and_grad(case.fn, wrt=case.positions)
    with pytest.raises(Exception):  # noqa: B017 - whatever the standard rejects
        f(*to_backend(case.args(), module(STRICT)), **case.kwargs)

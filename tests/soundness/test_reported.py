"""Every function that once had a wrong gradient, changed the caller's objects or
crashed now gets the right gradient (or, where marked, a ``CompileError``)."""

import pytest

from .reported import CASES
from .verify import verify


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reported_function(case):
    outcome = verify(case.fn, case.args, case.wrt)
    assert outcome == "ok" or case.refusable, f"{case.name} was refused"

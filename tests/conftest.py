"""Settings of the whole test run."""

from __future__ import annotations

import gc

import pytest

# The compiler makes and drops many small objects, and a test process holds all the
# collected tests and every unit compiled so far: at the default thresholds, the cyclic
# collector's passes over that heap took a tenth of a test run and almost half of
# collecting the tests. Fewer young passes, and the collected tests (alive to the end)
# left out of every later pass, cost under half of that. Tests of memory call
# ``gc.collect()`` themselves, which finds the same cycles.
gc.set_threshold(20_000, 20, 20)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Leave what collection made (modules, tests, parameters) out of later passes."""
    gc.collect()
    gc.freeze()


@pytest.fixture
def young_heap() -> None:
    """Leave what was made before the test out of its ``gc.collect()`` calls: a full pass
    over the heap of a whole test run takes seconds. A frozen object is never freed, so
    this can only keep an object alive, never let one kept alive pass for freed."""
    gc.freeze()

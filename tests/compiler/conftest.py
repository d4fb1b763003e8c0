"""Fixtures shared by the compiler's tests."""

from __future__ import annotations

import pytest

from srcdiff.rules import registry

# every table a registration or declaration writes
_TABLES = ("_RULES", "_TANGENTS", "_NONDIFF", "_UNSUPPORTED", "_LINEAR", "_MULTILINEAR",
           "_CONSTANT_IN", "_SEQUENCES", "_CASTS", "_NO_FORWARD", "_FORWARD_CALLS",
           "_KEYWORDS")  # fmt: skip


@pytest.fixture
def rules():
    """Restore the rule registry after the test: rules registered (or functions declared
    without gradient) for a test would otherwise outlive it, and tests/rules checks every
    rule in it. The tables are restored whole, so they take back their version: what was
    compiled before the test is not compiled again by the tests after it."""
    registry._load_imported_families()  # (a family loaded meanwhile would be lost)
    tables = [getattr(registry, name) for name in _TABLES]
    saved = [table.copy() for table in tables]
    version = registry.version()
    yield
    for table, before in zip(tables, saved, strict=True):
        table.clear()
        table.update(before)
    registry._VERSION[0] = version

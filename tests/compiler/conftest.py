"""Fixtures shared by the compiler's tests."""

from __future__ import annotations

import pytest

from srcdiff.rules import registry


@pytest.fixture
def rules():
    """Restore the rule registry after the test: rules registered (or functions declared
    without gradient) for a test would otherwise outlive it, and tests/rules checks every
    rule in it."""
    tables = (registry._RULES, registry._TANGENTS, registry._NONDIFF)
    saved = [dict(table) for table in tables]
    yield
    for table, before in zip(tables, saved, strict=True):
        table.clear()
        table.update(before)
    registry._VERSION[0] += 1

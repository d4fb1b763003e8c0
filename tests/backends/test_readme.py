"""The README's table of backends is the one ``coverage.py`` makes from the skip list
(``SRCDIFF_UPDATE_README=1`` rewrites it)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from .coverage import table, updated

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_holds_the_generated_backends_table():
    text = README.read_text()
    if os.environ.get("SRCDIFF_UPDATE_README"):
        README.write_text(updated(text))
        text = README.read_text()
    absent = sorted(set(re.findall(r"`np\.(\w+)`", text)) - set(dir(np)))
    if absent:  # the table names every rule of the NumPy it was made with
        pytest.skip(f"this NumPy ({np.__version__}) has no {', '.join(absent)}")
    assert table() in text, (
        "the README's backends table is stale: run SRCDIFF_UPDATE_README=1 "
        "python -m pytest tests/backends/test_readme.py"
    )

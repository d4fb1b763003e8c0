"""The README's table of backends is the one ``coverage.py`` makes from the skip list
(``SRCDIFF_UPDATE_README=1`` rewrites it)."""

from __future__ import annotations

import os
from pathlib import Path

from .coverage import table, updated

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_holds_the_generated_backends_table():
    text = README.read_text()
    if os.environ.get("SRCDIFF_UPDATE_README"):
        README.write_text(updated(text))
        text = README.read_text()
    assert table() in text, (
        "the README's backends table is stale: run SRCDIFF_UPDATE_README=1 "
        "python -m pytest tests/backends/test_readme.py"
    )

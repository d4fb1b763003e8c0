"""Every Python snippet of the README runs as pasted: in order, into one file run as a
script (srcdiff reads source). Snippets marked ``<!-- not run: ... -->`` show generated
source or PyTorch's code; they must still be Python."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"(<!-- not run: [^>]*-->\n)?```python\n(.*?)```", re.S)


def snippets() -> list[tuple[bool, str]]:
    return [(not marker, code) for marker, code in BLOCK.findall(README.read_text())]


def test_the_readme_has_snippets_to_run_and_to_show():
    runnable = [code for run, code in snippets() if run]
    assert len(runnable) >= 6 and len(snippets()) > len(runnable)
    for number, (_, code) in enumerate(snippets(), start=1):
        compile(code, f"README snippet {number}", "exec")


def test_every_snippet_runs_as_pasted(tmp_path):
    pytest.importorskip("array_api_strict")
    parts = [f"# ---- README snippet {n} ----\n{code}" for n, (run, code) in
             enumerate(snippets(), start=1) if run]  # fmt: skip
    script = tmp_path / "readme_session.py"
    script.write_text("\n".join(parts))
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]

"""The generated source of representative functions, compared with ``golden/*.py``.

A change in what the compiler generates shows here as a diff to read. After an intended
change, rewrite the files with ``SRCDIFF_UPDATE_GOLDEN=1 pytest tests/compiler/test_golden.py``.
The absolute path of ``golden_functions.py`` in the header is stored relative to the
repository.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import numpy as np
import pytest

import srcdiff as sd

from . import golden_functions
from .golden_functions import GOLDEN

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
UPDATE = os.environ.get("SRCDIFF_UPDATE_GOLDEN") == "1"


def generated(fn, args, wrt) -> str:
    g = sd.grad(fn, wrt=wrt)
    g(*args)
    text = sd.source(g)
    return text.replace(
        str(Path(golden_functions.__file__).resolve()),
        str(Path(golden_functions.__file__).resolve().relative_to(ROOT)),
    )


@pytest.mark.parametrize("fn, args, wrt", GOLDEN, ids=[entry[0].__name__ for entry in GOLDEN])
def test_generated_source_matches_the_golden_file(fn, args, wrt):
    path = HERE / "golden" / f"{fn.__name__}.py"
    text = generated(fn, args, wrt)
    assert "tests/compiler/golden_functions.py:" in text.splitlines()[0]
    if UPDATE or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        if not UPDATE:
            pytest.fail(f"{path} did not exist: written, check it in")
    expected = path.read_text()
    assert text == expected, (
        f"the generated source of {fn.__name__} differs from {path}; if the change is "
        "intended, rewrite it with SRCDIFF_UPDATE_GOLDEN=1"
    )


STANDALONE = [entry for entry in GOLDEN if entry[0] is not golden_functions.calls]


@pytest.mark.parametrize(
    "fn, args, wrt", STANDALONE, ids=[entry[0].__name__ for entry in STANDALONE]
)
def test_golden_source_runs_on_its_own_and_gives_the_same_gradient(fn, args, wrt):
    namespace: dict = {}
    exec(
        compile((HERE / "golden" / f"{fn.__name__}.py").read_text(), "<golden>", "exec"), namespace
    )
    saved: dict = {}
    path: list = []
    value = namespace[f"{fn.__name__}_primal"](saved, path, *args)
    namespace["rt"].path_key(path)  # labels each loop iteration with its kind of path
    grads = namespace[f"{fn.__name__}_adjoint"](saved, 1.0)
    expected = sd.value_and_grad(fn, wrt=wrt)(*args)
    assert value == pytest.approx(expected[0])
    wanted = expected[1] if isinstance(wrt, tuple) else (expected[1],)
    for got, want in zip(grads, wanted, strict=True):
        if isinstance(want, dict):
            for k in want:
                np.testing.assert_allclose(got[k], want[k], rtol=1e-12)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12)


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import srcdiff as sd
from compiler.golden_functions import GOLDEN
for fn, args, wrt in GOLDEN:
    g = sd.grad(fn, wrt=wrt)
    g(*args)
    print(sd.source(g))
"""


def test_generated_source_does_not_depend_on_the_hash_seed():
    """Set and dict orders of strings change with PYTHONHASHSEED: none may reach the source."""
    import subprocess
    import sys

    script = SCRIPT.format(tests=str(ROOT / "tests"))
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]


def test_the_readme_shows_the_source_the_quick_tour_generates():
    """The README's example is what ``sd.source`` gives for its ``loss`` on the branch
    taken (its ``w``, ``x`` and ``y`` are shaped as here)."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("def loss_primal(")
    shown = readme[start : readme.index("```", start)].strip()
    x = np.abs(np.arange(12.0).reshape(4, 3)) / 10.0
    text = generated(golden_functions.loss, (np.full(3, 0.5), x, np.ones(4)), 0)
    assert "if not t3:" in text  # the branch was taken
    assert text[text.index("def loss_primal(") :].strip() == shown


@pytest.mark.parametrize("fn, args, wrt", GOLDEN, ids=[entry[0].__name__ for entry in GOLDEN])
def test_the_source_imports_what_it_uses_and_nothing_else(fn, args, wrt):
    tree = ast.parse(generated(fn, args, wrt))
    imported = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert imported <= loaded, f"unused imports: {sorted(imported - loaded)}"
    free = {n for n in loaded if n in {"np", "xp", "rt", "math"}}
    assert free <= imported, f"used but not imported: {sorted(free - imported)}"

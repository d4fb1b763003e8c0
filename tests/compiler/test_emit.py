"""Stage 7: gast to source, with a ``# line N: <user statement>`` comment over each block
of statements that come from one user line, and a map back to the user's lines."""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import gast
import numpy as np
import pytest

import srcdiff as sd
import srcdiff as srcdiff_root
from srcdiff.compiler.emit import emit, to_ast
from srcdiff.compiler.parse import parse

from . import functions  # noqa: F401  (fills CASES)
from .cases import CASES

USER = {
    10: "def f(x, n):",
    11: "    y = x * 2.0",
    12: "    if n > 1:",
    13: "        y = y + 1.0",
    14: "    elif n > 0:",
    15: "        y = -y",
    16: "    for a, b in pairs:",
    17: "    return y",
}


def generated() -> gast.FunctionDef:
    source = textwrap.dedent("""
        def f(x, n):
            t1 = x * 2.0
            y = t1
            if n > 1:
                y = y + 1.0
            elif n > 0:
                y = -y
            else:
                pass
            for a, b in pairs:
                pass
            return y
    """)
    fn = gast.parse(source).body[0]
    lines = {2: 10, 3: 11, 4: 11, 5: 12, 6: 13, 7: 14, 8: 15, 10: 14, 11: 16, 12: 16, 13: 17}
    for node in gast.walk(fn):
        if isinstance(node, gast.stmt):
            node.lineno = lines[node.lineno]
    return fn


def test_each_block_gets_a_comment_naming_the_user_line():
    text, _ = emit([generated()], USER, [])
    lines = text.splitlines()
    assert lines[:4] == [
        "def f(x, n):",
        "    # line 11: y = x * 2.0",
        "    t1 = x * 2.0",
        "    y = t1",
    ]
    assert "        # line 13: y = y + 1.0" in lines
    assert text.count("# line 11:") == 1  # one comment for the two statements of line 11


def test_elif_chains_and_tuple_targets_read_as_python():
    text, _ = emit([generated()], USER, [])
    assert "    elif n > 0:" in text.splitlines()
    assert "    for a, b in pairs:" in text.splitlines()
    compile(text, "<emitted>", "exec")


def test_the_line_map_points_every_generated_line_at_its_user_line():
    text, linemap = emit([generated()], USER, ["# header"])
    lines = text.splitlines()
    assert len(linemap) == len(lines)
    assert linemap[0] is None  # the header is srcdiff's own
    for line, user in zip(lines, linemap, strict=True):
        match = re.match(r"\s*# line (\d+):", line)
        if match:
            assert user == int(match.group(1))
    assert linemap[lines.index("    t1 = x * 2.0")] == 11


def test_functions_are_separated_by_two_blank_lines():
    text, _ = emit([generated(), generated()], USER, ["# header"])
    assert "\n\n\ndef f(x, n):" in text
    assert text.startswith("# header\n\n\ndef f(")


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES[::5] if not c.xfail])
def test_line_comments_in_generated_source_quote_the_users_lines(case):
    g = sd.grad(case.fn, wrt=case.positions)
    g(*case.args(), **case.kwargs)
    text = sd.source(g)
    parsed_lines = parse(case.fn).lines
    comments = re.findall(r"# line (\d+): (.*)", text)
    assert comments
    for number, quoted in comments:
        user = parsed_lines.get(int(number))
        if user is None or quoted in ("if branch taken", "if branch not taken"):
            continue  # a line of a function the call reached; a branch's outcome
        if user.strip() == "try:" and quoted.startswith("try: "):
            quoted = "try:"  # followed by the way the try went on this path
        assert quoted == user.strip(), f"line {number}: {quoted!r} != {user.strip()!r}"


def loss(w, x):
    h = np.tanh(x @ w)
    if h.sum() > 0:
        h = h * 2.0
    return np.mean(h**2)


def test_the_source_of_a_gradient_has_a_header_and_both_functions():
    g = sd.grad(loss)
    g(np.ones(3) * 0.1, np.ones((2, 3)))
    text = sd.source(g)
    first = loss.__code__.co_firstlineno
    assert text.startswith(
        f"# srcdiff: gradient of loss ({__file__}:{first}) with respect to w\n# path: 1\n"
    )
    assert "def loss_primal(" in text and "def loss_adjoint(" in text
    assert f"# line {first + 1}: h = np.tanh(x @ w)" in text
    assert f"# line {first + 2}: if branch taken" in text


SOURCES = sorted((Path(srcdiff_root.__file__).parent).rglob("*.py")) + sorted(
    Path(__file__).parent.glob("*.py")
)


@pytest.mark.parametrize("path", SOURCES[::7], ids=lambda p: p.name)
def test_to_ast_unparses_as_gasts_own_converter(path):
    # emit's converter against gast's, over real Python: the project's own modules and
    # these tests (functions with defaults, *args, keyword-only parameters, annotations,
    # try/except ... as, lambdas, comprehensions, f-strings, decorators, classes)
    tree = gast.parse(path.read_text())
    assert ast.unparse(to_ast(tree)) == ast.unparse(gast.gast_to_ast(tree))

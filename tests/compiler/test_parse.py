"""Stage 1: a function's source, parsed, with the user's line numbers and names."""

import ast
import inspect
from pathlib import Path

import gast
import numpy as np
import pytest

import srcdiff
import srcdiff as sd
from srcdiff.compiler.parse import from_ast, parse

SCALE = 2.5


def plain(x):
    """A docstring."""
    y = np.tanh(x)
    return np.sum(y * SCALE)


def decorate(fn):
    return fn


@decorate
def decorated(x):
    return x * 2.0


def make_closure(k):
    def inner(x):
        return x * k + len(x)

    return inner


class Model:
    def method(self, x):
        if x > 0:
            return x * 2.0
        return x


def test_tree_is_the_function_with_the_user_line_numbers():
    parsed = parse(plain)
    assert isinstance(parsed.tree, gast.FunctionDef)
    assert parsed.tree.name == "plain"
    first = plain.__code__.co_firstlineno
    assert parsed.tree.lineno == first
    assert [s.lineno for s in parsed.tree.body] == [first + 1, first + 2, first + 3]
    assert parsed.filename == __file__
    assert parsed.source_line(first + 2) == "y = np.tanh(x)"


def test_lines_map_line_numbers_to_the_source():
    parsed = parse(plain)
    lines, first = inspect.getsourcelines(plain)
    for i, text in enumerate(lines):
        assert parsed.lines[first + i] == text.rstrip("\n")


def test_decorators_are_dropped_and_the_def_line_kept():
    parsed = parse(decorated)
    assert parsed.tree.decorator_list == []
    assert parsed.tree.lineno == decorated.__code__.co_firstlineno + 1
    assert parsed.source_line(parsed.tree.lineno) == "def decorated(x):"


def test_indented_methods_are_dedented_and_keep_their_lines():
    parsed = parse(Model.method)
    assert parsed.name == "Model.method"
    assert parsed.tree.lineno == Model.method.__code__.co_firstlineno
    assert parsed.source_line(parsed.tree.body[0].lineno) == "if x > 0:"


def test_parse_is_cached_per_function():
    assert parse(plain) is parse(plain)
    assert parse(make_closure(1.0)) is not parse(plain)


def test_resolve_sees_closure_cells_globals_and_builtins():
    inner = make_closure(3.0)
    parsed = parse(inner)
    assert parsed.resolve("k") == (True, 3.0)
    assert parse(plain).resolve("SCALE") == (True, SCALE)
    assert parse(plain).resolve("np") == (True, np)
    assert parse(plain).resolve("len") == (True, len)
    assert parse(plain).resolve("no_such_name") == (False, None)


def test_closure_cells_are_read_when_resolved():
    inner = make_closure(3.0)
    parsed = parse(inner)
    inner.__closure__[0].cell_contents = 4.0
    assert parsed.resolve("k") == (True, 4.0)


def test_a_function_without_source_is_a_compile_error():
    namespace: dict = {}
    exec("def generated(x):\n    return x * 2.0\n", namespace)
    with pytest.raises(sd.CompileError, match="no Python source for generated") as info:
        parse(namespace["generated"])
    assert "sd.register_vjp" in str(info.value)


def test_a_lambda_is_parsed_as_a_function_returning_its_expression():
    square = lambda x: x * x  # noqa: E731 - the construct under test
    parsed = parse(square)
    assert isinstance(parsed.tree, gast.FunctionDef) and parsed.tree.name == "lambda"
    (ret,) = parsed.tree.body
    assert isinstance(ret, gast.Return) and isinstance(ret.value, gast.BinOp)
    assert ret.lineno == parsed.tree.lineno == square.__code__.co_firstlineno
    assert "square = lambda x: x * x" in parsed.source_line(ret.lineno)


def outer_with_nested(x, w):
    def inner(v):
        return v * w

    return inner(x)


def test_nested_functions_are_lifted_with_their_captured_names_as_keywords():
    parsed = parse(outer_with_nested)
    assert not any(isinstance(n, gast.FunctionDef) for n in parsed.tree.body)
    inner = parsed.scope["inner"]
    assert inner.__qualname__ == "outer_with_nested.<locals>.inner"
    assert inner(2.0, w=3.0) == 6.0  # the plain function: w passed by the caller
    call = parsed.tree.body[-1].value
    assert [k.arg for k in call.keywords] == ["w"]
    lifted = parse(inner)
    assert [a.id for a in lifted.tree.args.kwonlyargs] == ["w"]
    assert lifted.filename == __file__ and lifted.tree.lineno == parsed.tree.lineno + 1


def test_only_python_functions_are_parsed():
    with pytest.raises(TypeError, match="Python functions"):
        parse(np.tanh)


CORPUS = sorted(Path(srcdiff.__file__).parent.rglob("*.py")) + sorted(
    Path(__file__).parent.glob("*.py")
)


@pytest.mark.parametrize("path", CORPUS[::5], ids=lambda p: p.name)
def test_from_ast_is_gasts_own_conversion_with_lines_moved(path):
    # parse's converter against gast's (then increment_lineno), over real Python: the
    # project's modules and these tests (parameters of every kind, annotations, except
    # ... as, lambdas, comprehensions, f-strings, decorators, classes)
    source = path.read_text()
    mine = from_ast(ast.parse(source), 7)
    theirs = gast.ast_to_gast(ast.parse(source))
    gast.increment_lineno(theirs, 7)
    assert gast.dump(mine) == gast.dump(theirs)
    # the name of ``except E as e`` has no line of its own in gast: its handler's here
    named = {id(h.name) for h in gast.walk(theirs) if isinstance(h, gast.ExceptHandler)}
    for a, b in zip(gast.walk(mine), gast.walk(theirs), strict=True):
        for field in ("lineno", "end_lineno", "col_offset", "end_col_offset"):
            if id(b) not in named or field.endswith("offset"):
                assert getattr(a, field, None) == getattr(b, field, None), (type(a), field)

"""The pipeline runs the compiler's stages in order, and shows the program after each
one when asked (``SRCDIFF_DEBUG=1``)."""

from __future__ import annotations

import ast
import contextlib
import weakref
from pathlib import Path

import gast
import numpy as np
import pytest

import srcdiff as sd
from srcdiff.compiler import cache, pipeline
from srcdiff.compiler.ir import Dialect, facts, mark
from srcdiff.compiler.normalize import clone

from . import functions  # noqa: F401  (registers the battery in CASES)
from .cases import CASES


def branchy(x, w):
    h = np.tanh(x @ w)
    if np.sum(h) > 0:
        h = h * 2.0
    for _ in range(3):
        h = h + np.sin(h)
    return np.sum(h)


X, W = np.ones((2, 3)), np.full(3, 0.1)


def test_the_front_end_runs_its_stages_in_order():
    front = pipeline.front_end(branchy, ("w",), {"x": "array", "w": "array"}, debug=False)
    assert front.stages.run == ["parse", "normalize", "sharing", "snapshots", "analyse", "IR"]
    assert front.wrt == ["w"]
    assert front.analysis.params == ["x", "w"]


def test_tensor_code_is_lowered_in_the_front_end():
    """What a function's code computes with picks its lowering: code on arrays is not
    lowered; Tensor code is, its parameters unwrapped where they are Tensors (a step
    called with Tensors), not where a compiled caller passes arrays."""

    def tensor_loss(w):
        return (w * w).sum()

    def lowered(dialect: Dialect) -> tuple[list[str], str]:
        front = pipeline.front_end(tensor_loss, (), {}, dialect=dialect, debug=False)
        return front.stages.run, pipeline.show(front.analysis.fn)

    stages, shown = lowered(Dialect.ARRAYS)
    assert stages == ["parse", "normalize", "sharing", "analyse", "IR"]
    assert "unwrap" not in shown
    stages, shown = lowered(Dialect.TENSORS)
    assert stages == ["parse", "normalize", "inline", "lower Tensors", "sharing", "analyse", "IR"]
    assert "rt.unwrap(w" in shown
    stages, shown = lowered(Dialect.TENSOR_CALLEE)
    assert "lower Tensors" in stages
    assert "rt.unwrap(w" not in shown


def test_a_gradient_runs_the_back_ends_after_the_front_end():
    sd.grad(branchy, wrt=1)(X, W)
    unit = next(iter(cache._UNITS[branchy].values()))
    run = unit.front.stages.run
    assert run[:7] == ["parse", "normalize", "sharing", "snapshots", "analyse", "IR", "trace"]
    assert "differentiate" in run and "optimize" in run
    assert run.index("differentiate") < run.index("optimize") < len(run) - 1
    assert run[-1] == "emit"


def test_debug_prints_each_stage_with_its_facts(monkeypatch, capsys):
    def loss(w, x):
        y = np.tanh(x @ w)
        return np.sum(y * y)

    monkeypatch.setenv("SRCDIFF_DEBUG", "1")
    sd.grad(loss)(W, X)
    err = capsys.readouterr().err
    for stage in (
        "parse",
        "normalize",
        "analyse",
        "IR",
        "trace",
        "differentiate",
        "optimize",
        "emit",
    ):
        assert f"# ---- srcdiff: {loss.__qualname__} after {stage}\n" in err
    # the analysed program shows what each statement computes and what it saves
    assert "= np.tanh(" in err and "# rule tanh, saves y" in err
    assert "def loss_adjoint(" in err


def test_no_debug_output_by_default(monkeypatch, capsys):
    def quiet(w):
        return np.sum(w * w)

    monkeypatch.delenv("SRCDIFF_DEBUG", raising=False)
    sd.grad(quiet)(W)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "stage",
    ["normalize", "analyse", "primal", "adjoint", "tangent", "optimize", "to_backend", "emit"],
)
def test_the_cache_runs_no_stage_itself(stage):
    """``cache.Unit`` holds what the stages make; ``pipeline`` is what runs them."""
    tree = ast.parse(Path(cache.__file__).read_text())
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    imported = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names}  # fmt: skip
    assert stage not in called and stage not in imported


def _helper(v):
    return np.tanh(v)


def test_a_local_named_rt_is_renamed_apart_from_srcdiffs_helpers():
    """Generated code calls srcdiff's helpers as ``rt``: a local of that name is renamed
    (it hid them: the call of ``_helper`` went to the array), a parameter is refused."""

    def local(w):
        rt = w * 2.0
        for _ in range(2):
            rt = _helper(rt) * rt
        return np.sum(rt)

    def parameter(w, rt):
        return np.sum(_helper(w) * rt)

    w = np.array([0.3, -0.5, 1.0])
    eps = 1e-6
    want = [(local(w + eps * e) - local(w - eps * e)) / (2 * eps) for e in np.eye(3)]
    g = sd.grad(local)
    np.testing.assert_allclose(g(w), want, rtol=1e-6)
    assert "rt_1 = w * 2.0" in sd.source(g)
    np.testing.assert_allclose(sd.jvp(local, (w,), (np.ones(3),))[1], np.sum(want), rtol=1e-6)
    with pytest.raises(sd.CompileError, match="parameter named rt.*rename it"):
        sd.grad(parameter)(w, w)


LOCATIONS = {"lineno", "col_offset", "end_lineno", "end_col_offset"}


def test_stages_keep_their_facts_in_declared_fields_not_on_nodes(monkeypatch):
    """A stage tells the ones after it what it found only through a statement's ``Facts``
    (``ir.mark``): compiling the battery afresh, in reverse and forward mode, sets no
    other attribute on any node."""
    stray: dict[str, str] = {}
    setter = gast.AST.__setattr__

    def watched(node, attr, value):
        ours = type(node).__module__ == gast.gast.__name__  # not the ast nodes emit makes
        if ours and attr not in node._fields and attr not in LOCATIONS and attr != "facts":
            stray.setdefault(attr, type(node).__name__)
        setter(node, attr, value)

    monkeypatch.setattr(gast.AST, "__setattr__", watched)
    monkeypatch.setattr(cache, "_UNITS", weakref.WeakKeyDictionary())  # callees again too
    forward = 0
    for case in CASES:
        if case.xfail:
            continue
        args = case.args()
        sd.grad(case.fn, wrt=case.positions)(*args, **case.kwargs)
        floats = all(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in args)
        if floats and case.positions == tuple(range(len(args))) and not case.kwargs:
            with contextlib.suppress(sd.CompileError):
                sd.jvp(case.fn, args, [np.ones_like(a) for a in args])
                forward += 1
    assert forward >= 50
    assert stray == {}, f"attributes set on nodes outside their Facts: {stray}"


def test_a_copy_of_a_statement_has_facts_of_its_own():
    loop = gast.parse("for i in range(3):\n    y = i").body[0]
    mark(loop, sid=1).maybe_sids["y"] = 7
    copied = clone(loop)
    mark(copied, sid=2).maybe_sids["y"] = 8
    assert (facts(loop).sid, facts(loop).maybe_sids) == (1, {"y": 7})
    assert (facts(copied).sid, facts(copied).maybe_sids) == (2, {"y": 8})
    with pytest.raises(AttributeError, match="ir.mark"):
        facts(gast.Pass()).sid = 3  # unmarked statements share read-only defaults

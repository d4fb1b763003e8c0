"""Every registered rule has a spec, and every built-in rule can be inlined."""

import ast
import builtins
import inspect
import textwrap

import numpy as np
import pytest

import srcdiff.runtime
from srcdiff.rules.registry import all_rules, all_tangents
from srcdiff.testing import _rule_arity

from .families import FAMILIES
from .spec import prim_name

RULES = all_rules()
RULE_FNS = {rule.fn for rule in RULES.values() if rule.inline}  # the templates
FN_IDS = sorted(RULE_FNS, key=lambda fn: (fn.__module__, fn.__name__))


def _specced() -> set:
    return {spec.prim for family in FAMILIES for spec in family.SPECS}


def test_every_registered_primitive_has_a_spec():
    missing = sorted(prim_name(p) for p in RULES if p not in _specced())
    assert not missing, f"registered rules with no spec in tests/rules: {missing}"


def test_every_spec_names_a_registered_primitive():
    unknown = sorted(prim_name(p) for p in _specced() if p not in RULES)
    assert not unknown, f"specs of primitives with no rule: {unknown}"


def _function_def(fn) -> ast.FunctionDef:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    (func,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    return func


def _free_names(fn) -> tuple[list[str], list[str]]:
    """Names ``fn``'s body reads without binding them, and the ``rt.<attr>`` it uses."""
    func = _function_def(fn)
    a = func.args
    bound = {p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs]}
    bound |= {p.arg for p in (a.vararg, a.kwarg) if p is not None}
    reads, rt_attrs = [], []
    for stmt in func.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Load):
                    reads.append(node.id)
                else:
                    bound.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.Lambda)):
                bound |= {p.arg for p in node.args.args}
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "rt"
            ):
                rt_attrs.append(node.attr)
    return sorted({n for n in reads if n not in bound}), rt_attrs


@pytest.mark.parametrize("fn", FN_IDS, ids=[f"{f.__module__}.{f.__name__}" for f in FN_IDS])
def test_rule_body_uses_only_params_xp_rt_and_builtins(fn):
    free, rt_attrs = _free_names(fn)
    outside = [n for n in free if n not in ("xp", "rt") and not hasattr(builtins, n)]
    assert not outside, f"rule {fn.__name__} reads names the compiler cannot inline: {outside}"
    # a builtin the rule's module shadows would mean one thing inlined and another when called
    shadowed = [
        n
        for n in free
        if hasattr(builtins, n)
        and n in fn.__globals__
        and fn.__globals__[n] is not getattr(builtins, n)
    ]
    assert not shadowed, f"rule {fn.__name__} uses builtins its module shadows: {shadowed}"
    if "xp" in free:
        assert fn.__globals__["xp"] is np, f"rule {fn.__name__}: xp is not numpy"
    if "rt" in free:
        assert fn.__globals__["rt"] is srcdiff.runtime, f"rule {fn.__name__}: rt is not runtime"
    unknown = [a for a in rt_attrs if a not in srcdiff.runtime.__all__]
    assert not unknown, f"rule {fn.__name__} uses rt helpers that are not exported: {unknown}"


@pytest.mark.parametrize("fn", FN_IDS, ids=[f"{f.__module__}.{f.__name__}" for f in FN_IDS])
def test_rule_returns_one_gradient_per_parameter_by_syntax(fn):
    """The compiler inlines a rule and splits its ``return d_a, None, ...`` display by syntax."""
    func = _function_def(fn)
    assert isinstance(func.body[-1], ast.Return), f"rule {fn.__name__} must end with a return"
    arity, varargs = _rule_arity(fn)
    returns = [n for n in ast.walk(func) if isinstance(n, ast.Return)]
    assert returns == func.body[-1:], f"rule {fn.__name__} returns early: inlined, that leaves"
    for ret in returns:
        shown = f"rule {fn.__name__}: `{ast.unparse(ret)}`"
        if arity >= 2 and not varargs:
            assert isinstance(ret.value, ast.Tuple) and len(ret.value.elts) == arity, (
                f"{shown} must be a tuple display of {arity} gradients (None where not "
                f"differentiable)"
            )
        elif (
            varargs
            and isinstance(ret.value, ast.Tuple)
            and ret.value.elts
            and isinstance(ret.value.elts[-1], ast.Starred)
        ):  # one gradient per parameter (keyword-only ones too), then one per extra argument
            named = len(_rule_params(fn))
            assert len(ret.value.elts) == named + 1, f"{shown}: one per parameter, then *extra"
        elif arity == 1 and isinstance(ret.value, ast.Tuple):
            assert len(ret.value.elts) == 1, f"{shown} returns a tuple for its one parameter"


def _rule_params(fn) -> list[str]:
    """The parameters a compiled call binds by name (keyword-only ones too), as the
    compiler orders a rule's gradients."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = list(inspect.signature(fn).parameters.values())[2:]
    return [p.name for p in params if p.kind in kinds]


TANGENT_FNS = sorted(
    {t.fn for t in all_tangents().values() if t.inline}, key=lambda f: (f.__module__, f.__name__)
)


@pytest.mark.parametrize(
    "fn", TANGENT_FNS, ids=[f"{f.__module__}.{f.__name__}" for f in TANGENT_FNS]
)
def test_forward_rule_returns_once_at_its_end(fn):
    """A forward rule is inlined too: a return before its last statement would leave the
    generated function."""
    func = _function_def(fn)
    returns = [n for n in ast.walk(func) if isinstance(n, ast.Return)]
    assert returns == func.body[-1:], f"forward rule {fn.__name__} must return once, at its end"


@pytest.mark.parametrize("fn", FN_IDS, ids=[f"{f.__module__}.{f.__name__}" for f in FN_IDS])
def test_rule_defaults_are_literals(fn):
    literal = (bool, int, float, str)
    for name, p in inspect.signature(fn).parameters.items():
        if p.default is not p.empty:
            assert (
                p.default is None
                or isinstance(p.default, literal)
                or isinstance(p.default, tuple)
                and all(isinstance(d, literal) for d in p.default)
            ), f"rule {fn.__name__}: default of {name} is {p.default!r}, not a literal"


def test_the_checker_sees_the_free_names():
    def bad(g, ans, x):
        y = np.tanh(x)
        return [g * t for t in y] + helper  # noqa: F821

    assert _free_names(bad) == (["helper", "np"], [])

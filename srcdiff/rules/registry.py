"""The one registry of reverse rules, shared by the compiler and the eager runtime.

A rule is a plain Python function ``name(g, ans, *params)``: ``g`` is the gradient of
the result, ``ans`` the result itself, ``params`` the primitive's own arguments (named
as NumPy names them). It returns the gradient for each positional parameter: a tuple
when there are several, ``None`` for one that is not differentiable.

Built-in rules are short templates: their bodies use only their parameters, ``xp``
(the array module of the inputs) and ``rt`` (``srcdiff.runtime``), so the compiler can
inline them into generated source. Rules registered by users with ``register_vjp``
are called by name instead.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Rule:
    """A reverse rule and the primitive it belongs to."""

    name: str
    fn: Callable
    params: tuple[str, ...]
    varargs: str | None
    defaults: dict[str, Any] = field(default_factory=dict)
    inline: bool = True
    positional: int = -1  # how many of params an argument may give by position (all: -1)
    keywords: bool = False  # takes any other keyword argument (**kwargs; called by name)
    # for one argument, gives its gradient as it is, a list or a tuple too, never one
    # gradient per argument (srcdiff's own transforms: see ``own_rules``)
    whole: bool = False

    @property
    def arity(self) -> int:
        return len(self.params)

    @property
    def npositional(self) -> int:
        return len(self.params) if self.positional < 0 else self.positional


@dataclass(frozen=True)
class Tangent:
    """A forward rule: ``fn(ans, *params, *, d<param>...)`` returns, for each keyword-only
    tangent parameter in order, that tangent's contribution to the result's tangent
    (the parameters are the reverse rule's, so one binding of a call serves both; a
    contribution written ``None`` is none).

    The tangent of ``*args`` is a tuple, one entry per extra argument (None where it has
    none); a tangent whose name ``d<param>`` is a parameter itself (``np.trapezoid``'s
    ``x`` and ``dx``) is spelled ``d_<param>``."""

    name: str
    fn: Callable
    tangents: tuple[str, ...]  # the parameters with a tangent, in the order returned

    inline: bool = True  # a template (srcdiff's); a user's rule is called by name as
    # fn(tangents, result, *args), None the tangent of an argument without one
    shaped: bool = False  # each contribution has the result's shape (no broadcasting)
    keywords: tuple[str, ...] = ()  # the template's name of each tangent (d<param>)

    @staticmethod
    def of(fn: Callable, inline: bool = True, shaped: bool = False) -> Tangent:
        if not inline:  # a user's: fn(tangents, result, *args), one tangent per argument
            return Tangent(fn.__name__.rstrip("_"), fn, (), inline, shaped)
        params = inspect.signature(fn).parameters.values()
        named = {p.name for p in params if p.kind is not p.KEYWORD_ONLY}
        keywords = [p.name for p in params if p.kind is p.KEYWORD_ONLY]
        if not all(t.startswith("d") for t in keywords):
            raise TypeError(f"forward rule {fn.__name__}: name each tangent d<parameter>")
        tangents = [
            t[2:] if t.startswith("d_") and t[2:] in named and t[1:] not in named else t[1:]
            for t in keywords
        ]
        name = fn.__name__.rstrip("_")
        return Tangent(name, fn, tuple(tangents), inline, shaped, tuple(keywords))

    def keyword(self, param: str) -> str:
        """The template's name of the tangent of ``param``."""
        return dict(zip(self.tangents, self.keywords, strict=True)).get(param, "d" + param)


_RULES: dict[Any, Rule] = {}
_TANGENTS: dict[Any, Tangent] = {}
_NONDIFF: dict[Any, str] = {}  # primitive -> why its result carries no gradient
_UNSUPPORTED: dict[Any, tuple[str, str]] = {}
_VERSION = [0]
_ISSUED = [0]  # the highest version given out: each registration takes a new one, so a
# version names one content of the tables (one restored whole may take its version back)


def version() -> int:
    """Bumped by every registration after import, so compiled code sees new rules."""
    return _VERSION[0]


def _bump() -> None:
    """A new version, never given out before: code compiled for any other is stale."""
    _ISSUED[0] += 1
    _VERSION[0] = _ISSUED[0]


def _key(obj: Any) -> Any:
    """Registry key of a primitive: the object itself when hashable, else its id."""
    try:
        hash(obj)
    except TypeError:
        return ("id", id(obj))
    return obj


def make_rule(fn: Callable, *, name: str | None = None, inline: bool = True) -> Rule:
    """Describe ``fn(g, ans, *params)`` as a Rule."""
    sig = inspect.signature(fn)
    names, varargs, defaults, positional, keywords = [], None, {}, -1, False
    for p in list(sig.parameters.values())[2:]:
        if p.kind in (p.VAR_POSITIONAL, p.KEYWORD_ONLY) and positional < 0:
            positional = len(names)  # the parameters after these are given by keyword only
        if p.kind is p.VAR_POSITIONAL:
            varargs = p.name
        elif p.kind is p.VAR_KEYWORD and not inline:  # passed on as they are
            keywords = True
        elif p.kind is p.VAR_KEYWORD:
            raise TypeError(f"rule {fn.__name__} may not take **{p.name}: it is inlined")
        else:
            names.append(p.name)
            if p.default is not p.empty:
                defaults[p.name] = p.default
    if len(sig.parameters) < 2:
        raise TypeError(f"rule {fn.__name__} must take (g, ans, *params)")
    return Rule(name or fn.__name__.rstrip("_"), fn, tuple(names), varargs, defaults, inline,
                positional, keywords)  # fmt: skip


def vjp(*primitives: Any, name: str | None = None) -> Callable[[Callable], Callable]:
    """Register the decorated template as the reverse rule of each of ``primitives``.

    A primitive is a callable (``numpy.tanh``, ``operator.mul``) or a string naming an
    array method or attribute (``"ndarray.sum"``, ``"ndarray.T"``).
    """

    def register(fn: Callable) -> Callable:
        rule = make_rule(fn, name=name)
        for prim in primitives:
            _RULES[_key(prim)] = rule
        return fn

    return register


def jvp(*primitives: Any, shaped: bool = False) -> Callable[[Callable], Callable]:
    """Register the decorated template as the forward rule of each of ``primitives``
    (written beside its ``@vjp``, in the same family file); ``shaped``: its
    contributions have the result's shape already (a product, not a broadcast)."""

    def register(fn: Callable) -> Callable:
        tangent = Tangent.of(fn, shaped=shaped)
        for prim in primitives:
            _TANGENTS[_key(prim)] = tangent
        return fn

    return register


_LINEAR: dict[Any, tuple[int, ...] | str] = {}
_MULTILINEAR: dict[Any, tuple[int, ...] | str] = {}


def linear(positions: tuple[int, ...] | str, *primitives: Any) -> None:
    """Declare primitives linear in the arguments at ``positions`` (jointly; ``"all"``:
    in every argument): the tangent of the result is the primitive applied to those
    arguments' tangents (zeros for the ones without), the other arguments as they are
    (``x.reshape(3, 4)``, ``x[i]``)."""
    for prim in primitives:
        _LINEAR[_key(prim)] = positions


_CONSTANT_IN: dict[Any, frozenset[int]] = {}


def constant_in(positions: tuple[int, ...], *primitives: Any) -> None:
    """Declare primitives whose results do not change with their arguments at
    ``positions`` (read for a shape, a dtype, or a choice constant almost everywhere:
    which entries attain a maximum, the order a sort gives): their tangents never reach
    the result, so forward mode needs none."""
    for prim in primitives:
        _CONSTANT_IN[_key(prim)] = frozenset(positions)


def constant_positions(primitive: Any) -> frozenset[int]:
    """The positions of ``primitive``'s arguments its result is constant in."""
    try:
        return _CONSTANT_IN.get(_key(primitive), frozenset())
    except TypeError:
        return frozenset()


def multilinear(positions: tuple[int, ...] | str, *primitives: Any) -> None:
    """Declare primitives linear in each of the arguments at ``positions`` apart (``"all"``:
    each argument), the others held: the tangent of the result is the sum, over those
    arguments with a tangent, of the primitive applied with that argument replaced by its
    tangent (``np.einsum``: one einsum a differentiated operand)."""
    for prim in primitives:
        _MULTILINEAR[_key(prim)] = positions


def multilinear_positions(primitive: Any) -> tuple[int, ...] | str | None:
    """The positions in which ``primitive`` is linear one at a time, if declared so."""
    try:
        return _MULTILINEAR.get(_key(primitive))
    except TypeError:
        return None


_SEQUENCES: set[Any] = set()


def sequence_result(*primitives: Any) -> None:
    """Declare primitives that may return a tuple or list of arrays (``np.linalg.eigh``,
    ``np.split``): the adjoint of a name holding their result adds up as a container's."""
    for prim in primitives:
        _SEQUENCES.add(_key(prim))


def gives_sequence(primitive: Any) -> bool:
    """Whether ``primitive`` is declared to return a tuple or list (``sequence_result``),
    or is a named tuple's class."""
    try:
        return _key(primitive) in _SEQUENCES or _named_tuple(primitive)
    except TypeError:
        return False


def alias(method: Any, primitive: Any, **defaults: Any) -> None:
    """Give ``method`` the rules of ``primitive``, which computes the same thing with its
    arguments in the same order (``Tensor.exp`` is ``np.exp``): its reverse rule, its
    forward rule or linearity, so that a family is written once. ``defaults``: the
    method's own where they differ (``np.add.reduce``'s ``axis`` is 0, ``np.sum``'s None)."""
    rule = _RULES[_key(primitive)]
    if defaults:
        unknown = set(defaults) - set(rule.defaults)
        if unknown:
            raise TypeError(f"alias of {rule.name}: no parameter with a default {unknown}")
        rule = replace(rule, fn=_redefault(rule.fn, defaults),
                       defaults={**rule.defaults, **defaults})  # fmt: skip
    _RULES[_key(method)] = rule
    if _key(primitive) in _TANGENTS:
        tangent = _TANGENTS[_key(primitive)]
        _TANGENTS[_key(method)] = (
            replace(tangent, fn=_redefault(tangent.fn, defaults)) if defaults else tangent
        )
    if _key(primitive) in _LINEAR:
        _LINEAR[_key(method)] = _LINEAR[_key(primitive)]
    if _key(primitive) in _MULTILINEAR:
        _MULTILINEAR[_key(method)] = _MULTILINEAR[_key(primitive)]


def _redefault(fn: Callable, defaults: dict[str, Any]) -> Callable:
    """``fn`` with other defaults for some of its parameters (the same code: a template's
    source is its own)."""
    positional = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]  # fmt: skip
    given = positional[len(positional) - len(fn.__defaults__ or ()) :]
    out = types.FunctionType(
        fn.__code__,
        fn.__globals__,
        fn.__name__,
        tuple(defaults.get(n, d) for n, d in zip(given, fn.__defaults__ or (), strict=True)),
        fn.__closure__,
    )
    out.__kwdefaults__ = {
        k: defaults.get(k, d) for k, d in (fn.__kwdefaults__ or {}).items()
    } or None
    out.__doc__, out.__qualname__ = fn.__doc__, fn.__qualname__
    return out


def linear_positions(primitive: Any) -> tuple[int, ...] | str | None:
    """The positions in which ``primitive`` is linear, if it is declared so."""
    try:
        found = _LINEAR.get(_key(primitive))
    except TypeError:
        return None
    return _LINEAR.get("tuple-display") if found is None and _named_tuple(primitive) else found


def register_jvp(primitive: Any, fn: Callable) -> None:
    """Register (or replace) the forward rule of one primitive."""
    _TANGENTS[_key(primitive)] = Tangent.of(fn, inline=False)
    _bump()


def lookup_jvp(primitive: Any) -> Tangent | None:
    """The forward rule of ``primitive``, or None (see ``lookup``)."""
    try:
        tangent = _TANGENTS.get(_key(primitive))
    except TypeError:
        return None
    if tangent is None and _load_family(primitive):
        return lookup_jvp(primitive)
    if tangent is None and (method := _method_key(primitive)) is not None:
        return _TANGENTS.get(method)
    if tangent is None and hasattr(type(primitive), "_srcdiff_jvp"):
        return own_rules(primitive)[1]
    return tangent


def all_tangents() -> dict[Any, Tangent]:
    """Every primitive with a forward rule, and the rule (a copy; see ``all_rules``)."""
    _load_imported_families()
    return dict(_TANGENTS)


def register(primitive: Any, rule: Rule) -> None:
    """Register (or replace) the rule of one primitive."""
    _NONDIFF.pop(_key(primitive), None)
    _RULES[_key(primitive)] = rule
    _bump()


def nondiff(reason: str, *primitives: Any) -> None:
    """Declare primitives whose results carry no gradient, and why (an integer or boolean
    result, a piecewise constant function, a value detached by design): the one reviewed
    list of what is not differentiated."""
    for prim in primitives:
        _NONDIFF[_key(prim)] = reason
    _bump()  # code compiled before took these for functions to differentiate


_CASTS: set[Any] = set()


def casts(*primitives: Any) -> None:
    """Declare primitives whose rules give each gradient in the dtype of the result
    their ``dtype=`` asks for, whatever it is (none for integers): the compiler need
    not know that dtype before the code runs."""
    _CASTS.update(_key(prim) for prim in primitives)


def is_cast(primitive: Any) -> bool:
    try:
        return _key(primitive) in _CASTS
    except TypeError:
        return False


def nondiff_reason(primitive: Any) -> str | None:
    """Why ``primitive``'s result carries no gradient (None when it may)."""
    try:
        return _NONDIFF.get(_key(primitive))
    except TypeError:
        return None


_NO_FORWARD: dict[Any, tuple[str, str]] = {}


def no_forward(primitive: Any, what: str, hint: str) -> None:
    """Declare a primitive whose forward mode srcdiff does not compute, saying what it
    would take and what to do (forward mode's refusal names it so, not as a missing rule
    a user could register)."""
    _NO_FORWARD[_key(primitive)] = (what, hint)


def forward_refusal(primitive: Any) -> tuple[str, str] | None:
    try:
        return _NO_FORWARD.get(_key(primitive))
    except TypeError:
        return None


_FORWARD_CALLS: dict[Any, str] = {}


def forward_call(layout: str, *primitives: Any) -> None:
    """Declare primitives that run a function in forward mode, taking the same operands
    as ``rt.<layout>`` (``call_jvp``, ``call_jvp_keywords``, ``call_jvp_star``; ``jvp``:
    ``sd.jvp(fn, primals, tangents)``). Forward-mode source differentiated again makes
    each such call one of ``rt.forward_of``'s function, whose derivatives are those of
    calls again (see ``compiler/tangent``): no forward rule of their own is needed."""
    for prim in primitives:
        _FORWARD_CALLS[_key(prim)] = layout


def forward_call_layout(primitive: Any) -> str | None:
    """The layout ``forward_call`` declared for ``primitive`` (None: none)."""
    try:
        return _FORWARD_CALLS.get(_key(primitive))
    except TypeError:
        return None


def unsupported(primitive: Any, what: str, hint: str) -> None:
    """Declare a primitive srcdiff cannot differentiate: calling it on a differentiated
    value is a CompileError saying ``what`` and ``hint``."""
    _UNSUPPORTED[_key(primitive)] = (what, hint)


def refusal(primitive: Any) -> tuple[str, str] | None:
    """Why ``primitive`` cannot be differentiated, and what to do (None if it can)."""
    try:
        found = _UNSUPPORTED.get(_key(primitive))
    except TypeError:
        return None
    module = getattr(primitive, "__module__", None) or ""
    if found is None and module.split(".")[0] == "array_api_strict" and callable(primitive):
        name = getattr(primitive, "__name__", "?")
        return (
            f"array_api_strict's {name} called through its namespace",
            f"write np.{name}(...) (its NumPy spelling): srcdiff runs NumPy calls on "
            "array_api_strict arrays with the standard's functions",
        )
    return found


def _named_tuple(primitive: Any) -> bool:
    """Whether ``primitive`` is a named tuple's class: built like a tuple display."""
    return (
        isinstance(primitive, type)
        and issubclass(primitive, tuple)
        and hasattr(primitive, "_fields")
    )


# Families whose module costs to import (scipy.stats: about a second), loaded when a
# function of the module they cover is first looked up (the user imported it then).
_LAZY_FAMILIES = {"scipy.stats": "scipy_stats"}
_LOADED: set[str] = set()


def _load(family: str) -> None:
    _LOADED.add(family)
    importlib.import_module(f"{__package__}.{family}")


def _load_family(primitive: Any) -> bool:
    """Load the family covering ``primitive``'s module if it is a lazy one not loaded yet:
    whether one was loaded."""
    module = getattr(primitive, "__module__", None)
    if not isinstance(module, str):
        return False
    for prefix, family in _LAZY_FAMILIES.items():
        if (module == prefix or module.startswith(prefix + ".")) and family not in _LOADED:
            _load(family)
            return True
    return False


def _load_imported_families() -> None:
    """Load the lazy families of the modules imported by now."""
    for prefix, family in _LAZY_FAMILIES.items():
        if prefix in sys.modules and family not in _LOADED:
            _load(family)


def lookup(primitive: Any) -> Rule | None:
    """The rule of ``primitive``, or None: a registered one, or one it carries (see
    ``own_rules``); a named tuple's class builds as a tuple display does."""
    try:
        rule = _RULES.get(_key(primitive))
    except TypeError:
        return None
    if rule is None and _load_family(primitive):
        return lookup(primitive)
    if rule is None and _named_tuple(primitive):
        return _RULES.get("tuple-display")
    if rule is None and (method := _method_key(primitive)) is not None:
        return _RULES.get(method)
    if rule is None and hasattr(type(primitive), "_srcdiff_vjp"):
        return own_rules(primitive)[0]
    return rule


def method(cls: type, name: str) -> tuple[type, str]:
    """The registry key of the built-in method ``name`` of every instance of ``cls``
    (``rng.normal`` for any ``np.random.Generator`` ``rng``): its rules take the
    method's arguments, not the instance."""
    return (cls, name)


def _method_key(primitive: Any) -> tuple[type, str] | None:
    """``method(type(owner), name)`` for a compiled (C or Cython) method bound to an
    object ``owner``; None for other callables, Python methods among them."""
    compiled = isinstance(primitive, types.BuiltinMethodType) or (
        isinstance(primitive, types.MethodType)
        and not isinstance(primitive.__func__, types.FunctionType)
    )
    if not compiled:  # first: asking others for __self__ may run their __getattr__
        return None
    owner = primitive.__self__
    if owner is None:
        return None
    if isinstance(owner, (types.ModuleType, type)):
        return None
    return (type(owner), primitive.__name__)


def own_rules(primitive: Any) -> tuple[Rule, Tangent]:
    """The rules of a callable object that knows its own derivatives (srcdiff's gradient
    functions: ``sd.grad(f)`` differentiated again): its methods
    ``_srcdiff_vjp(g, ans, *args, **kwargs)`` and ``_srcdiff_jvp(tangents, ans, *args,
    **kwargs)``. Kept on the object, never in the registry (such objects come and go,
    and are freed with their rules)."""
    hit = getattr(primitive, "_srcdiff_rules", None)
    if hit is None:

        def vjp(g: Any, ans: Any, *args: Any, **kwargs: Any) -> Any:
            grads = primitive._srcdiff_vjp(g, ans, *args, **kwargs)
            return grads[0] if len(args) == 1 else grads  # a rule called by name: so

        def jvp(tangents: tuple, ans: Any, *args: Any, **kwargs: Any) -> Any:
            return primitive._srcdiff_jvp(tangents, ans, *args, **kwargs)

        vjp._srcdiff_owner = jvp._srcdiff_owner = primitive  # (see calls._derivative_inside)
        name = getattr(primitive, "__name__", type(primitive).__name__)
        rule = replace(make_rule(vjp, name=f"{name}_vjp", inline=False), whole=True)
        hit = (rule, Tangent.of(jvp, inline=False))
        primitive._srcdiff_rules = hit
    return hit


_KEYWORDS: dict[Any, dict[str, str | None]] = {}


def keywords(primitive: Any, **names: str | None) -> None:
    """Declare keywords the rules of ``primitive`` take under another name (np.clip's
    ``min=`` as ``a_min``), or do without (None: np.einsum's ``optimize=``, which only
    says how to compute it)."""
    _KEYWORDS.setdefault(_key(primitive), {}).update(names)


def keyword(primitive: Any, name: str) -> str | None:
    """The parameter of ``primitive``'s rules that a call's keyword ``name`` binds: the
    name itself, the one ``keywords`` gave, or None for one the rules do without."""
    renamed = _KEYWORDS.get(_key(primitive))
    return renamed.get(name, name) if renamed else name


def is_nondiff(primitive: Any) -> bool:
    """True when ``primitive`` is declared non-differentiable (a method bound to an object
    when its class's function is: ``model.train``)."""
    try:
        if _key(primitive) in _NONDIFF:
            return True
    except TypeError:
        return False
    func = getattr(primitive, "__func__", None) if isinstance(primitive, types.MethodType) else None
    if func is None and isinstance(primitive, types.BuiltinMethodType):  # "{}".format: its
        owner = primitive.__self__  # class's method descriptor (str.format)
        if owner is not None and not isinstance(owner, (types.ModuleType, type)):
            func = getattr(type(owner), primitive.__name__, None)
    return func is not None and _key(func) in _NONDIFF


_BOUND: dict[tuple[Callable, Any], Callable] = {}


def bind(fn: Callable, xp: Any) -> Callable:
    """The rule function ``fn`` computing with the array module ``xp``.

    A built-in rule is a template whose ``xp`` is NumPy in its own module; run outside
    generated code (``rt.call_vjp``, tests), it must use the module of its inputs.
    Other functions (users' rules) are returned as they are.
    """
    env = getattr(fn, "__globals__", None)
    if (
        env is None
        or env.get("xp", xp) is xp
        or not (getattr(fn, "__module__", None) or "").startswith("srcdiff.rules")
    ):
        return fn
    bound = _BOUND.get((fn, xp))
    if bound is None:
        bound = types.FunctionType(
            fn.__code__, {**env, "xp": xp}, fn.__name__, fn.__defaults__, fn.__closure__
        )
        bound.__kwdefaults__ = fn.__kwdefaults__
        bound.__doc__ = fn.__doc__
        bound.__wrapped__ = fn
        _BOUND[(fn, xp)] = bound
    return bound


def all_rules() -> dict[Any, Rule]:
    """Every registered primitive and its rule (a copy), those of the lazy families of
    modules imported by now too."""
    _load_imported_families()
    return dict(_RULES)


# Runtime helpers (and the positions of their arguments) that read only the shape or the
# dtype of an argument: an adjoint passing a value there reads no value of it.
SHAPE_ONLY = {
    "unbroadcast": {1},
    "unreduce": {1},
    "reshape_like": {1},
    "cast_like": {1},
    "keep_dims": {1},
    "split_like": {1},
    "unstack": {1},
    "index_grad": {0},
    "matmul_lhs": {1},
    "matmul_rhs": {2},
    "zeros_like": {0},
    "size": {0},
    "shape": {0},
    "ndim": {0},
    "setitem_grads": {2},
    "zeros": {0},
    "ones_like": {0},
    "reduction_dim": {0},
    "unfold_grad": {1},
    "as_strided_grad": {1},
}
SHAPE_ATTRS = {"shape", "dtype", "ndim", "size"}

# Runtime helpers (and positions) that read an argument only as a mask, an index or a
# shape: a gradient computed through them varies with no value of it (PyTorch's formulas
# for clamp, max, sort, gather likewise compare their inputs, and do not differentiate).
MASK_ONLY = {
    "clipped": {0, 1, 2},
    "extreme_grad": {1, 2},
    "extreme_grads": {1, 2},
    "picked": {0, 1},
    "picked_operands": {0, 1, 2},
    "taken_grad": {1},
    "take_grad": {1},
    "take_along_axis_grad": {1},
    "gather_grad": {1},
    "cumprod_axis": {0},
    "isfinite": {0},
    "isnan": {0},
    "isinf": {0},
}


def shape_only(name: ast.Name, parent: ast.AST | None) -> bool:
    """Whether the use ``name`` (whose node in the tree is ``parent``) reads only the
    shape or dtype of its value: ``x.shape``, ``rt.cast_like(g, x)``."""
    if isinstance(parent, ast.Attribute):
        return parent.attr in SHAPE_ATTRS
    if isinstance(parent, ast.Call) and name in parent.args:
        func = parent.func
        helper = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        return parent.args.index(name) in SHAPE_ONLY.get(helper, ())
    return False


def mask_only(name: ast.expr, parents: dict) -> bool:
    """Whether the use ``name`` (``parents``: each node's parent in its tree) reads its
    value only as a mask, an index or a shape (``x <= 0``, ``rt.clipped(x, lo, hi)``,
    ``rt.picked(ans[1], x, dim)``): the gradient does not vary with it."""
    parent = parents.get(name)
    if isinstance(parent, ast.Compare):
        return True
    if isinstance(parent, ast.Subscript) and parent.value is name:  # (an entry of it)
        return mask_only(parent, parents)
    if isinstance(parent, ast.Call) and name in parent.args:
        func = parent.func
        helper = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if parent.args.index(name) in MASK_ONLY.get(helper, ()):
            return True
    return shape_only(name, parent)

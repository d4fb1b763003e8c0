"""Gradient checking against central finite differences, in float64.

* ``numeric_grad(f, args, wrt)``: the gradient of a scalar function, entry by entry.
* ``check_vjp(rule, primal, args)``: a reverse rule ``rule(g, ans, *args)`` against
  central differences of ``primal`` along a random direction, one argument at a time.
* ``check_grads(f, grad_f, args)``: a whole gradient function (``sd.grad(f)``, a
  hand-written one, ...) against ``numeric_grad``.

Each failure raises ``AssertionError`` naming the argument, the expected and the
computed value. Arguments may be arrays, Python floats, or lists/tuples of them
(``np.concatenate``'s ``arrays``); non-float arguments (ints, indices, axes) are
passed through unchanged and never differentiated.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["check_grads", "check_vjp", "numeric_grad"]


# ---- arguments as lists of float leaves ---------------------------------------------------


def _is_float_leaf(x: Any) -> bool:
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, np.ndarray):
        return np.issubdtype(x.dtype, np.floating)
    return isinstance(x, (float, np.floating))


def _is_differentiable(x: Any) -> bool:
    """A float leaf, or a non-empty list, tuple or dict of float leaves."""
    if isinstance(x, dict):
        return len(x) > 0 and all(_is_float_leaf(e) for e in x.values())
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and all(_is_float_leaf(e) for e in x)
    return _is_float_leaf(x)


def _leaves(x: Any) -> list:
    if isinstance(x, dict):
        return list(x.values())
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _parts(d: Any, x: Any) -> list:
    """The gradient ``d`` of the argument ``x`` as one entry per leaf of ``x`` (a dict's
    gradient may leave keys out: those are zero)."""
    if isinstance(x, dict):
        return [None if d is None else d.get(k) for k in x]
    if d is None:
        return [None] * len(_leaves(x))
    return _leaves(d) if isinstance(x, (list, tuple)) else [d]


def _rebuild(x: Any, leaves: list) -> Any:
    if isinstance(x, dict):
        return dict(zip(x, leaves, strict=True))
    if isinstance(x, (list, tuple)):
        return _like(x, leaves)
    return leaves[0]


def _like(x: list | tuple, items: Any) -> list | tuple:
    """``items`` as a sequence of ``x``'s type (a named tuple takes its fields apart)."""
    return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)


def _to64(x: Any) -> Any:
    """Float leaves in float64 (Python floats stay Python floats); the rest unchanged."""
    if isinstance(x, dict) and _is_differentiable(x):
        return {k: _to64(e) for k, e in x.items()}
    if isinstance(x, (list, tuple)) and _is_differentiable(x):
        return _like(x, [_to64(e) for e in x])
    if isinstance(x, np.ndarray) and _is_float_leaf(x):
        return x.astype(np.float64)
    if isinstance(x, np.floating):
        return np.float64(x)
    return x


def _shift(leaf: Any, step: Any) -> Any:
    """``leaf + step`` keeping the leaf's kind (a Python float stays one)."""
    if isinstance(leaf, np.ndarray):
        return leaf + step
    return type(leaf)(float(leaf) + float(step))


def _wrt_tuple(wrt: int | Sequence[int] | None, args: Sequence) -> tuple[int, ...]:
    if wrt is None:
        return tuple(i for i, a in enumerate(args) if _is_differentiable(a))
    if isinstance(wrt, numbers.Integral):
        return (int(wrt),)
    return tuple(int(i) for i in wrt)


def _fmt(x: Any) -> str:
    return np.array2string(np.asarray(x), precision=6, threshold=20, separator=", ")


# ---- numeric gradients --------------------------------------------------------------------


def numeric_grad(
    f: Callable[..., Any],
    args: Sequence[Any],
    wrt: int | Sequence[int] = 0,
    eps: float = 1e-6,
) -> Any:
    """Gradient of the scalar ``f(*args)`` wrt ``args[wrt]`` by central differences in float64.

    ``wrt`` is a position or a tuple of positions (then a tuple is returned). Each
    gradient has its argument's shape (a Python float for a Python float argument), or
    its structure for a list, tuple or dict of floats and float arrays.
    """
    args = [_to64(a) for a in args]
    positions = _wrt_tuple(wrt, args)
    grads = []
    for i in positions:
        x = args[i]
        if not _is_differentiable(x):
            raise TypeError(
                f"numeric_grad: argument {i} is not a float array or float, or a list, tuple "
                f"or dict of them: {x!r}"
            )
        leaves = _leaves(x)
        parts = []
        for j, leaf in enumerate(leaves):
            flat = np.array(leaf, dtype=np.float64).reshape(-1)
            d = np.zeros_like(flat)
            for k in range(flat.size):
                values = []
                for sign in (1.0, -1.0):
                    probe = flat.copy()
                    probe[k] += sign * eps
                    moved = (
                        probe.reshape(np.shape(leaf))
                        if isinstance(leaf, np.ndarray)
                        else float(probe[0])
                    )
                    xi = _rebuild(x, [*leaves[:j], moved, *leaves[j + 1 :]])
                    values.append(float(np.asarray(f(*args[:i], xi, *args[i + 1 :]), np.float64)))
                d[k] = (values[0] - values[1]) / (2.0 * eps)
            parts.append(d.reshape(np.shape(leaf)) if isinstance(leaf, np.ndarray) else float(d[0]))
        grads.append(parts[0] if _is_float_leaf(x) else _rebuild(x, parts))
    return grads[0] if isinstance(wrt, numbers.Integral) else tuple(grads)


# ---- reverse rules ------------------------------------------------------------------------


def _rule_arity(rule_fn: Callable) -> tuple[int, bool]:
    """Number of named positional parameters after ``(g, ans)``, and whether it takes ``*args``."""
    params = list(inspect.signature(rule_fn).parameters.values())[2:]
    named = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    return named, any(p.kind is p.VAR_POSITIONAL for p in params)


def _rule_grads(out: Any, rule_fn: Callable, nargs: int) -> tuple:
    """A rule's result as one entry per positional argument, checked against the contract.

    A rule with one parameter returns its gradient (its ``*args``, if any, get none),
    or, called by name with ``*args``, a tuple with one entry per argument; with
    several, a tuple with one entry per parameter (``None`` where not differentiable),
    then one per extra ``*args`` argument. A rule taking only ``*args`` returns a
    sequence with one entry per argument.
    """
    name = getattr(rule_fn, "__name__", repr(rule_fn))
    arity, varargs = _rule_arity(rule_fn)
    params = list(inspect.signature(rule_fn).parameters.values())[2:]
    keyword_only = sum(p.kind is p.KEYWORD_ONLY for p in params)
    with_keywords = arity + keyword_only + max(0, nargs - arity)
    if varargs and keyword_only and isinstance(out, tuple) and len(out) == with_keywords:
        # an inlined rule's tuple, as the compiler binds it: one gradient per named
        # parameter (keyword-only ones among them), then per extra argument (``max(a, b)``)
        return out[:arity] + out[arity + keyword_only :]
    if arity == 0:
        return () if out is None else tuple(out)
    if arity == 1 and varargs and isinstance(out, tuple) and len(out) == nargs > 1:
        return out
    if arity == 1:
        return (out,)
    expected = max(arity, nargs) if varargs else arity
    if not isinstance(out, tuple):
        raise AssertionError(
            f"rule {name} has {expected} positional parameters but returned one value: "
            f"return a tuple with one gradient per parameter (None where not differentiable)"
        )
    if len(out) != expected:
        raise AssertionError(
            f"rule {name} returned a tuple of {len(out)} values for {expected} parameters"
        )
    return out


def _cotangent(y: Any, rng: np.random.Generator) -> Any:
    """A random cotangent shaped like ``y`` (a list or dict of them for a list or dict)."""
    if isinstance(y, dict):
        return {k: _cotangent(v, rng) for k, v in y.items()}
    if isinstance(y, (list, tuple)):
        return _like(y, [_cotangent(e, rng) for e in y])
    if not isinstance(y, (numbers.Number, np.ndarray, np.generic)):
        return None  # a key, a string: nothing to differentiate
    g = rng.standard_normal(np.shape(y))
    if isinstance(y, np.ndarray):
        return g.astype(y.dtype) if np.issubdtype(y.dtype, np.floating) else g
    return np.float64(g)


def _pairing(g: Any, y: Any) -> float:
    """``sum(g * y)``, summed over the parts when ``y`` is a list or dict of arrays."""
    if isinstance(y, dict):
        return sum(_pairing(g[k], v) for k, v in y.items())
    if isinstance(y, (list, tuple)):
        return sum(_pairing(gk, yk) for gk, yk in zip(g, y, strict=True))
    if g is None:
        return 0.0
    return float(np.sum(g * np.asarray(y, np.float64)))


def _arrays_of(x: Any) -> list:
    """The NumPy arrays inside ``x`` (itself, or the values of a list, tuple or dict)."""
    if isinstance(x, dict):
        return [a for v in x.values() for a in _arrays_of(v)]
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in _arrays_of(v)]
    return [x] if isinstance(x, np.ndarray) else []


def _direction(x: Any, rng: np.random.Generator) -> list:
    return [rng.standard_normal(np.shape(leaf)) for leaf in _leaves(x)]


def check_vjp(
    rule_fn: Callable[..., Any],
    primal_fn: Callable[..., Any],
    args: Sequence[Any],
    kwargs: dict[str, Any] | None = None,
    wrt: int | Sequence[int] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    seed: int = 0,
    eps: float = 1e-6,
) -> None:
    """Check the reverse rule ``rule_fn(g, ans, *args, **kwargs)`` of ``primal_fn``.

    With ``y = primal_fn(*args, **kwargs)`` and a random cotangent ``g`` shaped like
    ``y``, for each checked argument ``x_i`` and a random direction ``v``::

        sum(g * (primal(.., x_i + eps v, ..) - primal(.., x_i - eps v, ..))) / (2 eps)
            == vdot(rule_grad_i, v)

    Also checks that each gradient has its argument's shape and that the rule leaves its
    inputs and ``g`` unchanged. ``wrt`` defaults to every float argument; all float
    inputs are cast to float64 first. A rule's ``None`` counts as a zero gradient.
    """
    kwargs = dict(kwargs or {})
    args = [_to64(a) for a in args]
    name = getattr(rule_fn, "__name__", repr(rule_fn))
    rng = np.random.default_rng(seed)
    y = primal_fn(*args, **kwargs)
    g = _cotangent(y, rng)
    before = [a.copy() for a in _arrays_of([g, args])]
    grads = _rule_grads(rule_fn(g, y, *args, **kwargs), rule_fn, len(args))
    for old, new in zip(before, _arrays_of([g, args]), strict=True):
        if not np.array_equal(old, new, equal_nan=old.dtype.kind in "fc"):
            raise AssertionError(f"rule {name} wrote into its cotangent or one of its inputs")

    def along(i: int, v: list, sign: float) -> float:
        moved = list(args)
        leaves = [_shift(leaf, sign * eps * d) for leaf, d in zip(_leaves(args[i]), v, strict=True)]
        moved[i] = _rebuild(args[i], leaves)
        return _pairing(g, primal_fn(*moved, **kwargs))

    for i in _wrt_tuple(wrt, args):
        x = args[i]
        if not _is_differentiable(x):
            raise TypeError(f"check_vjp: argument {i} of {name} is not differentiable: {x!r}")
        d = grads[i] if i < len(grads) else None
        xs = _leaves(x)
        ds = _parts(d, x)
        if len(ds) != len(xs):
            raise AssertionError(
                f"rule {name}: gradient of argument {i} has {len(ds)} parts, expected {len(xs)}"
            )
        for k, (xk, dk) in enumerate(zip(xs, ds, strict=True)):
            where = f"argument {i}" + (
                f" (element {k})" if isinstance(x, (list, tuple, dict)) else ""
            )
            if dk is not None and np.shape(dk) != np.shape(xk):
                raise AssertionError(
                    f"rule {name}: gradient of {where} has shape {np.shape(dk)}, "
                    f"expected {np.shape(xk)}"
                )
        v = _direction(x, rng)
        numeric = (along(i, v, 1.0) - along(i, v, -1.0)) / (2.0 * eps)
        analytic = sum(
            float(np.vdot(np.asarray(dk, np.float64), vk))
            for dk, vk in zip(ds, v, strict=True)
            if dk is not None
        )
        if not abs(numeric - analytic) <= atol + rtol * max(abs(numeric), abs(analytic)):
            raise AssertionError(
                f"rule {name}: wrong gradient for argument {i}: along a random direction, "
                f"finite differences give {numeric:.10g} but the rule gives {analytic:.10g} "
                f"(rtol={rtol}, atol={atol})"
            )


# ---- whole functions ----------------------------------------------------------------------


def check_grads(
    f: Callable[..., Any],
    grad_f: Callable[..., Any],
    args: Sequence[Any],
    wrt: int | Sequence[int] = 0,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    eps: float = 1e-6,
    check_dtype: bool = True,
) -> None:
    """Check ``grad_f(*args)`` against ``numeric_grad(f, args, wrt)`` entry by entry.

    ``f`` returns a scalar; ``grad_f`` returns the gradient for each position in
    ``wrt`` (a tuple when ``wrt`` is a tuple, as ``sd.grad`` does). Each gradient must
    have its argument's shape (and, with ``check_dtype``, its dtype).
    """
    got = grad_f(*args)
    expected = numeric_grad(f, args, wrt, eps)
    positions = _wrt_tuple(wrt, args)
    if isinstance(wrt, numbers.Integral):
        got, expected = (got,), (expected,)
    elif not isinstance(got, tuple) or len(got) != len(positions):
        raise AssertionError(f"expected a tuple of {len(positions)} gradients, got {got!r}")
    for i, d, e in zip(positions, got, expected, strict=True):
        x = args[i]
        if np.shape(d) != np.shape(x):
            raise AssertionError(
                f"gradient of argument {i} has shape {np.shape(d)}, expected {np.shape(x)}"
            )
        if check_dtype and isinstance(x, np.ndarray) and np.asarray(d).dtype != x.dtype:
            raise AssertionError(
                f"gradient of argument {i} has dtype {np.asarray(d).dtype}, expected {x.dtype}"
            )
        d64 = np.asarray(d, np.float64)
        bad = ~np.isclose(d64, e, rtol=rtol, atol=atol)
        if np.any(bad):
            worst = np.unravel_index(np.argmax(np.abs(d64 - e) * bad), np.shape(e))
            raise AssertionError(
                f"wrong gradient for argument {i}: {int(np.sum(bad))} of {np.size(e)} entries "
                f"differ (rtol={rtol}, atol={atol}); at index {tuple(map(int, worst))} "
                f"expected {np.asarray(e)[worst]:.10g}, got {d64[worst]:.10g}\n"
                f"expected: {_fmt(e)}\ngot:      {_fmt(d64)}"
            )

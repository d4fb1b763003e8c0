"""The new values of objects that Python updates in place, as compiled code computes them
(``np.add.at(a, i, b)`` is ``a[...] = rt.add_at(a, i, b)``, ``xs.extend(ys)`` is
``xs = rt.extended(xs, ys)``; see ``compiler/inplace``), and the gradients of those
helpers that have one.

A list or dict helper given an object of another type (a user's class with an ``extend``
method, say) runs that method itself, in place, and returns the object: compiled code
then cannot differentiate through it, and its rule says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..backend import array_module
from ..errors import CompileError
from .arrays import (
    _is_array,
    acc,
    entries,
    entries_like,
    sort_grad,
    sort_tangent,
    unbroadcast,
    zeros_like,
)
from .mutation import refuse
from .objects import plain_value, selects_only

# ---- arrays -------------------------------------------------------------------------------


def _copy(a: Any) -> Any:
    return a.copy() if hasattr(a, "copy") else backend.copy(a)


def add_at(a: Any, indices: Any, b: Any) -> Any:
    """``a`` after ``np.add.at(a, indices, b)`` (repeated indices add up)."""
    return backend.scatter_add(_copy(a), indices, b)


def subtract_at(a: Any, indices: Any, b: Any) -> Any:
    """``a`` after ``np.subtract.at(a, indices, b)``."""
    return backend.scatter_add(_copy(a), indices, -b)


def multiply_at(a: Any, indices: Any, b: Any) -> Any:
    """``a`` after ``np.multiply.at(a, indices, b)`` (repeated indices multiply in turn)."""
    out = _copy(a)
    if isinstance(out, np.ndarray):
        np.multiply.at(out, indices, b)
        return out
    done = backend.to_numpy(out).copy()
    np.multiply.at(done, indices, backend.to_numpy(b) if hasattr(b, "shape") else b)
    return array_module(out).asarray(done)


def multiply_at_factors(a: Any, indices: Any, b: Any) -> tuple[Any, Any]:
    """For ``np.multiply.at(a, indices, b)``: the product of the factors each position of
    ``a`` is multiplied by (1 where none), and for each factor (``b`` spread to the shape
    of ``a[indices]``) its position's entry of ``a`` times the other factors there. A zero
    factor is no trouble: the others' product is kept apart from the zeros' count."""
    xp = array_module(a, b)
    values = backend.to_numpy(a)
    positions = np.arange(values.size).reshape(values.shape)[indices]
    factors = np.broadcast_to(np.asarray(backend.to_numpy(b), dtype=values.dtype),
                              positions.shape).ravel()  # fmt: skip
    at = positions.ravel()
    zero = factors == 0
    product = np.ones(values.size, dtype=values.dtype)
    np.multiply.at(product, at, factors)
    nonzero = np.ones(values.size, dtype=values.dtype)
    np.multiply.at(nonzero, at, np.where(zero, 1.0, factors))
    zeros = np.zeros(values.size, dtype=np.intp)
    np.add.at(zeros, at, zero)
    others_zeros = zeros[at] - zero
    others = np.where(others_zeros > 0, 0.0, nonzero[at] / np.where(zero, 1.0, factors))
    weights = (values.ravel()[at] * others).reshape(positions.shape)
    return xp.asarray(product.reshape(values.shape)), xp.asarray(weights)


def multiply_at_shape(a: Any, indices: Any) -> tuple:
    """The shape of ``a[indices]``, to which ``np.multiply.at(a, indices, b)`` spreads ``b``."""
    return np.empty(np.shape(a), dtype=bool)[indices].shape


def multiply_at_slots(a: Any, indices: Any) -> Any:
    """For ``np.multiply.at(a, indices, b)``: each position of ``a`` (flat) as a row of the
    factors it is multiplied by, as indices into ``b`` spread to ``a[indices]`` and
    flattened, in turn; rows are filled up with that array's size (past its end, where
    the rule puts a 1), a row of one such entry at least."""
    positions = np.arange(int(np.prod(np.shape(a)))).reshape(np.shape(a))[indices].ravel()
    order = np.argsort(positions, kind="stable")
    counts = np.bincount(positions, minlength=int(np.prod(np.shape(a))))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size) - starts[positions[order]]
    slots = np.full((counts.size, max(int(counts.max(initial=0)), 1)), positions.size)
    slots[positions, rank] = np.arange(positions.size)
    return array_module(a).asarray(slots)


def ufunc_at(ufunc: Any, a: Any, indices: Any, b: Any = None) -> Any:
    """``a`` after ``ufunc.at(a, indices, b)``, for ufuncs srcdiff has no derivative of."""
    out = _copy(a)
    if b is None:
        ufunc.at(out, indices)
    else:
        ufunc.at(out, indices, b)
    return out


def where(condition: Any, x: Any, y: Any) -> Any:
    """``np.where(condition, x, y)`` on the arrays' module (``np.copyto(y, x, where=c)``)."""
    return array_module(condition, x, y).where(condition, x, y)


def _flat_positions(a: Any, indices: Any, mode: str) -> np.ndarray:
    flat = np.asarray(backend.to_numpy(array_module(indices).asarray(indices))).ravel()
    size = int(np.prod(np.shape(a)))
    if mode == "clip":
        return np.clip(flat, 0, size - 1)
    return flat % size if size else flat


def put(a: Any, ind: Any, v: Any, mode: str = "raise") -> Any:
    """``a`` after ``np.put(a, ind, v, mode)``."""
    out = _copy(a)
    array_module(out).put(out, ind, v, mode=mode)
    return out


def put_along_axis(arr: Any, indices: Any, values: Any, axis: Any) -> Any:
    """``arr`` after ``np.put_along_axis(arr, indices, values, axis)``."""
    out = _copy(arr)
    array_module(out).put_along_axis(out, indices, values, axis)
    return out


def putmask(a: Any, mask: Any, values: Any) -> Any:
    """``a`` after ``np.putmask(a, mask, values)``."""
    out = _copy(a)
    array_module(out).putmask(out, mask, values)
    return out


def place(arr: Any, mask: Any, vals: Any) -> Any:
    """``arr`` after ``np.place(arr, mask, vals)``."""
    out = _copy(arr)
    np.place(out, mask, vals)
    return out


def fill_diagonal(a: Any, val: Any, wrap: bool = False) -> Any:
    """``a`` after ``np.fill_diagonal(a, val, wrap)``."""
    out = _copy(a)
    array_module(out).fill_diagonal(out, val, wrap=wrap)
    return out


def resized(x: Any, shape: Any = None, refcheck: bool = True) -> Any:
    """``x`` after ``x.resize(shape)``: its entries in order, then zeros."""
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        return _in_place(x, "resize", shape)
    xp = array_module(x)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    out = xp.zeros(shape, dtype=x.dtype)
    n = min(int(np.prod(shape)), x.size)
    xp.reshape(out, (-1,))[:n] = xp.reshape(x, (-1,))[:n]
    return out


def resized_grads(g: Any, x: Any) -> Any:
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        raise _not_a_container(x, "resize")
    xp = array_module(g)
    d = xp.zeros(x.size, dtype=g.dtype)
    n = min(g.size, x.size)
    d[:n] = xp.reshape(g, (-1,))[:n]
    return xp.reshape(d, x.shape)


def written_grads(g: Any, positions: np.ndarray, sources: np.ndarray, v: Any) -> tuple:
    """The gradients of ``a`` and ``v`` when entry ``sources[k]`` of the flattened ``v``
    was written to the flat position ``positions[k]`` of ``a``, in order (the last write
    to a position is the one that stays)."""
    xp = array_module(g)
    last = {int(p): k for k, p in enumerate(positions)}
    kept = np.array(sorted(last.values()), dtype=np.intp)
    d_a = _copy(g)
    flat_a = xp.reshape(d_a, (-1,))
    flat_a[xp.asarray(positions)] = 0
    d_a = xp.reshape(flat_a, g.shape)
    if not hasattr(v, "shape") and not isinstance(v, (list, tuple)):
        return d_a, xp.sum(xp.reshape(g, (-1,))[xp.asarray(positions[kept])])
    v_shape = np.shape(v)
    d_v = xp.zeros(int(np.prod(v_shape)), dtype=g.dtype)
    taken = xp.reshape(g, (-1,))[xp.asarray(positions[kept])]
    d_v = backend.scatter_add(d_v, xp.asarray(sources[kept]), taken)
    return d_a, xp.reshape(d_v, v_shape)


def put_grads(g: Any, a: Any, ind: Any, v: Any, mode: str = "raise") -> tuple:
    positions = _flat_positions(a, ind, mode)
    sources = np.arange(len(positions)) % max(int(np.size(v)), 1)
    return written_grads(g, positions, sources, v)


def put_along_axis_grads(g: Any, arr: Any, indices: Any, values: Any, axis: Any) -> tuple:
    """Entry ``k`` of ``indices`` (broadcast against ``arr`` off ``axis``, and ``values``
    spread to that shape) names the position along ``axis`` written, the others' its own
    (with ``axis=None``, a flat position)."""
    at = np.asarray(backend.to_numpy(array_module(indices).asarray(indices)))
    flat = np.arange(int(np.prod(np.shape(arr)))).reshape(np.shape(arr))
    positions = np.take_along_axis(flat.ravel() if axis is None else flat, at, axis=axis)
    size = int(np.prod(np.shape(values)))
    sources = np.broadcast_to(np.arange(size).reshape(np.shape(values)), positions.shape)
    return written_grads(g, positions.ravel(), sources.ravel(), values)


def putmask_grads(g: Any, mask: Any, values: Any) -> tuple:
    where_ = np.flatnonzero(np.broadcast_to(backend.to_numpy(mask), g.shape))
    sources = where_ % max(int(np.size(values)), 1)
    return written_grads(g, where_, sources, values)


def place_grads(g: Any, mask: Any, vals: Any) -> tuple:
    where_ = np.flatnonzero(backend.to_numpy(mask))
    sources = np.arange(len(where_)) % max(int(np.size(vals)), 1)
    return written_grads(g, where_, sources, vals)


def fill_diagonal_grads(g: Any, val: Any, wrap: bool = False) -> tuple:
    marker = np.zeros(g.shape, dtype=bool)
    np.fill_diagonal(marker, True, wrap=wrap)
    where_ = np.flatnonzero(marker)
    sources = np.arange(len(where_)) % max(int(np.size(val)), 1)
    return written_grads(g, where_, sources, val)


def at_grads(g: Any, indices: Any, b: Any, sign: float) -> tuple:
    """The gradients of ``a`` and ``b`` of ``add_at`` (sign 1) or ``subtract_at`` (-1)."""
    part = g[indices]
    return g, unbroadcast(part if sign > 0 else -part, b)


# ---- lists and dicts ------------------------------------------------------------------------


def _is_container(x: Any) -> bool:
    return isinstance(x, (list, dict))


def _in_place(obj: Any, method: str, *args: Any) -> Any:
    """Run an updating method of an object that is no list or dict (a set's, a user's);
    return the object. Compiled code took the call for a list's, dict's or array's update
    in place, whose value is None: a method returning something else is refused. Given
    the zero tangent (or adjoint) of such an object, whose entries forward mode does not
    follow, it refuses the update, as reverse mode does its gradient."""
    if type(obj) is float and obj == 0.0:
        raise refuse(
            f"a derivative through .{method}() of an object that is no list or dict (a set, "
            "a deque), which compiled code follows for lists and dicts only",
            "keep the values in a list (a deque's popleft() is xs.pop(0))",
        )
    if getattr(obj, method)(*args) is not None:
        raise refuse(
            f"a call of .{method}() of a {type(obj).__qualname__}, which returned a value: "
            "compiled code took it for a list's, dict's or array's update in place (None)",
            "give the method another name",
        )
    return obj


def _not_a_container(obj: Any, method: str) -> CompileError:
    """The refusal of a gradient through an updating method of an object that is no list
    or dict (a user's ``update``), at the user's line."""
    return refuse(
        f"a gradient through .{method}() of a {type(obj).__qualname__}, which compiled code "
        "follows for lists and dicts only",
        "build a new value instead, or give the method another name",
    )


def filled(x: Any, value: Any) -> Any:
    """``x`` after ``x.fill(value)``: every entry ``value``."""
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        return _in_place(x, "fill", value)
    xp = array_module(x)
    return xp.full_like(x, value)


def filled_grads(g: Any, x: Any, value: Any) -> tuple:
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        raise _not_a_container(x, "fill")
    return zeros_like(x), unbroadcast(g, value) if hasattr(value, "shape") else g.sum()


def sorted_in_place(x: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
                    key: Any = None, reverse: bool = False) -> Any:  # fmt: skip
    """``x`` after ``x.sort(...)``: sorted, as an array's or a list's method sorts."""
    if isinstance(x, list):
        return sorted(x, key=key, reverse=reverse)
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        return _in_place(x, "sort", axis, kind, order)
    xp = array_module(x)
    if kind is None and order is None:  # as the standard's sort takes them, too
        return xp.sort(x, axis=axis)
    return xp.sort(x, axis=axis, kind=kind, order=order)


def sorted_in_place_grads(g: Any, x: Any, axis: Any = -1, key: Any = None,
                          reverse: bool = False) -> Any:  # fmt: skip
    """The adjoint of ``x`` given that of ``sorted_in_place(x, ...)``: ``g``'s entries
    back where their values came from."""
    if not isinstance(x, list):
        return sort_grad(g, x, axis)
    # Python's sort is stable, with reverse too: indices sort as their values do.
    order = sorted(range(len(x)), key=lambda i: x[i] if key is None else key(x[i]),
                   reverse=reverse)  # fmt: skip
    d = [None] * len(x)
    for j, i in enumerate(order):
        d[i] = g[j]
    return d


def sorted_in_place_tangent(d: Any, x: Any, axis: Any = -1, key: Any = None,
                            reverse: bool = False) -> Any:  # fmt: skip
    """The tangent of ``sorted_in_place(x, ...)`` along ``d``: ``d`` in the order the sort
    put ``x`` in (the transpose of ``sorted_in_place_grads``)."""
    if not isinstance(x, list):
        if not (hasattr(x, "shape") and hasattr(x, "dtype")):
            raise _not_a_container(x, "sort")
        return sort_tangent(d, x, axis)
    order = sorted(range(len(x)), key=lambda i: x[i] if key is None else key(x[i]),
                   reverse=reverse)  # fmt: skip
    d = entries(d, x)
    return [d[i] for i in order]


# ---- Python's max and min ----------------------------------------------------------------


def _candidates(iterable: Any, others: tuple) -> list:
    """What builtin ``max``/``min`` chose among: its arguments, or the entries of its one
    argument (a dict's keys)."""
    return [iterable, *others] if others else list(iterable)


def _same(x: Any, y: Any) -> bool:
    """Whether candidate ``x`` equals the result ``y`` (same shape, equal entries)."""
    if x is y:
        return True
    try:
        if np.shape(x) != np.shape(y):
            return False
        eq = x == y
        return bool(eq.all()) if hasattr(eq, "all") else bool(eq)
    except (TypeError, ValueError):  # candidates Python cannot compare entry by entry
        return False


def choice_shares(ans: Any, iterable: Any, others: tuple = (), key: Any = None,
                  largest: bool = True) -> list[float]:  # fmt: skip
    """Each candidate's share of the gradient of ``max(...)`` (``largest``) or ``min(...)``
    (builtins) whose result is ``ans``: the candidate Python returned; where that is a
    number or an array, the candidates equal to it share evenly, as ties of ``np.max``
    do here. An object's ``==`` may ignore what differentiates it (a dataclass field with
    ``compare=False``): it shares with none."""
    items = _candidates(iterable, others)
    index = _chosen(items, ans, key, largest)
    chosen = items[index]
    if not _value(chosen):
        return [1.0 if i == index else 0.0 for i in range(len(items))]
    hits = [i == index or _same(item, chosen) for i, item in enumerate(items)]
    n = sum(hits)
    return [1.0 / n if hit else 0.0 for hit in hits]


def _chosen(items: list, ans: Any, key: Any, largest: bool) -> int:
    """The index of the candidate ``max`` (``min``) returned: the one that is ``ans``
    itself; else (a new object for each entry, as an array's) the first equal to it,
    or, without a ``key`` (none to run twice), the first that no later one beats by the
    comparisons Python makes (``>`` for max, ``<`` for min): NaN, equal to nothing."""
    same = [i for i, item in enumerate(items) if item is ans]
    if same:
        return same[0]
    equal = [i for i, item in enumerate(items) if _same(item, ans)]
    if equal or key is not None:
        return equal[0] if equal else 0
    best = 0
    for i in range(1, len(items)):
        if (items[i] > items[best]) if largest else (items[i] < items[best]):
            best = i
    return best


def _value(x: Any) -> bool:
    """A number or an array, or a tuple or list of them: what ``==`` compares whole."""
    if isinstance(x, (list, tuple)):
        return all(map(_value, x))
    return plain_value(x)


def _scaled(g: Any, share: float) -> Any:
    """``g * share`` for an adjoint that may be None or a container of adjoints."""
    if g is None or share == 1.0:
        return g
    if isinstance(g, dict):
        return {k: _scaled(v, share) for k, v in g.items()}
    if isinstance(g, (list, tuple)):
        return [_scaled(v, share) for v in g]
    return g * share


def _share_of(g: Any, share: float, item: Any) -> Any:
    """A candidate's gradient: ``g`` times its share, shaped as the candidate."""
    if not share:
        return zeros_like(item)
    part = _scaled(g, share)
    return unbroadcast(part, item) if _is_array(part) or isinstance(part, (int, float)) else part


def choice_grads(g: Any, ans: Any, iterable: Any, others: tuple = (), default: Any = None,
                 key: Any = None, largest: bool = True) -> tuple:  # fmt: skip
    """The adjoints of ``iterable``, ``default`` and ``others`` given that of ``ans =
    max(iterable, *others, key=key, default=default)`` (``min`` where not ``largest``):
    ``g`` to the candidate chosen (shared evenly with equal ones, see ``choice_shares``),
    to ``default`` where there were none; zeros elsewhere."""
    items = _candidates(iterable, others)
    no_default = None if default is None else zeros_like(default)
    if not items:
        return (
            zeros_like(iterable),
            (None if default is None else g),
            tuple(zeros_like(x) for x in others),
        )
    shares = choice_shares(ans, iterable, others, key, largest)
    if isinstance(iterable, dict) and not others:  # a key was chosen: no gradient
        return zeros_like(iterable), no_default, ()
    grads = [_share_of(g, s, item) for s, item in zip(shares, items, strict=True)]
    if others:
        return grads[0], no_default, tuple(grads[1:])
    return entries_like(grads, iterable), no_default, ()


def choice_tangent(
    ans: Any,
    iterable: Any,
    others: tuple = (),
    default: Any = None,
    diterable: Any = None,
    ddefault: Any = None,
    dothers: Any = None,
    key: Any = None,
    largest: bool = True,
) -> Any:
    """The tangent of ``max(iterable, *others, key=key, default=default)`` (``min`` where
    not ``largest``) along the given tangents (None: none): the chosen candidates'
    tangents, shared as ``choice_grads`` shares (its transpose)."""
    items = _candidates(iterable, others)
    if not items:
        return ddefault if ddefault is not None else zeros_like(ans)
    shares = choice_shares(ans, iterable, others, key, largest)
    if others:
        tangents = [diterable, *(dothers if dothers is not None else [None] * len(others))]
    elif diterable is None or isinstance(iterable, dict):
        tangents = [None] * len(items)
    else:
        tangents = list(diterable)
    total = None
    for share, d in zip(shares, tangents, strict=True):
        if share and d is not None:
            total = acc(total, _scaled(d, share))
    return zeros_like(ans) if total is None else total


def extended(xs: Any, ys: Any) -> Any:
    """``xs`` after ``xs.extend(ys)``."""
    if not isinstance(xs, list):
        return _in_place(xs, "extend", ys)
    return [*xs, *ys]


def extended_grads(g: Any, xs: Any, ys: Any) -> tuple:
    if not isinstance(xs, list):
        raise _not_a_container(xs, "extend")
    g = entries(g, [*xs, *ys])
    return g[: len(xs)], entries_like(g[len(xs) :], ys)


def inserted(xs: Any, index: int, v: Any) -> Any:
    """``xs`` after ``xs.insert(index, v)``."""
    if not isinstance(xs, list):
        return _in_place(xs, "insert", index, v)
    out = list(xs)
    out.insert(index, v)
    return out


def inserted_grads(g: Any, ans: Any, xs: Any, index: int) -> tuple:
    if not isinstance(xs, list):
        raise _not_a_container(xs, "insert")
    g = entries(g, ans)
    at = (
        range(len(ans))[index]
        if -len(ans) <= index < len(ans)
        else (0 if index < 0 else len(ans) - 1)
    )
    return g[:at] + g[at + 1 :], g[at]


_LAST = object()  # ``xs.pop()``: a list's last entry, or whatever a user's pop takes


def pop_value(xs: Any, key: Any = _LAST) -> Any:
    """What ``xs.pop(key)`` (``xs.pop()``) returns (``removed`` gives what is left)."""
    if not _is_container(xs):  # (a user's pop: its key may carry a gradient, which the
        if key is not _LAST and not selects_only(key):  # rule, a list's, gives none)
            raise _not_a_container(xs, "pop")
        return xs.pop() if key is _LAST else xs.pop(key)
    return xs[-1 if key is _LAST else key]


def removal_index(xs: Any, v: Any) -> Any:
    """Where ``xs.remove(v)`` takes its entry out of a list: the first that is ``v`` or
    equals it, as Python finds it (its ValueError where none does). Of another object (a
    set's, a user's) its own ``remove`` runs here, and the key is None (``removed`` then
    leaves it as it is)."""
    if not isinstance(xs, list):
        _in_place(xs, "remove", v)
        return None
    for i, entry in enumerate(xs):
        if entry is v or entry == v:
            return i
    raise ValueError("list.remove(x): x not in list")


def removed(xs: Any, key: Any = _LAST) -> Any:
    """``xs`` after ``xs.pop(key)`` (``xs.pop()``)."""
    if not _is_container(xs) or key is None:
        return xs  # its pop ran in pop_value (its remove, in removal_index)
    out = list(xs) if isinstance(xs, list) else dict(xs)
    del out[-1 if key is _LAST else key]
    return out


def pop_grads(g: Any, xs: Any, key: Any) -> Any:
    """The gradient of ``xs`` from that of the value ``pop_value(xs, key)`` took out."""
    if not _is_container(xs):
        raise _not_a_container(xs, "pop")
    if isinstance(xs, dict):
        return {key: g}
    d = [None] * len(xs)
    d[key] = g
    return d


def removed_grads(g: Any, xs: Any, key: Any) -> Any:
    """The gradient of ``xs`` from that of ``removed(xs, key)``."""
    if not _is_container(xs):
        raise _not_a_container(xs, "pop")
    if isinstance(xs, dict):
        g = dict(g or {})
        return {k: g.get(k) for k in xs}
    g = list(g) if g is not None else [None] * (len(xs) - 1)
    at = range(len(xs))[key]
    return g[:at] + [None] + g[at:]


def reversed_list(xs: Any) -> Any:
    """``xs`` after ``xs.reverse()``."""
    if not isinstance(xs, list):
        return _in_place(xs, "reverse")
    return xs[::-1]


def reversed_grads(g: Any, xs: Any) -> Any:
    if not isinstance(xs, list):
        raise _not_a_container(xs, "reverse")
    return None if g is None else list(g)[::-1]


def cleared(xs: Any) -> Any:
    """``xs`` after ``xs.clear()``."""
    if not _is_container(xs):
        return _in_place(xs, "clear")
    return type(xs)()


def updated(d: Any, other: Any) -> Any:
    """``d`` after ``d.update(other)``."""
    if not isinstance(d, dict):
        return _in_place(d, "update", other)
    return {**d, **dict(other)}


def updated_grads(g: Any, d: Any, other: Any) -> tuple:
    if not isinstance(d, dict) or not isinstance(other, dict):
        raise _not_a_container(d, "update")
    g = g or {}
    return ({k: None if k in other else g.get(k) for k in d},
            {k: g.get(k) for k in other})  # fmt: skip

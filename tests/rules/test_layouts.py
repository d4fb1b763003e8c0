"""Every rule of the tables on inputs laid out otherwise than in C order: the same values
held in a strided view (every other entry of a wider array whose gaps hold NaN) or in
Fortran order give the gradients the contiguous inputs give.

Generated code hands rules what the user's code made (``a.T``, ``a[:, ::2]``), so a rule
that counts on C order (a flat view by ``reshape(-1)``, which copies a transposed array)
loses the gradient it writes there; the NaN gaps show a rule reading past its view.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import _cotangent, _rule_grads

from .families import SPECS
from .spec import Spec, ids, prim_name


def strided(a: Any) -> Any:
    """``a``'s values in every other entry of a wider array (the gaps NaN)."""
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f" or a.ndim == 0:
        return a
    wide = np.full((*a.shape[:-1], 2 * a.shape[-1]), np.nan, a.dtype)
    wide[..., ::2] = a
    return wide[..., ::2]


def fortran(a: Any) -> Any:
    """``a``'s values in Fortran order (a strided view where ``a`` has one axis)."""
    if not isinstance(a, np.ndarray) or a.dtype.kind != "f" or a.ndim < 2:
        return strided(a)
    return np.asfortranarray(a)


LAYOUTS = {"strided": strided, "fortran": fortran}

# primitive name -> the refusal its inputs laid out otherwise meet, rightly: what PyTorch
# reads there is its storage, not the entries in row-major order
LAID_OUT_REFUSED = {"tensor_methods.as_strided": "not contiguous"}


def _laid_out(x: Any, how) -> Any:
    """``x`` with each float array in it (in lists, tuples and dicts too) laid out by ``how``."""
    if isinstance(x, dict):
        return {k: _laid_out(v, how) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(_laid_out(v, how) for v in x)
    return how(x)


def _arrays(x: Any) -> list:
    if isinstance(x, dict):
        return [a for v in x.values() for a in _arrays(v)]
    if isinstance(x, (list, tuple)):
        return [a for v in x for a in _arrays(v)]
    return [x] if isinstance(x, np.ndarray) else []


def _parts(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, dict):
        return [p for v in x.values() for p in _parts(v)]
    if isinstance(x, (list, tuple)):
        return [p for v in x for p in _parts(v)]
    return [x]


def _movable(spec: Spec) -> bool:
    """A spec with an array of more than one entry to lay out, none of them passed twice
    (a copy would part what the spec shares)."""
    arrays = _arrays(spec.args)
    return len({id(a) for a in arrays}) == len(arrays) and any(
        a.dtype.kind == "f" and a.ndim >= 1 and a.size > 1 for a in arrays
    )


CHECKED = [s for s in SPECS if _movable(s)]


def _gradients(spec: Spec, args: list, g: Any) -> tuple:
    ans = spec.primal(*args, **spec.kwargs)
    return _rule_grads(spec.rule_fn(g, ans, *args, **spec.kwargs), spec.rule_fn, len(args))


@pytest.mark.parametrize("spec", CHECKED, ids=ids(CHECKED))
def test_a_rule_gives_the_same_gradients_whatever_the_layout_of_its_inputs(spec):
    args = list(spec.args)
    g = _cotangent(spec.primal(*args, **spec.kwargs), np.random.default_rng(0))
    want = _gradients(spec, args, g)
    for layout, how in LAYOUTS.items():
        moved = [_laid_out(a, how) for a in args]
        if prim_name(spec.prim) in LAID_OUT_REFUSED:
            with pytest.raises(RuntimeError, match=LAID_OUT_REFUSED[prim_name(spec.prim)]):
                _gradients(spec, moved, _laid_out(g, how))
            continue
        got = _gradients(spec, moved, _laid_out(g, how))
        for i in spec.positions():
            where = f"{layout} inputs, argument {i}"
            expected = _parts(want[i] if i < len(want) else None)
            computed = _parts(got[i] if i < len(got) else None)
            assert len(computed) == len(expected), f"{where}: {len(computed)} parts"
            for e, c in zip(expected, computed, strict=True):
                if e is None and c is None:
                    continue
                assert e is not None and c is not None, f"{where}: {e!r} against {c!r}"
                assert np.shape(c) == np.shape(e), f"{where}: shape {np.shape(c)}"
                np.testing.assert_allclose(c, e, rtol=1e-10, atol=1e-12, err_msg=where)


def test_there_are_rules_to_lay_out():
    assert len(CHECKED) >= 2000


def _entry_of_transpose(a):
    return a.T.item(1) * 3.0 + a.T.item(-2)


def _entry_of_fortran(a):
    return a.item(1) * 3.0


@pytest.mark.parametrize(
    "fn, a",
    [
        (_entry_of_transpose, np.arange(6.0).reshape(2, 3)),
        (_entry_of_fortran, np.asfortranarray(np.arange(6.0).reshape(2, 3))),
    ],
    ids=["transpose", "fortran"],
)
def test_the_gradient_of_an_entry_at_a_flat_index_of_a_transposed_array(fn, a):
    """``x.item(k)`` counts ``k`` in C order whatever ``x``'s layout; its gradient was
    written into a flat copy of a Fortran-ordered array and lost (all zeros)."""
    got = sd.grad(fn)(a)
    for eps in (1e-6, 1e-4):
        fd = np.zeros_like(a)
        for k in np.ndindex(a.shape):
            step = np.zeros_like(a)
            step[k] = eps
            fd[k] = (fn(a + step) - fn(a - step)) / (2 * eps)
        np.testing.assert_allclose(got, fd, rtol=1e-7, atol=1e-9)
    assert np.any(got != 0)

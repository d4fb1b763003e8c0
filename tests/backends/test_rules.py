"""Every rule table of tests/rules (``SPECS``) on every backend.

For each spec, the inputs are moved to the backend, the primitive is run there (NumPy
functions by their counterpart, as compiled code runs them) and so is its rule, with
``xp`` the backend's module. The gradients must be arrays of the backend (nothing
converted to NumPy) and equal those of the same rule on NumPy, which tests/rules checks
against finite differences.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
from rules.families import SPECS
from rules.spec import ids

from srcdiff import runtime as rt
from srcdiff.backend import array_module
from srcdiff.rules import registry
from srcdiff.testing import _rule_grads

from .support import (
    arrays_in,
    assert_close,
    assert_on,
    backend_params,
    module,
    primal_on,
    rebuilt,
    skip_reason,
    to_backend,
    to_numpy,
)
from .watch import numpy_floats


def _cotangent(y, rng):
    if isinstance(y, dict):
        return {k: _cotangent(v, rng) for k, v in y.items()}
    if isinstance(y, (list, tuple)):
        return rebuilt(y, (_cotangent(v, rng) for v in y))
    g = rng.standard_normal(np.shape(y))
    return g if isinstance(y, np.ndarray) else float(g)


INDEXING = (operator.getitem, rt.setitem, rt.put_back)
# Decompositions whose vectors are defined up to sign: another library's LAPACK may pick
# the other one, so their rule is compared with NumPy's given the backend's own factors.
SIGN_FREE = (np.linalg.eigh, np.linalg.svd)


def _index_per_axis(idx):
    """The index as the standard wants it, the axes it leaves out named by an ellipsis
    (``x[1]`` of a matrix is ``x[1, ...]``)."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    if any(p is Ellipsis or hasattr(p, "shape") for p in parts):
        return idx
    return (*parts, ...)


def _like(g, y, xp):
    """The cotangent ``g`` on ``xp``: an array wherever the result ``y`` is one."""
    if isinstance(y, dict):
        return {k: _like(g[k], v, xp) for k, v in y.items()}
    if isinstance(y, (list, tuple)):
        return rebuilt(y, (_like(a, b, xp) for a, b in zip(g, y, strict=True)))
    if arrays_in(y) and xp is not np:
        return xp.asarray(g, dtype=y.dtype)
    return g


@pytest.mark.parametrize("name", backend_params())
@pytest.mark.parametrize("spec", SPECS, ids=ids(SPECS))
def test_rule_on_backend_matches_numpy(spec, name):
    reason = skip_reason(name, spec.prim, spec.id)
    if reason:
        pytest.skip(reason)
    y = spec.primal(*spec.args, **spec.kwargs)
    g = _cotangent(y, np.random.default_rng(0))
    expected = _rule_grads(
        spec.rule_fn(g, y, *spec.args, **spec.kwargs), spec.rule_fn, len(spec.args)
    )

    args = to_backend(spec.args, module(name))
    xp = array_module(*args)  # NumPy when every argument is a Python number
    if spec.prim in INDEXING and xp is not np and hasattr(args[0], "shape"):
        args = (args[0], _index_per_axis(args[1]), *args[2:])
    y_b = primal_on(spec.primal, xp)(*args, **spec.kwargs)
    on_backend = bool(arrays_in(args))
    if on_backend:
        assert_on(y_b, xp, f"{spec.id}: the primal's result")
    if spec.prim in SIGN_FREE and xp is not np:
        expected = _rule_grads(
            spec.rule_fn(g, to_numpy(y_b), *spec.args, **spec.kwargs), spec.rule_fn, len(args)
        )
    rule = registry.bind(spec.rule_fn, xp)
    g_b = _like(g, y_b, xp)
    with numpy_floats() as fell_back:
        grads = rule(g_b, y_b, *args, **spec.kwargs)
    if on_backend and xp is not np:
        assert not fell_back, f"{spec.id} on {name}: NumPy float arrays in {fell_back}"
    got = _rule_grads(grads, rule, len(args))
    for i in spec.positions():
        if i >= len(expected):
            continue
        where = f"{spec.id} on {name}: gradient of argument {i}"
        if on_backend:
            assert_on(got[i], xp, where)
        assert_close(got[i], expected[i], where)

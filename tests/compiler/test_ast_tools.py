"""The compiler's own tree tools: ``walk`` visits what ``ast.walk`` visits, and ``clone``
copies what ``copy.deepcopy`` copies, on real normalized and generated functions."""

from __future__ import annotations

import ast
import copy
import inspect

import gast
import numpy as np
import pytest

import srcdiff as sd
from srcdiff.compiler import cache
from srcdiff.compiler.normalize import clone, walk

from .pipeline import normalized


def sample(x, w):
    total = 0.0
    for i in range(3):
        h = np.tanh(x @ w) * {"a": i}["a"]
        if np.sum(h) > 0:
            total = total + np.sum(h[1:, ::2] ** 2)
        else:
            total -= np.mean([h, h], axis=0).sum()
    return total


def trees():
    yield normalized(sample)
    yield gast.parse(inspect.getsource(sample))
    x, w = np.ones((3, 2)), np.full((2, 4), 0.1)
    sd.grad(sample, wrt=1)(x, w)
    yield ast.parse(next(iter(cache._UNITS[sample].values())).primal_source)


@pytest.mark.parametrize("tree", list(trees()), ids=["normalized", "parsed", "generated"])
def test_walk_visits_every_node_but_contexts_in_ast_walks_order(tree):
    contexts = (gast.expr_context, ast.expr_context)
    visited = list(walk(tree))
    assert visited[0] is tree
    assert visited == [n for n in ast.walk(tree) if not isinstance(n, contexts)]
    assert not any(isinstance(n, contexts) for n in visited)


@pytest.mark.parametrize("tree", list(trees()), ids=["normalized", "parsed", "generated"])
def test_clone_copies_what_deepcopy_copies(tree):
    copied = clone(tree)
    dump = gast.dump if isinstance(tree, gast.AST) else ast.dump
    assert dump(copied) == dump(copy.deepcopy(tree))
    originals = {id(n) for n in walk(tree)}
    assert not originals & {id(n) for n in walk(copied)}  # no node shared

"""``match`` statements, compiled as the ``if`` statements they run: literal, value,
sequence (with ``*rest``), mapping (with ``**rest``), class (positional and keyword),
``as`` and or-patterns, guards, in loops and in Tensor code; each checked against
finite differences and in forward mode, and what stays refused raises at its line."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from soundness.verify import verify_both_modes
from steps import assert_compiled_step_matches_eager

import srcdiff as sd
from srcdiff import nn

from .test_constructs import line_of

rng = np.random.default_rng(11)
W, X = rng.normal(size=4), rng.normal(size=4)


@dataclass
class Linear:
    v: np.ndarray
    k: int = 1


@dataclass
class Square:
    v: np.ndarray


def on_a_literal(w, x, mode=1):
    match mode:
        case 0 | 2:
            return np.sum(w)
        case 1:
            return np.sum(w * x)
        case _:
            return np.sum(x)


def on_a_sequence_with_a_star(w, x):
    parts = [w[0], w[1] * x[1], w[2], w[3]]
    match parts:
        case [first]:
            return first
        case [first, *rest, last]:
            return first * last + sum(rest) * x[0]


def on_a_mapping_with_the_rest(w, x):
    d = {"a": w, "b": x, "c": w * 2.0}
    match d:
        case {"z": z}:
            return np.sum(z)
        case {"a": a, "b": b, **rest}:
            return np.sum(a * b) + np.sum(rest["c"] * x)


def on_a_class(w, x):
    p = Square(w * x) if x[0] > 100 else Linear(w, 2)
    match p:
        case Square(v=v):
            return np.sum(v)
        case Linear(v, k=2):
            return np.sum(v * v * x)


def with_a_guard(w, x):
    match float(w[0]) > 0, w[1]:
        case (True, y) if y > 100:
            return y * 3.0
        case (_, y):
            return y * y + w[2] * x[2]


def with_as_and_a_number(w, x):
    match [w[0] * 2.0, x[0]]:
        case [float(y), _] as pair:
            return y * y * pair[1]
        case _:
            return w[0]


def an_array_is_no_sequence(w, x):
    match w:
        case [a, b, c, d]:
            return a * b * c * d
        case _:
            return np.sum(w * x)


def in_a_loop(w, x):
    total = 0.0
    for i in range(4):
        match i % 3:
            case 0:
                total = total + w[i]
            case 1:
                total = total + w[i] * x[i]
                continue
            case _:
                break
    return total


def alternatives_capturing(w, x):
    match (w[0], w[1]):
        case [a] | (a, _):
            return a * x[0]


def capturing_the_subject_under_a_guard(w, x):
    match w[0]:
        case y if y > 100:
            return y
        case y:
            return y * w[1] * x[1]


def capturing_the_subject_alone(w, x):
    match w[0] * x[0]:
        case y:
            return y * w[1]


@pytest.mark.parametrize(
    "fn",
    [capturing_the_subject_under_a_guard, capturing_the_subject_alone,
     on_a_literal, on_a_sequence_with_a_star, on_a_mapping_with_the_rest, on_a_class,
     with_a_guard, with_as_and_a_number, an_array_is_no_sequence, in_a_loop,
     alternatives_capturing],
)  # fmt: skip
def test_a_match_statement_gives_its_cases_gradients(fn):
    verify_both_modes(fn, (W, X), rng)


def mode_of(w, spec):
    match spec:
        case {"kind": "linear", "scale": s}:
            return np.sum(w) * s
        case {"kind": "square"}:
            return np.sum(w * w)
    return np.sum(w * 0.5)


def test_each_call_takes_the_case_its_subject_matches():
    g = sd.grad(mode_of)
    np.testing.assert_allclose(g(W, {"kind": "square"}), 2 * W)
    np.testing.assert_allclose(g(W, {"kind": "linear", "scale": 5.0}), np.full(4, 5.0))
    np.testing.assert_allclose(g(W, {"kind": "other"}), np.full(4, 0.5))


class Fields:
    def __init__(self, v):
        self.v = v


def positional_without_match_args(w):
    match Fields(w):
        case Fields(v):
            return np.sum(v)


def alternatives_capturing_with_a_guard(w):
    match (w[0], w[1]):
        case [a] | (a, _) if a > 0:
            return a
        case _:
            return w[1]


def shadows_isinstance(w, isinstance=None):
    match w[0]:
        case 1.0:
            return w[0]
        case _:
            return np.sum(w)


@pytest.mark.parametrize(
    ("fn", "marker", "what"),
    [
        (positional_without_match_args, "case Fields(v):", "__match_args__ names 0"),
        (alternatives_capturing_with_a_guard, "case [a] | (a, _) if a > 0:", "or-pattern"),
        (shadows_isinstance, "match w[0]:", "`isinstance` is not Python's own"),
    ],
)
def test_what_is_not_lowered_is_refused_at_its_line(fn, marker, what):
    with pytest.raises(sd.CompileError, match=what) as info:
        sd.grad(fn)(W)
    assert info.value.lineno == line_of(fn, marker)


def test_a_match_in_a_compiled_step_gives_the_eager_gradients():
    sd.manual_seed(0)
    model = nn.Linear(3, 1)
    x = sd.tensor(rng.normal(size=(5, 3)), dtype=sd.float32)
    y = sd.tensor(rng.normal(size=(5, 1)), dtype=sd.float32)

    def step(x, y):
        out = model(x)
        match out.shape:
            case (n, 1):
                loss = ((out - y) ** 2).sum() / n
            case _:
                loss = out.sum()
        loss.backward()
        return loss.item()

    assert_compiled_step_matches_eager(step, model, x, y)

"""A training step run eagerly and as a compiled ``@sd.differentiate`` step: the same
values and parameter gradients."""

import inspect

import numpy as np
import pytest

import srcdiff as sd


def assert_compiled_step_matches_eager(step, model, *args) -> None:
    """``step(*args)`` (which calls ``backward()`` on ``model``'s loss) eagerly and
    compiled, each after ``model.zero_grad()``: equal values and ``.grad``s."""
    runs = []
    for fn in (step, sd.differentiate(step)):
        model.zero_grad()
        runs.append((fn(*args), [p.grad.numpy().copy() for p in model.parameters()]))
    assert runs[1][0] == pytest.approx(runs[0][0])
    for got, want in zip(runs[1][1], runs[0][1], strict=True):
        np.testing.assert_allclose(got, want)


def assert_runs_match(run, step) -> None:
    """``run(step)`` and ``run(sd.differentiate(step))`` give the same ``(values,
    arrays)``: a few steps' values, then the state they leave (parameters, buffers)."""
    want, got = run(step), run(sd.differentiate(step))
    assert got[0] == pytest.approx(want[0])
    for g, w in zip(got[1], want[1], strict=True):
        np.testing.assert_allclose(g, w)


def shown_line(obj, text: str) -> str:
    """``file:N: text`` as generated code's comments show the line of ``obj``'s source
    (a module or a function) that holds ``text``."""
    lines, first = inspect.getsourcelines(obj)
    found = next(i for i, line in enumerate(lines) if line.strip() == text)
    name = inspect.getsourcefile(obj).split("/")[-1]
    return f"{name}:{first + found if first else found + 1}: {text}"


def assert_refused_eagerly_and_compiled(make, x, error, said) -> None:
    """``make(x)`` raises ``error`` matching ``said`` eagerly, and so does a compiled step
    that makes it and runs its backward()."""
    with pytest.raises(error, match=said):
        make(x)
    with pytest.raises(error, match=said):
        sd.differentiate(_made_and_backward)(make, x)


def _made_and_backward(make, x):
    y = make(x)
    y.sum().backward()
    return y

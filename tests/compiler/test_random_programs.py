"""Random small programs: straight-line arithmetic on one or two vectors (tanh, sin, exp,
products, sums), if/else on the data, for loops over ranges that accumulate, while loops
with a bounded counter, writes into entries, and calls of a function that branches.
Each is written to a file and imported (srcdiff reads source), and its gradient checked
against central differences along a random direction.

Every value stays bounded (products go through tanh, exp through sin), so differences
in float64 stay accurate; nested loops of such maps can still have gradients in the
thousands, whose differences are good to about 1e-5, hence rtol=1e-4 (a wrong adjoint is
wrong by far more).
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import srcdiff as sd

from .checker import check_function

MODULES = itertools.count()

HELPER = """def helper(a, b):
    if np.sum(a) > 0.0:
        return np.tanh(a) * b
    return np.sin(b) - a * 0.5"""
UNARY = ["np.tanh({a})", "np.sin({a})", "np.exp(np.sin({a}))", "{a} * 1.5", "-{a}"]
BINARY = ["{a} + {b}", "{a} - {b}", "{a} * np.tanh({b})", "np.sum({a}) * 0.25 + {b}"]


@st.composite
def expressions(draw, names: list[str], counter: str | None = None) -> str:
    a = draw(st.sampled_from(names))
    if counter is not None and draw(st.booleans()):
        return f"{a} * (0.5 * {counter} - 0.25)"
    if draw(st.booleans()):
        return draw(st.sampled_from(UNARY)).format(a=a)
    b = draw(st.sampled_from(names))
    return draw(st.sampled_from(BINARY)).format(a=a, b=b)


@st.composite
def blocks(
    draw, names: list[str], depth: int, indent: str, fresh: list[int], counter: str | None = None
) -> list[str]:
    """Statements; at the top level they may define new names, inside a branch or a loop
    they only assign names defined before (so every name is defined on every path)."""
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                ["assign", "assign", "write", "call", "if", "for", "while"]
                if depth < 2
                else ["assign", "write"]
            )
        )
        if kind == "write":  # an entry of a vector, from a scalar of another
            target, source = draw(st.sampled_from(names)), draw(st.sampled_from(names))
            index = draw(
                st.sampled_from(["0", "1", "-1"] + ([counter + " % 3"] if counter else []))
            )
            lines.append(f"{indent}{target} = {target} * 1.0")  # never the caller's array
            lines.append(f"{indent}{target}[{index}] = np.tanh(np.sum({source}))")
        elif kind == "call":
            a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
            target = draw(st.sampled_from(names))
            lines.append(f"{indent}{target} = helper({a}, {b})")
        elif kind == "assign":
            value = draw(expressions(names, counter))
            if depth == 0 and draw(st.booleans()):
                fresh[0] += 1
                target = f"v{fresh[0]}"
                names.append(target)
            else:
                target = draw(st.sampled_from(names))
                if counter is not None:  # in a loop: accumulate, or stay bounded
                    value = draw(
                        st.sampled_from([f"{target} * 0.5 + np.sin({value})", f"np.tanh({value})"])
                    )
            lines.append(f"{indent}{target} = {value}")
        elif kind == "if":
            a = draw(st.sampled_from(names))
            threshold = draw(st.sampled_from(["0.0", "0.5", "-0.5"]))
            lines.append(f"{indent}if np.sum({a}) > {threshold}:")
            lines += draw(blocks(list(names), depth + 1, indent + "    ", fresh, counter))
            if draw(st.booleans()):
                lines.append(f"{indent}else:")
                lines += draw(blocks(list(names), depth + 1, indent + "    ", fresh, counter))
        elif kind == "for":
            i = f"i{depth}"
            lines.append(f"{indent}for {i} in range({draw(st.integers(0, 4))}):")
            lines += draw(blocks(list(names), depth + 1, indent + "    ", fresh, i))
        else:
            k = f"k{depth}"
            lines.append(f"{indent}{k} = 0")
            lines.append(f"{indent}while {k} < {draw(st.integers(0, 3))}:")
            lines += draw(blocks(list(names), depth + 1, indent + "    ", fresh, k))
            lines.append(f"{indent}    {k} = {k} + 1")
    return lines


@st.composite
def programs(draw) -> tuple[str, int]:
    """The source of ``def f(x[, y])`` and its number of vector arguments."""
    inputs = draw(st.integers(1, 2))
    names = ["x", "y"][:inputs]
    body = draw(blocks(names, 0, "    ", [0]))
    result = draw(st.sampled_from(names[inputs:] or names))
    other = draw(st.sampled_from(names))
    params = ", ".join(["x", "y"][:inputs])
    lines = ["import numpy as np", "", "", HELPER, "", "", f"def f({params}):"]
    lines += body + [f"    return np.sum({result} * {result}) + np.sum(np.sin({other}))"]
    return "\n".join(lines) + "\n", inputs


@pytest.fixture(scope="module")
def directory(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("random_programs")


def load(source: str, directory: Path):
    path = directory / f"random_program_{next(MODULES)}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


@settings(
    max_examples=50,
    deadline=2000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(programs(), st.integers(0, 2**16))
def test_random_programs_have_the_gradients_of_finite_differences(directory, program, seed):
    source, inputs = program
    f = load(source, directory)
    rng = np.random.default_rng(seed)
    args = [rng.uniform(-1.5, 1.5, 3) for _ in range(inputs)]
    try:
        check_function(f, args, tuple(range(inputs)), rtol=1e-4, atol=1e-7, seed=seed)
    except AssertionError as failure:
        g = sd.grad(f, wrt=tuple(range(inputs)))
        g(*args)
        raise AssertionError(
            f"{failure}\n--- program ---\n{source}\n--- generated ---\n{sd.source(g)}"
        ) from None

"""The README's "Backends" table, made from the list of what each backend cannot run
(``support.UNSUPPORTED``), so that it is never typed twice.

``test_readme.py`` checks that the README holds exactly this text;
``SRCDIFF_UPDATE_README=1 python -m pytest tests/backends/test_readme.py`` rewrites it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rules.spec import prim_name

from srcdiff.rules.registry import all_rules
from srcdiff.runtime import tensor_methods as tm

from .support import (
    METHODS,
    NN_FUNCTIONAL,
    STRICT,
    TENSOR,
    UNSUPPORTED_FUNCTIONS,
    UNSUPPORTED_SPECS,
    skip_reason,
)

BEGIN = "<!-- backends table: made by tests/backends/coverage.py -->"
END = "<!-- end of the backends table -->"


def _families() -> dict[str, list[Any]]:
    """The built-in primitives by family: the module of srcdiff/rules holding the rule,
    with Tensor methods (and nn.functional's own primitives) apart."""
    out: dict[str, list[Any]] = defaultdict(list)
    for prim, rule in all_rules().items():
        if not rule.fn.__module__.startswith("srcdiff.rules"):
            continue  # a rule a test registered with sd.register_vjp
        if getattr(prim, "__module__", None) in (tm.__name__, NN_FUNCTIONAL):
            out["Tensor methods"].append(prim)
        else:
            out[rule.fn.__module__.rsplit(".", 1)[-1]].append(prim)
    return dict(sorted(out.items(), key=lambda kv: kv[0] == "Tensor methods"))


def _name(prim: Any) -> str:
    return prim_name(prim).replace("ndarray.", "x.")


def _cell(backend_name: str, prims: list[Any]) -> str:
    """``all``, ``none``, or ``all but`` the functions (and array methods) it cannot run."""
    missing = {
        _name(p): skip_reason(backend_name, p) for p in prims if skip_reason(backend_name, p)
    }
    if not missing:
        return "all"
    if len(missing) == len({_name(p) for p in prims}):
        return "none"
    functions = sorted(f"`{n}`" for n, why in missing.items() if why != METHODS)
    methods = "array methods" if METHODS in missing.values() else ""
    return "all but " + " and ".join(x for x in (", ".join(functions), methods) if x)


def table() -> str:
    """The markdown of the section's generated part."""
    lines = [BEGIN, "", "| rules | NumPy | CuPy | array-api-strict |", "| --- | --- | --- | --- |"]
    reasons: dict[str, set[str]] = defaultdict(set)
    for family, prims in _families().items():
        for p in prims:
            why = skip_reason(STRICT, p)
            if why and why not in (METHODS, TENSOR):
                reasons[why].add(f"`{_name(p)}`")
        lines.append(f"| {family} | all | {_cell('cupy', prims)} | {_cell(STRICT, prims)} |")
    lines += [
        "",
        "What array-api-strict cannot run, and why:",
        "",
        "- array methods such as `x.sum()`: not in the standard; Tensor methods: they "
        "run on NumPy or CuPy only",
    ]
    for why, names in sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        lines.append(f"- {', '.join(sorted(names))}: {why}")
    specs = UNSUPPORTED_SPECS.get(STRICT, {})
    lines += [
        f"- {len(specs)} single calls of rules it otherwise runs: NumPy indexing or "
        "arguments that the standard does not take (integer arrays that do not index "
        "every axis, writes through integer arrays, a positional axis, ...)",
        "",
    ]
    lines += [
        "The compiler's test functions that array-api-strict cannot run are NumPy code "
        "that the standard does not allow (array methods, iterating over an array, "
        "indexing fewer axes than the array has, arithmetic on booleans, ...); "
        "`tests/backends/support.py` lists each with its reason.",
        "",
        "What CuPy cannot run, and why (a plain call of the same code on CuPy arrays "
        "raises too, and so does the compiled one):",
        "",
        *_cupy_reasons(),
        "",
        END,
    ]
    return "\n".join(lines)


def _cupy_reasons() -> list[str]:
    """One line per reason CuPy cannot run a rule, or some calls of one (by spec id)."""
    reasons: dict[str, set[str]] = defaultdict(set)
    for prims in _families().values():
        for p in prims:
            why = skip_reason("cupy", p)
            if why:
                reasons[why].add(f"`{_name(p)}`")
    for spec_id, why in UNSUPPORTED_SPECS.get("cupy", {}).items():
        reasons[why].add(f"`{spec_id.split('[', 1)[0]}` (some calls)")
    for fn, why in UNSUPPORTED_FUNCTIONS.get("cupy", {}).items():
        reasons[why].add(f"`{fn}` (a test function)")
    return [
        f"- {', '.join(sorted(names))}: {why}"
        for why, names in sorted(reasons.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]


def updated(readme: str) -> str:
    """``readme`` with its generated part replaced by ``table()``."""
    start, stop = readme.index(BEGIN), readme.index(END) + len(END)
    return readme[:start] + table() + readme[stop:]

"""Layers point one way: every import in srcdiff (at the top of a module or inside a
function) goes from a layer to one below it, or within a layer that allows it.

    entry     the public names: srcdiff/__init__, api, export, __main__, viz, testing;
              batching (sd.vmap's batched runs)
    tensor    the PyTorch surface: tensor, autograd, creation, functions, printing,
              nn, optim, data
    compiler  compiler/
    rules     rules/ (the registry and the rule families)
    runtime   runtime/: what generated code calls; it reaches the compiler, the rules
              and the Tensor layer only through what they install (``rt.install``)
    base      backend (which imports nothing of srcdiff), errors, cuda, dtypes, grad_mode,
              fused (PyTorch's fused multiply-adds on arrays)
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import srcdiff

ROOT = Path(srcdiff.__file__).parent

LAYERS = {
    "entry": {"__init__", "__main__", "api", "batching", "diagnostics", "export", "viz", "testing"},
    "tensor": {
        "tensor",
        "autograd",
        "creation",
        "functions",
        "printing",
        "nn",
        "optim",
        "data",
        "serialization",
        "utils",
    },
    "compiler": {"compiler"},
    "rules": {"rules"},
    "runtime": {"runtime"},
    "base": {"backend", "errors", "cuda", "dtypes", "grad_mode", "generator", "fused"},
}
ORDER = list(LAYERS)
WITHIN = {"entry", "tensor", "base"}  # layers whose parts may import each other
LEAVES = {"backend"}  # parts that import nothing of srcdiff


def part(module: str) -> str:
    """The top-level part of srcdiff a module belongs to (``srcdiff.compiler.cache`` is
    ``compiler``)."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def layer(name: str) -> str:
    found = [layer for layer, parts in LAYERS.items() if name in parts]
    assert found, f"srcdiff/{name} is in no layer: add it to LAYERS in {__file__}"
    return found[0]


@functools.cache
def imports() -> tuple[tuple[str, str, str], ...]:
    """Every import of srcdiff by srcdiff: (importing part, imported part, where). Read
    once: each test of the layers walks the same sources."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent).with_suffix("")
        module = ".".join(relative.parts)
        package = module.removesuffix(".__init__") if path.stem == "__init__" else None
        package = package or module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                targets = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = [node.module or ""]
            else:
                continue
            for target in targets:
                if target.split(".")[0] == "srcdiff" and part(target) != part(module):
                    where = f"{path.relative_to(ROOT.parent)}:{node.lineno}"
                    found.append((part(module), part(target), where))
    return tuple(found)


def test_the_walk_finds_imports_inside_functions_too():
    edges = {(a, b) for a, b, _ in imports()}
    assert ("compiler", "runtime") in edges and ("api", "compiler") in edges


def test_every_import_points_down_the_layers():
    wrong = []
    for a, b, where in imports():
        la, lb = layer(a), layer(b)
        if a in LEAVES or ORDER.index(la) > ORDER.index(lb):
            wrong.append(f"{where}: {a} ({la}) imports {b} ({lb})")
        elif la == lb and la not in WITHIN:
            wrong.append(f"{where}: {a} imports {b} within the {la} layer")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_the_runtime_imports_neither_the_compiler_nor_the_tensor_layer():
    reached = {b for a, b, _ in imports() if a == "runtime"}
    assert not reached & (LAYERS["compiler"] | LAYERS["tensor"] | LAYERS["rules"])

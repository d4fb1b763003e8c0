"""``make_dot``: the graph behind a tensor as Graphviz DOT text, drawn as torchviz draws it.

The tensor itself is a dark olive green box (its shape); operations are grey boxes named
as PyTorch names them (``MulBackward0``); each leaf that requires grad is a light blue
box (named from ``params``, and its shape) feeding an ``AccumulateGrad`` box. Tensors
that do not require grad are not part of the graph, so they are not drawn.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from .autograd import AccumulateGrad

NODE_STYLE = (
    "node [align=left fontname=monospace fontsize=10 height=0.2 ranksep=0.1 shape=box style=filled]"
)


class Dot:
    """DOT source with a ``render`` that runs Graphviz's ``dot`` where it is installed."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __str__(self) -> str:
        return self.source

    def render(self, path: str | Path, format: str = "svg") -> str:
        """Write the drawing to ``path`` (given the format's suffix if it lacks it)."""
        program = shutil.which("dot")
        if program is None:
            raise RuntimeError(
                "make_dot(...).render() needs the Graphviz program 'dot', which "
                "is not installed (e.g. apt-get install graphviz); the DOT text "
                "is in .source"
            )
        out = Path(path)
        if out.suffix != f".{format}":
            out = out.with_name(out.name + f".{format}")
        subprocess.run(
            [program, f"-T{format}", "-o", str(out)],
            input=self.source.encode(),
            check=True,
            capture_output=True,
        )
        return str(out)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _size(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


def make_dot(tensor: Any, params: dict[str, Any] | None = None) -> Dot:
    """The graph that ``tensor.backward()`` would walk, as a ``Dot`` (``.source``, ``.render``)."""
    names = {id(t): name for name, t in (params or {}).items()}
    lines = ["digraph {", '\tgraph [size="12,12"]', "\t" + NODE_STYLE]
    ids: dict[int, str] = {}

    def label(t: Any) -> str:
        name = names.get(id(t))
        return _size(tuple(t.shape)) if name is None else f"{name}\n{_size(tuple(t.shape))}"

    def node(key: Any, text: str, colour: str) -> str:
        ids[id(key)] = node_id = f"n{len(ids)}"
        lines.append(f"\t{node_id} [label={_quote(text)} fillcolor={colour}]")
        return node_id

    def visit(fn: Any) -> str:
        if id(fn) in ids:
            return ids[id(fn)]
        if isinstance(fn, AccumulateGrad):
            fn_id = node(fn, "AccumulateGrad", "lightgray")
            lines.append(f"\t{node(fn.variable, label(fn.variable), 'lightblue')} -> {fn_id}")
            return fn_id
        fn_id = node(fn, fn.name(), "lightgray")
        for child, _ in fn.next_functions:
            if child is not None:
                lines.append(f"\t{visit(child)} -> {fn_id}")
        return fn_id

    if tensor.grad_fn is not None:
        root = visit(tensor.grad_fn)
        lines.append(f"\t{root} -> {node(tensor, label(tensor), 'darkolivegreen1')}")
    elif tensor.requires_grad:
        node(tensor, label(tensor), "lightblue")
    lines.append("}")
    return Dot("\n".join(lines) + "\n")

"""make_dot: the graph of ``yhat = b + w * x`` as the autograd tutorial draws it."""

import re
import shutil

import pytest

import srcdiff as sd
from srcdiff import viz


def nodes(source):
    """{node id: (label, colour)} of DOT text."""
    found = re.findall(r'\t(n\d+) \[label="((?:[^"\\]|\\.)*)" fillcolor=(\w+)\]', source)
    return {node: (label, colour) for node, label, colour in found}


def edges(source):
    return re.findall(r"\t(n\d+) -> (n\d+)", source)


def labelled(source):
    return {label: colour for label, colour in nodes(source).values()}


def model(b_requires_grad=True):
    sd.manual_seed(42)
    b = sd.randn(1, requires_grad=b_requires_grad, dtype=sd.float)
    w = sd.randn(1, requires_grad=True, dtype=sd.float)
    x = sd.rand(80, 1)
    return b, w, b + w * x


def test_graph_of_the_prediction():
    """As torchviz: the output (green), the operations (grey), each leaf (blue) through
    an AccumulateGrad (grey)."""
    b, w, yhat = model()
    source = sd.make_dot(yhat).source
    assert source.startswith("digraph {") and source.rstrip().endswith("}")
    found = nodes(source)
    by_label = {}
    for node, (label, colour) in found.items():
        by_label.setdefault((label, colour), []).append(node)
    assert sorted(by_label) == sorted(
        [
            ("(80, 1)", "darkolivegreen1"),
            ("AddBackward0", "lightgray"),
            ("MulBackward0", "lightgray"),
            ("AccumulateGrad", "lightgray"),
            ("(1)", "lightblue"),
        ]
    )
    (out,), (add,), (mul,) = (
        by_label[("(80, 1)", "darkolivegreen1")],
        by_label[("AddBackward0", "lightgray")],
        by_label[("MulBackward0", "lightgray")],
    )
    acc_b, acc_w = by_label[("AccumulateGrad", "lightgray")]
    leaf_b, leaf_w = by_label[("(1)", "lightblue")]
    assert sorted(edges(source)) == sorted(
        [(add, out), (acc_b, add), (leaf_b, acc_b), (mul, add), (acc_w, mul), (leaf_w, acc_w)]
    )


def test_parameter_names_label_the_leaves():
    b, w, yhat = model()
    source = sd.make_dot(yhat, params={"b": b, "w": w}).source
    assert {"b\\n(1)": "lightblue", "w\\n(1)": "lightblue"}.items() <= labelled(source).items()


def test_tensors_without_grad_are_absent():
    b_nograd, w, yhat = model(b_requires_grad=False)
    source = sd.make_dot(yhat).source
    assert labelled(source) == {
        "(80, 1)": "darkolivegreen1",
        "AddBackward0": "lightgray",
        "MulBackward0": "lightgray",
        "AccumulateGrad": "lightgray",
        "(1)": "lightblue",
    }
    assert len(nodes(source)) == 5 and len(edges(source)) == 4


def test_graph_survives_backward():
    b, w, yhat = model()
    loss = ((1 - yhat) ** 2).mean()
    loss.backward()
    assert "MeanBackward0" in sd.make_dot(loss).source


def test_render_without_graphviz(monkeypatch, tmp_path):
    b, w, yhat = model()
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="Graphviz program 'dot'"):
        sd.make_dot(yhat).render(tmp_path / "graph")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_render_with_graphviz(tmp_path):
    b, w, yhat = model()
    out = sd.make_dot(yhat).render(tmp_path / "graph", format="svg")
    with open(out) as f:
        assert out.endswith("graph.svg") and "<svg" in f.read()

"""Compiled Tensor code indexing a container of parameters or modules by an integer
taken from a list or a dict (``i = self.order[1]; self.weights[i]``): the container's
own ``__getitem__`` runs, as eagerly (it was refused, ".__getitem__ of a ParameterList,
which compiled code took for an array's"). An object's own ``__getitem__`` given a
Tensor that carries a gradient stays refused, at the user's line."""

from __future__ import annotations

import numpy as np
import pytest
from steps import assert_runs_match

import srcdiff as sd
from srcdiff import nn, optim


class Picked(nn.Module):
    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode
        self.weights = nn.ParameterList(
            [nn.Parameter(sd.randn(3, dtype=sd.float64)) for _ in range(3)]
        )
        self.layers = nn.ModuleList([nn.Linear(3, 3).double() for _ in range(2)])
        self.order = [2, 0]
        self.config = {"layer": 1, "weight": 1}

    def forward(self, x):
        if self.mode == "list":
            i = self.order[0]
            return (self.weights[i] * x).sum() + (self.weights[self.order[1]] ** 2).sum()
        if self.mode == "dict":
            layer = self.layers[self.config["layer"]]
            return (layer(x) * self.weights[self.config["weight"]]).sum()
        total = 0.0
        for i in self.order:
            total = total + (self.weights[i] * x).sum()
        return total


@pytest.mark.parametrize("mode", ["list", "dict", "loop"])
def test_a_container_indexed_by_an_integer_from_a_list_or_dict(mode):
    def run(step):
        sd.manual_seed(3)
        model = Picked(mode)
        opt = optim.SGD(model.parameters(), lr=0.1)
        x = sd.randn(4, 3, dtype=sd.float64)
        values = [step(model, opt, x) for _ in range(3)]
        return values, [p.detach().numpy() for p in model.parameters()]

    def step(model, opt, x):
        opt.zero_grad()
        loss = model(x)
        loss.backward()
        opt.step()
        return loss.item()

    assert_runs_match(run, step)


class Doubled:
    def __getitem__(self, key):
        return key * 2.0


def reads_a_tensor_key(w, tables):
    table = tables[0]
    loss = (table[w] * w).sum()
    loss.backward()
    return loss


def test_an_objects_own_getitem_given_a_differentiated_tensor_is_refused_at_the_line():
    w = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
    with pytest.raises(sd.CompileError, match="__getitem__ of a Doubled") as info:
        sd.differentiate(reads_a_tensor_key)(w, [Doubled()])
    assert info.value.lineno == reads_a_tensor_key.__code__.co_firstlineno + 2
    assert "Doubled.__getitem__(obj, ...)" in info.value.hint
    eager = sd.tensor([1.0, 2.0, 3.0], dtype=sd.float64, requires_grad=True)
    reads_a_tensor_key(eager, [Doubled()])
    np.testing.assert_allclose(eager.grad.numpy(), 4.0 * np.array([1.0, 2.0, 3.0]))

"""The recurrent layers RNN, LSTM and GRU and their cells, as PyTorch's: their parameters
named, laid out and drawn as PyTorch's, their gates in PyTorch's order."""

from __future__ import annotations

import math
from typing import Any

from ..creation import empty
from ..functions import cat, stack
from ..rules.registry import nondiff
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _mode(kind: str, nonlinearity: str) -> str:
    """The cell's kind: an RNN's by its nonlinearity ('tanh' or 'relu'), or LSTM, GRU."""
    if kind != "RNN":
        return kind
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
    return "RNN_" + nonlinearity.upper()


def _step(mode: str, gi: Tensor, h: Tensor, c: Any, w_hh: Tensor, b_hh: Any) -> tuple:
    """One step of a cell: ``gi`` the input's share of the gates (its weights and bias
    applied), ``h`` (and ``c``, an LSTM's) the state; the new ``(h, c)``."""
    gh = F.linear(h, w_hh, b_hh)
    if mode == "RNN_TANH":
        return (gi + gh).tanh(), c
    if mode == "RNN_RELU":
        return F.relu(gi + gh), c
    if mode == "LSTM":
        i, f, g, o = (gi + gh).chunk(4, -1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        return o.sigmoid() * c.tanh(), c
    ir, iz, i_n = gi.chunk(3, -1)
    hr, hz, h_n = gh.chunk(3, -1)
    r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
    n = (i_n + r * h_n).tanh()
    return (1.0 - z) * n + z * h, c


def _expected(got: Any, want: tuple, what: str) -> None:
    """PyTorch's error for a state of the wrong size."""
    if tuple(got.shape) != tuple(want):
        raise RuntimeError(f"Expected {what} size {tuple(want)}, got {list(got.shape)}")


nondiff("a check of a state's shape", _expected)


def _states(mode: str, hx: Any, batched: bool, ndim: int) -> tuple:
    """``hx`` as ``(h, c)`` (an LSTM's pair, else ``(hx, hx)``; None: ``(None, None)``),
    refused where it is not what the layer takes (a pair for an LSTM, a Tensor for the
    others) or its number of dims is not the input's."""
    if hx is None:
        return None, None
    pair = isinstance(hx, (tuple, list))
    if mode == "LSTM" and not (pair and len(hx) == 2):
        raise TypeError("an LSTM's hx is a pair (h_0, c_0) of Tensors")
    if mode != "LSTM" and pair:
        raise TypeError("hx is one Tensor (an LSTM's alone is a pair), not a tuple or list")
    h, c = (hx[0], hx[1]) if pair else (hx, hx)
    for state in (h, c):
        if state.ndim != ndim:
            kind = "batched" if batched else "unbatched"
            raise RuntimeError(
                f"For {kind} {ndim}-D input, hx should also be {ndim}-D but got "
                f"{state.ndim}-D tensor"
            )
    return h, c


class RNNCellBase(Module):
    """A cell's parameters: weight_ih (gates * hidden_size, input_size), weight_hh (gates *
    hidden_size, hidden_size) and, where ``bias``, bias_ih and bias_hh, all drawn from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) in that order, as PyTorch's."""

    kind = "RNN"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None
                 ) -> None:  # fmt: skip
        super().__init__()
        self.mode = _mode(self.kind, nonlinearity)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        if self.kind == "RNN":
            self.nonlinearity = nonlinearity
        rows = GATES[self.mode] * hidden_size
        self.weight_ih = Parameter(empty(rows, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(empty(rows, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(empty(rows, dtype=dtype, device=device))
            self.bias_hh = Parameter(empty(rows, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _cell(self, input: Tensor, hx: Any) -> tuple:
        """The new state of a batched or unbatched step, from ``hx`` (zeros if None)."""
        name = self.kind + "Cell"
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if x.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {x.shape[1]} expected "
                               f"{self.input_size}")  # fmt: skip
        h, c = _states(self.mode, hx, batched, input.ndim)
        if h is None:
            h = x.new_zeros((x.shape[0], self.hidden_size))
            c = h
        elif not batched:
            h, c = h.unsqueeze(0), c.unsqueeze(0)
        for i, state in enumerate((h, c)):
            if state.shape[0] != x.shape[0]:
                raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden{i} "
                                   f"batch size {state.shape[0]}")  # fmt: skip
            _expected(state, (x.shape[0], self.hidden_size), f"hidden{i}")
        gi = F.linear(x, self.weight_ih, self.bias_ih)
        h, c = _step(self.mode, gi, h, c, self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu, by ``nonlinearity``)."""

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._cell(input, hx)[0]


class LSTMCell(RNNCellBase):
    """An LSTM step: gates i, f, g, o; c' = f c + i g, h' = o tanh(c'); ``(h', c')``."""

    kind = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:  # fmt: skip
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Tensor]:
        return self._cell(input, hx)


class GRUCell(RNNCellBase):
    """A GRU step: r, z gates; n = tanh(W_in x + b_in + r (W_hn h + b_hn)); h' = (1 - z) n
    + z h."""

    kind = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:  # fmt: skip
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._cell(input, hx)[0]


class RNNBase(Module):
    """``num_layers`` recurrent layers (each direction's of ``bidirectional``), the output
    of one the input of the next (with dropout ``dropout`` between them in training); the
    parameters weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} (and
    ..._reverse), drawn as PyTorch's. ``proj_size`` is not taken."""

    kind = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None, nonlinearity: str = "tanh") -> None:  # fmt: skip
        super().__init__()
        self.mode = _mode(self.kind, nonlinearity)
        if proj_size != 0:
            raise NotImplementedError(
                "LSTM with proj_size is not supported by srcdiff: project the outputs with an "
                "nn.Linear instead"
            )
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")  # fmt: skip
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError("hidden_size and num_layers must be greater than zero")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        if self.kind == "RNN":
            self.nonlinearity = nonlinearity
        directions = 2 if bidirectional else 1
        rows = GATES[self.mode] * hidden_size
        self._weight_names = []
        for layer in range(num_layers):
            size = input_size if layer == 0 else hidden_size * directions
            for suffix in ["", "_reverse"][:directions]:
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                shapes = [(rows, size), (rows, hidden_size)]
                if bias:
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                    shapes += [(rows,), (rows,)]
                for name, shape in zip(names, shapes, strict=True):
                    self.register_parameter(
                        name, Parameter(empty(*shape, dtype=dtype, device=device))
                    )
                self._weight_names.append(names if bias else names + [None, None])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """Nothing to do, as PyTorch's on the CPU: the layer computes from its parameters
        as they are (models call it to lay out cuDNN's weights)."""

    def _weights(self, k: int) -> list:
        """Layer-direction ``k``'s (weight_ih, weight_hh, bias_ih, bias_hh)."""
        return [None if name is None else self._parameters[name] for name in self._weight_names[k]]

    def _run(self, input: Tensor, hx: Any) -> tuple:
        """The output and the last states (h_n, c_n: an LSTM's; else c_n is h_n)."""
        name = self.kind
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D instead")
        batched = input.ndim == 3
        x = input if batched else input.unsqueeze(1)
        if self.batch_first and batched:
            x = x.transpose(0, 1)
        if x.shape[2] != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {x.shape[2]}"
            )
        directions = 2 if self.bidirectional else 1
        want = (self.num_layers * directions, x.shape[1], self.hidden_size)
        h0, c0 = _states(self.mode, hx, batched, 3 if batched else 2)
        if h0 is None:
            h0 = x.new_zeros(want)
            c0 = h0
        elif not batched:
            h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
        lstm = self.mode == "LSTM"
        _expected(h0, want, "hidden[0]" if lstm else "hidden")
        _expected(c0, want, "hidden[1]")
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                k = layer * directions + d
                w_ih, w_hh, b_ih, b_hh = self._weights(k)
                gis = F.linear(x, w_ih, b_ih)
                h, c = h0[k], c0[k]
                seq = []
                for t in range(x.shape[0]) if d == 0 else range(x.shape[0] - 1, -1, -1):
                    h, c = _step(self.mode, gis[t], h, c, w_hh, b_hh)
                    seq.append(h)
                outs.append(stack(seq if d == 0 else seq[::-1], 0))
                hs.append(h)
                cs.append(c)
            x = outs[0] if directions == 1 else cat(outs, 2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n, c_n = stack(hs, 0), stack(cs, 0)
        if self.batch_first and batched:
            x = x.transpose(0, 1)
        if not batched:
            x, h_n, c_n = x.squeeze(1), h_n.squeeze(1), c_n.squeeze(1)
        return x, h_n, c_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """An Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu);
    ``(output, h_n)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None) -> None:  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype, nonlinearity)  # fmt: skip

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        output, h_n, _ = self._run(input, hx)
        return output, h_n


class LSTM(RNNBase):
    """An LSTM (gates i, f, g, o, as LSTMCell's); ``(output, (h_n, c_n))``."""

    kind = "LSTM"

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        output, h_n, c_n = self._run(input, hx)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """A GRU (gates r, z, n, as GRUCell's); ``(output, h_n)``."""

    kind = "GRU"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None
                 ) -> None:  # fmt: skip
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype)  # fmt: skip

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        output, h_n, _ = self._run(input, hx)
        return output, h_n

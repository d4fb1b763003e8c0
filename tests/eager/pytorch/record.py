"""Record PyTorch's CPU random numbers, the tutorials' printed values and the steps of
its optimizers, schedulers, initializers and clipping, for the tests that check srcdiff
gives the same (``tests/eager/test_pytorch_values.py``, ``test_pytorch_tutorials.py``,
``test_pytorch_optim_values.py``).

Run once where PyTorch and NumPy are installed (PyTorch is not a test dependency):

    python tests/eager/pytorch/record.py tests/eager/pytorch/values.json

Every entry is a list of numbers (float32 values as their float64 decimals, exactly).
The tutorials' code and the optimizer runs are in ``programs.py``, written against a
``torch`` argument, so that the tests run the very same code with srcdiff.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import programs  # beside this file: the tutorials and optimizer runs, for torch or srcdiff
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split

SIZES = [1, 3, 15, 16, 17, 40, 100]


def values(t: torch.Tensor) -> list:
    return t.detach().reshape(-1).tolist()


def record() -> dict:
    out: dict = {"torch": torch.__version__}
    for seed in (0, 42, 1234):
        for n in SIZES:
            for dtype in (torch.float32, torch.float64):
                name = str(dtype).removeprefix("torch.")
                torch.manual_seed(seed)
                out[f"randn/{seed}/{n}/{name}"] = values(torch.randn(n, dtype=dtype))
                torch.manual_seed(seed)
                out[f"rand/{seed}/{n}/{name}"] = values(torch.rand(n, dtype=dtype))
                torch.manual_seed(seed)
                out[f"normal_/{seed}/{n}/{name}"] = values(
                    torch.empty(n, dtype=dtype).normal_(mean=1.0, std=2.0)
                )
                torch.manual_seed(seed)  # a scale whose product rounds: fused or not
                out[f"normal_-fused/{seed}/{n}/{name}"] = values(
                    torch.empty(n, dtype=dtype).normal_(mean=0.3, std=1.7)
                )
                torch.manual_seed(seed)
                out[f"uniform_/{seed}/{n}/{name}"] = values(
                    torch.empty(n, dtype=dtype).uniform_(-1.0, 3.0)
                )
                torch.manual_seed(seed)  # a tensor of probabilities: float32 draws for it
                probabilities = torch.from_numpy(np.linspace(0.05, 0.95, n)).to(dtype)
                out[f"bernoulli/{seed}/{n}/{name}"] = values(torch.bernoulli(probabilities))
            torch.manual_seed(seed)
            out[f"randint/{seed}/{n}"] = values(torch.randint(-5, 7, (n,)))
            torch.manual_seed(seed)
            out[f"randperm/{seed}/{n}"] = values(torch.randperm(n))
            torch.manual_seed(seed)
            out[f"bernoulli_/{seed}/{n}"] = values(torch.empty(n).bernoulli_(0.3))
            torch.manual_seed(seed)
            out[f"dropout/{seed}/{n}"] = values(F.dropout(torch.ones(n), p=0.5, training=True))
        torch.manual_seed(seed)
        out[f"randn-large/{seed}"] = values(torch.randn(2000))
        torch.manual_seed(seed)
        out[f"randn-twice/{seed}"] = values(torch.randn(1)) + values(torch.randn(1))
        torch.manual_seed(seed)
        out[f"randn-2x3/{seed}"] = values(torch.randn(2, 3))
        torch.manual_seed(seed)
        split = random_split(range(10), [7, 3])
        out[f"random_split/{seed}"] = [list(split[0].indices), list(split[1].indices)]
        g = torch.Generator().manual_seed(seed)
        split = random_split(range(10), [0.5, 0.5], generator=g)
        out[f"random_split-fractions-generator/{seed}"] = [list(s.indices) for s in split]
        torch.manual_seed(seed)
        loader = DataLoader(TensorDataset(torch.arange(10)), batch_size=3, shuffle=True)
        out[f"dataloader/{seed}"] = [values(b[0]) for b in loader] + [
            values(b[0]) for b in loader
        ]  # two epochs
        torch.manual_seed(seed)
        layer = torch.nn.Linear(3, 2)
        out[f"linear-init/{seed}"] = values(layer.weight) + values(layer.bias)
    out.update(loader_draws())
    out.update(tutorial())
    out.update(programs.record_all(torch))
    out.update(optimizers_with_ieee_sqrt())
    return out


def loader_draws() -> dict:
    """Shuffling loaders where other draws come between theirs: two zipped, a draw
    between ``iter`` and the first batch, and a generator of their own over epochs with
    and without a last partial batch (PyTorch draws at ``iter``, at the first batch, and
    once more from such a generator when the samples run out)."""
    out: dict = {}
    data = TensorDataset(torch.arange(10))
    for seed in (0, 42):
        torch.manual_seed(seed)
        pairs = zip(
            DataLoader(data, 5, shuffle=True), DataLoader(data, 5, shuffle=True), strict=True
        )
        out[f"dataloader-zipped/{seed}"] = [values(a[0]) + values(b[0]) for a, b in pairs]
        torch.manual_seed(seed)
        batches = iter(DataLoader(data, 4, shuffle=True))
        drawn = values(torch.rand(2))
        out[f"dataloader-draw-after-iter/{seed}"] = drawn + [
            v for b in batches for v in values(b[0])
        ]
        for size, drop in ((5, False), (3, False), (3, True)):
            g = torch.Generator().manual_seed(seed)
            loader = DataLoader(data, size, shuffle=True, drop_last=drop, generator=g)
            out[f"dataloader-generator/{seed}/{size}/{drop}"] = [
                values(b[0]) for _ in range(3) for b in loader
            ] + [values(torch.randperm(10, generator=g))]
    return out


def optimizers_with_ieee_sqrt() -> dict:
    """Adam, AdamW, RMSprop and Adagrad of ``programs.optimizers`` again, with
    ``Tensor.sqrt`` (and ``sqrt_``) rounding correctly, as IEEE 754 (and NumPy) do.

    PyTorch's CPU sqrt (MKL's vector math) is off by one ulp for about a fifth of float32
    inputs (and a few float64 ones); srcdiff's is NumPy's, correctly rounded. With the
    sqrt replaced, every other operation of these optimizers is compared bit for bit."""

    def ieee(t: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.sqrt(t.detach().numpy()))

    saved = torch.Tensor.sqrt, torch.Tensor.sqrt_
    torch.Tensor.sqrt = ieee
    torch.Tensor.sqrt_ = lambda t: t.copy_(ieee(t))
    try:
        steps = programs.optimizers(torch)
    finally:
        torch.Tensor.sqrt, torch.Tensor.sqrt_ = saved
    return {
        k.replace("optim/", "optim-ieee-sqrt/", 1): v
        for k, v in steps.items()
        if not k.startswith("optim/sgd")
    }


def tutorial() -> dict:
    """The values "Understanding PyTorch with an example" prints (its code, on the CPU)."""

    np.random.seed(42)
    x = np.random.rand(100, 1)
    y = 1 + 2 * x + 0.1 * np.random.randn(100, 1)
    idx = np.arange(100)
    np.random.shuffle(idx)
    x_train = torch.from_numpy(x[idx[:80]]).float()
    y_train = torch.from_numpy(y[idx[:80]]).float()
    out = {}
    torch.manual_seed(42)
    a = torch.randn(1, requires_grad=True, dtype=torch.float)
    b = torch.randn(1, requires_grad=True, dtype=torch.float)
    out["tutorial/initial"] = values(a) + values(b)
    for _ in range(1000):
        loss = ((y_train - (a + b * x_train)) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            a -= 0.1 * a.grad
            b -= 0.1 * b.grad
        a.grad.zero_()
        b.grad.zero_()
    out["tutorial/final"] = values(a) + values(b)
    torch.manual_seed(42)
    model = torch.nn.Sequential(torch.nn.Linear(1, 1))
    out["tutorial/linear-initial"] = values(model[0].bias) + values(model[0].weight)
    dataset = TensorDataset(torch.from_numpy(x).float(), torch.from_numpy(y).float())
    torch.manual_seed(42)
    train, val = random_split(dataset, [80, 20])
    out["tutorial/split"] = [list(train.indices), list(val.indices)]
    return out


if __name__ == "__main__":
    with open(sys.argv[1], "w") as f:
        json.dump(record(), f)
    print("recorded with torch", torch.__version__)

"""The code whose values srcdiff must share with PyTorch, written once against a module
``torch`` that is PyTorch itself in ``record.py`` and ``srcdiff`` in the tests.

Each program returns ``{key: [numbers]}``: ``record.py`` stores PyTorch's in
``values.json``, and the tests run the same function with ``srcdiff`` in place of
``torch`` and compare. Nothing here imports PyTorch or srcdiff (only NumPy), so the module
serves both sides.

* ``TUTORIALS``: the tutorials in ``shared/seeds`` ("Understanding PyTorch with an
  example", section by section, "PyTorch 101 for Dummies like Me", "Automatic
  Differentiation in PyTorch"), their code on the CPU, recording what they print;
* ``optimizers``, ``schedulers``, ``initializers``, ``clipping`` and ``alpha``: each
  optimizer and learning-rate scheduler a few steps on a fixed problem, ``nn.init``,
  ``clip_grad_norm_`` and ``add``/``sub`` with ``alpha``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

Values = dict[str, list]


def values(t: Any) -> list:
    """The numbers of a tensor (float32 ones as their float64 decimals, exactly)."""
    return t.detach().reshape(-1).tolist()


def state_values(state_dict: dict) -> list:
    """The numbers of a ``state_dict``, entry after entry."""
    return [x for t in state_dict.values() for x in values(t)]


# ---- Understanding PyTorch with an example ---------------------------------------------


def data_gen() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tutorial's ``data_gen``: 100 points of y = 1 + 2 x + noise, split 80 / 20."""
    np.random.seed(42)
    a, b = 1, 2
    x = np.random.rand(100, 1)
    y = a + b * x + 0.1 * np.random.randn(100, 1)
    idx = np.arange(100)
    np.random.shuffle(idx)
    train_idx, val_idx = idx[:80], idx[80:]
    return x[train_idx], y[train_idx], x[val_idx], y[val_idx]


def _whole_data() -> tuple[np.ndarray, np.ndarray]:
    """``x`` and ``y`` before the split (the "Random Split" section uses all 100)."""
    np.random.seed(42)
    x = np.random.rand(100, 1)
    y = 1 + 2 * x + 0.1 * np.random.randn(100, 1)
    return x, y


LR = 1e-1
N_EPOCHS = 1000
# The minibatch loop of the "Evaluation" section runs 100 epochs, not the 1000 of the
# tutorial's ``n_epochs``: 500 steps of minibatches cover what it adds (the split, the
# loader, eval mode) and keep the test fast; the loops before it run all 1000 epochs.
EVALUATION_EPOCHS = 100


def _train_tensors(torch: Any) -> tuple[Any, Any]:
    """The tutorial's ``x_train_tensor`` and ``y_train_tensor``."""
    x_train, y_train, _, _ = data_gen()
    return torch.from_numpy(x_train).float(), torch.from_numpy(y_train).float()


def understanding_autograd(torch: Any) -> Values:
    """The tutorial's "Autograd" section: updates by hand under ``no_grad``; the
    gradients it prints every epoch, and the final a and b."""
    x_train_tensor, y_train_tensor = _train_tensors(torch)
    lr, n_epochs = LR, N_EPOCHS
    torch.manual_seed(42)
    a = torch.randn(1, requires_grad=True, dtype=torch.float)
    b = torch.randn(1, requires_grad=True, dtype=torch.float)
    grads = []
    for _epoch in range(n_epochs):
        yhat = a + b * x_train_tensor
        error = y_train_tensor - yhat
        loss = (error**2).mean()
        loss.backward()
        grads += values(a.grad) + values(b.grad)  # print(a.grad); print(b.grad)
        with torch.no_grad():
            a -= lr * a.grad
            b -= lr * b.grad
        a.grad.zero_()
        b.grad.zero_()
    return {
        "understanding/autograd/grads": grads,
        "understanding/autograd/final": values(a) + values(b),
    }


def understanding_optimizer(torch: Any) -> Values:
    """The "Optimizer" and "Loss" sections: ``optim.SGD`` steps, then with
    ``nn.MSELoss``; the a and b they print."""
    nn, optim = torch.nn, torch.optim
    x_train_tensor, y_train_tensor = _train_tensors(torch)
    lr, n_epochs = LR, N_EPOCHS
    out: Values = {}
    torch.manual_seed(42)
    a = torch.randn(1, requires_grad=True, dtype=torch.float)
    b = torch.randn(1, requires_grad=True, dtype=torch.float)
    optimizer = optim.SGD([a, b], lr=lr)
    for _epoch in range(n_epochs):
        yhat = a + b * x_train_tensor
        error = y_train_tensor - yhat
        loss = (error**2).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    out["understanding/optimizer/final"] = values(a) + values(b)

    torch.manual_seed(42)
    a = torch.randn(1, requires_grad=True, dtype=torch.float)
    b = torch.randn(1, requires_grad=True, dtype=torch.float)
    out["understanding/loss/initial"] = values(a) + values(b)
    loss_fn = nn.MSELoss(reduction="mean")
    optimizer = optim.SGD([a, b], lr=lr)
    for _epoch in range(n_epochs):
        yhat = a + b * x_train_tensor
        loss = loss_fn(y_train_tensor, yhat)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    out["understanding/loss/final"] = values(a) + values(b)
    return out


def understanding_model(torch: Any) -> Values:
    """The "Model" and "Full Code" sections: the ``ManualLinearRegression`` module's
    ``state_dict`` before and after training, as the "Model" section has the loop
    (without ``zero_grad``: the gradients accumulate) and as the "Full Code" has it."""
    nn, optim = torch.nn, torch.optim
    x_train_tensor, y_train_tensor = _train_tensors(torch)
    lr, n_epochs = LR, N_EPOCHS

    class ManualLinearRegression(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Parameter(torch.randn(1, requires_grad=True, dtype=torch.float))
            self.b = nn.Parameter(torch.randn(1, requires_grad=True, dtype=torch.float))

        def forward(self, x: Any) -> Any:
            return self.a + self.b * x

    out: Values = {}
    for name, zero_grad in (("model", False), ("full-code", True)):
        torch.manual_seed(42)
        model = ManualLinearRegression()
        out[f"understanding/{name}/initial"] = state_values(model.state_dict())
        loss_fn = nn.MSELoss(reduction="mean")
        optimizer = optim.SGD(model.parameters(), lr=lr)
        for _epoch in range(n_epochs):
            model.train()
            yhat = model(x_train_tensor)
            loss = loss_fn(y_train_tensor, yhat)
            loss.backward()
            optimizer.step()
            if zero_grad:
                optimizer.zero_grad()
        out[f"understanding/{name}/final"] = state_values(model.state_dict())
    return out


def make_train_step(model: Any, loss_fn: Any, optimizer: Any) -> Any:
    """The tutorial's "Training Step": a function of one step, returning the loss."""

    def train_step(x: Any, y: Any) -> float:
        model.train()
        yhat = model(x)
        loss = loss_fn(y, yhat)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    return train_step


def understanding_training_step(torch: Any) -> Values:
    """The "Nested Models", "Sequential Models" and "Training Step" sections:
    ``LayerLinearRegression`` and ``nn.Sequential(nn.Linear(1, 1))`` trained by
    ``make_train_step``; their initial and final ``state_dict`` and the losses."""
    nn, optim = torch.nn, torch.optim
    x_train_tensor, y_train_tensor = _train_tensors(torch)
    lr, n_epochs = LR, N_EPOCHS

    class LayerLinearRegression(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(1, 1)

        def forward(self, x: Any) -> Any:
            return self.linear(x)

    out: Values = {}
    for name, make in (
        ("nested", LayerLinearRegression),
        ("sequential", lambda: nn.Sequential(nn.Linear(1, 1))),
    ):
        torch.manual_seed(42)
        model = make()
        out[f"understanding/{name}/initial"] = state_values(model.state_dict())
        loss_fn = nn.MSELoss(reduction="mean")
        optimizer = optim.SGD(model.parameters(), lr=lr)
        train_step = make_train_step(model, loss_fn, optimizer)
        losses = []
        for _epoch in range(n_epochs):
            loss = train_step(x_train_tensor, y_train_tensor)
            losses.append(loss)
        out[f"understanding/{name}/losses"] = losses
        out[f"understanding/{name}/final"] = state_values(model.state_dict())
    return out


def understanding_minibatch(torch: Any) -> Values:
    """The "Random Split" and "Evaluation" sections: minibatches of a ``random_split`` through a
    ``DataLoader``, with validation losses under ``no_grad`` in eval mode, for
    ``EVALUATION_EPOCHS``; the losses and the final ``state_dict``."""
    nn, optim = torch.nn, torch.optim
    DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset
    x, y = _whole_data()
    x_tensor = torch.from_numpy(x).float()
    y_tensor = torch.from_numpy(y).float()
    dataset = TensorDataset(x_tensor, y_tensor)
    torch.manual_seed(42)
    train_dataset, val_dataset = torch.utils.data.random_split(dataset, [80, 20])
    train_loader = DataLoader(dataset=train_dataset, batch_size=16)
    val_loader = DataLoader(dataset=val_dataset, batch_size=20)
    torch.manual_seed(42)
    model = nn.Sequential(nn.Linear(1, 1))
    loss_fn = nn.MSELoss(reduction="mean")
    optimizer = optim.SGD(model.parameters(), lr=LR)
    losses = []
    val_losses = []
    train_step = make_train_step(model, loss_fn, optimizer)
    for _epoch in range(EVALUATION_EPOCHS):
        for x_batch, y_batch in train_loader:
            loss = train_step(x_batch, y_batch)
            losses.append(loss)
        with torch.no_grad():
            for x_val, y_val in val_loader:
                model.eval()
                yhat = model(x_val)
                val_loss = loss_fn(y_val, yhat)
                val_losses.append(val_loss.item())
    return {
        "understanding/minibatch/losses": losses,
        "understanding/minibatch/val_losses": val_losses,
        "understanding/minibatch/final": state_values(model.state_dict()),
    }


# ---- PyTorch 101 for Dummies like Me ---------------------------------------------------


def pytorch_101(torch: Any) -> Values:
    """The code of "PyTorch 101 for Dummies like Me", after ``manual_seed(42)`` (which
    it leaves out): its tensors and their sums (its ``x`` of the additions is the 5x3
    ``torch.rand`` of the PyTorch tutorial it follows), the graph b = w1 a, c = w2 a,
    d = w3 b + w4 c, L = f(d) (with f(d) = d**2) and its gradients (of the inner nodes
    through ``retain_grad``), and its ``Variable`` w fitted to y = 2 x point by point
    (the code of "PyTorch Basics", which it cites), with the gradients and losses."""
    out: Values = {}
    torch.manual_seed(42)
    x = torch.Tensor(7, 5).uniform_(-1, 1)
    out["pytorch-101/uniform_"] = values(x) + list(x.size())
    x = torch.rand(5, 3)
    y = torch.rand(5, 3)
    out["pytorch-101/x+y"] = values(x + y)
    result = torch.Tensor(5, 3)
    torch.add(x, y, out=result)
    out["pytorch-101/add-out"] = values(result)
    y.add_(x)
    out["pytorch-101/add_"] = values(y)
    out["pytorch-101/x[:, 1]"] = values(x[:, 1])
    y = torch.randn(5, 10, 15)
    out["pytorch-101/sizes"] = list(y.size()) + list(y.view(-1, 15).size())

    a, w1, w2, w3, w4 = (torch.randn(1, requires_grad=True) for _ in range(5))
    b = w1 * a
    c = w2 * a
    d = (w3 * b) + (w4 * c)
    for node in (b, c, d):
        node.retain_grad()
    L = d**2
    L.backward()
    out["pytorch-101/graph/L"] = values(L)
    out["pytorch-101/graph/grads"] = [
        x for t in (a, w1, w2, w3, w4, b, c, d) for x in values(t.grad)
    ]

    x_data = [1.0, 2.0, 3.0]
    y_data = [2.0, 4.0, 6.0]
    w = torch.autograd.Variable(torch.Tensor([1.0]), requires_grad=True)

    def forward(x: Any) -> Any:
        return x * w

    def loss(x: Any, y: Any) -> Any:
        y_pred = forward(x)
        return (y_pred - y) * (y_pred - y)

    printed = [forward(4).data[0].item()]  # predict (before training)
    for _epoch in range(10):
        for x_val, y_val in zip(x_data, y_data, strict=True):
            l = loss(x_val, y_val)  # noqa: E741 (the tutorial's name)
            l.backward()
            printed.append(w.grad.data[0].item())  # grad
            w.data = w.data - 0.01 * w.grad.data
            w.grad.data.zero_()
        printed.append(l.data[0].item())  # progress
    printed.append(forward(4).data[0].item())  # predict (after training)
    out["pytorch-101/variable"] = printed
    return out


# ---- Automatic Differentiation in PyTorch ----------------------------------------------


def autograd_tutorial(torch: Any) -> Values:
    """The code of "Automatic Differentiation in PyTorch", its steps in its order: b and w after
    ``manual_seed(42)``, the gradients of one backward pass, the 200 epochs of updates
    under ``no_grad``, then (drawing on from the same generator) the prediction with
    ``b_nograd`` and the "nonsense" loss with its control flow, and their gradients."""
    out: Values = {}
    x_train, y_train, _, _ = data_gen()
    x_train_tensor = torch.as_tensor(x_train).float()
    y_train_tensor = torch.as_tensor(y_train).float()

    torch.manual_seed(42)
    b = torch.randn(1, requires_grad=True, dtype=torch.float)
    w = torch.randn(1, requires_grad=True, dtype=torch.float)
    out["autograd/initial"] = values(b) + values(w)
    yhat = b + w * x_train_tensor
    error = y_train_tensor - yhat
    loss = (error**2).mean()
    loss.backward()
    out["autograd/grad"] = values(b.grad) + values(w.grad)  # b.grad, w.grad
    b.grad.zero_(), w.grad.zero_()

    lr = 0.1
    torch.manual_seed(42)
    b = torch.randn(1, requires_grad=True, dtype=torch.float)
    w = torch.randn(1, requires_grad=True, dtype=torch.float)
    for _epoch in range(200):
        yhat = b + w * x_train_tensor
        error = y_train_tensor - yhat
        loss = (error**2).mean()
        loss.backward()
        with torch.no_grad():
            b -= lr * b.grad
            w -= lr * w.grad
        b.grad.zero_(), w.grad.zero_()
    out["autograd/final"] = values(b) + values(w)

    b_nograd = torch.randn(1, requires_grad=False, dtype=torch.float)
    w = torch.randn(1, requires_grad=True, dtype=torch.float)
    yhat = b_nograd + w * x_train_tensor
    out["autograd/nograd"] = values(b_nograd) + values(w) + values(yhat)

    b = torch.randn(1, requires_grad=True, dtype=torch.float)
    w = torch.randn(1, requires_grad=True, dtype=torch.float)
    yhat = b + w * x_train_tensor
    error = y_train_tensor - yhat
    loss = (error**2).mean()
    if loss > 0:
        yhat2 = w * x_train_tensor
        error2 = y_train_tensor - yhat2
    loss += error2.mean()
    loss.backward()
    out["autograd/nonsense"] = values(b) + values(w) + values(loss)
    out["autograd/nonsense/grad"] = values(b.grad) + values(w.grad)
    return out


# ---- optimizers, schedulers, initializers, clipping, alpha -----------------------------

OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "sgd": ("SGD", {"lr": 0.1}),
    "sgd-weight_decay": ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    "sgd-momentum": ("SGD", {"lr": 0.1, "momentum": 0.9}),
    "sgd-dampening": ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    "sgd-nesterov": ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "sgd-all": ("SGD", {"lr": 0.07, "momentum": 0.8, "nesterov": True, "weight_decay": 0.03}),
    "sgd-maximize": ("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1, "maximize": True}),
    "adam": ("Adam", {"lr": 0.1}),
    "adam-amsgrad": ("Adam", {"lr": 0.1, "betas": (0.8, 0.5), "amsgrad": True}),
    "adam-weight_decay": ("Adam", {"lr": 0.1, "weight_decay": 0.1}),
    "adam-all": ("Adam", {"lr": 0.05, "betas": (0.7, 0.6), "amsgrad": True, "weight_decay": 0.2}),
    "adam-beta1=0.3": ("Adam", {"lr": 0.1, "betas": (0.3, 0.9)}),  # lerp's weight 0.7
    "adam-maximize": ("Adam", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    "adam-decoupled": ("Adam", {"lr": 0.1, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    "adamw": ("AdamW", {"lr": 0.1}),
    "adamw-all": ("AdamW", {"lr": 0.1, "betas": (0.8, 0.5), "weight_decay": 0.1, "amsgrad": True}),
    "rmsprop": ("RMSprop", {"lr": 0.01}),
    "rmsprop-momentum": ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    "rmsprop-centered": ("RMSprop", {"lr": 0.01, "centered": True}),
    "rmsprop-centered-alpha=0.4": ("RMSprop", {"lr": 0.01, "alpha": 0.4, "centered": True}),
    "rmsprop-all": (
        "RMSprop",
        {"lr": 0.02, "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.1},
    ),
    "adagrad": ("Adagrad", {"lr": 0.1}),
    "adagrad-lr_decay": ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    "adagrad-initial_accumulator_value": ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.3}),
    "adagrad-weight_decay": ("Adagrad", {"lr": 0.1, "weight_decay": 0.1, "lr_decay": 0.01}),
}
STEPS = 6


def _problem(torch: Any, dtype: Any) -> tuple[Any, Any, Any]:
    """Two parameters and the loss whose gradients need no sum: 2 (w - t) and 0.5 b**2's
    b, elementwise, so the optimizers alone decide the values."""
    w = torch.tensor([[0.5, -1.25, 2.0], [1.5, 0.75, -0.3]], dtype=dtype, requires_grad=True)
    b = torch.tensor([0.1, -0.2, 0.7], dtype=dtype, requires_grad=True)
    t = torch.tensor([[1.0, 0.0, -1.0], [0.5, 2.0, 1.1]], dtype=dtype)

    def loss() -> Any:
        return ((w - t) ** 2).sum() + (b**2).sum() * 0.5

    return w, b, loss


def optimizers(torch: Any) -> Values:
    """Each optimizer of ``OPTIMIZERS``, ``STEPS`` steps, in float64 and float32: the
    parameters after every step."""
    out: Values = {}
    for key, (name, kwargs) in OPTIMIZERS.items():
        for dtype in ("float64", "float32"):
            w, b, loss = _problem(torch, getattr(torch, dtype))
            optimizer = getattr(torch.optim, name)([w, b], **kwargs)
            trace = []
            for _ in range(STEPS):
                optimizer.zero_grad()
                loss().backward()
                optimizer.step()
                trace += values(w) + values(b)
            out[f"optim/{key}/{dtype}"] = trace
    return out


PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.97, 0.96, 0.8, 0.85, 0.85, 0.85, 0.85, 0.7, 0.69999]
PLATEAU_METRICS += [0.6999, 0.7, 0.72, 0.65, 0.66, 0.67, 0.68, 0.69]


def _schedulers(torch: Any) -> dict[str, Any]:
    """Makers of each scheduler, for an optimizer (and ``last_epoch=``, resuming one)."""
    sched = torch.optim.lr_scheduler
    return {
        "StepLR": lambda o, **kw: sched.StepLR(o, step_size=5, gamma=0.5, **kw),
        "MultiStepLR": lambda o, **kw: sched.MultiStepLR(o, milestones=[3, 8, 15], gamma=0.3, **kw),
        "ExponentialLR": lambda o, **kw: sched.ExponentialLR(o, gamma=0.9, **kw),
        "CosineAnnealingLR": lambda o, **kw: sched.CosineAnnealingLR(
            o, T_max=10, eta_min=0.001, **kw
        ),
        "CosineAnnealingLR-T_max=7": lambda o, **kw: sched.CosineAnnealingLR(o, T_max=7, **kw),
        "LambdaLR": lambda o, **kw: sched.LambdaLR(o, lr_lambda=lambda epoch: 0.95**epoch, **kw),
        "LambdaLR-inverse": lambda o, **kw: sched.LambdaLR(
            o, lr_lambda=lambda e: 1 / (e + 1), **kw
        ),
        "LinearLR": lambda o, **kw: sched.LinearLR(o, **kw),
        "LinearLR-decay": lambda o, **kw: sched.LinearLR(
            o, start_factor=1.0, end_factor=0.1, total_iters=8, **kw
        ),
        "ConstantLR": lambda o, **kw: sched.ConstantLR(o, **kw),
        "ConstantLR-factor": lambda o, **kw: sched.ConstantLR(o, factor=0.3, total_iters=9, **kw),
        "OneCycleLR": lambda o, **kw: sched.OneCycleLR(o, max_lr=0.5, total_steps=25, **kw),
        "OneCycleLR-linear-three_phase": lambda o, **kw: sched.OneCycleLR(
            o,
            max_lr=[0.8],
            epochs=3,
            steps_per_epoch=7,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            div_factor=10.0,
            **kw,
        ),  # fmt: skip
        "SequentialLR": lambda o, **kw: sched.SequentialLR(
            o,
            [
                sched.LinearLR(o, start_factor=0.1, total_iters=4),
                sched.ExponentialLR(o, 0.8),
                sched.ConstantLR(o, factor=0.5, total_iters=3),
            ],
            milestones=[5, 12],
            **kw,
        ),  # fmt: skip
        "ReduceLROnPlateau": lambda o, **kw: sched.ReduceLROnPlateau(
            o, factor=0.5, patience=2, **kw
        ),
        "ReduceLROnPlateau-all": lambda o, **kw: sched.ReduceLROnPlateau(
            o, mode="max", factor=0.3, patience=1, threshold=0.05, cooldown=2, min_lr=0.002, **kw
        ),
        "ReduceLROnPlateau-abs": lambda o, **kw: sched.ReduceLROnPlateau(
            o, factor=0.7, patience=0, threshold=0.01, threshold_mode="abs", eps=1e-3, **kw
        ),
    }


def schedulers(torch: Any) -> Values:
    """The learning rate of each scheduler, at the start and after each of 20 epochs
    (``optimizer.step()`` then ``scheduler.step()``, with ``PLATEAU_METRICS`` for
    ReduceLROnPlateau)."""
    out: Values = {}
    for key, make in _schedulers(torch).items():
        p = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.SGD([p], lr=0.1)
        scheduler = make(optimizer)
        lrs = [optimizer.param_groups[0]["lr"]]
        for epoch in range(20):
            optimizer.step()
            if key.startswith("ReduceLROnPlateau"):
                scheduler.step(PLATEAU_METRICS[epoch])
            else:
                scheduler.step()
            lrs.append(optimizer.param_groups[0]["lr"])
        out[f"lr_scheduler/{key}"] = lrs
        if not key.startswith(("ReduceLROnPlateau", "SequentialLR", "OneCycleLR")):
            out[f"lr_scheduler-resumed/{key}"] = _resumed(torch, make)
    out.update(_one_cycle_momenta(torch))
    return out


def _one_cycle_momenta(torch: Any) -> Values:
    """OneCycleLR's momentum (SGD's) and beta1 (Adam's) over its cycle, per group."""
    out: Values = {}
    for name, key in (("SGD", "momentum"), ("Adam", "betas")):
        p, q = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
        kwargs = {"momentum": 0.9} if name == "SGD" else {}
        optimizer = getattr(torch.optim, name)([{"params": [p]}, {"params": [q]}], lr=0.1, **kwargs)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[0.3, 0.6], total_steps=12, base_momentum=[0.8, 0.7]
        )
        trace = []
        for _ in range(12):
            for group in optimizer.param_groups:
                m = group[key]
                trace += [group["lr"], m[0] if isinstance(m, tuple) else m]
            optimizer.step()
            scheduler.step()
        out[f"lr_scheduler/OneCycleLR-momentum/{name}"] = trace
    return out


def _resumed(torch: Any, make: Any, saved_at: int = 6) -> list[float]:
    """The lrs of a schedule resumed from a checkpoint: ``saved_at`` epochs, then a new
    optimizer loading the state of the first (its lrs and initial_lrs), a new scheduler
    given ``last_epoch=saved_at``, and 6 epochs more."""
    p = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=0.1)
    scheduler = make(optimizer)
    for _ in range(saved_at):
        optimizer.step()
        scheduler.step()
    resumed = torch.optim.SGD([p], lr=0.1)
    resumed.load_state_dict(optimizer.state_dict())
    scheduler = make(resumed, last_epoch=saved_at)
    lrs = [resumed.param_groups[0]["lr"]]
    for _ in range(6):
        resumed.step()
        scheduler.step()
        lrs.append(resumed.param_groups[0]["lr"])
    return lrs


def _initializers(init: Any) -> dict[str, Any]:
    """Each ``nn.init`` function (with its modes and nonlinearities), by key."""
    return {
        "xavier_uniform_": lambda t: init.xavier_uniform_(t),
        "xavier_uniform_-gain": lambda t: init.xavier_uniform_(t, gain=init.calculate_gain("tanh")),
        "xavier_normal_": lambda t: init.xavier_normal_(t),
        "xavier_normal_-gain": lambda t: init.xavier_normal_(t, gain=0.7),
        "kaiming_uniform_": lambda t: init.kaiming_uniform_(t),
        "kaiming_uniform_-a": lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)),
        "kaiming_uniform_-fan_out-relu": lambda t: init.kaiming_uniform_(
            t, mode="fan_out", nonlinearity="relu"
        ),
        "kaiming_normal_": lambda t: init.kaiming_normal_(t),
        "kaiming_normal_-fan_out-relu": lambda t: init.kaiming_normal_(
            t, mode="fan_out", nonlinearity="relu"
        ),
        "kaiming_normal_-leaky_relu": lambda t: init.kaiming_normal_(t, a=0.2),
        "kaiming_normal_-tanh": lambda t: init.kaiming_normal_(t, nonlinearity="tanh"),
        "normal_": lambda t: init.normal_(t),
        "normal_-mean-std": lambda t: init.normal_(t, mean=0.5, std=2.0),
        "uniform_": lambda t: init.uniform_(t),
        "uniform_-a-b": lambda t: init.uniform_(t, a=-2.0, b=3.0),
        "constant_": lambda t: init.constant_(t, 0.3),
        "zeros_": lambda t: init.zeros_(t),
        "ones_": lambda t: init.ones_(t),
        "Tensor.uniform_": lambda t: t.uniform_(-0.3, 0.4),  # what the uniform ones call
        # by rejection: from normal draws (most of the mass inside), redrawing some
        "trunc_normal_": lambda t: init.trunc_normal_(t, std=0.5, a=-0.6, b=0.6),
        # from uniform draws on [a, b], each kept against a second uniform draw
        "trunc_normal_-tail": lambda t: init.trunc_normal_(t, mean=0.2, a=0.9, b=1.7),
    }


INIT_SHAPES = {"3x5": (3, 5), "4x3x2x2": (4, 3, 2, 2)}  # under and over 16 numbers


def initializers(torch: Any) -> Values:
    """Each ``nn.init`` function on a 3x5 and a 4x3x2x2 tensor (float32 and float64),
    after ``manual_seed(0)``."""
    out: Values = {}
    for key, fill in _initializers(torch.nn.init).items():
        for shape_key, shape in INIT_SHAPES.items():
            for dtype in ("float32", "float64"):
                torch.manual_seed(0)
                t = torch.empty(*shape, dtype=getattr(torch, dtype))
                fill(t)
                out[f"init/{key}/{shape_key}/{dtype}"] = values(t)
    return out


CLIP_GRADS = ([[0.3, -1.2, 0.5], [2.0, 0.1, -0.7]], [0.25, -0.4, 1.5, 0.05])


def clipping(torch: Any) -> Values:
    """``clip_grad_norm_`` of two gradients, norm types 2, 1 and inf, a max_norm that
    clips and one that does not, float32 and float64: the norm it returns, the grads."""
    out: Values = {}
    for norm_type in (2, 1, math.inf):
        for max_norm in (1.0, 100.0):
            for dtype in ("float32", "float64"):
                params = [
                    torch.zeros(torch.tensor(g).shape, dtype=getattr(torch, dtype))
                    for g in CLIP_GRADS
                ]
                for p, g in zip(params, CLIP_GRADS, strict=True):
                    p.grad = torch.tensor(g, dtype=getattr(torch, dtype))
                norm = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
                key = f"clip_grad_norm_/{norm_type}/{max_norm}/{dtype}"
                out[key] = values(norm) + [x for p in params for x in values(p.grad)]
    return out


ALPHA_X = [0.3, -1.7, 2.5, 1e-3, 7.25, -0.1, 3.3, 0.6, -2.2, 1.9, 4.4, -0.05, 0.2, 5.5, -3.1]
ALPHA_Y = [1.1, 0.4, -0.9, 2.6, -1.3, 0.75, 0.01, -4.2, 3.7, 0.33, -0.6, 2.2, 1.6, -0.8, 0.9]


def alpha(torch: Any) -> Values:
    """``x.add(y, alpha=...)``, ``x.sub(y, alpha=...)``, their in-place and function forms
    and their gradients, on 15 and 30 numbers (float32, float64) and on integers."""
    out: Values = {}
    for dtype in ("float32", "float64"):
        for n in (15, 30):
            x = torch.tensor((ALPHA_X * 2)[:n], dtype=getattr(torch, dtype), requires_grad=True)
            y = torch.tensor((ALPHA_Y * 2)[:n], dtype=getattr(torch, dtype), requires_grad=True)
            for a in (2, 0.3, -1.7, 1):
                key = f"alpha/{dtype}/{n}/{a}"
                out[f"{key}/add"] = values(x.add(y, alpha=a))
                out[f"{key}/sub"] = values(x.sub(y, alpha=a))
                out[f"{key}/torch.add"] = values(torch.add(x, y, alpha=a))
                out[f"{key}/torch.sub"] = values(torch.sub(x, y, alpha=a))
                with torch.no_grad():
                    z = x.clone()
                    z.add_(y, alpha=a)
                    out[f"{key}/add_"] = values(z)
                    z = x.clone()
                    z.sub_(y, alpha=a)
                    out[f"{key}/sub_"] = values(z)
                x.grad = y.grad = None
                (x.add(y, alpha=a) * y).sum().backward()
                out[f"{key}/grad"] = values(x.grad) + values(y.grad)
    i = torch.tensor([3, -7, 12, 0, 5])
    j = torch.tensor([2, 4, -1, 9, -6])
    out["alpha/int64"] = values(i.add(j, alpha=3)) + values(i.sub(j, alpha=-2))
    return out


# inputs at and around the points where the activations and losses change form
LAYER_X = [
    [-25.0, -2.0, -0.5, -1e-3, 0.0],
    [1e-3, 0.5, 1.0, 2.0, 25.0],
    [0.25, -0.25, 3.0, -3.0, 0.0],
]
LAYER_T = [[-24.0, -2.5, 0.5, -1e-3, 0.0], [0.0, 0.5, 3.0, 1.0, -25.0], [0.5, 0.0, 3.0, -2.0, 1.0]]
LAYER_COTANGENT = [
    [0.3, -1.1, 0.7, 2.0, -0.4],
    [1.3, 0.2, -0.6, 0.9, 1.7],
    [-0.8, 0.5, 1.2, -1.5, 0.1],
]


def _layers(nn: Any) -> dict[str, Any]:
    return {
        "LeakyReLU": nn.LeakyReLU(0.2),
        "ELU": nn.ELU(0.7),
        "SiLU": nn.SiLU(),
        "GELU": nn.GELU(),
        "GELU-tanh": nn.GELU(approximate="tanh"),
        "Softplus": nn.Softplus(),
        "Softplus-beta": nn.Softplus(beta=2.0, threshold=5.0),
        "Softmax": nn.Softmax(dim=1),
        "LogSoftmax": nn.LogSoftmax(dim=0),
        "Flatten": nn.Sequential(nn.Identity(), nn.Flatten(0)),
        "Unflatten": nn.Unflatten(1, (5, 1)),
        "ReLU-inplace": nn.ReLU(inplace=True),
        "LeakyReLU-inplace": nn.LeakyReLU(inplace=True),
        **_more_layers(nn),
    }


def _more_layers(nn: Any) -> dict[str, Any]:
    """Threshold, SELU, CELU, the hard and soft shrinks, Hardswish, Hardsigmoid, Softsign,
    Tanhshrink, Mish and PReLU (its weight's gradient too), at their kinks."""
    return {
        "Threshold": nn.Threshold(0.5, -1.0),
        "Threshold-0": nn.Threshold(0.0, 2.0),
        "SELU": nn.SELU(),
        "CELU": nn.CELU(),
        "CELU-alpha": nn.CELU(0.5),
        "Hardswish": nn.Hardswish(),
        "Hardsigmoid": nn.Hardsigmoid(),
        "Softsign": nn.Softsign(),
        "Tanhshrink": nn.Tanhshrink(),
        "Softshrink": nn.Softshrink(),
        "Softshrink-1": nn.Softshrink(1.0),
        "Hardshrink": nn.Hardshrink(),
        "Hardshrink-2": nn.Hardshrink(2.0),
        "Mish": nn.Mish(),
        "PReLU": nn.PReLU().double(),
        "PReLU-channels": nn.PReLU(5, 0.1).double(),
        "Threshold-inplace": nn.Threshold(0.5, -1.0, inplace=True),
        "SELU-inplace": nn.SELU(inplace=True),
        "CELU-inplace": nn.CELU(0.5, True),
        "Hardswish-inplace": nn.Hardswish(inplace=True),
        "Hardsigmoid-inplace": nn.Hardsigmoid(True),
        "Mish-inplace": nn.Mish(inplace=True),
    }


def _losses(nn: Any) -> dict[str, Any]:
    out = {}
    for reduction in ("mean", "sum", "none"):
        out[f"L1Loss/{reduction}"] = nn.L1Loss(reduction=reduction)
        out[f"HuberLoss/{reduction}"] = nn.HuberLoss(reduction=reduction, delta=0.5)
        out[f"SmoothL1Loss/{reduction}"] = nn.SmoothL1Loss(reduction=reduction, beta=0.5)
    out["SmoothL1Loss/beta0"] = nn.SmoothL1Loss(beta=0.0)
    return out


def layers(torch: Any, differentiate: Any = None) -> Values:
    """Activation modules and losses on float64 inputs at their kinks, thresholds and
    extremes: each one's value and the gradients of ``(out * cotangent).sum()`` (the
    input's, the target's for a loss, and its parameters': PReLU's weight).
    ``differentiate``: run as a compiled step (without the modules writing into their
    input, which compiled code refuses)."""
    out: Values = {}

    def step(module, x, t):
        y = module(x * 1.0) if t is None else module(x, t)  # (in place: on a non-leaf)
        (y * torch.tensor(LAYER_COTANGENT, dtype=torch.float64)[: y.shape[0]] if y.ndim == 2
         else y * 1.0).sum().backward()  # fmt: skip
        return y.detach().clone()

    run = step if differentiate is None else differentiate(step)
    for key, module in [*_layers(torch.nn).items(), *_losses(torch.nn).items()]:
        if differentiate is not None and key.endswith("inplace"):
            continue
        x = torch.tensor(LAYER_X, dtype=torch.float64, requires_grad=True)
        t = None
        if "Loss" in key:
            t = torch.tensor(LAYER_T, dtype=torch.float64, requires_grad=True)
        y = run(module, x, t)
        out[f"layers/{key}"] = values(y) + values(x.grad) + ([] if t is None else values(t.grad))
        out[f"layers/{key}"] += [v for p in module.parameters() for v in values(p.grad)]
    return out


def linear_init(torch: Any) -> Values:
    """``nn.Linear``'s default weights and biases after ``manual_seed``, in float32 and
    float64 (the weight's bound computed as kaiming_uniform_'s, to the last bit)."""
    out: Values = {}
    for dtype in ("float32", "float64"):
        torch.manual_seed(11)
        layer = torch.nn.Linear(7, 3, dtype=getattr(torch, dtype))
        out[f"linear-dtype/{dtype}"] = values(layer.weight.detach()) + values(layer.bias.detach())
    return out


def _functional_programs(torch: Any) -> dict[str, Any]:
    """Functions of ``nn.functional`` with PyTorch 2.13's arguments (each of an input
    ``x``, a target ``t`` and weights ``w``, returning a tensor)."""
    F = torch.nn.functional
    return {
        "mse_loss-weight": lambda x, t, w: F.mse_loss(x, t, weight=w),
        "mse_loss-weight-sum": lambda x, t, w: F.mse_loss(x, t, reduction="sum", weight=w),
        "mse_loss-size_average": lambda x, t, w: F.mse_loss(x, t, False),
        "l1_loss-weight": lambda x, t, w: F.l1_loss(x, t, weight=w),
        "l1_loss-reduce": lambda x, t, w: F.l1_loss(x, t, None, False),
        "huber_loss-weight": lambda x, t, w: F.huber_loss(x, t, weight=w, delta=0.7),
        "smooth_l1_loss-size_average": lambda x, t, w: F.smooth_l1_loss(x, t, False, beta=0.5),
        "binary_cross_entropy-saturated": lambda x, t, w: F.binary_cross_entropy(
            (x * 0.4 + 0.5).clamp(0.0, 1.0), (t * 0.3 + 0.5).clamp(0.0, 1.0), reduction="none"
        ),
        "binary_cross_entropy-tiny": lambda x, t, w: F.binary_cross_entropy(
            x.abs() * 1e-13, (t * 0.3 + 0.5).clamp(0.0, 1.0), w, reduction="sum"
        ),
        "softmax-dtype": lambda x, t, w: F.softmax(x.float(), 1, dtype=torch.float64),
        "log_softmax-implicit-dim": lambda x, t, w: F.log_softmax(x) + F.softmax(x[0]),
        "relu-inplace": lambda x, t, w: F.relu(x * 1.0, inplace=True),
        "leaky_relu-inplace": lambda x, t, w: F.leaky_relu(x * 2.0, 0.1, True),
        "elu-inplace": lambda x, t, w: F.elu(x * 2.0, 0.5, inplace=True),
        "silu-inplace": lambda x, t, w: F.silu(x * 2.0, inplace=True),
        "dropout-eval-inplace": lambda x, t, w: F.dropout(x * 1.0, 0.3, False, True),
        **_more_functional_programs(torch),
    }


def _more_functional_programs(torch: Any) -> dict[str, Any]:
    """Activations at their bounds, one_hot, normalize, cosine_similarity (at zero and
    tiny norms), pad in each mode (cropping too) and kl_div."""
    nn, F = torch.nn, torch.nn.functional
    rows = torch.tensor([[0.0], [1.0], [1.0]], dtype=torch.float64)  # (a zero first row)
    return {
        "logsigmoid": lambda x, t, w: F.logsigmoid(x) + nn.LogSigmoid()(x * 30.0),
        "hardtanh": lambda x, t, w: F.hardtanh(x),
        "hardtanh-bounds": lambda x, t, w: F.hardtanh(x, -2.0, 2.0),
        "Hardtanh": lambda x, t, w: nn.Hardtanh(-0.5, 1.0)(x),
        "relu6": lambda x, t, w: F.relu6(x * 3.0) + nn.ReLU6()(x * 3.0 + 6.0),
        "softmin": lambda x, t, w: F.softmin(x, 1) + nn.Softmin(0)(x),
        "softmin-dtype": lambda x, t, w: F.softmin(x.float(), dim=0, dtype=torch.float64),
        "one_hot": lambda x, t, w: (
            x.unsqueeze(-1) * F.one_hot((t.abs() * 1.3).long() % 5, 6)
            + F.one_hot(torch.tensor([3, 0, 2]))[:, :1, None]
        ),
        "normalize": lambda x, t, w: F.normalize(x),
        "normalize-p1-dim0": lambda x, t, w: F.normalize(x, p=1, dim=0),
        "normalize-p3": lambda x, t, w: F.normalize(x, 3.0, -1),
        "normalize-inf": lambda x, t, w: F.normalize(x, p=math.inf, dim=0, eps=0.1),
        "normalize-zero-row": lambda x, t, w: F.normalize(x * rows),
        "cosine_similarity": lambda x, t, w: F.cosine_similarity(x, t),
        "cosine_similarity-dim0": lambda x, t, w: F.cosine_similarity(x, t, 0, 1e-3),
        "cosine_similarity-broadcast": lambda x, t, w: F.cosine_similarity(x, t[1], dim=-1),
        "cosine_similarity-zero": lambda x, t, w: F.cosine_similarity(x * rows, t),
        "cosine_similarity-tiny": lambda x, t, w: F.cosine_similarity(x * 1e-9, t),
        "pad": lambda x, t, w: F.pad(x, (1, 2)),
        "pad-value": lambda x, t, w: F.pad(x, [1, 2, 0, 1], value=0.5),
        "pad-crop": lambda x, t, w: F.pad(x, (-1, 2, 1, -1), "constant", -1.0),
        "pad-reflect": lambda x, t, w: F.pad(x[None], (2, 4), mode="reflect"),
        "pad-reflect-2d": lambda x, t, w: F.pad(x[None, None], (1, 2, 2, 1), mode="reflect"),
        "pad-replicate": lambda x, t, w: F.pad(x[None], (2, 3), mode="replicate"),
        "pad-replicate-2d": lambda x, t, w: F.pad(x[None], (0, 3, 4, 1), mode="replicate"),
        "pad-circular": lambda x, t, w: F.pad(x[None], (2, 3), mode="circular"),
        "pad-circular-crop": lambda x, t, w: F.pad(x[None], (-1, 3, 1, 2), mode="circular"),
        "kl_div-batchmean": lambda x, t, w: F.kl_div(
            F.log_softmax(x, 1), F.softmax(t, 1), reduction="batchmean"
        ),
        "kl_div-log_target": lambda x, t, w: F.kl_div(
            x, t * 0.1, reduction="sum", log_target=True
        ),  # fmt: skip
        "kl_div-zeros": lambda x, t, w: F.kl_div(x, w * (t > 0), reduction="none"),
        "kl_div-mean": lambda x, t, w: F.kl_div(x, w),
        "glu": lambda x, t, w: F.glu(x[:, 1:]) + nn.GLU(0)(torch.cat([x, t * 2.0]))[:, :2],
        "glu-dim1": lambda x, t, w: F.glu(x[:, :4], 1) * F.glu(x[1:, :2], dim=0),
        "activations": lambda x, t, w: (
            F.threshold(x, 1.0, 0.5)
            + F.selu(x)
            + F.celu(x, 2.0)
            + F.hardswish(x * 2.0)
            + F.softsign(x)
            + F.tanhshrink(x)
            + F.mish(x * 2.0)
            + F.softshrink(x, 0.25)
            + F.hardshrink(x, lambd=1.0)
        ),
        "prelu": lambda x, t, w: F.prelu(x, w[0]) + F.prelu(x, w[1, :1]),
        "hardsigmoid": lambda x, t, w: F.hardsigmoid(x * 3.0),
        "KLDivLoss": lambda x, t, w: (
            nn.KLDivLoss(reduction="batchmean")(x, w)
            + nn.KLDivLoss(reduction="sum", log_target=True)(x, t)
        ),
    }


def functional(torch: Any, differentiate: Any = None) -> Values:
    """``nn.functional`` with its keyword and legacy arguments: values and the gradient
    of ``(out * out).sum()`` (``differentiate``: as a compiled step, without writes into
    an input, which compiled code refuses)."""
    out: Values = {}

    def step(program, x, t, w):
        y = program(x, t, w)
        (y * y).sum().backward()
        return y.detach().clone()

    run = step if differentiate is None else differentiate(step)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the legacy arguments' deprecation warnings)
        for key, program in _functional_programs(torch).items():
            if differentiate is not None and key.endswith("inplace"):
                continue
            x = torch.tensor(LAYER_X, dtype=torch.float64, requires_grad=True)
            t = torch.tensor(LAYER_T, dtype=torch.float64)
            y = run(program, x, t, t.abs() + 0.5)
            out[f"functional/{key}"] = values(y) + values(x.grad)
    return out


METHOD_X = [[0.5, -1.25, 2.0, 0.75, -0.5], [1.5, 0.25, -2.5, 1.0, 3.0],
            [-0.75, 2.25, 0.125, -1.5, 0.5], [2.5, -0.25, 1.75, -3.0, 0.375]]  # fmt: skip


def _method_programs(torch: Any) -> dict[str, Any]:
    """Each takes a (4, 5) tensor and returns a tensor (or a tuple of them)."""
    index = torch.tensor([[0, 0, 4], [1, 0, 2], [3, 3, 3], [4, 1, 0]])
    perm = torch.tensor([[4, 1, 0], [2, 3, 1], [0, 4, 2], [1, 0, 3]])  # (no repeats in a row)
    batch = torch.tensor([[[1.0, -0.5], [0.25, 2.0], [1.5, 1.0], [-1.0, 0.5], [0.75, -2.0]]] * 2,
                         dtype=torch.float64)  # fmt: skip
    return {
        "split-2": lambda x: x.split(2, 1),
        "split-sizes": lambda x: torch.split(x, [1, 3], 0),
        "chunk-3": lambda x: x.chunk(3, 1),
        "chunk-dim0": lambda x: torch.chunk(x, 3),
        "cumsum-dim": lambda x: x.cumsum(dim=1) + torch.cumsum(x, 0),
        "prod-dim": lambda x: x.prod(dim=1) + x.prod(dim=0, keepdim=True).sum() + x.prod(),
        "tril": lambda x: x.tril(),
        "tril-1": lambda x: torch.tril(x, -1),
        "triu-1": lambda x: x.triu(diagonal=1),
        "gather": lambda x: x.gather(1, index),
        "gather-dim0": lambda x: torch.gather(x, 0, index[:2, :3] % 4),
        "bmm": lambda x: torch.bmm(x.reshape(2, 2, 5), batch),
        "new": lambda x: x.new_zeros(2, 5) + x.new_ones((2, 5)) * x[:2] + x.new_full((2, 5), 0.5),
        "repeat": lambda x: x.repeat(2, 1, 2),
        "index_select": lambda x: x.index_select(1, index[0]),
        "index_select-dim0": lambda x: torch.index_select(x, 0, index[2]),
        "flip": lambda x: x.flip([0, 1]),
        "roll": lambda x: torch.roll(x, 2, 1) + x.roll((1, -1), (0, 1)),
        "amax": lambda x: x.amax(1) + torch.amin(x, 1, keepdim=True).squeeze(1),
        "amax-ties": lambda x: x.round().amax() + x.round().amin(0).sum(),
        "logsumexp": lambda x: x.logsumexp(1) + torch.logsumexp(x * 30.0, 0).sum(),
        "pieces": lambda x: x * x.round() + x.floor() + torch.ceil(x) * x.trunc(),
        "isfinite": lambda x: torch.where(x.isnan() | x.isinf() | ~x.isfinite(), 0.0, x),
        "sort": lambda x: x.sort(),
        "sort-dim0-descending": lambda x: torch.sort(x, 0, descending=True),
        # ties of values that carry gradients (x's own, at round(x)), each value weighted
        # by its place: the gradient shows which entry each went to; 20 entries: past
        # std::sort's insertion sort, which keeps ties in order
        "sort-ties": lambda x: _weighted(_tied(x).reshape(-1).sort(descending=True)),
        "sort-ties-ascending": lambda x: _weighted(torch.sort(_tied(x).reshape(-1))),
        "sort-ties-stable": lambda x: _weighted(_tied(x).reshape(-1).sort(stable=True)),
        "sort-ties-rows": lambda x: _weighted(_tied(x).sort(1)),
        "argsort": lambda x: (
            x[0],
            x.argsort(1, True),
            torch.argsort(_tied(x), dim=0, stable=True),
            _tied(x).reshape(-1).argsort(),
        ),
        "topk": lambda x: x.topk(2),
        # the indices of a max along a dim, used as numbers (no gradient through them)
        "max-indices-as-floats": lambda x: (
            x.max(1)[1].float() * x.sum(),
            x.max(1)[1].double().unsqueeze(1) * x,
        ),
        "topk-smallest-dim0": lambda x: torch.topk(x, 3, dim=0, largest=False),
        "topk-ties": lambda x: _weighted(_tied(x).reshape(-1).topk(7)),
        "topk-ties-smallest": lambda x: _weighted(_tied(x).reshape(-1).topk(6, largest=False)),
        "topk-ties-unsorted": lambda x: _weighted(_tied(x).reshape(-1).topk(9, sorted=False)),
        "topk-ties-partial": lambda x: _weighted(_tied(x).reshape(-1).repeat(4).topk(1)),
        "topk-all": lambda x: x.topk(5, 1, False, True),
        "cumprod": lambda x: x.cumprod(1) + torch.cumprod(x, 0),
        "cumprod-zeros": lambda x: (x * (x.abs() > 0.6)).cumprod(1) + (x * (x > 0)).cumprod(-2),
        "unbind": lambda x: x.unbind(1),
        "unbind-dim0": lambda x: torch.unbind(x)[1:3],
        "narrow": lambda x: (x.narrow(1, 1, 3), torch.narrow(x, 0, -2, 2), x.narrow(-1, 5, 0)),
        "movedim": lambda x: (
            x.reshape(2, 2, 5).movedim(0, -1),
            torch.movedim(x.reshape(2, 2, 5), (0, 2), (1, 0)),
        ),
        "diag": lambda x: (x.diag(), torch.diag(x, 1), x[0].diag(-1), x.diag(-5)),
        "outer": lambda x: torch.outer(x[0], x[:, 1]) + x[1].outer(x[2, 1:]),
        "masked_fill": lambda x: torch.masked_fill(x, x > 1.0, 0.5) + x.masked_fill(x < 0, x[0, 0]),
        "masked_fill_": lambda x: _filled(x * 1.0, x),
        "scatter": lambda x: x.scatter(1, perm, x[:, 1:4] * 3.0),
        "scatter-value": lambda x: torch.scatter(x, 0, perm[:2] % 4, value=-2.0),
        "scatter_add": lambda x: (
            x.scatter_add(1, index, x[:, :3] * 2.0) + torch.scatter_add(x, 0, index % 4, x[:, 1:4])
        ),
        "flip-dims-apart": lambda x: x.flip(0, 1) + x.flip(1),
        "products": lambda x: (
            torch.dot(x[0], x[1]),
            torch.mv(x, x[0]),
            torch.addmm(x[:2, :2], x[:2], x[2:].T, beta=0.5, alpha=2.0),
            torch.einsum("ij,kj->ik", x[:2], x[2:]),
            torch.einsum("ij,j->i", [x, x[0]]),
            torch.norm(x),
            torch.norm(x, dim=1),
        ),
        "in-place-functions": lambda x: (
            (x * 2.0).relu_(),
            (x * 1.0).sigmoid_(),
            (x * 0.5).tanh_(),
            (x - 0.5).abs_(),
            (x * 0.3).exp_(),
            (x * x + 0.1).log_(),
        ),
        "nan_to_num": lambda x: (
            x.log().nan_to_num(),
            (x * 1e308 * 10.0).nan_to_num(posinf=2.0, neginf=-3.0),
            torch.nan_to_num(x.log() * -1.0, nan=0.5, neginf=-7.5),
            (x.log() * x).nan_to_num_(1.25, 4.0),
        ),
        "type_as": lambda x: (x.type_as(torch.ones(1, dtype=torch.float32)) * 3.0, x.type_as(x)),
        "split-keyword": lambda x: (
            *x.split(split_size=2, dim=1),
            *torch.split(x, split_size_or_sections=[3, 1]),
        ),
        "rsqrt": lambda x: (x.abs() + 0.5).rsqrt() + torch.rsqrt(x * x + 1.0),
        "diagonal": lambda x: (
            x.diagonal(),
            torch.diagonal(x, 1),
            x.diagonal(-1, 1, 0),
            x.reshape(2, 2, 5).diagonal(0, 0, 1),
            x.reshape(2, 2, 5).diagonal(offset=1, dim1=-1, dim2=0),
        ),
        "swapaxes": lambda x: (
            x.swapaxes(0, 1),
            torch.swapaxes(x.reshape(2, 2, 5), 0, 2),
            x.swapdims(1, 0) * 2.0,
            torch.swapdims(x, 0, 1),
        ),
        "atan2": lambda x: (
            x.atan2(x.flip(0)),
            torch.atan2(x, x[0]),
            torch.arctan2(x[1:3], x.new_full((2, 5), -0.5)),
            x.arctan2(x * 0.0),
        ),
        "remainder": lambda x: (
            torch.remainder(x, 0.75),
            torch.remainder(x, x.flip(1) + 4.0),
            x.remainder(-0.4),
            torch.fmod(x, 0.75),
            torch.fmod(x * 3.0, x.roll(1, 0)),
            x.fmod(-0.4),
        ),
        "erf": lambda x: (x.erf(), torch.erf(x * 0.5)),
        "lerp": lambda x: (
            x.lerp(x.flip(0), 0.3),
            torch.lerp(x, x * 2.0, 0.75),
            x.lerp(x.roll(1, 1), x.sigmoid()),
            torch.lerp(x[0], x[1], x[2].abs()),
        ),
        "addcmul": lambda x: (
            x.addcmul(x.flip(0), x.roll(1, 1), value=0.5),
            torch.addcmul(x, x, x[0]),
            torch.addcmul(x[0], x[1], x, value=-2.0),
        ),
        "div-rounding": lambda x: (
            x.div(0.75, rounding_mode="floor"),
            torch.div(x, x.flip(1), rounding_mode="trunc"),
            x.div(-0.4, rounding_mode="trunc") * x,
            torch.div(x * 4.0, 3.0, rounding_mode="floor") + x,
            (x * 4.0).long().div(3, rounding_mode="floor").double() * x,
            (x * 4.0).long().div(-3, rounding_mode="trunc").double() * x,
        ),
        "logical": lambda x: (
            torch.where(torch.logical_and(x > 0, x < 2), x, -x),
            torch.where(x.logical_or(x > 2.5).logical_xor(x < -1.0), x * 2.0, x),
            torch.where(torch.logical_not(x > 0.3), x, 0.5 * x),
            torch.where(torch.logical_xor(x > 0, x.abs() > 1), x * x, x),
        ),
        "all-any": lambda x: (
            torch.where((x > -2).all(1, keepdim=True), x, 0.0),
            torch.where((x > 2).any(0), x, x * 2.0),
            x * (x > -5).all() + x * torch.any(x > 10.0),
            torch.where(torch.all(x > -1.0, dim=0), x * 3.0, x),
        ),
        "repeat_interleave": lambda x: (
            x.repeat_interleave(2, 1),
            torch.repeat_interleave(x, 3, dim=0),
            x[1:3].repeat_interleave(2),
            x.repeat_interleave(torch.tensor([1, 0, 3, 2]), dim=0),
        ),
        "masked_select": lambda x: (
            x.masked_select(x > 0.4),
            torch.masked_select(x, torch.tensor([True, False, True, True, False])),
            x[0].masked_select((x > 0).logical_not()) * 2.0,
        ),
        "index_fill": lambda x: (
            x.index_fill(1, torch.tensor([0, 3, 0]), -1.5),
            torch.index_fill(x, 0, torch.tensor([2]), x[0, 0]),
            _index_filled(x * 1.0),
        ),
        "index_add": lambda x: (
            x.index_add(0, torch.tensor([0, 2, 0]), x[1:] * x[:3]),
            torch.index_add(x, 1, torch.tensor([4, 4]), x[:, :2], alpha=0.5),
            _index_added(x * 2.0, x),
        ),
        "tile": lambda x: (x.tile((2,)), torch.tile(x, (2, 1, 2)), x[0].tile(2, 2)),
        "trace-select-mT": lambda x: (
            x.trace(),
            torch.trace(x[:3, :3] * 2.0),
            x.select(1, 2),
            torch.select(x, 0, -1),
            x.mT,
            x.reshape(2, 2, 5).mT * 2.0,
        ),
        "unflatten": lambda x: (
            x.unflatten(1, (5, 1)),
            torch.unflatten(x, 0, (2, -1)),
            x.reshape(-1).unflatten(0, (4, 5)) * 2.0,
        ),
        "diff": lambda x: (
            x.diff(),
            torch.diff(x, n=2, dim=0),
            x.diff(dim=0, prepend=x[:1] * 2.0, append=x[-1:]),
            torch.diff(x, 0),
        ),
        "median": lambda x: (
            x.median(),
            *x.median(1),
            *torch.median(x, 0, keepdim=True),
            _tied(x).median(),
            *_tied(x).median(1),
            *torch.median(_tied(x).reshape(-1), 0),
        ),
        "kthvalue": lambda x: (
            *x.kthvalue(2),
            *torch.kthvalue(x, 3, 0, True),
            *_tied(x).kthvalue(3, 1),
            *_tied(x).reshape(-1).kthvalue(7),
        ),
        "aminmax": lambda x: (
            *x.aminmax(),
            *torch.aminmax(x, dim=1),
            *_tied(x).aminmax(dim=0, keepdim=True),
            *_tied(x).aminmax(),
        ),
        "var_mean": lambda x: (
            *torch.var_mean(x),
            *torch.var_mean(x, 1),
            *torch.std_mean(x, dim=0, keepdim=True),
            *torch.std_mean(x, (0, 1), correction=0),
            *torch.var_mean(x, 1, unbiased=False),
        ),
        "norm-p": lambda x: (
            x.norm(1),
            x.norm(float("inf"), 1),
            torch.norm(x, -float("inf"), 0, True),
            x.norm(3),
            x.norm(p=0, dim=1),
            x.norm(0.5, 1),
            x.norm(2, (0, 1)),
            x.norm(1, dim=(0, 1), keepdim=True),
            (x * (x > 0)).norm(1.5, 1),
            _tied(x).norm(float("inf"), 1),
            (x * (x > 0)).norm(-1.0, 0),
        ),
        "dist": lambda x: (
            x.dist(x.flip(0)),
            torch.dist(x, x[0], 1),
            x[0].dist(x[1], float("inf")),
            x.dist(x.roll(1, 1), 3),
            x.dist(x * 1.0),
        ),
        "cdist": lambda x: (
            torch.cdist(x, x[:3]),
            torch.cdist(x, x.flip(1), p=1),
            torch.cdist(x.reshape(2, 2, 5), x[:3] * 0.5, p=float("inf")),
            torch.cdist(x, x * 2.0, p=3),
            torch.cdist(x[:2], x[2:], p=0.5),
        ),
        "baddbmm": lambda x: (
            torch.baddbmm(
                x.reshape(2, 2, 5)[:, :, :2],
                x.reshape(2, 2, 5),
                x.reshape(2, 5, 2),
                beta=0.5,
                alpha=2.0,
            ),
            torch.baddbmm(x[0, :2], x.reshape(2, 2, 5), x.flip(0).reshape(2, 5, 2)),
        ),
        "scatter_reduce": lambda x: (
            torch.scatter_reduce(x, 1, index, x[:, :3] * 2.0, "sum"),
            x.scatter_reduce(0, perm[:2] % 4, x[:2, :3], "prod", include_self=False),
            x.scatter_reduce(1, index, x[:, 1:4], "mean"),
            # (src off x's values by 1/16: an x entry left out equal to the result takes
            # a share of its gradient in PyTorch, which srcdiff does not give it)
            x.scatter_reduce(1, index, x.flip(1)[:, :3] + 0.0625, "amax", include_self=False),
            _tied(x).scatter_reduce(0, index % 4, _tied(x)[:, :3], "amin"),
            x.scatter_reduce(1, index, x[:, :3].round(), "mean", include_self=False),
        ),  # fmt: skip
        **_elementwise_method_programs(torch),
    }


def _elementwise_method_programs(torch: Any) -> dict[str, Any]:
    """frac, sinc, copysign, heaviside, cummax, cummin, fmax, fmin, hypot, logaddexp and
    logaddexp2 at their ties, zeros, NaNs and infinities (none in a result)."""
    nan, inf = float("nan"), float("inf")
    return {
        "frac": lambda x: (x.frac(), torch.frac(x * 3.0), (x * 2.0).round().frac()),
        "sinc": lambda x: (x.sinc(), torch.sinc(x * 0.0), torch.sinc(x.round()), (x * 1e-9).sinc()),
        "copysign": lambda x: (
            x.copysign(x.flip(0)),
            torch.copysign(x, -1.0),
            x.copysign(x * 0.0),
            torch.copysign(x * (x > 0), x.flip(1)),
            x[0].copysign(x),
        ),
        "heaviside": lambda x: (
            x * torch.heaviside(x.detach().round(), x.new_full((5,), 0.25)),
            x * x.detach().heaviside(x.detach().flip(0)),
        ),
        "cummax": lambda x: (
            *x.cummax(1),
            *torch.cummin(x, 0),
            *_tied(x).cummax(1),
            *torch.cummin(_tied(x), dim=1),
            *_tied(x).reshape(-1).cummax(0),
            x.cummax(0).values * 2.0,
            x.cummin(-1).indices,
        ),
        "fmax": lambda x: (
            x.fmax(x.flip(0)),
            torch.fmin(x, x.roll(1, 1)),
            _tied(x).fmax(_tied(x).flip(1)),
            torch.fmin(_tied(x), _tied(x).flip(0)),
            x.fmax(torch.where(x > 1.0, nan, x.flip(1))),
            torch.fmin(torch.where(x < 0.0, nan, x.flip(0)), x),
            x.fmax(x[0]),
            torch.fmin(x, x.new_tensor(0.5)),
        ),
        "hypot": lambda x: (
            x.hypot(x.flip(0)),
            torch.hypot(x, x.new_full((4, 5), 0.5)),
            x[1].hypot(x * 1e200),
        ),
        "logaddexp": lambda x: (
            x.logaddexp(x.flip(1)),
            torch.logaddexp(x * 30.0, x.roll(1, 0) * 30.0),
            x.logaddexp(_tied(x)),
            torch.logaddexp(x, x.new_full((4, 5), -inf)),
            x.logaddexp2(x * 2.0),
            torch.logaddexp2(x * 40.0, x.flip(0) * 40.0),
            torch.logaddexp2(x.new_full((4, 5), -inf), x),
        ),
    }


def _index_filled(h: Any) -> Any:
    h.index_fill_(1, h.new_ones(2).long(), 0.25)
    return h


def _index_added(h: Any, x: Any) -> Any:
    h.index_add_(0, x.new_zeros(3).long() + 1, x[:3], alpha=-1.5)
    return h


def _tied(x: Any) -> Any:
    """``x``'s entries at the values ``round(x)`` (many of them equal, and equal to -0.0
    or 0.0), each with the gradient of its own entry."""
    return x - x.detach() + x.detach().round()


def _weighted(values_indices: Any) -> tuple:
    """A sort's or topk's values, each times its place (1, 2, ...), and its indices."""
    values, indices = values_indices
    places = values.new_ones(values.shape).cumsum(-1)
    return values * places, indices


def _filled(y: Any, x: Any) -> Any:
    y.masked_fill_(x < 0, -1.0)
    y.masked_fill_(x > 2.0, x[1, 1])
    return y


def _entry_updates(torch: Any, views: bool = True) -> dict[str, Any]:
    """In-place changes of a computed tensor's entries (``h[:, 1] += v``), each taking a
    (4, 5) tensor; ``views``: also those made through a view held apart (``row = h[1];
    row *= v``), which compiled code refuses."""
    programs = {
        "index": lambda x: _updated(x * 2.0),
        "mask": lambda x: _masked(x * 1.5, x),
        "nested": lambda x: _nested(x * 1.0, x),
    }
    if views:
        programs["view"] = lambda x: _through_view(x * 2.0, x)
        programs["view-taken-before"] = lambda x: _view_taken_before(x * 2.0, x)
        programs["entry-views"] = lambda x: _entry_views(x * 1.5, x, torch)
    return programs


def _view_taken_before(h: Any, x: Any) -> Any:
    """Views taken before other recorded changes of the tensor: each takes its graph
    again (PyTorch regenerates a view's grad_fn), read or changed in place."""
    row, again, kept = h[0], h[0], h[2]
    h.mul_(3.0)
    row += 1.0
    again *= x[1]
    h[1] *= x[3]
    return h + kept.sum()


def _entry_views(h: Any, x: Any, torch: Any) -> Any:
    """One entry (a 0-d view), and a row picked by a 0-d integer tensor."""
    e = h[1, 2]
    e += x[0, 0]
    h[0, 1].mul_(x[2, 2])
    row = h[torch.tensor(1)]
    row *= x[3]
    return h


def _updated(h: Any) -> Any:
    x = h / 2.0
    h[:, 1] += x[:, 0]
    h[0] *= x[1]
    h[1:3, ::2] -= 0.5 * x[3, :3]
    h[..., 2] /= x[:, 3] + 5.0
    return h


def _masked(h: Any, x: Any) -> Any:
    h[x > 0] += x[x > 0] ** 2
    h[1, 1:4] = h[2, :3].clone() * x[0, 1:4]
    return h


def _nested(h: Any, x: Any) -> Any:
    h[2][1:] += x[0, 1:]
    h[3][0] *= x[1, 1]
    return h


def _through_view(h: Any, x: Any) -> Any:
    row = h[1]
    row *= x[0]
    part = row[1:4]
    part += 1.0
    part *= 2.0
    return h + row.sum() + part[0]


def entry_updates(torch: Any, differentiate: Any = None) -> Values:
    """In-place changes of entries of a tensor computed from a float64 (4, 5) leaf: as
    ``tensor_methods`` (eagerly, or ``differentiate``: as a compiled step)."""
    programs = _entry_updates(torch, views=differentiate is None)
    return _differentiated(torch, programs, "entries", differentiate)


def tensor_methods(torch: Any, differentiate: Any = None) -> Values:
    """Tensor methods on a float64 (4, 5) tensor: values, and the gradient of the sum of
    every piece times its position (``differentiate``: as a compiled step)."""
    return _differentiated(torch, _method_programs(torch), "methods", differentiate)


def _differentiated(torch: Any, programs: dict[str, Any], prefix: str, differentiate: Any
                    ) -> Values:  # fmt: skip
    """Each program of a float64 (4, 5) tensor: its values, and the gradient of the sum of
    every piece times its position (``differentiate``: as a compiled step)."""
    out: Values = {}

    def step(program, x):
        y = program(x)
        pieces = list(y) if isinstance(y, tuple) else [y]
        total = pieces[0].sum() * 0.0
        for k, piece in enumerate(pieces):
            total = total + (piece * (k + 1.0)).sum() + (piece * piece).sum() * 0.5
        total.backward()
        return [piece.detach().clone() for piece in pieces]

    run = step if differentiate is None else differentiate(step)
    for key, program in programs.items():
        x = torch.tensor(METHOD_X, dtype=torch.float64, requires_grad=True)
        pieces = run(program, x)
        out[f"{prefix}/{key}"] = [v for piece in pieces for v in values(piece)] + values(x.grad)
    return out


def _mixed_programs(torch: Any) -> dict[str, Any]:
    """Python's operators on a float32 (4, 5) tensor and values of other dtypes: each
    computed in the dtype PyTorch promotes to (NumPy would take float64 for most)."""
    ints = torch.arange(20).reshape(4, 5)  # int64
    small = torch.tensor([1, 2, 3, 4, 5], dtype=torch.int32)
    return {
        "int-tensor": lambda x: (x * ints, ints + x, x - small, small / 4),
        "zero-d-float64": lambda x: (x * torch.tensor(2.5, dtype=torch.float64),),
        "zero-d-int": lambda x: (x + torch.tensor(3), small * torch.tensor(2)),
        "int-over-number": lambda x: (ints / 255.0 + x, ints * 2.5 - x),
        "int-over-int": lambda x: (ints / small + x, ints // small, ints % 3),
        "power": lambda x: (x ** torch.tensor(2.0, dtype=torch.float64), ints**0.5 * x),
        "methods": lambda x: (
            x.add(torch.tensor(2.5, dtype=torch.float64)),
            ints.div(2) + x,
            ints.add(2.5),
            x.mul(ints),
            ints.pow(0.5) * x,
            x.sub(ints, alpha=2),
        ),
        "joined": lambda x: (torch.cat([ints, x]) * 1.5, torch.stack([x, small[:5] * x])),
        "chosen": lambda x: (
            torch.maximum(ints, x) * x,
            torch.minimum(x, ints),
            torch.where(x > 1.0, ints, 0.5),
            torch.where(x > 0.0, x, ints) * x,
        ),
        # functions of reals of integer and bool tensors: in the default float
        "int-reals": lambda x: (
            ints.sigmoid() * x,
            (ints + 1).reciprocal(),
            (ints > 3).exp(),
            ints.sqrt() * x,
            ints.tanh() + ints.log1p(),
        ),
    }


def mixed_dtypes(torch: Any, differentiate: Any = None) -> Values:
    """Each mixed-dtype program's values, dtypes (as float32's: 1.0, or 0.0) and the
    gradient of a float32 leaf (``differentiate``: as a compiled step)."""
    out: Values = {}

    def step(program, x):
        pieces = program(x)
        total = x.sum() * 0.0
        for piece in pieces:
            if piece.dtype.is_floating_point:
                total = total + (piece * piece).sum()
        total.backward()
        return [piece.detach().clone() for piece in pieces]

    run = step if differentiate is None else differentiate(step)
    for key, program in _mixed_programs(torch).items():
        x = torch.tensor(METHOD_X, dtype=torch.float32, requires_grad=True)
        pieces = run(program, x)
        flags = [float(piece.dtype == torch.float32) for piece in pieces]
        numbers = [v for piece in pieces for v in values(piece.double())]
        out[f"mixed/{key}"] = flags + numbers + values(x.grad)
    return out


# "Understanding PyTorch with an example", section by section, then the other two.
TUTORIALS = (
    understanding_autograd,
    understanding_optimizer,
    understanding_model,
    understanding_training_step,
    understanding_minibatch,
    pytorch_101,
    autograd_tutorial,
)


def view_fills(torch: Any) -> Values:
    """Random fills of views that are not contiguous (a transpose, a strided slice), whose
    elements take the draws in the order of their memory: the whole base tensor after."""
    fills = {
        "uniform_-transposed": lambda w: w.T.uniform_(-1.0, 2.0),
        "normal_-transposed": lambda w: w.T.normal_(0.5, 2.0),  # 40 numbers: drawn serially
        "normal_-strided": lambda w: w[:, ::2].normal_(),
        "bernoulli_-transposed": lambda w: w.T.bernoulli_(0.4),
        "kaiming_uniform_-transposed": lambda w: torch.nn.init.kaiming_uniform_(w.T, a=2.0),
        "xavier_normal_-transposed": lambda w: torch.nn.init.xavier_normal_(w.T),
        # redraws into empty_like: a transpose's layout, a strided slice's made contiguous
        "trunc_normal_-transposed": lambda w: torch.nn.init.trunc_normal_(
            w.T, std=0.5, a=-0.3, b=0.6
        ),
        "trunc_normal_-strided": lambda w: torch.nn.init.trunc_normal_(
            w[:, ::2], std=0.5, a=-0.3, b=0.6
        ),
        "trunc_normal_-strided-tail": lambda w: torch.nn.init.trunc_normal_(
            w[:, ::2], mean=0.2, a=0.9, b=1.7
        ),
        # a transposed strided view: its redraws dense, in its axes' order
        "trunc_normal_-transposed-strided": lambda w: torch.nn.init.trunc_normal_(
            w.T[::2], a=-0.5, b=0.5
        ),
    }
    out: Values = {}
    for key, fill in fills.items():
        for dtype in ("float32", "float64"):
            torch.manual_seed(7)
            w = torch.zeros(5, 8, dtype=getattr(torch, dtype))
            fill(w)
            out[f"fill-view/{key}/{dtype}"] = values(w)
    return out


# (start, end, step): steps that binary floating point holds exactly and that it does not,
# a negative one, large starts, one past the 32 entries of a pair of vector blocks
ARANGE_CASES = [(0, 1, 0.2), (0, 1, 0.1), (-3.7, 5.3, 0.37), (1000.0, 1007.0, 0.3),
                (0.1, 100.3, 0.7), (-1, 1, 0.01), (2.5, -7.25, -0.3), (0, 10, 1),
                (0.5, 40, 1.5), (-0.2, 6.3, 0.2)]  # fmt: skip
FILL_VALUES = [0.1, 1 / 3, 2.7, -1e-3, 1e-40]


def creation(torch: Any) -> Values:
    """``arange`` and ``full`` of Python floats, in the default dtype and asked for
    float32 or float64: each entry rounded once, straight to the dtype."""
    out: Values = {}
    for dtype in ("default", "float32", "float64"):
        given = {} if dtype == "default" else {"dtype": getattr(torch, dtype)}
        for case in ARANGE_CASES:
            out[f"creation/arange/{case}/{dtype}"] = values(torch.arange(*case, **given))
        for v in FILL_VALUES:
            out[f"creation/full/{v}/{dtype}"] = values(torch.full((2,), v, **given))
            out[f"creation/full_like/{v}/{dtype}"] = values(
                torch.full_like(torch.zeros(2, dtype=torch.float64), v, **given)
            )
    return out


def record_all(torch: Any) -> Values:
    """Every program's values."""
    out: Values = {}
    programs = (*TUTORIALS, optimizers, schedulers, initializers, clipping, alpha, layers,
                functional, linear_init, tensor_methods, entry_updates, view_fills,
                mixed_dtypes, creation, normalization, convolution, pooling, recurrent,
                parameter_containers)  # fmt: skip
    for program in programs:
        out.update(program(torch))
    return out


# ---- embeddings, normalization layers and functions -----------------------------------

NORM_X = [[0.5, -1.25, 2.0, 0.75], [1.5, 0.25, -2.5, 1.0], [-0.75, 2.25, 0.125, -1.5]]
NORM_X3 = [
    [[0.5, -1.25, 2.0, 0.75], [1.5, 0.25, -2.5, 1.0], [-0.75, 2.25, 0.125, -1.5]],
    [[2.5, -0.25, 1.75, -3.0], [0.375, 1.25, -0.5, 0.625], [1.0, -2.0, 0.25, 3.5]],
]
INDICES = [[1, 2, 1, 5], [0, 4, 2, 2]]


def _shifted(module: Any, torch: Any) -> Any:
    """``module`` with each parameter moved off its initial value (ones and zeros would
    hide a wrong use of the weight or the bias)."""
    with torch.no_grad():
        for p in module.parameters():
            steps = torch.arange(p.numel(), dtype=p.dtype).reshape(p.shape)
            p.add_(steps * 0.125 - 0.3)
    return module


def _module_program(torch: Any) -> Any:
    """``module(make, x, shift=True)``: a program of the module ``make()`` makes after
    ``manual_seed(3)`` (its parameters moved off their initial values where ``shift``)."""

    def module(make: Any, x: Any, shift: bool = True) -> Any:
        torch.manual_seed(3)
        m = make()
        return (_shifted(m, torch) if shift else m), x, list(m.parameters())

    return module


def _function_program(torch: Any) -> Any:
    """``function(fn, x, *shapes)``: a program of ``fn(input, weights)``, with float64
    weights of those shapes, spread from -0.7 to 1.3."""

    def function(fn: Any, x: Any, *shapes: tuple) -> Any:
        weights = [
            torch.linspace(-0.7, 1.3, math.prod(s), dtype=torch.float64).reshape(s).requires_grad_()
            for s in shapes
        ]
        return (lambda inp: fn(inp, weights)), x, weights

    return function


def _normalization_programs(torch: Any) -> dict[str, Any]:
    """Each makes ``(fn, input, tensors)``: a module or function of one input, which it
    takes, and the tensors whose gradients count (its parameters, or a function's
    weights)."""
    nn, F, f64 = torch.nn, torch.nn.functional, torch.float64
    indices = torch.tensor(INDICES)
    x2, x3 = torch.tensor(NORM_X, dtype=f64), torch.tensor(NORM_X3, dtype=f64)
    x4 = torch.tensor(NORM_X3, dtype=f64).reshape(2, 3, 2, 2)
    module, function = _module_program(torch), _function_program(torch)

    return {
        "Embedding": lambda: module(lambda: nn.Embedding(6, 3, dtype=f64), indices, False),
        "Embedding-padding_idx": lambda: module(
            lambda: nn.Embedding(6, 3, padding_idx=2, dtype=f64), indices, False
        ),
        "Embedding-padding_idx-negative-float32": lambda: module(
            lambda: nn.Embedding(6, 3, padding_idx=-1), indices, False
        ),
        "Embedding-scale_grad_by_freq": lambda: module(
            lambda: nn.Embedding(6, 3, padding_idx=0, scale_grad_by_freq=True, dtype=f64),
            indices,
        ),
        "Embedding-from_pretrained": lambda: module(
            lambda: nn.Embedding.from_pretrained(
                torch.tensor(METHOD_X, dtype=f64).T, freeze=False, padding_idx=1
            ),
            indices % 5,
            False,
        ),
        "embedding": lambda: function(lambda i, w: F.embedding(i, w[0], 3), indices, (6, 2)),
        "LayerNorm": lambda: module(lambda: nn.LayerNorm(4, dtype=f64), x2),
        "LayerNorm-2d": lambda: module(lambda: nn.LayerNorm([3, 4], eps=1e-3, dtype=f64), x3),
        "LayerNorm-no-affine": lambda: module(
            lambda: nn.LayerNorm(4, elementwise_affine=False, dtype=f64), x3
        ),
        "LayerNorm-no-bias": lambda: module(lambda: nn.LayerNorm(4, bias=False, dtype=f64), x3),
        "LayerNorm-float32": lambda: module(lambda: nn.LayerNorm(4), x2.float()),
        "layer_norm": lambda: function(
            lambda x, w: F.layer_norm(x, (3, 4), w[0], w[1], 1e-4), x3, (3, 4), (3, 4)
        ),
        "BatchNorm1d": lambda: module(lambda: nn.BatchNorm1d(4, dtype=f64), x2),
        "BatchNorm1d-3d": lambda: module(lambda: nn.BatchNorm1d(3, dtype=f64), x3),
        "BatchNorm1d-momentum": lambda: module(
            lambda: nn.BatchNorm1d(3, eps=1e-3, momentum=0.7, dtype=f64), x3
        ),
        "BatchNorm1d-momentum-None": lambda: module(
            lambda: nn.BatchNorm1d(4, momentum=None, dtype=f64), x2
        ),
        "BatchNorm1d-no-affine": lambda: module(
            lambda: nn.BatchNorm1d(4, affine=False, dtype=f64), x2
        ),
        "BatchNorm1d-untracked": lambda: module(
            lambda: nn.BatchNorm1d(3, track_running_stats=False, dtype=f64), x3
        ),
        "BatchNorm1d-float32": lambda: module(lambda: nn.BatchNorm1d(4), x2.float()),
        "BatchNorm2d": lambda: module(lambda: nn.BatchNorm2d(3, momentum=0.3, dtype=f64), x4),
        "BatchNorm2d-momentum-None-float32": lambda: module(
            lambda: nn.BatchNorm2d(3, momentum=None), x4.float()
        ),
        "GroupNorm": lambda: module(lambda: nn.GroupNorm(2, 4, dtype=f64), x3.transpose(1, 2)),
        "GroupNorm-4d-no-bias": lambda: module(
            lambda: nn.GroupNorm(3, 3, eps=1e-3, bias=False, dtype=f64), x4
        ),
        "GroupNorm-no-affine": lambda: module(
            lambda: nn.GroupNorm(1, 4, affine=False, dtype=f64), x2
        ),
        "GroupNorm-float32": lambda: module(lambda: nn.GroupNorm(2, 4), x2.float()),
        "group_norm": lambda: function(
            lambda x, w: F.group_norm(x, 3, w[0], w[1], 1e-4), x4, (3,), (3,)
        ),
        "batch_norm": lambda: function(
            lambda x, w: F.batch_norm(
                x,
                torch.tensor([0.5, -1.0, 0.25], dtype=f64),
                torch.tensor([2.0, 0.5, 1.5], dtype=f64),
                w[0],
                w[1],
                eps=1e-3,
            ),
            x3,
            (3,),
            (3,),
        ),  # fmt: skip
    }


NORMALIZATION_STEPS = 3

CONV_X = [
    [
        [0.5, -1.25, 2.0, 0.75, -0.5, 1.5, 0.25],
        [1.5, 0.25, -2.5, 1.0, 0.375, -1.0, 2.25],
        [-0.75, 2.25, 0.125, -1.5, 1.25, 0.5, -2.0],
        [1.0, -0.5, 0.75, 2.5, -1.75, 0.0, 1.125],
    ],
    [
        [2.5, -0.25, 1.75, -3.0, 0.5, 1.0, -1.5],
        [0.375, 1.25, -0.5, 0.625, -2.25, 1.5, 0.75],
        [1.0, -2.0, 0.25, 3.5, 0.125, -0.75, 1.25],
        [-1.0, 0.5, 2.0, -0.25, 1.5, -1.25, 0.0],
    ],
]


def _flat_recurrent(torch: Any, inner: Any, states: tuple = ()) -> Any:
    """``inner`` (a recurrent layer or cell) as a module of one input giving one tensor:
    its outputs and states flattened, one after the other; its initial states, of
    ``states``' shapes, parameters of its own (``states`` empty: none given)."""
    nn = torch.nn

    class Flat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner
            self.states = nn.ParameterList(
                [
                    torch.linspace(-0.8, 0.9, math.prod(s), dtype=torch.float64).reshape(s)
                    for s in states
                ]  # fmt: skip
            )

        def forward(self, x: Any) -> Any:
            if len(self.states) == 0:
                y = self.inner(x)
            elif len(self.states) == 1:
                y = self.inner(x, self.states[0].tanh())
            else:
                y = self.inner(x, (self.states[0].tanh(), self.states[1] * 0.5))
            if not isinstance(y, tuple):
                return y.reshape(-1)
            parts = [y[0], y[1][0], y[1][1]] if isinstance(y[1], tuple) else [y[0], y[1]]
            return torch.cat([p.reshape(-1) for p in parts])

    return Flat()


def _recurrent_programs(torch: Any) -> dict[str, Any]:
    """Each makes ``(fn, input, tensors)``, as ``_normalization_programs``'s do: on a
    sequence of 4 steps of 2 samples of 3 features (``CONV_X``'s first entries)."""
    nn, f64 = torch.nn, torch.float64
    module = _module_program(torch)
    seq = torch.tensor(CONV_X, dtype=f64)[:, :, :3].permute(1, 0, 2).contiguous()
    first = seq[0]

    def flat(make: Any, x: Any, *states: tuple, shift: bool = True) -> Any:
        return lambda: module(lambda: _flat_recurrent(torch, make(), states), x, shift)

    return {
        "RNN-initial": flat(lambda: nn.RNN(3, 2, dtype=f64), seq, shift=False),
        "RNN-relu-two-layers-batch_first": flat(
            lambda: nn.RNN(3, 2, 2, "relu", batch_first=True, dtype=f64), seq, (2, 4, 2)
        ),
        "RNN-bidirectional-unbatched": flat(
            lambda: nn.RNN(3, 2, bidirectional=True, dtype=f64), seq[:, 0], (2, 2)
        ),
        "LSTM-initial": flat(lambda: nn.LSTM(3, 2, dtype=f64), seq, shift=False),
        "LSTM-two-layers-bidirectional": flat(
            lambda: nn.LSTM(3, 2, 2, bidirectional=True, dtype=f64), seq, (4, 2, 2), (4, 2, 2)
        ),
        "LSTM-batch_first-no-bias-float32": flat(
            lambda: nn.LSTM(3, 2, batch_first=True, bias=False), seq.float()
        ),
        "GRU-initial": flat(lambda: nn.GRU(3, 2, dtype=f64), seq, shift=False),
        "GRU-two-layers-bidirectional-batch_first": flat(
            lambda: nn.GRU(3, 2, 2, batch_first=True, bidirectional=True, dtype=f64),
            seq,
            (4, 4, 2),
        ),
        "RNNCell": flat(lambda: nn.RNNCell(3, 2, nonlinearity="relu", dtype=f64), first, (2, 2)),
        "LSTMCell": flat(lambda: nn.LSTMCell(3, 2, dtype=f64), first, (2, 2), (2, 2)),
        "LSTMCell-unbatched-initial": flat(
            lambda: nn.LSTMCell(3, 2, dtype=f64), first[0], shift=False
        ),
        "GRUCell": flat(lambda: nn.GRUCell(3, 2, bias=False, dtype=f64), first, (2, 2)),
    }


def _pooling_programs(torch: Any) -> dict[str, Any]:
    """Each makes ``(fn, input, [])``, on ``_convolution_programs``'s inputs (the 2-d one
    with ties: entries equal within a window)."""
    nn, F, f64 = torch.nn, torch.nn.functional, torch.float64
    x3 = torch.tensor(CONV_X, dtype=f64)
    x4 = (x3.unsqueeze(3) * x3.unsqueeze(2) * 2.0).round() / 4.0
    programs = {
        "MaxPool1d": (nn.MaxPool1d(2), x3),
        "MaxPool1d-padding-dilation": (nn.MaxPool1d(3, 1, 1, dilation=2), x3),
        "MaxPool1d-ceil_mode": (nn.MaxPool1d(4, 2, 2, ceil_mode=True), x3),
        "MaxPool2d-ties": (nn.MaxPool2d(3, stride=1, padding=1), x4),
        "MaxPool2d-ceil_mode": (nn.MaxPool2d((2, 3), (2, 2), (1, 1), ceil_mode=True), x4),
        "MaxPool2d-unbatched-float32": (nn.MaxPool2d(2, 1, dilation=(2, 1)), x4[0].float()),
        "AvgPool1d": (nn.AvgPool1d(3), x3),
        "AvgPool1d-ceil_mode-exclude-pad": (
            nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False),
            x3,
        ),
        "AvgPool1d-ceil_mode": (nn.AvgPool1d(4, 3, 2, ceil_mode=True), x3),
        "AvgPool2d": (nn.AvgPool2d(2), x4),
        "AvgPool2d-ceil_mode": (nn.AvgPool2d(3, 2, 1, ceil_mode=True), x4),
        "AvgPool2d-exclude-pad": (nn.AvgPool2d((3, 2), (2, 1), 1, count_include_pad=False), x4),
        "AvgPool2d-divisor_override-unbatched": (nn.AvgPool2d(2, divisor_override=3), x4[1]),
        "AvgPool2d-float32": (nn.AvgPool2d(3, 2, 1, ceil_mode=True), x4.float()),
        "AdaptiveAvgPool1d": (nn.AdaptiveAvgPool1d(3), x3),
        "AdaptiveAvgPool2d": (nn.AdaptiveAvgPool2d((3, 2)), x4),
        "AdaptiveAvgPool2d-None-larger": (nn.AdaptiveAvgPool2d((None, 9)), x4),
        "max_pool2d": (lambda x: F.max_pool2d(x, 2, 3, 1, ceil_mode=True), x4),
        "avg_pool2d": (lambda x: F.avg_pool2d(x, (1, 3), 1, (0, 1), False, False), x4),
        "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, 4), x4),
    }
    return {key: (lambda fn=fn, x=x: (fn, x, [])) for key, (fn, x) in programs.items()}


def _convolution_programs(torch: Any) -> dict[str, Any]:
    """Each makes ``(fn, input, tensors)``, as ``_normalization_programs``'s do: on a
    (2, 4, 7) input, or (2, 4, 7, 7) of it times its transpose, or one sample of them."""
    nn, F, f64 = torch.nn, torch.nn.functional, torch.float64
    module, function = _module_program(torch), _function_program(torch)
    x3 = torch.tensor(CONV_X, dtype=f64)
    x4 = x3.unsqueeze(3) * x3.unsqueeze(2) * 0.5 + x3.unsqueeze(3)
    return {
        "Conv1d-initial": lambda: module(lambda: nn.Conv1d(4, 3, 3, dtype=f64), x3, False),
        "Conv1d": lambda: module(
            lambda: nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, dtype=f64),
            x3,
        ),
        "Conv1d-same-even-kernel": lambda: module(
            lambda: nn.Conv1d(4, 2, 4, padding="same", bias=False, dtype=f64), x3
        ),
        "Conv1d-reflect-unbatched": lambda: module(
            lambda: nn.Conv1d(4, 2, 3, padding=2, padding_mode="reflect", dtype=f64), x3[0]
        ),
        "Conv1d-float32": lambda: module(lambda: nn.Conv1d(4, 3, 2, stride=3), x3.float()),
        "Conv2d-initial": lambda: module(lambda: nn.Conv2d(4, 3, (2, 3), dtype=f64), x4, False),
        "Conv2d": lambda: module(
            lambda: nn.Conv2d(
                4, 4, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=4, dtype=f64
            ),
            x4,
        ),
        "Conv2d-same-circular": lambda: module(
            lambda: nn.Conv2d(4, 2, 3, padding="same", padding_mode="circular", dtype=f64), x4
        ),
        "Conv2d-replicate-unbatched": lambda: module(
            lambda: nn.Conv2d(4, 2, 2, padding=1, padding_mode="replicate", dtype=f64), x4[1]
        ),
        "Conv2d-float32": lambda: module(lambda: nn.Conv2d(4, 5, 3, padding=1), x4.float()),
        "conv1d": lambda: function(
            lambda x, w: F.conv1d(x, w[0], w[1], 1, "same"), x3, (2, 4, 3), (2,)
        ),
        "conv2d": lambda: function(
            lambda x, w: F.conv2d(x, w[0], None, 2, (0, 1), 1, 2), x4, (4, 2, 2, 3)
        ),
    }


def normalization(torch: Any, differentiate: Any = None) -> Values:
    """Embedding, LayerNorm, GroupNorm, BatchNorm1d and BatchNorm2d (and their functions),
    each run by ``_stepped``."""
    return _stepped(_normalization_programs(torch), "normalization", differentiate)


def convolution(torch: Any, differentiate: Any = None) -> Values:
    """Conv1d and Conv2d (their initial parameters after ``manual_seed``, strides,
    paddings and their modes, dilations, groups, unbatched inputs) and their functions,
    each run by ``_stepped``."""
    return _stepped(_convolution_programs(torch), "convolution", differentiate)


def pooling(torch: Any, differentiate: Any = None) -> Values:
    """MaxPool1d/2d, AvgPool1d/2d and AdaptiveAvgPool1d/2d (kernels, strides, paddings,
    dilations, ceil_mode, count_include_pad, divisor_override, ties, unbatched inputs) and
    their functions, each run by ``_stepped``."""
    return _stepped(_pooling_programs(torch), "pooling", differentiate)


def recurrent(torch: Any, differentiate: Any = None) -> Values:
    """RNN, LSTM and GRU (initial parameters after ``manual_seed``; two layers, batch_first,
    bidirectional, an initial state given or not, unbatched inputs) and their cells, each
    run by ``_stepped``."""
    return _stepped(_recurrent_programs(torch), "recurrent", differentiate)


def _stepped(programs: dict[str, Any], prefix: str, differentiate: Any = None) -> Values:
    """``NORMALIZATION_STEPS`` steps of each program in training mode on inputs scaled
    apart, then one in evaluation mode, each ``(y * y).sum() / 2 + (y**3).sum() / 10``
    backward; the outputs and input gradients of every step, then the accumulated
    gradients of the parameters and the state dict (``differentiate``: the step
    compiled)."""
    out: Values = {}

    def step(fn, inp):
        y = fn(inp)
        ((y * y).sum() * 0.5 + (y * y * y).sum() * 0.1).backward()
        return y.detach().clone()

    run = step if differentiate is None else differentiate(step)
    for key, make in programs.items():
        fn, x, tensors = make()
        numbers = []
        for k in range(NORMALIZATION_STEPS + 1):
            if k == NORMALIZATION_STEPS and hasattr(fn, "eval"):
                fn.eval()
            inp = x
            if x.is_floating_point():
                inp = (x * (1.0 + 0.5 * k) + 0.25 * k).detach().requires_grad_()
            numbers += values(run(fn, inp))
            numbers += values(inp.grad) if inp.is_floating_point() else []
        numbers += [v for t in tensors for v in values(t.grad)]
        numbers += state_values(fn.state_dict()) if hasattr(fn, "state_dict") else []
        out[f"{prefix}/{key}"] = numbers
    return out


def _container_model(torch: Any) -> Any:
    """A model whose weights are in a ParameterList and a ParameterDict (Tensors made
    Parameters when put in, appended, indexed, iterated, looked up by key)."""
    nn = torch.nn

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(5)
            self.ws = nn.ParameterList([torch.randn(4, 3, dtype=torch.float64)])
            self.ws.append(nn.Parameter(torch.randn(3, 3, dtype=torch.float64)))
            self.ws += [torch.randn(3, 2, dtype=torch.float64)]
            self.bs = nn.ParameterDict({"out": torch.zeros(2, dtype=torch.float64)})
            self.bs["hidden"] = torch.randn(3, dtype=torch.float64)

        def forward(self, x: Any) -> Any:
            h = (x @ self.ws[0] + self.bs["hidden"]).tanh()
            for w in self.ws[1:-1]:
                h = (h @ w).tanh()
            return h @ self.ws[-1] + self.bs["out"]

    return Model()


def parameter_containers(torch: Any, differentiate: Any = None) -> Values:
    """Four SGD steps of ``_container_model``: the losses, then its state dict."""
    model = _container_model(torch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.tensor(NORM_X, dtype=torch.float64)
    t = torch.tensor([[0.5, -1.0], [1.0, 0.0], [0.25, 2.0]], dtype=torch.float64)

    def step(x, t):
        optimizer.zero_grad()
        loss = ((model(x) - t) ** 2).mean()
        loss.backward()
        optimizer.step()
        return loss.detach()

    run = step if differentiate is None else differentiate(step)
    losses = [v for _ in range(4) for v in values(run(x, t))]
    return {"containers/ParameterList-ParameterDict": losses + state_values(model.state_dict())}

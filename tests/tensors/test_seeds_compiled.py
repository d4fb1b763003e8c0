"""The tutorials' training code inside ``@sd.differentiate`` steps: the same numbers as
the eager code, step for step."""

import numpy as np
from tutorial import linear_regression_data

import srcdiff as sd
from srcdiff import nn, optim


def data():
    x, y, train = linear_regression_data()
    return sd.from_numpy(x[train]).float(), sd.from_numpy(y[train]).float()


def autograd_tutorial(compiled: bool, epochs: int = 200):
    """The loop of "autograd in PyTorch": in-place updates under no_grad, zero_()."""
    x_train_tensor, y_train_tensor = data()
    sd.manual_seed(42)
    b = sd.randn(1, requires_grad=True, dtype=sd.float)
    w = sd.randn(1, requires_grad=True, dtype=sd.float)
    lr = 0.1

    def step():
        yhat = b + w * x_train_tensor
        error = y_train_tensor - yhat
        loss = (error**2).mean()
        loss.backward()
        with sd.no_grad():
            b.sub_(lr * b.grad)
            w.sub_(lr * w.grad)
        b.grad.zero_(), w.grad.zero_()
        return loss.item()

    step = sd.differentiate(step) if compiled else step
    losses = [step() for _ in range(epochs)]
    return b, w, losses, step


def test_the_autograd_tutorial_loop_compiled_matches_eager():
    b, w, losses, step = autograd_tutorial(compiled=True)
    b0, w0, losses0, _ = autograd_tutorial(compiled=False)
    np.testing.assert_allclose(losses, losses0, rtol=1e-6)
    np.testing.assert_allclose([b.item(), w.item()], [b0.item(), w0.item()], rtol=1e-6)
    assert b.is_leaf and w.is_leaf and b.dtype is sd.float32
    source = sd.source(step)
    assert "step_backward" in source and "rt.accumulate_grad" in source


def test_the_tutorial_fit_reaches_its_values_in_a_compiled_step():
    b, w, _, _ = autograd_tutorial(compiled=True, epochs=1000)
    assert f"{b.item():.4f}" == "1.0235" and f"{w.item():.4f}" == "1.9690"


def test_the_dynamic_graph_branch_in_a_compiled_step():
    """The tutorial's `if loss > 0:` graph, inside a compiled step, and its gradients."""
    x_train_tensor, y_train_tensor = data()
    sd.manual_seed(3)
    b = sd.randn(1, requires_grad=True, dtype=sd.float64)
    w = sd.randn(1, requires_grad=True, dtype=sd.float64)
    x, y = x_train_tensor.double(), y_train_tensor.double()

    @sd.differentiate
    def step():
        yhat = b + w * x
        error = y - yhat
        loss = (error**2).mean()
        if loss > 0:
            yhat2 = w * x
            error2 = y - yhat2
        loss += error2.mean()
        loss.backward()
        return loss.item()

    step()
    xs, ys = x.numpy(), y.numpy()
    e1 = ys - (b.item() + w.item() * xs)
    np.testing.assert_allclose(b.grad.numpy(), [-2 * e1.mean()], rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), [-2 * (xs * e1).mean() - xs.mean()], rtol=1e-12)
    assert "error2" in sd.source(step).split("def step_backward")[1]


def test_the_pytorch_style_training_step_compiled_matches_eager():
    """``make_train_step`` of "Understanding PyTorch with an example"."""
    x_train_tensor, y_train_tensor = data()

    def fit(compiled: bool):
        sd.manual_seed(42)
        model = nn.Sequential(nn.Linear(1, 1))
        loss_fn = nn.MSELoss(reduction="mean")
        optimizer = optim.SGD(model.parameters(), lr=0.1)

        def make_train_step(model, loss_fn, optimizer):
            def train_step(x, y):
                model.train()
                yhat = model(x)
                loss = loss_fn(y, yhat)
                loss.backward()
                optimizer.step()
                optimizer.zero_grad()
                return loss.item()

            return sd.differentiate(train_step) if compiled else train_step

        train_step = make_train_step(model, loss_fn, optimizer)
        losses = [train_step(x_train_tensor, y_train_tensor) for _ in range(100)]
        return model.state_dict(), losses

    compiled, losses = fit(True)
    eager, losses0 = fit(False)
    np.testing.assert_allclose(losses, losses0, rtol=1e-6)
    for name in eager:
        np.testing.assert_allclose(compiled[name].numpy(), eager[name].numpy(), rtol=1e-6)

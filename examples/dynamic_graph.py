"""The dynamic computation graph of "Automatic Differentiation in PyTorch", with srcdiff.

The tutorial's (deliberately nonsensical) loss has an ``if loss > 0`` that adds a second
branch to the graph. Here the threshold is a parameter, so both paths run: for each, the
graph as DOT text (make_dot), the adjoint source that ``loss.backward()`` ran, and the
path-specialised gradient source that ``sd.grad`` generates for the same function on
NumPy arrays, whose gradients agree with the tensors'.
"""

import numpy as np

import srcdiff as sd

TAKEN, NOT_TAKEN = 0.0, 1e9  # thresholds that the loss always / never exceeds


def nonsense(b, w, x, y, threshold):
    """The tutorial's loss; it runs on tensors and on NumPy arrays alike."""
    yhat = b + w * x
    error = y - yhat
    loss = (error**2).mean()
    # this makes no sense!!
    if loss > threshold:
        yhat2 = w * x
        error2 = y - yhat2
        # neither does this :-)
        loss += error2.mean()
    return loss


def training_data():
    np.random.seed(42)
    x = np.random.rand(100, 1)
    y = 1 + 2 * x + 0.1 * np.random.randn(100, 1)
    idx = np.random.permutation(100)[:80]
    return x[idx], y[idx]


def banner(text):
    print(f"\n==== {text} " + "=" * max(0, 70 - len(text)))


def main():
    x_train, y_train = training_data()
    x_train_tensor = sd.from_numpy(x_train).float()
    y_train_tensor = sd.from_numpy(y_train).float()
    compiled = sd.grad(nonsense, wrt=(0, 1))

    for label, threshold in (("branch taken", TAKEN), ("branch not taken", NOT_TAKEN)):
        sd.manual_seed(42)
        b = sd.randn(1, requires_grad=True, dtype=sd.float)
        w = sd.randn(1, requires_grad=True, dtype=sd.float)
        loss = nonsense(b, w, x_train_tensor, y_train_tensor, threshold)

        banner(f"{label}: sd.make_dot(loss).source")
        print(sd.make_dot(loss, params={"b": b, "w": w}).source)

        loss.backward()
        banner(f"{label}: the adjoint loss.backward() ran")
        print(sd.source(loss))

        db, dw = compiled(
            b.detach().numpy(),
            w.detach().numpy(),
            x_train_tensor.numpy(),
            y_train_tensor.numpy(),
            threshold,
        )
        banner(f"{label}: sd.grad(nonsense, wrt=(0, 1)) on NumPy arrays")
        print(sd.source(compiled))
        print(f"tensors:  b.grad = {b.grad.item():.6f}  w.grad = {w.grad.item():.6f}")
        print(f"compiled: d/db   = {db.item():.6f}  d/dw   = {dw.item():.6f}")


if __name__ == "__main__":
    main()

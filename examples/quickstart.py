"""srcdiff in one page: the gradient of a loss with an `if` and a loop, checked
against finite differences, and the gradient source srcdiff generated for it."""

import numpy as np

import srcdiff as sd


def loss(w, x, y, steps=3):
    """A small recurrent model: the same layer applied `steps` times."""
    h = x
    for _ in range(steps):
        h = np.tanh(h @ w)
        if h.sum() < 0:
            h = -h
    return np.mean((h - y) ** 2)


def finite_differences(f, w, *args, eps=1e-6):
    grad = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        step = np.zeros_like(w)
        step[i] = eps
        grad[i] = (f(w + step, *args) - f(w - step, *args)) / (2 * eps)
    return grad


def main() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 3)) * 0.5
    x = rng.normal(size=(4, 3))
    y = rng.normal(size=(4, 3))

    value_and_grad = sd.value_and_grad(loss)
    value, grad = value_and_grad(w, x, y)
    reference = finite_differences(loss, w, x, y)
    print(f"loss = {value:.6f}")
    print("gradient with respect to w:")
    print(np.array2string(grad, precision=6))
    print(f"largest difference from finite differences: {np.abs(grad - reference).max():.2e}")
    print()
    print("The generated source that computed it:")
    print(sd.source(value_and_grad))


if __name__ == "__main__":
    main()

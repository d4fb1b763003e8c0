"""The data of "Understanding PyTorch with an example", for the tests of its code."""

from __future__ import annotations

import numpy as np


def linear_regression_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``x`` and ``y`` (100 points of y = 1 + 2 x + noise) and the 80 training indices,
    drawn as the tutorial draws them."""
    np.random.seed(42)
    x = np.random.rand(100, 1)
    y = 1 + 2 * x + 0.1 * np.random.randn(100, 1)
    idx = np.arange(100)
    np.random.shuffle(idx)
    return x, y, idx[:80]


def fit_by_hand(x_train, y_train, epochs: int = 1000) -> tuple:
    """The tutorial's first loop: autograd computes the gradients, the updates are made
    by hand under ``no_grad``; ``a`` and ``b`` start from ``manual_seed(42)``."""
    import srcdiff as sd

    sd.manual_seed(42)
    a = sd.randn(1, requires_grad=True, dtype=sd.float)
    b = sd.randn(1, requires_grad=True, dtype=sd.float)
    for _ in range(epochs):
        loss = ((y_train - (a + b * x_train)) ** 2).mean()
        loss.backward()
        with sd.no_grad():
            a -= 0.1 * a.grad
            b -= 0.1 * b.grad
        a.grad.zero_()
        b.grad.zero_()
    return a, b

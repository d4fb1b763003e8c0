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

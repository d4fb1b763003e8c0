"""SparseAdam, refused: it updates parameters from sparse gradients, which srcdiff never
makes (its gradients are dense arrays, ``nn.Embedding(sparse=True)`` included)."""

from __future__ import annotations

from typing import Any

__all__ = ["SparseAdam"]


class SparseAdam:
    """PyTorch's Adam for sparse gradients, which srcdiff has none of: constructing it
    raises NotImplementedError, saying what to use instead."""

    def __init__(self, params: Any, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "optim.SparseAdam updates parameters from sparse gradients, and srcdiff's "
            "gradients are always dense (there are no sparse tensors): use optim.Adam, which "
            "updates every entry at each step (SparseAdam updates only the rows that have a "
            "gradient)"
        )

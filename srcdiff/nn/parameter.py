"""Parameter: the tensor type a Module registers as a learnable weight."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..creation import as_tensor
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad by default and that a Module registers when it is
    assigned as an attribute. It shares the memory of the tensor it is made from."""

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = Tensor._make(np.empty((0,), np.float32))
        super().__init__(as_tensor(data), requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

"""srcdiff: source-to-source reverse-mode automatic differentiation for Python."""

from . import rules  # noqa: F401  (registers the built-in rules)
from .api import differentiate, grad, register_vjp, source, value_and_grad
from .errors import CompileError

__all__ = ["CompileError", "differentiate", "grad", "register_vjp", "source",
           "value_and_grad"]

"""Where compiled code meets Tensors: taking their arrays, giving back gradients, and
running ``loss.backward()`` inside a compiled function."""

from __future__ import annotations

from typing import Any

from .calls import LEAVES, Host, collect_called, path_key


def tensor_class() -> type:
    """srcdiff's Tensor class (a class of no object before the Tensor layer loads)."""
    return Host.tensor


def unwrap(x: Any, path: list) -> Any:
    """The array of a Tensor (else ``x``), recording in ``path`` whether it was a Tensor
    that requires grad (1), one that does not (0), or no Tensor (2)."""
    if not isinstance(x, Host.tensor):
        path.append(2)
        return x
    if x.requires_grad and Host.grad_enabled():
        LEAVES[0] += 1
        path.append(1)
    else:
        path.append(0)
    return x._data


def check_in_place(old: Any, new: Any, method: str) -> None:
    """``m.add_(v)`` (``method``) in compiled code, computed as ``m + v``: the result must
    keep ``m``'s shape and dtype, as the Tensor's own array does."""
    if isinstance(old, Host.tensor):  # one made by srcdiff's functions in the code
        old = old._data
    shape, new_shape = getattr(old, "shape", ()), getattr(new, "shape", ())
    if tuple(shape) != tuple(new_shape):
        raise RuntimeError(
            f"output with shape {list(shape)} doesn't match the broadcast shape "
            f"{list(new_shape)} (in .{method}())"
        )
    dtype, new_dtype = getattr(old, "dtype", None), getattr(new, "dtype", None)
    if dtype is not None and new_dtype is not None and dtype != new_dtype:
        raise RuntimeError(
            f"result type {new_dtype} of .{method}() differs from the tensor's {dtype}: "
            "compute it out of place, or convert the operand first"
        )


def accumulate_grad(tensor: Any, g: Any) -> None:
    """Add ``g`` to ``tensor.grad`` (a leaf), or carry it on through the graph that
    produced ``tensor`` (recorded by eager code before the compiled call)."""
    if tensor._node is None:  # a leaf
        Host.accumulate(tensor, g)
    else:
        tensor.backward(Host.tensor._make(g), retain_graph=True)


def backward(
    unit: Any,
    saved: dict,
    path: list,
    site: int,
    loss: Any,
    gradient: Any = None,
    retain_graph: bool = False,
) -> None:
    """``loss.backward()`` in compiled code: run the generated adjoint of the statements
    of this call that came before it (their Tensors' ``.grad`` accumulate)."""
    if gradient is None:
        if getattr(loss, "size", 1) != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        seed = 1.0 if getattr(loss, "shape", ()) == () else loss * 0 + 1
    else:
        seed = gradient._data if isinstance(gradient, Host.tensor) else gradient
    key = path_key(path)
    adjoint, _ = unit.adjoint(key, site)
    called: dict = {}
    previous = collect_called(called)
    try:
        adjoint(saved, seed)
    finally:
        collect_called(previous)
    unit.last_backward = (key, site, tuple(called))

"""Optimizer: the bookkeeping every optimizer shares (parameter groups, per-parameter
state, zero_grad, saving and loading), apart from the update formulas."""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .. import cuda, grad_mode
from ..backend import array_module
from ..grad_mode import enable_grad
from ..rules.registry import nondiff
from ..runtime.tensors import wrote_stepped
from ..tensor import Tensor

Params = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]
UNORDERED = (
    "optimizer parameters need to be organized in ordered collections, but the "
    "ordering of tensors in sets will change between runs. Please use a list instead."
)


def _describe(value: Any) -> str:
    return value.type() if isinstance(value, Tensor) else type(value).__name__


_INVALID = {"lr": "learning rate", "eps": "epsilon value"}  # the others: "<name> value"


class Optimizer:
    """Holds ``param_groups`` (dicts of ``params`` and hyperparameters, missing ones filled
    from ``defaults``) and ``state`` (a dict per parameter). Subclasses validate their
    constructor's values in ``check_group`` and update a group in ``update_group``.

    PyTorch's choices of kernel (``foreach``, ``fused``, ``capturable``) are taken and kept
    in the groups as PyTorch keeps them: srcdiff has one implementation, PyTorch's
    for-loop one, whose values they leave unchanged. ``differentiable=True`` (a step
    recorded for autograd) is refused."""

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of "
                f"Tensors or dicts, but got {params.type()}"
            )
        if isinstance(params, set):
            raise TypeError(UNORDERED)
        if defaults.get("differentiable"):
            raise NotImplementedError(
                f"{type(self).__name__}(differentiable=True): srcdiff does not record an "
                "optimizer's step for autograd; compute the update with Tensor operations "
                "to differentiate through it"
            )
        if defaults.get("fused") and defaults.get("foreach"):
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        self.check_group(defaults)  # the constructor's values (a group's own are not checked,
        self.defaults = defaults  # as in PyTorch: a negative lr in one group ascends there)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with hyperparameters of its own where it gives them.
        The group is the caller's dict, given the defaults it lacks (as in PyTorch): a
        later change of it (``group["lr"] = ...``) is the optimizer's."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param group must be a dict, but got {_describe(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(UNORDERED)
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]  # model.named_parameters()
        if names:
            if len(names) != len(params):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            params = [p[1] for p in params]
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is {_describe(p)}"
                )
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        param_group["params"] = params
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        ids = {id(p) for p in params}
        if len(ids) != len(params):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error; see github.com/pytorch/pytorch/issues/40967 for "
                "more information",
                stacklevel=3,
            )
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. cannot add param "
                    f"group {which} to the optimizer"
                )
        if any(id(p) in ids for g in self.param_groups for p in g["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    nonnegative: tuple[str, ...] = ()  # hyperparameters that may not be negative

    def check_group(self, group: dict[str, Any]) -> None:
        """Raise ValueError for an invalid hyperparameter of ``group``, in PyTorch's words."""
        for name in self.nonnegative:
            if group[name] < 0.0:
                raise ValueError(f"Invalid {_INVALID.get(name, name + ' value')}: {group[name]}")
        for i, beta in enumerate(group.get("betas", ())):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")

    def update_group(self, group: dict[str, Any]) -> None:
        """Update the parameters of ``group`` from their ``.grad`` (under no_grad)."""
        raise NotImplementedError(f"{type(self).__name__} does not define update_group")

    def stepped(self, group: dict[str, Any], *buffers: str) -> Iterator[tuple[Tensor, dict]]:
        """The parameters of ``group`` that have a gradient, one by one as PyTorch's loop
        takes them (one listed twice takes two steps), each with its state: ``buffers``
        made zeros like it where it lacks them, and its steps counted."""
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state["step"] = 0
            for b in buffers:  # (one the group asks for later, as amsgrad: made then)
                if b not in state:
                    state[b] = Tensor._make(array_module(p._data).zeros_like(p._data))
            state["step"] += 1
            yield p, state

    @staticmethod
    def gradient(p: Tensor, group: dict[str, Any]) -> Any:
        """The array of ``p``'s gradient, negated where ``group`` maximizes."""
        return -p.grad._data if group["maximize"] else p.grad._data

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient. ``closure``, if given,
        recomputes the loss (with grad enabled) first; its result is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        state = grad_mode.STATE  # (as ``with no_grad():``, sooner: every step passes here)
        previous, state.enabled = state.enabled, False
        try:
            for group in self.param_groups:
                self.update_group(_numbers(group))
                wrote_stepped(group["params"])  # changed in place: older graphs must see it
        finally:
            state.enabled = previous
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter: to ``None``, or to zeros in place."""
        for group in self.param_groups:
            Tensor._clear_grads(group["params"], set_to_none)

    # ---- saving and loading ------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``,
        parameters numbered in group order, as PyTorch saves it. Each parameter's state is
        the optimizer's own, as in PyTorch: it goes on changing with training (its step
        count with its averages). ``copy.deepcopy`` it, or ``sd.save`` it, for a snapshot."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take hyperparameters and state from ``state_dict`` (copied, and cast to each
        parameter's device and floating dtype)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(
            len(s["params"]) != len(g["params"])
            for s, g in zip(saved_groups, self.param_groups, strict=True)
        ):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match "
                "the size of optimizer's group"
            )
        by_index = {
            i: p
            for s, g in zip(saved_groups, self.param_groups, strict=True)
            for i, p in zip(s["params"], g["params"], strict=True)
        }
        self.state = defaultdict(dict)
        for i, saved in state_dict["state"].items():
            if i in by_index:
                p = by_index[i]
                self.state[p] = {k: _state_like(v, p) for k, v in saved.items()}
        for saved, group in zip(saved_groups, self.param_groups, strict=True):
            group.update({k: v for k, v in saved.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


# the types of a group's usual values, none of them a Tensor (``params`` a list of them)
_PLAIN = frozenset({float, int, bool, str, list, type(None)})


def _numbers(group: dict[str, Any]) -> dict[str, Any]:
    """``group`` with its one-number Tensor hyperparameters (``lr=torch.tensor(0.01)``,
    Tensor betas, as PyTorch takes them) as the numbers they hold, for the update."""
    if _PLAIN.issuperset(map(type, group.values())):  # (the usual group, told at once:
        return group  # every training step passes here)
    if not any(
        isinstance(v, Tensor) or isinstance(v, tuple) and any(isinstance(b, Tensor) for b in v)
        for k, v in group.items()
        if k != "params"
    ):
        return group

    def number(v: Any) -> Any:
        if isinstance(v, Tensor):
            return v.item()
        return tuple(map(number, v)) if isinstance(v, tuple) else v

    return {k: v if k == "params" else number(v) for k, v in group.items()}


def _state_like(value: Any, param: Tensor) -> Any:
    """A copy of a saved state value, on ``param``'s device and, if floating, in its dtype."""
    if not isinstance(value, Tensor):
        return value
    array = cuda.to_device(value._data, param.device)
    dtype = param._data.dtype if value.is_floating_point() else array.dtype
    return Tensor._make(array.astype(dtype, copy=True))


# run as written where compiled code calls it, whatever its flag (a global, an argument)
nondiff("resets the parameters' gradients; its flag carries none", Optimizer.zero_grad)

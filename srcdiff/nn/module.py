"""Module: the base class of models and layers.

Assigning a Parameter, a Module or (through ``register_buffer``) a tensor as an attribute
registers it in ``_parameters``, ``_modules`` or ``_buffers``; everything else that a
model does with its weights (listing, saving, loading, moving) walks those dicts.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from .. import cuda, dtypes, runtime
from ..creation import as_tensor
from ..grad_mode import no_grad
from ..rules.registry import nondiff
from ..tensor import Tensor
from .parameter import Parameter


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` did not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"IncompatibleKeys(missing_keys={self.missing_keys!r}, "
                f"unexpected_keys={self.unexpected_keys!r})")  # fmt: skip


def _type_name(value: Any) -> str:
    return value.type() if isinstance(value, Tensor) else type(value).__name__


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
    if not name:
        raise KeyError(f'{kind} name can\'t be empty string ""')
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain "."')


def _indent(text: str, spaces: int) -> str:
    """Indent every line of ``text`` but the first."""
    return text.replace("\n", "\n" + " " * spaces)


class _Registry(dict):
    """A Module's dict of its parameters, buffers or sub-modules. Each entry is also an
    attribute in the module's ``__dict__``, so that reading ``self.weight`` is Python's
    own lookup, not a failed one and a call of ``__getattr__`` (a training step reads
    its parameters so); every write of the dict keeps the two the same. It is copied and
    pickled as a plain dict, which the module's ``__setstate__`` makes one again."""

    def __init__(self, owner: Module, entries: Mapping[str, Any] = ()) -> None:
        super().__init__()
        self._owner = weakref.ref(owner)
        self.update(entries)

    def _attributes(self) -> dict:
        owner = self._owner()
        return {} if owner is None else owner.__dict__

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._attributes()[key] = value

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._attributes().pop(key, None)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self._attributes().pop(key, None)
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        key, value = super().popitem()
        self._attributes().pop(key, None)
        return key, value

    def clear(self) -> None:
        attributes = self._attributes()
        for key in self:
            attributes.pop(key, None)
        super().clear()

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *others: Any, **entries: Any) -> None:
        for key, value in dict(*others, **entries).items():
            self[key] = value

    def __ior__(self, other: Any) -> _Registry:
        self.update(other)
        return self

    def __reduce_ex__(self, protocol: Any) -> tuple:
        return dict, (dict(self),)


_REGISTRY_NAMES = ("_parameters", "_buffers", "_modules")


class Module:
    """Base class of every layer and model: subclass it, assign parameters and
    sub-modules in ``__init__``, compute in ``forward``, and call the module itself."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        for registry in _REGISTRY_NAMES:
            object.__setattr__(self, registry, _Registry(self))
        object.__setattr__(self, "_non_persistent_buffers_set", set())

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A copied or unpickled module: its dicts of parameters, buffers and
        sub-modules made its own again (see ``_Registry``)."""
        self.__dict__.update(state)
        for registry in _REGISTRY_NAMES:
            entries = state.get(registry)
            if entries is not None:
                object.__setattr__(self, registry, _Registry(self, entries))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---- registration ----------------------------------------------------------------

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (or a ``None`` placeholder) as the parameter ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        _check_name("parameter", name)
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{_type_name(param)}' object to parameter '{name}' "
                "(srcdiff.nn.Parameter or None required)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (moved with the module, never
        optimized; saved and loaded with it unless not ``persistent``)."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        _check_name("buffer", name)
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{_type_name(tensor)}' object to buffer '{name}' "
                "(srcdiff Tensor or None required)"
            )
        self._buffers[name] = tensor
        unsaved = self.__dict__.setdefault("_non_persistent_buffers_set", set())
        if persistent:
            unsaved.discard(name)
        else:
            unsaved.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add ``module`` (or a ``None`` placeholder) as the sub-module ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_type_name(module)} is not a Module subclass")
        _check_name("module", name)
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        modules = self.__dict__.get("_modules")
        buffers = self.__dict__.get("_buffers")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep=params)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_type_name(value)}' as parameter '{name}' "
                    "(srcdiff.nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep=modules)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_type_name(value)}' as child module "
                    f"'{name}' (srcdiff.nn.Module or None expected)"
                )
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{_type_name(value)}' as buffer '{name}' "
                    "(srcdiff Tensor or None expected)"
                )
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict | None = None) -> None:
        """Drop ``name`` wherever it is, before it is registered anew in ``keep``, where
        it keeps its place (``setattr(seq, "1", layer)`` replaces a Sequential's layer)."""
        self.__dict__.pop(name, None)
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: the registered names are attributes too
        # (see _Registry), so only while a module is being copied or unpickled
        own = self.__dict__
        params = own.get("_parameters")
        if params is not None and name in params:
            return params[name]
        buffers = own.get("_buffers")
        if buffers is not None and name in buffers:
            return buffers[name]
        modules = own.get("_modules")
        if modules is not None and name in modules:
            return modules[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    # ---- traversal ---------------------------------------------------------------------

    def named_modules(self, memo: set[Module] | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:  # fmt: skip
        """This module and every module inside it, with its dotted name: each once, unless
        not ``remove_duplicate`` (a module held twice, under each name); none of ``memo``
        (PyTorch's order of arguments)."""
        seen: set[int] = {id(m) for m in memo} if memo else set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate and id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [
                (f"{name}.{k}" if name else k, m)
                for k, m in module._modules.items()
                if m is not None
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules, each once."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def _named_tensors(
        self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse
                   else [(prefix, self)])  # fmt: skip
        seen: set[int] = set()
        for module_name, module in modules:
            for name, t in getattr(module, registry).items():
                if t is not None and not (remove_duplicate and id(t) in seen):
                    seen.add(id(t))
                    yield (f"{module_name}.{name}" if module_name else name), t

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Every parameter, each once (a shared one under its first name), unless not
        ``remove_duplicate``."""
        return self._named_tensors("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
                      ) -> Iterator[tuple[str, Tensor]]:  # fmt: skip
        return self._named_tensors("_buffers", prefix, recurse, remove_duplicate)

    def get_submodule(self, target: str) -> Module:
        """The module at the dotted path ``target`` ("" is this one), PyTorch's errors
        where there is none."""
        module = self
        for part in target.split(".") if target else []:
            if not hasattr(module, part):
                raise AttributeError(f"{type(module).__name__} has no attribute `{part}`")
            module = getattr(module, part)
            if not isinstance(module, Module):
                raise AttributeError(f"`{part}` is not an nn.Module")
        return module

    def _get_registered(self, target: str, registry: str, kind: str) -> Tensor:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if not hasattr(module, name):
            raise AttributeError(f"{type(module).__name__} has no attribute `{name}`")
        if name not in getattr(module, registry):
            raise AttributeError(f"`{name}` is not {kind}")
        return getattr(module, registry)[name]

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at the dotted path ``target`` (``"layers.0.weight"``)."""
        return self._get_registered(target, "_parameters", "an nn.Parameter")

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at the dotted path ``target``."""
        return self._get_registered(target, "_buffers", "a buffer")

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """``fn`` on every sub-module, each after its own sub-modules, then on this one
        (``model.apply(init_weights)``)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Whether autograd records operations on every parameter (``False``: frozen)."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # ---- state -------------------------------------------------------------------------

    def state_dict(self, *, prefix: str = "", keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Parameters and buffers by dotted name, detached (sharing memory) unless
        ``keep_vars``."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        unsaved = self.__dict__.get("_non_persistent_buffers_set", ())
        for registry in (self._parameters, self._buffers):
            for name, t in registry.items():
                if t is not None and not (registry is self._buffers and name in unsaved):
                    out[prefix + name] = t if keep_vars else t.detach()
        for name, module in self._modules.items():
            if module is not None:
                out.update(module.state_dict(prefix=f"{prefix}{name}.", keep_vars=keep_vars))
        return out

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy the values of ``state_dict`` into this module's parameters and buffers.

        Nothing is copied when a key is missing or unexpected (with ``strict``) or when a
        shape differs; the error lists every problem.
        """
        own = self.state_dict(keep_vars=True)
        kept = {  # keys a module keeps its own value of when a state has none (PyTorch's)
            f"{name}.{key}" if name else key
            for name, module in self.named_modules()
            for key in getattr(module, "kept_when_missing", ())
        }
        missing = [k for k in own if k not in state_dict and k not in kept]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and missing:
            errors.append(
                "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + "."
            )
        if strict and unexpected:
            errors.append(
                "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + "."
            )
        values = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = as_tensor(state_dict[key])
            if tuple(value.shape) != tuple(target.shape):
                errors.append(
                    f"size mismatch for {key}: copying a param with shape "
                    f"{tuple(value.shape)} from checkpoint, the shape in current "
                    f"model is {tuple(target.shape)}."
                )
            values[key] = value
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        with no_grad():
            for key, value in values.items():
                own[key].copy_(value.detach().to(own[key].device))
        return IncompatibleKeys(missing, unexpected)

    # ---- modes and devices -------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``True``) or evaluation mode here and in every sub-module."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def to(self, *args: Any, device: Any = None, dtype: Any = None) -> Module:
        """Move parameters and buffers to a device and/or cast the floating ones to a dtype,
        in place (the Parameter objects stay the same, so optimizers keep working)."""
        for a in args:
            if dtypes.is_dtype_like(a):
                dtype = a
            else:
                device = a
        device = cuda.parse(device)

        def convert(t: Tensor) -> Tensor:
            if device is not None:
                t = t.to(device)
            if dtype is not None and t.is_floating_point():
                t = t.to(dtype)
            return t

        return self._apply(convert)

    def cpu(self) -> Module:
        return self.to("cpu")

    def cuda(self) -> Module:
        return self.to("cuda")

    def float(self) -> Module:
        return self.to(dtypes.float32)

    def double(self) -> Module:
        return self.to(dtypes.float64)

    def half(self) -> Module:
        return self.to(dtypes.float16)

    def type(self, dst_type: Any) -> Module:
        """Cast every parameter and buffer, integer ones too, to ``dst_type`` (a dtype, a
        tensor type such as ``sd.DoubleTensor``, or its name), in place, as PyTorch's."""
        return self._apply(lambda t: t.type(dst_type))

    def _apply(self, convert: Callable[[Tensor], Tensor]) -> Module:
        for module in self.modules():
            for param in module._parameters.values():
                if param is None:
                    continue
                converted = convert(param.detach())
                if param.requires_grad and not converted.is_floating_point():
                    raise RuntimeError(
                        "data set to a tensor that requires gradients must be floating point "
                        "or complex dtype"
                    )
                param._data = converted._data
                if param.grad is not None:
                    param.grad = convert(param.grad)
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    module._buffers[name] = convert(buffer.detach())
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter: to ``None``, or to zeros in place."""
        Tensor._clear_grads(self.parameters(), set_to_none)

    # ---- printing ----------------------------------------------------------------------

    def extra_repr(self) -> str:
        """What this module shows between its parentheses (its settings)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({name}): {_indent(repr(module), 2)}" for name, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        body = ""
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        elif lines:
            body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{type(self).__name__}({body})"


# a model called in compiled code runs its forward (where its class calls Module's __call__)
runtime.install(modules=(Module,), module_calls=(Module.__call__,))


nondiff("sets a module's training mode", Module.train, Module.eval)
nondiff("resets the parameters' gradients; its flag carries none", Module.zero_grad)

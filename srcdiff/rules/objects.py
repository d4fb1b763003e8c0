"""Rules of objects of user classes (see ``runtime/objects.py``): reading a field,
building an object, setting a field of one the function made. An object's adjoint is a
dict of its fields' adjoints."""

import functools

from .. import runtime as rt
from .registry import jvp, linear, nondiff, vjp


@vjp("object-attribute")
def attribute(g, ans, x, name):
    """``x.name``: its adjoint goes to that field of ``x``'s."""
    return rt.field_grad(x, name, g), None


@jvp("object-attribute", shaped=True)
def attribute_jvp(ans, x, name, *, dx):
    return rt.field_tangent(dx, name)


@vjp(rt.assemble)
def assemble(g, ans, cls, values):
    """An object built from a dict of its fields: its adjoint is theirs."""
    return None, g


@vjp(rt.set_field)
def set_field(g, ans, obj, name, v):
    d_obj, d_v = rt.set_field_grads(g, name, v)
    return d_obj, None, d_v


@vjp(functools.partial)
def partial(g, ans, *operands):
    """``functools.partial(func, *args, **kw)`` binding differentiated values (operands
    ``func, *args, *kw.values()`` and ``kw``'s names; see ``analyse``): its adjoint is
    the list of theirs; the function has none."""
    return rt.partial_grads(g, ans, operands)


@jvp(functools.partial)
def partial_jvp(ans, *operands, doperands):
    """The tangent of a partial: the list of its bound values' (see ``rt.partial_args``)."""
    return rt.partial_tangent(doperands, ans, operands)


@vjp(rt.partial_args)
def partial_args(g, ans, p):
    return g


@vjp(rt.merged)
def merged(g, ans, fields, more):
    """``super().__init__`` adding the base class's fields to a constructor's: each
    field's adjoint goes to the dict that gave its value. Linear: its tangent is
    ``merged`` of the tangents."""
    d_fields, d_more = rt.merged_grads(g, more)
    return d_fields, d_more


nondiff("a method of a class, a property's getter or setter, an operator's method, a "
        "replace function, or a partial's function, to be called", rt.method, rt.getter,
        rt.getter_or,
        rt.setter, rt.replacer, rt.partial_function, rt.operator_method)  # fmt: skip
linear((1,), rt.assemble)
linear((0, 2), rt.set_field)
linear("all", rt.partial_args, rt.merged)

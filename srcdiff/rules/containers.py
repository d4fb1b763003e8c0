"""Rules of building and iterating containers: ``(a, b)``, ``[a, b]``, ``{k: a}``."""

import copy
import types

from .. import runtime as rt
from .registry import constant_in, jvp, linear, nondiff, vjp


@vjp("tuple-display", "list-display")
def pack(g, ans, *items):
    """An element nobody used has a zero gradient."""
    return rt.entries(g, ans)


@vjp("dict-display")
def pack_dict(g, ans, *values):
    return rt.entries(g, ans)


@vjp(rt.iterable)
def iterable(g, ans, x):
    """A sequence is iterated as it is; a view such as ``d.values()`` as a list of it."""
    return rt.iteration_grad(g, ans, x)


@vjp(rt.reversible)
def reversible(g, ans, x):
    """A sequence looped over from its end as it is."""
    return rt.reversible_grad(g, ans, x)


@vjp(dict)
def dict_(g, ans, mapping):
    """``dict(d)``: a new dict of ``d``'s entries (or of the pairs ``d``)."""
    return rt.mapping_grad(g, mapping)


@jvp(dict, shaped=True)
def dict_jvp(ans, mapping, *, dmapping):
    """The entries' tangents under their keys (a pair's key's tangent is no key)."""
    return rt.pairs_tangent(mapping, dmapping)


@vjp(rt.update_pairs)
def update_pairs(g, ans, d, other):
    """What ``d.update(other)`` puts into ``d``: the gradients of ``other``'s values."""
    return None, rt.pairs_grad(g, other, d)


@jvp(rt.update_pairs, shaped=True)
def update_pairs_jvp(ans, d, other, *, dother):
    return rt.pairs_tangent(other, dother, d)


@vjp(rt.keyless)
def keyless(g, ans, x, dx):
    """Linear in ``dx``; a dict's keys' zeros depend on nothing."""
    return None, (None if isinstance(x, dict) else g)


@vjp(rt.pairs_tangent)
def pairs_tangent(g, ans, x, dx, into=None):
    """Linear in the pairs' tangents: the adjoint of each pair's value."""
    return None, rt.pairs_grad(g, x, into), None


@vjp(rt.pairs_grad)
def pairs_grad(g, ans, gd, x, into=None):
    """Linear in the dict's gradient: the adjoint of each key's entry."""
    return rt.pairs_tangent(x, g, into), None, None


@vjp(rt.unpacked)
def unpacked(g, ans, x, count):
    """``x`` itself where it is indexed as it is (no need to keep the result: the entries
    of anything else, iterated, are as its iteration gave them)."""
    return rt.iteration_grad(g, x, x), None


@vjp(rt.appended)
def appended(g, ans, xs, v):
    return rt.entries(g, ans)[:-1], rt.entries(g, ans)[-1]


@vjp(copy.copy, copy.deepcopy)
def copy_(g, ans, x, memo=None):
    """A copy holds the values the original holds: its adjoint goes back as it is."""
    return rt.copy_grad(g, ans, x), None


@vjp(list, tuple)
def sequence(g, ans, x):
    return rt.sequence_grad(g, ans, x)


@vjp("sequence-join")
def join(g, ans, x, y):
    """``x + y`` where ``x`` or ``y`` may be a list: split the adjoint, or unbroadcast."""
    dx, dy = rt.join_grads(g, ans, x, y)
    return dx, dy


@vjp("sequence-repeat")
def repeat(g, ans, x, y):
    """``x * y`` where ``x`` or ``y`` may be a list: sum over copies, or unbroadcast."""
    dx, dy = rt.repeat_grads(g, ans, x, y)
    return dx, dy


@jvp("sequence-repeat")
def repeat_jvp(ans, x, y, *, dx, dy):
    """A list repeated ``y`` times: its tangents repeated alike (the count has none); for
    arithmetic, the product rule."""
    return dx * y, x * dy


@vjp("dict.values")
def dict_values(g, ans, d):
    return rt.dict_grad(d, g, None)


@vjp("dict.items")
def dict_items(g, ans, d):
    return rt.dict_grad(d, g, 1)


@jvp("dict.items", shaped=True)
def dict_items_jvp(ans, d, *, dd):
    """Its values' tangents, each beside a zero for its key."""
    return rt.items_tangent(dd)


@vjp(rt.items_tangent)
def items_tangent(g, ans, dd):
    """Linear in the values' tangents: the adjoint of each pair's second entry."""
    return rt.dict_grad(dd, g, 1)


@vjp("dict.get")
def dict_get(g, ans, d, key, default=None):
    """The entry's value, or ``default`` where the dict has no such key."""
    found = key in d
    return ({key: g} if found else {}), None, (rt.zeros_like(default) if found else g)


@vjp(rt.put_back)
def put_back(g, ans, holder, key, new):
    d_holder, d_new = rt.put_back_grads(g, ans, key, new)
    return d_holder, None, d_new


@vjp(rt.follow)
def follow(g, ans, m, old, new, names=""):
    """A name that held the object an in-place update changed takes its new value: its
    adjoint goes to the new value's (see ``compiler/mutation``)."""
    d_m, d_new = rt.follow_grads(g, ans, m, new)
    return rt.or_zeros(d_m, m), None, rt.or_zeros(d_new, new), None


@vjp(rt.follow_detached)
def follow_detached(g, ans, m, old, new, names=""):
    """A name whose storage was written through a detached alias takes the new value
    but keeps its graph: its adjoint goes on to its old value, none to the write."""
    return g, None, None, None


@vjp(rt.snapshot)
def snapshot(g, ans, x):
    """A copy taken where the array may change before the adjoint reads it."""
    return g


linear((0,), rt.snapshot)


@jvp(rt.follow_detached)
def follow_detached_jvp(ans, m, old, new, names="", *, dm, dold, dnew):
    return dm, None, None


nondiff(
    "keys, and checks that return nothing",
    "dict.keys",
    rt.mapping_keys,
    rt.plain_keys,
    rt.pair_keys,
    rt.check_given,
    rt.given_objects,
    rt.logged,  # (a number added to a history the function does not read)
    rt.check_unchanged,
    rt.update_into,  # (of a value without gradient alone: see analyse)
    rt.update_if_outside,
    rt.unless_rebound,
    rt.check_entries,
    rt.check_field_alone,
    rt.check_length,
    rt.check_not_given,
    rt.check_apart,
    rt.changed_after_call,
    rt.outside_objects,
    rt.write_back,
)
nondiff("a compiled step's optimizer.step() written out: the arrays it reads, under no_grad, "
        "and its update of them in place; no gradient passes through it", rt.sgd_arrays,
        rt.descend)  # fmt: skip
nondiff("which object an entry update changes: only follow reads it", rt.entry_object)
nondiff("whether a match statement's pattern fits its subject", rt.fits_sequence,
        rt.fits_mapping)  # fmt: skip
nondiff("a count of the entries a where= mask keeps (its last argument gives only a dtype)",
        rt.where_count)  # fmt: skip
nondiff("an object's field given back its written array (no gradient is written)",
        rt.put_attribute)  # fmt: skip
nondiff("a check that a method's owner (or an operator's operand) is no user's object, "
        "which returns nothing", rt.receiver, rt.tensor_receiver, rt.tensor_method,
        rt.entry_in_place, rt.alias_in_place, rt.operands, rt.arguments)  # fmt: skip
nondiff("a check that a comparison gave a bool (or was no user's method), which returns "
        "nothing", rt.compared)  # fmt: skip
nondiff("a string's method", *(f for t in (str, bytes) for k, f in vars(t).items()
                              if isinstance(f, types.MethodDescriptorType)))  # fmt: skip
nondiff("a value refused where it may carry a gradient: what it returns carries none",
        rt.held_without_gradient)  # fmt: skip
nondiff("Tensors requiring no grad, written into an object from outside the code",
        rt.tensors_of)  # fmt: skip
nondiff("whether the objects a call's inlined code is for are still found", rt.inlined)
nondiff("a record in the path of whether a cast gave floats, which returns nothing",
        rt.record_float)  # fmt: skip
nondiff("a check after a no_grad block, which returns nothing", rt.check_unsaved)
nondiff("a check that a value PyTorch takes as a Number is one, which returns nothing",
        rt.number_argument)  # fmt: skip
nondiff("an array as a Tensor for a no_grad block, which computes no gradient", rt.as_tensor)
nondiff(
    "an in-place Tensor method on a Tensor from outside, which carries none", rt.tensor_in_place
)
nondiff("a function, to be called", rt.returning)
nondiff("a function, to be called: a call's forward mode (its tangents' derivatives are the "
        "call's, which takes them too)", rt.forward_of)  # fmt: skip
nondiff("a sort key, whose value only orders the items", rt.sort_key)
nondiff("the positions itertools.islice takes, integers", rt.islice_range)
nondiff("how many values zip takes of a generator, an integer", rt.zip_taken,
        rt.zip_taken_lazily)  # fmt: skip
nondiff("a generator's call, made where zip's values are counted", rt.later)
nondiff("the slice of a list a display is written into, its bounds alone", rt.list_slice)
nondiff("a module variable's value where a function assigning it starts (a value from "
        "outside, as a global's read is), and its write, which returns nothing (a value "
        "that may carry a gradient is refused: see analyse)",
        rt.global_value, rt.set_global)  # fmt: skip
nondiff("the axes and the norm a Fourier transform runs with", rt.fft_axes, rt.swapped_norm)
nondiff("checks of eigenvalues, of a polynomial fit, of roots and of a polynomial division, "
        "which return nothing", rt.real_eigenvalues, rt.check_polyfit, rt.simple_real_roots,
        rt.poly_of_roots, rt.check_polydiv, rt.tied_values, rt.tied_change)  # fmt: skip
nondiff("the shape of a factor of np.polymul (checked for a leading zero NumPy drops)",
        rt.polymul_factor_shape)  # fmt: skip
nondiff("entering and leaving a with block, and a check of a length", rt.enter, rt.exit,
        rt.check_unpack, rt.zip_strict)  # fmt: skip


# Forward: building, joining and reading containers are linear in their entries.
linear("all", "tuple-display", "list-display", "dict-display", "sequence-join", list, tuple,
       rt.iterable, rt.appended, "dict.values")  # fmt: skip
linear((0,), rt.items_tangent)
linear((0,), rt.unpacked, rt.reversible, copy.copy, copy.deepcopy, rt.pairs_grad)
linear((1,), rt.pairs_tangent, rt.keyless)
constant_in((0,), rt.update_pairs, rt.keyless)  # (those read only for their type)
linear((0, 2), "dict.get")


@vjp(rt.in_place)
def in_place(g, ans, old, new, method, computed, local, operand, carries):
    """``m.add_(v)`` in compiled code: the new value's gradient (a Tensor from outside,
    changed in place, carries none: see ``rt.outside_grad``)."""
    return None, rt.outside_grad(g, ans, new, method), None, None, None, None, None

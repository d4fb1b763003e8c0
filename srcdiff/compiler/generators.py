"""Stage 1d: the user's generator functions, called where their values are consumed
whole (part of parse).

``def pairs(xs): for a, b in zip(xs, xs[1:]): yield a * b`` called as ``sum(pairs(v))``,
``list(pairs(v))``, ``for p in pairs(v): ...`` (a loop without ``break`` or ``return``)
or in a comprehension's first ``for``, is compiled as the function that makes the list
of what it yields (``_yielded.append(a * b)``, ``return _yielded``): every value is
consumed, so running the generator to its end first gives the values Python's lazy run
gives, where nothing between two of its steps changes what it reads (it changes nothing
itself, ``analyse.function_is_pure``, and the loop consuming it changes none of the
objects it was given). The call is made a call of that function (``_pairs_listed(v)``),
compiled as any function is. A generator called otherwise (``next(g)``, kept in a
name, passed on) is refused where its ``yield`` is compiled.
"""

from __future__ import annotations

import ast
import builtins
import copy
import inspect
import types
import weakref
from typing import TYPE_CHECKING, Any

import gast

from .normalize import children, local_names, walk

if TYPE_CHECKING:
    from .parse import Parsed

# builtins that consume all of an iterable given first (``any``/``all`` may stop early)
CONSUMING = frozenset({"list", "tuple", "sum", "sorted", "set", "frozenset", "min", "max"})
SCOPES = (gast.FunctionDef, gast.AsyncFunctionDef, gast.ClassDef, gast.Lambda)
LOOPS = (gast.For, gast.While, gast.AsyncFor)
_LISTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_TAKEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # (listings that stop)


def _name(id_: str, ctx: gast.expr_context | None = None) -> gast.Name:
    return gast.Name(id=id_, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def consume_generators(parsed: Parsed, taken: set[str]) -> dict[str, Any]:
    """Make each call of a generator function of the user's that is consumed whole a
    call of the function listing its values; the names given to those functions."""
    tree = parsed.tree
    parents = {id(c): n for n in walk(tree) for c in children(n)}
    bound = {n.id for n in walk(tree) if isinstance(n, gast.Name)
             and not isinstance(n.ctx, gast.Load)}  # fmt: skip
    bound |= {a.id for a in walk(tree.args) if isinstance(a, gast.Name)}
    bound |= {n.name for n in walk(tree) if isinstance(n, (*SCOPES[:3],)) and n is not tree}
    bound |= {(a.asname or a.name).split(".")[0] for n in walk(tree)
              if isinstance(n, (gast.Import, gast.ImportFrom)) for a in n.names}  # fmt: skip
    scope: dict[str, Any] = {}
    calls = [n for n in _own(tree.body) if isinstance(n, gast.Call)]
    generators = {id(c): found for c in calls if (found := _generator_called(parsed, c, bound))}
    pristine = {i: copy.deepcopy(c) for c in calls if (i := id(c)) in generators}
    for call in calls:
        if id(call) not in generators:
            continue
        fn, shown = generators[id(call)]
        zipped = _zipped(parsed, call, parents, bound, set(generators))
        consumer, given = call, None
        if zipped is not None:  # (zip reads its other arguments as it goes, not their
            consumer, given = zipped[0], _read_lazily(parsed, zipped[0], bound)  # lengths)
        elif (kept := _kept(parsed, call, parents, bound)) is not None:  # (``g = gen(x)``, then
            consumer = kept  # ``for v in g:``: consumed where ``g`` is read, next)
            given = {n.id for a in [*call.args, *(k.value for k in call.keywords)]
                     for n in walk(a) if isinstance(n, gast.Name)}  # fmt: skip
        read = _globals_read(fn)
        if not _consumed_whole(parsed, consumer, parents, bound, read, fn.__globals__, given):
            continue
        made = listed(fn, stops=zipped is not None)
        if made is None:
            continue
        stem = f"_{shown}_taken" if zipped else f"_{shown}_listed"
        name = next(n for n in (f"{stem}{i or ''}" for i in range(1000))
                    if n not in taken or scope.get(n) is made)  # fmt: skip
        taken.add(name)
        scope[name] = made
        call.func = gast.copy_location(_name(name), call.func)
        if zipped is not None:  # (the values zip takes: rt.zip_taken)
            up, position, strict = zipped
            if any(id(a) in generators for a in up.args if a is not call):
                # (another generator beside it: zip run on fresh generators, counting)
                iterables = [_later(pristine[id(a)]) if id(a) in generators
                             else copy.deepcopy(a) for a in up.args]  # fmt: skip
                helper = "zip_taken_lazily"
            else:
                iterables, helper = (
                    [copy.deepcopy(a) for a in up.args if a is not call],
                    "zip_taken",
                )
            taken_call = gast.Call(
                func=gast.Attribute(value=_name("rt"), attr=helper, ctx=gast.Load()),
                args=[gast.Constant(value=position, kind=None), strict, *iterables],
                keywords=[],
            )
            call.keywords.append(gast.keyword(arg=_STOP, value=_at(taken_call, call)))
    return scope


_STOP = "_zip_takes"  # (the listing's keyword-only parameter: how many values to make)


def _generator_called(parsed: Parsed, call: gast.Call, bound: set[str]
                      ) -> tuple[types.FunctionType, str] | None:  # fmt: skip
    """The generator function of the user's that ``call`` calls (by name, or through its
    module), and the name it is shown by; None for another call."""
    func, path = call.func, []
    while isinstance(func, gast.Attribute):  # (``mod.gen(x)``: a module's generator)
        path.append(func.attr)
        func = func.value
    if not isinstance(func, gast.Name) or func.id in bound:
        return None
    found, fn = parsed.resolve_path(func.id, path[::-1])
    if not (found and isinstance(fn, types.FunctionType) and inspect.isgeneratorfunction(fn)):
        return None
    return fn, path[0] if path else func.id


def _later(call: gast.Call) -> gast.Call:
    """``rt.later(gen, *args, **kwargs)`` for the call ``gen(*args, **kwargs)``: the
    generator made afresh where ``rt.zip_taken_lazily`` runs zip to count its values."""
    return gast.Call(func=gast.Attribute(value=_name("rt"), attr="later", ctx=gast.Load()),
                     args=[call.func, *call.args], keywords=call.keywords)  # fmt: skip


def _kept(parsed: Parsed, call: gast.Call, parents: dict, bound: set[str]
          ) -> gast.Name | None:  # fmt: skip
    """Where ``call`` is assigned to a name (``g = gen(x)``) read once, in a statement
    after it in its block, the ones between calling nothing and changing nothing it was
    given (``s = 0.0``; nothing reads the generator after it was consumed): that read."""
    tree = parsed.tree
    assign = parents.get(id(call))
    if not (isinstance(assign, gast.Assign) and assign.value is call
            and len(assign.targets) == 1 and isinstance(assign.targets[0], gast.Name)):  # fmt: skip
        return None
    name = assign.targets[0].id
    uses = [n for n in walk(tree) if isinstance(n, gast.Name) and n.id == name]
    reads = [n for n in uses if isinstance(n.ctx, gast.Load)]
    if len(uses) != 2 or len(reads) != 1:
        return None
    block = next((b for n in walk(tree) for b in _blocks(n) if any(s is assign for s in b)),
                 None)  # fmt: skip
    at = [i for i, s in enumerate(block or []) if s is assign]
    given = {n.id for a in [*call.args, *(k.value for k in call.keywords)] for n in walk(a)
             if isinstance(n, gast.Name)}  # fmt: skip
    for following in block[at[0] + 1 :] if at else []:
        if isinstance(following, (gast.For, gast.While)):  # (only its head runs first)
            head = [following.iter] if isinstance(following, gast.For) else []
        else:
            head = [following]
        if any(n is reads[0] for h in head for n in _own([h])):
            return reads[0]
        nodes = list(walk(following))
        if any(isinstance(n, (gast.Call, *SCOPES, gast.Yield, gast.YieldFrom)) for n in nodes
               ) or _changes(parsed, nodes, given, bound):  # fmt: skip
            return None
    return None


def _blocks(n: gast.AST) -> list[list[gast.stmt]]:
    """The statement lists ``n`` holds (a body, an else block, a handler's, a case's)."""
    found = [getattr(n, f) for f in ("body", "orelse", "finalbody")
             if isinstance(getattr(n, f, None), list)]  # fmt: skip
    return (
        found
        + [h.body for h in getattr(n, "handlers", None) or []]
        + [c.body for c in getattr(n, "cases", None) or []]
    )


def _read_lazily(parsed: Parsed, up: gast.Call, bound: set[str]) -> set[str]:
    """The names in the arguments of ``up`` (a call of zip), but those read only inside
    a call of ``range`` or ``len`` (made once, where zip is called)."""
    names, todo = set(), list(up.args)
    while todo:
        n = todo.pop()
        if isinstance(n, gast.Name):
            names.add(n.id)
        elif not _builtin_call(parsed, n, bound, "range", "len"):
            todo.extend(children(n))
    return names


def _zipped(parsed: Parsed, call: gast.Call, parents: dict, bound: set[str],
            generators: set[int] = frozenset()
            ) -> tuple[gast.Call, int, gast.expr] | None:  # fmt: skip
    """Where ``call`` is an argument of a call of the builtin ``zip`` whose other arguments
    are names, their entries and attributes, and arithmetic, ``range`` and ``len`` of them
    (read twice, for their lengths first, they give the same), or calls of generator
    functions of the user's (ids in ``generators``) given such arguments: that call, the
    position, and its ``strict`` (a constant)."""
    up = parents.get(id(call))
    if not _builtin_call(parsed, up, bound, "zip") or not any(a is call for a in up.args):
        return None
    if any(k.arg != "strict" or not isinstance(k.value, gast.Constant) for k in up.keywords):
        return None
    plain = (gast.Name, gast.Attribute, gast.Subscript, gast.Constant, gast.Slice, gast.BinOp,
             gast.UnaryOp, gast.List, gast.Tuple, gast.operator, gast.unaryop,
             gast.expr_context)  # fmt: skip
    for a in up.args:
        parts = (
            [*a.args, *(k.value for k in a.keywords if k.arg != _STOP)]
            if id(a) in generators
            else [a]
        )  # (one made a listing already: its args)
        if a is not call and not all(
            isinstance(n, plain) or _builtin_call(parsed, n, bound, "range", "len")
            for p in parts for n in walk(p)
        ):  # fmt: skip
            return None
    strict = next((copy.deepcopy(k.value) for k in up.keywords),
                  gast.Constant(value=False, kind=None))  # fmt: skip
    return up, next(i for i, a in enumerate(up.args) if a is call), strict


def _own(nodes: list[gast.AST]):
    todo = list(nodes)
    while todo:
        n = todo.pop()
        yield n
        if not isinstance(n, SCOPES):
            todo.extend(children(n))


def _globals_read(fn: types.FunctionType, seen: set[int] | None = None) -> set[str]:
    """The module variables holding data (not a module, a function or a class) that
    ``fn``'s code, or a function of its module it calls, may read."""
    seen = set() if seen is None else seen
    seen.add(id(fn))
    codes, names = [fn.__code__], set()
    while codes:
        code = codes.pop()
        names |= set(code.co_names)
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    found = {n: fn.__globals__[n] for n in names if n in fn.__globals__}
    read = {n for n, v in found.items() if not (isinstance(v, types.ModuleType) or callable(v))}
    for v in found.values():
        if (isinstance(v, types.FunctionType) and v.__globals__ is fn.__globals__
                and id(v) not in seen):  # fmt: skip
            read |= _globals_read(v, seen)
    return read


def _consumed_whole(parsed: Parsed, call: gast.Call, parents: dict, bound: set[str],
                    read: set[str], module: dict, given: set[str] | None = None
                    ) -> bool:  # fmt: skip
    """Whether Python consumes all the values of the generator ``call`` makes, right
    where it is made, with nothing between two of them changing what it was given (the
    names in its arguments, or ``given``) or the globals it reads (``read``)."""
    up = parents.get(id(call))
    if _builtin_call(parsed, up, bound, "enumerate") and up.args[0] is call:
        # (enumerate takes one value for each it gives: consumed whole where it is)
        return _consumed_whole(parsed, up, parents, bound, read, module, given)
    if given is None:
        given = {n.id for a in [*call.args, *(k.value for k in call.keywords)]
                 for n in walk(a) if isinstance(n, gast.Name)}  # fmt: skip
    given = given | read
    if isinstance(up, gast.For) and up.iter is call:
        body = [n for s in up.body for n in _own([s])]
        stops = any(isinstance(n, gast.Return) for n in body) or any(
            isinstance(n, gast.Break) for n in _this_loop(up.body)
        )
        return (
            not stops
            and not _changes(parsed, body, given, bound)
            and not _assigns(parsed, body, read, module)
        )
    if isinstance(up, gast.Call) and up.args and up.args[0] is call:
        return _consuming(parsed, up, bound)
    if isinstance(up, gast.comprehension) and up.iter is call:
        comp = parents.get(id(up))
        if comp is None or comp.generators[0] is not up:
            return False
        if isinstance(comp, gast.GeneratorExp):
            outer = parents.get(id(comp))
            if not (isinstance(outer, gast.Call) and outer.args and outer.args[0] is comp
                    and _consuming(parsed, outer, bound)):  # fmt: skip
                return False
        parts = [comp.key, comp.value] if isinstance(comp, gast.DictComp) else [comp.elt]
        parts += [c for g in comp.generators for c in g.ifs] + [g.iter for g in comp.generators[1:]]
        nodes = [n for p in parts for n in _own([p])]
        return not _changes(parsed, nodes, given, bound) and not _assigns(
            parsed, nodes, read, module
        )
    return False


def _builtin_call(parsed: Parsed, e: Any, bound: set[str], *names: str) -> bool:
    """Whether ``e`` is a call, with positional arguments, of one of the builtins ``names``."""
    if not (isinstance(e, gast.Call) and e.args and isinstance(e.func, gast.Name)):
        return False
    f = e.func.id
    if f not in names or f in bound:
        return False
    found, obj = parsed.resolve(f)
    return found and obj is getattr(builtins, f)


def _consuming(parsed: Parsed, call: gast.Call, bound: set[str]) -> bool:
    f = call.func
    if not (isinstance(f, gast.Name) and f.id in CONSUMING and f.id not in bound):
        return False
    found, obj = parsed.resolve(f.id)
    return found and obj is getattr(builtins, f.id)


def _this_loop(body: list[gast.stmt]):
    """The nodes of a loop's body outside the loops (and functions) in it."""
    todo = list(body)
    while todo:
        n = todo.pop()
        yield n
        if not isinstance(n, (*SCOPES, *LOOPS)):
            todo.extend(children(n))
        elif isinstance(n, LOOPS):
            todo.extend(n.orelse)


def _changes(parsed: Parsed, nodes: list[gast.AST], given: set[str], bound: set[str]) -> bool:
    """Whether ``nodes`` (a loop's body) may change an object named in ``given``: an item
    or attribute written, an augmented assignment, a method called on it, or the object
    passed to a function that is not NumPy's or a builtin; or a global assigned."""
    for n in nodes:
        if isinstance(n, (gast.Subscript, gast.Attribute)) and not isinstance(n.ctx, gast.Load):
            base = n.value
            while isinstance(base, (gast.Subscript, gast.Attribute)):
                base = base.value
            if isinstance(base, gast.Name) and base.id in given:
                return True
        if (
            isinstance(n, gast.AugAssign)
            and isinstance(n.target, gast.Name)
            and (n.target.id in given)
        ):
            return True
        if not isinstance(n, gast.Call):
            continue
        f = n.func
        if (
            isinstance(f, gast.Attribute)
            and isinstance(f.value, gast.Name)
            and (
                f.value.id in given
                or f.value.id == "rt"
                and f.attr == "set_global"  # (``global n``: assigned)
            )
        ):
            return True
        passed = {m.id for a in [*n.args, *(k.value for k in n.keywords)] for m in walk(a)
                  if isinstance(m, gast.Name)}  # fmt: skip
        if passed & given and not _plain_callee(parsed, f, bound):
            return True
    return False


def _assigns(parsed: Parsed, nodes: list[gast.AST], read: set[str], module: dict) -> bool:
    """Whether a call of ``nodes`` (a loop's body) may assign a global of ``read`` (of the
    generator's ``module``), which the generator reads again for its next value
    (``bump()`` giving ``N`` another one)."""
    from .assigned_globals import _array_method, _may_assign

    local = local_names(parsed.tree)
    calls = [n for n in nodes if isinstance(n, gast.Call) and not _array_method(n, local)]
    return any(_may_assign(parsed, c, g, module) for c in calls for g in read)


def _plain_callee(parsed: Parsed, f: gast.expr, bound: set[str]) -> bool:
    """A callee that changes none of its arguments: NumPy's, math's, a builtin's."""
    path = []
    while isinstance(f, gast.Attribute):
        path.append(f.attr)
        f = f.value
    if not isinstance(f, gast.Name) or f.id in bound:
        return False
    found, obj = parsed.resolve_path(f.id, path[::-1])
    module = getattr(obj, "__module__", None) or ""
    return found and (module.startswith(("numpy", "math")) or module == "builtins" and getattr(
        obj, "__name__", "") in CONSUMING | {"len", "abs", "float", "int", "range", "zip",
                                             "enumerate", "print", "round", "pow"})  # fmt: skip


def listed(fn: types.FunctionType, stops: bool = False) -> types.FunctionType | None:
    """The function making the list of the values the generator function ``fn`` yields
    (compiled from ``fn``'s source, with its globals, closure and defaults), or None
    where it yields other than as a statement, or changes anything (``function_is_pure``).
    ``stops``: it takes a keyword ``_zip_takes``, the number of values zip asks for, and
    returns after making that many (where Python's generator is left waiting)."""
    cache = _TAKEN if stops else _LISTED
    if fn in cache:
        return cache[fn]
    from .analyse import function_is_pure
    from .parse import Parsed, lift, parse, register

    cache[fn] = None
    tree = copy.deepcopy(parse(fn).tree)
    original = parse(fn)
    taken = {n.id for n in walk(tree) if isinstance(n, gast.Name)}
    if stops and (_STOP in taken or _STOP in fn.__code__.co_varnames):
        return None
    out = next(n for n in (f"_yielded{i or ''}" for i in range(1000)) if n not in taken)
    body = _listing(tree.body, out, taken, stop=_STOP if stops else None)
    if body is None:
        return None
    if stops:  # (zip asking for none: the generator's code never runs)
        body.insert(0, _at(_stopping(out, _STOP), tree.body[0]))
        tree.args.kwonlyargs.append(_name(_STOP, gast.Param()))
        tree.args.kw_defaults.append(None)
    start = gast.Assign(targets=[_name(out, gast.Store())], type_comment=None,
                        value=gast.List(elts=[], ctx=gast.Load()))  # fmt: skip
    body.insert(0, gast.copy_location(start, tree.body[0]))
    if not isinstance(body[-1], gast.Return):
        body.append(gast.copy_location(gast.Return(value=_name(out)), tree.body[-1]))
    tree.body = body
    made = _function(fn, tree, original.filename)
    parsed = Parsed(made, tree, original.filename, original.lines)
    lift(parsed)
    register(parsed)
    if not function_is_pure(made):
        return None
    cache[fn] = made
    return made


def _stopping(out: str, stop: str) -> gast.If:
    """``if len(out) == stop: return out``."""
    size = gast.Call(func=_name("len"), args=[_name(out)], keywords=[])
    test = gast.Compare(left=size, ops=[gast.Eq()], comparators=[_name(stop)])
    return gast.If(test=test, body=[gast.Return(value=_name(out))], orelse=[])


def _listing(block: list[gast.stmt], out: str, taken: set[str], in_loop: bool = False,
             stop: str | None = None) -> list[gast.stmt] | None:  # fmt: skip
    """``block`` with each ``yield v`` made ``out.append(v)`` (followed, given ``stop``,
    by a return once ``out`` holds that many), ``yield from xs`` a loop of them, and each
    ``return`` one of ``out`` (None where a yield is part of an expression, or a return
    gives a value or leaves a loop: the adjoint of a list returned from inside the loop
    growing it is not followed)."""
    new: list[gast.stmt] = []
    for s in block:
        v = s.value if isinstance(s, gast.Expr) else None
        if isinstance(v, gast.Yield):
            item = v.value if v.value is not None else gast.Constant(value=None, kind=None)
            new.append(gast.copy_location(gast.Expr(value=_appended(out, item)), s))
            if stop is not None:
                new.append(_at(_stopping(out, stop), s))
            continue
        if isinstance(v, gast.YieldFrom):
            item = next(n for n in (f"_item{i or ''}" for i in range(1000)) if n not in taken)
            taken.add(item)
            target, values = _name(item, gast.Store()), v.value
            if stop is not None:  # (as many as are still asked for: zip(range(left), xs))
                step = next(n for n in (f"_step{i or ''}" for i in range(1000)) if n not in taken)
                taken.add(step)
                size = gast.Call(func=_name("len"), args=[_name(out)], keywords=[])
                left = gast.BinOp(left=_name(stop), op=gast.Sub(), right=size)
                count = gast.Call(func=_name("range"), args=[left], keywords=[])
                values = gast.Call(func=_name("zip"), args=[count, values], keywords=[])
                target = gast.Tuple(elts=[_name(step, gast.Store()), target], ctx=gast.Store())
            loop = gast.For(target=target, iter=values, orelse=[], type_comment=None,
                            body=[gast.Expr(value=_appended(out, _name(item)))])  # fmt: skip
            new.append(_at(loop, s))
            if stop is not None:
                new.append(_at(_stopping(out, stop), s))
            continue
        if isinstance(s, gast.Return):
            if s.value is not None or in_loop:
                return None
            new.append(gast.copy_location(gast.Return(value=_name(out)), s))
            continue
        if isinstance(s, SCOPES):
            new.append(s)
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                made = _listing(inner, out, taken, in_loop or isinstance(s, LOOPS), stop)
                if made is None:
                    return None
                setattr(s, field, made)
        for h in getattr(s, "handlers", None) or []:
            made = _listing(h.body, out, taken, in_loop, stop)
            if made is None:
                return None
            h.body = made
        for case in getattr(s, "cases", None) or []:
            made = _listing(case.body, out, taken, in_loop, stop)
            if made is None:
                return None
            case.body = made
        if any(isinstance(n, (gast.Yield, gast.YieldFrom)) for n in _own([s])):
            return None  # (a yield in an expression: ``x = yield v``)
        new.append(s)
    return new


def _appended(out: str, item: gast.expr) -> gast.Call:
    append = gast.Attribute(value=_name(out), attr="append", ctx=gast.Load())
    return gast.Call(func=append, args=[item], keywords=[])


def _at(new: gast.AST, old: gast.AST) -> gast.AST:
    for n in walk(new):
        for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            if hasattr(old, attr):
                setattr(n, attr, getattr(old, attr))
    return new


def _function(fn: types.FunctionType, tree: gast.FunctionDef, filename: str
              ) -> types.FunctionType:  # fmt: skip
    """``tree`` compiled as ``fn`` is: its globals, its closure's cells, its defaults."""
    free = fn.__code__.co_freevars
    plain = copy.deepcopy(tree)
    plain.decorator_list = []
    factory = gast.FunctionDef(
        name="_srcdiff_factory",
        args=gast.arguments(args=[_name(n, gast.Param()) for n in free], posonlyargs=[],
                            vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                            defaults=[]),  # fmt: skip
        body=[plain, gast.Return(value=_name(tree.name))],
        decorator_list=[], returns=None, type_comment=None, type_params=[],
    )  # fmt: skip
    module = ast.fix_missing_locations(gast.gast_to_ast(gast.Module(body=[_at(factory, tree)],
                                                                     type_ignores=[])))  # fmt: skip
    for n in ast.walk(module):
        if hasattr(n, "lineno"):
            n.end_lineno, n.col_offset, n.end_col_offset = n.lineno, 0, 0
    code = compile(module, filename, "exec")
    factory_code = next(c for c in code.co_consts if isinstance(c, types.CodeType))
    inner = next(c for c in factory_code.co_consts if isinstance(c, types.CodeType))
    inner = inner.replace(co_name=fn.__code__.co_name)
    if hasattr(inner, "co_qualname"):
        inner = inner.replace(co_qualname=fn.__qualname__)
    cells = dict(zip(free, fn.__closure__ or (), strict=True))
    closure = tuple(cells[n] for n in inner.co_freevars)
    made = types.FunctionType(inner, fn.__globals__, fn.__name__, fn.__defaults__,
                              closure or None)  # fmt: skip
    made.__kwdefaults__ = fn.__kwdefaults__
    made.__qualname__ = fn.__qualname__
    made.__module__ = fn.__module__
    return made

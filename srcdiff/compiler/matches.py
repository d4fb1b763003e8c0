"""Python's ``match`` statement as the ``if`` statements it runs, before the other stages
see the function: each pattern a test of the subject (its class, length, keys, values),
then the names it captures assigned from the subject's entries and fields, so that a
gradient reaches a captured value as through any assignment.

Cases are tried in order, as an ``if``/``elif`` chain; where one has a guard (which reads
the names its pattern captured), a flag (``_matched``) says whether an earlier case ran."""

from __future__ import annotations

import builtins
import copy
from typing import TYPE_CHECKING, Any

import gast

if TYPE_CHECKING:
    from .parse import Parsed

# classes whose one positional sub-pattern matches the subject itself (``case float(x)``)
SELF_MATCHING = (bool, bytearray, bytes, dict, float, frozenset, int, list, set, str, tuple)
# the builtins the tests call by name
CALLED = ("isinstance", "hasattr", "list")


def _name(n: str, ctx: Any = None) -> gast.Name:
    return gast.Name(id=n, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def _const(v: Any) -> gast.Constant:
    return gast.Constant(value=v, kind=None)


def _call(func: gast.expr, *args: gast.expr) -> gast.Call:
    return gast.Call(func=func, args=list(args), keywords=[])


def _rt(attr: str) -> gast.Attribute:
    return gast.Attribute(value=_name("rt"), attr=attr, ctx=gast.Load())


def _assign(target: str, value: gast.expr) -> gast.Assign:
    return gast.Assign(targets=[_name(target, gast.Store())], value=value, type_comment=None)


def _if(test: gast.expr, body: list[gast.stmt]) -> gast.If:
    return gast.If(test=test, body=body, orelse=[])


def _and(tests: list[gast.expr]) -> gast.expr:
    return tests[0] if len(tests) == 1 else gast.BoolOp(op=gast.And(), values=tests)


def _captured(nodes: Any) -> set[str]:
    """The names the patterns among ``nodes`` capture."""
    return {n.name for n in nodes if isinstance(n, (gast.MatchAs, gast.MatchStar)) and n.name} | {
        n.rest for n in nodes if isinstance(n, gast.MatchMapping) and n.rest
    }


class _Matches:
    """Rewrites every ``match`` statement of one parsed function."""

    def __init__(self, parsed: Parsed):
        self.p = parsed
        nodes = list(gast.walk(parsed.tree))
        self.stored = {
            n.id for n in nodes if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)
        }
        self.taken = {n.id for n in nodes if isinstance(n, gast.Name)} | _captured(nodes)
        self.line = parsed.tree.lineno

    def fresh(self, base: str) -> str:
        candidate, count = base, 1
        while candidate in self.taken:
            count += 1
            candidate = f"{base}{count}"
        self.taken.add(candidate)
        return candidate

    def refuse(self, what: str, hint: str) -> Exception:
        return self.p.error(what, self.line, hint)

    def block(self, body: list[gast.stmt]) -> list[gast.stmt]:
        out: list[gast.stmt] = []
        for s in body:
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], gast.stmt):
                    setattr(s, field, self.block(inner))
            for h in getattr(s, "handlers", ()):
                h.body = self.block(h.body)
            if isinstance(s, gast.Match):
                for c in s.cases:
                    c.body = self.block(c.body)
                out.extend(self.match(s))
            else:
                out.append(s)
        return out

    def match(self, s: gast.Match) -> list[gast.stmt]:
        self.line = s.lineno
        for n in CALLED:
            found, obj = self.p.read_at_parse[(n,)] = self.p.resolve(n)
            if n in self.stored or not (found and obj is getattr(builtins, n)):
                raise self.refuse(
                    f"a match statement where `{n}` is not Python's own, which its patterns "
                    "are tested with",
                    f"rename your `{n}`",
                )
        made: list[gast.stmt] = []
        walrus = [n for c in s.cases if c.guard is not None for n in gast.walk(c.guard)]
        bound = _captured(n for c in s.cases for n in gast.walk(c.pattern)) | {
            n.target.id for n in walrus if isinstance(n, gast.NamedExpr)
        }
        subject = s.subject
        if not (isinstance(subject, gast.Name) and subject.id not in bound):
            made.append(self.at(_assign(self.fresh("_subject"), subject), s.lineno))
            subject = _name(made[-1].targets[0].id)
        cases = [(c, self.pattern(p, subject)) for c in s.cases for p in self.options(c)]
        for c, (_, binds) in cases:  # (an irrefutable case's are under no test that has a line)
            for b in binds:
                self.at(b, c.pattern.lineno)
        if all(c.guard is None for c in s.cases):
            chain: list[gast.stmt] = []
            for k, (c, (tests, binds)) in reversed(list(enumerate(cases))):
                again = any(o is c for o, _ in cases[k + 1 :])  # (an or-pattern's, split)
                body = [*binds, *(copy.deepcopy(c.body) if again else c.body)]
                if tests:
                    chain = [self.at(gast.If(test=tests[0], body=body, orelse=chain),
                                     c.pattern.lineno)]  # fmt: skip
                else:  # (irrefutable: Python allows it last alone)
                    chain = body
            return made + chain
        flag = self.fresh("_matched")
        made.append(self.at(_assign(flag, _const(False)), s.lineno))
        for k, (c, (tests, binds)) in enumerate(cases):
            run = c.body
            if k < len(cases) - 1:  # (after the last case, no test reads the flag)
                run = [self.at(_assign(flag, _const(True)), c.pattern.lineno), *run]
            if c.guard is not None:
                run = [self.at(_if(c.guard, run), c.pattern.lineno)]
            run = copy.deepcopy(run) if any(o is c for o, _ in cases[k + 1 :]) else run
            code = [*binds, *run]
            if tests:
                code = [self.at(_if(tests[0], code), c.pattern.lineno)]
            if k:
                test = gast.UnaryOp(op=gast.Not(), operand=_name(flag))
                code = [self.at(_if(test, code), c.pattern.lineno)]
            made.extend(code)
        return made

    def options(self, c: gast.match_case) -> list[gast.pattern]:
        """The patterns a case is tried as: an or-pattern capturing names, with no guard,
        as a case for each alternative (the first that matches runs the body, as Python's
        does); another pattern as itself."""
        p = c.pattern
        captures = isinstance(p, gast.MatchOr) and _captured(gast.walk(p))
        return list(p.patterns) if captures and c.guard is None else [p]

    def at(self, s: gast.stmt, line: int) -> gast.stmt:
        for n in gast.walk(s):
            if isinstance(n, (gast.stmt, gast.expr)) and getattr(n, "lineno", None) is None:
                n.lineno = n.end_lineno = line
                n.col_offset = n.end_col_offset = 0
        return s

    def pattern(self, pat: gast.pattern, s: gast.expr) -> tuple[list, list]:
        """``(tests, binds)`` of ``pat`` on the subject expression ``s``: no test, or one
        that holds where ``pat`` matches (each of its parts reads only what the parts
        before it checked, and the subject, never a captured name), then the assignments
        of the names it captures."""
        s = copy.deepcopy(s)
        self.line = getattr(pat, "lineno", self.line)
        if isinstance(pat, gast.MatchValue):
            value = copy.deepcopy(pat.value)
            return [gast.Compare(left=s, ops=[gast.Eq()], comparators=[value])], []
        if isinstance(pat, gast.MatchSingleton):
            return [gast.Compare(left=s, ops=[gast.Is()], comparators=[_const(pat.value)])], []
        if isinstance(pat, gast.MatchAs):
            tests, binds = ([], []) if pat.pattern is None else self.pattern(pat.pattern, s)
            if pat.name is not None:
                binds = [*binds, _assign(pat.name, copy.deepcopy(s))]
            return tests, binds
        if isinstance(pat, gast.MatchSequence):
            return self.sequence(pat, s)
        if isinstance(pat, gast.MatchMapping):
            return self.mapping(pat, s)
        if isinstance(pat, gast.MatchClass):
            return self.cls(pat, s)
        if isinstance(pat, gast.MatchOr):
            return self.alternatives(pat, s)
        raise self.refuse(f"a {type(pat).__name__} pattern", "rewrite the case with if/elif")

    def combined(self, parts: list[tuple[list, list]], first: gast.expr) -> tuple:
        """Sub-patterns' results after the test ``first``: their tests joined to it in
        order, their binds after all tests."""
        tests, binds = [first], []
        for t, b in parts:
            tests += t
            binds += b
        return [_and(tests)], binds

    def sequence(self, pat: gast.MatchSequence, s: gast.expr) -> tuple:
        stars = [i for i, p in enumerate(pat.patterns) if isinstance(p, gast.MatchStar)]
        n = len(pat.patterns)
        star = stars[0] if stars else None
        fits = _call(_rt("fits_sequence"), s, _const(n - (star is not None)),
                     _const(star is not None))  # fmt: skip
        parts = []
        for i, p in enumerate(pat.patterns):
            if i == star:
                if p.name is not None:
                    after = n - i - 1
                    part = gast.Slice(lower=_const(i), upper=_const(-after) if after else None,
                                      step=None)  # fmt: skip
                    rest = gast.Subscript(value=copy.deepcopy(s), slice=part, ctx=gast.Load())
                    parts.append(([], [_assign(p.name, _call(_name("list"), rest))]))
                continue
            index = i if star is None or i < star else i - n
            entry = gast.Subscript(value=s, slice=_const(index), ctx=gast.Load())
            parts.append(self.pattern(p, entry))
        return self.combined(parts, fits)

    def mapping(self, pat: gast.MatchMapping, s: gast.expr) -> tuple:
        keys = gast.Tuple(elts=list(pat.keys), ctx=gast.Load())
        fits = _call(_rt("fits_mapping"), s, copy.deepcopy(keys))
        parts = [
            self.pattern(p, gast.Subscript(value=s, slice=copy.deepcopy(k), ctx=gast.Load()))
            for k, p in zip(pat.keys, pat.patterns, strict=True)
        ]
        if pat.rest is not None:
            k, v = self.fresh("_key"), self.fresh("_value")
            items = gast.Call(
                func=gast.Attribute(value=copy.deepcopy(s), attr="items", ctx=gast.Load()),
                args=[],
                keywords=[],
            )
            others = gast.Compare(left=_name(k), ops=[gast.NotIn()], comparators=[keys])
            loop = gast.comprehension(
                target=gast.Tuple(elts=[_name(k, gast.Store()), _name(v, gast.Store())],
                                  ctx=gast.Store()),
                iter=items, ifs=[others], is_async=0)  # fmt: skip
            rest = gast.DictComp(key=_name(k), value=_name(v), generators=[loop])
            parts.append(([], [_assign(pat.rest, rest)]))
        return self.combined(parts, fits)

    def cls(self, pat: gast.MatchClass, s: gast.expr) -> tuple:
        path, e = [], pat.cls
        while isinstance(e, gast.Attribute):
            path.append(e.attr)
            e = e.value
        found, cls = False, None
        if isinstance(e, gast.Name) and e.id not in self.stored:  # (the parse is made again
            chain = (e.id, *reversed(path))  # where the name finds another class)
            found, cls = self.p.read_at_parse[chain] = self.p.resolve_path(e.id, path[::-1])
        if not (found and isinstance(cls, type)):
            raise self.refuse(
                "a class pattern whose class is not found when the function is compiled",
                "name a class defined at module level, or rewrite the case with if/elif",
            )
        parts = []
        if pat.patterns:
            if cls in SELF_MATCHING and len(pat.patterns) == 1:
                parts.append(self.pattern(pat.patterns[0], s))
                attrs: list[str] = []
            else:
                attrs = list(getattr(cls, "__match_args__", ()))
                if len(pat.patterns) > len(attrs) or not all(isinstance(a, str) for a in attrs):
                    raise self.refuse(
                        f"{len(pat.patterns)} positional sub-patterns of {cls.__qualname__}, "
                        f"whose __match_args__ names {len(attrs)}",
                        "name the fields (Point(x=a)), or give the class __match_args__",
                    )
                attrs = attrs[: len(pat.patterns)]
            for a, p in zip(attrs, pat.patterns, strict=False):
                parts.append(self.field(s, a, p))
        for a, p in zip(pat.kwd_attrs, pat.kwd_patterns, strict=True):
            parts.append(self.field(s, a, p))
        return self.combined(parts, _call(_name("isinstance"), s, copy.deepcopy(pat.cls)))

    def field(self, s: gast.expr, attr: str, p: gast.pattern) -> tuple:
        tests, binds = self.pattern(p, gast.Attribute(value=s, attr=attr, ctx=gast.Load()))
        return [_call(_name("hasattr"), copy.deepcopy(s), _const(attr)), *tests], binds

    def alternatives(self, pat: gast.MatchOr, s: gast.expr) -> tuple:
        options = [self.pattern(p, s) for p in pat.patterns]
        if all(not b for _, b in options):
            tests = [t[0] if t else _const(True) for t, _ in options]
            return [gast.BoolOp(op=gast.Or(), values=tests)], []
        raise self.refuse(
            "an or-pattern whose alternatives capture names, inside a pattern or with a guard",
            "write a case for each alternative",
        )


def lower_matches(parsed: Parsed) -> None:
    """Rewrite the ``match`` statements of ``parsed`` (in place) as ``if`` statements."""
    tree = parsed.tree
    if not any(isinstance(n, gast.Match) for n in gast.walk(tree)):
        return
    tree.body = _Matches(parsed).block(tree.body)

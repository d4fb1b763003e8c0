"""``try`` statements: the gradient of the statements that ran, on every way a try can go.

Where the body raises nothing, the except clauses are branches not taken; where it
raises and a handler catches the exception, the path records after which statement it
came and which handler ran, and the adjoint reverses exactly those statements. Each
function is checked against central differences at inputs away from the switches.
"""

import inspect
import math
import traceback

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.testing import numeric_grad

from .checker import check_function

X = np.array([0.3, 0.2])
BIG = np.array([0.9, 0.8])


def smooth_body(x):
    try:
        h = np.tanh(x) * 2.0
    except ValueError:
        h = x
    return np.sum(h**2)


def raise_midway(x):
    h = x * 1.0
    try:
        h = np.sin(h) * 2.0
        if np.sum(h) > 1.0:
            raise ValueError("large")
        h = np.exp(h)
    except ValueError:
        h = h**3
    return np.sum(h)


def at_most(x, limit):
    if np.sum(x) > limit:
        raise ValueError("too large")
    return 0.0


def raise_mid_line(x):
    try:
        y = (s := np.sin(x) * 2.0) + at_most(x, 1.0)
        out = np.sum(y * y)
    except ValueError:
        out = np.sum(s**3)
    return out


def inverse_or_fallback(a, x):
    try:
        y = np.linalg.inv(a) @ x
    except np.linalg.LinAlgError:
        y = a @ x * 0.5
    return np.sum(y**2)


def broadcast_or_sum(x, y):
    try:
        z = x * y
    except ValueError:
        z = x * np.sum(y)
    return np.sum(z**2)


def several_handlers(x, k):
    table = {"a": x * 2.0}
    try:
        if k == 0:
            v = table["b"]
        elif k == 1:
            v = x * (1.0 / (k - 1))
        elif k == 2:
            v = np.sin(x) * int("two")
        else:
            v = table["a"] * x
    except KeyError:
        v = x * 3.0
    except ZeroDivisionError as e:
        v = np.cos(x) * len(str(e))
    except:  # noqa: E722 - a bare except clause is what this checks
        v = x**3
    return np.sum(v)


def tuple_of_types(x, k):
    try:
        if k == 0:
            raise KeyError
        if k == 1:
            raise IndexError
        y = x * 2.0
    except (KeyError, IndexError) as e:
        y = np.sin(x) if isinstance(e, KeyError) else np.cos(x)
    return np.sum(y * y)


def else_and_finally(x):
    total = 0.0
    try:
        h = np.tanh(x)
        if np.sum(h) > 0.6:
            raise RuntimeError
    except RuntimeError:
        total = total + np.sum(h * h)
    else:
        total = total + np.sum(np.exp(h))
    finally:
        total = total + np.sum(x) * 2.0
    return total


def ways_per_iteration(x):
    acc = 0.0
    for i in range(len(x)):
        try:
            if x[i] < 0:
                raise ValueError
            acc = acc + np.sqrt(x[i]) * x[0]
        except ValueError:
            acc = acc + x[i] ** 2
    return acc


def returns(x):
    try:
        h = np.sin(x)
        if np.sum(h) > 0:
            return np.sum(h * 3.0)
        raise ValueError
    except ValueError:
        return np.sum(np.cos(x) * h)
    finally:
        x = x * 0.0


def return_in_finally(x):
    try:
        h = np.sin(x)
        if np.sum(h) > 0:
            raise ValueError
    finally:
        return np.sum(x * 2.0)  # noqa: B012 - swallowing the exception is what this checks


def break_and_continue(x):
    acc = 0.0
    for i in range(len(x)):
        try:
            if x[i] > 1.0:
                break
            if x[i] < 0.0:
                continue
            acc = acc + x[i] ** 3
        finally:
            acc = acc + np.sin(x[i])
    return acc


def reraise(x):
    try:
        h = np.sin(x)
        if np.sum(h) > 1.0:
            raise ValueError("too large")
    except ValueError:
        h = h * 2.0
        raise
    return np.sum(h)


def doubled_or_raises(h):
    z = h * 2.0
    if np.sum(z) > 1.0:
        raise KeyError("large")
    return np.sin(z)


def catches_a_callee(x):
    try:
        y = doubled_or_raises(x)
    except KeyError:
        y = x**2
    return np.sum(y * x)


def callee_in_a_loop(x):
    acc = 0.0
    for i in range(3):
        try:
            acc = acc + np.sum(doubled_or_raises(x * i))
        except KeyError:
            acc = acc + np.sum(x) * i
    return acc


def loop_left_by_an_exception(x):
    h = x * 1.0
    try:
        for _ in range(5):
            h = h * 1.5 + np.sin(h)
            if np.sum(h) > 3.0:
                raise FloatingPointError
    except FloatingPointError:
        h = h * 0.5
    return np.sum(h)


def loop_left_and_forgotten(x):
    h = x * 1.0
    try:
        for _ in range(5):
            h = h * 1.5 + np.sin(h)
            if np.sum(h) > 3.0:
                raise FloatingPointError
    except FloatingPointError:
        h = x * 0.5
    return np.sum(h)


def nested_loops_left(x):
    h = x * 1.0
    try:
        for i in range(3):
            for _ in range(3):
                h = np.sin(h) + x * 0.3
                if np.sum(h) > 1.2 and i == 1:
                    raise ArithmeticError
            h = h * 1.1
    except ArithmeticError:
        h = h * h
    return np.sum(h)


def through_a_finally(x):
    out = 0.0
    try:
        try:
            h = np.exp(x)
            if np.sum(h) > 4.0:
                raise KeyError
            out = out + np.sum(h)
        finally:
            out = out + np.sum(x * x)
        out = out * 2.0
    except KeyError:
        out = out + np.sum(np.sin(x))
    return out


def handler_in_a_handler(x):
    try:
        h = np.sin(x)
        if np.sum(h) > 0.4:
            raise ValueError
    except ValueError:
        try:
            h = h * 2.0
            if np.sum(h) > 1.2:
                raise KeyError
        except KeyError:
            h = h * h
    return np.sum(h)


def partial_writes(x):
    h = np.zeros(3)
    try:
        for i in range(3):
            h[i] = x[i] ** 2
            if x[i] < 0:
                raise IndexError
    except IndexError:
        h = h * 2.0
    return np.sum(h * x)


def finally_returns_instead(x):
    try:
        h = np.sin(x)
        return np.sum(h * 3.0)
    finally:
        return np.sum(x * 2.0)  # noqa: B012, SIM107 - the return above gives no value


def finally_continues_instead(x):
    acc = 0.0
    for i in range(3):
        try:
            acc = acc + np.sum(x) * i
            if i == 1:
                return acc * 100.0
        finally:
            acc = acc + np.sum(x * x)
            continue  # noqa: B012 - the return above does not happen
    return acc


def break_in_a_handler(x):
    acc = 0.0
    for i in range(3):
        try:
            if x[i % 2] > 0.5:
                raise ValueError
            acc = acc + x[i % 2] ** 2
        except ValueError:
            break
    else:
        acc = acc * 10.0
    return acc


A3 = np.array([[2.0, 1.0, 0.0], [0.5, 3.0, 1.0], [0.0, 1.0, 4.0]])


def reads_in_a_handler_what_the_body_changed(x):
    h = np.tanh(x + x)
    try:
        h = np.tanh(h * h)
        if np.sum(h) > 0.3:
            raise ValueError("large")
        h = h + np.sin(h)
    except ValueError:
        h = np.tanh(h) * h
    return np.sum(h)


def reads_in_else_and_finally_what_the_body_changed(x):
    h = np.tanh(x)
    try:
        h = np.sin(h) * 2.0
    except ValueError:
        h = x
    else:
        h = np.tanh(h) * h
    finally:
        h = h * np.exp(h)
    return np.sum(h)


WAYS = [
    (smooth_body, (X,), (0,)),
    (raise_midway, (X,), (0,)),
    (raise_midway, (BIG,), (0,)),
    (raise_mid_line, (X,), (0,)),
    (raise_mid_line, (BIG,), (0,)),
    (inverse_or_fallback, (A3, np.array([1.0, 2.0, 3.0])), (0, 1)),
    (inverse_or_fallback, (np.array([[2.0, 1.0], [0.0, 0.0]]), X), (1,)),
    (broadcast_or_sum, (X, np.array([0.5, 0.7])), (0, 1)),
    (broadcast_or_sum, (X, np.array([0.5, 0.7, 0.1])), (0, 1)),
    (tuple_of_types, (X, 0), (0,)),
    (tuple_of_types, (X, 1), (0,)),
    (tuple_of_types, (X, 2), (0,)),
    (else_and_finally, (X,), (0,)),
    (else_and_finally, (BIG,), (0,)),
    (ways_per_iteration, (np.array([0.5, -0.6, 0.7, -0.1]),), (0,)),
    (returns, (X,), (0,)),
    (returns, (-X,), (0,)),
    (return_in_finally, (-X,), (0,)),
    (break_and_continue, (np.array([0.5, -0.6, 0.7, 1.5, 0.2]),), (0,)),
    (catches_a_callee, (np.array([0.1, 0.2]),), (0,)),
    (catches_a_callee, (BIG,), (0,)),
    (callee_in_a_loop, (np.array([0.15, 0.2]),), (0,)),
    (loop_left_by_an_exception, (X,), (0,)),
    (loop_left_by_an_exception, (X / 100,), (0,)),
    (loop_left_and_forgotten, (X,), (0,)),
    (nested_loops_left, (np.array([0.3, 0.4]),), (0,)),
    (nested_loops_left, (np.array([0.01, 0.02]),), (0,)),
    (through_a_finally, (X,), (0,)),
    (through_a_finally, (BIG * 1.2,), (0,)),
    (handler_in_a_handler, (np.array([0.1, 0.1]),), (0,)),
    (handler_in_a_handler, (X,), (0,)),
    (handler_in_a_handler, (BIG,), (0,)),
    (partial_writes, (np.array([0.2, 0.3, 0.4]),), (0,)),
    (partial_writes, (np.array([0.2, -0.3, 0.4]),), (0,)),
    (finally_returns_instead, (X,), (0,)),
    (finally_continues_instead, (X,), (0,)),
    (break_in_a_handler, (np.array([0.1, 0.2]),), (0,)),
    (break_in_a_handler, (np.array([0.1, 0.7]),), (0,)),
    (reads_in_a_handler_what_the_body_changed, (X,), (0,)),
    (reads_in_a_handler_what_the_body_changed, (X / 10,), (0,)),
    (reads_in_else_and_finally_what_the_body_changed, (X,), (0,)),
]


@pytest.mark.parametrize("fn, args, wrt", WAYS, ids=lambda v: getattr(v, "__name__", ""))
def test_the_gradient_is_that_of_the_statements_that_ran(fn, args, wrt):
    check_function(fn, args, wrt)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_each_handler_of_several_gives_its_own_gradient(k):
    check_function(several_handlers, (X, k), (0,))


def test_the_adjoint_reverses_the_statements_before_the_raise_and_the_handler():
    g = sd.grad(raise_midway)
    np.testing.assert_allclose(g(BIG), 3 * (2 * np.sin(BIG)) ** 2 * 2 * np.cos(BIG))
    source = sd.source(g)
    adjoint = source.split("def raise_midway_adjoint")[1]
    assert "exp" not in adjoint  # the statement after the raise did not run
    line = raise_midway.__code__.co_firstlineno
    way = f"raised at line {line + 5}, handled by `except ValueError:`"
    assert f"# line {line + 2}: try: {way}" in adjoint
    primal = source.split("def raise_midway_adjoint")[0]
    assert "_try" in primal and "rt.attempt(_path)" in primal and ".caught(0, _at)" in primal


def two_ways(x):
    try:
        h = np.sin(x) * 2.0
        if np.sum(h) > 1.0:
            raise ValueError("large")
        h = np.exp(h)
    except ValueError:
        h = h**3
    return np.sum(h)


def test_each_way_gets_its_own_adjoint_and_sd_paths_explains_it():
    g = sd.grad(two_ways)
    line = two_ways.__code__.co_firstlineno
    expected = {tuple(X): sd.grad(raise_midway)(X), tuple(BIG): sd.grad(raise_midway)(BIG)}
    for x in (X, BIG, X, BIG, X):
        np.testing.assert_allclose(g(x), expected[tuple(x)])
    paths = sorted(sd.paths(g), key=lambda p: p.calls)
    assert [p.calls for p in paths] == [2, 3]
    assert [p.choices for p in paths] == [
        (f"line {line + 1}: `try:` raised at line {line + 4}, handled by `except ValueError:`",),
        (f"line {line + 1}: `try:` body ran through",),
    ]
    assert "exp" not in paths[0].source.split("def two_ways_adjoint")[1]
    assert "exp" in paths[1].source.split("def two_ways_adjoint")[1]


def per_iteration(x):
    acc = 0.0
    for i in range(len(x)):
        try:
            if x[i] < 0:
                raise ValueError
            acc = acc + np.sqrt(x[i]) * x[0]
        except ValueError:
            acc = acc + x[i] ** 2
    return acc


def test_the_ways_of_each_iteration_are_kinds_of_iteration():
    g = sd.grad(per_iteration)
    g(np.array([0.5, -0.6, 0.7]))
    g(np.array([-0.2, 0.1, -0.3]))  # the same kinds of iteration: the same path
    line = per_iteration.__code__.co_firstlineno
    (path,) = sd.paths(g)
    assert path.calls == 2
    assert path.choices == (
        f"line {line + 2}: `for i in range(len(x)):` 2 kinds of iteration",
        "  iterations of kind 1:",
        f"    line {line + 3}: `try:` body ran through",
        "  iterations of kind 2:",
        f"    line {line + 3}: `try:` raised at line {line + 5}, handled by `except ValueError:`",
    )
    g(np.array([0.5, 0.6, 0.1]))  # iterations that went one way only: another path
    assert len(sd.paths(g)) == 2


def left_loop(x):
    h = x * 1.0
    try:
        for _ in range(5):
            h = h * 1.5 + np.sin(h)
            if np.sum(h) > 3.0:
                raise FloatingPointError
    except FloatingPointError:
        h = h * 0.5
    return np.sum(h)


def test_a_loop_left_by_an_exception_has_its_last_step_cut():
    g = sd.grad(left_loop)
    g(X)
    (path,) = sd.paths(g)
    assert "  iterations of kind 2, left by an exception:" in path.choices
    assert ".cut(_at)" in path.source


def test_a_reraised_exception_propagates_from_the_users_line():
    g = sd.grad(reraise)
    check_function(reraise, (X,), (0,))
    with pytest.raises(ValueError, match="too large") as info:
        g(np.array([0.9, 0.8]))
    last = traceback.extract_tb(info.value.__traceback__)[-1]
    assert last.filename == __file__ and last.line == 'raise ValueError("too large")'


def uncaught(x):
    try:
        if x[0] < 0:
            raise IndexError("negative")
    except KeyError:
        return np.sum(x)
    return np.sum(x * x)


def test_an_exception_no_clause_catches_propagates():
    check_function(uncaught, (X,), (0,))
    with pytest.raises(IndexError, match="negative"):
        sd.grad(uncaught)(-X)


def bad_callee(x):
    global COUNTER
    COUNTER = x * 2.0  # a differentiated value in a global, from a callee: refused
    return x * 2.0


def swallows_everything(x):
    try:
        y = np.sum(bad_callee(x))
    except Exception:
        y = np.sum(x)
    return y


def _primal_source(fn) -> str:
    from srcdiff.compiler.cache import unit_for

    return unit_for(fn, ("x",), {"x": "array"}, np).primal_source


def test_srcdiffs_own_errors_pass_through_the_users_except_clauses():
    with pytest.raises(sd.CompileError, match="assigned to the global `COUNTER`"):
        sd.grad(swallows_everything)(X)
    assert "except rt.INTERNAL:\n        raise\n    except Exception:" in _primal_source(
        swallows_everything
    )


def test_a_clause_that_cannot_catch_srcdiffs_errors_has_no_guard():
    assert "rt.INTERNAL" not in _primal_source(raise_midway)


def push(stack, v):
    stack.append(v * 2.0)
    if len(stack) > 1:
        raise IndexError("full")


def catches_a_partial_update(x):
    stack = [x]
    try:  # noqa: SIM105 - a try statement is what this checks
        push(stack, x)
    except IndexError:
        pass
    return np.sum(stack[-1])


def test_a_callee_that_may_have_updated_its_arguments_before_raising_is_refused():
    with pytest.raises(sd.CompileError, match=r"push .*`stack`.* in place.*except IndexError"):
        sd.grad(catches_a_partial_update)(X)


def raises_in_finally(x):
    try:
        try:
            h = np.sin(x)
        finally:
            if np.sum(x) > 1:
                raise KeyError
    except KeyError:
        h = x
    return np.sum(h)


def test_an_exception_from_a_finally_block_caught_here_is_refused_at_its_line():
    check_function(raises_in_finally, (X,), (0,))
    with pytest.raises(sd.CompileError, match="raised in a finally block") as info:
        sd.grad(raises_in_finally)(BIG * 2)
    assert info.value.source_line == "raise KeyError"


def with_in_try(x):
    try:
        with np.errstate(all="raise"):
            y = np.log(x)
    except FloatingPointError:
        y = x
    return np.sum(y)


def test_a_with_block_inside_a_try_is_refused():
    with pytest.raises(sd.CompileError, match="a with block inside a try") as info:
        sd.grad(with_in_try)(X)
    assert info.value.lineno == with_in_try.__code__.co_firstlineno + 2


FORWARD_WAYS = [
    *WAYS,
    *((several_handlers, (X, k), (0,)) for k in range(4)),
    (raises_in_finally, (X,), (0,)),
]


@pytest.mark.parametrize("fn, args, wrt", FORWARD_WAYS, ids=lambda v: getattr(v, "__name__", ""))
def test_forward_mode_and_hvp_follow_the_statements_that_ran(fn, args, wrt):
    """Forward mode runs each tangent beside its primal statement inside the try as
    written: the tangent against central differences, and the Hessian-vector product
    (reverse mode over that forward mode) against differences of the tangent."""
    rng = np.random.default_rng(3)
    tangents = tuple(rng.standard_normal(np.shape(a)) if i in wrt else None
                     for i, a in enumerate(args))  # fmt: skip

    def moved(eps, i=None, x=None):
        at = [x if j == i else a for j, a in enumerate(args)]
        return [a if t is None else a + eps * t for a, t in zip(at, tangents, strict=True)]

    value, tangent = sd.jvp(fn, args, tangents)
    assert value == pytest.approx(fn(*args), rel=1e-12)
    fd = (fn(*moved(1e-6)) - fn(*moved(-1e-6))) / 2e-6
    assert tangent == pytest.approx(fd, rel=1e-6, abs=1e-8)
    products = sd.hvp(fn, args, tangents)
    products = products if len(args) > 1 else (products,)
    for i in wrt:  # H v: the gradient of the tangent along v

        def along(x, i=i):
            return sd.jvp(fn, (*args[:i], x, *args[i + 1 :]), tangents)[1]

        np.testing.assert_allclose(products[i], numeric_grad(along, (args[i],)), rtol=1e-5,
                                   atol=1e-7)  # fmt: skip


def test_forward_mode_through_an_exception_from_a_finally_block_caught_here():
    """Forward mode runs the try as written, so it follows what reverse mode refuses; a
    second derivative (reverse mode over it) refuses it at the line of the raise."""
    v = np.array([1.0, -0.5])
    value, tangent = sd.jvp(raises_in_finally, (BIG * 2,), (v,))
    assert value == pytest.approx(raises_in_finally(BIG * 2))
    assert tangent == pytest.approx(np.sum(v))
    with pytest.raises(sd.CompileError, match="raised in a finally block") as info:
        sd.hvp(raises_in_finally, (BIG * 2,), (v,))
    assert info.value.source_line == "raise KeyError"
    lines, first = inspect.getsourcelines(raises_in_finally)
    raised = first + next(i for i, t in enumerate(lines) if "raise KeyError" in t)
    assert (info.value.filename, info.value.lineno) == (__file__, raised)  # the user's


def test_hessian_through_a_caught_linalg_error():
    """np.linalg.inv raising LinAlgError for a singular matrix, caught: the Hessian of
    the fallback (a quadratic in x: exactly its matrix)."""
    a = np.array([[2.0, 1.0], [0.0, 0.0]])
    x = np.array([0.3, -0.4])
    hessian = sd.hessian(inverse_or_fallback, wrt=1)(a, x)
    np.testing.assert_allclose(hessian, 0.5 * (a.T @ a), rtol=1e-12)
    regular = sd.hessian(inverse_or_fallback, wrt=1)(A3, np.array([1.0, 2.0, 3.0]))
    inv = np.linalg.inv(A3)
    np.testing.assert_allclose(regular, 2 * inv.T @ inv, rtol=1e-10)


def test_the_tangent_source_keeps_the_try_and_its_clauses():
    forward = sd.jvp(else_and_finally)
    forward((BIG,), (np.ones(2),))
    text = sd.source(forward)
    assert "except RuntimeError:\n        rt.handled_in_forward_mode(_in_tangent)" in text
    # the flag is up while the body's tangents run, and down before the try
    assert "_in_tangent = False\n    try:" in text and "_in_tangent = True" in text
    assert "else:" in text and "finally:" in text
    assert "rt.INTERNAL" not in text  # except RuntimeError cannot catch srcdiff's errors


def test_forward_mode_lets_srcdiffs_own_errors_through_the_users_except_clauses():
    with pytest.raises(sd.CompileError, match="assigned to the global `COUNTER`"):
        sd.jvp(swallows_everything, (X,), (np.ones(2),))
    forward = sd.jvp(raise_midway)
    forward((BIG,), (np.ones(2),))
    with pytest.raises(sd.CompileError, match=r"push .*`stack`.* in place.*except IndexError"):
        sd.jvp(catches_a_partial_update, (X,), (np.ones(2),))


def finally_only(x):
    out = 0.0
    try:
        out = np.sum(np.sin(x) ** 2)
    finally:
        out = out * 2.0
    return out


def test_forward_and_second_order_through_a_try_with_a_finally_block_only():
    v = np.array([1.0, -0.5])
    value, tangent = sd.jvp(finally_only, (X,), (v,))
    assert value == pytest.approx(finally_only(X))
    assert tangent == pytest.approx(np.sum(2 * np.sin(2 * X) * v))
    np.testing.assert_allclose(sd.hvp(finally_only, (X,), (v,)), 4 * np.cos(2 * X) * v)


def clipped_or_fallback(x):
    try:
        y = np.maximum(x, 0.0)
        if np.sum(x) > 10.0:
            raise ValueError
    except ValueError:
        y = x
    return np.sum(np.sqrt(y + 1.0))


def test_kink_warnings_and_finiteness_checks_see_the_statements_in_a_try():
    x = np.array([1e-9, 1.0])
    with pytest.warns(sd.KinkWarning, match="np.maximum"):
        g = sd.grad(clipped_or_fallback, warn_kinks=1e-6)(x)
    np.testing.assert_allclose(g, sd.grad(clipped_or_fallback)(x))
    np.testing.assert_allclose(sd.grad(clipped_or_fallback, check_finite=True)(x), g)


W = np.array([0.5, -1.0])


def tensor_step(x):
    w = sd.tensor(W, requires_grad=True)
    try:
        loss = (w * x).sum()
        if loss.item() > 10.0:
            raise ValueError
    except ValueError:
        loss = (w * w).sum()
    loss.backward()
    return w.grad


def test_a_compiled_training_step_with_a_try():
    step = sd.differentiate(tensor_step)
    np.testing.assert_allclose(step(sd.tensor(np.array([1.0, 2.0]))).numpy(), [1.0, 2.0])
    np.testing.assert_allclose(step(sd.tensor(np.array([30.0, -30.0]))).numpy(), 2 * W)


# ---- forward mode: what the tangents beside the body's statements must not change ------


def unused_index_caught(x):
    y = x * 1.0
    try:
        unused = x[10]  # noqa: F841 - raises IndexError; its value is never read
    except IndexError:
        y = y * x
    return np.sum(y)


def test_forward_mode_keeps_a_statement_of_yours_whose_value_is_unused():
    """Dropping dead code is for the derivative's own statements: the user's may raise
    (or change an object), which decides the path."""
    x, v = np.array([0.3, -0.7, 0.5]), np.array([1.0, 0.5, -2.0])
    value, tangent = sd.jvp(unused_index_caught, (x,), (v,))
    assert value == pytest.approx(unused_index_caught(x))
    assert tangent == pytest.approx(np.sum(2 * x * v))
    np.testing.assert_allclose(sd.hvp(unused_index_caught, (x,), (v,)), 2 * v)


def sqrt_or_linear(x):
    try:
        y = math.sqrt(x)
    except ZeroDivisionError:
        y = 5.0 * x
    return y


def calls_what_it_is_given(x, fn):
    try:
        y = fn(x)
    except ZeroDivisionError:
        y = 5.0 * x
    return y


def calls_sqrt(x):
    return calls_what_it_is_given(x, sqrt_or_linear_root)


def sqrt_or_linear_root(x):
    return math.sqrt(x)


def divides_by_a_count(x, k):
    try:
        y = x * (1.0 / (k - 1))
    except ZeroDivisionError:
        y = 3.0 * x
    return y


@pytest.mark.parametrize("fn", [sqrt_or_linear, calls_sqrt])
def test_an_exception_of_a_derivative_is_not_caught_by_your_except_clause(fn):
    """At 0 the value sqrt(0) is fine and its derivative divides by zero: the clause
    would take that for the value's and run the other branch. It is refused, whether the
    tangent is the function's own or a callee's; elsewhere the derivative is right."""
    for derivative in (sd.jvp, sd.hvp):
        with pytest.raises(sd.CompileError, match="raised by the derivative"):
            derivative(fn, (0.0,), (1.0,))
    assert sd.jvp(fn, (4.0,), (1.0,)) == pytest.approx((2.0, 0.25))


def test_an_exception_of_a_value_is_caught_in_forward_mode():
    _, tangent = sd.jvp(lambda x: divides_by_a_count(x, 1), (2.0,), (1.0,))
    assert tangent == pytest.approx(3.0)  # 1.0 / 0 raised by the value: the clause ran
    _, tangent = sd.jvp(lambda x: divides_by_a_count(x, 3), (2.0,), (1.0,))
    assert tangent == pytest.approx(0.5)


def sqrt_then_index(x):
    y = math.sqrt(x)  # at 0: its tangent divides by zero
    z = [1.0][int(x) + 1]  # at 0: the value raises IndexError, one line later
    return y + z


def catches_a_division(x):
    return calls_what_it_is_given(x, sqrt_then_index)


def root_with_a_rule(x):
    return math.sqrt(x)


def root_with_a_rule_jvp(tangents, ans, x):
    return tangents[0] * 0.5 / ans  # ZeroDivisionError at 0


def root_then_return_in_finally(x):
    y = 2.0 * x
    try:
        y = math.sqrt(x)
    finally:
        return y  # noqa: B012 - a finally block that drops what goes through it


def index_error_in_finally(x):
    try:
        try:
            y = math.sqrt(x)
        finally:
            w = [1.0][int(x) + 5]  # noqa: F841 - the value raises IndexError here
    except IndexError:
        y = 5.0 * x
    return y


def test_what_a_callee_or_a_rule_of_yours_raises_for_a_derivative_is_not_caught(rules):
    with pytest.raises(IndexError):  # what the plain call does
        catches_a_division(0.0)
    with pytest.raises(sd.CompileError, match="raised by the derivative of sqrt_then_index"):
        sd.jvp(catches_a_division, (0.0,), (1.0,))
    sd.register_jvp(root_with_a_rule)(root_with_a_rule_jvp)
    with pytest.raises(sd.CompileError, match="raised by the forward rule of root_with"):
        sd.jvp(lambda x: calls_what_it_is_given(x, root_with_a_rule), (0.0,), (1.0,))


def test_a_finally_block_that_drops_a_derivatives_exception_is_refused():
    with pytest.raises(sd.CompileError, match="finally block that drops ZeroDivisionError"):
        sd.jvp(root_then_return_in_finally, (0.0,), (1.0,))
    assert sd.jvp(root_then_return_in_finally, (4.0,), (1.0,)) == pytest.approx((2.0, 0.25))


def test_what_a_finally_block_raises_after_a_derivatives_exception_is_refused():
    """The tangent of sqrt(0) raises; the finally block then raises IndexError, which
    it may raise only because the body was cut short: whose it is cannot be told, so
    the outer clause refuses it. Away from 0 the derivative is right."""
    assert index_error_in_finally(0.0) == 0.0
    with pytest.raises(sd.CompileError, match="caught IndexError"):
        sd.jvp(index_error_in_finally, (0.0,), (1.0,))
    assert sd.jvp(index_error_in_finally, (4.0,), (1.0,)) == pytest.approx((20.0, 5.0))


def complete_qr_of_a_tall_matrix(a):
    q, r = np.linalg.qr(a, mode="complete")  # a has more rows than columns: no tangent
    return np.sum(q) + np.sum(r)


def falls_back_on_a_runtime_error(a):
    try:
        y = complete_qr_of_a_tall_matrix(a)
    except RuntimeError:  # what a forward rule's NotImplementedError once was taken for
        y = np.sum(a)
    return y


def cut_short_in_a_callee(x):
    done = False
    try:
        y = math.sqrt(x) + 1.0  # at 0: its tangent divides by zero
        done = True
    finally:
        if not done:
            raise KeyError("cut short")
    return y


def catches_a_key_error(x):
    try:
        y = cut_short_in_a_callee(x)
    except KeyError:
        y = 5.0 * x + 2.0
    return y


def update_then_fail(buf, x):
    buf[0] = buf[0] + x * x
    if x > 1.0:
        raise ValueError("too big")
    return buf


def returns_in_finally_after_an_update(x):
    buf = np.zeros(2)
    try:
        buf = update_then_fail(buf, x)
    finally:
        return np.sum(buf) + x  # noqa: B012 - drops the ValueError


def test_a_forward_rules_refusal_in_a_callee_is_not_taken_for_the_values():
    a = np.arange(6.0).reshape(3, 2) + 1.0
    with pytest.raises(sd.CompileError, match="np.linalg.qr"):
        sd.jvp(falls_back_on_a_runtime_error, (a,), (np.ones_like(a),))


def test_an_exception_a_callees_finally_raises_after_a_derivatives_is_refused():
    assert catches_a_key_error(0.0) == 1.0
    for derivative in (sd.jvp, sd.hvp):
        with pytest.raises(sd.CompileError, match="caught KeyError"):
            derivative(catches_a_key_error, (0.0,), (1.0,))
    assert sd.jvp(catches_a_key_error, (4.0,), (1.0,)) == pytest.approx((3.0, 0.25))


@pytest.mark.parametrize("derivative", ["grad", "jvp"])
def test_a_finally_block_that_returns_does_not_drop_what_must_be_refused(derivative):
    """The ValueError leaves a function whose in-place update compiled code loses:
    Python's finally would drop it silently; srcdiff refuses it, in both modes."""
    assert returns_in_finally_after_an_update(3.0) == 12.0
    with pytest.raises(sd.CompileError, match="updated its argument"):
        if derivative == "grad":
            sd.grad(returns_in_finally_after_an_update)(3.0)
        else:
            sd.jvp(returns_in_finally_after_an_update, (3.0,), (1.0,))


def returns_what_the_body_cut_short_left(x):
    y = x
    try:
        y = np.sin(x)
        if np.sum(y) > 0:
            raise ValueError
        y = y * 2.0
    finally:
        return np.sum(y)  # noqa: B012 - drops the ValueError


@pytest.mark.parametrize("fn", [return_in_finally, returns_what_the_body_cut_short_left])
def test_reverse_mode_refuses_a_finally_block_that_drops_an_exception(fn):
    """Reverse mode does not follow a body cut short by an exception a finally block then
    drops (it gave twice the gradient here); forward mode runs it as written."""
    x = np.array([0.5, 0.3])
    for derivative in (lambda: sd.grad(fn)(x), lambda: sd.hvp(fn, (x,), (x,))):
        with pytest.raises(sd.CompileError, match="finally block that drops ValueError"):
            derivative()
    _, tangent = sd.jvp(fn, (x,), (np.ones(2),))
    np.testing.assert_allclose(tangent, np.sum(numeric_grad(fn, [x])), rtol=1e-6)


def finally_holding_a_try(x):
    y = 0.5
    try:
        y = y + x * x
    finally:
        try:
            y = y * math.sin(x)
        except ValueError:
            y = y + 1.0
    return y


def test_a_try_with_an_except_clause_inside_a_finally_block():
    x = 0.7
    want = numeric_grad(finally_holding_a_try, [x])
    assert sd.grad(finally_holding_a_try)(x) == pytest.approx(want, rel=1e-6)
    second = numeric_grad(lambda t: sd.grad(finally_holding_a_try)(t), [x])
    assert sd.hvp(finally_holding_a_try, (x,), (1.0,)) == pytest.approx(second, rel=1e-5)


def raises_at_zero(x):
    if x == 0.0:
        raise ZeroDivisionError("the value's")
    return math.sqrt(x)


def doubles_what_may_raise(x):
    return 2.0 * raises_at_zero(x)


def catches_two_calls_down(x):
    try:
        y = doubles_what_may_raise(x)
    except ZeroDivisionError:
        y = 3.0 * x
    return y


def test_a_values_exception_two_calls_down_is_caught_in_forward_mode():
    assert sd.jvp(catches_two_calls_down, (0.0,), (1.0,)) == pytest.approx((0.0, 3.0))
    assert sd.jvp(catches_two_calls_down, (4.0,), (1.0,)) == pytest.approx((4.0, 0.5))


def _marks_then_raises(x, d):
    d["seen"] = True  # Python makes this write before the next line raises
    return np.sum(x) * {}["missing"]


def _pushes_then_raises(h, v):
    h.append(v)
    raise KeyError("k")


def _appends_then_calls(x, h):
    h.append(1)
    _pushes_then_raises(h, 2)
    return np.sum(x)


@pytest.mark.parametrize("call", [sd.grad, sd.value_and_grad, sd.differentiate])
def test_an_exception_leaving_the_function_keeps_the_updates_made_before(call):
    """The caller's dict keeps the entry written before the exception, as after a plain
    call (it was left empty); an update a callee made before raising cannot be kept,
    and is refused rather than lost."""
    x, d = np.array([1.0, 2.0]), {}
    with pytest.raises(KeyError):
        call(_marks_then_raises)(x, d)
    assert d == {"seen": True}
    h: list = []
    with pytest.raises(sd.CompileError, match="raised KeyError after it may have updated"):
        call(_appends_then_calls)(x, h)


def _reenables_inside_no_grad(x, mgr):
    with sd.no_grad():  # noqa: SIM117 - the nesting is the case
        with mgr:
            y = x * 2.0
    return np.sum(y * x)


def test_a_grad_mode_turned_on_through_a_name_inside_no_grad_is_refused():
    """Eager code records ``y`` under the inner enable_grad (4x); compiled code took the
    whole no_grad block for constants and gave 2x, silently."""
    with pytest.raises(sd.CompileError, match="inside sd.no_grad"):
        sd.grad(_reenables_inside_no_grad)(np.array([1.0, 2.0]), sd.enable_grad())

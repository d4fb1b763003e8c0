"""``sd.export(g, path)``: the gradient's compiled paths as one module needing NumPy alone.

The exported modules run in a fresh interpreter (``python -I -S``) whose path holds
NumPy and nothing else, srcdiff blocked too, and their gradients must equal ``g``'s
exactly: the same code on the same numbers.
"""

import ast
import importlib
import importlib.util
import inspect
import math
import pickle
import re
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import export_other
import numpy as np
import pytest
from export_other import activated, scaled_by_factor, shifted, shifted_sum, squashed
from numpy import tanh as act  # export_other's act is np.sin

import srcdiff as sd

EXPORT = importlib.import_module("srcdiff.export")  # the module (sd.export is its function)

W = np.array([[0.5, -1.0], [2.0, 0.25], [1.5, 3.0]], dtype=np.float32)  # a global array
SCALE = 0.7071067811865476  # a float its repr alone gives back exactly
unbroadcast = 2.0  # a global named like one of srcdiff's helpers
SHIFT = 1.0  # export_other's SHIFT is 100.0


def branch_and_loop(x, y):
    h = np.tanh(x * y)
    if h.sum() > 0:
        h = h * 2.0
    else:
        h = h - y
    while np.abs(h).sum() < 4.0:
        h = h * 1.5 + y * SCALE
    return np.mean((h - y) ** 2)


def with_globals(x):
    with np.errstate(divide="ignore"):
        h = np.tanh(x @ W) * SCALE + math.pi
    return np.sum(h * h) * unbroadcast


def of_a_list(xs, w):
    total = 0.0
    for v in xs:
        total = total + np.sum(np.sin(v * w))
    return total


def root(x):
    return np.sum(np.sqrt(x) * x)


def positive_part(x):
    return x[x > 0] * 2.0  # an array of one entry, or of more: then not differentiated


def helper(x):
    return x * 2.0


def squash(h, w):
    if np.sum(h) > 0:  # a branch in the function called
        return np.tanh(h * w)
    return h * w - 1.0


def model_loss(x, w):
    return np.mean((squash(x, w) - 0.5) ** 2)


def step(state, w):
    return state + 0.1 * np.sin(state * w)


def solve(x, w):
    for _ in range(4):  # the function called in a loop
        x = step(x, w)
    return np.sum(x * x)


def layer(h, w):
    return np.maximum(helper(h @ w), 0.0) + squash(h @ w, 0.5)


def two_layers(x, w):
    return np.sum(layer(layer(x, w), w.T @ w))


class Model:
    def forward(self, x):
        return x * 2.0


MODEL = Model()


def calls_a_method(x):
    return np.sum(MODEL.forward(x))


class Settings:
    scale = 2.0


SETTINGS = Settings()


def reads_an_object(x):
    return np.sum(x) * SETTINGS.scale


X = np.array([0.1, 0.2, 0.3])
Y = np.array([1.0, -1.0, 0.5])

RUNNER = """
import importlib.util, pickle, sys
sys.path[:0] = [{site!r}, {work!r}]
sys.modules["srcdiff"] = None
assert importlib.util.find_spec("gast") is None, "more than NumPy on the path"
spec = importlib.util.spec_from_file_location("exported", {module!r})
module = sys.modules["exported"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
out = []
for name, args, kwargs in pickle.load(open("calls.pkl", "rb")):
    try:
        out.append(getattr(module, name)(*args, **kwargs))
    except Exception as exc:
        out.append((type(exc).__name__, str(exc)))
pickle.dump(out, open("out.pkl", "wb"))
"""


@pytest.fixture
def numpy_only(tmp_path):
    """A directory holding NumPy alone (links to its package), for a fresh interpreter."""
    site = tmp_path / "site"
    site.mkdir()
    packages = Path(np.__file__).parent.parent
    for entry in packages.iterdir():
        if entry.name == "numpy" or entry.name.startswith("numpy."):
            (site / entry.name).symlink_to(entry)
    return site


def run(module, calls, site):
    """The results of ``calls`` (name, args, kwargs) of the exported ``module``, run in a
    fresh interpreter that has NumPy alone; an exception as (its type's name, message)."""
    work = module.parent
    (work / "calls.pkl").write_bytes(pickle.dumps(calls))
    script = RUNNER.format(site=str(site), work=str(work), module=str(module))
    result = subprocess.run([sys.executable, "-I", "-S", "-c", script], cwd=work,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return pickle.loads((work / "out.pkl").read_bytes())


def assert_same(got, want):
    """Equal exactly, in type, dtype and shape too (tuples, lists, dicts inside)."""
    assert type(got) is type(want), (got, want)
    if isinstance(want, (tuple, list)):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
    elif isinstance(want, dict):
        assert got.keys() == want.keys()
        for k in want:
            assert_same(got[k], want[k])
    else:
        np.testing.assert_array_equal(got, want)
        assert getattr(got, "dtype", None) == getattr(want, "dtype", None)


def exported(g, tmp_path, name="grad.py"):
    path = sd.export(g, tmp_path / name)
    assert path == tmp_path / name
    return path


def test_both_branches_and_a_loop_give_srcdiffs_gradients_exactly(tmp_path, numpy_only):
    g = sd.grad(branch_and_loop, wrt=(0, 1))
    calls = [(X, Y), (-X, Y), (X * 10.0, Y)]
    want = [g(*args) for args in calls]
    assert len(sd.paths(g)) >= 2
    got = run(exported(g, tmp_path), [("grad_branch_and_loop", a, {}) for a in calls], numpy_only)
    for w, o in zip(want, got, strict=True):
        assert_same(o, w)


def test_a_value_and_gradient_of_globals_arrays_and_a_with_block(tmp_path, numpy_only):
    g = sd.value_and_grad(with_globals)
    x32, x64 = np.ones((4, 3), np.float32), np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    want = [g(x32), g(x64)]
    path = exported(g, tmp_path)
    text = path.read_text()
    assert "W = np.array([[0.5, -1.0], [2.0, 0.25], [1.5, 3.0]], dtype='float32')" in text
    assert "SCALE = 0.7071067811865476" in text and "import math" in text
    assert "def unbroadcast_2(" in text  # srcdiff's helper, renamed: the global keeps its name
    got = run(path, [("value_and_grad_with_globals", (x,), {}) for x in (x32, x64)], numpy_only)
    for w, o in zip(want, got, strict=True):
        assert_same(o, w)


def test_lists_several_arguments_and_keywords(tmp_path, numpy_only):
    g = sd.grad(of_a_list, wrt=(0, "w"))
    xs = [np.ones(3), np.arange(3.0)]
    calls = [((xs, 0.5), {}), (((xs[0], xs[1] * 2),), {"w": np.full(3, 0.25)})]
    want = [g(*a, **k) for a, k in calls]
    got = run(exported(g, tmp_path), [("grad_of_a_list", a, k) for a, k in calls], numpy_only)
    for w, o in zip(want, got, strict=True):
        assert_same(o, w)


def test_two_gradients_never_share_an_array(tmp_path, numpy_only):
    def total(a, b):
        return np.sum(a + b)  # one adjoint array for both

    g = sd.grad(total, wrt=(0, 1))
    want = g(X, Y)
    (got,) = run(exported(g, tmp_path), [("grad_total", (X, Y), {})], numpy_only)
    assert_same(got, want)
    assert not np.shares_memory(got[0], got[1])  # pickled: one array would stay one


def test_the_exported_gradient_refuses_arrays_whose_operators_are_not_arithmetic(
    tmp_path, numpy_only
):
    """Compiled for plain arrays, the exported code checks no operands: np.matrix (whose
    ``*`` is a matrix product) and arrays of objects are refused at its door, as srcdiff
    refuses them."""

    def scaled(x, m):
        return np.sum(m * x)

    g = sd.grad(scaled)
    x, m = np.ones((2, 2)), np.array([[1.0, 2.0], [0.0, 1.0]])
    want = g(x, m)
    calls = [("grad_scaled", (x, m), {}), ("grad_scaled", (x, np.asmatrix(m)), {}),
             ("grad_scaled", (x, m.astype(object)), {})]  # fmt: skip
    got = run(exported(g, tmp_path), calls, numpy_only)
    assert_same(got[0], want)
    assert got[1][0] == "TypeError" and "numpy.matrix" in got[1][1]
    assert got[2][0] == "TypeError" and "of objects" in got[2][1]


def test_a_differentiated_function_exports_its_gradient_and_its_value(tmp_path, numpy_only):
    @sd.differentiate(wrt=1)
    def spring(k, x):
        return 0.5 * k * np.sum(x * x)

    value, grad = spring.value_and_grad(3.0, Y)
    y32 = Y.astype(np.float32)  # a float64 gradient, given back in float32
    grad32 = spring.grad(np.float64(3.0), y32)
    number = spring.grad(3.0, 0.5)  # a float for a float
    assert grad32.dtype == np.float32 and type(number) is float
    got = run(exported(spring, tmp_path),
              [("grad_spring", (3.0, Y), {}), ("value_and_grad_spring", (3.0, Y), {}),
               ("grad_spring", (np.float64(3.0), y32), {}), ("grad_spring", (3.0, 0.5), {})],
              numpy_only)  # fmt: skip
    assert_same(got, [grad, (value, grad), grad32, number])


def test_finiteness_checks_are_exported_with_check_finite(tmp_path, numpy_only):
    g = sd.grad(root, check_finite=True)
    want = g(np.ones(3))
    with pytest.raises(sd.NonFiniteError) as raised:
        g(np.zeros(3))
    got = run(exported(g, tmp_path),
              [("grad_root", (np.ones(3),), {}), ("grad_root", (np.zeros(3),), {})],
              numpy_only)  # fmt: skip
    assert_same(got[0], want)
    assert got[1] == ("NonFiniteError", str(raised.value))


def test_a_result_that_is_not_a_scalar_is_refused_as_srcdiff_does(tmp_path, numpy_only):
    g = sd.grad(positive_part)
    want = g(np.array([1.0, -1.0, -2.0]))
    with pytest.raises(ValueError) as raised:
        g(np.array([1.0, 1.0, -2.0]))
    calls = [("grad_positive_part", (np.array(x),), {}) for x in ([1.0, -1, -2], [1.0, 1, -2])]
    got = run(exported(g, tmp_path), calls, numpy_only)
    assert_same(got[0], want)
    assert got[1] == ("ValueError", str(raised.value))


def test_a_path_or_shapes_not_exported_is_a_clear_error(tmp_path, numpy_only):
    g = sd.grad(branch_and_loop)
    g(X, Y)  # the branch taken only
    calls = [
        ("grad_branch_and_loop", (-X, Y), {}),  # the other branch
        ("grad_branch_and_loop", (np.ones((2, 2)), np.ones((2, 2))), {}),  # other shapes
        ("grad_branch_and_loop", (np.array([1, 2, 3]), Y), {}),  # integers, as srcdiff says
    ]
    path_error, shapes_error, integers = run(exported(g, tmp_path), calls, numpy_only)
    assert path_error[0] == "NotExported"
    assert "took the path" in path_error[1] and "export it again" in path_error[1]
    assert shapes_error[0] == "NotExported" and "no gradient was exported" in shapes_error[1]
    assert integers == ("TypeError", "cannot differentiate branch_and_loop with respect to an "
                        "integer argument: pass a float")  # fmt: skip


def test_the_module_is_documented_and_imports_numpy_alone(tmp_path):
    g = sd.grad(branch_and_loop)
    g(X, Y), g(-X, Y)
    text = exported(g, tmp_path).read_text()
    tree = ast.parse(text)
    imported = set()  # at the top: helpers import array-api-compat for other libraries' arrays
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert "srcdiff" not in imported and imported <= set(sys.stdlib_module_names) | {"numpy"}
    doc = ast.get_docstring(tree)
    assert doc.startswith("The gradient of branch_and_loop (") and "needs NumPy alone" in doc
    line = inspect.getsourcelines(branch_and_loop)[1] + 2
    assert f"line {line}: `if h.sum() > 0:` taken" in doc
    assert f"line {line}: `if h.sum() > 0:` not taken" in doc
    assert text.rstrip().endswith("__all__ = ['grad_branch_and_loop', 'PATHS', 'NotExported']")
    namespace: dict = {}
    exec(compile(text, "grad.py", "exec"), namespace)  # noqa: S102 - the module just written
    assert set(namespace["PATHS"]) == {"branch_and_loop_adjoint_1", "branch_and_loop_adjoint_2"}


def test_every_runtime_helper_but_the_compilers_writes_out(tmp_path, numpy_only):
    """Each ``rt.<name>`` generated code may call is written out from srcdiff's source
    (renamed where two share a name), and the helpers import with NumPy alone."""
    needs_the_compiler = {
        *("accumulate_grad", "as_function", "backward", "call", "call_jvp", "call_vjp"),
        *("call_jvp_keywords", "install", "reverse_over_forward", "tangent_vjp"),
        *("tangent_vjp_keywords", "tensor_call", "unwrap", "call_jvp_star", "tangent_vjp_star"),
        *("in_place", "as_tensor", "tensor_in_place", "tensor_receiver"),  # of Tensor code
        "inactive_backward",
        "call_key",  # the rules registered are part of a compiled unit's key
        *("callee_tangent_vjp", "callee_tangent_vjp_keywords", "callee_tangent_vjp_star"),
        "forward_of",  # (a call's forward mode, made from the callee's unit)
        "held_without_gradient",
        "tensors_of",
        "write_entry_held",  # (of Tensor code: held_without_gradient)
        "norm_slope_second",  # (the nuclear and spectral norms': the SVD's forward mode)
        "norm_slope_along",
        "sgd_arrays",  # (a compiled step's optimizer.step(): reads srcdiff.optim.SGD)
    }
    modules = {"tensors", "tensor_methods"}
    names = [n for n in sd.runtime.__all__ if n not in needs_the_compiler | modules]
    writer = EXPORT._Writer()
    writer.namespace(sd.runtime, "rt", ast.parse("\n".join(f"rt.{n}" for n in names)), exact=True)
    for name in sorted(needs_the_compiler):
        with pytest.raises(EXPORT._Refused, match="compiler"):
            EXPORT._Writer().namespace(sd.runtime, "rt", ast.parse(f"rt.{name}"), exact=True)
    members = ", ".join(f"{a}={b}" for a, b in writer.namespaces["srcdiff.runtime"][1].items())
    parts = [EXPORT._FUTURE, *writer.imports, "import types", *writer.helpers]
    text = "\n\n".join([*parts, f"rt = types.SimpleNamespace({members})"])
    exec(compile(text, "helpers.py", "exec"), {"__name__": "helpers"})  # noqa: S102 - unregistered
    (tmp_path / "helpers.py").write_text(text)
    (tmp_path / "check.py").write_text(
        "import helpers\n"
        "def grad_all(x):\n"
        f"    return sorted(vars(helpers.rt)) == {sorted(names)!r} and helpers.rt.grad_like(x, x)\n"
    )
    assert_same(run(tmp_path / "check.py", [("grad_all", (X,), {})], numpy_only), [X])


def test_a_function_called_with_a_branch_exports_both_branches(tmp_path, numpy_only):
    g = sd.grad(model_loss, wrt=(0, 1))
    calls = [(X, Y), (-X, Y), (X, 0.5)]  # each branch of squash; a float w: another unit
    want = [g(*args) for args in calls]
    path = exported(g, tmp_path)
    text = path.read_text()
    assert "def squash(h, w):" in text and "squash_primal" in text  # called as you wrote it
    assert "the function called` taken" in text and "the function called` not taken" in text
    got = run(path, [("grad_model_loss", a, {}) for a in calls], numpy_only)
    for w, o in zip(want, got, strict=True):
        assert_same(o, w)


def test_a_function_called_in_a_loop(tmp_path, numpy_only):
    g = sd.value_and_grad(solve, wrt=(0, 1))
    calls = [(X, Y), (np.linspace(-2.0, 2.0, 5), 3.0)]
    want = [g(*args) for args in calls]
    got = run(exported(g, tmp_path), [("value_and_grad_solve", a, {}) for a in calls],
              numpy_only)  # fmt: skip
    for w, o in zip(want, got, strict=True):
        assert_same(o, w)


def scaled_sum(x, scale=1.0, shift=0.0):
    return np.sum(x * scale + shift)


def through_a_dict_of_keywords(w, shift):
    options = {"scale": w[0], "shift": shift}
    return scaled_sum(w, **options)


def test_a_function_called_with_a_dict_of_keywords(tmp_path, numpy_only):
    g = sd.grad(through_a_dict_of_keywords, wrt=(0, 1))
    calls = [(X, 0.5), (np.linspace(-2.0, 2.0, 5), 3.0)]
    want = [g(*args) for args in calls]
    got = run(exported(g, tmp_path), [("grad_through_a_dict_of_keywords", a, {}) for a in calls],
              numpy_only)  # fmt: skip
    for w, o in zip(want, got, strict=True):
        assert_same(o, w)


def three_terms(u, v, w):
    return u * v + w


def an_array_spread_twice(x):
    c = x[:3] * 2.0
    return three_terms(*c) + three_terms(*c)


def test_an_array_spread_into_calls_gets_its_entries_gradients_as_an_array(tmp_path, numpy_only):
    """The gradients of ``*c``'s entries are ``c``'s as an array (as a list, the two
    calls' were joined by ``+``)."""
    g = sd.grad(an_array_spread_twice)
    calls = [(np.array([0.5, -1.0, 2.0, 3.0]),), (np.array([1.5, 0.25, -2.0]),)]
    want = [g(*args) for args in calls]
    np.testing.assert_allclose(want[0], [-8.0, 4.0, 4.0, 0.0])
    got = run(exported(g, tmp_path), [("grad_an_array_spread_twice", a, {}) for a in calls],
              numpy_only)  # fmt: skip
    for w, o in zip(want, got, strict=True):
        assert_same(o, w)


def test_a_function_calling_functions_that_call_others(tmp_path, numpy_only):
    g = sd.grad(two_layers, wrt=(0, 1))
    w = np.array([[0.5, -1.0, 0.25], [2.0, 0.5, -0.5], [1.5, 1.0, 0.0]])
    calls = [(np.ones((2, 3)), w), (-np.ones((2, 3)), w), (np.ones((4, 3)) * 0.1, -w)]
    want = [g(*args) for args in calls]
    path = exported(g, tmp_path)
    text = path.read_text()
    assert "def layer(h, w):" in text and "def helper(x):" in text and "def squash(" in text
    got = run(path, [("grad_two_layers", a, {}) for a in calls], numpy_only)
    for w_, o in zip(want, got, strict=True):
        assert_same(o, w_)


def test_a_path_of_a_function_called_not_exported_is_a_clear_error(tmp_path, numpy_only):
    def clip(h, w):  # a function of its own: the paths srcdiff compiled are all exported
        if np.sum(h) > 0:
            return h * w
        return h - w

    def loss(x, w):
        return np.sum(clip(x, w) ** 2)

    g = sd.grad(loss, wrt=(0, 1))
    want = g(X, Y)  # clip's branch taken only
    calls = [("grad_loss", (X, Y), {}), ("grad_loss", (-X, Y), {}),
             ("grad_loss", (X, 0.5), {})]  # fmt: skip
    path = exported(g, tmp_path)
    assert "def clip(h, w):" in path.read_text()
    same, other_path, other_kinds = run(path, calls, numpy_only)
    assert_same(same, want)
    assert other_path[0] == "NotExported" and "clip (" in other_path[1]
    assert "took the path (0,)" in other_path[1] and "export it again" in other_path[1]
    assert other_kinds[0] == "NotExported" and "no gradient was exported" in other_kinds[1]


def test_a_function_called_with_a_rule_of_yours_stays_refused(tmp_path):
    def cubic(x):
        return x**3

    def inner(x):
        return np.sum(cubic(x)) * 2.0

    def outer(x):
        return inner(x) + np.sum(x)

    @sd.register_vjp(cubic)
    def cubic_vjp(g, ans, x):
        return g * 3 * x**2

    g = sd.grad(outer)
    g(X)
    with pytest.raises(sd.CompileError, match="cubic, which has a rule registered") as raised:
        sd.export(g, tmp_path / "grad.py")
    assert f"{__file__}:" in str(raised.value)
    assert not (tmp_path / "grad.py").exists()


@pytest.mark.parametrize(
    ("fn", "args", "message"),
    [
        (calls_a_method, (X,), "MODEL.forward, which srcdiff compiles too"),
        (reads_an_object, (X,), "the global SETTINGS, a Settings"),
        (lambda x: (x * x).sum(), (sd.ones(3),), "a gradient taken at Tensors"),
    ],
)
def test_what_cannot_be_written_out_is_refused(tmp_path, fn, args, message):
    g = sd.grad(fn)
    g(*args)
    with pytest.raises(sd.CompileError, match=message):
        sd.export(g, tmp_path / "grad.py")
    assert not (tmp_path / "grad.py").exists()


def cubed_norm(s):
    return np.linalg.norm(s * np.array([0.3, 0.5, -0.2])) ** 3


SLOPE = sd.grad(cubed_norm)


def calls_a_derivative(s):
    return SLOPE(s) * s


def test_a_derivative_of_a_derivative_is_refused_as_such(tmp_path):
    """A derivative of a derivative (np.linalg.norm's third, sd.grad called inside) runs the
    compiler as it goes: refused in those words, at the user's function, where it was
    taken for a rule the user registered."""
    third = sd.grad(sd.grad(sd.grad(cubed_norm)))
    assert third(1.1) == pytest.approx(6 * 0.38**1.5, rel=1e-12)  # (|x| s)^3: 6 |x|^3
    with pytest.raises(sd.CompileError) as raised:
        sd.export(third, tmp_path / "grad.py")
    message = str(raised.value)
    assert "sd.grad(sd.grad(sd.grad(cubed_norm))), a derivative of order 3" in message
    assert f"{__file__}:" in message and "registered" not in message
    g = sd.grad(calls_a_derivative)
    g(1.1)
    with pytest.raises(sd.CompileError, match=r"SLOPE, sd.grad\(cubed_norm\): a derivative"):
        sd.export(g, tmp_path / "grad.py")
    assert not (tmp_path / "grad.py").exists()


def test_a_users_rule_and_a_function_called_as_it_is_are_refused(tmp_path):
    def cubic(x):
        return x**3

    def counted(x):
        return np.sum(cubic(x)) * len(textwrap.dedent("ab"))

    @sd.register_vjp(cubic)
    def cubic_vjp(g, ans, x):
        return g * 3 * x**2

    g = sd.grad(counted)
    g(X)
    with pytest.raises(sd.CompileError, match="cubic, which has a rule registered"):
        sd.export(g, tmp_path / "grad.py")


def test_before_any_call_and_for_other_objects_it_says_what_to_do(tmp_path):
    with pytest.raises(RuntimeError, match="call g first"):
        sd.export(sd.grad(root), tmp_path / "grad.py")
    with pytest.raises(TypeError, match="made by sd.grad"):
        sd.export(root, tmp_path / "grad.py")


def two_modules_globals(x):
    return np.sum(x * SHIFT + shifted(x))  # shifted reads export_other's SHIFT


def two_modules_imports(x):
    return np.sum(act(x) + activated(x))  # activated reads export_other's act


def two_functions_named_squash(x, w):
    return np.sum(squash(x, w)) + squashed(x)  # squashed calls export_other's squash


def _with_a_factor():
    factor = 5.0  # export_other's scaled_by_factor has a factor of its own

    def closure_and_callee(x):
        return np.sum(x * factor + scaled_by_factor(x))

    return closure_and_callee


@pytest.mark.parametrize(
    ("fn", "args", "renamed"),
    [
        (two_modules_globals, (X,), "SHIFT_2 = 100.0  # SHIFT, of export_other"),
        (two_modules_imports, (X,), "from numpy import sin as act_2"),
        (two_functions_named_squash, (X, Y), "def squash_2(h):"),
        (_with_a_factor(), (X,), "factor_2 = 2.0  # factor, a closure variable of _scaler."),
    ],
)
def test_two_objects_under_one_name_stay_two(tmp_path, numpy_only, fn, args, renamed):
    """Globals, functions and closure variables of one name holding different objects
    (of two modules, or a closure's and a module's) are two globals of the exported
    module, the code reading the second renamed to match."""
    g = sd.grad(fn, wrt=tuple(range(len(args))))
    want = g(*args)
    path = exported(g, tmp_path)
    (got,) = run(path, [(f"grad_{fn.__name__}", args, {})], numpy_only)
    assert_same(got, want)
    assert renamed in path.read_text()


def test_a_global_renamed_where_it_would_rename_a_local_is_refused(tmp_path):
    def loss(x):
        return np.sum(x * SHIFT + shifted_sum(x))

    g = sd.grad(loss)
    g(X)
    renamed = "with its globals renamed (SHIFT as SHIFT_2), which would rename its local names"
    with pytest.raises(sd.CompileError, match=re.escape(renamed)):
        sd.export(g, tmp_path / "grad.py")


def test_a_function_calling_its_name_now_another_is_refused(tmp_path, monkeypatch):
    countdown = export_other.countdown  # what loss calls, and what countdown calls: for now

    def loss(x):
        return np.sum(countdown(x, 2))

    g = sd.grad(loss)
    g(X)
    monkeypatch.setattr(export_other, "countdown", lambda x, n: x * 3.0)
    with pytest.raises(sd.CompileError, match="it calls countdown, which is now another"):
        sd.export(g, tmp_path / "grad.py")


def squares(x):
    return x * x


def comprehension_of_calls(x):  # a call's result, in the list, may be an entry of x
    return np.sum([squares(v) for v in x])


def test_a_comprehension_of_calls_on_entries_of_its_argument(tmp_path, numpy_only):
    """The list holds what ``squares`` returns, which may be an entry of ``x``: its
    appends were taken for possible updates of ``x``, and the export refused."""
    g = sd.grad(comprehension_of_calls)
    want = g(X.copy())
    got = run(exported(g, tmp_path), [("grad_comprehension_of_calls", (X.copy(),), {})],
              numpy_only)  # fmt: skip
    assert_same(got[0], want)


def comprehension_of_a_lambda(x):
    square = lambda t: t * t
    return np.sum([square(v) for v in x])


def writes_into_its_argument(x):
    x[0] = 2.0
    return np.sum(x * x)


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (comprehension_of_a_lambda, "the function square defined inside "
         "comprehension_of_a_lambda, which srcdiff compiles on its own"),
        (writes_into_its_argument, "updates its arguments in place (x; line {line}: "
         "`x[0] = 2.0`)"),
    ],
)  # fmt: skip
def test_a_refusal_says_its_true_reason(tmp_path, fn, message):
    g = sd.grad(fn)
    g(X.copy())
    with pytest.raises(sd.CompileError) as raised:
        sd.export(g, tmp_path / "grad.py")
    line = inspect.getsourcelines(fn)[1] + 1
    assert message.format(line=line) in str(raised.value)


def _larger(a, b):
    return a if np.sum(a) > np.sum(b) else b


def possibly_updated(x):
    t = _larger(x, x * 3.0)  # x itself where its sum is the larger
    t += 1.0
    return np.sum(t * t)


def test_a_function_possibly_updating_its_argument_is_refused_saying_where():
    g = sd.grad(possibly_updated)
    g(X.copy())
    with pytest.raises(sd.CompileError) as raised:
        sd.export(g, "unwritten.py")
    line = inspect.getsourcelines(possibly_updated)[1] + 2
    assert (
        "srcdiff compiled as possibly updating x in place: it cannot rule out that x shares or "
        f"holds the object updated at line {line}: `t += 1.0`"
    ) in str(raised.value)


def test_the_module_loads_without_being_registered(tmp_path):
    """Run by exec in a dict, or made from a spec and not put in sys.modules: the
    dataclasses written out (rt.Spread for a function called) look nothing up there."""
    g = sd.grad(model_loss, wrt=(0, 1))
    want = g(X, Y)
    path = exported(g, tmp_path)
    namespace = {"__name__": "vendored"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102
    spec = importlib.util.spec_from_file_location("vendored", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "vendored" not in sys.modules
    assert_same(namespace["grad_model_loss"](X, Y), want)
    assert_same(module.grad_model_loss(X, Y), want)


def test_not_exported_says_why_in_words(tmp_path):
    g = sd.grad(scaled_sum, wrt=(0, 1))
    g(X, scale=2.0)
    module = runpy.run_path(str(exported(g, tmp_path)))
    grad, not_exported = module["grad_scaled_sum"], module["NotExported"]
    with pytest.raises(not_exported, match="it leaves out scale, which every call the "
                       "gradient was compiled for passed"):  # fmt: skip
        grad(X)
    with pytest.raises(not_exported, match="it passes shift, which no call the gradient "
                       "was compiled for passed"):  # fmt: skip
        grad(X, scale=2.0, shift=1.0)
    with pytest.raises(not_exported) as raised:
        grad([1.0, 2.0], scale=2.0)
    assert str(raised.value).startswith(
        "scaled_sum called with x a list, tuple or dict, scale an array or number; shapes: "
        "scale a number, x no shape; no gradient was exported for such a call (those "
        "exported are for: x an array or number, scale an array or number; shapes: scale a "
        "number, x (a,)): "
    )


def test_a_modules_statements_are_cut_from_its_source_as_the_parser_counts_lines():
    """Constants are written out from a module's source split once: each statement's text
    is ``ast.get_source_segment``'s (lines ended by ``\\r`` too, a form feed not ending
    one, columns in UTF-8 bytes)."""
    text = "a = 1\x0c\nb = 'é' ; c = 2\r\nd = (1,\r 2)\nif a:\n    e = 'ü' * 2\nf = 3"
    tree, lines = EXPORT._module_source(text)
    statements = [*tree.body, *tree.body[4].body]
    assert [EXPORT._segment(lines, s) for s in statements] == [
        ast.get_source_segment(text, s) for s in statements
    ]

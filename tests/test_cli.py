"""``python -m srcdiff show FILE.py:FUNCTION --args ... [--wrt ...]``."""

import contextlib
import importlib
import io
import os
import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import srcdiff as sd

cli = importlib.import_module("srcdiff.__main__")

MODEL = textwrap.dedent("""
    import numpy as np

    def loss(w, x, y):
        h = np.tanh(x @ w)
        if h.sum() > 0:
            h = h * 2.0
        return np.mean((h - y) ** 2)

    def guarded(x):
        try:
            with np.errstate(all="raise"):
                return np.sum(x * x)
        except FloatingPointError:
            return 0.0

    class Model:
        def energy(x):
            return np.sum(x ** 2)

    class Spring:
        def energy(self, x):
            return np.sum(3.0 * x ** 2)

    def vector(w, x):
        return np.sum(np.tanh(x @ w))

    def corner(m):
        return m[0, 1] * 2.0

    def cube(t):
        return t[0, 1, 2] * 2.0

    def mixed(w, x, threshold):
        h = np.tanh(x @ w)
        if h.mean() > threshold:
            h = h * 2.0
        return np.sum(h * h)

    def root(x):
        return np.sum(np.sqrt(x))

    not_a_function = 3
""")


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    return path


def show(*args, cwd=None) -> subprocess.CompletedProcess:
    """``python -m srcdiff show ARGS`` run in this process (the command itself runs in
    test_usage_errors_exit_2): its exit code and what it printed. The file it imports, and
    modules beside it, are forgotten after, and the path, the directory restored."""
    out, err = io.StringIO(), io.StringIO()
    path, modules, here = list(sys.path), set(sys.modules), os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(["show", *map(str, args)])
            except SystemExit as exit:
                code = exit.code
    finally:
        os.chdir(here)
        added = [p for p in sys.path if p not in path]
        sys.path[:] = path
        for name in set(sys.modules) - modules:
            where = getattr(sys.modules[name], "__file__", None) or ""
            if name == cli.MODULE_NAME or any(where.startswith(p) for p in added):
                del sys.modules[name]
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def test_prints_the_gradient_source(model_file):
    result = show(
        f"{model_file}:loss",
        "--args",
        "np.ones((3, 2)) * 0.5",
        "np.ones((4, 3))",
        "np.zeros((4, 2))",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "# srcdiff: gradient of loss" in out and "with respect to w" in out
    assert "def loss_primal(" in out and "def loss_adjoint(" in out
    assert "# line 7: h = h * 2.0" in out and "if branch taken" in out  # the path it took
    compile(out, "<shown>", "exec")  # valid Python


def test_wrt_names(model_file):
    result = show(
        f"{model_file}:loss",
        "--args",
        "np.ones((3, 2))",
        "np.ones((4, 3))",
        "np.zeros((4, 2))",
        "--wrt",
        "w",
        "y",
    )
    assert result.returncode == 0, result.stderr
    assert "with respect to w, y" in result.stdout


@pytest.mark.parametrize("split", [["--wrt", "y", "w"], ["--wrt", "y", "--wrt", "w"]])
def test_repeated_options_add_up(model_file, split):
    """``--wrt y --wrt w`` is ``--wrt y w`` (the last alone was used), and so for --args."""
    result = show(f"{model_file}:loss", "--args", "np.ones((3, 2))", "--args", "np.ones((4, 3))",
                  "np.zeros((4, 2))", *split)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "with respect to w, y" in result.stdout


def test_method_by_dotted_name(model_file):
    result = show(f"{model_file}:Model.energy", "--args", "np.arange(3.0)")
    assert result.returncode == 0, result.stderr
    assert "gradient of Model.energy" in result.stdout


@pytest.mark.parametrize(
    "target, args, message",
    [
        ("missing.py:loss", ["1.0"], "no such file: missing.py"),
        ("{file}:nope", ["1.0"], "has no function 'nope'"),
        ("{file}:not_a_function", ["1.0"], "is a int, not a function"),
        ("{file}", ["1.0"], "expected FILE.py:FUNCTION"),
        ("{file}:loss", ["np.ones((3,"], "cannot evaluate --args expression 'np.ones((3,'"),
        ("{file}:loss", ["undefined_name"], "NameError"),
        ("{file}:guarded", ["np.ones(3)"], "try"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(model_file, tmp_path, target, args, message):
    result = show(target.format(file=model_file), "--args", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m srcdiff show: error:")
    assert message in lines[0]


def test_usage_errors_exit_2():
    result = subprocess.run([sys.executable, "-m", "srcdiff"], capture_output=True, text=True)
    assert result.returncode == 2 and "usage:" in result.stderr


def test_without_args_it_calls_the_function_with_example_arrays(model_file):
    result = show(f"{model_file}:vector")  # floats fail on @, small vectors work
    assert result.returncode == 0, result.stderr
    assert "gradient of vector" in result.stdout and "def vector_adjoint(" in result.stdout
    result = show(f"{model_file}:vector", "--wrt", "x")
    assert "with respect to x" in result.stdout


def test_a_method_is_differentiated_on_an_instance(model_file):
    result = show(f"{model_file}:Spring.energy")
    assert result.returncode == 0, result.stderr
    assert "with respect to x" in result.stdout


def test_without_args_it_tries_numbers_vectors_and_matrices(model_file):
    result = show(f"{model_file}:corner")  # needs a matrix
    assert result.returncode == 0, result.stderr
    result = show(f"{model_file}:mixed")  # a matrix, a vector and a number
    assert result.returncode == 0, result.stderr
    assert "def mixed_adjoint(" in result.stdout


def test_a_function_it_cannot_call_is_a_one_line_error(model_file):
    result = show(f"{model_file}:cube")  # needs three dimensions
    assert result.returncode == 2
    assert "pass one --args EXPR for each of (t)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "target", ["examples/quickstart.py:loss", "examples/dynamic_graph.py:nonsense"]
)
def test_the_examples_functions_show_with_no_arguments(target):
    result = show(Path(__file__).parent.parent / target)
    assert result.returncode == 0, result.stderr
    assert "_adjoint(" in result.stdout


def test_forward_shows_the_tangent_source(model_file):
    result = show(f"{model_file}:vector", "--args", "np.ones((3, 2))", "np.ones((4, 3))",
                  "--forward")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "# srcdiff: forward mode of vector" in result.stdout
    assert "def vector_tangent(w, x, *, d_w, d_x):" in result.stdout


def test_check_finite_shows_where_a_nan_comes_from(model_file):
    result = show(f"{model_file}:root", "--args", "np.array([0.0, 1.0])", "--check-finite")
    assert result.returncode == 0, result.stderr
    assert "rt.check_finite(" in result.stdout
    assert "# NonFiniteError:" in result.stdout and "np.sqrt(x) has slope" in result.stdout


def test_paths_lists_the_paths_in_the_users_terms(model_file):
    result = show(f"{model_file}:mixed", "--args", "np.ones((3, 2))", "np.ones((4, 3))", "0.0",
                  "--paths")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "mixed (" in result.stdout and "path" in result.stdout


def test_export_writes_the_gradient_as_a_module_needing_numpy_alone(model_file, tmp_path):
    out = tmp_path / "grad_loss.py"
    args = ["np.ones((3, 2)) * 0.5", "np.ones((4, 3))", "np.zeros((4, 2))"]
    result = show(f"{model_file}:loss", "--args", *args, "--export", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"wrote {out}: grad_loss, the gradient of {model_file}:loss on 1 path, in a module "
        "needing NumPy alone\n"
    )
    script = (  # srcdiff blocked: the module must not need it
        "import sys; sys.modules['srcdiff'] = None; import numpy as np; import grad_loss; "
        f"np.save('got.npy', grad_loss.grad_loss({', '.join(args)}))"
    )
    ran = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    loss = runpy.run_path(str(model_file))["loss"]
    want = sd.grad(loss)(*(eval(a, {"np": np}) for a in args))  # noqa: S307 - given above
    np.testing.assert_array_equal(np.load(tmp_path / "got.npy"), want)


def test_export_goes_with_neither_forward_nor_paths(model_file, tmp_path):
    result = show(f"{model_file}:loss", "--export", tmp_path / "g.py", "--paths")
    assert result.returncode == 2
    assert "--export writes the gradient: it does not go with --paths" in result.stderr
    assert not (tmp_path / "g.py").exists()


def test_explain_annotates_the_source_and_says_why_a_gradient_is_zero(model_file):
    result = show(f"{model_file}:mixed", "--args", "np.ones((3, 2))", "-np.ones((4, 3))", "0.0",
                  "--wrt", "w", "threshold", "--explain")  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "# srcdiff explain: mixed" in out and "# t1: float64[4, 2]" in out
    assert "threshold has a zero gradient" in out and "condition" in out


def test_check_grad_compares_each_gradient_with_finite_differences(model_file):
    result = show(f"{model_file}:loss", "--args", "np.ones((3, 2)) * 0.5", "np.ones((4, 3))",
                  "np.zeros((4, 2))", "--check-grad")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "check_grad loss" in result.stdout and ": all agree" in result.stdout

"""Values that are not real floats on a differentiated path: complex numbers are refused
wherever they would carry a gradient, a ``dtype=`` of integers gives the zero gradient
of a piecewise constant function, and an object or complex ``dtype=`` is refused."""

import numpy as np
import pytest

import srcdiff as sd

X = np.array([0.5, 1.5, 2.25])
C = np.array([1j, 2 + 1j, -1 - 0.5j])


# ---- complex values ------------------------------------------------------------------------

THROUGH_COMPLEX = {
    "abs": lambda x, c: np.sum(np.abs(c * x)),
    "absolute": lambda x, c: np.sum(np.absolute(c * x)),
    "norm": lambda x, c: np.linalg.norm(c * x),
    "abs-squared": lambda x, c: np.sum(np.abs(c * x) ** 2),
    "dot": lambda x, c: np.abs(np.dot(c, x)),
    "matmul": lambda x, c: np.abs(c @ x),
    "divide": lambda x, c: np.sum(np.abs(x / c)),
    "power": lambda x, c: np.sum(np.abs(x**c)),
    "max": lambda x, c: np.max(np.abs(c * x)),
    "astype": lambda x, c: np.sum((c * x).real.astype(float) + np.abs(c * x)),
}


@pytest.mark.parametrize("name", list(THROUGH_COMPLEX))
def test_a_gradient_through_a_complex_value_is_refused(name):
    """A complex constant not written as a literal (an argument here) made the rules of
    ``abs`` and the products use ``c`` where ``conj(c)`` belongs: a wrong gradient."""
    f = THROUGH_COMPLEX[name]
    with pytest.raises(sd.CompileError, match="complex value"):
        sd.grad(f)(X, C)
    with pytest.raises(sd.CompileError, match="complex value"):
        sd.jvp(lambda x: f(x, C), (X,), (np.ones(3),))


def _symmetric(x, c):
    """A complex symmetric matrix (not Hermitian: no conjugate, which is refused)."""
    return np.outer(c * x, c) + np.outer(c, c * x) + np.diag(np.arange(1.0, 4.0))


def _var_written(x, c):
    out = np.zeros(2)
    out[0] = np.var(c * x)
    return np.sum(out)


def _std_as_float(x, c):
    return float(np.std(c * x))


def _eigvalsh_written(x, c):
    out = np.zeros(3)
    out[:] = np.linalg.eigvalsh(_symmetric(x, c))
    return np.sum(out * np.arange(3.0))


def _singular_values_written(x, c):
    out = np.zeros(3)
    out[:] = np.linalg.svd(_symmetric(x, c), compute_uv=False)
    return np.sum(out * np.arange(3.0))


def _svdvals_written(x, c):
    out = np.zeros(3)
    out[:] = np.linalg.svdvals(_symmetric(x, c))
    return np.sum(out * np.arange(3.0))


def _eigh_written(x, c):
    out = np.zeros(3)
    out[:] = np.linalg.eigh(_symmetric(x, c))[0]
    return np.sum(out * np.arange(3.0))


@pytest.mark.parametrize(
    "f", [_var_written, _std_as_float, _eigvalsh_written, _singular_values_written,
          _svdvals_written, _eigh_written],
)  # fmt: skip
def test_a_real_value_made_of_a_complex_one_is_refused_in_both_modes(f):
    """A variance or a decomposition's real values of a complex array, written into a real
    array (or made a float): forward mode kept the real part of a tangent that the rules,
    written for real values, made wrong; reverse mode raised a TypeError, or NumPy's."""
    with pytest.raises(sd.CompileError, match="complex value"):
        sd.grad(f)(X, C)
    with pytest.raises(sd.CompileError, match="complex value"):
        sd.jvp(lambda x: f(x, C), (X,), (np.ones(3),))


def test_forward_mode_of_a_complex_linear_function_is_its_complex_derivative():
    value, tangent = sd.jvp(lambda x: np.sum(C * x), (X,), (np.ones(3),))
    assert value == np.sum(C * X) and tangent == np.sum(C)


def test_eager_abs_of_a_complex_tensor_is_refused():
    a = sd.tensor([1.0], requires_grad=True)
    with pytest.raises(sd.CompileError, match="complex value"):
        (a * 1j).abs().sum().backward()


def test_complex_arguments_results_and_cotangents_are_refused():
    with pytest.raises(TypeError, match="complex argument"):
        sd.grad(lambda z: np.sum(np.abs(np.exp(z))))(np.array([1j]))
    with pytest.raises(TypeError, match="complex argument"):
        sd.grad(lambda z: abs(z) ** 2)(1 + 1j)
    with pytest.raises(TypeError, match="returned a complex value"):
        sd.grad(lambda x, c: np.sum(x * c))(X, C)
    with pytest.raises(TypeError, match="returned a complex value"):
        sd.grad(lambda x: np.sum(x) * (1 + 1j))(X)
    _, pull = sd.vjp(lambda x: x * x, X)
    with pytest.raises(TypeError, match="complex result or cotangent"):
        pull(1j * X)


# ---- dtype= --------------------------------------------------------------------------------

PIECEWISE_CONSTANT = {
    "sum": lambda x: np.sum(x**2, dtype=int),
    "sum-method": lambda x: (x**2).sum(dtype=np.int8),
    "prod": lambda x: np.prod(x + 1.0, dtype=int),
    "cumsum": lambda x: np.sum(np.cumsum(x**2, dtype=int)),
    "cumprod": lambda x: np.sum(np.cumprod(x, dtype=np.int64)),
    "mean": lambda x: np.mean(x**2, dtype=int),
    "trace": lambda x: np.trace(np.outer(x, x), dtype=int),
    "bool": lambda x: np.sum(x, dtype=bool),
}


@pytest.mark.parametrize("name", list(PIECEWISE_CONSTANT))
def test_a_reduction_to_integers_has_a_zero_gradient(name):
    """``np.sum(x, dtype=int)`` truncates every entry: its gradient is zero (it was the
    float gradient, silently)."""
    f = PIECEWISE_CONSTANT[name]

    def g(x):
        return f(x) + np.sum(x * x)

    np.testing.assert_allclose(sd.grad(g)(X), 2 * X)
    _, tangent = sd.jvp(g, (X,), (np.ones(3),))
    assert tangent == pytest.approx(np.sum(2 * X))


def dtype_given(x, dtype):
    return np.sum(np.cumsum(x**2, dtype=dtype)) + np.sum(x * x, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, int, bool])
def test_a_dtype_known_only_when_the_code_runs(dtype):
    floats = np.dtype(dtype).kind == "f"
    expected = 2 * X * np.array([4.0, 3.0, 2.0]) if floats else 0 * X  # cumsum: 3, 2, 1 times
    got = sd.grad(dtype_given)(X, dtype)
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    _, tangent = sd.jvp(lambda x: dtype_given(x, dtype), (X,), (np.ones(3),))
    assert tangent == pytest.approx(np.sum(expected), rel=1e-4)


def test_a_float32_dtype_passes_the_gradient_on_in_the_arguments_dtype():
    got = sd.grad(lambda x: np.sum(x**2, dtype=np.float32))(X)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, 2 * X)


OBJECT_DTYPES = {
    "array": lambda x: np.sum(np.array(x, dtype=object) ** 2),
    "astype": lambda x: np.sum(x.astype(object) ** 2),
    "full": lambda x: np.sum(np.full(2, x[0], dtype=object)),
    "complex": lambda x: np.sum(np.abs(x.astype(np.complex128))),
}


@pytest.mark.parametrize("name", list(OBJECT_DTYPES))
def test_a_cast_to_objects_or_complex_numbers_is_refused(name):
    """``dtype=object`` zeroed the gradient without a word."""
    with pytest.raises(sd.CompileError, match="dtype="):
        sd.grad(OBJECT_DTYPES[name])(X)


def test_a_list_of_integers_is_refused_as_an_integer_is():
    """``np.array([1, 2, 3])`` is an integer array: its gradient was zero."""
    with pytest.raises(TypeError, match="integer"):
        sd.grad(lambda x: np.sum(np.array(x) ** 2))([1, 2, 3])
    got = sd.grad(lambda p: np.sum(p[0] ** 2) * p[1])((X, 3))
    np.testing.assert_allclose(got[0], 6 * X)


def test_the_norm_of_a_list():
    np.testing.assert_allclose(
        sd.grad(lambda x: np.linalg.norm(x) ** 2)([1.0, 2.0, 3.0]), [2.0, 4.0, 6.0]
    )


def test_integers_in_a_part_of_their_own_are_numbers_like_any_other():
    w = np.ones(4)
    got = sd.grad(lambda p: np.sum(np.reshape(p[0], p[1]) ** 2))((w, (2, 2)))
    np.testing.assert_allclose(got[0], 2 * w)
    assert got[1] == (0.0, 0.0)


def integer_entry_then_product(x):
    y = np.zeros(3, dtype=int)
    y[1] = len(x)
    y = y * x
    return np.sum(y**2)


def test_an_integer_written_into_an_integer_array_in_forward_mode():
    """The tangent of ``len(x)`` written into the tangent of an integer array is an
    integer zero (a float one was refused as a truncation, in forward mode only)."""
    d = np.array([0.3, -0.2, 0.5])
    value, tangent = sd.jvp(integer_entry_then_product, (X,), (d,))
    assert value == pytest.approx(integer_entry_then_product(X))
    assert tangent == pytest.approx(float(sd.grad(integer_entry_then_product)(X) @ d))
    assert tangent == pytest.approx(2 * 9 * X[1] * d[1])

"""Rules of np.fft: the inverse real transforms of real arrays, in each norm, with lengths
``n``/``s`` that cut or pad the input, odd and even, along each axis; the transforms
with complex results are refused."""

import numpy as np
import pytest

import srcdiff as sd
import srcdiff.runtime as rt
from tests.soundness.verify import verify_both_modes

from .spec import Sampler, Spec, table_tests

R = Sampler(43)
NORMS = [None, "backward", "ortho", "forward"]


def helper_spec(shape, s, axes, norm=None):
    """``rt.irfft_grad`` of a result's cotangent shaped by ``s`` along ``axes``."""
    a = R(shape)
    out = np.fft.irfftn(a, s, axes, norm)
    return Spec(rt.irfft_grad, (R(out.shape), a, axes, norm), wrt=(0,), label=f"{shape}-{s}")


SPECS = [
    *[Spec(np.fft.irfft, (R((5,)),), {"norm": m}) for m in NORMS],
    *[Spec(np.fft.irfft, (R((5,)), n)) for n in (3, 4, 7, 8, 11, 12)],  # cut, padded
    Spec(np.fft.irfft, (R((1,)), 1)),
    Spec(np.fft.irfft, (R((3, 4)),), {"axis": 0}),
    Spec(np.fft.irfft, (R((3, 4)), 5, -2, "ortho")),
    Spec(np.fft.irfft, (R((2, 3, 4)),), {"n": 7, "axis": 1}),
    *[Spec(np.fft.hfft, (R((4,)),), {"norm": m}) for m in NORMS],
    *[Spec(np.fft.hfft, (R((3, 4)), n)) for n in (3, 5, 6, 9)],
    Spec(np.fft.hfft, (R((3, 4)),), {"axis": 0, "norm": "ortho"}),
    *[Spec(np.fft.irfftn, (R((3, 4)),), {"norm": m}) for m in NORMS],
    Spec(np.fft.irfftn, (R((2, 3, 4)),)),
    Spec(np.fft.irfftn, (R((2, 3, 4)), (4, 5))),  # the last two axes, padded and cut
    Spec(np.fft.irfftn, (R((2, 3, 4)), (3, 2, 6), (2, 0, 1), "forward")),
    Spec(np.fft.irfftn, (R((2, 3, 4)),), {"axes": (0, 2)}),
    Spec(np.fft.irfftn, (R((3, 4)),), {"s": (2, 7), "axes": (-1, -2)}),
    Spec(np.fft.irfft2, (R((3, 4)),)),
    Spec(np.fft.irfft2, (R((2, 3, 4)),)),  # the last two axes, not irfftn's all three
    Spec(np.fft.irfft2, (R((2, 3, 4)),), {"axes": None}),  # all three, as irfftn's
    Spec(np.fft.irfft2, (R((2, 3, 4)), (5, 4)), {"norm": "ortho"}),
    Spec(np.fft.irfft2, (R((2, 3, 4)),), {"axes": (0, 1)}),
    helper_spec((5,), (8,), (0,)),
    helper_spec((3, 4), (5,), (0,), "ortho"),
    helper_spec((2, 3, 4), (2, 7), (2, 0), "forward"),
]

(test_rule_matches_finite_differences, test_float32_gradients_stay_float32) = table_tests(SPECS)


def _series(c):
    """A real signal from real spectral coefficients."""
    return np.sum(np.fft.irfft(c, 16) ** 2 * np.arange(16.0))


def _hermitian(c):
    return np.sum(np.sin(np.fft.hfft(c * c, 9, norm="ortho")))


def _of_a_list(x):
    return np.sum(np.fft.irfft([x[0], x[1] * 2.0, x[2]], 5) ** 2 * np.arange(5.0))


@pytest.mark.parametrize("fn", [_series, _hermitian, _of_a_list])
def test_inverse_real_transforms_through_the_compiler_in_both_modes(fn):
    verify_both_modes(fn, (R((6,)),), np.random.default_rng(0))


def _spectrum(x):
    return np.sum(np.abs(np.fft.rfft(x)) ** 2)


def _round_trip(x, c):
    return np.sum(np.fft.irfft(np.fft.rfft(x) * c))


def _of_complex(x, c):
    return np.sum(np.fft.irfft(c * x))


@pytest.mark.parametrize("mode", ["grad", "jvp"])
def test_transforms_with_complex_results_are_refused_with_what_to_write(mode):
    x = R((8,))
    call = (lambda: sd.grad(_spectrum)(x)) if mode == "grad" else (
        lambda: sd.jvp(_spectrum, (x,), (x,)))  # fmt: skip
    with pytest.raises(sd.CompileError, match=r"np.fft.rfft gives complex values") as caught:
        call()
    assert "test_spectral.py" in str(caught.value) and "np.cos and np.sin" in str(caught.value)
    with pytest.raises(sd.CompileError, match=r"np.fft.rfft gives complex values"):
        sd.grad(_round_trip)(x, np.exp(1j * np.arange(5.0)))


ROTATION = np.array([1 + 2j, 0.5 - 1j, 2 + 0.3j])


def _of_complex_vectors(x):
    u = np.linalg.svd(np.outer(ROTATION * x, ROTATION) + np.eye(3))[0]
    return np.sum(np.fft.irfft(u[:, 0], 4) ** 2)


def test_an_inverse_transform_of_a_complex_array_is_refused():
    """Its gradient would be complex: srcdiff's rules are written for real values. In
    forward mode, the transform of a complex tangent was real, and wrong where a rule
    written for real values (svd's) made it."""
    with pytest.raises(sd.CompileError, match="a complex value carries a gradient"):
        sd.grad(_of_complex)(R((5,)), np.exp(1j * np.arange(5.0)))
    with pytest.raises(sd.CompileError, match="a complex value carries a gradient"):
        sd.jvp(_of_complex_vectors, (R((3,)),), (np.ones(3),))


def _twice(a):
    return np.sum(np.fft.irfftn(a, (7, 6), (0, 0)) ** 2)


def test_an_axis_transformed_twice_is_refused():
    """NumPy runs one transform after the other along it; the gradient was the transpose
    of one, silently wrong."""
    with pytest.raises(sd.CompileError, match="an axis given twice"):
        sd.grad(_twice)(R((3, 5)))


def _into_hfft_out(a):
    buf = np.zeros(8)
    np.fft.hfft(a, out=buf)
    return np.sum(buf**2) + np.sum(a)


def _into_irfft2_out(a):
    buf = np.zeros((2, 8))
    np.fft.irfft2(np.stack([a, a * 2.0]), None, (-2, -1), None, buf)
    return np.sum(buf**2) + np.sum(a)


CONSTANT = R((2, 4))


def _into_ifft2_out_of_a_constant(a):
    buf = np.zeros((2, 4), dtype=complex)
    np.fft.ifft2(CONSTANT, out=buf)
    return np.sum(a) * (1.0 + np.sum(np.abs(buf)))


@pytest.mark.parametrize("fn", [_into_hfft_out, _into_irfft2_out, _into_ifft2_out_of_a_constant])
def test_an_out_numpy_leaves_as_it_is_is_refused(fn):
    """NumPy's hfft, ifft2 and irfft2 write their result into a new array whatever out=
    is; compiled code wrote it into out, another value than the plain call's (a constant
    transform's too)."""
    a = R((5,))
    for call in (lambda: sd.grad(fn)(a), lambda: sd.jvp(fn, (a,), (a,))):
        with pytest.raises(sd.CompileError, match="which NumPy leaves as it is") as caught:
            call()
        assert "test_spectral.py" in str(caught.value)

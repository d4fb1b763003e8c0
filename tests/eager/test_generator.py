"""``sd.manual_seed`` and ``sd.Generator`` give PyTorch's CPU numbers: the values below
are the ones PyTorch prints (its documentation and tutorials show them to four places),
and the algorithms are checked for what they must do whatever the values."""

from fractions import Fraction

import numpy as np
import pytest

import srcdiff as sd
from srcdiff.fused import fma


@pytest.mark.parametrize(
    "seed, make, expected",
    [
        (42, lambda: sd.randn(1).tolist() + sd.randn(1).tolist(), [0.3367, 0.1288]),
        (42, lambda: sd.randn(3).tolist(), [0.3367, 0.1288, 0.2345]),
        (0, lambda: sd.randn(3).tolist(), [1.5410, -0.2934, -2.1788]),
        (0, lambda: sd.rand(3).tolist(), [0.4963, 0.7682, 0.0885]),
        (42, lambda: sd.rand(3).tolist(), [0.8823, 0.9150, 0.3829]),
    ],
)
def test_a_seed_gives_pytorchs_numbers(seed, make, expected):
    sd.manual_seed(seed)
    assert make() == pytest.approx(expected, abs=1e-4)


def test_the_tutorials_parameters_start_where_pytorchs_do():
    sd.manual_seed(42)
    a = sd.randn(1, requires_grad=True, dtype=sd.float)
    b = sd.randn(1, requires_grad=True, dtype=sd.float)
    assert repr(a) == "tensor([0.3367], requires_grad=True)"
    assert repr(b) == "tensor([0.1288], requires_grad=True)"


def test_a_generator_has_its_own_stream_and_state():
    g = sd.Generator().manual_seed(7)
    state = g.get_state()
    first = sd.randn(5, generator=g).tolist()
    g.set_state(state)
    assert sd.randn(5, generator=g).tolist() == first
    assert g.initial_seed() == 7
    sd.manual_seed(7)
    assert sd.randn(5).tolist() == first  # the default generator, seeded alike


def test_many_normals_are_box_muller_over_blocks_of_sixteen():
    sd.manual_seed(3)
    x = sd.randn(20_000, dtype=sd.float64).numpy()
    assert abs(x.mean()) < 0.03 and abs(x.std() - 1.0) < 0.03
    sd.manual_seed(3)
    first16 = sd.randn(16, dtype=sd.float64).numpy()
    sd.manual_seed(3)
    assert np.array_equal(sd.randn(32, dtype=sd.float64).numpy()[:16], first16)


def test_integers_and_permutations():
    sd.manual_seed(1)
    r = sd.randint(3, 9, (1000,)).numpy()
    assert r.min() == 3 and r.max() == 8
    p = sd.randperm(50).numpy()
    assert sorted(p.tolist()) == list(range(50)) and p.tolist() != list(range(50))


def _rounded(exact: Fraction, dtype) -> float:
    """``exact`` rounded to ``dtype`` once, to nearest, ties to even."""
    near = dtype(float(exact))  # within an ulp: one of near's neighbours is the answer
    candidates = [np.nextafter(near, dtype(-np.inf)), near, np.nextafter(near, dtype(np.inf))]
    best = min(abs(Fraction(float(c)) - exact) for c in candidates)
    ties = [c for c in candidates if abs(Fraction(float(c)) - exact) == best]
    return min(ties, key=lambda c: int(np.asarray(c).view(f"u{np.dtype(dtype).itemsize}")) % 2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_fused_multiply_add_rounds_once(dtype):
    """The normals' ``z * std + mean`` is PyTorch's fused multiply-add: checked against
    exact rationals on random operands, and on ties that only the product's last bits
    break: ``(1 - eps/2)(2 + 2 eps) = 2 + eps - eps**2`` rounds to 2, and ``2 + c`` is a
    tie when ``c`` is a large float whose spacing is 4 (scaled by powers of 2, signs
    flipped), where rounding twice goes wrong."""
    rng = np.random.default_rng(7)
    eps = float(np.finfo(dtype).eps)
    scale = 2.0 ** rng.integers(-20, 20, 300) * rng.choice([-1.0, 1.0], 300)
    a = np.concatenate([rng.standard_normal(300), (1 - eps / 2) * scale])
    b = np.concatenate([rng.standard_normal(300), np.full(300, 2 + 2 * eps)])
    large = 2.0 ** (np.finfo(dtype).nmant + 2) + 8.0 * rng.integers(0, 1000, 300)
    c = np.concatenate(
        [rng.standard_normal(300) * 2.0 ** rng.integers(-40, 40, 300), large * scale]
    )
    a, b, c = (v.astype(dtype) for v in (a, b, c))
    got = fma(a, b, c)
    exact = [
        Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        for x, y, z in zip(a, b, c, strict=True)
    ]
    want = np.array([_rounded(e, dtype) for e in exact], dtype=dtype)
    unfused = (a * b + c).astype(dtype)
    assert (unfused != want).sum() > 100  # the cases tell the two apart
    np.testing.assert_array_equal(got, want)
    # a few elements at a time take the element-by-element path: the same roundings
    few = [fma(a[i : i + 7], b[i : i + 7], c[i : i + 7]) for i in range(0, len(a), 7)]
    np.testing.assert_array_equal(np.concatenate(few), want)

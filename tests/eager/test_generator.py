"""``sd.manual_seed`` and ``sd.Generator`` give PyTorch's CPU numbers: the values below
are the ones PyTorch prints (its documentation and tutorials show them to four places),
and the algorithms are checked for what they must do whatever the values."""

import numpy as np
import pytest

import srcdiff as sd


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

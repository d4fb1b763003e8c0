"""nn.init: fans, gains, the bounds and standard deviations of PyTorch's documentation
(checked statistically on large tensors), seeding, and writing in place without a grad."""

import math

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import nn
from srcdiff.nn import init

# Tolerances for statistics of N = 10**6 draws: the sample std of N draws is within
# 0.3% of the true one with overwhelming probability, and every wrong formula tested
# against (fan_in for fan_in + fan_out, a std used as a bound, ...) is off by > 10%.
N_ROWS, N_COLS = 1000, 1000
REL = 0.01


def big(*shape, dtype=sd.float64):
    """A large parameter to fill; the generator seeded, so that a statistic's test does
    not depend on what ran before it."""
    sd.manual_seed(7)
    return nn.Parameter(sd.empty(*(shape or (N_ROWS, N_COLS)), dtype=dtype))


def values(t):
    return t.detach().numpy().astype(np.float64)


def norm_pdf(x):
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def norm_cdf(x):
    return (1 + math.erf(x / math.sqrt(2))) / 2


# ---- fans and gains --------------------------------------------------------------------------


def test_fans_of_a_linear_weight_are_its_inputs_and_outputs():
    layer = nn.Linear(3, 5)
    assert init._calculate_fan_in_and_fan_out(layer.weight) == (3, 5)


@pytest.mark.parametrize(
    "shape, fans",
    [
        ((16, 8, 3), (8 * 3, 16 * 3)),  # conv1d: (out, in, k)
        ((16, 8, 3, 5), (8 * 15, 16 * 15)),  # conv2d: (out, in, kh, kw)
        ((4, 2, 3, 3, 3), (2 * 27, 4 * 27)),  # conv3d
    ],
)
def test_fans_of_a_conv_weight_count_the_receptive_field(shape, fans):
    assert init._calculate_fan_in_and_fan_out(sd.empty(*shape)) == fans


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(sd.empty(5))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(sd.empty(5))


@pytest.mark.parametrize(
    "nonlinearity, param, gain",
    [
        ("linear", None, 1.0),
        ("conv1d", None, 1.0),
        ("conv2d", None, 1.0),
        ("conv3d", None, 1.0),
        ("conv_transpose1d", None, 1.0),
        ("conv_transpose2d", None, 1.0),
        ("conv_transpose3d", None, 1.0),
        ("sigmoid", None, 1.0),
        ("tanh", None, 5 / 3),
        ("relu", None, 2**0.5),
        ("leaky_relu", None, (2 / (1 + 0.01**2)) ** 0.5),
        ("leaky_relu", 0.2, (2 / 1.04) ** 0.5),
        ("leaky_relu", 0, 2**0.5),
        ("selu", None, 0.75),
    ],
)
def test_calculate_gain_matches_pytorchs_table(nonlinearity, param, gain):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(gain, rel=1e-12)


def test_calculate_gain_refuses_unknown_nonlinearities_and_slopes():
    with pytest.raises(ValueError, match="Unsupported nonlinearity softplus"):
        init.calculate_gain("softplus")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "0.1")


# ---- simple fills ----------------------------------------------------------------------------


def test_uniform_has_the_bounds_mean_and_variance_of_u_a_b():
    a, b = -3.0, 5.0
    v = values(init.uniform_(big(), a, b))
    assert a <= v.min() and v.max() < b
    assert v.min() < a + 0.01 and v.max() > b - 0.01  # it fills the whole interval
    assert v.mean() == pytest.approx((a + b) / 2, abs=0.01)
    assert v.std() == pytest.approx((b - a) / math.sqrt(12), rel=REL)


def test_normal_has_the_mean_and_std_asked_for():
    v = values(init.normal_(big(), mean=2.0, std=0.5))
    assert v.mean() == pytest.approx(2.0, abs=0.005)
    assert v.std() == pytest.approx(0.5, rel=REL)


def test_constant_ones_zeros():
    t = sd.empty(3, 4)
    assert np.all(init.constant_(t, 0.25).numpy() == 0.25)
    assert np.all(init.ones_(t).numpy() == 1)
    assert np.all(init.zeros_(t).numpy() == 0)
    n = sd.empty(2, dtype=sd.int64)
    assert init.constant_(n, 7).tolist() == [7, 7] and n.dtype == sd.int64


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2)])
def test_eye_is_the_identity_of_any_rectangle(shape):
    t = init.eye_(sd.full(shape, 9.0))
    np.testing.assert_array_equal(t.numpy(), np.eye(*shape))


def test_eye_needs_two_dimensions():
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        init.eye_(sd.empty(2, 2, 2))


def test_random_fills_refuse_integer_tensors():
    with pytest.raises(RuntimeError, match="floating-point"):
        init.normal_(sd.zeros(3, dtype=sd.int64))


# ---- Xavier and Kaiming ----------------------------------------------------------------------


def test_xavier_uniform_bound_is_gain_sqrt_6_over_fan_in_plus_fan_out():
    t = big(400, 1600)  # fan_in 1600, fan_out 400: fan_in alone would be 12% off
    gain = 5 / 3
    bound = gain * math.sqrt(6 / (1600 + 400))
    v = values(init.xavier_uniform_(t, gain=gain))
    assert np.abs(v).max() <= bound
    assert np.abs(v).max() > 0.999 * bound
    assert v.std() == pytest.approx(bound / math.sqrt(3), rel=REL)


def test_xavier_normal_std_is_gain_sqrt_2_over_fan_in_plus_fan_out():
    t = big(20, 50, 10, 10)  # fan_in 5000, fan_out 2000
    v = values(init.xavier_normal_(t, gain=2.0))
    assert v.mean() == pytest.approx(0.0, abs=6e-4)  # 5 standard errors
    assert v.std() == pytest.approx(2.0 * math.sqrt(2 / 7000), rel=REL)


@pytest.mark.parametrize(
    "a, mode, nonlinearity, fan, gain",
    [
        (0, "fan_in", "leaky_relu", 2000, math.sqrt(2)),  # the defaults: leaky_relu slope 0
        (0, "fan_out", "relu", 500, math.sqrt(2)),
        (0.2, "fan_in", "leaky_relu", 2000, math.sqrt(2 / 1.04)),
        (0, "FAN_IN", "tanh", 2000, 5 / 3),
    ],
)
def test_kaiming_uniform_bound_is_gain_sqrt_3_over_fan(a, mode, nonlinearity, fan, gain):
    t = big(500, 2000)
    bound = gain * math.sqrt(3 / fan)
    v = values(init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity))
    assert np.abs(v).max() <= bound
    assert np.abs(v).max() > 0.999 * bound
    assert v.std() == pytest.approx(gain / math.sqrt(fan), rel=REL)


def test_kaiming_uniform_with_slope_sqrt_5_is_linears_default_bound():
    t = big(1000, 250)
    v = values(init.kaiming_uniform_(t, a=math.sqrt(5)))
    bound = 1 / math.sqrt(250)
    assert np.abs(v).max() <= bound and np.abs(v).max() > 0.999 * bound


@pytest.mark.parametrize("mode, fan", [("fan_in", 2000), ("fan_out", 500)])
def test_kaiming_normal_std_is_gain_over_sqrt_fan(mode, fan):
    t = big(500, 2000)
    v = values(init.kaiming_normal_(t, mode=mode, nonlinearity="relu"))
    assert v.mean() == pytest.approx(0.0, abs=1e-3)
    assert v.std() == pytest.approx(math.sqrt(2) / math.sqrt(fan), rel=REL)


def test_kaiming_refuses_an_unknown_mode_and_skips_empty_tensors():
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(sd.empty(3, 4), mode="fan_avg")
    empty = sd.empty(0, 4)
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        assert init.kaiming_normal_(empty) is empty


# ---- truncated normal ------------------------------------------------------------------------


def truncated_moments(mean, std, a, b):
    """The mean and std of N(mean, std**2) truncated to [a, b] (textbook formulas)."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    z = norm_cdf(beta) - norm_cdf(alpha)
    m = mean + std * (norm_pdf(alpha) - norm_pdf(beta)) / z
    var = std**2 * (
        1
        + (alpha * norm_pdf(alpha) - beta * norm_pdf(beta)) / z
        - ((norm_pdf(alpha) - norm_pdf(beta)) / z) ** 2
    )
    return m, math.sqrt(var)


@pytest.mark.parametrize(
    "mean, std, a, b",
    [
        (0.0, 1.0, -2.0, 2.0),  # the defaults
        (1.0, 2.0, 0.0, 3.0),  # lopsided: the mean moves
        (0.0, 0.02, -0.04, 0.04),  # ViT's trunc_normal_(std=.02), bounds at 2 std
        (0.0, 1.0, 1.5, 4.0),  # a tail
    ],
)
def test_trunc_normal_has_the_moments_of_the_truncated_distribution(mean, std, a, b):
    v = values(init.trunc_normal_(big(), mean, std, a, b))
    assert a <= v.min() and v.max() <= b
    # Clamping a normal instead would pile values up on the bounds.
    assert np.mean((v == a) | (v == b)) < 1e-5
    m, s = truncated_moments(mean, std, a, b)
    assert v.mean() == pytest.approx(m, abs=0.003 * std)
    assert v.std() == pytest.approx(s, rel=REL)


def test_trunc_normal_warns_when_the_mean_is_far_from_the_interval():
    with pytest.warns(UserWarning, match="more than 2 std"):
        init.trunc_normal_(sd.empty(10), mean=10.0, std=1.0, a=-2.0, b=2.0)


# ---- orthogonal ------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 6), (4, 9), (9, 4), (4, 2, 3, 3)])
def test_orthogonal_gives_orthonormal_rows_or_columns_times_gain(shape):
    t = init.orthogonal_(sd.empty(*shape, dtype=sd.float64), gain=2.0)
    m = t.numpy().reshape(shape[0], -1)
    rows, cols = m.shape
    gram = m @ m.T if rows <= cols else m.T @ m
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_is_not_always_the_same_matrix():
    a = init.orthogonal_(sd.empty(5, 5)).numpy().copy()
    b = init.orthogonal_(sd.empty(5, 5)).numpy()
    assert not np.allclose(a, b)


def test_orthogonal_needs_two_dimensions():
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(sd.empty(4))


# ---- random streams --------------------------------------------------------------------------

RANDOM = [
    lambda t, **g: init.uniform_(t, -1.0, 1.0, **g),
    lambda t, **g: init.normal_(t, 0.0, 1.0, **g),
    lambda t, **g: init.xavier_uniform_(t, **g),
    lambda t, **g: init.xavier_normal_(t, **g),
    lambda t, **g: init.kaiming_uniform_(t, **g),
    lambda t, **g: init.kaiming_normal_(t, **g),
    lambda t, **g: init.trunc_normal_(t, **g),
    lambda t, **g: init.orthogonal_(t, **g),
]


@pytest.mark.parametrize("fill", RANDOM)
def test_manual_seed_makes_random_fills_repeat(fill):
    sd.manual_seed(123)
    first = fill(sd.empty(6, 5)).numpy().copy()
    second = fill(sd.empty(6, 5)).numpy().copy()
    sd.manual_seed(123)
    again = fill(sd.empty(6, 5)).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("fill", RANDOM)
def test_a_generator_is_used_instead_of_the_global_one(fill):
    one = fill(sd.empty(6, 5), generator=np.random.default_rng(7)).numpy().copy()
    sd.manual_seed(5)
    two = fill(sd.empty(6, 5), generator=np.random.default_rng(7)).numpy()
    after = sd.randn(4).numpy()
    np.testing.assert_array_equal(one, two)
    sd.manual_seed(5)
    np.testing.assert_array_equal(after, sd.randn(4).numpy())  # the global stream is untouched


def test_random_fills_draw_from_the_stream_of_randn_and_rand():
    sd.manual_seed(11)
    expected = sd.randn(3, 4, dtype=sd.float64).numpy()
    sd.manual_seed(11)
    np.testing.assert_array_equal(init.normal_(sd.empty(3, 4, dtype=sd.float64)).numpy(), expected)
    sd.manual_seed(11)
    expected = sd.empty(3, 4).uniform_(-2, 3).numpy()
    sd.manual_seed(11)
    np.testing.assert_array_equal(init.uniform_(sd.empty(3, 4), -2, 3).numpy(), expected)


# ---- in place --------------------------------------------------------------------------------

ALL = [
    *RANDOM,
    lambda t, **g: init.constant_(t, 0.5),
    lambda t, **g: init.ones_(t),
    lambda t, **g: init.zeros_(t),
    lambda t, **g: init.eye_(t),
]


@pytest.mark.parametrize("fill", ALL)
def test_a_parameter_is_filled_in_place_and_stays_a_leaf(fill):
    layer = nn.Linear(5, 6)
    weight, array = layer.weight, layer.weight._data
    saved = layer.state_dict()["weight"]  # shares the weight's memory
    before = array.copy()
    assert fill(weight) is weight  # no_grad is not needed: the initializer records nothing
    assert weight._data is array and weight.is_leaf and weight.requires_grad
    assert weight.grad_fn is None and weight.grad is None
    assert not np.array_equal(array, before)
    np.testing.assert_array_equal(saved.numpy(), array)
    assert layer.weight is weight and list(layer.parameters())[0] is weight


@pytest.mark.parametrize("dtype", [sd.float16, sd.float32, sd.float64])
@pytest.mark.parametrize("fill", ALL)
def test_the_dtype_stays(fill, dtype):
    t = sd.zeros(4, 4, dtype=dtype)
    assert fill(t).dtype == dtype and t._data.dtype == dtype.numpy and t.device == "cpu"


def test_a_graph_that_used_the_old_values_sees_the_change():
    w = nn.Parameter(sd.ones(3, 3))
    loss = (w * w).sum()
    init.normal_(w)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_gradients_flow_through_an_initialized_parameter():
    w = init.xavier_uniform_(nn.Parameter(sd.empty(2, 3)))
    (w * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full((2, 3), 3.0, np.float32))


@pytest.mark.skipif(not sd.cuda.is_available(), reason="CuPy or a GPU is missing here")
@pytest.mark.parametrize("fill", ALL)
def test_cuda_tensors_stay_on_the_gpu_with_the_cpus_values(fill):
    import cupy

    sd.manual_seed(3)
    cpu = fill(sd.zeros(6, 5)).numpy().copy()
    sd.manual_seed(3)
    t = sd.zeros(6, 5, device="cuda")
    array = t._data
    assert fill(t) is t and t._data is array and isinstance(t._data, cupy.ndarray)
    np.testing.assert_allclose(t.cpu().numpy(), cpu, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "fill, message",
    [  # PyTorch 2.13's refusals, in its words
        (
            lambda t: t.uniform_(1.0, 0.0),
            "expects to return a \\[from, to\\) range, but found from=1 > to=0",
        ),
        (lambda t: t.uniform_(0.0, math.inf), "to is out of bounds for float"),
        (lambda t: t.uniform_(math.nan, 1.0), "from is out of bounds for float"),
        (lambda t: t.normal_(0.0, -1.0), "normal expects std >= 0.0, but found std -1"),
        (lambda t: t.normal_(0.0, math.nan), "normal expects std >= 0.0, but found std nan"),
        (lambda t: t.bernoulli_(1.5), "bernoulli_ expects p to be in \\[0, 1\\], but got p=1.5"),
        (lambda t: init.uniform_(t, 1.0, 0.0), "found from=1 > to=0"),
        (lambda t: init.normal_(t, 0.0, -1.0), "but found std -1"),
        (lambda t: init.trunc_normal_(t, 0.0, 1.0, 1.0, -1.0), "found from=1 > to=-1"),
        (lambda t: init.xavier_normal_(t, gain=-1.0), "normal expects std >= 0.0"),
    ],
)
def test_fills_refuse_what_pytorch_refuses(fill, message):  # (trunc_normal_ takes a negative std)
    with pytest.raises(RuntimeError, match=message):
        fill(sd.empty(2, 3))


def test_fills_take_what_pytorch_takes_at_the_edges():
    assert sd.empty(3).uniform_(0.0, 0.0).tolist() == [0.0] * 3
    assert sd.empty(3).normal_(0.0, 0.0).tolist() == [0.0] * 3
    assert sd.empty(3, dtype=sd.float64).uniform_(0.0, 1e300).isfinite().all()


def test_orthogonal_draws_its_normal_matrix_in_the_tensors_dtype():
    # PyTorch 2.13's first row after torch.manual_seed(0) for a float32 (4, 5) tensor
    # (its float32 normals; the QR's last bits are LAPACK's own)
    sd.manual_seed(0)
    row = init.orthogonal_(sd.empty(4, 5))[0].tolist()
    expected = [-0.628862738609314, -0.6436762809753418, -0.13996621966362,
                -0.24235261976718903, 0.33449503779411316]  # fmt: skip
    np.testing.assert_allclose(row, expected, rtol=1e-5)

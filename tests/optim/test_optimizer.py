"""What every optimizer shares: parameter groups, validation of what it is given,
zero_grad, step(closure), in-place updates that older graphs notice, and state dicts."""

import copy

import numpy as np
import pytest

from srcdiff import nn, optim
from srcdiff.creation import manual_seed, ones, randn, tensor, zeros
from srcdiff.dtypes import float64
from srcdiff.grad_mode import no_grad
from srcdiff.optim import SGD, Adam


def model_and_batch():
    manual_seed(0)
    return nn.Linear(3, 2), randn(8, 3), randn(8, 2)


def train(model, optimizer, x, y, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()


# ---- parameter groups -----------------------------------------------------------------


def test_params_from_a_generator_make_one_group_with_the_defaults():
    model, _, _ = model_and_batch()
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    (group,) = optimizer.param_groups
    assert all(a is b for a, b in zip(group["params"], model.parameters(), strict=True))
    assert group["lr"] == 0.1 and group["momentum"] == 0.9 and group["nesterov"] is False


def test_groups_override_the_defaults():
    model, x, y = model_and_batch()
    optimizer = SGD([{"params": [model.weight]}, {"params": model.bias, "lr": 0.0}], lr=0.1)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.0]
    bias = model.bias.detach().numpy().copy()
    weight = model.weight.detach().numpy().copy()
    train(model, optimizer, x, y, 1)
    assert np.array_equal(model.bias.detach().numpy(), bias)
    assert not np.array_equal(model.weight.detach().numpy(), weight)


def test_add_param_group():
    a, b = zeros(1, requires_grad=True), zeros(1, requires_grad=True)
    optimizer = Adam([a], lr=0.1)
    optimizer.add_param_group({"params": [b], "lr": 0.5})
    assert optimizer.param_groups[1]["lr"] == 0.5
    assert optimizer.param_groups[1]["betas"] == (0.9, 0.999)
    # a group's own values are not checked, as in PyTorch: a negative lr ascends there
    c = zeros(1, requires_grad=True)
    optimizer.add_param_group({"params": [c], "lr": -0.5})
    with pytest.raises(ValueError, match="Invalid learning rate: -0.5"):
        Adam([c], lr=-0.5)  # the constructor's are


def test_a_group_may_set_what_the_constructor_could_not():
    # SGD(momentum=0.9, nesterov=True) with a group without momentum: PyTorch checks the
    # constructor's values alone, and the group steps as plain SGD
    a, b = zeros(1, requires_grad=True), zeros(1, requires_grad=True)
    optimizer = SGD([{"params": [a]}, {"params": [b], "momentum": 0}], lr=0.1, momentum=0.9,
                    nesterov=True)  # fmt: skip
    (a + b).sum().backward()
    optimizer.step()
    assert a.tolist() == [-0.1899999976158142]  # PyTorch 2.13 (nesterov: g + momentum * g)
    assert b.tolist() == [-0.10000000149011612]


def test_named_parameters_give_param_names():
    model = nn.Linear(2, 1)
    optimizer = SGD(model.named_parameters(), lr=0.1)
    assert optimizer.param_groups[0]["param_names"] == ["weight", "bias"]
    assert optimizer.param_groups[0]["params"] == list(model.parameters())
    assert optimizer.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]
    with pytest.raises(ValueError, match="all optimizer param groups should be with/without"):
        optimizer.add_param_group({"params": [zeros(1, requires_grad=True)]})


def test_pytorchs_kernel_choices_are_kept_and_a_differentiable_step_refused():
    p = zeros(1, requires_grad=True)
    for make in (SGD, Adam):
        group = make([p], lr=0.1, foreach=False, fused=True).param_groups[0]
        assert group["foreach"] is False and group["fused"] is True
        with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
            make([p], lr=0.1, foreach=True, fused=True)
        with pytest.raises(NotImplementedError, match="differentiable=True"):
            make([p], lr=0.1, differentiable=True)
    assert SGD([p]).param_groups[0]["lr"] == 1e-3  # PyTorch's default


@pytest.mark.parametrize(
    "params, error, message",
    [
        ([], ValueError, "optimizer got an empty parameter list"),
        (
            zeros(2, requires_grad=True),
            TypeError,
            "should be an iterable of Tensors or dicts, but got srcdiff.FloatTensor",
        ),
        (
            [np.zeros(2)],
            TypeError,
            "optimizer can only optimize Tensors, but one of the params is ndarray",
        ),
        ({zeros(1, requires_grad=True)}, TypeError, "ordered collections"),
        ([{"params": {zeros(1, requires_grad=True)}}], TypeError, "ordered collections"),
    ],
)
def test_what_optimizers_reject(params, error, message):
    with pytest.raises(error, match=message):
        SGD(params, lr=0.1)


def test_non_leaf_and_repeated_parameters():
    p = zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        SGD([p * 2], lr=0.1)
    kept = p * 2
    kept.retain_grad()
    SGD([kept], lr=0.1)  # a non-leaf that keeps its .grad: taken, as in PyTorch
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.warns(UserWarning, match="parameter group with duplicate parameters"):
        twice = SGD([p, p], lr=0.1)
    p.grad = ones(2)
    twice.step()  # updated once per entry, as PyTorch's for-loop step does
    assert p.tolist() == [-0.20000000298023224] * 2  # PyTorch 2.13 (float32)


def test_repr_lists_the_groups():
    optimizer = SGD([zeros(1, requires_grad=True)], lr=0.1)
    assert repr(optimizer) == (  # PyTorch 2.13's
        "SGD (\nParameter Group 0\n    dampening: 0\n    differentiable: False\n    foreach: None"
        "\n    fused: None\n    lr: 0.1\n    maximize: False\n    momentum: 0\n    nesterov: "
        "False\n    weight_decay: 0\n)"
    )


# ---- zero_grad and step ---------------------------------------------------------------


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    model, x, y = model_and_batch()
    optimizer = SGD(model.parameters(), lr=0.1)
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.zero_grad(set_to_none=set_to_none)
    for p in model.parameters():
        assert p.grad is None if set_to_none else np.all(p.grad.numpy() == 0)


def test_parameters_without_a_gradient_are_left_alone():
    used, unused = tensor([1.0], requires_grad=True), tensor([2.0], requires_grad=True)
    optimizer = Adam([used, unused], lr=0.1)
    (used * 3).sum().backward()
    optimizer.step()
    assert unused.tolist() == [2.0] and unused not in optimizer.state
    assert used.item() < 1.0


def test_step_with_a_closure_enables_grad_and_returns_the_loss():
    p = tensor([1.0, -2.0], requires_grad=True)
    optimizer = SGD([p], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with no_grad():
        loss = optimizer.step(closure)
    assert loss.item() == 5.0
    assert p.tolist() == [0.5, -1.0]  # p - 0.25 * 2p


def test_an_update_is_seen_by_a_graph_recorded_before_it():
    p = tensor([1.0, 2.0], requires_grad=True)
    loss = (p * p).sum()
    loss.backward(retain_graph=True)
    SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


# ---- state dicts ----------------------------------------------------------------------


def test_state_dict_numbers_parameters_in_group_order():
    model, x, y = model_and_batch()
    optimizer = SGD(
        [{"params": [model.weight]}, {"params": [model.bias], "lr": 0.5}], lr=0.1, momentum=0.9
    )
    train(model, optimizer, x, y, 1)
    state = optimizer.state_dict()
    assert [g["params"] for g in state["param_groups"]] == [[0], [1]]
    assert state["param_groups"][1]["lr"] == 0.5
    assert set(state["state"]) == {0, 1}
    assert state["state"][0]["momentum_buffer"].shape == model.weight.shape


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
        lambda ps: Adam(ps, lr=0.01, amsgrad=True),
    ],
)
def test_state_dict_round_trip_continues_the_same_run(make):
    model, x, y = model_and_batch()
    optimizer = make(model.parameters())
    train(model, optimizer, x, y, 2)
    twin = copy.deepcopy(model)
    twin_optimizer = make(twin.parameters())
    twin_optimizer.param_groups[0]["lr"] = 123.0  # replaced by the loaded value
    twin_optimizer.load_state_dict(optimizer.state_dict())
    assert twin_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    train(model, optimizer, x, y, 3)
    train(twin, twin_optimizer, x, y, 3)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())


def test_loaded_state_is_a_copy_in_the_parameter_dtype():
    p = tensor([1.0], requires_grad=True)
    optimizer = SGD([p], lr=0.1, momentum=0.9)
    p.grad = tensor([1.0])
    optimizer.step()
    q = tensor([1.0], dtype=float64, requires_grad=True)
    other = SGD([q], lr=0.1, momentum=0.9)
    other.load_state_dict(optimizer.state_dict())
    loaded = other.state[q]["momentum_buffer"]
    assert loaded.dtype == q.dtype
    assert loaded._data is not optimizer.state[p]["momentum_buffer"]._data


def test_load_state_dict_checks_the_groups():
    a, b = zeros(1, requires_grad=True), zeros(1, requires_grad=True)
    saved = SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        SGD([a], lr=0.1).load_state_dict(saved)


def test_a_parameter_listed_twice_takes_two_steps_one_after_the_other():
    # as PyTorch's for-loop: its step count and decay advance between the two updates
    # (PyTorch 2.13's values, float64)
    expected = {
        "Adam": [0.40000001200000124, -2.599999976],
        "AdamW": [0.35628165511497123, -2.4681587813840595],
        "Adagrad": [0.6360081064150006, -2.3639918935359994],
    }
    makers = {
        "Adam": lambda ps: Adam(ps, lr=0.1),
        "AdamW": lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.1),
        "Adagrad": lambda ps: optim.Adagrad(ps, lr=0.1),
    }
    for name, make in makers.items():
        p = tensor([1.0, -2.0], dtype=float64, requires_grad=True)
        with pytest.warns(UserWarning, match="duplicate parameters"):
            optimizer = make([p, p])
        for _ in range(3):
            p.grad = tensor([0.5, 0.25], dtype=float64)
            optimizer.step()
        assert p.tolist() == expected[name], name


def _steps_with(name: str, lr, **kwargs) -> list[float]:
    """Four steps of optimizer ``name`` on a quadratic: the parameter after them."""
    p = tensor([1.0, 2.0, -0.5], dtype=float64, requires_grad=True)
    optimizer = getattr(optim, name)([p], lr=lr, **kwargs)
    for _ in range(4):
        optimizer.zero_grad()
        ((p - 0.3) ** 2 * tensor([1.0, 2.0, 3.0], dtype=float64)).sum().backward()
        optimizer.step()
    return p.tolist()


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("SGD", {}),
        ("SGD", {"momentum": 0.9, "weight_decay": 0.1}),
        ("Adam", {"amsgrad": True}),
        ("AdamW", {}),
        ("RMSprop", {"centered": True, "momentum": 0.5}),
        ("Adagrad", {}),
    ],
)
def test_a_tensor_learning_rate_is_its_number(name, kwargs):
    """``lr=torch.tensor(0.1)``, which PyTorch takes, steps as ``lr=0.1`` does."""
    got = _steps_with(name, tensor(0.1, dtype=float64), **kwargs)
    assert got == _steps_with(name, 0.1, **kwargs)


def test_sparse_adam_is_refused_saying_gradients_are_dense():
    with pytest.raises(NotImplementedError, match="gradients are always dense.*use optim.Adam"):
        optim.SparseAdam([zeros(2, requires_grad=True)], lr=0.1)


def test_tensor_betas_and_a_tensor_set_in_the_group_later_are_their_numbers():
    """Tensor betas (a tuple holding Tensors) step as the numbers they hold, and so does a
    Tensor learning rate put into a group after some steps."""
    betas = (tensor(0.8, dtype=float64), tensor(0.99, dtype=float64))
    assert _steps_with("Adam", 0.1, betas=betas) == _steps_with("Adam", 0.1, betas=(0.8, 0.99))
    runs = []
    for lr in (0.05, tensor(0.05, dtype=float64)):
        p = tensor([1.0, 2.0], dtype=float64, requires_grad=True)
        optimizer = optim.SGD([p], lr=0.1)
        for i in range(3):
            if i == 1:
                optimizer.param_groups[0]["lr"] = lr
            optimizer.zero_grad()
            ((p - 0.3) ** 2).sum().backward()
            optimizer.step()
        runs.append(p.tolist())
    assert runs[0] == runs[1]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_a_step_marks_the_parameters_it_updated_as_changed_and_no_others(compiled):
    """The parameters a step updates (those with a gradient) get a new version, seen by a
    graph (or a compiled step's saved values) that read them before; one without a
    gradient keeps its version."""
    import srcdiff as sd

    w = nn.Parameter(tensor([1.0, 2.0], dtype=float64))
    frozen = nn.Parameter(tensor([3.0], dtype=float64))
    optimizer = SGD([w, frozen], lr=0.1)

    def step(x):
        before = (w * w * x).sum()  # saves w, read by its backward
        w.sum().backward()  # reads no saved value
        optimizer.step()
        before.backward()

    versions = (w._version.value, frozen._version.value)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (sd.differentiate(step) if compiled else step)(tensor([1.0, 1.0], dtype=float64))
    assert w._version.value == versions[0] + 1
    assert frozen._version.value == versions[1]
    assert w.tolist() == [1.0 - 0.1, 2.0 - 0.1]

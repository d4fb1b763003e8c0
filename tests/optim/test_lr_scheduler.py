"""Learning-rate schedules against the formulas PyTorch documents for them, epoch by
epoch, and their bookkeeping: initial_lr, get_last_lr, resuming, chaining and state dicts."""

import math
import warnings

import numpy as np
import pytest

from srcdiff.creation import tensor
from srcdiff.optim import SGD, Adam
from srcdiff.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LRScheduler,
    MultiStepLR,
    ReduceLROnPlateau,
    StepLR,
    _LRScheduler,
)

BASES = [0.1, 0.5]  # the lrs of two parameter groups


def optimizer(lrs=BASES):
    groups = [{"params": [tensor([0.0], requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, lr=1.0)


def schedule(scheduler, epochs):
    """The lrs of every group at epochs 0 (after construction), 1, ..., epochs, with an
    optimizer step before each scheduler step, as in a training loop."""
    lrs = [scheduler.get_last_lr()]
    for _ in range(epochs):
        scheduler.optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
    return np.array(lrs)


def formula(fn, epochs, bases=BASES):
    return np.array([[fn(base, t) for base in bases] for t in range(epochs + 1)])


# ---- the schedules, 10 epochs each ------------------------------------------------------


def test_step_lr():
    lrs = schedule(StepLR(optimizer(), step_size=3, gamma=0.5), 10)
    assert np.allclose(lrs, formula(lambda base, t: base * 0.5 ** (t // 3), 10), rtol=1e-12)
    assert lrs[2, 0] == 0.1 and lrs[3, 0] == 0.05  # the drop falls at epoch 3


def test_step_lr_default_gamma():
    lrs = schedule(StepLR(optimizer(), step_size=4), 10)
    assert np.allclose(lrs, formula(lambda base, t: base * 0.1 ** (t // 4), 10), rtol=1e-12)


def test_multi_step_lr_counts_repeated_milestones():
    lrs = schedule(MultiStepLR(optimizer(), milestones=[2, 5, 5, 8], gamma=0.1), 10)
    reached = [sum(m <= t for m in [2, 5, 5, 8]) for t in range(11)]
    assert reached[4:9] == [1, 3, 3, 3, 4]
    assert np.allclose(lrs, formula(lambda base, t: base * 0.1 ** reached[t], 10), rtol=1e-12)


def test_exponential_lr():
    lrs = schedule(ExponentialLR(optimizer(), gamma=0.9), 10)
    assert np.allclose(lrs, formula(lambda base, t: base * 0.9**t, 10), rtol=1e-12)


def cosine(eta_min, t_max):
    return lambda base, t: eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2


def test_cosine_annealing_recursion_equals_the_closed_form():
    lrs = schedule(CosineAnnealingLR(optimizer(), T_max=10, eta_min=0.01), 10)
    assert np.allclose(lrs, formula(cosine(0.01, 10), 10), rtol=0, atol=1e-14)
    assert np.allclose(lrs[-1], 0.01) and np.allclose(lrs[5], [0.055, 0.255])


def test_cosine_annealing_climbs_back_after_t_max():
    # past T_max the recurrence (with its special case at T_max + 1) follows the same cosine
    lrs = schedule(CosineAnnealingLR(optimizer(), T_max=4), 20)
    assert np.allclose(lrs, formula(cosine(0.0, 4), 20), rtol=0, atol=1e-14)
    assert np.allclose(lrs[8], BASES) and np.allclose(lrs[12], 0.0)


def test_cosine_annealing_recurs_from_the_current_lr():
    # PyTorch's form is a recurrence: a change made by hand is carried along, scaled
    scheduler = CosineAnnealingLR(optimizer([1.0]), T_max=10)
    schedule(scheduler, 3)
    scheduler.optimizer.param_groups[0]["lr"] *= 2
    (lr,) = schedule(scheduler, 1)[-1]
    closed = cosine(0.0, 10)
    assert np.isclose(lr, 2 * closed(1.0, 3) * closed(1.0, 4) / closed(1.0, 3))


def test_lambda_lr_one_function_per_group():
    functions = [lambda epoch: 0.95**epoch, lambda epoch: 1 / (epoch + 1)]
    lrs = schedule(LambdaLR(optimizer(), functions), 10)
    expected = np.array([[0.1 * 0.95**t, 0.5 / (t + 1)] for t in range(11)])
    assert np.allclose(lrs, expected, rtol=1e-12)


def test_lambda_lr_one_function_for_all():
    lrs = schedule(LambdaLR(optimizer(), lambda epoch: 1 - epoch / 20), 10)
    assert np.allclose(lrs, formula(lambda base, t: base * (1 - t / 20), 10), rtol=1e-12)


def test_lambda_lr_checks_the_number_of_functions():
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        LambdaLR(optimizer(), [lambda epoch: 1.0])


# ---- bookkeeping --------------------------------------------------------------------------


def test_construction_records_initial_lr_and_takes_the_first_step():
    opt = optimizer()
    scheduler = StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == BASES
    assert scheduler.base_lrs == BASES and scheduler.last_epoch == 0
    assert scheduler.get_last_lr() == BASES
    assert isinstance(scheduler, LRScheduler) and issubclass(_LRScheduler, LRScheduler)


def test_schedulers_need_an_optimizer():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        StepLR([], step_size=1)
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        ReduceLROnPlateau([])


def test_resuming_needs_initial_lr():
    with pytest.raises(KeyError, match=r"param 'initial_lr' is not specified in param_groups\[0\]"):
        StepLR(optimizer(), step_size=2, last_epoch=4)


def test_resuming_keeps_the_lrs_it_finds_then_continues_the_schedule():
    opt = optimizer()
    first = ExponentialLR(opt, gamma=0.5)
    schedule(first, 3)
    resumed = ExponentialLR(opt, gamma=0.5, last_epoch=3)  # its first step keeps the lrs
    assert resumed.last_epoch == 4
    assert np.allclose(resumed.get_last_lr(), [b * 0.5**3 for b in BASES])
    resumed.step()
    assert np.allclose(resumed.get_last_lr(), [b * 0.5**4 for b in BASES])


def test_cosine_resumed_recurs_from_the_lrs_it_finds():
    opt = optimizer()
    for group in opt.param_groups:
        group["initial_lr"] = group["lr"]
        group["lr"] = 0.5
    scheduler = CosineAnnealingLR(opt, T_max=10, last_epoch=2)
    assert scheduler.get_last_lr() == [0.5] * len(BASES)
    scheduler.step()
    ratio = (1 + math.cos(math.pi * 4 / 10)) / (1 + math.cos(math.pi * 3 / 10))
    assert np.allclose(scheduler.get_last_lr(), [0.5 * ratio] * len(BASES))


def test_a_group_added_after_the_scheduler_is_refused_at_its_step():
    opt = optimizer()
    scheduler = LambdaLR(opt, lambda epoch: 0.5**epoch)
    opt.add_param_group({"params": [tensor([0.0], requires_grad=True)], "lr": 1.0})
    with pytest.raises(ValueError, match="zip"):
        scheduler.step()


def test_chained_schedulers_multiply():
    opt = optimizer()
    schedulers = [ExponentialLR(opt, gamma=0.9), StepLR(opt, step_size=3, gamma=0.5)]
    lrs = [[g["lr"] for g in opt.param_groups]]
    for _ in range(10):
        opt.step()
        for s in schedulers:
            s.step()
        lrs.append([g["lr"] for g in opt.param_groups])
    expected = formula(lambda base, t: base * 0.9**t * 0.5 ** (t // 3), 10)
    assert np.allclose(lrs, expected, rtol=1e-12)


def test_step_with_an_epoch_is_deprecated_and_uses_the_closed_form():
    scheduler = StepLR(optimizer(), step_size=3, gamma=0.5)
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)`"):
        scheduler.step(7)
    assert scheduler.last_epoch == 7
    assert np.allclose(scheduler.get_last_lr(), [b * 0.25 for b in BASES])


def test_get_lr_outside_step_warns():
    scheduler = StepLR(optimizer(), step_size=3)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        scheduler.get_lr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler.step()


def test_the_optimizer_sees_the_scheduled_lr():
    p = tensor([1.0], requires_grad=True)
    opt = SGD([p], lr=1.0)
    scheduler = StepLR(opt, step_size=1, gamma=0.5)
    for expected in [1.0 - 1.0, 0.0 - 0.5, -0.5 - 0.25]:
        p.grad = tensor([1.0])
        opt.step()
        scheduler.step()
        assert p.item() == expected


@pytest.mark.parametrize(
    "make",
    [
        lambda opt: StepLR(opt, step_size=3, gamma=0.5),
        lambda opt: MultiStepLR(opt, milestones=[2, 6], gamma=0.3),
        lambda opt: ExponentialLR(opt, gamma=0.8),
        lambda opt: CosineAnnealingLR(opt, T_max=5, eta_min=0.001),
        lambda opt: LambdaLR(opt, lambda epoch: 1 / (1 + epoch)),
    ],
)
def test_state_dict_round_trip_mid_schedule(make):
    opt = optimizer()
    scheduler = make(opt)
    schedule(scheduler, 4)
    saved_opt, saved = opt.state_dict(), scheduler.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 4
    twin_opt = optimizer([9.0, 9.0])
    twin = make(twin_opt)
    twin_opt.load_state_dict(saved_opt)
    twin.load_state_dict(saved)
    assert twin.optimizer is twin_opt
    assert np.array_equal(schedule(twin, 8), schedule(scheduler, 8))


def test_lambda_lr_saves_the_state_of_callable_objects():
    class Warmup:
        def __init__(self, epochs):
            self.epochs = epochs

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.epochs)

    scheduler = LambdaLR(optimizer(), [Warmup(4), lambda epoch: 1.0])
    saved = scheduler.state_dict()
    assert saved["lr_lambdas"] == [{"epochs": 4}, None]
    other = LambdaLR(optimizer(), [Warmup(100), lambda epoch: 1.0])
    other.load_state_dict(saved)
    assert other.lr_lambdas[0].epochs == 4 and saved["lr_lambdas"] == [{"epochs": 4}, None]


def test_scheduling_an_adam_group_changes_its_steps():
    p = tensor([0.0], requires_grad=True)
    opt = Adam([p], lr=0.1)
    scheduler = StepLR(opt, step_size=1, gamma=0.1)
    moves = []
    for _ in range(3):
        before = p.item()
        p.grad = tensor([1.0])  # constant gradient: each Adam step is lr
        opt.step()
        scheduler.step()
        moves.append(before - p.item())
    assert np.allclose(moves, [0.1, 0.01, 0.001], rtol=1e-6)


# ---- ReduceLROnPlateau ---------------------------------------------------------------------


def plateau(metrics, lrs=(1.0,), **options):
    scheduler = ReduceLROnPlateau(optimizer(list(lrs)), **options)
    seen = []
    for m in metrics:
        scheduler.step(m)
        seen.append(scheduler.get_last_lr()[0])
    return seen, scheduler


def test_plateau_reduces_after_patience():
    # best 9 at epoch 2; epochs 3, 4 and 5 do not beat it by the relative 1e-4: 3 > patience 2
    seen, scheduler = plateau([10, 9, 9, 9, 9, 9, 9, 9.0], patience=2, factor=0.5)
    assert seen == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    assert scheduler.best == 9 and scheduler.last_epoch == 8


def test_plateau_default_patience_is_ten():
    seen, _ = plateau([1.0] * 13)
    assert seen == [1.0] * 11 + [0.1, 0.1]


def test_improvements_reset_the_count():
    seen, _ = plateau([5, 5, 4, 4, 3, 3, 3.0], patience=1, factor=0.5)
    assert seen == [1.0] * 6 + [0.5]


def test_relative_and_absolute_thresholds():
    # 9.95 is 0.5% below 10: an improvement by threshold 0.001 (rel), not by 0.1 (abs)
    rel, _ = plateau([10, 9.95], patience=0, threshold=1e-3)
    absolute, _ = plateau([10, 9.95], patience=0, threshold=0.1, threshold_mode="abs")
    assert rel == [1.0, 1.0] and absolute == [1.0, 0.1]


def test_max_mode():
    seen, scheduler = plateau([1, 2, 2, 3, 2.0], mode="max", patience=0, factor=0.5)
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25] and scheduler.best == 3


def test_cooldown_ignores_bad_epochs():
    # patience 1: without a cooldown, every second epoch of a plateau reduces; with
    # cooldown 2 the two epochs after a reduction do not count
    without, _ = plateau([1.0] * 9, patience=1, factor=0.5)
    with_cooldown, _ = plateau([1.0] * 9, patience=1, factor=0.5, cooldown=2)
    assert without == [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625]
    assert with_cooldown == [1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]


def test_min_lr_is_a_floor():
    seen, _ = plateau([1.0] * 5, patience=0, min_lr=0.05)
    assert np.allclose(seen, [1.0, 0.1, 0.05, 0.05, 0.05])


def test_min_lr_per_group_and_eps():
    scheduler = ReduceLROnPlateau(optimizer([1.0, 1.0]), patience=0, min_lr=[0.5, 0.0])
    for m in [1, 1, 1.0]:
        scheduler.step(m)
    assert np.allclose(scheduler.get_last_lr(), [0.5, 0.01])
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 1"):
        ReduceLROnPlateau(optimizer([1.0, 1.0]), min_lr=[0.5])
    # a change no larger than eps is not made
    tiny, _ = plateau([1.0] * 3, lrs=(1e-8,), patience=0, factor=0.5)
    assert tiny == [1e-8] * 3


def test_plateau_takes_a_tensor_metric_and_sets_no_initial_lr():
    opt = optimizer([1.0])
    scheduler = ReduceLROnPlateau(opt, patience=0)
    scheduler.step(tensor(2.0))
    scheduler.step(tensor([3.0]))
    assert scheduler.get_last_lr() == [0.1] and "initial_lr" not in opt.param_groups[0]


def test_plateau_validation():
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        ReduceLROnPlateau(optimizer(), factor=1.0)
    with pytest.raises(ValueError, match="mode up is unknown!"):
        ReduceLROnPlateau(optimizer(), mode="up")
    with pytest.raises(ValueError, match="threshold mode ratio is unknown!"):
        ReduceLROnPlateau(optimizer(), threshold_mode="ratio")


def test_plateau_state_dict_round_trip():
    metrics = [5, 4, 4, 4, 3, 3, 3, 3, 3, 3.0]
    _, scheduler = plateau(metrics[:5], patience=1, cooldown=1, factor=0.5)
    twin_opt = optimizer([7.0])
    twin = ReduceLROnPlateau(twin_opt)
    twin_opt.load_state_dict(scheduler.optimizer.state_dict())
    twin.load_state_dict(scheduler.state_dict())
    assert twin.patience == 1 and twin.best == 3 and twin.mode_worse == math.inf
    for m in metrics[5:]:
        scheduler.step(m)
        twin.step(m)
        assert twin.get_last_lr() == scheduler.get_last_lr()
    assert scheduler.get_last_lr() == [0.125]

"""Optimizers, learning-rate schedulers and losses written once against a module
``torch`` that is PyTorch itself in ``record.py`` and ``srcdiff`` in the tests, which
compare the numbers each gives (``values.json``, recorded with PyTorch 2.13 on the CPU).
Nothing here imports PyTorch or srcdiff (only NumPy), so the module serves both sides.

Each program returns ``{key: [numbers]}``.
"""

from __future__ import annotations

from typing import Any

Values = dict[str, list]


def values(t: Any) -> list:
    """The numbers of a tensor (float32 ones as their float64 decimals, exactly)."""
    return t.detach().reshape(-1).tolist()


# ---- optimizers ------------------------------------------------------------------------

OPTIMIZERS: dict[str, tuple[str, dict[str, Any]]] = {
    "nadam": ("NAdam", {"lr": 0.1}),
    "nadam-momentum_decay": ("NAdam", {"lr": 0.05, "betas": (0.8, 0.9), "momentum_decay": 0.3}),
    "nadam-weight_decay": ("NAdam", {"lr": 0.1, "weight_decay": 0.1}),
    "nadam-decoupled": ("NAdam", {"lr": 0.1, "weight_decay": 0.2, "decoupled_weight_decay": True}),
    "nadam-maximize": ("NAdam", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    "radam": ("RAdam", {"lr": 0.1}),
    "radam-rectified": ("RAdam", {"lr": 0.1, "betas": (0.9, 0.5)}),  # rho_t > 5 from step 1
    "radam-weight_decay": ("RAdam", {"lr": 0.1, "betas": (0.8, 0.6), "weight_decay": 0.1}),
    "radam-decoupled": (
        "RAdam",
        {"lr": 0.1, "betas": (0.8, 0.6), "weight_decay": 0.2, "decoupled_weight_decay": True},
    ),
    "radam-maximize": ("RAdam", {"lr": 0.1, "betas": (0.9, 0.5), "maximize": True}),
    "adamax": ("Adamax", {"lr": 0.1}),
    "adamax-betas": ("Adamax", {"lr": 0.05, "betas": (0.5, 0.7), "eps": 1e-3}),
    "adamax-weight_decay": ("Adamax", {"lr": 0.1, "weight_decay": 0.1}),
    "adamax-maximize": ("Adamax", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    "adadelta": ("Adadelta", {}),
    "adadelta-rho": ("Adadelta", {"lr": 0.5, "rho": 0.5, "eps": 1e-3}),
    "adadelta-weight_decay": ("Adadelta", {"lr": 2.0, "weight_decay": 0.1}),
    "adadelta-maximize": ("Adadelta", {"lr": 1.0, "weight_decay": 0.1, "maximize": True}),
    "rprop": ("Rprop", {"lr": 0.1}),
    "rprop-etas": ("Rprop", {"lr": 0.3, "etas": (0.3, 1.7), "step_sizes": (0.05, 0.4)}),
    "rprop-maximize": ("Rprop", {"lr": 0.1, "maximize": True}),
    "asgd": ("ASGD", {"lr": 0.1}),
    "asgd-t0": ("ASGD", {"lr": 0.1, "lambd": 0.01, "alpha": 0.5, "t0": 2, "weight_decay": 0.1}),
    "asgd-maximize": ("ASGD", {"lr": 0.05, "t0": 1, "maximize": True}),
}
STEPS = 5
SAVED_AT = 3  # the state_dict round trip: saved after this many steps, loaded, continued


def _problem(torch: Any, dtype: Any) -> tuple[Any, Any, Any]:
    """Two parameters and the loss whose gradients need no sum: 2 (w - t) and 0.5 b**2's
    b, elementwise, so the optimizers alone decide the values."""
    w = torch.tensor([[0.5, -1.25, 2.0], [1.5, 0.75, -0.3]], dtype=dtype, requires_grad=True)
    b = torch.tensor([0.1, -0.2, 0.7], dtype=dtype, requires_grad=True)
    t = torch.tensor([[1.0, 0.0, -1.0], [0.5, 2.0, 1.1]], dtype=dtype)

    def loss(w: Any, b: Any) -> Any:
        return ((w - t) ** 2).sum() + (b**2).sum() * 0.5

    return w, b, loss


def optimizers(torch: Any, differentiate: Any = None) -> Values:
    """Each optimizer of ``OPTIMIZERS``, ``STEPS`` steps in float64 and float32, with two
    parameter groups (the second with half the lr): the parameters after every step; and
    the same run saved after ``SAVED_AT`` steps, its ``state_dict`` loaded into a new
    optimizer that takes the remaining steps. ``differentiate``: the training step
    (zero_grad, backward, step) run as a compiled function."""
    out: Values = {}
    for key, (name, kwargs) in OPTIMIZERS.items():
        for dtype in ("float64", "float32"):
            w, b, loss = _problem(torch, getattr(torch, dtype))

            def make(w: Any, b: Any) -> Any:
                lr = kwargs.get("lr", 1.0)  # noqa: B023 (called in this iteration)
                groups = [{"params": [w]}, {"params": [b], "lr": lr / 2}]
                return getattr(torch.optim, name)(groups, **kwargs)  # noqa: B023

            def step(w: Any, b: Any, optimizer: Any) -> Any:
                optimizer.zero_grad()
                value = loss(w, b)  # noqa: B023 (called in this iteration)
                value.backward()
                optimizer.step()
                return value

            run = step if differentiate is None else differentiate(step)
            optimizer = make(w, b)
            trace, resumed = [], []
            for _ in range(STEPS):
                run(w, b, optimizer)
                trace += values(w) + values(b)
            w, b, _ = _problem(torch, getattr(torch, dtype))  # a run stopped early, then
            optimizer = make(w, b)  # its state loaded by a new optimizer of new parameters
            for _ in range(SAVED_AT):
                run(w, b, optimizer)
            w2 = torch.tensor(w.detach().numpy().copy(), requires_grad=True)
            b2 = torch.tensor(b.detach().numpy().copy(), requires_grad=True)
            loaded = make(w2, b2)
            loaded.load_state_dict(optimizer.state_dict())
            for _ in range(STEPS - SAVED_AT):
                run(w2, b2, loaded)
                resumed += values(w2) + values(b2)
            out[f"optim/{key}/{dtype}"] = trace
            out[f"optim-resumed/{key}/{dtype}"] = resumed
    return out


LONG_STEPS = 50


def long_nadam(torch: Any) -> Values:
    """NAdam over ``LONG_STEPS`` steps in float64 and float32, the parameters after each:
    its running product of momenta (``mu_product``, a float32 number in PyTorch's state
    whatever the parameters' dtype) enters every step's update."""
    out: Values = {}
    for dtype in ("float64", "float32"):
        w, b, loss = _problem(torch, getattr(torch, dtype))
        optimizer = torch.optim.NAdam([{"params": [w]}, {"params": [b], "lr": 0.05}], lr=0.1)
        trace: list = []
        for _ in range(LONG_STEPS):
            optimizer.zero_grad()
            loss(w, b).backward()
            optimizer.step()
            trace += values(w) + values(b)
        out[f"optim-long/nadam/{dtype}"] = trace
    return out


# ---- learning-rate schedulers ----------------------------------------------------------

EPOCHS = 40


def _schedulers(torch: Any) -> dict[str, Any]:
    """Makers of each scheduler, for an optimizer."""
    sched = torch.optim.lr_scheduler
    return {
        "MultiplicativeLR": lambda o: sched.MultiplicativeLR(o, lr_lambda=lambda e: 0.95),
        "MultiplicativeLR-epoch": lambda o: sched.MultiplicativeLR(
            o, lr_lambda=lambda e: 1.0 if e % 3 else 0.5
        ),
        "PolynomialLR": lambda o: sched.PolynomialLR(o),
        "PolynomialLR-power": lambda o: sched.PolynomialLR(o, total_iters=25, power=2.0),
        "PolynomialLR-root": lambda o: sched.PolynomialLR(o, total_iters=30, power=0.5),
        "CosineAnnealingWarmRestarts": lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=7),
        "CosineAnnealingWarmRestarts-T_mult": lambda o: sched.CosineAnnealingWarmRestarts(
            o, T_0=3, T_mult=2, eta_min=0.01
        ),
        "CyclicLR-triangular": lambda o: sched.CyclicLR(
            o, base_lr=0.01, max_lr=0.1, step_size_up=4
        ),
        "CyclicLR-triangular2": lambda o: sched.CyclicLR(
            o,
            base_lr=[0.01, 0.02],
            max_lr=0.1,
            step_size_up=3,
            step_size_down=5,
            mode="triangular2",
        ),  # fmt: skip
        "CyclicLR-exp_range": lambda o: sched.CyclicLR(
            o, base_lr=0.01, max_lr=0.2, step_size_up=5, mode="exp_range", gamma=0.95
        ),
        "CyclicLR-scale_fn": lambda o: sched.CyclicLR(
            o,
            base_lr=0.01,
            max_lr=0.1,
            step_size_up=4,
            scale_fn=lambda x: 1 / (x + 1),
            scale_mode="iterations",
        ),  # fmt: skip
        "CyclicLR-no-momentum": lambda o: sched.CyclicLR(
            o, base_lr=0.01, max_lr=0.1, step_size_up=4, cycle_momentum=False
        ),
        "ChainedScheduler": lambda o: sched.ChainedScheduler(
            [
                sched.ExponentialLR(o, gamma=0.9),
                sched.MultiplicativeLR(o, lambda e: 0.98),
                sched.StepLR(o, step_size=6, gamma=0.5),
            ]
        ),  # fmt: skip
        "ChainedScheduler-constant": lambda o: sched.ChainedScheduler(
            [sched.ConstantLR(o, factor=0.3, total_iters=5), sched.PolynomialLR(o, 30, 1.5)]
        ),
    }


def schedulers(torch: Any) -> Values:
    """The learning rates (and SGD's momentum) of each group of each scheduler, at the
    start and after each of ``EPOCHS`` epochs (``optimizer.step()`` then
    ``scheduler.step()``); and a run whose scheduler and optimizer are saved after 9
    epochs and loaded into new ones that go on to the end."""
    out: Values = {}
    for key, make in _schedulers(torch).items():
        trace, resumed = [], []
        p, q = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)

        def new(p: Any, q: Any) -> tuple[Any, Any]:
            groups = [{"params": [p]}, {"params": [q], "lr": 0.05}]
            optimizer = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
            return optimizer, make(optimizer)  # noqa: B023 (called in this iteration)

        def seen(optimizer: Any) -> list:
            return [v for g in optimizer.param_groups for v in (g["lr"], g["momentum"])]

        optimizer, scheduler = new(p, q)
        trace += seen(optimizer)
        for epoch in range(EPOCHS):
            optimizer.step()
            scheduler.step()
            trace += seen(optimizer)
            if epoch + 1 == 9:
                o2, s2 = new(torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True))
                o2.load_state_dict(optimizer.state_dict())
                s2.load_state_dict(scheduler.state_dict())
                for _ in range(EPOCHS - 9):
                    o2.step()
                    s2.step()
                    resumed += seen(o2)
        out[f"lr_scheduler/{key}"] = trace
        out[f"lr_scheduler-resumed/{key}"] = resumed
    return out


# ---- losses ----------------------------------------------------------------------------

X1 = [[0.3, -1.2, 0.8, 0.05], [1.1, 0.4, -0.7, 0.2], [-0.5, 0.9, 0.1, -1.3]]
X2 = [[0.7, 0.2, -0.4, 0.6], [-0.3, 1.5, 0.2, -0.8], [0.45, -0.5, 0.1, 0.9]]
X3 = [[-0.2, 0.6, 1.0, 0.3], [0.8, -0.1, 0.5, 0.4], [0.2, 0.3, -0.9, -0.6]]
RANK_Y = [1.0, -1.0, 1.0]
RANK_A = [0.3, -1.2, 0.8, 0.05, 1.1, 0.4]
RANK_B = [0.7, 0.2, 0.8, 0.6, -0.3, 1.5]
RANK_T = [1.0, -1.0, -1.0, 1.0, 1.0, -1.0]
COTANGENT = [0.7, -1.3, 2.1, 0.4, -0.6, 1.7]


def _losses(torch: Any) -> dict[str, Any]:
    """Each loss (module and function) on its inputs: ``(module_or_function, inputs)``,
    inputs as nested lists, the last of them a target that needs no gradient."""
    nn, F = torch.nn, torch.nn.functional
    out: dict[str, Any] = {}
    for r in ("mean", "sum", "none"):
        out[f"MarginRankingLoss/{r}"] = (
            nn.MarginRankingLoss(reduction=r),
            (RANK_A, RANK_B, RANK_T),
        )
        out[f"MarginRankingLoss-margin/{r}"] = (
            nn.MarginRankingLoss(margin=0.4, reduction=r),
            (RANK_A, RANK_B, RANK_T),
        )
        out[f"margin_ranking_loss/{r}"] = (
            lambda a, b, y, r=r: F.margin_ranking_loss(a, b, y, margin=0.2, reduction=r),
            (RANK_A, RANK_B, RANK_T),
        )
        out[f"CosineEmbeddingLoss/{r}"] = (nn.CosineEmbeddingLoss(reduction=r), (X1, X2, RANK_Y))
        out[f"CosineEmbeddingLoss-margin/{r}"] = (
            nn.CosineEmbeddingLoss(margin=0.1, reduction=r),
            (X1, X2, [-1.0, -1.0, 1.0]),
        )
        out[f"cosine_embedding_loss/{r}"] = (
            lambda a, b, y, r=r: F.cosine_embedding_loss(a, b, y, margin=-0.5, reduction=r),
            (X1, X2, [-1.0, 1.0, -1.0]),
        )
        out[f"TripletMarginLoss/{r}"] = (nn.TripletMarginLoss(reduction=r), (X1, X2, X3))
        out[f"TripletMarginLoss-p1-swap/{r}"] = (
            nn.TripletMarginLoss(margin=2.0, p=1.0, swap=True, reduction=r),
            (X1, X2, X3),
        )
        out[f"TripletMarginLoss-p3-swap/{r}"] = (
            nn.TripletMarginLoss(margin=1.5, p=3, eps=1e-3, swap=True, reduction=r),
            (X3, X1, X2),
        )
        out[f"triplet_margin_loss/{r}"] = (
            lambda a, p, n, r=r: F.triplet_margin_loss(a, p, n, margin=3.0, swap=True, reduction=r),
            (X2, X3, X1),
        )
    out["TripletMarginLoss-1d"] = (nn.TripletMarginLoss(margin=2.0), (X1[0], X2[0], X3[0]))
    out["CosineEmbeddingLoss-1d"] = (nn.CosineEmbeddingLoss(), (X1[0], X2[0], -1.0))
    return out


def losses(torch: Any, differentiate: Any = None) -> Values:
    """Each loss of ``_losses`` in float64: its value, then the gradients of
    ``(loss * cotangent).sum()`` with respect to its inputs (the third too, for the
    triplet loss, whose third input is a tensor of negatives). ``differentiate``: run as
    a compiled step."""
    out: Values = {}

    def step(loss: Any, a: Any, b: Any, c: Any) -> Any:
        y = loss(a, b, c)
        weight = torch.tensor(COTANGENT[: y.numel()], dtype=torch.float64).reshape(y.shape)
        (y * weight).sum().backward()
        return y.detach()

    run = step if differentiate is None else differentiate(step)
    for key, (loss, inputs) in _losses(torch).items():
        triplet = "riplet" in key
        a, b, c = (
            torch.tensor(v, dtype=torch.float64, requires_grad=i < 2 or triplet)
            for i, v in enumerate(inputs)
        )
        y = run(loss, a, b, c)
        out[f"loss/{key}"] = values(y) + values(a.grad) + values(b.grad)
        if triplet:
            out[f"loss/{key}"] += values(c.grad)
    return out


SCORES = [[1.5, 0.5, -0.25, 0.75], [0.2, -0.4, 1.1, 0.3], [-0.6, 0.9, 0.8, 0.05]]  # 1 - 1.5
CLASSES = [0, 2, 1]  # + 0.5: a margin term exactly 0 (no gradient, as PyTorch's kernel)
HINGE_X = [0.3, -1.2, 0.5, 1.05, 2.0, -0.4]  # 0.5 - 0.5 and 1 - 1.05 ...: ties at the margin
HINGE_T = [1.0, -1.0, -1.0, -1.0, 1.0, -1.0]


def _target_losses(torch: Any) -> dict[str, Any]:
    """Each loss of one input and a target (module and function) on its inputs:
    ``(module_or_function, input, target, integer_target)``."""
    nn, F = torch.nn, torch.nn.functional
    weight = torch.tensor([0.5, 2.0, 1.5, 0.25], dtype=torch.float64)
    out: dict[str, Any] = {}
    for r in ("mean", "sum", "none"):
        out[f"HingeEmbeddingLoss/{r}"] = (nn.HingeEmbeddingLoss(reduction=r), HINGE_X, HINGE_T, 0)
        out[f"HingeEmbeddingLoss-margin/{r}"] = (
            nn.HingeEmbeddingLoss(margin=0.5, reduction=r),
            HINGE_X,
            HINGE_T,
            0,
        )
        out[f"hinge_embedding_loss/{r}"] = (
            lambda x, y, r=r: F.hinge_embedding_loss(x, y, margin=2.0, reduction=r),
            SCORES,
            [[1.0, -1.0, 0.5, -1.0]] * 3,  # (neither 1 nor -1: both terms, as PyTorch)
            0,
        )
        out[f"MultiMarginLoss/{r}"] = (nn.MultiMarginLoss(reduction=r), SCORES, CLASSES, 1)
        out[f"MultiMarginLoss-p2-weight/{r}"] = (
            nn.MultiMarginLoss(p=2, margin=0.7, weight=weight, reduction=r),
            SCORES,
            CLASSES,
            1,
        )
        out[f"multi_margin_loss/{r}"] = (
            lambda x, y, r=r: F.multi_margin_loss(x, y, margin=0.4, weight=weight, reduction=r),
            SCORES,
            [3, 3, 0],
            1,
        )
    out["MultiMarginLoss-1d"] = (nn.MultiMarginLoss(p=2), SCORES[1], 3, 1)
    out["MultiMarginLoss-1d-batch"] = (nn.MultiMarginLoss(reduction="none"), SCORES[2], [1], 1)
    return out


def target_losses(torch: Any, differentiate: Any = None) -> Values:
    """Each loss of ``_target_losses`` in float64: its value, then the gradient of
    ``(loss * cotangent).sum()`` with respect to its input. ``differentiate``: run as a
    compiled step."""
    out: Values = {}

    def step(loss: Any, x: Any, target: Any) -> Any:
        y = loss(x, target)
        weight = torch.tensor((COTANGENT * 2)[: y.numel()], dtype=torch.float64).reshape(y.shape)
        (y * weight).sum().backward()
        return y.detach()

    run = step if differentiate is None else differentiate(step)
    for key, (loss, x, target, integer) in _target_losses(torch).items():
        x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        target = torch.tensor(target, dtype=torch.int64 if integer else torch.float64)
        y = run(loss, x, target)
        out[f"loss/{key}"] = values(y) + values(x.grad)
    return out


# ---- samplers and data loaders ---------------------------------------------------------

WEIGHTS = [0.1, 0.9, 0.4, 0.7, 3.0, 0.6]


def _samplers(torch: Any) -> dict[str, Any]:
    """Makers of each sampler (called after ``torch.manual_seed(7)``)."""
    data = torch.utils.data

    def gen(seed: int) -> Any:
        return torch.Generator().manual_seed(seed)

    return {
        "SequentialSampler": lambda: data.SequentialSampler(range(7)),
        "RandomSampler": lambda: data.RandomSampler(range(10)),
        "RandomSampler-generator": lambda: data.RandomSampler(range(10), generator=gen(1)),
        "RandomSampler-num_samples": lambda: data.RandomSampler(
            range(6), num_samples=15, generator=gen(2)
        ),
        "RandomSampler-num_samples-global": lambda: data.RandomSampler(range(5), num_samples=10),
        "RandomSampler-replacement": lambda: data.RandomSampler(
            range(9), replacement=True, num_samples=70, generator=gen(3)
        ),
        "RandomSampler-replacement-global": lambda: data.RandomSampler(range(9), replacement=True),
        "SubsetRandomSampler": lambda: data.SubsetRandomSampler([3, 8, 1, 9, 4], generator=gen(4)),
        "SubsetRandomSampler-global": lambda: data.SubsetRandomSampler([3, 8, 1, 9, 4]),
        "WeightedRandomSampler": lambda: data.WeightedRandomSampler(WEIGHTS, 40, generator=gen(5)),
        "WeightedRandomSampler-global": lambda: data.WeightedRandomSampler(WEIGHTS, 12),
        "WeightedRandomSampler-one": lambda: data.WeightedRandomSampler(WEIGHTS, 1),
        "WeightedRandomSampler-no-replacement": lambda: data.WeightedRandomSampler(
            [0.9, 0.4, 0.05, 0.2, 0.3, 0.1], 5, replacement=False, generator=gen(6)
        ),
        "WeightedRandomSampler-no-replacement-zeros": lambda: data.WeightedRandomSampler(
            [0.0, 1.0, 0.0, 2.0, 0.0, 0.5], 3, replacement=False
        ),  # (more would draw weights 0, which PyTorch's sort leaves in no set order)
        "BatchSampler": lambda: data.BatchSampler(data.SequentialSampler(range(10)), 3, False),
        "BatchSampler-drop_last": lambda: data.BatchSampler(
            data.RandomSampler(range(10), generator=gen(8)), 3, True
        ),
        "BatchSampler-list": lambda: data.BatchSampler([5, 4, 3, 2, 1], 2, False),
    }


def _flat(items: Any) -> list:
    """Indices, and batches of them each closed by -1."""
    out: list = []
    for item in items:
        out += [*item, -1] if isinstance(item, list) else [item]
    return out


def _loaders(torch: Any) -> dict[str, Any]:
    """Makers of each DataLoader over datasets of numbered samples (called after
    ``torch.manual_seed(11)``)."""
    data = torch.utils.data
    ds = data.TensorDataset(torch.arange(10, dtype=torch.float64))
    more = data.TensorDataset(torch.arange(10, 14, dtype=torch.float64))
    return {
        "sampler": lambda: data.DataLoader(
            ds, batch_size=3, sampler=data.RandomSampler(ds, replacement=True, num_samples=8)
        ),
        "sampler-weighted": lambda: data.DataLoader(
            ds,
            batch_size=4,
            sampler=data.WeightedRandomSampler([1.0] * 5 + [3.0] * 5, 10),
            drop_last=True,
        ),  # fmt: skip
        "sampler-unbatched": lambda: data.DataLoader(
            ds, batch_size=None, sampler=data.SubsetRandomSampler([1, 5, 7])
        ),
        "batch_sampler": lambda: data.DataLoader(
            ds,
            batch_sampler=data.BatchSampler(data.SubsetRandomSampler(list(range(2, 9))), 2, False),
        ),
        "batch_sampler-lists": lambda: data.DataLoader(ds, batch_sampler=[[3, 1], [0], [9, 8, 7]]),
        "ConcatDataset": lambda: data.DataLoader(
            data.ConcatDataset([ds, more]), batch_size=4, shuffle=True
        ),
        "ConcatDataset-add": lambda: data.DataLoader(more + ds + more, batch_size=5),
        "Subset": lambda: data.DataLoader(data.Subset(ds, [4, 2, 9]), batch_size=2),
        "random_split": lambda: data.DataLoader(
            data.random_split(ds, [0.3, 0.7])[1], batch_size=3, shuffle=True
        ),
    }


def samplers(torch: Any) -> Values:
    """Each sampler's indices over two passes, its length and the next global random
    numbers; each loader's samples over two passes (batches closed by -1), its length and
    the next global random numbers."""
    out: Values = {}
    for key, make in _samplers(torch).items():
        torch.manual_seed(7)
        sampler = make()
        passes = _flat(sampler) + _flat(sampler)
        out[f"sampler/{key}"] = passes + [len(sampler)] + values(torch.rand(3, dtype=torch.float64))
    for key, make in _loaders(torch).items():
        torch.manual_seed(11)
        loader = make()
        seen = []
        for _ in range(2):
            for batch in loader:
                batch = batch[0] if isinstance(batch, list | tuple) else batch
                seen += values(batch) + [-1]
        out[f"loader/{key}"] = seen + [len(loader)] + values(torch.rand(3, dtype=torch.float64))
    return out


# ---- L-BFGS ----------------------------------------------------------------------------

LBFGS: dict[str, dict[str, Any]] = {
    "lbfgs": {"max_iter": 4},
    "lbfgs-lr-history": {"lr": 0.5, "history_size": 2, "max_iter": 5},
    "lbfgs-strong_wolfe": {"line_search_fn": "strong_wolfe", "max_iter": 3},
    "lbfgs-strong_wolfe-history": {
        "line_search_fn": "strong_wolfe",
        "lr": 0.8,
        "history_size": 2,
        "max_iter": 3,
    },  # fmt: skip
}  # (few iterations a step: none of them near the minimum, where float32 stops anywhere)
LBFGS_STEPS = 3


def lbfgs(torch: Any, differentiate: Any = None) -> Values:
    """Each configuration of ``LBFGS``, ``LBFGS_STEPS`` steps on Rosenbrock's function
    (of two parameters) in float64 and float32: the parameters, the loss each step returns and
    its evaluation counts after every step. ``differentiate``: the closure's body (the
    loss and its ``backward()``) run as a compiled function."""
    out: Values = {}
    for key, kwargs in LBFGS.items():
        for dtype in ("float64", "float32"):
            w, b, _ = _problem(torch, getattr(torch, dtype))
            t = torch.tensor([[1.0, 0.0, -1.0], [0.5, 2.0, 1.1]], dtype=getattr(torch, dtype))
            optimizer = torch.optim.LBFGS([w, b], **kwargs)

            def evaluate(w: Any, b: Any) -> Any:
                optimizer.zero_grad()  # noqa: B023 (called in this iteration)
                value = ((1 - w[0]) ** 2).sum() + 100 * ((w[1] - w[0] ** 2) ** 2).sum()
                value = value + ((b - w[1] - t[0]) ** 2).sum()  # noqa: B023
                value.backward()
                return value

            run = evaluate if differentiate is None else differentiate(evaluate)
            trace = []
            for _ in range(LBFGS_STEPS):
                loss = optimizer.step(lambda: run(w, b))  # noqa: B023
                state = optimizer.state[w]
                trace += values(w) + values(b) + [loss.item()]
                trace += [state["func_evals"], state["n_iter"]]
            out[f"lbfgs/{key}/{dtype}"] = trace
    return out


# ---- weight averaging ------------------------------------------------------------------


def _averagings(torch: Any) -> dict[str, dict[str, Any]]:
    swa_utils = torch.optim.swa_utils
    return {
        "swa": {},
        "swa-multi": {"multi_avg_fn": swa_utils.get_swa_multi_avg_fn()},
        "ema": {"avg_fn": swa_utils.get_ema_avg_fn(0.8)},
        "ema-multi": {"multi_avg_fn": swa_utils.get_ema_multi_avg_fn(0.9)},
        "swa-buffers": {"use_buffers": True},
    }


SWA_X = [[0.3, -1.2, 0.8], [1.1, 0.4, -0.7], [-0.5, 0.9, 0.1], [0.7, 0.2, -0.4],
         [-0.3, 1.5, 0.2], [0.45, -0.5, 0.1], [-0.2, 0.6, 1.0], [0.8, -0.1, 0.5]]  # fmt: skip


def averaging(torch: Any) -> Values:
    """Each ``AveragedModel`` of a small network with a batch norm, in float64 and
    float32, updated four times from parameters and buffers set to given numbers (so the
    averaging alone decides): its state (parameters, buffers, ``n_averaged``) after each
    update; then its output in eval mode and its batch-norm statistics after
    ``update_bn`` (``averaging-outputs``); and the lrs of ``SWALR`` schedules, with a run
    resumed from their ``state_dict``."""
    import math

    nn, swa_utils = torch.nn, torch.optim.swa_utils
    out: Values = {}
    for key, kwargs in _averagings(torch).items():
        for dtype in ("float64", "float32"):
            torch.manual_seed(0)
            model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 1))
            model = model.double() if dtype == "float64" else model
            x = torch.tensor(SWA_X, dtype=getattr(torch, dtype))
            averaged = swa_utils.AveragedModel(model, **kwargs)
            trace = []
            for k in range(4):
                with torch.no_grad():
                    for i, t in enumerate(model.state_dict().values()):
                        if t.is_floating_point():
                            numbers = [
                                abs(math.sin(1.7 * j + 0.3 * i + k)) for j in range(t.numel())
                            ]
                            t.copy_(torch.tensor(numbers, dtype=t.dtype).reshape(t.shape))
                        else:
                            t.fill_(3 * k + 1)
                averaged.update_parameters(model)
                trace += [v for t in averaged.state_dict().values() for v in values(t)]
            out[f"averaging/{key}/{dtype}"] = trace
            averaged.eval()
            outputs = values(averaged(x))
            swa_utils.update_bn([(x[:4], x[4:]), (x[4:], x[:4])], averaged)
            outputs += [v for t in averaged.state_dict().values() for v in values(t)]
            out[f"averaging-outputs/{key}/{dtype}"] = outputs + [float(averaged.training)]
    for key, kwargs in {
        "cos": {"swa_lr": [0.01, 0.02], "anneal_epochs": 5},
        "linear": {"swa_lr": 0.03, "anneal_epochs": 4, "anneal_strategy": "linear"},
        "no-anneal": {"swa_lr": 0.05, "anneal_epochs": 0},
    }.items():
        p, q = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.05}], lr=0.1)
        scheduler = swa_utils.SWALR(optimizer, **kwargs)
        lrs = [g["lr"] for g in optimizer.param_groups]
        for epoch in range(12):
            optimizer.step()
            scheduler.step()
            lrs += [g["lr"] for g in optimizer.param_groups]
            if epoch == 3:
                saved = (optimizer.state_dict(), scheduler.state_dict())
        o2 = torch.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.05}], lr=0.1)
        s2 = swa_utils.SWALR(o2, **kwargs)
        o2.load_state_dict(saved[0])
        s2.load_state_dict(saved[1])
        for _ in range(8):
            o2.step()
            s2.step()
            lrs += [g["lr"] for g in o2.param_groups]
        out[f"SWALR/{key}"] = lrs
    return out

"""Module: registration on assignment, traversal, state dicts, modes, devices, printing;
and Parameter."""

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
from steps import assert_compiled_step_matches_eager

import srcdiff as sd
from srcdiff import cuda, nn
from srcdiff.creation import manual_seed, ones, randn, tensor, zeros
from srcdiff.dtypes import float32, float64
from srcdiff.tensor import Tensor


class Pair(nn.Module):
    """Two parameters, as the tutorial's ManualLinearRegression."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(randn(1))
        self.b = nn.Parameter(randn(1))

    def forward(self, x):
        return self.a + self.b * x


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = 2.0
        self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
        self.head = nn.Linear(4, 2)
        self.pair = Pair()

    def forward(self, x):
        return self.head(self.body(x)) * self.scale


@pytest.fixture(autouse=True)
def seed():
    manual_seed(0)


# ---- Parameter ------------------------------------------------------------------------


def test_parameter_is_a_leaf_tensor_requiring_grad_and_sharing_memory():
    t = randn(3)
    p = nn.Parameter(t)
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p._data is t._data
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert type(p * 2) is Tensor


def test_parameter_repr():
    p = nn.Parameter(tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"


def test_parameter_of_integers_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(tensor([1, 2]))


def test_parameter_survives_deepcopy_and_pickle():
    p = nn.Parameter(tensor([1.0, 2.0]))
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert type(q) is nn.Parameter and q.requires_grad
        assert q.tolist() == [1.0, 2.0] and q._data is not p._data


# ---- registration ---------------------------------------------------------------------


def test_assignment_registers_parameters_and_modules():
    net = Net()
    assert list(net._parameters) == []
    assert list(net._modules) == ["body", "head", "pair"]
    assert list(net.pair._parameters) == ["a", "b"]
    assert net.scale == 2.0 and "scale" in net.__dict__
    assert net.pair.a is net.pair._parameters["a"]


def test_named_parameters_are_dotted_in_registration_order():
    names = [name for name, _ in Net().named_parameters()]
    assert names == ["body.0.weight", "body.0.bias", "head.weight", "head.bias", "pair.a", "pair.b"]
    assert [n for n, _ in Net().named_parameters(recurse=False)] == []


def test_parameters_matches_named_parameters():
    net = Net()
    assert [id(p) for p in net.parameters()] == [id(p) for _, p in net.named_parameters()]


def test_shared_parameters_and_modules_are_listed_once():
    net = nn.Module()
    layer = nn.Linear(2, 2)
    net.first = layer
    net.second = layer
    assert len(list(net.parameters())) == 2
    assert [name for name, _ in net.named_modules()] == ["", "first"]
    assert list(net.children()) == [layer]
    assert list(net.state_dict()) == ["first.weight", "first.bias", "second.weight", "second.bias"]


def test_children_and_modules():
    net = Net()
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "Linear", "Pair"]
    assert [name for name, _ in net.named_modules()] == [
        "",
        "body",
        "body.0",
        "body.1",
        "head",
        "pair",
    ]
    assert next(net.modules()) is net


def test_assigning_a_plain_tensor_to_a_parameter_name_is_an_error():
    pair = Pair()
    with pytest.raises(
        TypeError,
        match=r"cannot assign 'srcdiff.FloatTensor' as parameter "
        r"'a' \(srcdiff.nn.Parameter or None expected\)",
    ):
        pair.a = randn(1)
    pair.a = None
    assert pair.a is None and [n for n, _ in pair.named_parameters()] == ["b"]


def test_reassigning_a_name_moves_it_between_registries():
    net = nn.Module()
    net.x = nn.Linear(1, 1)
    net.x = nn.Parameter(zeros(1))
    assert "x" not in net._modules and "x" in net._parameters
    with pytest.raises(TypeError, match="as parameter 'x'"):
        net.x = 3


def test_parameters_before_init_are_an_error():
    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(zeros(1))
            super().__init__()

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Early()


def test_register_parameter_validates_names():
    m = nn.Module()
    with pytest.raises(KeyError, match='contain "."'):
        m.register_parameter("a.b", nn.Parameter(zeros(1)))
    with pytest.raises(KeyError, match="empty string"):
        m.register_parameter("", nn.Parameter(zeros(1)))
    m.plain = 1
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_parameter("plain", nn.Parameter(zeros(1)))
    with pytest.raises(TypeError, match="srcdiff.nn.Parameter or None required"):
        m.register_parameter("t", zeros(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)


def test_missing_attribute_and_delete():
    pair = Pair()
    with pytest.raises(AttributeError, match="'Pair' object has no attribute 'c'"):
        pair.c  # noqa: B018
    del pair.a
    assert [n for n, _ in pair.named_parameters()] == ["b"]


def test_buffers_are_state_but_not_parameters():
    m = nn.Module()
    m.register_buffer("running", ones(2))
    assert list(m.parameters()) == [] and [n for n, _ in m.named_buffers()] == ["running"]
    assert list(m.state_dict()) == ["running"]
    m.running = zeros(2)
    assert m.running.tolist() == [0.0, 0.0]
    with pytest.raises(TypeError, match="as buffer 'running'"):
        m.running = 3


# ---- forward and call -----------------------------------------------------------------


def test_call_runs_forward():
    pair = Pair()
    x = tensor([1.0, 2.0])
    assert np.allclose(pair(x).detach().numpy(), (pair.a + pair.b * x).detach().numpy())


def test_default_forward_names_the_class():
    class Empty(nn.Module):
        pass

    with pytest.raises(
        NotImplementedError,
        match=r"Module \[Empty\] is missing the required "
        '"forward" function',
    ):
        Empty()(1)


def test_backward_through_a_module_reaches_every_parameter():
    net = Net()
    net(randn(5, 3)).sum().backward()
    grads = {name: p.grad for name, p in net.named_parameters()}
    assert grads["pair.a"] is None  # forward does not use the pair
    assert all(grads[n].shape == p.shape for n, p in net.named_parameters() if "pair" not in n)


# ---- state dicts ----------------------------------------------------------------------


def test_state_dict_is_an_ordered_dict_of_detached_tensors_sharing_memory():
    pair = Pair()
    state = pair.state_dict()
    assert isinstance(state, OrderedDict) and list(state) == ["a", "b"]
    assert all(type(v) is Tensor and not v.requires_grad for v in state.values())
    assert state["a"]._data is pair.a._data
    assert repr(state).startswith(
        (
            "OrderedDict([('a', tensor([",  # Python 3.10, 3.11
            "OrderedDict({'a': tensor([",
        )
    )  # 3.12 on
    assert pair.state_dict(keep_vars=True)["a"] is pair.a


def test_load_state_dict_round_trip_keeps_the_parameter_objects():
    source, target = Net(), Net()
    a = target.pair.a
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert target.pair.a is a
    for (name, p), q in zip(source.named_parameters(), target.parameters(), strict=True):
        assert np.array_equal(p._data, q._data), name
        assert p._data is not q._data


def test_load_state_dict_takes_arrays_and_casts_to_the_parameter_dtype():
    pair = Pair()
    pair.load_state_dict({"a": np.array([3.0]), "b": tensor([4.0], dtype=float64)})
    assert pair.a.tolist() == [3.0] and pair.b.tolist() == [4.0]
    assert pair.a.dtype == float32 and pair.b.dtype == float32


def test_load_state_dict_lists_missing_and_unexpected_keys():
    pair = Pair()
    before = pair.a.tolist()
    with pytest.raises(RuntimeError) as info:
        pair.load_state_dict({"a": zeros(1), "c": zeros(1)})
    assert str(info.value) == (
        "Error(s) in loading state_dict for Pair:\n"
        '\tMissing key(s) in state_dict: "b".\n'
        '\tUnexpected key(s) in state_dict: "c".'
    )
    assert pair.a.tolist() == before  # nothing copied


def test_load_state_dict_not_strict_reports_instead():
    pair = Pair()
    result = pair.load_state_dict({"a": zeros(1), "c": zeros(1)}, strict=False)
    assert result.missing_keys == ["b"] and result.unexpected_keys == ["c"]
    assert pair.a.tolist() == [0.0]


def test_load_state_dict_shape_mismatch_is_an_error_even_when_not_strict():
    pair = Pair()
    with pytest.raises(
        RuntimeError,
        match=r"size mismatch for b: copying a param with shape "
        r"\(2,\) from checkpoint, the shape in current "
        r"model is \(1,\)",
    ):
        pair.load_state_dict({"a": zeros(1), "b": zeros(2)}, strict=False)


@pytest.mark.parametrize("clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_copies_of_a_model_are_independent(clone):
    net = Net()
    twin = clone(net)
    assert repr(twin) == repr(net) and type(twin.head.weight) is nn.Parameter
    assert np.array_equal(twin.head.weight._data, net.head.weight._data)
    twin.head.weight._data[...] = 0.0
    assert not np.all(net.head.weight._data == 0.0)


@pytest.mark.parametrize(
    "clone",
    [copy.copy, copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))],
    ids=["copy", "deepcopy", "pickle"],
)
def test_registered_names_stay_attributes_through_every_write(clone):
    """Parameters, buffers and sub-modules are attributes too (read without
    ``__getattr__``): writes into the dicts themselves, and copies, keep the two the same."""
    net = Net()
    assert "head" in vars(net) and "weight" in vars(net.head)
    extra = nn.Parameter(ones(2))
    net.head._parameters["extra"] = extra
    assert net.head.extra is extra
    del net.head._parameters["extra"]
    assert not hasattr(net.head, "extra")
    net.head._parameters.update(extra=extra)
    assert net.head._parameters.pop("extra") is extra and not hasattr(net.head, "extra")
    net.head._parameters.setdefault("extra", extra)
    net.head._parameters.clear()
    assert not hasattr(net.head, "weight") and not hasattr(net.head, "extra")
    twin = clone(Net())
    twin.head = nn.Linear(2, 2)
    twin.head._parameters["weight"] = extra
    assert twin.head.weight is extra
    twin.register_buffer("count", zeros(1))
    assert twin.count is twin._buffers["count"]


def test_a_module_is_freed_with_its_last_reference():
    import weakref

    net = Net()
    gone = weakref.ref(net)
    del net
    assert gone() is None  # (no cycle through its dicts)


# ---- modes, devices, gradients --------------------------------------------------------


def test_train_and_eval_set_every_module():
    net = Net()
    assert net.training and net.body[1].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")


def test_to_dtype_casts_in_place_keeping_the_parameter_objects():
    net = Net()
    weight = net.head.weight
    assert net.to(float64) is net
    assert net.head.weight is weight and weight.dtype == float64
    assert all(p.dtype == float64 for p in net.parameters())
    net.float()
    assert all(p.dtype == float32 for p in net.parameters())


def test_to_cpu_is_a_no_op():
    net = Net()
    data = net.head.weight._data
    assert net.to("cpu") is net and net.head.weight._data is data


@pytest.mark.skipif(cuda.is_available(), reason="a GPU is available")
def test_to_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        Net().to("cuda")


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    pair = Pair()
    (pair.a * pair.b).sum().backward()
    pair.zero_grad(set_to_none=set_to_none)
    for p in pair.parameters():
        if set_to_none:
            assert p.grad is None
        else:
            assert p.grad.tolist() == [0.0]


# ---- printing -------------------------------------------------------------------------


def test_repr_nests_like_pytorch():
    assert repr(Net()) == (
        "Net(\n"
        "  (body): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "    (1): Tanh()\n"
        "  )\n"
        "  (head): Linear(in_features=4, out_features=2, bias=True)\n"
        "  (pair): Pair()\n"
        ")"
    )


def test_assigning_a_registered_name_keeps_its_place():
    """``setattr(seq, "1", layer)`` replaces a Sequential's layer where it is, as in
    PyTorch (it moved to the end: the model computed something else, silently), eagerly
    and in a compiled step."""
    model = nn.Sequential(nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 1)).double()
    with sd.no_grad():
        model[0].weight.fill_(1.0), model[0].bias.fill_(0.0)
        model[2].weight.fill_(3.0), model[2].bias.fill_(0.0)
    x = sd.tensor([[-2.0]], dtype=sd.float64)

    @sd.differentiate
    def step(x):
        loss = model(x).sum()
        loss.backward()
        return loss.item()

    assert step(x) == 0.0  # ReLU(-2) is 0
    setattr(model, "1", nn.Tanh())
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear"]
    want = 3.0 * np.tanh(-2.0)
    assert model(x).item() == pytest.approx(want)
    assert step(x) == pytest.approx(want)
    model.register_parameter("p", nn.Parameter(sd.zeros(1)))
    model.q = nn.Parameter(sd.zeros(1))
    model.p = nn.Parameter(sd.ones(1))
    assert list(model._parameters) == ["p", "q"]


class Stack(nn.Module):
    """Layers in a ModuleList, heads in a ModuleDict."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
        self.layers.append(nn.Linear(3, 2))
        self.heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 1)})

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).tanh()
        return self.heads["a"](x) + 0.5 * self.heads["b"](x)


def test_module_list_and_dict_register_their_modules_and_train_compiled():
    """``nn.ModuleList`` and ``nn.ModuleDict`` hold modules whose parameters the owner
    registers; a compiled step over them gives eager code's gradients."""
    manual_seed(0)
    model = Stack().double()
    names = [n for n, _ in model.named_parameters()]
    assert names[:2] == ["layers.0.weight", "layers.0.bias"] and "heads.b.bias" in names
    assert len(model.layers) == 3 and isinstance(model.layers[-1], nn.Linear)
    assert list(model.heads) == ["a", "b"] and "a" in model.heads
    assert len(model.layers[1:]) == 2 and isinstance(model.layers[1:], nn.ModuleList)
    x = randn(4, 3, dtype=float64)

    def step(x):
        loss = (model(x) ** 2).sum()
        loss.backward()
        return loss.item()

    assert_compiled_step_matches_eager(step, model, x)
    model.layers[0] = nn.Linear(3, 3).double()  # replaced where it is
    del model.layers[1]
    assert [n for n, _ in model.layers.named_children()] == ["0", "1"]
    seq = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)


def test_module_containers_edit_as_pytorchs_do():
    """``ModuleList`` ``+=`` and ``pop``, ``ModuleDict`` ``update``, ``pop`` and
    ``clear``; ``sd.var`` and ``sd.std`` as ``torch.var`` and ``torch.std``."""
    layers = nn.ModuleList([nn.Linear(1, 1)])
    layers += [nn.ReLU(), nn.Tanh()]
    assert isinstance(layers.pop(1), nn.ReLU) and [type(m) for m in layers] == [nn.Linear, nn.Tanh]
    heads = nn.ModuleDict()
    heads.update({"a": nn.ReLU()})
    heads.update([("b", nn.Tanh())])
    assert list(heads.keys()) == ["a", "b"] and isinstance(heads.pop("a"), nn.ReLU)
    heads.clear()
    assert len(heads) == 0
    x = tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose(sd.var(x, 1).numpy(), np.arange(6.0).reshape(2, 3).var(1, ddof=1))
    assert sd.std(x, correction=0).item() == pytest.approx(np.arange(6.0).std())


def test_a_module_dict_updates_from_another():
    heads = nn.ModuleDict({"a": nn.ReLU()})
    heads.update(nn.ModuleDict({"b": nn.Tanh()}))
    assert list(heads) == ["a", "b"]


# ---- PyTorch's traversal and state methods (checked against PyTorch 2.13) ----------------


def _nested() -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))


def test_apply_visits_each_module_after_its_submodules():
    order: list[str] = []
    model = _nested()
    assert model.apply(lambda m: order.append(type(m).__name__)) is model
    assert order == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]


def test_requires_grad_freezes_every_parameter():
    model = _nested()
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model[1].requires_grad_()
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]


def test_get_submodule_parameter_and_buffer_follow_dotted_paths():
    model = _nested()
    assert model.get_submodule("1.1") is model[1][1] and model.get_submodule("") is model
    assert model.get_parameter("1.1.weight") is model[1][1].weight
    cases = [
        (model.get_submodule, "2", "Sequential has no attribute `2`"),
        (model.get_submodule, "0.weight", "`weight` is not an nn.Module"),
        (model.get_parameter, "0.nope", "Linear has no attribute `nope`"),
        (model.get_parameter, "0", "`0` is not an nn.Parameter"),
        (model.get_parameter, "1.1.bias.x", "`bias` is not an nn.Module"),
        (model.get_buffer, "0.weight", "`weight` is not a buffer"),
    ]
    for method, target, message in cases:
        with pytest.raises(AttributeError, match=message):
            method(target)


def test_named_parameters_and_modules_keep_duplicates_when_asked():
    layer, tied = nn.Linear(2, 2), nn.Module()
    tied.a = tied.b = layer
    assert [n for n, _ in tied.named_parameters()] == ["a.weight", "a.bias"]
    names = [n for n, _ in tied.named_parameters(remove_duplicate=False)]
    assert names == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert [n for n, _ in tied.named_modules(remove_duplicate=False)] == ["", "a", "b"]


def test_a_buffer_that_is_not_persistent_is_neither_saved_nor_loaded():
    class Stats(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scratch", sd.ones(2), persistent=False)
            self.register_buffer("count", sd.ones(1))

    stats = Stats()
    assert list(stats.state_dict()) == ["count"]
    assert [n for n, _ in stats.named_buffers()] == ["scratch", "count"]
    assert repr(stats.load_state_dict({"count": sd.zeros(1)})) == "<All keys matched successfully>"
    assert stats.get_buffer("scratch").tolist() == [1.0, 1.0] and stats.count.tolist() == [0.0]


def test_sequentials_and_module_lists_add_up():
    joined = nn.Sequential(nn.ReLU(), nn.Tanh()) + nn.Sequential(nn.Sigmoid())
    assert isinstance(joined, nn.Sequential) and len(joined) == 3
    assert isinstance(joined[2], nn.Sigmoid)
    with pytest.raises(ValueError, match="supports only objects of Sequential class"):
        nn.Sequential(nn.ReLU()) + [nn.Tanh()]
    listed = nn.ModuleList([nn.ReLU()]) + [nn.Tanh()]
    assert isinstance(listed, nn.ModuleList) and [type(m) for m in listed] == [nn.ReLU, nn.Tanh]


def test_legacy_reduction_flags_are_read_as_truth_values():
    """PyTorch reads ``size_average`` and ``reduce`` as truth values: 0 is False."""
    a, b = sd.ones(3, 4), sd.zeros(3, 4)
    with pytest.warns(UserWarning, match="size_average and reduce"):
        assert nn.functional.mse_loss(a, b, reduce=0).shape == (3, 4)
    with pytest.warns(UserWarning, match="size_average and reduce"):
        assert nn.functional.mse_loss(a, b, size_average=0).item() == 12.0


def test_a_subclass_of_sequential_adds_up_to_a_sequential():
    class Repeated(nn.Sequential):
        def __init__(self, n):
            super().__init__(*[nn.ReLU() for _ in range(n)])

    joined = Repeated(2) + Repeated(1)
    assert type(joined) is nn.Sequential and len(joined) == 3
    assert [n for n, _ in Repeated(1).named_modules(None, "p")] == ["p", "p.0"]


def test_module_type_casts_every_parameter_and_buffer_as_pytorch():
    """``Module.type(dst_type)`` and ``Module.half()`` were missing. PyTorch 2.13 (recorded):
    ``type`` casts integer buffers too (``num_batches_tracked``) and the gradients, keeps
    the Parameter objects, and refuses an integer type for a parameter requiring grad;
    ``half``/``float``/``double`` cast the floating ones only."""
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    weight = model[0].weight
    model[0].weight.sum().backward()
    assert model.type(float64) is model
    assert model[0].weight is weight and weight.requires_grad
    assert (weight.dtype, weight.grad.dtype) == (float64, float64)
    assert model[1].running_mean.dtype == float64
    assert model[1].num_batches_tracked.dtype == float64  # PyTorch's too
    model.type("torch.FloatTensor")
    assert (weight.dtype, model[1].num_batches_tracked.dtype) == (float32, float32)
    model.type(sd.DoubleTensor)
    assert weight.dtype == float64
    assert model.half() is model and weight.dtype == sd.float16
    batch_norm = nn.BatchNorm1d(3).half()
    assert batch_norm.num_batches_tracked.dtype == sd.int64  # (not a floating one)
    with pytest.raises(RuntimeError, match="requires gradients must be floating point"):
        nn.Linear(2, 3).type(sd.int64)

"""srcdiff.save / srcdiff.load: round trips of state dicts, optimizers, tensors and nested
containers through the documented .npz format, and clear errors (never a pickle load)
for files that are not such archives."""

import io
import json
import math
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import srcdiff as sd
from srcdiff import nn, optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 8))
        self.head = nn.Linear(8, 2)
        self.register_buffer("counts", sd.arange(4))

    def forward(self, x):
        return self.head(self.body(x).relu())


def roundtrip(obj, **load_kwargs):
    buffer = io.BytesIO()
    sd.save(obj, buffer)
    buffer.seek(0)
    return sd.load(buffer, **load_kwargs)


def entries(raw: bytes) -> dict:
    """The arrays of an archive, read with NumPy alone (no srcdiff)."""
    with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def archive_with(structure: bytes | dict, **arrays) -> bytes:
    """An .npz archive with the given structure entry (JSON text or an object)."""
    if isinstance(structure, dict):
        structure = json.dumps(structure).encode()
    buffer = io.BytesIO()
    np.savez(buffer, srcdiff=np.frombuffer(structure, np.uint8), **arrays)
    return buffer.getvalue()


# ---- modules and optimizers ------------------------------------------------------------------


def test_a_state_dict_loads_into_a_fresh_model(tmp_path):
    sd.manual_seed(0)
    model = Net()
    sd.save(model.state_dict(), tmp_path / "model.pt")
    assert (tmp_path / "model.pt").exists() and not (tmp_path / "model.pt.npz").exists()
    sd.manual_seed(1)
    fresh = Net()
    assert not np.array_equal(
        fresh.head.weight.detach().numpy(), model.head.weight.detach().numpy()
    )
    state = sd.load(tmp_path / "model.pt")
    assert isinstance(state, OrderedDict) and list(state) == list(model.state_dict())
    fresh.load_state_dict(state)
    for (name, a), (_, b) in zip(
        model.state_dict().items(), fresh.state_dict().items(), strict=True
    ):
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    x = sd.randn(5, 3)
    np.testing.assert_array_equal(model(x).detach().numpy(), fresh(x).detach().numpy())


def test_the_archive_is_a_plain_npz_file_that_numpy_reads_without_pickle(tmp_path):
    sd.manual_seed(0)
    model = Net()
    sd.save(model.state_dict(), str(tmp_path / "m.npz"))
    raw = (tmp_path / "m.npz").read_bytes()
    arrays = entries(raw)
    structure = json.loads(arrays.pop("srcdiff").tobytes())
    assert structure["format"] == "srcdiff" and structure["version"] == 1
    root = structure["root"]
    assert root["type"] == "ordereddict"
    for key, node in root["items"]:
        assert node["type"] == "tensor" and node["requires_grad"] is False
        expected = model.state_dict()[key].numpy()
        np.testing.assert_array_equal(arrays[node["array"]], expected)
        assert node["dtype"] == model.state_dict()[key].dtype.name
    assert len(arrays) == len(root["items"])


def train(model, optimizer, steps, data):
    x, y = data
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.MSELoss()(model(x), y)
        loss.backward()
        optimizer.step()


def test_adam_resumes_from_a_checkpoint_as_if_never_stopped(tmp_path):
    sd.manual_seed(3)
    data = (sd.randn(16, 3), sd.randn(16, 2))
    sd.manual_seed(4)
    model = Net()
    optimizer = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99), amsgrad=True)
    train(model, optimizer, 3, data)
    path = tmp_path / "checkpoint"
    sd.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}, path)
    train(model, optimizer, 4, data)  # the uninterrupted run

    sd.manual_seed(99)
    resumed = Net()
    resumed_optimizer = optim.Adam(resumed.parameters(), lr=1.0)
    checkpoint = sd.load(path)
    assert checkpoint["epoch"] == 3
    saved = checkpoint["optimizer"]
    assert saved["param_groups"][0]["betas"] == (0.8, 0.99)
    assert set(saved["state"]) == set(range(len(list(model.parameters()))))
    assert all(s["step"] == 3 and isinstance(s["step"], int) for s in saved["state"].values())
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer.load_state_dict(saved)
    assert resumed_optimizer.param_groups[0]["lr"] == 0.01
    train(resumed, resumed_optimizer, 4, data)
    for (name, a), (_, b) in zip(
        model.state_dict().items(), resumed.state_dict().items(), strict=True
    ):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_an_optimizer_state_dict_round_trips_with_its_tensors_and_int_keys():
    sd.manual_seed(0)
    model = Net()
    optimizer = optim.Adam(model.parameters())
    train(model, optimizer, 2, (sd.randn(4, 3), sd.randn(4, 2)))
    state = optimizer.state_dict()
    loaded = roundtrip(state)
    assert loaded["param_groups"] == state["param_groups"]
    assert list(loaded["state"]) == list(state["state"])
    for i, s in state["state"].items():
        assert set(loaded["state"][i]) == set(s)
        for key, value in s.items():
            if isinstance(value, sd.Tensor):
                np.testing.assert_array_equal(loaded["state"][i][key].numpy(), value.numpy())
            else:
                assert loaded["state"][i][key] == value


# ---- tensors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype", [sd.float16, sd.float32, sd.float64, sd.int8, sd.int32, sd.int64, sd.uint8, sd.bool]
)
def test_a_tensor_keeps_its_dtype_and_values(dtype):
    t = sd.tensor([[1, 0, 3], [4, 5, 0]], dtype=dtype)
    loaded = roundtrip(t)
    assert isinstance(loaded, sd.Tensor) and loaded.dtype == dtype
    assert tuple(loaded.shape) == (2, 3) and loaded.device == "cpu"
    np.testing.assert_array_equal(loaded.numpy(), t.numpy())


def test_requires_grad_and_parameters_are_kept_and_loaded_tensors_are_leaves():
    p = nn.Parameter(sd.randn(3))
    frozen = nn.Parameter(sd.randn(2), requires_grad=False)
    y = p * 2  # not a leaf: saved as its value
    loaded = roundtrip([p, frozen, y, sd.randn(2)])
    assert isinstance(loaded[0], nn.Parameter) and loaded[0].requires_grad
    assert isinstance(loaded[1], nn.Parameter) and not loaded[1].requires_grad
    assert type(loaded[2]) is sd.Tensor and loaded[2].requires_grad and loaded[2].is_leaf
    assert type(loaded[3]) is sd.Tensor and not loaded[3].requires_grad
    np.testing.assert_array_equal(loaded[2].detach().numpy(), y.detach().numpy())
    (loaded[0] * loaded[2]).sum().backward()
    np.testing.assert_array_equal(loaded[0].grad.numpy(), y.detach().numpy())


def test_scalars_and_non_contiguous_tensors():
    t = sd.arange(12.0).reshape(3, 4).t()
    loaded = roundtrip({"t": t, "zero_d": sd.tensor(2.5), "empty": sd.zeros(0, 3)})
    np.testing.assert_array_equal(loaded["t"].numpy(), t.numpy())
    assert loaded["zero_d"].shape == () and loaded["zero_d"].item() == 2.5
    assert tuple(loaded["empty"].shape) == (0, 3)


def test_a_shared_tensor_is_saved_once_and_loads_as_one_object():
    t = sd.randn(100)
    raw = io.BytesIO()
    sd.save({"a": t, "b": [t, t]}, raw)
    assert len(entries(raw.getvalue())) == 2  # the structure and one array
    raw.seek(0)
    loaded = sd.load(raw)
    assert loaded["a"] is loaded["b"][0] is loaded["b"][1]


def test_load_writes_nothing_into_the_saved_tensor():
    t = sd.ones(3)
    loaded = roundtrip(t)
    loaded.add_(1)
    np.testing.assert_array_equal(t.numpy(), np.ones(3, np.float32))


# ---- containers and plain values -------------------------------------------------------------


def test_nested_containers_and_plain_values_come_back_equal_with_their_types():
    obj = {
        "none": None,
        "flags": [True, False],
        "ints": (0, -3, 2**80),
        "floats": [0.1, -2.5e-310, 1e308, math.inf, -math.inf],
        "text": 'naïve ✓ "quoted"\n',
        7: {"nested": [[], (), {}, OrderedDict()]},
        -1: "negative key",
        "ordered": OrderedDict([("z", 1), ("a", 2), ("m", 3)]),
        "array": np.arange(6, dtype=np.int16).reshape(2, 3),
        "numpy_scalar": np.float32(0.25),
    }
    loaded = roundtrip(obj)
    assert list(loaded) == list(obj)  # order kept, int keys kept as ints
    for key in ("none", "flags", "ints", "floats", "text", 7, -1):
        assert loaded[key] == obj[key]
        assert type(loaded[key]) is type(obj[key])
    assert [type(v) for v in loaded["flags"]] == [bool, bool]
    assert [type(v) for v in loaded["ints"]] == [int, int, int]
    assert [type(v) for v in loaded["floats"]] == [float] * 5
    assert [type(v) for v in loaded[7]["nested"]] == [list, tuple, dict, OrderedDict]
    assert type(loaded["ordered"]) is OrderedDict and list(loaded["ordered"]) == ["z", "a", "m"]
    assert loaded["array"].dtype == np.int16
    np.testing.assert_array_equal(loaded["array"], obj["array"])
    assert loaded["numpy_scalar"] == np.float32(0.25)
    assert loaded["numpy_scalar"].dtype == np.float32


def test_nan_round_trips():
    assert math.isnan(roundtrip(math.nan))


@pytest.mark.parametrize("obj", [None, 3, "s", [1, [2, [3]]], (sd.ones(2),)])
def test_any_supported_value_may_be_the_root(obj):
    loaded = roundtrip(obj)
    if isinstance(obj, tuple):
        assert isinstance(loaded, tuple)
        np.testing.assert_array_equal(loaded[0].numpy(), obj[0].numpy())
    else:
        assert loaded == obj


def test_a_file_object_holds_the_archive_from_where_it_is():
    buffer = io.BytesIO(b"header")
    buffer.seek(6)
    sd.save([1, 2], buffer)
    buffer.seek(6)
    assert sd.load(buffer) == [1, 2]


@pytest.mark.parametrize(
    "obj, where",
    [
        ({1, 2}, "set"),
        ({"a": [object()]}, "object"),
        ({(1, 2): 3}, "tuple key"),
        ({True: 3}, "bool key"),
        (np.array([1, "a", None], dtype=object), "Python objects"),
    ],
)
def test_what_the_format_cannot_hold_is_refused_with_where_it_is(obj, where):
    with pytest.raises(TypeError, match=where):
        sd.save(obj, io.BytesIO())


def test_a_container_that_contains_itself_is_refused():
    loop: list = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        sd.save(loop, io.BytesIO())


# ---- devices ---------------------------------------------------------------------------------


def test_map_location_cpu_and_dicts_are_accepted():
    t = sd.randn(3)
    for where in ("cpu", sd.device("cpu"), {"cuda": "cpu"}):
        loaded = roundtrip(t, map_location=where)
        assert loaded.device == "cpu"
        np.testing.assert_array_equal(loaded.numpy(), t.numpy())
    with pytest.raises(TypeError, match="map_location"):
        roundtrip(t, map_location=lambda storage, location: storage)
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        roundtrip(t, map_location="tpu")


@pytest.mark.skipif(sd.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_tensor_without_a_gpu_says_to_use_map_location_cpu():
    raw = archive_with(
        {
            "format": "srcdiff",
            "version": 1,
            "root": {
                "type": "tensor",
                "array": "a0",
                "dtype": "float32",
                "requires_grad": False,
                "device": "cuda",
                "parameter": False,
            },
        },
        a0=np.ones(3, np.float32),
    )
    with pytest.raises(RuntimeError, match="map_location='cpu'"):
        sd.load(io.BytesIO(raw))
    loaded = sd.load(io.BytesIO(raw), map_location="cpu")
    assert loaded.device == "cpu" and loaded.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.skipif(not sd.cuda.is_available(), reason="CuPy or a GPU is missing here")
def test_cuda_tensors_save_through_numpy_and_load_where_asked():
    import cupy

    sd.manual_seed(0)
    model = Net().to("cuda")
    state = roundtrip(model.state_dict())
    for key, value in model.state_dict().items():
        assert state[key].device == "cuda" and isinstance(state[key]._data, cupy.ndarray)
        np.testing.assert_array_equal(state[key].cpu().numpy(), value.cpu().numpy())
    on_cpu = roundtrip(model.state_dict(), map_location="cpu")
    assert all(isinstance(v._data, np.ndarray) for v in on_cpu.values())
    to_gpu = roundtrip(sd.ones(2), map_location="cuda")
    assert isinstance(to_gpu._data, cupy.ndarray)
    fresh = Net()
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(
        fresh.head.weight.detach().numpy(), model.head.weight.detach().cpu().numpy()
    )


# ---- files that are not srcdiff archives -----------------------------------------------------


def write(tmp_path: Path, raw: bytes) -> Path:
    path = tmp_path / "bad.pt"
    path.write_bytes(raw)
    return path


def test_a_pickle_file_is_refused_without_being_unpickled(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    path = write(tmp_path, pickle.dumps({"weight": [1.0, 2.0]}))
    with pytest.raises(ValueError, match=r"bad\.pt.*not an srcdiff archive"):
        sd.load(path)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "not an srcdiff archive: it is empty"),
        (b"hello world", "not an srcdiff archive"),
        (b"\x93NUMPY\x01\x00", "not an srcdiff archive"),
    ],
)
def test_other_files_are_not_archives(tmp_path, raw, message):
    with pytest.raises(ValueError, match=message) as error:
        sd.load(write(tmp_path, raw))
    assert str(tmp_path / "bad.pt") in str(error.value)


def test_a_plain_npz_file_is_not_an_srcdiff_archive(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, weight=np.ones(3))
    with pytest.raises(ValueError, match=r"plain\.npz.*without the 'srcdiff' structure entry"):
        sd.load(path)


@pytest.mark.parametrize("keep", [0.99, 0.5, 0.1])
def test_a_truncated_archive_is_damaged(tmp_path, keep):
    buffer = io.BytesIO()
    sd.save({"w": sd.randn(50, 50)}, buffer)
    raw = buffer.getvalue()
    with pytest.raises(ValueError, match=r"bad\.pt: damaged srcdiff archive"):
        sd.load(write(tmp_path, raw[: int(len(raw) * keep)]))


def test_a_flipped_byte_in_an_array_is_caught(tmp_path):
    buffer = io.BytesIO()
    sd.save({"w": sd.zeros(1000)}, buffer)
    raw = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as z:
        info = z.getinfo("a0.npy")
    raw[info.header_offset + 30 + len("a0.npy") + 2000] ^= 0xFF  # inside the array's data
    with pytest.raises(ValueError, match="damaged srcdiff archive: cannot read array 'a0'"):
        sd.load(write(tmp_path, bytes(raw)))


GOOD_TENSOR = {
    "type": "tensor",
    "array": "a0",
    "dtype": "float32",
    "requires_grad": False,
    "device": "cpu",
}


@pytest.mark.parametrize(
    "structure, message",
    [
        (b"{not json", "structure entry is not valid JSON"),
        (b"\xff\xfe", "structure entry is not valid JSON"),
        ({"version": 1, "root": {"type": "none"}}, "has no format"),
        ({"format": "srcdiff", "version": "1", "root": None}, "bad format version"),
        ({"format": "srcdiff", "version": 99, "root": None}, "version 99"),
        ({"format": "srcdiff", "version": 1}, "has no root"),
        ({"format": "srcdiff", "version": 1, "root": {"type": "pickle"}}, "unknown node type"),
        ({"format": "srcdiff", "version": 1, "root": [1, 2]}, "expected a node"),
        ({"format": "srcdiff", "version": 1, "root": {"type": "int", "value": "3"}}, "'value'"),
        ({"format": "srcdiff", "version": 1, "root": {"type": "int", "value": True}}, "boolean"),
        ({"format": "srcdiff", "version": 1, "root": {"type": "list"}}, "'items'"),
        (
            {"format": "srcdiff", "version": 1, "root": {"type": "dict", "items": [[1.5, None]]}},
            "neither a string nor an integer",
        ),
        (
            {"format": "srcdiff", "version": 1, "root": {**GOOD_TENSOR, "array": "a7"}},
            "array 'a7' that is not in it",
        ),
        (
            {"format": "srcdiff", "version": 1, "root": {**GOOD_TENSOR, "array": "srcdiff"}},
            "that is not in it",
        ),
        (
            {"format": "srcdiff", "version": 1, "root": {**GOOD_TENSOR, "dtype": "float64"}},
            "float64 tensor holds a float32 array",
        ),
        (
            {"format": "srcdiff", "version": 1, "root": {**GOOD_TENSOR, "dtype": "complex"}},
            "unknown tensor dtype",
        ),
        (
            {"format": "srcdiff", "version": 1, "root": {**GOOD_TENSOR, "device": "tpu"}},
            "unknown tensor device",
        ),
    ],
)
def test_a_corrupt_structure_entry_says_what_is_wrong(tmp_path, structure, message):
    raw = archive_with(structure, a0=np.ones(2, np.float32))
    with pytest.raises(ValueError, match=message) as error:
        sd.load(write(tmp_path, raw))
    assert str(error.value).startswith(str(tmp_path / "bad.pt"))


def test_a_structure_entry_that_is_not_bytes_is_corrupt():
    buffer = io.BytesIO()
    np.savez(buffer, srcdiff=np.zeros(3, np.float32))
    buffer.seek(0)
    with pytest.raises(ValueError, match="<BytesIO>: corrupt srcdiff archive"):
        sd.load(buffer)


def test_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        sd.load(tmp_path / "nothing.pt")

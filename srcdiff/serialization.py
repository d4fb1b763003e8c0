"""Saving and loading, as ``torch.save``/``torch.load``, in a format that holds data only.

``save(obj, f)`` writes one NumPy ``.npz`` archive (a zip file, ``numpy.savez``,
uncompressed); ``load(f)`` reads it with ``allow_pickle=False``. No pickle is written or
read, so loading a file never runs code from it. The archive holds:

* ``srcdiff.npy``: the structure, a 1-D uint8 array of UTF-8 JSON::

      {"format": "srcdiff", "version": 1, "root": NODE}

* ``a0.npy``, ``a1.npy``, ...: the arrays, one entry each, with their dtype and shape.

A NODE is a JSON object whose ``"type"`` says what it holds:

==================  ==================================================================
``"none"``          ``None``
``"bool"``          ``"value"``: true or false
``"int"``           ``"value"``: an integer (any size)
``"float"``         ``"value"``: a number, or ``"nan"``, ``"inf"``, ``"-inf"``
``"str"``           ``"value"``: a string
``"list"``          ``"items"``: the NODEs of the elements
``"tuple"``         ``"items"``: the NODEs of the elements (a tuple subclass, such as a
                    named tuple or ``Size``, loads as a tuple)
``"dict"``          ``"items"``: ``[key, NODE]`` pairs in order, each key a JSON string
                    or integer (a dict subclass other than OrderedDict loads as a dict)
``"ordereddict"``   as ``"dict"``, loaded as a ``collections.OrderedDict`` (what
                    ``Module.state_dict()`` returns)
``"ndarray"``       ``"array"``: the name of its entry (``"a0"``)
``"numpy_scalar"``  ``"array"``: the entry of a 0-d array holding it
``"tensor"``        ``"array"``, ``"dtype"`` (an srcdiff dtype name), ``"requires_grad"``,
                    ``"device"`` (``"cpu"`` or ``"cuda"``) and ``"parameter"`` (true for
                    an ``nn.Parameter``)
==================  ==================================================================

A tensor is saved without its graph (as a leaf); a CUDA tensor's array is copied to the
host to be saved. An array or tensor that appears several times is saved once and loads
as one object in every place. Anything else (sets, arbitrary objects, arrays of Python
objects) is refused when saving, with a TypeError that says where it is.

A file that is not such an archive, is truncated, or whose structure entry is corrupt
raises a ValueError that names the file and what is wrong.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections import OrderedDict
from typing import IO, Any

import numpy as np

from . import cuda, dtypes
from .backend import to_numpy
from .nn.parameter import Parameter
from .tensor import Tensor

__all__ = ["load", "save"]

FORMAT = "srcdiff"
VERSION = 1
STRUCTURE = "srcdiff"  # the name of the structure entry (srcdiff.npy in the zip)
_ZIP_MAGIC = b"PK\x03\x04"
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}

FileLike = str | os.PathLike | IO[bytes]


# ---- saving ------------------------------------------------------------------------------


class _Writer:
    """Turns an object into a JSON node and a dict of named arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self.seen: dict[int, tuple[str, Any]] = {}  # id -> (array name, the object)
        self.open: set[int] = set()  # containers being written (to refuse cycles)

    def array(self, obj: Any, host: np.ndarray) -> str:
        """The entry name of ``obj``'s array (written once per object)."""
        found = self.seen.get(id(obj))
        if found is not None:
            return found[0]
        if host.dtype.hasobject:
            raise TypeError("arrays of Python objects cannot be saved without pickle")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = host
        self.seen[id(obj)] = (name, obj)  # keeps obj alive, so its id stays unique
        return name

    def node(self, obj: Any, where: str) -> dict[str, Any]:
        if obj is None:
            return {"type": "none"}
        if isinstance(obj, bool):
            return {"type": "bool", "value": obj}
        if isinstance(obj, Tensor):
            return self.tensor(obj, where)
        if isinstance(obj, np.ndarray):
            return {"type": "ndarray", "array": self.checked(obj, np.asarray(obj), where)}
        if isinstance(obj, np.generic):
            return {"type": "numpy_scalar", "array": self.checked(obj, np.asarray(obj), where)}
        if isinstance(obj, int):
            return {"type": "int", "value": int(obj)}
        if isinstance(obj, float):
            value = float(obj)
            return {"type": "float", "value": value if math.isfinite(value) else repr(value)}
        if isinstance(obj, str):
            return {"type": "str", "value": str(obj)}
        if isinstance(obj, (list, tuple, dict)):
            return self.container(obj, where)
        if cuda.of_array(obj) == "cuda":
            raise TypeError(
                f"cannot save a CuPy array ({where}): wrap it in a Tensor, which keeps its device"
            )
        raise TypeError(
            f"srcdiff.save cannot save a {type(obj).__name__} ({where}): it saves None, bool, "
            "int, float, str, lists, tuples, dicts, NumPy arrays and Tensors"
        )

    def checked(self, obj: Any, host: np.ndarray, where: str) -> str:
        try:
            return self.array(obj, host)
        except TypeError as error:
            raise TypeError(f"{error} ({where})") from None

    def tensor(self, t: Tensor, where: str) -> dict[str, Any]:
        name = self.checked(t, to_numpy(t._data), where)
        return {
            "type": "tensor",
            "array": name,
            "dtype": t.dtype.name,
            "requires_grad": bool(t.requires_grad),
            "device": str(t.device),
            "parameter": isinstance(t, Parameter),
        }

    def container(self, obj: Any, where: str) -> dict[str, Any]:
        if id(obj) in self.open:
            raise ValueError(f"cannot save a container that contains itself ({where})")
        self.open.add(id(obj))
        try:
            if isinstance(obj, dict):
                kind = "ordereddict" if isinstance(obj, OrderedDict) else "dict"
                items = []
                for key, value in obj.items():
                    if isinstance(key, bool) or not isinstance(key, (str, int)):
                        raise TypeError(
                            f"srcdiff.save saves dicts with str or int keys only, not "
                            f"{type(key).__name__} key {key!r} ({where})"
                        )
                    key = str(key) if isinstance(key, str) else int(key)
                    items.append([key, self.node(value, f"{where}[{key!r}]")])
                return {"type": kind, "items": items}
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {
                "type": kind,
                "items": [self.node(v, f"{where}[{i}]") for i, v in enumerate(obj)],
            }
        finally:
            self.open.discard(id(obj))


def save(obj: Any, f: FileLike) -> None:
    """Write ``obj`` (nested dicts, lists and tuples of Tensors, NumPy arrays and plain
    values, such as a ``state_dict()``) to ``f``, a path or a binary file object, as the
    ``.npz`` archive described in this module's docstring; a path is written as given
    (no ``.npz`` is added)."""
    writer = _Writer()
    root = writer.node(obj, "obj")
    text = json.dumps({"format": FORMAT, "version": VERSION, "root": root}, allow_nan=False)
    arrays = {STRUCTURE: np.frombuffer(text.encode("utf-8"), dtype=np.uint8), **writer.arrays}
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as file:
            np.savez(file, **arrays)
    else:
        np.savez(f, **arrays)


# ---- loading -----------------------------------------------------------------------------


def _name(f: Any) -> str:
    if isinstance(f, (str, os.PathLike)):
        return os.fspath(f)
    name = getattr(f, "name", None)
    return name if isinstance(name, str) else f"<{type(f).__name__}>"


class _Reader:
    """Builds the object back from a JSON node and the archive's arrays."""

    def __init__(self, archive: Any, source: str, map_location: Any) -> None:
        self.archive = archive
        self.source = source
        self.map_location = map_location
        self.loaded: dict[tuple[str, str], Any] = {}

    def corrupt(self, what: str) -> ValueError:
        return ValueError(f"{self.source}: corrupt srcdiff archive: {what}")

    def field(self, node: dict[str, Any], key: str, types: Any) -> Any:
        if key not in node or not isinstance(node[key], types):
            raise self.corrupt(f"a {node.get('type')!r} node has no valid {key!r}")
        return node[key]

    def node(self, node: Any) -> Any:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise self.corrupt(f"expected a node, found {json.dumps(node)[:80]}")
        kind = node["type"]
        if kind == "none":
            return None
        if kind == "bool":
            return self.field(node, "value", bool)
        if kind == "int":
            value = self.field(node, "value", int)
            if isinstance(value, bool):
                raise self.corrupt("an 'int' node holds a boolean")
            return value
        if kind == "float":
            value = self.field(node, "value", (int, float, str))
            if isinstance(value, str):
                if value not in _FLOATS:
                    raise self.corrupt(f"a 'float' node holds {value!r}")
                return _FLOATS[value]
            if isinstance(value, bool):
                raise self.corrupt("a 'float' node holds a boolean")
            return float(value)
        if kind == "str":
            return self.field(node, "value", str)
        if kind in ("list", "tuple"):
            items = [self.node(v) for v in self.field(node, "items", list)]
            return tuple(items) if kind == "tuple" else items
        if kind in ("dict", "ordereddict"):
            out: dict[Any, Any] = OrderedDict() if kind == "ordereddict" else {}
            for pair in self.field(node, "items", list):
                if not (isinstance(pair, list) and len(pair) == 2):
                    raise self.corrupt(f"a dict item is not a [key, node] pair: {pair!r:.80}")
                key = pair[0]
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise self.corrupt(f"a dict key is neither a string nor an integer: {key!r}")
                out[key] = self.node(pair[1])
            return out
        if kind == "ndarray":
            return self.shared(node, lambda array: array)
        if kind == "numpy_scalar":
            return self.shared(node, self.scalar)
        if kind == "tensor":
            return self.shared(node, lambda array: self.tensor(node, array))
        raise self.corrupt(f"unknown node type {kind!r}")

    def shared(self, node: dict[str, Any], build: Any) -> Any:
        """The object of an array entry, built once per entry and kind of node."""
        name = self.field(node, "array", str)
        key = (node["type"], name)
        if key not in self.loaded:
            self.loaded[key] = build(self.array(name))
        return self.loaded[key]

    def array(self, name: str) -> np.ndarray:
        if name == STRUCTURE or f"{name}.npy" not in self.archive.zip.namelist():
            raise self.corrupt(f"the structure names an array {name!r} that is not in it")
        try:
            return self.archive[name]
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(
                f"{self.source}: damaged srcdiff archive: cannot read array {name!r} ({error})"
            ) from None

    def scalar(self, array: np.ndarray) -> Any:
        if array.ndim != 0:
            raise self.corrupt("a 'numpy_scalar' node names an array that is not 0-d")
        return array[()]

    def tensor(self, node: dict[str, Any], array: np.ndarray) -> Tensor:
        try:
            dtype = dtypes.parse(self.field(node, "dtype", str))
        except TypeError:
            raise self.corrupt(f"unknown tensor dtype {node['dtype']!r}") from None
        if dtype is None or array.dtype != dtype.numpy:
            raise self.corrupt(f"a {node['dtype']} tensor holds a {array.dtype} array")
        requires_grad = self.field(node, "requires_grad", bool)
        if requires_grad and not dtype.is_floating_point:
            raise self.corrupt(f"a {dtype.name} tensor cannot require grad")
        saved = self.field(node, "device", str)
        if saved not in ("cpu", "cuda"):
            raise self.corrupt(f"unknown tensor device {saved!r}")
        data = cuda.to_device(array, self.device(saved))
        if node.get("parameter") is True:
            return Parameter(Tensor._make(data), requires_grad=requires_grad)
        return Tensor._make(data, requires_grad)

    def device(self, saved: str) -> cuda.device:
        """Where a tensor saved on ``saved`` loads, after ``map_location``."""
        target = self.map_location
        if isinstance(target, dict):
            target = target.get(saved, saved)
        elif target is None:
            target = saved
        dev = cuda.device(target)
        if dev == "cuda" and not cuda.is_available():
            raise RuntimeError(
                f"{self.source}: a tensor is to load on 'cuda' (saved on '{saved}') but "
                f"{cuda.UNAVAILABLE}; pass map_location='cpu' to load it on the CPU"
            )
        return dev


def _check_map_location(map_location: Any) -> None:
    if map_location is None or isinstance(map_location, (str, cuda.device)):
        return
    if isinstance(map_location, dict) and all(
        isinstance(k, str) and isinstance(v, (str, cuda.device)) for k, v in map_location.items()
    ):
        return
    raise TypeError(
        "map_location should be None, a device ('cpu', 'cuda', srcdiff.device) or a dict "
        f"from saved device to device, not {type(map_location).__name__}"
    )


def load(f: FileLike, map_location: Any = None, weights_only: bool = True) -> Any:
    """Read an object that ``save`` wrote to ``f`` (a path or a binary file object).

    Tensors load on the device they were saved on, or where ``map_location`` says: a
    device (``'cpu'``, ``'cuda'``, ``srcdiff.device``) for all of them, or a dict from
    the saved device to the one to use (``{'cuda': 'cpu'}``). ``weights_only`` is
    accepted as in PyTorch; the format holds nothing but data, so loading is always as
    safe as ``weights_only=True`` is there.
    """
    _check_map_location(map_location)
    source = _name(f)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as file:
            return _load(file, source, map_location)
    if not (hasattr(f, "seekable") and f.seekable()):
        f = io.BytesIO(f.read())
    return _load(f, source, map_location)


def _load(file: IO[bytes], source: str, map_location: Any) -> Any:
    start = file.tell()
    magic = file.read(len(_ZIP_MAGIC))
    file.seek(start)
    if magic != _ZIP_MAGIC:
        what = "it is empty" if not magic else "it is not a zip (.npz) archive"
        raise ValueError(f"{source}: not an srcdiff archive: {what}")
    try:
        archive = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{source}: damaged srcdiff archive (truncated or corrupt zip): {error}"
        ) from None
    with archive:
        if f"{STRUCTURE}.npy" not in archive.zip.namelist():
            raise ValueError(
                f"{source}: not an srcdiff archive: an .npz file without the "
                f"'{STRUCTURE}' structure entry (was it written by srcdiff.save?)"
            )
        root = _header(_structure(archive, source), source)
        return _Reader(archive, source, map_location).node(root)


def _structure(archive: Any, source: str) -> np.ndarray:
    try:
        raw = archive[STRUCTURE]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{source}: damaged srcdiff archive: cannot read the structure entry ({error})"
        ) from None
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(
            f"{source}: corrupt srcdiff archive: the structure entry is not UTF-8 bytes"
        )
    return raw


def _header(raw: np.ndarray, source: str) -> Any:
    """The root node, after checking the format and version of the structure entry."""
    try:
        structure = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{source}: corrupt srcdiff archive: the structure entry is not valid JSON ({error})"
        ) from None
    if not isinstance(structure, dict) or structure.get("format") != FORMAT:
        raise ValueError(f"{source}: corrupt srcdiff archive: the structure entry has no format")
    version = structure.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{source}: corrupt srcdiff archive: bad format version {version!r}")
    if version > VERSION:
        raise ValueError(
            f"{source}: srcdiff archive of format version {version}; this srcdiff reads "
            f"version {VERSION} and older (upgrade srcdiff)"
        )
    if "root" not in structure:
        raise ValueError(f"{source}: corrupt srcdiff archive: the structure entry has no root")
    return structure["root"]

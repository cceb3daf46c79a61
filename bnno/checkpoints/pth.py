"""Read PyTorch ``.pth`` / ``.pth.tar`` files into NumPy arrays, without PyTorch and
without running code from the file.

A file that ``torch.save`` writes (PyTorch 1.6 and later) is a zip archive: one folder
holding ``data.pkl``, a pickle of the saved object whose tensors refer by key to raw
storages ``data/<key>``, plus ``byteorder`` (absent means little-endian). Older files
(PyTorch < 1.6) are a run of pickles followed by the raw storages; both are read.

A pickle can call any importable function while it loads, so a checkpoint is untrusted
input. ``SafeUnpickler`` resolves only the globals a state dict or an optimizer state
needs (tensor and parameter rebuilds, storage types, ``OrderedDict``, ``torch.Size``)
to harmless stand-ins and refuses every other one with a one-line ``BnnoError`` naming
it, as ``torch.load(weights_only=True)`` does. Tensors come back as NumPy arrays
(bfloat16 as float32), parameters as their tensor.

Example:
    Read the state dict of an official BNext checkpoint::

        checkpoint = load("model_best.pth.tar")
        weights = checkpoint["state_dict"]  # {"module.feature.0.conv1.weight": array, ...}
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from bnno.errors import BnnoError

# Storage class name → (NumPy dtype, bytes per element); bfloat16 is read as uint16 and
# widened to float32 afterwards (NumPy has no bfloat16).
STORAGES = {
    "DoubleStorage": ("<f8", 8), "FloatStorage": ("<f4", 4), "HalfStorage": ("<f2", 2),
    "BFloat16Storage": ("<u2", 2), "LongStorage": ("<i8", 8), "IntStorage": ("<i4", 4),
    "ShortStorage": ("<i2", 2), "CharStorage": ("i1", 1), "ByteStorage": ("u1", 1),
    "BoolStorage": ("?", 1), "UntypedStorage": ("u1", 1),
}
# torch.dtype names that an untyped storage's tensor may name in newer files.
_DTYPES = {"float64": "DoubleStorage", "float32": "FloatStorage", "float16": "HalfStorage",
           "bfloat16": "BFloat16Storage", "int64": "LongStorage", "int32": "IntStorage",
           "int16": "ShortStorage", "int8": "CharStorage", "uint8": "ByteStorage",
           "bool": "BoolStorage"}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    """Stands for a ``torch.<Type>Storage`` class named in a pickle."""

    def __init__(self, name: str):
        self.name = name


class _Dtype:
    """Stands for a ``torch.<dtype>`` named in a pickle."""

    def __init__(self, name: str):
        self.name = name


class _Storage:
    """The bytes of one storage, read lazily as the dtype its tensors use."""

    def __init__(self, data: bytes | None, storage: str):
        self.data, self.storage = data, storage

    def array(self, storage: str | None = None) -> np.ndarray:
        dtype, _ = STORAGES[storage or self.storage]
        return np.frombuffer(self.data, dtype=dtype)


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, stride: tuple, *rest):
    """``torch._utils._rebuild_tensor_v2``: a strided view of a storage, as a NumPy copy."""
    kind = storage.storage
    if storage.data is None:  # a legacy file: its storages follow the object
        return _Lazy(storage, offset, size, stride)
    if kind == "UntypedStorage":
        raise BnnoError("a tensor of the checkpoint has an untyped storage without a dtype; "
                        "re-save the checkpoint with torch.save of a state dict")
    return _view(storage.array(kind), kind, offset, size, stride)


def _view(flat: np.ndarray, kind: str, offset: int, size: tuple, stride: tuple) -> np.ndarray:
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if any(s < 0 for s in size + stride) or offset < 0:
        raise BnnoError("a tensor of the checkpoint has a negative size or stride; the "
                        "file is corrupt")
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if not all(size):  # an empty tensor reads nothing
        last = offset - 1
    if last >= flat.size:
        raise BnnoError("a tensor of the checkpoint reaches past its storage; the file is "
                        "corrupt")
    item = flat.itemsize
    out = np.lib.stride_tricks.as_strided(flat[offset:], size, [s * item for s in stride],
                                          writeable=False).copy()
    if kind == "BFloat16Storage":
        out = (out.astype(np.uint32) << 16).view(np.float32)
    return out


def _rebuild_parameter(data, requires_grad=None, backward_hooks=None, *state):
    """``torch._utils._rebuild_parameter``: a parameter is its tensor here."""
    return data


def _rebuild_from_type(func, new_type, args, state):
    """``torch._tensor._rebuild_from_type_v2`` as a plain tensor (a parameter subclass)."""
    return func(*args)


def _size(*args):
    """``torch.Size``: a tuple."""
    return tuple(*args)


# (module, name) of every global a checkpoint may name, and what it becomes.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type,
    ("torch", "Size"): _size,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch.storage", "UntypedStorage"): _StorageType("UntypedStorage"),
    ("torch", "UntypedStorage"): _StorageType("UntypedStorage"),
    **{("torch", name): _StorageType(name) for name in STORAGES},
    **{("torch", name): _Dtype(name) for name in _DTYPES},
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds only what a state dict needs; ``storages(key, type)``
    returns the ``_Storage`` of a persistent id (``None``: the pickle may name none).

    Example:
        >>> import io, pickle
        >>> SafeUnpickler(io.BytesIO(pickle.dumps({"epoch": 3, "acc": [71.5]}))).load()
        {'epoch': 3, 'acc': [71.5]}
        >>> SafeUnpickler(io.BytesIO(pickle.dumps(print))).load()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: the checkpoint names builtins.print, which a state dict ...
    """

    def __init__(self, file, storages=None):
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise BnnoError(f"the checkpoint names {module}.{name}, which a state dict never "
                            "holds; refused (the file may run code when loaded)")
        return found

    def persistent_load(self, pid: Any) -> Any:
        if (self._storages is None or not isinstance(pid, tuple) or len(pid) < 5
                or pid[0] != "storage"):
            raise BnnoError(f"the checkpoint refers to an unknown object {str(pid)[:60]!r}; "
                            "it is not a PyTorch state dict")
        kind, key = pid[1], str(pid[2])
        if isinstance(kind, _Dtype):  # newer files name the dtype of an untyped storage
            kind = _StorageType(_DTYPES[kind.name])
        if not isinstance(kind, _StorageType):
            raise BnnoError("the checkpoint names a storage of an unknown type; it is not a "
                            "PyTorch state dict")
        return self._storages(key, kind.name, pid)


def load(path: str | Path) -> Any:
    """The object saved in the PyTorch file ``path``, tensors as NumPy arrays.

    Raises:
        BnnoError: the file is missing, not a PyTorch file, corrupt, or names anything a
            state dict does not hold (nothing of it runs).

    Example:
        >>> import pickle, tempfile, zipfile
        >>> path = tempfile.mkdtemp() + "/tiny.pth"
        >>> with zipfile.ZipFile(path, "w") as archive:
        ...     archive.writestr("tiny/data.pkl", pickle.dumps({"epoch": 7}, protocol=2))
        >>> load(path)
        {'epoch': 7}
    """
    path = Path(path)
    if not path.is_file():
        raise BnnoError(f"checkpoint {path} does not exist")
    try:
        if zipfile.is_zipfile(path):
            return _load_zip(path)
        with open(path, "rb") as f:
            return _load_legacy(f, path)
    except (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError, TypeError,
            AttributeError, struct.error, zipfile.BadZipFile, OSError) as e:
        raise BnnoError(f"{path} is not a readable PyTorch checkpoint "
                        f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                        ) from None


def _load_zip(path: Path) -> Any:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if not pickles:
            raise BnnoError(f"{path} is a zip file without <name>/data.pkl; it is not a "
                            "PyTorch checkpoint")
        root = pickles[0].split("/")[0]
        byteorder = f"{root}/byteorder"
        if byteorder in names and archive.read(byteorder).strip() != b"little":
            raise BnnoError(f"{path} was saved on a big-endian machine; re-save it on a "
                            "little-endian one")

        def storage(key: str, kind: str, pid: tuple) -> _Storage:
            return _Storage(archive.read(f"{root}/data/{key}"), kind)

        return SafeUnpickler(io.BytesIO(archive.read(pickles[0])), storage).load()


def _load_legacy(f, path: Path) -> Any:
    # PyTorch < 1.6: magic number, protocol version, system info, the object, the list
    # of storage keys, then each storage as an int64 element count and its bytes.
    if SafeUnpickler(f).load() != _LEGACY_MAGIC:
        raise BnnoError(f"{path} is neither a zip nor a legacy PyTorch file")
    SafeUnpickler(f).load()
    info = SafeUnpickler(f).load()
    if isinstance(info, dict) and not info.get("little_endian", True):
        raise BnnoError(f"{path} was saved on a big-endian machine; re-save it on a "
                        "little-endian one")
    found: dict[str, _Storage] = {}

    def storage(key: str, kind: str, pid: tuple) -> _Storage:
        if pid[5:] and pid[5] is not None:
            raise BnnoError(f"{path} holds storage views (PyTorch < 1.0); re-save it with a "
                            "newer PyTorch")
        return found.setdefault(key, _Storage(None, kind))

    obj = SafeUnpickler(f, storage).load()
    keys = SafeUnpickler(f).load()
    for key in keys:
        item = found.get(str(key))
        if item is None:
            raise BnnoError(f"{path} lists a storage its object never uses; it is corrupt")
        count = struct.unpack("<q", f.read(8))[0]
        size = count * STORAGES[item.storage][1]
        item.data = f.read(size)
        if len(item.data) != size:
            raise BnnoError(f"{path} ends inside a storage; it is truncated")
    return _materialize(obj)


class _Lazy:
    """A tensor of a legacy file, built once its storage has been read."""

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple):
        self.args = storage, offset, size, stride

    def array(self) -> np.ndarray:
        storage, offset, size, stride = self.args
        return _view(storage.array(), storage.storage, offset, size, stride)


def _materialize(obj: Any) -> Any:
    if isinstance(obj, _Lazy):
        return obj.array()
    if isinstance(obj, dict):
        return type(obj)((k, _materialize(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(v) for v in obj)
    return obj



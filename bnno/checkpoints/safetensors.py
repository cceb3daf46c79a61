"""Read ``.safetensors`` files into NumPy arrays, with the standard library and NumPy only.

The format (Hugging Face's safetensors): an unsigned little-endian 64-bit header length
``N``, ``N`` bytes of UTF-8 JSON — an object mapping each tensor name to its ``dtype``,
``shape`` and ``data_offsets`` ``[begin, end]`` (relative to the data, which follows the
header), plus an optional ``__metadata__`` object of strings — then the raw little-endian,
row-major tensor data. Nothing in the file is executed: there is no pickle.

A file is untrusted input, so the whole header is checked before any tensor is read: the
header length (at most 100 MB, as the reference implementation, and inside the file), the
JSON (an object, starting with ``{``, no repeated names, no NaN or infinity), each entry
(exactly ``dtype``, ``shape`` and ``data_offsets``; a known dtype; non-negative integer
dimensions; offsets whose span is the tensor's size), and the offsets together: they must
tile the data from its first byte to the end of the file, without gaps, overlaps or
trailing bytes (as the reference implementation requires). Anything else is a one-line
``BnnoError``. BF16 tensors are widened to float32 (NumPy has no bfloat16).

Example:
    Read the state dict timm publishes on the Hugging Face hub::

        weights = load("model.safetensors")  # {"conv_stem.weight": array, ...}
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np

from bnno.errors import BnnoError, choices

# The reference implementation's bound on the header length.
MAX_HEADER = 100_000_000
# safetensors dtype → NumPy dtype (BF16 read as its 16 bits, then widened).
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8",
          "I32": "<i4", "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2",
          "U8": "u1", "BOOL": "?"}
_FIELDS = {"dtype", "shape", "data_offsets"}


class Tensor(NamedTuple):
    """One header entry: dtype name, shape, and byte offsets into the data."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


class _Bad(Exception):
    """A problem of the file, turned into one BnnoError naming the file."""


def is_safetensors(path: str | Path) -> bool:
    """Whether ``path`` looks like a safetensors file: a plausible header length followed
    by ``{`` (a PyTorch zip or pickle never starts so).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "empty.safetensors"
        >>> _ = path.write_bytes(struct.pack("<Q", 2) + b"{}")
        >>> is_safetensors(path)
        True
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            start = f.read(9)
        size = path.stat().st_size
    except OSError:
        return False
    if len(start) < 9:
        return False
    length = struct.unpack("<Q", start[:8])[0]
    return length <= min(MAX_HEADER, size - 8) and start[8:9] == b"{"


def header(path: str | Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The checked header of the safetensors file ``path``: its tensors (in file order)
    and its metadata.

    Raises:
        BnnoError: the file is missing, or anything in its header is malformed (see the
            module docstring).

    Example:
        >>> import tempfile
        >>> text = b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}'
        >>> path = Path(tempfile.mkdtemp()) / "w.safetensors"
        >>> _ = path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(8))
        >>> header(path)
        ({'w': Tensor(dtype='F32', shape=(2,), begin=0, end=8)}, {})
    """
    path = Path(path)
    if not path.is_file():
        raise BnnoError(f"checkpoint {path} does not exist")
    try:
        with open(path, "rb") as f:
            return _header(f, path.stat().st_size)[:2]
    except _Bad as e:
        raise BnnoError(f"{path} is not a valid safetensors file: {e}") from None
    except OSError as e:
        raise BnnoError(f"cannot read {path}: {e.strerror}") from None


def load(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of the safetensors file ``path`` as NumPy arrays, in file order.

    Raises:
        BnnoError: see ``header``.

    Example:
        >>> import tempfile
        >>> text = b'{"__metadata__": {"format": "pt"}, '
        >>> text += b'"b": {"dtype": "I64", "shape": [], "data_offsets": [0, 8]}}'
        >>> path = Path(tempfile.mkdtemp()) / "b.safetensors"
        >>> _ = path.write_bytes(struct.pack("<Q", len(text)) + text + struct.pack("<q", -3))
        >>> load(path)
        {'b': array(-3)}
    """
    path = Path(path)
    if not path.is_file():
        raise BnnoError(f"checkpoint {path} does not exist")
    try:
        with open(path, "rb") as f:
            tensors, _, start = _header(f, path.stat().st_size)
            return {name: _read(f, start, t) for name, t in tensors.items()}
    except _Bad as e:
        raise BnnoError(f"{path} is not a valid safetensors file: {e}") from None
    except OSError as e:
        raise BnnoError(f"cannot read {path}: {e.strerror}") from None


def _read(f, start: int, tensor: Tensor) -> np.ndarray:
    f.seek(start + tensor.begin)
    data = f.read(tensor.end - tensor.begin)
    if len(data) != tensor.end - tensor.begin:
        raise _Bad("it ends inside a tensor (it changed while being read)")
    out = np.frombuffer(data, dtype=DTYPES[tensor.dtype]).reshape(tensor.shape).copy()
    if tensor.dtype == "BF16":
        out = (out.astype(np.uint32) << 16).view(np.float32)
    return out


def _header(f, size: int) -> tuple[dict[str, Tensor], dict[str, str], int]:
    """Tensors, metadata and the offset of the data in the file."""
    if size < 8:
        raise _Bad(f"it has {size} bytes, fewer than the 8 of its header length")
    length = struct.unpack("<Q", f.read(8))[0]
    if length > MAX_HEADER:
        raise _Bad(f"its header length {length} exceeds {MAX_HEADER} bytes")
    if length > size - 8:
        raise _Bad(f"its header length {length} runs past the end of the file "
                   f"({size} bytes)")
    raw = f.read(length)
    tensors, metadata = _parse(raw)
    _check_offsets(tensors, size - 8 - length)
    return tensors, metadata, 8 + length


def _no_repeats(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        repeated = next(k for k in keys if keys.count(k) > 1)
        raise _Bad(f"its header names '{str(repeated)[:60]}' twice")
    return dict(pairs)


def _no_constant(name: str):
    raise _Bad(f"its header holds {name}, which JSON does not allow")


def _parse(raw: bytes) -> tuple[dict[str, Tensor], dict[str, str]]:
    if not raw.startswith(b"{"):
        raise _Bad("its header does not start with '{'")
    try:
        text = raw.decode("utf-8")
        parsed = json.loads(text, object_pairs_hook=_no_repeats, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise _Bad("its header is not UTF-8") from None
    except (ValueError, RecursionError) as e:
        raise _Bad(f"its header is not JSON ({type(e).__name__})") from None
    if not isinstance(parsed, dict):
        raise _Bad("its header is not a JSON object")
    metadata = parsed.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise _Bad("its __metadata__ is not an object of strings")
    return {name: _entry(name, value) for name, value in parsed.items()}, metadata


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry(name: str, value) -> Tensor:
    short = name[:60]
    if not isinstance(value, dict) or set(value) != _FIELDS:
        raise _Bad(f"tensor '{short}' is not an object of exactly dtype, shape and "
                   "data_offsets")
    dtype, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if dtype not in DTYPES:
        raise _Bad(f"tensor '{short}' has dtype {str(dtype)[:20]!r}; bnno reads "
                   f"{choices(DTYPES)}")
    if not isinstance(shape, list) or not all(_is_int(n) and n >= 0 for n in shape):
        raise _Bad(f"tensor '{short}' has shape {str(shape)[:60]}, not a list of "
                   "non-negative integers")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(_is_int(n) for n in offsets) or not 0 <= offsets[0] <= offsets[1]):
        raise _Bad(f"tensor '{short}' has data_offsets {str(offsets)[:60]}, not "
                   "[begin, end] with 0 <= begin <= end")
    size = math.prod(shape) * np.dtype(DTYPES[dtype]).itemsize
    if offsets[1] - offsets[0] != size:
        raise _Bad(f"tensor '{short}' spans {offsets[1] - offsets[0]} bytes; its dtype "
                   f"and shape need {size}")
    return Tensor(dtype, tuple(shape), offsets[0], offsets[1])


def _check_offsets(tensors: dict[str, Tensor], data_size: int) -> None:
    # The tensors tile the data: sorted by offset, each starts where the previous ended,
    # the first at 0, the last at the end of the file.
    position = 0
    for name, t in sorted(tensors.items(), key=lambda item: (item[1].begin, item[1].end)):
        if t.begin != position:
            what = "overlaps the previous one" if t.begin < position else "leaves a gap before it"
            raise _Bad(f"tensor '{name[:60]}' at byte {t.begin} {what} (expected {position})")
        position = t.end
    if position != data_size:
        raise _Bad(f"its tensors cover {position} bytes of its {data_size} data bytes")

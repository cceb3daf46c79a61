"""The safetensors reader: files the safetensors package wrote (tests/fixtures, made by
benchmarks/timm_fixtures.py) read as NumPy arrays, and every malformed or malicious header
refused with one line before any tensor is read."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from bnno.checkpoints import safetensors
from bnno.errors import BnnoError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def test_every_dtype_written_by_the_safetensors_package_reads_as_numpy():
    tensors = safetensors.load(FIXTURES / "safetensors_dtypes.safetensors")
    base = np.arange(-3, 3).reshape(2, 3)
    expected = {"float_float64": (base / 4, np.float64), "float_float32": (base / 4, np.float32),
                "float_float16": (base / 4, np.float16),
                "float_bfloat16": (base / 4, np.float32),  # widened
                "int_int64": (base, np.int64), "int_int32": (base, np.int32),
                "int_int16": (base, np.int16), "int_int8": (base, np.int8),
                "uint8": (base + 3, np.uint8), "bool": (base % 2 == 0, np.bool_),
                "scalar": (np.array(2.5), np.float32), "empty": (np.zeros((0, 3)), np.float32)}
    assert sorted(tensors) == sorted(expected)
    for name, (values, dtype) in expected.items():
        assert tensors[name].dtype == dtype, name
        assert tensors[name].shape == values.shape, name
        np.testing.assert_array_equal(tensors[name], values.astype(dtype))
    _, metadata = safetensors.header(FIXTURES / "safetensors_dtypes.safetensors")
    assert metadata == {"format": "pt", "note": "bnno reader test"}
    assert tensors["float_float32"].flags.writeable


def _file(tmp_path: Path, header, data: bytes = b"", length: int | None = None) -> Path:
    """A file of ``header`` (JSON of a dict, or raw bytes; None: ``data`` alone) after its
    length (``length`` if given), then ``data``."""
    path = tmp_path / "bad.safetensors"
    if header is None:
        path.write_bytes(data)
        return path
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    size = len(text) if length is None else length
    path.write_bytes(struct.pack("<Q", size) + text + data)
    return path


def _entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


GOOD = {"a": _entry(), "b": _entry("I8", (3,), (8, 11))}


@pytest.mark.parametrize("header, data, length, message", [
    (None, b"\x02\x00\x00", None, "fewer than the 8"),
    (b"", b"", None, "does not start with '{'"),
    ({}, b"", 100_000_001, "exceeds 100000000 bytes"),
    (GOOD, bytes(11), 10_000, "runs past the end of the file"),
    (b" {}", b"", None, "does not start with '{'"),
    (b"{\xff}", b"", None, "is not UTF-8"),
    (b"{not json", b"", None, "is not JSON"),
    (b"[{}]", b"", None, "does not start with '{'"),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, b"", None, "is not JSON (RecursionError)"),
    (b'{"a": 1} {}', b"", None, "is not JSON"),
    (b"[]", b"", None, "does not start with '{'"),
    (b'{"a": 1, "a": 2}', b"", None, "names 'a' twice"),
    (b'{"a": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 0]}}', b"", None,
     "holds NaN"),
    ({"__metadata__": {"format": 1}}, b"", None, "__metadata__ is not an object of strings"),
    ({"a": [1, 2]}, b"", None, "not an object of exactly dtype, shape and data_offsets"),
    ({"a": {**_entry(), "extra": 1}}, bytes(8), None, "exactly dtype, shape"),
    ({"a": _entry("F8_E4M3", (2,), (0, 2))}, bytes(2), None, "has dtype 'F8_E4M3'; bnno reads"),
    ({"a": _entry(shape=(-2,))}, bytes(8), None, "not a list of non-negative integers"),
    ({"a": _entry(shape=(2.0,))}, bytes(8), None, "not a list of non-negative integers"),
    ({"a": _entry(shape=(True,))}, bytes(8), None, "not a list of non-negative integers"),
    ({"a": _entry(offsets=(8, 0))}, bytes(8), None, "0 <= begin <= end"),
    ({"a": _entry(offsets=(-8, 0))}, bytes(8), None, "0 <= begin <= end"),
    ({"a": _entry(offsets=(0, 8, 9))}, bytes(8), None, "not [begin, end]"),
    ({"a": _entry(offsets=(0, 12))}, bytes(12), None, "spans 12 bytes; its dtype and shape "
                                                     "need 8"),
    ({"a": _entry(shape=(2**62, 2**62), offsets=(0, 8))}, bytes(8), None, "need"),
    ({"a": _entry(), "b": _entry(offsets=(4, 12))}, bytes(12), None,
     "at byte 4 overlaps the previous one"),
    ({"a": _entry(), "b": _entry(offsets=(12, 20))}, bytes(20), None,
     "at byte 12 leaves a gap before it"),
    ({"a": _entry(offsets=(4, 12))}, bytes(12), None, "leaves a gap"),
    (GOOD, bytes(12), None, "cover 11 bytes of its 12 data bytes"),
    (GOOD, bytes(10), None, "cover 11 bytes of its 10 data bytes"),
])
def test_a_malformed_file_gets_one_line_naming_its_problem(tmp_path, header, data, length,
                                                           message):
    path = _file(tmp_path, header, data, length)
    with pytest.raises(BnnoError, match="is not a valid safetensors file") as error:
        safetensors.load(path)
    assert message in str(error.value)
    assert "\n" not in str(error.value) and len(str(error.value)) < 300


def test_a_hand_written_file_with_empty_and_unsigned_tensors_reads(tmp_path):
    header = {"__metadata__": {}, "u": _entry("U16", (2,), (0, 4)),
              "e": _entry("F64", (0, 5), (4, 4)), "z": _entry("U64", (), (4, 12))}
    data = struct.pack("<HH", 7, 65535) + struct.pack("<Q", 2**64 - 1)
    tensors = safetensors.load(_file(tmp_path, header, data))
    assert list(tensors) == ["u", "e", "z"]
    np.testing.assert_array_equal(tensors["u"], np.array([7, 65535], np.uint16))
    assert tensors["e"].shape == (0, 5) and tensors["z"] == 2**64 - 1


def test_a_missing_file_or_a_pytorch_file_is_not_taken_for_safetensors(tmp_path):
    with pytest.raises(BnnoError, match="does not exist"):
        safetensors.load(tmp_path / "none.safetensors")
    assert not safetensors.is_safetensors(tmp_path / "none.safetensors")
    assert not safetensors.is_safetensors(FIXTURES / "efficientnet_b0_narrow.pth")
    assert not safetensors.is_safetensors(FIXTURES / "convnext_tiny_narrow.pth")
    assert safetensors.is_safetensors(FIXTURES / "convnext_tiny_narrow.safetensors")

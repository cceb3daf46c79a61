"""The PyTorch file reader: real torch.save files, and pickles that would run code."""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bnno.checkpoints import pth
from bnno.errors import BnnoError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


class RunsCommand:
    """Unpickling this would create a file (os.system), as a malicious checkpoint would."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _zip(path: Path, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", "3\n")
    return path


@pytest.mark.parametrize("wrap", ["zip", "bare"])
def test_a_pickle_that_would_run_a_command_is_refused_and_nothing_runs(tmp_path, wrap):
    marker = tmp_path / "ran"
    payload = pickle.dumps({"state_dict": {"w": RunsCommand(marker)}}, protocol=2)
    if wrap == "zip":
        path = _zip(tmp_path / "evil.pth", payload)
    else:
        path = tmp_path / "evil.pth"
        path.write_bytes(payload)
    with pytest.raises(BnnoError) as e:
        pth.load(path)
    message = str(e.value)
    assert "\n" not in message
    assert ("posix.system" in message or "os.system" in message) and "refused" in message
    assert not marker.exists()


def test_the_official_checkpoint_reads_as_numpy_with_its_optimizer_state():
    checkpoint = pth.load(FIXTURES / "bnext_t_narrow.pth.tar")
    assert checkpoint["epoch"] == 1 and checkpoint["best_top1_acc"] == 33.0
    state = checkpoint["state_dict"]
    weight = state["module.feature.0.conv1.weight"]
    assert weight.dtype == np.float32 and weight.shape == (8, 3, 3, 3)
    assert state["module.feature.0.bn1.num_batches_tracked"].dtype == np.int64
    assert state["module.feature.0.bn1.num_batches_tracked"] == 1234
    # AdamW's state: one step on the classifier, its moments as arrays.
    (entry,) = checkpoint["optimizer"]["state"].values()
    assert entry["exp_avg"].shape == state["module.fc.weight"].shape
    assert checkpoint["optimizer"]["param_groups"][0]["lr"] == 1e-3


def _storage_pickle(values: np.ndarray, offset: int, size: tuple, stride: tuple) -> bytes:
    """data.pkl of one float tensor as torch.save writes it (protocol 2: GLOBAL opcodes for
    the rebuild function and storage type, a persistent id for storage "0"), by hand."""
    def ints(numbers):
        return b"(" + b"".join(b"J" + struct.pack("<i", n) for n in numbers) + b"t"

    return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n("
            b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000"
            b"X\x03\x00\x00\x00cpuJ" + struct.pack("<i", values.size) + b"tQ"
            + b"J" + struct.pack("<i", offset) + ints(size) + ints(stride)
            + b"\x89ccollections\nOrderedDict\n)RtR.")


def test_a_strided_view_of_a_storage_is_read_as_torch_does(tmp_path):
    values = np.arange(12, dtype="<f4")
    path = tmp_path / "t.pth"
    with zipfile.ZipFile(path, "w") as archive:
        # A transposed 3×2 view starting at element 1 of a 12-element storage.
        archive.writestr("t/data.pkl", _storage_pickle(values, 1, (3, 2), (1, 3)))
        archive.writestr("t/data/0", values.tobytes())
    expected = np.lib.stride_tricks.as_strided(values[1:], (3, 2), (4, 12))
    np.testing.assert_array_equal(pth.load(path), expected)


def test_a_view_past_its_storage_and_a_non_checkpoint_get_one_line_errors(tmp_path):
    values = np.arange(4, dtype="<f4")
    path = tmp_path / "t.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("t/data.pkl", _storage_pickle(values, 2, (3,), (1,)))
        archive.writestr("t/data/0", values.tobytes())
    with pytest.raises(BnnoError, match="past its storage"):
        pth.load(path)
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(BnnoError, match="not a readable PyTorch checkpoint") as e:
        pth.load(text)
    assert "\n" not in str(e.value)
    with pytest.raises(BnnoError, match="does not exist"):
        pth.load(tmp_path / "missing.pth")


def test_a_legacy_file_is_read(tmp_path):
    values = np.array([1.5, -2.0, 3.25], dtype="<f4")
    tensor = _storage_pickle(values, 0, (3,), (1,))
    # Legacy persistent ids carry a sixth element (the view metadata, None).
    tensor = tensor.replace(b"J" + struct.pack("<i", 3) + b"tQ",
                            b"J" + struct.pack("<i", 3) + b"NtQ", 1)
    path = tmp_path / "old.pth"
    with open(path, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        f.write(tensor)
        pickle.dump(["0"], f, protocol=2)
        f.write(struct.pack("<q", 3) + values.tobytes())
    np.testing.assert_array_equal(pth.load(path), values)

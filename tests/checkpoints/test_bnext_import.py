"""Official BNext checkpoints as bnno runs: equivalence with the official PyTorch model on
fixtures (tests/fixtures, made by benchmarks/bnext_fixtures.py), the full-size layouts,
mismatches, and the runs bnno's commands read."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from bnno import runs
from bnno.checkpoints import bnext, pth
from bnno.checkpoints.registry import state_dict
from bnno.config import stored
from bnno.errors import BnnoError
from bnno.training.importing import import_checkpoint

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _logits(path: Path) -> np.ndarray:
    import tensorflow as tf

    from bnno.training.loading import load_trained

    net, _ = load_trained(path, stored.read(path), (32, 32, 3), 10)
    logits = tf.keras.Model(net.input, net.get_layer("logits").output)
    return logits(np.load(FIXTURES / "bnext_inputs.npy"), training=False).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("model, hparams", [
    ("bnext_t", {"width_multiplier": 0.25, "blocks": 4}),
    ("bnext_18", {"width_multiplier": 0.125, "blocks_per_stage": 1}),
])
def test_an_imported_model_computes_the_official_logits(tmp_path, model, hparams):
    path = import_checkpoint(model, FIXTURES / f"{model}_narrow.pth.tar", tmp_path / "run")
    spec = runs.read(path)
    assert spec["data"]["dataset"] == "cifar10" and spec["hparams_set"] == "cifar"
    assert {k: spec["model"]["hparams"][k] for k in hparams} == hparams
    assert spec["imported"] == {"checkpoint": f"{model}_narrow.pth.tar", "epoch": 1,
                                "best_top1_acc": 33.0}
    reference = np.load(FIXTURES / f"{model}_narrow_logits.npy")
    # The fixture discriminates: the official top-1 differs between its eight inputs,
    # so "same top-1" below checks more than one class.
    assert reference.shape == (8, 10) and len(set(reference.argmax(1).tolist())) >= 4
    logits = _logits(path)
    scale = np.abs(reference).max()
    assert np.abs(logits - reference).max() <= 1e-4 * scale
    np.testing.assert_array_equal(logits.argmax(1), reference.argmax(1))


def _official_layouts() -> dict[str, dict[str, list[int]]]:
    with gzip.open(FIXTURES / "bnext_layouts.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def test_the_official_full_size_layouts_are_the_importers():
    official = _official_layouts()
    assert sorted(official) == sorted(bnext.MODELS)
    for model, layout in official.items():
        assert bnext.keys(bnext.layout(model)) == {k: tuple(s) for k, s in layout.items()}


# About 15 s each: building a full-size model is the only way to check that bnno's
# full-size Keras layers take the official weights. BNext-S, -M and -L come from
# BNext-T's builder with other width lists, which the test above checks.
@pytest.mark.slow
@pytest.mark.parametrize("model", ["bnext_t", "bnext_18"])
def test_the_official_full_size_weights_fit_bnnos_full_size_model(model):
    import tensorflow as tf

    from bnno import models

    layout = _official_layouts()[model]
    # Zero-stride views stand for the weights, and the graph only declares the
    # variables: no full-size model is allocated.
    state = {k: np.broadcast_to(np.float32(0), s) for k, s in layout.items()}
    with tf.Graph().as_default():
        net = models.get(model)((224, 224, 3), 1000)
        bnext.fill(net, bnext.layout(model), state, check_only=True)


def _state(model: str = "bnext_t") -> dict[str, np.ndarray]:
    return state_dict(pth.load(FIXTURES / f"{model}_narrow.pth.tar"))


def test_a_missing_unexpected_or_mis_shaped_key_is_named_with_the_best_fit():
    state = _state()
    missing = {k: v for k, v in state.items() if k != "feature.2.FFN_1.norm2.running_var"}
    with pytest.raises(BnnoError, match=r"bnext_t: key 'feature\.2\.FFN_1\.norm2\.running_var' "
                                        r"is missing; it fits bnext_t best \("):
        bnext.check(missing, "bnext_t")
    with pytest.raises(BnnoError, match=r"key 'feature\.1\.extra' is unexpected"):
        bnext.check({**state, "feature.1.extra": np.zeros(3)}, "bnext_t")
    bad = {**state, "feature.3.Attention.move.bias": np.zeros((1, 31, 1, 1))}
    with pytest.raises(BnnoError, match=r"'feature\.3\.Attention\.move\.bias' has shape "
                                        r"\(1, 31, 1, 1\), bnext_t needs \(1, 32, 1, 1\)"):
        bnext.check(bad, "bnext_t")
    # (The narrow BNext-S is the narrow BNext-T: their widths differ by 1.5×.)
    with pytest.raises(BnnoError, match="does not fit bnext_m: .*; it fits bnext_[ts] "
                                        r"\(all keys and shapes\)") as e:
        bnext.check(state, "bnext_m")
    assert "\n" not in str(e.value)
    with pytest.raises(BnnoError, match="it fits bnext_18 "):
        bnext.check(_state("bnext_18"), "bnext_t")


def test_a_bad_import_writes_nothing_and_a_used_output_dir_is_never_overwritten(tmp_path, cli):
    out = tmp_path / "run"
    code, _, err = cli("import", "bnext_m", str(FIXTURES / "bnext_t_narrow.pth.tar"),
                       "--output-dir", str(out))
    assert code == 2 and err.startswith("Error: the checkpoint does not fit bnext_m")
    assert len(err.strip().splitlines()) == 1 and not out.exists()
    code, _, err = cli("import", "binarynet", str(FIXTURES / "bnext_t_narrow.pth.tar"))
    assert code == 2 and "it imports: bnext_18" in err
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, err = cli("import", "bnext_t", str(FIXTURES / "bnext_t_narrow.pth.tar"),
                       "--output-dir", str(out))
    assert code == 2 and "is not empty" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


@pytest.mark.slow
def test_an_imported_run_evaluates_like_any_run_and_is_never_trained_into(tmp_path, cli, mock_tfds):
    teacher = tmp_path / "teacher"
    code, out, err = cli("import", "bnext_t", str(FIXTURES / "bnext_t_narrow.pth.tar"),
                         "--output-dir", str(teacher))
    assert code == 0, err
    assert str(teacher) in out
    assert runs.available_weights(teacher, "bnext_t") == ["final"]
    code, out, err = cli("evaluate", str(teacher), "--data-dir", mock_tfds, "--json")
    assert code == 0, err
    assert 0 <= json.loads(out)["accuracy"] <= 1
    # ``bnno train`` never resumes into an imported run.
    code, _, err = cli("train", "bnext_t", "--dataset", "cifar10", "--hparams-set", "cifar",
                       "--hparams", "width_multiplier=0.25,blocks=4", "--output-dir",
                       str(teacher), "--data-dir", mock_tfds)
    assert code == 2 and "imported" in err
    # Fine-tuning starts from it (--init) and distillation learns from it (teachers=).
    student = tmp_path / "student"
    code, out, err = cli("train", "bnext_t", "--dataset", "cifar10", "--hparams-set", "cifar",
                         "--hparams", "width_multiplier=0.25,blocks=4,batch_size=4,epochs=1,"
                         f"teachers={teacher}", "--init", str(teacher), "--output-dir",
                         str(student), "--data-dir", mock_tfds, "--steps-per-epoch", "1",
                         "--validation-steps", "1", "--no-tensorboard", "--verbose", "0")
    assert code == 0, err
    assert f"Starting from {teacher.resolve()} (bnext_t_weights.h5)" in out
    rows = runs.read_metrics(student)
    assert len(rows) == 1 and rows[0]["teacher_s"] > 0 and np.isfinite(rows[0]["loss"])


@pytest.mark.slow
def test_an_imported_bnext_t_exports_every_binary_conv_as_lce_bconv(tmp_path, mock_tfds):
    import h5py

    from bnno.checkpoints.pth import load
    from bnno.data import Source
    from bnno.deploy.export import export_run

    checkpoint = FIXTURES / "bnext_t_narrow.pth.tar"
    official = [k for k in state_dict(load(checkpoint)) if k.endswith("binary_conv.temperature")]
    run_dir = import_checkpoint("bnext_t", checkpoint, tmp_path / "official")
    # The fixture's temperatures lie on both sides of the cutoff, so some of its kernels
    # are still soft (clip(w/T)); a finished run's schedule (× 0.9 per epoch) has taken
    # them all below it, where every kernel is sign(w).
    def finish(name, item):
        if name.endswith("temperature:0"):
            item[...] = 1e-9

    with h5py.File(runs.weights_file(run_dir, "bnext_t"), "r+") as f:
        f.visititems(finish)
    output = tmp_path / "bnext_t.tflite"
    result = export_run(run_dir, output, Source(mock_tfds), check_examples=16)
    # One LceBconv2d per binary convolution of the official model, none left in float.
    assert result["binary_ops"] == result["binary_layers"] == len(official) > 0
    assert result["float_layers"] == [] and result["check"]["passed"]
    assert output.exists()

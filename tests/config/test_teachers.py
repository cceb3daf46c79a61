"""Teachers as BNext's official trainer builds them: a registered bnno model (timm's
architectures) with weights from a checkpoint file, a named source (``timm``: the file
timm's ``pretrained=True`` downloads, in torch hub's folder) or a run; a run dir; a Keras
application under its ``keras_`` name. Names and weights are checked when a run is
planned; a file teacher gives timm's own logits (fixtures of tests/checkpoints)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from bnno import runs
from bnno.checkpoints import timm
from bnno.config import plan, stored
from bnno.config.teachers import Teacher, resolve, upgraded
from bnno.errors import BnnoError
from bnno.training import distill

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
B0 = FIXTURES / "efficientnet_b0_narrow.safetensors"
SHORT = ["--steps-per-epoch", "1", "--validation-steps", "1", "--seed", "1"]


def test_each_teacher_is_a_run_a_bnno_model_or_a_keras_application(tmp_path):
    run = tmp_path / "run"
    runs.create(run, {"model": "binarynet", "dataset": "cifar10", "hparams": {}})
    found = resolve(f"keras_efficientnet_b0+{run}+efficientnet_b2+convnext_tiny",
                    f"imagenet+timm+{B0}")
    assert [(t.kind, t.weights) for t in found] == [
        ("keras", "imagenet"), ("run", None), ("model", "timm"), ("model", str(B0))]
    # One value stands for every teacher named by a model; none (or nothing) is random.
    assert {t.weights for t in resolve("efficientnet_b0+efficientnet_b4", "timm")} == {"timm"}
    assert {t.weights for t in resolve("efficientnet_b0+keras_convnext_tiny", None)} == {
        "none"}


@pytest.mark.parametrize("teachers, weights, message", [
    ("resnet_b9", None, "unknown teacher 'resnet_b9'; use the output dir of a bnno run, a "
                        "Keras application (keras_convnext_tiny, keras_efficientnet_b0, "),
    ("efficientnet_b0", "imagenet", "teacher_weights=imagenet are Keras' weights, for Keras "
                                    "teachers only; efficientnet_b0 is bnno's model"),
    ("keras_efficientnet_b0", "timm", "teacher keras_efficientnet_b0 is a Keras application: "
                                      "its teacher_weights are imagenet or none, not timm"),
    ("efficientnet_b0+efficientnet_b2", "timm+none+none", "teacher_weights has 3 entries; "
                                                          "give one per teacher named by a "
                                                          "model (2)"),
    ("binarynet", "timm", "binarynet has no weights source 'timm'; give it a checkpoint file"),
    ("efficientnet_b0", "no/such/b0.pth", "teacher_weights no/such/b0.pth (for "
                                          "efficientnet_b0) is neither a checkpoint file nor"),
])
def test_bad_teachers_are_refused_in_one_line_when_the_run_is_planned(teachers, weights,
                                                                        message):
    overrides = {"teachers": teachers, "teacher_weights": weights}
    with pytest.raises(BnnoError) as error:
        plan("bnext_t", "cifar10", "cifar", overrides)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_run_as_weights_must_be_a_run_of_that_model(tmp_path):
    run = tmp_path / "run"
    runs.create(run, {"model": "binarynet", "dataset": "cifar10", "hparams": {}})
    with pytest.raises(BnnoError, match=f"teacher_weights {run} is a run of binarynet, not "
                                        "of efficientnet_b0"):
        resolve("efficientnet_b0", str(run))


def test_the_bnext_sets_name_timms_teachers_with_timms_weights():
    for model, teachers in [("bnext_t", "efficientnet_b0+efficientnet_b2"),
                            ("bnext_m", "efficientnet_b0+efficientnet_b2+efficientnet_b4"),
                            ("bnext_l", "efficientnet_b0+efficientnet_b4+convnext_tiny+"
                                        "convnext_tiny")]:
        trainer = plan(model, "imagenet2012", "imagenet").trainer
        assert (trainer.teachers, trainer.teacher_weights) == (teachers, "timm")
        assert {t.kind for t in resolve(trainer.teachers, "timm")} == {"model"}


def test_runs_from_when_bare_names_were_keras_teachers_keep_them(tmp_path):
    assert upgraded("efficientnet_b0+efficientnet_b2", "imagenet") == (
        "keras_efficientnet_b0+keras_efficientnet_b2")
    spec = plan("bnext_t", "imagenet2012", "imagenet").to_json()
    spec["trainer"].update(teachers="efficientnet_b0+efficientnet_b2",
                           teacher_weights="imagenet")
    runs.create(tmp_path / "old", spec)
    assert stored.read(tmp_path / "old").trainer.teachers == (
        "keras_efficientnet_b0+keras_efficientnet_b2")


def _logits(teacher: Teacher) -> np.ndarray:
    inputs = np.load(FIXTURES / "timm_inputs.npy").astype(np.float32)
    net = distill.load_teacher(teacher, inputs.shape[1:], 10)
    assert not net.trainable_weights  # frozen
    return net(inputs).numpy()


@pytest.mark.slow
def test_a_teacher_from_timms_file_gives_timms_logits(tmp_path, monkeypatch):
    reference = np.load(FIXTURES / "efficientnet_b0_narrow_logits.npy")
    for weights in (B0, FIXTURES / "efficientnet_b0_narrow.pth"):
        logits = _logits(Teacher("efficientnet_b0", "model", str(weights)))
        assert np.abs(logits - reference).max() <= 1e-4 * np.abs(reference).max()
    # teacher_weights=timm: the file timm 0.6.11 downloads, in torch hub's folder.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(BnnoError, match="timm's efficientnet_b0 weights efficientnet_b0_ra-"
                                        "3dd342df.pth are not in .*; download https://github"):
        _logits(Teacher("efficientnet_b0", "model", "timm"))
    folder = timm.torch_hub_checkpoints()
    folder.mkdir(parents=True)
    shutil.copy(B0, folder / "efficientnet_b0_ra-3dd342df.pth")
    logits = _logits(Teacher("efficientnet_b0", "model", "timm"))
    assert np.abs(logits - reference).max() <= 1e-4 * np.abs(reference).max()
    with pytest.raises(BnnoError, match="has 10 classes, the student 7"):
        distill.load_teacher(Teacher("efficientnet_b0", "model", str(B0)), (32, 40, 3), 7)


@pytest.mark.slow
def test_a_student_distils_from_a_timm_file_and_a_keras_application(mock_tfds, cli,
                                                                     tmp_path):
    out = tmp_path / "student"
    code, _, err = cli("train", "binarynet", "--dataset", "cifar10", "--hparams-set", "default",
                       "--hparams", "filters=4,dense_units=8,batch_size=4,epochs=1,"
                       "teachers=efficientnet_b0+keras_efficientnet_b0,"
                       f"teacher_weights={B0}+none", "--output-dir", str(out), *SHORT)
    assert code == 0, err
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1]
    assert all(r["teacher_s"] > 0 and np.isfinite(r["loss"]) for r in rows)
    tf.keras.backend.clear_session()

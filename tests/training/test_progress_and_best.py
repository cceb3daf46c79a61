"""Progress output outside a terminal, quiet weight loading, and the best epoch's weights."""

import json
import math
import re
import subprocess

import h5py
import numpy as np
import pytest
import tensorflow as tf
from conftest import PYTHON, TESTS_DIR, all_weights

from bnno import runs
from bnno.errors import BnnoError
from bnno.training.callbacks import BestWeights, EpochLine, auto_verbose, progress

MOCK_BNNO = str(TESTS_DIR / "mock_bnno.py")
TINY = "filters=4,dense_units=8,batch_size=4"
CHECKPOINT_NOISE = ("Value in checkpoint could not be found", "Unresolved object in checkpoint")


def train_args(out, epochs, *more):
    return ["train", "binarynet", "--dataset", "cifar10", "--preprocess-fn", "resize_and_flip",
            "--hparams-set", "bop", "--hparams", f"{TINY},epochs={epochs}", "--steps-per-epoch",
            "4", "--validation-steps", "2", "--seed", "3", "--no-tensorboard", "--output-dir",
            str(out), *more]


def rows(out):
    return [json.loads(line) for line in (out / runs.METRICS_FILE).read_text().splitlines()]


def assert_same_weights(a, b):
    a, b = all_weights(a), all_weights(b)
    assert a.keys() == b.keys() and len(a) > 9
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.slow
def test_piped_training_logs_one_line_per_epoch(tmp_path, subprocess_env):
    out = tmp_path / "run"
    done = subprocess.run([PYTHON, MOCK_BNNO, *train_args(out, 3)], env=subprocess_env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stdout and "\b" not in done.stdout and len(done.stdout) < 2000
    lines = done.stdout.splitlines()
    assert len(lines) == 5 and lines[0].startswith("Run directory") and "Run saved" in lines[4]
    for epoch, (line, row) in enumerate(zip(lines[1:4], rows(out), strict=True), start=1):
        assert re.match(rf"epoch {epoch}/3 - \d+\.\ds - loss ", line), line
        flips = [v for k, v in row.items() if k.startswith("flip_ratio/")]
        for key, value in (("loss", row["loss"]), ("accuracy", row["accuracy"]),
                           ("val_loss", row["val_loss"]),
                           ("val_accuracy", row["val_accuracy"]),
                           ("flip_ratio", sum(flips) / len(flips))):
            assert f" - {key} {value:.4f}" in line, (key, line)
        assert "gamma" not in line and "flip_ratio/" not in line

    # Evaluating the last checkpoint restores only the model: TensorFlow has nothing to
    # warn about, and the training-only flip ratios are not reported.
    (out / "binarynet_weights.h5").unlink()
    done = subprocess.run([PYTHON, MOCK_BNNO, "evaluate", str(out)], env=subprocess_env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not [noise for noise in CHECKPOINT_NOISE if noise in done.stderr], done.stderr
    assert "checkpoint after epoch 3" in done.stdout and "accuracy" in done.stdout
    assert "flip_ratio" not in done.stdout and "\r" not in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("verbose, bar", [("0", False), ("1", True)])
def test_verbose_overrides_the_default(mock_tfds, cli, tmp_path, verbose, bar):
    # The output is captured, not a terminal: by default one line per epoch.
    code, stdout, err = cli(*train_args(tmp_path / "run", 1, "--verbose", verbose))
    assert code == 0, err
    assert not re.search(r"^epoch 1/1 - ", stdout, re.M)
    assert ("4/4 [" in stdout) == bar
    assert "Run saved in" in stdout


def test_bad_verbose_is_refused(cli, tmp_path):
    code, _, err = cli(*train_args(tmp_path / "run", 1, "--verbose", "3"))
    assert code == 2 and "0<=x<=2" in err and err.count("\n") == 1
    with pytest.raises(BnnoError, match="must be 0"):
        progress(5)


def test_default_progress_follows_the_terminal():
    class Terminal:
        def isatty(self):
            return True

    assert auto_verbose(Terminal()) == 1
    assert type(progress(auto_verbose(Terminal()))).__name__ == "CompactProgbar"


def test_epoch_line_leaves_out_hyperparameters_and_pi(capsys):
    line = EpochLine(hidden=("learning_rate", "gamma", "threshold"))  # Bop's logged values
    line.set_params({"epochs": 7})
    line.on_epoch_begin(1)
    line.on_epoch_end(1, {"loss": 1.5, "gamma": 0.001, "learning_rate": 0.01,
                          "flip_pi/conv": -2.0, "flip_ratio/conv": 0.25, "val_loss": 2.0})
    printed = capsys.readouterr().out
    assert re.fullmatch(r"epoch 2/7 - \d+\.\ds - loss 1\.5000 - val_loss 2\.0000 - "
                        r"flip_ratio 0\.2500\n", printed), printed


@pytest.mark.slow
def test_best_weights_are_kept_and_survive_resume(mock_tfds, cli, tmp_path):
    out = tmp_path / "run"
    best_file = runs.best_weights_file(out, "binarynet")
    code, stdout, _ = cli(*train_args(out, 2))
    assert code == 0 and re.search(r"^epoch 2/2 - ", stdout, re.M)  # captured: not a terminal
    accuracies = [row["val_accuracy"] for row in rows(out)]
    best = runs.read_best(best_file)
    assert best["epoch"] == accuracies.index(max(accuracies)) + 1
    assert best["val_accuracy"] == pytest.approx(max(accuracies))
    if best["epoch"] == 2:
        assert_same_weights(best_file, out / "binarynet_weights.h5")

    # The record lives in the run directory: a resumed run compares its epochs with it.
    with h5py.File(best_file, "a") as f:
        f.attrs[runs.BEST_VALUE] = 2.0  # no epoch can beat it
    kept = best_file.read_bytes()
    assert cli(*train_args(out, 3))[0] == 0
    assert best_file.read_bytes() == kept
    with h5py.File(best_file, "a") as f:
        f.attrs[runs.BEST_VALUE] = -1.0  # every epoch beats it
    assert cli(*train_args(out, 4))[0] == 0
    assert runs.read_best(best_file) == {"epoch": 4, "val_accuracy": rows(out)[3]["val_accuracy"]}
    assert_same_weights(best_file, out / "binarynet_weights.h5")


def test_an_epoch_with_a_nan_loss_is_never_the_best(tmp_path):
    path = tmp_path / "best.h5"
    model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(1)])
    best = BestWeights(path)
    best.set_model(model)
    best.on_train_begin()
    best.on_epoch_end(0, {"loss": 1.0, "val_accuracy": 0.3})
    best.on_epoch_end(1, {"loss": math.nan, "val_accuracy": 0.9})
    best.on_epoch_end(2, {"loss": 1.0, "val_accuracy": 0.3})  # a tie keeps the earlier one
    assert runs.read_best(path) == {"epoch": 1, "val_accuracy": 0.3}


@pytest.mark.slow
def test_weights_choice_on_evaluate_and_landscape(mock_tfds, cli, tmp_path):
    out = tmp_path / "run"
    assert cli(*train_args(out, 1))[0] == 0
    code, stdout, err = cli("evaluate", str(out), "--weights", "best", "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert result["weights"].startswith("binarynet_best_weights.h5 (epoch 1, val_accuracy ")
    assert set(result) == {"weights", "loss", "accuracy", "top5_accuracy"}
    # The best epoch is the only epoch: the same weights, the same results.
    final = json.loads(cli("evaluate", str(out), "--json")[1])
    assert final["weights"] == "binarynet_weights.h5" and final["loss"] == result["loss"]

    code, stdout, err = cli("landscape", str(out), "--weights", "last-checkpoint", "--points",
                            "3", "--batches", "1")
    assert code == 0, err
    assert "Weights: checkpoint after epoch 1" in stdout
    saved = np.load(out / "landscape" / "landscape_1d.npz")
    assert str(saved["weights_used"]) == "checkpoint after epoch 1"

    (out / "binarynet_weights.h5").unlink()
    for command in (["evaluate", str(out)], ["landscape", str(out), "--points", "3"]):
        code, _, err = cli(*command, "--weights", "final")
        assert code == 2 and err.count("\n") == 1
        assert "has no final weights; it has: best, last-checkpoint" in err
    code, _, err = cli("evaluate", str(out), "--weights", "newest")
    assert code == 2 and "'final', 'best', 'last-checkpoint'" in err
    code, _, err = cli("landscape", str(out), "--initial", "--weights", "best")
    assert code == 2 and "exclude each other" in err and err.count("\n") == 1

"""bnno runs: real tiny runs (finished, interrupted, stopped by NaN) and broken folders."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from conftest import MOCK_EXAMPLES
from conftest import train_tiny as train

from bnno import data, runs
from bnno.training.train import TrainingStopped

TINY = "filters=4,dense_units=8,batch_size=4"
SHORT = dict(seed=1, steps_per_epoch=2, validation_steps=2)


class Interrupt(tf.keras.callbacks.Callback):
    """Stops the process after ``epochs`` epochs were saved, as a kill would."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def root(tmp_path_factory, mock_data_dir):
    """A runs folder with a finished, an interrupted and a NaN-stopped run, and broken
    folders (one inside a sweep-like subfolder). Tests that change it work on a copy."""
    root = tmp_path_factory.mktemp("listing") / "runs"
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=mock_data_dir), \
            pytest.MonkeyPatch.context() as monkeypatch:
        _make_runs(root, monkeypatch)
    return root


def _make_runs(root, monkeypatch):
    train("binarynet", "cifar10", "bop", f"{TINY},epochs=2", output_dir=root / "done",
          **SHORT)
    with open(root / "done" / runs.METRICS_FILE, "a") as f:
        f.write('{"epoch": 3, "val_acc')  # a line cut short by a kill: skipped
    with pytest.raises(KeyboardInterrupt):
        train("binarynet", "mnist", "default", f"{TINY},epochs=3", output_dir=root / "killed",
              callbacks=[Interrupt(2)], **SHORT)

    clean = data.Dataset.train

    def poisoned(self, *args, **kwargs):
        return clean(self, *args, **kwargs).map(lambda x, y: (x * np.nan, y))

    monkeypatch.setattr(data.Dataset, "train", poisoned)
    with pytest.raises(TrainingStopped):
        train("binarynet", "cifar10", "bop", f"{TINY},epochs=2", output_dir=root / "nan",
              **SHORT)
    (root / "sweep" / "broken").mkdir(parents=True)
    (root / "sweep" / "broken" / runs.RUN_FILE).write_text("{not json")
    (root / "orphan").mkdir()
    (root / "orphan" / runs.METRICS_FILE).write_text('{"epoch": 1}\n')
    (root / "empty").mkdir()  # not a run, holds none: not listed


@pytest.mark.slow
def test_runs_table_and_json(root, cli):
    code, stdout, err = cli("runs", str(root), "--json")
    assert code == 0, err
    found = {row["run"]: row for row in json.loads(stdout)}
    assert list(found) == ["done", "killed", "nan", "orphan", "sweep/broken"]

    done = [json.loads(line) for line in
            (root / "done" / runs.METRICS_FILE).read_text().splitlines()[:2]]
    accuracies = [row["val_accuracy"] for row in done]
    best = accuracies.index(max(accuracies))
    assert found["done"] == {
        "run": "done", "model": "binarynet", "dataset": "cifar10", "hparams_set": "bop",
        "epochs_done": 2, "epochs": 2, "best_val_accuracy": pytest.approx(accuracies[best]),
        "best_epoch": best + 1, "last_val_accuracy": accuracies[1], "status": "finished"}
    killed = found["killed"]
    assert (killed["dataset"], killed["hparams_set"], killed["epochs_done"], killed["epochs"],
            killed["status"]) == ("mnist", "default", 2, 3, "interrupted")
    assert killed["best_epoch"] in (1, 2) and killed["last_val_accuracy"] is not None
    nan = found["nan"]
    assert (nan["epochs_done"], nan["status"], nan["best_val_accuracy"]) == \
        (0, "stopped by NaN", None)
    assert found["orphan"]["status"] == "unreadable: no run.json"
    assert found["sweep/broken"]["status"] == "unreadable: corrupt run.json"

    code, stdout, err = cli("runs", str(root))
    assert code == 0, err
    lines = stdout.splitlines()
    assert lines[0].split() == ["run", "model", "dataset", "set", "epochs", "best", "val",
                                "acc", "last", "val", "acc", "status"]
    table = {line.split()[0]: line for line in lines[1:]}
    assert table["done"].split()[4:5] == ["2/2"] and table["done"].endswith("finished")
    assert f"{accuracies[1]:.2%}" in table["done"]
    assert " 2/3 " in table["killed"] and table["killed"].endswith("interrupted")
    assert " 0/2 " in table["nan"] and table["nan"].endswith("stopped by NaN")
    assert table["sweep/broken"].endswith("unreadable: corrupt run.json")


@pytest.mark.parametrize("damage", ["index", "data"])
def test_a_damaged_checkpoint_is_listed_not_fatal(root, cli, tmp_path, damage):
    root = shutil.copytree(root, tmp_path / "runs")
    backup = root / "killed" / runs.BACKUP_DIR / "chief"
    if damage == "index":
        (backup / "checkpoint").write_text("garbage{")
    else:
        for file in backup.glob("*.data-*"):
            file.write_bytes(file.read_bytes()[:10])
    code, stdout, err = cli("runs", str(root), "--json")
    assert code == 0, err
    found = {row["run"]: row for row in json.loads(stdout)}
    assert found["killed"]["status"] == "unreadable: corrupt checkpoint"
    assert found["done"]["status"] == "finished"


@pytest.mark.slow
def test_resuming_a_nan_stopped_run_clears_its_status(root, mock_tfds, tmp_path):
    run = shutil.copytree(root / "nan", tmp_path / "nan")
    assert runs.read_stopped(run) == {"reason": "nan", "epoch": 1, "batch": 1}
    # The NaN came before any checkpoint: the run starts again from its first epoch.
    train("binarynet", "cifar10", "bop", f"{TINY},epochs=2", output_dir=run, **SHORT)
    assert runs.read_stopped(run) is None


def test_runs_without_folder(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("runs")
    assert code == 2 and err.count("\n") == 1 and "runs is not a folder" in err
    (tmp_path / "runs").mkdir()
    code, stdout, _ = cli("runs")
    assert code == 0 and stdout == "No runs found.\n"
    code, stdout, _ = cli("runs", "--json")
    assert code == 0 and json.loads(stdout) == []

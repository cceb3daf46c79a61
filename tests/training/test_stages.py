"""Sets trained in stages: each stage's sections over the set's, one run directory with a
sub-directory per stage, weights carried as each stage declares, resumable at any epoch of
any stage (also after a kill between stages), and the commands that read a run taking the
staged run for its last stage. Generic parts on a test-only set of binarynet on mock
data; ReActNet-A's two steps on real CIFAR-10 when BNNO_DATA_DIR is set."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from conftest import MOCK_EXAMPLES

from bnno import hparams, runs
from bnno.analysis.runs_table import scan
from bnno.config.plan import check_set
from bnno.config.stages import carry_of, plan_stages
from bnno.errors import BnnoError
from bnno.training.stages import train_stages
from bnno.training.train import TrainOptions, evaluate

STAGED = {
    "description": "test only: a latent binarynet after a real-weight one", "source": "tests",
    "model": {"filters": 4, "dense_units": 8, "kernel_constraint": None},
    "optimizer": {"name": "adam", "learning_rate": 0.01},
    "trainer": {"epochs": 2, "batch_size": 8, "steps_per_epoch": 2, "validation_steps": 1},
    "data": {"preprocess_fn": "resize_and_flip"},
    "stages": {
        "real": {"model": {"kernel_quantizer": None}, "trainer": {"l2_decay": 1e-4}},
        "binary": {"model": {"kernel_quantizer": "ste_sign"},
                   "carry": "all_but_binary_kernels", "carry_from": "final"},
    },
}


@pytest.fixture
def staged_sets(tmp_path):
    """binarynet's test-only staged sets, in a folder of their own while the test runs."""
    folder = tmp_path / "sets"
    folder.mkdir()
    carried = {**STAGED, "stages": {"real": STAGED["stages"]["real"], "binary": {
        **STAGED["stages"]["binary"], "carry": "all", "carry_from": "best"}}}
    (folder / "binarynet.json").write_text(json.dumps({
        "test_only_staged": STAGED, "test_only_carried": carried,
        "test_only_longer": {"description": "x", "source": "tests",
                             "extends": "test_only_staged", "trainer": {"epochs": 3}}}))
    hparams.add_folder(folder)
    try:
        yield folder
    finally:
        hparams.remove_folder(folder)


def test_a_stage_overrides_the_sets_sections(staged_sets):
    assert hparams.stage_names("binarynet", "test_only_staged") == ["real", "binary"]
    assert hparams.stage_names("binarynet", "test_only_longer") == ["real", "binary"]
    assert hparams.stage_names("binarynet", "bop") == []
    first = check_set("binarynet", "test_only_staged", stage="real")
    assert first.model.hparams["kernel_quantizer"] is None and first.trainer.l2_decay == 1e-4
    last = check_set("binarynet", "test_only_longer")  # by default the last stage
    assert last.stage == "binary" and last.model.hparams["kernel_quantizer"] == "ste_sign"
    assert last.trainer.l2_decay == 0.0 and last.trainer.epochs == 3
    # Overrides come after the stage's sections, in every stage.
    assert check_set("binarynet", "test_only_staged", {"l2_decay": "0.5"},
                     stage="real").trainer.l2_decay == 0.5
    with pytest.raises(BnnoError, match="has no stage 'step3'; its stages: real, binary$"):
        check_set("binarynet", "test_only_staged", stage="step3")


@pytest.mark.parametrize("raw, first, message", [
    ({"carry": "some"}, False, "carry must be one of: all, all_but_binary_kernels, none"),
    ({"carry_from": "last"}, False, "carry_from must be one of: best, final"),
    ({"carry": "all"}, True, "is the first stage: there is no stage before it"),
])
def test_a_bad_carry_is_refused_in_one_line(raw, first, message):
    with pytest.raises(BnnoError, match=message) as error:
        carry_of(raw, "stage x", first)
    assert "\n" not in str(error.value)


def test_stages_share_one_seed_and_only_the_first_starts_from_init(staged_sets):
    stages = plan_stages("binarynet", "cifar10", "test_only_staged")
    assert [(s.name, s.carry, s.carry_from) for s in stages] == [
        ("real", "none", "final"), ("binary", "all_but_binary_kernels", "final")]
    assert stages[0].config.seed == stages[1].config.seed
    assert not stages[1].config.seed_given
    assert plan_stages("binarynet", "cifar10", "bop") is None
    # Planned as one run (a sweep, a comparison), a staged set says what it trains.
    from bnno.config import plan

    assert plan("binarynet", "cifar10", "test_only_staged").notes == (
        "set 'test_only_staged' trains in stages; this run is its last, 'binary', alone "
        "(bnno train runs them all)",)


class Recorder(tf.keras.callbacks.Callback):
    """The model's weights by layer at the start and end of every ``fit``; raises
    ``Stop`` when ``stop(fits, epoch)`` says so after an epoch, or at the start of a fit
    (epoch -1): a kill."""

    def __init__(self, stop=lambda fits, epoch: False):
        super().__init__()
        self.seen: list[tuple[str, dict]] = []
        self.stop, self.fits = stop, 0

    def _weights(self) -> list:
        """Per layer with weights (in order: names differ between models): each weight's
        value and whether it is a kernel the model binarizes."""
        return [[(w.numpy().copy(), getattr(layer, "kernel_quantizer", None) is not None
                  and w is layer.kernel) for w in layer.weights]
                for layer in self.model.layers if layer.weights]

    def on_train_begin(self, logs=None):
        self.fits += 1
        self.seen.append(("begin", self._weights()))
        if self.stop(self.fits, -1):  # before the first epoch of this fit
            raise Stop()

    def on_epoch_end(self, epoch, logs=None):
        if self.stop(self.fits, epoch):
            raise Stop()

    def on_train_end(self, logs=None):
        self.seen.append(("end", self._weights()))


class Stop(Exception):
    """A kill, as a test can make one in process."""


def run_staged(path, set_name, recorder, mock_data_dir):
    stages = plan_stages("binarynet", "cifar10", set_name, seed=3)
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=mock_data_dir):
        return train_stages(stages, path, options=TrainOptions(
            tensorboard=False, verbose=0, callbacks=(recorder,)))


@pytest.mark.slow
def test_a_staged_run_carries_weights_as_its_stages_declare(staged_sets, tmp_path,
                                                            mock_data_dir):
    recorder = Recorder()
    path = run_staged(tmp_path / "run", "test_only_staged", recorder, mock_data_dir)
    assert json.loads((path / runs.STAGES_FILE).read_text())["stages"][1] == {
        "name": "binary", "carry": "all_but_binary_kernels", "carry_from": "final"}
    for stage in ("real", "binary"):
        assert (path / stage / runs.RUN_FILE).is_file()
        assert len(runs.read_metrics(path / stage)) == 2
        assert runs.weights_file(path / stage, "binarynet").is_file()
        assert runs.best_weights_file(path / stage, "binarynet").is_file()
    (_, _), (_, end1), (_, start2), _ = recorder.seen
    flags = [binary for layer in start2 for _, binary in layer]
    assert sum(flags) == 9  # binarynet's 6 convolutions and 3 dense layers
    for layer, before in zip(start2, end1, strict=True):
        for (now, binary), (then, _) in zip(layer, before, strict=True):
            # Kernels the second stage binarizes start anew; the rest is step 1's last.
            assert np.array_equal(now, then) != binary
    # Commands that read a run take the staged run for its last stage.
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=mock_data_dir):
        assert evaluate(path, verbose=0)["weights"] == "binarynet_weights.h5"
    assert runs.stage_dir(path) == path / "binary"
    rows = {row["run"]: row["status"] for row in scan(tmp_path)}
    assert rows == {"run/real": "finished", "run/binary": "finished"}


@pytest.mark.slow
def test_carry_all_from_best_takes_the_best_epoch(staged_sets, tmp_path, mock_data_dir):
    from bnno.config import stored
    from bnno.training.loading import load_trained

    recorder = Recorder()
    path = run_staged(tmp_path / "run", "test_only_carried", recorder, mock_data_dir)
    first = path / "real"
    net, _ = load_trained(first, stored.read(first), (32, 32, 3), 10, weights="best")
    best = [layer for layer in net.layers if layer.weights]
    for layer, values in zip(best, recorder.seen[2][1], strict=True):
        for w, (now, _) in zip(layer.weights, values, strict=True):
            np.testing.assert_array_equal(now, w.numpy())


@pytest.mark.slow
def test_a_kill_between_stages_or_inside_one_resumes_as_if_none_happened(
        staged_sets, tmp_path, mock_data_dir):
    through = Recorder()
    run_staged(tmp_path / "through", "test_only_staged", through, mock_data_dir)
    # Killed as the second stage starts (before its first epoch ends), then inside it
    # after its first epoch; the same call resumes both times.
    path = tmp_path / "killed"
    with pytest.raises(Stop):
        run_staged(path, "test_only_staged", Recorder(lambda fits, e: (fits, e) == (2, -1)),
                   mock_data_dir)
    assert not (path / "binary").exists()  # a stage without an epoch leaves nothing
    with pytest.raises(Stop):
        # The first stage is done: the second stage's is the only fit now.
        run_staged(path, "test_only_staged", Recorder(lambda fits, e: (fits, e) == (1, 0)),
                   mock_data_dir)
    assert runs.completed_epochs(path / "binary") == 1
    resumed = Recorder()
    run_staged(path, "test_only_staged", resumed, mock_data_dir)
    assert len(runs.read_metrics(path / "real")) == 2  # the first stage trained once
    assert [row["epoch"] for row in runs.read_metrics(path / "binary")] == [1, 2]
    for layer, expected in zip(resumed.seen[-1][1], through.seen[-1][1], strict=True):
        for (now, _), (then, _) in zip(layer, expected, strict=True):
            np.testing.assert_array_equal(now, then)


def test_another_staged_run_in_the_same_directory_is_refused(staged_sets, tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    (path / runs.STAGES_FILE).write_text(json.dumps({"model": "binarynet", "stages": []}))
    with pytest.raises(BnnoError, match="holds a run in stages of another model"):
        train_stages(plan_stages("binarynet", "cifar10", "test_only_staged"), path)
    (path / runs.STAGES_FILE).unlink()
    (path / "notes.txt").write_text("mine")
    with pytest.raises(BnnoError, match="holds something other than a run in stages"):
        train_stages(plan_stages("binarynet", "cifar10", "test_only_staged"), path)


DATA_DIR = os.environ.get("BNNO_DATA_DIR")


@pytest.mark.slow
@pytest.mark.skipif(not DATA_DIR, reason="BNNO_DATA_DIR is not set")
def test_reactnet_a_runs_both_steps_on_cifar10_and_resumes_after_a_kill_between_them(
        tmp_path):
    # The ReActNet recipe in one command on real CIFAR-10 (narrow, a few steps, labels
    # in place of the ImageNet teacher), killed (SIGKILL) as step 2 starts, then resumed
    # by the same command: step 1 is not trained again, step 2 starts from it.
    path = tmp_path / "run"
    command = [sys.executable, "-m", "bnno.cli", "train", "reactnet_a", "--dataset", "cifar10",
               "--hparams-set", "reactnet", "--data-dir", DATA_DIR, "--output-dir", str(path),
               "--preprocess-fn", "crop_flip_normalize", "--steps-per-epoch", "2",
               "--validation-steps", "1", "--seed", "5", "--no-tensorboard", "--verbose", "2",
               "--hparams", "width_multiplier=0.0625,epochs=1,learning_rate.epochs=1,"
               "batch_size=8,teachers=none"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not (path / "step2").exists() and first.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert runs.weights_file(path / "step1", "reactnet_a").is_file()
    assert not runs.weights_file(path / "step2", "reactnet_a").is_file()
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "step1: all 1 epochs are done; nothing to train." in done.stdout
    assert len(runs.read_metrics(path / "step1")) == 1
    assert len(runs.read_metrics(path / "step2")) == 1
    assert runs.weights_file(path / "step2", "reactnet_a").is_file()

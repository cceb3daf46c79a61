"""Runs that survive a cluster: a signal stops a run after the current step with its
position saved, and the resumed run ends with the weights of an uninterrupted one; saves
inside epochs resume at their step; the run directory has one writer; a failed write
names its file and keeps the last good checkpoint."""

import errno
import json
import os
import signal

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from conftest import all_weights, overrides
from mock_bnno import MOCK_EXAMPLES

from bnno import atomic, locks, runs
from bnno.config import plan
from bnno.errors import BnnoError, Preempted
from bnno.training.train import TrainOptions, train

STEPS, EPOCHS = 6, 3
HPARAMS = "filters=4,dense_units=8,batch_size=4,epochs=3,gamma.decay_steps=5"


def config(extra=""):
    text = HPARAMS + (f",{extra}" if extra else "")
    return plan("binarynet", "cifar10", "bop_sec52",
                {**overrides(text), "steps_per_epoch": STEPS, "validation_steps": 1,
                 "preprocess_fn": "resize_and_flip"}, seed=7)


def options(*callbacks, **kwargs):
    return TrainOptions(tensorboard=False, verbose=0, callbacks=callbacks, **kwargs)


class At(tf.keras.callbacks.Callback):
    """At the end of step ``batch`` (from 0) of epoch ``epoch``, call ``action``."""

    def __init__(self, epoch, batch, action):
        super().__init__()
        self.at, self.action, self.epoch = (epoch, batch), action, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.action()


def crash():
    raise RuntimeError("the node went away")


def trained(path, cfg=None, opts=None):
    tf.keras.backend.clear_session()  # both runs name their weights alike
    return train(cfg or config(), path, None, opts or options())


def assert_same_weights(a, b):
    wa, wb = all_weights(a), all_weights(b)
    assert wa.keys() == wb.keys() and len(wa) > 9
    for name in wa:
        np.testing.assert_array_equal(wa[name], wb[name], err_msg=name)


def epochs_and_steps(path):
    rows = runs.read_metrics(path)
    return [r["epoch"] for r in rows], [r["step"] for r in rows]


@pytest.fixture(scope="module")
def mock_data(mock_data_dir):
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=mock_data_dir):
        yield


@pytest.fixture(scope="module")
def uninterrupted(mock_data, tmp_path_factory):
    """The weights file of the run trained without a stop."""
    path = trained(tmp_path_factory.mktemp("whole") / "run")
    assert epochs_and_steps(path) == ([1, 2, 3], [6, 12, 18])
    return runs.weights_file(path, "binarynet")


def test_sigterm_mid_epoch_saves_the_step_and_the_resumed_run_equals_the_whole(
        uninterrupted, tmp_path, capsys):
    out = tmp_path / "run"
    # SIGTERM arrives at the end of step 3 of epoch 2, after bnno looked for one: step 4
    # (running when it is seen) finishes, the next one does not start.
    term = At(1, 2, lambda: os.kill(os.getpid(), signal.SIGTERM))
    with pytest.raises(Preempted) as stopped:
        trained(out, opts=options(term))
    message = str(stopped.value)
    assert message.startswith("SIGTERM: stopped after step 4 of epoch 2; checkpoint saved in")
    assert "\n" not in message and "exit status 75" in message
    assert runs.checkpoint_position(out, STEPS) == (1, 4)
    assert epochs_and_steps(out) == ([1], [6])  # no row of the unfinished epoch
    assert not runs.weights_file(out, "binarynet").exists()
    assert locks.read(out) is None  # released
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored
    capsys.readouterr()
    trained(out)
    assert "Resuming" in capsys.readouterr().out
    assert epochs_and_steps(out) == ([1, 2, 3], [6, 12, 18])
    assert_same_weights(uninterrupted, runs.weights_file(out, "binarynet"))


@pytest.mark.parametrize("every, dies_at, position", [
    # Saves after steps 4 and 8 of the run: the last is after step 2 of epoch 2.
    ({"checkpoint_every": 4}, (1, 4), (1, 2)),
    # A save after every step (the resumed run saves in its first epoch too).
    ({"checkpoint_minutes": 1e-9}, (1, 2), (1, 3)),
])
def test_a_run_that_died_resumes_at_its_last_save_inside_the_epoch(
        uninterrupted, tmp_path, every, dies_at, position, capsys):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="went away"):
        trained(out, opts=options(At(*dies_at, crash), **every))
    assert runs.checkpoint_position(out, STEPS) == position
    files = json.loads((out / "backup" / "chief" / runs.CHECKPOINT_FILES).read_text())
    assert (files["epochs_done"], files["steps_done"]) == position
    capsys.readouterr()
    trained(out, opts=options(**every))
    assert f"at step {position[1]} of epoch 2" in capsys.readouterr().out
    assert epochs_and_steps(out) == ([1, 2, 3], [6, 12, 18])  # each epoch once
    assert_same_weights(uninterrupted, runs.weights_file(out, "binarynet"))


def test_a_full_disk_names_the_file_and_keeps_the_last_checkpoint(mock_data, tmp_path,
                                                                   monkeypatch):
    out = tmp_path / "run"
    trained(out, config().replace(trainer=config().trainer.__class__(
        **{**config().trainer.__dict__, "epochs": 1})))
    before = (out / runs.METRICS_FILE).read_text()

    def full(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full)
    with pytest.raises(BnnoError) as failed:
        trained(out, opts=options(checkpoint_every=2))
    assert str(failed.value) == (f"cannot write a checkpoint in {out / 'backup'} (No space "
                                 "left on device); the last good checkpoint there stays "
                                 "loadable")
    assert runs.checkpoint_position(out, STEPS) == (1, 0) and runs.checkpointed_epochs(out) == 1
    assert (out / runs.METRICS_FILE).read_text() == before
    # A plain file write: the old file stays whole and no temporary file is left.
    monkeypatch.setattr(atomic.os, "replace", lambda *a: (_ for _ in ()).throw(
        OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(BnnoError, match=f"^cannot write {out / 'run.json'}: No space left"):
        runs.create(out, {"model": "x"})
    assert json.loads((out / "run.json").read_text())["model"]["name"] == "binarynet"
    assert not [p for p in out.iterdir() if ".tmp" in p.name]


def test_one_writer_per_run_directory(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    holder = locks.RunLock(out)
    holder.acquire()
    try:
        with pytest.raises(BnnoError) as refused:
            with locks.held(out):
                pass
        assert str(refused.value).startswith(f"{out} is being trained by PID {os.getpid()} on ")
        assert locks.state(out) == "running"
    finally:
        holder.release()
    # A holder on another host (a shared file system) whose heartbeat stopped long ago.
    record = {"host": "node-elsewhere", "pid": 1, "started": "2026-01-01 00:00:00 UTC",
              "heartbeat": 0.0, "token": "old"}
    (out / locks.LOCK_FILE).write_text(json.dumps(record))
    assert locks.state(out) == "interrupted"
    with locks.held(out):
        assert locks.read(out)["pid"] == os.getpid()
    said = capsys.readouterr().out
    assert said.startswith(f"Taking over the lock of {out} from PID 1 on node-elsewhere")
    assert said.rstrip().endswith("s ago.") and said.count("\n") == 1
    # The same host: a PID that is not running.
    (out / locks.LOCK_FILE).write_text(json.dumps({**record, "host": locks.socket.gethostname(),
                                                  "heartbeat": 1e12, "pid": 2**22 + 1}))
    with locks.held(out):
        pass
    assert "its process is no longer running" in capsys.readouterr().out
    assert locks.read(out) is None

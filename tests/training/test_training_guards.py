"""A NaN loss stops training and leaves the last good checkpoint; metrics rows of a
resumed run are not duplicated; every epoch's data is a function of (seed, epoch)."""

import json

import numpy as np
import pytest
import tensorflow as tf
from conftest import train_tiny

from bnno import data, runs
from bnno.config import stored
from bnno.config.plan import plan
from bnno.data import preprocessing
from bnno.errors import BnnoError
from bnno.training.callbacks import GoodStateBackup, MetricsLog


def test_nan_loss_keeps_last_good_checkpoint(tmp_path):
    model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.ones((8, 2), "float32")
    y = np.ones((8, 1), "float32")
    y_bad = y.copy()
    y_bad[5] = np.nan  # second batch of the second epoch
    ds = tf.data.Dataset.from_tensor_slices((np.concatenate([x, x]),
                                             np.concatenate([y, y_bad]))).batch(4)
    backup = GoodStateBackup(str(tmp_path / runs.BACKUP_DIR))
    log = MetricsLog(tmp_path / runs.METRICS_FILE, first_epoch=0)
    model.fit(ds, epochs=4, steps_per_epoch=2, callbacks=[log, backup], verbose=0)
    assert backup.nan_at == (1, 1)
    assert runs.completed_epochs(tmp_path) == 1
    good = tf.train.latest_checkpoint(str(tmp_path / runs.BACKUP_DIR / "chief"))
    restored = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    tf.train.Checkpoint(model=restored).restore(good).expect_partial()
    assert np.isfinite(restored.layers[0].kernel.numpy()).all()


def test_metrics_log_drops_rows_of_unfinished_epochs(tmp_path):
    path = tmp_path / runs.METRICS_FILE
    path.write_text("".join(json.dumps({"epoch": e}) + "\n" for e in (1, 2, 3)))
    MetricsLog(path, first_epoch=2).on_train_begin()
    assert [r["epoch"] for r in runs.read_metrics(tmp_path)] == [1, 2]


def test_epoch_data_depends_only_on_seed_and_epoch(mock_tfds):
    ds = data.load("cifar10")

    def batches(first_epoch, epochs, seed=5):
        it = ds.train(4, "resize_and_flip", seed, first_epoch, epochs, steps_per_epoch=3)
        return [x.numpy() for x, _ in it]

    from_start = batches(0, 3)
    assert len(from_start) == 9
    resumed = batches(2, 3)
    for a, b in zip(from_start[6:], resumed, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(from_start[0], from_start[3])  # epochs differ
    assert not np.array_equal(batches(0, 1, seed=6)[0], from_start[0])  # seeds differ


def test_preprocessing(mock_tfds):
    image = tf.constant(np.arange(32 * 32 * 3).reshape(32, 32, 3) % 256, tf.uint8)
    test = preprocessing.resize_and_flip(image, False, None).numpy()
    np.testing.assert_allclose(test, image.numpy() / 127.5 - 1, atol=1e-6)
    assert test.min() >= -1 and test.max() <= 1
    crops = [preprocessing.resize_and_flip(image, True, tf.constant([1, s], tf.int64)).numpy()
             for s in range(20)]
    assert all(c.shape == (32, 32, 3) for c in crops)
    assert any((c == -1).all(axis=-1).any() for c in crops)  # padded zeros show up
    assert len({c.tobytes() for c in crops}) > 10


@pytest.mark.slow
def test_every_seed_builds_the_pipeline(mock_tfds):
    # A global seed of 0 once made tf.data compare a symbolic shuffle seed in Python.
    ds = data.load("cifar10")
    firsts = []
    for seed in (0, 1, 2**31 - 1):
        tf.keras.utils.set_random_seed(seed)
        it = ds.train(4, "resize_and_flip", seed, 0, 2, steps_per_epoch=2)
        batches = [x.numpy() for x, _ in it]
        assert len(batches) == 4
        firsts.append(batches[0])
        tf.keras.utils.set_random_seed(seed + 7 if seed < 2**31 - 8 else 3)
        again = [x.numpy() for x, _ in ds.train(4, "resize_and_flip", seed, 0, 2, 2)]
        np.testing.assert_array_equal(batches[0], again[0])  # the global seed plays no part
    assert not np.array_equal(firsts[0], firsts[1])


@pytest.mark.slow
def test_a_run_that_fails_before_its_first_epoch_leaves_nothing(mock_tfds, tmp_path,
                                                                 monkeypatch):
    def broken_pipeline(*args, **kwargs):
        raise tf.errors.InvalidArgumentError(None, None, "a corrupt record")

    monkeypatch.setattr(data.Dataset, "train", broken_pipeline)
    out = tmp_path / "run"
    for seed in (0, 1):  # the second try, with another seed, is not refused
        with pytest.raises(tf.errors.InvalidArgumentError):
            train_tiny("binarynet", "mnist", "bop", "filters=4,dense_units=8,epochs=1",
                       output_dir=out, seed=seed, steps_per_epoch=1, validation_steps=1)
        assert not out.exists()
    out.mkdir()  # an empty folder the user made stays
    with pytest.raises(tf.errors.InvalidArgumentError):
        train_tiny("binarynet", "mnist", "bop", "filters=4,dense_units=8,epochs=1",
                   output_dir=out, seed=2, steps_per_epoch=1, validation_steps=1)
    assert out.is_dir() and not any(out.iterdir())


def test_a_directory_of_only_the_chiefs_lock_files_holds_no_run_yet(tmp_path):
    # Another worker of a multi-worker run looks while the chief takes its lock or rewrites
    # it: the lock's temporaries are not a run (before, that worker exited and the chief
    # waited for it forever).
    config = plan("binarynet", "cifar10", "bop", seed=1)
    for name in ("lock.json", "lock.tmp-7.json", "lock.json.tmp-7.f3", "lock.json.f3"):
        (tmp_path / name).write_text("{}")
    assert stored.resumes(tmp_path, config) is False
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BnnoError, match="not a bnno run|run.json"):
        stored.resumes(tmp_path, config)


@pytest.mark.slow
def test_a_run_killed_while_writing_its_run_json_starts_again(mock_tfds, tmp_path):
    # A kill between run.json's temporary file and its rename leaves only the temporary
    # (and the lock, which the next process takes over): the same command starts the run
    # instead of refusing the folder as "not a bnno run directory".
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.tmp-4242.json").write_text('{"model": {"na')
    assert stored.resumes(out, plan("binarynet", "mnist", "bop", seed=1)) is False
    train_tiny("binarynet", "mnist", "bop", "filters=4,dense_units=8,batch_size=8,epochs=1",
               output_dir=out, seed=1, steps_per_epoch=1, validation_steps=1)
    assert runs.read(out)["model"]["name"] == "binarynet"
    assert not list(out.glob("run.tmp-*"))  # the leftover is removed

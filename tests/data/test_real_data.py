"""Tiny slices of the real datasets, read the way tfds users do (skipped without them).

Set BNNO_DATA_DIR to a tfds data dir holding cifar10 and mnist to run these.
"""

import json
import os

import numpy as np
import pytest

from bnno import data

DATA_DIR = os.environ.get("BNNO_DATA_DIR")
pytestmark = pytest.mark.skipif(not DATA_DIR, reason="BNNO_DATA_DIR is not set")


@pytest.mark.parametrize("name, shape, train, test",
                         [("cifar10", (32, 32, 3), 50_000, 10_000),
                          ("mnist", (28, 28, 1), 60_000, 10_000)])
def test_real_dataset_loads(name, shape, train, test):
    ds = data.load(name, DATA_DIR)
    assert (ds.input_shape, ds.num_classes) == (shape, 10)
    assert (ds.train_examples, ds.test_examples) == (train, test)
    images, labels = next(iter(ds.test(16, "default")))
    assert images.shape == (16, *shape) and labels.shape == (16, 10)
    assert -1.0 <= float(np.min(images)) < 0 < float(np.max(images)) <= 1.0


@pytest.mark.slow
def test_cli_trains_on_real_cifar10(cli, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli("train", "binarynet", "--dataset", "cifar10", "--preprocess-fn",
                       "resize_and_flip", "--hparams-set", "bop", "--hparams",
                       "filters=4,dense_units=8,epochs=1", "--data-dir", DATA_DIR,
                       "--steps-per-epoch", "3", "--validation-steps", "2",
                       "--output-dir", str(out))
    assert code == 0, err
    row = json.loads((out / "metrics.jsonl").read_text())
    assert row["step"] == 3 and 0 <= row["val_accuracy"] <= 1

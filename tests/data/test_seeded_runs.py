"""A seeded ImageNet run with BNext's preprocessing is repeated bit for bit (its crops and
RandAugment come from each image's seed; sibnn's and default's are checked per image in
test_preprocessing.py). About 40 s: two training runs and XLA's RandAugment programs."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, all_weights

SHORT = ["--steps-per-epoch", "2", "--validation-steps", "1", "--no-tensorboard",
         "--verbose", "0", "--seed", "1"]


@pytest.mark.slow
def test_two_seeded_runs_end_with_the_same_weights(mock_tfds, cli, tmp_path):
    weights = []
    for name in ("a", "b"):
        # A fresh Keras session per run, so that both runs name their weights alike.
        tf.keras.backend.clear_session()
        out = tmp_path / name
        code, _, err = cli("train", "binarynet", "--dataset", "imagenet2012", "--hparams-set",
                           "default", "--preprocess-fn", "bnext", "--hparams",
                           f"{TINY},image_size=32", "--output-dir", str(out), *SHORT)
        assert code == 0, err
        weights.append(all_weights(out / "binarynet_weights.h5"))
    assert weights[0].keys() == weights[1].keys()
    for key, value in weights[0].items():
        np.testing.assert_array_equal(value, weights[1][key], err_msg=key)

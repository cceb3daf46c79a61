"""Distillation from randomly initialised teachers (``teacher_weights=none``) is seeded
too: two runs with the same seed end with the same student weights. About 20 s: two
runs, each building a full-size teacher."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import all_weights


@pytest.mark.slow
def test_two_seeded_distillation_runs_with_random_teachers_end_alike(mock_tfds, cli,
                                                                     tmp_path):
    weights = []
    for name in ("a", "b"):
        tf.keras.backend.clear_session()  # both runs name their weights alike
        out = tmp_path / name
        code, _, err = cli("train", "binarynet", "--dataset", "cifar10", "--hparams-set",
                           "default", "--hparams",
                           "filters=4,dense_units=8,batch_size=8,epochs=1,"
                           "teachers=binarynet,teacher_weights=none",
                           "--steps-per-epoch", "2", "--validation-steps", "1",
                           "--no-tensorboard", "--verbose", "0", "--seed", "3",
                           "--output-dir", str(out))
        assert code == 0, err
        weights.append(all_weights(out / "binarynet_weights.h5"))
    assert weights[0].keys() == weights[1].keys() and len(weights[0]) > 9
    for key, value in weights[0].items():
        np.testing.assert_array_equal(value, weights[1][key], err_msg=key)

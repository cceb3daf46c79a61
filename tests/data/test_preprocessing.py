"""Preprocessing functions draw their randomness from the element's seed."""

import numpy as np
import pytest
import tensorflow as tf

from bnno.data import preprocessing


@pytest.fixture
def op_determinism():
    tf.config.experimental.enable_op_determinism()
    yield
    # Left on, it would make every later unseeded random op in this process fail.
    from tensorflow.python.framework import config

    config.disable_op_determinism()


def test_imagenet_training_crops_come_from_the_seed_under_op_determinism(op_determinism):
    # A seeded run turns op determinism on; Larq Zoo's stateful crop would then fail.
    image = np.random.default_rng(0).integers(0, 255, (300, 400, 3)).astype(np.uint8)
    jpeg = tf.io.encode_jpeg(image)

    def crop(a, b):
        return preprocessing.imagenet(jpeg, True, tf.constant([a, b], tf.int64)).numpy()

    assert crop(1, 2).shape == (224, 224, 3)
    np.testing.assert_array_equal(crop(1, 2), crop(1, 2))
    assert not np.array_equal(crop(1, 2), crop(1, 3))

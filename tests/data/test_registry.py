"""The preprocessing registry: a function registered by name is what a run with that
``--preprocess-fn`` trains on; what registering needs is checked when it registers."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, plan_tiny, train_tiny

from bnno import data
from bnno.data import registry
from bnno.errors import BnnoError


@pytest.fixture
def halves():
    """A test-only preprocessing: every pixel 0.5, whatever the image (so a run trained
    with it has seen nothing but 0.5s)."""
    calls = []

    @registry.register("test_only_halves")
    def fn(image, training, seed):
        calls.append(training)
        return tf.fill(tf.shape(image), 0.5)

    yield calls
    registry.unregister("test_only_halves")


@pytest.mark.slow
def test_a_registered_function_preprocesses_the_runs_batches(mock_tfds, halves, tmp_path):
    ds = data.load("cifar10", mock_tfds)
    x, _ = next(iter(ds.train(8, "test_only_halves", seed=1, first_epoch=0, epochs=1)))
    np.testing.assert_array_equal(x.numpy(), np.full((8, 32, 32, 3), 0.5, np.float32))
    assert "test_only_halves" in ds.preprocess_fns and "test_only_halves" in data.preprocess_names()
    path = train_tiny("binarynet", "mnist", "default", TINY, tmp_path / "run", data_dir=mock_tfds,
                      preprocess_fn="test_only_halves", steps_per_epoch=1, validation_steps=1)
    assert (path / "binarynet_weights.h5").exists()
    assert True in halves and False in halves  # the training and the validation batches


def test_a_name_is_one_function_per_kind_of_images(halves):
    with pytest.raises(BnnoError, match="'test_only_halves' for decoded images is already"):
        registry.register("test_only_halves")(lambda image, training, seed: image)
    # The same name for encoded images is another entry; not usable on decoded images.
    registry.register("test_only_halves", encoded=True)(lambda image, training, seed, size: image)
    try:
        assert registry.get("test_only_halves", encoded=True).fn is not None
    finally:
        registry.unregister("test_only_halves", encoded=True)
    with pytest.raises(BnnoError, match="unknown preprocess fn 'test_only_halves' for encoded"):
        registry.get("test_only_halves", encoded=True)


@pytest.mark.parametrize("name, fn, encoded, message", [
    ("Bad-Name", lambda image, training, seed: image, False, "must be lower_case"),
    ("test_only_short", lambda image, training: image, False,
     r"must take \(image, training, seed\); it takes \(image, training\)"),
    ("test_only_sizeless", lambda image, training, seed: image, True,
     r"must take \(image, training, seed, size=...\)"),
    ("test_only_object", 3, False, "must be a function"),
])
def test_a_function_that_breaks_the_contract_is_refused_in_one_line(name, fn, encoded, message):
    with pytest.raises(BnnoError, match=message) as e:
        registry.register(name, encoded=encoded)(fn)
    assert "\n" not in str(e.value)
    assert name not in registry.functions(encoded)


def test_stages_must_be_training_stages():
    with pytest.raises(BnnoError, match="stages must be a TrainingStages"):
        registry.register("test_only_staged", stages=(len, len))


def test_an_unknown_function_names_the_registered_ones(mock_tfds):
    with pytest.raises(BnnoError, match="'nope' for mnist; choose one of: .*resize_and_flip"):
        plan_tiny("binarynet", "mnist", "default", TINY, preprocess_fn="nope")
    ds = data.load("cifar10", mock_tfds)
    with pytest.raises(BnnoError, match="'bnext' for cifar10; choose one of: .*resize_and_flip"):
        ds.preprocess_fn("bnext")

"""``preprocessing.imagenet`` equals Larq Zoo's ImageNet preprocessing, checked against
outputs of larq-zoo 2.4's own ``preprocess_image_bytes`` (``tests/fixtures/larq_zoo.npz``,
made by ``benchmarks/larq_zoo_fixtures.py``)."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from bnno.data import preprocessing

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "larq_zoo.npz"
JPEGS = range(3)
SEEDS = (0, 1, 4, 5)  # the global seeds the fixture was made with: both flips


@pytest.fixture(scope="module")
def zoo():
    with np.load(FIXTURE) as arrays:
        return dict(arrays)


def jpeg(zoo, i):
    return tf.constant(zoo[f"jpeg_{i}"].tobytes())


class FixedWindow:
    """The crop window op, returning a given window (y, x, height, width); keeps the
    keyword arguments of its calls."""

    def __init__(self, window):
        self.window, self.calls = window, []

    def __call__(self, image_size, **kwargs):
        self.calls.append(kwargs)
        y, x, h, w = (int(v) for v in self.window)
        return tf.constant([y, x, 0]), tf.constant([h, w, -1]), tf.zeros([1, 1, 4])


@pytest.mark.parametrize("i, size", [(0, 224)] + [(i, 48) for i in JPEGS])
def test_evaluation_crop_is_larq_zoos(zoo, i, size):
    image = preprocessing.imagenet(jpeg(zoo, i), False, None, size).numpy()
    np.testing.assert_allclose(image, zoo[f"eval_{i}_{size}"], rtol=0, atol=1e-5)


def test_default_size_is_larq_zoos(zoo):
    image = preprocessing.imagenet(jpeg(zoo, 0), False, None)
    np.testing.assert_allclose(image, zoo["eval_0_224"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("seeded", [False, True])
def test_training_windows_are_drawn_as_larq_zoos(zoo, monkeypatch, seeded):
    # The same op (or its stateless form) with the same distribution of windows.
    box = FixedWindow((0, 0, 10, 10))
    op = "stateless_sample_distorted_bounding_box" if seeded else "sample_distorted_bounding_box"
    monkeypatch.setattr(tf.image, op, box)
    preprocessing.imagenet(jpeg(zoo, 0), True, tf.constant([1, 2], tf.int64) if seeded else None)
    kwargs = {k: np.asarray(v).tolist() for k, v in box.calls[0].items() if k != "seed"}
    assert kwargs == json.loads(str(zoo["box_kwargs"]))


@pytest.mark.parametrize("i", JPEGS)
def test_unseeded_training_crops_and_flips_are_larq_zoos(zoo, monkeypatch, i):
    # Given the window, larq-zoo's crop (its central crop when the window is the whole
    # image), resize and flip; the flip is a stateful draw that the global seed fixes.
    for w, window in enumerate(zoo[f"windows_{i}"]):
        monkeypatch.setattr(tf.image, "sample_distorted_bounding_box", FixedWindow(window))
        for seed in SEEDS:
            tf.random.set_seed(seed)
            image = preprocessing.imagenet(jpeg(zoo, i), True, None, 32).numpy()
            np.testing.assert_allclose(image, zoo[f"train_{i}_{w}_{seed}"], rtol=0, atol=1e-5,
                                       err_msg=f"jpeg {i}, window {window}, seed {seed}")


def test_seeded_training_crops_are_larq_zoos_flipped_by_the_seed(zoo, monkeypatch):
    flips = set()
    for i in JPEGS:
        for w, window in enumerate(zoo[f"windows_{i}"]):
            monkeypatch.setattr(tf.image, "stateless_sample_distorted_bounding_box",
                                FixedWindow(window))
            expected = zoo[f"train_{i}_{w}_0"]
            for seed in range(3):
                image = preprocessing.imagenet(jpeg(zoo, i), True,
                                               tf.constant([seed, 7], tf.int64), 32).numpy()
                mirrored = np.allclose(image, expected[:, ::-1], rtol=0, atol=1e-5)
                assert mirrored or np.allclose(image, expected, rtol=0, atol=1e-5)
                flips.add(mirrored)
    assert len(flips) == 2

"""ReActNet's preprocessing: ``lighting`` equals the official ``Lighting`` (utils/utils.py)
run on PIL images; evaluation is the central crop; training crops are whole 8-bit levels,
normalised, and drawn from the seed."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from bnno.data import reactnet_preprocessing as rp

EIGVAL = np.asarray([0.2175, 0.0188, 0.0045])
EIGVEC = np.asarray([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140],
                     [-0.5836, -0.6948, 0.4203]])


def official_lighting(img: Image.Image, rnd: np.ndarray) -> np.ndarray:
    """``Lighting.__call__`` with its ``np.random.randn(3) * alphastd`` given as ``rnd``."""
    v = rnd.astype("float32")
    old_dtype = np.asarray(img).dtype
    v = v * EIGVAL
    v = v.reshape((3, 1))
    inc = np.dot(EIGVEC, v).reshape((3,))
    img = np.add(img, inc)
    if old_dtype == np.uint8:
        img = np.clip(img, 0, 255)
    return np.asarray(Image.fromarray(img.astype(old_dtype), "RGB"))


@pytest.mark.parametrize("scale", [0.1, 1.0, 40.0])  # the recipe's, and |inc| > 1 to clip
def test_lighting_equals_the_official_transform(scale):
    rng = np.random.default_rng(int(scale * 10))
    for _ in range(5):
        pixels = rng.integers(0, 256, (16, 20, 3)).astype(np.uint8)
        pixels[0, :3] = [[0, 0, 0], [255, 255, 255], [1, 254, 128]]
        rnd = rng.standard_normal(3) * scale
        ours = rp.lighting(tf.constant(pixels), tf.constant(rnd.astype("float32"))).numpy()
        np.testing.assert_array_equal(ours, official_lighting(Image.fromarray(pixels), rnd))


def test_lighting_at_the_recipes_strength_lowers_a_channel_by_one_or_leaves_it():
    pixels = np.random.default_rng(0).integers(1, 256, (8, 8, 3)).astype(np.uint8)
    for i in range(20):
        alpha = rp.lighting_alpha(tf.constant([5, i], tf.int64))
        diff = rp.lighting(tf.constant(pixels), alpha).numpy().astype(int) - pixels
        assert set(np.unique(diff)) <= {-1, 0}
        assert all(len(np.unique(diff[..., c])) == 1 for c in range(3))  # per channel


def test_lighting_noise_is_normal_with_the_recipes_deviation():
    draws = np.stack([rp.lighting_alpha(tf.constant([1, i], tf.int64)).numpy()
                      for i in range(400)])
    assert abs(draws.std() - 0.1) < 0.01 and abs(draws.mean()) < 0.01
    np.testing.assert_array_equal(draws[3], rp.lighting_alpha(tf.constant([1, 3],
                                                                            tf.int64)).numpy())


def jpeg(pixels):
    encoded = tf.io.encode_jpeg(tf.constant(pixels, tf.uint8), quality=100)
    return encoded, tf.io.decode_jpeg(encoded).numpy().astype(np.float64)


def test_evaluation_is_the_central_224_of_a_256_side():
    rng = np.random.default_rng(1)
    encoded, decoded = jpeg(rng.integers(0, 256, (256, 301, 3)))
    out = rp.reactnet(encoded, False, None).numpy()
    top, left = 16, int(round((301 - 224) / 2))
    expected = (decoded[top:top + 224, left:left + 224] / 255.0 - rp.MEAN) / rp.STD
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_training_images_are_whole_levels_drawn_from_the_seed():
    rng = np.random.default_rng(2)
    encoded, _ = jpeg(rng.integers(0, 256, (240, 320, 3)))
    outputs = []
    for i in range(4):
        seed = tf.constant([9, i], tf.int64)
        out = rp.reactnet(encoded, True, seed).numpy()
        np.testing.assert_array_equal(out, rp.reactnet(encoded, True, seed).numpy())
        levels = (out * rp.STD + rp.MEAN) * 255.0
        np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)
        assert out.shape == (224, 224, 3) and levels.min() >= -1e-3 and levels.max() <= 255.001
        outputs.append(out)
    assert not np.array_equal(outputs[0], outputs[1])

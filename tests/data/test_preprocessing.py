"""Preprocessing functions draw their randomness from the element's seed."""

import numpy as np
import pytest
import tensorflow as tf

from bnno.data import preprocessing, registry


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


# The seed determines every ImageNet training image; bnext's and sibnn's are PIL's.

def photo(height=300, width=400, seed=0):
    """A JPEG of smooth colours and noise, like a photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([np.sin(rng.uniform(2, 12) * (xx + rng.random()) + rng.random() * yy * 9)
                     for _ in range(3)], -1)
    pixels = np.clip(127 + 100 * base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    return tf.io.encode_jpeg(pixels, quality=90).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bnext", "sibnn", "default"])
def test_training_images_come_from_the_seed_alone(name, op_determinism):
    fn = registry.get(name, encoded=True).fn
    jpeg = photo()

    def image(a, b):
        return fn(jpeg, True, tf.constant([a, b], tf.int64), size=64).numpy()

    np.testing.assert_array_equal(image(1, 2), image(1, 2))
    assert not np.array_equal(image(1, 2), image(1, 3))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bnext", "sibnn"])
def test_training_stages_are_the_function_split(name):
    entry = registry.get(name, encoded=True)
    fn, stages = entry.fn, entry.stages
    jpegs = [photo(300, 400, 1), photo(210, 500, 2), photo(375, 375, 3)]
    seeds = [tf.constant([4, i], tf.int64) for i in range(3)]
    parts = [stages.per_image(j, True, s, size=64) for j, s in zip(jpegs, seeds, strict=True)]
    batch = stages.per_batch(*(tf.stack(p) for p in zip(*parts, strict=True)))
    for j, s, got in zip(jpegs, seeds, batch, strict=True):
        np.testing.assert_array_equal(got, fn(j, True, s, size=64))


def test_bnext_crop_and_flip_are_timms_with_pils_pixels():
    """Up to RandAugment, bnext's training image is timm's RandomResizedCropAndInterpolation
    (bicubic) and RandomHorizontalFlip of PIL's decoded image, given the same draws."""
    import io

    Image = pytest.importorskip("PIL.Image")
    from pil_reference import pil_resize, timm_crop

    from bnno.data import crops

    jpeg = photo(375, 500, 5)
    pixels = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    for i in range(6):
        seed = tf.constant([8, i], tf.int64)
        crop_seed = tf.random.experimental.stateless_split(seed, 2)[0]
        draws = tf.random.stateless_uniform([crops.CROP_DRAWS + 1], crop_seed,
                                            dtype=tf.float64).numpy()
        top, left, h, w = timm_crop(375, 500, list(draws))
        expected = pil_resize(pixels[top:top + h, left:left + w], 224, 224, "bicubic")
        if draws[crops.CROP_DRAWS] < 0.5:  # torchvision: flip if rand() < 0.5
            expected = expected[:, ::-1]
        image, chosen = registry.get("bnext", encoded=True).stages.per_image(jpeg, True, seed)
        np.testing.assert_array_equal(image, expected)
        assert chosen.shape == (2, 4)


def test_sibnn_crop_is_torchvisions_resize_then_crop():
    """Resize(256) (PIL's bilinear) of the decoded image, then the crop the seed places,
    computed from the crop's part of the JPEG alone."""
    from pil_reference import pil_resize

    jpeg = photo(300, 400, 6)
    resized = pil_resize(tf.io.decode_jpeg(jpeg, channels=3).numpy(), 256, 341, "bilinear")
    for i in range(4):
        seed = tf.constant([2, i], tf.int64)
        image = preprocessing._sibnn_crop(jpeg, True, seed).numpy()
        draws = tf.random.stateless_uniform(
            [3], tf.random.experimental.stateless_split(seed, 2)[0], dtype=tf.float64).numpy()
        top, left = int(draws[0] * (256 - 224 + 1)), int(draws[1] * (341 - 224 + 1))
        expected = resized[top:top + 224, left:left + 224]
        np.testing.assert_array_equal(image, expected[:, ::-1] if draws[2] < 0.5 else expected)
    central = preprocessing._sibnn_crop(jpeg, False, None).numpy()
    np.testing.assert_array_equal(central, resized[16:240, 58:282])


@pytest.mark.slow
def test_the_pipeline_batches_bnext_as_the_function_does(mock_tfds):
    from bnno import data

    # Batches of 3 images of 64 × 64, as above: XLA compiles RandAugment's programs once.
    ds = data.load("imagenet2012", mock_tfds, image_size=64)

    def batches():
        return [x.numpy() for x, _ in ds.train(3, "bnext", 3, 0, 1, steps_per_epoch=2)]

    first = batches()
    assert len(first) == 2 and first[0].shape == (3, 64, 64, 3)
    for a, b in zip(first, batches(), strict=True):
        np.testing.assert_array_equal(a, b)
    # The same images through the function's two steps: the first batch of the epoch,
    # each image with the seed (run seed, epoch · 10000019 + its index). Its order is the
    # shuffle's with no global seed, as the pipeline's (an earlier test may have set one).
    tf.random.set_seed(None)
    examples = ds._examples(ds.train_split).shuffle(
        ds.shuffle_buffer, seed=3 * 1_000_003, reshuffle_each_iteration=False).take(3)
    stages = registry.get("bnext", encoded=True).stages
    parts = [stages.per_image(jpeg, True, tf.constant([3, i], tf.int64), size=64)
             for i, (jpeg, _) in enumerate(examples)]
    expected = stages.per_batch(*(tf.stack(p) for p in zip(*parts, strict=True)))
    np.testing.assert_array_equal(first[0], expected)

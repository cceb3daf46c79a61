"""Crop windows as timm draws them, and JPEG windows decoded as the whole image would be."""

import bnno  # noqa: F401

# isort: split

import io

import numpy as np
import pytest
import tensorflow as tf
from pil_reference import timm_crop, timm_crop_random

from bnno.data import crops


@pytest.mark.parametrize("shape", [(375, 500), (500, 333), (100, 100), (40, 400), (900, 60)])
def test_random_resized_crop_is_timms_sampler_given_the_same_draws(shape):
    """Every path of timm's get_params: a first, later or no attempt fitting (the
    fallbacks of wide, tall and square images)."""
    rng = np.random.default_rng(sum(shape))
    draws = rng.uniform(size=(300, crops.CROP_DRAWS))
    draws[:40, :10] = 0.999  # large areas: attempts fail more often
    draws[:20, 10:20] = rng.choice([0.0, 1.0 - 1e-12], size=(20, 10))  # extreme aspects
    for u in draws:
        got = [int(v) for v in crops.random_resized_crop(*shape, tf.constant(u))]
        assert got == list(timm_crop(*shape, list(u))), u


def ks_statistic(a, b) -> float:
    """Two-sample Kolmogorov-Smirnov statistic."""
    grid = np.sort(np.concatenate([a, b]))
    cdf = [np.searchsorted(np.sort(x), grid, side="right") / len(x) for x in (a, b)]
    return float(np.max(np.abs(cdf[0] - cdf[1])))


def test_crops_from_seeds_follow_timms_distribution():
    """Crops of a 375×500 image drawn from seeds (stateless) against timm's sampler drawing
    from Python's random module: the same distribution of area, aspect and position."""
    import random

    @tf.function
    def from_seed(i):
        u = tf.random.stateless_uniform([crops.CROP_DRAWS], [7, i], dtype=tf.float64)
        return tf.stack(crops.random_resized_crop(375, 500, u))

    ours = tf.map_fn(from_seed, tf.range(2000, dtype=tf.int64), fn_output_signature=tf.int32)
    rng = random.Random(0)
    theirs = [timm_crop_random(375, 500, rng) for _ in range(2000)]
    ours, theirs = ours.numpy().astype(float), np.array(theirs, float)
    for stat in (lambda c: c[:, 2] * c[:, 3], lambda c: np.log(c[:, 3] / c[:, 2]),
                 lambda c: c[:, 0] / np.maximum(375 - c[:, 2], 1), lambda c: c[:, 1]):
        assert ks_statistic(stat(ours), stat(theirs)) < 0.06  # p > 0.001


SMOOTH = (127 + 100 * np.sin(np.add.outer(np.arange(75) / 7, np.arange(101) / 11))[..., None]
          * np.array([1.0, -0.6, 0.3])).astype(np.uint8)


def jpeg(kind: str = "420"):
    """SMOOTH encoded as a JPEG: 4:2:0, 4:4:4 or grayscale by TensorFlow, 4:2:2 or
    progressive by PIL."""
    if kind in ("420", "444", "gray"):
        pixels = SMOOTH[..., :1] if kind == "gray" else SMOOTH
        return tf.io.encode_jpeg(pixels, quality=90, chroma_downsampling=kind == "420").numpy()
    Image = pytest.importorskip("PIL.Image")
    out = io.BytesIO()
    options = {"422": {"subsampling": 1}, "progressive": {"progressive": True}}[kind]
    Image.fromarray(SMOOTH).save(out, "JPEG", quality=90, **options)
    return out.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["420", "444", "gray", "422", "progressive"])
@pytest.mark.parametrize("dct", ["", "INTEGER_ACCURATE"])
def test_decode_window_equals_decoding_all_then_cropping(kind, dct):
    data = jpeg(kind)
    whole = tf.io.decode_jpeg(data, channels=3, dct_method=dct).numpy()
    rng = np.random.default_rng(4)
    for _ in range(40):
        h, w = rng.integers(1, 76), rng.integers(1, 102)
        top, left = rng.integers(0, 76 - h), rng.integers(0, 102 - w)
        got = crops.decode_window(data, (top, left, h, w), (75, 101), dct).numpy()
        np.testing.assert_array_equal(got, whole[top:top + h, left:left + w])


@pytest.mark.slow
def test_plain_decode_and_crop_differs_at_subsampled_edges():
    """Why the margin: TensorFlow's decode-and-crop alone upsamples chroma at the window's
    side edges as at the image's."""
    data = jpeg()
    whole = tf.io.decode_jpeg(data, channels=3).numpy()
    differ = 0
    for left in range(1, 40, 3):
        got = tf.io.decode_and_crop_jpeg(data, [10, left, 50, 41], channels=3).numpy()
        differ += np.any(got != whole[10:60, left:left + 41])
    assert differ > 0


@pytest.mark.slow
def test_accurate_dct_decodes_as_pil():
    Image = pytest.importorskip("PIL.Image")
    for kind in ("420", "422", "progressive", "gray"):
        data = jpeg(kind)
        pil = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        ours = tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE").numpy()
        np.testing.assert_array_equal(ours, pil)
        assert np.any(tf.io.decode_jpeg(data, channels=3).numpy() != pil)  # the default

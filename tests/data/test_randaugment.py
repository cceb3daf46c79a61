"""RandAugment's operations give PIL's bytes (XLA included), and a batch applies each
image's own draws as timm's RandAugment would."""

import bnno  # noqa: F401

# isort: split

import math

import numpy as np
import pytest
import tensorflow as tf

from bnno.data import randaugment
from bnno.data.resize import exact_product

FILL = (124, 116, 104)


@pytest.mark.slow
def test_operations_equal_pils_bit_for_bit():
    Image = pytest.importorskip("PIL.Image")
    ImageEnhance = pytest.importorskip("PIL.ImageEnhance")
    ImageOps = pytest.importorskip("PIL.ImageOps")
    rng = np.random.default_rng(0)
    for trial in range(4):  # two shapes (each compiles the XLA programs once), two draws
        h, w = (37, 61) if trial < 2 else (24, 32)
        array = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        if trial % 2:  # a narrow range, where autocontrast and equalize do much
            array = (array // 4 + 60).astype(np.uint8)
        image, x = Image.fromarray(array), tf.constant(array, tf.float32)
        degrees, factor = float(rng.uniform(-30, 30)), float(rng.uniform(-0.3, 0.3))
        shift, enhance = float(rng.uniform(-0.45, 0.45) * w), float(rng.uniform(0.1, 1.9))
        bits, threshold, add = int(rng.integers(1, 5)), int(rng.integers(0, 257)), 37

        def transform(coefficients, image=image):
            return image.transform(image.size, Image.AFFINE, coefficients, Image.BICUBIC,
                                   fillcolor=FILL)

        lut = [min(255, i + add) if i < 128 else i for i in range(256)] * 3
        cases = {
            "rotate": (randaugment.rotate(x, degrees),
                       image.rotate(degrees, resample=Image.BICUBIC, fillcolor=FILL)),
            "shear_x": (randaugment.shear_x(x, factor), transform((1, factor, 0, 0, 1, 0))),
            "shear_y": (randaugment.shear_y(x, factor), transform((1, 0, 0, factor, 1, 0))),
            "translate_x": (randaugment.translate_x(x, shift), transform((1, 0, shift, 0, 1, 0))),
            "translate_y": (randaugment.translate_y(x, -shift), transform((1, 0, 0, 0, 1, -shift))),
            "auto_contrast": (randaugment.auto_contrast(x), ImageOps.autocontrast(image)),
            "equalize": (randaugment.equalize(x), ImageOps.equalize(image)),
            "invert": (randaugment.invert(x), ImageOps.invert(image)),
            "posterize": (randaugment.posterize(x, bits), ImageOps.posterize(image, bits)),
            "solarize": (randaugment.solarize(x, threshold), ImageOps.solarize(image, threshold)),
            "solarize_add": (randaugment.solarize_add(x, add), image.point(lut)),
            "color": (randaugment.color(x, enhance), ImageEnhance.Color(image).enhance(enhance)),
            "contrast": (randaugment.contrast(x, enhance),
                         ImageEnhance.Contrast(image).enhance(enhance)),
            "brightness": (randaugment.brightness(x, enhance),
                           ImageEnhance.Brightness(image).enhance(enhance)),
            "sharpness": (randaugment.sharpness(x, enhance),
                          ImageEnhance.Sharpness(image).enhance(enhance)),
        }
        for name, (ours, theirs) in cases.items():
            np.testing.assert_array_equal(ours.numpy(), np.asarray(theirs, np.float32),
                                          err_msg=name)


@pytest.mark.slow
def test_rotation_keeps_the_centre_pixel():
    """The centre maps onto itself exactly in real arithmetic; PIL's rounding (cosine and
    sine to 15 decimals, products rounded one by one) decides which side of the pixel
    edge it lands, and so do ours."""
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(1)
    array = rng.integers(0, 256, (53, 147, 3), dtype=np.uint8)
    for degrees in np.linspace(-30, 30, 25):
        theirs = Image.fromarray(array).rotate(float(degrees), resample=Image.BICUBIC,
                                               fillcolor=FILL)
        ours = randaugment.rotate(tf.constant(array, tf.float32), float(degrees)).numpy()
        np.testing.assert_array_equal(ours[26, 73], np.asarray(theirs)[26, 73])


def test_python_rounding_of_the_rotation_matrix():
    values = np.concatenate([np.random.default_rng(2).uniform(-1, 1, 20000),
                             np.cos(np.linspace(-0.6, 0.6, 2000))])
    got = randaugment._round15(tf.constant(values)).numpy()
    np.testing.assert_array_equal(got, [round(float(v), 15) for v in values])


def test_products_stay_unfused_under_xla():
    rng = np.random.default_rng(3)
    a, b, c = (tf.constant(rng.uniform(-300, 300, 50000)) for _ in range(3))

    def horner(a, b, c, times):
        return c + times(a, b + times(a, c + times(a, b)))

    plain = horner(a, b, c, lambda x, y: x * y)
    guarded = tf.function(lambda a, b, c: horner(a, b, c, exact_product), jit_compile=True)
    np.testing.assert_array_equal(guarded(a, b, c).numpy(), plain.numpy())


def reference(image, chosen, magnitude=7.0, magnitude_std=0.5, prob=0.5):
    """timm's RandAugment.__call__ given the draws, with the operations one by one."""
    out = tf.constant(image, tf.float32)
    for u_op, u_run, u_sign, normal in chosen:
        if u_run > prob:  # timm: skip if random() > prob
            continue
        op = randaugment.OPS[min(int(u_op * len(randaugment.OPS)), len(randaugment.OPS) - 1)]
        level = max(0.0, min(magnitude + magnitude_std * normal, 10.0))
        out = op(out, level, tf.constant(u_sign > 0.5))
    return out.numpy()


@pytest.mark.slow
def test_a_batch_applies_each_images_draws():
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (17, 24, 32, 3)).astype(np.float32)
    n = len(randaugment.OPS)
    chosen = np.zeros((17, 2, 4))
    chosen[:, :, 0] = (np.arange(34).reshape(17, 2) % n + 0.5) / n  # every op, both layers
    chosen[:, :, 1] = rng.choice([0.2, 0.5, 0.9], size=(17, 2))  # 0.9: skipped
    chosen[:, :, 2] = rng.uniform(size=(17, 2))
    chosen[:, :, 3] = rng.normal(size=(17, 2)) * 4  # magnitudes clipped at 0 and 10 too
    chosen[3] = [[1.5 / n, 0.1, 0.3, 0.0], [1.5 / n, 0.1, 0.3, 0.0]]  # equalize twice
    chosen[4] = [[3.5 / n, 0.1, 0.8, 1.0], [1.5 / n, 0.1, 0.3, 0.0]]  # rotate, equalize
    got = randaugment.rand_augment_batch(images, tf.constant(chosen)).numpy()
    for i in range(17):
        np.testing.assert_array_equal(got[i], reference(images[i], chosen[i]), err_msg=str(i))
    mean, std = (1.0, 2.0, 3.0), (4.0, 5.0, 6.0)
    normalized = randaugment.rand_augment_batch(images, tf.constant(chosen),
                                                normalize=(mean, std)).numpy()
    np.testing.assert_array_equal(normalized, (got - np.float32(mean)) / np.float32(std))


def test_draws_come_from_the_seed():
    a = randaugment.draws(2, tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(a, randaugment.draws(2, tf.constant([1, 2], tf.int64)))
    assert not np.array_equal(a, randaugment.draws(2, tf.constant([1, 3], tf.int64)))


def test_choices_follow_timms_distribution():
    """Ops uniform with replacement, each run with probability 0.5, signs fair, magnitudes
    N(7, 0.5²): the draws of 4000 seeds."""
    seeds = tf.stack([tf.fill([4000], tf.constant(9, tf.int64)), tf.range(4000, dtype=tf.int64)], 1)
    all_draws = tf.function(lambda s: tf.map_fn(lambda x: randaugment.draws(2, x), s,
                                                fn_output_signature=tf.float64))
    chosen = all_draws(seeds).numpy().reshape(-1, 4)
    counts = np.bincount((chosen[:, 0] * 15).astype(int), minlength=15)
    expected = len(chosen) / 15
    assert np.sum((counts - expected) ** 2 / expected) < 36.1  # chi², 14 dof, p > 0.001
    assert abs(np.mean(chosen[:, 1] <= 0.5) - 0.5) < 0.02
    assert abs(np.mean(chosen[:, 2] > 0.5) - 0.5) < 0.02
    assert abs(np.mean(chosen[:, 3])) < 0.03 and abs(np.std(chosen[:, 3]) - 1) < 0.03
    assert not math.isclose(np.corrcoef(chosen[:, 0], chosen[:, 3])[0, 1], 1.0)

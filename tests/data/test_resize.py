"""PIL's resize in TensorFlow: the same bytes as a transcription of Pillow's Resample.c,
and as Pillow itself where Pillow's pass order is the official one."""

import bnno  # noqa: F401

# isort: split

import numpy as np
import pytest
import tensorflow as tf
from pil_reference import coefficients, pil_resize

from bnno.data import resize

SHAPES = [  # (input height, width), (output height, width): down, up, mixed, one pass
    ((375, 500), (224, 224)), ((97, 61), (224, 224)), ((300, 131), (160, 250)),
    ((64, 80), (64, 33)), ((50, 70), (91, 70)), ((1, 9), (4, 2)), ((613, 20), (224, 224)),
]


@pytest.mark.parametrize("kind", ["bicubic", "bilinear"])
def test_resize_equals_pillows_arithmetic(kind):
    rng = np.random.default_rng(0)
    for (h, w), (oh, ow) in SHAPES:
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        expected = pil_resize(image, oh, ow, kind)
        np.testing.assert_array_equal(resize.resize(image, oh, ow, kind).numpy(), expected)
        flipped = resize.resize(image, oh, ow, kind, flip=True).numpy()
        np.testing.assert_array_equal(flipped[:, ::-1], expected)


def test_a_window_is_the_resize_cropped_from_its_support_alone():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (300, 401, 3), dtype=np.uint8)
    full = pil_resize(image, 256, 342, "bilinear")
    for top, left, size in [(0, 0, 224), (32, 118, 224), (17, 5, 100)]:
        y0, y1 = (int(v) for v in resize.support(300, 256, "bilinear", top, size))
        x0, x1 = (int(v) for v in resize.support(401, 342, "bilinear", left, size))
        part = image[y0:y1, x0:x1]
        got = resize.resize_window(part, (300, 401), (256, 342), (top, left, size, size),
                                   (y0, x0), "bilinear").numpy()
        np.testing.assert_array_equal(got, full[top:top + size, left:left + size])
        assert y1 - y0 < 300  # less than the whole image is read


def test_resize_equals_pillow():
    """Pillow itself, on shapes where every Pillow runs the horizontal pass first (one
    pass, or shrinking more across than down; Pillow 13 runs the vertical pass first for
    some other shapes, which the transcription above keeps as Pillow 4-12 and timm's
    time ran it)."""
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(2)
    for (h, w), (oh, ow), kind in [((120, 300), (120, 224), "bicubic"),
                                   ((300, 90), (224, 90), "bilinear"),
                                   ((258, 198), (163, 95), "bicubic"),
                                   ((88, 171), (245, 175), "bicubic")]:
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        theirs = Image.fromarray(image).resize((ow, oh), getattr(Image, kind.upper()))
        np.testing.assert_array_equal(resize.resize(image, oh, ow, kind).numpy(),
                                      np.asarray(theirs))


def test_differs_from_tensorflows_float_resize():
    """The reason for this module: TensorFlow's resize rounds once at the end, in floats."""
    image = np.random.default_rng(3).integers(0, 256, (375, 500, 3), dtype=np.uint8)
    ours = resize.resize(image, 224, 224).numpy()
    tfs = tf.image.resize(image, (224, 224), "bicubic", antialias=True).numpy()
    tfs = np.round(np.clip(tfs, 0, 255))
    assert 0.05 < np.mean(ours != tfs) and np.mean(np.abs(ours - tfs)) < 0.5


def test_weights_are_pillows_and_sum_to_one():
    for (n, m, kind) in [(500, 224, "bicubic"), (100, 224, "bilinear"), (7, 3, "bicubic")]:
        dense = tf.sparse.to_dense(resize.weights(n, m, kind)).numpy()
        for row, (xmin, fixed) in zip(dense, coefficients(n, m, kind), strict=True):
            expected = np.zeros(n, np.int64)
            expected[xmin:xmin + len(fixed)] = fixed
            np.testing.assert_array_equal(row, expected)
            assert abs(row.sum() - 2**22) <= len(fixed)  # rounding of each weight


def test_unknown_filter_is_refused():
    with pytest.raises(ValueError, match="bicubic, bilinear"):
        resize.resize(np.zeros((4, 4, 3), np.uint8), 2, 2, "lanczos")

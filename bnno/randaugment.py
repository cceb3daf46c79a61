"""RandAugment with timm's "increasing" operations and magnitude noise, in TensorFlow.

BNext trains with timm's ``rand-m7-mstd0.5-inc1``: for each image, 2 operations drawn
uniformly (with replacement) from 15, each applied with probability 0.5 at a magnitude
drawn from N(7, 0.5) and clipped to [0, 10], where larger magnitudes always mean
stronger changes. The maintained TensorFlow implementations (tf-models-official,
KerasCV) pin other TensorFlow/Keras versions than this stack or use different operation
sets and magnitude rules, so this small one follows timm's definitions.

Works on one uint8-valued float32 image of shape (height, width, 3) in [0, 255].

Example:
    >>> out = rand_augment(image, num_ops=2, magnitude=7.0, magnitude_std=0.5)  # doctest: +SKIP
"""

from __future__ import annotations

import math

import tensorflow as tf

_MAX_LEVEL = 10.0
_FILL = 128.0  # grey, close to timm's ImageNet-mean fill


def _signed(x):
    return tf.where(tf.random.uniform([]) < 0.5, -x, x)


def _blend(a, b, factor):
    return tf.clip_by_value(b + factor * (a - b), 0.0, 255.0)


def _gray(image):
    return tf.image.rgb_to_grayscale(image)


def _affine(image, matrix):
    """Warp with a 3×3 output→input matrix (TF's projective-transform convention)."""
    flat = tf.reshape(matrix, [9])[:8] / matrix[2, 2]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=flat[None], output_shape=tf.shape(image)[:2],
        fill_value=_FILL, interpolation="BILINEAR", fill_mode="CONSTANT")
    return out[0]


def _about_center(image, matrix):
    h = tf.cast(tf.shape(image)[0], tf.float32)
    w = tf.cast(tf.shape(image)[1], tf.float32)
    to_center = tf.stack([[1.0, 0.0, w / 2], [0.0, 1.0, h / 2], [0.0, 0.0, 1.0]])
    back = tf.stack([[1.0, 0.0, -w / 2], [0.0, 1.0, -h / 2], [0.0, 0.0, 1.0]])
    return _affine(image, to_center @ matrix @ back)


def _auto_contrast(image, _):
    lo = tf.reduce_min(image, axis=[0, 1], keepdims=True)
    hi = tf.reduce_max(image, axis=[0, 1], keepdims=True)
    scaled = (image - lo) * 255.0 / tf.maximum(hi - lo, 1.0)
    return tf.where(hi > lo, scaled, image)


def _equalize(image, _):
    def channel(c):
        c = tf.cast(c, tf.int32)
        hist = tf.math.bincount(tf.reshape(c, [-1]), minlength=256, maxlength=256)
        nonzero = tf.boolean_mask(hist, hist > 0)
        step = (tf.reduce_sum(nonzero) - nonzero[-1]) // 255
        lut = (tf.cumsum(hist) - hist + step // 2) // tf.maximum(step, 1)
        lut = tf.clip_by_value(lut, 0, 255)
        out = tf.gather(lut, c)
        return tf.cast(tf.where(step > 0, out, c), tf.float32)

    return tf.stack([channel(image[..., i]) for i in range(3)], axis=-1)


def _invert(image, _):
    return 255.0 - image


def _rotate(image, level):
    angle = _signed(level / _MAX_LEVEL * 30.0) * math.pi / 180.0
    c, s = tf.cos(angle), tf.sin(angle)
    return _about_center(image, tf.stack([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]))


def _posterize(image, level):
    bits = 4 - tf.cast(level / _MAX_LEVEL * 4, tf.int32)
    shift = tf.cast(8 - bits, tf.float32)
    step = tf.pow(2.0, shift)
    return tf.floor(image / step) * step


def _solarize(image, level):
    threshold = 256.0 - tf.floor(level / _MAX_LEVEL * 256.0)
    return tf.where(image >= threshold, 255.0 - image, image)


def _solarize_add(image, level):
    added = tf.clip_by_value(image + tf.floor(level / _MAX_LEVEL * 110.0), 0.0, 255.0)
    return tf.where(image < 128.0, added, image)


def _factor(level):
    return 1.0 + _signed(level / _MAX_LEVEL * 0.9)


def _color(image, level):
    return _blend(image, tf.tile(_gray(image), [1, 1, 3]), _factor(level))


def _contrast(image, level):
    return _blend(image, tf.reduce_mean(_gray(image)) * tf.ones_like(image), _factor(level))


def _brightness(image, level):
    return _blend(image, tf.zeros_like(image), _factor(level))


def _sharpness(image, level):
    kernel = tf.constant([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    smooth = tf.nn.depthwise_conv2d(image[None], kernel, [1, 1, 1, 1], "SAME")[0]
    return _blend(image, smooth, _factor(level))


def _shear_x(image, level):
    s = _signed(level / _MAX_LEVEL * 0.3)
    return _affine(image, tf.stack([[1.0, s, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))


def _shear_y(image, level):
    s = _signed(level / _MAX_LEVEL * 0.3)
    return _affine(image, tf.stack([[1.0, 0.0, 0.0], [s, 1.0, 0.0], [0.0, 0.0, 1.0]]))


def _translate_x(image, level):
    dx = _signed(level / _MAX_LEVEL * 0.45) * tf.cast(tf.shape(image)[1], tf.float32)
    return _affine(image, tf.stack([[1.0, 0.0, dx], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))


def _translate_y(image, level):
    dy = _signed(level / _MAX_LEVEL * 0.45) * tf.cast(tf.shape(image)[0], tf.float32)
    return _affine(image, tf.stack([[1.0, 0.0, 0.0], [0.0, 1.0, dy], [0.0, 0.0, 1.0]]))


# timm's _RAND_INCREASING_TRANSFORMS, in its order.
OPS = (_auto_contrast, _equalize, _invert, _rotate, _posterize, _solarize, _solarize_add,
       _color, _contrast, _brightness, _sharpness, _shear_x, _shear_y, _translate_x,
       _translate_y)


def rand_augment(image, num_ops: int = 2, magnitude: float = 7.0,
                 magnitude_std: float = 0.5, prob: float = 0.5):
    """Apply ``num_ops`` random operations, each with probability ``prob``.

    Example:
        >>> rand_augment(tf.zeros((8, 8, 3)) + 100.0).shape  # doctest: +SKIP
        TensorShape([8, 8, 3])
    """
    image = tf.cast(image, tf.float32)
    for _ in range(num_ops):
        level = tf.clip_by_value(magnitude + magnitude_std * tf.random.normal([]),
                                 0.0, _MAX_LEVEL)
        index = tf.random.uniform([], 0, len(OPS), tf.int32)
        changed = tf.switch_case(index, [lambda op=op, x=image, m=level: op(x, m)
                                         for op in OPS])
        image = tf.where(tf.random.uniform([]) < prob, tf.ensure_shape(changed, image.shape),
                         image)
    return image

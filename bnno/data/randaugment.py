"""RandAugment as BNext's official loader runs it (timm's ``rand-m7-mstd0.5-inc1``), in
TensorFlow.

The official trainer builds its ImageNet loader with timm 0.6.11, mean = ImageNet's and
interpolation = bicubic, so timm hands RandAugment a fill colour of
round(255 · (0.485, 0.456, 0.406)) = (124, 116, 104) (``FILL``) and bicubic resampling for
the geometric operations. ``inc1`` selects timm's 15 "increasing" operations, whose
strength grows with the magnitude (posterize, solarize, color, contrast, brightness and
sharpness differ from the plain list; both translate by a fraction, 0.45 × magnitude / 10,
of the image size). For each image, 2 operations are drawn uniformly with replacement;
each runs with probability 0.5 at a magnitude drawn from N(7, 0.5²) and clipped to
[0, 10]; rotation, shear, translation and the colour factors take a random sign.

timm runs the operations with PIL on 8-bit images, so these functions take and return
float32 images of 8-bit values (height, width, 3) and reproduce PIL: values stored as
PIL stores them (clipped to [0, 255] and truncated), its RGB → L weights, and, for the
geometric operations, its affine sampling (pixel centres at +0.5, bicubic kernel with
a = −1, edges clamped, ``FILL`` where the source point lies outside the image). The
maintained TensorFlow implementations (tf-models-official, KerasCV) pin other
TensorFlow/Keras versions or use other operation sets and magnitude rules.

Example:
    >>> rand_augment(tf.fill((8, 8, 3), 100.0)).shape
    TensorShape([8, 8, 3])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import tensorflow as tf

# timm's ``img_mean``: round(255 × ImageNet mean), the loader's fill colour.
FILL = (124.0, 116.0, 104.0)
_MAX_LEVEL = 10.0


def _store(x):
    """PIL's 8-bit store: clip to [0, 255], truncate."""
    return tf.floor(tf.clip_by_value(x, 0.0, 255.0))


def _blend(image, degenerate, factor):
    """PIL's ``Image.blend(degenerate, image, factor)`` (single precision, truncated)."""
    return _store(degenerate + tf.cast(factor, tf.float32) * (image - degenerate))


def _luma(image):
    """PIL's RGB → L conversion: (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16 (exact in float32)."""
    weights = tf.constant([19595.0, 38470.0, 7471.0])
    return tf.floor((tf.reduce_sum(image * weights, axis=-1, keepdims=True) + 32768.0) / 65536.0)


def affine(image, coefficients: Sequence, fill: Sequence[float] = FILL):
    """PIL's ``Image.transform(size, AFFINE, coefficients, BICUBIC, fillcolor=fill)``.

    ``coefficients`` (a, b, c, d, e, f) map an output point (x, y) to the source point
    (a·x + b·y + c, d·x + e·y + f), in PIL's coordinates where pixel (i, j) has its
    centre at (j + 0.5, i + 0.5). Source points are computed in double precision, as
    PIL computes them.

    Example:
        >>> image = tf.reshape(tf.range(48.0), (4, 4, 3))
        >>> bool(tf.reduce_all(affine(image, (1, 0, 0, 0, 1, 0)) == image))  # identity
        True
        >>> affine(image, (1, 0, 10, 0, 1, 0))[0, 0].numpy()  # source outside: the fill
        array([124., 116., 104.], dtype=float32)
    """
    a, b, c, d, e, f = (tf.cast(v, tf.float64) for v in coefficients)
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    hf, wf = tf.cast(h, tf.float64), tf.cast(w, tf.float64)
    v, u = tf.meshgrid(tf.range(hf) + 0.5, tf.range(wf) + 0.5, indexing="ij")
    x = a * u + b * v + c
    y = d * u + e * v + f
    inside = (x >= 0.0) & (x < wf) & (y >= 0.0) & (y < hf)
    x, y = x - 0.5, y - 0.5
    x0, y0 = tf.floor(x), tf.floor(y)
    dx, dy = tf.cast(x - x0, tf.float32), tf.cast(y - y0, tf.float32)
    cols = [tf.clip_by_value(tf.cast(x0, tf.int32) + k, 0, w - 1) for k in (-1, 0, 1, 2)]
    rows = [tf.clip_by_value(tf.cast(y0, tf.int32) + k, 0, h - 1) * w for k in (-1, 0, 1, 2)]
    pixels = tf.reshape(tf.cast(image, tf.float32), [-1, 3])

    def cubic(v1, v2, v3, v4, t):  # PIL's Horner form of the a = −1 cubic
        t = t[..., None]
        p2, p3 = v3 - v1, 2.0 * (v1 - v2) + v3 - v4
        p4 = -v1 + v2 - v3 + v4
        return v2 + t * (p2 + t * (p3 + t * p4))

    along_x = [cubic(*[tf.gather(pixels, row + col) for col in cols], dx) for row in rows]
    value = _store(cubic(*along_x, dy))
    return tf.where(inside[..., None], value, tf.constant(fill, tf.float32))


def rotate(image, degrees, fill: Sequence[float] = FILL):
    """PIL's ``image.rotate(degrees, BICUBIC, fillcolor=fill)``: counter-clockwise about
    the centre, same size.

    Example: ``rotate(image, 30.0)`` turns the content 30° counter-clockwise.
    """
    angle = -tf.cast(degrees, tf.float64) * (math.pi / 180.0)
    cos, sin = tf.cos(angle), tf.sin(angle)
    cx = tf.cast(tf.shape(image)[1], tf.float64) / 2.0
    cy = tf.cast(tf.shape(image)[0], tf.float64) / 2.0
    c = cos * -cx + sin * -cy + cx
    f = -sin * -cx + cos * -cy + cy
    return affine(image, (cos, sin, c, -sin, cos, f), fill)


def shear_x(image, factor, fill: Sequence[float] = FILL):
    """Horizontal shear: output (x, y) samples the source at (x + factor·y, y).

    Example: ``shear_x(image, 0.3)``.
    """
    return affine(image, (1.0, factor, 0.0, 0.0, 1.0, 0.0), fill)


def shear_y(image, factor, fill: Sequence[float] = FILL):
    """Vertical shear: output (x, y) samples the source at (x, y + factor·x).

    Example: ``shear_y(image, -0.2)``.
    """
    return affine(image, (1.0, 0.0, 0.0, factor, 1.0, 0.0), fill)


def translate_x(image, pixels, fill: Sequence[float] = FILL):
    """Output (x, y) samples the source at (x + pixels, y): content moves left.

    Example: ``translate_x(image, 10.5)``.
    """
    return affine(image, (1.0, 0.0, pixels, 0.0, 1.0, 0.0), fill)


def translate_y(image, pixels, fill: Sequence[float] = FILL):
    """Output (x, y) samples the source at (x, y + pixels): content moves up.

    Example: ``translate_y(image, -7.0)``.
    """
    return affine(image, (1.0, 0.0, 0.0, 0.0, 1.0, pixels), fill)


def auto_contrast(image):
    """PIL's ``ImageOps.autocontrast``: each channel stretched to [0, 255].

    Example: ``auto_contrast(image)`` maps each channel's minimum to 0, maximum to 255.
    """
    x = tf.cast(image, tf.float64)
    lo = tf.reduce_min(x, axis=[0, 1], keepdims=True)
    hi = tf.reduce_max(x, axis=[0, 1], keepdims=True)
    scale = 255.0 / tf.maximum(hi - lo, 1.0)
    stretched = tf.clip_by_value(tf.floor(x * scale + -lo * scale), 0.0, 255.0)
    return tf.cast(tf.where(hi > lo, stretched, x), tf.float32)


def equalize(image):
    """PIL's ``ImageOps.equalize``: per-channel histogram equalisation.

    Example: ``equalize(image)``.
    """
    def channel(c):
        c = tf.cast(c, tf.int32)
        hist = tf.math.bincount(tf.reshape(c, [-1]), minlength=256, maxlength=256)
        nonzero = tf.boolean_mask(hist, hist > 0)
        step = (tf.reduce_sum(nonzero) - nonzero[-1]) // 255
        lut = (tf.cumsum(hist) - hist + step // 2) // tf.maximum(step, 1)
        out = tf.gather(tf.clip_by_value(lut, 0, 255), c)
        return tf.cast(tf.where(step > 0, out, c), tf.float32)

    return tf.stack([channel(image[..., i]) for i in range(3)], axis=-1)


def invert(image):
    """255 − x.

    Example: ``invert(image)``.
    """
    return 255.0 - image


def posterize(image, bits):
    """Keep the ``bits`` most significant bits of every value (0 to 8).

    Example: ``posterize(image, 2)`` leaves the values 0, 64, 128 and 192.
    """
    step = tf.pow(2.0, 8.0 - tf.cast(bits, tf.float32))
    return tf.floor(image / step) * step


def solarize(image, threshold):
    """Invert the values at or above ``threshold``.

    Example: ``solarize(image, 128)``.
    """
    return tf.where(image >= tf.cast(threshold, tf.float32), 255.0 - image, image)


def solarize_add(image, add, threshold=128):
    """Add ``add`` (saturating at 255) to the values below ``threshold``.

    Example: ``solarize_add(image, 40)``.
    """
    added = tf.minimum(image + tf.cast(add, tf.float32), 255.0)
    return tf.where(image < tf.cast(threshold, tf.float32), added, image)


def color(image, factor):
    """PIL's ``ImageEnhance.Color(image).enhance(factor)``: blend with the grey image.

    Example: ``color(image, 0.0)`` is the grey image, ``color(image, 1.0)`` the image.
    """
    return _blend(image, tf.tile(_luma(image), [1, 1, 3]), factor)


def contrast(image, factor):
    """PIL's ``ImageEnhance.Contrast``: blend with the mean grey level (rounded).

    Example: ``contrast(image, 1.5)``.
    """
    mean = tf.floor(tf.reduce_mean(tf.cast(_luma(image), tf.float64)) + 0.5)
    return _blend(image, tf.cast(mean, tf.float32) * tf.ones_like(image), factor)


def brightness(image, factor):
    """PIL's ``ImageEnhance.Brightness``: blend with black.

    Example: ``brightness(image, 1.3)``.
    """
    return _blend(image, tf.zeros_like(image), factor)


def sharpness(image, factor):
    """PIL's ``ImageEnhance.Sharpness``: blend with PIL's SMOOTH filter of the image
    (3×3 kernel 1 1 1 / 1 5 1 / 1 1 1 over 13, rounded; border pixels kept).

    Example: ``sharpness(image, 1.6)``.
    """
    kernel = tf.constant([[1.0, 1.0, 1.0], [1.0, 5.0, 1.0], [1.0, 1.0, 1.0]]) / 13.0
    kernel = tf.tile(kernel[:, :, None, None], [1, 1, 3, 1])
    inner = tf.nn.depthwise_conv2d(image[None], kernel, [1, 1, 1, 1], "VALID")[0]
    inner = tf.pad(tf.floor(tf.clip_by_value(inner + 0.5, 0.0, 255.0)), [[1, 1], [1, 1], [0, 0]])
    border = tf.pad(tf.zeros(tf.shape(image)[:2] - 2, tf.bool), [[1, 1], [1, 1]],
                    constant_values=True)
    return _blend(image, tf.where(border[..., None], image, inner), factor)


def _signed(x):
    return tf.where(tf.random.uniform([]) < 0.5, -x, x)


def _fraction(level):
    return level / _MAX_LEVEL


def _enhance_factor(level):
    return tf.maximum(0.1, 1.0 + _signed(_fraction(level) * 0.9))


def _size(image, axis: int):
    return tf.cast(tf.shape(image)[axis], tf.float32)


# timm's _RAND_INCREASING_TRANSFORMS, in its order, each as op(image, magnitude).
OPS = (
    lambda x, m: auto_contrast(x),
    lambda x, m: equalize(x),
    lambda x, m: invert(x),
    lambda x, m: rotate(x, _signed(_fraction(m) * 30.0)),
    lambda x, m: posterize(x, 4 - tf.cast(_fraction(m) * 4.0, tf.int32)),
    lambda x, m: solarize(x, 256.0 - tf.floor(_fraction(m) * 256.0)),
    lambda x, m: solarize_add(x, tf.floor(_fraction(m) * 110.0)),
    lambda x, m: color(x, _enhance_factor(m)),
    lambda x, m: contrast(x, _enhance_factor(m)),
    lambda x, m: brightness(x, _enhance_factor(m)),
    lambda x, m: sharpness(x, _enhance_factor(m)),
    lambda x, m: shear_x(x, _signed(_fraction(m) * 0.3)),
    lambda x, m: shear_y(x, _signed(_fraction(m) * 0.3)),
    lambda x, m: translate_x(x, _signed(_fraction(m) * 0.45) * _size(x, 1)),
    lambda x, m: translate_y(x, _signed(_fraction(m) * 0.45) * _size(x, 0)),
)


def rand_augment(image, num_ops: int = 2, magnitude: float = 7.0,
                 magnitude_std: float = 0.5, prob: float = 0.5):
    """Apply ``num_ops`` operations drawn from ``OPS``, each with probability ``prob``.

    ``image``: (height, width, 3) with 8-bit values (rounded, as the PIL image timm
    augments); the result has 8-bit values too.

    Example:
        >>> out = rand_augment(tf.fill((8, 8, 3), 100.0), num_ops=2, magnitude=7.0)
        >>> out.shape, out.dtype
        (TensorShape([8, 8, 3]), tf.float32)
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

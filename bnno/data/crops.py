"""Crop windows drawn as the PyTorch loaders draw them, and JPEG decoding of a window only.

``random_resized_crop`` is timm's (and torchvision's) sampler of random-resized crops,
fed with uniform draws instead of Python's random module, so that a crop is a pure
function of an element's seed; ``decode_window`` decodes only the window (libjpeg skips
the rest) and gives the same pixels as decoding the whole image and cropping it.

Example:
    >>> import tensorflow as tf
    >>> u = tf.constant([0.5] * 22, tf.float64)
    >>> [int(v) for v in random_resized_crop(375, 500, u)]  # top, left, height, width
    [29, 91, 318, 318]
"""

from __future__ import annotations

import math

import tensorflow as tf

# Uniform draws ``random_resized_crop`` uses: 10 attempts of (area, log aspect), then top, left.
CROP_DRAWS = 22


def random_resized_crop(height, width, uniforms, scale=(0.08, 1.0),
                        ratio=(3.0 / 4.0, 4.0 / 3.0)):
    """timm's ``RandomResizedCropAndInterpolation.get_params`` (timm 0.6.11,
    ``timm/data/transforms.py``; torchvision's ``RandomResizedCrop`` samples alike).

    Up to 10 attempts draw an area fraction uniformly from ``scale`` and an aspect ratio
    log-uniformly from ``ratio``; the first crop ``round(√(area·aspect))`` wide and
    ``round(√(area/aspect))`` high that fits is placed uniformly. If none fits, the
    central crop of the whole image clamped to ``ratio``. ``uniforms`` (float64, at least
    ``CROP_DRAWS``) replace Python's ``random.uniform`` calls: ``uniforms[k]`` and
    ``uniforms[10 + k]`` for attempt k, ``uniforms[20]`` and ``uniforms[21]`` for the
    top and left offsets, ``floor(u · (n + 1))`` for ``randint(0, n)``. Arithmetic in
    double precision, as Python's. Returns int32 (top, left, height, width).

    Example:
        >>> u = tf.constant([0.5] * 10 + [0.0] * 10 + [0.999, 0.0], tf.float64)
        >>> [int(v) for v in random_resized_crop(100, 100, u)]  # 54 % of the area, aspect 3/4
        [15, 0, 85, 64]
        >>> u = tf.constant([0.99] * 10 + [0.0] * 12, tf.float64)  # never fits: the
        >>> [int(v) for v in random_resized_crop(100, 100, u)]      # whole (square) image
        [0, 0, 100, 100]
    """
    height, width = tf.cast(height, tf.float64), tf.cast(width, tf.float64)
    u = tf.cast(uniforms, tf.float64)
    area = height * width
    target = (scale[0] + (scale[1] - scale[0]) * u[:10]) * area
    low, high = math.log(ratio[0]), math.log(ratio[1])
    aspect = tf.exp(low + (high - low) * u[10:20])
    w = tf.round(tf.sqrt(target * aspect))  # Python's round: half to even, as tf.round
    h = tf.round(tf.sqrt(target / aspect))
    fits = (w <= width) & (h <= height)
    first = tf.argmax(tf.cast(fits, tf.int32))  # the first attempt that fits
    h, w = h[first], w[first]
    top = tf.floor(u[20] * (height - h + 1.0))
    left = tf.floor(u[21] * (width - w + 1.0))
    # No attempt fits: timm's fallback, the central crop of the clamped aspect ratio.
    in_ratio = width / height
    fw = tf.where(in_ratio < min(ratio), width,
                  tf.where(in_ratio > max(ratio), tf.round(height * max(ratio)), width))
    fh = tf.where(in_ratio < min(ratio), tf.round(width / min(ratio)), height)
    found = tf.reduce_any(fits)
    window = tf.where(found, tf.stack([top, left, h, w]),
                      tf.stack([tf.floor((height - fh) / 2.0), tf.floor((width - fw) / 2.0),
                                fh, fw]))
    return tf.unstack(tf.cast(window, tf.int32))


def decode_window(image_bytes, window, shape, dct_method: str = ""):
    """Pixels ``window`` (top, left, height, width) of a JPEG of ``shape`` (height, width),
    as RGB uint8, decoding only that part.

    ``tf.io.decode_and_crop_jpeg`` upsamples subsampled chroma at the window's left and
    right edges as if they were the image's, so its outer columns can differ from the
    whole image's; one more column on each side (where the image has one), dropped
    after decoding, gives exactly the pixels of ``decode_jpeg`` then crop.
    ``dct_method``: ``"INTEGER_ACCURATE"`` decodes as PIL does (libjpeg's accurate
    integer DCT); ``""`` is TensorFlow's default (the fast one).

    Example:
        >>> jpeg = tf.io.encode_jpeg(tf.zeros((30, 40, 3), tf.uint8))
        >>> decode_window(jpeg, (5, 6, 10, 20), (30, 40)).shape
        TensorShape([10, 20, 3])
    """
    top, left, height, width = (tf.cast(v, tf.int32) for v in window)
    margin_left = tf.minimum(left, 1)
    margin_right = tf.minimum(tf.cast(shape[1], tf.int32) - left - width, 1)
    crop = tf.io.decode_and_crop_jpeg(
        image_bytes, tf.stack([top, left - margin_left, height,
                               width + margin_left + margin_right]),
        channels=3, dct_method=dct_method)
    return crop[:, margin_left:margin_left + width]

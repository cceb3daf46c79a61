"""The ImageNet preprocessing of the ReActNet lineage (liuzechun/ReActNet
``*/train.py`` and ``utils/utils.py``; AdamBNN's and CEMA's torchvision loaders are the
same), for images read as JPEG bytes.

Training (``transforms.Compose`` of the official scripts): ``RandomResizedCrop(224,
scale=(0.08, 1.0))``, ``Lighting(0.1)``, ``RandomHorizontalFlip()``, ``ToTensor()``,
``Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])``. Evaluation:
``Resize(256)``, ``CenterCrop(224)``, ``ToTensor()``, ``Normalize``.

``Lighting`` is AlexNet's PCA colour noise, but the official transform runs on the 8-bit
PIL image, with the eigenvalues of images scaled to [0, 1]: it adds
``inc = eigvec · (α · eigval)``, α ~ N(0, 0.1²) per image (drawn in float64, kept as
float32), to every pixel of each channel, clips to [0, 255] and casts back to 8 bits,
which truncates. As |inc| is about 0.01, a channel stays as it is where its ``inc`` ≥ 0
and falls by one level where it is < 0 (except at 0). ``lighting`` reproduces that
exactly.

Random choices come from the element's ``seed`` with stateless ops (a resumed run sees
the same crops). Deviations: the crop is TensorFlow's
``stateless_sample_distorted_bounding_box`` (aspect ratio 3/4 to 4/3 drawn uniformly, 10
attempts, the whole image when none fits), where torchvision draws the ratio
log-uniformly and falls back to a central crop; PIL's bilinear resizes are TensorFlow's
antialiased bilinear ones, rounded to 8 bits as PIL's.

Example:
    >>> import tensorflow as tf
    >>> jpeg = tf.io.encode_jpeg(tf.zeros((300, 400, 3), tf.uint8))
    >>> reactnet(jpeg, False, None).shape
    TensorShape([224, 224, 3])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bnno.data.registry import register

# Lighting's PCA of ImageNet's colours (official ``imagenet_pca``, utils/utils.py).
EIGVAL = np.array([0.2175, 0.0188, 0.0045])
EIGVEC = np.array([[-0.5675, 0.7192, 0.4009],
                   [-0.5808, -0.0045, -0.8140],
                   [-0.5836, -0.6948, 0.4203]])
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
LIGHTING_STD = 0.1


def lighting_alpha(seed, alpha_std: float = LIGHTING_STD) -> Any:
    """The official ``np.random.randn(3) * alphastd``, cast to float32, from ``seed``
    (a shape-[2] integer tensor).

    Example:
        >>> import tensorflow as tf
        >>> lighting_alpha(tf.constant([1, 2], tf.int64)).dtype
        tf.float32
    """
    import tensorflow as tf

    draw = tf.random.stateless_normal([3], seed=seed, dtype=tf.float64) * alpha_std
    return tf.cast(draw, tf.float32)


def lighting(image, alpha) -> Any:
    """The official ``Lighting`` of an 8-bit RGB image with the noise ``alpha`` (3
    float32 values): ``uint8(clip(image + EIGVEC · (alpha · EIGVAL), 0, 255))``, in float64.

    Example:
        >>> import tensorflow as tf
        >>> image = tf.constant([[[10, 0, 255]]], tf.uint8)
        >>> lighting(image, tf.constant([0.1, 0.0, 0.0])).numpy()  # inc < 0 everywhere
        array([[[  9,   0, 254]]], dtype=uint8)
    """
    import tensorflow as tf

    increment = tf.linalg.matvec(tf.constant(EIGVEC),
                                 tf.cast(alpha, tf.float64) * tf.constant(EIGVAL))
    shifted = tf.clip_by_value(tf.cast(image, tf.float64) + increment, 0.0, 255.0)
    return tf.cast(tf.math.floor(shifted), tf.uint8)


def _random_resized_crop(image_bytes, seed, size: int):
    import tensorflow as tf

    shape = tf.image.extract_jpeg_shape(image_bytes)
    begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(
        shape, tf.zeros([1, 0, 4], tf.float32), seed=seed, min_object_covered=0.0,
        aspect_ratio_range=(3 / 4, 4 / 3), area_range=(0.08, 1.0), max_attempts=10,
        use_image_if_no_bounding_boxes=True)
    window = tf.stack([begin[0], begin[1], extent[0], extent[1]])
    crop = tf.image.decode_and_crop_jpeg(image_bytes, window, channels=3)
    crop = tf.image.resize(crop, [size, size], method="bilinear", antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(crop, 0.0, 255.0)), tf.uint8)


def _resize_shorter(image, side: int):
    """torchvision's ``Resize(side)`` of a PIL image: the shorter side to ``side``, the
    longer to ``int(side · long / short)``, bilinear with antialiasing, 8-bit values."""
    import tensorflow as tf

    shape = tf.shape(image)[:2]
    size = tf.where(shape == tf.reduce_min(shape), side, shape * side // tf.reduce_min(shape))
    image = tf.image.resize(image, size, method="bilinear", antialias=True)
    return tf.round(tf.clip_by_value(image, 0.0, 255.0))


def _center_crop(image, size: int):
    """torchvision's ``CenterCrop(size)``: offsets ``round((side − size) / 2)``, ties to
    even."""
    import tensorflow as tf

    top, left = tf.unstack(tf.cast(tf.round(tf.cast(tf.shape(image)[:2] - size, tf.float32)
                                            / 2.0), tf.int32))
    return image[top:top + size, left:left + size]


@register("reactnet", encoded=True)
def reactnet(image_bytes, training: bool, seed, size: int = 224) -> Any:
    """The official ReActNet preprocessing of one JPEG (see the module docstring).

    Example:
        >>> import tensorflow as tf
        >>> jpeg = tf.io.encode_jpeg(tf.zeros((300, 400, 3), tf.uint8))
        >>> seed = tf.constant([3, 4], tf.int64)
        >>> bool(tf.reduce_all(reactnet(jpeg, True, seed) == reactnet(jpeg, True, seed)))
        True
    """
    import tensorflow as tf

    if training:
        if seed is None:
            seed = tf.random.uniform([2], maxval=2**31 - 1, dtype=tf.int64)
        image = _random_resized_crop(image_bytes, seed, size)
        image = lighting(image, lighting_alpha(tf.reverse(seed, [0]) + 1))
        image = tf.image.stateless_random_flip_left_right(image, seed=seed + 2)
        image = tf.cast(image, tf.float32)
    else:
        image = tf.io.decode_jpeg(image_bytes, channels=3)
        image = _center_crop(_resize_shorter(image, size * 256 // 224), size)
    image = tf.ensure_shape(image, [size, size, 3])
    return (image / 255.0 - MEAN) / STD

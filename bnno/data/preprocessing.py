"""The preprocessing functions users name with ``--preprocess-fn`` (or a set's
``preprocess_fn``).

Each is ``fn(image, training, seed)``: a decoded uint8 image (or, for datasets read as
JPEG bytes, the encoded bytes) to a float32 image, with every random choice drawn from
``seed`` (a stateless seed pair), so that an epoch's augmentation is a pure function of
(seed, epoch). The module registers each (``bnno.data.registry``) for datasets of decoded
images or for those read as JPEG bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import bnno.data.reactnet_preprocessing  # noqa: F401  (registers "reactnet")
from bnno.data.registry import TrainingStages, register
from bnno.errors import BnnoError


def _scale(image):
    """uint8 [0, 255] -> float32 [-1, 1], as the Bop paper's code does."""
    import tensorflow as tf

    return tf.cast(image, tf.float32) / (255.0 / 2.0) - 1.0


def default(image, training: bool, seed) -> Any:
    """Scale pixels to [-1, 1]; no augmentation.

    Example:
        >>> import tensorflow as tf
        >>> default(tf.constant([[[0, 255, 51]]], tf.uint8), True, None).numpy()
        array([[[-1. ,  1. , -0.6]]], dtype=float32)
    """
    return _scale(image)


def resize_and_flip(image, training: bool, seed) -> Any:
    """Training: pad 4 pixels per side, random crop back, random flip; then scale.

    For CIFAR-10 this is the paper's pad to 40×40 and random 32×32 crop. Evaluation
    images are only scaled. ``seed`` is a shape-[2] integer tensor; the stateless ops
    make the augmentation reproducible.

    Example:
        >>> import tensorflow as tf
        >>> image = tf.zeros((32, 32, 3), tf.uint8)
        >>> resize_and_flip(image, True, tf.constant([1, 2], tf.int64)).shape
        TensorShape([32, 32, 3])
    """
    return _scale(_pad_crop_flip(image, seed) if training else image)


def _pad_crop_flip(image, seed):
    """Pad 4 zero pixels per side, a random crop back to the size, a random flip; all
    drawn from ``seed`` (a shape-[2] integer tensor) by stateless ops."""
    import tensorflow as tf

    h, w, c = image.shape
    image = tf.image.resize_with_crop_or_pad(image, h + 8, w + 8)
    image = tf.image.stateless_random_crop(image, [h, w, c], seed=seed)
    return tf.image.stateless_random_flip_left_right(image, seed=seed[::-1])


# Per-channel mean and deviation of BNext's official CIFAR pipeline
# (hpi-xnor/BNext src/train_assistant_group_amp.py, the CIFAR branch of main_worker).
# They are CIFAR-100's training-set statistics; the official code applies them to
# CIFAR-10 and CIFAR-100 alike, and so does ``crop_flip_normalize``.
CIFAR_MEAN = (0.507, 0.487, 0.441)
CIFAR_STD = (0.267, 0.256, 0.276)

# ImageNet's channel mean and deviation on 8-bit values and the side of its crops, as
# Larq Zoo sets them (larq_zoo/training/data.py: MEAN_RGB, STDDEV_RGB, IMAGE_SIZE) and
# as torchvision's 0-1 values times 255. The evaluation crop keeps 224/(224 + 32) of
# the shorter side (CROP_PADDING there).
IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
IMAGENET_SIZE = 224
CROP_PADDING = 32


def crop_flip_normalize(image, training: bool, seed) -> Any:
    """BNext's CIFAR preprocessing: ``resize_and_flip``'s augmentation (training: pad 4
    zero pixels per side, random crop back, random flip), then ``(x / 255 − mean) / std``
    per channel with ``CIFAR_MEAN`` and ``CIFAR_STD``.

    The paper's text names random crop, flip and normalisation; the numbers are the
    official trainer's (CIFAR-100's statistics, used for CIFAR-10 too). For RGB images.

    Example:
        >>> import tensorflow as tf
        >>> out = crop_flip_normalize(tf.fill((32, 32, 3), tf.constant(255, tf.uint8)),
        ...                           False, None)
        >>> [round(float(v), 4) for v in out[0, 0]]
        [1.8464, 2.0039, 2.0254]
    """
    import tensorflow as tf

    if image.shape[-1] != 3:
        raise BnnoError(f"crop_flip_normalize needs RGB images; got shape {image.shape}")
    if training:
        image = _pad_crop_flip(image, seed)
    return (tf.cast(image, tf.float32) / 255.0 - CIFAR_MEAN) / CIFAR_STD


def imagenet(image_bytes, training: bool, seed, size: int = IMAGENET_SIZE) -> Any:
    """Larq Zoo's ImageNet preprocessing of one JPEG: decode and crop in one step.

    Training: a random crop of 8-100 % of the area and aspect ratio 3/4-4/3 (10
    attempts, else the evaluation crop), resized bicubically to 224×224, and a random
    flip; evaluation: the central 224/256 crop, resized. Then normalised with ImageNet's
    channel mean and deviation. It is larq-zoo 2.4's ``preprocess_image_bytes``
    (``larq_zoo/training/data.py``) op for op; ``tests/data/test_imagenet_crop.py``
    checks it against outputs of larq-zoo's own function. Larq Zoo draws the crop and
    flip with TensorFlow's stateful random ops, as here when ``seed`` is None (its crop
    op keeps seed 0, which TensorFlow seeds afresh in every process: those crops differ
    between runs even under a global seed). A seeded (deterministic) run refuses
    stateful ops, so given a ``seed`` the same ops' stateless forms draw them from it,
    and a resumed run also sees the same crops.

    Example:
        >>> import tensorflow as tf
        >>> jpeg = tf.io.encode_jpeg(tf.zeros((300, 400, 3), tf.uint8))
        >>> imagenet(jpeg, False, None).shape
        TensorShape([224, 224, 3])
        >>> seed = tf.constant([3, 4], tf.int64)
        >>> bool(tf.reduce_all(imagenet(jpeg, True, seed) == imagenet(jpeg, True, seed)))
        True
    """
    import tensorflow as tf

    if training:
        image = _imagenet_random_crop(image_bytes, seed, size)
        if seed is None:
            image = tf.image.random_flip_left_right(image)
        else:
            image = tf.image.stateless_random_flip_left_right(image, seed=seed[::-1])
    else:
        image = _decode_and_center_crop(image_bytes, size)
    return _standardize(tf.cast(tf.reshape(image, [size, size, 3]), tf.float32))


def _standardize(image):
    """ImageNet's normalisation of one float32 image. The mean and deviation are
    broadcast to the image's shape first, as Larq Zoo does: TensorFlow's kernels for an
    image minus a 3-vector broadcast as they go, which gave ``imagenet`` 15 % fewer
    images per second."""
    import tensorflow as tf

    shape = tf.shape(image)
    return ((image - tf.broadcast_to(IMAGENET_MEAN, shape))
            / tf.broadcast_to(IMAGENET_STD, shape))


def _imagenet_random_crop(image_bytes, seed, size: int):
    """``imagenet``'s training crop, resized to ``size``×``size`` (float32): the evaluation
    crop when the distorted box found no window within its 10 attempts."""
    import tensorflow as tf

    shape = tf.image.extract_jpeg_shape(image_bytes)
    box = dict(bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), min_object_covered=0.1,
               aspect_ratio_range=(3 / 4, 4 / 3), area_range=(0.08, 1.0), max_attempts=10,
               use_image_if_no_bounding_boxes=True)
    if seed is None:
        begin, extent, _ = tf.image.sample_distorted_bounding_box(shape, **box)
    else:
        begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(shape, seed=seed,
                                                                            **box)
    window = tf.stack([begin[0], begin[1], extent[0], extent[1]])
    crop = tf.image.decode_and_crop_jpeg(image_bytes, window, channels=3)
    # The whole image means every attempt failed (Larq Zoo tests that at least 3 of the
    # crop's shape equal the JPEG's).
    whole = tf.reduce_sum(tf.cast(tf.equal(shape, tf.shape(crop)), tf.int32)) >= 3
    return tf.cond(whole, lambda: _decode_and_center_crop(image_bytes, size),
                   lambda: tf.compat.v1.image.resize_bicubic([crop], [size, size])[0])


def _decode_and_center_crop(image_bytes, size: int):
    """The central square of a JPEG, ``size / (size + 32)`` of its shorter side (offsets
    rounded up), decoded alone and resized bicubically to ``size``×``size`` (float32)."""
    import tensorflow as tf

    shape = tf.image.extract_jpeg_shape(image_bytes)
    height, width = shape[0], shape[1]
    side = tf.cast(size / (size + CROP_PADDING)
                   * tf.cast(tf.minimum(height, width), tf.float32), tf.int32)
    window = tf.stack([(height - side + 1) // 2, (width - side + 1) // 2, side, side])
    image = tf.image.decode_and_crop_jpeg(image_bytes, window, channels=3)
    # TF1's bicubic resize (no antialiasing, corners not aligned), as Larq Zoo.
    return tf.compat.v1.image.resize_bicubic([image], [size, size])[0]


def bnext(image_bytes, training: bool, seed, size: int = 224) -> Any:
    """BNext's ImageNet preprocessing (timm's, as the official recipe sets it).

    Training: timm's random-resized crop (8-100 % of the area, aspect ratio 3/4-4/3
    drawn log-uniformly, 10 attempts, else the central crop; ``bnno.data.crops``),
    resized bicubically to 224×224, a random flip and RandAugment (2 operations,
    magnitude 7, noise 0.5; ``bnno.data.randaugment``), every choice drawn from
    ``seed`` by stateless ops (None: from the global random state). The pixels are
    PIL's, which timm uses: the JPEG decoded with libjpeg's accurate integer DCT and
    only where the crop lies, the resize PIL's fixed-point one (``bnno.data.resize``),
    so given the same draws the image equals timm's bit for bit up to RandAugment,
    whose operations are PIL's too. Evaluation: bicubic resize of the shorter side to
    235 (224 / 0.95; the longer side truncated, as torchvision's ``Resize``) and the
    central 224×224 crop (offsets rounded, as its ``CenterCrop``), antialiased and
    rounded to 8-bit values (TensorFlow's resize and decoding, within one level of
    PIL's). Then normalised with ImageNet's channel mean and deviation, like
    ``imagenet``. Another ``size`` (the ``image_size`` hparam) replaces 224, and 235
    becomes ``int(size / 0.95)``, as timm computes it.

    Example:
        >>> import tensorflow as tf
        >>> jpeg = tf.io.encode_jpeg(tf.zeros((300, 400, 3), tf.uint8))
        >>> bnext(jpeg, False, None).shape
        TensorShape([224, 224, 3])
        >>> seed = tf.constant([3, 4], tf.int64)
        >>> bool(tf.reduce_all(bnext(jpeg, True, seed) == bnext(jpeg, True, seed)))
        True
    """
    import tensorflow as tf

    if training:
        return _bnext_augment(*(t[None] for t in _bnext_crop(image_bytes, True, seed, size)))[0]
    image = tf.io.decode_jpeg(image_bytes, channels=3)
    image = _center_crop(_resize_shorter(image, int(size / 0.95), "bicubic"), size)
    return _standardize(tf.ensure_shape(image, [size, size, 3]))


def _bnext_crop(image_bytes, training: bool, seed, size: int = 224):
    """``bnext``'s training steps per image: the crop and flip (uint8) and the draws of
    its RandAugment (``training`` is True: the call form of the functions)."""
    import tensorflow as tf

    from bnno.data.randaugment import draws

    crop_seed, augment_seed = _split(seed)
    image = tf.cast(random_resized_crop(image_bytes, crop_seed, size), tf.uint8)
    return tf.ensure_shape(image, [size, size, 3]), draws(2, augment_seed)


def _bnext_augment(images, chosen):
    """``bnext``'s training steps per batch: RandAugment (rand-m7-mstd0.5) given each
    image's draws, then ImageNet's normalisation, float32.

    Inside a traced function (``tf.data``'s) the steps run through ``tf.py_function``:
    TensorFlow launches ``rand_augment_batch``'s XLA programs several times slower from
    a ``tf.data`` function than from a function called eagerly.
    """
    import tensorflow as tf

    if tf.executing_eagerly():
        return _augment_function()(images, chosen)
    out = tf.py_function(_augment_function(), [images, chosen], tf.float32)
    return tf.ensure_shape(out, images.shape)


@functools.cache
def _augment_function():
    import tensorflow as tf

    from bnno.data.randaugment import rand_augment_batch

    def augment(images, chosen):
        with tf.device("/CPU:0"):  # PIL's arithmetic, also where a GPU is the default
            return rand_augment_batch(images, chosen, magnitude=7.0, magnitude_std=0.5,
                                      normalize=(IMAGENET_MEAN, IMAGENET_STD))

    return tf.function(augment, autograph=False, reduce_retracing=True)


def random_resized_crop(image_bytes, seed, size: int = 224) -> Any:
    """timm's ``RandomResizedCropAndInterpolation(size, interpolation="bicubic")`` and
    ``RandomHorizontalFlip()`` of a JPEG, as PIL computes them: int32 8-bit values.

    The crop window is drawn (``bnno.data.crops.random_resized_crop``) from the JPEG's
    header before anything is decoded; only the window is decoded (as PIL decodes), and
    PIL's bicubic resize of it mirrored when ``u < 0.5`` (torchvision's flip test) for
    a last uniform draw ``u``. All draws come from ``seed`` by stateless ops.

    Example:
        >>> import tensorflow as tf
        >>> jpeg = tf.io.encode_jpeg(tf.zeros((300, 400, 3), tf.uint8))
        >>> random_resized_crop(jpeg, tf.constant([1, 2], tf.int64), 64).shape
        TensorShape([64, 64, 3])
    """
    import tensorflow as tf

    import bnno.data.crops as crops
    import bnno.data.resize as resize

    shape = tf.image.extract_jpeg_shape(image_bytes)
    draws = tf.random.stateless_uniform([crops.CROP_DRAWS + 1], seed, dtype=tf.float64)
    window = crops.random_resized_crop(shape[0], shape[1], draws)
    crop = crops.decode_window(image_bytes, window, shape, dct_method="INTEGER_ACCURATE")
    return resize.resize(crop, size, size, "bicubic", flip=draws[crops.CROP_DRAWS] < 0.5)


def _split(seed):
    """Two independent stateless seeds from an element's ``seed`` (None: a fresh draw from
    the global random state, for callers without seeds)."""
    import tensorflow as tf

    if seed is None:
        seed = tf.random.uniform([2], 0, 2**31 - 1, tf.int64)
    return tf.unstack(tf.random.experimental.stateless_split(seed, 2))



def sibnn(image_bytes, training: bool, seed, size: int = 224) -> Any:
    """Si-BNN's ImageNet preprocessing (peiswang/SiBNN ``main_sibnn_learn.py``).

    The image is resized (bilinear, antialiased) so that its shorter side is 256, the
    longer one ``int(256 · long / short)`` as torchvision computes it, with PIL's
    fixed-point resize (``bnno.data.resize``; torchvision's ``Resize`` of a PIL image).
    Training: a uniformly placed 224×224 crop and a random flip, drawn from ``seed`` by
    stateless ops (a resumed run sees the same crops; None: from the global random
    state). Evaluation: the central 224×224 crop, offsets ``round((size − 224) / 2)``
    with ties to even, as torchvision's ``CenterCrop``. Only the crop is resized, from
    the part of the JPEG under it, decoded alone (TensorFlow's default decoding, within
    a level or two of PIL's). Then normalised with ImageNet's channel mean and
    deviation.

    The official code only crops (RandomCrop, CenterCrop), so its image folders must
    have been resized beforehand; a shorter side of 256 is the usual such preparation
    and an assumption here. The code crops 227 for AlexNet; here every model gets 224
    (see ``bnno.models.sibnn_alexnet``). Another ``size`` (the ``image_size`` hparam)
    replaces 224, and 256 becomes ``size · 256 // 224``.

    Example:
        >>> import tensorflow as tf
        >>> jpeg = tf.io.encode_jpeg(tf.zeros((300, 400, 3), tf.uint8))
        >>> sibnn(jpeg, False, None).shape
        TensorShape([224, 224, 3])
    """
    return _imagenet_normalize(_sibnn_crop(image_bytes, training, seed, size)[None])[0]


def _sibnn_crop(image_bytes, training: bool, seed, size: int = 224):
    """``sibnn``'s crop of the resized image, uint8 (before normalisation)."""
    import tensorflow as tf

    import bnno.data.crops as crops
    import bnno.data.resize as resize

    shape = tf.image.extract_jpeg_shape(image_bytes)[:2]
    short = tf.reduce_min(shape)
    side = size * 256 // 224
    resized = tf.where(shape == short, side, shape * side // short)
    if training:
        draws = tf.random.stateless_uniform([3], _split(seed)[0], dtype=tf.float64)
        # torchvision's RandomCrop: randint(0, n) for each offset; its flip: rand() < 0.5.
        room = tf.cast(resized - size + 1, tf.float64)
        top, left = tf.unstack(tf.cast(tf.floor(draws[:2] * room), tf.int32))
        flip = draws[2] < 0.5
    else:
        offsets = tf.round(tf.cast(resized - size, tf.float32) / 2.0)
        top, left = tf.unstack(tf.cast(offsets, tf.int32))
        flip = False
    y0, y1 = resize.support(shape[0], resized[0], "bilinear", top, size)
    x0, x1 = resize.support(shape[1], resized[1], "bilinear", left, size)
    part = crops.decode_window(image_bytes, (y0, x0, y1 - y0, x1 - x0), shape)
    image = resize.resize_window(part, shape, resized, (top, left, size, size), (y0, x0),
                                 "bilinear", flip)
    return tf.ensure_shape(tf.cast(image, tf.uint8), [size, size, 3])


def _sibnn_training_crop(image_bytes, training: bool, seed, size: int = 224):
    return (_sibnn_crop(image_bytes, True, seed, size),)


def _imagenet_normalize(images):
    """ImageNet's normalisation of a batch (uint8), float32, in one XLA loop."""
    return _normalize_function()(images, IMAGENET_MEAN, IMAGENET_STD)


@functools.cache
def _normalize_function():
    import tensorflow as tf

    def normalize(images, mean, std):
        return (tf.cast(images, tf.float32) - mean) / std

    normalize = tf.function(normalize, jit_compile=True, autograph=False, reduce_retracing=True)

    def on_cpu(images, mean, std):
        with tf.device("/CPU:0"):
            return normalize(images, mean, std)

    return on_cpu



def _resize_shorter(image, side: int, method: str):
    """Resize (antialiased) so that the shorter side is ``side`` and the longer one
    ``int(side · long / short)``, then round to 8-bit values: torchvision's ``Resize``
    of a PIL image, which the PyTorch recipes use."""
    import tensorflow as tf

    shape = tf.shape(image)[:2]
    short = tf.reduce_min(shape)
    size = tf.where(shape == short, side, shape * side // short)
    image = tf.image.resize(image, size, method=method, antialias=True)
    return tf.round(tf.clip_by_value(image, 0.0, 255.0))


def _center_crop(image, size: int):
    """The central ``size``×``size`` crop, offsets ``round((dim − size) / 2)`` with ties
    to even, as torchvision's ``CenterCrop``."""
    import tensorflow as tf

    offsets = tf.round(tf.cast(tf.shape(image)[:2] - size, tf.float32) / 2.0)
    top, left = tf.unstack(tf.cast(offsets, tf.int32))
    return image[top:top + size, left:left + size]


def jpeg_first(fn: Callable) -> Callable:
    """``fn`` (a preprocessing function of encoded datasets) for encoded images of any
    format: images that are not JPEG (PNG, BMP, GIF) are re-encoded as JPEG (quality 95)
    first, since the JPEG functions decode and crop in one step.

    Example:
        >>> import tensorflow as tf
        >>> png = tf.io.encode_png(tf.zeros((300, 400, 3), tf.uint8))
        >>> jpeg_first(imagenet)(png, False, None, size=64).shape
        TensorShape([64, 64, 3])
    """
    import functools

    @functools.wraps(fn)
    def any_format(image_bytes, training: bool, seed, **kwargs):
        import tensorflow as tf

        jpeg = tf.cond(
            tf.io.is_jpeg(image_bytes), lambda: image_bytes,
            lambda: tf.io.encode_jpeg(tf.io.decode_image(
                image_bytes, channels=3, expand_animations=False), quality=95))
        return fn(jpeg, training, seed, **kwargs)

    return any_format


# Datasets of decoded images.
register("default")(default)
register("resize_and_flip")(resize_and_flip)
register("crop_flip_normalize")(crop_flip_normalize)
# Datasets read as JPEG bytes; their ``default`` is Larq Zoo's ImageNet preprocessing.
register("default", encoded=True)(imagenet)
register("bnext", encoded=True, stages=TrainingStages(_bnext_crop, _bnext_augment))(bnext)
register("sibnn", encoded=True,
         stages=TrainingStages(_sibnn_training_crop, _imagenet_normalize))(sibnn)

"""ConvNeXt-T as timm 0.6.11 builds ``convnext_tiny`` (Liu et al., 2022, "A ConvNet for
the 2020s"; the main teacher of the official BNext-L recipe).

timm's ``ConvNeXt`` (``timm/models/convnext.py``) with its ``convnext_tiny`` settings: a
4×4 stride-4 convolution and a layer norm as the stem, then four stages of (3, 3, 9, 3)
blocks at widths (96, 192, 384, 768); stages 2–4 start with a layer norm and a 2×2
stride-2 convolution. A block is a 7×7 depthwise convolution, a layer norm over channels,
a dense layer to 4× the width, exact GELU, a dense layer back, a per-channel layer
scale ``gamma`` and the residual sum. The head is global average pooling, a layer norm,
and the dense classifier. As timm's: every layer norm has ε = 1e-6, every convolution
and dense layer a bias; initialisation N(0, 0.02²) for kernels (timm's ``trunc_normal_``
cuts at ±2, i.e. 100 σ), zero biases, layer scale 1e-6.

Inputs are images normalised with ImageNet's channel mean and deviation (timm's default
cfg), at least 32×32 (timm's model fails on smaller ones). The logits layer is
``logits``, followed by a softmax. Layers are named after timm's modules
(``stages.2.blocks.4.mlp.fc1``), which the importer of timm's checkpoints relies on.

Training-only parts as timm's: dropout of rate ``drop_rate`` before the classifier, and drop
path on the residual branch at rates rising linearly from 0 to ``drop_path_rate`` over
all blocks; both default to 0, as timm's constructor and BNext's teachers.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from bnno.errors import BnnoError
from bnno.models.registry import register
from bnno.models.timm_layers import DropPath, LayerScale, conv

DEPTHS = (3, 3, 9, 3)
DIMS = (96, 192, 384, 768)
LN_EPSILON = 1e-6
LAYER_SCALE_INIT = 1e-6


def dims(width_multiplier: float) -> list[int]:
    """The stage widths: timm's (96, 192, 384, 768) times ``width_multiplier``, rounded.

    Example:
        >>> dims(1.0), dims(1 / 12)
        ([96, 192, 384, 768], [8, 16, 32, 64])
    """
    return [max(1, int(round(d * width_multiplier))) for d in DIMS]


def stage_depths(text: str) -> list[int]:
    """Blocks per stage from the ``depths`` hparam (four counts joined by ``-``).

    Raises:
        BnnoError: not four positive counts.

    Example:
        >>> stage_depths("3-3-9-3")
        [3, 3, 9, 3]
        >>> stage_depths("3-3")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: depths must be four positive block counts joined by '-' ...
    """
    parts = str(text).split("-")
    if len(parts) != 4 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise BnnoError("depths must be four positive block counts joined by '-' (e.g. "
                        f"3-3-9-3), got '{text}'")
    return [int(p) for p in parts]


def _init():
    return tf.keras.initializers.RandomNormal(stddev=0.02)


def _norm(x, name: str):
    return tf.keras.layers.LayerNormalization(epsilon=LN_EPSILON, name=name)(x)


def _block(x, name: str, drop_path: float):
    width = x.shape[-1]
    shortcut = x
    x = conv(x, width, 7, name=f"{name}.conv_dw", bias=True, depthwise=True,
             initializer=_init())
    x = _norm(x, f"{name}.norm")
    x = tf.keras.layers.Dense(4 * width, name=f"{name}.mlp.fc1", kernel_initializer=_init())(x)
    x = tf.keras.layers.Activation("gelu", name=f"{name}.mlp.act")(x)  # exact (erf) GELU
    x = tf.keras.layers.Dense(width, name=f"{name}.mlp.fc2", kernel_initializer=_init())(x)
    x = LayerScale(LAYER_SCALE_INIT, name=f"{name}.gamma")(x)
    if drop_path:
        x = DropPath(drop_path, name=f"{name}.drop_path")(x)
    return tf.keras.layers.Add(name=f"{name}.add")([x, shortcut])


def _check_size(input_shape: tuple[int, ...], name: str) -> None:
    # The stem divides the side by 4 and each of three 2×2 stride-2 convolutions halves it
    # without padding: a side under 32 leaves a 2×2 convolution a 1×1 input.
    if min(input_shape[0], input_shape[1]) < 32:
        raise BnnoError(f"{name} needs images of at least 32×32 (its stem divides the side "
                        f"by 4, then three stride-2 convolutions halve it); got "
                        f"{input_shape[0]}×{input_shape[1]}")


@register
def convnext_tiny(input_shape: tuple[int, ...], num_classes: int, *,
                  width_multiplier: float = 1.0, depths: str = "3-3-9-3",
                  drop_rate: float = 0.0, drop_path_rate: float = 0.0) -> tf.keras.Model:
    """timm's ConvNeXt-T (28.59 M parameters at 1000 classes).

    Example:
        timm's model for ImageNet, and a narrow, shallow one for CIFAR-sized images::

            model = convnext_tiny((224, 224, 3), 1000)
            narrow = convnext_tiny((32, 32, 3), 10, width_multiplier=1 / 12,
                                   depths="1-1-3-1")

    Args:
        input_shape: image shape (height, width, channels), at least 32×32.
        num_classes: size of the softmax output.
        width_multiplier: scales the stage widths (96, 192, 384, 768), rounded.
        depths: blocks per stage, four counts joined by ``-`` (timm's 3-3-9-3).
        drop_rate: dropout before the classifier while training (timm's ``drop_rate``).
        drop_path_rate: timm's ``drop_path_rate`` (stochastic depth, training only).

    Returns:
        An uncompiled Keras model ending in a softmax.

    Raises:
        BnnoError: images smaller than 32×32, or ``depths`` not four positive counts.
    """
    _check_size(input_shape, "convnext_tiny")
    counts, widths = stage_depths(depths), dims(width_multiplier)
    rates = np.linspace(0.0, drop_path_rate, sum(counts)).tolist()
    image = tf.keras.Input(input_shape)
    x = tf.keras.layers.Conv2D(widths[0], 4, 4, name="stem.0", kernel_initializer=_init())(image)
    x = _norm(x, "stem.1")
    for stage, (count, width) in enumerate(zip(counts, widths, strict=True)):
        if stage:
            x = _norm(x, f"stages.{stage}.downsample.0")
            x = tf.keras.layers.Conv2D(width, 2, 2, name=f"stages.{stage}.downsample.1",
                                       kernel_initializer=_init())(x)
        for i in range(count):
            x = _block(x, f"stages.{stage}.blocks.{i}", rates.pop(0))
    x = tf.keras.layers.GlobalAveragePooling2D(name="head.global_pool")(x)
    x = _norm(x, "head.norm")
    if drop_rate:
        x = tf.keras.layers.Dropout(drop_rate, name="head.drop")(x)
    x = tf.keras.layers.Dense(num_classes, name="logits", kernel_initializer=_init())(x)
    return tf.keras.Model(image, tf.keras.layers.Activation("softmax", name="softmax")(x),
                          name="convnext_tiny")


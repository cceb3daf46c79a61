"""Layer helpers shared by several model files: PyTorch-style batch norm, the choice
of batch or layer norm, a 3×3/2 max pool that builds for any input size.

Example:
    >>> pool_3x3(torch_bn(tf.keras.Input((8, 8, 4)))).shape
    TensorShape([None, 3, 3, 4])
"""

from __future__ import annotations

from typing import Literal

import tensorflow as tf


def torch_bn(x):
    """Batch norm with PyTorch's defaults (momentum 0.1, i.e. Keras 0.9; epsilon 1e-5), for
    models whose reference code is PyTorch (BNext, Si-BNN).

    Example:
        >>> y = torch_bn(tf.keras.Input((8, 8, 16)))
        >>> norm = y.node.layer
        >>> norm.momentum, norm.epsilon
        (0.9, 1e-05)
    """
    return tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


# The normalizations a model may use in place of batch norm (its ``normalization`` hparam).
Normalization = Literal["batch", "layer"]


def normalization(kind: Normalization, **batch_norm) -> tf.keras.layers.Layer:
    """A batch norm with the options ``batch_norm``, or (``kind="layer"``) Keras' default
    layer norm over the last axis, which the Bop2ndOrder code (CuauSuarez/Bop2ndOrder
    ``bnn_optimization/models/``) puts everywhere its Bop-paper models had a batch norm.

    Example:
        >>> type(normalization("layer", momentum=0.8)).__name__
        'LayerNormalization'
        >>> normalization("batch", momentum=0.8).momentum
        0.8
    """
    if kind == "layer":
        return tf.keras.layers.LayerNormalization()
    if kind != "batch":
        raise ValueError(f"normalization must be 'batch' or 'layer', got {kind!r}")
    return tf.keras.layers.BatchNormalization(**batch_norm)


def pool_3x3(x):
    """3×3/2 max pool, "valid" as in the ImageNet papers' code; "same" where a feature map
    is already smaller than 3×3 (small inputs such as CIFAR-10 or MNIST), so the
    ImageNet models build for any input size and keep their exact shapes on ImageNet.

    Example:
        >>> pool_3x3(tf.keras.Input((56, 56, 64))).shape
        TensorShape([None, 27, 27, 64])
        >>> pool_3x3(tf.keras.Input((2, 2, 64))).shape
        TensorShape([None, 1, 1, 64])
    """
    small = min(x.shape[1], x.shape[2]) < 3
    return tf.keras.layers.MaxPool2D(3, strides=2, padding="same" if small else "valid")(x)

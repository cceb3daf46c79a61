"""Si-BNN's AlexNet for ImageNet (Wang et al., 2020, the paper's AlexNet row).

The official code released only ResNet-18, so this follows the layout common to the
paper's comparisons (XNOR-Net, HWGQ): AlexNet with batch norm, full-precision first and
last layers, every other layer binary. A binary layer runs batch norm → Si-BNN
binarizer → binary convolution or dense layer with per-output-channel scaled ±1 weights.
Layers: 96 11×11/4 (full precision) → pool → 256 5×5 → pool → 384, 384, 256 3×3 → pool
→ dense 4096, 4096 → batch norm, ReLU → dense (full precision) softmax. Pools are 3×3/2
(see ``pool_3x3``).
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno import binarizers
from bnno.models import pool_3x3, register, torch_bn


def binary_layer(x, layer, units: int, *args, activation: str | None, rho: float,
                 kernel_quantizer: str | None, kernel_constraint: str | None, **kwargs):
    """Batch norm → binarizer → binary ``layer`` (``lq.layers.QuantConv2D`` or
    ``QuantDense``), the unit every Si-BNN model repeats.

    Example:
        >>> y = binary_layer(x, lq.layers.QuantConv2D, 256, 3, padding="same",
        ...                  activation="sibnn", rho=0.3, kernel_quantizer="ste_sign",
        ...                  kernel_constraint=None)  # doctest: +SKIP
    """
    x = torch_bn(x)
    return layer(units, *args, input_quantizer=binarizers.resolve(activation, rho),
                 kernel_quantizer=kernel_quantizer, kernel_constraint=kernel_constraint,
                 use_bias=False, **kwargs)(x)


def real_head(x, num_classes: int):
    """Batch norm, ReLU and a full-precision softmax dense layer.

    Example:
        >>> probabilities = real_head(x, 1000)  # doctest: +SKIP
    """
    x = torch_bn(x)
    x = tf.keras.layers.Activation("relu")(x)
    return tf.keras.layers.Dense(num_classes, activation="softmax")(x)


@register
def sibnn_alexnet(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    kernel_quantizer: str | None = "magnitude_aware_sign",
    kernel_constraint: str | None = "weight_clip",
    activation: str | None = "sibnn",
    rho: float = 0.3,
) -> tf.keras.Model:
    """AlexNet with sparse {0, 1} activations.

    Example:
        >>> model = sibnn_alexnet((224, 224, 3), 1000)  # doctest: +SKIP

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        kernel_quantizer: quantizer of the binary kernels (sign scaled by mean |w| per
            output channel by default, as Si-BNN's code does).
        kernel_constraint: constraint on the latent kernels.
        activation: binarizer of the binary layers' inputs.
        rho: Si-BNN's gradient window below the threshold.

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    binary = dict(activation=activation, rho=rho, kernel_quantizer=kernel_quantizer,
                  kernel_constraint=kernel_constraint)
    conv = lq.layers.QuantConv2D
    image = tf.keras.Input(input_shape)
    x = tf.keras.layers.Conv2D(96, 11, strides=4, padding="same", use_bias=False)(image)
    x = pool_3x3(x)
    x = pool_3x3(binary_layer(x, conv, 256, 5, padding="same", **binary))
    x = binary_layer(x, conv, 384, 3, padding="same", **binary)
    x = binary_layer(x, conv, 384, 3, padding="same", **binary)
    x = pool_3x3(binary_layer(x, conv, 256, 3, padding="same", **binary))
    x = tf.keras.layers.Flatten()(x)
    x = binary_layer(x, lq.layers.QuantDense, 4096, **binary)
    x = binary_layer(x, lq.layers.QuantDense, 4096, **binary)
    return tf.keras.Model(image, real_head(x, num_classes), name="sibnn_alexnet")

"""Si-BNN's ResNet-18 for ImageNet, as in the official code (Wang et al., 2020).

Bi-Real style, one shortcut per binary convolution. Each 3×3 binary convolution runs
batch norm → Si-BNN binarizer ({0, 1}, trainable θ and 1/Δ) → convolution with
per-output-channel scaled ±1 weights → batch norm, then adds its shortcut. Where a
stage starts (width doubles, stride 2), the shortcut is full precision: a 1×1
convolution, batch norm, then a 2×2 average pool. The 7×7/2 stem (batch norm, no ReLU,
3×3/2 max pool) and the final dense layer are full precision; a ReLU and global average
pool come before the dense layer.

Padding: {0, 1} activations are padded with 0, as in the official code (0 is a valid
{0, 1} value, so the binary convolution stays exact). At stride 2, TF's "same" pads
bottom/right where PyTorch pads 1 on every side, so strided windows sit one pixel lower
and to the right than in the official code; output shapes are the same.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno import binarizers
from bnno.models import register, torch_bn


@register
def sibnn_resnet18(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    filters: int = 64,
    kernel_quantizer: str | None = "magnitude_aware_sign",
    kernel_constraint: str | None = "weight_clip",
    activation: str | None = "sibnn",
    rho: float = 0.3,
) -> tf.keras.Model:
    """ResNet-18 with sparse {0, 1} activations (the official Si-BNN code's model).

    Example:
        >>> model = sibnn_resnet18((224, 224, 3), 1000)  # doctest: +SKIP

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        filters: width of the stem and first stage; doubled at each later stage.
        kernel_quantizer: quantizer of the binary kernels; ``magnitude_aware_sign`` is
            sign(w) scaled by mean |w| per output channel, as the official code does.
        kernel_constraint: constraint on the latent kernels (the code clips to [-1, 1]).
        activation: binarizer of the binary convolutions' inputs.
        rho: Si-BNN's gradient window below the threshold.

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    def binary_conv(x, out_filters: int, strides: int):
        x = lq.layers.QuantConv2D(
            out_filters, 3, strides=strides, padding="same",
            input_quantizer=binarizers.resolve(activation, rho),
            kernel_quantizer=kernel_quantizer, kernel_constraint=kernel_constraint,
            use_bias=False,
        )(torch_bn(x))
        return torch_bn(x)

    def block(x, out_filters: int):
        downsample = x.shape[-1] != out_filters
        shortcut = x
        if downsample:
            shortcut = tf.keras.layers.Conv2D(out_filters, 1, use_bias=False)(x)
            shortcut = tf.keras.layers.AvgPool2D(2, strides=2, padding="same")(torch_bn(shortcut))
        x = tf.keras.layers.add([binary_conv(x, out_filters, 2 if downsample else 1),
                                 shortcut])
        return tf.keras.layers.add([binary_conv(x, out_filters, 1), x])

    image = tf.keras.Input(input_shape)
    x = tf.keras.layers.Conv2D(filters, 7, strides=2, padding="same", use_bias=False)(image)
    x = tf.keras.layers.MaxPool2D(3, strides=2, padding="same")(torch_bn(x))
    for stage in range(4):
        for _ in range(2):
            x = block(x, filters * 2**stage)
    x = tf.keras.layers.Activation("relu")(x)
    x = tf.keras.layers.GlobalAvgPool2D()(x)
    x = tf.keras.layers.Dense(num_classes, activation="softmax")(x)
    return tf.keras.Model(image, x, name="sibnn_resnet18")

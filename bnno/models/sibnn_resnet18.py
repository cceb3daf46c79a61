"""Si-BNN's ResNet-18 for ImageNet, as in the official code (Wang et al., 2020;
peiswang/SiBNN ``model_list/resnet18_sibnn_bireal_learn.py``).

Bi-Real style, one shortcut per binary convolution. Each 3×3 binary convolution runs
batch norm → Si-BNN binarizer ({0, 1}, trainable θ and 1/Δ) → convolution with
per-output-channel scaled ±1 weights (``sibnn_weight``) → batch norm, then adds its
shortcut. Where a stage starts (width doubles, stride 2), the shortcut is full
precision: a 1×1 convolution, batch norm, then a 2×2 average pool. The 7×7/2 stem
(batch norm, no ReLU, 3×3/2 max pool) and the final dense layer are full precision; a
ReLU and global average pool come before the dense layer (the code's 7×7 average pool,
for any input size).

Initialisation and padding are the code's (``bnno.models.sibnn_layers``): kernels from
N(0, std = 1/n), n the size of one filter; PyTorch's symmetric padding at stride 2
(stem: 3 zeros, max pool: 1 of −∞, binary convolutions: 1 zero after the binarizer).
"""

from __future__ import annotations

import tensorflow as tf

from bnno.layers.common import torch_bn
from bnno.layers.padding import Pad
from bnno.models.registry import register
from bnno.models.sibnn_layers import (
    FanInNormal,
    PaddedQuantConv2D,
    binary_layer,
    stem_conv,
)
from bnno.models.torch_init import TorchUniform
from bnno.quantizers import QuantizerSpec


@register
def sibnn_resnet18(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    filters: int = 64,
    kernel_quantizer: QuantizerSpec = "sibnn_weight",
    kernel_constraint: str | None = "weight_clip",
    activation: QuantizerSpec = "sibnn",
) -> tf.keras.Model:
    """ResNet-18 with sparse {0, 1} activations (the official Si-BNN code's model).

    Example:
        >>> model = sibnn_resnet18((32, 32, 3), 10, filters=8)
        >>> model.output_shape
        (None, 10)

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        filters: width of the stem and first stage; doubled at each later stage.
        kernel_quantizer: quantizer of the binary kernels; ``sibnn_weight`` is sign(w)
            scaled by mean |w| per output channel with the official code's gradient.
        kernel_constraint: constraint on the latent kernels (the code clips to [-1, 1]).
        activation: binarizer of the binary convolutions' inputs.

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    binary = dict(activation=activation, kernel_quantizer=kernel_quantizer,
                  kernel_constraint=kernel_constraint)

    def binary_conv(x, out_filters: int, strides: int):
        return torch_bn(binary_layer(x, PaddedQuantConv2D, out_filters, 3, strides=strides,
                                     padding="same", **binary))

    def block(x, out_filters: int):
        downsample = x.shape[-1] != out_filters
        shortcut = x
        if downsample:
            shortcut = tf.keras.layers.Conv2D(out_filters, 1, use_bias=False,
                                              kernel_initializer=FanInNormal())(x)
            shortcut = tf.keras.layers.AvgPool2D(2, strides=2, padding="same")(torch_bn(shortcut))
        x = tf.keras.layers.add([binary_conv(x, out_filters, 2 if downsample else 1),
                                 shortcut])
        return tf.keras.layers.add([binary_conv(x, out_filters, 1), x])

    image = tf.keras.Input(input_shape)
    x = torch_bn(stem_conv(image, filters, 7, 2, pad=3))
    x = tf.keras.layers.MaxPool2D(3, strides=2)(Pad(1, float("-inf"))(x))
    for stage in range(4):
        for _ in range(2):
            x = block(x, filters * 2**stage)
    x = tf.keras.layers.Activation("relu")(x)
    x = tf.keras.layers.GlobalAvgPool2D()(x)
    x = tf.keras.layers.Dense(num_classes, activation="softmax",
                              kernel_initializer=FanInNormal(),
                              bias_initializer=TorchUniform(x.shape[-1]))(x)
    return tf.keras.Model(image, x, name="sibnn_resnet18")

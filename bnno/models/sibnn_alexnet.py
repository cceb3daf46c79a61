"""Si-BNN's AlexNet for ImageNet (Wang et al., 2020, the paper's AlexNet row).

The official code released only ResNet-18, so this follows the layout common to the
paper's comparisons (XNOR-Net, HWGQ): AlexNet with batch norm, full-precision first and
last layers, every other layer binary. A binary layer runs batch norm → Si-BNN
binarizer → binary convolution or dense layer with per-output-channel scaled ±1 weights
(``sibnn_weight``). Layers: 96 11×11/4 (full precision) → pool → 256 5×5 → pool → 384,
384, 256 3×3 → pool → dense 4096, 4096 → batch norm, ReLU → dense (full precision)
softmax. Pools are 3×3/2 (see ``pool_3x3``). Initialisation and padding are the
official code's (``bnno.models.sibnn_layers``).

Input size: the official code trains and evaluates AlexNet on 227×227 crops; bnno's
ImageNet pipeline gives 224×224 (the ``sibnn`` preprocessing), so this model is built
for 224. The stem pads 2 pixels on every side (PyTorch's AlexNet at 224), which gives
the 55×55 map an unpadded 11×11/4 convolution gives on 227×227; every later shape and
the parameter count are those of the 227 network.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno.layers.common import pool_3x3
from bnno.models.registry import register
from bnno.models.sibnn_layers import PaddedQuantConv2D, binary_layer, real_head, stem_conv
from bnno.quantizers import QuantizerSpec


@register
def sibnn_alexnet(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    kernel_quantizer: QuantizerSpec = "sibnn_weight",
    kernel_constraint: str | None = "weight_clip",
    activation: QuantizerSpec = "sibnn",
) -> tf.keras.Model:
    """AlexNet with sparse {0, 1} activations.

    Example:
        >>> model = sibnn_alexnet((64, 64, 3), 10)
        >>> model.output_shape
        (None, 10)

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        kernel_quantizer: quantizer of the binary kernels (``sibnn_weight``: sign scaled
            by mean |w| per output channel, with the official code's gradient).
        kernel_constraint: constraint on the latent kernels.
        activation: binarizer of the binary layers' inputs.

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    binary = dict(activation=activation, kernel_quantizer=kernel_quantizer,
                  kernel_constraint=kernel_constraint)
    conv = PaddedQuantConv2D
    image = tf.keras.Input(input_shape)
    x = pool_3x3(stem_conv(image, 96, 11, 4, pad=2))
    x = pool_3x3(binary_layer(x, conv, 256, 5, padding="same", **binary))
    x = binary_layer(x, conv, 384, 3, padding="same", **binary)
    x = binary_layer(x, conv, 384, 3, padding="same", **binary)
    x = pool_3x3(binary_layer(x, conv, 256, 3, padding="same", **binary))
    x = tf.keras.layers.Flatten()(x)
    x = binary_layer(x, lq.layers.QuantDense, 4096, **binary)
    x = binary_layer(x, lq.layers.QuantDense, 4096, **binary)
    return tf.keras.Model(image, real_head(x, num_classes), name="sibnn_alexnet")

"""Si-BNN's VGG-Net for ImageNet (Wang et al., 2020, the paper's "VGG-Net" row).

The paper compares with HWGQ (Cai et al., 2017) and follows its networks; its VGG-Net is
HWGQ's "VGG-Variant", a smaller relative of VGG: a 7×7/2 convolution of 96 filters, a
3×3/2 max pool, three 3×3 convolutions of 256 filters, a 2×2 max pool, three 3×3
convolutions of 512 filters, a 2×2 max pool, dense layers of 4096 and 4096, and the
classifier. First and last layers are full precision; every other layer runs batch norm
→ Si-BNN binarizer → binary layer with per-output-channel scaled ±1 weights
(``sibnn_weight``). The official code does not include this model, so the layer list is
HWGQ's description; initialisation and padding are the official code's
(``bnno.models.sibnn_layers``: the stem pads 3 pixels on every side).
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno.layers.common import pool_3x3
from bnno.models.registry import register
from bnno.models.sibnn_layers import PaddedQuantConv2D, binary_layer, real_head, stem_conv
from bnno.quantizers import QuantizerSpec


@register
def sibnn_vgg(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    kernel_quantizer: QuantizerSpec = "sibnn_weight",
    kernel_constraint: str | None = "weight_clip",
    activation: QuantizerSpec = "sibnn",
) -> tf.keras.Model:
    """HWGQ's VGG-Variant with sparse {0, 1} activations.

    Example:
        >>> model = sibnn_vgg((32, 32, 3), 10)
        >>> model.output_shape
        (None, 10)

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        kernel_quantizer: quantizer of the binary kernels.
        kernel_constraint: constraint on the latent kernels.
        activation: binarizer of the binary layers' inputs.

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    binary = dict(activation=activation, kernel_quantizer=kernel_quantizer,
                  kernel_constraint=kernel_constraint)
    image = tf.keras.Input(input_shape)
    x = pool_3x3(stem_conv(image, 96, 7, 2, pad=3))
    for filters in (256, 512):
        for _ in range(3):
            x = binary_layer(x, PaddedQuantConv2D, filters, 3, padding="same", **binary)
        x = tf.keras.layers.MaxPool2D(2, padding="same")(x)
    x = tf.keras.layers.Flatten()(x)
    x = binary_layer(x, lq.layers.QuantDense, 4096, **binary)
    x = binary_layer(x, lq.layers.QuantDense, 4096, **binary)
    return tf.keras.Model(image, real_head(x, num_classes), name="sibnn_vgg")

"""Binary AlexNet for ImageNet as used by the Bop paper (Helwegen et al., 2019, §5.3).

Five binary convolutions (64 11×11/4, 192 5×5, 384, 384, 256 3×3, "same" padding) with
3/2 max pools (see ``pool_3x3``) after the first, second and fifth, then three binary
dense layers (4096, 4096, classes). Every binary layer is followed by batch norm
(momentum 0.9, with scale); no biases; ``ste_sign`` inputs everywhere except the first
layer, which sees the image. Users may type ``alexnet``.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno import quantizers
from bnno.layers.common import pool_3x3
from bnno.models.registry import register, register_alias
from bnno.quantizers import QuantizerSpec


@register
def binary_alexnet(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    kernel_quantizer: QuantizerSpec = "ste_sign",
    kernel_constraint: str | None = "weight_clip",
    activation: QuantizerSpec = "ste_sign",
) -> tf.keras.Model:
    """Binary AlexNet in the Bop paper's ImageNet form.

    Example:
        The ImageNet model; its 61,869,664 parameters take seconds to allocate::

            model = binary_alexnet((224, 224, 3), 1000)

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        kernel_quantizer: quantizer spec of the kernels (``bnno.quantizers``).
        kernel_constraint: constraint on the latent kernels, e.g. ``weight_clip``.
        activation: binarizer of the binary layers' inputs: a larq quantizer name,
            ``bnext_sign`` or ``sibnn`` (see ``bnno.quantizers``).

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    binary = dict(
        kernel_quantizer=quantizers.resolve(kernel_quantizer, "kernel"),
        kernel_constraint=kernel_constraint, use_bias=False
    )

    def bn(x):
        return tf.keras.layers.BatchNormalization(momentum=0.9)(x)

    def conv_block(x, filters: int, kernel_size: int, strides: int = 1, pool: bool = False,
                   first: bool = False):
        x = lq.layers.QuantConv2D(
            filters, kernel_size, strides=strides, padding="same",
            input_quantizer=None if first else quantizers.resolve(activation, "activation"),
            **binary,
        )(x)
        if pool:
            x = pool_3x3(x)
        return bn(x)

    def dense_block(x, units: int):
        quantizer = quantizers.resolve(activation, "activation")
        return bn(lq.layers.QuantDense(units, input_quantizer=quantizer, **binary)(x))

    image = tf.keras.Input(input_shape)
    x = conv_block(image, 64, 11, strides=4, pool=True, first=True)
    x = conv_block(x, 192, 5, pool=True)
    x = conv_block(x, 384, 3)
    x = conv_block(x, 384, 3)
    x = conv_block(x, 256, 3, pool=True)
    x = tf.keras.layers.Flatten()(x)
    x = dense_block(x, 4096)
    x = dense_block(x, 4096)
    x = dense_block(x, num_classes)
    x = tf.keras.layers.Activation("softmax")(x)
    return tf.keras.Model(image, x, name="binary_alexnet")


register_alias("alexnet", "binary_alexnet")

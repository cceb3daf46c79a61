"""Bi-Real Net 18 for ImageNet as used by the Bop paper (Helwegen et al., 2019, §5.3).

A full-precision 7×7/2 stem (64 filters, batch norm, 3/2 max pool), then 16 binary 3×3
convolutions, each with its own shortcut (Bi-Real's "one shortcut per convolution"),
``approx_sign`` inputs, batch norm with momentum 0.8. Where the width doubles and the
resolution halves, the shortcut is a 2×2 average pool, a full-precision 1×1 convolution
and batch norm. A global average pool feeds a full-precision dense softmax.

``normalization="layer"`` is the network the Bop2ndOrder code names ``birealnet``
(CuauSuarez/Bop2ndOrder ``bnn_optimization/models/birealnet.py``): a layer norm (Keras'
default) wherever this one has a batch norm, nothing else changed. The name
``birealnet_batch`` of that code's README is this network with batch norm.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno import quantizers
from bnno.layers.common import Normalization
from bnno.layers.common import normalization as norm_layer
from bnno.models.registry import register, register_alias
from bnno.quantizers import QuantizerSpec


@register
def birealnet(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    filters: int = 64,
    kernel_quantizer: QuantizerSpec = "ste_sign",
    kernel_constraint: str | None = "weight_clip",
    activation: QuantizerSpec = "approx_sign",
    normalization: Normalization = "batch",
) -> tf.keras.Model:
    """Bi-Real Net 18 (Liu et al., 2018) in the Bop paper's ImageNet form.

    Example:
        The ImageNet model, and a narrow one for CIFAR-sized images (each takes seconds
        to build)::

            model = birealnet((224, 224, 3), 1000)
            narrow = birealnet((32, 32, 3), 10, filters=16)

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        filters: width of the stem and the first stage; doubled at each of the three
            later stages.
        kernel_quantizer: quantizer spec of the kernels (``bnno.quantizers``).
        kernel_constraint: constraint on the latent binary kernels.
        activation: binarizer of the binary layers' inputs: a larq quantizer name,
            ``bnext_sign`` or ``sibnn`` (see ``bnno.quantizers``).
        normalization: ``batch`` (the Bop paper's) or ``layer`` (the Bop2ndOrder code's).

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    init = "glorot_normal"

    def bn(x):
        return norm_layer(normalization, momentum=0.8)(x)

    def block(x, out_filters: int):
        in_filters = x.shape[-1]
        shortcut = x
        if in_filters != out_filters:
            shortcut = tf.keras.layers.AvgPool2D(2, strides=2, padding="same")(shortcut)
            shortcut = tf.keras.layers.Conv2D(out_filters, 1, kernel_initializer=init,
                                              use_bias=False)(shortcut)
            shortcut = bn(shortcut)
        x = lq.layers.QuantConv2D(
            out_filters, 3, strides=1 if in_filters == out_filters else 2, padding="same",
            input_quantizer=quantizers.resolve(activation, "activation"),
            kernel_quantizer=quantizers.resolve(kernel_quantizer, "kernel"),
            kernel_initializer=init, kernel_constraint=kernel_constraint, use_bias=False,
        )(x)
        return tf.keras.layers.add([bn(x), shortcut])

    image = tf.keras.Input(input_shape)
    x = tf.keras.layers.Conv2D(filters, 7, strides=2, padding="same", kernel_initializer=init,
                               use_bias=False)(image)
    x = tf.keras.layers.MaxPool2D(3, strides=2, padding="same")(bn(x))
    for stage in range(4):
        for _ in range(4):
            x = block(x, filters * 2**stage)
    x = tf.keras.layers.GlobalAvgPool2D()(x)
    x = tf.keras.layers.Dense(num_classes, activation="softmax")(x)
    return tf.keras.Model(image, x, name="birealnet")


register_alias("birealnet_batch", "birealnet", normalization="batch")

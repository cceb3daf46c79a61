"""BinaryNet for CIFAR-10 as used by the Bop paper (Helwegen et al., 2019, §5).

VGG-like: six binary 3×3 convolutions (128-128-256-256-512-512 filters at the default
width) and three binary dense layers, batch norm without scale, no biases, and
sign-binarized inputs everywhere except the first layer, whose input is the image.

``normalization="layer"`` is the network the Bop2ndOrder code names ``binarynet``
(CuauSuarez/Bop2ndOrder ``bnn_optimization/models/binarynet.py``): a layer norm (Keras'
default, over the last axis) wherever this one has a batch norm, nothing else changed.
The name ``binarynet_batch`` of that code's README is this network with batch norm.
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
def binarynet(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    filters: int = 128,
    dense_units: int = 1024,
    kernel_size: int = 3,
    kernel_quantizer: QuantizerSpec = "ste_sign",
    kernel_constraint: str | None = "weight_clip",
    activation: QuantizerSpec = "ste_sign",
    normalization: Normalization = "batch",
) -> tf.keras.Model:
    """BinaryNet (Courbariaux et al., 2016) in the Bop paper's CIFAR-10 form.

    Example:
        A narrow one for MNIST-sized images (the paper's is ``binarynet((32, 32, 3), 10)``):

        >>> model = binarynet((28, 28, 1), 10, filters=4, dense_units=8)
        >>> model.output_shape, model.count_params()
        ((None, 10), 6042)
        >>> model.layers[0].input_quantizer is None  # the first layer sees the image
        True
        >>> layer_norm = binarynet((28, 28, 1), 10, filters=4, dense_units=8,
        ...                        normalization="layer")
        >>> type(layer_norm.layers[1]).__name__, layer_norm.count_params()
        ('LayerNormalization', 5960)

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        filters: filters of the first two convolutions; doubled twice after.
        dense_units: width of the two hidden dense layers.
        kernel_size: side of the square convolution kernels.
        kernel_quantizer: quantizer spec of the kernels (``bnno.quantizers``).
        kernel_constraint: constraint on the latent kernels, e.g. ``weight_clip``.
        activation: binarizer of the inputs of every layer but the first: a larq
            quantizer name, ``bnext_sign`` or ``sibnn`` (see ``bnno.quantizers``).
        normalization: ``batch`` (the Bop paper's batch norm without scale) or ``layer``
            (the Bop2ndOrder code's layer norm, with scale).

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    binary = dict(
        kernel_quantizer=quantizers.resolve(kernel_quantizer, "kernel"),
        kernel_constraint=kernel_constraint, use_bias=False
    )

    def quantized_input() -> dict:
        return dict(input_quantizer=quantizers.resolve(activation, "activation"), **binary)

    def bn() -> tf.keras.layers.Layer:
        return norm_layer(normalization, scale=False)

    def pool() -> tf.keras.layers.Layer:
        return tf.keras.layers.MaxPool2D(pool_size=2, strides=2)

    def conv(n: int) -> tf.keras.layers.Layer:
        return lq.layers.QuantConv2D(n, kernel_size, padding="same", **quantized_input())

    return tf.keras.Sequential(
        [
            tf.keras.Input(input_shape),
            # The first layer sees the real-valued image; as in the paper's code it uses
            # "valid" padding.
            lq.layers.QuantConv2D(filters, kernel_size, **binary),
            bn(),
            conv(filters), pool(), bn(),
            conv(2 * filters), bn(),
            conv(2 * filters), pool(), bn(),
            conv(4 * filters), bn(),
            conv(4 * filters), pool(), bn(),
            tf.keras.layers.Flatten(),
            lq.layers.QuantDense(dense_units, **quantized_input()), bn(),
            lq.layers.QuantDense(dense_units, **quantized_input()), bn(),
            lq.layers.QuantDense(num_classes, **quantized_input()), bn(),
            tf.keras.layers.Activation("softmax"),
        ],
        name="binarynet",
    )


register_alias("binarynet_batch", "binarynet", normalization="batch")

"""Si-BNN's multilayer perceptron for MNIST (Wang et al., 2020, the MNIST experiments).

The paper's MNIST network is not in the official code; this is the BinaryNet-style MLP
(Courbariaux et al., 2016) with Si-BNN's conventions: a full-precision first layer on
the pixels, binary hidden layers (batch norm → Si-BNN binarizer → binary dense layer
with per-output-channel scaled ±1 weights, ``sibnn_weight``), and batch norm, ReLU and
a full-precision softmax layer at the end. Every kernel starts as the official code
initialises them (``bnno.models.sibnn_layers``): N(0, std = 1/n), n the layer's inputs.
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno.models.registry import register
from bnno.models.sibnn_layers import FanInNormal, binary_layer, real_head
from bnno.quantizers import QuantizerSpec


@register
def sibnn_mlp(
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    units: int = 2048,
    hidden_layers: int = 3,
    kernel_quantizer: QuantizerSpec = "sibnn_weight",
    kernel_constraint: str | None = "weight_clip",
    activation: QuantizerSpec = "sibnn",
) -> tf.keras.Model:
    """MLP with sparse {0, 1} activations: ``hidden_layers`` layers of ``units``.

    Example:
        >>> model = sibnn_mlp((28, 28, 1), 10, units=256)
        >>> model.output_shape
        (None, 10)

    Args:
        input_shape: image shape (height, width, channels).
        num_classes: size of the softmax output.
        units: width of every hidden layer.
        hidden_layers: hidden layers; all but the first are binary.
        kernel_quantizer: quantizer of the binary kernels.
        kernel_constraint: constraint on the latent kernels.
        activation: binarizer of the binary layers' inputs.

    Returns:
        An uncompiled Keras model ending in a softmax.
    """
    image = tf.keras.Input(input_shape)
    x = tf.keras.layers.Flatten()(image)
    x = tf.keras.layers.Dense(units, use_bias=False, kernel_initializer=FanInNormal())(x)
    for _ in range(hidden_layers - 1):
        x = binary_layer(x, lq.layers.QuantDense, units, activation=activation,
                         kernel_quantizer=kernel_quantizer,
                         kernel_constraint=kernel_constraint)
    return tf.keras.Model(image, real_head(x, num_classes), name="sibnn_mlp")

"""A binary MLP: a real first layer on the image, then binary dense layers.

Example:
    >>> model = toy_mlp((28, 28, 1), 10, units=16)
    >>> model.output_shape
    (None, 10)
"""

import larq as lq
import tensorflow as tf

from bnno import quantizers
from bnno.models import register
from bnno.quantizers import QuantizerSpec


@register
def toy_mlp(input_shape: tuple[int, ...], num_classes: int, *, units: int = 64,
            hidden_layers: int = 2, kernel_quantizer: QuantizerSpec = "ste_sign",
            kernel_constraint: str | None = "weight_clip",
            activation: QuantizerSpec = "toy_tri_sign") -> tf.keras.Model:
    """Flatten → dense (binary kernel on the real image) → BN, then ``hidden_layers``
    binary dense layers of ``units`` and a binary classifier, each followed by BN.

    Args:
        input_shape: image shape.
        num_classes: size of the softmax output.
        units: width of every hidden layer.
        hidden_layers: binary hidden layers after the first.
        kernel_quantizer: binarizer of the kernels (none with a latent-free optimizer).
        kernel_constraint: constraint on latent kernels.
        activation: binarizer of the inputs of every layer but the first.
    """

    def binary(n: int, first: bool = False) -> tf.keras.layers.Layer:
        inputs = {} if first else {"input_quantizer": quantizers.resolve(activation,
                                                                         "activation")}
        return lq.layers.QuantDense(n, use_bias=False, kernel_constraint=kernel_constraint,
                                    kernel_quantizer=quantizers.resolve(kernel_quantizer,
                                                                        "kernel"), **inputs)

    layers = [tf.keras.Input(input_shape), tf.keras.layers.Flatten(), binary(units, True),
              tf.keras.layers.BatchNormalization()]
    for _ in range(hidden_layers):
        layers += [binary(units), tf.keras.layers.BatchNormalization()]
    layers += [binary(num_classes), tf.keras.layers.BatchNormalization(),
               tf.keras.layers.Activation("softmax")]
    return tf.keras.Sequential(layers, name="toy_mlp")

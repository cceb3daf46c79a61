"""PyTorch's default initialisation of convolution and linear layers, as a Keras initializer.

``nn.Conv2d`` and ``nn.Linear`` draw their weights with ``kaiming_uniform_(a=√5)``, i.e.
U(±gain·√(3/fan_in)) with gain = √(2/(1 + 5)), which is U(±1/√fan_in), and their biases
from U(±1/√fan_in) with the same fan-in (input channels × kernel area). Models ported
from PyTorch code that keeps these defaults use ``TorchUniform`` for their
full-precision layers instead of Keras' Glorot weights and zero biases.
"""

from __future__ import annotations

import math

import larq as lq
import tensorflow as tf


@lq.utils.register_keras_custom_object
class TorchUniform(tf.keras.initializers.Initializer):
    """U(±1/√fan_in), PyTorch's default for the weights and biases of conv and linear layers.

    Without ``fan_in`` the fan-in is read from the shape (every axis but the last, Keras'
    kernel layout); a bias has no fan-in in its shape, so it gets its layer's ``fan_in``.

    Example:
        >>> kernel = TorchUniform(seed=1)((3, 3, 16, 8))  # fan-in 3·3·16 = 144
        >>> bool(tf.reduce_max(tf.abs(kernel)) <= 1 / 12)
        True
        >>> bias = TorchUniform(fan_in=144, seed=2)((8,))
        >>> bool(tf.reduce_max(tf.abs(bias)) <= 1 / 12)
        True

    Args:
        fan_in: the layer's fan-in; ``None`` reads it from the shape.
        seed: optional seed of the draw.
    """

    def __init__(self, fan_in: int | None = None, seed: int | None = None):
        self.fan_in = None if fan_in is None else int(fan_in)
        self.seed = seed

    def __call__(self, shape, dtype=None, **kwargs):
        fan_in = self.fan_in or math.prod(int(d) for d in shape[:-1])
        bound = 1.0 / math.sqrt(max(fan_in, 1))
        return tf.random.uniform(shape, -bound, bound, dtype or tf.keras.backend.floatx(),
                                 seed=self.seed)

    def get_config(self) -> dict:
        return {"fan_in": self.fan_in, "seed": self.seed}


def torch_initializers(fan_in: int) -> dict:
    """The ``kernel_initializer`` and ``bias_initializer`` of a PyTorch-initialised layer.

    Example:
        >>> layer = tf.keras.layers.Dense(10, **torch_initializers(64))
        >>> layer.bias_initializer.fan_in
        64
    """
    return {"kernel_initializer": TorchUniform(), "bias_initializer": TorchUniform(fan_in)}

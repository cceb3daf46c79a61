"""Layers shared by the full-precision models that equal timm's (``efficientnet``,
``convnext``): PyTorch's symmetric convolution padding, timm's drop path, ConvNeXt's
layer scale, and the channel rounding of timm's EfficientNet.

Layers are named after the timm modules they stand for (``blocks.1.0.conv_dw``), so that
an importer maps a timm state-dict key onto the layer of the same name.
"""

from __future__ import annotations

import tensorflow as tf


def make_divisible(value: float, divisor: int = 8, round_limit: float = 0.9) -> int:
    """timm's ``make_divisible`` (``layers/helpers.py``): the nearest multiple of
    ``divisor`` (at least ``divisor``), one more step up if rounding lost more than 10 %.

    Example:
        >>> make_divisible(32 * 1.1), make_divisible(112 * 1.4), make_divisible(10)
        (32, 160, 16)
    """
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < round_limit * value else new


def conv(x, filters: int, kernel: int, stride: int = 1, *, name: str, bias: bool = False,
         depthwise: bool = False, initializer=None):
    """A PyTorch convolution with timm's default padding (``get_padding``: symmetric,
    ``(stride - 1 + kernel - 1) // 2`` on every side): Keras' ``same`` at stride 1 (odd
    kernels), explicit zero padding and ``valid`` otherwise (Keras' ``same`` pads
    TensorFlow's way, more at the bottom and right, at stride 2).

    Example:
        >>> y = conv(tf.keras.Input((15, 15, 8)), 8, 5, 2, name="c", depthwise=True)
        >>> tuple(y.shape)  # PyTorch: (15 + 2·2 − 5) // 2 + 1
        (None, 8, 8, 8)
    """
    pad = (stride - 1 + kernel - 1) // 2
    padding = "same" if stride == 1 and kernel % 2 else "valid"
    if padding == "valid" and pad:
        x = tf.keras.layers.ZeroPadding2D(pad, name=f"{name}.pad")(x)
    init = {"depthwise_initializer" if depthwise else "kernel_initializer": initializer} \
        if initializer is not None else {}
    if depthwise:
        return tf.keras.layers.DepthwiseConv2D(kernel, stride, padding, use_bias=bias,
                                               name=name, **init)(x)
    return tf.keras.layers.Conv2D(filters, kernel, stride, padding, use_bias=bias, name=name,
                                  **init)(x)


@tf.keras.utils.register_keras_serializable("bnno")
class DropPath(tf.keras.layers.Layer):
    """timm's ``DropPath`` (stochastic depth, ``layers/drop.py``): while training, each
    sample's input is zeroed with probability ``rate`` and otherwise divided by
    ``1 - rate``; the identity in inference or at rate 0.

    Example:
        >>> layer = DropPath(0.5)
        >>> x = tf.ones((4, 2, 2, 1))
        >>> bool(tf.reduce_all(layer(x, training=False) == x))
        True
        >>> sorted(set(layer(x, training=True).numpy().ravel().tolist())) in ([0, 2], [2], [0])
        True
    """

    def __init__(self, rate: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)

    def call(self, inputs, training=None):
        if not self.rate or not training:
            return inputs
        keep = 1.0 - self.rate
        shape = tf.concat([tf.shape(inputs)[:1], tf.ones([tf.rank(inputs) - 1], tf.int32)], 0)
        mask = tf.floor(keep + tf.random.uniform(shape, dtype=inputs.dtype))
        return inputs * mask / keep

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}


@tf.keras.utils.register_keras_serializable("bnno")
class LayerScale(tf.keras.layers.Layer):
    """ConvNeXt's layer scale: the input times a trainable per-channel ``gamma`` (timm's
    ``ConvNeXtBlock.gamma``), initialised to ``init``.

    Example:
        >>> import numpy as np
        >>> layer = LayerScale(1e-6)
        >>> y = layer(tf.ones((1, 2, 2, 3)))
        >>> layer.gamma.shape, float(y[0, 0, 0, 0]) == float(np.float32(1e-6))
        (TensorShape([3]), True)
    """

    def __init__(self, init: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.init = float(init)

    def build(self, input_shape):
        self.gamma = self.add_weight(
            "gamma", shape=(input_shape[-1],),
            initializer=tf.keras.initializers.Constant(self.init))
        super().build(input_shape)

    def call(self, inputs):
        return inputs * self.gamma

    def get_config(self) -> dict:
        return {**super().get_config(), "init": self.init}

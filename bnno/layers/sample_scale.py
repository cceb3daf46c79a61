"""A binary convolution on larq's sign of its input, times one float scale per sample.

XNOR-Net's activation binarizer (as BiBench runs it, ``bnno.quantizers.bibench_xnor``)
feeds a binary layer ``α_x·sign(x)`` with ``α_x = mean |x|`` over each sample. LCE packs
only larq's sign, so it would keep that layer in float. With zero padding the scale
factors out of the convolution, ``conv(α_x·sign(x), K) = α_x·conv(sign(x), K)``:
``SampleScaleConv`` runs the bit-packed convolution on ``sign(x)`` and multiplies its
output by ``α_x`` (a float reduction and multiply), then adds the bias.

Example:
    >>> layer = SampleScaleConv(4, 3, padding="same", use_bias=True)
    >>> _ = layer(tf.ones((1, 5, 5, 2)))
    >>> layer.set_values(np.ones((3, 3, 2, 4)), bias=np.full(4, 0.5))
    >>> x = tf.fill((1, 5, 5, 2), -2.0)  # α_x = 2, sign = -1
    >>> float(layer(x)[0, 2, 2, 0])  # 2·(−18) + 0.5
    -35.5
"""

from __future__ import annotations

import larq as lq
import numpy as np
import tensorflow as tf


@lq.utils.register_keras_custom_object
class SampleScaleConv(tf.keras.layers.Layer):
    """``α_x·conv(sign(x), K) + b`` with ``α_x = mean |x|`` per sample (see the module).

    A rank-2 input runs as a 1×1 convolution (a dense layer), ``α_x`` over its features.
    Only zero padding factors the scale out, so ``pad_values`` is 0. ``mirror`` reverses
    height and width before and after the convolution (``bnno.layers.mirrored``).

    Example:
        >>> SampleScaleConv(8, 1)(tf.ones((2, 16))).shape
        TensorShape([2, 8])
    """

    def __init__(self, filters: int, kernel_size: int | tuple[int, int], strides: int = 1,
                 padding: str = "valid", use_bias: bool = False, mirror: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = filters, kernel_size
        self.strides, self.padding, self.use_bias = strides, padding, use_bias
        self.mirror = mirror
        self.conv = lq.layers.QuantConv2D(filters, kernel_size, strides=strides,
                                          padding=padding, pad_values=0.0,
                                          input_quantizer="ste_sign", use_bias=False,
                                          name="conv")

    def build(self, input_shape):
        channels = int(input_shape[-1])
        shape = input_shape if len(input_shape) == 4 else (input_shape[0], 1, 1, channels)
        self.conv.build(shape)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        axes = list(range(1, inputs.shape.rank))
        scale = tf.reduce_mean(tf.abs(inputs), axis=axes, keepdims=True)
        dense = inputs.shape.rank == 2
        x = tf.reshape(inputs, [-1, 1, 1, inputs.shape[-1]]) if dense else inputs
        if self.mirror:
            x = tf.reverse(x, [1, 2])
        y = self.conv(x)
        if self.mirror:
            y = tf.reverse(y, [1, 2])
        y = tf.reshape(y, [-1, self.filters]) if dense else y
        y = y * scale
        return y + self.bias if self.use_bias else y

    def set_values(self, kernel: np.ndarray, bias: np.ndarray | None = None) -> None:
        """Assign the convolution's kernel (h, w, in, out; or in, out) and the bias.

        Example:
            >>> layer = SampleScaleConv(1, 1)
            >>> _ = layer(tf.ones((1, 3)))
            >>> layer.set_values(np.array([[1.0], [1.0], [-1.0]]))
            >>> layer(tf.constant([[2.0, -1.0, -3.0]])).numpy().tolist()  # 2·(1 − 1 + 1)
            [[2.0]]
        """
        self.conv.kernel.assign(np.reshape(kernel, self.conv.kernel.shape))
        if bias is not None:
            self.bias.assign(bias)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "use_bias": self.use_bias, "mirror": self.mirror}

"""The small layers BNext is made of (Guo et al., 2023), shared by ``bnext`` and
``bnext_18``: a learnable per-channel bias, the mix of real input and binary output, and
the blocks built from them with standard Keras and larq layers.

Conventions follow the official PyTorch code: batch norm with momentum 0.1 (Keras 0.9)
and epsilon 1e-5; PReLU per channel starting at 0.25; binary convolutions pad their
*binarized* input with zeros on every side (PyTorch's symmetric padding; TF's "same"
pads only bottom/right at stride 2), which ``bnno.layers.padding.Pad`` before the
convolution gives, since
``bnext_sign`` maps a zero to zero.

``weight_decay_group = "low"`` marks layers whose variables BNext's recipe decays
with the small rate (with the convolution kernels); see ``bnno.optimizers.keras.legacy_adamw``.
"""

from __future__ import annotations

from collections.abc import Callable

import larq as lq
import tensorflow as tf

from bnno.errors import BnnoError
from bnno.layers.common import torch_bn
from bnno.layers.padding import Pad
from bnno.models.torch_init import torch_initializers


@lq.utils.register_keras_custom_object
class LearnableBias(tf.keras.layers.Layer):
    """Adds a trainable per-channel bias (init 0), the shift before every binarizer.

    Example:
        >>> layer = LearnableBias()
        >>> layer(tf.ones((1, 1, 1, 3))).numpy()  # the bias starts at 0
        array([[[[1., 1., 1.]]]], dtype=float32)
        >>> _ = layer.bias.assign([1.0, 2.0, 3.0])
        >>> layer(tf.ones((1, 1, 1, 3))).numpy()
        array([[[[2., 3., 4.]]]], dtype=float32)
    """

    weight_decay_group = "low"

    def build(self, input_shape):
        self.bias = self.add_weight("bias", (int(input_shape[-1]),), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        return inputs + self.bias


@lq.utils.register_keras_custom_object
class Mix(tf.keras.layers.Layer):
    """``s·real + (1 − s)·binary`` with a per-channel ``s`` kept in [0, 1] (init 0.5).

    The official code clamps ``s`` in place before each training forward pass; a
    constraint applied after each update keeps the same values.

    Example:
        >>> real, binary = tf.fill((1, 1, 1, 2), 4.0), tf.ones((1, 1, 1, 2))
        >>> Mix()([real, binary]).numpy()  # s = 0.5
        array([[[[2.5, 2.5]]]], dtype=float32)
    """

    weight_decay_group = "low"

    def build(self, input_shape):
        channels = int(input_shape[0][-1])
        self.scale = self.add_weight(
            "scale", (channels,), initializer=tf.keras.initializers.Constant(0.5),
            constraint=lambda s: tf.clip_by_value(s, 0.0, 1.0),
        )
        super().build(input_shape)

    def call(self, inputs):
        real, binary = inputs
        return self.scale * real + (1.0 - self.scale) * binary


def check_halvable(x, model: str, input_shape: tuple) -> None:
    """Refuse a stride-2 block on an odd-sized map, with a one-line error.

    Such a block halves its input twice over, by a strided padded convolution (size
    rounded up) and by a 2×2 average pool (size rounded down); on an odd size the two
    paths disagree, and the official code fails there too.

    Example:
        >>> check_halvable(tf.keras.Input((14, 14, 8)), "bnext_t", (28, 28, 1))
        >>> check_halvable(tf.keras.Input((7, 7, 8)), "bnext_t", (28, 28, 1))
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: bnext_t cannot take 28×28 inputs: a stride-2 block gets ...
    """
    h, w = x.shape[1], x.shape[2]
    if h % 2 or w % 2:
        raise BnnoError(
            f"{model} cannot take {input_shape[0]}×{input_shape[1]} inputs: a stride-2 "
            f"block gets a {h}×{w} map, whose strided and pooled paths differ in size (as "
            "in the official code); use sides that stay even at every stride-2 block, such "
            "as 32 or 224")


def prelu(x):
    """Per-channel PReLU starting at 0.25.

    Example:
        >>> prelu(tf.constant([[[[-4.0, 2.0]]]])).numpy()
        array([[[[-1.,  2.]]]], dtype=float32)
    """
    return tf.keras.layers.PReLU(tf.keras.initializers.Constant(0.25), shared_axes=[1, 2])(x)


def squeeze_expand(x, out_channels: int, ratio: int = 8):
    """SE of the mix-to-binary attention: pool, 1×1 conv to C/8 (bias), ReLU, 1×1 conv
    to ``out_channels`` (bias), sigmoid; per-channel weights of shape (N, 1, 1, C). Both
    convolutions are initialised as PyTorch's ``nn.Conv2d`` (``TorchUniform``).

    Example:
        >>> weights = squeeze_expand(tf.keras.Input((8, 8, 16)), 32)
        >>> weights.shape
        TensorShape([None, 1, 1, 32])
    """
    y = tf.keras.layers.GlobalAvgPool2D(keepdims=True)(x)
    y = tf.keras.layers.Conv2D(x.shape[-1] // ratio, 1, activation="relu",
                               **torch_initializers(x.shape[-1]))(y)
    return tf.keras.layers.Conv2D(out_channels, 1, activation="sigmoid",
                                  **torch_initializers(y.shape[-1]))(y)


def binary_conv(x, filters: int, kernel_size: int, strides: int, quantizers: Callable):
    """Learnable bias → binarizer → binary convolution (zero padding after the sign).

    ``quantizers()`` gives the larq arguments of each binary convolution.

    Example:
        >>> def quantizers():
        ...     return {"input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign",
        ...             "kernel_constraint": "weight_clip"}
        >>> binary_conv(tf.keras.Input((8, 8, 4)), 6, 3, 2, quantizers).shape
        TensorShape([None, 4, 4, 6])
    """
    x = LearnableBias()(x)
    if kernel_size > 1:
        x = Pad(kernel_size // 2)(x)
    return lq.layers.QuantConv2D(filters, kernel_size, strides=strides, padding="valid",
                                 use_bias=False, **quantizers())(x)


def binary_module(x, kernel_size: int, strides: int, quantizers: Callable, *,
                  out_channels: int | None = None, mix_input=None, shortcut=None,
                  elm: bool = False):
    """One binary unit of a BNext block.

    ``y = PReLU(BN1(binary conv(x)))``, then ``y = SE(mix(mix_input, y)) · y``; with the
    ELM attention (``elm``) also ``y = y · shortcut``; the output is
    ``BN2(y) + shortcut``. ``mix_input`` and ``shortcut`` default to ``x`` (2×2-average
    pooled at stride 2).

    Example:
        >>> def quantizers():
        ...     return {"input_quantizer": "ste_sign", "kernel_quantizer": "ste_sign",
        ...             "kernel_constraint": "weight_clip"}
        >>> binary_module(tf.keras.Input((8, 8, 16)), 3, 2, quantizers).shape
        TensorShape([None, 4, 4, 16])
    """
    out_channels = out_channels or x.shape[-1]
    y = prelu(torch_bn(binary_conv(x, out_channels, kernel_size, strides, quantizers)))
    pooled = tf.keras.layers.AvgPool2D(2)(x) if strides == 2 else x
    mix_input = pooled if mix_input is None else mix_input
    shortcut = pooled if shortcut is None else shortcut
    mix = Mix()([mix_input, y])
    y = tf.keras.layers.multiply([squeeze_expand(mix, out_channels), y])
    if elm:
        y = tf.keras.layers.multiply([y, shortcut])
    return tf.keras.layers.add([torch_bn(y), shortcut])

"""What Si-BNN's models are made of: the official code's initialisation and padding, and
the binary unit every Si-BNN model repeats (Wang et al., 2020; peiswang/SiBNN).

Initialisation (``main_sibnn_learn.py``): every convolution and dense kernel, full
precision or binary, stem, shortcut and classifier included, is drawn from
N(0, std = 1/n) with n the size of one output filter (kernel height × width × input
channels; a dense layer's inputs): the standard deviation is 1/n, not 1/√n. Batch norm
starts at γ = 1, β = 0 (Keras' defaults). The code leaves the classifier's bias at
PyTorch's default, uniform in ±1/√n (``TorchUniform``); no other layer has a bias.

Padding: PyTorch pads ``kernel // 2`` on every side, where TF's "same" pads one pixel
more at the bottom/right at stride 2 on even sizes (``PaddedQuantConv2D``;
full-precision stems use ``Pad`` and a "valid" convolution). A binary convolution's
{0, 1} input is padded with 0 after the binarizer, as in the code, which keeps the xnor
identity exact.
"""

from __future__ import annotations

import math

import larq as lq
import tensorflow as tf

from bnno import quantizers
from bnno.layers.common import torch_bn
from bnno.layers.padding import Pad
from bnno.models.torch_init import TorchUniform
from bnno.quantizers import QuantizerSpec


@lq.utils.register_keras_custom_object
class FanInNormal(tf.keras.initializers.Initializer):
    """N(0, std = 1/n), n = the size of one output filter (all axes but the last).

    Example:
        >>> kernel = FanInNormal(seed=1)((3, 3, 64, 128))
        >>> abs(float(tf.math.reduce_std(kernel)) * 3 * 3 * 64 - 1) < 0.02
        True

    Args:
        seed: seed of the random draw (None: Keras' global seeding).
    """

    def __init__(self, seed: int | None = None):
        self.seed = seed

    def __call__(self, shape, dtype=None, **kwargs):
        fan_in = math.prod(shape[:-1])
        return tf.keras.initializers.RandomNormal(0.0, 1.0 / fan_in, seed=self.seed)(
            shape, dtype=dtype)

    def get_config(self) -> dict:
        return {"seed": self.seed}


@lq.utils.register_keras_custom_object
class PaddedQuantConv2D(lq.layers.QuantConv2D):
    """larq's ``QuantConv2D`` whose "same" padding is PyTorch's: ``kernel // 2`` zeros
    on every side of the quantized input, at any stride (odd kernels only).

    At stride 1, and at stride 2 on odd sizes, this is TF's "same"; at stride 2 on even
    sizes TF pads one pixel less at the top/left and one more at the bottom/right, which
    moves every window one pixel down and right. Output shapes are the same either way. The
    padding uses larq's explicit-padding path (the one of ``pad_values``), which pads
    after the input quantizer.

    Example:
        >>> conv = PaddedQuantConv2D(4, 3, strides=2, padding="same", use_bias=False)
        >>> conv(tf.ones((1, 6, 6, 2))).shape
        TensorShape([1, 3, 3, 4])
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.padding == "same" and any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"PaddedQuantConv2D pads odd kernels only; got {self.kernel_size}")
        if self.padding == "same" and max(self.strides) > 1:
            self._is_native_padding = False

    def _get_spatial_padding_same(self, shape):
        return [(k // 2, k // 2) for k in self.kernel_size]

    def _get_padding_same_shape(self, input_shape):
        shape = list(tf.TensorShape(input_shape))
        for axis, k in zip(self._spatial_axes(), self.kernel_size, strict=True):
            if shape[axis] is not None:
                shape[axis] += 2 * (k // 2)
        return tf.TensorShape(shape)

    def _spatial_axes(self) -> tuple[int, int]:
        return (1, 2) if self.data_format == "channels_last" else (2, 3)


def stem_conv(x, filters: int, kernel_size: int, strides: int, pad: int):
    """Full-precision convolution of the image, padded by ``pad`` zeros on every side.

    Example:
        >>> stem_conv(tf.keras.Input((224, 224, 3)), 64, 7, 2, 3).shape
        TensorShape([None, 112, 112, 64])
    """
    return tf.keras.layers.Conv2D(filters, kernel_size, strides=strides, use_bias=False,
                                  kernel_initializer=FanInNormal())(Pad(pad)(x))


def binary_layer(x, layer, units: int, *args, activation: QuantizerSpec,
                 kernel_quantizer: QuantizerSpec, kernel_constraint: str | None, **kwargs):
    """Batch norm → binarizer → binary ``layer`` (``PaddedQuantConv2D`` or
    ``lq.layers.QuantDense``) with Si-BNN's initialisation, no bias.

    Example:
        >>> y = binary_layer(tf.keras.Input((8, 8, 16)), PaddedQuantConv2D, 32, 3,
        ...                  strides=2, padding="same", activation="sibnn",
        ...                  kernel_quantizer="sibnn_weight", kernel_constraint="weight_clip")
        >>> y.shape
        TensorShape([None, 4, 4, 32])
    """
    x = torch_bn(x)
    return layer(units, *args, input_quantizer=quantizers.resolve(activation, "activation"),
                 kernel_quantizer=quantizers.resolve(kernel_quantizer, "kernel"),
                 kernel_constraint=kernel_constraint,
                 use_bias=False, kernel_initializer=FanInNormal(), **kwargs)(x)


def real_head(x, num_classes: int):
    """Batch norm, ReLU and a full-precision softmax dense layer (Si-BNN's
    initialisation, PyTorch's default bias).

    Example:
        >>> real_head(tf.keras.Input((64,)), 10).shape
        TensorShape([None, 10])
    """
    x = torch_bn(x)
    x = tf.keras.layers.Activation("relu")(x)
    return tf.keras.layers.Dense(num_classes, activation="softmax",
                                 kernel_initializer=FanInNormal(),
                                 bias_initializer=TorchUniform(x.shape[-1]))(x)

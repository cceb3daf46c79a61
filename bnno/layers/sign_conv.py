"""A binary convolution in the form Larq Compute Engine bit-packs, for export rewrites.

LCE's converter (larq/compute-engine, ``larq_compute_engine/mlir/transforms/
prepare_patterns_common.td`` and ``prepare_patterns_target_arm.td``) turns a convolution
into ``LceBconv2d`` only when its input is larq's sign (``lq.math.sign``: ±1, sign(0) =
+1), its filter is ±α per output channel, and its padding is "valid", TF's "same" with
zeros (the Arm target, the default) or TF's "same" with ones (``pad_values=1``). A
quantizer whose layers miss that (another sign, {0, 1} outputs, a padding of its own)
declares a ``rewrite`` hook (``bnno.quantizers.registry``) that returns a ``Rewrite``: the
``SignConv`` computing the same function in that form, and the values to give it.

Example:
    >>> layer = SignConv(4, 3, padding="same")
    >>> layer(tf.ones((1, 6, 6, 2))).shape
    TensorShape([1, 6, 6, 4])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import larq as lq
import numpy as np
import tensorflow as tf


class Rewrite(NamedTuple):
    """What a quantizer's ``rewrite`` hook returns for one binary layer: the layer that
    replaces it, the values to give that layer (``SignConv.set_values``), and the layers
    before it that it makes redundant (export replaces them by the identity).

    Example:
        >>> Rewrite(SignConv(2, 1), {"kernel": np.ones((1, 1, 3, 2))}).absorbed
        ()
    """

    layer: Any
    values: dict[str, np.ndarray]
    absorbed: tuple = ()


@lq.utils.register_keras_custom_object
class SignConv(tf.keras.layers.Layer):
    """A binary convolution on larq's sign of its input, in a form LCE bit-packs.

    ``threshold`` first maps the input ``x`` to ``(θ − x)·(1/Δ)`` per channel (Si-BNN's
    threshold, negated); ``explicit_pad`` pads that by as many pixels of +1 on every side;
    ``mirror`` reverses height and width before and after the convolution. The
    convolution itself is a ``QuantConv2D`` with larq's ``ste_sign`` input, ``padding``
    and ``pad_values``. A rank-2 input runs as a 1×1 convolution (a dense layer).

    Example:
        >>> layer = SignConv(4, 3, padding="same", mirror=True)
        >>> layer(tf.ones((1, 6, 6, 2))).shape
        TensorShape([1, 6, 6, 4])
        >>> SignConv(8, 1, threshold=True)(tf.ones((2, 16))).shape
        TensorShape([2, 8])
    """

    def __init__(self, filters: int, kernel_size: int | tuple[int, int], strides: int = 1,
                 padding: str = "valid", pad_values: float = 0.0, explicit_pad: int = 0,
                 mirror: bool = False, threshold: bool = False, use_bias: bool = False,
                 scaled: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.strides, self.padding = filters, strides, padding
        self.kernel_size = tuple(np.broadcast_to(kernel_size, 2).tolist())
        self.pad_values, self.explicit_pad = float(pad_values), int(explicit_pad)
        self.mirror, self.threshold, self.use_bias = bool(mirror), bool(threshold), use_bias
        self.scaled = bool(scaled)
        self.conv = lq.layers.QuantConv2D(
            filters, self.kernel_size, strides=strides, padding=padding,
            pad_values=pad_values, input_quantizer="ste_sign",
            use_bias=use_bias and not self.scaled, name="conv")

    def build(self, input_shape):
        if self.threshold:
            channels = int(input_shape[-1])
            self.theta = self.add_weight("theta", (channels,), initializer="zeros",
                                         trainable=False)
            self.inv_delta = self.add_weight("inv_delta", (channels,), initializer="ones",
                                             trainable=False)
        if self.scaled:
            # The kernel's per-channel magnitude as a multiplier after the convolution,
            # which LCE fuses into it: a ±1 kernel stays binary however small a
            # channel's scale is (a trained scale may pass through 0).
            self.scale = self.add_weight("scale", (self.filters,), initializer="ones",
                                         trainable=False)
            if self.use_bias:
                self.bias = self.add_weight("bias", (self.filters,), initializer="zeros",
                                            trainable=False)
        super().build(input_shape)

    def call(self, inputs):
        x = inputs
        if self.threshold:
            # −((x − θ)·(1/Δ)) bit for bit: IEEE subtraction and product are odd.
            x = (self.theta - x) * self.inv_delta
        dense = x.shape.rank == 2
        if dense:
            x = tf.reshape(x, [-1, 1, 1, x.shape[-1]])
        if self.explicit_pad:
            p = self.explicit_pad
            x = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], constant_values=1.0)
        if self.mirror:
            x = tf.reverse(x, [1, 2])
        y = self.conv(x)
        if self.mirror:
            y = tf.reverse(y, [1, 2])
        if self.scaled:
            y = y * self.scale + self.bias if self.use_bias else y * self.scale
        return tf.reshape(y, [-1, self.filters]) if dense else y

    def set_values(self, kernel: np.ndarray, bias: np.ndarray | None = None,
                   theta: np.ndarray | None = None, inv_delta: np.ndarray | None = None,
                   scale: np.ndarray | None = None):
        """Assign the convolution's kernel (h, w, in, out) and bias, the threshold and,
        for a ``scaled`` layer, the per-output-channel scale applied before the bias.

        Example:
            >>> layer = SignConv(1, 1, use_bias=True)
            >>> _ = layer(tf.ones((1, 1, 1, 2)))
            >>> layer.set_values(np.ones((1, 1, 2, 1)), bias=np.array([0.5]))
            >>> layer(tf.constant([[[[3.0, -2.0]]]])).numpy().ravel().tolist()
            [0.5]
        """
        self.conv.kernel.assign(np.reshape(kernel, self.conv.kernel.shape))
        if scale is not None:
            self.scale.assign(scale)
        if bias is not None:
            (self.bias if self.scaled else self.conv.bias).assign(bias)
        if theta is not None:
            self.theta.assign(theta)
            self.inv_delta.assign(inv_delta)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "pad_values": self.pad_values,
                "explicit_pad": self.explicit_pad, "mirror": self.mirror,
                "threshold": self.threshold, "use_bias": self.use_bias,
                "scaled": self.scaled}

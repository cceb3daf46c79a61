"""Padding as PyTorch pads, and how it relates to TensorFlow's "same" padding.

PyTorch pads symmetrically; TensorFlow's "same" pads one pixel more at the bottom and
right when the total is odd (stride 2 on an even size). Models ported from PyTorch pad
with ``Pad`` before a "valid" layer; export rewrites need to know when the two paddings
read the same windows (``same_mode``).

Example:
    >>> same_mode(32, 3, 1, 1), same_mode(32, 3, 2, 1)
    ('same', 'mirror')
"""

from __future__ import annotations

import math

import larq as lq
import tensorflow as tf


@lq.utils.register_keras_custom_object
class Pad(tf.keras.layers.Layer):
    """Pad height and width by ``pad`` on every side with ``value`` (PyTorch's padding;
    TF's "same" pads one pixel more at the bottom/right at stride 2 on even sizes).

    Example:
        >>> Pad(1)(tf.ones((1, 2, 2, 1)))[0, :, :, 0].numpy()
        array([[0., 0., 0., 0.],
               [0., 1., 1., 0.],
               [0., 1., 1., 0.],
               [0., 0., 0., 0.]], dtype=float32)
    """

    def __init__(self, pad: int, value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.pad, self.value = int(pad), float(value)

    def call(self, inputs):
        p = self.pad
        return tf.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], constant_values=self.value)

    def get_config(self) -> dict:
        return {**super().get_config(), "pad": self.pad, "value": self.value}


def same_mode(size: int, kernel: int, stride: int, pad: int) -> str | None:
    """How a symmetric ``pad`` then "valid" equals TF's "same": directly (``"same"``), on
    the mirrored map (``"mirror"``: reverse height and width, convolve with the mirrored
    kernel, reverse back), or not at all (None).

    Example:
        >>> same_mode(32, 3, 1, 1), same_mode(32, 3, 2, 1), same_mode(31, 3, 2, 1)
        ('same', 'mirror', 'same')
    """
    out = math.ceil(size / stride)
    if out != (size + 2 * pad - kernel) // stride + 1:
        return None
    total = max((out - 1) * stride + kernel - size, 0)
    if total // 2 == pad:
        return "same"
    # Mirrored, "same" pads ``total // 2`` at what was the bottom, ``total - total // 2``
    # at the top; the symmetric windows start ``pad`` above the top.
    return "mirror" if total - total // 2 == pad else None


def inbound_layer(layer):
    """The single layer feeding ``layer`` in its model, or None.

    Example:
        >>> x = tf.keras.Input((4, 4, 1))
        >>> pad = Pad(1)
        >>> conv = tf.keras.layers.Conv2D(2, 3)
        >>> _ = conv(pad(x))
        >>> inbound_layer(conv) is pad
        True
    """
    nodes = layer._inbound_nodes
    if len(nodes) != 1:
        return None
    inbound = nodes[0].inbound_layers
    return inbound if not isinstance(inbound, list) else None

"""A quantized convolution that pads as PyTorch pads at stride 2 on even sizes.

PyTorch pads ``kernel // 2`` on every side; TF's "same" pads one pixel more at the bottom
and right where the total is odd (stride 2 on an even size), so the two read other
windows. On the input mirrored in height and width, "same" pads what was the top and
left instead: reversing the input, convolving with "same" and reversing the output reads
PyTorch's windows, with the kernel mirrored (``bnno.layers.padding.same_mode`` says when:
``"mirror"``). The padding is applied to the quantized input, with ``pad_values``, as in
larq's ``QuantConv2D``; a model trained from scratch learns the mirrored kernel. LCE runs
the convolution as a binary one between two reversals (as in ``SignConv(mirror=True)``).

Example:
    >>> layer = MirroredQuantConv2D(1, 3, strides=2, padding="same", use_bias=False,
    ...                             kernel_initializer="ones")
    >>> x = tf.reshape(tf.range(16, dtype=tf.float32), (1, 4, 4, 1))
    >>> layer(x)[0, :, :, 0].numpy().tolist()  # windows centred on rows/columns 0 and 2
    [[10.0, 24.0], [51.0, 90.0]]
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf


@lq.utils.register_keras_custom_object
class MirroredQuantConv2D(lq.layers.QuantConv2D):
    """larq's ``QuantConv2D`` on the input mirrored in height and width, its output
    mirrored back (see the module docstring).

    Example:
        >>> MirroredQuantConv2D(8, 3, strides=2, padding="same")(tf.ones((1, 8, 8, 3))).shape
        TensorShape([1, 4, 4, 8])
    """

    def call(self, inputs):
        return tf.reverse(super().call(tf.reverse(inputs, [1, 2])), [1, 2])

"""Layers of BiBench's operators that are more than a quantizer (Qin et al., ICML 2023;
official code htqin/BiBench, ``bibench/models/layers/``).

XNOR++ (``xnorplusplus.py``, ``XNORPlusPlusConv2d``) multiplies its convolution's output
by ``o[c]·h[i]·w[j]``: a trainable factor per output channel, per output row and per output
column, all initialised to 1 (the official ``h_scale``/``w_scale`` hold 2000 entries and
are sliced to the output's height and width; only those entries ever take part). The
channel factor ``o`` folds into the kernel (``bnno.quantizers.bibench_xnorpp``, quantizer
``bibench_xnorpp_weight``); the row and column factors depend on the output position and
live in ``SpatialOutputScale``, a mixin for larq's quantized convolutions that
multiplies the output by ``h ⊗ w``. ``XnorPlusPlusConv2D`` is larq's ``QuantConv2D`` with
it: with ``bibench_xnorpp_activation`` and ``bibench_xnorpp_weight`` it is the official
operator. LCE converts its binary convolution to ``LceBconv2d`` and keeps the product
with ``h ⊗ w`` as a float multiply after it.

Example:
    >>> conv = XnorPlusPlusConv2D(4, 3, padding="same", input_quantizer="bibench_xnorpp_activation",
    ...                           kernel_quantizer="bibench_xnorpp_weight", use_bias=False)
    >>> conv(tf.ones((1, 6, 5, 2))).shape
    TensorShape([1, 6, 5, 4])
    >>> conv.row_scale.shape, conv.column_scale.shape
    (TensorShape([6]), TensorShape([5]))
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno import quantizers  # noqa: F401  (registers the XNOR++ quantizers)


class SpatialOutputScale:
    """Mixin for larq's 2D convolutions: the output times a trainable factor per output row
    and per output column (``row_scale``, ``column_scale``, initialised to 1).

    Put it before the convolution class; channels-last only.

    Example:
        >>> class Scaled(SpatialOutputScale, lq.layers.QuantConv2D):
        ...     pass
        >>> layer = Scaled(2, 1, use_bias=False, kernel_initializer="ones")
        >>> y = layer(tf.ones((1, 2, 3, 1)))
        >>> _ = layer.row_scale.assign([1.0, 2.0])
        >>> layer(tf.ones((1, 2, 3, 1)))[0, :, :, 0].numpy().tolist()
        [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    """

    def build(self, input_shape):
        if self.data_format != "channels_last":
            raise ValueError("SpatialOutputScale needs channels_last data")
        super().build(input_shape)
        rows, columns = self.compute_output_shape(input_shape)[1:3]
        # Trainable like the official parameters; no regularizer (the official SGD's weight
        # decay, where used, is the optimizer's).
        self.row_scale = self.add_weight("row_scale", (rows,), initializer="ones")
        self.column_scale = self.add_weight("column_scale", (columns,), initializer="ones")

    def call(self, inputs):
        outputs = super().call(inputs)
        # LCE's converter fuses a multiply by a constant that directly follows a binary
        # convolution into its per-channel output multiplier without checking the shape
        # (larq/compute-engine, ``optimize_patterns_common.td``: "TODO: Check shapes before
        # fusing"), and the interpreter then fails; multiplying a (batch, positions,
        # channels) view keeps the per-position factor a multiply of its own.
        shape = tf.shape(outputs)
        positions = tf.reshape(outputs, [shape[0], -1, shape[3]])
        factors = tf.reshape(self.row_scale[:, None] * self.column_scale[None, :], [-1, 1])
        return tf.reshape(positions * factors, shape)


@lq.utils.register_keras_custom_object
class XnorPlusPlusConv2D(SpatialOutputScale, lq.layers.QuantConv2D):
    """larq's ``QuantConv2D`` whose output is multiplied by XNOR++'s row and column factors.

    Example:
        >>> conv = XnorPlusPlusConv2D(8, 3, input_quantizer="bibench_xnorpp_activation",
        ...                           kernel_quantizer="bibench_xnorpp_weight", use_bias=False)
        >>> y = conv(tf.ones((2, 7, 7, 3)))
        >>> sorted(v.name.split("/")[-1] for v in conv.trainable_weights)
        ['column_scale:0', 'kernel:0', 'row_scale:0', 'scale:0']
    """

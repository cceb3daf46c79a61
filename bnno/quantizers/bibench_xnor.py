"""BiBench's XNOR binarizer (Qin et al., ICML 2023; official code htqin/BiBench).

``bibench/models/layers/xnor.py`` (``XNORConv2d.forward``):

* activations: ``α_x·sign(x)`` with ``α_x = mean |x|`` over each sample's channels, rows
  and columns (one scalar per sample), held constant; gradient ``g·1[|x| ≤ 1]`` (the clamp's:
  no α in it);
* weights: ``α_w·sign(w)`` with ``α_w = mean |w|`` over each output channel's weights (kernel
  height × width × input channels), held constant; gradient ``g·1[|w| ≤ 1]``.

The official per-sample activation scale multiplies the binarized input, so it is a
quantizer here, exact in training. The official ``XNORLinear`` differs (it centres the
weights per output row first); bnno follows the convolution, the form the benchmark's
CNNs use.

Registered names (kind, export):

* ``bibench_xnor_activation``: kind "other" (α_x·±1, one α_x per sample), export
  "rewrite": α_x factors out of the convolution (zero padding stays 0), so
  ``conv(α_x·sign(x), K) = α_x·conv(sign(x), K)``, a bit-packed ``LceBconv2d`` followed by a
  float per-sample multiply; its hook ``lce_rewrite`` gives that layer
  (``bnno.layers.sample_scale.SampleScaleConv``). As trained, LCE would keep the layer in
  float;
* ``bibench_xnor_weight``: kind "scaled", export "binary" (±α_w per output channel).

sign(0) = +1 (larq's) where PyTorch's sign gives 0, as in ``bnno.quantizers.bibench_bnn``.

Example:
    >>> x = tf.constant([[[[0.5, -1.5]]], [[[0.25, 0.25]]]])  # two samples, 1×1×2
    >>> BiBenchXnorActivation()(x).numpy().ravel().tolist()  # α_x = 1.0, 0.25
    [1.0, -1.0, 0.25, 0.25]
"""

from __future__ import annotations

import larq as lq
import numpy as np
import tensorflow as tf

from bnno.layers.mirrored import MirroredQuantConv2D
from bnno.layers.sample_scale import SampleScaleConv
from bnno.layers.sign_conv import Rewrite
from bnno.quantizers.bibench_bnn import clip_ste
from bnno.quantizers.registry import register
from bnno.quantizers.sign_flips import CountsSignFlips


def sample_scale(x: tf.Tensor) -> tf.Tensor:
    """mean |x| over every axis but the first (the batch), kept for broadcasting, constant.

    Example:
        >>> sample_scale(tf.constant([[1.0, -3.0], [0.5, 0.5]])).numpy().ravel().tolist()
        [2.0, 0.5]
    """
    axes = list(range(1, x.shape.rank))
    return tf.stop_gradient(tf.reduce_mean(tf.abs(x), axis=axes, keepdims=True))


def channel_scale(w: tf.Tensor) -> tf.Tensor:
    """mean |w| per output channel (every axis but the last), kept for broadcasting, constant.

    Example:
        >>> channel_scale(tf.constant([[1.0, -3.0], [0.5, 0.5]])).numpy().ravel().tolist()
        [0.75, 1.75]
    """
    axes = list(range(w.shape.rank - 1))
    return tf.stop_gradient(tf.reduce_mean(tf.abs(w), axis=axes, keepdims=True))


def plain_binary_layer(layer) -> bool:
    """Whether ``layer`` is larq's own ``QuantConv2D`` or ``QuantDense`` (or the mirrored
    convolution, ``bnno.layers.mirrored``) with no dilation, groups or activation: the
    layers the BiBench rewrites replace.

    Example:
        >>> plain_binary_layer(lq.layers.QuantConv2D(2, 3, dilation_rate=2))
        False
    """
    if type(layer) is lq.layers.QuantDense:
        return layer.activation is tf.keras.activations.linear
    return (type(layer) in (lq.layers.QuantConv2D, MirroredQuantConv2D)
            and layer.dilation_rate == (1, 1) and layer.groups == 1
            and layer.activation is tf.keras.activations.linear)


def layer_values(layer, kernel: np.ndarray) -> dict[str, np.ndarray]:
    """The values a rewrite gives its layer: the binarized ``kernel``, and the bias.

    Example:
        >>> dense = lq.layers.QuantDense(2, use_bias=False)
        >>> _ = dense(tf.ones((1, 3)))
        >>> sorted(layer_values(dense, np.ones((3, 2))))
        ['kernel']
    """
    values = {"kernel": kernel}
    if layer.use_bias:
        values["bias"] = layer.bias.numpy()
    return values


def lce_rewrite(layer, kernel: np.ndarray) -> Rewrite | None:
    """The LCE form of a binary layer on ``bibench_xnor_activation`` inputs (its ``rewrite``
    hook, see ``bnno.layers.sign_conv``): the binary convolution on larq's sign, times
    ``α_x`` per sample (``SampleScaleConv``). None (the layer stays float) for a
    padding other than zeros, or a layer other than larq's plain convolution or dense.

    Example:
        >>> conv = lq.layers.QuantConv2D(4, 3, padding="same",
        ...                              input_quantizer="bibench_xnor_activation",
        ...                              kernel_quantizer="bibench_xnor_weight")
        >>> _ = conv(tf.ones((1, 6, 6, 2)))
        >>> type(lce_rewrite(conv, np.ones((3, 3, 2, 4), np.float32)).layer).__name__
        'SampleScaleConv'
    """
    if not plain_binary_layer(layer):
        return None
    if isinstance(layer, lq.layers.QuantDense):
        new = SampleScaleConv(layer.units, 1, use_bias=layer.use_bias, name=layer.name)
    elif layer.padding == "same" and layer.pad_values != 0.0:
        return None  # a padding of ±1 does not scale with α_x
    else:
        new = SampleScaleConv(layer.filters, layer.kernel_size, layer.strides, layer.padding,
                              use_bias=layer.use_bias, name=layer.name,
                              mirror=isinstance(layer, MirroredQuantConv2D))
    return Rewrite(new, layer_values(layer, kernel))


@register("bibench_xnor_activation", roles=("activation",), kind="other", export="rewrite",
          rewrite=lce_rewrite)
class BiBenchXnorActivation(lq.quantizers.Quantizer):
    """α_x·sign(x), α_x = mean |x| per sample (constant); gradient ``g·1[|x| ≤ 1]``.

    ``precision = 1``: the product with a binary kernel is a binary convolution times a
    per-sample float (see the module docstring).

    Example:
        >>> x = tf.constant([[2.0, -0.5]])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = BiBenchXnorActivation()(x)
        >>> y.numpy().tolist(), tape.gradient(y, x).numpy().tolist()
        ([[1.25, -1.25]], [[0.0, 1.0]])
    """

    precision = 1

    def call(self, inputs):
        scale = sample_scale(inputs)
        return clip_ste(inputs, lambda x: scale * lq.math.sign(x))


@register("bibench_xnor_weight", roles=("kernel",), kind="scaled")
class BiBenchXnorWeight(CountsSignFlips, lq.quantizers._BaseQuantizer):
    """α_w·sign(w), α_w = mean |w| per output channel (constant); gradient ``g·1[|w| ≤ 1]``.

    Unlike bnno's ``xnor_weight`` (Larq Zoo's: gradient through α) and larq's
    ``magnitude_aware_sign`` (gradient α·g), the gradient has no α. Its ``flip_ratio``
    metric counts sign changes (``bnno.quantizers.sign_flips``).

    Example:
        >>> w = tf.constant([[0.5, 2.0], [-0.25, -1.0]])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(w)
        ...     y = BiBenchXnorWeight()(w)
        >>> y.numpy().tolist()  # α_w = 0.375, 1.5
        [[0.375, 1.5], [-0.375, -1.5]]
        >>> tape.gradient(y, w).numpy().tolist()
        [[1.0, 0.0], [1.0, 1.0]]

    Args:
        metrics: ``["flip_ratio"]`` keeps the fraction of signs that changed between
            calls as the metric ``flip_ratio/<name>``.
    """

    precision = 1

    def call(self, inputs):
        scale = channel_scale(inputs)
        return super().call(clip_ste(inputs, lambda w: scale * lq.math.sign(w)))

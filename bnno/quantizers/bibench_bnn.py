"""BiBench's BNN binarizer (Qin et al., ICML 2023; official code htqin/BiBench).

``bibench/models/layers/bnn.py`` (``BNNConv2d.forward``) binarizes both sides the same
way: sign in the forward pass, and the gradient of ``clamp(·, −1, 1)`` in the backward
pass (``sign.detach() − clamp.detach() + clamp``), i.e. ``g·1[|x| ≤ 1]``. No scale.

Registered names (kind, export as Larq Compute Engine runs a layer using them):

* ``bibench_bnn_activation``: kind "sign", export "binary";
* ``bibench_bnn_weight``: kind "sign", export "binary".

Both equal larq's ``ste_sign`` with ``clip_value=1``; they have names of their own so that
a run records which BiBench binarizer it used. The window is inclusive, as PyTorch 1.x's
clamp gradient and BiBench's own ``BinaryQuantize`` (``bnn.py``) are. As everywhere in
larq, sign(0) = +1 where PyTorch's sign gives 0 (needed for LCE's bit-packing; an exact 0
is a measure-zero event for these float inputs; the convolution's zero padding stays 0,
as in the official ``F.conv2d``).

This module also holds the straight-through function the other BiBench binarizers share.

Example:
    >>> import larq as lq
    >>> conv = lq.layers.QuantConv2D(8, 3, padding="same",
    ...                              input_quantizer="bibench_bnn_activation",
    ...                              kernel_quantizer="bibench_bnn_weight")
    >>> conv(tf.ones((1, 4, 4, 2))).shape
    TensorShape([1, 4, 4, 8])
"""

from __future__ import annotations

from collections.abc import Callable

import larq as lq
import tensorflow as tf

from bnno.quantizers.registry import register


def clip_ste(x: tf.Tensor, forward: Callable[[tf.Tensor], tf.Tensor],
             clip: float = 1.0) -> tf.Tensor:
    """``forward(x)`` in the forward pass, the gradient ``g·1[|x| ≤ clip]`` in the backward.

    The official code's ``q.detach() − clamp(x).detach() + clamp(x)``: whatever ``q`` is
    (a sign, a scaled sign), the gradient is that of the clamp.

    Example:
        >>> x = tf.constant([-2.0, -0.5, 1.0])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = clip_ste(x, lambda v: 3.0 * lq.math.sign(v))
        >>> y.numpy().tolist(), tape.gradient(y, x).numpy().tolist()
        ([-3.0, -3.0, 3.0], [0.0, 1.0, 1.0])
    """

    @tf.custom_gradient
    def ste(x):
        def grad(dy):
            return tf.where(tf.abs(x) <= clip, dy, tf.zeros_like(dy))

        return forward(x), grad

    return ste(x)


@register("bibench_bnn_activation", roles=("activation",), kind="sign")
class BiBenchBnnActivation(lq.quantizers._BaseQuantizer):
    """sign(x), gradient ``g·1[|x| ≤ 1]`` (BiBench's BNN, ``bnn.py``).

    Example:
        >>> x = tf.constant([-1.5, -0.5, 0.0, 0.5])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = BiBenchBnnActivation()(x)
        >>> y.numpy().tolist(), tape.gradient(y, x).numpy().tolist()
        ([-1.0, -1.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0])

    Args:
        metrics: ``["flip_ratio"]`` keeps larq's flip ratio (for kernels).
    """

    precision = 1

    def call(self, inputs):
        return super().call(clip_ste(inputs, lq.math.sign))


@register("bibench_bnn_weight", roles=("kernel",), kind="sign")
class BiBenchBnnWeight(BiBenchBnnActivation):
    """sign(w), gradient ``g·1[|w| ≤ 1]`` (BiBench's BNN, ``bnn.py``).

    Example:
        >>> BiBenchBnnWeight()(tf.constant([[0.2], [-0.3]])).numpy().ravel().tolist()
        [1.0, -1.0]
    """

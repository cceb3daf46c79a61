"""Si-BNN's weight binarizer: α·sign(w) per output channel, with the code's own gradient.

Wang et al., "Sparsity-Inducing Binarized Neural Networks" (AAAI 2020), official code
(peiswang/SiBNN, ``util.py``: ``BinOp.binarizeConvParams`` and
``BinOp.updateBinaryGradWeight_new``). For one output channel with latent weights
``w`` (its ``n`` values: kernel height × width × input channels, or a dense layer's
inputs):

- forward: ``α·sign(w)`` with ``α = mean |w|`` over the channel's ``n`` values, and
  sign(0) = 0 (PyTorch's ``sign``; larq's sign maps 0 to +1);
- backward, with ``g`` the gradient of the binarized weights:
  ``g·1[|w| ≤ 1]·(1 − 1/n) + sign(w)·mean(sign(w)·g)``, the mean again over the
  channel's ``n`` values. There is no α in the first term.

larq's ``magnitude_aware_sign`` has the same forward pass but the gradient
``α·g·1[|w| ≤ 1]`` (α held constant), hence this class (hparam name ``sibnn_weight``).

The official code clamps the latent weights to [−1, 1] in place before every
binarization. Here the ``weight_clip`` constraint clips them after every update, which
gives the same weights at every step; the one difference is the very first forward pass,
which sees the initial weights unclipped (Si-BNN's initial standard deviation is 1/n,
so an initial weight beyond ±1 does not occur in practice). With the weights clipped,
the ``1[|w| ≤ 1]`` factor is always 1, in the code as here.

Its ``flip_ratio`` metric counts sign changes of the binarized kernel
(``bnno.quantizers.sign_flips.CountsSignFlips``): larq's own casts α·sign(w) to int8, which gives 0.

Example:
    >>> q = SiBnnWeight()
    >>> q(tf.constant([[0.5, 0.0], [-0.25, 0.5]])).numpy().tolist()  # α = 0.375, 0.25
    [[0.375, 0.0], [-0.375, 0.25]]
"""

from __future__ import annotations

import math

import larq as lq
import tensorflow as tf

from bnno.quantizers.registry import register
from bnno.quantizers.sign_flips import CountsSignFlips


def sibnn_binarize(w: tf.Tensor) -> tf.Tensor:
    """α·sign(w) per output channel (last axis), with the official code's gradient.

    Example:
        >>> w = tf.constant([[0.5], [1.5]])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(w)
        ...     y = sibnn_binarize(w)
        >>> y.numpy().ravel().tolist()
        [1.0, 1.0]
        >>> tape.gradient(y, w).numpy().ravel().tolist()  # 1·(1 − 1/2) + 1; 0 + 1
        [1.5, 1.0]
    """
    axes = list(range(w.shape.rank - 1))
    n = math.prod(w.shape[:-1])

    @tf.custom_gradient
    def binarize(w):
        signs = tf.sign(w)
        alpha = tf.reduce_mean(tf.abs(w), axis=axes, keepdims=True)

        def grad(g):
            inside = tf.cast(tf.abs(w) <= 1.0, g.dtype)
            return (g * inside * (1.0 - 1.0 / n)
                    + signs * tf.reduce_mean(signs * g, axis=axes, keepdims=True))

        return alpha * signs, grad

    return binarize(w)


@register("sibnn_weight", roles=("kernel",), kind="scaled")
class SiBnnWeight(CountsSignFlips, lq.quantizers._BaseQuantizer):
    """Si-BNN's kernel binarizer: α·sign(w) per output channel (``sibnn_binarize``).

    ``precision = 1``: larq counts its kernels as binary, and LCE runs them as ±α.

    Example:
        >>> q = SiBnnWeight(metrics=["flip_ratio"])
        >>> _ = q(tf.constant([[0.2, -0.1], [0.3, 0.4]]))
        >>> _ = q(tf.constant([[0.2, 0.1], [0.3, 0.5]]))
        >>> float(q.flip_ratio.result())
        0.25

    Args:
        metrics: ``["flip_ratio"]`` keeps the fraction of signs that changed between
            calls as the metric ``flip_ratio/<name>``.
    """

    precision = 1

    def call(self, inputs):
        return super().call(sibnn_binarize(inputs))

"""XNOR-Net's weight binarizer as Larq Zoo trains it: α·sign(w) with a gradient through α.

Larq Zoo's XNOR-Net (``larq_zoo/literature/xnornet.py``, ``xnor_weight_scale``) clips the
latent kernel to [−1, 1], takes α = mean |w| per output channel and returns
α·ste_sign(w); autodiff runs through α as well, so for one output channel of ``n``
weights the gradient is ``1[|w| ≤ 1]·(α·g + sign(w)·mean(sign(w)·g))``. larq's
``magnitude_aware_sign`` has the same forward pass but holds α constant. Larq Zoo's
function is not a larq quantizer class (no flip-ratio metric, and its name is taken by
Larq Zoo's own registration), so bnno names this class ``xnor_weight``; it reduces over
every axis but the last, which for convolutions is Larq Zoo's ``[0, 1, 2]``.

Example:
    >>> q = XnorWeight()
    >>> q(tf.constant([[0.5, -2.0], [-0.25, 0.5]])).numpy().tolist()  # α = 0.375, 0.75
    [[0.375, -0.75], [-0.375, 0.75]]
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno.quantizers.registry import register
from bnno.quantizers.sign_flips import CountsSignFlips


@register("xnor_weight", roles=("kernel",), kind="scaled")
class XnorWeight(CountsSignFlips, lq.quantizers._BaseQuantizer):
    """clip(w, −1, 1) → α·ste_sign(w), α = mean |w| per output channel (Larq Zoo's).

    ``precision = 1``: larq counts its kernels as binary. Its ``flip_ratio`` metric
    counts sign changes (``bnno.quantizers.sign_flips.CountsSignFlips``).

    Example:
        >>> w = tf.constant([[0.5], [-0.25]])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(w)
        ...     y = XnorWeight()(w)
        >>> tape.gradient(y, w).numpy().ravel().tolist()  # α + sign·mean(sign·1)
        [0.375, 0.375]
    """

    precision = 1

    def call(self, inputs):
        w = tf.clip_by_value(inputs, -1.0, 1.0)
        axes = list(range(w.shape.rank - 1))
        alpha = tf.reduce_mean(tf.abs(w), axis=axes, keepdims=True)
        return super().call(alpha * lq.quantizers.ste_sign(w))

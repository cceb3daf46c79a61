"""A per-output-channel scale on ±1 kernels: scaled binary weights without latent weights.

Latent-weight binarizers such as ``sibnn_weight``, ``xnor_weight`` and
``magnitude_aware_sign`` compute α·sign(w), with α = mean |w| per output channel of the
latent weights ``w``. A latent-free optimizer (Bop) has no latent weights: the kernel
itself holds ±1. ``ChannelScale`` (hparam name ``channel_scale``) keeps α as a float
variable of its own, one value per output channel (the last axis of the kernel), and
returns α·kernel. The kernel is tagged ``precision=1``, so larq's ``CaseOptimizer``
gives it to Bop; α is not tagged and goes to the optimizer of the real-valued variables
(Adam). Before training, ``bnno.optimizers.kernels.binarize_kernels`` sets α to mean |w|
per channel of the initial kernel (``start_from``) and the kernel to sign(w), so the
model starts as the same function as its latent-weight form (its binarizers clip to
[−1, 1] first, which changes nothing for initial kernels inside that range, as every
initialiser bnno's models use gives).

Its ``flip_ratio`` metric counts sign changes of α·kernel
(``bnno.quantizers.sign_flips.CountsSignFlips``).

Example:
    >>> q = ChannelScale()
    >>> kernel = tf.constant([[1.0, -1.0], [-1.0, -1.0]])
    >>> q(kernel).numpy().tolist()  # α starts at 1
    [[1.0, -1.0], [-1.0, -1.0]]
    >>> q.start_from(tf.constant([[0.5, -0.1], [-0.25, -0.3]]))
    >>> q(kernel).numpy().tolist()  # α = 0.375, 0.2
    [[0.375, -0.20000000298023224], [-0.375, -0.20000000298023224]]
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

from bnno.quantizers.registry import register
from bnno.quantizers.sign_flips import CountsSignFlips


@register("channel_scale", roles=("kernel",), kind="scaled", latent_free=True)
class ChannelScale(CountsSignFlips, lq.quantizers.NoOp):
    """α·kernel with a trainable α per output channel, for kernels that hold ±1.

    Example:
        >>> q = ChannelScale()
        >>> kernel = tf.constant([[1.0], [-1.0]])
        >>> with tf.GradientTape() as tape:
        ...     y = q(kernel)
        ...     loss = tf.reduce_sum(y * tf.constant([[2.0], [1.0]]))
        >>> tape.gradient(loss, q.scale).numpy().tolist()  # 2·1 + 1·(−1)
        [1.0]

    Args:
        metrics: ``["flip_ratio"]`` keeps the fraction of signs that changed between
            calls as the metric ``flip_ratio/<name>``.
    """

    # A NoOp of precision 1, as larq's own tag of ±1 kernels: Bop claims the kernel, and
    # larq does not warn that a binarizer without a kernel constraint starves weights.
    precision = 1

    def __init__(self, **kwargs):
        kwargs.pop("precision", None)  # in a saved config; always 1
        super().__init__(precision=1, **kwargs)

    def build(self, input_shape):
        self.scale = self.add_weight("scale", (int(input_shape[-1]),), initializer="ones")
        super().build(input_shape)

    def start_from(self, latent) -> None:
        """Set α to mean |latent| per output channel: the scale of the latent binarizers.

        Example:
            >>> q = ChannelScale()
            >>> q.start_from(tf.constant([[2.0], [-1.0]]))
            >>> q.scale.numpy().tolist()
            [1.5]
        """
        if not self.built:
            self.build(latent.shape)
        axes = list(range(latent.shape.rank - 1))
        self.scale.assign(tf.reduce_mean(tf.abs(latent), axis=axes))

    def call(self, inputs):
        return super().call(self.scale * inputs)

"""A flip ratio for scaled signs: it counts changes of sign.

larq's ``FlipRatio`` casts the quantized kernel to int8 before comparing it with the
previous step's. A scaled sign α·sign(w) with α = mean |w| < 1 rounds to 0 everywhere,
so larq reports a flip ratio of 0 for every step. A flip is a change of sign, so
quantizers of scaled signs mix in ``CountsSignFlips``, whose metric sees sign(α·sign(w)).
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf


class SignFlipRatio(lq.metrics.FlipRatio):
    """larq's ``FlipRatio`` over the signs of the values.

    Example:
        >>> metric = SignFlipRatio()
        >>> for values in ([0.5, -0.5], [0.4, 0.5]):
        ...     _ = metric.update_state(tf.constant(values))
        >>> float(metric.result())
        0.5
    """

    def update_state(self, values, sample_weight=None):
        return super().update_state(tf.sign(values), sample_weight)


class CountsSignFlips:
    """Mixin for larq quantizers of scaled signs: ``flip_ratio`` counts sign changes.

    Put it before the larq quantizer class; its ``build`` replaces larq's
    ``_BaseQuantizer.build``, which would add the int8 ``FlipRatio``.

    Example:
        >>> class Scaled(CountsSignFlips, lq.quantizers.MagnitudeAwareSign):
        ...     pass
        >>> q = Scaled(metrics=["flip_ratio"])
        >>> _ = q(tf.constant([[0.5, -0.5]]))
        >>> type(q.flip_ratio).__name__
        'SignFlipRatio'
    """

    def build(self, input_shape):
        if self._custom_metrics and "flip_ratio" in self._custom_metrics:
            self.flip_ratio = SignFlipRatio(name=f"flip_ratio/{self.name}")
            self.flip_ratio.build(input_shape)
        lq.quantizers.Quantizer.build(self, input_shape)


@lq.utils.register_keras_custom_object
class LatentFreeKernel(CountsSignFlips, lq.quantizers.NoOp):
    """larq's ``NoOp(precision=1)``, the tag of kernels a latent-free optimizer trains,
    whose ``flip_ratio`` counts sign changes.

    Such kernels hold the initialiser's real values until the optimizer's first update
    writes ±1 (``bnno.optimizers.kernels.start_kernels``). larq's int8 ``FlipRatio`` would
    read those values as 0 and count the first update as flipping every weight; counting
    signs, a weight flips in the first update where its ±1 differs from the sign of its
    initial value, the flip of the official Bop rule.

    Example:
        >>> q = LatentFreeKernel(metrics=["flip_ratio"])
        >>> for kernel in ([0.02, -0.03], [1.0, 1.0], [1.0, 1.0]):
        ...     _ = q(tf.constant(kernel))
        >>> float(q.flip_ratio.result())  # one flip in two updates of two weights
        0.25
        >>> q.precision
        1
    """

    precision = 1

    def __init__(self, **kwargs):
        kwargs.pop("precision", None)  # in a saved config; always 1
        super().__init__(precision=1, **kwargs)

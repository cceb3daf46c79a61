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

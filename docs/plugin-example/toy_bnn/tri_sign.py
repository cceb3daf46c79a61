"""A sign whose gradient is a triangle: max(0, 1 − |x|/width)·g.

Forward it is larq's sign (sign(0) = +1), so a layer with it on its inputs and a binary
kernel runs bit-packed in Larq Compute Engine as it is.

Example:
    >>> import tensorflow as tf
    >>> x = tf.constant([-2.0, -0.5, 0.0, 0.25])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = TriSign()(x)
    >>> y.numpy().tolist(), tape.gradient(y, x).numpy().tolist()
    ([-1.0, -1.0, 1.0, 1.0], [0.0, 0.5, 1.0, 0.75])
"""

from typing import Annotated

import larq as lq
import tensorflow as tf

from bnno.htypes import between
from bnno.quantizers import register


@register("toy_tri_sign", roles=("activation",), kind="sign")
class TriSign(lq.quantizers.Quantizer):
    """sign(x) forward, max(0, 1 − |x|/width)·g backward.

    Args:
        width: where the triangle reaches 0.
    """

    precision = 1

    def __init__(self, width: Annotated[float, between(0.1, 10)] = 1.0, **kwargs):
        self.width = float(width)
        super().__init__(**kwargs)

    def call(self, inputs):
        width = self.width

        @tf.custom_gradient
        def sign(x):
            def grad(dy):
                return dy * tf.maximum(0.0, 1.0 - tf.abs(x) / width)

            return lq.math.sign(x), grad

        return sign(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "width": self.width}

"""BiBench's Bi-Real binarizer (Qin et al., ICML 2023; official code htqin/BiBench).

``bibench/models/layers/bireal.py`` (``BiRealConv2d.forward``):

* activations: sign in the forward pass; in the backward pass the derivative of the
  piecewise polynomial −1 / x² + 2x / −x² + 2x / 1 (on x < −1, [−1, 0), [0, 1), x ≥ 1),
  i.e. ``g·(2 − 2|x|)`` inside [−1, 1] and 0 outside: larq's ``approx_sign``;
* weights: as BiBench's XNOR weights (``α_w·sign(w)``, ``α_w = mean |w|`` per output channel
  held constant, gradient ``g·1[|w| ≤ 1]``). The Bi-Real paper's magnitude-aware gradient
  through α is not what BiBench runs.

Registered names (kind, export):

* ``bibench_bireal_activation``: kind "sign", export "binary";
* ``bibench_bireal_weight``: kind "scaled", export "binary".

Example:
    >>> x = tf.constant([-1.5, -0.5, 0.25])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = BiBenchBiRealActivation()(x)
    >>> y.numpy().tolist(), tape.gradient(y, x).numpy().tolist()
    ([-1.0, -1.0, 1.0], [0.0, 1.0, 1.5])
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf  # noqa: F401  (the doctests use it)

from bnno.quantizers.bibench_xnor import BiBenchXnorWeight
from bnno.quantizers.registry import register


@register("bibench_bireal_activation", roles=("activation",), kind="sign")
class BiBenchBiRealActivation(lq.quantizers._BaseQuantizer):
    """sign(x), gradient ``g·max(0, 2 − 2|x|)`` (``bireal.py``; larq's ``approx_sign``).

    Example:
        >>> BiBenchBiRealActivation()(tf.constant([-0.2, 0.0])).numpy().tolist()
        [-1.0, 1.0]
    """

    precision = 1

    def call(self, inputs):
        return super().call(lq.quantizers.approx_sign(inputs))


@register("bibench_bireal_weight", roles=("kernel",), kind="scaled")
class BiBenchBiRealWeight(BiBenchXnorWeight):
    """α_w·sign(w), gradient ``g·1[|w| ≤ 1]`` (``bireal.py``; as ``bibench_xnor_weight``).

    Example:
        >>> BiBenchBiRealWeight()(tf.constant([[1.0], [-3.0]])).numpy().ravel().tolist()
        [2.0, -2.0]
    """

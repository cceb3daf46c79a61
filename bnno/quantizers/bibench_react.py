"""BiBench's ReAct binarizer (Qin et al., ICML 2023; official code htqin/BiBench).

``bibench/models/layers/react.py`` (``ReActConv2d.forward``):

* activations: ``sign(x + b)`` with a trainable threshold ``b`` per input channel
  (initialised to 0), and the Bi-Real gradient on ``x + b``: ``g·max(0, 2 − 2|x + b|)``
  (larq's ``approx_sign``); ``b`` gets the sum of that gradient by autodiff, as in the
  official code. Only ReActNet's RSign is part of the operator (RPReLU and the learnable
  biases belong to the ReActNet backbone);
* weights: as BiBench's XNOR weights (``α_w·sign(w)``, ``α_w = mean |w|`` per output
  channel held constant, gradient ``g·1[|w| ≤ 1]``).

The official ``ReActLinear`` binarizes ``sign(input)`` without the threshold while its
gradient uses ``x + b`` (``react.py``, ``ReActLinear.forward``); bnno follows the
convolution for dense layers too.

Registered names (kind, export):

* ``bibench_react_activation``: kind "sign", export "binary" (LCE bit-packs
  ``sign(x + b)``; the addition runs in float before it, like ReActNet's own);
* ``bibench_react_weight``: kind "scaled", export "binary".

Example:
    >>> import larq as lq
    >>> conv = lq.layers.QuantConv2D(4, 3, input_quantizer="bibench_react_activation",
    ...                              kernel_quantizer="bibench_react_weight")
    >>> _ = conv(tf.ones((1, 5, 5, 3)))
    >>> conv.input_quantizer.threshold.numpy().tolist()
    [0.0, 0.0, 0.0]
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf  # noqa: F401  (the doctests use it)

from bnno.quantizers.bibench_xnor import BiBenchXnorWeight
from bnno.quantizers.registry import register


@register("bibench_react_activation", roles=("activation",), kind="sign")
class BiBenchReActActivation(lq.quantizers.Quantizer):
    """sign(x + b), gradient ``g·max(0, 2 − 2|x + b|)``; ``b`` trainable per channel.

    Example:
        >>> q = BiBenchReActActivation()
        >>> x = tf.constant([[-0.5, 0.5]])
        >>> _ = q(x)
        >>> _ = q.threshold.assign([1.0, -1.0])
        >>> q(x).numpy().tolist()
        [[1.0, -1.0]]
    """

    precision = 1

    def build(self, input_shape):
        # No regularizer: bnno's L2 term skips quantizer variables.
        self.threshold = self.add_weight("threshold", (int(input_shape[-1]),),
                                         initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        return lq.quantizers.approx_sign(inputs + self.threshold)


@register("bibench_react_weight", roles=("kernel",), kind="scaled")
class BiBenchReActWeight(BiBenchXnorWeight):
    """α_w·sign(w), gradient ``g·1[|w| ≤ 1]`` (``react.py``; as ``bibench_xnor_weight``).

    Example:
        >>> BiBenchReActWeight()(tf.constant([[1.0], [-3.0]])).numpy().ravel().tolist()
        [2.0, -2.0]
    """

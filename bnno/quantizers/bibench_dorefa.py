"""BiBench's DoReFa binarizer (Qin et al., ICML 2023; official code htqin/BiBench).

``bibench/models/layers/dorefa.py`` (``DoReFaConv2d.forward``) binarizes activations as
BiBench's BNN does (sign, gradient ``g·1[|x| ≤ 1]``) and weights as BiBench's XNOR does
(``α_w·sign(w)``, ``α_w = mean |w|`` per output channel held constant, gradient
``g·1[|w| ≤ 1]``). It is neither DoReFa-Net's k-bit formula nor larq's ``dorefa``
quantizer. The classes are those of ``bibench_bnn`` and ``bibench_xnor`` under names of
their own, so that a run records which BiBench binarizer it used.

Registered names (kind, export):

* ``bibench_dorefa_activation``: kind "sign", export "binary";
* ``bibench_dorefa_weight``: kind "scaled", export "binary".

Example:
    >>> w = tf.constant([[0.5, 2.0], [-0.25, -1.0]])
    >>> BiBenchDorefaWeight()(w).numpy().tolist()  # α_w = 0.375, 1.5
    [[0.375, 1.5], [-0.375, -1.5]]
"""

from __future__ import annotations

import tensorflow as tf  # noqa: F401  (the doctests use it)

from bnno.quantizers.bibench_bnn import BiBenchBnnActivation
from bnno.quantizers.bibench_xnor import BiBenchXnorWeight
from bnno.quantizers.registry import register


@register("bibench_dorefa_activation", roles=("activation",), kind="sign")
class BiBenchDorefaActivation(BiBenchBnnActivation):
    """sign(x), gradient ``g·1[|x| ≤ 1]`` (``dorefa.py``; as ``bibench_bnn_activation``).

    Example:
        >>> BiBenchDorefaActivation()(tf.constant([-0.2, 0.3])).numpy().tolist()
        [-1.0, 1.0]
    """


@register("bibench_dorefa_weight", roles=("kernel",), kind="scaled")
class BiBenchDorefaWeight(BiBenchXnorWeight):
    """α_w·sign(w), gradient ``g·1[|w| ≤ 1]`` (``dorefa.py``; as ``bibench_xnor_weight``).

    Example:
        >>> BiBenchDorefaWeight()(tf.constant([[1.0], [-3.0]])).numpy().ravel().tolist()
        [2.0, -2.0]
    """

"""BiBench's XNOR++ binarizer (Qin et al., ICML 2023; official code htqin/BiBench).

``bibench/models/layers/xnorplusplus.py`` (``XNORPlusPlusConv2d``) binarizes both sides
as BiBench's BNN does (sign, gradient ``g·1[|·| ≤ 1]``, no α) and multiplies the
convolution's output by three trainable factors, all initialised to 1:
``y·o[c]·h[i]·w[j]`` with ``o`` per output channel and ``h``, ``w`` per output row and
column (the official tensors hold 2000 entries, sliced to the output's height and width).

The per-output-channel factor folds into the kernel exactly, since the convolution is
linear in each output channel's filter: ``conv(x, K)·o[c] = conv(x, o[c]·K)``, with the
same gradients for ``o`` and the latent weights. ``bibench_xnorpp_weight`` is that kernel
quantizer: ``o·sign(w)`` with ``o`` a trainable variable. The spatial factors ``h``, ``w``
depend on the output position, which no quantizer sees: they need a layer,
``bnno.models.bibench_layers.XnorPlusPlusConv2D`` (a ``QuantConv2D`` that multiplies its
output by ``h ⊗ w``). The full operator is that layer with both quantizers below.

Registered names (kind, export):

* ``bibench_xnorpp_activation``: kind "sign", export "binary";
* ``bibench_xnorpp_weight``: kind "scaled" (±o per output channel), export "binary"; the
  spatial factors of ``XnorPlusPlusConv2D`` stay a float multiply after the ``LceBconv2d``.

Example:
    >>> q = BiBenchXnorPlusPlusWeight()
    >>> w = tf.constant([[0.5, -2.0], [-0.25, 0.5]])
    >>> _ = q(w)
    >>> _ = q.scale.assign([2.0, 0.5])
    >>> q(w).numpy().tolist()
    [[2.0, -0.5], [-2.0, 0.5]]
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf  # noqa: F401  (the doctests use it)

from bnno.quantizers.bibench_bnn import BiBenchBnnActivation, clip_ste
from bnno.quantizers.registry import register
from bnno.quantizers.sign_flips import CountsSignFlips


@register("bibench_xnorpp_activation", roles=("activation",), kind="sign")
class BiBenchXnorPlusPlusActivation(BiBenchBnnActivation):
    """sign(x), gradient ``g·1[|x| ≤ 1]`` (``xnorplusplus.py``; as ``bibench_bnn_activation``).

    Example:
        >>> BiBenchXnorPlusPlusActivation()(tf.constant([-0.2, 0.3])).numpy().tolist()
        [-1.0, 1.0]
    """


@register("bibench_xnorpp_weight", roles=("kernel",), kind="scaled")
class BiBenchXnorPlusPlusWeight(CountsSignFlips, lq.quantizers._BaseQuantizer):
    """o·sign(w) with a trainable ``o`` per output channel (init 1); gradient to ``w``:
    ``o·g·1[|w| ≤ 1]``, to ``o``: the sum of ``g·sign(w)`` over the channel.

    Its ``flip_ratio`` metric counts sign changes (``bnno.quantizers.sign_flips``).

    Deviation under a latent-free optimizer (Bop): the quantizer is of kind "scaled", so
    switching to one gives way to ``channel_scale``, which is ``o·k`` with the ±1 kernel
    ``k`` and a trainable ``o`` per output channel: the same operator without latent
    weights, except that ``o`` starts at mean |w| of the initial kernel instead of 1.

    Example:
        >>> w = tf.constant([[0.5], [-2.0]])
        >>> q = BiBenchXnorPlusPlusWeight()
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(w)
        ...     y = q(w)
        >>> y.numpy().ravel().tolist(), tape.gradient(y, [w, q.scale])[1].numpy().tolist()
        ([1.0, -1.0], [0.0])

    Args:
        metrics: ``["flip_ratio"]`` keeps the fraction of signs that changed between
            calls as the metric ``flip_ratio/<name>``.
    """

    precision = 1

    def build(self, input_shape):
        # No regularizer: bnno's L2 term skips quantizer variables.
        self.scale = self.add_weight("scale", (int(input_shape[-1]),), initializer="ones")
        super().build(input_shape)

    def call(self, inputs):
        return super().call(self.scale * clip_ste(inputs, lq.math.sign))

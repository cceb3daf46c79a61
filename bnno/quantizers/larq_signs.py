"""larq's own binarizers, under the names larq gives them.

``ste_sign``, ``approx_sign``, ``swish_sign`` and ``ste_heaviside`` are larq's classes,
registered as they are. ``magnitude_aware_sign`` is larq's ``MagnitudeAwareSign`` with a
flip ratio that counts sign changes (``ScaledSign``): larq's own metric rounds α·sign(w)
to int8, which is 0 for α < 1, and reports no flips at all.

Example:
    >>> from bnno.quantizers.registry import resolve
    >>> resolve({"name": "ste_sign", "clip_value": 1.5}, "activation")
    {'class_name': 'SteSign', 'config': {'clip_value': 1.5}}
"""

from __future__ import annotations

import larq as lq

from bnno.quantizers.registry import register
from bnno.quantizers.sign_flips import CountsSignFlips

for _name, _cls in (("ste_sign", lq.quantizers.SteSign),
                    ("approx_sign", lq.quantizers.ApproxSign),
                    ("swish_sign", lq.quantizers.SwishSign)):
    register(_name, kind="sign")(_cls)
# {0, 1} outputs: LCE bit-packs ±1 inputs only.
register("ste_heaviside", kind="other")(lq.quantizers.SteHeaviside)


@register("magnitude_aware_sign", roles=("kernel",), kind="scaled", keras_alias=False)
class ScaledSign(CountsSignFlips, lq.quantizers.MagnitudeAwareSign):
    """larq's ``MagnitudeAwareSign`` whose ``flip_ratio`` metric counts sign changes.

    Example:
        >>> import tensorflow as tf
        >>> ScaledSign()(tf.constant([[1.0], [-3.0]])).numpy().ravel().tolist()
        [2.0, -2.0]
        >>> q = ScaledSign(metrics=["flip_ratio"])
        >>> _ = q(tf.constant([[0.2, -0.1], [0.3, 0.4]]))
        >>> _ = q(tf.constant([[0.2, 0.1], [0.3, 0.5]]))
        >>> float(q.flip_ratio.result())
        0.25
    """

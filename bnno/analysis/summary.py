"""Model size and cost: larq's profile as exact integers, and OPs as BNN papers count them.

``bops`` are binary multiply-accumulates (weight and input both 1-bit), ``flops`` the
full-precision ones; ``ops = bops / 64 + flops`` (a 64-bit word does 64 binary MACs
at once, the rule binary-network papers count by) and the binarization degree is
``(bops / 64) / ops``. A model may register the figures its paper publishes
(``bnno.models.register(published=...)``); ``ops_table`` shows them beside bnno's.

Example:
    ``profile(model)["ops"]`` of a model with 4·8 binary MACs and 8·2 real ones is
    32 / 64 + 16 = 16.5 (``profile`` shows it run).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def profile(model) -> dict[str, float]:
    """Parameter, MAC and OP counts of ``model``.

    ``binary_params`` are weights of precision 1; ``binary_macs`` (also ``bops``) are
    MACs whose weight and input are both binary, ``fp_macs`` (also ``flops``) those
    computed at 32 bits (larq's rules).

    Example:
        >>> import larq as lq
        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([
        ...     tf.keras.Input((4,)),
        ...     lq.layers.QuantDense(8, input_quantizer="ste_sign", kernel_quantizer="ste_sign",
        ...                          kernel_constraint="weight_clip", use_bias=False),
        ...     tf.keras.layers.Dense(2)])
        >>> for key, value in profile(model).items():
        ...     print(key, value)
        total_params 50
        trainable_params 50
        binary_params 32
        binary_macs 32
        fp_macs 16
        bops 32
        flops 16
        ops 16.5
        binarization_degree 0.030303030303030304
    """
    import larq as lq
    import numpy as np

    prof = lq.models.ModelProfile(model)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    bops = int(prof.op_count("mac", 1) or 0)
    flops = int(prof.op_count("mac", 32) or 0)
    ops = bops / 64 + flops
    return {
        "total_params": int(model.count_params()),
        "trainable_params": trainable,
        "binary_params": int(prof.weight_count(bitwidth=1)),
        "binary_macs": bops,
        "fp_macs": flops,
        "bops": bops,
        "flops": flops,
        "ops": ops,
        "binarization_degree": (bops / 64) / ops if ops else 0.0,
    }


def ops_table(counts: dict[str, float], published: Mapping[str, Any] | None = None) -> str:
    """Our OPs, next to the ``published`` ones (a model's registered figures: their
    ``source``, ``ops`` and ``binarization_degree``) when given.

    Example:
        >>> counts = {"bops": 6.4e9, "flops": 50e6, "ops": 150e6, "binarization_degree": 2 / 3}
        >>> print(ops_table(counts, {"source": "A paper's table", "ops": 77e6,
        ...                          "binarization_degree": 0.9781}))
        BOPs 6.400 G, FLOPs 50.0 M, OPs = BOPs/64 + FLOPs = 150.0 M, binarization degree 66.67 %
        A paper's table: 77 M OPs, binarization degree 97.81 %
    """
    lines = [f"BOPs {counts['bops'] / 1e9:.3f} G, FLOPs {counts['flops'] / 1e6:.1f} M, "
             f"OPs = BOPs/64 + FLOPs = {counts['ops'] / 1e6:.1f} M, binarization degree "
             f"{100 * counts['binarization_degree']:.2f} %"]
    if published:
        ops = published.get("ops")
        lines.append(
            f"{published.get('source', 'published')}: "
            + (f"{ops / 1e6:.0f} M OPs, " if ops else "")
            + f"binarization degree {100 * published['binarization_degree']:.2f} %"
            + (f" ({published['note']})" if published.get("note") else ""))
    return "\n".join(lines)

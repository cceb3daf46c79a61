"""Model size and cost: larq's profile as exact integers, and OPs as BNN papers count them.

``bops`` are binary multiply-accumulates (weight and input both 1-bit), ``flops`` the
full-precision ones; ``ops = bops / 64 + flops`` (a 64-bit word does 64 binary MACs
at once, the rule of Bi-Real Net, ReActNet and BNext's paper) and the binarization
degree is ``(bops / 64) / ops``.

Example:
    ``profile(model)["ops"]`` of a model with 4·8 binary MACs and 8·2 real ones is
    32 / 64 + 16 = 16.5 (``profile`` shows it run).
"""

from __future__ import annotations

# The BNext README's figures (ImageNet, 224×224): its "BOPs (G)" column and the
# binarization degree. The column is numerically the total OPs under the authors' own
# convention, which counts the full-precision layers at a discount (docs/bnext.md).
PUBLISHED: dict[str, dict[str, float]] = {
    "bnext_t": {"ops": 0.077e9, "binarization_degree": 0.9781},
    "bnext_s": {"ops": 0.172e9, "binarization_degree": 0.9847},
    "bnext_m": {"ops": 0.317e9, "binarization_degree": 0.9902},
    "bnext_l": {"ops": 0.819e9, "binarization_degree": 0.9949},
    "bnext_18": {"binarization_degree": 0.6104},
}


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


def ops_table(counts: dict[str, float], published: dict[str, float] | None = None) -> str:
    """Our OPs, next to the ``published`` ones (an entry of ``PUBLISHED``) when given.

    Example:
        >>> counts = {"bops": 6.4e9, "flops": 50e6, "ops": 150e6, "binarization_degree": 2 / 3}
        >>> print(ops_table(counts, PUBLISHED["bnext_t"]))
        BOPs 6.400 G, FLOPs 50.0 M, OPs = BOPs/64 + FLOPs = 150.0 M, binarization degree 66.67 %
        BNext README: 77 M OPs, binarization degree 97.81 % (its own convention; see docs/bnext.md)
    """
    lines = [f"BOPs {counts['bops'] / 1e9:.3f} G, FLOPs {counts['flops'] / 1e6:.1f} M, "
             f"OPs = BOPs/64 + FLOPs = {counts['ops'] / 1e6:.1f} M, binarization degree "
             f"{100 * counts['binarization_degree']:.2f} %"]
    if published:
        ops = published.get("ops")
        lines.append(
            "BNext README: " + (f"{ops / 1e6:.0f} M OPs, " if ops else "")
            + f"binarization degree {100 * published['binarization_degree']:.2f} % "
            "(its own convention; see docs/bnext.md)")
    return "\n".join(lines)

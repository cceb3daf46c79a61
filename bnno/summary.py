"""Model size and cost: larq's profile as exact integers, and OPs as BNN papers count them.

``bops`` are binary multiply-accumulates (weight and input both 1-bit), ``flops`` the
full-precision ones; ``ops = bops / 64 + flops`` (a 64-bit word does 64 binary MACs
at once, the rule of Bi-Real Net, ReActNet and BNext's paper) and the binarization
degree is ``(bops / 64) / ops``.

Example:
    >>> profile(model)  # doctest: +SKIP
    {'total_params': 14032512, 'trainable_params': ..., 'binary_params': ...,
     'binary_macs': ..., 'fp_macs': ..., 'bops': ..., 'flops': ..., 'ops': ...,
     'binarization_degree': ...}
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
        >>> profile(model)["ops"]  # doctest: +SKIP
        88661537.0
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
        >>> print(ops_table(profile(model), PUBLISHED["bnext_t"]))  # doctest: +SKIP
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

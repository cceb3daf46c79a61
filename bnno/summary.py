"""Model size and cost: larq's profile, as exact integers.

Example:
    >>> profile(model)  # doctest: +SKIP
    {'total_params': 14032512, 'trainable_params': ..., 'binary_params': ...,
     'binary_macs': ..., 'fp_macs': ...}
"""

from __future__ import annotations


def profile(model) -> dict[str, int]:
    """Parameter and multiply-accumulate counts of ``model``.

    ``binary_params`` are weights of precision 1; ``binary_macs`` are MACs whose weight
    and input are both binary, ``fp_macs`` those computed at 32 bits (larq's rules).
    """
    import larq as lq
    import numpy as np

    prof = lq.models.ModelProfile(model)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return {
        "total_params": int(model.count_params()),
        "trainable_params": trainable,
        "binary_params": int(prof.weight_count(bitwidth=1)),
        "binary_macs": int(prof.op_count("mac", 1) or 0),
        "fp_macs": int(prof.op_count("mac", 32) or 0),
    }

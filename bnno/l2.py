"""Coupled L2 weight decay, as PyTorch's ``Adam(weight_decay=wd)`` applies it.

PyTorch adds ``wd·w`` to every gradient before Adam normalises it (unlike AdamW's
decoupled decay). A loss term ``wd/2 · Σ w²`` has exactly that gradient, so it is added
to the model's losses. Si-BNN's official code decays every parameter except the
binarizers' thresholds θ and 1/Δ; Bop's ±1 kernels are not latent weights, so they are
left out too.

Example:
    >>> add_to(model, 1e-6)  # doctest: +SKIP
"""

from __future__ import annotations

from bnno import optimizers, sibnn


def decayed(model) -> list:
    """The variables ``add_to`` decays: all trainable ones but thresholds and ±1 kernels.

    Example:
        >>> len(decayed(model)) < len(model.trainable_variables)  # doctest: +SKIP
        True
    """
    skip = {id(v) for v in sibnn.thresholds(model) + optimizers.binary_kernels(model)}
    return [v for v in model.trainable_variables if id(v) not in skip]


def add_to(model, decay: float) -> None:
    """Add ``decay/2 · Σ w²`` over ``decayed(model)`` to the model's losses.

    Example:
        >>> add_to(model, 1e-6)  # doctest: +SKIP
    """
    import tensorflow as tf

    variables = decayed(model)
    model.add_loss(lambda: 0.5 * decay * tf.add_n([tf.reduce_sum(tf.square(v))
                                                   for v in variables]))

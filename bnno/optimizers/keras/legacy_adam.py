"""Legacy Keras Adam that can add ε where PyTorch adds it.

Keras' (legacy) Adam folds both bias corrections into the step size and adds ε to the
uncorrected √v (the "ε̂" of Kingma & Ba's efficient form); PyTorch's ``Adam``/``AdamW``
add ε to the bias-corrected √v̂ = √v / √(1 − β₂ᵗ) (their Algorithm 1). The two differ
wherever √v̂ is not much larger than ε, most of all in the first thousand steps. Adding
ε·√(1 − β₂ᵗ) in Keras' form gives PyTorch's step exactly, so recipes taken from PyTorch
code (``adam_epsilon`` in a set; BNext's AdamW) train with PyTorch's update; recipes from
TensorFlow code keep Keras' own.

The state (``m``, ``v``, iterations) and the checkpoint layout are legacy Adam's, and
larq's ``CaseOptimizer`` takes it like any legacy optimizer.

Example:
    >>> opt = Adam(1e-3, epsilon=1e-8, pytorch_epsilon=True)
    >>> var = tf.Variable([1.0])
    >>> _ = opt.apply_gradients([(tf.constant([1e-8]), var)])
    >>> # PyTorch: m̂ = g, v̂ = g², step = lr·g / (|g| + ε) = lr / 2
    >>> round(float(1.0 - var.numpy()[0]), 7)
    0.0005
"""

from __future__ import annotations

import tensorflow as tf


def variable_key(var) -> str:
    """The key of ``var`` for per-variable settings (AdamW's decay groups, ScaledAdam's
    factors): a replica's copy maps to its distributed container, as legacy optimizers
    key their slots.

    Example:
        >>> var = tf.Variable(1.0)
        >>> variable_key(var) == var._unique_id
        True
    """
    container = getattr(var, "_distributed_container", None)
    if container is not None:
        var = container()
    return var._unique_id


class Adam(tf.keras.optimizers.legacy.Adam):
    """Legacy Adam; with ``pytorch_epsilon`` ε is added to the bias-corrected √v̂.

    Example:
        >>> Adam(1e-3).get_config()["pytorch_epsilon"]
        False
    """

    def __init__(self, learning_rate=1e-3, epsilon: float = 1e-7,
                 pytorch_epsilon: bool = False, name: str = "Adam", **kwargs):
        super().__init__(learning_rate=learning_rate, epsilon=epsilon, name=name, **kwargs)
        self.pytorch_epsilon = bool(pytorch_epsilon)

    def _prepare_local(self, var_device, var_dtype, apply_state):
        super()._prepare_local(var_device, var_dtype, apply_state)
        if self.pytorch_epsilon:
            coefficients = apply_state[(var_device, var_dtype)]
            coefficients["epsilon"] = coefficients["epsilon"] * tf.sqrt(
                1.0 - coefficients["beta_2_power"])

    def get_config(self) -> dict:
        return {**super().get_config(), "pytorch_epsilon": self.pytorch_epsilon}

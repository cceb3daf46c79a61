"""Bop2ndOrder (Suarez-Ramirez et al., 2021): Bop with a second moment of the gradient.

For each binary weight w with gradient g, per step (the official code,
CuauSuarez/Bop2ndOrder ``bnn_optimization/optimizers.py``, class ``Bop2ndOrder`` l.146-157,
the same on its branches ``master`` and ``conference``):

    m ← m + γ·(g − m),   v ← v + σ·(g² − v),   flip w where w·m / (√v + ε) > τ

with ε = 1e-10. ``bias_correction=True`` is the code's bias-corrected optimizer (class
``Bop2ndOrder_unbiased`` l.228-239, on the ``conference`` branch, bf29ed4, which holds
the sets the repository's README runs): flip w where w·(m/γ) / (√(v/σ) + ε) > τ, with the
current γ and σ (the schedules' values at this step, not a product over the steps: after
a step decay m/γ and v/σ jump, as in the code). Where the code has no step count and no
1 − (1 − γ)^t, neither has this class. γ, σ and τ take schedules, read at the optimizer's
own step count before its increment, as larq's ``Bop`` and the official classes read them.

Example:
    >>> import tensorflow as tf
    >>> w = tf.Variable([1.0, -1.0, 1.0])
    >>> opt = Bop2ndOrder(threshold=0.5, gamma=1.0, sigma=1.0)
    >>> _ = opt.apply_gradients([(tf.constant([2.0, 2.0, -2.0]), w)])
    >>> w.numpy()  # w·m/√v = 1, -1, -1: only the first exceeds τ
    array([-1., -1.,  1.], dtype=float32)
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf

EPSILON = 1e-10


@lq.utils.register_keras_custom_object
class Bop2ndOrder(lq.optimizers.Bop):
    """larq's ``Bop`` with the second moment ``v`` and, optionally, bias correction.

    Example:
        >>> opt = Bop2ndOrder(threshold=1e-6, gamma=1e-7, sigma=1e-3, bias_correction=True)
        >>> opt.get_config()["sigma"], opt.get_config()["bias_correction"]
        (0.001, True)

    Args:
        threshold: τ, the flip threshold on w·m/(√v + ε).
        gamma: γ, the rate of the first moment m.
        sigma: σ, the rate of the second moment v.
        bias_correction: compare w·(m/γ)/(√(v/σ) + ε) with τ, the official
            ``Bop2ndOrder_unbiased``.
    """

    def __init__(self, threshold: float = 1e-6, gamma: float = 1e-6, sigma: float = 1e-2,
                 bias_correction: bool = False, name: str = "Bop2ndOrder", **kwargs):
        super().__init__(threshold=threshold, gamma=gamma, name=name, **kwargs)
        self._set_hyper("sigma", sigma)
        self.bias_correction = bool(bias_correction)

    def _create_slots(self, var_list):
        for var in var_list:
            self.add_slot(var, "m")
            self.add_slot(var, "v")

    def _resource_apply_dense(self, grad, var):
        dtype = var.dtype.base_dtype
        gamma = self._get_decayed_hyper("gamma", dtype)
        sigma = self._get_decayed_hyper("sigma", dtype)
        threshold = self._get_decayed_hyper("threshold", dtype)
        m = self.get_slot(var, "m").assign_add(gamma * (grad - self.get_slot(var, "m")))
        v = self.get_slot(var, "v").assign_add(
            sigma * (tf.square(grad) - self.get_slot(var, "v")))
        if self.bias_correction:
            signal = var * ((m / gamma) / (tf.sqrt(v / sigma) + EPSILON))
        else:
            signal = var * (m / (tf.sqrt(v) + EPSILON))
        return var.assign(lq.math.sign(-tf.sign(signal - threshold) * var)).op

    def get_config(self) -> dict:
        return {**super().get_config(), "sigma": self._serialize_hyperparameter("sigma"),
                "bias_correction": self.bias_correction}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if isinstance(config.get("sigma"), dict):
            config["sigma"] = tf.keras.optimizers.schedules.deserialize(
                config["sigma"], custom_objects=custom_objects)
        return super().from_config(config, custom_objects)

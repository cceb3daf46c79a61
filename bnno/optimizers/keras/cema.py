"""CEMA (Quist et al., ICLR 2023, "Understanding weight-magnitude hyperparameters in
training binary networks"): a cascade of two exponential moving averages of the gradient
that flips ±1 weights without latent weights.

For each binary weight w with gradient g, per step (the official code,
jorisquist/Understanding-WM-HP-in-BNNs ``optimizers/cema_optimizer.py``,
``cascaded_ema``):

    m ← (1 − γ)·m + γ·g,   v ← (1 − α)·v + α·m,   flip w where v·w > 0

with m and v starting at 0, v taking the m just updated, no threshold and the two
averages kept across a flip. α follows the learning-rate schedule: the official
optimizer's ``lr`` starts at 1 and a ``LambdaLR`` scales it, and each step uses
``α = α₀ · lr``; the official step-2 script decays it by ``1 − e/E`` per epoch, stepped
at the end of the epoch (``bnno.schedules.linear_epochs.LinearEpochs`` with
``offset=0``). Here ``alpha`` and ``gamma`` take such schedules, read at the optimizer's
own step count, as larq's ``Bop`` reads its hyperparameters.

The official optimizer turns the binary weights into their signs when it is created
(``p.sign_()``); in bnno ``cema`` is registered with ``signed_start``, so its kernels are
±1 from the start (``bnno.optimizers.kernels.start_kernels``: the sign of the initial
draw, 0 → +1 where PyTorch's sign gives 0, a draw of probability 0).

Example:
    >>> import tensorflow as tf
    >>> w = tf.Variable([1.0, -1.0, 1.0, -1.0])
    >>> opt = Cema(alpha=1.0, gamma=1.0)
    >>> _ = opt.apply_gradients([(tf.constant([0.5, 0.5, -0.5, -0.5]), w)])
    >>> w.numpy()  # v = g: flip where g has the weight's sign
    array([-1., -1.,  1.,  1.], dtype=float32)
"""

from __future__ import annotations

import larq as lq
import tensorflow as tf


@lq.utils.register_keras_custom_object
class Cema(tf.keras.optimizers.legacy.Optimizer):
    """CEMA for ±1 weights: slots ``momentum`` (m) and ``inertia`` (v), as the official
    ``momentum_buffer`` and ``inertia_buffer``.

    Example:
        >>> Cema(alpha=1e-5, gamma=1e-3).get_config()["gamma"]
        0.001

    Args:
        alpha: α, the rate of the second average v (the official ``initial_alpha``; a
            schedule gives α at each step).
        gamma: γ, the rate of the first average m.
        name: the optimizer's name.
    """

    _HAS_AGGREGATE_GRAD = True

    def __init__(self, alpha: float = 1e-5, gamma: float = 1e-3, name: str = "Cema", **kwargs):
        super().__init__(name=name, **kwargs)
        self._set_hyper("alpha", alpha)
        self._set_hyper("gamma", gamma)

    def _create_slots(self, var_list):
        for var in var_list:
            self.add_slot(var, "momentum")
            self.add_slot(var, "inertia")

    def _get_decayed_hyper(self, name: str, var_dtype):
        hyper = self._get_hyper(name, var_dtype)
        if isinstance(hyper, tf.keras.optimizers.schedules.LearningRateSchedule):
            hyper = tf.cast(hyper(tf.cast(self.iterations, var_dtype)), var_dtype)
        return hyper

    def _resource_apply_dense(self, grad, var):
        dtype = var.dtype.base_dtype
        alpha = self._get_decayed_hyper("alpha", dtype)
        gamma = self._get_decayed_hyper("gamma", dtype)
        m = self.get_slot(var, "momentum")
        v = self.get_slot(var, "inertia")
        m_t = m.assign(m * (1.0 - gamma) + gamma * grad)
        v_t = v.assign(v * (1.0 - alpha) + alpha * m_t)
        return var.assign(tf.where(v_t * var > 0, -var, var)).op

    def _resource_apply_sparse(self, grad, var, indices):
        raise NotImplementedError("CEMA trains dense kernels only")

    def get_config(self) -> dict:
        return {**super().get_config(), "alpha": self._serialize_hyperparameter("alpha"),
                "gamma": self._serialize_hyperparameter("gamma")}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for hyper in ("alpha", "gamma"):
            if isinstance(config.get(hyper), dict):
                config[hyper] = tf.keras.optimizers.schedules.deserialize(
                    config[hyper], custom_objects=custom_objects)
        return cls(**config)

    @staticmethod
    def is_binary_variable(var: tf.Variable) -> bool:
        """The variables CEMA trains: those tagged ``precision == 1`` (larq's ``Bop`` rule).

        Example:
            >>> Cema.is_binary_variable(tf.Variable(1.0))
            False
        """
        return lq.optimizers.Bop.is_binary_variable(var)

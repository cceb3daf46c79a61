"""AdamW with two decoupled weight-decay groups, as BNext's recipe uses it.

PyTorch's ``AdamW`` decays every parameter by ``p ← p·(1 − lr·wd)`` before the Adam
step, with a different ``wd`` per parameter group. Keras' own ``AdamW`` has one rate and
is not a legacy optimizer (the kind bnno's Bop runs and larq's ``CaseOptimizer`` use),
so this subclass of legacy Adam applies a per-variable rate itself. Gradients are
clipped by their global norm across all groups at once (Keras' ``global_clipnorm``),
as ``clip_grad_norm_`` does. The step is PyTorch's: ε (default 1e-8, PyTorch's) is added
to the bias-corrected √v̂, not to Keras' uncorrected √v (``bnno.optimizers.keras.legacy_adam``).

Groups by role (the official code splits by tensor rank, which in Keras' layouts does
not line up with roles): the kernels of convolutions and variables of layers marked
``weight_decay_group = "low"`` (learnable biases, mix scales) get the low rate;
everything else (batch norm, PReLU, convolution biases such as the SE biases, dense
layers) the normal rate.

Example:
    >>> import tensorflow as tf
    >>> model = tf.keras.Sequential([
    ...     tf.keras.Input((4, 4, 1)), tf.keras.layers.Conv2D(2, 3, name="conv"),
    ...     tf.keras.layers.Flatten(), tf.keras.layers.Dense(2, name="dense")])
    >>> opt = AdamW(1e-3, weight_decay=1e-3, weight_decay_low=1e-8, global_clipnorm=5.0)
    >>> opt.assign_groups(model)
    >>> conv = model.get_layer("conv")
    >>> opt.decay_of(conv.kernel), opt.decay_of(conv.bias)
    (1e-08, 0.001)
"""

from __future__ import annotations

import tensorflow as tf

from bnno.optimizers.keras.legacy_adam import Adam, variable_key


def low_decay_variables(model) -> list:
    """The variables of ``model`` that get the low decay rate.

    Example:
        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([
        ...     tf.keras.Input((4, 4, 1)), tf.keras.layers.Conv2D(2, 3, name="conv"),
        ...     tf.keras.layers.Flatten(), tf.keras.layers.Dense(2, name="dense")])
        >>> [v.name for v in low_decay_variables(model)]
        ['conv/kernel:0']
    """
    low = []
    for layer in model.submodules:
        if not isinstance(layer, tf.keras.layers.Layer):
            continue
        if getattr(layer, "weight_decay_group", None) == "low":
            low.extend(layer._trainable_weights)
        elif isinstance(layer, tf.keras.layers.Conv2D) or "Conv" in type(layer).__name__:
            kernel = getattr(layer, "kernel", None)
            if kernel is not None and kernel.trainable:
                low.append(kernel)
    return low


class AdamW(Adam):
    """Legacy Adam with decoupled weight decay at a per-variable rate.

    ``assign_groups(model)`` must be called once before training (``bnno.training.build`` does).

    Example:
        With a zero gradient Adam's step is 0, so only the decay
        ``p ← p·(1 − lr·wd) = p·(1 − 0.1·0.5)`` moves the weights:

        >>> import tensorflow as tf
        >>> opt = AdamW(0.1, weight_decay=0.5, weight_decay_low=1e-8)
        >>> p = tf.Variable([1.0, -2.0])
        >>> _ = opt.apply_gradients([(tf.zeros(2), p)])
        >>> p.numpy()
        array([ 0.95, -1.9 ], dtype=float32)
    """

    def __init__(self, learning_rate=1e-3, weight_decay: float = 1e-2,
                 weight_decay_low: float = 0.0, epsilon: float = 1e-8, name: str = "AdamW",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, epsilon=epsilon, pytorch_epsilon=True,
                         name=name, **kwargs)
        self.weight_decay = float(weight_decay)
        self.weight_decay_low = float(weight_decay_low)
        self._low: set = set()

    def assign_groups(self, model) -> None:
        """Give the low rate to ``low_decay_variables(model)``, the normal one to the rest.

        Example:
            >>> import tensorflow as tf
            >>> model = tf.keras.Sequential([
            ...     tf.keras.Input((4, 4, 1)), tf.keras.layers.Conv2D(2, 3, name="conv")])
            >>> kernel = model.get_layer("conv").kernel
            >>> opt = AdamW(1e-3, weight_decay=1e-3, weight_decay_low=1e-8)
            >>> opt.decay_of(kernel)  # before: every variable gets the normal rate
            0.001
            >>> opt.assign_groups(model)
            >>> opt.decay_of(kernel)
            1e-08
        """
        self._low = {variable_key(v) for v in low_decay_variables(model)}

    def decay_of(self, var) -> float:
        """The decay rate ``var`` gets.

        Example:
            >>> import tensorflow as tf
            >>> model = tf.keras.Sequential([
            ...     tf.keras.Input((3,)), tf.keras.layers.Dense(2, name="dense")])
            >>> opt = AdamW(1e-3, weight_decay=1e-3, weight_decay_low=1e-8)
            >>> opt.assign_groups(model)
            >>> opt.decay_of(model.get_layer("dense").kernel)  # dense kernels: normal rate
            0.001
        """
        return self.weight_decay_low if variable_key(var) in self._low else self.weight_decay

    def _decay(self, var, apply_state):
        wd = self.decay_of(var)
        if not wd:
            return tf.no_op()
        var_device, var_dtype = var.device, var.dtype.base_dtype
        coefficients = (apply_state or {}).get((var_device, var_dtype)) or \
            self._fallback_apply_state(var_device, var_dtype)
        return var.assign_sub(coefficients["lr_t"] * wd * var, read_value=False)

    def _resource_apply_dense(self, grad, var, apply_state=None):
        with tf.control_dependencies([self._decay(var, apply_state)]):
            return super()._resource_apply_dense(grad, var, apply_state)

    def _resource_apply_sparse(self, grad, var, indices, apply_state=None):
        with tf.control_dependencies([self._decay(var, apply_state)]):
            return super()._resource_apply_sparse(grad, var, indices, apply_state)

    def get_config(self) -> dict:
        return {**super().get_config(), "weight_decay": self.weight_decay,
                "weight_decay_low": self.weight_decay_low}

"""SGD with PyTorch's update rule (``torch.optim.SGD``), as a legacy Keras optimizer.

PyTorch's SGD (``torch/optim/sgd.py``, ``_single_tensor_sgd``), for a parameter ``w``
with gradient ``g`` and learning rate ``lr`` at this step:

1. coupled weight decay: ``g ← g + wd·w``;
2. momentum (μ > 0): the buffer ``b ← g`` at the first step, afterwards
   ``b ← μ·b + (1 − dampening)·g``; then ``g ← g + μ·b`` with Nesterov, else ``g ← b``;
3. ``w ← w − lr·g``.

Keras' SGD keeps a velocity that already contains the learning rate (``v ← μ·v − lr·g``,
``w ← w + v``). With a constant rate, no dampening and no decay the two give the same
steps; when the rate follows a schedule, Keras' velocity keeps the rates of past steps
while PyTorch scales the whole buffer by the current one, so the steps differ from the
first change of rate on. Dampening and the first step's ``b = g`` (not ``(1 − dampening)·g``)
are PyTorch's too, and so is the check that Nesterov needs momentum and no dampening.

The momentum buffer is the slot ``momentum`` (only with μ > 0); ``iterations`` tells the
first step, so a resumed run continues with its buffer.

Example:
    >>> opt = SGD(0.1, momentum=0.9, weight_decay=0.5)
    >>> w = tf.Variable([1.0])
    >>> _ = opt.apply_gradients([(tf.constant([1.0]), w)])  # b = g + wd·w = 1.5
    >>> round(float(w.numpy()[0]), 6)  # 1 − 0.1·1.5
    0.85
"""

from __future__ import annotations

import tensorflow as tf


class SGD(tf.keras.optimizers.legacy.Optimizer):
    """Legacy Keras optimizer with ``torch.optim.SGD``'s update (see the module docstring).

    Raises:
        ValueError: a negative rate, momentum, dampening or decay, or Nesterov without
            momentum or with dampening (PyTorch's checks).

    Example:
        >>> SGD(0.1, momentum=0.9, nesterov=True).get_config()["nesterov"]
        True
        >>> SGD(0.1, nesterov=True)
        Traceback (most recent call last):
        ...
        ValueError: Nesterov momentum requires a momentum and zero dampening
    """

    _HAS_AGGREGATE_GRAD = True

    def __init__(self, learning_rate=0.01, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, name: str = "SGD",
                 **kwargs):
        for key, value in (("momentum", momentum), ("dampening", dampening),
                           ("weight_decay", weight_decay)):
            if value < 0:
                raise ValueError(f"Invalid {key} value: {value}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(name, **kwargs)
        self._set_hyper("learning_rate", kwargs.get("lr", learning_rate))
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.weight_decay = float(weight_decay)
        self.nesterov = bool(nesterov)

    def _create_slots(self, var_list):
        if self.momentum:
            for var in var_list:
                self.add_slot(var, "momentum")

    def _resource_apply_dense(self, grad, var, apply_state=None):
        lr = self._decayed_lr(var.dtype.base_dtype)
        if self.weight_decay:
            grad = grad + self.weight_decay * var
        if self.momentum:
            buffer = self.get_slot(var, "momentum")
            later = self.momentum * buffer + (1.0 - self.dampening) * grad
            new = tf.where(tf.equal(self.iterations, 0), grad, later)
            update = buffer.assign(new)
            grad = grad + self.momentum * new if self.nesterov else new
            with tf.control_dependencies([update]):
                return var.assign_sub(lr * grad, read_value=False)
        return var.assign_sub(lr * grad, read_value=False)

    def _resource_apply_sparse(self, grad, var, indices, apply_state=None):
        # PyTorch's SGD treats a sparse gradient as the dense one it stands for.
        dense = tf.math.unsorted_segment_sum(grad, indices, tf.shape(var)[0])
        return self._resource_apply_dense(dense, var, apply_state)

    def get_config(self) -> dict:
        return {**super().get_config(),
                "learning_rate": self._serialize_hyperparameter("learning_rate"),
                "momentum": self.momentum, "dampening": self.dampening,
                "weight_decay": self.weight_decay, "nesterov": self.nesterov}

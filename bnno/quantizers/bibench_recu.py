"""BiBench's ReCU binarizer (Qin et al., ICML 2023; official code htqin/BiBench).

``bibench/models/layers/recu.py`` (``ReCUConv2d``):

* weights: per output channel, ``w0 = w − mean(w)``, ``w1 = w0 / (√(var(w0) + 1e-5) / 2 / √2)``
  with PyTorch's unbiased variance over the channel's ``n`` weights (kernel height × width ×
  input channels); ``Q = −mean|w1|·ln(2 − 2τ)``, the mean over the whole kernel, held
  constant; ``w2 = clamp(w1, −Q, Q)``; the binary kernel is ``sign(w2)`` with an identity
  straight-through gradient, which then runs through the clamp and the standardisation
  (its mean and variance included). The convolution's output is multiplied by a trainable
  ``α`` per output channel (initialised uniform in [0, 1), PyTorch's ``torch.rand``); that
  factor folds into the kernel exactly, so the kernel quantizer returns ``α·sign(w2)``.
  Since ``Q > 0``, ``sign(w2) = sign(w1) = sign(w − mean(w))``: τ changes only the gradient.
* activations: in training ``a0 = a / √(var(a) + 1e-5)`` with the unbiased variance over
  each sample's channels, rows and columns (not held constant), at inference ``a0 = a``;
  the output is ``sign(a0)`` (the same values in both modes) and its gradient
  ``g·max(0, 2 − |2·a0|)``, which then runs through the division.
* τ: a buffer that starts at 1 (no clamp: Q = ∞) and that the official training hook sets
  before every epoch (``model_params_update``, ``configs``' ``extra_hooks``):
  ``τ = A·e^(epoch / epochs) + B`` with ``A = (0.99 − 0.85) / (e − 1)``, ``B = 0.85 − A``
  (τ = 0.85 at the first epoch, rising towards 0.99), in float32. Here
  ``on_epochs_done(epochs_done, epochs)`` sets it; after the last epoch it keeps the last
  epoch's value, as the official state does.

Registered names (kind, export):

* ``bibench_recu_activation``: kind "sign", export "binary";
* ``bibench_recu_weight``: kind "scaled" (±α per output channel), export "binary".

sign(0) = +1 (larq's) where PyTorch's sign gives 0, as in ``bnno.quantizers.bibench_bnn``.

Example:
    >>> q = BiBenchReCUWeight()
    >>> _ = q(tf.ones((3, 3, 2, 4)))
    >>> q.on_epochs_done(0, 10)
    >>> round(float(q.tau), 6)
    0.85
"""

from __future__ import annotations

import math
import random

import larq as lq
import numpy as np
import tensorflow as tf

from bnno.quantizers.registry import register

EPSILON = 1e-5
TAU_MIN, TAU_MAX = 0.85, 0.99


def recu_tau(epoch: int, epochs: int) -> float:
    """ReCU's τ before (0-based) epoch ``epoch`` of ``epochs``, in float32 as the official code.

    Example:
        >>> round(recu_tau(0, 100), 6), round(recu_tau(99, 100), 6)
        (0.85, 0.987796)
    """
    e = np.float32(np.e)
    t_min, t_max = np.float32(TAU_MIN), np.float32(TAU_MAX)
    a = (t_max - t_min) / (e - np.float32(1))
    b = t_min - a
    return float(a * np.power(e, np.float32(epoch / epochs)) + b)


def _unbiased_variance(x: tf.Tensor, axes: list[int]) -> tf.Tensor:
    n = math.prod(x.shape[i] for i in axes)
    return tf.math.reduce_variance(x, axis=axes, keepdims=True) * (n / (n - 1))


def _sign(x: tf.Tensor, gradient) -> tf.Tensor:
    @tf.custom_gradient
    def sign(x):
        return lq.math.sign(x), lambda dy: gradient(x, dy)

    return sign(x)


class EpochSchedule:
    """Mixin: the epoch a quantizer's schedule is at, from ``on_epochs_done``.

    The official hook runs before each of the epochs 0 … E − 1 with the number of
    epochs done; after the last epoch the state stays at epoch E − 1.

    Example:
        >>> EpochSchedule.epoch(3, 10), EpochSchedule.epoch(10, 10)
        (3, 9)
    """

    @staticmethod
    def epoch(epochs_done: int, epochs: int) -> int:
        if epochs < 1 or epochs_done < 0:
            raise ValueError(f"epochs must be >= 1 and epochs_done >= 0, got {epochs_done} "
                             f"of {epochs}")
        return min(int(epochs_done), int(epochs) - 1)


@register("bibench_recu_activation", roles=("activation",), kind="sign")
class BiBenchReCUActivation(lq.quantizers.Quantizer):
    """sign(a); gradient ``g·max(0, 2 − |2·a0|)`` with ``a0`` the standardised input in
    training (see the module docstring).

    Example:
        >>> x = tf.constant([[-2.0, -0.5, 0.5, 2.0]])
        >>> with tf.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = BiBenchReCUActivation()(x, training=False)  # a0 = a
        >>> y.numpy().tolist(), tape.gradient(y, x).numpy().tolist()
        ([[-1.0, -1.0, 1.0, 1.0]], [[0.0, 1.0, 1.0, 0.0]])
    """

    precision = 1

    def call(self, inputs, training=None):
        a0 = inputs
        if training:
            axes = list(range(1, inputs.shape.rank))
            a0 = inputs / tf.sqrt(_unbiased_variance(inputs, axes) + EPSILON)
        return _sign(a0, lambda x, dy: tf.maximum(2.0 - tf.abs(2.0 * x), 0.0) * dy)


@register("bibench_recu_weight", roles=("kernel",), kind="scaled")
class BiBenchReCUWeight(EpochSchedule, lq.quantizers.Quantizer):
    """α·sign(clamp(standardised w, −Q, Q)) per output channel, τ on its schedule.

    ``α`` (``scale``) is trainable, ``τ`` (``tau``) a non-trainable variable, so checkpoints
    carry both.

    Deviation under a latent-free optimizer (Bop): the quantizer is of kind "scaled", so
    switching to one gives way to ``channel_scale``, ±1 kernels times a trainable α per
    output channel. That is this quantizer's forward form without latent weights; the
    standardisation and τ act only on the latent weights and their gradient, which Bop
    does not have, and α starts at mean |w| of the initial kernel instead of U[0, 1).

    Example:
        >>> q = BiBenchReCUWeight()
        >>> y = q(tf.constant([[0.5, -2.0], [-0.25, 0.5], [0.0, 0.1]]))
        >>> _ = q.scale.assign([1.0, 2.0])
        >>> q(tf.constant([[0.5, -2.0], [-0.25, 0.5], [0.0, 0.1]])).numpy().tolist()
        [[1.0, -2.0], [-1.0, 2.0], [-1.0, 2.0]]

    Args:
        seed: seed of α's uniform initial values (``torch.rand`` in the official code);
            drawn when not given.
    """

    precision = 1

    def __init__(self, seed: int | None = None, **kwargs):
        # α's uniform draw is fixed by a seed of its own, drawn (from Python's generator,
        # which a seeded run seeds) when none is given, so that the quantizer rebuilt from
        # its config starts from the same α.
        self.seed = random.randrange(2**31) if seed is None else int(seed)
        super().__init__(**kwargs)

    def build(self, input_shape):
        # No regularizer: bnno's L2 term skips quantizer variables.
        uniform = tf.keras.initializers.RandomUniform(0.0, 1.0, seed=self.seed)
        self.scale = self.add_weight("scale", (int(input_shape[-1]),), initializer=uniform)
        self.tau = self.add_weight("tau", (), initializer="ones", trainable=False,
                                   aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        super().build(input_shape)

    def on_epochs_done(self, epochs_done: int, epochs: int) -> None:
        """Set τ to the official value for the epoch about to run (see the module docstring).

        Example:
            >>> q = BiBenchReCUWeight()
            >>> _ = q(tf.ones((2, 2)))
            >>> q.on_epochs_done(5, 5)  # after the last epoch: the last epoch's τ
            >>> float(q.tau) == recu_tau(4, 5)
            True
        """
        self.tau.assign(recu_tau(self.epoch(epochs_done, epochs), epochs))

    def get_config(self) -> dict:
        return {**super().get_config(), "seed": self.seed}

    def call(self, inputs):
        axes = list(range(inputs.shape.rank - 1))
        w0 = inputs - tf.reduce_mean(inputs, axis=axes, keepdims=True)
        w1 = w0 / (tf.sqrt(_unbiased_variance(w0, axes) + EPSILON) / 2.0 / math.sqrt(2.0))
        bound = tf.stop_gradient(-tf.reduce_mean(tf.abs(w1)) * tf.math.log(2.0 - 2.0 * self.tau))
        w2 = tf.clip_by_value(w1, -bound, bound)
        return self.scale * _sign(w2, lambda x, dy: dy)

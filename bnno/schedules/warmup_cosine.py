"""A learning rate that changes once per epoch: linear warm-up, then cosine.

timm's ``CosineLRScheduler`` with ``warmup_prefix=True``, stepped at the start of every
epoch, as BNext's recipe uses it: for epoch ``e`` (0-based)
``warmup_initial + e·(initial − warmup_initial)/warmup_epochs`` while
``e < warmup_epochs``, then
``end + ½(initial − end)(1 + cos(π(e − warmup_epochs)/cosine_epochs))``.

Example:
    >>> lr = WarmupCosineEpochs(1e-3, 1e-5, 5, 1e-7, 512, steps_per_epoch=10)
    >>> round(float(lr(0)), 8), round(float(lr(50)), 8)
    (1e-05, 0.001)
"""

from __future__ import annotations

import math

import tensorflow as tf


class WarmupCosineEpochs(tf.keras.optimizers.schedules.LearningRateSchedule):
    """Per-epoch warm-up + cosine schedule evaluated at an optimizer step.

    Example:
        >>> round(WarmupCosineEpochs(1e-3, 1e-5, 5, 1e-7, 512, 100).epoch_value(4), 9)
        0.000802
    """

    def __init__(self, initial: float, warmup_initial: float, warmup_epochs: int, end: float,
                 cosine_epochs: float, steps_per_epoch: int):
        super().__init__()
        self.initial, self.warmup_initial = float(initial), float(warmup_initial)
        self.warmup_epochs, self.end = int(warmup_epochs), float(end)
        self.cosine_epochs, self.steps_per_epoch = float(cosine_epochs), int(steps_per_epoch)

    def epoch_value(self, epoch: int) -> float:
        """The learning rate of epoch ``epoch`` (0-based), as a Python float.

        Example:
            >>> round(WarmupCosineEpochs(1e-3, 1e-5, 5, 1e-7, 512, 100).epoch_value(0), 9)
            1e-05
        """
        return float(self._at_epoch(tf.constant(epoch, tf.float64)))

    def __call__(self, step):
        epoch = tf.math.floordiv(tf.cast(step, tf.int64), self.steps_per_epoch)
        return tf.cast(self._at_epoch(tf.cast(epoch, tf.float64)), tf.float32)

    def _at_epoch(self, epoch):
        # float64: near the end the cosine is close to −1 and float32 loses the digits.
        warm = self.warmup_initial + epoch * (self.initial - self.warmup_initial) / \
            max(self.warmup_epochs, 1)
        t = (epoch - self.warmup_epochs) / self.cosine_epochs
        cosine = self.end + 0.5 * (self.initial - self.end) * (1 + tf.cos(math.pi * t))
        return tf.where(epoch < self.warmup_epochs, warm, cosine)

    def get_config(self) -> dict:
        return {"initial": self.initial, "warmup_initial": self.warmup_initial,
                "warmup_epochs": self.warmup_epochs, "end": self.end,
                "cosine_epochs": self.cosine_epochs, "steps_per_epoch": self.steps_per_epoch}

"""A value that falls linearly to 0 once per epoch, as PyTorch's
``LambdaLR(optimizer, lambda e: 1 − e/E)`` drives the ReActNet lineage.

For epoch ``e`` (0-based) of ``E``: ``initial · (1 − (e + offset)/E)``, constant within
the epoch. ``offset`` says when the official script steps its scheduler:

* ReActNet and AdamBNN (liuzechun/ReActNet and liuzechun/AdamBNN ``train.py``) call
  ``scheduler.step()`` at the *start* of every epoch, before its first batch: epoch
  ``e`` trains with ``lr0 · (1 − (e + 1)/E)``, the last one with 0 (``offset=1``);
* CEMA (jorisquist/Understanding-WM-HP-in-BNNs ``imagenet/step2/train.py``) steps at the
  *end* of every epoch: epoch ``e`` uses ``1 − e/E`` of the learning rate and of α
  (``offset=0``).

Example:
    >>> lr = LinearEpochs(1.0, epochs=4, steps_per_epoch=10, offset=1)
    >>> [float(lr(step)) for step in (0, 9, 10, 39)]
    [0.75, 0.75, 0.5, 0.0]
    >>> [float(LinearEpochs(1.0, 4, 10)(step)) for step in (0, 10, 39)]
    [1.0, 0.75, 0.25]
"""

from __future__ import annotations

import tensorflow as tf


class LinearEpochs(tf.keras.optimizers.schedules.LearningRateSchedule):
    """``initial · (1 − (epoch + offset)/epochs)`` at an optimizer step.

    Example:
        >>> LinearEpochs(1e-3, 128, 5000, offset=1).epoch_value(127)
        0.0
    """

    def __init__(self, initial: float, epochs: int, steps_per_epoch: int, offset: int = 0):
        super().__init__()
        self.initial, self.epochs = float(initial), int(epochs)
        self.steps_per_epoch, self.offset = int(steps_per_epoch), int(offset)

    def epoch_value(self, epoch: int) -> float:
        """The value of epoch ``epoch`` (0-based), as a Python float.

        Example:
            >>> LinearEpochs(2.0, 4, 10).epoch_value(2)
            1.0
        """
        return self.initial * (1.0 - (epoch + self.offset) / self.epochs)

    def __call__(self, step):
        epoch = tf.math.floordiv(tf.cast(step, tf.int64), self.steps_per_epoch)
        factor = 1.0 - tf.cast(epoch + self.offset, tf.float64) / self.epochs
        return tf.cast(self.initial * factor, tf.float32)

    def get_config(self) -> dict:
        return {"initial": self.initial, "epochs": self.epochs,
                "steps_per_epoch": self.steps_per_epoch, "offset": self.offset}

"""Per-epoch temperature of progressive binarizers (BNext's "temperature curve").

Any quantizer (or layer) with a ``temperature`` variable is
found in the model; after epoch ``e`` (0-based) its temperature is set to
``0.9 ** (e + 1)``, and at the start of training to ``0.9 ** first_epoch``. Setting it
from the epoch index (rather than multiplying) makes a resumed run continue exactly where
the uninterrupted one would be, whatever order the checkpoint callback runs in.

Example:
    >>> model.fit(data, epochs=3, callbacks=[TemperatureSchedule()])  # doctest: +SKIP
"""

from __future__ import annotations

import tensorflow as tf

DECAY = 0.9


def temperatures(model) -> list:
    """The temperature variables of every quantizer in ``model``.

    Example:
        >>> len(temperatures(model))  # doctest: +SKIP
        78
    """
    return [m.temperature for m in model.submodules
            if isinstance(getattr(m, "temperature", None), tf.Variable)]


class TemperatureSchedule(tf.keras.callbacks.Callback):
    """Set every quantizer temperature to ``0.9 ** epochs_done`` (does nothing without).

    Example:
        >>> model.fit(data, epochs=2, callbacks=[TemperatureSchedule()])  # doctest: +SKIP
    """

    def __init__(self, first_epoch: int = 0):
        super().__init__()
        self.first_epoch = first_epoch

    def _set(self, epochs_done: int) -> None:
        for t in temperatures(self.model):
            t.assign(DECAY ** epochs_done)

    def on_train_begin(self, logs=None):
        self._set(self.first_epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._set(epoch + 1)

"""Timing helpers shared by the benchmark scripts (run them from the repository root).

Example:
    Time three epochs of a compiled ``model`` on ``data``; ``timer.seconds`` then holds
    one wall time per epoch, e.g. ``[41.2, 38.7, 38.9]``::

        timer = EpochTimer()
        model.fit(data, epochs=3, callbacks=[timer])
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import time

import tensorflow as tf


class EpochTimer(tf.keras.callbacks.Callback):
    """Wall time of each whole epoch, after every other callback has run (add it last)."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

"""Per-epoch temperature of progressive binarizers (BNext's "temperature curve").

Any quantizer (or layer) with a ``temperature`` variable is
found in the model; after epoch ``e`` (0-based) its temperature is set to
``0.9 ** (e + 1)``, and at the start of training to ``0.9 ** first_epoch``. Setting it
from the epoch index (rather than multiplying) makes a resumed run continue exactly where
the uninterrupted one would be, whatever order the checkpoint callback runs in.

Example:
    A run resumed after 2 of its epochs starts at 0.9² (see ``TemperatureSchedule`` for
    one that executes)::

        model.fit(data, initial_epoch=2, epochs=3, callbacks=[TemperatureSchedule(2)])
"""

from __future__ import annotations

import tensorflow as tf

DECAY = 0.9


def temperatures(model) -> list:
    """The temperature variables of every quantizer in ``model``.

    Example:
        >>> import larq as lq
        >>> import tensorflow as tf
        >>> from bnno.quantizers.bnext import BNextWeight
        >>> clip = lq.constraints.WeightClip(1.5)
        >>> model = tf.keras.Sequential([
        ...     tf.keras.Input((3,)),
        ...     lq.layers.QuantDense(4, kernel_quantizer=BNextWeight(), kernel_constraint=clip),
        ...     lq.layers.QuantDense(2, kernel_quantizer=BNextWeight(), kernel_constraint=clip)])
        >>> [float(t) for t in temperatures(model)]
        [1.0, 1.0]
    """
    return [m.temperature for m in model.submodules
            if isinstance(getattr(m, "temperature", None), tf.Variable)]


class TemperatureSchedule(tf.keras.callbacks.Callback):
    """Set every quantizer temperature to ``0.9 ** epochs_done`` (does nothing without).

    Example:
        >>> import larq as lq
        >>> import numpy as np
        >>> import tensorflow as tf
        >>> from bnno.quantizers.bnext import BNextWeight
        >>> model = tf.keras.Sequential([
        ...     tf.keras.Input((3,)),
        ...     lq.layers.QuantDense(2, kernel_quantizer=BNextWeight(),
        ...                          kernel_constraint=lq.constraints.WeightClip(1.5))])
        >>> model.compile("sgd", "mse", run_eagerly=True)
        >>> (t,) = temperatures(model)
        >>> history = model.fit(np.ones((2, 3)), np.ones((2, 2)), epochs=2,
        ...                     callbacks=[TemperatureSchedule()], verbose=0)
        >>> round(float(t), 6)  # 0.9 ** 2
        0.81
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

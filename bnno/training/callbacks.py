"""Keras callbacks of a training run: checkpointing that skips bad states, metrics log.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> run = Path(tempfile.mkdtemp())
    >>> callbacks = [MetricsLog(run / "metrics.jsonl", first_epoch=0),
    ...              GoodStateBackup(str(run / "backup")), CompactProgbar()]
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import tensorflow as tf

from bnno import optimizers


class GoodStateBackup(tf.keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that stops on a NaN loss and never backs up a NaN state.

    Keras' ``TerminateOnNaN`` stops training, but ``BackupAndRestore`` would still save
    the broken weights at the end of that epoch; here the last good checkpoint stays.
    The checkpoint is kept after training so a finished run can be evaluated and resumed
    with more epochs.

    Example:
        The second batch has a NaN loss: training stops there and no checkpoint is
        written.

        >>> import os
        >>> import tempfile
        >>> import numpy as np
        >>> import tensorflow as tf
        >>> folder = tempfile.mkdtemp()
        >>> backup = GoodStateBackup(folder)
        >>> model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(1)])
        >>> model.compile("sgd", "mse", run_eagerly=True)
        >>> history = model.fit(np.array([[1.0], [np.nan]]), np.ones((2, 1)), batch_size=1,
        ...                     epochs=3, shuffle=False, callbacks=[backup], verbose=0)
        >>> backup.nan_at  # (epoch, batch)
        (0, 1)
        >>> os.listdir(folder)
        []
    """

    def __init__(self, backup_dir: str):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.nan_at: tuple[int, int] | None = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        super().on_epoch_begin(epoch, logs)

    def _implements_train_batch_hooks(self):
        # BackupAndRestore asks for batch hooks only when saving every N batches; the NaN
        # check needs them always.
        return True

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.nan_at = (self._epoch, batch)
            self.model.stop_training = True
        super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.nan_at is None:
            super().on_epoch_end(epoch, logs)


class MetricsLog(tf.keras.callbacks.Callback):
    """Append one JSON line per completed epoch: metrics, seconds, step and hyperparams.

    ``epoch`` counts completed epochs (1 for the first). Rows past ``first_epoch``, the
    epochs a resumed run trains again, are dropped at the start, so the file has every
    epoch exactly once. The current values of the hyperparameters the registered
    optimizers log (``bnno.optimizers.logged()``: the learning rate, Bop's
    gamma/threshold) are added to ``logs`` so TensorBoard shows them too (keep this
    callback before ``TensorBoard``).

    Example:
        A run resumed after epoch 2 (its file already has rows up to epoch 4) trains
        epoch 3 again; the old rows of epochs 3 and 4 are dropped.

        >>> import json
        >>> import tempfile
        >>> from pathlib import Path
        >>> import numpy as np
        >>> import tensorflow as tf
        >>> path = Path(tempfile.mkdtemp()) / "metrics.jsonl"
        >>> with open(path, "w") as f:
        ...     for epoch in (1, 2, 3, 4):
        ...         print(json.dumps({"epoch": epoch, "loss": 1.0}), file=f)
        >>> model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(1)])
        >>> model.compile(tf.keras.optimizers.legacy.SGD(0.5), "mse", run_eagerly=True)
        >>> history = model.fit(np.ones((4, 1)), np.ones((4, 1)), batch_size=2,
        ...                     initial_epoch=2, epochs=3,
        ...                     callbacks=[MetricsLog(path, first_epoch=2)], verbose=0)
        >>> rows = [json.loads(line) for line in path.read_text().splitlines()]
        >>> [row["epoch"] for row in rows]
        [1, 2, 3]
        >>> sorted(rows[-1])
        ['epoch', 'learning_rate', 'loss', 'seconds', 'step']
        >>> rows[-1]["step"], rows[-1]["learning_rate"]
        (2, 0.5)
    """

    def __init__(self, path: str | Path, first_epoch: int):
        super().__init__()
        self.path = Path(path)
        self.first_epoch = first_epoch
        self._start = 0.0

    def on_train_begin(self, logs=None):
        rows = []
        if self.path.exists():
            with open(self.path, encoding="utf-8") as f:
                rows = [line for line in f if line.strip()]
            rows = [r for r in rows if json.loads(r)["epoch"] <= self.first_epoch]
        with open(self.path, "w", encoding="utf-8") as f:
            f.writelines(rows)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        seconds = time.perf_counter() - self._start
        # Weights do not change during validation, so its flip ratios are always 0.
        for key in [k for k in logs if k.startswith("val_flip_ratio/")]:
            del logs[key]
        logs.update(self._hyperparams())
        row = {"epoch": epoch + 1, "seconds": round(seconds, 3)}
        row["step"] = optimizers.step_count(self.model.optimizer)
        row.update({k: float(v) for k, v in logs.items()})
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def _hyperparams(self) -> dict[str, float]:
        """The values the optimizers use at the current step (schedules evaluated)."""
        opt = self.model.optimizer
        found = {}
        names = optimizers.logged()
        for inner in getattr(opt, "optimizers", [opt]):
            for name in names:
                if name in getattr(inner, "_hyper", {}):
                    value = inner._get_hyper(name)
                    if callable(value):
                        value = value(inner.iterations)
                    # get_value also reads a strategy's mirrored variables.
                    found[name] = float(tf.keras.backend.get_value(value))
        return found


# Metrics logged once per layer; the progress bar shows their mean.
_PER_LAYER = ("flip_ratio/", "sparsity/")


class CompactProgbar(tf.keras.callbacks.ProgbarLogger):
    """Keras' progress bar showing the mean flip ratio (and Si-BNN activation sparsity)
    instead of one per binary layer.

    The π values of ``bnno.training.flips.FlipLog`` are left out too.

    The per-layer ratios stay in TensorBoard and ``metrics.jsonl``; on the terminal a
    dozen of them would wrap every progress line.

    Example:
        ``model.fit(data, callbacks=[CompactProgbar()], verbose=1)`` shows these values:

        >>> CompactProgbar._compact({"loss": 0.5, "flip_ratio/conv": 0.1,
        ...                          "flip_ratio/dense": 0.3, "flip_pi/conv": -2.3,
        ...                          "flip_ratio_all": 0.2})
        {'loss': 0.5, 'flip_ratio': 0.2}
    """

    def __init__(self):
        super().__init__(count_mode="steps")

    @staticmethod
    def _compact(logs):
        if not logs:
            return logs
        out, groups = {}, {}
        for key, value in logs.items():
            group = next((key.split("/")[0] for part in _PER_LAYER if part in key), None)
            if group:
                groups.setdefault(group, []).append(value)
            elif not key.startswith(("flip_pi", "flip_ratio_all")):  # see bnno.training.flips
                out[key] = value
        for group, values in groups.items():
            out[group] = sum(values) / len(values)
        return out

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, self._compact(logs))

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, self._compact(logs))

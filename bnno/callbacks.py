"""Keras callbacks of a training run: checkpointing that skips bad states, metrics log.

Example:
    >>> callbacks = [MetricsLog("runs/x/metrics.jsonl", first_epoch=0),
    ...              GoodStateBackup("runs/x/backup")]  # doctest: +SKIP
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
        >>> backup = GoodStateBackup("runs/x/backup")  # doctest: +SKIP
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
    epoch exactly once. The current
    learning rate and Bop's gamma/threshold are added to ``logs`` so TensorBoard shows
    them too (keep this callback before ``TensorBoard``).

    Example:
        >>> log = MetricsLog("runs/x/metrics.jsonl", first_epoch=3)  # doctest: +SKIP
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
        for inner in getattr(opt, "optimizers", [opt]):
            for name in ("learning_rate", "gamma", "threshold"):
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

    The π values of ``bnno.flips.FlipLog`` are left out too.

    The per-layer ratios stay in TensorBoard and ``metrics.jsonl``; on the terminal a
    dozen of them would wrap every progress line.

    Example:
        >>> model.fit(data, callbacks=[CompactProgbar()], verbose=1)  # doctest: +SKIP
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
            elif not key.startswith(("flip_pi", "flip_ratio_all")):  # see bnno.flips
                out[key] = value
        for group, values in groups.items():
            out[group] = sum(values) / len(values)
        return out

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, self._compact(logs))

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, self._compact(logs))

"""Keras callbacks of a training run: checkpointing that skips bad states, metrics log,
the best weights, the quantizers' epoch hooks, and progress output for a terminal or a
log file.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> run = Path(tempfile.mkdtemp())
    >>> callbacks = [QuantizerEpochs(first_epoch=0, epochs=10),
    ...              MetricsLog(run / "metrics.jsonl", first_epoch=0),
    ...              BestWeights(run / "net_best_weights.h5"),
    ...              GoodStateBackup(str(run / "backup")), progress(2)]
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path

import tensorflow as tf

from bnno import atomic, optimizers
from bnno.quantizers.registry import EPOCH_HOOK
from bnno.runs import BEST_EPOCH, BEST_VALUE, note_checkpoint_files, read_best, read_rows


class QuantizerEpochs(tf.keras.callbacks.Callback):
    """Call the epoch hook of every quantizer in the model that has one
    (``on_epochs_done(epochs_done, epochs)``, see ``bnno.quantizers.registry``): at the
    start of training with the epochs done so far (``first_epoch``), and after every
    epoch. It runs before the other callbacks, so that checkpoints and logs see the
    values of the epoch that ended, and a resumed run continues from where it stopped.

    Example:
        >>> import numpy as np
        >>> import larq as lq
        >>> class Counting(lq.quantizers.NoOp):
        ...     def on_epochs_done(self, epochs_done, epochs):
        ...         self.seen = (epochs_done, epochs)
        >>> counting = Counting(precision=1)
        >>> model = tf.keras.Sequential([tf.keras.Input((3,)),
        ...                              lq.layers.QuantDense(2, kernel_quantizer=counting)])
        >>> model.compile("sgd", "mse")
        >>> _ = model.fit(np.ones((2, 3)), np.ones((2, 2)), initial_epoch=1, epochs=3,
        ...               callbacks=[QuantizerEpochs(first_epoch=1, epochs=3)], verbose=0)
        >>> counting.seen
        (3, 3)
    """

    def __init__(self, first_epoch: int, epochs: int):
        super().__init__()
        self.first_epoch, self.epochs = first_epoch, epochs

    def _call(self, epochs_done: int) -> None:
        import larq as lq

        for module in self.model.submodules:
            hook = getattr(module, EPOCH_HOOK, None)
            if isinstance(module, lq.quantizers.Quantizer) and callable(hook):
                hook(epochs_done, self.epochs)

    def on_train_begin(self, logs=None):
        self._call(self.first_epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._call(epoch + 1)


class GoodStateBackup(tf.keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that stops on a NaN loss and never backs up a NaN state,
    checkpoints inside epochs, and stops cleanly when asked to (a signal, ``stop``).

    Keras' ``TerminateOnNaN`` stops training, but ``BackupAndRestore`` would still save
    the broken weights at the end of that epoch; here the last good checkpoint stays.
    The checkpoint is kept after training so a finished run can be evaluated and resumed
    with more epochs. It is saved after every epoch, and also every ``every_steps``
    steps (counted over the whole run, so a resumed run saves at the same steps) and
    every ``every_seconds``; it records the epoch and the steps done in it, and Keras
    resumes at that step (``bnno.runs.checkpoint_position``). When ``stop`` is set
    (``bnno.training.preemption``) the step in progress finishes, the position is saved,
    ``preempted`` says where, and training ends: at once inside an epoch (raising
    ``bnno.errors.Preempted``), after the epoch's validation and logs at its last step.
    A failed save (a full disk) raises ``BnnoError`` naming the folder; the checkpoint
    before it stays loadable.

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

    def __init__(self, backup_dir: str, chief: bool = True, steps_per_epoch: int = 0,
                 every_steps: int = 0, every_seconds: float = 0.0, stop=None):
        # An integer save_freq makes Keras resume at the saved step of an epoch; when to
        # save is decided here.
        super().__init__(backup_dir, save_freq=1, delete_checkpoint=False)
        self.chief = chief
        self.steps_per_epoch = steps_per_epoch
        self.every_steps, self.every_seconds = every_steps, every_seconds
        self.stop = stop
        self.nan_at: tuple[int, int] | None = None
        self.preempted: tuple[int, int] | None = None  # (epoch, steps done in it)
        self._epoch = 0
        self._batch = -1
        self._saved_at = 0.0
        self._handler = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._saved_at = time.monotonic()
        strategy = self.model.distribute_strategy
        if self.stop is not None and strategy.extended._in_multi_worker_mode():
            from bnno.training.preemption import multi_worker_handler

            self._handler = multi_worker_handler(
                strategy, self._training_state.write_checkpoint_manager, self.stop,
                save=self._save_stopped, leave=self._leave)
            # It counts steps to agree on the one to stop after; a worker other than the
            # chief restores no count of earlier runs (its own checkpoint folder is
            # temporary), so every worker counts from this start.
            self._handler._run_counter = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = int(epoch)
        super().on_epoch_begin(epoch, logs)

    def _implements_train_batch_hooks(self):
        return True  # the NaN check needs them always

    def _last_batch(self, batch: int) -> bool:
        return self.steps_per_epoch > 0 and batch >= self.steps_per_epoch - 1

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.nan_at = (self._epoch, batch)
            self.model.stop_training = True
            return
        # The first batch number of a resumed epoch is a NumPy integer.
        batch = self._batch = int(batch)
        if self._handler is not None:  # every worker stops after the same step
            self._handler.save_checkpoint_if_preempted()
        elif self.stop is not None and self.stop.requested():
            self._save_stopped()
            self._leave()
        if self._last_batch(batch):
            return  # the epoch's own checkpoint follows
        done = self._epoch * self.steps_per_epoch + batch + 1
        if (self.every_steps and done % self.every_steps == 0) or (
                self.every_seconds and time.monotonic() - self._saved_at >= self.every_seconds):
            self._save(self._epoch, batch)

    def _save_stopped(self):
        if not self._last_batch(self._batch):
            self._save(self._epoch, self._batch)

    def _leave(self):
        from bnno.errors import Preempted

        self.preempted = (self._epoch, self._batch + 1)
        self.model.stop_training = True
        if not self._last_batch(self._batch):
            raise Preempted(f"{self.stop.requested() or 'a peer'}: stopped after step "
                            f"{self._batch + 1} of epoch {self._epoch + 1}")

    def _save(self, epoch: int, batch: int) -> None:
        from bnno.errors import BnnoError

        try:
            self._training_state._ckpt_saved_batch.assign(batch)
            self._backup(epoch=epoch, batch=batch)
        except (tf.errors.OpError, OSError) as e:
            why = str(getattr(e, "message", e)).splitlines()[0][:200]
            raise BnnoError(f"cannot write a checkpoint in {self.backup_dir} ({why}); the "
                            "last good checkpoint there stays loadable") from None
        self._saved_at = time.monotonic()
        if self.chief:  # the sizes of the checkpoint's files, for ``bnno runs``
            steps = -1 if batch < 0 else batch + 1
            note_checkpoint_files(Path(self.backup_dir).parent,
                                  epoch + (1 if batch < 0 else 0), max(steps, 0))

    def on_epoch_end(self, epoch, logs=None):
        if self.nan_at is None:
            # A saved batch of -1 marks a completed epoch (``bnno.runs.checkpoint_position``).
            self._save(epoch, -1)


class MetricsLog(tf.keras.callbacks.Callback):
    """Append one JSON line per completed epoch: metrics, seconds, step and hyperparams.

    ``epoch`` counts completed epochs (1 for the first). Rows past ``first_epoch``, the
    epochs a resumed run trains again, are dropped at the start, so the file has every
    epoch exactly once; the file is replaced in one step at every epoch
    (``bnno.atomic``), so a kill never leaves a partial row. The current values of the
    hyperparameters the run's optimizer logs (``logged``: the learning rate, Bop's
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

    def __init__(self, path: str | Path, first_epoch: int,
                 logged: tuple[str, ...] = ("learning_rate",)):
        super().__init__()
        self.path = Path(path)
        self.first_epoch = first_epoch
        self.logged = tuple(logged)
        self._start = 0.0
        self._rows: list[dict] = []

    def on_train_begin(self, logs=None):
        self._rows = [r for r in read_rows(self.path) if r["epoch"] <= self.first_epoch]
        atomic.write_text(self.path, "".join(json.dumps(r) + "\n" for r in self._rows))

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
        # The whole file is replaced in one step: a kill never leaves half a row, and
        # an epoch is never there twice.
        self._rows = [r for r in self._rows if r["epoch"] < row["epoch"]] + [row]
        atomic.write_text(self.path, "".join(json.dumps(r) + "\n" for r in self._rows))

    def _hyperparams(self) -> dict[str, float]:
        """The values the optimizers use at the current step (schedules evaluated)."""
        opt = self.model.optimizer
        found = {}
        for inner in getattr(opt, "optimizers", [opt]):
            for name in self.logged:
                if name in getattr(inner, "_hyper", {}):
                    value = inner._get_hyper(name)
                    if callable(value):
                        value = value(inner.iterations)
                    # get_value also reads a strategy's mirrored variables.
                    found[name] = float(tf.keras.backend.get_value(value))
        return found


class CompactProgbar(tf.keras.callbacks.ProgbarLogger):
    """Keras' progress bar showing the mean of every per-layer metric (``<metric>/<layer>``:
    the flip ratios, a quantizer's own metrics) instead of one value per layer.

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
            if key.startswith(("flip_pi", "flip_ratio_all")):  # see bnno.training.flips
                continue
            if "/" in key:
                groups.setdefault(key.split("/")[0], []).append(value)
            else:
                out[key] = value
        for group, values in groups.items():
            out[group] = sum(values) / len(values)
        return out

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, self._compact(logs))

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, self._compact(logs))


# What --verbose means, as in Keras: no output, a progress bar, one line per epoch.
VERBOSE = {0: "silent", 1: "progress bar", 2: "one line per epoch"}


def auto_verbose(stream=None) -> int:
    """The progress output that suits ``stream`` (default stdout): the bar (1) on a
    terminal, one line per epoch (2) anywhere else, where the bar's ``\\r`` updates of every
    step would fill a log file.

    Example:
        >>> import io
        >>> auto_verbose(io.StringIO())
        2
    """
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return 1 if isatty is not None and isatty() else 2


def progress(verbose: int, logged: tuple[str, ...] = ()) -> tf.keras.callbacks.Callback | None:
    """The progress callback for a ``verbose`` level of ``VERBOSE`` (None for 0);
    ``logged`` are the optimizer's hyperparameters, which one line per epoch leaves out.

    Raises:
        BnnoError: a level that is not 0, 1 or 2.

    Example:
        >>> type(progress(2)).__name__, progress(0)
        ('EpochLine', None)
        >>> progress(3)
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: --verbose must be 0 (silent), 1 (progress bar) or 2 (one line \
per epoch), got 3
    """
    from bnno.errors import BnnoError

    if verbose not in VERBOSE:
        raise BnnoError("--verbose must be 0 (silent), 1 (progress bar) or 2 (one line per "
                        f"epoch), got {verbose}")
    if not verbose:
        return None
    return CompactProgbar() if verbose == 1 else EpochLine(hidden=logged)


class EpochLine(tf.keras.callbacks.Callback):
    """One line per epoch: its number, seconds, loss, accuracy, validation metrics and the
    mean flip ratio, flushed at once (a batch job's stdout is a buffered file).

    The optimizers' hyperparameters stay in ``metrics.jsonl`` and TensorBoard.

    Example:
        >>> EpochLine.format(1, 3, 2.51, {"loss": 0.5, "flip_ratio/conv": 0.1,
        ...                               "flip_ratio/fc": 0.3, "val_accuracy": 0.25})
        'epoch 1/3 - 2.5s - loss 0.5000 - val_accuracy 0.2500 - flip_ratio 0.2000'
    """

    def __init__(self, stream=None, hidden: tuple[str, ...] = ()):
        super().__init__()
        self.stream = stream
        self.hidden = tuple(hidden)
        self._start = 0.0

    @staticmethod
    def format(epoch: int, epochs: int, seconds: float, logs: dict,
               hidden: tuple[str, ...] = ()) -> str:
        """The line of completed epoch ``epoch`` (counted from 1) of ``epochs``, without
        the ``hidden`` values (the optimizer's logged hyperparameters)."""
        values = {k: v for k, v in CompactProgbar._compact(logs).items() if k not in hidden}
        return " - ".join([f"epoch {epoch}/{epochs}", f"{seconds:.1f}s",
                           *(f"{k} {float(v):.4f}" for k, v in values.items())])

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        line = self.format(epoch + 1, self.params.get("epochs") or epoch + 1,
                           time.perf_counter() - self._start, dict(logs or {}), self.hidden)
        print(line, file=self.stream or sys.stdout, flush=True)


class BestWeights(tf.keras.callbacks.Callback):
    """Save the weights of the epoch with the best validation accuracy to ``path``.

    The epoch (counted from 1) and its accuracy are stored in the file itself (see
    ``read_best``), which is replaced in one step, so weights and record always match,
    also after a kill; a resumed run reads the best so far from it. Epochs with a NaN
    loss are never kept. Without ``chief`` (a multi-worker run's other workers) the
    weights are written to a scratch file: reading them is a step every worker joins, so
    every worker reads the best so far from the shared run directory and decides alike.

    Example:
        >>> import numpy as np
        >>> path = Path(tempfile.mkdtemp()) / "best.h5"
        >>> model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(1)])
        >>> best = BestWeights(path)
        >>> best.set_model(model)
        >>> best.on_train_begin()
        >>> for epoch, accuracy in enumerate([0.2, 0.5, 0.4]):
        ...     best.on_epoch_end(epoch, {"loss": 1.0, "val_accuracy": accuracy})
        >>> read_best(path)  # bnno.runs.read_best
        {'epoch': 2, 'val_accuracy': 0.5}
    """

    def __init__(self, path: str | Path, chief: bool = True, monitor: str = "val_accuracy"):
        super().__init__()
        self.path, self.chief, self.monitor = Path(path), chief, monitor
        self.best: float | None = None

    def on_train_begin(self, logs=None):
        found = read_best(self.path)
        self.best = found["val_accuracy"] if found else None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value, loss = logs.get(self.monitor), logs.get("loss")
        if value is None or (loss is not None and not math.isfinite(float(loss))):
            return
        value = float(value)
        if self.best is not None and value <= self.best:
            return
        self.best = value
        if not self.chief:
            with tempfile.TemporaryDirectory() as scratch:
                self.model.save_weights(str(Path(scratch) / self.path.name))
            return
        import h5py

        with atomic.replaced(self.path) as tmp:
            self.model.save_weights(str(tmp))
            with h5py.File(tmp, "a") as f:
                f.attrs[BEST_EPOCH] = epoch + 1
                f.attrs[BEST_VALUE] = value

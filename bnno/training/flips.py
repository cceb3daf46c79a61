"""Flip dynamics of binary weights (Bop paper, Helwegen et al. 2019, §5.1).

Every binary kernel carries larq's ``FlipRatio`` metric (see ``bnno.optimizers``): in
each training forward pass it compares the binary kernel with the one of the previous
pass and adds the fraction of weights that changed sign. ``FlipLog`` reads those
counters, without adding work to the training step, and reports per binary layer:

* per epoch, in ``metrics.jsonl`` and TensorBoard: the mean flip ratio per step
  (``flip_ratio/<layer>``, Keras' own), the paper's π = ln(ratio + e⁻⁹)
  (``flip_pi/<layer>``) and both over all binary weights (``flip_ratio_all``,
  ``flip_pi_all``);
* every ``interval`` steps, in ``flips.jsonl`` and TensorBoard (``logs/flips``): the
  same quantities over the steps of that interval.

larq's counters restart with every epoch and skip the first pass of an epoch (there is
no previous kernel to compare with in that epoch), so the flips made by the last step of
each epoch are not seen; every other step is counted exactly once.

Example:
    A row every 50 steps, and the per-epoch values passed on to ``MetricsLog`` (see
    ``FlipLog`` for a run that executes)::

        log = FlipLog(run / "flips.jsonl", run / "logs" / "flips", interval=50, first_epoch=0)
        model.fit(data, callbacks=[log, MetricsLog(run / "metrics.jsonl", first_epoch=0)])
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import tensorflow as tf

from bnno import optimizers

# The paper adds e^-9 inside the log so that a step without flips gives a finite π.
PI_FLOOR = math.exp(-9)


def flip_pi(ratio: float) -> float:
    """The Bop paper's π = ln(ratio + e⁻⁹): ln of the flip ratio, floored at -9.

    Example:
        >>> round(flip_pi(0.0), 6)
        -9.0
        >>> round(flip_pi(1e-2), 3)
        -4.593
    """
    return math.log(ratio + PI_FLOOR)


def flip_metrics(model) -> dict[str, object]:
    """larq's ``FlipRatio`` metric of every binary layer of ``model``, by layer name.

    Example:
        >>> import larq as lq
        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([
        ...     tf.keras.Input((3,)),
        ...     lq.layers.QuantDense(2, kernel_quantizer=lq.quantizers.SteSign(
        ...         metrics=["flip_ratio"]), kernel_constraint="weight_clip", name="binary"),
        ...     tf.keras.layers.Dense(2, name="real")])
        >>> list(flip_metrics(model))
        ['binary']
    """
    from bnno.training.build import _all_layers

    found = {}
    for layer in _all_layers(model):
        for attr in ("kernel_quantizer", "depthwise_quantizer"):
            metric = getattr(getattr(layer, attr, None), "flip_ratio", None)
            if metric is not None:
                found[layer.name] = metric
    return found


class FlipLog(tf.keras.callbacks.Callback):
    """Flip ratio and π per binary layer, per epoch and every ``interval`` steps.

    Keep it before ``MetricsLog`` and ``TensorBoard`` in the callback list: it adds the
    epoch values to the epoch's ``logs`` so both write them. The step values go to
    ``jsonl_path`` (one JSON row per interval) and to TensorBoard under ``tb_dir``.
    Rows of epochs after ``first_epoch`` (those a resumed run trains again) are dropped,
    but for those up to ``first_step`` (the optimizer steps of a checkpoint inside an
    epoch). Each row is appended with one write; a row cut short by a kill is dropped
    on resume, and the file is then replaced in one step.

    Example:
        Four steps, a row every two: the first row covers one step, as the first pass of
        the epoch has nothing to compare with.

        >>> import json
        >>> import tempfile
        >>> from pathlib import Path
        >>> import larq as lq
        >>> import numpy as np
        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([
        ...     tf.keras.Input((3,)),
        ...     lq.layers.QuantDense(2, kernel_quantizer=lq.quantizers.SteSign(
        ...         metrics=["flip_ratio"]), kernel_constraint="weight_clip", name="binary")])
        >>> model.compile("adam", "mse", run_eagerly=True)
        >>> path = Path(tempfile.mkdtemp()) / "flips.jsonl"
        >>> log = FlipLog(path, None, interval=2, first_epoch=0)
        >>> history = model.fit(np.ones((8, 3)), np.ones((8, 2)), batch_size=2,
        ...                     callbacks=[log], verbose=0)
        >>> rows = [json.loads(line) for line in path.read_text().splitlines()]
        >>> [(row["step"], row["steps"]) for row in rows]
        [(2, 1), (4, 2)]
        >>> print(*rows[0])
        epoch step steps flip_ratio/binary flip_pi/binary flip_ratio_all flip_pi_all
        >>> sorted(key for key in history.history if key.startswith("flip_pi"))
        ['flip_pi/binary', 'flip_pi_all']

    Args:
        jsonl_path: file of per-interval rows.
        tb_dir: TensorBoard directory for the per-interval scalars (None: none written).
        interval: optimizer steps per row.
        first_epoch: epochs already done (resume), as ``MetricsLog`` takes it.
        first_step: optimizer steps already done (resume inside an epoch).
    """

    def __init__(self, jsonl_path: str | Path, tb_dir: str | Path | None, interval: int,
                 first_epoch: int, first_step: int = 0):
        super().__init__()
        self.first_step = first_step
        self.path = Path(jsonl_path)
        self.tb_dir = None if tb_dir is None else str(tb_dir)
        self.interval = interval
        self.first_epoch = first_epoch
        self._metrics: dict[str, object] = {}
        self._sizes: dict[str, int] = {}
        self._writer = None

    # Reading two scalar variables per layer is all the work; it is done once per interval
    # and at the end of an epoch, never inside the compiled training step.
    def _counters(self) -> dict[str, tuple[float, float]]:
        return {name: (float(m.total.numpy()), max(float(m.count.numpy()) - 1.0, 0.0))
                for name, m in self._metrics.items()}

    def on_train_begin(self, logs=None):
        self._metrics = flip_metrics(self.model)
        self._sizes = {name: int(m._size.numpy()) for name, m in self._metrics.items()}
        from bnno import atomic
        from bnno.runs import read_rows

        rows = [r for r in read_rows(self.path)
                if r["epoch"] <= self.first_epoch or r.get("step", 0) <= self.first_step]
        atomic.write_text(self.path, "".join(json.dumps(r) + "\n" for r in rows))
        if self.tb_dir is not None and self._metrics:
            self._writer = tf.summary.create_file_writer(self.tb_dir)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        # Keras reset the metrics just before this call: the counters start at 0.
        self._last = {name: (0.0, 0.0) for name in self._metrics}
        self._sum = {name: 0.0 for name in self._metrics}
        self._steps = 0.0
        self._batches = 0
        self._closed = False
        self._epoch_values: dict[str, float] = {}

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self._metrics and self._batches % self.interval == 0:
            self._accumulate()
            self._write_interval()

    def _accumulate(self) -> None:
        now = self._counters()
        for name, (total, count) in now.items():
            last_total, last_count = self._last[name]
            self._sum[name] += total - last_total
            # Every layer sees the same steps; keep the count of any one of them.
            steps = count - last_count
        self._steps += steps
        self._last = now

    def _write_interval(self) -> None:
        if self._steps <= 0:
            return
        ratios = {name: s / self._steps for name, s in self._sum.items()}
        values = _with_pi(ratios, self._sizes)
        step = optimizers.step_count(self.model.optimizer)
        row = {"epoch": self._epoch + 1, "step": step, "steps": int(self._steps), **values}
        # One write call: a kill leaves the row whole or (rarely) cut, never interleaved.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(row) + "\n").encode("utf-8"))
        finally:
            os.close(fd)
        if self._writer is not None:
            with self._writer.as_default(step=step):
                for key, value in values.items():
                    tf.summary.scalar(key, value)
        self._sum = {name: 0.0 for name in self._metrics}
        self._steps = 0.0

    def on_test_begin(self, logs=None):
        # Validation resets every metric, larq's counters included: read them first.
        self._close_epoch()

    def _close_epoch(self) -> None:
        if self._closed or not self._metrics:
            return
        self._closed = True
        self._accumulate()
        self._write_interval()  # the part of an interval left at the end of the epoch
        ratios = {name: t / c for name, (t, c) in self._counters().items() if c > 0}
        # Keras logs the ratios itself; π and the overall values are added here.
        self._epoch_values = {k: v for k, v in _with_pi(ratios, self._sizes).items()
                              if not k.startswith("flip_ratio/")}

    def on_epoch_end(self, epoch, logs=None):
        self._close_epoch()  # an epoch without validation
        if logs is not None:
            logs.update(self._epoch_values)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _with_pi(ratios: dict[str, float], sizes: dict[str, int]) -> dict[str, float]:
    """Per-layer ratios and π, plus both over all binary weights (weighted by size)."""
    values = {}
    for name, ratio in ratios.items():
        values[f"flip_ratio/{name}"] = ratio
        values[f"flip_pi/{name}"] = flip_pi(ratio)
    weights = sum(sizes[n] for n in ratios)
    if weights:
        overall = sum(ratios[n] * sizes[n] for n in ratios) / weights
        values["flip_ratio_all"] = overall
        values["flip_pi_all"] = flip_pi(overall)
    return values

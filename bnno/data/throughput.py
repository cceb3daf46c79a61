"""Is a run input-bound or compute-bound? The input pipeline's images/s alone, and a
compiled model's training-step images/s alone, on batches of the same shape.

``pipeline_rate`` times the training batches a dataset delivers with a preprocessing
function (decoding, augmentation, batching: everything but the model); ``step_rate``
times a compiled Keras model's training step on one synthetic batch kept in memory
(no input cost). A run goes at about the smaller of the two: ``Throughput`` says
which it is.

Example:
    For a dataset ``ds`` (``bnno.data.load``) and a compiled model ``model``::

        pipeline = pipeline_rate(ds, "bnext", batch_size=256)
        step = step_rate(model, ds.input_shape, ds.num_classes, batch_size=256)
        print(Throughput(pipeline, step))
        # input pipeline 812 images/s, training step 2290 images/s: input-bound (the
        # pipeline feeds 35 % of what the step could take)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Throughput:
    """Images/s of the input pipeline and of the training step, each alone.

    Example:
        >>> t = Throughput(pipeline=500.0, step=2000.0)
        >>> t.bound, round(t.ratio, 2)
        ('input', 0.25)
        >>> str(t).split(": ")[1]
        'input-bound (the pipeline feeds 25 % of what the step could take)'
    """

    pipeline: float
    step: float

    @property
    def ratio(self) -> float:
        """Pipeline images/s over step images/s (< 1: the pipeline limits the run)."""
        return self.pipeline / self.step

    @property
    def bound(self) -> str:
        """``"input"`` when the pipeline is slower than the step, else ``"compute"``."""
        return "input" if self.pipeline < self.step else "compute"

    def __str__(self) -> str:
        rates = (f"input pipeline {self.pipeline:.0f} images/s, training step "
                 f"{self.step:.0f} images/s")
        if self.bound == "input":
            return (f"{rates}: input-bound (the pipeline feeds {100 * self.ratio:.0f} % "
                    "of what the step could take)")
        return (f"{rates}: compute-bound (the step takes {100 / self.ratio:.0f} % of what "
                "the pipeline could feed)")


def pipeline_rate(dataset: Any, preprocess: str, batch_size: int, batches: int = 20,
                  warmup: int = 2, seed: int = 0) -> float:
    """Images/s of ``dataset``'s training batches with ``preprocess``, the model left out.

    The first ``warmup`` batches (tracing, compilation, filling caches and buffers) are
    not timed; the next ``batches`` are. ``dataset`` is a ``bnno.data`` dataset (tfds or
    image folder); the pipeline is the one training uses, at its parallelism.

    Example:
        The ImageNet pipeline with BNext's preprocessing, batches of 256::

            pipeline_rate(load("imagenet2012"), "bnext", 256)  # e.g. 812.4
    """
    per_epoch = max(dataset.train_examples // batch_size, 1)
    epochs = -(-(warmup + batches) // per_epoch) + 1
    it = iter(dataset.train(batch_size, preprocess, seed, 0, epochs))
    for _ in range(warmup):
        next(it)
    start, images = time.perf_counter(), 0
    for _ in range(batches):
        x, _ = next(it)
        images += int(x.shape[0])
    return images / (time.perf_counter() - start)


def step_rate(model: Any, input_shape: tuple, num_classes: int, batch_size: int,
              steps: int = 10, warmup: int = 2) -> float:
    """Images/s of ``model``'s training steps alone: its compiled train function on one
    synthetic batch (uniform inputs in [−1, 1], one-hot labels) held in memory.

    ``model`` is compiled (optimizer, loss); its weights change (the steps train it),
    so pass a copy if they matter. The first ``warmup`` steps (tracing) are not timed.

    Example:
        A compiled BNext-T on ImageNet-shaped batches of 256::

            step_rate(model, (224, 224, 3), 1000, 256)  # e.g. 2290.0
    """
    import tensorflow as tf

    x = tf.random.stateless_uniform((batch_size, *input_shape), [0, 1], -1.0, 1.0)
    y = tf.one_hot(tf.zeros(batch_size, tf.int32), num_classes)
    batches = iter(tf.data.Dataset.from_tensors((x, y)).repeat())
    train = model.make_train_function()
    for _ in range(warmup):
        _sync(train(batches))
    start = time.perf_counter()
    for _ in range(steps):
        logs = train(batches)
    _sync(logs)
    return batch_size * steps / (time.perf_counter() - start)


def _sync(logs) -> None:
    """Wait for a step's results (its losses computed means the step is done)."""
    import tensorflow as tf

    for value in tf.nest.flatten(logs):
        if hasattr(value, "numpy"):
            value.numpy()

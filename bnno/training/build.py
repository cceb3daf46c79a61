"""Build and compile any registered model from a run's config.

Example:
    What ``bnno train binarynet --dataset cifar10 --hparams-set bop`` does before
    training (50,000 images in batches of 100: 500 steps per epoch; the functions'
    docstrings have examples that run)::

        config = plan("binarynet", "cifar10", "bop")
        model = build_model(config.model, config.optimizer.name, (32, 32, 3), 10)
        compile_model(model, config.optimizer, steps_per_epoch=500, total_steps=50_000)
"""

from __future__ import annotations

from typing import Any

from bnno import models, optimizers
from bnno.config import ModelConfig, OptimizerConfig, TrainerConfig
from bnno.config.kernels import kernel_spec
from bnno.optimizers import l2


def build_model(model: ModelConfig, optimizer: str, input_shape: tuple, num_classes: int,
                flip_ratio: bool = True):
    """The model of ``model`` for ``input_shape``/``num_classes``, set up for the
    optimizer ``optimizer``.

    The builder gets its declared hparams only; the kernel settings it declares are those
    of the optimizer (``bnno.config.kernels``). A latent-free optimizer's binary kernels
    start at ±1. Every metric a quantizer keeps (larq's ``flip_ratio`` of binary kernels,
    unless ``flip_ratio`` is false, and a quantizer's own) is named after its layer:
    ``<metric>/<layer name>``.

    Example:
        >>> import numpy as np
        >>> from bnno.config import plan
        >>> from bnno.training.flips import flip_metrics
        >>> config = plan("binarynet", "mnist", "bop", {"filters": 4, "dense_units": 8})
        >>> model = build_model(config.model, "bop", (28, 28, 1), 10)
        >>> np.unique(model.layers[0].kernel.numpy())  # Bop's kernels start at ±1
        array([-1.,  1.], dtype=float32)
        >>> metrics = flip_metrics(model)
        >>> len(metrics)  # six convolutions and three dense layers
        9
        >>> all(m.name == f"flip_ratio/{name}" for name, m in metrics.items())
        True
    """
    entry = models.get_entry(model.name)
    kwargs = dict(model.hparams)
    kernels = kernel_spec(model.hparams, optimizer, flip_ratio)
    kwargs.update({k: v for k, v in kernels.items() if entry.takes(k)})
    net = entry.build(tuple(input_shape), num_classes, **kwargs)
    _name_quantizer_metrics(net)
    if optimizers.latent_free(optimizer):
        optimizers.binarize_kernels(net)
    return net


def compile_model(model, optimizer: OptimizerConfig, steps_per_epoch: int, total_steps: int,
                  l2_decay: float = 0.0) -> None:
    """Compile with ``optimizer``, categorical cross-entropy and accuracy metrics (top-5
    too for more than 5 classes), with a coupled L2 term of ``l2_decay``.

    ``total_steps`` is the length of schedules that decay over the whole run.

    Example:
        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([
        ...     tf.keras.Input((3,)), tf.keras.layers.Dense(10, activation="softmax")])
        >>> compile_model(model, OptimizerConfig("adam", {"learning_rate": 1e-3}),
        ...               steps_per_epoch=500, total_steps=5000, l2_decay=1e-4)
        >>> type(model.optimizer).__name__, len(model.losses)  # the l2 term is a loss
        ('Adam', 1)
    """
    import tensorflow as tf

    metrics: list[Any] = ["accuracy"]
    if model.output_shape[-1] > 5:
        metrics.append(tf.keras.metrics.TopKCategoricalAccuracy(5, name="top5_accuracy"))
    if l2_decay:
        l2.add_to(model, l2_decay)
    built = optimizers.build(optimizer.name, optimizer.options, steps_per_epoch, total_steps)
    # The optimizer's own set-up from the model (AdamW's decay groups, ScaledAdam's
    # per-kernel factors, the CaseOptimizer's split of variables between Bop and Adam).
    optimizers.prepare(optimizer.name, built, model)
    model.compile(optimizer=built, loss="categorical_crossentropy", metrics=metrics)


def run_length(trainer: TrainerConfig, train_examples: int) -> int:
    """Optimizer steps of a whole run: the length of schedules that decay over the run.

    The Bop paper's code computes ``epochs × examples // batch_size`` (a few steps more
    than ``epochs × (examples // batch_size)`` are trained); runs with shortened epochs
    take ``epochs × steps_per_epoch``.

    Example:
        >>> run_length(TrainerConfig(epochs=150, batch_size=1024), 1_281_167)
        187670
    """
    if trainer.steps_per_epoch:
        return trainer.epochs * trainer.steps_per_epoch
    return trainer.epochs * train_examples // trainer.batch_size


def _name_quantizer_metrics(model) -> None:
    # Quantizers name their metrics after themselves ("flip_ratio/no_op_3"); the layer's
    # name is what a user finds in the summary, so rename before compiling.
    import tensorflow as tf

    for layer in _all_layers(model):
        for role in ("kernel_quantizer", "input_quantizer"):
            quantizer = getattr(layer, role, None)
            for value in list(vars(quantizer).values()) if quantizer is not None else []:
                if isinstance(value, tf.keras.metrics.Metric):
                    value._name = f"{value.name.split('/')[0]}/{layer.name}"


def _all_layers(model) -> list:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if hasattr(layer, "layers"):
            layers.extend(_all_layers(layer))
    return layers

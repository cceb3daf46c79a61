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

from bnno import models, optimizers, plugins
from bnno.config import ModelConfig, OptimizerConfig, TrainerConfig
from bnno.config.kernels import kernel_spec
from bnno.optimizers import l2


def build_model(model: ModelConfig, optimizer: str, input_shape: tuple, num_classes: int,
                flip_ratio: bool = True):
    """The model of ``model`` for ``input_shape``/``num_classes``, set up for the
    optimizer ``optimizer``.

    The builder gets its declared hparams only; the kernel settings it declares are those
    of the optimizer (``bnno.config.kernels``). A latent-free optimizer's binary kernels
    start as the official Bop code starts them: real, until its first update writes ±1, or
    as their signs for an optimizer registered with ``signed_start`` (CEMA;
    ``bnno.optimizers.kernels.start_kernels``). Every metric a quantizer keeps (the
    ``flip_ratio`` of binary kernels, unless ``flip_ratio`` is false, and a quantizer's
    own) is named after its layer: ``<metric>/<layer name>``.

    Example:
        >>> import numpy as np
        >>> from bnno.config import plan
        >>> from bnno.training.flips import flip_metrics
        >>> config = plan("binarynet", "mnist", "bop", {"filters": 4, "dense_units": 8})
        >>> model = build_model(config.model, "bop", (28, 28, 1), 10)
        >>> kernel = model.layers[0].kernel.numpy()  # Glorot's draw until Bop's first step
        >>> len(np.unique(kernel)) > 2, bool(np.abs(kernel).max() < 1)
        (True, True)
        >>> metrics = flip_metrics(model)
        >>> len(metrics)  # six convolutions and three dense layers
        9
        >>> all(m.name == f"flip_ratio/{name}" for name, m in metrics.items())
        True
    """
    plugins.load()  # the builders and quantizer classes themselves
    entry = models.get_entry(model.name)
    kwargs = dict(model.hparams)
    kernels = kernel_spec(model.hparams, optimizer, flip_ratio)
    kwargs.update({k: v for k, v in kernels.items() if entry.takes(k)})
    net = entry.build(tuple(input_shape), num_classes, **kwargs)
    _name_quantizer_metrics(net)
    if optimizers.latent_free(optimizer):
        optimizers.start_kernels(net, signed=optimizers.get(optimizer).signed_start)
    return net


def compile_model(model, optimizer: OptimizerConfig, steps_per_epoch: int, total_steps: int,
                  l2_decay: float = 0.0, l2_decay_group: str = "all") -> None:
    """Compile with ``optimizer``, categorical cross-entropy and accuracy metrics (top-5
    too for more than 5 classes), with a coupled L2 term of ``l2_decay`` on the
    variables of ``l2_decay_group`` (``bnno.optimizers.l2``).

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

    plugins.load()  # the optimizers' builders and hooks themselves
    metrics: list[Any] = ["accuracy"]
    if model.output_shape[-1] > 5:
        metrics.append(tf.keras.metrics.TopKCategoricalAccuracy(5, name="top5_accuracy"))
    if l2_decay:
        l2.add_to(model, l2_decay, l2_decay_group)
    built = optimizers.build(optimizer.name, optimizer.options, steps_per_epoch, total_steps)
    # The optimizer's own set-up from the model (AdamW's decay groups, ScaledAdam's
    # per-kernel factors, the CaseOptimizer's split of variables between Bop and Adam).
    optimizers.prepare(optimizer.name, built, model)
    model.compile(optimizer=built, loss="categorical_crossentropy", metrics=metrics)


def run_length(trainer: TrainerConfig, train_examples: int,
               drop_last: bool | None = None) -> int:
    """Optimizer steps of a whole run: the length of schedules that decay over the run.

    The Bop paper's code computes ``epochs × examples // batch_size`` (a few steps more
    than ``epochs × (examples // batch_size)`` are trained); a run that trains the last
    partial batch of every epoch (``drop_last`` false, by default the trainer's own) takes
    the steps it trains, ``epochs × ⌈examples / batch_size⌉``; runs with shortened epochs
    take ``epochs × steps_per_epoch``.

    Example:
        >>> run_length(TrainerConfig(epochs=150, batch_size=1024), 1_281_167)
        187670
        >>> run_length(TrainerConfig(epochs=100, batch_size=256, drop_last=False), 1_281_167)
        500500
    """
    if trainer.steps_per_epoch:
        return trainer.epochs * trainer.steps_per_epoch
    if drop_last is None:
        drop_last = trainer.drop_last
    if not drop_last:
        return trainer.epochs * -(-train_examples // trainer.batch_size)
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

"""Build and compile any registered model from resolved hparams.

Example:
    What ``bnno train binarynet --dataset cifar10 --hparams-set bop`` does before
    training (50,000 images in batches of 100: 500 steps per epoch; the functions'
    docstrings have examples that run)::

        hp = hparams.resolve("binarynet", "bop", None, models.hparam_types("binarynet"))
        model = build_model("binarynet", hp, (32, 32, 3), 10)
        compile_model(model, hp, steps_per_epoch=500)
"""

from __future__ import annotations

from typing import Any

from bnno import models, optimizers
from bnno.optimizers import l2


def build_model(name: str, hp: dict[str, Any], input_shape: tuple, num_classes: int,
                flip_ratio: bool = True):
    """Model ``name`` for ``input_shape``/``num_classes``, set up for ``hp``'s optimizer.

    Bop's binary kernels start at ±1; every binary kernel logs its flip ratio under
    ``flip_ratio/<layer name>`` (unless ``flip_ratio`` is false), and every Si-BNN
    binarizer the fraction of zeros it outputs under ``sparsity/<layer name>``.

    Example:
        >>> import numpy as np
        >>> from bnno import hparams, models
        >>> from bnno.training.flips import flip_metrics
        >>> hp = hparams.resolve("binarynet", "bop", "filters=4,dense_units=8",
        ...                      models.hparam_types("binarynet"))
        >>> model = build_model("binarynet", hp, (28, 28, 1), 10)
        >>> np.unique(model.layers[0].kernel.numpy())  # Bop's kernels start at ±1
        array([-1.,  1.], dtype=float32)
        >>> metrics = flip_metrics(model)
        >>> len(metrics)  # six convolutions and three dense layers
        9
        >>> all(m.name == f"flip_ratio/{name}" for name, m in metrics.items())
        True
    """
    kwargs = models.builder_kwargs(name, hp)
    kwargs.update(optimizers.kernel_spec(hp, flip_ratio))
    model = models.get(name)(tuple(input_shape), num_classes, **kwargs)
    _name_layer_metrics(model)
    if optimizers.latent_free(hp):
        optimizers.binarize_kernels(model)
    return model


def compile_model(
    model, hp: dict[str, Any], steps_per_epoch: int, total_steps: int | None = None
) -> None:
    """Compile with ``hp``'s optimizer, categorical cross-entropy and accuracy metrics.

    ``total_steps`` is the length of schedules that decay over the whole run.

    Example:
        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([
        ...     tf.keras.Input((3,)), tf.keras.layers.Dense(10, activation="softmax")])
        >>> hp = {"optimizer": "adam", "learning_rate": 1e-3, "l2_decay": 1e-4}
        >>> compile_model(model, hp, steps_per_epoch=500)
        >>> type(model.optimizer).__name__, len(model.losses)  # the l2 term is a loss
        ('Adam', 1)
    """
    import tensorflow as tf

    metrics: list[Any] = ["accuracy"]
    if model.output_shape[-1] > 5:
        metrics.append(tf.keras.metrics.TopKCategoricalAccuracy(5, name="top5_accuracy"))
    if hp.get("l2_decay"):
        l2.add_to(model, hp["l2_decay"])
    optimizer = optimizers.build(hp, steps_per_epoch, total_steps)
    # The optimizer's own set-up from the model (AdamW's decay groups, ScaledAdam's
    # per-kernel factors, the CaseOptimizer's split of variables between Bop and Adam).
    optimizers.prepare(hp, optimizer, model)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=metrics)


def _name_layer_metrics(model) -> None:
    # Quantizers name their metrics after themselves ("flip_ratio/no_op_3",
    # "sparsity/si_bnn_2"); the layer's name is what a user can find in the summary, so
    # rename before compiling.
    for layer in _all_layers(model):
        for role, kind in (("kernel_quantizer", "flip_ratio"), ("input_quantizer", "sparsity")):
            metric = getattr(getattr(layer, role, None), kind, None)
            if metric is not None:
                metric._name = f"{kind}/{layer.name}"


def _all_layers(model) -> list:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if hasattr(layer, "layers"):
            layers.extend(_all_layers(layer))
    return layers

"""Build and compile any registered model from resolved hparams.

Example:
    >>> model = build_model("binarynet", hp, (32, 32, 3), 10)  # doctest: +SKIP
    >>> compile_model(model, hp, steps_per_epoch=500)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from bnno import models, optimizers


def build_model(name: str, hp: dict[str, Any], input_shape: tuple, num_classes: int,
                flip_ratio: bool = True):
    """Model ``name`` for ``input_shape``/``num_classes``, set up for ``hp``'s optimizer.

    Bop's binary kernels start at ±1; every binary kernel logs its flip ratio under
    ``flip_ratio/<layer name>`` unless ``flip_ratio`` is False.

    Example:
        >>> model = build_model("binarynet", hp, (32, 32, 3), 10)  # doctest: +SKIP
    """
    kwargs = models.builder_kwargs(name, hp)
    kwargs.update(optimizers.kernel_settings(hp, flip_ratio))
    model = models.get(name)(tuple(input_shape), num_classes, **kwargs)
    _name_flip_ratios(model)
    if hp.get("optimizer") == "bop":
        optimizers.binarize_kernels(model)
    return model


def compile_model(model, hp: dict[str, Any], steps_per_epoch: int) -> None:
    """Compile with ``hp``'s optimizer, categorical cross-entropy and accuracy metrics.

    Example:
        >>> compile_model(model, hp, steps_per_epoch=500)  # doctest: +SKIP
    """
    import tensorflow as tf

    metrics: list[Any] = ["accuracy"]
    if model.output_shape[-1] > 5:
        metrics.append(tf.keras.metrics.TopKCategoricalAccuracy(5, name="top5_accuracy"))
    model.compile(
        optimizer=optimizers.build(hp, steps_per_epoch),
        loss="categorical_crossentropy",
        metrics=metrics,
    )


def _name_flip_ratios(model) -> None:
    # larq names a quantizer's metric after the quantizer ("flip_ratio/no_op_3"); the
    # layer's name is what a user can find in the summary, so rename before compiling.
    for layer in _all_layers(model):
        metric = getattr(getattr(layer, "kernel_quantizer", None), "flip_ratio", None)
        if metric is not None:
            metric._name = f"flip_ratio/{layer.name}"


def _all_layers(model) -> list:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if hasattr(layer, "layers"):
            layers.extend(_all_layers(layer))
    return layers

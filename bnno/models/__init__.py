"""The model registry: builders registered by name, created by one factory.

A builder is a pure function ``builder(input_shape, num_classes, **hparams)`` returning an
uncompiled ``tf.keras.Model``. Its keyword-only arguments, with their type hints, are the
model's hparams; the trainer's own keys come from ``bnno.hparams.TRAINER_KEYS``.

Example:
    >>> from bnno import models
    >>> models.names()  # doctest: +SKIP
    ['binary_alexnet', 'binarynet', 'birealnet', 'xnornet']
    >>> model = models.get("binarynet")((32, 32, 3), 10, filters=16)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable

from bnno import hparams
from bnno.errors import BnnoError, choices

_BUILDERS: dict[str, Callable] = {}
_ALIASES: dict[str, str] = {}

_SIMPLE_TYPES = {int: hparams.INT, float: hparams.FLOAT, bool: hparams.BOOL, str: hparams.STR}


def _htype(hint) -> hparams.HType:
    if hint in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[hint]
    if set(typing.get_args(hint)) == {str, type(None)}:
        return hparams.OPTIONAL_STR
    raise TypeError(f"builder hparams must be int, float, bool, str or str | None; got {hint}")


def register(builder: Callable) -> Callable:
    """Decorator: register ``builder`` under its function name."""
    _BUILDERS[builder.__name__] = builder
    return builder


def torch_bn(x):
    """Batch norm with PyTorch's defaults (momentum 0.1, i.e. Keras 0.9; epsilon 1e-5), for
    models whose reference code is PyTorch (BNext, Si-BNN).

    Example:
        >>> y = torch_bn(tf.keras.Input((8, 8, 16)))  # doctest: +SKIP
    """
    import tensorflow as tf

    return tf.keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)


def pool_3x3(x):
    """3×3/2 max pool, "valid" as in the ImageNet papers' code; "same" where a feature map
    is already smaller than 3×3 (small inputs such as CIFAR-10 or MNIST), so the
    ImageNet models build for any input size and keep their exact shapes on ImageNet.

    Example:
        >>> y = pool_3x3(tf.keras.Input((56, 56, 64)))  # doctest: +SKIP
        >>> y.shape  # doctest: +SKIP
        TensorShape([None, 27, 27, 64])
    """
    import tensorflow as tf

    small = min(x.shape[1], x.shape[2]) < 3
    return tf.keras.layers.MaxPool2D(3, strides=2, padding="same" if small else "valid")(x)


def register_alias(alias: str, name: str) -> None:
    """Let users type ``alias`` for the registered model ``name`` (e.g. ``alexnet``).

    Example:
        >>> canonical("alexnet")
        'binary_alexnet'
    """
    _ALIASES[alias] = name


def names() -> list[str]:
    """All registered model names, sorted (aliases not included)."""
    return sorted(_BUILDERS)


def canonical(name: str) -> str:
    """The registered name of ``name``, which may be an alias.

    Raises:
        BnnoError: if no model has that name or alias; the message lists the valid names.

    Example:
        >>> canonical("birealnet")
        'birealnet'
    """
    name = _ALIASES.get(name, name)
    if name not in _BUILDERS:
        raise BnnoError(
            f"unknown model '{name}'; choose one of: {choices([*_BUILDERS, *_ALIASES])}"
        )
    return name


def get(name: str) -> Callable:
    """The builder registered as ``name`` (or an alias of it).

    Raises:
        BnnoError: if no model has that name; the message lists the valid names.
    """
    return _BUILDERS[canonical(name)]


def hparam_types(name: str) -> dict[str, hparams.HType]:
    """The type of every hparam of model ``name``: the trainer's keys and the builder's."""
    builder = get(name)
    hints = typing.get_type_hints(builder)
    types = dict(hparams.TRAINER_KEYS)
    for param in inspect.signature(builder).parameters.values():
        if param.kind is param.KEYWORD_ONLY:
            types[param.name] = _htype(hints[param.name])
    return types


def builder_kwargs(name: str, hp: dict) -> dict:
    """The subset of resolved hparams ``hp`` that the builder of ``name`` takes.

    Example:
        >>> builder_kwargs("binarynet", {"filters": 16, "epochs": 3})
        {'filters': 16}
    """
    params = inspect.signature(get(name)).parameters
    return {k: v for k, v in hparams.renamed(hp).items()
            if k in params and params[k].kind is params[k].KEYWORD_ONLY}


# Importing the model files registers them.
from bnno.models import (  # noqa: E402,F401
    binary_alexnet,
    binarynet,
    birealnet,
    bnext,
    bnext_18,
    sibnn_alexnet,
    sibnn_mlp,
    sibnn_resnet18,
    sibnn_vgg,
    xnornet,
)

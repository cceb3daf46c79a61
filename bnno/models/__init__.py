"""The model registry: builders registered by name, created by one factory.

A builder is a pure function ``builder(input_shape, num_classes, **hparams)`` returning an
uncompiled ``tf.keras.Model``. Its keyword-only arguments, with their type hints, are the
model's hparams; the trainer's own keys come from ``bnno.hparams.TRAINER_KEYS``.

Example:
    >>> from bnno import models
    >>> models.names()  # doctest: +SKIP
    ['binarynet']
    >>> model = models.get("binarynet")((32, 32, 3), 10, filters=16)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable

from bnno import hparams
from bnno.errors import BnnoError, choices

_BUILDERS: dict[str, Callable] = {}

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


def names() -> list[str]:
    """All registered model names, sorted."""
    return sorted(_BUILDERS)


def get(name: str) -> Callable:
    """The builder registered as ``name``.

    Raises:
        BnnoError: if no model has that name; the message lists the valid names.
    """
    if name not in _BUILDERS:
        raise BnnoError(f"unknown model '{name}'; choose one of: {choices(_BUILDERS)}")
    return _BUILDERS[name]


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
    """The subset of resolved hparams ``hp`` that the builder of ``name`` takes."""
    params = inspect.signature(get(name)).parameters
    return {k: v for k, v in hp.items() if k in params and params[k].kind is params[k].KEYWORD_ONLY}


# Importing the model files registers them.
from bnno.models import binarynet  # noqa: E402,F401

"""The model registry: builders registered by name (and alias), looked up by name.

A builder is a pure function ``builder(input_shape, num_classes, **hparams)`` returning an
uncompiled ``tf.keras.Model``. Its keyword-only arguments, with their type hints, are the
model's hparams; the trainer's own keys come from ``bnno.hparams.TRAINER_KEYS``. Model
files register their builders with ``register``; ``bnno.models`` imports every model file,
so importing it (or this module) fills the registry.

An alias may fix hparams of the model it names: ``binarynet_batch`` is ``binarynet``
with ``normalization=batch``, whatever the set says.

Example:
    >>> from bnno import models
    >>> models.canonical("alexnet")
    'binary_alexnet'
    >>> "binarynet" in models.names()
    True
    >>> models.canonical("binarynet_batch"), models.fixed("binarynet_batch")
    ('binarynet', {'normalization': 'batch'})
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any, Literal

from bnno import hparams
from bnno.errors import BnnoError, choices
from bnno.quantizers.registry import QuantizerSpec

_BUILDERS: dict[str, Callable] = {}
_ALIASES: dict[str, str] = {}
_FIXED: dict[str, dict[str, Any]] = {}

_SIMPLE_TYPES = {int: hparams.INT, float: hparams.FLOAT, bool: hparams.BOOL, str: hparams.STR}


def _htype(hint) -> hparams.HType:
    if hint in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[hint]
    if hint == QuantizerSpec:
        return hparams.QUANTIZER
    if set(typing.get_args(hint)) == {str, type(None)}:
        return hparams.OPTIONAL_STR
    if typing.get_origin(hint) is Literal:
        return hparams.choice(*typing.get_args(hint))
    raise TypeError(f"builder hparams must be int, float, bool, str, str | None, a Literal "
                    f"of names or QuantizerSpec; got {hint}")


def register(builder: Callable) -> Callable:
    """Decorator: register ``builder`` under its function name.

    Example:
        A model file registers its builder by decorating it::

            @register
            def binarynet(input_shape, num_classes, *, filters: int = 128): ...
    """
    _BUILDERS[builder.__name__] = builder
    return builder


def register_alias(alias: str, name: str, **fixed: Any) -> None:
    """Let users type ``alias`` for the registered model ``name`` (e.g. ``alexnet``).

    ``fixed`` hparams hold under the alias whatever the set says, and may not be
    overridden (``fixed``).

    Example:
        >>> canonical("alexnet")
        'binary_alexnet'
    """
    _ALIASES[alias] = name
    _FIXED[alias] = dict(fixed)


def fixed(name: str) -> dict[str, Any]:
    """The hparams that the model name ``name`` fixes (an alias's; none for a model's own
    name).

    Example:
        >>> fixed("xnornet_batch"), fixed("xnornet")
        ({'normalization': 'batch'}, {})
    """
    return dict(_FIXED.get(name, {}))


def aliases(name: str) -> dict[str, dict[str, Any]]:
    """The aliases of the model ``name``, each with the hparams it fixes.

    Example:
        >>> aliases("binary_alexnet")
        {'alexnet': {}}
    """
    return {alias: fixed(alias) for alias, target in sorted(_ALIASES.items())
            if target == name}


def names() -> list[str]:
    """All registered model names, sorted (aliases not included).

    Example:
        >>> names()[:3]
        ['binary_alexnet', 'binarynet', 'birealnet']
    """
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

    Example:
        >>> get("alexnet").__name__
        'binary_alexnet'
    """
    return _BUILDERS[canonical(name)]


def hparam_types(name: str) -> dict[str, hparams.HType]:
    """The type of every hparam of model ``name``: the trainer's keys and the builder's.

    Example:
        >>> types = hparam_types("binarynet")
        >>> types["filters"] is hparams.INT, types["epochs"] is hparams.TRAINER_KEYS["epochs"]
        (True, True)
    """
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

"""The checkpoint-importer registry: for each bnno model, the function that maps a
foreign checkpoint's weights onto it.

An importer is ``importer(state, model) -> Mapping``: ``state`` is the checkpoint's
state dict (key → NumPy array, any ``module.`` prefix removed), ``model`` the bnno model
name. It checks every key and shape before anything is built, and returns the builder
hparams and class count the checkpoint implies with a function that puts its weights
into the built Keras model (``state_dict`` takes the state dict out of a loaded file).
Modules of ``bnno.checkpoints`` register importers with ``register``; another paper's
checkpoints are one more module.

Example:
    >>> from bnno import checkpoints
    >>> "bnext_t" in names()
    True
    >>> get("binarynet")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnno.errors.BnnoError: bnno cannot import checkpoints of 'binarynet'; it imports: ...
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnno.errors import BnnoError, choices
from bnno.registry import Registry


@dataclass
class Mapping:
    """What a checkpoint implies for a bnno model: builder ``hparams`` (only those that
    differ from the defaults), ``num_classes`` and ``assign(net)``, which writes its
    weights into a model built with them; ``info`` goes into run.json.

    Example:
        >>> Mapping({"width_multiplier": 0.5}, 10, lambda net: None).num_classes
        10
    """

    hparams: dict[str, Any]
    num_classes: int
    assign: Callable[[Any], None]
    info: dict[str, Any] = field(default_factory=dict)


Importer = Callable[[dict, str], Mapping]
_REGISTRY: Registry[Importer] = Registry("checkpoint importer")


def register(*models: str) -> Callable[[Importer], Importer]:
    """Decorator: the function imports checkpoints of ``models`` (their registered names).

    Raises:
        BnnoError: no model named, a model that has an importer already, or an importer
            that does not take ``(state, model)``.

    Example:
        >>> @register("doctest_only_model")
        ... def doctest_only(state, model):
        ...     return Mapping({}, 10, lambda net: None)
        >>> get("doctest_only_model").__name__
        'doctest_only'
        >>> unregister("doctest_only_model")
    """
    if not models:
        raise BnnoError("an importer must name the models whose checkpoints it imports")

    def decorate(importer: Importer) -> Importer:
        params = [p for p in inspect.signature(importer).parameters.values()
                  if p.default is p.empty]
        if len(params) != 2:
            raise BnnoError(f"importer {importer.__name__} must take (state, model)")
        for model in models:
            _REGISTRY.add(model, importer)
        return importer

    return decorate


def unregister(model: str) -> None:
    """Forget the importer of ``model``.

    Example:
        >>> "doctest_only_model" in names()
        False
    """
    _REGISTRY.remove(model)


def names() -> list[str]:
    """The models whose checkpoints can be imported, sorted.

    Example:
        >>> from bnno import checkpoints
        >>> "bnext_t" in names()
        True
    """
    return _REGISTRY.names()


def get(model: str) -> Importer:
    """The importer of ``model``.

    Raises:
        BnnoError: no importer for that model (the message names those there are).

    Example:
        >>> from bnno import checkpoints
        >>> get("bnext_t").__name__
        'bnext'
    """
    if model not in _REGISTRY:
        raise BnnoError(f"bnno cannot import checkpoints of '{model}'; it imports: "
                        f"{choices(_REGISTRY.names())}")
    return _REGISTRY.get(model)


def state_dict(checkpoint: Any) -> dict[str, np.ndarray]:
    """The tensors of a loaded checkpoint: its ``state_dict`` entry (or the object itself
    when it is one), with the ``module.`` prefix of a ``DataParallel`` model removed.

    Raises:
        BnnoError: there is no state dict of arrays in it.

    Example:
        >>> state_dict({"epoch": 3, "state_dict": {"module.fc.bias": np.zeros(2)}})
        {'fc.bias': array([0., 0.])}
    """
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state:
        raise BnnoError("the checkpoint holds no state dict (a dict of tensors, or a dict "
                        "with a 'state_dict' entry)")
    out = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, np.ndarray):
            raise BnnoError(f"the checkpoint's state dict holds {str(key)[:60]!r}, which "
                            "is not a tensor")
        out[key.removeprefix("module.")] = value
    return out

"""The checkpoint-importer registry: for each bnno model, the function that maps a
foreign checkpoint's weights onto it.

An importer is ``importer(state, model) -> Mapping``: ``state`` is the checkpoint's
state dict (key → NumPy array, any ``module.`` prefix removed), ``model`` the bnno model
name. It checks every key and shape before anything is built, and returns the builder
hparams and class count the checkpoint implies with a function that puts its weights
into the built Keras model. Modules of ``bnno.checkpoints`` register importers with
``register``; another paper's checkpoints are one more module.

Example:
    >>> from bnno import checkpoints
    >>> "bnext_t" in names()
    True
    >>> get("binarynet")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnno.errors.BnnoError: bnno cannot import checkpoints of 'binarynet'; it imports: bnext_18, ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bnno.errors import BnnoError, choices


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


_IMPORTERS: dict[str, Callable[[dict, str], Mapping]] = {}


def register(*models: str) -> Callable:
    """Decorator: the function imports checkpoints of ``models``.

    Example:
        A module registers its importer by decorating it::

            @register("bnext_t", "bnext_s")
            def bnext(state, model): ...
    """
    def decorate(importer: Callable[[dict, str], Mapping]) -> Callable:
        for model in models:
            _IMPORTERS[model] = importer
        return importer

    return decorate


def names() -> list[str]:
    """The models whose checkpoints can be imported, sorted.

    Example:
        >>> from bnno import checkpoints
        >>> names()[:2]
        ['bnext_18', 'bnext_l']
    """
    return sorted(_IMPORTERS)


def get(model: str) -> Callable[[dict, str], Mapping]:
    """The importer of ``model``.

    Raises:
        BnnoError: no importer for that model (the message names those there are).

    Example:
        >>> from bnno import checkpoints
        >>> get("bnext_t").__name__
        'bnext'
    """
    if model not in _IMPORTERS:
        raise BnnoError(f"bnno cannot import checkpoints of '{model}'; it imports: "
                        f"{choices(_IMPORTERS)}")
    return _IMPORTERS[model]

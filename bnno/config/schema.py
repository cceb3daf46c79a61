"""The keys a recipe may hold, section by section, from the registries.

``bnno.hparams`` resolves sets against a ``Schema``; this module makes the one of a
model: its builder's hparams, the trainer's and the data's keys (the fields of
``TrainerConfig`` and two of ``DataConfig``), and every registered optimizer's options.

Example:
    >>> import bnno.plugins
    >>> bnno.plugins.load()
    >>> schema = schema_for("binarynet")
    >>> "filters" in schema.model, "epochs" in schema.trainer, "gamma" in schema.optimizers["bop"]
    (True, True, True)
"""

from __future__ import annotations

import dataclasses
import typing

from bnno import models, optimizers, quantizers
from bnno.config.run import TrainerConfig
from bnno.hparams import Schema
from bnno.htypes import OPTIONAL_INT, STR, HType, from_hint

# The data keys a recipe may set (the other fields of DataConfig come from the dataset).
DATA_KEYS: dict[str, HType] = {"preprocess_fn": STR, "image_size": OPTIONAL_INT}


def trainer_keys() -> dict[str, HType]:
    """The trainer's keys: the fields of ``TrainerConfig`` with their types.

    Example:
        >>> trainer_keys()["epochs"].name
        'a positive integer'
    """
    hints = typing.get_type_hints(TrainerConfig)
    return {f.name: from_hint(hints[f.name]) for f in dataclasses.fields(TrainerConfig)}


def schema_for(model: str) -> Schema:
    """The schema of the sets of ``model`` (a registered name).

    Example:
        >>> import bnno.plugins
        >>> bnno.plugins.load()
        >>> "rho" in schema_for("sibnn_mlp").quantizer_options["sibnn"]
        True
    """
    opts = {n: optimizers.get(n) for n in optimizers.names()}
    return Schema(model=models.hparam_types(model), trainer=trainer_keys(), data=DATA_KEYS,
                  optimizers={n: dict(e.options) for n, e in opts.items()},
                  defaults={n: dict(e.defaults) for n, e in opts.items()},
                  quantizer_options={n: frozenset(quantizers.get(n).options)
                                     for n in quantizers.names()})

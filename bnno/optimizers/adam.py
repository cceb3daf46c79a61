"""The ``adam`` optimizer: legacy Keras Adam, with PyTorch's ε or per-kernel step scaling.

Recipes from PyTorch code name ``adam_epsilon``: PyTorch's ε, added where PyTorch adds
it (``bnno.optimizers.keras.legacy_adam``). The others leave it at none and keep Keras'
own Adam, ε̂ = 1e-7, as their TensorFlow code. ``lr_scaling: xavier`` multiplies the
step of every quantized kernel by its factor (``bnno.optimizers.keras.lr_scaling``).
larq's ``CaseOptimizer`` only wraps legacy optimizers; Adam runs use the same class as
Bop's so both kinds of run keep the same optimizer state layout.

Example:
    >>> from bnno.optimizers import build
    >>> opt = build("adam", {"learning_rate": 1e-3, "adam_epsilon": 1e-8}, 10, 100)
    >>> type(opt).__name__, opt.pytorch_epsilon
    ('Adam', True)
"""

from __future__ import annotations

from typing import Any

from bnno.htypes import OPTIONAL_FLOAT, SCHEDULE, choice
from bnno.optimizers.registry import register


def epsilon_settings(options: dict[str, Any]) -> dict[str, Any]:
    """The ε arguments of ``bnno.optimizers.keras.legacy_adam.Adam`` for ``options``.

    Example:
        >>> epsilon_settings({"adam_epsilon": 1e-8})
        {'epsilon': 1e-08, 'pytorch_epsilon': True}
        >>> epsilon_settings({"adam_epsilon": None})  # Keras' own ε̂
        {}
    """
    if options.get("adam_epsilon") is None:
        return {}
    return {"epsilon": options["adam_epsilon"], "pytorch_epsilon": True}


def _prepare(optimizer, model) -> None:
    from bnno.optimizers.keras.lr_scaling import ScaledAdam

    if isinstance(optimizer, ScaledAdam):
        optimizer.assign_groups(model)  # the per-kernel learning-rate factors


@register("adam", options={"learning_rate": SCHEDULE, "adam_epsilon": OPTIONAL_FLOAT,
                           "lr_scaling": choice("none", "xavier")},
          defaults={"adam_epsilon": None, "lr_scaling": "none"}, prepare=_prepare)
def _build(options: dict[str, Any], schedule):
    from bnno.optimizers.keras.legacy_adam import Adam
    from bnno.optimizers.keras.lr_scaling import ScaledAdam

    if options["lr_scaling"] != "none":
        return ScaledAdam(schedule("learning_rate"), lr_scaling=options["lr_scaling"],
                          **epsilon_settings(options))
    return Adam(schedule("learning_rate"), **epsilon_settings(options))

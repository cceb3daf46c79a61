"""The ``adamw`` optimizer: AdamW with two decoupled weight-decay groups (BNext's recipe).

The optimizer is ``bnno.optimizers.keras.legacy_adamw.AdamW``; its decay groups are assigned
from the model before compiling. ``weight_decay`` and ``weight_decay_low`` default to 0
and ``clip_norm`` to no clipping.

Example:
    >>> from bnno.optimizers import build
    >>> opt = build("adamw", {"learning_rate": 1e-3, "weight_decay": 0.05,
    ...                       "weight_decay_low": 1e-8, "clip_norm": 5.0}, 10, 100)
    >>> type(opt).__name__, opt.weight_decay, opt.global_clipnorm
    ('AdamW', 0.05, 5.0)
"""

from __future__ import annotations

from typing import Any

from bnno.htypes import FLOAT, SCHEDULE
from bnno.optimizers.registry import register


def _prepare(optimizer, model) -> None:
    optimizer.assign_groups(model)  # the two weight-decay groups


@register("adamw", options={"learning_rate": SCHEDULE, "weight_decay": FLOAT,
                            "weight_decay_low": FLOAT, "clip_norm": FLOAT},
          defaults={"weight_decay": 0.0, "weight_decay_low": 0.0, "clip_norm": 0.0},
          prepare=_prepare)
def _build(options: dict[str, Any], schedule):
    from bnno.optimizers.keras.legacy_adamw import AdamW

    return AdamW(schedule("learning_rate"), weight_decay=options["weight_decay"],
                 weight_decay_low=options["weight_decay_low"],
                 global_clipnorm=options["clip_norm"] or None)

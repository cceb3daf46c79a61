"""The ``bop`` optimizer: larq's Bop for the binary kernels, Adam for everything else.

The binary kernels hold ±1 and are tagged ``precision=1`` (``bnno.optimizers.kernels``);
larq's ``CaseOptimizer`` gives them to ``Bop(threshold, gamma)`` and every other
variable (batch norm, real-valued layers) to legacy Adam with ``learning_rate`` (and
PyTorch's ε when the set names ``adam_epsilon``, as for ``adam``).

Example:
    >>> from bnno.optimizers import build
    >>> opt = build("bop", {"threshold": 1e-6, "gamma": 1e-3, "learning_rate": 0.01}, 500,
    ...             50000)
    >>> [type(o).__name__ for o in opt.optimizers]
    ['Bop', 'Adam']
"""

from __future__ import annotations

from typing import Any

from bnno.htypes import OPTIONAL_FLOAT, SCHEDULE
from bnno.optimizers.adam import epsilon_settings
from bnno.optimizers.registry import register


def prepare_case(optimizer, model) -> None:
    """Assign the model's variables to the ``CaseOptimizer``'s optimizers, once.

    Example:
        A latent-free optimizer built on a ``CaseOptimizer`` registers it as its
        ``prepare`` hook: ``register("bop", ..., prepare=prepare_case)``.
    """
    # larq's CaseOptimizer assigns variables to Bop or Adam on its first step. Under a
    # MirroredStrategy that step runs once per replica, and replicas other than the
    # first see per-device variables without the ``precision`` tag, so they would split
    # the variables differently and their all-reduces would not match. The assignment
    # is made here, once, on the model's (mirrored) variables.
    optimizer._compute_var_opt_mapping([(None, v) for v in model.trainable_variables])


@register("bop", options={"learning_rate": SCHEDULE, "threshold": SCHEDULE, "gamma": SCHEDULE,
                          "adam_epsilon": OPTIONAL_FLOAT},
          defaults={"adam_epsilon": None}, logged=("learning_rate", "gamma", "threshold"),
          prepare=prepare_case, latent_free=True)
def _build(options: dict[str, Any], schedule):
    import larq as lq

    from bnno.optimizers.keras.legacy_adam import Adam

    adam = Adam(schedule("learning_rate"), **epsilon_settings(options))
    bop = lq.optimizers.Bop(threshold=schedule("threshold"), gamma=schedule("gamma"))
    return lq.optimizers.CaseOptimizer(
        (lq.optimizers.Bop.is_binary_variable, bop), default_optimizer=adam
    )

"""The ``bop2ndorder`` optimizer: Bop2ndOrder for the binary kernels, Adam for the rest.

As ``bop``, a ``CaseOptimizer``: the ±1 kernels (tagged ``precision=1``) go to
``Bop2ndOrder(threshold, gamma, sigma, bias_correction)``
(``bnno.optimizers.keras.bop2ndorder``), every other variable to legacy Adam with
``learning_rate``. ``bias_correction: true`` is the paper's bias-corrected variant.

Example:
    >>> from bnno.optimizers import build
    >>> hp = {"optimizer": "bop2ndorder", "threshold": 1e-6, "gamma": 1e-7, "sigma": 1e-3,
    ...       "learning_rate": 0.01}
    >>> [type(o).__name__ for o in build(hp, steps_per_epoch=500).optimizers]
    ['Bop2ndOrder', 'Adam']
"""

from __future__ import annotations

from typing import Any

from bnno.htypes import BOOL, FLOAT, SCHEDULE
from bnno.optimizers.adam import epsilon_settings
from bnno.optimizers.bop import prepare_case
from bnno.optimizers.registry import register

# σ when a set leaves it out: the official class's default (its sets give their own).
SIGMA = 1e-2


@register("bop2ndorder",
          keys={"learning_rate": SCHEDULE, "threshold": SCHEDULE, "gamma": SCHEDULE,
                "sigma": SCHEDULE, "bias_correction": BOOL, "adam_epsilon": FLOAT},
          defaults={"sigma": SIGMA, "bias_correction": False, "adam_epsilon": 1e-7},
          logged=("learning_rate", "gamma", "sigma", "threshold"),
          prepare=prepare_case, latent_free=True)
def _build(hp: dict[str, Any], schedule):
    import larq as lq

    from bnno.optimizers.keras.bop2ndorder import Bop2ndOrder
    from bnno.optimizers.keras.legacy_adam import Adam

    binary = Bop2ndOrder(threshold=schedule("threshold"), gamma=schedule("gamma"),
                         sigma=schedule("sigma") if "sigma" in hp else SIGMA,
                         bias_correction=hp.get("bias_correction", False))
    return lq.optimizers.CaseOptimizer((Bop2ndOrder.is_binary_variable, binary),
                                       default_optimizer=Adam(schedule("learning_rate"),
                                                              **epsilon_settings(hp)))

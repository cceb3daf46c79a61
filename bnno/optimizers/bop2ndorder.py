"""The ``bop2ndorder`` optimizer: Bop2ndOrder for the binary kernels, Adam for the rest.

As ``bop``, a ``CaseOptimizer``: the ±1 kernels (tagged ``precision=1``) go to
``Bop2ndOrder(threshold, gamma, sigma, bias_correction)``
(``bnno.optimizers.keras.bop2ndorder``), every other variable to legacy Adam with
``learning_rate``. ``bias_correction: true`` is the paper's bias-corrected variant.

``epochs_decay`` with ``threshold_decay``, ``gamma_decay`` and ``sigma_decay`` are the
keys of the Bop2ndOrder README's schedule experiments (``bop2ndOrder_testExp``): every
``epochs_decay`` epochs τ, γ and σ are multiplied by their factor
(``bnno.schedules.step_decay``); a factor of 1 (the default) keeps the value as it is.

Example:
    >>> from bnno.optimizers import build
    >>> options = {"threshold": 1e-6, "gamma": 1e-7, "sigma": 1e-3, "learning_rate": 0.01}
    >>> [type(o).__name__ for o in build("bop2ndorder", options, 500, 50000).optimizers]
    ['Bop2ndOrder', 'Adam']
"""

from __future__ import annotations

from typing import Any

from bnno import schedules
from bnno.errors import BnnoError
from bnno.htypes import BOOL, FLOAT, OPTIONAL_FLOAT, OPTIONAL_INT, SCHEDULE
from bnno.optimizers.adam import epsilon_settings
from bnno.optimizers.bop import prepare_case
from bnno.optimizers.registry import register

# σ when a set leaves it out: the official class's default (its sets give their own).
SIGMA = 1e-2

# The hyperparameters a step decay may drive, each with its factor's key.
STEPPED = ("threshold", "gamma", "sigma")


def step_decays(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with τ, γ and σ as step decays where ``epochs_decay`` and a factor
    (``threshold_decay``, ``gamma_decay``, ``sigma_decay``) other than 1 ask for one.

    Raises:
        BnnoError: a factor without ``epochs_decay``, or a factor for a value that is a
            schedule already.

    Example:
        >>> options = step_decays({"gamma": 1e-7, "gamma_decay": 0.1, "epochs_decay": 100,
        ...                        "threshold": 1e-6})
        >>> options["gamma"]["decay_epochs"], options["gamma"]["decay_rate"], options["threshold"]
        (100.0, 0.1, 1e-06)
    """
    decayed = [k for k in STEPPED if options.get(f"{k}_decay", 1.0) != 1]
    if not decayed:
        return options
    every = options.get("epochs_decay")
    if every is None:
        verb = "need" if len(decayed) > 1 else "needs"
        raise BnnoError(f"{', '.join(k + '_decay' for k in decayed)} {verb} epochs_decay, "
                        f"the epochs between two decays; add --hparams epochs_decay=...")
    out = dict(options)
    for key in decayed:
        out[key] = schedules.step_decay(key, options.get(key, SIGMA), options[f"{key}_decay"],
                                        every)
    return out


@register("bop2ndorder",
          options={"learning_rate": SCHEDULE, "threshold": SCHEDULE, "gamma": SCHEDULE,
                   "sigma": SCHEDULE, "bias_correction": BOOL, "adam_epsilon": OPTIONAL_FLOAT,
                   "epochs_decay": OPTIONAL_INT, "threshold_decay": FLOAT,
                   "gamma_decay": FLOAT, "sigma_decay": FLOAT},
          defaults={"sigma": SIGMA, "bias_correction": False, "adam_epsilon": None,
                    "epochs_decay": None, "threshold_decay": 1.0, "gamma_decay": 1.0,
                    "sigma_decay": 1.0},
          logged=("learning_rate", "gamma", "sigma", "threshold"),
          prepare=prepare_case, latent_free=True, expand=step_decays)
def _build(options: dict[str, Any], schedule):
    import larq as lq

    from bnno.optimizers.keras.bop2ndorder import Bop2ndOrder
    from bnno.optimizers.keras.legacy_adam import Adam

    binary = Bop2ndOrder(threshold=schedule("threshold"), gamma=schedule("gamma"),
                         sigma=schedule("sigma"), bias_correction=options["bias_correction"])
    return lq.optimizers.CaseOptimizer((Bop2ndOrder.is_binary_variable, binary),
                                       default_optimizer=Adam(schedule("learning_rate"),
                                                              **epsilon_settings(options)))

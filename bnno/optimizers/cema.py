"""The ``cema`` optimizer: CEMA for the binary kernels, Adam for everything else, as the
official step-2 script (jorisquist/Understanding-WM-HP-in-BNNs ``imagenet/step2/train.py``,
``get_optimizers``) splits them.

The binary kernels hold ±1 and are tagged ``precision=1`` (``bnno.optimizers.kernels``);
larq's ``CaseOptimizer`` gives them to ``Cema(alpha, gamma)``
(``bnno.optimizers.keras.cema``) and every other variable (batch norm, learnable biases,
PReLU, stem, classifier) to legacy Adam with ``learning_rate`` (and PyTorch's ε where the
set names ``adam_epsilon``), as the official ``real_optimizer``. The official script
drives α and the learning rate with the same per-epoch ``1 − e/E``, stepped at the end
of each epoch; a set gives ``alpha`` and ``learning_rate`` that schedule
(``linear_epochs`` with ``offset`` 0).

Example:
    >>> from bnno.optimizers import build
    >>> opt = build("cema", {"alpha": 1e-5, "gamma": 1e-3, "learning_rate": 1e-3}, 500, 5000)
    >>> [type(o).__name__ for o in opt.optimizers]
    ['Cema', 'Adam']
"""

from __future__ import annotations

from typing import Any

from bnno.htypes import OPTIONAL_FLOAT, SCHEDULE
from bnno.optimizers.adam import epsilon_settings
from bnno.optimizers.bop import prepare_case
from bnno.optimizers.registry import register


@register("cema", options={"learning_rate": SCHEDULE, "alpha": SCHEDULE, "gamma": SCHEDULE,
                           "adam_epsilon": OPTIONAL_FLOAT},
          defaults={"adam_epsilon": None}, logged=("learning_rate", "alpha", "gamma"),
          prepare=prepare_case, latent_free=True, signed_start=True)
def _build(options: dict[str, Any], schedule):
    import larq as lq

    from bnno.optimizers.keras.cema import Cema
    from bnno.optimizers.keras.legacy_adam import Adam

    cema = Cema(alpha=schedule("alpha"), gamma=schedule("gamma"))
    return lq.optimizers.CaseOptimizer((Cema.is_binary_variable, cema),
                                       default_optimizer=Adam(schedule("learning_rate"),
                                                              **epsilon_settings(options)))

"""The ``sgd`` optimizer: PyTorch's SGD (momentum, dampening, Nesterov, coupled weight decay).

The optimizer is ``bnno.optimizers.keras.sgd.SGD``, whose steps are ``torch.optim.SGD``'s
also when the learning rate follows a schedule (Keras' own SGD folds past rates into its
velocity). BiBench's settings (htqin/BiBench, ``configs/_base_/schedules/sgd_*.py``) are
``momentum`` 0.9 and ``weight_decay`` 1e-4 with the cosine schedules, ``weight_decay`` 1e-4 and
no momentum with the step schedules. Every option but ``learning_rate`` defaults to
PyTorch's default (0, false). The weight decay is PyTorch's: added to every variable's
gradient (batch norm, biases and quantizer variables included).

Example:
    >>> from bnno.optimizers import build
    >>> opt = build("sgd", {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
    ...             10, 100)
    >>> type(opt).__name__, opt.momentum, opt.weight_decay, opt.nesterov
    ('SGD', 0.9, 0.0001, False)
"""

from __future__ import annotations

from typing import Any

from bnno.errors import BnnoError
from bnno.htypes import BOOL, FLOAT, SCHEDULE
from bnno.optimizers.registry import register


@register("sgd", options={"learning_rate": SCHEDULE, "momentum": FLOAT, "dampening": FLOAT,
                          "nesterov": BOOL, "weight_decay": FLOAT},
          defaults={"momentum": 0.0, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0})
def _build(options: dict[str, Any], schedule):
    from bnno.optimizers.keras.sgd import SGD

    try:
        return SGD(schedule("learning_rate"), momentum=options["momentum"],
                   dampening=options["dampening"], nesterov=options["nesterov"],
                   weight_decay=options["weight_decay"])
    except ValueError as e:
        raise BnnoError(f"optimizer 'sgd': {e}") from None

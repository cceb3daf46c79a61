"""Distillation losses: the loss a student minimises against its teachers' logits,
chosen by a recipe's ``distill_loss`` (``bnno.config.TrainerConfig``), registered by name.

A loss is ``loss(student_logits, teacher_logits) -> scalar``: the student's logits
(batch, classes) and a list of the active teachers' logits, held constant
(``bnno.training.distill`` runs the teachers). One module per loss registers it:

* ``consecutive`` (``consecutive``): the consecutive distillation of BNext's recipe,
  the loss of runs that name none;
* ``distribution`` (``distribution``): the ReActNet lineage's ``DistributionLoss``.

This package knows no trainer, so that recipes are checked without TensorFlow; each
loss imports it when it runs.

Example:
    >>> from bnno import distill_losses
    >>> {"consecutive", "distribution"} <= set(distill_losses.names())
    True
    >>> distill_losses.check("kl")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnno.errors.BnnoError: unknown distillation loss 'kl'; choose one of: consecutive, ...
"""

from bnno import import_members
from bnno.distill_losses.registry import (  # noqa: F401
    check,
    get,
    names,
    register,
    unregister,
)

# Importing the loss modules registers them.
import_members(__name__, __path__)

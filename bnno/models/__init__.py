"""The model registry: builders registered by name, created by one factory.

A builder is a pure function ``builder(input_shape, num_classes, **hparams)`` returning an
uncompiled ``tf.keras.Model``. Its keyword-only arguments, with their type hints, are the
model's hparams; the trainer's own keys come from ``bnno.hparams.TRAINER_KEYS``.

The registry itself is ``bnno.models.registry`` and the shared layer helpers are
``bnno.models.layers``; this package re-exports both and imports every module in its
folder (``bnno.import_members``), so a model file registers its builders by being there.
Model files import those two modules, never this package, so the package importing them
closes no cycle.

Example:
    >>> from bnno import models
    >>> models.names()[:4]
    ['binary_alexnet', 'binarynet', 'birealnet', 'bnext_18']
    >>> models.canonical("alexnet")
    'binary_alexnet'

    A model is then built by its builder, e.g. a narrow BinaryNet for CIFAR-10::

        model = models.get("binarynet")((32, 32, 3), 10, filters=16)
"""

from bnno import import_members

# The public names of the registry and the layer helpers, as callers have always used
# them: models.get(...), models.names(), models.torch_bn.
from bnno.models.layers import pool_3x3, torch_bn  # noqa: F401
from bnno.models.registry import (  # noqa: F401
    aliases,
    builder_kwargs,
    canonical,
    fixed,
    get,
    hparam_types,
    names,
    register,
    register_alias,
)

# Importing the model files registers them: adding a model is adding its file.
import_members(__name__, __path__)

"""The model registry: builders registered by name, created by one factory.

A builder is a pure function ``builder(input_shape, num_classes, *, hparams...)``
returning an uncompiled ``tf.keras.Model``; its keyword-only arguments, with their type
hints, are the model's hparams (``bnno.models.registry``).

This package re-exports the registry and imports every module in its folder
(``bnno.import_members``), so a model file registers its builders by being there; a
plugin package registers the same way (``bnno.plugins``). Model files import the
registry module, never this package, so the package importing them closes no cycle.
Layers several models share are in ``bnno.layers``.

Example:
    >>> from bnno import models
    >>> {"binary_alexnet", "binarynet", "bnext_t"} <= set(models.names())
    True
    >>> models.canonical("alexnet")
    'binary_alexnet'

    A model is then built by its builder, e.g. a narrow BinaryNet for CIFAR-10::

        model = models.get("binarynet")((32, 32, 3), 10, filters=16)
"""

from bnno import import_members
from bnno.models.registry import (  # noqa: F401
    aliases,
    builder_kwargs,
    canonical,
    fixed,
    get,
    get_entry,
    hparam_types,
    names,
    register,
    register_alias,
    unregister,
)

# Importing the model files registers them: adding a model is adding its file.
import_members(__name__, __path__)

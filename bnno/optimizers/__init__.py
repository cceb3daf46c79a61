"""Optimizers from hparams: one module per optimizer, registered by name.

What belongs here: the registry (``registry``), one module per value of the
``optimizer`` hparam that registers its builder, keys, logged hyperparameters and
prepare hook (``adam``, ``adamw``, ``bop``), the coupled L2 loss term of ``l2_decay``
(``l2``), what every optimizer shares about binary kernels (``kernels``), and in
``keras`` the Keras optimizer classes they build where Keras has none that fits.

Adding an optimizer is one module with one ``register`` call: this package imports every
module in its folder (``bnno.import_members``). A builder imports TensorFlow (or the
``keras`` module holding its class) when it runs, so that ``bnno.hparams``, which reads
the registered names and keys, stays free of TensorFlow. Optimizer modules import
``bnno.optimizers.registry`` (and each other), never this package, so the package
importing them closes no cycle.

Example:
    >>> from bnno import optimizers
    >>> optimizers.names()
    ['adam', 'adamw', 'bop', 'bop2ndorder', 'cema']
    >>> opt = optimizers.build({"optimizer": "adam", "learning_rate": 5e-3}, 195)
    >>> type(opt).__name__, opt.get_config()["learning_rate"]
    ('Adam', 0.005)
"""

from bnno import import_members

# The public names, as callers have always used them: optimizers.build(...),
# optimizers.kernel_settings(...), optimizers.step_count(...).
from bnno.optimizers.kernels import (  # noqa: F401
    FLIP_RATIO,
    binarize_kernels,
    binary_kernels,
    kernel_settings,
    kernel_spec,
    run_length,
    step_count,
)
from bnno.optimizers.registry import (  # noqa: F401
    DEFAULTS,
    KEYS,
    OPTIMIZER,
    build,
    check,
    get,
    latent_free,
    logged,
    names,
    prepare,
    register,
    unregister,
)

# Importing the optimizer modules registers them.
import_members(__name__, __path__)

"""Optimizers: one module per optimizer, registered by name.

What belongs here: the registry (``registry``), one module per optimizer that registers
its builder, options, logged hyperparameters and hooks (``adam``, ``adamw``, ``bop``,
``bop2ndorder``), the coupled L2 loss term of ``l2_decay`` (``l2``), what optimizers
share about binary kernels (``kernels``), and in ``keras`` the Keras optimizer classes
they build where Keras has none that fits.

Adding an optimizer is one module with one ``register`` call: this package imports every
module in its folder (``bnno.import_members``); a plugin package registers the same way
(``bnno.plugins``). A builder imports TensorFlow (or the ``keras`` module holding its
class) when it runs, so that recipes can be checked without TensorFlow. Optimizer
modules import ``bnno.optimizers.registry`` (and each other), never this package, so the
package importing them closes no cycle.

Example:
    >>> from bnno import optimizers
    >>> {"adam", "bop"} <= set(optimizers.names())
    True
    >>> opt = optimizers.build("adam", {"learning_rate": 5e-3}, 195, 19500)
    >>> type(opt).__name__, opt.get_config()["learning_rate"]
    ('Adam', 0.005)
"""

from bnno import import_members
from bnno.optimizers.kernels import (  # noqa: F401
    binarize_kernels,
    binary_kernels,
    step_count,
)
from bnno.optimizers.registry import (  # noqa: F401
    build,
    get,
    latent_free,
    names,
    prepare,
    register,
    unregister,
)

# Importing the optimizer modules registers them.
import_members(__name__, __path__)

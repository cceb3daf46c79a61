"""SGD with momentum and Nesterov, as Keras has it, registered as ``toy_sgd``.

Example:
    >>> from bnno import optimizers
    >>> opt = optimizers.build("toy_sgd", {"learning_rate": 0.1, "nesterov": True}, 10, 100)
    >>> type(opt).__name__, opt.nesterov
    ('SGD', True)
"""

from bnno.htypes import BOOL, FLOAT, SCHEDULE
from bnno.optimizers import register


@register("toy_sgd", options={"learning_rate": SCHEDULE, "momentum": FLOAT, "nesterov": BOOL},
          defaults={"momentum": 0.0, "nesterov": False})
def build(options, schedule):
    """Keras' legacy SGD: the kind of optimizer larq's CaseOptimizer wraps."""
    import tensorflow as tf

    return tf.keras.optimizers.legacy.SGD(schedule("learning_rate"),
                                          momentum=options["momentum"],
                                          nesterov=options["nesterov"])

"""Binary kernels as optimizers see them: which variables a latent-free optimizer (Bop)
trains, setting them to ±1, and how many steps an optimizer has taken.

The binary kernels of a latent-free run hold ±1 themselves and are tagged
``precision=1`` (``bnno.config.kernels`` gives the layers the quantizer that tags them),
so larq's ``Bop`` claims them inside a ``CaseOptimizer`` (``bnno.optimizers.bop``).

Example:
    >>> import larq as lq
    >>> import tensorflow as tf
    >>> layer = lq.layers.QuantDense(2, kernel_quantizer=lq.quantizers.NoOp(precision=1))
    >>> layer.build((None, 3))
    >>> lq.optimizers.Bop.is_binary_variable(layer.kernel)
    True
"""

from __future__ import annotations


def step_count(optimizer) -> int:
    """Optimizer steps taken so far.

    ``CaseOptimizer.iterations`` stays 0 during ``fit``; the wrapped optimizers count the
    steps, and their counters are what schedules read.

    Example:
        >>> import larq as lq
        >>> import tensorflow as tf
        >>> layer = lq.layers.QuantDense(2, kernel_quantizer=lq.quantizers.NoOp(precision=1))
        >>> layer.build((None, 3))
        >>> from bnno.optimizers import build
        >>> opt = build("bop", {"threshold": 1e-6, "gamma": 1e-3, "learning_rate": 0.01}, 500,
        ...             50000)
        >>> opt.apply_gradients([(tf.ones_like(v), v) for v in layer.trainable_weights])
        >>> int(opt.iterations), step_count(opt)
        (0, 1)
    """
    inner = getattr(optimizer, "optimizers", None)
    return int((inner[0] if inner else optimizer).iterations.numpy())


def binary_kernels(model) -> list:
    """The variables Bop trains: those tagged ``precision == 1``.

    Example:
        >>> import larq as lq
        >>> import tensorflow as tf
        >>> x = tf.keras.Input((3,))
        >>> y = lq.layers.QuantDense(2, name="dense",
        ...                          kernel_quantizer=lq.quantizers.NoOp(precision=1))(x)
        >>> [v.name for v in binary_kernels(tf.keras.Model(x, y))]
        ['dense/kernel:0']
    """
    import larq as lq

    return [v for v in model.trainable_variables if lq.optimizers.Bop.is_binary_variable(v)]


def binarize_kernels(model) -> None:
    """Set Bop's binary kernels to ±1 (the sign of their initial values, 0 -> +1).

    A kernel quantizer with a scale of its own (``channel_scale``) first takes its
    starting value from the initial kernel (``start_from``: mean |w| per channel).

    Example:
        >>> import larq as lq
        >>> import tensorflow as tf
        >>> x = tf.keras.Input((3,))
        >>> y = lq.layers.QuantDense(2, kernel_quantizer=lq.quantizers.NoOp(precision=1))(x)
        >>> model = tf.keras.Model(x, y)
        >>> _ = model.layers[-1].kernel.assign([[0.3, -0.2], [0.0, 1.5], [-4.0, 0.1]])
        >>> binarize_kernels(model)
        >>> model.layers[-1].kernel.numpy()
        array([[ 1., -1.],
               [ 1.,  1.],
               [-1.,  1.]], dtype=float32)
    """
    import larq as lq

    for layer in model.submodules:
        quantizer = getattr(layer, "kernel_quantizer", None)
        if hasattr(quantizer, "start_from"):
            quantizer.start_from(layer.kernel)
    for var in binary_kernels(model):
        var.assign(lq.math.sign(var))


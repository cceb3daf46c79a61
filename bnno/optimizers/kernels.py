"""Binary kernels as optimizers see them: which variables a latent-free optimizer (Bop)
trains, how they start, setting them to ±1, and how many steps an optimizer has taken.

The binary kernels of a latent-free run are tagged ``precision=1`` (``bnno.config.kernels``
gives the layers the quantizer that tags them), so larq's ``Bop`` claims them inside a
``CaseOptimizer`` (``bnno.optimizers.bop``). They start as the official Bop and
Bop2ndOrder code starts them (``start_kernels``): the initialiser's real values, which
the first forward pass uses as they are; the optimizer's first update writes ±1 into
them (its rule always does), and they hold ±1 from then on.

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


def start_kernels(model, signed: bool = False) -> None:
    """Set up the binary kernels of a latent-free model before its first step; with
    ``signed``, as their signs (``binarize_kernels``: an optimizer registered with
    ``signed_start``, such as CEMA, whose official code signs them at its creation).

    Kernels tagged by a plain ``NoOp(precision=1)`` keep the initialiser's real values,
    as in the official code (the Bop paper's sets pass ``kernel_quantizer=None``, the
    Bop2ndOrder code's ``NoOpQuantizer(precision=1)``, both with Keras' Glorot
    initialiser): the first forward pass and its gradient are those of the real-valued
    network, and the optimizer's first update turns every kernel into ±1 (w₁ = sign(w₀)
    where nothing flips). A kernel quantizer with a scale of its own (``channel_scale``,
    bnno's own: no official code trains scaled kernels latent-free) takes α = mean |w|
    per channel from the initial kernel and the kernel its sign, so that the model starts
    as the same function α·sign(w) as its latent-weight form.

    Example:
        >>> import larq as lq
        >>> import tensorflow as tf
        >>> x = tf.keras.Input((3,))
        >>> y = lq.layers.QuantDense(2, kernel_quantizer=lq.quantizers.NoOp(precision=1))(x)
        >>> model = tf.keras.Model(x, y)
        >>> _ = model.layers[-1].kernel.assign([[0.3, -0.2], [0.0, 1.5], [-4.0, 0.1]])
        >>> start_kernels(model)
        >>> model.layers[-1].kernel.numpy().tolist()  # real until the first update
        [[0.30000001192092896, -0.20000000298023224], [0.0, 1.5], [-4.0, 0.10000000149011612]]
    """
    import larq as lq

    if signed:
        binarize_kernels(model)
        return
    for layer in _start_scales(model):
        layer.kernel.assign(lq.math.sign(layer.kernel))


def binarize_kernels(model) -> None:
    """Set a latent-free model's binary kernels to ±1 (the sign of what they hold,
    0 -> +1): what ``bnno train --init`` does with a latent-weight run's kernels, whose
    trained network is the one of their signs.

    A kernel quantizer with a scale of its own (``channel_scale``) first takes its
    starting value from the kernel (``start_from``: mean |w| per channel).

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

    _start_scales(model)
    for var in binary_kernels(model):
        var.assign(lq.math.sign(var))


def _start_scales(model) -> list:
    """The layers whose kernel quantizer keeps a scale of its own (``channel_scale``),
    each scale given its starting value from the kernel (``start_from``)."""
    layers = [layer for layer in model.submodules
              if hasattr(getattr(layer, "kernel_quantizer", None), "start_from")]
    for layer in layers:
        layer.kernel_quantizer.start_from(layer.kernel)
    return layers

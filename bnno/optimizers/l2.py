"""Coupled L2 weight decay, as PyTorch's ``Adam(weight_decay=wd)`` applies it.

PyTorch adds ``wd·w`` to every gradient before Adam normalises it (unlike AdamW's
decoupled decay). A loss term ``wd/2 · Σ w²`` has exactly that gradient, so it is added
to the model's losses. Si-BNN's official code decays every parameter except the
binarizers' thresholds θ and 1/Δ; Bop's ±1 kernels are not latent weights, so they are
left out too. The ``rank4`` group decays only what PyTorch stores as 4-D tensors, the
group the ReActNet lineage decays (``p.ndimension() == 4 or 'conv' in pname``,
liuzechun/ReActNet ``mobilenet/1_step1/train.py``): convolution kernels and the layers
marked ``weight_decay_group = "low"`` (learnable biases), as
``bnno.optimizers.keras.legacy_adamw.low_decay_variables`` finds them for BNext.

Example:
    >>> import tensorflow as tf
    >>> model = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(3)])
    >>> add_to(model, 1e-6)
    >>> len(model.losses)
    1
"""

from __future__ import annotations

from bnno.optimizers.kernels import binary_kernels


def decayed(model, group: str = "all") -> list:
    """The variables ``add_to`` decays: all trainable ones but quantizers' own (such as
    Si-BNN's thresholds) and Bop's ±1 kernels; for ``group="rank4"`` only those of them
    that are convolution kernels or marked low-decay (see the module docstring).

    Example:
        A Bop kernel (tagged ``precision=1``) and a Si-BNN binarizer's θ and 1/Δ are left
        out:

        >>> import larq as lq
        >>> import tensorflow as tf
        >>> from bnno import quantizers
        >>> model = tf.keras.Sequential([
        ...     tf.keras.Input((3,)),
        ...     lq.layers.QuantDense(4, input_quantizer=quantizers.resolve("sibnn", "activation"),
        ...                          kernel_quantizer=lq.quantizers.NoOp(precision=1),
        ...                          use_bias=False, name="binary"),
        ...     tf.keras.layers.Dense(2, name="real")])
        >>> len(model.trainable_variables)
        5
        >>> [v.name for v in decayed(model)]
        ['real/kernel:0', 'real/bias:0']
        >>> conv = tf.keras.Sequential([tf.keras.Input((4, 4, 1)),
        ...                             tf.keras.layers.Conv2D(2, 3, name="conv")])
        >>> [v.name for v in decayed(conv, "rank4")]
        ['conv/kernel:0']
    """
    import larq as lq

    own = [v for m in model.submodules if isinstance(m, lq.quantizers.Quantizer)
           for v in m.trainable_weights]
    skip = {id(v) for v in own + binary_kernels(model)}
    found = [v for v in model.trainable_variables if id(v) not in skip]
    if group == "rank4":
        from bnno.optimizers.keras.legacy_adamw import low_decay_variables

        rank4 = {id(v) for v in low_decay_variables(model)}
        found = [v for v in found if id(v) in rank4]
    return found


def add_to(model, decay: float, group: str = "all") -> None:
    """Add ``decay/2 · Σ w²`` over ``decayed(model, group)`` to the model's losses.

    Example:
        Nine weights equal to 1 give ``0.1/2 · 9``:

        >>> import tensorflow as tf
        >>> model = tf.keras.Sequential([
        ...     tf.keras.Input((2,)),
        ...     tf.keras.layers.Dense(3, kernel_initializer="ones", bias_initializer="ones")])
        >>> add_to(model, 0.1)
        >>> round(float(model.losses[0]), 6)
        0.45
    """
    import tensorflow as tf

    variables = decayed(model, group)
    model.add_loss(lambda: 0.5 * decay * tf.add_n([tf.reduce_sum(tf.square(v))
                                                   for v in variables]))

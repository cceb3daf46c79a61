"""Binary kernels for every optimizer: quantizer settings, Bop's ±1 kernels, step counts.

With a latent-free optimizer (``optimizer: bop``) the binary kernels hold ±1 themselves
and are tagged ``precision=1``, so larq's ``Bop`` claims them inside a ``CaseOptimizer``
(``bnno.optimizers.bop``): by ``NoOp(precision=1)``, or by ``channel_scale``, which keeps
a per-channel scale α as a float variable beside them (the form of scaled binarizers
such as ``sibnn_weight`` without latent weights). With any other optimizer the kernels
are latent weights binarized by ``kernel_quantizer``. Either way larq's ``flip_ratio``
metric is attached to every binary kernel.

Example:
    >>> kernel_settings({"optimizer": "adam", "kernel_quantizer": "ste_sign"})[
    ...     "kernel_quantizer"]["class_name"]
    'SteSign'
"""

from __future__ import annotations

from typing import Any

from bnno.errors import BnnoError
from bnno.optimizers.registry import latent_free

FLIP_RATIO = ["flip_ratio"]


def kernel_spec(hp: dict[str, Any], flip_ratio: bool = True) -> dict[str, Any]:
    """The ``kernel_quantizer``/``kernel_constraint`` builder arguments for ``hp``.

    With Bop and no ``kernel_quantizer``, a Keras config of larq's ``NoOp(precision=1)``;
    otherwise ``hp``'s quantizer spec with the flip-ratio metric added (unless
    ``flip_ratio`` is false), which the model's builder resolves
    (``bnno.quantizers.resolve``), filling in the options it gives that quantizer.

    Raises:
        BnnoError: a latent-weight quantizer or a constraint with a latent-free
            optimizer, or a quantizer of ±1 kernels (``channel_scale``) without one.

    Example:
        >>> kernel_spec({"optimizer": "bop"})["kernel_quantizer"]["class_name"]
        'NoOp'
        >>> kernel_spec({"optimizer": "bop", "kernel_quantizer": "channel_scale"})
        {'kernel_quantizer': {'name': 'channel_scale', 'metrics': ['flip_ratio']}, \
'kernel_constraint': None}
        >>> kernel_spec({"optimizer": "adam", "kernel_quantizer": "ste_sign"})
        {'kernel_quantizer': {'name': 'ste_sign', 'metrics': ['flip_ratio']}}
        >>> kernel_spec({"optimizer": "bop", "kernel_quantizer": "ste_sign"})
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: bop trains the binary kernels as ±1, without latent weights: \
kernel_quantizer must be none or channel_scale (got ste_sign) and kernel_constraint none (got \
None); drop them from --hparams (a set's own give way when --hparams switches the optimizer)
    """
    from bnno.quantizers.registry import get, names, resolve, split  # bnno.hparams stays light

    metrics = list(FLIP_RATIO if flip_ratio else [])
    name, options = split(hp.get("kernel_quantizer"))
    if name is not None and name not in names("kernel"):
        resolve(name, "kernel")  # raises the one-line error that names the kernel quantizers
    if latent_free(hp):
        own = [n for n in names("kernel") if get(n).latent_free]
        if (name is not None and not get(name).latent_free) or hp.get("kernel_constraint"):
            raise BnnoError(
                f"{hp['optimizer']} trains the binary kernels as ±1, without latent weights: "
                f"kernel_quantizer must be none or {' or '.join(own)} (got {name}) and "
                f"kernel_constraint none (got {hp.get('kernel_constraint')}); drop them from "
                "--hparams (a set's own give way when --hparams switches the optimizer)")
        if name is None:
            quantizer = {"class_name": "NoOp", "config": {"precision": 1, "metrics": metrics}}
        else:
            quantizer = {"name": name, **options, "metrics": metrics}
        return {"kernel_quantizer": quantizer, "kernel_constraint": None}
    if name is None:
        return {}
    if get(name).latent_free:
        raise BnnoError(f"kernel_quantizer {name} scales kernels that hold ±1, which only a "
                        "latent-free optimizer trains; use optimizer=bop or bop2ndorder with it")
    return {"kernel_quantizer": {"name": name, **options, "metrics": metrics}}


def kernel_settings(hp: dict[str, Any], flip_ratio: bool = True) -> dict[str, Any]:
    """``kernel_spec`` resolved: the arguments a larq layer takes as they are.

    Example:
        >>> kernel_settings({"optimizer": "adam", "kernel_quantizer": "ste_sign"})
        {'kernel_quantizer': {'class_name': 'SteSign', 'config': {'clip_value': 1.0, \
'metrics': ['flip_ratio']}}}
    """
    from bnno.quantizers.registry import resolve

    settings = kernel_spec(hp, flip_ratio)
    if "kernel_quantizer" in settings:
        settings["kernel_quantizer"] = resolve(settings["kernel_quantizer"], "kernel")
    return settings


def run_length(hp: dict[str, Any], train_examples: int, steps_per_epoch: int | None = None) -> int:
    """Optimizer steps of a whole run: the length of schedules that decay over the run.

    The Bop paper's code computes ``epochs × examples // batch_size`` (a few steps more
    than ``epochs × (examples // batch_size)`` are trained); runs with shortened epochs
    take ``epochs × steps_per_epoch``.

    Example:
        >>> run_length({"epochs": 150, "batch_size": 1024}, 1_281_167)
        187670
    """
    if steps_per_epoch:
        return hp["epochs"] * steps_per_epoch
    return hp["epochs"] * train_examples // hp["batch_size"]


def step_count(optimizer) -> int:
    """Optimizer steps taken so far.

    ``CaseOptimizer.iterations`` stays 0 during ``fit``; the wrapped optimizers count the
    steps, and their counters are what schedules read.

    Example:
        >>> import larq as lq
        >>> import tensorflow as tf
        >>> layer = lq.layers.QuantDense(2, **kernel_settings({"optimizer": "bop"}))
        >>> layer.build((None, 3))
        >>> from bnno.optimizers import build
        >>> opt = build({"optimizer": "bop", "threshold": 1e-6, "gamma": 1e-3,
        ...              "learning_rate": 0.01}, steps_per_epoch=500)
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
        >>> y = lq.layers.QuantDense(2, name="dense", **kernel_settings({"optimizer": "bop"}))(x)
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
        >>> y = lq.layers.QuantDense(2, **kernel_settings({"optimizer": "bop"}))(x)
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


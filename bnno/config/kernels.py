"""The binary kernels a model gets for its optimizer: which quantizer, which constraint.

With a latent-free optimizer (``optimizer: bop``) the binary kernels are trained as they
are (real until the optimizer's first update writes ±1, then ±1) and are tagged
``precision=1``, so larq's ``Bop`` claims them inside a ``CaseOptimizer``
(``bnno.optimizers.bop``): by ``LatentFreeKernel`` (larq's ``NoOp(precision=1)`` whose
flip ratio counts sign changes, ``bnno.quantizers.sign_flips``), or by a latent-free
quantizer of its own (``channel_scale``, which keeps a per-channel scale α as a float
variable beside them). With any other optimizer the kernels are latent weights binarized
by the model's ``kernel_quantizer``. Either way a ``flip_ratio`` metric is attached to
every binary kernel.

Example:
    >>> import bnno.plugins
    >>> bnno.plugins.load()
    >>> kernel_spec({"kernel_quantizer": "ste_sign"}, "adam")
    {'kernel_quantizer': {'name': 'ste_sign', 'metrics': ['flip_ratio']}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bnno import optimizers, quantizers
from bnno.errors import BnnoError

FLIP_RATIO = ["flip_ratio"]


def kernel_spec(hparams: Mapping[str, Any], optimizer: str,
                flip_ratio: bool = True) -> dict[str, Any]:
    """The ``kernel_quantizer``/``kernel_constraint`` builder arguments of a model with
    ``hparams`` trained by ``optimizer``.

    With a latent-free optimizer and no ``kernel_quantizer``, a Keras config of
    ``LatentFreeKernel`` (larq's ``NoOp(precision=1)`` counting sign flips); otherwise the
    quantizer spec with the flip-ratio metric added (unless ``flip_ratio`` is false),
    which the model's builder resolves (``bnno.quantizers.resolve``), filling in the
    options it gives that quantizer.

    Raises:
        BnnoError: an unknown kernel quantizer, a latent-weight quantizer or a constraint
            with a latent-free optimizer, or a quantizer of ±1 kernels (``channel_scale``)
            without one.

    Example:
        >>> import bnno.plugins
        >>> bnno.plugins.load()
        >>> kernel_spec({}, "bop")["kernel_quantizer"]["class_name"]
        'LatentFreeKernel'
        >>> kernel_spec({"kernel_quantizer": "channel_scale"}, "bop")
        {'kernel_quantizer': {'name': 'channel_scale', 'metrics': ['flip_ratio']}, \
'kernel_constraint': None}
        >>> kernel_spec({"kernel_quantizer": "ste_sign"}, "bop")
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: bop trains the binary kernels as ±1, without latent weights: \
kernel_quantizer must be none or channel_scale (got ste_sign) and kernel_constraint none (got \
None); drop them from --hparams (a set's own give way when --hparams switches the optimizer)
    """
    metrics = list(FLIP_RATIO if flip_ratio else [])
    spec = hparams.get("kernel_quantizer")
    name, options = quantizers.split(spec)
    if name is not None:
        quantizers.check(spec, "kernel")  # the one-line error naming the kernel quantizers
    if optimizers.latent_free(optimizer):
        own = [n for n in quantizers.names("kernel") if quantizers.get(n).latent_free]
        if (name is not None and not quantizers.get(name).latent_free) \
                or hparams.get("kernel_constraint"):
            raise BnnoError(
                f"{optimizer} trains the binary kernels as ±1, without latent weights: "
                f"kernel_quantizer must be none or {' or '.join(own)} (got {name}) and "
                f"kernel_constraint none (got {hparams.get('kernel_constraint')}); drop them "
                "from --hparams (a set's own give way when --hparams switches the optimizer)")
        if name is None:
            quantizer = {"class_name": "LatentFreeKernel", "config": {"metrics": metrics}}
        else:
            quantizer = {"name": name, **options, "metrics": metrics}
        return {"kernel_quantizer": quantizer, "kernel_constraint": None}
    if name is None:
        return {}
    if quantizers.get(name).latent_free:
        latent_free = [n for n in optimizers.names() if optimizers.latent_free(n)]
        raise BnnoError(f"kernel_quantizer {name} scales kernels that hold ±1, which only a "
                        f"latent-free optimizer trains; use optimizer={' or '.join(latent_free)}"
                        " with it")
    return {"kernel_quantizer": {"name": name, **options, "metrics": metrics}}


def kernel_settings(hparams: Mapping[str, Any], optimizer: str,
                    flip_ratio: bool = True) -> dict[str, Any]:
    """``kernel_spec`` resolved: the arguments a larq layer takes as they are.

    Example:
        >>> import bnno.plugins
        >>> bnno.plugins.load()
        >>> kernel_settings({"kernel_quantizer": "ste_sign"}, "adam")
        {'kernel_quantizer': {'class_name': 'SteSign', 'config': {'clip_value': 1.0, \
'metrics': ['flip_ratio']}}}
    """
    settings = kernel_spec(hparams, optimizer, flip_ratio)
    if "kernel_quantizer" in settings:
        from bnno.quantizers import sign_flips  # noqa: F401  (registers LatentFreeKernel)

        settings["kernel_quantizer"] = quantizers.resolve(settings["kernel_quantizer"], "kernel")
    return settings

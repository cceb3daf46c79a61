"""Quantizers: the binarizers of activations and weights, registered by name.

What belongs here: the registry (``registry``) and one module per family of binarizers,
each registering its larq quantizer classes with ``@register``: larq's own
(``larq_signs``), BNext's (``bnext``), Si-BNN's activation (``sibnn``) and weight
(``sibnn_weight``) binarizers, XNOR-Net's weight binarizer (``xnor_weight``), the
per-channel scale of ±1 kernels trained latent-free (``channel_scale``), and the
sign-counting flip ratio that scaled signs share (``sign_flips``).

Adding a quantizer is one module with a registered class: this package imports every
module in its folder (``bnno.import_members``); a plugin package registers the same way
(``bnno.plugins``). Quantizer modules import ``bnno.quantizers.registry`` (and each
other), never this package.

Example:
    >>> from bnno import quantizers
    >>> "channel_scale" in quantizers.names("kernel")
    True
    >>> quantizers.resolve({"name": "sibnn", "rho": 0.4}, "activation")["config"]["rho"]
    0.4
"""

from bnno import import_members
from bnno.quantizers.registry import (  # noqa: F401
    EXPORTS,
    KINDS,
    QuantizerSpec,
    check,
    entry_of,
    get,
    names,
    register,
    resolve,
    split,
    unregister,
)

# Importing the quantizer modules registers them.
import_members(__name__, __path__)

"""Activation binarizers by name: larq's own, plus names for variants used by papers.

A model's ``activation`` hparam holds a name (hparam sets are data); this module turns
it into what a larq layer takes. Larq names (``ste_sign``, ``approx_sign``,
``swish_sign``, ``ste_heaviside``, ...) pass through unchanged.

``bnext_sign`` is BNext's activation binarizer (``HardSign``, Guo et al. 2023): sign in
the forward pass with PyTorch's sign(0) = 0, straight-through gradient 1 where
|x| <= 1.5 (``bnno.bnext_quantizers.BNextSign``). ``sibnn`` is Si-BNN's sparse {0, 1}
binarizer with trainable thresholds (``bnno.sibnn.SiBnn``); its ``rho`` comes from the
model's ``rho`` hparam.

Example:
    >>> resolve("bnext_sign")
    {'class_name': 'BNextSign', 'config': {'clip_value': 1.5}}
    >>> resolve("ste_sign")
    'ste_sign'
    >>> resolve("sibnn", rho=0.2)
    {'class_name': 'SiBnn', 'config': {'rho': 0.2}}
"""

from __future__ import annotations

import importlib
from typing import Any

from bnno.errors import BnnoError

# Binarizers bnno defines: name -> (module defining the class, class name).
NAMED: dict[str, tuple[str, str]] = {
    "bnext_sign": ("bnno.bnext_quantizers", "BNextSign"),
    "sibnn": ("bnno.sibnn", "SiBnn"),
}


def resolve(name: str | None, rho: float = 0.3) -> str | dict[str, Any] | None:
    """What a larq layer's ``input_quantizer`` gets for ``name`` (None: no binarizer).

    ``rho`` is the window of ``sibnn`` below its threshold; other binarizers ignore it.

    Raises:
        BnnoError: neither a larq quantizer nor a name of ``NAMED``, or a bad ``rho``.

    Example:
        >>> resolve(None) is None
        True
    """
    import larq as lq

    if name is None:
        return None
    if name in NAMED:
        module, class_name = NAMED[name]
        importlib.import_module(module)  # registers the class with Keras
        config: dict[str, Any] = {"clip_value": 1.5} if name == "bnext_sign" else {}
        if name == "sibnn":
            if not 0.0 <= rho <= 1.0:
                raise BnnoError(f"rho must be between 0 and 1, got {rho}")
            config = {"rho": float(rho)}
        # A fresh dict each time: every layer builds its own quantizer from it.
        return {"class_name": class_name, "config": config}
    try:
        lq.quantizers.get(name)
    except ValueError:
        raise BnnoError(
            f"unknown activation '{name}'; use a larq quantizer name such as ste_sign, "
            f"approx_sign, swish_sign, ste_heaviside, or one of: {', '.join(sorted(NAMED))}"
        ) from None
    return name

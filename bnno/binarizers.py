"""Activation binarizers by name: larq's own, plus names for variants used by papers.

A model's ``activation`` hparam holds a name (hparam sets are data); this module turns
it into what a larq layer takes. Larq names (``ste_sign``, ``approx_sign``,
``swish_sign``, ``ste_heaviside``, ...) pass through unchanged.

``sibnn`` is Si-BNN's sparse {0, 1} binarizer with trainable thresholds
(``bnno.sibnn.SiBnn``); its ``rho`` comes from the model's ``rho`` hparam.

``bnext_sign`` is BNext's activation binarizer (``HardSign``, Guo et al. 2023): sign in
the forward pass, straight-through gradient 1 where |x| <= 1.5 and 0 elsewhere. larq's
``SteSign(clip_value=1.5)`` computes exactly that, so no new quantizer class is written:
the name only stands for that configuration, and layers receive it as a config dict, so
a saved model reloads without custom objects. (PyTorch's sign(0) is 0 and larq's is +1;
an activation that is exactly 0 is the only case where the two differ.)

Example:
    >>> resolve("bnext_sign")
    {'class_name': 'SteSign', 'config': {'clip_value': 1.5}}
    >>> resolve("ste_sign")
    'ste_sign'
    >>> resolve("sibnn", rho=0.2)
    {'class_name': 'SiBnn', 'config': {'rho': 0.2}}
"""

from __future__ import annotations

from typing import Any

from bnno.errors import BnnoError

NAMED: dict[str, dict[str, Any]] = {
    "bnext_sign": {"class_name": "SteSign", "config": {"clip_value": 1.5}},
}


NAMES = (*NAMED, "sibnn")


def resolve(name: str | None, rho: float = 0.3) -> str | dict[str, Any] | None:
    """What a larq layer's ``input_quantizer`` gets for ``name`` (None: no binarizer).

    ``rho`` is the window of ``sibnn`` below its threshold; other binarizers ignore it.

    Raises:
        BnnoError: neither a larq quantizer nor a name of ``NAMED``.

    Example:
        >>> resolve(None) is None
        True
    """
    import larq as lq

    if name is None:
        return None
    if name == "sibnn":
        import bnno.sibnn  # noqa: F401  (registers the class with Keras)

        if not 0.0 <= rho <= 1.0:
            raise BnnoError(f"rho must be between 0 and 1, got {rho}")
        return {"class_name": "SiBnn", "config": {"rho": float(rho)}}
    if name in NAMED:
        # A fresh dict each time: every layer builds its own quantizer from it.
        return {"class_name": NAMED[name]["class_name"], "config": dict(NAMED[name]["config"])}
    try:
        lq.quantizers.get(name)
    except ValueError:
        raise BnnoError(
            f"unknown activation '{name}'; use a larq quantizer name such as ste_sign, "
            f"approx_sign, swish_sign, ste_heaviside, or one of: {', '.join(sorted(NAMES))}"
        ) from None
    return name

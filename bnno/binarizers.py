"""Activation binarizers by name: larq's own, plus names for variants used by papers.

A model's ``input_quantizer`` hparam holds a name (hparam sets are data); this module
turns it into what a larq layer takes. Larq names (``ste_sign``, ``approx_sign``,
``swish_sign``, ...) pass through unchanged.

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
"""

from __future__ import annotations

from typing import Any

from bnno.errors import BnnoError

NAMED: dict[str, dict[str, Any]] = {
    "bnext_sign": {"class_name": "SteSign", "config": {"clip_value": 1.5}},
}


def resolve(name: str | None) -> str | dict[str, Any] | None:
    """What a larq layer's ``input_quantizer`` gets for ``name`` (None: no binarizer).

    Raises:
        BnnoError: neither a larq quantizer nor a name of ``NAMED``.

    Example:
        >>> resolve(None) is None
        True
    """
    import larq as lq

    if name is None:
        return None
    if name in NAMED:
        # A fresh dict each time: every layer builds its own quantizer from it.
        return {"class_name": NAMED[name]["class_name"], "config": dict(NAMED[name]["config"])}
    try:
        lq.quantizers.get(name)
    except ValueError:
        raise BnnoError(
            f"unknown input_quantizer '{name}'; use a larq quantizer name such as ste_sign, "
            f"approx_sign, swish_sign, or one of: {', '.join(sorted(NAMED))}"
        ) from None
    return name

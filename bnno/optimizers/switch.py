"""What a set's values give way to when ``--hparams optimizer=...`` switches its optimizer.

A set's kernel settings and optimizer keys belong to the optimizer it names. When the
user switches the optimizer on the command line, ``switch`` adjusts the set's values
that the new optimizer cannot train with, unless the user gave them too (a value the
user gives is kept, and refused later if it does not fit):

* to a latent-free optimizer (``bop``, ``bop2ndorder``), the set's latent-weight
  ``kernel_quantizer`` gives way to ±1 kernels: a binarizer of scaled signs
  (α·sign(w) per output channel: ``sibnn_weight``, ``xnor_weight``,
  ``magnitude_aware_sign``) to ``channel_scale``, which keeps α as a float variable,
  any other to none; the set's ``kernel_constraint`` (clipping latent weights) to none;
* keys only other optimizers read go back to their defaults, or are dropped when they
  have none (AdamW's ``weight_decay`` when switching to Bop).

Example:
    >>> import bnno.quantizers
    >>> hp = {"optimizer": "bop", "kernel_quantizer": "sibnn_weight",
    ...       "kernel_constraint": "weight_clip", "weight_decay": 1e-3}
    >>> switch(hp, given={"optimizer"})
    ['kernel_quantizer sibnn_weight -> channel_scale', 'kernel_constraint weight_clip -> none', \
'weight_decay 0.001 -> 0.0']
    >>> hp["kernel_quantizer"], hp["kernel_constraint"], hp["weight_decay"]
    ('channel_scale', None, 0.0)
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from bnno.optimizers.registry import DEFAULTS, KEYS, get, latent_free


def switch(hp: dict[str, Any], given: Collection[str]) -> list[str]:
    """Adjust ``hp`` in place to the optimizer the user switched to; what changed.

    ``given`` holds the keys the user set on the command line; nothing changes unless
    ``optimizer`` is one of them, and no key in it changes. Each change is described as
    ``"key old -> new"``.

    Example:
        >>> import bnno.quantizers
        >>> hp = {"optimizer": "bop", "kernel_quantizer": "ste_sign",
        ...       "kernel_constraint": "weight_clip"}
        >>> switch(hp, given={"optimizer", "kernel_constraint"})
        ['kernel_quantizer ste_sign -> none']
        >>> switch({"optimizer": "bop", "kernel_quantizer": "ste_sign"}, given={"threshold"})
        []
    """
    if "optimizer" not in given:
        return []
    changes: dict[str, Any] = {}
    if latent_free(hp):
        changes.update(_latent_free_kernels(hp))
    entry = get(hp["optimizer"])
    for key, value in hp.items():
        if key in KEYS and key not in entry.keys and DEFAULTS.get(key, ...) != value:
            changes[key] = DEFAULTS.get(key, ...)
    described = []
    for key, new in changes.items():
        if key in given:
            continue
        old = hp.pop(key)
        if new is not ...:  # ... : no default, the key is dropped
            hp[key] = new
        described.append(f"{key} {_text(old)} -> {_text(new)}")
    return described


def _latent_free_kernels(hp: dict[str, Any]) -> dict[str, Any]:
    from bnno.quantizers.registry import get as quantizer
    from bnno.quantizers.registry import split

    changes: dict[str, Any] = {}
    name, _ = split(hp.get("kernel_quantizer"))
    if name is not None and not quantizer(name).latent_free:
        changes["kernel_quantizer"] = "channel_scale" if quantizer(name).scaled else None
    if hp.get("kernel_constraint"):
        changes["kernel_constraint"] = None
    return changes


def _text(value: Any) -> str:
    if value is ...:
        return "(dropped)"
    if value is None:
        return "none"
    if isinstance(value, dict):
        return value.get("name") or value.get("schedule") or str(value)
    return str(value)

"""What a set's values give way to when ``--hparams optimizer=...`` switches its optimizer.

A set's kernel settings and optimizer options belong to the optimizer it names. When the
user switches the optimizer on the command line, the set's values that the new optimizer
cannot train with give way, unless the user gave them too (a value the user gives is
kept, and refused later if it does not fit). What gives way is what the optimizers and
quantizers declare (``bnno.optimizers.registry``, ``bnno.quantizers.registry``):

* to a latent-free optimizer (``bop``, ``bop2ndorder``), the model's latent-weight
  ``kernel_quantizer`` gives way to ±1 kernels: a quantizer of kind ``scaled`` (α·sign(w)
  per output channel) to the latent-free quantizer of that kind (``channel_scale``, which
  keeps α as a float variable), any other to none; its ``kernel_constraint`` (clipping
  latent weights) to none;
* the set's optimizer options that the new optimizer does not have are dropped
  (``bnno.hparams.apply``).

Example:
    >>> import bnno.plugins
    >>> from bnno import hparams, models
    >>> bnno.plugins.load()
    >>> recipe = hparams.Recipe.empty()
    >>> recipe.sections["model"].update(kernel_quantizer="sibnn_weight",
    ...                                 kernel_constraint="weight_clip")
    >>> recipe.sections["optimizer"]["name"] = "bop"
    >>> recipe.given.add("optimizer.name")
    >>> switch(recipe, models.get_entry("sibnn_mlp"))
    ['kernel_quantizer sibnn_weight -> channel_scale', 'kernel_constraint weight_clip -> none']
"""

from __future__ import annotations

from typing import Any

from bnno import optimizers, quantizers
from bnno.hparams import Recipe
from bnno.models.registry import Entry


def switch(recipe: Recipe, model: Entry) -> list[str]:
    """Adjust ``recipe`` in place to the optimizer the user switched to; what changed,
    each as ``"key old -> new"`` (nothing unless the overrides named the optimizer).

    Example:
        >>> import bnno.plugins
        >>> from bnno import models
        >>> bnno.plugins.load()
        >>> recipe = Recipe.empty()
        >>> recipe.sections["optimizer"]["name"] = "bop"
        >>> recipe.given.update({"optimizer.name", "model.kernel_constraint"})
        >>> switch(recipe, models.get_entry("binarynet"))  # the builder's default gives way
        ['kernel_quantizer ste_sign -> none']
    """
    if "optimizer.name" not in recipe.given:
        return []
    values = recipe.sections["model"]
    changes: dict[str, Any] = {}
    if optimizers.latent_free(recipe.optimizer):
        current = {**model.defaults(), **values}
        name, _ = quantizers.split(current.get("kernel_quantizer"))
        if name is not None and not quantizers.get(name).latent_free:
            changes["kernel_quantizer"] = _latent_free_form(quantizers.get(name).kind)
        if current.get("kernel_constraint"):
            changes["kernel_constraint"] = None
    described = []
    for key, new in changes.items():
        if f"model.{key}" in recipe.given or not model.takes(key):
            continue
        old = {**model.defaults(), **values}[key]
        values[key] = new
        described.append(f"{key} {_text(old)} -> {_text(new)}")
    described += [f"{key} {_text(old)} -> (dropped)" for key, old in recipe.dropped.items()]
    return described


def _latent_free_form(kind: str) -> str | None:
    """The latent-free kernel quantizer that replaces a latent one of ``kind``: for
    scaled signs the latent-free scaled quantizer, for the others none."""
    if kind != "scaled":
        return None
    found = [n for n in quantizers.names("kernel")
             if quantizers.get(n).latent_free and quantizers.get(n).kind == "scaled"]
    return found[0] if found else None


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, dict):
        return value.get("name") or value.get("schedule") or str(value)
    return str(value)

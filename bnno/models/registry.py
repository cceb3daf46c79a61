"""The model registry: builders registered by name (and alias), looked up by name.

A builder is a pure function ``builder(input_shape, num_classes, *, key: type = default,
...)`` returning an uncompiled ``tf.keras.Model``. Its keyword-only arguments are the
model's hparams: registering reads them and checks that each has a default and a type
hint bnno can check and parse (``int``, ``float``, ``bool``, ``str``, ``str | None``,
``int | None``, a ``Literal`` of names, ``QuantizerSpec``; see ``bnno.htypes.from_hint``).
The trainer passes a builder only the keys it declares. A model whose binary kernels a
latent-free optimizer (Bop) may train declares ``kernel_quantizer: QuantizerSpec`` (and
``kernel_constraint: str | None`` if its latent weights are constrained): the trainer
replaces them for such an optimizer.

An alias may fix hparams of the model it names: ``binarynet_batch`` is ``binarynet``
with ``normalization=batch``, whatever the set says.

Example:
    >>> from bnno import models
    >>> models.canonical("alexnet")
    'binary_alexnet'
    >>> "binarynet" in models.names()
    True
    >>> models.canonical("binarynet_batch"), models.fixed("binarynet_batch")
    ('binarynet', {'normalization': 'batch'})
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bnno.errors import BnnoError, choices
from bnno.htypes import OPTIONAL_STR, QUANTIZER, HType, from_hint
from bnno.registry import Registry

# Names a builder's keyword may not have: they address sections of a recipe
# (``model.filters=...``, ``optimizer.name=...``).
RESERVED_KEYS = ("model", "optimizer", "trainer", "data", "name")
# Builder keys with a meaning to the trainer, and the type each must have.
KERNEL_KEYS = {"kernel_quantizer": QUANTIZER, "kernel_constraint": OPTIONAL_STR,
               "activation": QUANTIZER}


@dataclass(frozen=True)
class Entry:
    """One registered model: its builder, its hparams (key → type and default) and the
    figures its paper publishes (``published``, shown by ``bnno summary`` on ImageNet:
    ``{"source": ..., "ops": ..., "binarization_degree": ...}``).

    Example:
        >>> import bnno.models
        >>> entry = get_entry("binarynet")
        >>> entry.hparams["filters"][1], entry.takes("kernel_quantizer")
        (128, True)
    """

    name: str
    build: Callable
    hparams: Mapping[str, tuple[HType, Any]]
    published: Mapping[str, Any] | None = None
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def takes(self, key: str) -> bool:
        """Whether the builder declares the hparam ``key``."""
        return key in self.hparams

    def defaults(self) -> dict[str, Any]:
        """The builder's default hparams."""
        return {k: default for k, (_, default) in self.hparams.items()}


_REGISTRY: Registry[Entry] = Registry("model")
# Alias -> the entry it stands for (with the hparams the alias fixes).
_ALIASES: Registry[Entry] = Registry("model alias")


def _declared(name: str, builder: Callable) -> dict[str, tuple[HType, Any]]:
    """The hparams of ``builder`` read from its signature, checked (see the module)."""
    where = f"model '{name}'"
    params = list(inspect.signature(builder).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) != 2 or any(p.default is not p.empty for p in positional):
        raise BnnoError(f"{where}: its builder must take (input_shape, num_classes, *, "
                        "hparams...), not (" + ", ".join(p.name for p in params) + ")")
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        raise BnnoError(f"{where}: its builder may not take *args or **kwargs; declare every "
                        "hparam as a keyword argument with a default")
    try:
        hints = typing.get_type_hints(builder)
    except NameError as e:
        raise BnnoError(f"{where}: a type hint of its builder cannot be resolved ({e})") from None
    found = {}
    for param in params[2:]:
        key = f"{where}, hparam '{param.name}'"
        if param.name in RESERVED_KEYS:
            raise BnnoError(f"{key}: that name addresses a recipe section; rename it")
        if param.default is param.empty or param.name not in hints:
            raise BnnoError(f"{key} needs a default and a type hint")
        try:
            htype = from_hint(hints[param.name])
        except TypeError as e:
            raise BnnoError(f"{key}: {e}") from None
        if param.name in KERNEL_KEYS and htype is not KERNEL_KEYS[param.name]:
            raise BnnoError(f"{key} must be typed "
                            f"{'str | None' if htype is OPTIONAL_STR else 'QuantizerSpec'}")
        found[param.name] = (htype, param.default)
    return found


def register(builder: Callable | None = None, *,
             published: Mapping[str, Any] | None = None) -> Callable:
    """Decorator: register ``builder`` under its function name (see the module).

    ``@register`` alone, or ``@register(published={...})`` with its paper's figures.

    Raises:
        BnnoError: a name that is taken or not lower_case, or a builder that breaks the
            contract (the message names the parameter).

    Example:
        >>> import tensorflow as tf
        >>> @register
        ... def doctest_only_net(input_shape, num_classes, *, units: int = 8):
        ...     return tf.keras.Sequential([tf.keras.Input(input_shape),
        ...                                 tf.keras.layers.Dense(num_classes)])
        >>> get_entry("doctest_only_net").hparams["units"][1]
        8
        >>> unregister("doctest_only_net")
        >>> @register
        ... def doctest_only_bad(input_shape, num_classes, *, units=8):
        ...     pass
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: model 'doctest_only_bad', hparam 'units' needs a default and \
a type hint
    """

    def decorator(fn: Callable) -> Callable:
        name = fn.__name__
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise BnnoError(f"model name {name!r} must be lower_case letters, digits and _")
        _REGISTRY.add(name, Entry(name, fn, _declared(name, fn), published))
        return fn

    return decorator(builder) if builder is not None else decorator


def register_alias(alias: str, name: str, **fixed: Any) -> None:
    """Let users type ``alias`` for the registered model ``name`` (e.g. ``alexnet``).

    ``fixed`` hparams hold under the alias whatever the set says, and may not be
    overridden.

    Raises:
        BnnoError: an unknown model, a taken name, or a fixed key the model does not
            have or a value of the wrong type.

    Example:
        >>> canonical("alexnet")
        'binary_alexnet'
    """
    entry = get_entry(name)
    if alias in _REGISTRY:
        raise BnnoError(f"model alias '{alias}' is the name of a model")
    for key, value in fixed.items():
        if key not in entry.hparams:
            raise BnnoError(f"model alias '{alias}' fixes '{key}', which {name} does not take")
        entry.hparams[key][0].check(key, value)
    _ALIASES.add(alias, Entry(name, entry.build, entry.hparams, entry.published, dict(fixed)))


def unregister(name: str) -> None:
    """Remove the model ``name`` and its aliases.

    Example:
        >>> "doctest_only_net" in names()
        False
    """
    _REGISTRY.remove(name)
    for alias, entry in _ALIASES.items():
        if entry.name == name:
            _ALIASES.remove(alias)


def fixed(name: str) -> dict[str, Any]:
    """The hparams that the model name ``name`` fixes (an alias's; none for a model's own
    name).

    Example:
        >>> fixed("xnornet_batch"), fixed("xnornet")
        ({'normalization': 'batch'}, {})
    """
    return dict(_ALIASES.get(name).fixed) if name in _ALIASES else {}


def aliases(name: str) -> dict[str, dict[str, Any]]:
    """The aliases of the model ``name``, each with the hparams it fixes.

    Example:
        >>> aliases("binary_alexnet")
        {'alexnet': {}}
    """
    return {alias: dict(e.fixed) for alias, e in _ALIASES.items() if e.name == name}


def names() -> list[str]:
    """All registered model names, sorted (aliases not included).

    Example:
        >>> {"binary_alexnet", "binarynet"} <= set(names())
        True
    """
    return _REGISTRY.names()


def canonical(name: str) -> str:
    """The registered name of ``name``, which may be an alias.

    Raises:
        BnnoError: if no model has that name or alias; the message lists the valid names.

    Example:
        >>> canonical("birealnet")
        'birealnet'
    """
    if name in _ALIASES:
        return _ALIASES.get(name).name
    if name not in _REGISTRY:
        raise BnnoError(f"unknown model '{name}'; choose one of: "
                        f"{choices(_REGISTRY.names() + _ALIASES.names())}")
    return name


def get_entry(name: str) -> Entry:
    """The entry of the model ``name`` (or of the model an alias names).

    Example:
        >>> get_entry("alexnet").name
        'binary_alexnet'
    """
    return _REGISTRY.get(canonical(name))


def get(name: str) -> Callable:
    """The builder registered as ``name`` (or an alias of it).

    Raises:
        BnnoError: if no model has that name; the message lists the valid names.

    Example:
        >>> get("alexnet").__name__
        'binary_alexnet'
    """
    return get_entry(name).build


def hparam_types(name: str) -> dict[str, HType]:
    """The type of every hparam of model ``name`` (its builder's keyword arguments).

    Example:
        >>> from bnno.htypes import INT
        >>> hparam_types("binarynet")["filters"] is INT
        True
    """
    return {k: htype for k, (htype, _) in get_entry(name).hparams.items()}


def builder_kwargs(name: str, hp: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of ``hp`` that the builder of ``name`` takes.

    Example:
        >>> builder_kwargs("binarynet", {"filters": 16, "epochs": 3})
        {'filters': 16}
    """
    keys = get_entry(name).hparams
    return {k: v for k, v in hp.items() if k in keys}

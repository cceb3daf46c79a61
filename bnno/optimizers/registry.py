"""The optimizer registry: each optimizer's builder, hparam keys, logged values and hook.

An optimizer module registers itself with one ``register`` call on its builder, a
function ``builder(hp, schedule) -> optimizer`` where ``schedule(key)`` is the schedule
(or constant) of the hparam ``key`` over the run. The call declares the hparam keys the
optimizer reads (with their ``bnno.htypes`` types and the defaults of optional ones), the
hyperparameters ``bnno.training.callbacks.MetricsLog`` logs every epoch, and an optional
``prepare(optimizer, model)`` hook that ``bnno.training.build.compile_model`` runs before
compiling. ``bnno.hparams`` takes the ``optimizer`` choice and these keys from here.

This module imports no TensorFlow, so that ``bnno.hparams`` stays light: builders and
hooks import it when they run.

Example:
    >>> import bnno.optimizers  # registers bnno's optimizers
    >>> names()
    ['adam', 'adamw', 'bop', 'bop2ndorder', 'cema']
    >>> get("bop").logged
    ('learning_rate', 'gamma', 'threshold')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bnno import schedules
from bnno.errors import BnnoError, choices
from bnno.htypes import HType

Builder = Callable[[dict[str, Any], Callable[[str], Any]], Any]


@dataclass(frozen=True)
class Entry:
    """One registered optimizer.

    Example:
        >>> entry = Entry("plain", lambda hp, schedule: None)
        >>> entry.keys, entry.logged, entry.prepare
        ({}, ('learning_rate',), None)
    """

    name: str
    build: Builder
    keys: Mapping[str, HType] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    logged: tuple[str, ...] = ("learning_rate",)
    prepare: Callable[[Any, Any], None] | None = None
    latent_free: bool = False
    expand: Callable[[dict[str, Any]], dict[str, Any]] | None = None


_ENTRIES: dict[str, Entry] = {}

# Every registered optimizer's keys and defaults, kept up to date by ``register``;
# ``bnno.hparams`` reads them through live views.
KEYS: dict[str, HType] = {}
DEFAULTS: dict[str, Any] = {}


def register(name: str, keys: Mapping[str, HType] | None = None,
             defaults: Mapping[str, Any] | None = None,
             logged: tuple[str, ...] = ("learning_rate",),
             prepare: Callable[[Any, Any], None] | None = None,
             latent_free: bool = False,
             expand: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
             ) -> Callable[[Builder], Builder]:
    """Decorator registering ``builder(hp, schedule)`` as the optimizer ``name``.

    Args:
        name: the value of the ``optimizer`` hparam that selects it.
        keys: the hparam keys the builder reads, with their types. A key several
            optimizers read (``learning_rate``) must have the same type in each.
        defaults: values of the keys a set may leave out; the builder applies them
            itself. A key without a default must be in the hparams.
        logged: hyperparameters of the built optimizer (or of the optimizers it wraps)
            logged every epoch, read from their ``_hyper`` values.
        prepare: ``prepare(optimizer, model)``, run once before the model is compiled.
        latent_free: it trains the binary kernels themselves, as ±1 (Bop): models get
            them without a quantizer, tagged ``precision=1`` (``bnno.optimizers.kernels``).
        expand: ``expand(hp) -> hp``, turning shorthand keys into the values the builder
            reads (``bop2ndorder``'s ``gamma_decay`` into a schedule of ``gamma``); it
            raises ``BnnoError`` for a combination it cannot expand. ``check`` runs it,
            so such an error comes before any output.

    Example:
        >>> from bnno.htypes import SCHEDULE
        >>> @register("plain_sgd", keys={"learning_rate": SCHEDULE})
        ... def _sgd(hp, schedule):
        ...     import tensorflow as tf
        ...     return tf.keras.optimizers.legacy.SGD(schedule("learning_rate"))
        >>> "plain_sgd" in names()
        True
        >>> unregister("plain_sgd")
    """

    def decorator(builder: Builder) -> Builder:
        if name in _ENTRIES:
            raise BnnoError(f"optimizer '{name}' is already registered")
        for key, htype in (keys or {}).items():
            if KEYS.get(key, htype) is not htype:
                raise BnnoError(f"optimizer '{name}' declares hparam '{key}' as "
                                f"{htype.name}; another optimizer has it as {KEYS[key].name}")
        for key, value in (defaults or {}).items():
            if key not in (keys or {}):
                raise BnnoError(f"optimizer '{name}' has a default for undeclared key '{key}'")
            if DEFAULTS.get(key, value) != value:
                raise BnnoError(f"optimizer '{name}' gives hparam '{key}' the default "
                                f"{value!r}; another optimizer gives {DEFAULTS[key]!r}")
        _ENTRIES[name] = Entry(name, builder, dict(keys or {}), dict(defaults or {}),
                               tuple(logged), prepare, latent_free, expand)
        _collect()
        return builder

    return decorator


def unregister(name: str) -> None:
    """Remove the optimizer ``name`` (and the keys only it declared).

    Example:
        >>> _ = register("nothing")(lambda hp, schedule: None)
        >>> unregister("nothing")
        >>> "nothing" in names()
        False
    """
    del _ENTRIES[name]
    _collect()


def _collect() -> None:
    # Rebuilt in place: bnno.hparams holds views of these two dicts.
    KEYS.clear()
    DEFAULTS.clear()
    for entry in _ENTRIES.values():
        KEYS.update(entry.keys)
        DEFAULTS.update(entry.defaults)


def names() -> list[str]:
    """Names of the registered optimizers, sorted.

    Example:
        >>> import bnno.optimizers
        >>> "adamw" in names()
        True
    """
    return sorted(_ENTRIES)


def get(name: str) -> Entry:
    """The entry of the optimizer ``name``.

    Example:
        >>> import bnno.optimizers
        >>> get("adam").name
        'adam'
        >>> get("sgd")
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: unknown optimizer 'sgd'; use one of: adam, adamw, bop, bop2ndorder, \
cema
    """
    try:
        return _ENTRIES[name]
    except KeyError:
        raise BnnoError(f"unknown optimizer '{name}'; use one of: {choices(_ENTRIES)}") from None


def latent_free(hp: dict[str, Any]) -> bool:
    """Does ``hp``'s optimizer train ±1 binary kernels directly (no latent weights)?

    Example:
        >>> import bnno.optimizers
        >>> latent_free({"optimizer": "bop"}), latent_free({"optimizer": "adam"})
        (True, False)
    """
    entry = _ENTRIES.get(hp.get("optimizer"))
    return bool(entry and entry.latent_free)


def _check_name(key: str, value: Any) -> str:
    if value not in _ENTRIES:
        raise BnnoError(f"hparam '{key}' must be one of: {choices(_ENTRIES)}; got {value!r}")
    return value


# The type of the ``optimizer`` hparam: one of the names registered when it is checked.
OPTIMIZER = HType("one of the registered optimizers", _check_name, str)


def logged() -> tuple[str, ...]:
    """The hyperparameters any registered optimizer logs, in registration order.

    Example:
        >>> import bnno.optimizers
        >>> logged()
        ('learning_rate', 'gamma', 'threshold', 'sigma', 'alpha')
    """
    found: dict[str, None] = {}
    for entry in _ENTRIES.values():
        found.update(dict.fromkeys(entry.logged))
    return tuple(found)


def check(hp: dict[str, Any]) -> None:
    """Refuse what ``hp``'s optimizer cannot train with: a key it needs and ``hp`` lacks,
    or a key of another optimizer that it would silently ignore.

    A key some registered optimizer reads but ``hp["optimizer"]`` does not may only hold
    its default (``lr_scaling: none`` with Bop); any other value would do nothing.

    Raises:
        BnnoError: such a key; the message names who reads it, or how to add it.

    Example:
        >>> import bnno.optimizers
        >>> check({"optimizer": "bop", "lr_scaling": "none", "threshold": 1e-6,
        ...        "gamma": 1e-3, "learning_rate": 0.01})
        >>> check({"optimizer": "bop", "learning_rate": 0.01})
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: optimizer bop needs gamma, threshold; add them with \
--hparams gamma=...,threshold=...
        >>> check({"optimizer": "adamw", "learning_rate": 0.01, "lr_scaling": "xavier"})
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: hparam lr_scaling=xavier is read by optimizer adam only, \
not by adamw; set lr_scaling=none, or use adam
    """
    entry = get(hp["optimizer"])
    missing = sorted(k for k in entry.keys if k not in hp and k not in entry.defaults)
    if missing:
        raise BnnoError(f"optimizer {entry.name} needs {', '.join(missing)}; add them with "
                        f"--hparams {','.join(k + '=...' for k in missing)}")
    for key, value in hp.items():
        if key not in KEYS or key in entry.keys:
            continue
        if key in DEFAULTS and value == DEFAULTS[key]:
            continue
        readers = [n for n, e in _ENTRIES.items() if key in e.keys]
        fix = f"set {key}={DEFAULTS[key]}" if key in DEFAULTS else f"remove {key}"
        raise BnnoError(f"hparam {key}={value} is read by optimizer {', '.join(readers)} only, "
                        f"not by {entry.name}; {fix}, or use {' or '.join(readers)}")
    if entry.expand is not None:
        entry.expand(hp)


def build(hp: dict[str, Any], steps_per_epoch: int, total_steps: int | None = None):
    """The optimizer described by ``hp``; schedules are built with ``steps_per_epoch``.

    ``total_steps`` is the length of schedules that decay over the whole run (default:
    ``epochs × steps_per_epoch``).

    Example:
        >>> import bnno.optimizers
        >>> opt = build({"optimizer": "adam", "learning_rate": 5e-3}, 195)
        >>> type(opt).__name__, opt.get_config()["learning_rate"]
        ('Adam', 0.005)
    """
    entry = get(hp["optimizer"])
    check(hp)
    if entry.expand is not None:
        hp = entry.expand(hp)
    total_steps = total_steps or hp.get("epochs", 1) * steps_per_epoch

    def schedule(key: str):
        return schedules.build(hp[key], steps_per_epoch, total_steps)

    return entry.build(hp, schedule)


def prepare(hp: dict[str, Any], optimizer, model) -> None:
    """Run the ``prepare`` hook of ``hp``'s optimizer (if it has one) on ``model``.

    Example:
        >>> import tensorflow as tf
        >>> import bnno.optimizers
        >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
        >>> hp = {"optimizer": "adam", "learning_rate": 1e-3}
        >>> prepare(hp, build(hp, 10), model)  # plain Adam has nothing to prepare
    """
    hook = get(hp["optimizer"]).prepare
    if hook is not None:
        hook(optimizer, model)

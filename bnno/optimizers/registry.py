"""The optimizer registry: each optimizer's builder, options, logged values and hooks.

An optimizer module registers itself with one ``register`` call on its builder, a
function ``builder(options, schedule) -> optimizer``: ``options`` are the optimizer's own
options (defaults filled in), ``schedule(key)`` the schedule (or constant) of the option
``key`` over the run. The call declares, and registering checks:

* ``options``: the option keys with their ``bnno.htypes`` types. They are the
  optimizer's own: two optimizers may both have ``momentum``, with different types;
* ``defaults``: values of the options a recipe may leave out (each must pass its type);
  an option without one must be given;
* ``logged``: the options ``bnno.training.callbacks.MetricsLog`` logs every epoch,
  read from the built optimizer's hyperparameters (or those of the optimizers it wraps);
  by default the learning rate, where it is an option;
* ``prepare(optimizer, model)``: run once before compiling (decay groups, the
  CaseOptimizer's split of variables);
* ``latent_free``: it trains binary kernels that hold ±1 themselves (Bop), which start
  real until its first update writes ±1, as the official Bop code has them;
* ``signed_start``: with ``latent_free``, its kernels are ±1 from the start instead (the
  signs of the initial draw: CEMA's optimizer signs them when it is created);
* ``expand(options) -> options``: turns shorthand options into what the builder reads
  (``bop2ndorder``'s ``gamma_decay`` into a schedule of ``gamma``), raising ``BnnoError``
  for what it cannot expand; ``check`` runs it, so such errors come before any output.

The builder must return a legacy Keras optimizer (``tf.keras.optimizers.legacy``): larq's
``CaseOptimizer``, which latent-free training needs, wraps only those. ``build`` checks.

This module imports no TensorFlow, so that recipes can be checked without it: builders
and hooks import it when they run.

Example:
    >>> import bnno.optimizers  # registers bnno's optimizers
    >>> {"adam", "bop"} <= set(names())
    True
    >>> get("bop").logged
    ('learning_rate', 'gamma', 'threshold')
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bnno import schedules
from bnno.errors import BnnoError
from bnno.htypes import HType, from_spec
from bnno.registry import Registry

Builder = Callable[[dict[str, Any], Callable[[str], Any]], Any]


@dataclass(frozen=True)
class Entry:
    """One registered optimizer (see the module docstring).

    Example:
        >>> entry = Entry("plain", lambda options, schedule: None)
        >>> entry.options, entry.logged, entry.latent_free
        ({}, ('learning_rate',), False)
    """

    name: str
    build: Builder
    options: Mapping[str, HType] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    logged: tuple[str, ...] = ("learning_rate",)
    prepare: Callable[[Any, Any], None] | None = None
    latent_free: bool = False
    expand: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    signed_start: bool = False

    def check(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` checked against this optimizer's and with its defaults filled in.

        Raises:
            BnnoError: an option it does not have, a missing one, a bad value, or
                shorthand ``expand`` refuses.

        Example:
            >>> import bnno.optimizers
            >>> get("adam").check({"learning_rate": 0.01})["lr_scaling"]
            'none'
            >>> get("bop").check({"learning_rate": 0.01})
            Traceback (most recent call last):
            ...
            bnno.errors.BnnoError: optimizer bop needs gamma, threshold; add them with \
--hparams gamma=...,threshold=...
        """
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise BnnoError(f"optimizer {self.name} has no option '{unknown[0]}'; its "
                            f"options: {', '.join(sorted(self.options))}")
        missing = sorted(k for k in self.options if k not in options and k not in self.defaults)
        if missing:
            raise BnnoError(f"optimizer {self.name} needs {', '.join(missing)}; add them with "
                            f"--hparams {','.join(k + '=...' for k in missing)}")
        checked = {}
        for key, htype in self.options.items():  # in the order the optimizer declares
            if key in options:
                checked[key] = htype.check(key, options[key])
            elif key in self.defaults:
                checked[key] = self.defaults[key]
        if self.expand is not None:
            self.expand(checked)
        return checked


_REGISTRY: Registry[Entry] = Registry("optimizer")


def register(name: str, options: Mapping[str, HType] | None = None,
             defaults: Mapping[str, Any] | None = None,
             logged: tuple[str, ...] | None = None,
             prepare: Callable[[Any, Any], None] | None = None,
             latent_free: bool = False,
             expand: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
             signed_start: bool = False,
             ) -> Callable[[Builder], Builder]:
    """Decorator registering ``builder(options, schedule)`` as the optimizer ``name``
    (see the module docstring for the arguments).

    Raises:
        BnnoError: a name that is taken or not lower_case, a builder that does not take
            ``(options, schedule)``, an option without an ``HType``, a default for no
            option or of the wrong type, or a logged value that is no option.

    Example:
        >>> from bnno.htypes import SCHEDULE
        >>> @register("doctest_only_sgd", options={"learning_rate": SCHEDULE})
        ... def _sgd(options, schedule):
        ...     import tensorflow as tf
        ...     return tf.keras.optimizers.legacy.SGD(schedule("learning_rate"))
        >>> "doctest_only_sgd" in names()
        True
        >>> unregister("doctest_only_sgd")
        >>> register("doctest_only_bad", defaults={"momentum": 0.9})(_sgd)
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: optimizer 'doctest_only_bad' has a default for 'momentum', \
which is none of its options
    """
    options, defaults = dict(options or {}), dict(defaults or {})
    if logged is None:  # the learning rate, where there is one
        logged = tuple(k for k in ("learning_rate",) if k in options)
    _check_declaration(name, options, defaults, tuple(logged))
    if signed_start and not latent_free:
        raise BnnoError(f"optimizer '{name}': signed_start is for latent-free optimizers; "
                        "add latent_free=True or drop it")

    def decorator(builder: Builder) -> Builder:
        params = [p for p in inspect.signature(builder).parameters.values()
                  if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                         p.POSITIONAL_OR_KEYWORD)]
        if len(params) != 2:
            raise BnnoError(f"optimizer '{name}': its builder must take (options, schedule), "
                            f"not ({', '.join(p.name for p in params)})")
        _REGISTRY.add(name, Entry(name, builder, options, defaults, tuple(logged), prepare,
                                  latent_free, expand, signed_start))
        return builder

    return decorator


def _check_declaration(name: str, options: dict[str, Any], defaults: dict[str, Any],
                       logged: tuple[str, ...]) -> None:
    where = f"optimizer '{name}'"
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise BnnoError(f"optimizer name {name!r} must be lower_case letters, digits and _")
    for key, htype in options.items():
        if not isinstance(htype, HType):
            raise BnnoError(f"{where}: option '{key}' needs a bnno.htypes type, got {htype!r}")
    for key, value in defaults.items():
        if key not in options:
            raise BnnoError(f"{where} has a default for '{key}', which is none of its options")
        options[key].check(key, value)
    for key in logged:
        if key not in options:
            raise BnnoError(f"{where} logs '{key}', which is none of its options")


def unregister(name: str) -> None:
    """Remove the optimizer ``name``.

    Example:
        >>> _ = register("doctest_only_nothing")(lambda options, schedule: None)
        >>> unregister("doctest_only_nothing")
        >>> "doctest_only_nothing" in names()
        False
    """
    _REGISTRY.remove(name)


def names() -> list[str]:
    """Names of the registered optimizers, sorted.

    Example:
        >>> import bnno.optimizers
        >>> "adamw" in names()
        True
    """
    return _REGISTRY.names()


def get(name: str) -> Entry:
    """The entry of the optimizer ``name``.

    Example:
        >>> import bnno.optimizers
        >>> get("adam").name
        'adam'
        >>> get("no_such_optimizer")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: unknown optimizer 'no_such_optimizer'; choose one of: adam, ...
    """
    return _REGISTRY.get(name)


def latent_free(name: str) -> bool:
    """Does the optimizer ``name`` train ±1 binary kernels directly (no latent weights)?

    Example:
        >>> import bnno.optimizers
        >>> latent_free("bop"), latent_free("adam")
        (True, False)
    """
    return name in _REGISTRY and get(name).latent_free


def build(name: str, options: Mapping[str, Any], steps_per_epoch: int, total_steps: int):
    """The optimizer ``name`` with ``options``; schedules are built with
    ``steps_per_epoch``, and ``total_steps`` is the length of those that decay over the
    whole run.

    Raises:
        BnnoError: bad options (``Entry.check``), or a builder that returned no legacy
            Keras optimizer.

    Example:
        >>> import bnno.optimizers
        >>> opt = build("adam", {"learning_rate": 5e-3}, 195, 19500)
        >>> type(opt).__name__, opt.get_config()["learning_rate"]
        ('Adam', 0.005)
    """
    entry = get(name)
    options = entry.check(options)
    if entry.expand is not None:
        options = entry.expand(options)

    def schedule(key: str):
        return schedules.build(options[key], steps_per_epoch, total_steps)

    optimizer = entry.build(options, schedule)
    from tf_keras.optimizers.legacy import Optimizer

    if not isinstance(optimizer, Optimizer):
        raise BnnoError(f"optimizer '{name}' built a {type(optimizer).__name__}; bnno trains "
                        "with legacy Keras optimizers (tf.keras.optimizers.legacy), the only "
                        "kind larq's CaseOptimizer wraps")
    return optimizer


def prepare(name: str, optimizer, model) -> None:
    """Run the ``prepare`` hook of the optimizer ``name`` (if it has one) on ``model``.

    Example:
        >>> import tensorflow as tf
        >>> import bnno.optimizers
        >>> model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
        >>> prepare("adam", build("adam", {"learning_rate": 1e-3}, 10, 100), model)
    """
    hook = get(name).prepare
    if hook is not None:
        hook(optimizer, model)


def index() -> dict[str, Any]:
    """Every optimizer and what it declares, as data, for ``bnno.plugins``' index of the
    registries (``expand`` by the module and name that define it).

    Raises:
        ValueError: an option whose type cannot be written down.

    Example:
        >>> import bnno.optimizers
        >>> index()["bop2ndorder"]["expand"]
        'bnno.optimizers.bop2ndorder:step_decays'
    """
    def described(entry: Entry) -> dict[str, Any]:
        if any(t.spec is None for t in entry.options.values()):
            raise ValueError(f"optimizer {entry.name} has an option type that cannot be "
                             "written down")
        expand = entry.expand and f"{entry.expand.__module__}:{entry.expand.__qualname__}"
        return {"options": {k: t.spec for k, t in entry.options.items()},
                "defaults": dict(entry.defaults), "logged": list(entry.logged),
                "latent_free": entry.latent_free, "expand": expand,
                "signed_start": entry.signed_start}

    return {n: described(e) for n, e in _REGISTRY.items()}


def add_stubs(data: dict[str, Any]) -> None:
    """Register the optimizers of ``index()``'s data as stubs: no builder or hook, and
    ``expand`` imported from its module when it is first needed."""
    for name, found in data.items():
        options = {k: from_spec(t) for k, t in found["options"].items()}
        expand = found["expand"] and _later(found["expand"])
        _REGISTRY.add_stub(name, Entry(name, None, options, found["defaults"],
                                       tuple(found["logged"]), None, found["latent_free"],
                                       expand, found["signed_start"]))


def _later(where: str) -> Callable:
    def call(options: dict[str, Any]) -> dict[str, Any]:
        import importlib

        module, _, name = where.partition(":")
        return getattr(importlib.import_module(module), name)(options)

    return call

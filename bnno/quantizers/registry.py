"""The quantizer registry: every binarizer a model's ``activation`` or ``kernel_quantizer``
may name, with what it declares about itself.

A quantizer module registers its larq quantizer class with ``@register("<name>",
roles=..., kind=...)``. What the class declares is checked when it registers, and a
missing or wrong declaration is refused in one line:

* ``roles``: ``"activation"`` (binarizes a layer's inputs), ``"kernel"`` (its weights);
* ``kind``: ``"sign"`` (outputs ±1), ``"scaled"`` (±α, one α per output channel) or
  ``"other"``; sign and scaled quantizers must have larq's ``precision = 1``, so that larq
  counts their layers as binary;
* ``export``: what Larq Compute Engine makes of a layer using it: ``"binary"`` (a
  bit-packed ``LceBconv2d`` as it is), ``"rewrite"`` (its ``rewrite`` hook turns the layer
  into one LCE packs, see ``bnno.deploy.inference``) or ``"float"``; by default binary
  for sign and scaled quantizers, float for the others;
* ``latent_free``: a kernel quantizer of kernels that hold ±1 themselves, the only kind a
  latent-free optimizer (Bop) trains;
* its options: the keyword arguments of the class, each with a default, typed by its hint
  (``rho: Annotated[float, between(0, 1)] = 0.3``) or by its default's type;
* ``metric_options``: true/false options that make it keep metrics of its own (Si-BNN's
  ``sparsity``); export turns them off, as inference keeps no metrics. Whatever metrics
  a quantizer keeps (larq's ``flip_ratio`` too) the trainer names after the layer:
  ``<metric>/<layer name>``.

A class with a method ``on_epochs_done(epochs_done, epochs)`` gets it called by the trainer
at the start of training and after every epoch (a temperature, a schedule of τ).

A quantizer *spec* is what hparam sets and model builders hold:

* ``None``: no quantizer;
* a registered name: ``"ste_sign"``;
* a dict of the name and some options: ``{"name": "sibnn", "rho": 0.2}``;
* a Keras config, passed through as it is (``{"class_name": "NoOp", "config": {...}}``;
  the trainer uses it for Bop's ±1 kernels).

``resolve`` turns a spec into the Keras config a larq layer takes, checking the name,
its role and its options; every call returns a fresh dict, so every layer builds its own
quantizer (and its own metrics). It needs no TensorFlow.

Example:
    >>> import bnno.quantizers  # registers bnno's quantizers
    >>> resolve({"name": "sibnn", "rho": 0.2}, "activation")
    {'class_name': 'SiBnn', 'config': {'rho': 0.2, 'sparsity': True}}
    >>> resolve("sibnn", "kernel")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnno.errors.BnnoError: 'sibnn' cannot be the kernel_quantizer; choose one of: ...
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bnno.errors import BnnoError, choices
from bnno.htypes import BOOL, HType, QuantizerSpec, from_hint, of_default
from bnno.registry import Registry

__all__ = ["QuantizerSpec", "Entry", "register", "unregister", "names", "get", "entry_of",
           "split", "check", "resolve", "ROLES", "KINDS", "EXPORTS"]

ROLES = ("activation", "kernel")
KINDS = ("sign", "scaled", "other")
EXPORTS = ("binary", "rewrite", "float")
# The hparam that names a quantizer of each role, for messages.
HPARAM = {"activation": "activation", "kernel": "kernel_quantizer"}
# Epoch-dependent quantizers implement this method (see the module docstring).
EPOCH_HOOK = "on_epochs_done"


@dataclass(frozen=True)
class Entry:
    """One registered quantizer and what it declares (see the module docstring).

    ``options`` maps each option to its type and default; ``keras_names`` are the names
    registering gave the class in Keras' custom objects (removed again by ``unregister``).

    Example:
        >>> import bnno.quantizers
        >>> entry = get("ste_sign")
        >>> entry.kind, entry.export, sorted(entry.options)
        ('sign', 'binary', ['clip_value'])
    """

    name: str
    cls: type
    roles: tuple[str, ...]
    kind: str
    export: str
    options: Mapping[str, tuple[HType, Any]]
    latent_free: bool = False
    rewrite: Callable | None = None
    takes_metrics: bool = False
    metric_options: tuple[str, ...] = ()
    keras_names: tuple[str, ...] = field(default=(), compare=False)

    @property
    def epoch_hook(self) -> bool:
        """Whether the trainer calls the class's ``on_epochs_done`` every epoch."""
        return callable(getattr(self.cls, EPOCH_HOOK, None))


def _forget_keras_names(name: str, entry: Entry) -> None:
    from tf_keras.utils import get_custom_objects

    objects = get_custom_objects()
    for key in entry.keras_names:
        if objects.get(key) is entry.cls:
            del objects[key]


_REGISTRY: Registry[Entry] = Registry("quantizer", on_remove=_forget_keras_names)

# Keyword arguments of larq's base classes that are not options a spec may set.
_NOT_OPTIONS = {"metrics", "trainable", "name", "dtype", "dynamic", "precision"}


def options_of(cls: type) -> tuple[dict[str, tuple[HType, Any]], bool]:
    """The options of ``cls`` (keyword arguments of it and its larq base classes) with
    their types and defaults, and whether it takes larq's ``metrics``.

    Raises:
        BnnoError: an option without a default or without a type (no hint, and a default
            that is not a number, true/false or a name).

    Example:
        >>> import larq as lq
        >>> options, metrics = options_of(lq.quantizers.SteSign)
        >>> {k: (t.name, d) for k, (t, d) in options.items()}, metrics
        ({'clip_value': ('a non-negative number or none', 1.0)}, True)
    """
    found: dict[str, tuple[HType, Any]] = {}
    metrics = False
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass.__module__.startswith(("keras", "tf_keras", "tensorflow")):
            continue
        hints = _hints(init)
        params = inspect.signature(init).parameters
        for param in list(params.values())[1:]:
            if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                continue
            if param.name == "metrics":
                metrics = True
            if param.name in _NOT_OPTIONS or param.name in found:
                continue
            found[param.name] = (_option_type(cls, param, hints), param.default)
        if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
            break  # this class passes nothing further up
    return found, metrics


def _hints(init: Callable) -> dict[str, Any]:
    try:
        return typing.get_type_hints(init, include_extras=True)
    except Exception:  # hints naming what the module cannot resolve: use the defaults
        return {}


def _option_type(cls: type, param: inspect.Parameter, hints: dict) -> HType:
    where = f"quantizer class {cls.__name__}, option '{param.name}'"
    if param.default is inspect.Parameter.empty:
        raise BnnoError(f"{where} has no default; every option needs one")
    if param.name in hints:
        try:
            return from_hint(hints[param.name])
        except TypeError as e:
            raise BnnoError(f"{where}: {e}") from None
    htype = of_default(param.default)
    if htype is None:
        raise BnnoError(f"{where} has neither a type hint nor a number, true/false or name "
                        "as default; give it a hint")
    return htype


def register(name: str, roles: tuple[str, ...] = ROLES, *, kind: str,
             export: str | None = None, latent_free: bool = False,
             rewrite: Callable | None = None, metric_options: tuple[str, ...] = (),
             keras_alias: bool = True) -> Callable[[type], type]:
    """Decorator: register a larq quantizer class as ``name`` (see the module docstring).

    The class is also registered with Keras (layer configs find it by its class name),
    and ``name`` as a Keras alias, so that larq layers accept the bare name too
    (``keras_alias=False`` for a name larq already gives another class).

    Raises:
        BnnoError: a name that is taken or not lower_case, an unknown role, kind or
            export, a ``rewrite`` hook without ``export="rewrite"`` (or the reverse), a
            class that is no larq quantizer, a sign or scaled class without
            ``precision = 1``, or an option without a default or type.

    Example:
        >>> import larq as lq
        >>> @register("doctest_only_sign", roles=("kernel",), kind="sign")
        ... class DoctestOnlySign(lq.quantizers.SteSign):
        ...     pass
        >>> get("doctest_only_sign").roles, get("doctest_only_sign").export
        (('kernel',), 'binary')
        >>> unregister("doctest_only_sign")
        >>> register("doctest_only_bad", kind="sign")(lq.quantizers.DoReFa)
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: quantizer 'doctest_only_bad' is of kind sign, so its class \
DoReFa needs larq's precision = 1 (it has None)
    """
    _check_declaration(name, roles, kind, export, rewrite, latent_free)
    if export is None:
        export = "binary" if kind in ("sign", "scaled") else "float"

    def decorator(cls: type) -> type:
        _check_class(name, cls, kind)
        options, metrics = options_of(cls)
        for option in metric_options:
            if options.get(option, (None,))[0] is not BOOL:
                raise BnnoError(f"quantizer '{name}': metric option '{option}' must be a "
                                "true/false option of its class")
        if name in _REGISTRY:
            raise BnnoError(f"quantizer '{name}' is already registered")
        keras_names = _register_with_keras(name, cls, keras_alias)
        _REGISTRY.add(name, Entry(name, cls, tuple(roles), kind, export, options,
                                  latent_free, rewrite, metrics, tuple(metric_options),
                                  keras_names))
        return cls

    return decorator


def _check_declaration(name: str, roles: tuple[str, ...], kind: str, export: str | None,
                       rewrite: Callable | None, latent_free: bool) -> None:
    where = f"quantizer '{name}'"
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise BnnoError(f"quantizer name {name!r} must be lower_case letters, digits and _")
    if not roles or any(role not in ROLES for role in roles):
        raise BnnoError(f"{where} has roles {roles!r}; use {' and/or '.join(ROLES)}")
    if kind not in KINDS:
        raise BnnoError(f"{where} has kind {kind!r}; choose one of: {choices(KINDS)}")
    if export is not None and export not in EXPORTS:
        raise BnnoError(f"{where} has export {export!r}; choose one of: {choices(EXPORTS)}")
    if (export == "rewrite") != (rewrite is not None):
        raise BnnoError(f"{where}: export='rewrite' and a rewrite hook go together")
    if latent_free and (roles != ("kernel",) or kind == "other"):
        raise BnnoError(f"{where}: a latent-free quantizer holds ±1 kernels: roles=('kernel',) "
                        "and kind sign or scaled")


def _check_class(name: str, cls: type, kind: str) -> None:
    import larq as lq

    if not (isinstance(cls, type) and issubclass(cls, lq.quantizers.Quantizer)):
        raise BnnoError(f"quantizer '{name}' must be a larq quantizer class "
                        f"(lq.quantizers.Quantizer or a subclass), got {cls!r}")
    precision = getattr(cls, "precision", None)
    if kind != "other" and precision != 1:
        raise BnnoError(f"quantizer '{name}' is of kind {kind}, so its class {cls.__name__} "
                        f"needs larq's precision = 1 (it has {precision})")


def _register_with_keras(name: str, cls: type, alias: bool) -> tuple[str, ...]:
    from tf_keras.utils import get_custom_objects

    objects = get_custom_objects()
    added = []
    if not cls.__module__.startswith("larq"):
        keys = [cls.__name__] + ([name] if alias else [])
        for key in keys:
            if key not in objects:
                objects[key] = cls
                added.append(key)
    return tuple(added)


def unregister(name: str) -> None:
    """Remove the quantizer ``name``, its Keras names included.

    Example:
        >>> "doctest_only_sign" in names()
        False
    """
    _REGISTRY.remove(name)


def names(role: str | None = None) -> list[str]:
    """The registered quantizer names, sorted; only those of ``role`` if given.

    Example:
        >>> import bnno.quantizers
        >>> {"sibnn", "ste_sign"} <= set(names("activation"))
        True
    """
    return [n for n, e in _REGISTRY.items() if role is None or role in e.roles]


def get(name: str) -> Entry:
    """The entry of the quantizer ``name``.

    Example:
        >>> import bnno.quantizers
        >>> get("bnext_weight").options["cutoff"][1]
        1e-07
    """
    return _REGISTRY.get(name)


def entry_of(quantizer: Any) -> Entry | None:
    """The entry of a quantizer: an instance, or the class name of a Keras config
    (``{"class_name": ...}``); None if no registered quantizer is of that class.

    Example:
        >>> import larq as lq
        >>> import bnno.quantizers
        >>> entry_of(lq.quantizers.SteSign()).name
        'ste_sign'
        >>> entry_of({"class_name": "SiBnn", "config": {}}).name
        'sibnn'
    """
    if isinstance(quantizer, Mapping):
        found = [e for _, e in _REGISTRY.items() if e.cls.__name__ == quantizer.get("class_name")]
    else:
        found = [e for _, e in _REGISTRY.items() if type(quantizer) is e.cls]
    return found[0] if found else None


def split(spec: QuantizerSpec) -> tuple[str | None, dict[str, Any]]:
    """The name and options of a spec (``None, {}`` for no quantizer).

    Example:
        >>> split({"name": "sibnn", "rho": 0.2})
        ('sibnn', {'rho': 0.2})
        >>> split("ste_sign")
        ('ste_sign', {})
    """
    if spec is None:
        return None, {}
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        return spec["name"], {k: v for k, v in spec.items() if k != "name"}
    raise BnnoError(f"a quantizer is a name or a dict with a 'name' and options; got {spec!r}")


def check(spec: QuantizerSpec, role: str) -> None:
    """Refuse a spec that ``resolve`` would refuse (without building anything).

    Example:
        >>> import bnno.quantizers
        >>> check({"name": "sibnn", "rho": 2.0}, "activation")
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: option 'rho' of quantizer 'sibnn' expects a number from 0 to 1, \
got 2.0
    """
    resolve(spec, role)


def resolve(spec: QuantizerSpec, role: str,
            defaults: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any] | None:
    """The Keras config a larq layer takes for ``spec`` as a quantizer of ``role``.

    Args:
        spec: a quantizer spec (see the module docstring). Its ``metrics`` (larq
            metrics such as ``["flip_ratio"]``, which the trainer adds) go to quantizers
            that take them and are left out for the others.
        role: ``"activation"`` or ``"kernel"``.
        defaults: options a model gives a quantizer when the spec leaves them out, by
            quantizer name (BNext-18's ``{"bnext_weight": {"cutoff": 1e-5}}``).

    Raises:
        BnnoError: unknown name, a quantizer of another role, an unknown option or a
            bad value; the message names the valid choices.

    Example:
        >>> import bnno.quantizers
        >>> resolve({"name": "ste_sign", "metrics": ["flip_ratio"]}, "kernel")
        {'class_name': 'SteSign', 'config': {'clip_value': 1.0, 'metrics': ['flip_ratio']}}
        >>> resolve("bnext_weight", "kernel", defaults={"bnext_weight": {"cutoff": 1e-5}})
        {'class_name': 'BNextWeight', 'config': {'cutoff': 1e-05}}
        >>> resolve({"name": "ste_sign", "rho": 0.2}, "activation")
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: quantizer 'ste_sign' has no option 'rho'; its options: clip_value
    """
    if isinstance(spec, Mapping) and "class_name" in spec:
        return {"class_name": spec["class_name"], "config": dict(spec.get("config", {}))}
    name, options = split(spec)
    if name is None:
        return None
    metrics = options.pop("metrics", None)
    entry = _REGISTRY.get(name) if name in _REGISTRY else None
    if entry is None or role not in entry.roles:
        what = (f"unknown {HPARAM[role]} '{name}'" if entry is None
                else f"'{name}' cannot be the {HPARAM[role]}")
        raise BnnoError(f"{what}; choose one of: {choices(names(role))}")
    config = {k: default for k, (_, default) in entry.options.items()}
    config.update((defaults or {}).get(name, {}))
    for option, value in options.items():
        if option not in entry.options:
            raise BnnoError(f"quantizer '{name}' has no option '{option}'; its options: "
                            f"{choices(entry.options) if entry.options else 'none'}")
        htype = entry.options[option][0]
        try:
            config[option] = htype.check(option, value)
        except BnnoError:
            raise BnnoError(f"option '{option}' of quantizer '{name}' expects {htype.name}, "
                            f"got {value!r}") from None
    if metrics is not None and entry.takes_metrics:
        config["metrics"] = list(metrics)
    return {"class_name": entry.cls.__name__, "config": config}

"""The quantizer registry: every binarizer a model's ``activation`` or ``kernel_quantizer``
may name, with the options a spec may set.

A quantizer module registers its larq quantizer class with ``@register("<name>",
roles=...)``: ``"activation"`` for binarizers of a layer's inputs, ``"kernel"`` for
binarizers of its weights. The options of a quantizer are the keyword arguments of its
class (``rho`` of ``sibnn``, ``cutoff`` of ``bnext_weight``, ``clip_value`` of
``ste_sign``); they live with the class, not with the models that use it.

A quantizer *spec* is what hparam sets and model builders hold:

* ``None``: no quantizer;
* a registered name: ``"ste_sign"``;
* a dict of the name and some options: ``{"name": "sibnn", "rho": 0.2}``;
* a Keras config, passed through as it is (``{"class_name": "NoOp", "config": {...}}``;
  the trainer uses it for Bop's ±1 kernels).

``resolve`` turns a spec into the Keras config a larq layer takes, checking the name,
its role and its options; every call returns a fresh dict, so every layer builds its own
quantizer (and its own metrics).

Example:
    >>> import bnno.quantizers  # registers bnno's quantizers
    >>> resolve({"name": "sibnn", "rho": 0.2}, "activation")
    {'class_name': 'SiBnn', 'config': {'rho': 0.2, 'sparsity': True}}
    >>> resolve("sibnn", "kernel")
    Traceback (most recent call last):
    ...
    bnno.errors.BnnoError: 'sibnn' cannot be the kernel_quantizer; choose one of: approx_sign, \
bnext_weight, channel_scale, magnitude_aware_sign, react_weight, sibnn_weight, ste_heaviside, \
ste_sign, swish_sign, xnor_weight
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bnno.errors import BnnoError, choices

# A quantizer spec as hparam sets and builders hold it (see the module docstring).
QuantizerSpec = str | dict | None

ROLES = ("activation", "kernel")
# The hparam that names a quantizer of each role, for messages.
HPARAM = {"activation": "activation", "kernel": "kernel_quantizer"}


@dataclass(frozen=True)
class Entry:
    """One registered quantizer: its name, larq class, roles and options.

    Example:
        >>> import larq as lq
        >>> entry = Entry("ste_sign", lq.quantizers.SteSign, ("activation", "kernel"),
        ...               {"clip_value": 1.0, "metrics": None})
        >>> sorted(entry.options)
        ['clip_value', 'metrics']
    """

    name: str
    cls: type
    roles: tuple[str, ...]
    options: Mapping[str, Any]
    scaled: bool = False
    latent_free: bool = False


_ENTRIES: dict[str, Entry] = {}


def options_of(cls: type) -> dict[str, Any]:
    """The keyword arguments of ``cls`` (and of its larq base classes) a spec may set,
    with their defaults.

    Example:
        >>> import larq as lq
        >>> options_of(lq.quantizers.SteSign)
        {'clip_value': 1.0, 'metrics': None}
    """
    found: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass.__module__.startswith(("keras", "tf_keras", "tensorflow")):
            continue
        params = inspect.signature(init).parameters
        for param in list(params.values())[1:]:
            if param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                found.setdefault(param.name, param.default)
        if "kwargs" not in params:
            break  # this class passes nothing further up
    return found


def _check_value(name: str, option: str, value: Any, default: Any) -> None:
    # An option takes the kind of value its default is: a number, true/false, a name.
    kinds = {bool: (bool,), int: (int, float), float: (int, float), str: (str,)}
    expected = kinds.get(type(default))
    if expected and (not isinstance(value, expected)
                     or (isinstance(value, bool) and bool not in expected)):
        kind = {bool: "true or false", str: "a name"}.get(type(default), "a number")
        raise BnnoError(f"option '{option}' of quantizer '{name}' expects {kind}, got {value!r}")


def register(name: str, roles: tuple[str, ...] = ROLES, keras_alias: bool = True,
             scaled: bool = False, latent_free: bool = False) -> Callable[[type], type]:
    """Decorator: register a larq quantizer class as ``name`` for ``roles``.

    The class is also registered with Keras (saved models and layer configs find it by
    its class name), and ``name`` with larq, so that larq layers accept the bare name
    too (``keras_alias=False`` for a name larq already gives another class).

    Two flags describe kernel quantizers for latent-free optimizers (Bop): ``scaled``
    for a binarizer of latent weights to α·sign(w) per output channel, whose scale a
    latent-free run keeps (``bnno.optimizers.switch``); ``latent_free`` for a quantizer
    of kernels that already hold ±1, the only kind such an optimizer accepts.

    Example:
        >>> import larq as lq
        >>> @register("toy_sign", roles=("kernel",))
        ... class ToySign(lq.quantizers.SteSign):
        ...     pass
        >>> get("toy_sign").roles, list(get("toy_sign").options)
        (('kernel',), ['clip_value', 'metrics'])
        >>> unregister("toy_sign")
    """
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown quantizer role '{role}'; use {' or '.join(ROLES)}")

    def decorator(cls: type) -> type:
        import larq as lq

        if name in _ENTRIES:
            raise BnnoError(f"quantizer '{name}' is already registered")
        if cls.__module__.split(".")[0] != "larq":
            lq.utils.register_keras_custom_object(cls)
            if keras_alias:
                lq.utils.register_alias(name)(cls)
        _ENTRIES[name] = Entry(name, cls, tuple(roles), options_of(cls), scaled, latent_free)
        return cls

    return decorator


def unregister(name: str) -> None:
    """Remove the quantizer ``name`` from the registry (for tests and examples).

    Example:
        >>> "toy" in names()
        False
    """
    del _ENTRIES[name]


def names(role: str | None = None) -> list[str]:
    """The registered quantizer names, sorted; only those of ``role`` if given.

    Example:
        >>> import bnno.quantizers
        >>> names("activation")
        ['approx_sign', 'bnext_sign', 'react_sign', 'sibnn', 'ste_heaviside', 'ste_sign', \
'swish_sign']
    """
    return sorted(n for n, e in _ENTRIES.items() if role is None or role in e.roles)


def get(name: str) -> Entry:
    """The entry of the quantizer ``name``.

    Example:
        >>> import bnno.quantizers
        >>> get("bnext_weight").options
        {'cutoff': 1e-07}
    """
    try:
        return _ENTRIES[name]
    except KeyError:
        raise BnnoError(f"unknown quantizer '{name}'; choose one of: {choices(_ENTRIES)}") from None


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
    entry = _ENTRIES.get(name)
    if entry is None or role not in entry.roles:
        what = (f"unknown {HPARAM[role]} '{name}'" if entry is None
                else f"'{name}' cannot be the {HPARAM[role]}")
        raise BnnoError(f"{what}; choose one of: {choices(names(role))}")
    settable = [o for o in entry.options if o != "metrics"]
    for option, value in options.items():
        if option not in settable:
            raise BnnoError(f"quantizer '{name}' has no option '{option}'; its options: "
                            f"{choices(settable) if settable else 'none'}")
        _check_value(name, option, value, entry.options[option])
    options = {**(defaults or {}).get(name, {}), **options}
    if metrics is not None and "metrics" in entry.options:
        options["metrics"] = list(metrics)
    try:
        instance = entry.cls(**options)
    except (TypeError, ValueError) as e:
        raise BnnoError(f"quantizer '{name}': {e}") from None
    # The options the class takes, as the instance holds them (larq's get_config also
    # carries a name, which would give every layer's quantizer the same one, and leaves
    # the metrics out).
    config = {k: v for k, v in instance.get_config().items() if k in entry.options}
    if "metrics" in options:
        config["metrics"] = options["metrics"]
    return {"class_name": entry.cls.__name__, "config": config}

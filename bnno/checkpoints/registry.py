"""The checkpoint-importer registry: for each bnno model, the function that maps a
foreign checkpoint's weights onto it.

An importer is ``importer(state, model) -> Mapping``: ``state`` is the checkpoint's
state dict (key → NumPy array, any ``module.`` prefix removed), ``model`` the bnno model
name. It checks every key and shape before anything is built, and returns the builder
hparams and class count the checkpoint implies with a function that puts its weights
into the built Keras model (``state_dict`` takes the state dict out of a loaded file).
Modules of ``bnno.checkpoints`` register importers with ``register``; another paper's
checkpoints are one more module.

A module may also name where published weights of a model are found on this machine
(``register_source``): ``source("timm", "efficientnet_b0")`` is the file of timm's
ImageNet weights, which distillation (``teacher_weights=timm``) imports like any other.

Example:
    >>> from bnno import checkpoints
    >>> "bnext_t" in names()
    True
    >>> get("binarynet")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bnno.errors.BnnoError: bnno cannot import checkpoints of 'binarynet'; it imports: ...
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bnno.errors import BnnoError, choices
from bnno.registry import Registry


@dataclass
class Mapping:
    """What a checkpoint implies for a bnno model: builder ``hparams`` (only those that
    differ from the defaults), ``num_classes`` and ``assign(net)``, which writes its
    weights into a model built with them; ``info`` goes into run.json.

    Example:
        >>> Mapping({"width_multiplier": 0.5}, 10, lambda net: None).num_classes
        10
    """

    hparams: dict[str, Any]
    num_classes: int
    assign: Callable[[Any], None]
    info: dict[str, Any] = field(default_factory=dict)


Importer = Callable[[dict, str], Mapping]
_REGISTRY: Registry[Importer] = Registry("checkpoint importer")
# "<source>/<model>" -> the function that finds that model's file of that source (or
# raises a BnnoError saying where to put it).
_SOURCES: Registry[Callable[[], Path]] = Registry("weights source")


def register(*models: str) -> Callable[[Importer], Importer]:
    """Decorator: the function imports checkpoints of ``models`` (their registered names).

    Raises:
        BnnoError: no model named, a model that has an importer already, or an importer
            that does not take ``(state, model)``.

    Example:
        >>> @register("doctest_only_model")
        ... def doctest_only(state, model):
        ...     return Mapping({}, 10, lambda net: None)
        >>> get("doctest_only_model").__name__
        'doctest_only'
        >>> unregister("doctest_only_model")
    """
    if not models:
        raise BnnoError("an importer must name the models whose checkpoints it imports")

    def decorate(importer: Importer) -> Importer:
        params = [p for p in inspect.signature(importer).parameters.values()
                  if p.default is p.empty]
        if len(params) != 2:
            raise BnnoError(f"importer {importer.__name__} must take (state, model)")
        for model in models:
            _REGISTRY.add(model, importer)
        return importer

    return decorate


def unregister(model: str) -> None:
    """Forget the importer of ``model``.

    Example:
        >>> "doctest_only_model" in names()
        False
    """
    _REGISTRY.remove(model)


def index() -> dict[str, list[str]]:
    """The models that have an importer and the weight sources (``source/model``), for
    ``bnno.plugins``' index of the registries.

    Example:
        >>> from bnno import checkpoints
        >>> "bnext_t" in index()["importers"], "timm/efficientnet_b0" in index()["sources"]
        (True, True)
    """
    return {"importers": names(), "sources": _SOURCES.names()}


def add_stubs(found: dict[str, list[str]]) -> None:
    """Register ``index()``'s importers and sources as stubs (no function)."""
    for model in found["importers"]:
        _REGISTRY.add_stub(model, None)
    for key in found["sources"]:
        _SOURCES.add_stub(key, None)


def names() -> list[str]:
    """The models whose checkpoints can be imported, sorted.

    Example:
        >>> from bnno import checkpoints
        >>> "bnext_t" in names()
        True
    """
    return _REGISTRY.names()


def get(model: str) -> Importer:
    """The importer of ``model``.

    Raises:
        BnnoError: no importer for that model (the message names those there are).

    Example:
        >>> from bnno import checkpoints
        >>> get("bnext_t").__name__
        'bnext'
    """
    if model not in _REGISTRY:
        raise BnnoError(f"bnno cannot import checkpoints of '{model}'; it imports: "
                        f"{choices(_REGISTRY.names())}")
    return _REGISTRY.get(model)


def register_source(source: str, model: str, find: Callable[[], Path]) -> None:
    """``find()`` gives the file of ``model``'s weights that ``source`` names, or raises a
    one-line ``BnnoError`` saying where to get it.

    Example:
        >>> register_source("doctest_only", "m", lambda: Path("m.pth"))
        >>> source("doctest_only", "m"), sources("m")
        (PosixPath('m.pth'), ['doctest_only'])
        >>> unregister_source("doctest_only", "m")
    """
    _SOURCES.add(f"{source}/{model}", find)


def unregister_source(source: str, model: str) -> None:
    """Forget the weights ``source`` of ``model``.

    Example:
        >>> sources("m")
        []
    """
    _SOURCES.remove(f"{source}/{model}")


def sources(model: str) -> list[str]:
    """The named weight sources of ``model``, sorted.

    Example:
        >>> from bnno import checkpoints
        >>> sources("efficientnet_b0")
        ['timm']
    """
    return sorted(n.split("/")[0] for n in _SOURCES.names() if n.split("/", 1)[1] == model)


def source(name: str, model: str) -> Path:
    """The file of ``model``'s weights that the source ``name`` names.

    Raises:
        BnnoError: no such source for ``model``, or the file is not there (the message
            says where to get it).

    Example:
        >>> source("nowhere", "binarynet")
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: there are no 'nowhere' weights of binarynet; its weight \
sources: none
    """
    key = f"{name}/{model}"
    if key not in _SOURCES:
        raise BnnoError(f"there are no '{name}' weights of {model}; its weight sources: "
                        f"{choices(sources(model)) or 'none'}")
    return _SOURCES.get(key)()


def state_dict(checkpoint: Any) -> dict[str, np.ndarray]:
    """The tensors of a loaded checkpoint: its ``state_dict`` entry (the official training
    scripts' files), its ``model`` entry (Facebook's ConvNeXt files), or the object itself
    when it is one, with the ``module.`` prefix of a ``DataParallel`` model removed.

    Raises:
        BnnoError: there is no state dict of arrays in it.

    Example:
        >>> state_dict({"epoch": 3, "state_dict": {"module.fc.bias": np.zeros(2)}})
        {'fc.bias': array([0., 0.])}
        >>> state_dict({"model": {"head.bias": np.zeros(1)}})
        {'head.bias': array([0.])}
    """
    state = checkpoint
    if isinstance(checkpoint, dict):
        state = next((checkpoint[k] for k in ("state_dict", "model")
                      if isinstance(checkpoint.get(k), dict)), checkpoint)
    if not isinstance(state, dict) or not state:
        raise BnnoError("the checkpoint holds no state dict (a dict of tensors, or a dict "
                        "with a 'state_dict' or 'model' entry)")
    out = {}
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, np.ndarray):
            raise BnnoError(f"the checkpoint's state dict holds {str(key)[:60]!r}, which "
                            "is not a tensor")
        out[key.removeprefix("module.")] = value
    return out


def misfit(model: str, problem: str, fits: dict[str, tuple[str | None, float]],
           prefer: str | None = None) -> BnnoError:
    """The one-line error for a checkpoint that does not fit ``model``: its first wrong
    key (``problem``) and the model of the importer it fits best, from ``fits`` (each
    model -> its first wrong key or None, and the share of keys that match); on a tie
    ``prefer`` wins, else the first.

    Example:
        >>> str(misfit("big", "key 'x' is missing", {"big": ("...", 0.5), "small": (None, 1.0)}))
        "the checkpoint does not fit big: key 'x' is missing; it fits small (all keys and shapes)"
    """
    best = max(fits, key=lambda name: (fits[name][1], name == prefer))
    if fits[best][0] is None:
        hint = f"it fits {best} (all keys and shapes)"
    elif fits[best][1] == 0:
        hint = "it fits none of " + ", ".join(fits)
    else:
        hint = f"it fits {best} best ({fits[best][1]:.0%} of its keys match)"
    return BnnoError(f"the checkpoint does not fit {model}: {problem}; {hint}")

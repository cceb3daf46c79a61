"""The preprocessing registry: the functions users name with ``--preprocess-fn`` (or a
set's ``preprocess_fn``), for datasets of decoded images and for datasets read as encoded
bytes (JPEG; ImageNet and image folders of large images).

A function is ``fn(image, training, seed)``: a decoded uint8 image, or the encoded bytes
(then with a keyword ``size``, the side of the square output) to a float32 image, with
every random choice drawn from ``seed`` (a stateless seed pair, or None: the global random
state), so that an epoch's augmentation is a pure function of (seed, epoch). The same name
may be registered once for each kind of dataset (``default`` is both). What registering
checks, refused in one line: a lower_case name not yet taken for that kind, and a function
that takes ``(image, training, seed)`` (and ``size`` for encoded images).

A function whose training path is cheaper split in two declares ``stages``
(``TrainingStages``): the pipeline runs ``per_image`` on each example and ``per_batch``
once per batch.

Example:
    >>> import bnno.data  # registers bnno's preprocessing functions
    >>> "resize_and_flip" in functions(encoded=False), "bnext" in functions(encoded=True)
    (True, True)
    >>> @register("doctest_only_invert")
    ... def invert(image, training, seed):
    ...     return 1.0 - image
    >>> get("doctest_only_invert", encoded=False).stages is None
    True
    >>> unregister("doctest_only_invert")
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bnno.errors import BnnoError, choices
from bnno.registry import Registry


@dataclass(frozen=True)
class TrainingStages:
    """A preprocessing function's training path split in two: ``per_image(x, True, seed,
    size=size)`` (the function's call form) returns a tuple of tensors of fixed shapes,
    ``per_batch(*batched)`` finishes a batch of them. ``fn(x, True, seed, size=size)``
    equals ``per_batch(*(t[None] for t in per_image(x, True, seed, size=size)))[0]``;
    the training pipeline batches between the two, so that the second step runs once
    per batch.

    Example:
        ``bnext``'s stages crop per image and augment per batch::

            stages = get("bnext", encoded=True).stages
            crop, chosen = stages.per_image(jpeg, True, seed, size=224)
    """

    per_image: Callable
    per_batch: Callable


@dataclass(frozen=True)
class Entry:
    """One registered preprocessing function: its ``name``, whether it takes ``encoded``
    bytes, the function (None for an entry read back from bnno's index of the registries,
    ``bnno.plugins``) and its training ``stages``, if split."""

    name: str
    encoded: bool
    fn: Callable | None
    stages: TrainingStages | None = None


_DECODED: Registry[Entry] = Registry("preprocess fn for decoded images")
_ENCODED: Registry[Entry] = Registry("preprocess fn for encoded images")


def _registry(encoded: bool) -> Registry[Entry]:
    return _ENCODED if encoded else _DECODED


def register(name: str, *, encoded: bool = False,
             stages: TrainingStages | None = None) -> Callable[[Callable], Callable]:
    """Decorator: register a preprocessing function as ``name`` for datasets of decoded
    images, or with ``encoded`` of encoded bytes (see the module docstring).

    Raises:
        BnnoError: a name that is taken for that kind or not lower_case, a function that
            does not take ``(image, training, seed)`` (and ``size`` when ``encoded``), or
            ``stages`` that are no ``TrainingStages``.

    Example:
        >>> register("doctest_only_crop", encoded=True)(lambda image, training: image)
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: preprocess fn 'doctest_only_crop' must take (image, \
training, seed, size=...); it takes (image, training)
    """
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise BnnoError(f"preprocess fn name {name!r} must be lower_case letters, digits and _")
    if stages is not None and not isinstance(stages, TrainingStages):
        raise BnnoError(f"preprocess fn '{name}': stages must be a TrainingStages")

    def decorator(fn: Callable) -> Callable:
        _check_signature(name, fn, encoded)
        registry = _registry(encoded)
        if name in registry and not registry.is_stub(name):
            kind = "encoded" if encoded else "decoded"
            raise BnnoError(f"preprocess fn '{name}' for {kind} images is already registered")
        registry.add(name, Entry(name, encoded, fn, stages))
        return fn

    return decorator


def _check_signature(name: str, fn: Callable, encoded: bool) -> None:
    wanted = "(image, training, seed, size=...)" if encoded else "(image, training, seed)"
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        raise BnnoError(f"preprocess fn '{name}' must be a function {wanted}") from None
    positional = [p for p in params.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_size = "size" in params or any(p.kind == p.VAR_KEYWORD for p in params.values())
    if len(positional) < 3 or (encoded and not takes_size):
        raise BnnoError(f"preprocess fn '{name}' must take {wanted}; it takes "
                        f"({', '.join(params)})")


def unregister(name: str, encoded: bool = False) -> None:
    """Remove ``name`` (for ``encoded`` bytes or decoded images) again.

    Example:
        >>> unregister("no_such_fn")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: unknown preprocess fn 'no_such_fn' for decoded images; choose \
one of: ...
    """
    _check(name, encoded)
    _registry(encoded).remove(name)


def get(name: str, encoded: bool) -> Entry:
    """The entry of ``name`` for ``encoded`` bytes or decoded images.

    Raises:
        BnnoError: no such function for that kind of dataset, naming those there are.

    Example:
        >>> get("bnext", encoded=True).stages is not None
        True
    """
    _check(name, encoded)
    return _registry(encoded).get(name)


def _check(name: str, encoded: bool) -> None:
    registry = _registry(encoded)
    if name not in registry:
        kind = "encoded" if encoded else "decoded"
        raise BnnoError(f"unknown preprocess fn '{name}' for {kind} images; choose one of: "
                        f"{choices(registry.names())}")


def functions(encoded: bool) -> dict[str, Callable]:
    """The functions for ``encoded`` bytes or decoded images, by name.

    Example:
        >>> {"default", "resize_and_flip"} <= set(functions(encoded=False))
        True
    """
    return {name: entry.fn for name, entry in _registry(encoded).items()}


def names() -> list[str]:
    """Every name, of either kind, sorted.

    Example:
        >>> {"default", "resize_and_flip", "bnext"} <= set(names())
        True
    """
    return sorted(set(_DECODED.names()) | set(_ENCODED.names()))


def index() -> dict[str, Any]:
    """Every function's name by kind, as data, for ``bnno.plugins``' index.

    Example:
        >>> "sibnn" in index()["encoded"]
        True
    """
    return {"decoded": _DECODED.names(), "encoded": _ENCODED.names()}


def add_stubs(data: dict[str, Any]) -> None:
    """Register ``index()``'s names as stubs (no function)."""
    for kind, encoded in (("decoded", False), ("encoded", True)):
        for name in data[kind]:
            _registry(encoded).add_stub(name, Entry(name, encoded, None))

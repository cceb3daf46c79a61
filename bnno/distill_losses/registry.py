"""The registry of distillation losses (see ``bnno.distill_losses``).

Example:
    >>> import bnno.distill_losses
    >>> "distribution" in names()
    True
"""

from __future__ import annotations

from collections.abc import Callable

from bnno.errors import BnnoError
from bnno.registry import Registry

Loss = Callable[..., object]
_REGISTRY: Registry[Loss] = Registry("distillation loss")


def register(name: str) -> Callable[[Loss], Loss]:
    """Decorator registering ``loss(student_logits, teacher_logits)`` as ``name``.

    Example:
        >>> @register("doctest_only_loss")
        ... def _loss(student_logits, teacher_logits):
        ...     return 0.0
        >>> "doctest_only_loss" in names()
        True
        >>> unregister("doctest_only_loss")
    """
    def decorator(loss: Loss) -> Loss:
        if not callable(loss):
            raise BnnoError(f"distillation loss '{name}' must be a function")
        _REGISTRY.add(name, loss)
        return loss

    return decorator


def unregister(name: str) -> None:
    """Remove the loss ``name``."""
    _REGISTRY.remove(name)


def names() -> list[str]:
    """The registered losses, sorted."""
    return _REGISTRY.names()


def get(name: str) -> Loss:
    """The loss ``name``; an unknown name gets one line naming the registered ones."""
    return _REGISTRY.get(name)


def check(name: str) -> str:
    """``name`` if it is a registered loss (see ``get``)."""
    get(name)
    return name


def index() -> list[str]:
    """The registered names, as data, for ``bnno.plugins``' index.

    Example:
        >>> "consecutive" in index()
        True
    """
    return names()


def add_stubs(found: list[str]) -> None:
    """Register ``index()``'s names as stubs (no loss) until their modules import."""
    for name in found:
        _REGISTRY.add_stub(name, None)

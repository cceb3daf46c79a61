"""What every registry of bnno shares: named entries, one-line errors, undo.

bnno has one registry per kind of thing a paper brings: models, quantizers, optimizers,
preprocessing functions, distillation losses, checkpoint importers. Each is a
``Registry`` of its own entry type; what an entry must declare is checked by the
registering function of its package (``bnno.models.registry.register`` and the like),
before the entry is added.

``journal()`` records what is registered while it is open, so that a plugin that fails
halfway (``bnno.plugins``) leaves nothing behind.

Example:
    >>> colours = Registry("colour")
    >>> colours.add("red", 1)
    >>> colours.get("red"), "red" in colours, colours.names()
    (1, True, ['red'])
    >>> colours.get("blue")
    Traceback (most recent call last):
    ...
    bnno.errors.BnnoError: unknown colour 'blue'; choose one of: red
    >>> colours.remove("red")
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from bnno.errors import BnnoError, choices

E = TypeVar("E")

# Every registry made, so that a journal sees them all.
_ALL: list[Registry] = []
# Open journals: each receives (registry, name) for every entry added.
_JOURNALS: list[list[tuple[Registry, str]]] = []


class Registry(Generic[E]):
    """Entries of one kind by name.

    ``kind`` names the kind in messages ("unknown model 'x'; choose one of: ...").
    ``on_remove(name, entry)`` undoes what registering did outside the registry (a
    quantizer's Keras registration).

    Example:
        >>> sizes = Registry("size")
        >>> sizes.add("small", 8)
        >>> sizes.add("small", 9)
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: size 'small' is already registered
        >>> sizes.remove("small")
    """

    def __init__(self, kind: str, on_remove: Callable[[str, E], None] | None = None):
        self.kind = kind
        self._entries: dict[str, E] = {}
        self._on_remove = on_remove
        _ALL.append(self)

    def add(self, name: str, entry: E) -> None:
        """Add ``entry`` as ``name``; a name is registered once."""
        if name in self._entries:
            raise BnnoError(f"{self.kind} '{name}' is already registered")
        self._entries[name] = entry
        for journal in _JOURNALS:
            journal.append((self, name))

    def remove(self, name: str) -> None:
        """Remove ``name`` and undo what registering it did.

        Example:
            >>> things = Registry("thing")
            >>> things.add("a", 1)
            >>> things.remove("a")
            >>> things.names()
            []
        """
        entry = self._entries.pop(name)
        if self._on_remove is not None:
            self._on_remove(name, entry)

    def get(self, name: str) -> E:
        """The entry ``name``; an unknown name gets one line naming the valid ones."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise BnnoError(
                f"unknown {self.kind} '{name}'; choose one of: {choices(self._entries)}"
            ) from None

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def items(self) -> list[tuple[str, E]]:
        """``(name, entry)`` pairs, sorted by name."""
        return sorted(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries


@contextlib.contextmanager
def journal() -> Iterator[list[tuple[Registry, str]]]:
    """Record every entry registered in the body; if the body raises, remove them again.

    Example:
        >>> numbers = Registry("number")
        >>> try:
        ...     with journal():
        ...         numbers.add("one", 1)
        ...         raise RuntimeError("the plugin failed")
        ... except RuntimeError:
        ...     pass
        >>> numbers.names()
        []
    """
    log: list[tuple[Registry, str]] = []
    _JOURNALS.append(log)
    try:
        yield log
    except BaseException:
        for registry, name in reversed(log):
            if name in registry:
                registry.remove(name)
        raise
    finally:
        _JOURNALS.remove(log)

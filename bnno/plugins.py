"""Plugins: packages that add models, quantizers, optimizers, recipes and checkpoint
importers to bnno without changing it.

A plugin is a Python package that declares an entry point in the group ``bnno.plugins``
of its packaging metadata, naming a module (or a function to call)::

    # the plugin's setup.py
    entry_points={"bnno.plugins": ["toy = toy_bnn.plugin"]}

``load`` imports bnno's own modules and then every plugin, once per process: the CLI
does so when it starts, ``bnno.config.plan`` (and everything that plans or reads a run)
before it looks anything up. A plugin registers what it brings the way bnno's own modules
do: ``bnno.models.register``, ``bnno.quantizers.register``, ``bnno.optimizers.register``,
``bnno.checkpoints.registry.register`` and ``bnno.hparams.add_folder`` for its folder of
hparam files. A plugin that fails to load (an import error, a contract its entries break)
gets one warning line on stderr naming it and what went wrong; whatever it had registered
is removed again and bnno works without it.

Example:
    Load bnno's entries and the installed plugins, then list what loaded and what failed
    (entry point name → the module it names, or why it failed)::

        load()
        print(loaded(), failed())
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from types import ModuleType

from bnno.registry import journal

GROUP = "bnno.plugins"

_state: dict[str, object] = {"loaded": False}
_LOADED: dict[str, str] = {}
_FAILED: dict[str, str] = {}


def load() -> None:
    """Import bnno's registering packages, then every plugin (once).

    Example:
        >>> load()
        >>> import bnno.models
        >>> "binarynet" in bnno.models.names()
        True
    """
    if _state["loaded"]:
        return
    _state["loaded"] = True
    # bnno's own entries register when their packages import their modules.
    import bnno.checkpoints
    import bnno.models
    import bnno.optimizers
    import bnno.quantizers  # noqa: F401

    for point in sorted(installed(), key=lambda p: p.name):
        _load_one(point)


def _load_one(point) -> None:
    try:
        with journal():
            found = point.load()
            if callable(found) and not isinstance(found, ModuleType):
                found()
    except Exception as e:  # a plugin's failure must not stop bnno
        reason = (str(e).splitlines() or [""])[0]
        _FAILED[point.name] = f"{type(e).__name__}: {reason}"
        print(f"Warning: bnno plugin '{point.name}' ({point.value}) failed to load and is left "
              f"out: {_FAILED[point.name]}", file=sys.stderr)
        return
    _LOADED[point.name] = point.value


def installed() -> list:
    """The plugins' entry points, without loading any (for ``bnno --version``).

    Example:
        >>> isinstance(installed(), list)
        True
    """
    return list(entry_points(group=GROUP))


def loaded() -> dict[str, str]:
    """The plugins that loaded: entry point name → what it names.

    Example:
        >>> load()
        >>> isinstance(loaded(), dict)
        True
    """
    return dict(_LOADED)


def failed() -> dict[str, str]:
    """The plugins that failed to load: entry point name → why.

    Example:
        >>> load()
        >>> isinstance(failed(), dict)
        True
    """
    return dict(_FAILED)

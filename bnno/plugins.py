"""Plugins: packages that add models, quantizers, optimizers, recipes and checkpoint
importers to bnno without changing it; and the index that lets recipe commands start at
once.

A plugin is a Python package that declares an entry point in the group ``bnno.plugins``
of its packaging metadata, naming a module (or a function to call)::

    # the plugin's pyproject.toml
    [project.entry-points."bnno.plugins"]
    toy = "toy_bnn"

``load`` imports bnno's own modules and then every plugin, once per process: the CLI
does so when it starts a command that trains or builds, ``bnno.config.plan`` (and
everything that plans or reads a run) before it looks anything up. A plugin registers
what it brings the way bnno's own modules do: ``bnno.models.register``,
``bnno.quantizers.register``, ``bnno.optimizers.register``,
``bnno.checkpoints.registry.register`` and ``bnno.hparams.add_folder`` for its folder of
hparam files. A plugin that fails to load (an import error, a contract its entries break)
gets one warning line on stderr naming it and what went wrong; whatever it had registered
is removed again and bnno works without it.

Importing the model and quantizer modules imports TensorFlow, seconds of start-up that
commands which only read recipes (``bnno hparams``) do not need. After every full load,
what the registries hold is written down as data (the *index*, in ``cache_dir()``), keyed
by bnno's version, the installed plugins and the files of their packages; ``load(light=
True)`` registers the index's entries as stubs instead of importing anything, when the
index is there and still describes the installed code, and loads fully otherwise.

Example:
    Load bnno's entries and the installed plugins, then list what loaded and what failed
    (entry point name → the module it names, or why it failed)::

        load()
        print(loaded(), failed())
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from bnno.registry import drop_stubs, journal

GROUP = "bnno.plugins"

_state: dict[str, str | None] = {"mode": None}
_LOADED: dict[str, str] = {}
_FAILED: dict[str, str] = {}


def load(light: bool = False) -> None:
    """Load bnno's entries and the installed plugins, once; with ``light``, from the
    index when it is up to date (see the module docstring).

    Example:
        >>> load()
        >>> import bnno.models
        >>> "binarynet" in bnno.models.names()
        True
    """
    mode = _state["mode"]
    if mode == "full" or (light and mode == "light"):
        return
    if light and mode is None and _read_index():
        _state["mode"] = "light"
        return
    _load_full()
    _state["mode"] = "full"
    _write_index()


def _load_full() -> None:
    # bnno's own entries register when their packages import their modules.
    import bnno
    import bnno.checkpoints
    import bnno.distill_losses
    import bnno.models
    import bnno.optimizers
    import bnno.quantizers  # noqa: F401

    bnno.import_deferred()  # packages a light load imported without their modules
    _LOADED.clear()  # what a light load read from the index is found again
    _FAILED.clear()

    for point in sorted(installed(), key=lambda p: p.name):
        _load_one(point)
    drop_stubs()


def _load_one(point) -> None:
    try:
        with journal():
            found = point.load()
            if callable(found) and not isinstance(found, ModuleType):
                found()
    except Exception as e:  # a plugin's failure must not stop bnno
        reason = (str(e).splitlines() or [""])[0]
        _FAILED[point.name] = f"{type(e).__name__}: {reason}"
        _warn(point.name, point.value)
        return
    _LOADED[point.name] = point.value


def _warn(name: str, value: str) -> None:
    print(f"Warning: bnno plugin '{name}' ({value}) failed to load and is left out: "
          f"{_FAILED[name]}", file=sys.stderr)


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


# ----- the index ------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where the index is kept: ``$BNNO_CACHE_DIR``, else ``$XDG_CACHE_HOME/bnno``, else
    ``~/.cache/bnno``.

    Example:
        >>> cache_dir().name in ("bnno", os.environ.get("BNNO_CACHE_DIR", "bnno").split("/")[-1])
        True
    """
    if os.environ.get("BNNO_CACHE_DIR"):
        return Path(os.environ["BNNO_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bnno"


def index_file() -> Path:
    """The index of the installed code: its name holds a digest of bnno's version, the
    plugins' entry points and the sizes and times of the files of bnno and of the
    plugins' packages, so that any change of code is another file.

    Example:
        >>> index_file().name.startswith("index-")
        True
    """
    import bnno

    points = sorted((p.name, p.value) for p in installed())
    packages = [Path(bnno.__file__).parent] + [_package_dir(v) for _, v in points]
    stats = sorted((str(f), f.stat().st_mtime_ns, f.stat().st_size)
                   for folder in packages if folder is not None
                   for f in folder.rglob("*") if f.suffix in (".py", ".json"))
    key = json.dumps([bnno.__version__, sys.version, points, stats])
    return cache_dir() / f"index-{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"


def _package_dir(value: str) -> Path | None:
    """The folder of the top-level package an entry point names (found, not imported)."""
    try:
        spec = importlib.util.find_spec(value.split(":")[0].split(".")[0])
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _write_index() -> None:
    from bnno import atomic, hparams
    from bnno.checkpoints import registry as importers
    from bnno.data import registry as preprocessing
    from bnno.distill_losses import registry as losses
    from bnno.errors import BnnoError
    from bnno.models import registry as models
    from bnno.optimizers import registry as optimizers
    from bnno.quantizers import registry as quantizers

    try:
        data = {"models": models.index(), "quantizers": quantizers.index(),
                "optimizers": optimizers.index(), "importers": importers.index(),
                "preprocessing": preprocessing.index(), "distill_losses": losses.index(),
                "folders": [str(f) for f in hparams.folders()[1:]],
                "loaded": _LOADED, "failed": _FAILED}
        file = index_file()
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(file, json.dumps(data), sync=False)
    except (ValueError, TypeError, OSError, BnnoError):
        pass  # an entry that cannot be written down, or no cache: loads stay full


def _read_index() -> bool:
    """Register the index's entries as stubs; False when there is no valid index."""
    import bnno

    try:
        data = json.loads(index_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    bnno._DEFERRING[0] = True  # the registries' packages, without their modules
    from bnno import hparams
    from bnno.checkpoints import registry as importers
    from bnno.data import registry as preprocessing
    from bnno.distill_losses import registry as losses
    from bnno.models import registry as models
    from bnno.optimizers import registry as optimizers
    from bnno.quantizers import registry as quantizers

    bnno._DEFERRING[0] = False
    try:
        with journal():
            preprocessing.add_stubs(data["preprocessing"])
            losses.add_stubs(data["distill_losses"])
            quantizers.add_stubs(data["quantizers"])
            models.add_stubs(data["models"])
            optimizers.add_stubs(data["optimizers"])
            importers.add_stubs(data["importers"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return False  # an index this version cannot read: load fully (and write it anew)
    for folder in data["folders"]:
        hparams.add_folder(Path(folder))
    _LOADED.update(data["loaded"])
    _FAILED.update(data["failed"])
    for name in _FAILED:
        _warn(name, next((p.value for p in installed() if p.name == name), name))
    return True

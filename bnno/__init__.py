"""bnno: train, inspect and ship binary neural networks with TensorFlow and Larq.

larq needs the Keras 2 API, which TensorFlow >= 2.16 only provides through tf-keras
when ``TF_USE_LEGACY_KERAS`` is set before TensorFlow is first imported, so the package
sets it here, before any of its modules import TensorFlow.
"""

import os
import sys

if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise ImportError(
        "TensorFlow was imported before bnno without TF_USE_LEGACY_KERAS=1, so larq "
        "cannot use the Keras 2 API; import bnno first or set TF_USE_LEGACY_KERAS=1"
    )
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"


# Registry packages whose members wait: set while bnno reads its index of the registries
# instead of importing every model (``bnno.plugins``).
_DEFERRED: list[tuple[str, list[str]]] = []
_DEFERRING = [False]


def import_members(package: str, path: list[str]) -> None:
    """Import every module (not subpackage) of ``package``, whose ``__path__`` is ``path``.

    The registries' packages (``bnno.models``, ``bnno.quantizers``, ``bnno.optimizers``,
    ``bnno.checkpoints``) call it from their ``__init__``: each module registers what it
    defines, so adding a model, quantizer or optimizer is adding its module. Modules are
    imported in name order. While ``bnno.plugins`` reads its index, the call only notes the
    package, whose modules ``import_deferred`` imports when they are needed.

    Example:
        ``bnno/models/__init__.py`` ends with ``import_members(__name__, __path__)``.
    """
    import importlib
    import pkgutil

    if _DEFERRING[0]:
        _DEFERRED.append((package, list(path)))
        return
    for member in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        if not member.ispkg:
            importlib.import_module(f"{package}.{member.name}")


def import_deferred() -> None:
    """Import the members of the packages ``import_members`` deferred (see there)."""
    _DEFERRING[0] = False
    while _DEFERRED:
        import_members(*_DEFERRED.pop(0))

"""Run directories: what a training run writes, and where.

A run directory holds::

    run.json                  the run's config (``bnno.config.RunConfig``, serialised)
    backup/                   Keras BackupAndRestore checkpoint (weights + optimizer state)
    logs/                     TensorBoard logs
    metrics.jsonl             one JSON object per completed epoch
    flips.jsonl               flip ratio and π per binary layer every N steps (bnno.training.flips)
    <model>_weights.h5        final weights (Keras HDF5)
    <model>_best_weights.h5   weights of the epoch with the best validation accuracy (the
                              epoch and accuracy are attributes of the file)
    stopped.json              written when the loss became NaN: the epoch and batch

This module reads and writes those files; it knows nothing of what a config means
(``bnno.config`` turns a ``run.json`` into a config, of any version bnno wrote), so that
listing runs needs neither TensorFlow nor the registries.

Example:
    >>> import tempfile
    >>> path = default_dir("binarynet", "cifar10", "bop", root=tempfile.mkdtemp())
    >>> create(path, {"model": {"name": "binarynet"}, "data": {"dataset": "cifar10"}})
    >>> summary(read(path))["model"]
    'binarynet'
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bnno.errors import BnnoError

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
FLIPS_FILE = "flips.jsonl"
BACKUP_DIR = "backup"
LOG_DIR = "logs"
STOPPED_FILE = "stopped.json"

# The weights a run can be evaluated, exported or examined with.
WEIGHTS = ("final", "best", "last-checkpoint")

def default_dir(model: str, dataset: str, hparams_set: str, root: str = "runs") -> Path:
    """A fresh ``runs/<model>-<dataset>-<set>-<time>`` directory name that is not taken.

    Example:
        >>> default_dir("binarynet", "cifar10", "bop").as_posix()  # doctest: +ELLIPSIS
        'runs/binarynet-cifar10-bop-20...'
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # A folder dataset is named by its last part.
    dataset = Path(dataset).name or "data"
    stem = f"{model}-{dataset}-{hparams_set}-{stamp}"
    path, n = Path(root) / stem, 1
    while path.exists():
        n += 1
        path = Path(root) / f"{stem}-{n}"
    return path


def weights_file(path: Path, model: str) -> Path:
    """Where the final weights of a run of ``model`` are saved.

    Example:
        >>> weights_file(Path("runs/x"), "binarynet").name
        'binarynet_weights.h5'
    """
    return Path(path) / f"{model}_weights.h5"


def best_weights_file(path: Path, model: str) -> Path:
    """Where the weights of a run's best epoch (by validation accuracy) are saved.

    Example:
        >>> best_weights_file(Path("runs/x"), "binarynet").name
        'binarynet_best_weights.h5'
    """
    return Path(path) / f"{model}_best_weights.h5"


def has_checkpoint(path: Path) -> bool:
    """Whether the run in ``path`` has a checkpoint (an epoch finished), read from the
    checkpoint index without TensorFlow.

    Example:
        >>> import tempfile
        >>> has_checkpoint(Path(tempfile.mkdtemp()))
        False
    """
    return (Path(path) / BACKUP_DIR / "chief" / "checkpoint").is_file()


def available_weights(path: Path, model: str) -> list[str]:
    """The names of ``WEIGHTS`` the run of ``model`` in ``path`` has, in that order.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> available_weights(path, "binarynet")
        []
        >>> weights_file(path, "binarynet").touch()
        >>> available_weights(path, "binarynet")
        ['final']
    """
    found = {"final": weights_file(path, model).is_file(),
             "best": best_weights_file(path, model).is_file(),
             "last-checkpoint": has_checkpoint(path)}
    return [name for name in WEIGHTS if found[name]]


def choose_weights(path: Path, model: str, weights: str | None = None) -> str:
    """The weights to use from a run: ``weights`` if the run has them, by default the
    final ones if it finished, else its last checkpoint.

    Raises:
        BnnoError: an unknown name, weights the run does not have (the message names
            those it has), or a run without any.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> weights_file(path, "binarynet").touch()
        >>> choose_weights(path, "binarynet")
        'final'
        >>> choose_weights(path, "binarynet", "best")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: ... has no best weights; it has: final
    """
    if weights is not None and weights not in WEIGHTS:
        raise BnnoError(f"unknown --weights '{weights}'; choose one of: {', '.join(WEIGHTS)}")
    found = available_weights(path, model)
    if not found:
        raise BnnoError(f"{path} has no weights yet: no epoch has finished")
    if weights is None:
        return "final" if "final" in found else "last-checkpoint"
    if weights not in found:
        raise BnnoError(f"{path} has no {weights} weights; it has: {', '.join(found)}")
    return weights


# The HDF5 attributes of a best-weights file that say where its weights come from.
BEST_EPOCH, BEST_VALUE = "bnno_best_epoch", "bnno_best_val_accuracy"


def read_best(path: str | Path) -> dict | None:
    """``{"epoch": e, "val_accuracy": v}`` of a file that
    ``bnno.training.callbacks.BestWeights`` wrote, or None if there is none (or it cannot
    be read).

    Example:
        >>> read_best("no_such_file.h5") is None
        True
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return {"epoch": int(f.attrs[BEST_EPOCH]),
                    "val_accuracy": float(f.attrs[BEST_VALUE])}
    except (OSError, KeyError, ValueError):
        return None


def mark_stopped(path: Path, epoch: int, batch: int) -> None:
    """Record in the run that its loss became NaN in ``epoch``, ``batch`` (from 1).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> mark_stopped(path, 3, 17)
        >>> read_stopped(path)
        {'reason': 'nan', 'epoch': 3, 'batch': 17}
        >>> clear_stopped(path)
        >>> read_stopped(path) is None
        True
    """
    with open(Path(path) / STOPPED_FILE, "w", encoding="utf-8") as f:
        json.dump({"reason": "nan", "epoch": epoch, "batch": batch}, f)


def clear_stopped(path: Path) -> None:
    """Forget a recorded NaN stop (the run trains again); see ``mark_stopped``."""
    (Path(path) / STOPPED_FILE).unlink(missing_ok=True)


def read_stopped(path: Path) -> dict[str, Any] | None:
    """The NaN stop ``mark_stopped`` recorded, or None (also for an unreadable record).

    Example:
        >>> read_stopped(Path("no/such/run")) is None
        True
    """
    try:
        with open(Path(path) / STOPPED_FILE, encoding="utf-8") as f:
            found = json.load(f)
    except OSError:
        return None
    except ValueError:  # cut short while written: the stop itself still holds
        found = None
    return found if isinstance(found, dict) else {"reason": "nan"}


def read(path: Path) -> dict[str, Any]:
    """The ``run.json`` of a run directory.

    Raises:
        BnnoError: the directory is missing, is not a bnno run, or its run.json is corrupt.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> create(path, {"model": "binarynet", "dataset": "mnist", "hparams": {}})
        >>> read(path)["dataset"]
        'mnist'
        >>> _ = (path / RUN_FILE).write_text("[]")
        >>> read(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: .../run.json is corrupt (keys missing); use another --output-dir
    """
    path = Path(path)
    if not path.is_dir():
        raise BnnoError(f"run directory {path} does not exist")
    try:
        with open(path / RUN_FILE, encoding="utf-8") as f:
            spec = json.load(f)
    except FileNotFoundError:
        raise BnnoError(f"{path} is not a bnno run directory (it has no {RUN_FILE})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BnnoError(f"{path / RUN_FILE} is corrupt ({e}); use another --output-dir") from None
    try:
        summary(spec)
    except (TypeError, KeyError, AttributeError):
        raise BnnoError(f"{path / RUN_FILE} is corrupt (keys missing); use another "
                        "--output-dir") from None
    return spec


def summary(spec: dict[str, Any]) -> dict[str, Any]:
    """What a ``run.json`` of any version says in brief: ``model``, ``dataset``,
    ``hparams_set`` and ``epochs`` (None where it does not say).

    Raises:
        KeyError, TypeError: not a run.json of any version.

    Example:
        >>> summary({"model": "binarynet", "dataset": "mnist", "hparams": {"epochs": 3}})
        {'model': 'binarynet', 'dataset': 'mnist', 'hparams_set': None, 'epochs': 3}
        >>> summary({"model": {"name": "binarynet"}, "data": {"dataset": "mnist"},
        ...          "hparams_set": "bop", "trainer": {"epochs": 3}})
        {'model': 'binarynet', 'dataset': 'mnist', 'hparams_set': 'bop', 'epochs': 3}
    """
    if isinstance(spec["model"], str):  # written before typed configs
        return {"model": spec["model"], "dataset": spec["dataset"],
                "hparams_set": spec.get("hparams_set"), "epochs": spec["hparams"].get("epochs")}
    return {"model": spec["model"]["name"], "dataset": spec["data"]["dataset"],
            "hparams_set": spec.get("hparams_set"),
            "epochs": spec.get("trainer", {}).get("epochs")}


def create(path: Path, spec: dict[str, Any]) -> None:
    """Make the run directory and write ``run.json`` (atomically).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "run"
        >>> create(path, {"model": "binarynet", "dataset": "cifar10", "hparams": {}})
        >>> [p.name for p in path.iterdir()]
        ['run.json']
    """
    path = Path(path)
    tmp = path / (RUN_FILE + ".tmp")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(spec, f, indent=2, sort_keys=True)
        os.replace(tmp, path / RUN_FILE)
    except OSError as e:
        raise BnnoError(f"cannot write the run directory {path}: {e.strerror}") from None


@contextlib.contextmanager
def removed_if_unstarted(path: Path, fresh: bool, keep: tuple = ()) -> Iterator[None]:
    """Undo a ``fresh`` run made in the body if the body fails before the run's first
    epoch is saved: such a run has nothing to resume, and its ``run.json`` would refuse a
    retry with other settings. An empty folder that was there before stays. Exceptions of
    the ``keep`` types leave the run as it is.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "run"
        >>> with removed_if_unstarted(path, fresh=True):
        ...     create(path, {"model": "binarynet"})
        ...     raise RuntimeError("the input pipeline failed")
        Traceback (most recent call last):
        RuntimeError: the input pipeline failed
        >>> path.exists()
        False
    """
    path = Path(path)
    existed = path.exists()
    try:
        yield
    except keep:
        raise
    except BaseException:
        if fresh and path.exists() and completed_epochs(path) == 0:
            for child in path.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
            if not existed:
                path.rmdir()
        raise


def completed_epochs(path: Path) -> int:
    """Epochs completed according to the run's checkpoint (0 if it has none).

    Example:
        >>> import tempfile
        >>> completed_epochs(Path(tempfile.mkdtemp()))  # no checkpoint yet
        0
    """
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(Path(path) / BACKUP_DIR / "chief"))
    if latest is None:
        return 0
    # BackupAndRestore stores the index of the last completed epoch.
    return int(tf.train.load_variable(latest, "ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE")) + 1


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The per-epoch rows of ``metrics.jsonl`` (empty if there are none).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> with open(path / METRICS_FILE, "w") as f:
        ...     print('{"epoch": 0, "val_accuracy": 0.41}', file=f)
        ...     print('{"epoch": 1, "val_accuracy": 0.52}', file=f)
        >>> [row["val_accuracy"] for row in read_metrics(path)]
        [0.41, 0.52]
    """
    file = Path(path) / METRICS_FILE
    if not file.exists():
        return []
    with open(file, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]

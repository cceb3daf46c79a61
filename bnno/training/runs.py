"""Run directories: what a training run writes, and whether a directory may be resumed.

A run directory holds::

    run.json                  model, dataset, hparam set, resolved hparams, seed, ...
    backup/                   Keras BackupAndRestore checkpoint (weights + optimizer state)
    logs/                     TensorBoard logs
    metrics.jsonl             one JSON object per completed epoch
    flips.jsonl               flip ratio and π per binary layer every N steps (bnno.training.flips)
    <model>_weights.h5        final weights (Keras HDF5)
    <model>_best_weights.h5   weights of the epoch with the best validation accuracy (the
                              epoch and accuracy are attributes of the file)
    stopped.json              written when the loss became NaN: the epoch and batch

Example:
    >>> import tempfile
    >>> spec = {"model": "binarynet", "dataset": "cifar10", "hparams_set": "bop",
    ...         "hparams": {"epochs": 10}}
    >>> path = default_dir(spec, root=tempfile.mkdtemp())
    >>> check(path, spec)  # nothing there yet: a fresh run
    False
    >>> create(path, spec)
    >>> check(path, {**spec, "hparams": {"epochs": 20}})  # the same run, longer: resumed
    True
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

from bnno import hparams
from bnno.errors import BnnoError

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
FLIPS_FILE = "flips.jsonl"
BACKUP_DIR = "backup"
LOG_DIR = "logs"
STOPPED_FILE = "stopped.json"

# The weights a run can be evaluated, exported or examined with.
WEIGHTS = ("final", "best", "last-checkpoint")

# Keys of run.json that may differ when a run is resumed.
_MAY_CHANGE = {"validation_steps", "bnno_version", "seed_given", "strategy"}


def default_dir(spec: dict[str, Any], root: str = "runs") -> Path:
    """A fresh ``runs/<model>-<dataset>-<set>-<time>`` directory name that is not taken.

    Example:
        >>> default_dir({"model": "binarynet", "dataset": "cifar10",
        ...              "hparams_set": "bop"}).as_posix()  # doctest: +ELLIPSIS
        'runs/binarynet-cifar10-bop-20...'
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    # A folder dataset is named by its last part.
    dataset = Path(spec["dataset"]).name or "data"
    stem = f"{spec['model']}-{dataset}-{spec['hparams_set']}-{stamp}"
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
    if not isinstance(spec, dict) or not {"model", "dataset", "hparams"} <= set(spec):
        raise BnnoError(f"{path / RUN_FILE} is corrupt (keys missing); use another --output-dir")
    return spec


def check(path: Path, spec: dict[str, Any]) -> bool:
    """Can ``spec`` be trained in ``path``? Returns True when it resumes an existing run.

    An epochs count may grow on resume; anything else that differs is refused.

    Raises:
        BnnoError: the directory is a file, holds something that is not a bnno run, or
            holds a run of another model, dataset, set or hparams.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> spec = {"model": "binarynet", "dataset": "cifar10", "hparams": {"epochs": 5}}
        >>> check(path, spec)  # an empty directory: a fresh run
        False
        >>> create(path, spec)
        >>> check(path, {**spec, "dataset": "mnist"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: ... holds a run with a different dataset ("cifar10" there, ...
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BnnoError(f"--output-dir {path} is a file; give a directory")
    if not path.exists() or not any(path.iterdir()):
        return False
    old = read(path)
    for key in sorted(set(old) | set(spec)):
        if key in _MAY_CHANGE:
            continue
        a, b = old.get(key), spec.get(key)
        if key == "hparams" and isinstance(a, dict):
            # An older run.json may use keys renamed since (``hparams.RENAMED``).
            a = {k: v for k, v in hparams.renamed(a).items() if k != "epochs"}
            b = {k: v for k, v in b.items() if k != "epochs"}
        if key == "seed" and not spec.get("seed_given"):
            continue
        if a != b:
            raise BnnoError(
                f"{path} holds a run with a different {key} ({_short(a)} there, {_short(b)} "
                "now); use another --output-dir, or the same command to resume it"
            )
    return True


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) < 80 else text[:77] + "..."


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

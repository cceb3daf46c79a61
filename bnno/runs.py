"""Run directories: what a training run writes, and where.

A run directory holds::

    run.json                  the run's config (``bnno.config.RunConfig``, serialised)
    backup/                   Keras BackupAndRestore checkpoint (weights + optimizer state)
    logs/                     TensorBoard logs
    metrics.jsonl             one JSON object per completed epoch
    flips.jsonl               flip ratio and π per binary layer every N steps (bnno.training.flips)
    lock.json                 while a process trains the run: its host, PID and heartbeat
                              (bnno.locks)
    <model>_weights.h5        final weights (Keras HDF5)
    <model>_best_weights.h5   weights of the epoch with the best validation accuracy (the
                              epoch and accuracy are attributes of the file)
    stopped.json              written when the loss became NaN: the epoch and batch

A run of a set in stages (``bnno.config.stages``) is a directory holding ``stages.json``
(the model, dataset, set and stages) and one such run directory per stage, named after
it (``step1/``, ``step2/``); ``stage_dir`` finds the stage a command works on.

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
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bnno import atomic
from bnno.errors import BnnoError

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
FLIPS_FILE = "flips.jsonl"
BACKUP_DIR = "backup"
LOG_DIR = "logs"
STOPPED_FILE = "stopped.json"
# Beside the checkpoint: the sizes of its files, so that a damaged one shows without
# reading it (``checkpointed_epochs``).
CHECKPOINT_FILES = "files.json"
# Its keys (no checkpoint file has these names) for the position the checkpoint holds.
EPOCHS_DONE, STEPS_DONE = "epochs_done", "steps_done"
# The lock file of a run being trained (``bnno.locks``).
LOCK_FILE = "lock.json"
STAGES_FILE = "stages.json"

# The weights a run can be evaluated, exported or examined with.
WEIGHTS = ("final", "best", "last-checkpoint")


def is_lock_file(name: str) -> bool:
    """Is ``name`` the run's lock, or a file written beside it while the lock is taken or
    its heartbeat rewritten (``bnno.locks``)?

    Example:
        >>> [is_lock_file(n) for n in ("lock.json", "lock.tmp-7.json", "lock.json.f3", "run.json")]
        [True, True, True, False]
    """
    return name.startswith(Path(LOCK_FILE).stem + ".")


def is_unstarted(path: Path) -> bool:
    """Has no run started in the directory ``path``: does it hold nothing but its lock files
    and the temporary files of writes (or not exist)? Another worker of a multi-worker run
    can see the chief's lock, or its run.json half written, before the chief has written
    it; a run killed while ``create`` wrote its run.json leaves the temporary file behind.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> _ = (path / LOCK_FILE).write_text("{}")
        >>> _ = (path / "run.tmp-4242.json").write_text('{"mod')  # cut short by a kill
        >>> is_unstarted(path), is_unstarted(path / "missing")
        (True, True)
        >>> create(path, {"model": "binarynet"})
        >>> is_unstarted(path), sorted(p.name for p in path.iterdir())
        (False, ['lock.json', 'run.json'])
    """
    return not path.exists() or all(is_lock_file(p.name) or atomic.is_temporary(p.name)
                                    for p in path.iterdir())


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


def stage_dir(path: str | Path) -> Path:
    """The run directory that ``path`` names: ``path`` itself, or for a run in stages
    (it holds ``stages.json``) its last stage.

    Raises:
        BnnoError: a run in stages whose last stage has not started yet (the message
            names the stage directory to give instead), or an unreadable ``stages.json``.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> stage_dir(path) == path
        True
        >>> _ = (path / STAGES_FILE).write_text('{"stages": [{"name": "step1"}, '
        ...                                     '{"name": "step2"}]}')
        >>> create(path / "step1", {"model": "m"})
        >>> stage_dir(path)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bnno.errors.BnnoError: ... whose last stage, step2, has not started; give the stage's \
directory: .../step1
        >>> create(path / "step2", {"model": "m"})
        >>> stage_dir(path).name
        'step2'
    """
    path = Path(path)
    if not (path / STAGES_FILE).is_file():
        return path
    try:
        with open(path / STAGES_FILE, encoding="utf-8") as f:
            names = [stage["name"] for stage in json.load(f)["stages"]]
    except (OSError, ValueError, KeyError, TypeError):
        raise BnnoError(f"{path / STAGES_FILE} is corrupt; give the directory of one of "
                        "its stages") from None
    started = [name for name in names if (path / name / RUN_FILE).is_file()]
    if names and started and started[-1] == names[-1]:
        return path / names[-1]
    hint = f"give the stage's directory: {path / started[-1]}" if started else \
        "no stage has started"
    raise BnnoError(f"{path} is a run in stages whose last stage, {names[-1] if names else '?'}, "
                    f"has not started; {hint}")


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
    atomic.write_text(Path(path) / STOPPED_FILE,
                      json.dumps({"reason": "nan", "epoch": epoch, "batch": batch}))


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
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BnnoError(f"cannot write the run directory {path}: {e.strerror}") from None
    atomic.write_text(path / RUN_FILE, json.dumps(spec, indent=2, sort_keys=True))
    # What an earlier create left when it was killed while writing (the caller holds the
    # run's lock: no other process writes run.json now).
    for leftover in atomic.leftovers(path / RUN_FILE):
        leftover.unlink(missing_ok=True)


@contextlib.contextmanager
def removed_if_unstarted(path: Path, fresh: bool, keep: tuple = ()) -> Iterator[None]:
    """Undo a ``fresh`` run made in the body if the body fails before the run's first
    checkpoint is saved: such a run has nothing to resume, and its ``run.json`` would refuse a
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
        if fresh and path.exists() and not has_checkpoint(path):
            for child in path.iterdir():
                if is_lock_file(child.name):  # the lock goes when its holder leaves
                    continue
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
    return checkpoint_position(path)[0]


def checkpoint_position(path: Path, steps_per_epoch: int | None = None) -> tuple[int, int]:
    """Where the run's checkpoint is: (epochs completed, steps done in the next one);
    (0, 0) without a checkpoint. With ``steps_per_epoch``, a checkpoint after the last
    step of an epoch counts as that epoch completed.

    BackupAndRestore stores the epoch it was in and the index of its last batch; bnno's
    ``GoodStateBackup`` stores -1 as the batch after an epoch is completed (checkpoints
    written before it store the last batch's index, which ``steps_per_epoch`` reads).

    Example:
        >>> import tempfile
        >>> checkpoint_position(Path(tempfile.mkdtemp()))
        (0, 0)
    """
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(Path(path) / BACKUP_DIR / "chief"))
    if latest is None:
        return 0, 0
    epoch = int(tf.train.load_variable(latest, "ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE"))
    batch = int(tf.train.load_variable(latest, "ckpt_saved_batch/.ATTRIBUTES/VARIABLE_VALUE"))
    if batch < 0 or (steps_per_epoch and batch + 1 >= steps_per_epoch):
        return epoch + 1, 0
    return epoch, batch + 1


def checkpointed_epochs(path: Path) -> int | None:
    """Epochs completed according to the run's checkpoint, read without TensorFlow: the
    number in the name of the latest checkpoint (Keras' ``BackupAndRestore`` saves once
    per epoch, numbering its saves); 0 without a checkpoint, None when the checkpoint's
    record is damaged or names a checkpoint that is not there.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> checkpointed_epochs(path)
        0
        >>> (path / BACKUP_DIR / "chief").mkdir(parents=True)
        >>> _ = (path / BACKUP_DIR / "chief" / "checkpoint").write_text(
        ...     'model_checkpoint_path: "ckpt-3"\\n')
        >>> checkpointed_epochs(path) is None  # ckpt-3.index is missing
        True
    """
    import re

    folder = Path(path) / BACKUP_DIR / "chief"
    try:
        text = (folder / "checkpoint").read_text(encoding="utf-8")
    except FileNotFoundError:
        return 0
    except (OSError, UnicodeDecodeError):
        return None
    found = re.search(r'^model_checkpoint_path: "ckpt-(\d+)"', text, re.M)
    if not found or not (folder / f"ckpt-{found.group(1)}.index").is_file():
        return None
    try:
        sizes = json.loads((folder / CHECKPOINT_FILES).read_text(encoding="utf-8"))
    except FileNotFoundError:
        sizes = {}  # written before bnno kept the sizes
    except (OSError, ValueError):
        return None
    for name, size in sizes.items():
        file = folder / name
        if name.startswith(f"ckpt-{found.group(1)}.") and (
                not file.is_file() or file.stat().st_size != size):
            return None
    done = sizes.get(EPOCHS_DONE)  # saves inside epochs make the number count saves
    return done if isinstance(done, int) else int(found.group(1))


def note_checkpoint_files(path: Path, epochs_done: int | None = None,
                          steps_done: int = 0) -> None:
    """Write the sizes of the latest checkpoint's files beside it (``CHECKPOINT_FILES``,
    replaced in one step), after a checkpoint was saved, with the epochs it completed and
    the steps done in the next (``EPOCHS_DONE``, ``STEPS_DONE``) when given.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> note_checkpoint_files(path)  # no checkpoint: nothing to note
        >>> (path / BACKUP_DIR).exists()
        False
    """
    folder = Path(path) / BACKUP_DIR / "chief"
    if not (folder / "checkpoint").is_file():
        return
    sizes: dict[str, int] = {f.name: f.stat().st_size for f in folder.glob("ckpt-*")}
    if epochs_done is not None:
        sizes.update({EPOCHS_DONE: epochs_done, STEPS_DONE: steps_done})
    atomic.write_text(folder / CHECKPOINT_FILES, json.dumps(sizes))


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


def read_rows(path: str | Path) -> list[dict]:
    """The JSON rows of a log of one object per line (``metrics.jsonl``, ``flips.jsonl``);
    a line that cannot be read (cut short by a kill during an append) is left out.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "flips.jsonl"
        >>> _ = path.write_text('{"epoch": 1}\\n{"epo')
        >>> read_rows(path)
        [{'epoch': 1}]
    """
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except OSError:  # no log yet, or one that cannot be read
        return []
    rows = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("epoch"), int):
            rows.append(row)
    return rows

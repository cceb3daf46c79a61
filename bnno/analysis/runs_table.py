"""``bnno runs``: what every run under a folder is, how far it got, and how well it did.

A folder with a ``run.json`` is a run; other folders are searched for runs (a sweep's
runs sit one level down). A folder that holds a run's files but whose ``run.json`` is
missing or corrupt is listed as unreadable; no folder makes the listing fail.

Example:
    The runs under ``runs/``, as a table and as the rows ``--json`` prints::

        print(format_table(scan("runs")))
        rows = scan("runs")  # [{"run": "binarynet-cifar10-bop-...", "status": ...}, ...]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bnno import locks, runs
from bnno.errors import BnnoError

# Folders below the given one that are searched for runs.
MAX_DEPTH = 3

# Files that only a run directory holds: a folder with any of them is a run.
_RUN_MARKS = (runs.RUN_FILE, runs.METRICS_FILE, runs.BACKUP_DIR)

COLUMNS = ("run", "model", "dataset", "set", "epochs", "best val acc", "last val acc",
           "status")


def scan(root: str | Path) -> list[dict[str, Any]]:
    """One row per run under ``root`` (or for ``root`` itself if it is a run), sorted by
    path: ``run`` (the path below ``root``), ``model``, ``dataset``, ``hparams_set``,
    ``epochs_done``, ``epochs``, ``best_val_accuracy``, ``best_epoch``,
    ``last_val_accuracy`` and ``status``: ``running`` (a live process holds its lock,
    ``bnno.locks``), ``finished``, ``interrupted`` (killed or preempted: the same command
    resumes it), ``stopped by NaN`` or ``unreadable: <why>``. Values a run does not have
    yet are None.

    Raises:
        BnnoError: ``root`` is not a folder.

    Example:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> (root / "broken").mkdir()
        >>> _ = (root / "broken" / "run.json").write_text("{not json")
        >>> [(row["run"], row["status"]) for row in scan(root)]
        [('broken', 'unreadable: corrupt run.json')]
    """
    root = Path(root)
    if not root.is_dir():
        raise BnnoError(f"{root} is not a folder; give the folder that holds your runs "
                        "(default: runs)")
    found = [_row(path, root) for path in _run_dirs(root, 0)]
    return sorted(found, key=lambda row: row["run"])


def _run_dirs(folder: Path, depth: int) -> list[Path]:
    if any((folder / mark).exists() for mark in _RUN_MARKS):
        return [folder]
    if depth >= MAX_DEPTH:
        return []
    try:
        children = sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:
        return []
    return [run for child in children for run in _run_dirs(child, depth + 1)]


def _row(path: Path, root: Path) -> dict[str, Any]:
    name = path.relative_to(root).as_posix() if path != root else path.name or str(path)
    row: dict[str, Any] = {"run": name, "model": None, "dataset": None, "hparams_set": None,
                           "epochs_done": None, "epochs": None, "best_val_accuracy": None,
                           "best_epoch": None, "last_val_accuracy": None}
    try:
        about = _read_summary(path)
    except _Unreadable as e:
        return {**row, "status": f"unreadable: {e}"}
    row.update(about)
    done = runs.checkpointed_epochs(path)
    # A checkpoint index is only written after an epoch: with no epoch found it is damaged.
    if done is None or (done == 0 and runs.has_checkpoint(path)):
        return {**row, "status": "unreadable: corrupt checkpoint"}
    metrics = _read_metrics(path, done)
    row["epochs_done"] = done
    vals = [(r["epoch"], r["val_accuracy"]) for r in metrics
            if isinstance(r.get("val_accuracy"), float | int)]
    if vals:
        row["last_val_accuracy"] = vals[-1][1]
    best = runs.read_best(runs.best_weights_file(path, about["model"]))
    if best is None and vals:  # runs from before best weights were kept
        epoch, value = max(vals, key=lambda v: (v[1], -v[0]))
        best = {"epoch": epoch, "val_accuracy": value}
    if best is not None:
        row["best_val_accuracy"], row["best_epoch"] = best["val_accuracy"], best["epoch"]
    row["status"] = _status(path, about, done)
    return row


class _Unreadable(Exception):
    """A folder that looks like a run but cannot be read as one; the message says why."""


def _read_summary(path: Path) -> dict[str, Any]:
    """``model``, ``dataset``, ``hparams_set`` and ``epochs`` of the run.json in ``path``
    (of any version, ``bnno.runs.summary``)."""
    file = path / runs.RUN_FILE
    if not file.exists():
        raise _Unreadable(f"no {runs.RUN_FILE}")
    try:
        with open(file, encoding="utf-8") as f:
            spec = json.load(f)
    except OSError as e:
        raise _Unreadable(f"cannot read {runs.RUN_FILE} ({e.strerror})") from None
    except ValueError:
        raise _Unreadable(f"corrupt {runs.RUN_FILE}") from None
    try:
        return runs.summary(spec)
    except (KeyError, TypeError, AttributeError):
        raise _Unreadable(f"corrupt {runs.RUN_FILE} (keys missing)") from None


def _read_metrics(path: Path, done: int) -> list[dict[str, Any]]:
    """The rows of the epochs the checkpoint holds: unreadable lines are skipped (a line
    cut short by a kill), and so are rows of an epoch whose checkpoint was not written."""
    return [row for row in runs.read_rows(path / runs.METRICS_FILE) if row["epoch"] <= done]


def _status(path: Path, about: dict[str, Any], done: int) -> str:
    if locks.state(path) == "running":
        return "running"
    if runs.read_stopped(path) is not None:
        return "stopped by NaN"
    total = about["epochs"]
    finished = runs.weights_file(path, about["model"]).is_file()
    if finished and (not isinstance(total, int) or done >= total):
        return "finished"
    return "interrupted"


def _percent(value: float | None, epoch: int | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" + (f" (ep {epoch})" if epoch is not None else "")


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows of ``scan`` as an aligned text table, or a sentence when there are none.

    Example:
        >>> print(format_table([{"run": "a", "model": "binarynet", "dataset": "mnist",
        ...     "hparams_set": "bop", "epochs_done": 2, "epochs": 4,
        ...     "best_val_accuracy": 0.5, "best_epoch": 1, "last_val_accuracy": 0.25,
        ...     "status": "interrupted"}]))
        run  model      dataset  set  epochs  best val acc   last val acc  status
        a    binarynet  mnist    bop  2/4     50.00% (ep 1)  25.00%        interrupted
    """
    if not rows:
        return "No runs found."
    cells = [COLUMNS]
    for row in rows:
        epochs = ("-" if row["epochs_done"] is None
                  else f"{row['epochs_done']}/{row['epochs'] if row['epochs'] else '?'}")
        cells.append((row["run"], row["model"] or "-", row["dataset"] or "-",
                      row["hparams_set"] or "-", epochs,
                      _percent(row["best_val_accuracy"], row["best_epoch"]),
                      _percent(row["last_val_accuracy"]), row["status"]))
    widths = [max(len(str(line[i])) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True))
        .rstrip() for line in cells)

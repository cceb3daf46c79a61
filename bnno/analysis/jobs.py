"""What sweeps and comparisons share: training a list of planned runs under one directory
(skipping finished ones, resuming a partial one), its JSON record, and the summary row
and Markdown table of each run.

Example:
    >>> print(markdown_table([{"run": "gamma=1e-3", "epochs": 2, "status": "finished"}],
    ...                      [("run", "run"), ("epochs", "epochs"), ("status", "status")]))
    | run | epochs | status |
    |---|---:|---|
    | gamma=1e-3 | 2 | finished |
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from bnno import atomic, data, runs
from bnno.analysis.plots import last_layer_key
from bnno.config import RunConfig
from bnno.errors import BnnoError
from bnno.training.train import TrainOptions


@dataclass(frozen=True)
class Runner:
    """How the runs of a sweep or a comparison train: where their data is
    (``bnno.data.Source``) and what they log (``bnno.training.train.TrainOptions``,
    default: TensorBoard logs and the progress output that suits the terminal).

    Example:
        >>> Runner().source.data_dir is None
        True
    """

    source: data.Source = field(default_factory=data.Source)
    options: TrainOptions | None = None


class Job(NamedTuple):
    """One run: its directory name (under the sweep or comparison directory), its label
    in progress lines, and its planned config."""

    name: str
    label: str
    config: RunConfig


def train_runs(path: Path, jobs: list[Job], runner: Runner,
               write: Callable[[Path], Any]) -> None:
    """Train ``jobs`` one after another under ``path``, skipping finished runs and
    resuming a partial one; ``write(path)`` after each run updates the summary. A run
    that stops on a NaN loss is reported and the others go on.

    Example:
        ``bnno.analysis.sweep.sweep`` and ``bnno.analysis.compare.compare`` call it with
        their planned jobs::

            train_runs(path, [Job("bop", "bop", plan("binarynet", "cifar10", "bop"))],
                       Runner(), write_summary)
    """
    from bnno.training import memory
    from bnno.training.train import TrainingStopped, train

    for i, job in enumerate(jobs, 1):
        run_dir = path / job.name
        if _finished(run_dir, job.config):
            print(f"[{i}/{len(jobs)}] {job.label}: finished, skipped")
            continue
        print(f"[{i}/{len(jobs)}] {job.label}")
        # A fresh Keras session per run: layer names (and so the flip_ratio/<layer> keys)
        # are the same in every run, and the previous run's graphs are freed.
        memory.clear_session()
        try:
            train(job.config, run_dir, runner.source, runner.options)
        except TrainingStopped as e:
            print(f"[{i}/{len(jobs)}] {job.label}: {e}")
        write(path)  # after every run, so a long sweep can be followed
    write(path)


def _finished(run_dir: Path, config: RunConfig) -> bool:
    if not runs.weights_file(run_dir, config.model.name).exists():
        return False
    return runs.completed_epochs(run_dir) >= config.trainer.epochs


def text(values: Mapping[str, Any] | str | None) -> str:
    """Overrides as people read them: ``key=value,...`` (a record written before typed
    configs holds that text already).

    Example:
        >>> text({"gamma": "1e-3", "epochs": 5}), text("gamma=1e-3"), text(None)
        ('gamma=1e-3,epochs=5', 'gamma=1e-3', '')
    """
    if isinstance(values, str):
        return values
    return ",".join(f"{k}={v}" for k, v in (values or {}).items())


def read_record(path: Path, name: str) -> dict[str, Any]:
    """The JSON record ``name`` of the directory ``path`` (a sweep's ``sweep.json``, a
    comparison's ``compare.json``); empty for a new or empty directory.

    Raises:
        BnnoError: ``path`` is a file, holds other things but no record, or the record is
            corrupt.

    Example:
        >>> import tempfile
        >>> read_record(Path(tempfile.mkdtemp()) / "new", "sweep.json")
        {}
    """
    if path.exists() and not path.is_dir():
        raise BnnoError(f"--output-dir {path} is a file; give a directory")
    file = path / name
    if not file.exists():
        if path.exists() and any(path.iterdir()):
            raise BnnoError(f"{path} is not empty and holds no {name}; "
                            "give a new or empty --output-dir")
        return {}
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BnnoError(f"{file} is corrupt ({e}); use another --output-dir") from None


def write_json(file: Path, values: dict) -> None:
    """Write ``values`` to ``file`` at once (a reader never sees half a file).

    Raises:
        BnnoError: the directory cannot be written.

    Example:
        >>> import tempfile
        >>> file = Path(tempfile.mkdtemp()) / "sweep" / "sweep.json"
        >>> write_json(file, {"model": "binarynet"})
        >>> file.read_text()
        '{\\n  "model": "binarynet"\\n}'
    """
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BnnoError(f"cannot write the directory {file.parent}: {e.strerror}") from None
    atomic.write_text(file, json.dumps(values, indent=2))


def run_row(run_dir: Path) -> dict[str, Any]:
    """The summary of one run: ``epochs`` (done), ``val_accuracy_final``,
    ``val_accuracy_best``, ``best_epoch``, ``flip_ratio_final``,
    ``flip_pi_last_layer_final``, ``train_seconds``, ``epoch_seconds`` (the median
    epoch, so the first epoch's graph tracing does not count) and ``status``.

    Example:
        >>> import tempfile
        >>> run_row(Path(tempfile.mkdtemp()))
        {'epochs': 0, 'status': 'not started'}
    """
    metrics = runs.read_metrics(run_dir)
    row: dict[str, Any] = {"epochs": len(metrics)}
    if metrics:
        acc = [m.get("val_accuracy", float("nan")) for m in metrics]
        best = max(range(len(acc)), key=lambda i: acc[i])
        last = metrics[-1]
        pi_key = last_layer_key(last)
        row.update({
            "val_accuracy_final": acc[-1],
            "val_accuracy_best": acc[best],
            "best_epoch": best + 1,
            "flip_ratio_final": last.get("flip_ratio_all"),
            "flip_pi_last_layer_final": last.get(pi_key) if pi_key else None,
            "train_seconds": sum(m.get("seconds", 0.0) for m in metrics),
            "epoch_seconds": statistics.median(m.get("seconds", 0.0) for m in metrics),
        })
    try:
        about = runs.summary(runs.read(run_dir))
    except (BnnoError, KeyError, TypeError):
        about = None
    if about is None or about["epochs"] is None:
        row["status"] = "not started"
    elif runs.weights_file(run_dir, about["model"]).exists():
        row["status"] = "finished"
    else:
        row["status"] = f"partial ({len(metrics)}/{about['epochs']} epochs)"
    return row


_TEXT = ("run", "status", "model", "set", "source", "binarizer", "dataset", "config")
# A text cell printed to a terminal is cut to this many characters.
CELL = 32


def markdown_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    """The summary rows as a Markdown table of ``columns`` (key, title).

    Example:
        >>> print(markdown_table([{"val_accuracy_best": 0.5}], [("val_accuracy_best", "best")]))
        | best |
        |---:|
        | 0.5000 |
    """
    head = "| " + " | ".join(title for _, title in columns) + " |"
    align = "|" + "|".join("---" if k in _TEXT else "---:" for k, _ in columns) + "|"
    lines = [head, align]
    for row in rows:
        cells = [_fmt(k, row.get(k)).replace("|", "\\|") for k, _ in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fit_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]],
              width: int | None = None, full: str = "") -> str:
    """The rows as a Markdown table that fits a terminal ``width`` characters wide
    (default: the terminal's, ``shutil.get_terminal_size``): text cells cut to ``CELL``
    characters, then as many of ``columns`` as fit, in their order; a last line names
    the columns left out and where to find them (``full``, e.g. ``summary.md``).

    Example:
        >>> rows = [{"run": "gamma=1e-3", "epochs": 2, "status": "finished"}]
        >>> columns = [("run", "run"), ("epochs", "epochs"), ("status", "status")]
        >>> print(fit_table(rows, columns, width=24, full="summary.md"))
        | run | epochs |
        |---|---:|
        | gamma=1e-3 | 2 |
        (not shown: status; see summary.md)
    """
    import shutil

    width = width or shutil.get_terminal_size().columns
    cut = [{k: _cut(v) if k in _TEXT else v for k, v in row.items()} for row in rows]
    shown = columns[:1]
    for column in columns[1:]:
        lines = markdown_table(cut, [*shown, column]).splitlines()
        if max(len(line) for line in lines) > width:
            break
        shown.append(column)
    left = [title for _, title in columns[len(shown):]]
    note = f"\n(not shown: {', '.join(left)}{'; see ' + full if full else ''})" if left else ""
    return markdown_table(cut, shown) + note


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > CELL:
        return value[:CELL - 1] + "…"
    return value


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key.startswith("val_accuracy"):
        return f"{value:.4f}"
    if key == "flip_ratio_final":
        return f"{value:.2e}"
    if key == "flip_pi_last_layer_final":
        return f"{value:.2f}"
    if key == "train_seconds":
        return f"{value:.0f}"
    if key == "epoch_seconds":
        return f"{value:.1f}"
    return str(value)

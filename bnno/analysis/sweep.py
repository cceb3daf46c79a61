"""Hyperparameter sweeps: a grid (or a list) of configurations of one model, dataset and
hparam set, trained one after another as separate runs under one sweep directory.

A sweep directory holds::

    sweep.json                what was asked: model, dataset, set, configurations, seed
    <key=value_key=value>/    one bnno run directory per configuration
    summary.csv, summary.md   final and best validation accuracy, flips, time per run
    curves.png                validation accuracy and π against epochs, one curve per run

Running the same sweep again skips finished runs and resumes a partial one; every run
uses the sweep's seed, so configurations differ only in their hparams.

Example:
    Three values of Bop's γ, 20 epochs each, then the best validation accuracy of each
    run (e.g. ``[0.71, 0.78, 0.64]``)::

        path = sweep("binarynet", "cifar10", "bop",
                     grid=["gamma=1e-2,1e-3,1e-4", "threshold=1e-6"],
                     overrides="epochs=20")
        [row["val_accuracy_best"] for row in summarize(path)]
"""

from __future__ import annotations

import csv
import itertools
import json
import random
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from bnno import hparams, models
from bnno.analysis.plots import last_layer_key  # also bnno.analysis.sweep.last_layer_key, as before
from bnno.errors import BnnoError
from bnno.training import runs

SWEEP_FILE = "sweep.json"
SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
FIGURE = "curves.png"


def parse_grid(items: list[str] | tuple[str, ...]) -> list[tuple[str, list[str]]]:
    """``["gamma=1e-2,1e-3", "threshold=0"]`` -> ``[("gamma", ["1e-2", "1e-3"]), ...]``.

    Raises:
        BnnoError: an item is not ``key=v1,v2,...``, or a key appears twice.

    Example:
        >>> parse_grid(["gamma=1e-2,1e-3", "threshold=0"])
        [('gamma', ['1e-2', '1e-3']), ('threshold', ['0'])]
    """
    axes: list[tuple[str, list[str]]] = []
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key or not vals:
            raise BnnoError(f"--grid item '{item}' is not of the form key=value1,value2,...")
        if key in (k for k, _ in axes):
            raise BnnoError(f"--grid names '{key}' twice; give all its values in one --grid")
        axes.append((key, vals))
    return axes


def configurations(grid: list[str] | tuple[str, ...] = (),
                   configs: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The override strings of every run: the grid's product, then the listed ones.

    Example:
        >>> configurations(["gamma=1e-2,1e-3", "threshold=0,1e-6"])
        ['gamma=1e-2,threshold=0', 'gamma=1e-2,threshold=1e-6', \
'gamma=1e-3,threshold=0', 'gamma=1e-3,threshold=1e-6']
        >>> configurations(configs=["gamma=1e-2,threshold=1e-6"])
        ['gamma=1e-2,threshold=1e-6']
    """
    axes = parse_grid(grid)
    found = []
    if axes:
        keys = [k for k, _ in axes]
        for values in itertools.product(*(v for _, v in axes)):
            found.append(",".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)))
    for config in configs:
        pairs = hparams.parse_overrides(config)
        if not pairs:
            raise BnnoError(f"--config '{config}' sets nothing; give key=value,...")
        found.append(",".join(f"{k}={v}" for k, v in pairs))
    if not found:
        raise BnnoError("a sweep needs configurations: give --grid KEY=V1,V2,... or --config")
    if len(set(found)) < len(found):
        raise BnnoError("the sweep lists the same configuration twice")
    return found


def run_name(config: str) -> str:
    """Directory name of a configuration's run.

    Example:
        >>> run_name("gamma=1e-2,threshold=0")
        'gamma=1e-2_threshold=0'
    """
    return "_".join(f"{k}={v}" for k, v in hparams.parse_overrides(config)).replace("/", "-")


def default_dir(model: str, dataset: str, hparams_set: str, root: str = "sweeps") -> Path:
    """A fresh ``sweeps/<model>-<dataset>-<set>-<time>`` directory name.

    Example:
        >>> path = default_dir("binarynet", "cifar10", "bop", root="sweeps")
        >>> path.parent, path.name.startswith("binarynet-cifar10-bop-2")
        (PosixPath('sweeps'), True)
    """
    spec = {"model": model, "dataset": dataset, "hparams_set": hparams_set}
    return runs.default_dir(spec, root)


def sweep(
    model: str,
    dataset: str,
    hparams_set: str | None = None,
    grid: list[str] | tuple[str, ...] = (),
    configs: list[str] | tuple[str, ...] = (),
    overrides: str | None = None,
    preprocess_fn: str | None = None,
    output_dir: str | Path | None = None,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    seed: int | None = None,
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    tensorboard: bool = True,
    verbose: int | None = None,
) -> Path:
    """Train every configuration as its own run, then write the summary and the figure.

    ``overrides`` apply to every run; a configuration's own values win over them. Every
    configuration is checked before the first run starts. A run that stops on a NaN loss
    is reported in the summary and the sweep goes on.

    Returns:
        The sweep directory.

    Raises:
        BnnoError: bad names or values in any configuration, or an unusable directory.

    Example:
        One listed configuration, 5 epochs; the sweep directory is returned, e.g.
        ``PosixPath('sweeps/binarynet-cifar10-bop-20261122-080000')``::

            path = sweep("binarynet", "cifar10", "bop", configs=["gamma=1e-3,threshold=0"],
                         overrides="epochs=5")
    """
    from bnno.training.train import plan

    found = configurations(grid, configs)
    base = overrides or ""
    # Resolve the set name (default: the model's first) once, so the sweep directory and
    # its record name it as every run's run.json does.
    hparams_set = plan(model, dataset, hparams_set, base, preprocess_fn)["hparams_set"]
    for config in found:  # every name and value checked before anything is trained
        plan(model, dataset, hparams_set, _join(base, config), preprocess_fn, seed,
             steps_per_epoch, validation_steps)
    path = Path(output_dir) if output_dir else default_dir(model, dataset, hparams_set)
    old = _read(path)
    if seed is None:
        seed = old.get("seed", random.randrange(2**31))
    spec = {
        "model": model, "dataset": dataset, "hparams_set": hparams_set,
        "overrides": base, "preprocess_fn": preprocess_fn, "seed": seed,
        "steps_per_epoch": steps_per_epoch, "validation_steps": validation_steps,
        "runs": [{"name": run_name(c), "config": c} for c in found],
    }
    write_json(path / SWEEP_FILE, spec)

    jobs = [Job(run_name(c), c, model, hparams_set, _join(base, c)) for c in found]
    train_runs(path, jobs, dataset, preprocess_fn, data_dir, manual_dir, seed,
               steps_per_epoch, validation_steps, tensorboard, verbose, write_summary)
    return path


class Job(NamedTuple):
    """One run of a sweep or a comparison: its directory name (under the sweep
    directory), its label in progress lines, and what it trains."""

    name: str
    label: str
    model: str
    hparams_set: str
    overrides: str


def train_runs(path: Path, jobs: list[Job], dataset: str, preprocess_fn: str | None,
               data_dir: str | None, manual_dir: str | None, seed: int,
               steps_per_epoch: int | None, validation_steps: int | None,
               tensorboard: bool, verbose: int | None,
               write: Callable[[Path], Any]) -> None:
    """Train ``jobs`` one after another under ``path``, skipping finished runs and
    resuming a partial one; ``write(path)`` after each run updates the summary.

    Example:
        ``sweep`` and ``bnno.analysis.compare.compare`` call it with their jobs, e.g.::

            train_runs(path, [Job("bop", "bop", "binarynet", "bop", "epochs=5")],
                       "cifar10", None, None, None, 7, None, None, True, None,
                       write_summary)
    """
    import tensorflow as tf

    from bnno.training.train import TrainingStopped, plan, train

    for i, job in enumerate(jobs, 1):
        run_dir = path / job.name
        epochs = plan(job.model, dataset, job.hparams_set, job.overrides)["hparams"]["epochs"]
        if _finished(run_dir, job.model, epochs):
            print(f"[{i}/{len(jobs)}] {job.label}: finished, skipped")
            continue
        print(f"[{i}/{len(jobs)}] {job.label}")
        # A fresh Keras session per run: layer names (and so the flip_ratio/<layer> keys)
        # are the same in every run, and the previous run's graphs are freed.
        tf.keras.backend.clear_session()
        try:
            train(job.model, dataset, job.hparams_set, job.overrides, preprocess_fn, run_dir,
                  data_dir, manual_dir, seed, steps_per_epoch, validation_steps,
                  tensorboard, verbose)
        except TrainingStopped as e:
            print(f"[{i}/{len(jobs)}] {job.label}: {e}")
        write(path)  # after every run, so a long sweep can be followed
    write(path)


def _join(base: str, config: str) -> str:
    return ",".join(p for p in (base, config) if p)


def _finished(run_dir: Path, model: str, epochs: int) -> bool:
    if not runs.weights_file(run_dir, models.canonical(model)).exists():
        return False
    return runs.completed_epochs(run_dir) >= epochs


def _read(path: Path) -> dict[str, Any]:
    return read_record(path, SWEEP_FILE)


def read_record(path: Path, name: str) -> dict[str, Any]:
    """The JSON record ``name`` of the directory ``path`` (a sweep's ``sweep.json``, a
    comparison's ``compare.json``); empty for a new or empty directory.

    Raises:
        BnnoError: ``path`` is a file, holds other things but no record, or the record is
            corrupt.

    Example:
        >>> import tempfile
        >>> read_record(Path(tempfile.mkdtemp()) / "new", SWEEP_FILE)
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


def write_json(file: Path, data: dict) -> None:
    """Write ``data`` to ``file`` at once (a reader never sees half a file).

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
        tmp = file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        tmp.replace(file)
    except OSError as e:
        raise BnnoError(f"cannot write the sweep directory {file.parent}: {e.strerror}") \
            from None


def summarize(path: str | Path) -> list[dict[str, Any]]:
    """One summary row per configuration of the sweep in ``path``.

    Keys: ``run``, ``config``, ``epochs`` (done), ``val_accuracy_final``,
    ``val_accuracy_best``, ``best_epoch``, ``flip_ratio_final`` (all binary weights,
    last epoch), ``flip_pi_last_layer_final``, ``train_seconds`` (wall time of all
    epochs, validation included, summed over resumes) and ``status``.

    Example:
        A sweep of one run of 3 epochs that has finished its first:

        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> write_json(path / SWEEP_FILE, {"model": "binarynet", "runs": [
        ...     {"name": "gamma=1e-3", "config": "gamma=1e-3"}]})
        >>> write_json(path / "gamma=1e-3" / runs.RUN_FILE, {
        ...     "model": "binarynet", "dataset": "cifar10", "hparams": {"epochs": 3}})
        >>> row = {"epoch": 1, "val_accuracy": 0.5, "flip_ratio_all": 0.01,
        ...        "flip_pi/conv": -4.5, "flip_pi/dense": -6.0, "seconds": 3.0}
        >>> with open(path / "gamma=1e-3" / runs.METRICS_FILE, "w") as f:
        ...     print(json.dumps(row), file=f)
        >>> summarize(path)  # doctest: +NORMALIZE_WHITESPACE
        [{'run': 'gamma=1e-3', 'config': 'gamma=1e-3', 'epochs': 1,
          'val_accuracy_final': 0.5, 'val_accuracy_best': 0.5, 'best_epoch': 1,
          'flip_ratio_final': 0.01, 'flip_pi_last_layer_final': -6.0,
          'train_seconds': 3.0, 'epoch_seconds': 3.0, 'status': 'partial (1/3 epochs)'}]
    """
    path = Path(path)
    spec = _read(path)
    if not spec:
        raise BnnoError(f"{path} is not a sweep directory (it has no {SWEEP_FILE})")
    return [{"run": entry["name"], "config": entry["config"],
             **run_row(path / entry["name"], spec["model"])} for entry in spec["runs"]]


def run_row(run_dir: Path, model: str) -> dict[str, Any]:
    """The summary of one run of ``model`` (a name or an alias): ``epochs`` (done),
    ``val_accuracy_final``, ``val_accuracy_best``, ``best_epoch``, ``flip_ratio_final``,
    ``flip_pi_last_layer_final``, ``train_seconds``, ``epoch_seconds`` (the median
    epoch, so the first epoch's graph tracing does not count) and ``status``.

    Example:
        >>> import tempfile
        >>> run_row(Path(tempfile.mkdtemp()), "binarynet")
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
        spec_epochs = runs.read(run_dir)["hparams"]["epochs"]
    except BnnoError:
        spec_epochs = None
    if spec_epochs is None:
        row["status"] = "not started"
    elif runs.weights_file(run_dir, models.canonical(model)).exists():
        row["status"] = "finished"
    else:
        row["status"] = f"partial ({len(metrics)}/{spec_epochs} epochs)"
    return row


_COLUMNS = [
    ("run", "run"), ("epochs", "epochs"), ("val_accuracy_final", "final val acc"),
    ("val_accuracy_best", "best val acc"), ("best_epoch", "best epoch"),
    ("flip_ratio_final", "final flip ratio (all)"),
    ("flip_pi_last_layer_final", "final π (last layer)"),
    ("train_seconds", "wall time (s)"), ("status", "status"),
]


_TEXT = ("run", "status", "model", "set", "source")  # left-aligned columns


def markdown_table(rows: list[dict[str, Any]],
                   columns: list[tuple[str, str]] | None = None) -> str:
    """The summary rows as a Markdown table of ``columns`` (key, title); by default a
    sweep's.

    Example:
        >>> print(markdown_table([{"run": "gamma=1e-3", "epochs": 2, "status": "finished"}]))
        | run | epochs | final val acc | best val acc | best epoch | final flip ratio (all) \
| final π (last layer) | wall time (s) | status |
        |---|---:|---:|---:|---:|---:|---:|---:|---|
        | gamma=1e-3 | 2 |  |  |  |  |  |  | finished |
    """
    columns = columns or _COLUMNS
    head = "| " + " | ".join(title for _, title in columns) + " |"
    align = "|" + "|".join("---" if k in _TEXT else "---:" for k, _ in columns) + "|"
    lines = [head, align]
    for row in rows:
        cells = [_fmt(k, row.get(k)).replace("|", "\\|") for k, _ in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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


def write_summary(path: str | Path) -> list[dict[str, Any]]:
    """Write ``summary.csv``, ``summary.md`` and ``curves.png`` of a sweep; return the rows.

    Example:
        Rewrite the summary of a sweep, e.g. after adding runs to it by hand::

            rows = write_summary("sweeps/binarynet-cifar10-bop-20261122-080000")
    """
    from bnno.analysis import plots

    path = Path(path)
    rows = summarize(path)
    keys = [k for k, _ in _COLUMNS] + ["config"]
    with open(path / SUMMARY_CSV, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    spec = _read(path)
    title = (f"{spec['model']} on {spec['dataset']}, set '{spec['hparams_set']}'"
             + (f" ({spec['overrides']})" if spec["overrides"] else ""))
    (path / SUMMARY_MD).write_text(f"# Sweep: {title}\n\n{markdown_table(rows)}\n",
                                   encoding="utf-8")
    curves = {r["config"]: runs.read_metrics(path / r["run"]) for r in rows}
    plots.sweep_figure({k: v for k, v in curves.items() if v}, path / FIGURE, title)
    return rows

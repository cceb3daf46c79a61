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

        found = configurations({"gamma": ["1e-2", "1e-3", "1e-4"], "threshold": ["1e-6"]})
        path = sweep("binarynet", "cifar10", "bop", found, shared={"epochs": 20})
        [row["val_accuracy_best"] for row in summarize(path)]
"""

from __future__ import annotations

import csv
import itertools
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bnno import runs
from bnno.analysis.jobs import (
    Job,
    Runner,
    fit_table,
    markdown_table,
    read_record,
    run_row,
    text,
    train_runs,
    write_json,
)
from bnno.analysis.plots import last_layer_key  # noqa: F401  (as callers have used it)
from bnno.config import plan
from bnno.errors import BnnoError

SWEEP_FILE = "sweep.json"
SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
FIGURE = "curves.png"


def configurations(grid: Mapping[str, Sequence[Any]] | None = None,
                   configs: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """The overrides of every run: the grid's product (its keys in order), then the
    listed ones.

    Raises:
        BnnoError: no configuration, an empty one or a key without values, or the same
            configuration twice.

    Example:
        >>> configurations({"gamma": ["1e-2", "1e-3"], "threshold": ["0", "1e-6"]})[:2]
        [{'gamma': '1e-2', 'threshold': '0'}, {'gamma': '1e-2', 'threshold': '1e-6'}]
        >>> configurations(configs=[{"gamma": "1e-2", "threshold": "1e-6"}])
        [{'gamma': '1e-2', 'threshold': '1e-6'}]
    """
    grid = dict(grid or {})
    for key, values in grid.items():
        if not values:
            raise BnnoError(f"--grid {key} has no values; give {key}=value1,value2,...")
    found = [dict(zip(grid, values, strict=True))
             for values in itertools.product(*grid.values())] if grid else []
    for config in configs:
        if not config:
            raise BnnoError("a --config sets nothing; give key=value,...")
        found.append(dict(config))
    if not found:
        raise BnnoError("a sweep needs configurations: give --grid KEY=V1,V2,... or --config")
    if len({text(c) for c in found}) < len(found):
        raise BnnoError("the sweep lists the same configuration twice")
    return found


def run_name(config: Mapping[str, Any] | str) -> str:
    """Directory name of a configuration's run.

    Example:
        >>> run_name({"gamma": "1e-2", "threshold": 0})
        'gamma=1e-2_threshold=0'
    """
    return text(config).replace(",", "_").replace("/", "-")


def default_dir(model: str, dataset: str, hparams_set: str, root: str = "sweeps") -> Path:
    """A fresh ``sweeps/<model>-<dataset>-<set>-<time>`` directory name.

    Example:
        >>> path = default_dir("binarynet", "cifar10", "bop", root="sweeps")
        >>> path.parent, path.name.startswith("binarynet-cifar10-bop-2")
        (PosixPath('sweeps'), True)
    """
    return runs.default_dir(model, dataset, hparams_set, root)


def sweep(model: str, dataset: str, hparams_set: str | None = None,
          configs: Sequence[Mapping[str, Any]] = (), shared: Mapping[str, Any] | None = None,
          output_dir: str | Path | None = None, seed: int | None = None,
          runner: Runner | None = None) -> Path:
    """Train every configuration of ``configs`` (``configurations``) as its own run, then
    write the summary and the figure.

    ``shared`` overrides apply to every run (epochs, steps per epoch, a preprocessing);
    a configuration's own values win over them. Every configuration is planned before
    the first run starts. A run that stops on a NaN loss is reported in the summary and
    the sweep goes on. ``runner`` says where the data is and what the runs log.

    Returns:
        The sweep directory.

    Raises:
        BnnoError: bad names or values in any configuration, or an unusable directory.

    Example:
        One listed configuration, 5 epochs; the sweep directory is returned, e.g.
        ``PosixPath('sweeps/binarynet-cifar10-bop-20261122-080000')``::

            path = sweep("binarynet", "cifar10", "bop", [{"gamma": 1e-3, "threshold": 0}],
                         shared={"epochs": 5})
    """
    shared = dict(shared or {})
    configs = [dict(c) for c in configs] or configurations()
    # The set's name (default: the model's first) as every run's run.json has it.
    hparams_set = plan(model, dataset, hparams_set, shared).hparams_set
    path = Path(output_dir) if output_dir else default_dir(model, dataset, hparams_set)
    old = read_record(path, SWEEP_FILE)
    if seed is None:
        seed = old.get("seed", random.randrange(2**31))
    # Every name and value is checked before anything is trained.
    jobs = [Job(run_name(c), text(c), plan(model, dataset, hparams_set, {**shared, **c},
                                           seed=seed)) for c in configs]
    write_json(path / SWEEP_FILE, {
        "model": model, "dataset": dataset, "hparams_set": hparams_set, "shared": shared,
        "seed": seed, "runs": [{"name": job.name, "config": c}
                               for job, c in zip(jobs, configs, strict=True)]})
    train_runs(path, jobs, runner or Runner(), write_summary)
    return path


def summarize(path: str | Path) -> list[dict[str, Any]]:
    """One summary row per configuration of the sweep in ``path``.

    Keys: ``run``, ``config``, ``epochs`` (done), ``val_accuracy_final``,
    ``val_accuracy_best``, ``best_epoch``, ``flip_ratio_final`` (all binary weights,
    last epoch), ``flip_pi_last_layer_final``, ``train_seconds`` (wall time of all
    epochs, validation included, summed over resumes), ``epoch_seconds`` and ``status``.

    Example:
        A sweep of one run of 3 epochs that has finished its first:

        >>> import json, tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> write_json(path / SWEEP_FILE, {"model": "binarynet", "runs": [
        ...     {"name": "gamma=1e-3", "config": {"gamma": "1e-3"}}]})
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
    spec = read_record(path, SWEEP_FILE)
    if not spec:
        raise BnnoError(f"{path} is not a sweep directory (it has no {SWEEP_FILE})")
    return [{"run": entry["name"], "config": text(entry["config"]),
             **run_row(path / entry["name"])} for entry in spec["runs"]]


COLUMNS = [
    ("run", "run"), ("epochs", "epochs"), ("val_accuracy_final", "final val acc"),
    ("val_accuracy_best", "best val acc"), ("best_epoch", "best epoch"),
    ("flip_ratio_final", "final flip ratio (all)"),
    ("flip_pi_last_layer_final", "final π (last layer)"),
    ("train_seconds", "wall time (s)"), ("status", "status"),
]


def table(rows: list[dict[str, Any]]) -> str:
    """A sweep's rows as a Markdown table.

    Example:
        >>> print(table([{"run": "gamma=1e-3", "epochs": 2, "status": "finished"}]))
        | run | epochs | final val acc | best val acc | best epoch | final flip ratio (all) \
| final π (last layer) | wall time (s) | status |
        |---|---:|---:|---:|---:|---:|---:|---:|---|
        | gamma=1e-3 | 2 |  |  |  |  |  |  | finished |
    """
    return markdown_table(rows, COLUMNS)


def terminal_table(rows: list[dict[str, Any]], width: int | None = None) -> str:
    """The rows as a table that fits the terminal (``bnno.analysis.jobs.fit_table``).

    Example:
        >>> print(terminal_table([{"run": "gamma=1e-3", "epochs": 2}], width=30))
        | run | epochs |
        |---|---:|
        | gamma=1e-3 | 2 |
        (not shown: final val acc, best val acc, best epoch, final flip ratio (all), \
final π (last layer), wall time (s), status; see summary.md)
    """
    return fit_table(rows, COLUMNS, width, SUMMARY_MD)


def write_summary(path: str | Path) -> list[dict[str, Any]]:
    """Write ``summary.csv``, ``summary.md`` and ``curves.png`` of a sweep; return the rows.

    Example:
        Rewrite the summary of a sweep, e.g. after adding runs to it by hand::

            rows = write_summary("sweeps/binarynet-cifar10-bop-20261122-080000")
    """
    from bnno.analysis import plots

    path = Path(path)
    rows = summarize(path)
    keys = [k for k, _ in COLUMNS] + ["config"]
    with open(path / SUMMARY_CSV, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    spec = read_record(path, SWEEP_FILE)
    shared = text(spec.get("shared", spec.get("overrides")))
    title = (f"{spec['model']} on {spec['dataset']}, set '{spec['hparams_set']}'"
             + (f" ({shared})" if shared else ""))
    (path / SUMMARY_MD).write_text(f"# Sweep: {title}\n\n{table(rows)}\n", encoding="utf-8")
    curves = {r["config"]: runs.read_metrics(path / r["run"]) for r in rows}
    plots.sweep_figure({k: v for k, v in curves.items() if v}, path / FIGURE, title)
    return rows

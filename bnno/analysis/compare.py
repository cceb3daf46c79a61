"""Recipes side by side: every (model, hparam set) pair trained at the same budget, then
one table and one figure.

A comparison directory holds::

    compare.json              what was asked: models, sets, dataset, budget, seed
    <model>-<set>/            one bnno run directory per pair
    summary.csv, summary.md   final and best validation accuracy, epoch time, flips,
                              and where each set's values come from
    curves.png                validation accuracy and flip ratio against epochs

The budget is shared: ``epochs`` (and any other shared override: steps per epoch,
validation steps, a preprocessing) replaces every set's own value, and every run uses
the same seed, so the sets differ only in their recipe. Schedules that span a run (cosine,
linear decay) are stretched or shrunk to the shared length; step schedules keep their
epochs, so a shortened run may end before a set's first step. Running the same command
again skips finished runs and resumes a partial one.

Example:
    Bop against the Adam baseline on BinaryNet, 10 epochs each, then the best
    validation accuracy of each pair (e.g. ``[0.71, 0.78]``)::

        path = compare(["binarynet"], "cifar10", ["default", "bop"], {"epochs": 10})
        [row["val_accuracy_best"] for row in summarize(path)]
"""

from __future__ import annotations

import csv
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bnno import hparams, models, runs
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
from bnno.config import plan
from bnno.errors import BnnoError

COMPARE_FILE = "compare.json"
SUMMARY_CSV = "summary.csv"
SUMMARY_MD = "summary.md"
FIGURE = "curves.png"


def parse_sets(text_: str) -> list[str]:
    """``"default,bop"`` -> ``["default", "bop"]`` (the CLI's ``--sets``).

    Raises:
        BnnoError: no set is named, or one twice.

    Example:
        >>> parse_sets("default, bop")
        ['default', 'bop']
    """
    sets = [s.strip() for s in text_.split(",") if s.strip()]
    if not sets:
        raise BnnoError("--sets names no hparam set; give SET1,SET2,...")
    if len(set(sets)) < len(sets):
        raise BnnoError(f"--sets names a set twice: {text_}")
    return sets


def compare(model_names: Sequence[str], dataset: str, sets: Sequence[str],
            shared: Mapping[str, Any] | None = None, output_dir: str | Path | None = None,
            seed: int | None = None, runner: Runner | None = None) -> Path:
    """Train every set of ``sets`` on every model of ``model_names``, then write the
    table and the figure.

    ``shared`` overrides (``epochs``, ``steps_per_epoch``, ...) apply to every run.
    Every pair is planned before the first run starts. ``runner`` says where the data
    is and what the runs log.

    Returns:
        The comparison directory.

    Raises:
        BnnoError: an unknown model, a set a model does not have, a bad value, or a
            directory that holds something else or a comparison at another budget.

    Example:
        Two sets on two models, 3 epochs of 100 steps each; the directory is returned,
        e.g.
        ``PosixPath('comparisons/binarynet+xnornet-cifar10-bop+bop2ndOrder-20261202-080000')``::

            path = compare(["binarynet", "xnornet"], "cifar10", ["bop", "bop2ndOrder"],
                           {"epochs": 3, "steps_per_epoch": 100})
    """
    if not model_names:
        raise BnnoError("compare needs at least one MODEL")
    shared = dict(shared or {})
    # The names as typed: an alias may fix hparams (binarynet_batch) that its model's
    # sets leave open.
    names = list(dict.fromkeys(model_names))
    path = Path(output_dir) if output_dir else default_dir(names, dataset, list(sets))
    old = read_record(path, COMPARE_FILE)
    if seed is None:
        seed = old.get("seed", random.randrange(2**31))
    jobs = [_job(model, dataset, name, shared, seed) for model in names for name in sets]
    budget = {"dataset": dataset, "shared": _texts(shared), "seed": seed}
    changed = [k for k in budget if old and _budget(old).get(k) != budget[k]]
    if changed:
        raise BnnoError(f"{path} holds a comparison with another {changed[0]} "
                        f"({_budget(old).get(changed[0])!r}); use another --output-dir")
    write_json(path / COMPARE_FILE, {
        "models": names, "sets": list(sets), **budget,
        "runs": [{"name": j.name, "model": j.config.model.name,
                  "hparams_set": j.config.hparams_set} for j in jobs]})
    train_runs(path, jobs, runner or Runner(), write_summary)
    return path


def _job(model: str, dataset: str, hparams_set: str, shared: dict, seed: int) -> Job:
    own = hparams.set_names(models.canonical(model))
    if hparams_set not in own:
        raise BnnoError(f"{model} has no hparam set '{hparams_set}'; its sets: "
                        f"{', '.join(own)}")
    name = f"{model}-{hparams_set}"
    return Job(name, name, plan(model, dataset, hparams_set, shared, seed=seed))


def _texts(values: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items()}


def _budget(record: dict[str, Any]) -> dict[str, Any]:
    """What a comparison's runs share, from its record: a record written before typed
    configs keeps its overrides as text and the rest beside them."""
    if "shared" in record:
        return {k: record.get(k) for k in ("dataset", "shared", "seed")}
    shared = hparams.parse_overrides(record.get("overrides"))
    for key, section in (("preprocess_fn", "data"), ("steps_per_epoch", "trainer"),
                         ("validation_steps", "trainer")):
        if record.get(key) is not None:
            shared[f"{section}.{key}"] = str(record[key])
    return {"dataset": record.get("dataset"), "shared": shared, "seed": record.get("seed")}


def default_dir(model_names: list[str], dataset: str, sets: list[str],
                root: str = "comparisons") -> Path:
    """A fresh ``comparisons/<models>-<dataset>-<sets>-<time>`` directory name.

    Example:
        >>> path = default_dir(["binarynet", "xnornet"], "cifar10", ["default", "bop"])
        >>> path.parent, path.name.startswith("binarynet+xnornet-cifar10-default+bop-2")
        (PosixPath('comparisons'), True)
    """
    return runs.default_dir("+".join(model_names), dataset, "+".join(sets), root)


def summarize(path: str | Path) -> list[dict[str, Any]]:
    """One row per (model, set) of the comparison in ``path``: ``model``, ``set``,
    ``run``, the run's summary (``bnno.analysis.jobs.run_row``) and the set's
    ``source``.

    Example:
        A comparison of one pair that has finished one of its 2 epochs:

        >>> import json, tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> write_json(path / COMPARE_FILE, {"runs": [
        ...     {"name": "binarynet-bop", "model": "binarynet", "hparams_set": "bop"}]})
        >>> write_json(path / "binarynet-bop" / runs.RUN_FILE, {
        ...     "model": "binarynet", "dataset": "cifar10", "hparams": {"epochs": 2}})
        >>> with open(path / "binarynet-bop" / runs.METRICS_FILE, "w") as f:
        ...     print(json.dumps({"epoch": 1, "val_accuracy": 0.5, "seconds": 3.0}), file=f)
        >>> row = summarize(path)[0]
        >>> row["set"], row["val_accuracy_best"], row["status"]
        ('bop', 0.5, 'partial (1/2 epochs)')
        >>> row["source"].startswith("plumerai/rethinking-bnn-optimization")
        True
    """
    path = Path(path)
    spec = read_record(path, COMPARE_FILE)
    if not spec:
        raise BnnoError(f"{path} is not a comparison directory (it has no {COMPARE_FILE})")
    rows = []
    for entry in spec["runs"]:
        model, name = entry["model"], entry["hparams_set"]
        rows.append({"model": model, "set": name, "run": entry["name"],
                     **run_row(path / entry["name"]),
                     "source": hparams.metadata(models.canonical(model), name).get("source", "")})
    return rows


COLUMNS = [
    ("model", "model"), ("set", "set"), ("epochs", "epochs"),
    ("val_accuracy_final", "final val acc"), ("val_accuracy_best", "best val acc"),
    ("best_epoch", "best epoch"), ("epoch_seconds", "s / epoch"),
    ("flip_ratio_final", "final flip ratio"), ("status", "status"), ("source", "source"),
]


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, the set's source in the last column.

    Example:
        >>> print(table([{"model": "binarynet", "set": "bop", "epochs": 2,
        ...               "val_accuracy_best": 0.5, "status": "finished", "source": "paper"}]))
        | model | set | epochs | final val acc | best val acc | best epoch | s / epoch \
| final flip ratio | status | source |
        |---|---|---:|---:|---:|---:|---:|---:|---|---|
        | binarynet | bop | 2 |  | 0.5000 |  |  |  | finished | paper |
    """
    return markdown_table(rows, COLUMNS)


def terminal_table(rows: list[dict[str, Any]], width: int | None = None) -> str:
    """The rows as a table that fits the terminal: no sources (they are in
    ``summary.md``), as many columns as fit (``bnno.analysis.jobs.fit_table``).

    Example:
        >>> print(terminal_table([{"model": "binarynet", "set": "bop", "epochs": 2,
        ...                        "source": "paper"}], width=36))
        | model | set | epochs |
        |---|---|---:|
        | binarynet | bop | 2 |
        (not shown: final val acc, best val acc, best epoch, s / epoch, final flip ratio, \
status; see summary.md)
    """
    return fit_table(rows, [c for c in COLUMNS if c[0] != "source"], width, SUMMARY_MD)


def write_summary(path: str | Path) -> list[dict[str, Any]]:
    """Write ``summary.csv``, ``summary.md`` and ``curves.png`` of a comparison; return
    the rows.

    Example:
        Redraw a comparison's table and figure, e.g. while it is still training::

            rows = write_summary("comparisons/binarynet-cifar10-default+bop-20261202-080000")
    """
    from bnno.analysis import plots

    path = Path(path)
    rows = summarize(path)
    keys = [k for k, _ in COLUMNS if k != "source"] + ["train_seconds", "run", "source"]
    with open(path / SUMMARY_CSV, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    budget = _budget(read_record(path, COMPARE_FILE))
    shared = text(budget["shared"]) or "each set's own epochs"
    title = f"{budget.get('dataset') or ''}: {shared}"
    (path / SUMMARY_MD).write_text(f"# Comparison on {title}\n\n{table(rows)}\n",
                                   encoding="utf-8")
    curves = {f"{r['model']} / {r['set']}": runs.read_metrics(path / r["run"]) for r in rows}
    plots.compare_figure({k: v for k, v in curves.items() if v}, path / FIGURE, title)
    return rows

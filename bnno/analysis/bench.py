"""Binarizers side by side: every binarizer, and a full-precision reference of the same
network, trained on every (model, dataset) pair at one budget, then one table and one
figure (BiBench's tracks, measured on bnno's runs).

A bench directory holds::

    bench.json                what was asked: models, datasets, binarizers, set, grid,
                              budget, seed, corruptions; and its cells
    <model>-<dataset>-<binarizer>-<set>/
                              one bnno run directory per cell, with the cell's
                              measurements (bench_cell.json) and its model.tflite
    bench.csv                 every cell, every value
    bench.md                  the table, how each column is computed, the sets' sources
    bench.png                 accuracy, spread over the grid, training time, speed-up

A cell's recipe is the model's hparam set with the binarizer swapped in through the
model's ``activation`` and ``kernel_quantizer`` (``Binarizer``); the full-precision
reference sets both to none (and ``kernel_constraint``, which only latent binary weights
need). The budget is shared: ``epochs`` and every other shared override replace each
set's value, every cell uses the bench's seed, and a set's schedule lengths given in
epochs (cosine and step schedules) are scaled to the budget, so that a 200-epoch recipe
stepped at epochs 100 and 150 steps at 1.5 and 2.25 of a 3-epoch budget. Running the
same command again skips finished cells (and their measurements) and resumes a partial
one.

The table, per (model, dataset, binarizer):

* ``acc``: final validation accuracy of the set's cell; ``acc / FP``: that over the
  full-precision reference's;
* ``spread``: standard deviation (and range) of the final accuracy over the grid's sets
  (BiBench's sensitivity to training settings), where a grid is given;
* ``s/epoch / FP``: median seconds per training epoch over the reference's;
* ``params``, ``binary params``, ``BOPs``, ``FLOPs`` and ``OPs = BOPs / 64 + FLOPs``
  (``bnno.analysis.summary.profile``: larq's counts of multiply-accumulates of binary and
  of 32-bit operands);
* ``speed-up``: the reference's FLOPs over the cell's OPs, the convention of Bi-Real Net
  and ReActNet (a binary MAC costs 1/64 of a float one); it counts MACs only, not the
  float work of scales, thresholds or per-sample factors; BiBench's own formula (paper,
  §"Theoretical complexity") was not checked against its text;
* ``.tflite KB`` and ``LceBconv2d``: the exported flatbuffer (``bnno.deploy.export``) and
  the share of the model's binary layers that Larq Compute Engine runs as bit-packed
  ``LceBconv2d``;
* accuracy on corrupted test images (``corruptions``), generated in TensorFlow.

Example:
    Four binarizers and the reference on CIFAR-10, 3 epochs each, then the accuracy
    relative to full precision of each (e.g. ``[0.81, 0.77, 0.85, 0.83]``)::

        path = bench(["bibench_resnet"], ["cifar10"],
                     parse_binarizers("bibench_bnn,bibench_xnor,bibench_react,ste_sign"),
                     shared={"epochs": 3})
        [row["acc_relative"] for row in table_rows(summarize(path)) if row["binarizer"] != "fp32"]
"""

from __future__ import annotations

import csv
import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bnno import data, hparams, models, quantizers, runs
from bnno.analysis.jobs import (
    Job,
    Runner,
    fit_table,
    markdown_table,
    read_record,
    run_row,
    train_runs,
    write_json,
)
from bnno.analysis.summary import profile
from bnno.config import RunConfig, plan, stored
from bnno.config.plan import check_set
from bnno.errors import BnnoError, choices

BENCH_FILE = "bench.json"
CELL_FILE = "bench_cell.json"
TABLE_CSV = "bench.csv"
TABLE_MD = "bench.md"
FIGURE = "bench.png"
TFLITE = "model.tflite"
FULL_PRECISION = "fp32"
# Severities of CIFAR-10-C (hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py):
# the noise's standard deviation and the blur's sigma on images scaled to [0, 1].
CORRUPTIONS = {"gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),
               "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1.0)}
# Schedule fields that are lengths in epochs, scaled to the budget.
_EPOCH_FIELDS = ("cosine_epochs", "boundary_epochs", "decay_epochs", "warmup_epochs")


@dataclass(frozen=True)
class Binarizer:
    """A binarizer of a bench: its name in the table and the quantizers it gives the
    model's ``activation`` and ``kernel_quantizer`` (none: full precision).

    Example:
        >>> Binarizer("fp32", None, None).overrides(takes_constraint=True)
        {'activation': 'none', 'kernel_quantizer': 'none', 'kernel_constraint': 'none'}
    """

    name: str
    activation: str | None
    kernel: str | None

    def overrides(self, takes_constraint: bool) -> dict[str, str]:
        """The model overrides that swap this binarizer in.

        Example:
            >>> Binarizer("ste_sign", "ste_sign", "ste_sign").overrides(True)
            {'activation': 'ste_sign', 'kernel_quantizer': 'ste_sign'}
        """
        found = {"activation": self.activation or "none",
                 "kernel_quantizer": self.kernel or "none"}
        if self.kernel is None and takes_constraint:
            found["kernel_constraint"] = "none"
        return found


def default_binarizers() -> list[Binarizer]:
    """Every registered family of a ``<name>_activation`` and a ``<name>_weight``
    quantizer, as one binarizer each, by name.

    Example:
        >>> import bnno.plugins
        >>> bnno.plugins.load()
        >>> "bibench_react" in [b.name for b in default_binarizers()]
        True
    """
    kernels = set(quantizers.names("kernel"))
    found = []
    for name in quantizers.names("activation"):
        family = name.removesuffix("_activation")
        if family != name and f"{family}_weight" in kernels:
            found.append(Binarizer(family, name, f"{family}_weight"))
    return found


def parse_binarizers(text: str | None) -> list[Binarizer]:
    """The binarizers ``--binarizers`` names, each as ``FAMILY`` (its ``FAMILY_activation``
    and ``FAMILY_weight``), ``NAME`` (a quantizer of both roles, e.g. ``ste_sign``) or
    ``ACTIVATION/KERNEL``; none or empty: ``default_binarizers``.

    Raises:
        BnnoError: a name that is no family or quantizer of both roles, an unknown
            quantizer in a pair, a binarizer named twice, or the reserved ``fp32``.

    Example:
        >>> import bnno.plugins
        >>> bnno.plugins.load()
        >>> [b.kernel for b in parse_binarizers("bibench_xnor, ste_sign, approx_sign/ste_sign")]
        ['bibench_xnor_weight', 'ste_sign', 'ste_sign']
    """
    items = [s.strip() for s in (text or "").split(",") if s.strip()]
    if not items:
        return default_binarizers()
    found = [_binarizer(item) for item in items]
    names = [b.name for b in found]
    if len(set(names)) < len(names):
        raise BnnoError(f"--binarizers names a binarizer twice: {text}")
    return found


def _binarizer(item: str) -> Binarizer:
    if item == FULL_PRECISION:
        raise BnnoError(f"'{FULL_PRECISION}' is the full-precision reference, which every "
                        "bench trains; leave it out of --binarizers")
    activations, kernels = quantizers.names("activation"), quantizers.names("kernel")
    if "/" in item:
        activation, _, kernel = (s.strip() for s in item.partition("/"))
        for name, role, valid in ((activation, "activation", activations),
                                  (kernel, "kernel_quantizer", kernels)):
            if name not in valid:
                raise BnnoError(f"unknown {role} '{name}' in --binarizers; choose one of: "
                                f"{choices(valid)}")
        return Binarizer(item, activation, kernel)
    if f"{item}_activation" in activations and f"{item}_weight" in kernels:
        return Binarizer(item, f"{item}_activation", f"{item}_weight")
    if item in activations and item in kernels:
        return Binarizer(item, item, item)
    families = [b.name for b in default_binarizers()]
    both = [n for n in activations if n in kernels]
    raise BnnoError(f"unknown binarizer '{item}'; give a family ({choices(families)}), a "
                    f"quantizer of both roles ({choices(both)}) or ACTIVATION/KERNEL")


def parse_corruptions(text: str | None) -> list[tuple[str, int]]:
    """``--corruptions``: ``NAME:SEVERITY,...`` (severity 1 to 5), or ``none``.

    Raises:
        BnnoError: an unknown corruption or a bad severity.

    Example:
        >>> parse_corruptions("gaussian_noise:3, gaussian_blur:1"), parse_corruptions("none")
        ([('gaussian_noise', 3), ('gaussian_blur', 1)], [])
    """
    found = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item or item == "none":
            continue
        name, _, level = item.partition(":")
        if name not in CORRUPTIONS:
            raise BnnoError(f"unknown corruption '{name}'; choose one of: "
                            f"{choices(CORRUPTIONS)}")
        if level not in ("1", "2", "3", "4", "5"):
            raise BnnoError(f"corruption '{item}' needs a severity from 1 to 5: {name}:3")
        found.append((name, int(level)))
    return found


def bench(model_names: Sequence[str], datasets: Sequence[str],
          binarizers: Sequence[Binarizer], hparams_set: str | None = None,
          grid: Sequence[str] = (), shared: Mapping[str, Any] | None = None,
          output_dir: str | Path | None = None, seed: int | None = None,
          runner: Runner | None = None, corruptions: Sequence[tuple[str, int]] = (),
          export_check: int = 32) -> Path:
    """Train every binarizer and the full-precision reference on every model and
    dataset, with the set ``hparams_set`` (default: each model's first) and every set
    of ``grid``, then measure each cell and write the table and the figure.

    ``shared`` overrides (``epochs``, ``steps_per_epoch``, ...) apply to every cell;
    ``export_check`` test images check each exported flatbuffer against Keras (0: no
    check). Every cell is planned before the first one trains.

    Returns:
        The bench directory.

    Raises:
        BnnoError: an unknown model, set or dataset, a bad value, or a directory that
            holds something else or a bench at another budget.

    Example:
        Two binarizers on BiBench's ResNet-20, 2 epochs of 50 steps; the directory is
        returned, e.g. ``PosixPath('benches/bibench_resnet-cifar10-20261205-080000')``::

            bench(["bibench_resnet"], ["cifar10"], parse_binarizers("bibench_bnn,ste_sign"),
                  shared={"epochs": 2, "steps_per_epoch": 50})
    """
    if not model_names or not datasets:
        raise BnnoError("bench needs at least one MODEL and one --dataset")
    shared = dict(shared or {})
    names = list(dict.fromkeys(model_names))
    path = Path(output_dir) if output_dir else default_dir(names, list(datasets))
    old = read_record(path, BENCH_FILE)
    if seed is None:
        seed = old.get("seed", random.randrange(2**31))
    every = [Binarizer(FULL_PRECISION, None, None), *binarizers]
    cells = [(m, d, b, s) for m in names for d in datasets for b in every
             for s in _sets(m, hparams_set, grid)]
    jobs = [_job(m, d, b, s, shared, seed) for m, d, b, s in cells]
    budget = {"shared": {k: str(v) for k, v in shared.items()}, "seed": seed,
              "corruptions": [f"{n}:{s}" for n, s in corruptions]}
    changed = [k for k in budget if old and old.get(k) != budget[k]]
    if changed:
        raise BnnoError(f"{path} holds a bench with another {changed[0]} "
                        f"({old.get(changed[0])!r}); use another --output-dir")
    write_json(path / BENCH_FILE, {
        "models": names, "datasets": list(datasets), "hparams_set": hparams_set,
        "grid": list(grid), "binarizers": [vars(b) for b in every], **budget,
        "export_check": export_check,
        "cells": [{"name": j.name, "model": m, "dataset": d, "binarizer": b.name, "set": s,
                   "base": s == _sets(m, hparams_set, ())[0]}
                  for j, (m, d, b, s) in zip(jobs, cells, strict=True)]})
    runner = runner or Runner()
    train_runs(path, jobs, runner, lambda p: write_summary(p, runner.source))
    return path


def _sets(model: str, hparams_set: str | None, grid: Sequence[str]) -> list[str]:
    """The base set first, then the grid's others."""
    own = hparams.set_names(models.canonical(model))
    base = hparams_set or own[0]
    for name in [base, *grid]:
        if name not in own:
            raise BnnoError(f"{model} has no hparam set '{name}'; its sets: {', '.join(own)}")
    return list(dict.fromkeys([base, *grid]))


def _job(model: str, dataset: str, binarizer: Binarizer, hparams_set: str,
         shared: Mapping[str, Any], seed: int) -> Job:
    entry = models.get_entry(model)
    swap = binarizer.overrides(entry.takes("kernel_constraint"))
    overrides = {**shared, **swap}
    overrides.update(scaled_schedules(model, hparams_set, swap, shared))
    name = f"{model}-{Path(dataset).name}-{binarizer.name.replace('/', '+')}-{hparams_set}"
    return Job(name, name, plan(model, dataset, hparams_set, overrides, seed=seed))


def scaled_schedules(model: str, hparams_set: str, swap: Mapping[str, Any],
                     shared: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides of the set's optimizer options whose schedules have lengths in epochs,
    scaled from the set's epochs to the budget's (``shared["epochs"]``); none when the
    budget keeps the set's epochs or the user gave the option.

    Example:
        >>> import bnno.plugins
        >>> bnno.plugins.load()
        >>> scaled = scaled_schedules("bibench_resnet", "sgd_1e-1_step", {}, {"epochs": 4})
        >>> scaled["optimizer.learning_rate"]["boundary_epochs"]
        [2.0, 3.0]
    """
    if "epochs" not in shared:
        return {}
    checked = check_set(model, hparams_set, {**swap, **{k: v for k, v in shared.items()
                                                         if k != "epochs"}})
    factor = int(shared["epochs"]) / checked.trainer.epochs
    given = {k.rpartition(".")[2] for k in shared}
    found = {}
    for key, value in checked.optimizer.options.items():
        if factor == 1 or key in given or not isinstance(value, dict):
            continue
        scaled = {k: _scale(k, v, factor) if k in _EPOCH_FIELDS else v
                  for k, v in value.items()}
        if scaled != value:
            found[f"optimizer.{key}"] = scaled
    return found


def _scale(key: str, value: Any, factor: float) -> Any:
    if isinstance(value, list):
        return [v * factor for v in value]
    if key == "warmup_epochs":
        return int(round(value * factor))
    return value * factor


def default_dir(model_names: list[str], datasets: list[str], root: str = "benches") -> Path:
    """A fresh ``benches/<models>-<datasets>-bench-<time>`` directory name.

    Example:
        >>> path = default_dir(["bibench_resnet"], ["cifar10"])
        >>> path.parent, path.name.startswith("bibench_resnet-cifar10-bench-2")
        (PosixPath('benches'), True)
    """
    return runs.default_dir("+".join(model_names), "+".join(Path(d).name for d in datasets),
                            "bench", root)


# ----- measuring a finished cell -------------------------------------------------------


def measure(run_dir: Path, source: data.Source | None = None,
            corruptions: Sequence[tuple[str, int]] = (), export_check: int = 32,
            seed: int = 0) -> dict[str, Any]:
    """The measurements of a finished cell: its model's counts
    (``bnno.analysis.summary.profile``), its export (``bytes``, ``binary_ops``,
    ``binary_layers``, or the ``error`` that stopped it) and its accuracy on each
    corruption of the test images.

    Example:
        Measure a finished run in ``path`` (a ``Path``): e.g. ``{'profile': {...},
        'export': {'bytes': 61440, 'binary_ops': 18, 'binary_layers': 18},
        'corrupted': {'gaussian_noise:3': 0.41}}``::

            measure(path, corruptions=[("gaussian_noise", 3)])
    """
    from bnno.training import memory
    from bnno.training.loading import load_trained, trained_shape

    source = source or data.Source()
    config = stored.read(run_dir)
    memory.clear_session()
    input_shape, classes = trained_shape(config.data, source.data_dir)
    net, _ = load_trained(run_dir, config, input_shape, classes)
    found: dict[str, Any] = {"profile": profile(net)}
    found["corrupted"] = {f"{name}:{level}": corrupted_accuracy(net, config, source, name,
                                                                level, seed)
                          for name, level in corruptions}
    found["export"] = _export(run_dir, source, export_check)
    return found


def _export(run_dir: Path, source: data.Source, check: int) -> dict[str, Any]:
    from bnno.deploy.export import export_run

    try:
        result = export_run(run_dir, run_dir / TFLITE, source, check_examples=check,
                            allow_float=True)
    except (BnnoError, ImportError) as e:
        return {"error": str(e).splitlines()[0]}
    found = {k: result[k] for k in ("bytes", "binary_ops", "binary_layers")}
    if "check" in result:
        found["top1_agreement"] = result["check"]["top1_agreement"]
    return found


def corrupted_accuracy(net, config: RunConfig, source: data.Source, name: str, level: int,
                       seed: int = 0) -> float | None:
    """Top-1 accuracy of ``net`` on the run's test images with the corruption ``name`` at
    severity ``level`` (``CORRUPTIONS``), applied to the images before the run's
    preprocessing; the run's ``validation_steps`` limit the images as in training. None
    for a dataset whose examples are not decoded pixels (ImageNet-sized images, read as
    files), which the corruptions do not reach.

    Example:
        The accuracy of a trained run's model ``net`` under Gaussian noise of severity 3::

            corrupted_accuracy(net, stored.read(path), data.Source(), "gaussian_noise", 3)
    """
    import numpy as np
    import tensorflow as tf

    from bnno.training.loading import load_run_data

    ds = load_run_data(config, source)
    examples = ds._examples(ds.test_split)
    if examples.element_spec[0].dtype != tf.uint8:
        return None
    fn = ds.preprocess_fn(config.data.preprocess_fn)
    strength = CORRUPTIONS[name][level - 1]

    @tf.autograph.experimental.do_not_convert  # plain TensorFlow ops, nothing to convert
    def corrupt(index, example):
        image, label = example
        image = corrupt_image(image, name, strength, tf.stack([tf.cast(seed, tf.int64), index]))
        return fn(image, False, None), label

    images = examples.enumerate().map(corrupt).batch(config.trainer.batch_size)
    if config.trainer.validation_steps:
        images = images.take(config.trainer.validation_steps)
    right = total = 0
    for x, y in images:
        predicted = net(x, training=False).numpy().argmax(-1)
        right += int(np.sum(predicted == y.numpy().argmax(-1)))
        total += len(predicted)
    return right / max(total, 1)


def corrupt_image(image, name: str, strength: float, seed) -> Any:
    """A uint8 image (height, width, channels) corrupted as CIFAR-10-C corrupts it:
    ``gaussian_noise`` adds N(0, strength²) to the image scaled to [0, 1];
    ``gaussian_blur`` filters it with a Gaussian of sigma ``strength`` pixels (borders
    repeated, the kernel cut at 4 sigma, as scikit-image's ``gaussian``); then clipped
    to [0, 1] and back to uint8.

    Example:
        >>> import tensorflow as tf
        >>> flat = tf.fill((8, 8, 3), tf.constant(100, tf.uint8))
        >>> int(tf.reduce_max(tf.abs(tf.cast(corrupt_image(flat, "gaussian_blur", 1.0, [0, 0]),
        ...                                  tf.int32) - 100)))
        0
        >>> noisy = corrupt_image(flat, "gaussian_noise", 0.1, [0, 0])
        >>> 20 < float(tf.math.reduce_std(tf.cast(noisy, tf.float32))) < 30
        True
    """
    import tensorflow as tf

    x = tf.cast(image, tf.float32) / 255.0
    if name == "gaussian_noise":
        x = x + tf.random.stateless_normal(tf.shape(x), seed, stddev=strength)
    else:
        x = _blur(x, strength)
    return tf.cast(tf.clip_by_value(x, 0.0, 1.0) * 255.0, tf.uint8)


def _blur(x, sigma: float):
    import tensorflow as tf

    radius = int(4.0 * sigma + 0.5)  # scipy's truncate = 4
    taps = tf.exp(-0.5 * (tf.range(-radius, radius + 1, dtype=tf.float32) / sigma) ** 2)
    taps = taps / tf.reduce_sum(taps)
    channels = x.shape[-1]
    for axis in (0, 1):
        size = tf.shape(x)[axis]
        index = tf.clip_by_value(tf.range(-radius, size + radius), 0, size - 1)
        padded = tf.gather(x, index, axis=axis)  # borders repeated ("nearest")
        shape = (2 * radius + 1, 1) if axis == 0 else (1, 2 * radius + 1)
        kernel = tf.tile(tf.reshape(taps, (*shape, 1, 1)), [1, 1, channels, 1])
        x = tf.nn.depthwise_conv2d(padded[None], kernel, [1, 1, 1, 1], "VALID")[0]
    return x


# ----- the table ------------------------------------------------------------------------


def summarize(path: str | Path) -> list[dict[str, Any]]:
    """One row per cell of the bench in ``path``: ``model``, ``dataset``, ``binarizer``,
    ``set``, ``base`` (the set of the table, not only the grid's), ``run``, the run's
    summary (``bnno.analysis.jobs.run_row``) and its measurements (``measure``, once it
    has finished).

    Example:
        A bench of one cell that has not started:

        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp())
        >>> write_json(path / BENCH_FILE, {"cells": [{"name": "m-d-fp32-s", "model": "m",
        ...     "dataset": "d", "binarizer": "fp32", "set": "s", "base": True}]})
        >>> summarize(path)[0]["status"]
        'not started'
    """
    path = Path(path)
    spec = read_record(path, BENCH_FILE)
    if not spec:
        raise BnnoError(f"{path} is not a bench directory (it has no {BENCH_FILE})")
    rows = []
    for cell in spec["cells"]:
        run_dir = path / cell["name"]
        measured = read_record(run_dir, CELL_FILE) if (run_dir / CELL_FILE).exists() else {}
        rows.append({**{k: cell[k] for k in ("model", "dataset", "binarizer", "set", "base")},
                     "run": cell["name"], **run_row(run_dir), **_flat(measured)})
    return rows


def _flat(measured: Mapping[str, Any]) -> dict[str, Any]:
    counts = measured.get("profile", {})
    found = {k: counts.get(k) for k in ("total_params", "binary_params", "bops", "flops",
                                        "ops")}
    export = measured.get("export", {})
    found.update({"tflite_bytes": export.get("bytes"), "binary_ops": export.get("binary_ops"),
                  "binary_layers": export.get("binary_layers"),
                  "export_error": export.get("error")})
    found.update({f"corrupted:{k}": v for k, v in measured.get("corrupted", {}).items()})
    return found


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table: one row per (model, dataset, binarizer) from the cells' rows, the
    full-precision reference first (see the module docstring for every column).

    Example:
        >>> cell = dict(model="m", dataset="d", set="s", base=True, epoch_seconds=2.0,
        ...             flops=1000, bops=0, ops=1000.0, tflite_bytes=4096)
        >>> fp = dict(cell, binarizer="fp32", val_accuracy_final=0.5)
        >>> bnn = dict(cell, binarizer="bnn", val_accuracy_final=0.375, flops=100, bops=6400,
        ...            ops=200.0, epoch_seconds=3.0, binary_ops=2, binary_layers=2)
        >>> row = table_rows([fp, bnn])[1]
        >>> row["acc_relative"], row["speedup"], row["epoch_ratio"], row["lce_share"]
        (0.75, 5.0, 1.5, 1.0)
    """
    out = []
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["dataset"]), []).append(row)
    for (model, dataset), cells in groups.items():
        base = {r["binarizer"]: r for r in cells if r["base"]}
        fp = base.get(FULL_PRECISION, {})
        for name, row in base.items():
            grid = [r.get("val_accuracy_final") for r in cells
                    if r["binarizer"] == name and not r["base"]]
            out.append(_table_row(model, dataset, name, row, fp, grid))
    return out


def _table_row(model: str, dataset: str, name: str, row: dict[str, Any],
               fp: dict[str, Any], grid: list[float | None]) -> dict[str, Any]:
    acc = row.get("val_accuracy_final")
    done = [a for a in [acc, *grid] if a is not None] if grid else []
    corrupted = {k: v for k, v in row.items() if k.startswith("corrupted:")}
    binary_layers = row.get("binary_layers")
    return {
        "model": model, "dataset": dataset, "binarizer": name, "status": row.get("status"),
        "acc": acc, "acc_relative": _ratio(acc, fp.get("val_accuracy_final")),
        "spread_std": statistics.pstdev(done) if len(done) > 1 else None,
        "spread_range": max(done) - min(done) if len(done) > 1 else None,
        "grid_runs": len(done),
        "epoch_ratio": _ratio(row.get("epoch_seconds"), fp.get("epoch_seconds")),
        "params": row.get("total_params"), "binary_params": row.get("binary_params"),
        "bops": row.get("bops"), "flops": row.get("flops"), "ops": row.get("ops"),
        "speedup": _ratio(fp.get("flops"), row.get("ops")),
        "tflite_kb": row["tflite_bytes"] / 1024 if row.get("tflite_bytes") else None,
        "lce_share": (_ratio(row.get("binary_ops"), binary_layers)
                      if binary_layers else None),
        "export_error": row.get("export_error"), **corrupted,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or not b or (isinstance(a, float) and math.isnan(a)):
        return None
    return a / b


COLUMNS = [
    ("binarizer", "binarizer"), ("acc", "acc"), ("acc_relative", "acc / FP"),
    ("spread_std", "spread (std)"), ("epoch_ratio", "s/epoch / FP"),
    ("speedup", "speed-up"), ("lce_share", "LceBconv2d"), ("tflite_kb", ".tflite KB"),
    ("params", "params"), ("binary_params", "binary params"), ("bops", "BOPs"),
    ("flops", "FLOPs"), ("spread_range", "spread (range)"), ("status", "status"),
]


def columns_of(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The table's columns, with one per corruption the rows have (after ``acc / FP``),
    and ``model`` and ``dataset`` first when the bench has several.

    Example:
        >>> [k for k, _ in columns_of([{"model": "m", "dataset": "d", "corrupted:x:1": 0.5}])][:4]
        ['binarizer', 'acc', 'acc_relative', 'corrupted:x:1']
    """
    corrupted = sorted({k for r in rows for k in r if k.startswith("corrupted:")})
    found = COLUMNS[:3] + [(k, k.removeprefix("corrupted:") + " acc") for k in corrupted] \
        + COLUMNS[3:]
    pairs = {(r["model"], r["dataset"]) for r in rows}
    if len(pairs) > 1:
        found = [("model", "model"), ("dataset", "dataset"), *found]
    return found


def table(rows: list[dict[str, Any]]) -> str:
    """The table rows as a Markdown table of every column.

    Example:
        >>> print(table([{"model": "m", "dataset": "d", "binarizer": "fp32", "acc": 0.9,
        ...               "acc_relative": 1.0, "speedup": 1.0}]).splitlines()[2])
        | fp32 | 0.9000 | 100.0 % |  |  | 1.00× |  |  |  |  |  |  |  |  |
    """
    return _markdown(rows, columns_of(rows))


def terminal_table(rows: list[dict[str, Any]], width: int | None = None) -> str:
    """The table rows as a table that fits the terminal (``bnno.analysis.jobs.fit_table``).

    Example:
        >>> print(terminal_table([{"model": "m", "dataset": "d", "binarizer": "fp32",
        ...                        "acc": 0.9}], width=30))
        | binarizer | acc | acc / FP |
        |---|---:|---:|
        | fp32 | 0.9000 |  |
        (not shown: spread (std), s/epoch / FP, speed-up, LceBconv2d, .tflite KB, params, \
binary params, BOPs, FLOPs, spread (range), status; see bench.md)
    """
    return fit_table([_formatted(r) for r in rows], columns_of(rows), width, TABLE_MD)


def _markdown(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    return markdown_table([_formatted(r) for r in rows], columns)


def _formatted(row: dict[str, Any]) -> dict[str, Any]:
    def fmt(key: str, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if key in ("acc", "spread_std", "spread_range") or key.startswith("corrupted:"):
            return f"{value:.4f}"
        if key in ("acc_relative", "lce_share"):
            return f"{100 * value:.1f} %"
        if key in ("epoch_ratio", "speedup"):
            return f"{value:.2f}×"
        if key == "tflite_kb":
            return f"{value:.1f}"
        if key in ("params", "binary_params", "bops", "flops"):
            return _count(value)
        return value

    return {k: fmt(k, v) for k, v in row.items()}


def _count(value: float) -> str:
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.2f}{unit}"
    return str(int(value))


def write_summary(path: str | Path, source: data.Source | None = None) -> list[dict[str, Any]]:
    """Measure the finished cells not yet measured, then write ``bench.csv``, ``bench.md``
    and ``bench.png``; return the table rows.

    Example:
        Redraw a bench's table and figure, e.g. while it is still training::

            rows = write_summary("benches/bibench_resnet-cifar10-20261205-080000")
    """
    path = Path(path)
    spec = read_record(path, BENCH_FILE)
    corruptions = parse_corruptions(",".join(spec.get("corruptions", [])))
    for cell in spec["cells"]:
        run_dir = path / cell["name"]
        if run_row(run_dir)["status"] == "finished" and not (run_dir / CELL_FILE).exists():
            write_json(run_dir / CELL_FILE, measure(run_dir, source, corruptions,
                                                    spec.get("export_check", 32),
                                                    spec.get("seed", 0)))
    cells = summarize(path)
    rows = table_rows(cells)
    keys = list(dict.fromkeys(k for r in cells for k in r))
    with open(path / TABLE_CSV, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(cells)
    (path / TABLE_MD).write_text(_page(spec, rows), encoding="utf-8")
    from bnno.analysis import plots

    plots.bench_figure(rows, cells, path / FIGURE, _title(spec))
    return rows


def _title(spec: Mapping[str, Any]) -> str:
    shared = ",".join(f"{k}={v}" for k, v in spec.get("shared", {}).items())
    return f"{'+'.join(spec.get('models', []))} on {'+'.join(spec.get('datasets', []))}" + (
        f" ({shared})" if shared else "")


def _page(spec: Mapping[str, Any], rows: list[dict[str, Any]]) -> str:
    lines = [f"# Bench: {_title(spec)}", "", table(rows), ""]
    for model in dict.fromkeys(r["model"] for r in rows):
        base = spec.get("hparams_set") or hparams.set_names(models.canonical(model))[0]
        for name in [base, *spec.get("grid", [])]:
            about = hparams.metadata(models.canonical(model), name)
            lines.append(f"- `{model}` set `{name}`: {about.get('source', '')}")
    failed = [r for r in rows if r.get("export_error")]
    lines += [""] + [f"- export of {r['binarizer']} failed: {r['export_error']}" for r in failed]
    lines += ["", "Binarizers (activation / kernel quantizer):", ""]
    lines += [f"- {b['name']}: {b['activation'] or 'none'} / {b['kernel'] or 'none'}"
              for b in spec.get("binarizers", [])]
    lines += ["", NOTES]
    return "\n".join(lines) + "\n"


NOTES = """How the columns are computed:

- acc: final top-1 validation accuracy of the cell trained with the bench's set; acc / FP:
  over the full-precision reference's (fp32: the same network and set, no binarizer).
- corrupted acc: top-1 accuracy on the test images with CIFAR-10-C's corruption at that
  severity (hendrycks/robustness make_cifar_c.py constants), generated in TensorFlow.
- spread: standard deviation (and range) of the final accuracy over the set and the
  grid's sets (BiBench's sensitivity to optimizer, learning rate and schedule).
- s/epoch / FP: median seconds of a training epoch, over the reference's.
- params, binary params, BOPs, FLOPs: larq's counts (MACs of binary and of 32-bit
  operands); OPs = BOPs / 64 + FLOPs.
- speed-up: the reference's FLOPs over the cell's OPs (Bi-Real Net's and ReActNet's
  convention; MACs only, not the float work of scales, thresholds, per-sample factors);
  BiBench's own formula was not checked against its paper.
- .tflite KB, LceBconv2d: size of the exported Larq Compute Engine flatbuffer, and the
  share of the model's binary layers it runs as bit-packed LceBconv2d.
"""

"""Bop2ndOrder against Bop and the Adam latent-weight baseline on real CIFAR-10.

1. ``bnno compare``: binarynet at a quarter of the paper's width (filters 32, dense 256)
   trains the sets ``default`` (Adam, latent weights), ``bop``, ``bop2ndOrder`` and
   ``bop2ndOrder_unbiased`` for the same epochs and steps per epoch with one seed; each
   set keeps everything else (batch size, learning rates, τ, γ, σ). Printed: validation
   accuracy per epoch and the median seconds per epoch, as a ratio to ``default``'s.
2. The optimizer's step alone: for each set, one model of that width and a fixed batch's
   gradients; ``apply_gradients`` is timed in rounds that alternate between the sets
   (robust to a machine whose speed drifts), and the median step is reported as a ratio
   to Adam's (``default``) from the same rounds.
3. A narrow BNext-T (``--bnext-width``) on CIFAR-10: its ``cifar`` recipe against the
   ``bop_cifar`` set (bnno's own: the same recipe with Bop's §5.1 τ and γ for the binary
   kernels), at the same epochs and steps. The ``cifar`` set's per-epoch schedule
   (5 warm-up epochs, cosine over 256) is compressed to the run (1 warm-up epoch, cosine
   over ``--epochs``) as in ``bnext_cifar10.py``, for both sets.

The sets are as their sources give them; nothing here is tuned. The defaults finish in
about 30 minutes on 2 CPU cores.

    python benchmarks/bop2ndorder_cifar10.py [--data-dir DIR] [--epochs 8]
        [--steps-per-epoch 100] [--json out.json] [--output-dir DIR]

The data dir defaults to $BNNO_DATA_DIR, then $TFDS_DATA_DIR. With --output-dir the
comparison resumes when run again; the table and figure are written there.
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import tensorflow as tf
from common import compiled, plan_run, train_run

from bnno import data, hparams, runs
from bnno.analysis.compare import compare, summarize, table
from bnno.analysis.jobs import Runner
from bnno.training.train import TrainOptions

SETS = ["default", "bop", "bop2ndOrder", "bop2ndOrder_unbiased"]


def step_costs(args, width: str) -> dict[str, float]:
    """Median seconds of one ``apply_gradients`` per set, alternating between sets."""
    ds = data.load("cifar10", args.data_dir)
    images, labels = next(iter(ds.test(100, "resize_and_flip", steps=1)))
    if labels.shape.rank == 1:
        labels = tf.one_hot(labels, ds.num_classes)
    steps = {}
    for name in SETS:
        config = plan_run("binarynet", "cifar10", name, width)
        model = compiled(config, ds.input_shape, ds.num_classes, steps_per_epoch=100)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.keras.losses.categorical_crossentropy(
                labels, model(images, training=True)))
        grads = tape.gradient(loss, model.trainable_variables)
        steps[name] = _stepper(model.optimizer, grads, model.trainable_variables,
                               args.step_repeats)
        steps[name]()  # trace, and create the optimizer's slots
    seconds: dict[str, list[float]] = {name: [] for name in SETS}
    for _ in range(args.rounds):
        for name in SETS:
            start = time.perf_counter()
            steps[name]()
            seconds[name].append((time.perf_counter() - start) / args.step_repeats)
    return {name: statistics.median(s) for name, s in seconds.items()}


def _stepper(optimizer, grads, variables, repeats: int):
    @tf.function
    def step():
        for _ in tf.range(repeats):
            optimizer.apply_gradients(zip(grads, variables, strict=True))

    return step


def bnext(args, out: Path) -> dict[str, list[dict]]:
    """Per-epoch metrics of BNext-T's ``cifar`` recipe and of its ``bop_cifar`` set."""
    extra = (f"epochs={args.epochs},width_multiplier={args.bnext_width},"
             f"learning_rate.warmup_epochs=1,learning_rate.cosine_epochs={args.epochs}")
    found = {}
    for name in ("cifar", "bop_cifar"):
        path = out / f"bnext_t-{name}"
        tf.keras.backend.clear_session()
        config = plan_run("bnext_t", "cifar10", name, extra, seed=args.seed,
                          preprocess_fn="crop_flip_normalize",
                          steps_per_epoch=args.steps_per_epoch,
                          validation_steps=args.validation_steps)
        train_run(config, path, args.data_dir, verbose=args.verbose)
        found[name] = runs.read_metrics(path)
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("BNNO_DATA_DIR")
                   or os.environ.get("TFDS_DATA_DIR"))
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--steps-per-epoch", type=int, default=100,
                   help="training batches per epoch (the sets' batch sizes apply)")
    p.add_argument("--validation-steps", type=int, default=20)
    p.add_argument("--filters", type=int, default=32, help="the paper's network has 128")
    p.add_argument("--dense-units", type=int, default=256, help="the paper's has 1024")
    p.add_argument("--bnext-width", type=float, default=0.25)
    p.add_argument("--rounds", type=int, default=15, help="timing rounds of step costs")
    p.add_argument("--step-repeats", type=int, default=20, help="steps per timing")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--skip-bnext", action="store_true")
    p.add_argument("--output-dir", help="comparison directory (resumable); default: temporary")
    p.add_argument("--verbose", type=int, default=2)
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    width = f"filters={args.filters},dense_units={args.dense_units}"

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.output_dir or tmp)
        start = time.perf_counter()
        shared = {**hparams.parse_overrides(width), "epochs": args.epochs,
                  "trainer.steps_per_epoch": args.steps_per_epoch,
                  "trainer.validation_steps": args.validation_steps}
        runner = Runner(data.Source(args.data_dir),
                        TrainOptions(tensorboard=False, verbose=args.verbose))
        path = compare(["binarynet"], "cifar10", SETS, shared, out / "binarynet", args.seed,
                       runner)
        rows = summarize(path)
        curves = {r["set"]: runs.read_metrics(path / r["run"]) for r in rows}
        training_seconds = time.perf_counter() - start
        tf.keras.backend.clear_session()
        costs = step_costs(args, width)
        bnext_curves = {} if args.skip_bnext else bnext(args, out)

    base = next(r for r in rows if r["set"] == "default")
    print(f"\n## binarynet (filters {args.filters}, dense {args.dense_units}) on CIFAR-10: "
          f"{args.epochs} epochs × {args.steps_per_epoch} steps\n")
    print(table(rows))
    print("\n| epoch | " + " | ".join(SETS) + " |")
    print("|---:|" + "---:|" * len(SETS))
    for e in range(args.epochs):
        cells = [f"{curves[s][e]['val_accuracy']:.4f}" if e < len(curves[s]) else ""
                 for s in SETS]
        print(f"| {e + 1} | " + " | ".join(cells) + " |")
    print("\n| set | s / epoch | ratio to default | optimizer step (ms) | ratio to Adam |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['set']} | {r['epoch_seconds']:.1f} "
              f"| {r['epoch_seconds'] / base['epoch_seconds']:.2f} "
              f"| {costs[r['set']] * 1e3:.2f} | {costs[r['set']] / costs['default']:.2f} |")
    if bnext_curves:
        print(f"\n## BNext-T × {args.bnext_width} on CIFAR-10: {args.epochs} epochs × "
              f"{args.steps_per_epoch} steps\n")
        print("| epoch | cifar (recipe) acc | bop_cifar acc | cifar s | bop_cifar s |")
        print("|---:|---:|---:|---:|---:|")
        a, b = bnext_curves["cifar"], bnext_curves["bop_cifar"]
        for e in range(min(len(a), len(b))):
            print(f"| {e + 1} | {a[e]['val_accuracy']:.4f} | {b[e]['val_accuracy']:.4f} "
                  f"| {a[e]['seconds']:.1f} | {b[e]['seconds']:.1f} |")
    print(f"\nbinarynet training took {training_seconds / 60:.1f} min")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "rows": rows, "curves": curves,
                       "step_seconds": costs, "bnext": bnext_curves}, f, indent=2)


if __name__ == "__main__":
    main()

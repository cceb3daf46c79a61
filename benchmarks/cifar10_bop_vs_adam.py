"""Bop vs the Adam latent-weight baseline on real CIFAR-10, and bnno's overhead.

Trains binarynet with the ``bop`` and ``default`` sets at the same width and for the same
epochs (each set keeps its own batch size, optimizer and learning rate) and prints
per-epoch test accuracy and seconds per epoch.

Then it measures bnno's overhead: one compiled model of each set is trained in this
process for short epochs that alternate between ``model.fit`` with the callbacks
``bnno.training.train`` gives a run (metrics log, checkpoint every epoch, TensorBoard, progress
bar) and a plain ``model.fit`` with none, on the same data. The ratio of each
bnno epoch to the plain epoch next to it is taken, and the median is reported (goal:
<= 1.05). Alternating makes the ratio robust to a machine whose speed drifts; the first
pair (graph tracing) is left out.

    python benchmarks/cifar10_bop_vs_adam.py --data-dir DIR [--epochs 4] [--json out.json]

The data dir defaults to $BNNO_DATA_DIR, then $TFDS_DATA_DIR.
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import argparse
import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

import tensorflow as tf
from common import compiled, plan_run, train_run
from timing import EpochTimer

from bnno import data, runs
from bnno.training.train import TrainOptions, run_callbacks


def overrides(args) -> str:
    return f"filters={args.filters},dense_units={args.dense_units},epochs={args.epochs}"


def bnno_run(set_name: str, args, out_dir: str) -> tuple[list[dict], list[float]]:
    timer = EpochTimer()
    config = plan_run("binarynet", "cifar10", set_name, overrides(args), seed=args.seed,
                      preprocess_fn="resize_and_flip", steps_per_epoch=args.steps_per_epoch)
    path = train_run(config, os.path.join(out_dir, set_name), args.data_dir,
                     verbose=args.verbose, callbacks=[timer], tensorboard=True)
    return runs.read_metrics(path), timer.seconds


def overhead(set_name: str, args, out_dir: str) -> dict:
    """Alternate short epochs with bnno's callbacks and without; per-pair time ratios."""
    config = plan_run("binarynet", "cifar10", set_name, overrides(args), seed=args.seed,
                      preprocess_fn="resize_and_flip")
    batch = config.trainer.batch_size
    ds = data.load("cifar10", args.data_dir)
    steps, pairs = args.overhead_steps, args.overhead_pairs + 1
    # Two identical models: Keras' BackupAndRestore leaves state on the model it ran on
    # that a later plain fit of the same model trips over.
    twins = []
    for _ in range(2):
        tf.keras.utils.set_random_seed(args.seed)
        twins.append(compiled(config, ds.input_shape, ds.num_classes, steps))
    # One pipeline object for all epochs, so its cache is filled once, not in every fit.
    train_data = ds.train(batch, "resize_and_flip", args.seed, 0, pairs, steps)
    test = ds.test(batch, "resize_and_flip", steps=args.overhead_validation_steps)
    path = Path(out_dir) / f"overhead-{set_name}"
    path.mkdir()
    seconds: dict[bool, list[float]] = {True: [], False: []}
    for epoch in range(pairs):
        for own, model in zip((True, False), twins, strict=True):
            timer = EpochTimer()
            callbacks = (run_callbacks(path, epoch, TrainOptions(verbose=args.verbose),
                                       config=config) if own else [])
            model.fit(train_data, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=steps,
                      validation_data=test, callbacks=callbacks + [timer],
                      verbose=args.verbose)
            seconds[own].append(timer.seconds[0])
            # A run restores its checkpoint once, when it starts; here every bnno epoch
            # is a new fit, so drop the checkpoint to keep restoring out of the timing.
            shutil.rmtree(path / runs.BACKUP_DIR, ignore_errors=True)
    ratios = [b / p for b, p in zip(seconds[True][1:], seconds[False][1:], strict=True)]
    return {"bnno_epoch_seconds": seconds[True], "plain_fit_epoch_seconds": seconds[False],
            "ratios": ratios, "overhead_ratio": statistics.median(ratios)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("BNNO_DATA_DIR")
                   or os.environ.get("TFDS_DATA_DIR"))
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--dense-units", type=int, default=256)
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help="default: the whole training split")
    p.add_argument("--overhead-pairs", type=int, default=5,
                   help="timed pairs of (bnno, plain) epochs, after one untimed pair")
    p.add_argument("--overhead-steps", type=int, default=100,
                   help="training steps in each epoch of the overhead measurement")
    p.add_argument("--overhead-validation-steps", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--verbose", type=int, default=2)
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    if args.overhead_pairs < 1 or args.overhead_steps < 1:
        p.error("--overhead-pairs and --overhead-steps must be positive")

    results = {"args": vars(args), "sets": {}}
    with tempfile.TemporaryDirectory() as out_dir:
        for set_name in ("bop", "default"):
            rows, seconds = bnno_run(set_name, args, out_dir)
            results["sets"][set_name] = {
                "val_accuracy": [r["val_accuracy"] for r in rows],
                "epoch_seconds": seconds,
                **overhead(set_name, args, out_dir),
            }

    bop, adam = results["sets"]["bop"], results["sets"]["default"]
    print(f"\nbinarynet on CIFAR-10, filters={args.filters}, dense_units={args.dense_units}")
    print("| epoch | bop test acc | default (Adam) test acc | bop s/epoch | default s/epoch |")
    print("|---:|---:|---:|---:|---:|")
    for i in range(args.epochs):
        print(f"| {i + 1} | {bop['val_accuracy'][i]:.4f} | {adam['val_accuracy'][i]:.4f} "
              f"| {bop['epoch_seconds'][i]:.1f} | {adam['epoch_seconds'][i]:.1f} |")
    print(f"\nOverhead: {args.overhead_pairs} alternating pairs of {args.overhead_steps}-step "
          "epochs, bnno's callbacks vs a plain model.fit of the same model and data")
    print("| set | bnno s/epoch | plain fit s/epoch | median pair ratio (goal <= 1.05) |")
    print("|---|---:|---:|---:|")
    for name, r in results["sets"].items():
        print(f"| {name} | {statistics.median(r['bnno_epoch_seconds'][1:]):.2f} "
              f"| {statistics.median(r['plain_fit_epoch_seconds'][1:]):.2f} "
              f"| {r['overhead_ratio']:.3f} |")
    better = bop["val_accuracy"][-1] >= adam["val_accuracy"][-1]
    ahead = sum(b >= a for b, a in zip(bop["val_accuracy"], adam["val_accuracy"], strict=True))
    print(f"\nBop accuracy >= Adam accuracy after {args.epochs} epochs: {better} "
          f"(Bop ahead or level in {ahead} of {args.epochs} epochs; best test accuracy "
          f"bop {max(bop['val_accuracy']):.4f}, default {max(adam['val_accuracy']):.4f})")
    results["bop_at_least_adam"] = better
    results["epochs_bop_ahead"] = ahead
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()

"""Bop vs the Adam latent-weight baseline on real CIFAR-10, and bnno's overhead.

Trains binarynet with the ``bop`` and ``default`` sets at the same width and for the same
epochs (each set keeps its own batch size, optimizer and learning rate), prints
per-epoch test accuracy and seconds per epoch, then times a plain ``model.fit`` of the
identical compiled model on the identical data in this process and prints the ratio of
bnno's epoch time to it (goal: <= 1.05). Epoch 1 (graph tracing) is left out of timings,
and bnno's last epochs are compared with the plain fit's epochs that follow them, so a
machine whose speed drifts during the run skews the ratio as little as possible.

    python benchmarks/cifar10_bop_vs_adam.py --data-dir DIR [--epochs 4] [--json out.json]

The data dir defaults to $BNNO_DATA_DIR, then $TFDS_DATA_DIR.
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

import tensorflow as tf

from bnno import data, runs
from bnno.build import build_model, compile_model
from bnno.train import plan, train


class EpochTimer(tf.keras.callbacks.Callback):
    """Wall time of each whole epoch, after every other callback has run."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)

def bnno_run(set_name: str, args, out_dir: str) -> tuple[list[dict], list[float]]:
    timer = EpochTimer()
    overrides = f"filters={args.filters},dense_units={args.dense_units},epochs={args.epochs}"
    path = train("binarynet", "cifar10", set_name, overrides, "resize_and_flip",
                 os.path.join(out_dir, set_name), args.data_dir, seed=args.seed,
                 steps_per_epoch=args.steps_per_epoch, verbose=args.verbose,
                 callbacks=[timer])
    return runs.read_metrics(path), timer.seconds

def plain_fit(set_name: str, args) -> list[float]:
    """The same model, optimizer, metrics and data through a bare ``model.fit``."""
    overrides = f"filters={args.filters},dense_units={args.dense_units},epochs={args.epochs}"
    spec = plan("binarynet", "cifar10", set_name, overrides, "resize_and_flip", args.seed,
                args.steps_per_epoch)
    hp = spec["hparams"]
    ds = data.load("cifar10", args.data_dir)
    steps = args.steps_per_epoch or ds.train_examples // hp["batch_size"]
    tf.keras.utils.set_random_seed(args.seed)
    model = build_model("binarynet", hp, ds.input_shape, ds.num_classes)
    compile_model(model, hp, steps)
    epochs = args.overhead_epochs
    timer = EpochTimer()
    model.fit(ds.train(hp["batch_size"], "resize_and_flip", args.seed, 0, epochs, steps),
              epochs=epochs, steps_per_epoch=steps,
              validation_data=ds.test(hp["batch_size"], "resize_and_flip"),
              callbacks=[timer], verbose=args.verbose)
    return timer.seconds

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("BNNO_DATA_DIR")
                   or os.environ.get("TFDS_DATA_DIR"))
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--dense-units", type=int, default=256)
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help="default: the whole training split")
    p.add_argument("--overhead-epochs", type=int, default=3,
                   help="epochs of the plain model.fit reference (first one not timed)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--verbose", type=int, default=2)
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    if not 2 <= args.overhead_epochs <= args.epochs:
        p.error("--overhead-epochs must be at least 2 and at most --epochs")

    results = {"args": vars(args), "sets": {}}
    with tempfile.TemporaryDirectory() as out_dir:
        for set_name in ("bop", "default"):
            rows, seconds = bnno_run(set_name, args, out_dir)
            plain = plain_fit(set_name, args)
            timed = len(plain) - 1
            ratio = statistics.median(seconds[-timed:]) / statistics.median(plain[1:])
            results["sets"][set_name] = {
                "val_accuracy": [r["val_accuracy"] for r in rows],
                "epoch_seconds": seconds,
                "plain_fit_epoch_seconds": plain,
                "overhead_ratio": ratio,
            }

    bop, adam = results["sets"]["bop"], results["sets"]["default"]
    print(f"\nbinarynet on CIFAR-10, filters={args.filters}, dense_units={args.dense_units}")
    print("| epoch | bop test acc | default (Adam) test acc | bop s/epoch | default s/epoch |")
    print("|---:|---:|---:|---:|---:|")
    for i in range(args.epochs):
        print(f"| {i + 1} | {bop['val_accuracy'][i]:.4f} | {adam['val_accuracy'][i]:.4f} "
              f"| {bop['epoch_seconds'][i]:.1f} | {adam['epoch_seconds'][i]:.1f} |")
    print("\n| set | bnno s/epoch | plain fit s/epoch | ratio (goal <= 1.05) |")
    print("|---|---:|---:|---:|")
    timed = args.overhead_epochs - 1
    for name, r in results["sets"].items():
        print(f"| {name} | {statistics.median(r['epoch_seconds'][-timed:]):.2f} "
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

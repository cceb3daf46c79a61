"""Narrow ReActNet-A on real CIFAR-10: the ReActNet two-step recipe against AdamBNN's,
CEMA and Bop, at the same number of training steps.

Each arm is a set of ``reactnet_a`` run as ``bnno train`` runs it, with the same budget:

* ``reactnet``: two stages of ``--epochs/2`` epochs (binary activations first, then both
  binary; the binary kernels restart in step 2, as the official code does);
* ``adambnn``: two stages of ``--epochs/2`` epochs (step 2 carries every weight of
  step 1's best epoch);
* ``cema`` and ``bop``: one run of ``--epochs`` epochs.

Every run has ``--steps-per-epoch`` batches of ``--batch-size`` per epoch, so every arm
trains the same number of steps. What differs from the ImageNet sets, for all four alike:
the width (``--width``), the lengths of the per-epoch schedules (the learning rate's and
CEMA's α fall over each run's own epochs), CIFAR's pad-4 crop + flip
(``crop_flip_normalize``) in place of the ImageNet augmentation, and cross-entropy on the
labels in place of the DistributionLoss to an ImageNet ResNet-34 (``teachers=none``: no
CIFAR teacher). Printed: test accuracy after every epoch (the two-step arms' epochs
continue across their stages) and seconds per epoch, one table.

    python benchmarks/reactnet_cifar10.py [--data-dir DIR] [--epochs 4] [--width 0.25]
                                          [--steps-per-epoch 100] [--json out.json]

The data dir defaults to $BNNO_DATA_DIR, then $TFDS_DATA_DIR.
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import argparse
import json
import os
import tempfile
from pathlib import Path

from bnno import runs
from bnno.data import Source
from bnno.train import TrainOptions, plan, plan_stages, train, train_stages

ARMS = ("reactnet", "adambnn", "cema", "bop")


def overrides(arm: str, epochs: int, args) -> dict:
    """The arm's changes to its set: width, budget, CIFAR data, labels."""
    given = {"width_multiplier": args.width, "batch_size": args.batch_size, "epochs": epochs,
             "learning_rate.epochs": epochs, "teachers": "none",
             "data.preprocess_fn": "crop_flip_normalize",
             "trainer.steps_per_epoch": args.steps_per_epoch,
             "trainer.validation_steps": args.validation_steps}
    if arm == "cema":
        given["alpha.epochs"] = epochs
    return given


def run(arm: str, out: Path, args) -> dict:
    """Train one arm; its test accuracy and seconds, epoch by epoch over its stages."""
    source = Source(args.data_dir)
    options = TrainOptions(tensorboard=False, verbose=args.verbose)
    staged = plan_stages("reactnet_a", "cifar10", arm, overrides(arm, args.epochs // 2, args),
                         seed=args.seed)
    if staged:
        path = train_stages(staged, out, source, options)
        dirs = [path / stage.name for stage in staged]
    else:
        config = plan("reactnet_a", "cifar10", arm, overrides(arm, args.epochs, args),
                      seed=args.seed)
        dirs = [train(config, out, source, options)]
    rows = [row for d in dirs for row in runs.read_metrics(d)]
    return {"val_accuracy": [r["val_accuracy"] for r in rows],
            "seconds": [r["seconds"] for r in rows]}


def table(results: dict, args) -> str:
    head = " | ".join(f"{arm} acc | {arm} s" for arm in results)
    lines = [f"| epoch | {head} |", "|---:|" + "---:|---:|" * len(results)]
    for e in range(args.epochs):
        cells = " | ".join(f"{r['val_accuracy'][e]:.4f} | {r['seconds'][e]:.1f}"
                           for r in results.values())
        lines.append(f"| {e + 1} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("BNNO_DATA_DIR")
                   or os.environ.get("TFDS_DATA_DIR"))
    p.add_argument("--epochs", type=int, default=4, help="per arm (even: two stages)")
    p.add_argument("--steps-per-epoch", type=int, default=100)
    p.add_argument("--validation-steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=float, default=0.25, help="ReActNet-A width multiplier")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--verbose", type=int, default=2)
    p.add_argument("--arms", nargs="*", default=list(ARMS), choices=ARMS)
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    if args.epochs % 2:
        p.error("--epochs must be even: the two-step arms train half of it per step")
    with tempfile.TemporaryDirectory() as out:
        results = {arm: run(arm, Path(out) / arm, args) for arm in args.arms}
    print(f"\nReActNet-A x{args.width} on CIFAR-10: {args.epochs} epochs of "
          f"{args.steps_per_epoch} steps, batch {args.batch_size}, test accuracy on "
          f"{args.validation_steps * args.batch_size} test images after each epoch "
          "(two-step arms: epochs 1..E/2 are step 1); seconds per epoch include the first "
          "epoch's tracing and validation")
    print(table(results, args))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()

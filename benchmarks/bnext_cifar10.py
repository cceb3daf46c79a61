"""BNext-T-shaped student on real CIFAR-10, with and without distillation.

1. A small full-precision teacher is trained by bnno: binarynet with no binarization
   (``kernel_quantizer=none,kernel_constraint=none,activation=none``), set ``default``.
2. ``bnext_t`` at ``--width`` (a narrow BNext-T) is trained twice with its ``cifar`` set:
   once as the set has it (cross-entropy on labels) and once distilled from the teacher
   (``teachers=<teacher run>``: the main teacher alone, BNext's loss; labels unused).

Both students get the same budget (epochs × steps per epoch, batch size, seed). The
set's per-epoch schedule (5 warm-up epochs, cosine over 256) would spend a short run in
its warm-up, so it is compressed to the run: 1 warm-up epoch, cosine over ``--epochs``;
everything else is the set's. Printed: test accuracy and seconds per epoch.

    python benchmarks/bnext_cifar10.py [--data-dir DIR] [--epochs 3] [--width 0.25]
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

from common import plan_run, train_run
from timing import EpochTimer

from bnno import runs


def run(model: str, set_name: str, overrides: str, out: str, args, preprocess=None) -> dict:
    timer = EpochTimer()
    config = plan_run(model, "cifar10", set_name, overrides, seed=args.seed,
                      preprocess_fn=preprocess, steps_per_epoch=args.steps_per_epoch,
                      validation_steps=args.validation_steps)
    path = train_run(config, out, args.data_dir, verbose=args.verbose, callbacks=[timer])
    rows = runs.read_metrics(path)
    return {"val_accuracy": [r["val_accuracy"] for r in rows], "seconds": timer.seconds,
            "teacher_s_per_step": [r.get("teacher_s") for r in rows]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("BNNO_DATA_DIR")
                   or os.environ.get("TFDS_DATA_DIR"))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--steps-per-epoch", type=int, default=100,
                   help="training batches per epoch (the subset size, × batch 128)")
    p.add_argument("--validation-steps", type=int, default=20)
    p.add_argument("--width", type=float, default=0.25, help="BNext-T width multiplier")
    p.add_argument("--teacher-filters", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--verbose", type=int, default=2)
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()
    schedule = (f"learning_rate.warmup_epochs=1,learning_rate.cosine_epochs={args.epochs},"
                f"epochs={args.epochs},width_multiplier={args.width}")
    with tempfile.TemporaryDirectory() as out:
        teacher_dir = os.path.join(out, "teacher")
        teacher = run("binarynet", "default",
                      f"filters={args.teacher_filters},dense_units=256,batch_size=128,"
                      f"epochs={args.epochs},kernel_quantizer=none,kernel_constraint=none,"
                      "activation=none", teacher_dir, args, "resize_and_flip")
        plain = run("bnext_t", "cifar", schedule, os.path.join(out, "plain"), args)
        distilled = run("bnext_t", "cifar", f"{schedule},teachers={teacher_dir}",
                        os.path.join(out, "distilled"), args)
    print(f"| epoch | float teacher acc | BNext-T×{args.width} acc | distilled acc "
          "| s/epoch (plain) | s/epoch (distilled) | teacher s/step "
          "| acc distilled / plain | s/epoch distilled / plain |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for e in range(args.epochs):
        acc, sec = plain["val_accuracy"][e], plain["seconds"][e]
        print(f"| {e + 1} | {teacher['val_accuracy'][e]:.4f} | {acc:.4f} "
              f"| {distilled['val_accuracy'][e]:.4f} | {sec:.1f} "
              f"| {distilled['seconds'][e]:.1f} | {distilled['teacher_s_per_step'][e]:.4f} "
              f"| {distilled['val_accuracy'][e] / acc:.3f} "
              f"| {distilled['seconds'][e] / sec:.2f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "teacher": teacher, "plain": plain,
                       "distilled": distilled}, f, indent=2)


if __name__ == "__main__":
    main()

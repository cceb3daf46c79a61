"""The Bop paper's γ sweep (§5.1, Figure 1) on real CIFAR-10 with a reduced budget.

Trains binarynet with the ``bop`` set at γ ∈ {1e-2, 1e-3, 1e-4} and τ = 1e-6 through
``bnno sweep`` (one run per γ, the same seed for all), then prints the sweep's table and
where its figure is. The paper trains 100 epochs of the full network; the defaults here
(a narrower network, shorter epochs) finish in about 30 minutes on 2 CPU cores, enough
to see whether the ordering of the paper appears: γ = 1e-2 learns fast and then stalls
with many flips, γ = 1e-4 learns slowly with few flips, γ = 1e-3 in between.

    python benchmarks/sweep_cifar10.py --data-dir DIR [--epochs 6] [--output-dir DIR]

The data dir defaults to $BNNO_DATA_DIR, then $TFDS_DATA_DIR. With --output-dir the
sweep resumes when run again; without it the runs go to a temporary directory and the
table and figure are copied to --save-to (default: the current directory).
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import argparse
import os
import shutil
import tempfile
import time

from bnno import hparams
from bnno.analysis.jobs import Runner
from bnno.analysis.sweep import (
    FIGURE,
    SUMMARY_CSV,
    SUMMARY_MD,
    configurations,
    summarize,
    sweep,
    table,
)
from bnno.data import Source
from bnno.training.train import TrainOptions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("BNNO_DATA_DIR")
                   or os.environ.get("TFDS_DATA_DIR"))
    p.add_argument("--gammas", default="1e-2,1e-3,1e-4")
    p.add_argument("--threshold", default="1e-6")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--steps-per-epoch", type=int, default=100,
                   help="batches of 100 per epoch (the full split has 500)")
    p.add_argument("--validation-steps", type=int, default=20,
                   help="test batches of 100 per validation (the full split has 100)")
    p.add_argument("--filters", type=int, default=32, help="the paper's network has 128")
    p.add_argument("--dense-units", type=int, default=256, help="the paper's has 1024")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--output-dir", help="sweep directory (resumable); default: temporary")
    p.add_argument("--save-to", default=".", help="where to copy table and figure")
    p.add_argument("--verbose", type=int, default=2)
    args = p.parse_args()

    shared = {**hparams.parse_overrides(f"filters={args.filters},"
                                        f"dense_units={args.dense_units}"),
              "epochs": args.epochs, "data.preprocess_fn": "resize_and_flip",
              "trainer.steps_per_epoch": args.steps_per_epoch,
              "trainer.validation_steps": args.validation_steps}
    grid = {"gamma": args.gammas.split(","), "threshold": args.threshold.split(",")}
    runner = Runner(Source(args.data_dir), TrainOptions(verbose=args.verbose))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = sweep("binarynet", "cifar10", "bop", configurations(grid), shared,
                    args.output_dir or os.path.join(tmp, "sweep"), args.seed, runner)
        rows = summarize(out)
        if not args.output_dir:
            os.makedirs(args.save_to, exist_ok=True)
            for name in (SUMMARY_CSV, SUMMARY_MD, FIGURE):
                shutil.copy(os.path.join(out, name),
                            os.path.join(args.save_to, f"sweep_cifar10_{name}"))
    minutes = (time.perf_counter() - start) / 60
    print(f"\nbinarynet (filters={args.filters}, dense_units={args.dense_units}) on CIFAR-10, "
          f"Bop τ = {args.threshold}, {args.epochs} epochs of {args.steps_per_epoch} "
          f"batches of 100, validation on {args.validation_steps * 100} test images, "
          f"seed {args.seed}: {minutes:.1f} min\n")
    print(table(rows))
    best = max(rows, key=lambda r: r.get("val_accuracy_best") or 0)
    print(f"\nbest validation accuracy: {best['config']} ({best['val_accuracy_best']:.4f}); "
          f"table and figure in {args.output_dir or args.save_to}")


if __name__ == "__main__":
    main()

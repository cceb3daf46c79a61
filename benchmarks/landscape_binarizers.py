"""Loss landscapes of one small binarynet trained with two activation binarizers.

Trains the same narrow binarynet (Adam on latent weights, the ``default`` set) on real
CIFAR-10 twice, once with larq's ``ste_sign`` (gradient window |x| <= 1) and once with
BNext's clipped sign ``bnext_sign`` (window |x| <= 1.5), same seed and data, then draws
the 1-D and 2-D loss landscapes of both with ``bnno.analysis.landscape`` (same directions seed,
same batches) and prints the loss along the 1-D line.

    python benchmarks/landscape_binarizers.py --data-dir DIR --output-dir DIR

The data dir defaults to $BNNO_DATA_DIR, then $TFDS_DATA_DIR.
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import argparse
import os

import numpy as np
from common import plan_run, train_run

from bnno.analysis.landscape import Grid, landscape
from bnno.data import Source


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("BNNO_DATA_DIR")
                   or os.environ.get("TFDS_DATA_DIR"))
    p.add_argument("--output-dir", required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--steps-per-epoch", type=int, default=100)
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--dense-units", type=int, default=128)
    p.add_argument("--points", type=int, default=21)
    p.add_argument("--points-2d", type=int, default=11)
    p.add_argument("--range", type=float, default=1.0)
    p.add_argument("--batches", type=int, default=2)
    args = p.parse_args()

    lines = {}
    for binarizer in ("ste_sign", "bnext_sign"):
        overrides = (f"filters={args.filters},dense_units={args.dense_units},"
                     f"epochs={args.epochs},batch_size=100,activation={binarizer}")
        config = plan_run("binarynet", "cifar10", "default", overrides, seed=1,
                          preprocess_fn="resize_and_flip",
                          steps_per_epoch=args.steps_per_epoch, validation_steps=20)
        run = train_run(config, os.path.join(args.output_dir, binarizer), args.data_dir)
        source = Source(args.data_dir)
        out = landscape(run, Grid(args.range, args.points, batches=args.batches, seed=0),
                        source=source)
        landscape(run, Grid(args.range, args.points_2d, two_d=True, batches=args.batches,
                            seed=0), source=source)
        saved = np.load(out / "landscape_1d.npz")
        lines[binarizer] = (saved["alphas"], saved["loss"])
    alphas = lines["ste_sign"][0]
    print("\n| α | " + " | ".join(lines) + " |\n|---:|" + "---:|" * len(lines))
    for i, a in enumerate(alphas):
        print(f"| {a:+.2f} | " + " | ".join(f"{v[1][i]:.3f}" for v in lines.values()) + " |")


if __name__ == "__main__":
    main()

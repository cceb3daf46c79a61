"""Cost of flip logging (bnno.training.flips): Bop runs with and without it, in one process.

Trains binarynet with the ``bop`` set on real CIFAR-10, alternating runs with flip
logging (larq's per-layer FlipRatio metric plus ``FlipLog``) and without it (no flips
counted at all), so that a machine whose speed drifts affects both the same. The first
epoch of every run (graph tracing) is not timed. Prints the ratio of the median epoch
times, with / without (goal: <= 1.03).

On a shared machine whole epochs are noisy, so the training step alone is timed too:
two compiled copies of the model, one counting flips and one not, take turns on the
same batch in short blocks; the median of the per-block ratios is printed.

    python benchmarks/flip_overhead.py --data-dir DIR [--pairs 2] [--epochs 3]

The data dir defaults to $BNNO_DATA_DIR, then $TFDS_DATA_DIR.
"""

from __future__ import annotations

import bnno  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

# isort: split

import argparse
import os
import statistics
import tempfile
import time

import tensorflow as tf
from common import compiled, plan_run, train_run
from timing import EpochTimer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("BNNO_DATA_DIR")
                   or os.environ.get("TFDS_DATA_DIR"))
    p.add_argument("--pairs", type=int, default=2, help="runs with and without, alternated")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--steps-per-epoch", type=int, default=40)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--dense-units", type=int, default=256)
    p.add_argument("--flip-interval", type=int, default=10)
    p.add_argument("--blocks", type=int, default=30)
    p.add_argument("--block-steps", type=int, default=5)
    args = p.parse_args()

    overrides = f"filters={args.filters},dense_units={args.dense_units},epochs={args.epochs}"
    config = plan_run("binarynet", "cifar10", "bop", overrides, seed=1,
                      preprocess_fn="resize_and_flip", steps_per_epoch=args.steps_per_epoch,
                      validation_steps=5)
    times: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory() as out:
        for i in range(args.pairs):
            # Alternate which goes first, so neither always runs right after a trace.
            for flip_log in ((True, False) if i % 2 == 0 else (False, True)):
                timer = EpochTimer()
                train_run(config, os.path.join(out, f"{i}-{flip_log}"), args.data_dir,
                          verbose=0, callbacks=[timer], flip_log=flip_log,
                          flip_interval=args.flip_interval)
                times[flip_log] += timer.seconds[1:]
                print(f"pair {i + 1}, flip logging {'on ' if flip_log else 'off'}: "
                      + ", ".join(f"{s:.2f}" for s in timer.seconds[1:]) + " s/epoch")
    step_ratio = step_overhead(args, config)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"\nbinarynet filters={args.filters}, dense_units={args.dense_units}, "
          f"{args.steps_per_epoch} steps of 100 per epoch, interval {args.flip_interval}")
    print(f"median epoch: with flip logging {on:.2f} s, without {off:.2f} s, "
          f"ratio {on / off:.3f} (goal <= 1.03)")
    print(f"training step alone, median of {args.blocks} alternating blocks of "
          f"{args.block_steps} steps: ratio {step_ratio:.3f}")


def step_overhead(args, config) -> float:
    """Median ratio of step times with / without larq's flip counting, alternating."""
    from bnno import data

    ds = data.load("cifar10", args.data_dir)
    x, y = next(iter(ds.train(config.trainer.batch_size, "default", 1, 0, 1, 1)))
    models = {}
    for flip_log in (True, False):
        tf.keras.utils.set_random_seed(1)
        models[flip_log] = compiled(config, ds.input_shape, ds.num_classes, 100,
                                    flip_ratio=flip_log)
        for _ in range(3):  # trace and warm up
            models[flip_log].train_on_batch(x, y)
    ratios = []
    for _ in range(args.blocks):
        block = {}
        for flip_log in (True, False):
            start = time.perf_counter()
            for _ in range(args.block_steps):
                models[flip_log].train_on_batch(x, y)
            block[flip_log] = time.perf_counter() - start
        ratios.append(block[True] / block[False])
    return statistics.median(ratios)


if __name__ == "__main__":
    main()
